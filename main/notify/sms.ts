/**
 * SMS TPDUs (3GPP TS 23.040): SMS-SUBMIT encoding (8-bit or GSM 7-bit, with a User Data Header) and
 * SMS-SUBMIT / SMS-DELIVER decoding for captured PDUs. In AT PDU mode (TS 27.005) every PDU starts with
 * the SMSC address; `00` means "the SMSC stored in the modem".
 */
import { ByteReader, concatBytes, toHex } from './bytes.js';
import { DecodeFailure, InvalidInput, fail, ok, type NotifyError, type Result } from './errors.js';
import { packSeptets, septetsToText, textToSeptets, unpackSeptets } from './gsm7.js';

/** Octets of user data in one SMS (TS 23.040 §9.2.3.16: 140 octets, 160 septets). */
export const SMS_MAX_USER_DATA = 140;

export const IEI = { concat8: 0x00, port8: 0x04, port16: 0x05, concat16: 0x08 } as const;
const IEI_NAMES: Readonly<Record<number, string>> = {
  0x00: 'concatenated message, 8-bit reference',
  0x01: 'special SMS message indication',
  0x04: 'application port, 8-bit',
  0x05: 'application port, 16-bit',
  0x06: 'SMSC control parameters',
  0x07: 'UDH source indicator',
  0x08: 'concatenated message, 16-bit reference',
  0x09: 'wireless control message protocol',
};

export interface SmsAddress {
  /** Digits ('+' first for international numbers) or the text of an alphanumeric address. */
  number: string;
  /** Type of address octet. */
  toa: number;
  ton: 'unknown' | 'international' | 'national' | 'network-specific' | 'subscriber' | 'alphanumeric' | 'abbreviated' | 'reserved';
}

export interface UdhElement {
  iei: number;
  data: Uint8Array;
}

export interface UdhInfo {
  elements: { iei: number; name: string; dataHex: string }[];
  concat?: { ref: number; total: number; seq: number; refBits: 8 | 16 };
  ports?: { destination: number; source: number; bits: 8 | 16 };
}

export interface DataCoding {
  value: number;
  alphabet: 'gsm7' | '8bit' | 'ucs2';
  messageClass?: 0 | 1 | 2 | 3;
  compressed: boolean;
}

export interface DecodedSms {
  type: 'SMS-SUBMIT' | 'SMS-DELIVER';
  /** undefined when the PDU carried no SMSC field; `null` for `00`, the modem's default SMSC. */
  smsc?: SmsAddress | null;
  firstOctet: number;
  flags: { udhi: boolean; replyPath: boolean; statusReport: boolean; rejectDuplicates?: boolean; moreMessagesToSend?: boolean };
  messageRef?: number;
  to?: SmsAddress;
  from?: SmsAddress;
  pid: number;
  dcs: DataCoding;
  validity?: { format: 'relative' | 'enhanced' | 'absolute'; hex: string; description: string };
  /** Service centre time stamp of a DELIVER, ISO 8601 with its offset. */
  timestamp?: string;
  /** TP-UDL as sent: septets for GSM 7-bit, octets otherwise. */
  udl: number;
  udh?: UdhInfo;
  /** User data after the header (raw octets; for GSM 7-bit the unpacked septets as bytes). */
  userData: Uint8Array;
  text?: string;
  warnings: string[];
}

const TON_NAMES: SmsAddress['ton'][] = ['unknown', 'international', 'national', 'network-specific', 'subscriber', 'alphanumeric', 'abbreviated', 'reserved'];
const BCD = '0123456789*#abc';

