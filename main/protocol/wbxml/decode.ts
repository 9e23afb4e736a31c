/**
 * WBXML -> Document. One pass over the bytes with an explicit element stack (no recursion, so input
 * depth can never overflow the JS stack), a dense token table per code page, text decoded straight
 * from subarrays, and every failure a CodecError with the offset of the offending token.
 */
import { CodecFailure, fail, ok, type CodecError, type Result } from '../errors.js';
import { NAMESPACE_URI, type Document, type Element, type Namespace } from '../element.js';
import { parseHeader, type WbxmlHeader } from './header.js';
import { copyBytes } from '../byte-writer.js';
import { resolveLimits, type WbxmlLimits } from './limits.js';
import { elementPath } from './path.js';
import { failure, fastView, isXmlName, mbEnd, readMbUint, tableStringEnd, tableTextOver } from './primitives.js';
import { GLOBAL, PAGE_NAMESPACE, SYNCML_NAMESPACE_URI, TAG_ATTRIBUTES, TAG_CONTENT, TAG_ID_MASK, TAG_NAMES } from './tables.js';

export interface WbxmlDecodeOptions {
  /**
   * What to do with an OPAQUE (outside DM DDF content) that holds a whole WBXML DM DDF (TNDS) document,
   * the way libwbxml's xml2wbxml embeds `<MgmtTree>` in a SyncML `Data`: 'keep' (default) leaves the
   * bytes, byte-exact; 'expand' decodes them and puts their root element in their place (the mirror
   * of `encodeWbxml(..., { ddf: 'opaque' })`). Only bytes whose header names the DM DDF public id are
   * touched, so ordinary binary data stays bytes.
   */
  embedded?: 'keep' | 'expand';
  /**
   * OPAQUE children as views into `bytes` instead of copies: only for callers that are done with the
   * tree before the input can change (a one-shot conversion). Default false.
   */
  opaqueViews?: boolean;
}

export function decodeWbxml(
  bytes: Uint8Array,
  limits?: Partial<WbxmlLimits>,
  options?: WbxmlDecodeOptions,
): Result<Document> {
  try {
    return ok(decodeDocument(bytes, resolveLimits(limits), options?.embedded === 'expand', options?.opaqueViews === true).doc);
  } catch (e) {
    return fail(toCodecError(e, true));
  }
}

/**
 * Whatever escaped, as a CodecError: the entry points promise never to throw. `hasInput`: the error
 * may point at byte 0 of an input (decoders); encoders have no input bytes, so no offset.
 */
export function toCodecError(e: unknown, hasInput: boolean): CodecError {
  if (e instanceof CodecFailure) return e.error;
  const err: CodecError =
    e instanceof RangeError
      ? { code: 'limit-exceeded', message: `out of resources: ${e.message}` }
      : { code: 'unsupported', message: `internal codec error: ${e instanceof Error ? e.message : String(e)}` };
  if (hasInput) err.offset = 0;
  return err;
}

interface Decoded {
  doc: Document;
  elements: number;
  /** Characters it took from its string table (an embedded document's count toward the outer budget). */
  tableText: number;
}

const { SWITCH_PAGE, END, ENTITY, STR_I, LITERAL, EXT_I_0, EXT_I_1, EXT_I_2, PI, LITERAL_C } = GLOBAL;
const { EXT_T_0, EXT_T_1, EXT_T_2, STR_T, LITERAL_A, EXT_0, EXT_1, EXT_2, OPAQUE, LITERAL_AC } = GLOBAL;


