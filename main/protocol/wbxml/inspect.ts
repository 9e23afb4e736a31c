/**
 * Token-level view of a WBXML message for `dmw codec inspect`: every header field and body token with
 * its offset, code page and meaning. Unlike the decoder it keeps going as far as the bytes allow and
 * hands back the tokens read before a fault together with the fault, so a dump shows where it broke.
 */
import type { CodecError } from '../errors.js';
import type { Namespace } from '../element.js';
import { toCodecError } from './decode.js';
import { parseHeader } from './header.js';
import { DEFAULT_WBXML_LIMITS } from './limits.js';
import { failure, isXmlName, mbEnd, readMbUint, tableStringEnd, tableTextOver } from './primitives.js';
import { GLOBAL, PAGE_NAMESPACE, TAG_ATTRIBUTES, TAG_CONTENT, TAG_ID_MASK, TAG_NAMES } from './tables.js';

export type WbxmlTokenKind =
  | 'VERSION'
  | 'PUBLIC_ID'
  | 'CHARSET'
  | 'STRING_TABLE'
  | 'SWITCH_PAGE'
  | 'TAG'
  | 'LITERAL'
  | 'END'
  | 'STR_I'
  | 'STR_T'
  | 'ENTITY'
  | 'OPAQUE';

export interface WbxmlToken {
  /** Offset of the token's first byte in the input. */
  offset: number;
  /** Bytes the token occupies, operands included. */
  length: number;
  kind: WbxmlTokenKind;
  /** Code page in force when the token was read (for SWITCH_PAGE: the page switched to). */
  page: number;
  /** The token byte (the first byte, for header fields). */
  byte: number;
  /** Open elements around the token (a TAG is at its parent's depth). */
  depth: number;
  /** TAG / LITERAL: the element; END: the element it closes. */
  ns?: Namespace;
  name?: string;
  hasContent?: boolean;
  /** STR_I / STR_T / ENTITY: the text; header fields: a description. */
  text?: string;
  /** STR_I / STR_T: encoded length in bytes; OPAQUE: payload length. */
  size?: number;
  /** OPAQUE payload (a view into the input, not a copy). */
  opaque?: Uint8Array;
  /** STR_T / LITERAL: string-table offset. */
  tableOffset?: number;
}

export interface InspectLimits {
  maxBytes: number;
  /** Stop (with limit-exceeded) after this many tokens: a dump of millions of lines helps nobody. */
  maxTokens: number;
  /** Most characters taken from the string table, every STR_T and LITERAL counted (WbxmlLimits.maxTableTextChars). */
  maxTableTextChars: number;
}

export const DEFAULT_INSPECT_LIMITS: Readonly<InspectLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxTokens: 200_000,
  maxTableTextChars: DEFAULT_WBXML_LIMITS.maxTableTextChars,
});

/**
 * A Result (`ok`/`value`/`error`) that also carries the tokens read so far, failed or not, so a caller
 * can print `tokens` and then `error` without narrowing first.
 */
export type WbxmlInspection =
  | { ok: true; value: WbxmlToken[]; tokens: WbxmlToken[]; error?: undefined }
  | { ok: false; error: CodecError; tokens: WbxmlToken[] };

const { SWITCH_PAGE, END, ENTITY, STR_I, STR_T, OPAQUE, LITERAL, LITERAL_C, LITERAL_A, LITERAL_AC, PI } = GLOBAL;

export function inspectWbxml(bytes: Uint8Array, limits?: Partial<InspectLimits>): WbxmlInspection {
  const tokens: WbxmlToken[] = [];
  try {
    scan(bytes, tokens, { ...DEFAULT_INSPECT_LIMITS, ...limits });
    return { ok: true, value: tokens, tokens };
  } catch (e) {
    return { ok: false, error: toCodecError(e, true), tokens };
  }
}