/** A destination as a person types it: `+4917012345678`, `017012345678`, `1234`. */
export function parseMsisdn(text: string): { digits: string; toa: number } {
  const t = text.trim().replace(/[\s\-()]/g, '');
  const m = /^(\+)?([0-9*#]{1,20})$/.exec(t);
  if (!m) throw new InvalidInput('to', `"${text}" is not a phone number (digits, optionally with a leading +)`);
  return { digits: m[2]!, toa: m[1] ? 0x91 : 0x81 };
}

function encodeSemiOctets(digits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(digits.length / 2));
  for (let i = 0; i < digits.length; i += 2) {
    const lo = BCD.indexOf(digits[i]!);
    const hi = i + 1 < digits.length ? BCD.indexOf(digits[i + 1]!) : 0xf;
    out[i >> 1] = (hi << 4) | lo;
  }
  return out;
}

function decodeSemiOctets(bytes: Uint8Array, digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) {
    const b = bytes[i >> 1]!;
    const n = i & 1 ? b >> 4 : b & 0xf;
    s += n === 0xf ? '' : (BCD[n] ?? '?');
  }
  return s;
}

/** TP-DA / TP-OA: length in digits, type of address, semi-octets. */
export function encodeAddress(text: string): Uint8Array {
  const { digits, toa } = parseMsisdn(text);
  return concatBytes(Uint8Array.of(digits.length, toa), encodeSemiOctets(digits));
}

function addressFrom(toa: number, body: Uint8Array, digits: number): SmsAddress {
  const ton = TON_NAMES[(toa >> 4) & 7]!;
  if (ton === 'alphanumeric') {
    const septets = unpackSeptets(body, Math.floor((digits * 4) / 7));
    return { number: septetsToText(septets), toa, ton };
  }
  const n = decodeSemiOctets(body, digits);
  return { number: ton === 'international' ? `+${n}` : n, toa, ton };
}

function readAddress(r: ByteReader, what: string): SmsAddress {
  const digits = r.u8(`${what} length`);
  if (digits > 20) r.fail('bad-value', `${what} length ${digits} is more than 20 digits`, r.pos - 1);
  const toa = r.u8(`${what} type`);
  return addressFrom(toa, r.take(Math.ceil(digits / 2), what), digits);
}

function readSmsc(r: ByteReader): SmsAddress | null {
  const len = r.u8('SMSC length');
  if (len === 0) return null;
  if (len > 12) r.fail('bad-value', `SMSC length ${len} is more than 12 octets`, r.pos - 1);
  const toa = r.u8('SMSC type');
  const body = r.take(len - 1, 'SMSC address');
  return addressFrom(toa, body, (len - 1) * 2);
}

export function encodeUdh(elements: readonly UdhElement[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of elements) parts.push(Uint8Array.of(e.iei, e.data.length), e.data);
  const body = concatBytes(...parts);
  if (body.length > 139) throw new InvalidInput('udh', 'user data header longer than an SMS');
  return concatBytes(Uint8Array.of(body.length), body);
}

export function decodeUdh(udh: Uint8Array, base = 0): UdhInfo {
  const r = new ByteReader(udh, base);
  const info: UdhInfo = { elements: [] };
  while (r.remaining > 0) {
    const iei = r.u8('UDH element id');
    const len = r.u8('UDH element length');
    const data = r.take(len, `UDH element 0x${iei.toString(16)}`);
    info.elements.push({ iei, name: IEI_NAMES[iei] ?? 'unknown', dataHex: toHex(data) });
    if (iei === IEI.concat8 && len === 3) info.concat = { ref: data[0]!, total: data[1]!, seq: data[2]!, refBits: 8 };
    else if (iei === IEI.concat16 && len === 4) info.concat = { ref: (data[0]! << 8) | data[1]!, total: data[2]!, seq: data[3]!, refBits: 16 };
    else if (iei === IEI.port8 && len === 2) info.ports = { destination: data[0]!, source: data[1]!, bits: 8 };
    else if (iei === IEI.port16 && len === 4) info.ports = { destination: (data[0]! << 8) | data[1]!, source: (data[2]! << 8) | data[3]!, bits: 16 };
  }
  return info;
}

export function concatElement(ref: number, total: number, seq: number): UdhElement {
  return { iei: IEI.concat8, data: Uint8Array.of(ref & 0xff, total, seq) };
}

export function portElement(destination: number, source: number): UdhElement {
  return { iei: IEI.port16, data: Uint8Array.of(destination >> 8, destination & 0xff, source >> 8, source & 0xff) };
}

