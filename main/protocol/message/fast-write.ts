/**
 * Typed SyncML message -> WBXML bytes in one pass, without the document tree: what
 * encodeMessage(msg, 'wbxml') does (writeMessage, TNDS retyping, encodeWbxml with DDF as OPAQUE) for
 * every message the server and the handsets send.
 *
 * A fast path, not a second writer: it writes exactly the bytes of the tree path (children in the
 * order write.ts gives, an element without children written without the content bit, text as
 * STR_I, bytes as OPAQUE, the code page switched only right before a tag on another page) and gives
 * up (undefined) on anything else: embedded XML in an Item's Data (TNDS, which the tree path embeds
 * and retypes), a value that is not a string where one belongs, text WBXML cannot carry (the tree
 * path's error), a command kind it does not know. test/unit/message-fast-write.test.ts holds it
 * byte-equal to the tree path.
 */
import { ByteWriter } from '../byte-writer.js';
import type { Command, Cred, Item, Location, Meta, SyncML } from '../model.js';
import { CHARSET, GLOBAL, PUBLIC_ID, TAG_CONTENT, TAG_TOKENS } from '../wbxml/tables.js';

const BAIL = new Error('fast path does not apply');
function bail(): never {
  throw BAIL;
}

const s = (name: string): number => TAG_TOKENS.syncml.get(name)!;
const m = (name: string): number => TAG_TOKENS.metinf.get(name)!;
const SYNCML = s('SyncML'), SYNC_HDR = s('SyncHdr'), SYNC_BODY = s('SyncBody'), FINAL = s('Final');
const VER_DTD = s('VerDTD'), VER_PROTO = s('VerProto'), SESSION_ID = s('SessionID'), MSG_ID = s('MsgID');
const TARGET = s('Target'), SOURCE = s('Source'), RESP_URI = s('RespURI'), NO_RESP = s('NoResp'), CRED = s('Cred');
const META = s('Meta'), CMD_ID = s('CmdID'), DATA = s('Data'), CORRELATOR = s('Correlator'), MSG_REF = s('MsgRef');
const CMD_REF = s('CmdRef'), CMD = s('Cmd'), TARGET_REF = s('TargetRef'), SOURCE_REF = s('SourceRef'), CHAL = s('Chal');
const ITEM = s('Item'), MORE_DATA = s('MoreData'), LOC_URI = s('LocURI'), LOC_NAME = s('LocName');
const FIELD_LEVEL = m('FieldLevel'), FORMAT = m('Format'), TYPE = m('Type'), MARK = m('Mark'), SIZE = m('Size');
const ANCHOR = m('Anchor'), LAST = m('Last'), NEXT = m('Next'), VERSION = m('Version'), NEXT_NONCE = m('NextNonce');
const MAX_MSG_SIZE = m('MaxMsgSize'), MAX_OBJ_SIZE = m('MaxObjSize'), EMI = m('EMI'), MEM = m('Mem');
const SHARED_MEM = m('SharedMem'), FREE_MEM = m('FreeMem'), FREE_ID = m('FreeID');

const COMMAND_TOKENS: ReadonlyMap<string, number> = new Map(
  ['Add', 'Copy', 'Delete', 'Get', 'Replace', 'Alert', 'Exec', 'Atomic', 'Sequence', 'Results', 'Status'].map((k) => [k, s(k)]),
);

const noPath = (): undefined => undefined;

let w: ByteWriter;
let page = 0;

/** The bytes encodeMessage(msg, 'wbxml') returns, or undefined when this path does not apply (the tree path then answers). */
export function writeWbxmlMessageFast(msg: SyncML): Uint8Array | undefined {
  try {
    w = new ByteWriter(true);
    page = 0;
    writeMessage(msg);
    return w.result();
  } catch {
    return undefined;
  } finally {
    w = undefined as unknown as ByteWriter;
  }
}

