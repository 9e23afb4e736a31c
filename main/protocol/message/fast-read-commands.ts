/**
 * The fast path's readers of SyncBody and its commands: each is called with the content flag of the
 * tag next() just read, reads to the element's end, checks what readMessage requires of it and
 * returns readMessage's object (same keys, same order), or bails.
 */
import type { Alert, Chal, Command, Container, Cred, Exec, Item, ItemCommand, Meta, Results, Status, SyncBody } from '../model.js';
import {
  ADD, ALERT, ATOMIC, CHAL, CMD, CMD_ID, CMD_REF, COPY, CORRELATOR, CRED, DATA, DELETE, EXEC, FINAL, GET, ITEM, META, MSG_REF,
  NO_RESP, REPLACE, RESULTS, SEQUENCE, SOURCE_REF, STATUS, TARGET_REF,
} from './fast-tags.js';
import { bail, K_TAG, nextChild, nextCommand, skip, tagContent, tagId, tagPage, textOf } from './fast-tokens.js';
import { chalOf, credOf, item, metaOf } from './fast-read-parts.js';
import { DEFAULT_MESSAGE_LIMITS } from './read.js';

const MAX_COMMANDS = DEFAULT_MESSAGE_LIMITS.maxCommands;
const MAX_ITEMS = DEFAULT_MESSAGE_LIMITS.maxItemsPerCommand;

/** Commands read in this message (readMessage's limit counts those in Atomic and Sequence too). */
let commands = 0;

export function syncBody(content: boolean): SyncBody {
  commands = 0;
  const list: Command[] = [];
  let final = false;
  if (content) {
    while (nextCommand() === K_TAG) {
      if (tagPage !== 0) bail();
      if (tagId === FINAL) {
        if (final) bail();
        final = true;
        skip(tagContent);
        continue;
      }
      if (final) bail();
      list.push(command(true));
    }
  }
  return { commands: list, final };
}

/** The command whose tag next() just read; `inBody`: directly in SyncBody (not in Atomic or Sequence). */
function command(inBody: boolean): Command {
  if (++commands > MAX_COMMANDS || tagPage !== 0) bail();
  const c = tagContent;
  switch (tagId) {
    case ADD: return itemCommand('Add', c);
    case COPY: return itemCommand('Copy', c);
    case DELETE: return itemCommand('Delete', c);
    case GET: return itemCommand('Get', c);
    case REPLACE: return itemCommand('Replace', c);
    case ALERT: return alert(c);
    case EXEC: return exec(c);
    case ATOMIC: return container('Atomic', c);
    case SEQUENCE: return container('Sequence', c);
    case RESULTS: if (!inBody) bail(); return results(c);
    case STATUS: if (!inBody) bail(); return status(c);
    default: return bail();
  }
}

function itemCommand(kind: ItemCommand['kind'], content: boolean): ItemCommand {
  let cmdID: string | undefined;
  let noResp = false;
  let cred: Cred | undefined, meta: Meta | undefined;
  const items: Item[] = [];
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case CMD_ID: if (cmdID !== undefined) bail(); cmdID = textOf(c, false); break;
        case NO_RESP: if (noResp) bail(); noResp = true; skip(c); break;
        case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
        case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined || items.length === 0) bail();
  const cmd: ItemCommand = { kind, cmdID, items };
  if (noResp) cmd.noResp = true;
  if (cred !== undefined) cmd.cred = cred;
  if (meta !== undefined) cmd.meta = meta;
  return cmd;
}

function alert(content: boolean): Alert {
  let cmdID: string | undefined, data: string | undefined, correlator: string | undefined;
  let noResp = false;
  let cred: Cred | undefined;
  const items: Item[] = [];
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case CMD_ID: if (cmdID !== undefined) bail(); cmdID = textOf(c, false); break;
        case NO_RESP: if (noResp) bail(); noResp = true; skip(c); break;
        case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
        case DATA: if (data !== undefined) bail(); data = textOf(c, true); break;
        case CORRELATOR: if (correlator !== undefined) bail(); correlator = textOf(c, false); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined) bail();
  const cmd: Alert = { kind: 'Alert', cmdID, items };
  if (data !== undefined) cmd.data = data;
  if (noResp) cmd.noResp = true;
  if (cred !== undefined) cmd.cred = cred;
  if (correlator !== undefined) cmd.correlator = correlator;
  return cmd;
}

