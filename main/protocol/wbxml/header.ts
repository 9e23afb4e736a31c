/**
 * The WBXML header: version, public id, charset, string table (WBXML 1.3 §5.4-5.8).
 * WBXML 1.0 (version byte 0x00) has no charset field; everything later has one.
 */
import { describePublicId, type PublicIdInfo } from './tables.js';
import { charsetName, failure, mbEnd, readMbUint, tableStringEnd, textDecoderFor, type TextDecodeFn } from './primitives.js';

export interface WbxmlHeader {
  version: number;
  /** A number, or the literal from the string table when the header says 0 + index. */
  publicId: number | string;
  publicIdInfo: PublicIdInfo;
  charset: number;
  decodeText: TextDecodeFn;
  stringTable: Uint8Array;
  /** Offset of the first string-table byte in the input (STR_T offsets are relative to it). */
  stringTableOffset: number;
  bodyOffset: number;
}

/** Called per header field so the inspector can list them; the decoder passes nothing. */
export type HeaderFieldSink = (
  kind: 'VERSION' | 'PUBLIC_ID' | 'CHARSET' | 'STRING_TABLE',
  offset: number,
  length: number,
  detail: string,
) => void;

export function versionName(v: number): string {
  return `WBXML 1.${v}`;
}

/** Throws CodecFailure on a header we cannot read. */
export function parseHeader(buf: Uint8Array, sink?: HeaderFieldSink): WbxmlHeader {
  if (buf.length === 0) throw failure('truncated', 'empty input: no WBXML header', 0);
  const version = buf[0]!;
  if (version > 0x03) {
    throw failure('bad-header', `unsupported WBXML version byte 0x${version.toString(16).padStart(2, '0')}`, 0);
  }
  sink?.('VERSION', 0, 1, versionName(version));

  let pos = 1;
  const pidOffset = pos;
  const pidNum = readMbUint(buf, pos, pidOffset, 'the public id');
  pos = mbEnd;
  let pidIndex = -1;
  if (pidNum === 0) {
    pidIndex = readMbUint(buf, pos, pidOffset, 'the public id string-table index');
    pos = mbEnd;
  }
  const pidLength = pos - pidOffset;

  let charset: number = 106;
  let charsetOffset = -1;
  if (version >= 0x01) {
    charsetOffset = pos;
    charset = readMbUint(buf, pos, pos, 'the charset');
    pos = mbEnd;
  }
  const decodeText = textDecoderFor(charset);

  const tblOffset = pos;
  const tblLen = readMbUint(buf, pos, tblOffset, 'the string table length');
  pos = mbEnd;
  if (tblLen > buf.length - pos) {
    throw failure('truncated', `string table of ${tblLen} bytes runs past the end of the input`, tblOffset);
  }
  const stringTable = buf.subarray(pos, pos + tblLen);
  const stringTableOffset = pos;
  pos += tblLen;

  // The public id may point into the string table, which comes after it: resolve it now.
  let publicId: number | string = pidNum;
  if (pidIndex >= 0) {
    const nul = tableStringEnd(stringTable, pidIndex);
    if (nul < 0) {
      throw failure('bad-string-table-ref', `public id index ${pidIndex} is outside the string table (${tblLen} bytes)`, pidOffset);
    }
    if (!decodeText) throw failure('bad-header', `unsupported charset ${charsetName(charset)}`, charsetOffset);
    publicId = decodeText(stringTable, pidIndex, nul, pidOffset);
  }
  const pidText = typeof publicId === 'number' ? `0x${publicId.toString(16).toUpperCase().padStart(4, '0')}` : `"${publicId}" (string table @${pidIndex})`;
  sink?.('PUBLIC_ID', pidOffset, pidLength, pidText);
  if (charsetOffset >= 0) sink?.('CHARSET', charsetOffset, tblOffset - charsetOffset, `${charset} ${charsetName(charset)}`);
  sink?.('STRING_TABLE', tblOffset, pos - tblOffset, `${tblLen} bytes`);

  if (!decodeText) throw failure('bad-header', `unsupported charset ${charsetName(charset)}`, charsetOffset);
  const publicIdInfo = describePublicId(publicId);
  if (!publicIdInfo) {
    throw failure('bad-header', `unknown public id ${pidText}: not a SyncML, MetInf or DM DDF document`, pidOffset);
  }
  if (publicIdInfo.family === 'devinf') {
    throw failure('bad-header', `public id ${pidText} is SyncML DevInf, which DM does not use`, pidOffset);
  }
  return { version, publicId, publicIdInfo, charset, decodeText, stringTable, stringTableOffset, bodyOffset: pos };
}
