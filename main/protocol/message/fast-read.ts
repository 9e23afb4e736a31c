/**
 * WBXML bytes -> typed SyncML message in one pass over the token stream, without the document tree:
 * what decodeMessage does on every DM message the server and the handsets read (decodeWbxml, TNDS
 * retyping, readMessage), for the messages real peers send.
 *
 * It is a fast path, not a second reader: for the documents it understands it returns exactly what
 * the tree path returns (readMessage's objects, keys in the same order), and it gives up (returns
 * undefined) on anything else and on every error, so that the tree path runs and answers with its
 * own error, offset and element path. It gives up on: DM DDF (code page 2) elements, OPAQUE holding
 * an embedded WBXML DM DDF document (TNDS, which the tree path expands and retypes), elements inside
 * an Item's Data (embedded XML), LITERAL tags, attributes, extension tokens and PIs, and every error
 * of the decoder or of readMessage (a missing, repeated or unknown element, text where elements
 * belong, OPAQUE text that is not UTF-8, the limits). It follows the tree path's rules:
 * adjacent text pieces are one piece of character data, empty ones are none; whitespace-only text
 * between elements is skipped except in SyncBody, Atomic and Sequence; text fields are trimmed except
 * Data, and OPAQUE in them is read as UTF-8; an Item's Data is text, bytes (OPAQUE, copied) or both
 * (then the bytes, text as UTF-8, in order); a Meta holding only a MetInf element reads its content;
 * flags (NoResp, MoreData, Final, FieldLevel, SharedMem) are present whatever they hold.
 * test/unit/message-fast-read.test.ts holds it deep-equal to the tree path on the corpus, on real
 * bench sessions, on corner cases of each rule and on mutated documents.
 */
import { copyBytes } from '../byte-writer.js';
import { decodeUtf8Strict } from '../binary.js';
import type {
  Alert, Chal, Command, Container, Cred, Exec, Item, ItemCommand, ItemData, Location, Meta, Results, Status, SyncBody,
  SyncHdr, SyncML,
} from '../model.js';
import { parseHeader, type WbxmlHeader } from '../wbxml/header.js';
import { DEFAULT_WBXML_LIMITS } from '../wbxml/limits.js';
import { fastView, mbEnd, readMbUint, tableStringEnd } from '../wbxml/primitives.js';
import { GLOBAL, TAG_CONTENT, TAG_ID_MASK, TAG_NAMES, TAG_TOKENS } from '../wbxml/tables.js';
import { DEFAULT_MESSAGE_LIMITS } from './read.js';

const BAIL = new Error('fast path does not apply');
function bail(): never {
  throw BAIL;
}

const s = (name: string): number => TAG_TOKENS.syncml.get(name)!;
const m = (name: string): number => TAG_TOKENS.metinf.get(name)!;
// Code page 0 (SyncML).
const ADD = s('Add'), ALERT = s('Alert'), ATOMIC = s('Atomic'), CHAL = s('Chal'), CMD = s('Cmd'), CMD_ID = s('CmdID');
const CMD_REF = s('CmdRef'), COPY = s('Copy'), CRED = s('Cred'), DATA = s('Data'), DELETE = s('Delete'), EXEC = s('Exec');
const FINAL = s('Final'), GET = s('Get'), ITEM = s('Item'), LOC_NAME = s('LocName'), LOC_URI = s('LocURI'), META = s('Meta');
const MSG_ID = s('MsgID'), MSG_REF = s('MsgRef'), NO_RESP = s('NoResp'), REPLACE = s('Replace'), RESP_URI = s('RespURI');
const RESULTS = s('Results'), SEQUENCE = s('Sequence'), SESSION_ID = s('SessionID'), SOURCE = s('Source');
const SOURCE_REF = s('SourceRef'), STATUS = s('Status'), SYNC_BODY = s('SyncBody'), SYNC_HDR = s('SyncHdr');
const SYNCML = s('SyncML'), TARGET = s('Target'), TARGET_REF = s('TargetRef'), VER_DTD = s('VerDTD'), VER_PROTO = s('VerProto');
const MORE_DATA = s('MoreData'), CORRELATOR = s('Correlator');
// Code page 1 (MetInf).
const ANCHOR = m('Anchor'), EMI = m('EMI'), FORMAT = m('Format'), FREE_ID = m('FreeID'), FREE_MEM = m('FreeMem'), LAST = m('Last');
const MARK = m('Mark'), MAX_MSG_SIZE = m('MaxMsgSize'), MEM = m('Mem'), MET_INF = m('MetInf'), NEXT = m('Next');
const NEXT_NONCE = m('NextNonce'), SHARED_MEM = m('SharedMem'), SIZE = m('Size'), TYPE = m('Type'), VERSION = m('Version');
const MAX_OBJ_SIZE = m('MaxObjSize'), FIELD_LEVEL = m('FieldLevel');