function writeMessage(msg: SyncML): void {
  const hdr = msg.hdr;
  w.byte(2); // WBXML 1.2
  w.mbUint(hdr.verDTD.trim() === '1.1' ? PUBLIC_ID.SYNCML_11 : PUBLIC_ID.SYNCML_12);
  w.byte(CHARSET.UTF_8);
  w.byte(0); // no string table
  open(0, SYNCML);
  open(0, SYNC_HDR);
  text(0, VER_DTD, hdr.verDTD);
  text(0, VER_PROTO, hdr.verProto);
  text(0, SESSION_ID, hdr.sessionID);
  text(0, MSG_ID, hdr.msgID);
  location(TARGET, hdr.target);
  location(SOURCE, hdr.source);
  if (hdr.respURI !== undefined) text(0, RESP_URI, hdr.respURI);
  if (hdr.noResp) empty(0, NO_RESP);
  if (hdr.cred) cred(hdr.cred);
  if (hdr.meta) meta(hdr.meta);
  w.byte(GLOBAL.END);
  const body = msg.body;
  if (body.commands.length === 0 && !body.final) empty(0, SYNC_BODY);
  else {
    open(0, SYNC_BODY);
    for (const c of body.commands) command(c);
    if (body.final) empty(0, FINAL);
    w.byte(GLOBAL.END);
  }
  w.byte(GLOBAL.END);
}

function tag(p: number, tok: number): void {
  if (p !== page) {
    w.byte(GLOBAL.SWITCH_PAGE);
    w.byte(p);
    page = p;
  }
  w.byte(tok);
}

const open = (p: number, tok: number): void => tag(p, tok | TAG_CONTENT);
const empty = (p: number, tok: number): void => tag(p, tok);

/** An element holding one string: without the content bit when the string is empty. */
function text(p: number, tok: number, v: string): void {
  if (typeof v !== 'string') bail();
  if (v.length === 0) {
    tag(p, tok);
    return;
  }
  tag(p, tok | TAG_CONTENT);
  w.byte(GLOBAL.STR_I);
  w.cString(v, undefined, noPath);
  w.byte(GLOBAL.END);
}

function command(c: Command): void {
  const tok = COMMAND_TOKENS.get(c.kind);
  if (tok === undefined) bail();
  open(0, tok);
  text(0, CMD_ID, c.cmdID);
  switch (c.kind) {
    case 'Add':
    case 'Copy':
    case 'Delete':
    case 'Get':
    case 'Replace':
      if (c.noResp) empty(0, NO_RESP);
      if (c.cred) cred(c.cred);
      if (c.meta) meta(c.meta);
      for (const i of c.items) item(i);
      break;
    case 'Alert':
      if (c.noResp) empty(0, NO_RESP);
      if (c.cred) cred(c.cred);
      if (c.data !== undefined) text(0, DATA, c.data);
      if (c.correlator !== undefined) text(0, CORRELATOR, c.correlator);
      for (const i of c.items) item(i);
      break;
    case 'Exec':
      if (c.noResp) empty(0, NO_RESP);
      if (c.cred) cred(c.cred);
      if (c.meta) meta(c.meta);
      if (c.correlator !== undefined) text(0, CORRELATOR, c.correlator);
      for (const i of c.items) item(i);
      break;
    case 'Atomic':
    case 'Sequence':
      if (c.noResp) empty(0, NO_RESP);
      if (c.meta) meta(c.meta);
      for (const inner of c.commands) command(inner);
      break;
    case 'Results':
      if (c.msgRef !== undefined) text(0, MSG_REF, c.msgRef);
      text(0, CMD_REF, c.cmdRef);
      if (c.meta) meta(c.meta);
      for (const r of c.targetRefs) text(0, TARGET_REF, r);
      for (const r of c.sourceRefs) text(0, SOURCE_REF, r);
      for (const i of c.items) item(i);
      break;
    case 'Status':
      text(0, MSG_REF, c.msgRef);
      text(0, CMD_REF, c.cmdRef);
      text(0, CMD, c.cmd);
      for (const r of c.targetRefs) text(0, TARGET_REF, r);
      for (const r of c.sourceRefs) text(0, SOURCE_REF, r);
      if (c.cred) cred(c.cred);
      if (c.chal) {
        open(0, CHAL);
        meta(c.chal.meta);
        w.byte(GLOBAL.END);
      }
      text(0, DATA, c.data);
      for (const i of c.items) item(i);
      break;
  }
  w.byte(GLOBAL.END);
}

