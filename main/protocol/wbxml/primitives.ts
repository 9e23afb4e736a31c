/**
 * Byte-level pieces shared by the decoder, the inspector and the encoder: mb_u_int32, text in the
 * header's charset, and error construction. Kept free of tree logic so inspect and decode agree on
 * every byte without sharing a slow callback-driven tokenizer.
 */
import { CodecFailure, type CodecError, type CodecErrorCode } from '../errors.js';
import { CHARSET } from './tables.js';

/** `offset` is omitted for encoder errors, which have no input bytes to point into. */
export function failure(code: CodecErrorCode, message: string, offset: number | undefined, path?: string): CodecFailure {
  const e: CodecError = { code, message };
  if (offset !== undefined) e.offset = offset;
  if (path) e.path = path;
  return new CodecFailure(e);
}

/** Set by readMbUint: the offset just past the integer. A module slot, not a tuple, so the hot loop allocates nothing. */
export let mbEnd = 0;

/**
 * WBXML mb_u_int32 at `pos`: big-endian base-128, high bit = more bytes, at most 5 bytes and 32 bits.
 * `tokenOffset` is where the enclosing token starts, which is where an error should point.
 */
export function readMbUint(buf: Uint8Array, pos: number, tokenOffset: number, what: string): number {
  let value = 0;
  const len = buf.length;
  for (let i = 0; i < 5; i++) {
    if (pos >= len) throw failure('truncated', `input ends inside ${what}`, tokenOffset);
    const b = buf[pos++]!;
    // Multiply rather than shift: a shift would wrap at 2^31 and turn large values negative.
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (value > 0xffffffff) break;
      mbEnd = pos;
      return value;
    }
  }
  throw failure('bad-mb-uint', `${what} is not a valid mb_u_int32 (longer than 32 bits)`, tokenOffset);
}

/** Decodes text in the document charset; throws CodecFailure('bad-charset') on bytes that charset cannot hold. */
export type TextDecodeFn = (buf: Uint8Array, start: number, end: number, tokenOffset: number) => string;

// Shared decoders: constructing a TextDecoder per document costs more than decoding a DM package.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Node's Buffer slices ASCII/Latin-1 straight into a string without allocating a subarray first,
 * which is most of the cost of the many short strings in a DM package. Outside Node (the renderer)
 * the plain Uint8Array path is used.
 */
interface Latin1Slicer extends Uint8Array {
  latin1Slice(start: number, end: number): string;
}
const NodeBuffer = (globalThis as { Buffer?: { from(a: ArrayBufferLike, o: number, l: number): Uint8Array } }).Buffer;

/** The input as a Node Buffer view (no copy) where Buffer exists, so decodeUtf8 can use latin1Slice. */
export function fastView(input: Uint8Array): Uint8Array {
  if (NodeBuffer === undefined || 'latin1Slice' in input) return input;
  return NodeBuffer.from(input.buffer, input.byteOffset, input.byteLength);
}

function decodeUtf8(buf: Uint8Array, start: number, end: number, tokenOffset: number): string {
  let i = start;
  while (i < end && buf[i]! < 0x80) i++;
  if (i === end) {
    // Pure ASCII, by far the common case: no validation needed.
    if ('latin1Slice' in buf) return (buf as Latin1Slicer).latin1Slice(start, end);
    return decodeLatin1(buf, start, end);
  }
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw failure('bad-charset', 'text is not valid UTF-8', tokenOffset);
  }
}

function decodeLatin1(buf: Uint8Array, start: number, end: number): string {
  if ('latin1Slice' in buf) return (buf as Latin1Slicer).latin1Slice(start, end);
  let s = '';
  // Chunked: Function.prototype.apply has an argument-count ceiling.
  for (let i = start; i < end; i += 8192) {
    s += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return s;
}

function decodeAscii(buf: Uint8Array, start: number, end: number, tokenOffset: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) throw failure('bad-charset', `byte 0x${buf[i]!.toString(16)} is not US-ASCII`, tokenOffset);
  }
  return decodeLatin1(buf, start, end);
}

/** The decoder for a header charset, or undefined for a charset we do not read. 0 (unknown) is read as UTF-8, as libwbxml does. */
export function textDecoderFor(mib: number): TextDecodeFn | undefined {
  switch (mib) {
    case CHARSET.UTF_8:
    case CHARSET.UNKNOWN:
      return decodeUtf8;
    case CHARSET.US_ASCII:
      return decodeAscii;
    case CHARSET.ISO_8859_1:
      return (buf, start, end) => decodeLatin1(buf, start, end);
    default:
      return undefined;
  }
}

export function charsetName(mib: number): string {
  switch (mib) {
    case CHARSET.UTF_8:
      return 'UTF-8';
    case CHARSET.UNKNOWN:
      return 'unknown (read as UTF-8)';
    case CHARSET.US_ASCII:
      return 'US-ASCII';
    case CHARSET.ISO_8859_1:
      return 'ISO-8859-1';
    default:
      return `MIB ${mib}`;
  }
}

/** A reference to offset `idx` took the document's string-table text past its budget (WbxmlLimits.maxTableTextChars). */
export function tableTextOver(limit: number, idx: number, offset: number, path?: string): CodecFailure {
  return failure('limit-exceeded', `text taken from the string table passes maxTableTextChars ${limit} at the reference to offset ${idx} (every reference counts)`, offset, path);
}

/**
 * End of the string-table string at `idx`: its NUL, or the end of the table when the last string is
 * unterminated (the Android/Motorola DM vectors write `1D` + 29 chars of public id and no NUL, and
 * libwbxml reads them). -1 when `idx` is outside the table.
 */
export function tableStringEnd(tbl: Uint8Array, idx: number): number {
  if (idx >= tbl.length) return -1;
  const nul = tbl.indexOf(0, idx);
  return nul < 0 ? tbl.length : nul;
}


/** Element names from LITERAL tags: plain XML names only, so a literal cannot smuggle markup into XML output. */
const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
export const isXmlName = (s: string): boolean => XML_NAME.test(s);