const MAX_DEPTH = DEFAULT_WBXML_LIMITS.maxDepth;
const MAX_ELEMENTS = DEFAULT_WBXML_LIMITS.maxElements;
const MAX_COMMANDS = DEFAULT_MESSAGE_LIMITS.maxCommands;
const MAX_ITEMS = DEFAULT_MESSAGE_LIMITS.maxItemsPerCommand;

// What next() found.
const K_END = 0;
const K_TAG = 1;
const K_TEXT = 2;
const K_OPAQUE = 3;

// The reader's state: module slots, not an object, so the token loop reads plain variables.
let buf: Uint8Array = new Uint8Array(0);
let len = 0;
let pos = 0;
let page = 0;
let depth = 0;
let elements = 0;
let commands = 0;
let header: WbxmlHeader | undefined;
let strtCache: Map<number, string> | undefined;
/** The tag next() found: code page, token id, whether it has content. */
let tagPage = 0;
let tagId = 0;
let tagContent = false;
/** The text next() found (K_TEXT), or the OPAQUE's place (K_OPAQUE). */
let text = '';
let opaqueStart = 0;
let opaqueEnd = 0;

/**
 * The message decodeMessage's tree path would read from `bytes` (WBXML), or undefined when this path
 * does not apply or the bytes are not a valid message (then the tree path runs and says why).
 */
export function readWbxmlMessageFast(bytes: Uint8Array): SyncML | undefined {
  if (bytes.length > DEFAULT_WBXML_LIMITS.maxBytes) return undefined;
  try {
    return readDocument(fastView(bytes));
  } catch {
    // BAIL, a CodecFailure from a primitive, or a fault of the fast path itself: the tree path decides.
    return undefined;
  } finally {
    // Not kept between calls: the input and the string table belong to the caller.
    buf = new Uint8Array(0);
    header = undefined;
    strtCache = undefined;
    text = '';
  }
}

function readDocument(input: Uint8Array): SyncML {
  const h = parseHeader(input);
  header = h;
  buf = input;
  len = input.length;
  pos = h.bodyOffset;
  page = 0;
  depth = 0;
  elements = 0;
  commands = 0;
  strtCache = undefined;
  // Code page switches may come before the root (next() follows them); anything else is an error.
  if (next() !== K_TAG || tagPage !== 0 || tagId !== SYNCML || !tagContent) bail();
  let hdr: SyncHdr | undefined;
  let body: SyncBody | undefined;
  while (nextChild() === K_TAG) {
    if (tagPage !== 0) bail();
    if (tagId === SYNC_HDR && hdr === undefined) hdr = syncHdr(tagContent);
    else if (tagId === SYNC_BODY && body === undefined) body = syncBody(tagContent);
    else bail();
  }
  if (hdr === undefined || body === undefined || pos !== len) bail();
  return { hdr, body };
}

/**
 * The next token inside the current element, as the tree decoder reads it: code page switches
 * followed, text decoded in the document's charset, the decoder's limits applied.
 */
