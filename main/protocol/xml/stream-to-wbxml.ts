/**
 * XML text -> WBXML in one streaming pass, for the straight conversion (xmlToWbxml, what
 * `xml2wbxml -v 1.2 -n` does): no document tree, no string per element name or text, tokens and text
 * bytes written as the scanner meets them.
 *
 * It is a fast path, not a second codec: it produces exactly the bytes of the tree path (parseXml,
 * decodeBinaryItems, wbxmlFromDocument) for the SyncML documents it understands, and gives up
 * (returns undefined) on anything else, and on any error, so that the tree path runs and the caller
 * gets the tree path's own result, error positions and messages included. What it gives up on is
 * rare in DM traffic: comments, CDATA and processing instructions inside the document, namespace
 * prefixes, DM DDF (TNDS) elements, attributes other than xmlns, non-SyncML roots, and odd corners
 * of references and text (see `bail` below). test/unit/codec-fast-path.test.ts compares both paths on
 * the corpus and on mutated documents.
 */
import { ByteWriter } from '../byte-writer.js';
import { fromBase64, hasXmlIllegalChar } from '../binary.js';
import { METINF_NAMES, namespaceFromUri } from '../names.js';
import { GLOBAL, TAG_CONTENT, TAG_LIST } from '../wbxml/tables.js';
import { DEFAULT_XML_LIMITS, XML_DECLARATION } from './parse.js';

/** Thrown to leave the fast path; never escapes this module. */
const BAIL = new Error('fast path does not apply');
function bail(): never {
  throw BAIL;
}

// ---- Element names: one entry per name of code pages 0 and 1, found by a hash of its characters ----

const NAMES: string[] = [];
const SYNCML_TOKEN: number[] = [];
const METINF_TOKEN: number[] = [];
const IS_METINF_NAME: boolean[] = [];
{
  const index = new Map<string, number>();
  const add = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = NAMES.length;
      index.set(name, i);
      NAMES.push(name);
      SYNCML_TOKEN.push(-1);
      METINF_TOKEN.push(-1);
      IS_METINF_NAME.push(METINF_NAMES.has(name));
    }
    return i;
  };
  for (const [name, tok] of TAG_LIST.syncml) SYNCML_TOKEN[add(name)] = tok;
  for (const [name, tok] of TAG_LIST.metinf) METINF_TOKEN[add(name)] = tok;
}
/** Whether text[at, at + name.length) is `name`: a char loop, cheaper than startsWith for short names. */
function nameAt(text: string, at: number, name: string): boolean {
  const len = name.length;
  for (let i = 0; i < len; i++) if (text.charCodeAt(at + i) !== name.charCodeAt(i)) return false;
  return true;
}
const NAME_ITEM = NAMES.indexOf('Item');
const NAME_META = NAMES.indexOf('Meta');
const NAME_DATA = NAMES.indexOf('Data');
const NAME_FORMAT = NAMES.indexOf('Format');

const HASH_SLOTS = 256; // a power of two, well above the ~75 names
const SLOT_ENTRY = new Int16Array(HASH_SLOTS).fill(-1);
const SLOT_HASH = new Int32Array(HASH_SLOTS);

function hashOf(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}
for (let e = 0; e < NAMES.length; e++) {
  const h = hashOf(NAMES[e]!);
  let slot = h & (HASH_SLOTS - 1);
  while (SLOT_ENTRY[slot] !== -1) slot = (slot + 1) & (HASH_SLOTS - 1);
  SLOT_ENTRY[slot] = e;
  SLOT_HASH[slot] = h;
}

const NS_SYNCML = 0;
const NS_METINF = 1;

/** Public ids as defaultPublicId() chooses them from the root namespace URI. */
function publicIdFor(rootUri: string): number {
  const uri = rootUri.toUpperCase();
  if (uri === 'SYNCML:SYNCML1.1') return 0x0fd3;
  if (uri === 'SYNCML:SYNCML1.0') return 0x0fd1;
  return 0x1201;
}

/** Item format state (per open Item). */
const FORMAT_UNKNOWN = 0;
const FORMAT_OTHER = 1;
const FORMAT_BIN = 2;

const MAX_DEPTH = DEFAULT_XML_LIMITS.maxDepth;

