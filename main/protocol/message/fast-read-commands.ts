/**
 * The fast path's readers of SyncBody and its commands. The five commands with items share one
 * reader of their children (commandChildren), told which children the command may have; each
 * command then checks what it requires and builds its object with readMessage's key order.
 */
import { DEFAULT_MESSAGE_LIMITS } from './read.js';
import type { Alert, Chal, Command, Container, Cred, Exec, Item, ItemCommand, Meta, Results, Status, SyncBody } from '../model.js';
import {
  ADD, ALERT, ATOMIC, CHAL, CMD, CMD_ID, CMD_REF, COPY, CORRELATOR, CRED, DATA, DELETE, EXEC, FINAL, GET, ITEM, META, MSG_REF,
  NO_RESP, REPLACE, RESULTS, SEQUENCE, SOURCE_REF, STATUS, TARGET_REF,
} from './fast-tags.js';
import { bail, K_TAG, nextChild, nextCommand, skip, textOf, token } from './fast-tokens.js';
import { chalOf, credOf, item, metaOf } from './fast-read-parts.js';

const MAX_COMMANDS = DEFAULT_MESSAGE_LIMITS.maxCommands;
const MAX_ITEMS = DEFAULT_MESSAGE_LIMITS.maxItemsPerCommand;

/** Commands read in this message (readMessage's limit). */
let commands = 0;