function scan(buf: Uint8Array, tokens: WbxmlToken[], lim: InspectLimits): void {
  if (buf.length > lim.maxBytes) throw failure('limit-exceeded', `input of ${buf.length} bytes exceeds maxBytes ${lim.maxBytes}`, 0);
  const h = parseHeader(buf, (kind, offset, length, detail) => {
    tokens.push({ offset, length, kind, page: 0, byte: buf[offset]!, depth: 0, text: detail });
  });
  const len = buf.length;
  const open: { ns: Namespace; name: string; offset: number }[] = [];
  let page = 0;
  let pos = h.bodyOffset;
  let rootClosed = false;
  /** Characters taken from the string table so far (lim.maxTableTextChars). */
  let tableText = 0;

  const tableString = (idx: number, tokOff: number, what: string): string => {
    const tbl = h.stringTable;
    const nul = tableStringEnd(tbl, idx);
    if (nul < 0) throw failure('bad-string-table-ref', `${what} offset ${idx} is outside the string table (${tbl.length} bytes)`, tokOff);
    const text = h.decodeText(tbl, idx, nul, tokOff);
    // Each token keeps its own text: a table string referenced N times is N strings here.
    if ((tableText += text.length) > lim.maxTableTextChars) throw tableTextOver(lim.maxTableTextChars, idx, tokOff);
    return text;
  };
  const push = (t: WbxmlToken): void => {
    if (open.length === 0 && (t.kind === 'STR_I' || t.kind === 'STR_T' || t.kind === 'ENTITY' || t.kind === 'OPAQUE')) {
      throw failure('unexpected-content', `${t.kind} outside the root element`, t.offset);
    }
    if (tokens.length >= lim.maxTokens) throw failure('limit-exceeded', `more than maxTokens ${lim.maxTokens} tokens`, t.offset);
    tokens.push(t);
  };

  while (pos < len) {
    const off = pos;
    if (rootClosed) throw failure('trailing-data', `${len - pos} bytes after the end of the root element`, pos);
    const tok = buf[pos++]!;
    const depth = open.length;
    switch (tok) {
      case SWITCH_PAGE:
        if (pos >= len) throw failure('truncated', 'input ends inside SWITCH_PAGE', off);
        page = buf[pos++]!;
        push({ offset: off, length: 2, kind: 'SWITCH_PAGE', page, byte: tok, depth, ...nsOf(page) });
        break;
      case END: {
        const closed = open.pop();
        if (!closed) throw failure('bad-token', 'END with no open element', off);
        push({ offset: off, length: 1, kind: 'END', page, byte: tok, depth: open.length, ns: closed.ns, name: closed.name });
        if (open.length === 0) rootClosed = true;
        break;
      }
      case STR_I: {
        const nul = buf.indexOf(0, pos);
        if (nul < 0) throw failure('truncated', 'input ends inside an inline string (no NUL terminator)', off);
        const text = h.decodeText(buf, pos, nul, off);
        push({ offset: off, length: nul + 1 - off, kind: 'STR_I', page, byte: tok, depth, text, size: nul - pos });
        pos = nul + 1;
        break;
      }
      case STR_T: {
        const idx = readMbUint(buf, pos, off, 'a STR_T offset');
        pos = mbEnd;
        const text = tableString(idx, off, 'STR_T');
        push({ offset: off, length: pos - off, kind: 'STR_T', page, byte: tok, depth, text, tableOffset: idx, size: utf8Length(text) });
        break;
      }
      case ENTITY: {
        const cp = readMbUint(buf, pos, off, 'an ENTITY code point');
        pos = mbEnd;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) {
          throw failure('bad-charset', `ENTITY ${cp} is not a Unicode scalar value XML can carry`, off);
        }
        push({ offset: off, length: pos - off, kind: 'ENTITY', page, byte: tok, depth, text: String.fromCodePoint(cp), size: cp });
        break;
      }
      case OPAQUE: {
        const n = readMbUint(buf, pos, off, 'an OPAQUE length');
        pos = mbEnd;
        if (n > len - pos) throw failure('truncated', `OPAQUE of ${n} bytes runs past the end of the input`, off);
        push({ offset: off, length: pos + n - off, kind: 'OPAQUE', page, byte: tok, depth, size: n, opaque: buf.subarray(pos, pos + n) });
        pos += n;
        break;
      }
      case LITERAL:
      case LITERAL_C: {
        const idx = readMbUint(buf, pos, off, 'a LITERAL name offset');
        pos = mbEnd;
        const name = tableString(idx, off, 'LITERAL name');
        if (!isXmlName(name)) throw failure('bad-value', `LITERAL tag name ${JSON.stringify(name)} is not an XML name`, off);
        const ns = PAGE_NAMESPACE[page];
        if (ns === undefined) throw failure('bad-token', `LITERAL tag on code page ${page}, which SyncML DM does not define`, off);
        const hasContent = tok === LITERAL_C;
        push({ offset: off, length: pos - off, kind: 'LITERAL', page, byte: tok, depth, ns, name, hasContent, tableOffset: idx });
        if (hasContent) open.push({ ns, name, offset: off });
        else if (depth === 0) rootClosed = true;
        break;
      }
      case LITERAL_A:
      case LITERAL_AC:
        throw failure('unsupported', 'tag with attributes (LITERAL_A): SyncML DM defines no attributes', off);
      case PI:
        throw failure('unsupported', 'processing instruction (PI) in a WBXML body', off);
      default: {
        if ((tok & TAG_ID_MASK) < 5) {
          // 0x40-0x42, 0x80-0x82, 0xC0-0xC2: the EXT_* tokens.
          throw failure('unsupported', `extension token 0x${tok.toString(16)}: SyncML DM defines no extensions`, off);
        }
        if (tok & TAG_ATTRIBUTES) {
          throw failure('unsupported', `tag 0x${tok.toString(16)} has the attribute bit set: SyncML DM defines no attributes`, off);
        }
        const names = TAG_NAMES[page];
        const name = names?.[tok & TAG_ID_MASK];
        const ns = PAGE_NAMESPACE[page];
        if (name === undefined || ns === undefined) {
          throw failure('bad-token', `tag token 0x${hex2(tok)} is not defined on code page ${page}`, off);
        }
        const hasContent = (tok & TAG_CONTENT) !== 0;
        push({ offset: off, length: 1, kind: 'TAG', page, byte: tok, depth, ns, name, hasContent });
        if (hasContent) open.push({ ns, name, offset: off });
        else if (depth === 0) rootClosed = true;
      }
    }
  }
  const last = open[open.length - 1];
  if (last) throw failure('truncated', `input ends inside <${last.name}> opened at byte ${last.offset}`, last.offset);
  if (!rootClosed) throw failure('truncated', 'input ends before the root element', len);
}

