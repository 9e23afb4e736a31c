/**
 * WBXML -> compact XML bytes in one streaming pass, for the straight conversion (wbxmlToXml, what
 * `wbxml2xml -m 0` does): no document tree, text copied from the input to the output as bytes when
 * it is plain ASCII (most DM text is), element tags written from bytes made once per token.
 *
 * It is a fast path, not a second codec: it produces exactly the bytes of the tree path
 * (documentFromWbxml + serializeXmlBytes, compact) for the SyncML documents it understands, and gives
 * up (returns undefined) on anything else and on every error, so that the tree path runs and the
 * caller gets its result, error offsets and messages included. It gives up on: charsets other than
 * UTF-8, LITERAL tags, DM DDF (code page 2) elements, OPAQUE holding a WBXML DM DDF document (TNDS,
 * which the tree path expands), text XML cannot carry (which the tree path shows as base64), non-SyncML
 * roots, and an Item whose binary format is only known after OPAQUE data it decides.
 * test/unit/codec-fast-path.test.ts compares both paths on the corpus and on mutated documents.
 */
import { ByteWriter, allocBytes } from '../byte-writer.js';
import { binaryAsXmlText, escapeMarkup, hasXmlIllegalChar, isPlainAscii } from '../binary.js';
import { NAMESPACE_URI } from '../element.js';
import { parseHeader } from './header.js';
import { DEFAULT_WBXML_LIMITS } from './limits.js';
import { fastView, mbEnd, readMbUint, tableStringEnd, textDecoderFor } from './primitives.js';
import { CHARSET, GLOBAL, SYNCML_NAMESPACE_URI, TAG_CONTENT, TAG_ID_MASK, TAG_LIST } from './tables.js';

const BAIL = new Error('fast path does not apply');
function bail(): never {
  throw BAIL;
}

/**
 * ASCII markup made once, as little-endian 32-bit words: most of the output is tags, and writing
 * them four bytes at a time (DataView) costs half of a byte loop.
 */
interface Packed {
  n: number;
  words: Uint32Array;
}
function pack(s: string): Packed {
  const words = new Uint32Array(Math.ceil(s.length / 4));
  for (let i = 0; i < s.length; i++) words[i >> 2] = (words[i >> 2]! | (s.charCodeAt(i) << (8 * (i & 3)))) >>> 0;
  return { n: s.length, words };
}

/** `<Name` and `</Name>` per code page (0 SyncML, 1 MetInf) and token id; undefined: no such tag. */
const OPEN: (Packed | undefined)[][] = [[], []];
const CLOSE: (Packed | undefined)[][] = [[], []];
for (const [page, list] of [[0, TAG_LIST.syncml], [1, TAG_LIST.metinf]] as const) {
  for (const [name, tok] of list) {
    OPEN[page]![tok] = pack(`<${name}`);
    CLOSE[page]![tok] = pack(`</${name}>`);
  }
}
const NS_DECL = [pack(` xmlns="${NAMESPACE_URI.syncml}"`), pack(` xmlns="${NAMESPACE_URI.metinf}"`)];
const SELF_CLOSE = pack('/>');
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

const TOKEN_ITEM = 0x14; // page 0
const TOKEN_META = 0x1a; // page 0
const TOKEN_FORMAT = 0x07; // page 1

const utf8Text = textDecoderFor(CHARSET.UTF_8)!;

// Item binary format, as itemFormat() would find it.
const FORMAT_UNKNOWN = 0;
const FORMAT_OTHER = 1;
const FORMAT_BIN = 2;

const MAX_DEPTH = DEFAULT_WBXML_LIMITS.maxDepth;
const stackPage = new Uint8Array(MAX_DEPTH);
const stackTok = new Uint8Array(MAX_DEPTH);
/** 1 once anything was written inside the element (its `>` is written then, else it ends `/>`). */
const stackOpen = new Uint8Array(MAX_DEPTH);
/** Items: FORMAT_*, plus OPAQUE_BEFORE_FORMAT when a child's OPAQUE was written while unknown. */
const stackItemFormat = new Uint8Array(MAX_DEPTH);
const OPAQUE_BEFORE_FORMAT = 8;

/**
 * The compact XML wbxmlToXml would produce for `bytes`, or undefined when the fast path does not
 * apply (then the caller runs the tree path, which also reports every error).
 */
