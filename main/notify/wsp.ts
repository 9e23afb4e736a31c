/**
 * WSP push PDUs (WAP-230-WSP §8.2.4.1, connectionless push over WDP): TID, PDU type 0x06, headers
 * length (uintvar), content type, headers, body. Only what DM-1 and DM-4 need is encoded; the decoder
 * reads any well-formed push so a captured one can be inspected.
 */
import { ByteReader, concatBytes, toHex } from './bytes.js';
import { DecodeFailure, InvalidInput, fail, ok, type Result } from './errors.js';

export const WSP_PDU_PUSH = 0x06;
/** WDP ports (WAP-259-WDP): connectionless push arrives on 2948; 9200 is the connectionless WSP port. */
export const WAP_PUSH_PORT = 2948;
export const WAP_WSP_PORT = 9200;

/** Well-known content types (WINA registry) used here. */
export const CONTENT_TYPES: Readonly<Record<number, string>> = {
  0x36: 'application/vnd.wap.connectivity-wbxml',
  0x42: 'application/vnd.syncml.dm+wbxml',
  0x43: 'application/vnd.syncml.dm+xml',
  0x44: 'application/vnd.syncml.notification',
};
export const CT_DM_WBXML = 0x42;
export const CT_DM_NOTIFICATION = 0x44;

/** X-Wap-Application-Id well-known values (WINA push application ids). */
export const APP_IDS: Readonly<Record<number, string>> = {
  0x00: 'x-wap-application:*',
  0x01: 'x-wap-application:push.sia',
  0x02: 'x-wap-application:wml.ua',
  0x03: 'x-wap-application:wta.ua',
  0x04: 'x-wap-application:mms.ua',
  0x05: 'x-wap-application:push.syncml',
  0x06: 'x-wap-application:loc.ua',
  0x07: 'x-wap-application:syncml.dm',
  0x08: 'x-wap-application:drm.ua',
  0x09: 'x-wap-application:emn.ua',
  0x0a: 'x-wap-application:wv.ua',
};
export const APP_ID_SYNCML_DM = 0x07;

const HEADER_X_WAP_APPLICATION_ID = 0x2f;
const PARAM_SEC = 0x11;
const PARAM_MAC = 0x12;

export const SEC_METHODS = ['NETWPIN', 'USERPIN', 'USERNETWPIN', 'USERPINMAC'] as const;
export type SecMethod = (typeof SEC_METHODS)[number];

export function encodeUintvar(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('uintvar out of range');
  const out = [n & 0x7f];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift(0x80 | (n & 0x7f));
  return Uint8Array.from(out);
}

function readUintvar(r: ByteReader, what: string): number {
  let v = 0;
  for (let i = 0; i < 5; i++) {
    const b = r.u8(what);
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) return v;
  }
  return r.fail('bad-value', `${what}: uintvar longer than 5 octets`);
}

/** Value-length (§8.4.2.2): a short length up to 30, else 0x1F and a uintvar. */
function encodeValueLength(n: number): Uint8Array {
  return n <= 30 ? Uint8Array.of(n) : concatBytes(Uint8Array.of(0x1f), encodeUintvar(n));
}

export interface PushSecurity {
  sec: SecMethod;
  /** Uppercase hex HMAC-SHA1, sent NUL-terminated as the MAC parameter. */
  mac: string;
}

export interface WspPushOptions {
  tid?: number;
  /** Well-known content type code. */
  contentType: number;
  security?: PushSecurity;
  appId?: number;
  body: Uint8Array;
}

export function encodeWspPush(o: WspPushOptions): Uint8Array {
  let contentType: Uint8Array;
  if (o.security) {
    const sec = SEC_METHODS.indexOf(o.security.sec);
    if (sec < 0) throw new InvalidInput('sec', `must be one of ${SEC_METHODS.join(', ')}`);
    if (!/^[0-9A-F]+$/.test(o.security.mac)) throw new InvalidInput('mac', 'must be uppercase hex');
    // Content-general-form: Value-length, media type, then SEC (0x91, short int) and MAC (0x92, text).
    const general = concatBytes(
      Uint8Array.of(0x80 | o.contentType, 0x80 | PARAM_SEC, 0x80 | sec, 0x80 | PARAM_MAC),
      new Uint8Array(Buffer.from(o.security.mac, 'latin1')),
      Uint8Array.of(0),
    );
    contentType = concatBytes(encodeValueLength(general.length), general);
  } else contentType = Uint8Array.of(0x80 | o.contentType);
  const headers = o.appId === undefined ? new Uint8Array() : Uint8Array.of(0x80 | HEADER_X_WAP_APPLICATION_ID, 0x80 | o.appId);
  const headerBlock = concatBytes(contentType, headers);
  return concatBytes(Uint8Array.of(o.tid ?? 0x01, WSP_PDU_PUSH), encodeUintvar(headerBlock.length), headerBlock, o.body);
}

export interface DecodedWspPush {
  tid: number;
  contentType: string;
  contentTypeCode?: number;
  /** Content-type parameters; SEC and MAC are also given by name below. */
  params: { name: string; value: string }[];
  sec?: SecMethod | `unknown(${number})`;
  mac?: string;
  appId?: string;
  appIdCode?: number;
  headers: { name: string; value: string }[];
  body: Uint8Array;
}