function item(i: Item): void {
  const d = i.data;
  if (!i.target && !i.source && !i.meta && !d && !i.moreData) {
    empty(0, ITEM);
    return;
  }
  open(0, ITEM);
  if (i.target) location(TARGET, i.target);
  if (i.source) location(SOURCE, i.source);
  if (i.meta) meta(i.meta);
  if (d) {
    if (d.kind === 'text') text(0, DATA, d.text);
    else if (d.kind === 'binary') {
      const b = d.bytes;
      if (!(b instanceof Uint8Array)) bail();
      if (b.length === 0) empty(0, DATA);
      else {
        open(0, DATA);
        w.byte(GLOBAL.OPAQUE);
        w.mbUint(b.length);
        w.bytes(b);
        w.byte(GLOBAL.END);
      }
    } else bail(); // embedded XML (TNDS): embedded and retyped by the tree path
  }
  if (i.moreData) empty(0, MORE_DATA);
  w.byte(GLOBAL.END);
}

function location(tok: number, l: Location): void {
  open(0, tok);
  text(0, LOC_URI, l.locURI);
  if (l.locName !== undefined) text(0, LOC_NAME, l.locName);
  w.byte(GLOBAL.END);
}

function cred(c: Cred): void {
  open(0, CRED);
  if (c.meta) meta(c.meta);
  text(0, DATA, c.data);
  w.byte(GLOBAL.END);
}

/** MetInf children in the MetInf DTD's order, as write.ts gives them. */
function meta(x: Meta): void {
  const emi = x.emi ?? [];
  if (!x.fieldLevel && x.format === undefined && x.type === undefined && x.mark === undefined && x.size === undefined && !x.anchor
    && x.version === undefined && x.nextNonce === undefined && x.maxMsgSize === undefined && x.maxObjSize === undefined && emi.length === 0 && !x.mem) {
    empty(0, META);
    return;
  }
  open(0, META);
  if (x.fieldLevel) empty(1, FIELD_LEVEL);
  if (x.format !== undefined) text(1, FORMAT, x.format);
  if (x.type !== undefined) text(1, TYPE, x.type);
  if (x.mark !== undefined) text(1, MARK, x.mark);
  if (x.size !== undefined) text(1, SIZE, x.size);
  if (x.anchor) {
    open(1, ANCHOR);
    if (x.anchor.last !== undefined) text(1, LAST, x.anchor.last);
    text(1, NEXT, x.anchor.next);
    w.byte(GLOBAL.END);
  }
  if (x.version !== undefined) text(1, VERSION, x.version);
  if (x.nextNonce !== undefined) text(1, NEXT_NONCE, x.nextNonce);
  if (x.maxMsgSize !== undefined) text(1, MAX_MSG_SIZE, x.maxMsgSize);
  if (x.maxObjSize !== undefined) text(1, MAX_OBJ_SIZE, x.maxObjSize);
  for (const e of emi) text(1, EMI, e);
  if (x.mem) {
    open(1, MEM);
    if (x.mem.sharedMem) empty(1, SHARED_MEM);
    text(1, FREE_MEM, x.mem.freeMem);
    text(1, FREE_ID, x.mem.freeID);
    w.byte(GLOBAL.END);
  }
  w.byte(GLOBAL.END);
}