function decodeDocument(input: Uint8Array, lim: WbxmlLimits, expand: boolean, opaqueViews = false): Decoded {
  if (input.length > lim.maxBytes) {
    throw failure('limit-exceeded', `input of ${input.length} bytes exceeds maxBytes ${lim.maxBytes}`, 0);
  }
  const buf = fastView(input);
  const h = parseHeader(buf);
  const decodeText = h.decodeText;
  const len = buf.length;
  const maxDepth = lim.maxDepth;
  const maxElements = lim.maxElements;

  // Plain locals and inline code below, no closures over them: this loop is the codec's hot path.
  const stack: Element[] = [];
  /** Offset of each open element's start tag, for "input ends inside X (opened at N)". */
  const openedAt: number[] = [];
  let cur: Element | undefined;
  let root: Element | undefined;
  let elements = 0;
  let page = 0;
  let pageNames = TAG_NAMES[0];
  let pageNs: Namespace | undefined = 'syncml';
  let strtCache: Map<number, string> | undefined;
  /** Characters taken from the string table so far, every reference counted (lim.maxTableTextChars). */
  let tableText = 0;
  let pos = h.bodyOffset;

  while (pos < len) {
    const tokOff = pos;
    const tok = buf[pos++]!;
    let text: string;
    switch (tok) {
      case SWITCH_PAGE: {
        if (pos >= len) throw failure('truncated', 'input ends inside SWITCH_PAGE', tokOff, elementPath(stack));
        page = buf[pos++]!;
        // An undefined page is only an error once a tag is read from it.
        pageNames = TAG_NAMES[page];
        pageNs = PAGE_NAMESPACE[page];
        continue;
      }
      case END: {
        if (cur === undefined) throw failure('bad-token', 'END with no open element', tokOff);
        stack.pop();
        openedAt.pop();
        if (stack.length > 0) {
          cur = stack[stack.length - 1];
          continue;
        }
        return finish(buf, pos, h, root!, elements, tableText);
      }
      case STR_I: {
        const nul = buf.indexOf(0, pos);
        if (nul < 0) throw failure('truncated', 'input ends inside an inline string (no NUL terminator)', tokOff, elementPath(stack));
        text = decodeText(buf, pos, nul, tokOff);
        pos = nul + 1;
        break;
      }
      case STR_T: {
        const idx = readMbUint(buf, pos, tokOff, 'a STR_T offset');
        pos = mbEnd;
        const cached = strtCache?.get(idx);
        if (cached !== undefined) text = cached;
        else (strtCache ??= new Map()).set(idx, (text = tableString(h, idx, tokOff, 'STR_T', stack)));
        if ((tableText += text.length) > lim.maxTableTextChars) throw tableTextOver(lim.maxTableTextChars, idx, tokOff, elementPath(stack));
        break;
      }
      case ENTITY: {
        const cp = readMbUint(buf, pos, tokOff, 'an ENTITY code point');
        pos = mbEnd;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) {
          throw failure('bad-charset', `ENTITY ${cp} is not a Unicode scalar value XML can carry`, tokOff, elementPath(stack));
        }
        text = String.fromCodePoint(cp);
        break;
      }
      case OPAQUE: {
        const n = readMbUint(buf, pos, tokOff, 'an OPAQUE length');
        pos = mbEnd;
        if (n > len - pos) throw failure('truncated', `OPAQUE of ${n} bytes runs past the end of the input`, tokOff, elementPath(stack));
        if (cur === undefined) throw failure('unexpected-content', 'OPAQUE outside the root element', tokOff);
        const start = pos;
        pos += n;
        if (expand && cur.ns !== 'dmddf') {
          const nested = decodeEmbedded(buf.subarray(start, pos), start, lim, stack, elements, tableText);
          if (nested) {
            elements += nested.elements;
            tableText += nested.tableText;
            cur.children.push(nested.doc.root);
            continue;
          }
        }
        // Normally a copy, not a view: the tree outlives the network buffer it came from.
        cur.children.push(opaqueViews ? buf.subarray(start, pos) : copyBytes(buf.subarray(start, pos)));
        continue;
      }
      case LITERAL_A:
      case LITERAL_AC:
        throw failure('unsupported', 'tag with attributes (LITERAL_A): SyncML DM defines no attributes', tokOff, elementPath(stack));
      case EXT_I_0:
      case EXT_I_1:
      case EXT_I_2:
      case EXT_T_0:
      case EXT_T_1:
      case EXT_T_2:
      case EXT_0:
      case EXT_1:
      case EXT_2:
        throw failure('unsupported', `extension token 0x${tok.toString(16)}: SyncML DM defines no extensions`, tokOff, elementPath(stack));
      case PI:
        throw failure('unsupported', 'processing instruction (PI) in a WBXML body', tokOff, elementPath(stack));
      default: {
        // A tag: a token from the page table, or LITERAL / LITERAL_C naming it through the string table.
        let name: string | undefined;
        let content: boolean;
        if (tok === LITERAL || tok === LITERAL_C) {
          const idx = readMbUint(buf, pos, tokOff, 'a LITERAL name offset');
          pos = mbEnd;
          name = tableString(h, idx, tokOff, 'LITERAL name', stack);
          if ((tableText += name.length) > lim.maxTableTextChars) throw tableTextOver(lim.maxTableTextChars, idx, tokOff, elementPath(stack));
          if (!isXmlName(name)) {
            throw failure('bad-value', `LITERAL tag name ${JSON.stringify(name)} is not an XML name`, tokOff, elementPath(stack));
          }
          content = tok === LITERAL_C;
        } else {
          if (tok & TAG_ATTRIBUTES) {
            throw failure('unsupported', `tag 0x${tok.toString(16)} has the attribute bit set: SyncML DM defines no attributes`, tokOff, elementPath(stack));
          }
          name = pageNames === undefined ? undefined : pageNames[tok & TAG_ID_MASK];
          content = (tok & TAG_CONTENT) !== 0;
        }
        if (name === undefined || pageNs === undefined) {
          const where = pageNs === undefined ? `code page ${page}, which SyncML DM does not define` : `code page ${page} (${pageNs})`;
          throw failure('bad-token', `tag token 0x${tok.toString(16).padStart(2, '0')} is not defined on ${where}`, tokOff, elementPath(stack));
        }
        if (stack.length >= maxDepth) {
          throw failure('limit-exceeded', `element nesting deeper than maxDepth ${maxDepth}`, tokOff, elementPath(stack));
        }
        if (++elements > maxElements) {
          throw failure('limit-exceeded', `more than maxElements ${maxElements} elements`, tokOff, elementPath(stack));
        }
        const el: Element = { ns: pageNs, name, children: [] };
        if (cur === undefined) root = el;
        else cur.children.push(el);
        if (content) {
          stack.push(el);
          openedAt.push(tokOff);
          cur = el;
        } else if (cur === undefined) {
          // A content-less root is the whole document.
          return finish(buf, pos, h, el, elements, tableText);
        }
        continue;
      }
    }
    // Character data (STR_I, STR_T, ENTITY).
    if (cur === undefined) throw failure('unexpected-content', 'text outside the root element', tokOff);
    if (text.length === 0) continue;
    const ch = cur.children;
    const last = ch.length - 1;
    // STR_I + STR_T + ENTITY runs are one piece of character data in XML: keep them one string.
    if (last >= 0 && typeof ch[last] === 'string') ch[last] = (ch[last] as string) + text;
    else ch.push(text);
  }
  if (cur !== undefined) {
    const at = openedAt[openedAt.length - 1]!;
    throw failure('truncated', `input ends inside <${cur.name}> opened at byte ${at}`, at, elementPath(stack));
  }
  throw failure('truncated', 'input ends before the root element', len);
}