const PARAM_NAMES: Readonly<Record<number, string>> = { 0x01: 'Charset', 0x03: 'Type', 0x05: 'Name', 0x11: 'SEC', 0x12: 'MAC' };

function readText(r: ByteReader, what: string): string {
  const start = r.pos;
  while (true) {
    const b = r.u8(`${what} (unterminated text)`);
    if (b === 0) break;
  }
  let t = Buffer.from(r.bytes.subarray(start, r.pos - 1)).toString('latin1');
  if (t.startsWith('\u007f')) t = t.slice(1); // quote marking text that starts with a high byte
  return t;
}

/** Integer-value: short integer, or a short length then that many big-endian octets. */
function readIntegerValue(r: ByteReader, what: string): number {
  const b = r.u8(what);
  if (b & 0x80) return b & 0x7f;
  if (b > 30) r.fail('bad-value', `${what}: expected an integer`, r.pos - 1);
  const data = r.take(b, what);
  let v = 0;
  for (const x of data) v = v * 256 + x;
  return v;
}

/** Skips a value we do not interpret and returns it as text (short int, text, or length-prefixed). */
function readGenericValue(r: ByteReader, what: string): string {
  const b = r.peek();
  if (b === undefined) r.fail('truncated', `input ends before ${what}`);
  if (b & 0x80) return String(r.u8(what) & 0x7f);
  if (b < 0x1f) {
    r.u8(what);
    return toHex(r.take(b, what));
  }
  if (b === 0x1f) {
    r.u8(what);
    return toHex(r.take(readUintvar(r, what), what));
  }
  return readText(r, what);
}

export function decodeWspPush(bytes: Uint8Array): Result<DecodedWspPush> {
  const r: ByteReader = new ByteReader(bytes);
  try {
    const tid = r.u8('TID');
    const type = r.u8('PDU type');
    if (type !== WSP_PDU_PUSH && type !== 0x07) return fail('unsupported', `WSP PDU type 0x${type.toString(16)} is not Push (0x06)`, 1);
    const headersLen = readUintvar(r, 'headers length');
    const headersAt = r.pos;
    const h: ByteReader = new ByteReader(r.take(headersLen, 'headers'), headersAt);
    const out: DecodedWspPush = { tid, contentType: '', params: [], headers: [], body: new Uint8Array() };
    // Content type: well-known short int, text, or general form with parameters.
    const first = h.peek();
    if (first === undefined) h.fail('truncated', 'headers end before the content type');
    if (first & 0x80) {
      out.contentTypeCode = h.u8('content type') & 0x7f;
    } else if (first >= 0x20) {
      out.contentType = readText(h, 'content type');
    } else {
      h.u8('content type length');
      const len = first === 0x1f ? readUintvar(h, 'content type length') : first;
      const g = new ByteReader(h.take(len, 'content type'), headersAt + h.pos - len);
      const m = g.peek();
      if (m !== undefined && m & 0x80) out.contentTypeCode = g.u8('media type') & 0x7f;
      else if (m !== undefined && m >= 0x20) out.contentType = readText(g, 'media type');
      else out.contentTypeCode = readIntegerValue(g, 'media type');
      while (g.remaining > 0) {
        const p = g.peek()!;
        if (p & 0x80) {
          const code = g.u8('parameter') & 0x7f;
          const name = PARAM_NAMES[code] ?? `0x${code.toString(16)}`;
          if (code === PARAM_SEC) {
            const v = readIntegerValue(g, 'SEC');
            out.sec = SEC_METHODS[v] ?? `unknown(${v})`;
            out.params.push({ name, value: String(out.sec) });
          } else if (code === PARAM_MAC || code === 0x05) {
            const v = readText(g, name);
            if (code === PARAM_MAC) out.mac = v;
            out.params.push({ name, value: v });
          } else out.params.push({ name, value: readGenericValue(g, name) });
        } else {
          const name = readText(g, 'parameter name');
          out.params.push({ name, value: readGenericValue(g, name) });
        }
      }
    }
    if (out.contentTypeCode !== undefined) out.contentType = CONTENT_TYPES[out.contentTypeCode] ?? `well-known 0x${out.contentTypeCode.toString(16).padStart(2, '0')}`;
    while (h.remaining > 0) {
      const b = h.peek()!;
      if (b & 0x80) {
        const code = h.u8('header') & 0x7f;
        if (code === HEADER_X_WAP_APPLICATION_ID) {
          const v = h.peek();
          if (v !== undefined && v >= 0x20 && v < 0x80) out.appId = readText(h, 'X-Wap-Application-Id');
          else {
            out.appIdCode = readIntegerValue(h, 'X-Wap-Application-Id');
            out.appId = APP_IDS[out.appIdCode] ?? `0x${out.appIdCode.toString(16)}`;
          }
          out.headers.push({ name: 'X-Wap-Application-Id', value: out.appId });
        } else out.headers.push({ name: `0x${code.toString(16)}`, value: readGenericValue(h, 'header value') });
      } else if (b >= 0x20) {
        const name = readText(h, 'header name');
        out.headers.push({ name, value: readGenericValue(h, name) });
      } else h.fail('bad-value', `header starts with 0x${b.toString(16)}`);
    }
    out.body = r.rest();
    return ok(out);
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, error: e.error };
    throw e;
  }
}
