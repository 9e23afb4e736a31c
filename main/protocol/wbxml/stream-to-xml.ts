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
import { ByteWriter } from '../byte-writer.js';
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

/** `<Name` and `</Name>` per code page (0 SyncML, 1 MetInf) and token id; undefined: no such tag. */
const OPEN: (Uint8Array | undefined)[][] = [[], []];
const CLOSE: (Uint8Array | undefined)[][] = [[], []];
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
for (const [page, list] of [[0, TAG_LIST.syncml], [1, TAG_LIST.metinf]] as const) {
  for (const [name, tok] of list) {
    OPEN[page]![tok] = ascii(`<${name}`);
    CLOSE[page]![tok] = ascii(`</${name}>`);
  }
}
const NS_DECL = [ascii(` xmlns="${NAMESPACE_URI.syncml}"`), ascii(` xmlns="${NAMESPACE_URI.metinf}"`)];
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
    return convert(fastView(bytes));
  } catch {
    // BAIL, a CodecFailure from a primitive, or a fault of the fast path itself: the tree path decides.
    return undefined;
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
        if (stackOpen[top]) w.bytes(CLOSE[stackPage[top]!]![stackTok[top]!]!);
        else w.ascii('/>');
        if (itemDepth === top + 1) itemDepth = 0;
        if (depth === 0) {
          if (pos !== len) bail(); // trailing data: the tree path's error
          return w.result();
        }
        continue;
      }
      case GLOBAL.STR_I: {
        const nul = buf.indexOf(0, pos);
        if (nul < 0 || depth === 0) bail();
        if (nul > pos) text(w, buf, pos, nul, tokOff, depth - 1);
        pos = nul + 1;
        continue;
      }
      case GLOBAL.STR_T: {
        if (depth === 0) bail();
        const idx = readMbUint(buf, pos, tokOff, 'a STR_T offset');
        pos = mbEnd;
        let s = strtCache?.get(idx);
        if (s === undefined) {
          const end = tableStringEnd(h.stringTable, idx);
          if (end < 0) bail();
          s = utf8Text(h.stringTable, idx, end, tokOff);
          (strtCache ??= new Map()).set(idx, s);
        }
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
        const data = buf.subarray(pos, pos + n);
        pos += n;
        // A whole WBXML DM DDF document (TNDS) is expanded by the tree path.
        if (n >= 4 && data[0]! <= 0x03 && isEmbeddedDdf(data)) bail();
        let bin = false;
        if (itemDepth !== 0 && itemDepth === depth - 1) {
          const item = itemDepth - 1;
          const f = stackItemFormat[item]!;
          if ((f & 7) === FORMAT_UNKNOWN) stackItemFormat[item] = f | OPAQUE_BEFORE_FORMAT;
          bin = (f & 7) === FORMAT_BIN;
        }
        if (formatText !== undefined) endFormat(depth - 1);
        child(w, depth - 1);
        if (!bin && isPlainAscii(data)) w.bytes(data);
        else w.utf8(binaryAsXmlText(data, bin));
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
          w.bytes(open);
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
          w.bytes(open);
          if (page !== stackPage[parent]) w.bytes(NS_DECL[page]!);
        }
        if (tok & TAG_CONTENT) {
          stackPage[depth] = page;
          stackTok[depth] = id;
          stackOpen[depth] = 0;
          stackItemFormat[depth] = FORMAT_UNKNOWN;
          if (page === 0 && id === TOKEN_ITEM) itemDepth = depth + 1;
          depth++;
        } else {
          w.ascii('/>');
          if (depth === 0) {
            if (pos !== len) bail();
            return w.result();
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

/** STR_I bytes: plain printable ASCII is copied (escaping & < > and CR); anything else as a string. */
function text(w: ByteWriter, b: Uint8Array, start: number, end: number, tokOff: number, top: number): void {
  if (formatText !== undefined) {
    textString(w, utf8Text(b, start, end, tokOff), top);
    return;
  }
  let extra = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x26 || c === 0x3c || c === 0x3e) extra += 4;
    } else if (c === 0x0d) extra += 4;
    else if (c !== 0x0a && c !== 0x09) {
      // Non-ASCII (validated and checked as a string) or a control character XML cannot carry.
      textString(w, utf8Text(b, start, end, tokOff), top);
      return;
    }
  }
  child(w, top);
  w.ensure(end - start + extra);
  const out = w.buf;
  let o = w.pos;
  if (extra === 0) {
    if (end - start > 64) {
      out.set(b.subarray(start, end), o);
      w.pos = o + end - start;
      return;
    }
    for (let i = start; i < end; i++) out[o++] = b[i]!;
    w.pos = o;
    return;
  }
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c === 0x26) {
      out[o++] = 0x26; out[o++] = 0x61; out[o++] = 0x6d; out[o++] = 0x70; out[o++] = 0x3b; // &amp;
    } else if (c === 0x3c) {
      out[o++] = 0x26; out[o++] = 0x6c; out[o++] = 0x74; out[o++] = 0x3b; // &lt;
    } else if (c === 0x3e) {
      out[o++] = 0x26; out[o++] = 0x67; out[o++] = 0x74; out[o++] = 0x3b; // &gt;
    } else if (c === 0x0d) {
      out[o++] = 0x26; out[o++] = 0x23; out[o++] = 0x31; out[o++] = 0x33; out[o++] = 0x3b; // &#13;
    } else out[o++] = c;
  }
  w.pos = o;
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