function exec(content: boolean): Exec {
  let cmdID: string | undefined, correlator: string | undefined;
  let noResp = false;
  let cred: Cred | undefined, meta: Meta | undefined;
  const items: Item[] = [];
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case CMD_ID: if (cmdID !== undefined) bail(); cmdID = textOf(c, false); break;
        case NO_RESP: if (noResp) bail(); noResp = true; skip(c); break;
        case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
        case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
        case CORRELATOR: if (correlator !== undefined) bail(); correlator = textOf(c, false); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined || items.length === 0) bail();
  const cmd: Exec = { kind: 'Exec', cmdID, items };
  if (noResp) cmd.noResp = true;
  if (cred !== undefined) cmd.cred = cred;
  if (meta !== undefined) cmd.meta = meta;
  if (correlator !== undefined) cmd.correlator = correlator;
  return cmd;
}

/** Atomic and Sequence: NoResp and Meta land on the object in document order, as readMessage puts them. */
function container(kind: Container['kind'], content: boolean): Container {
  const cmd: Container = { kind, cmdID: '', commands: [] };
  let cmdID: string | undefined;
  if (content) {
    while (nextCommand() === K_TAG) {
      if (tagPage === 0 && tagId === CMD_ID) {
        if (cmdID !== undefined) bail();
        cmdID = textOf(tagContent, false);
      } else if (tagPage === 0 && tagId === NO_RESP) {
        cmd.noResp = true;
        skip(tagContent);
      } else if (tagPage === 0 && tagId === META) {
        if (cmd.meta !== undefined) bail();
        cmd.meta = metaOf(tagContent);
      } else cmd.commands.push(command(false));
    }
  }
  if (cmdID === undefined) bail();
  cmd.cmdID = cmdID;
  return cmd;
}

function results(content: boolean): Results {
  let cmdID: string | undefined, msgRef: string | undefined, cmdRef: string | undefined;
  let meta: Meta | undefined;
  const targetRefs: string[] = [];
  const sourceRefs: string[] = [];
  const items: Item[] = [];
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case CMD_ID: if (cmdID !== undefined) bail(); cmdID = textOf(c, false); break;
        case MSG_REF: if (msgRef !== undefined) bail(); msgRef = textOf(c, false); break;
        case CMD_REF: if (cmdRef !== undefined) bail(); cmdRef = textOf(c, false); break;
        case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
        case TARGET_REF: targetRefs.push(textOf(c, false)); break;
        case SOURCE_REF: sourceRefs.push(textOf(c, false)); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined || cmdRef === undefined) bail();
  const cmd: Results = { kind: 'Results', cmdID, cmdRef, targetRefs, sourceRefs, items };
  if (msgRef !== undefined) cmd.msgRef = msgRef;
  if (meta !== undefined) cmd.meta = meta;
  return cmd;
}

function status(content: boolean): Status {
  let cmdID: string | undefined, msgRef: string | undefined, cmdRef: string | undefined, cmd: string | undefined;
  let data: string | undefined;
  let cred: Cred | undefined, chal: Chal | undefined;
  const targetRefs: string[] = [];
  const sourceRefs: string[] = [];
  const items: Item[] = [];
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case CMD_ID: if (cmdID !== undefined) bail(); cmdID = textOf(c, false); break;
        case MSG_REF: if (msgRef !== undefined) bail(); msgRef = textOf(c, false); break;
        case CMD_REF: if (cmdRef !== undefined) bail(); cmdRef = textOf(c, false); break;
        case CMD: if (cmd !== undefined) bail(); cmd = textOf(c, false); break;
        case TARGET_REF: targetRefs.push(textOf(c, false)); break;
        case SOURCE_REF: sourceRefs.push(textOf(c, false)); break;
        case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
        case CHAL: if (chal !== undefined) bail(); chal = chalOf(c); break;
        case DATA: if (data !== undefined) bail(); data = textOf(c, true); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined || msgRef === undefined || cmdRef === undefined || cmd === undefined || data === undefined) bail();
  const st: Status = { kind: 'Status', cmdID, msgRef, cmdRef, cmd, targetRefs, sourceRefs, data, items };
  if (cred !== undefined) st.cred = cred;
  if (chal !== undefined) st.chal = chal;
  return st;
}