/**
 * The WBXML xmlToWbxml would produce for `text`, or undefined when the fast path does not apply (then
 * the caller runs the tree path, which also reports every error).
 */
export function xmlToWbxmlFast(text: string): Uint8Array | undefined {
  if (text.length > DEFAULT_XML_LIMITS.maxChars) return undefined;
  try {
    return convert(text);
  } catch {
    // BAIL, or a fault of the fast path itself (a CodecFailure from the byte writer): the tree path decides.
    return undefined;
  }
}

// Per open element, parallel arrays indexed by depth (no object per element).
const stackName = new Int32Array(MAX_DEPTH);
const stackNs = new Int8Array(MAX_DEPTH);
const stackTagPos = new Int32Array(MAX_DEPTH);
/** Children (elements and text) written so far: the tree path's `children.length`. */
const stackKids = new Int32Array(MAX_DEPTH);
/** Item: FORMAT_*; 8 is added once a Data child was written while the format was unknown. */
const stackItemFormat = new Int8Array(MAX_DEPTH);
const DATA_BEFORE_FORMAT = 8;

function convert(text: string): Uint8Array {
  const n = text.length;
  const w = new ByteWriter(true);
  let pos = 0;
  let depth = 0;
  let page = 0;
  let elements = 0;
  let rootDone = false;
  let sawDoctype = false;
  /** Stack index of the open Item + 1, 0 when none. */
  let itemDepth = 0;
  // DEFAULT_XML_LIMITS is a plain object: read its bounds now, as parseXml does on each call.
  const maxDepth = Math.min(MAX_DEPTH, DEFAULT_XML_LIMITS.maxDepth);
  const maxElements = DEFAULT_XML_LIMITS.maxElements;

  // Prolog: declaration, whitespace, one DOCTYPE.
  for (;;) {
    const lt = text.indexOf('<', pos);
    if (lt < 0 || !blank(text, pos, lt)) bail();
    pos = lt;
    const c1 = text.charCodeAt(pos + 1);
    if (c1 === 0x3f /* ? */) {
      if (pos !== 0 || !text.startsWith('<?xml', 0)) bail();
      const close = text.indexOf('?>', 2);
      if (close < 0 || !XML_DECLARATION.test(text.slice(0, close + 2))) bail();
      pos = close + 2;
    } else if (c1 === 0x21 /* ! */) {
      if (sawDoctype || !text.startsWith('<!DOCTYPE', pos)) bail();
      sawDoctype = true;
      pos = skipDoctype(text, pos);
    } else break;
  }

  // The document element and everything in it.
  while (pos < n) {
    // Here text[pos] === '<'.
    const c1 = text.charCodeAt(pos + 1);
    if (c1 === 0x2f /* / */) {
      // End tag of the innermost open element.
      if (depth === 0) bail();
      const top = depth - 1;
      const e = stackName[top]!;
      const name = NAMES[e]!;
      let p = pos + 2;
      if (!nameAt(text, p, name)) bail();
      p += name.length;
      let c = text.charCodeAt(p);
      while (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) c = text.charCodeAt(++p);
      if (c !== 0x3e) bail();
      pos = p + 1;
      closeElement(w, top);
      depth = top;
      if (itemDepth === top + 1) itemDepth = 0;
      if (depth === 0) {
        rootDone = true;
        break;
      }
    } else if (c1 === 0x21 || c1 === 0x3f) {
      // Comment, CDATA, DOCTYPE or PI inside the document: rare, left to the tree path.
      bail();
    } else {
      // Start tag.
      if (depth >= maxDepth) bail();
      let p = pos + 1;
      const nameStart = p;
      let h = 0;
      let c = text.charCodeAt(p);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f)) bail();
      for (;;) {
        if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e) {
          h = (Math.imul(h, 31) + c) | 0;
          c = text.charCodeAt(++p);
        } else break;
      }
      // ':' (a prefix) or a non-ASCII name character: the tree path.
      if (c === 0x3a || c >= 0x80) bail();
      const nameLen = p - nameStart;
      let slot = h & (HASH_SLOTS - 1);
      let e = -1;
      for (;;) {
        const cand = SLOT_ENTRY[slot]!;
        if (cand === -1) bail(); // no WBXML token on pages 0 and 1: the tree path says why
        if (SLOT_HASH[slot] === h && NAMES[cand]!.length === nameLen && nameAt(text, nameStart, NAMES[cand]!)) {
          e = cand;
          break;
        }
        slot = (slot + 1) & (HASH_SLOTS - 1);
      }

      // Attributes: only one xmlns="..." is ours to handle.
      let declared = -1;
      let declaredUri: string | undefined;
      let selfClosing = false;
      for (;;) {
        const ws = p;
        while (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) c = text.charCodeAt(++p);
        if (c === 0x3e /* > */) {
          p++;
          break;
        }
        if (c === 0x2f /* / */ && text.charCodeAt(p + 1) === 0x3e) {
          p += 2;
          selfClosing = true;
          break;
        }
        if (p === ws || declared !== -1 || !nameAt(text, p, 'xmlns')) bail();
        p += 5;
        c = text.charCodeAt(p);
        while (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) c = text.charCodeAt(++p);
        if (c !== 0x3d /* = */) bail();
        c = text.charCodeAt(++p);
        while (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) c = text.charCodeAt(++p);
        if (c !== 0x22 && c !== 0x27) bail();
        const vStart = p + 1;
        const vEnd = text.indexOf(c === 0x22 ? '"' : "'", vStart);
        if (vEnd < 0) bail();
        declared = namespaceAt(text, vStart, vEnd);
        if (depth === 0) declaredUri = text.slice(vStart, vEnd);
        p = vEnd + 1;
        c = text.charCodeAt(p);
      }

      // The element's namespace, as the tree builder decides it.
      let ns: number;
      if (depth === 0) {
        if (rootDone) bail();
        if (declared === -1) {
          if (NAMES[e] === 'MgmtTree') bail();
          ns = NS_SYNCML;
          declaredUri = 'SYNCML:SYNCML1.2';
        } else ns = declared;
        if (ns !== NS_SYNCML) bail(); // MetInf or DDF documents: the tree path
        w.byte(2); // WBXML 1.2
        w.mbUint(publicIdFor(declaredUri!));
        w.byte(106); // UTF-8
        w.byte(0); // no string table
      } else {
        ns = declared === -1 ? stackNs[depth - 1]! : declared;
        if (ns === NS_SYNCML && stackName[depth - 1] === NAME_META && IS_METINF_NAME[e]) ns = NS_METINF;
      }
      if (++elements > maxElements) bail();
      const tok = ns === NS_SYNCML ? SYNCML_TOKEN[e]! : METINF_TOKEN[e]!;
      if (tok < 0) bail();

      if (depth > 0) {
        const parent = depth - 1;
        stackKids[parent] = stackKids[parent]! + 1;
        if (e === NAME_ITEM && ns === NS_SYNCML) {
          if (itemDepth !== 0) bail(); // an Item inside an Item
        } else if (itemDepth === depth) {
          // A direct child of the open Item.
          const f = stackItemFormat[parent]!;
          if (e === NAME_META) {
            // A Meta after a Data whose conversion depended on the format: the tree path.
            if (f & DATA_BEFORE_FORMAT) bail();
          } else if (e === NAME_DATA && f === FORMAT_UNKNOWN) {
            stackItemFormat[parent] = FORMAT_UNKNOWN | DATA_BEFORE_FORMAT;
          }
        }
      }
      const elPage = ns;
      if (elPage !== page) {
        w.byte(GLOBAL.SWITCH_PAGE);
        w.byte(elPage);
        page = elPage;
      }
      stackName[depth] = e;
      stackNs[depth] = ns;
      stackTagPos[depth] = w.pos;
      stackKids[depth] = 0;
      stackItemFormat[depth] = FORMAT_UNKNOWN;
      // Written with the content bit; closeElement clears it if nothing follows.
      w.byte(tok | TAG_CONTENT);
      if (e === NAME_ITEM && ns === NS_SYNCML) itemDepth = depth + 1;
      depth++;
      pos = p;
      if (selfClosing) {
        depth--;
        closeElement(w, depth);
        if (itemDepth === depth + 1) itemDepth = 0;
        if (depth === 0) {
          rootDone = true;
          break;
        }
      }
    }

    // Character data up to the next markup: usually none or a few characters, found without a call.
    let lt = pos;
    const near = Math.min(n, pos + 32);
    while (lt < near && text.charCodeAt(lt) !== 0x3c) lt++;
    if (lt === near && lt < n) lt = text.indexOf('<', lt);
    if (lt < 0 || lt >= n) bail(); // unclosed elements
    if (lt > pos) {
      const top = depth - 1;
      const e = stackName[top]!;
      const closing = text.charCodeAt(lt + 1) === 0x2f;
      if (e === NAME_DATA && stackNs[top] === NS_SYNCML) {
        // Data: character data is content, kept exactly.
        const inBinItem = itemDepth === top && (stackItemFormat[top - 1]! & 7) === FORMAT_BIN;
        if (blank(text, pos, lt) && (stackKids[top]! > 0 || !closing)) {
          // layout around child elements
        } else if (inBinItem) {
          // The base64 text of a bin Item becomes OPAQUE bytes, if it is base64 and Data's only child.
          if (!closing || stackKids[top]! > 0) bail();
          const s = characterData(text, pos, lt);
          const bytes = fromBase64(s);
          if (bytes) {
            w.byte(GLOBAL.OPAQUE);
            w.mbUint(bytes.length);
            w.bytes(bytes);
          } else if (s.length > 0) {
            w.byte(GLOBAL.STR_I);
            w.cString(s, undefined, noPath);
          }
          stackKids[top] = stackKids[top]! + 1;
        } else {
          writeText(w, text, pos, lt, false);
          stackKids[top] = stackKids[top]! + 1;
        }
      } else {
        const start = w.pos;
        if (writeText(w, text, pos, lt, true)) {
          stackKids[top] = stackKids[top]! + 1;
          // The first Format of a Meta of an Item decides whether the Item is binary.
          if (e === NAME_FORMAT && top >= 2 && itemDepth === top - 1 && stackName[top - 1] === NAME_META && stackKids[top] === 1) {
            const item = top - 2;
            if ((stackItemFormat[item]! & 7) === FORMAT_UNKNOWN) {
              const b = w.buf;
              const isBin = w.pos - start === 5 && b[start + 1] === 0x62 && b[start + 2] === 0x69 && b[start + 3] === 0x6e;
              stackItemFormat[item] = (stackItemFormat[item]! & DATA_BEFORE_FORMAT) | (isBin ? FORMAT_BIN : FORMAT_OTHER);
              if (stackItemFormat[item]! & DATA_BEFORE_FORMAT) bail();
            }
          }
        }
      }
    }
    pos = lt;
  }
  if (!rootDone) bail();
  // After the root: whitespace only (comments and PIs are left to the tree path).
  if (!blank(text, pos, n)) bail();
  return w.result();
}