function next(): number {
  for (;;) {
    if (pos >= len) bail();
    const tokOff = pos;
    const tok = buf[pos++]!;
    switch (tok) {
      case GLOBAL.SWITCH_PAGE:
        if (pos >= len) bail();
        page = buf[pos++]!;
        continue;
      case GLOBAL.END:
        depth--;
        return K_END;
      case GLOBAL.STR_I: {
        // One pass finds the NUL, hashes the bytes and sees whether they are all ASCII.
        let i = pos;
        let hash = 0;
        let any = 0;
        for (;;) {
          if (i >= len) bail();
          const c = buf[i]!;
          if (c === 0) break;
          hash = (Math.imul(hash, 31) + c) | 0;
          any |= c;
          i++;
        }
        const n = i - pos;
        if (any < 0x80 && n <= SHORT) {
          // ASCII reads the same in every charset the header may name: the string seen last time, if it was this one.
          const slot = (hash ^ (hash >>> 11)) & (SEEN_SLOTS - 1);
          const seen = SEEN[slot]!;
          if (seen.length === n && sameAscii(seen, buf, pos)) text = seen;
          else SEEN[slot] = text = header!.decodeText(buf, pos, i, tokOff);
        } else text = header!.decodeText(buf, pos, i, tokOff);
        pos = i + 1;
        return K_TEXT;
      }
      case GLOBAL.STR_T: {
        const idx = readMbUint(buf, pos, tokOff, 'a STR_T offset');
        pos = mbEnd;
        const cached = strtCache?.get(idx);
        if (cached !== undefined) text = cached;
        else {
          const tbl = header!.stringTable;
          const end = tableStringEnd(tbl, idx);
          if (end < 0) bail();
          text = header!.decodeText(tbl, idx, end, tokOff);
          (strtCache ??= new Map()).set(idx, text);
        }
        return K_TEXT;
      }
      case GLOBAL.ENTITY: {
        const cp = readMbUint(buf, pos, tokOff, 'an ENTITY code point');
        pos = mbEnd;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) bail();
        text = String.fromCodePoint(cp);
        return K_TEXT;
      }
      case GLOBAL.OPAQUE: {
        const n = readMbUint(buf, pos, tokOff, 'an OPAQUE length');
        pos = mbEnd;
        if (n > len - pos) bail();
        opaqueStart = pos;
        pos += n;
        opaqueEnd = pos;
        // A whole WBXML DM DDF document (TNDS) is expanded and retyped by the tree path.
        if (n >= 4 && buf[opaqueStart]! <= 0x03 && isEmbeddedDdf(buf.subarray(opaqueStart, pos))) bail();
        return K_OPAQUE;
      }
      default: {
        // LITERAL tags, attributes, extensions and PIs: the tree path (which refuses most of them).
        if ((tok & TAG_ID_MASK) < 5 || tok & 0x80) bail();
        if (page > 1) bail(); // DM DDF: embedded XML, the tree path
        const id = tok & TAG_ID_MASK;
        if (TAG_NAMES[page]![id] === undefined) bail();
        if (depth >= MAX_DEPTH || ++elements > MAX_ELEMENTS) bail();
        tagPage = page;
        tagId = id;
        tagContent = (tok & TAG_CONTENT) !== 0;
        if (tagContent) depth++;
        return K_TAG;
      }
    }
  }
}

/**
 * Short ASCII strings read lately, by a hash of their bytes. A DM session repeats most of its
 * strings in every message (versions, URLs, DevId, formats, types, status codes, CmdIDs): a hit
 * spares the string's allocation and the native call that makes it.
 */
const SHORT = 48;
const SEEN_SLOTS = 1024;
const SEEN: string[] = new Array<string>(SEEN_SLOTS).fill('');

function sameAscii(s: string, b: Uint8Array, at: number): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) !== b[at + k]) return false;
  return true;
}

/** The next child element (K_TAG) or the parent's end (K_END); whitespace between them is skipped. */
function nextChild(): number {
  for (;;) {
    const k = next();
    if (k === K_TAG || k === K_END) return k;
    if (k === K_OPAQUE || text.trim() !== '') bail();
  }
}

/** As nextChild, where no character data may stand between the children at all (SyncBody, Atomic, Sequence). */
function nextCommand(): number {
  for (;;) {
    const k = next();
    if (k === K_TAG || k === K_END) return k;
    if (k === K_OPAQUE || text.length !== 0) bail();
  }
}

/** An element whose presence is all that counts: its content is read (the decoder checks it) and dropped. */
function skip(content: boolean): void {
  if (!content) return;
  let d = 1;
  while (d > 0) {
    const k = next();
    if (k === K_END) d--;
    else if (k === K_TAG && tagContent) d++;
  }
}

/** The character data of a text element: trimmed except Data; OPAQUE read as UTF-8; no elements. */
function textOf(content: boolean, isData: boolean): string {
  if (!content) return '';
  let k = next();
  if (k === K_END) return '';
  let out: string;
  if (k === K_TEXT) {
    out = text;
    k = next();
    // One piece of text, the common case.
    if (k === K_END) return isData ? out : out.trim();
  } else out = '';
  for (; k !== K_END; k = next()) {
    if (k === K_TEXT) out += text;
    else if (k === K_OPAQUE) {
      const t = decodeUtf8Strict(buf.subarray(opaqueStart, opaqueEnd));
      if (t === undefined) bail();
      out += t;
    } else bail();
  }
  return isData ? out : out.trim();
}