export function wbxmlToXmlFast(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length > DEFAULT_WBXML_LIMITS.maxBytes) return undefined;
  try {
    return convert(bytes);
  } catch {
    // BAIL, a CodecFailure from a primitive, or a fault of the fast path itself: the tree path decides.
    return undefined;
  } finally {
    // Not kept between calls: it would hold on to an output buffer the writer has let go.
    view = viewOf = undefined;
    bigAt.length = 0;
    bigData.length = 0;
  }
}

function convert(buf: Uint8Array): Uint8Array {
  const h = parseHeader(buf);
  if (h.charset !== CHARSET.UTF_8 && h.charset !== CHARSET.UNKNOWN) bail();
  const len = buf.length;
  const w = new ByteWriter(true);
  w.ascii(DECLARATION);

  let depth = 0;
  let page = 0;
  let elements = 0;
  let pos = h.bodyOffset;
  /** Index + 1 of the open Item whose direct child is open (text and OPAQUE there depend on its format). */
  let itemDepth = 0;
  formatText = undefined;
  let strtCache: Map<number, string> | undefined;
  /** Characters taken from the string table so far, every reference counted (maxTableTextChars). */
  let tableText = 0;

  while (pos < len) {
    const tokOff = pos;
    const tok = buf[pos++]!;
    switch (tok) {
      case GLOBAL.SWITCH_PAGE:
        if (pos >= len) bail();
        page = buf[pos++]!;
        continue;
      case GLOBAL.END: {
        if (depth === 0) bail();
        const top = --depth;
        if (formatText !== undefined && top === itemDepth + 1) endFormat(top);
        if (stackOpen[top]) put(w, CLOSE[stackPage[top]!]![stackTok[top]!]!);
        else put(w, SELF_CLOSE);
        if (itemDepth === top + 1) itemDepth = 0;
        if (depth === 0) {
          if (pos !== len) bail(); // trailing data: the tree path's error
          return finish(w);
        }
        continue;
      }
      case GLOBAL.STR_I:
        if (depth === 0) bail();
        pos = strI(w, buf, pos, tokOff, depth - 1);
        continue;
      case GLOBAL.STR_T: {
        if (depth === 0) bail();
        const idx = readMbUint(buf, pos, tokOff, 'a STR_T offset');
        pos = mbEnd;
        let s = strtCache?.get(idx);
        if (s === undefined) {
          const end = tableStringEnd(h.stringTable, idx);
          if (end < 0) bail();
          s = utf8Text(fastView(h.stringTable), idx, end, tokOff);
          (strtCache ??= new Map()).set(idx, s);
        }
        // Over the budget: the tree path says so, with the offset and the element path.
        if ((tableText += s.length) > DEFAULT_WBXML_LIMITS.maxTableTextChars) bail();
        textString(w, s, depth - 1);
        continue;
      }
      case GLOBAL.ENTITY: {
        if (depth === 0) bail();
        const cp = readMbUint(buf, pos, tokOff, 'an ENTITY code point');
        pos = mbEnd;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) bail();
        textString(w, String.fromCodePoint(cp), depth - 1);
        continue;
      }
      case GLOBAL.OPAQUE: {
        const n = readMbUint(buf, pos, tokOff, 'an OPAQUE length');
        pos = mbEnd;
        if (n > len - pos || depth === 0) bail();
        const start = pos;
        pos += n;
        // A whole WBXML DM DDF document (TNDS) is expanded by the tree path.
        if (n >= 4 && buf[start]! <= 0x03 && isEmbeddedDdf(buf.subarray(start, pos))) bail();
        let bin = false;
        if (itemDepth !== 0 && itemDepth === depth - 1) {
          const item = itemDepth - 1;
          const f = stackItemFormat[item]!;
          if ((f & 7) === FORMAT_UNKNOWN) stackItemFormat[item] = f | OPAQUE_BEFORE_FORMAT;
          bin = (f & 7) === FORMAT_BIN;
        }
        if (formatText !== undefined) endFormat(depth - 1);
        child(w, depth - 1);
        opaque(w, buf, start, n, bin);
        continue;
      }
      default: {
        if (tok === GLOBAL.LITERAL || tok === GLOBAL.LITERAL_C || (tok & 0x3f) < 5 || tok & 0x80) bail();
        if (page > 1) bail(); // DM DDF: the tree path (TNDS retyping, namespaces)
        const id = tok & TAG_ID_MASK;
        const open = OPEN[page]![id];
        if (open === undefined) bail();
        if (depth >= MAX_DEPTH || ++elements > DEFAULT_WBXML_LIMITS.maxElements) bail();
        if (depth === 0) {
          if (page !== 0) bail();
          put(w, open);
          w.ascii(' xmlns="');
          w.utf8(escapeMarkup(SYNCML_NAMESPACE_URI[h.publicIdInfo.version]));
          w.byte(0x22);
        } else {
          const parent = depth - 1;
          if (formatText !== undefined) endFormat(parent);
          child(w, parent);
          if (page === 0 && id === TOKEN_ITEM) {
            if (itemDepth !== 0) bail(); // an Item inside an Item
          } else if (page === 0 && id === TOKEN_META && itemDepth === depth) {
            // A Meta after OPAQUE whose form depended on the format it may declare.
            if (stackItemFormat[parent]! & OPAQUE_BEFORE_FORMAT) bail();
          } else if (page === 1 && id === TOKEN_FORMAT && itemDepth !== 0 && itemDepth === depth - 1 && stackPage[parent] === 0 && stackTok[parent] === TOKEN_META) {
            if ((stackItemFormat[itemDepth - 1]! & 7) === FORMAT_UNKNOWN && tok & TAG_CONTENT) formatText = '';
          }
          put(w, open);
          if (page !== stackPage[parent]) put(w, NS_DECL[page]!);
        }
        if (tok & TAG_CONTENT) {
          stackPage[depth] = page;
          stackTok[depth] = id;
          stackOpen[depth] = 0;
          stackItemFormat[depth] = FORMAT_UNKNOWN;
          if (page === 0 && id === TOKEN_ITEM) itemDepth = depth + 1;
          depth++;
        } else {
          put(w, SELF_CLOSE);
          if (depth === 0) {
            if (pos !== len) bail();
            return finish(w);
          }
        }
        continue;
      }
    }
  }
  return bail(); // input ends inside an element
}

