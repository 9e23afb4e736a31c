/**
 * The token loop of the typed-message fast path (fast-read.ts): WBXML tokens read one at a time as
 * the tree decoder reads them (code page switches followed, text decoded in the document's charset,
 * the decoder's depth and element limits applied), for the readers of fast-read.ts,
 * fast-read-commands.ts and fast-read-parts.ts.
 *
 * Every error, and every construct the fast path leaves to the tree path, throws BAIL (bail()).
 * The state is module slots, not an object, so the token loop reads plain variables; the readers
 * see what next() found through the exported bindings (tagPage, tagId, tagContent, text), which only
 * this module writes.
 */
import { decodeUtf8Strict } from '../binary.js';
import { copyBytes } from '../byte-writer.js';
import { parseHeader, type WbxmlHeader } from '../wbxml/header.js';
import { DEFAULT_WBXML_LIMITS } from '../wbxml/limits.js';
import { mbEnd, readMbUint, tableStringEnd } from '../wbxml/primitives.js';
import { GLOBAL, TAG_CONTENT, TAG_ID_MASK, TAG_NAMES } from '../wbxml/tables.js';

export const BAIL = new Error('fast path does not apply');
export function bail(): never {
  throw BAIL;
}

// What next() found.
export const K_END = 0;
export const K_TAG = 1;
export const K_TEXT = 2;
export const K_OPAQUE = 3;

const MAX_DEPTH = DEFAULT_WBXML_LIMITS.maxDepth;
const MAX_ELEMENTS = DEFAULT_WBXML_LIMITS.maxElements;
const MAX_TABLE_TEXT = DEFAULT_WBXML_LIMITS.maxTableTextChars;

let buf: Uint8Array = new Uint8Array(0);
let len = 0;
let pos = 0;
let page = 0;
let depth = 0;
let elements = 0;
let header: WbxmlHeader | undefined;
let strtCache: Map<number, string> | undefined;
/** Characters taken from the string table so far, every reference counted (maxTableTextChars). */
let tableText = 0;
/** The tag next() found (K_TAG): code page, token id, whether it has content. */
export let tagPage = 0;
export let tagId = 0;
export let tagContent = false;
/** The text next() found (K_TEXT). */
export let text = '';
/** Where the OPAQUE next() found (K_OPAQUE) lies in the document. */
let opaqueStart = 0;
let opaqueEnd = 0;

/** Starts reading a WBXML document: its header parsed, the position at its first body token. */
export function beginDocument(input: Uint8Array): void {
  const h = parseHeader(input);
  header = h;
  buf = input;
  len = input.length;
  pos = h.bodyOffset;
  page = 0;
  depth = 0;
  elements = 0;
  strtCache = undefined;
  tableText = 0;
}

/** Whether every byte of the document has been read. */
export function atDocumentEnd(): boolean {
  return pos === len;
}

/** Lets go of the document: not kept between calls, the input and its string table belong to the caller. */
export function endDocument(): void {
  buf = new Uint8Array(0);
  header = undefined;
  strtCache = undefined;
  text = '';
}

/**
 * The next token inside the current element, as the tree decoder reads it: code page switches
 * followed, text decoded in the document's charset, the decoder's limits applied.
 */
export function next(): number {
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
        // Over the budget: the tree path says so, with the offset and the element path.
        if ((tableText += text.length) > MAX_TABLE_TEXT) bail();
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

/** A copy of the bytes of the OPAQUE next() just found. */
export function opaqueBytes(): Uint8Array {
  return copyBytes(buf.subarray(opaqueStart, opaqueEnd));
}

/** The next child element (K_TAG) or the parent's end (K_END); whitespace between them is skipped. */
export function nextChild(): number {
  for (;;) {
    const k = next();
    if (k === K_TAG || k === K_END) return k;
    if (k === K_OPAQUE || text.trim() !== '') bail();
  }
}

/** As nextChild, where no character data may stand between the children at all (SyncBody, Atomic, Sequence). */
export function nextCommand(): number {
  for (;;) {
    const k = next();
    if (k === K_TAG || k === K_END) return k;
    if (k === K_OPAQUE || text.length !== 0) bail();
  }
}

/** An element whose presence is all that counts: its content is read (the decoder checks it) and dropped. */
export function skip(content: boolean): void {
  if (!content) return;
  let d = 1;
  while (d > 0) {
    const k = next();
    if (k === K_END) d--;
    else if (k === K_TAG && tagContent) d++;
  }
}

/** The character data of a text element: trimmed except Data; OPAQUE read as UTF-8; no elements. */
export function textOf(content: boolean, isData: boolean): string {
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

/** Whether OPAQUE bytes are a WBXML DM DDF document, as the tree decoder's decodeEmbedded decides. */
function isEmbeddedDdf(data: Uint8Array): boolean {
  try {
    return parseHeader(data).publicIdInfo.family === 'dmddf';
  } catch {
    return false;
  }
}