/** End of an element: END, or, when nothing was written inside it, the tag without its content bit. */
function closeElement(w: ByteWriter, top: number): void {
  const tagPos = stackTagPos[top]!;
  if (w.pos === tagPos + 1) w.buf[tagPos] = w.buf[tagPos]! & ~TAG_CONTENT;
  else w.byte(GLOBAL.END);
}

const noPath = (): undefined => undefined;

/** NS_SYNCML / NS_METINF for a namespace URI in the text; bails on others (DDF, unknown). */
function namespaceAt(text: string, start: number, end: number): number {
  const len = end - start;
  if (len === 13 && nameAt(text, start, 'syncml:metinf')) return NS_METINF;
  if (len === 16 && nameAt(text, start, 'SYNCML:SYNCML1.')) {
    const v = text.charCodeAt(start + 15);
    if (v >= 0x30 && v <= 0x32) return NS_SYNCML;
  }
  const raw = text.slice(start, end);
  if (raw.includes('<') || raw.includes('&')) bail();
  const ns = namespaceFromUri(raw);
  if (ns === 'syncml') return NS_SYNCML;
  if (ns === 'metinf') return NS_METINF;
  return bail();
}

function blank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** `<!DOCTYPE ...>` without an internal subset (one with `[` is the tree path's to refuse). */
function skipDoctype(text: string, at: number): number {
  let quote = 0;
  for (let p = at + 9; p < text.length; p++) {
    const c = text.charCodeAt(p);
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x5b) bail();
    else if (c === 0x3e) return p + 1;
  }
  return bail();
}