/** Text of the first Format of a Meta of an Item, gathered while it is the Format's first child. */
let formatText: string | undefined;

/** The element at `top` gets a child: its start tag is closed with `>` before the first. */
function child(w: ByteWriter, top: number): void {
  if (stackOpen[top] === 0) {
    stackOpen[top] = 1;
    w.byte(0x3e);
  }
}

/** The Format being watched ends its first text: the Item's format is decided. */
function endFormat(formatTop: number): void {
  const item = formatTop - 2;
  const s = formatText!;
  formatText = undefined;
  if (s.length === 0) return; // its first child was not text: itemFormat() looks further
  const f = stackItemFormat[item]!;
  if ((f & 7) !== FORMAT_UNKNOWN) return;
  // OPAQUE already written in a form this format might change: the tree path.
  if (f & OPAQUE_BEFORE_FORMAT) bail();
  stackItemFormat[item] = s.trim() === 'bin' ? FORMAT_BIN : FORMAT_OTHER;
}

/**
 * An inline string starting at `start` (just past STR_I): plain printable ASCII is copied to the
 * output as it is found (escaping & < > and CR), in the same pass that looks for its NUL; anything
 * else goes the string way. Returns the offset just past the NUL.
 */
function strI(w: ByteWriter, b: Uint8Array, start: number, tokOff: number, top: number): number {
  const len = b.length;
  if (start >= len) bail();
  if (b[start] === 0) return start + 1; // empty: nothing to say, and no child either
  if (formatText !== undefined) return strIAsString(w, b, start, tokOff, top);
  child(w, top);
  const begin = w.pos;
  let out = w.buf;
  let o = begin;
  let room = out.length - 8;
  let i = start;
  for (;;) {
    if (i >= len) bail(); // no NUL: the tree path's error
    if (o >= room) {
      w.pos = o;
      w.ensure(len - i + 16);
      out = w.buf;
      room = out.length - 8;
    }
    const c = b[i++]!;
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x26) {
        out[o++] = 0x26; out[o++] = 0x61; out[o++] = 0x6d; out[o++] = 0x70; out[o++] = 0x3b; // &amp;
      } else if (c === 0x3c) {
        out[o++] = 0x26; out[o++] = 0x6c; out[o++] = 0x74; out[o++] = 0x3b; // &lt;
      } else if (c === 0x3e) {
        out[o++] = 0x26; out[o++] = 0x67; out[o++] = 0x74; out[o++] = 0x3b; // &gt;
      } else out[o++] = c;
    } else if (c === 0) {
      w.pos = o;
      return i;
    } else if (c === 0x0a || c === 0x09) {
      out[o++] = c;
    } else if (c === 0x0d) {
      out[o++] = 0x26; out[o++] = 0x23; out[o++] = 0x31; out[o++] = 0x33; out[o++] = 0x3b; // &#13;
    } else {
      // Non-ASCII (validated as a string) or a control character XML cannot carry.
      w.pos = begin;
      return strIAsString(w, b, start, tokOff, top);
    }
  }
}