function nsOf(page: number): { ns?: Namespace } {
  const ns = PAGE_NAMESPACE[page];
  return ns === undefined ? {} : { ns };
}

const textEncoder = new TextEncoder();
function utf8Length(s: string): number {
  return textEncoder.encode(s).length;
}

const hex2 = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

const PREVIEW = 40;

/** Printable ASCII as is; everything else as an escape, so a dump never carries raw control bytes. */
function escapeText(s: string): string {
  let out = '';
  for (const ch of s) {
    if (out.length >= PREVIEW) return `${out}…`;
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${hex2(c)}`;
    else out += ch; // non-ASCII text is shown as text: the dump is UTF-8
  }
  return out;
}

function escapeBytes(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) {
    if (out.length >= PREVIEW) return `${out}…`;
    const c = b[i]!;
    if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\x${hex2(c)}`;
  }
  return out;
}

/**
 * One line per token:
 * `0x0005      5  p0  6D  TAG          <SyncML> syncml +content`
 * then, when given, the error that stopped the scan. Every line ends with a newline.
 */
export function formatTokenDump(tokens: readonly WbxmlToken[], error?: CodecError): string {
  const lines: string[] = [];
  for (const t of tokens) {
    const head = `0x${t.offset.toString(16).toUpperCase().padStart(4, '0')} ${String(t.offset).padStart(6)}  p${t.page}  ${hex2(t.byte)}  ${t.kind.padEnd(12)} `;
    const indent = '  '.repeat(Math.min(t.depth, 40));
    let what: string;
    switch (t.kind) {
      case 'VERSION':
      case 'PUBLIC_ID':
      case 'CHARSET':
      case 'STRING_TABLE':
        what = t.text ?? '';
        break;
      case 'SWITCH_PAGE':
        what = `-> page ${t.page}${t.ns ? ` (${t.ns})` : ' (undefined in SyncML DM)'}`;
        break;
      case 'TAG':
      case 'LITERAL':
        what = `${indent}<${t.name}${t.hasContent ? '>' : '/>'} ${t.ns}${t.kind === 'LITERAL' ? ` (string table @${t.tableOffset})` : ''}`;
        break;
      case 'END':
        what = `${indent}</${t.name}>`;
        break;
      case 'STR_I':
        what = `${indent}"${escapeText(t.text ?? '')}" (${t.size} bytes)`;
        break;
      case 'STR_T':
        what = `${indent}"${escapeText(t.text ?? '')}" (${t.size} bytes, string table @${t.tableOffset})`;
        break;
      case 'ENTITY':
        what = `${indent}&#x${(t.size ?? 0).toString(16).toUpperCase()}; "${escapeText(t.text ?? '')}"`;
        break;
      case 'OPAQUE':
        what = `${indent}[${t.size} bytes] "${escapeBytes(t.opaque ?? new Uint8Array(0))}"`;
        break;
    }
    lines.push((head + what).trimEnd());
  }
  if (error) {
    const where = error.offset !== undefined ? ` at byte ${error.offset} (0x${error.offset.toString(16).toUpperCase()})` : '';
    lines.push(`!! ${error.code}: ${error.message}${where}`);
  }
  // Newline-terminated, like any text a CLI prints.
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