function finish(buf: Uint8Array, pos: number, h: WbxmlHeader, root: Element, elements: number, tableText: number): Decoded {
  if (pos < buf.length) throw failure('trailing-data', `${buf.length - pos} bytes after the end of the root element`, pos);
  return { doc: { info: documentInfo(h, root), root }, elements, tableText };
}

function tableString(h: WbxmlHeader, idx: number, tokOff: number, what: string, stack: Element[]): string {
  const tbl = h.stringTable;
  const nul = tableStringEnd(tbl, idx);
  if (nul < 0) {
    throw failure('bad-string-table-ref', `${what} offset ${idx} is outside the string table (${tbl.length} bytes)`, tokOff, elementPath(stack));
  }
  return h.decodeText(tbl, idx, nul, tokOff);
}

function documentInfo(h: WbxmlHeader, root: Element): Document['info'] {
  let rootNamespaceUri: string;
  if (root.ns === 'syncml') rootNamespaceUri = SYNCML_NAMESPACE_URI[h.publicIdInfo.version];
  else rootNamespaceUri = NAMESPACE_URI[root.ns];
  return { wbxmlVersion: h.version, publicId: h.publicId, rootNamespaceUri };
}

/**
 * An OPAQUE that is itself a WBXML DM DDF document (libwbxml's way of carrying TNDS): decoded with
 * what is left of the limits, errors re-based onto the outer input. undefined when it is not one.
 */
function decodeEmbedded(
  bytes: Uint8Array,
  base: number,
  lim: WbxmlLimits,
  stack: Element[],
  elements: number,
  tableText: number,
): Decoded | undefined {
  // Most OPAQUE data is text or binary, not a document: a WBXML header starts with a version byte
  // 0..3, and ruling the rest out here spares an exception per item (exceptions cost microseconds).
  if (bytes.length < 4 || bytes[0]! > 0x03) return undefined;
  let family: string;
  try {
    family = parseHeader(bytes).publicIdInfo.family;
  } catch {
    return undefined;
  }
  if (family !== 'dmddf') return undefined;
  try {
    return decodeDocument(
      bytes,
      { maxBytes: lim.maxBytes, maxDepth: lim.maxDepth - stack.length, maxElements: lim.maxElements - elements, maxTableTextChars: lim.maxTableTextChars - tableText },
      false,
    );
  } catch (e) {
    const inner = toCodecError(e, true);
    const outer = elementPath(stack);
    const err: CodecError = { ...inner, message: `embedded DM DDF document: ${inner.message}`, offset: base + (inner.offset ?? 0) };
    if (outer) err.path = inner.path ? `${outer}/${inner.path}` : outer;
    throw new CodecFailure(err);
  }
}