export interface SubmitOptions {
  to: string;
  /** 8-bit user data (DCS 0x04 unless `dcs` says otherwise). */
  data?: Uint8Array;
  /** GSM 7-bit text (DCS 0x00). */
  text?: string;
  udh?: readonly UdhElement[];
  dcs?: number;
  pid?: number;
  /** TP-VP, relative format (one octet, e.g. 0xAA = 4 days); absent means no validity period. */
  validityRelative?: number;
  statusReport?: boolean;
  /** TP-MR; modems replace it, so 0 is the usual value. */
  messageRef?: number;
}

export interface EncodedSubmit {
  /** The TPDU alone; its length is the argument of AT+CMGS. */
  tpdu: Uint8Array;
  /** `00` (default SMSC) followed by the TPDU: what is typed after the `> ` prompt. */
  pdu: Uint8Array;
}

export function encodeSubmit(o: SubmitOptions): EncodedSubmit {
  if ((o.data === undefined) === (o.text === undefined)) throw new InvalidInput('user data', 'give either 8-bit data or text');
  const udh = o.udh && o.udh.length > 0 ? encodeUdh(o.udh) : undefined;
  let firstOctet = 0x01; // SMS-SUBMIT
  if (o.validityRelative !== undefined) firstOctet |= 0x10;
  if (o.statusReport) firstOctet |= 0x20;
  if (udh) firstOctet |= 0x40;
  let dcs: number;
  let udl: number;
  let ud: Uint8Array;
  if (o.data !== undefined) {
    dcs = o.dcs ?? 0x04;
    ud = udh ? concatBytes(udh, o.data) : o.data;
    udl = ud.length;
    if (udl > SMS_MAX_USER_DATA) throw new InvalidInput('user data', `${udl} octets do not fit one SMS (${SMS_MAX_USER_DATA}); split it first`);
  } else {
    dcs = o.dcs ?? 0x00;
    const septets = textToSeptets(o.text!);
    if (!septets) throw new InvalidInput('text', 'has characters outside the GSM 7-bit alphabet');
    const headerSeptets = udh ? Math.ceil((udh.length * 8) / 7) : 0;
    const fill = udh ? headerSeptets * 7 - udh.length * 8 : 0;
    udl = headerSeptets + septets.length;
    if (udl > 160) throw new InvalidInput('text', `${udl} septets do not fit one SMS (160)`);
    const packed = packSeptets(septets, fill);
    if (udh) {
      // The fill bits share the first octet after the header with the first septet.
      ud = concatBytes(udh, packed);
    } else ud = packed;
  }
  const parts = [Uint8Array.of(firstOctet, (o.messageRef ?? 0) & 0xff), encodeAddress(o.to), Uint8Array.of(o.pid ?? 0, dcs)];
  if (o.validityRelative !== undefined) parts.push(Uint8Array.of(o.validityRelative & 0xff));
  parts.push(Uint8Array.of(udl), ud);
  const tpdu = concatBytes(...parts);
  return { tpdu, pdu: concatBytes(Uint8Array.of(0x00), tpdu) };
}

export function decodeDcs(value: number): DataCoding {
  const group = value >> 4;
  let alphabet: DataCoding['alphabet'] = 'gsm7';
  let messageClass: DataCoding['messageClass'];
  let compressed = false;
  if (group <= 0x7) {
    // General data coding (00xx) and automatic deletion (01xx) groups.
    compressed = (value & 0x20) !== 0;
    const a = (value >> 2) & 3;
    alphabet = a === 1 ? '8bit' : a === 2 ? 'ucs2' : 'gsm7';
    if (value & 0x10) messageClass = (value & 3) as 0 | 1 | 2 | 3;
  } else if (group === 0xf) {
    alphabet = value & 0x04 ? '8bit' : 'gsm7';
    messageClass = (value & 3) as 0 | 1 | 2 | 3;
  } else if (group === 0xe) alphabet = 'ucs2';
  else if (group === 0xc || group === 0xd) alphabet = 'gsm7';
  else alphabet = '8bit'; // reserved groups: treat the data as octets
  return messageClass === undefined ? { value, alphabet, compressed } : { value, alphabet, messageClass, compressed };
}