function syncHdr(content: boolean): SyncHdr {
  if (!content) bail();
  let verDTD: string | undefined, verProto: string | undefined, sessionID: string | undefined, msgID: string | undefined;
  let target: Location | undefined, source: Location | undefined, respURI: string | undefined;
  let noResp = false;
  let cred: Cred | undefined, meta: Meta | undefined;
  while (nextChild() === K_TAG) {
    if (tagPage !== 0) bail();
    const c = tagContent;
    switch (tagId) {
      case VER_DTD: if (verDTD !== undefined) bail(); verDTD = textOf(c, false); break;
      case VER_PROTO: if (verProto !== undefined) bail(); verProto = textOf(c, false); break;
      case SESSION_ID: if (sessionID !== undefined) bail(); sessionID = textOf(c, false); break;
      case MSG_ID: if (msgID !== undefined) bail(); msgID = textOf(c, false); break;
      case TARGET: if (target !== undefined) bail(); target = location(c); break;
      case SOURCE: if (source !== undefined) bail(); source = location(c); break;
      case RESP_URI: if (respURI !== undefined) bail(); respURI = textOf(c, false); break;
      case NO_RESP: if (noResp) bail(); noResp = true; skip(c); break;
      case CRED: if (cred !== undefined) bail(); cred = credOf(c); break;
      case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
      default: bail();
    }
  }
  if (verDTD === undefined || verProto === undefined || sessionID === undefined || msgID === undefined || target === undefined || source === undefined) bail();
  const hdr: SyncHdr = { verDTD, verProto, sessionID, msgID, target, source };
  if (respURI !== undefined) hdr.respURI = respURI;
  if (noResp) hdr.noResp = true;
  if (cred !== undefined) hdr.cred = cred;
  if (meta !== undefined) hdr.meta = meta;
  return hdr;
}

function syncBody(content: boolean): SyncBody {
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

function item(content: boolean): Item {
  let target: Location | undefined, source: Location | undefined;
  let meta: Meta | undefined, data: ItemData | undefined;
  let moreData = false;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      const c = tagContent;
      switch (tagId) {
        case TARGET: if (target !== undefined) bail(); target = location(c); break;
        case SOURCE: if (source !== undefined) bail(); source = location(c); break;
        case META: if (meta !== undefined) bail(); meta = metaOf(c); break;
        case DATA: if (data !== undefined) bail(); data = itemData(c); break;
        case MORE_DATA: if (moreData) bail(); moreData = true; skip(c); break;
        default: bail();
      }
    }
  }
  const it: Item = {};
  if (target !== undefined) it.target = target;
  if (source !== undefined) it.source = source;
  if (meta !== undefined) it.meta = meta;
  if (data !== undefined) it.data = data;
  if (moreData) it.moreData = true;
  return it;
}

/** An Item's Data: text, OPAQUE bytes, or both in order (then bytes); elements (embedded XML) go to the tree path. */
function itemData(content: boolean): ItemData {
  if (!content) return { kind: 'text', text: '' };
  let first: string | Uint8Array | undefined;
  let parts: (string | Uint8Array)[] | undefined;
  for (let k = next(); k !== K_END; k = next()) {
    if (k === K_TAG) bail();
    if (k === K_TEXT) {
      if (text.length === 0) continue;
      // Adjacent text pieces are one piece of character data.
      if (parts !== undefined) {
        const last = parts.length - 1;
        if (typeof parts[last] === 'string') parts[last] += text;
        else parts.push(text);
      } else if (first === undefined) first = text;
      else if (typeof first === 'string') first += text;
      else parts = [first, text];
    } else {
      const bytes = copyBytes(buf.subarray(opaqueStart, opaqueEnd));
      if (parts !== undefined) parts.push(bytes);
      else if (first === undefined) first = bytes;
      else parts = [first, bytes];
    }
  }
  if (parts === undefined) {
    if (first === undefined) return { kind: 'text', text: '' };
    return typeof first === 'string' ? { kind: 'text', text: first } : { kind: 'binary', bytes: first };
  }
  // Text pieces and OPAQUE mixed (some encoders split long values): the bytes, in order.
  const enc = new TextEncoder();
  return { kind: 'binary', bytes: new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p)))) };
}

function location(content: boolean): Location {
  let locURI: string | undefined, locName: string | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      if (tagId === LOC_URI && locURI === undefined) locURI = textOf(tagContent, false);
      else if (tagId === LOC_NAME && locName === undefined) locName = textOf(tagContent, false);
      else bail();
    }
  }
  if (locURI === undefined) bail();
  const loc: Location = { locURI };
  if (locName !== undefined) loc.locName = locName;
  return loc;
}