export function syncBody(content: boolean): SyncBody {
  commands = 0;
  const list: Command[] = [];
  let final = false;
  if (content) {
    while (nextCommand() === K_TAG) {
      if (token.page !== 0) bail();
      if (token.id === FINAL) {
        if (final) bail();
        final = true;
        skip(token.content);
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
  if (++commands > MAX_COMMANDS || token.page !== 0) bail();
  const c = token.content;
  switch (token.id) {
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

// The children a command may have besides CmdID and Item, which all of them have.
const HAS_NO_RESP = 1 << 0;
const HAS_CRED = 1 << 1;
const HAS_META = 1 << 2;
const HAS_DATA = 1 << 3;
const HAS_CORRELATOR = 1 << 4;
/** MsgRef, CmdRef, TargetRef and SourceRef. */
const HAS_REFS = 1 << 5;
const HAS_CMD = 1 << 6;
const HAS_CHAL = 1 << 7;

/**
 * What commandChildren read: one object, made once and reset for each command (commands with items
 * hold no commands, so one is read at a time); the command takes what it keeps before the next one.
 */
const read = {
  cmdID: undefined as string | undefined,
  noResp: false,
  cred: undefined as Cred | undefined,
  meta: undefined as Meta | undefined,
  data: undefined as string | undefined,
  correlator: undefined as string | undefined,
  msgRef: undefined as string | undefined,
  cmdRef: undefined as string | undefined,
  cmd: undefined as string | undefined,
  chal: undefined as Chal | undefined,
  targetRefs: undefined as string[] | undefined,
  sourceRefs: undefined as string[] | undefined,
  items: [] as Item[],
};

/** Reads the children of a command with items into `read`; `has`: the HAS_ bits of the children it may have. */
function commandChildren(content: boolean, has: number): void {
  const r = read;
  clearCommandChildren();
  if (!content) return;
  while (nextChild() === K_TAG) {
    if (token.page !== 0) bail();
    const c = token.content;
    switch (token.id) {
      case CMD_ID: if (r.cmdID !== undefined) bail(); r.cmdID = textOf(c, false); break;
      case ITEM: if (r.items.push(item(c)) > MAX_ITEMS) bail(); break;
      case NO_RESP: if (!(has & HAS_NO_RESP) || r.noResp) bail(); r.noResp = true; skip(c); break;
      case CRED: if (!(has & HAS_CRED) || r.cred !== undefined) bail(); r.cred = credOf(c); break;
      case META: if (!(has & HAS_META) || r.meta !== undefined) bail(); r.meta = metaOf(c); break;
      case DATA: if (!(has & HAS_DATA) || r.data !== undefined) bail(); r.data = textOf(c, true); break;
      case CORRELATOR: if (!(has & HAS_CORRELATOR) || r.correlator !== undefined) bail(); r.correlator = textOf(c, false); break;
      case MSG_REF: if (!(has & HAS_REFS) || r.msgRef !== undefined) bail(); r.msgRef = textOf(c, false); break;
      case CMD_REF: if (!(has & HAS_REFS) || r.cmdRef !== undefined) bail(); r.cmdRef = textOf(c, false); break;
      case TARGET_REF: if (!(has & HAS_REFS)) bail(); (r.targetRefs ??= []).push(textOf(c, false)); break;
      case SOURCE_REF: if (!(has & HAS_REFS)) bail(); (r.sourceRefs ??= []).push(textOf(c, false)); break;
      case CMD: if (!(has & HAS_CMD) || r.cmd !== undefined) bail(); r.cmd = textOf(c, false); break;
      case CHAL: if (!(has & HAS_CHAL) || r.chal !== undefined) bail(); r.chal = chalOf(c); break;
      default: bail();
    }
  }
}

/** Before each command, and after the message (the last command's parts belong to the message returned). */
export function clearCommandChildren(): void {
  const r = read;
  r.cmdID = r.cred = r.meta = r.data = r.correlator = r.msgRef = r.cmdRef = r.cmd = r.chal = undefined;
  r.targetRefs = r.sourceRefs = undefined;
  r.noResp = false;
  r.items = [];
}

function itemCommand(kind: ItemCommand['kind'], content: boolean): ItemCommand {
  const r = read;
  commandChildren(content, HAS_NO_RESP | HAS_CRED | HAS_META);
  if (r.cmdID === undefined || r.items.length === 0) bail();
  const cmd: ItemCommand = { kind, cmdID: r.cmdID, items: r.items };
  if (r.noResp) cmd.noResp = true;
  if (r.cred !== undefined) cmd.cred = r.cred;
  if (r.meta !== undefined) cmd.meta = r.meta;
  return cmd;
}

function alert(content: boolean): Alert {
  const r = read;
  commandChildren(content, HAS_NO_RESP | HAS_CRED | HAS_DATA | HAS_CORRELATOR);
  if (r.cmdID === undefined) bail();
  const cmd: Alert = { kind: 'Alert', cmdID: r.cmdID, items: r.items };
  if (r.data !== undefined) cmd.data = r.data;
  if (r.noResp) cmd.noResp = true;
  if (r.cred !== undefined) cmd.cred = r.cred;
  if (r.correlator !== undefined) cmd.correlator = r.correlator;
  return cmd;
}

function exec(content: boolean): Exec {
  const r = read;
  commandChildren(content, HAS_NO_RESP | HAS_CRED | HAS_META | HAS_CORRELATOR);
  if (r.cmdID === undefined || r.items.length === 0) bail();
  const cmd: Exec = { kind: 'Exec', cmdID: r.cmdID, items: r.items };
  if (r.noResp) cmd.noResp = true;
  if (r.cred !== undefined) cmd.cred = r.cred;
  if (r.meta !== undefined) cmd.meta = r.meta;
  if (r.correlator !== undefined) cmd.correlator = r.correlator;
  return cmd;
}

function results(content: boolean): Results {
  const r = read;
  commandChildren(content, HAS_REFS | HAS_META);
  if (r.cmdID === undefined || r.cmdRef === undefined) bail();
  const cmd: Results = { kind: 'Results', cmdID: r.cmdID, cmdRef: r.cmdRef, targetRefs: r.targetRefs ?? [], sourceRefs: r.sourceRefs ?? [], items: r.items };
  if (r.msgRef !== undefined) cmd.msgRef = r.msgRef;
  if (r.meta !== undefined) cmd.meta = r.meta;
  return cmd;
}

function status(content: boolean): Status {
  const r = read;
  commandChildren(content, HAS_REFS | HAS_CMD | HAS_CRED | HAS_CHAL | HAS_DATA);
  if (r.cmdID === undefined || r.msgRef === undefined || r.cmdRef === undefined || r.cmd === undefined || r.data === undefined) bail();
  const st: Status = {
    kind: 'Status', cmdID: r.cmdID, msgRef: r.msgRef, cmdRef: r.cmdRef, cmd: r.cmd,
    targetRefs: r.targetRefs ?? [], sourceRefs: r.sourceRefs ?? [], data: r.data, items: r.items,
  };
  if (r.cred !== undefined) st.cred = r.cred;
  if (r.chal !== undefined) st.chal = r.chal;
  return st;
}

/** Atomic and Sequence: NoResp and Meta land on the object in document order, as readMessage puts them. */
function container(kind: Container['kind'], content: boolean): Container {
  const cmd: Container = { kind, cmdID: '', commands: [] };
  let cmdID: string | undefined;
  if (content) {
    while (nextCommand() === K_TAG) {
      if (token.page === 0 && token.id === CMD_ID) {
        if (cmdID !== undefined) bail();
        cmdID = textOf(token.content, false);
      } else if (token.page === 0 && token.id === NO_RESP) {
        cmd.noResp = true;
        skip(token.content);
      } else if (token.page === 0 && token.id === META) {
        if (cmd.meta !== undefined) bail();
        cmd.meta = metaOf(token.content);
      } else cmd.commands.push(command(false));
    }
  }
  if (cmdID === undefined) bail();
  cmd.cmdID = cmdID;
  return cmd;
}