/**
 * Writes STR_I + the character data of text[start, end) + NUL, trimmed when `trim` (all but Data);
 * writes nothing and returns false when that leaves no text. Plain ASCII (the usual DM text) is
 * copied straight into the output; references are expanded and CR LF normalised on the way. Anything
 * else (non-ASCII) goes through the tree path's own string functions.
 */
function writeText(w: ByteWriter, text: string, start: number, end: number, trim: boolean): boolean {
  // Long values (large objects, base64): native string scans and encodeInto beat a JS loop by far.
  if (end - start > LONG_TEXT) return writeLongText(w, text, start, end, trim);
  let s = start;
  if (trim) {
    // Leading layout whitespace; a run of nothing else is no text at all.
    for (; s < end; s++) {
      const c = text.charCodeAt(s);
      if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) break;
    }
    if (s === end) return false;
  }
  w.ensure(end - s + 2);
  const buf = w.buf;
  const begin = w.pos;
  let o = begin + 1;
  buf[begin] = GLOBAL.STR_I;
  for (let i = s; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x26 /* & */) {
        // A reference: its expansion is never longer than the reference itself.
        const semi = text.indexOf(';', i + 1);
        if (semi < 0 || semi >= end) bail();
        const cp = referenceAt(text, i + 1, semi);
        buf[o++] = cp;
        i = semi;
        continue;
      }
      if (c === 0x5d /* ] */ && text.charCodeAt(i + 1) === 0x5d && text.charCodeAt(i + 2) === 0x3e) bail();
      buf[o++] = c;
    } else if (c === 0x0a || c === 0x09) {
      buf[o++] = c;
    } else if (c === 0x0d) {
      // CR LF and lone CR read as LF (XML 1.0 §2.11).
      buf[o++] = 0x0a;
      if (text.charCodeAt(i + 1) === 0x0a) i++;
    } else {
      // Non-ASCII (or a character XML forbids): the exact string rules.
      return writeTextSlow(w, text, start, end, trim);
    }
  }
  if (trim) {
    while (o > begin + 1) {
      const c = buf[o - 1]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) break;
      o--;
    }
    // Text that was only references to whitespace.
    if (o === begin + 1) return false;
    // A reference to whitespace at the start (the raw leading whitespace was skipped above).
    const first = buf[begin + 1]!;
    if (first === 0x20 || first === 0x0a || first === 0x09 || first === 0x0d) return writeTextSlow(w, text, start, end, trim);
  }
  buf[o++] = 0;
  w.pos = o;
  return true;
}