function strIAsString(w: ByteWriter, b: Uint8Array, start: number, tokOff: number, top: number): number {
  let nul = start;
  let ascii = true;
  for (; nul < b.length; nul++) {
    const c = b[nul]!;
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
  }
  if (nul >= b.length) bail();
  let s: string;
  if (ascii && nul - start <= 16) {
    // Short ASCII (a Format such as bin or chr): no Buffer view for so little.
    s = '';
    for (let i = start; i < nul; i++) s += String.fromCharCode(b[i]!);
  } else s = utf8Text(fastView(b), start, nul, tokOff);
  textString(w, s, top);
  return nul + 1;
}

/** OPAQUE at least this large and plain goes into the result directly (see finish). */
const BIG_RUN = 4096;
/** Where in the written output each such run belongs, and its bytes (views into the input). */
const bigAt: number[] = [];
const bigData: Uint8Array[] = [];

/** The result: the written output with the large runs put back in their places, in one exact copy. */
function finish(w: ByteWriter): Uint8Array {
  if (bigAt.length === 0) return w.result();
  let total = w.pos;
  for (const d of bigData) total += d.length;
  const out = allocBytes(total);
  let from = 0;
  let o = 0;
  for (let k = 0; k < bigAt.length; k++) {
    const at = bigAt[k]!;
    out.set(w.buf.subarray(from, at), o);
    o += at - from;
    out.set(bigData[k]!, o);
    o += bigData[k]!.length;
    from = at;
  }
  out.set(w.buf.subarray(from, w.pos), o);
  return out;
}

/** The DataView over the output buffer put() writes through (remade when the buffer grows). */
let view: DataView | undefined;
let viewOf: Uint8Array | undefined;

/** Markup made once (tags, namespace declarations) into the output, a word at a time. */
function put(w: ByteWriter, p: Packed): void {
  const o = w.pos;
  const words = p.words;
  // Whole words are written: room for up to 3 bytes past the markup, which later writes overwrite.
  if (o + 4 * words.length > w.buf.length) w.ensure(4 * words.length);
  const buf = w.buf;
  if (buf !== viewOf) {
    viewOf = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  const v = view!;
  for (let i = 0, k = o; i < words.length; i++, k += 4) v.setUint32(k, words[i]!, true);
  w.pos = o + p.n;
}

/** OPAQUE data copied as it is when it is plain printable ASCII (the common case), else as binary.ts shows it. */
function opaque(w: ByteWriter, b: Uint8Array, start: number, n: number, bin: boolean): void {
  if (!bin && n <= 64) {
    const o = w.pos;
    if (o + n > w.buf.length) w.ensure(n);
    const out = w.buf;
    let i = 0;
    for (; i < n; i++) {
      const c = b[start + i]!;
      if (c < 0x20 || c >= 0x7f || c === 0x26 || c === 0x3c || c === 0x3e) break;
      out[o + i] = c;
    }
    if (i === n) {
      w.pos = o + n;
      return;
    }
  }
  const data = b.subarray(start, start + n);
  if (!bin && n >= BIG_RUN && isPlainAscii(data)) {
    // A large object: copied once, straight into the result, not through the scratch buffer.
    bigAt.push(w.pos);
    bigData.push(data);
    return;
  }
  if (!bin && isPlainAscii(data)) w.bytes(data);
  else w.utf8(binaryAsXmlText(data, bin));
}

/** Text as a string (non-ASCII, STR_T, ENTITY): escaped as the serializer does. */
function textString(w: ByteWriter, s: string, top: number): void {
  if (s.length === 0) return;
  // The Format being watched: its text decides the Item's format when it ends.
  if (formatText !== undefined) formatText += s;
  // Text XML cannot carry is shown as base64 by the tree path, for the whole merged run: give up.
  if (hasXmlIllegalChar(s)) bail();
  child(w, top);
  w.utf8(escapeMarkup(s));
}

/** Whether OPAQUE bytes are a WBXML DM DDF document, as the tree path's decodeEmbedded decides. */
function isEmbeddedDdf(data: Uint8Array): boolean {
  try {
    return parseHeader(data).publicIdInfo.family === 'dmddf';
  } catch {
    return false;
  }
}
