/**
 * The fast path's readers of SyncBody and its commands: each is called with the content flag of the
 * tag next() just read, reads to the element's end, checks what readMessage requires of it and
 * returns readMessage's object (same keys, same order), or bails. Every command but Atomic and
 * Sequence is read by one loop (withItems), told which children the command may have; the two
 * containers have their own, their children being commands.
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
    case ADD: return withItems('Add', c, ITEM_COMMAND);
    case COPY: return withItems('Copy', c, ITEM_COMMAND);
    case DELETE: return withItems('Delete', c, ITEM_COMMAND);
    case GET: return withItems('Get', c, ITEM_COMMAND);
    case REPLACE: return withItems('Replace', c, ITEM_COMMAND);
    case ALERT: return withItems('Alert', c, B_NO_RESP | B_CRED | B_DATA | B_CORRELATOR);
    case EXEC: return withItems('Exec', c, B_NO_RESP | B_CRED | B_META | B_CORRELATOR);
    case ATOMIC: return container('Atomic', c);
    case SEQUENCE: return container('Sequence', c);
    case RESULTS: if (!inBody) bail(); return withItems('Results', c, B_MSG_REF | B_CMD_REF | B_META | B_REFS);
    case STATUS: if (!inBody) bail(); return withItems('Status', c, B_MSG_REF | B_CMD_REF | B_CMD | B_REFS | B_CRED | B_CHAL | B_DATA);
    default: return bail();
  }
}

// A command's children besides CmdID and Item (which all of these commands have), as bits.
const B_NO_RESP = 1 << 0;
const B_CRED = 1 << 1;
const B_META = 1 << 2;
const B_DATA = 1 << 3;
const B_CORRELATOR = 1 << 4;
const B_MSG_REF = 1 << 5;
const B_CMD_REF = 1 << 6;
const B_CMD = 1 << 7;
const B_CHAL = 1 << 8;
/** TargetRef and SourceRef, which may repeat. */
const B_REFS = 1 << 9;
const B_CMD_ID = 1 << 10;
/** Add, Copy, Delete, Get and Replace. */
const ITEM_COMMAND = B_NO_RESP | B_CRED | B_META;

/**
 * A command with items (all but Atomic and Sequence): its children read in one loop, `allowed`
 * naming those it may have besides CmdID and Item (any other, or a second of one, is readMessage's
 * error; TargetRef and SourceRef may repeat), then what readMessage requires of the kind checked and
 * its object built with readMessage's key order.
 */
function withItems(kind: Exclude<Command['kind'], Container['kind']>, content: boolean, allowed: number): Command {
  let cmdID: string | undefined, msgRef: string | undefined, cmdRef: string | undefined, cmdName: string | undefined;
  let data: string | undefined, correlator: string | undefined;
  let noResp = false;
  let cred: Cred | undefined, meta: Meta | undefined, chal: Chal | undefined;
  let targetRefs: string[] | undefined, sourceRefs: string[] | undefined;
  const items: Item[] = [];
  if (content) {
    // A bit set: read already, or not allowed here. B_REFS is never set by reading.
    let seen = ~(allowed | B_CMD_ID);
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      // The cases are tried in order: Status's children first (a DM message carries several Statuses).
      switch (tagId) {
        case CMD_ID: if (seen & B_CMD_ID) bail(); seen |= B_CMD_ID; cmdID = textOf(c, false); break;
        case MSG_REF: if (seen & B_MSG_REF) bail(); seen |= B_MSG_REF; msgRef = textOf(c, false); break;
        case CMD_REF: if (seen & B_CMD_REF) bail(); seen |= B_CMD_REF; cmdRef = textOf(c, false); break;
        case CMD: if (seen & B_CMD) bail(); seen |= B_CMD; cmdName = textOf(c, false); break;
        case TARGET_REF: if (seen & B_REFS) bail(); (targetRefs ??= []).push(textOf(c, false)); break;
        case SOURCE_REF: if (seen & B_REFS) bail(); (sourceRefs ??= []).push(textOf(c, false)); break;
        case DATA: if (seen & B_DATA) bail(); seen |= B_DATA; data = textOf(c, true); break;
        case ITEM: if (items.push(item(c)) > MAX_ITEMS) bail(); break;
        case META: if (seen & B_META) bail(); seen |= B_META; meta = metaOf(c); break;
        case NO_RESP: if (seen & B_NO_RESP) bail(); seen |= B_NO_RESP; noResp = true; skip(c); break;
        case CRED: if (seen & B_CRED) bail(); seen |= B_CRED; cred = credOf(c); break;
        case CHAL: if (seen & B_CHAL) bail(); seen |= B_CHAL; chal = chalOf(c); break;
        case CORRELATOR: if (seen & B_CORRELATOR) bail(); seen |= B_CORRELATOR; correlator = textOf(c, false); break;
        default: bail();
      }
    }
  }
  if (cmdID === undefined) bail();
  switch (kind) {
    case 'Status': {
      if (msgRef === undefined || cmdRef === undefined || cmdName === undefined || data === undefined) bail();
      const st: Status = { kind, cmdID, msgRef, cmdRef, cmd: cmdName, targetRefs: targetRefs ?? [], sourceRefs: sourceRefs ?? [], data, items };
      if (cred !== undefined) st.cred = cred;
      if (chal !== undefined) st.chal = chal;
      return st;
    }
    case 'Results': {
      if (cmdRef === undefined) bail();
      const cmd: Results = { kind, cmdID, cmdRef, targetRefs: targetRefs ?? [], sourceRefs: sourceRefs ?? [], items };
      if (msgRef !== undefined) cmd.msgRef = msgRef;
      if (meta !== undefined) cmd.meta = meta;
      return cmd;
    }
    case 'Alert': {
      const cmd: Alert = { kind, cmdID, items };
      if (data !== undefined) cmd.data = data;
      if (noResp) cmd.noResp = true;
      if (cred !== undefined) cmd.cred = cred;
      if (correlator !== undefined) cmd.correlator = correlator;
      return cmd;
    }
    case 'Exec': {
      if (items.length === 0) bail();
      const cmd: Exec = { kind, cmdID, items };
      if (noResp) cmd.noResp = true;
      if (cred !== undefined) cmd.cred = cred;
      if (meta !== undefined) cmd.meta = meta;
      if (correlator !== undefined) cmd.correlator = correlator;
      return cmd;
    }
    default: {
      if (items.length === 0) bail();
      const cmd: ItemCommand = { kind, cmdID, items };
      if (noResp) cmd.noResp = true;
      if (cred !== undefined) cmd.cred = cred;
      if (meta !== undefined) cmd.meta = meta;
      return cmd;
    }
  }
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