/** Above this many characters a text run goes through native scans and encodeInto, not the ASCII loop. */
const LONG_TEXT = 256;

const utf8Encoder = new TextEncoder();

/**
 * A long run (a large object, base64): encoded natively straight into the output, then checked there.
 * When every character is ASCII (as many bytes written as characters read), the only characters XML
 * forbids are controls, which a word-at-a-time scan of the bytes finds; references, CR, `]]>`,
 * non-ASCII text and controls other than tab and LF go the string way, with the tree path's checks.
 */
function writeLongText(w: ByteWriter, text: string, start: number, end: number, trim: boolean): boolean {
  let s = text.slice(start, end);
  if (s.includes('&') || s.includes('\r') || s.includes(']]>')) return writeTextSlow(w, text, start, end, trim);
  if (trim) s = s.trim();
  const n = s.length;
  if (n === 0) return false;
  w.ensure(n + 2);
  const begin = w.pos;
  const buf = w.buf;
  buf[begin] = GLOBAL.STR_I;
  const r = utf8Encoder.encodeInto(s, buf.subarray(begin + 1, begin + 1 + n));
  if (r.read !== n || r.written !== n || !onlyTextControls(buf, begin + 1, begin + 1 + n)) return writeTextSlow(w, text, start, end, trim);
  buf[begin + 1 + n] = 0;
  w.pos = begin + 2 + n;
  return true;
}