function describeRelativeVp(v: number): string {
  if (v <= 143) return `${(v + 1) * 5} minutes`;
  if (v <= 167) return `${12 + (v - 143) / 2} hours`;
  if (v <= 196) return `${v - 166} days`;
  return `${v - 192} weeks`;
}

function readTimestamp(r: ByteReader, what: string): string {
  const b = r.take(7, what);
  const d = (i: number) => (b[i]! & 0xf) * 10 + (b[i]! >> 4);
  const tz = b[6]!;
  const quarters = (tz & 0x07) * 10 + (tz >> 4);
  const sign = tz & 0x08 ? '-' : '+';
  const hh = String(Math.floor(quarters / 4)).padStart(2, '0');
  const mm = String((quarters % 4) * 15).padStart(2, '0');
  const p = (n: number) => String(n).padStart(2, '0');
  // Two-digit years: the published examples from the 1990s read as 19xx, everything else as 20xx.
  const year = d(0) >= 90 ? 1900 + d(0) : 2000 + d(0);
  return `${year}-${p(d(1))}-${p(d(2))}T${p(d(3))}:${p(d(4))}:${p(d(5))}${sign}${hh}:${mm}`;
}

export type SmscMode = 'auto' | 'yes' | 'no';

/** Decodes an SMS-SUBMIT or SMS-DELIVER; `smsc: 'auto'` tries with the SMSC field first, then without. */
export function decodeSmsPdu(bytes: Uint8Array, opts: { smsc?: SmscMode } = {}): Result<DecodedSms> {
  const mode = opts.smsc ?? 'auto';
  if (mode !== 'auto') return decodeOnce(bytes, mode === 'yes');
  const withSmsc = decodeOnce(bytes, true);
  if (withSmsc.ok) return withSmsc;
  const without = decodeOnce(bytes, false);
  return without.ok ? without : withSmsc;
}