function credOf(content: boolean): Cred {
  let data: string | undefined;
  let meta: Meta | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0) bail();
      if (tagId === DATA && data === undefined) data = textOf(tagContent, true);
      else if (tagId === META && meta === undefined) meta = metaOf(tagContent);
      else bail();
    }
  }
  if (data === undefined) bail();
  const cred: Cred = { data };
  if (meta !== undefined) cred.meta = meta;
  return cred;
}

function chalOf(content: boolean): Chal {
  let meta: Meta | undefined;
  if (content) {
    while (nextChild() === K_TAG) {
      if (tagPage !== 0 || tagId !== META || meta !== undefined) bail();
      meta = metaOf(tagContent);
    }
  }
  if (meta === undefined) bail();
  return { meta };
}

/**
 * Meta: MetInf elements, in document order on the object; or one MetInf element holding them, when
 * it is the Meta's only child (readMessage looks through it then, and refuses it anywhere else).
 */
function metaOf(content: boolean): Meta {
  const meta: Meta = {};
  if (!content) return meta;
  let seen = 0;
  let children = 0;
  let wrapped = false;
  for (let k = next(); k !== K_END; k = next()) {
    if (wrapped) {
      // Anything after the MetInf element: it was not the only child, and readMessage refuses it.
      if (k === K_TEXT && text.length === 0) continue;
      bail();
    }
    if (k === K_OPAQUE) bail();
    if (k === K_TEXT) {
      if (text.length === 0) continue;
      if (text.trim() !== '') bail();
      children++;
      continue;
    }
    if (tagPage !== 1) bail();
    if (tagId === MET_INF && children === 0) {
      wrapped = true;
      if (!tagContent) continue;
      while (nextChild() === K_TAG) seen = metaField(meta, seen);
      continue;
    }
    children++;
    seen = metaField(meta, seen);
  }
  return meta;
}

/** One MetInf element of a Meta (its tag just read); returns the names seen so far, as bits of their token ids. */
function metaField(meta: Meta, seen: number): number {
  if (tagPage !== 1) bail();
  const id = tagId;
  const bit = 1 << id;
  if (id !== EMI && seen & bit) bail();
  const c = tagContent;
  switch (id) {
    case FORMAT: meta.format = textOf(c, false); break;
    case TYPE: meta.type = textOf(c, false); break;
    case MARK: meta.mark = textOf(c, false); break;
    case SIZE: meta.size = textOf(c, false); break;
    case NEXT_NONCE: meta.nextNonce = textOf(c, false); break;
    case VERSION: meta.version = textOf(c, false); break;
    case MAX_MSG_SIZE: meta.maxMsgSize = textOf(c, false); break;
    case MAX_OBJ_SIZE: meta.maxObjSize = textOf(c, false); break;
    case FIELD_LEVEL: meta.fieldLevel = true; skip(c); break;
    case EMI: (meta.emi ??= []).push(textOf(c, false)); break;
    case ANCHOR: {
      let last: string | undefined, nextAnchor: string | undefined;
      if (c) {
        while (nextChild() === K_TAG) {
          if (tagPage !== 1) bail();
          if (tagId === LAST && last === undefined) last = textOf(tagContent, false);
          else if (tagId === NEXT && nextAnchor === undefined) nextAnchor = textOf(tagContent, false);
          else bail();
        }
      }
      if (nextAnchor === undefined) bail();
      const anchor: { last?: string; next: string } = { next: nextAnchor };
      if (last !== undefined) anchor.last = last;
      meta.anchor = anchor;
      break;
    }
    case MEM: {
      let freeMem: string | undefined, freeID: string | undefined;
      let sharedMem = false;
      if (c) {
        while (nextChild() === K_TAG) {
          if (tagPage !== 1) bail();
          if (tagId === FREE_MEM && freeMem === undefined) freeMem = textOf(tagContent, false);
          else if (tagId === FREE_ID && freeID === undefined) freeID = textOf(tagContent, false);
          else if (tagId === SHARED_MEM && !sharedMem) {
            sharedMem = true;
            skip(tagContent);
          } else bail();
        }
      }
      if (freeMem === undefined || freeID === undefined) bail();
      const mem: { sharedMem?: boolean; freeMem: string; freeID: string } = { freeMem, freeID };
      if (sharedMem) mem.sharedMem = true;
      meta.mem = mem;
      break;
    }
    default:
      bail();
  }
  return seen | bit;
}

/** Whether OPAQUE bytes are a WBXML DM DDF document, as the tree decoder's decodeEmbedded decides. */
function isEmbeddedDdf(data: Uint8Array): boolean {
  try {
    return parseHeader(data).publicIdInfo.family === 'dmddf';
  } catch {
    return false;
  }
}