/** Whether ASCII bytes b[from, to) hold no control character other than tab and LF. */
function onlyTextControls(b: Uint8Array, from: number, to: number): boolean {
  let i = from;
  const control = (c: number): boolean => c < 0x20 && c !== 0x09 && c !== 0x0a;
  for (; i < to && ((b.byteOffset + i) & 3) !== 0; i++) if (control(b[i]!)) return false;
  const words = (to - i) >>> 2;
  if (words > 0) {
    const u32 = new Uint32Array(b.buffer, b.byteOffset + i, words);
    // A byte < 0x20 (all are < 0x80 here) sets its top bit in (x - 0x20..) & ~x. Four words a round;
    // a flagged round is looked at byte by byte (line-wrapped base64 has an LF every 60-76 bytes).
    const quads = words & ~3;
    let k = 0;
    for (; k < quads; k += 4) {
      const x0 = u32[k]!;
      const x1 = u32[k + 1]!;
      const x2 = u32[k + 2]!;
      const x3 = u32[k + 3]!;
      if ((((x0 - 0x20202020) & ~x0) | ((x1 - 0x20202020) & ~x1) | ((x2 - 0x20202020) & ~x2) | ((x3 - 0x20202020) & ~x3)) & 0x80808080) {
        for (let at = i + 4 * k, stop = at + 16; at < stop; at++) if (control(b[at]!)) return false;
      }
    }
    for (; k < words; k++) {
      const x = u32[k]!;
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) {
        const at = i + 4 * k;
        if (control(b[at]!) || control(b[at + 1]!) || control(b[at + 2]!) || control(b[at + 3]!)) return false;
      }
    }
    i += words * 4;
  }
  for (; i < to; i++) if (control(b[i]!)) return false;
  return true;
}

/**
 * The same through strings: long runs, and non-ASCII text (and its Unicode whitespace, which trim()
 * removes too).
 */
function writeTextSlow(w: ByteWriter, text: string, start: number, end: number, trim: boolean): boolean {
  let s = characterData(text, start, end);
  if (trim) s = s.trim();
  if (s.length === 0) return false;
  w.byte(GLOBAL.STR_I);
  w.cString(s, undefined, noPath);
  return true;
}

/** Character data as parse.ts reads it (checks, references, line ends); bails where it would fail. */
function characterData(text: string, start: number, end: number): string {
  let s = text.slice(start, end);
  if (hasXmlIllegalChar(s) || s.includes(']]>')) bail();
  if (s.includes('&')) s = expandReferences(s);
  return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
}

function expandReferences(s: string): string {
  let out = '';
  let from = 0;
  for (let amp = s.indexOf('&'); amp >= 0; amp = s.indexOf('&', from)) {
    const semi = s.indexOf(';', amp + 1);
    if (semi < 0) bail();
    out += s.slice(from, amp) + String.fromCharCode(referenceAt(s, amp + 1, semi));
    from = semi + 1;
  }
  return out + s.slice(from);
}

/**
 * The character a reference text[start, semi) (between `&` and `;`) stands for: the predefined
 * entities and character references to printable ASCII. Others (non-ASCII, controls, CR, which the
 * tree path normalises after expanding) bail, as do malformed ones, which the tree path refuses.
 */
function referenceAt(text: string, start: number, semi: number): number {
  const len = semi - start;
  const c0 = text.charCodeAt(start);
  if (c0 === 0x23 /* # */) {
    let cp = 0;
    let p = start + 1;
    const hex = text.charCodeAt(p) === 0x78; /* x */
    if (hex) p++;
    if (p === semi) bail();
    for (; p < semi; p++) {
      const d = text.charCodeAt(p);
      let v: number;
      if (d >= 0x30 && d <= 0x39) v = d - 0x30;
      else if (hex && d >= 0x61 && d <= 0x66) v = d - 0x57;
      else if (hex && d >= 0x41 && d <= 0x46) v = d - 0x37;
      else return bail();
      cp = cp * (hex ? 16 : 10) + v;
      if (cp > 0x7e) bail();
    }
    if (cp < 0x20 && cp !== 0x09 && cp !== 0x0a) bail();
    return cp;
  }
  if (len === 3 && text.startsWith('amp', start)) return 0x26;
  if (len === 2 && text.startsWith('lt', start)) return 0x3c;
  if (len === 2 && text.startsWith('gt', start)) return 0x3e;
  if (len === 4 && text.startsWith('quot', start)) return 0x22;
  if (len === 4 && text.startsWith('apos', start)) return 0x27;
  return bail();
}