function decodeOnce(bytes: Uint8Array, hasSmsc: boolean): Result<DecodedSms> {
  const r: ByteReader = new ByteReader(bytes);
  try {
    const smsc = hasSmsc ? readSmsc(r) : undefined;
    const firstOctet = r.u8('first octet');
    const mti = firstOctet & 3;
    const warnings: string[] = [];
    const udhi = (firstOctet & 0x40) !== 0;
    const replyPath = (firstOctet & 0x80) !== 0;
    let out: Omit<DecodedSms, 'udl' | 'userData' | 'dcs' | 'pid' | 'warnings'>;
    let vpf = 0;
    if (mti === 1) {
      vpf = (firstOctet >> 3) & 3;
      const messageRef = r.u8('message reference');
      const to = readAddress(r, 'destination address');
      out = { type: 'SMS-SUBMIT', firstOctet, flags: { udhi, replyPath, statusReport: (firstOctet & 0x20) !== 0, rejectDuplicates: (firstOctet & 0x04) !== 0 }, messageRef, to };
    } else if (mti === 0) {
      const from = readAddress(r, 'originating address');
      out = { type: 'SMS-DELIVER', firstOctet, flags: { udhi, replyPath, statusReport: (firstOctet & 0x20) !== 0, moreMessagesToSend: (firstOctet & 0x04) === 0 }, from };
    } else {
      return fail('unsupported', mti === 2 ? 'SMS-STATUS-REPORT / SMS-COMMAND PDUs are not decoded' : 'reserved message type (TP-MTI 3)', hasSmsc ? r.pos - 1 : 0);
    }
    if (smsc !== undefined) out.smsc = smsc;
    const pid = r.u8('protocol identifier');
    const dcs = decodeDcs(r.u8('data coding scheme'));
    if (out.type === 'SMS-DELIVER') out.timestamp = readTimestamp(r, 'service centre time stamp');
    if (vpf === 2) {
      const v = r.u8('validity period');
      out.validity = { format: 'relative', hex: toHex(Uint8Array.of(v)), description: describeRelativeVp(v) };
    } else if (vpf === 1 || vpf === 3) {
      const at = r.pos;
      if (vpf === 3) {
        const ts = readTimestamp(r, 'validity period');
        out.validity = { format: 'absolute', hex: toHex(bytes.subarray(at, at + 7)), description: `until ${ts}` };
      } else out.validity = { format: 'enhanced', hex: toHex(r.take(7, 'validity period')), description: 'enhanced format' };
    }
    const udl = r.u8('user data length');
    const udAt = r.pos;
    const udOctets = dcs.alphabet === 'gsm7' ? Math.ceil((udl * 7) / 8) : udl;
    if (dcs.alphabet === 'gsm7' && udl > 160) r.fail('bad-value', `user data length ${udl} septets is more than 160`, udAt - 1);
    if (dcs.alphabet !== 'gsm7' && udl > SMS_MAX_USER_DATA) r.fail('bad-value', `user data length ${udl} octets is more than 140`, udAt - 1);
    const ud = r.take(udOctets, 'user data');
    if (r.remaining > 0) r.fail('trailing-data', `${r.remaining} bytes after the user data (TP-UDL says ${udl})`);
    let udh: UdhInfo | undefined;
    let headerOctets = 0;
    if (udhi) {
      const udhl = ud[0];
      if (udhl === undefined) r.fail('truncated', 'TP-UDHI is set but the user data is empty', udAt);
      if (udhl + 1 > ud.length) r.fail('truncated', `user data header length ${udhl} runs past the user data`, udAt);
      udh = decodeUdh(ud.subarray(1, 1 + udhl), udAt + 1);
      headerOctets = udhl + 1;
    }
    const decoded: DecodedSms = { ...out, pid, dcs, udl, userData: new Uint8Array(), warnings };
    if (udh) decoded.udh = udh;
    if (dcs.alphabet === 'gsm7') {
      const headerSeptets = Math.ceil((headerOctets * 8) / 7);
      const septets = unpackSeptets(ud, udl, 0).slice(headerSeptets);
      decoded.userData = Uint8Array.from(septets);
      decoded.text = septetsToText(septets);
    } else {
      decoded.userData = ud.subarray(headerOctets);
      if (dcs.alphabet === 'ucs2') {
        const d = decoded.userData;
        let s = '';
        for (let i = 0; i + 1 < d.length; i += 2) s += String.fromCharCode((d[i]! << 8) | d[i + 1]!);
        decoded.text = s;
        if (d.length % 2) warnings.push('UCS2 user data has an odd number of octets');
      }
    }
    if (dcs.compressed) warnings.push('the data coding scheme says compressed; the user data is shown as it is');
    return ok(decoded);
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, error: e.error };
    throw e;
  }
}

export interface ConcatPart {
  key: string;
  ref: number;
  total: number;
  seq: number;
  data: Uint8Array;
}

/**
 * Puts concatenated parts back together (keyed by peer address and reference). Bounded: the oldest
 * incomplete message is dropped once `maxPending` are open, so a stream of stray parts cannot grow it.
 */
export class Reassembler {
  private readonly pending = new Map<string, { total: number; parts: Map<number, Uint8Array> }>();
  constructor(private readonly maxPending = 64) {}

  /** The whole payload once the last missing part arrives, else undefined. */
  add(peer: string, sms: DecodedSms): { data: Uint8Array; parts: number } | undefined {
    const c = sms.udh?.concat;
    if (!c || c.total <= 1) return { data: sms.userData, parts: 1 };
    if (c.seq < 1 || c.seq > c.total) return undefined;
    const key = `${peer}/${c.refBits}/${c.ref}/${c.total}`;
    let entry = this.pending.get(key);
    if (!entry) {
      if (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value!);
      entry = { total: c.total, parts: new Map() };
      this.pending.set(key, entry);
    }
    entry.parts.set(c.seq, sms.userData);
    if (entry.parts.size < entry.total) return undefined;
    this.pending.delete(key);
    const ordered: Uint8Array[] = [];
    for (let i = 1; i <= entry.total; i++) ordered.push(entry.parts.get(i)!);
    return { data: concatBytes(...ordered), parts: entry.total };
  }

  get openMessages(): number {
    return this.pending.size;
  }
}

export function describeSmsError(e: NotifyError): string {
  return e.offset === undefined ? e.message : `${e.message} at byte ${e.offset}`;
}
