/**
 * WAP push over SMS (WDP over GSM SMS, WAP-259): the WSP PDU goes in 8-bit SMS user data with a
 * 16-bit application port header (destination 2948). A PDU too long for one SMS is split into a
 * concatenated message; each part carries the concat element first, then the ports
 * (`0B 00 03 ref total seq 05 04 0B 84 23 F0`), as the notes' example shows.
 */
import { toHex } from './bytes.js';
import { InvalidInput, describeNotifyError } from './errors.js';
import { concatElement, decodeSmsPdu, encodeSubmit, portElement, SMS_MAX_USER_DATA, type DecodedSms, type UdhElement } from './sms.js';
import { APP_ID_SYNCML_DM, CT_DM_NOTIFICATION, WAP_PUSH_PORT, WAP_WSP_PORT, decodeWspPush, encodeWspPush, type DecodedWspPush } from './wsp.js';
import { parsePackage0, type ParsedPackage0 } from './package0.js';

/** UDH sizes: ports alone 7 octets (UDHL + 6), concat + ports 12 (UDHL + 5 + 6). */
export const SINGLE_PART_CAPACITY = SMS_MAX_USER_DATA - 7;
export const MULTI_PART_CAPACITY = SMS_MAX_USER_DATA - 12;
export const MAX_PARTS = 255;

export interface SmsPart {
  seq: number;
  total: number;
  /** Concatenation reference (8-bit), when total > 1. */
  ref?: number;
  /** `00` + TPDU, what follows the `> ` prompt, in hex. */
  pduHex: string;
  /** TPDU octets: the AT+CMGS argument. */
  tpduLength: number;
  /** Octets of the push carried by this part. */
  payloadLength: number;
}

export interface WapPushSmsOptions {
  to: string;
  wsp: Uint8Array;
  destinationPort?: number;
  sourcePort?: number;
  /** Concatenation reference; pick a new one per message (ConcatRefCounter). */
  ref?: number;
  validityRelative?: number;
}

export function buildWapPushSms(o: WapPushSmsOptions): SmsPart[] {
  const dst = o.destinationPort ?? WAP_PUSH_PORT;
  const src = o.sourcePort ?? WAP_WSP_PORT;
  const ports = portElement(dst, src);
  const common = { to: o.to, ...(o.validityRelative === undefined ? {} : { validityRelative: o.validityRelative }) };
  if (o.wsp.length <= SINGLE_PART_CAPACITY) {
    const e = encodeSubmit({ ...common, data: o.wsp, udh: [ports] });
    return [{ seq: 1, total: 1, pduHex: toHex(e.pdu), tpduLength: e.tpdu.length, payloadLength: o.wsp.length }];
  }
  const total = Math.ceil(o.wsp.length / MULTI_PART_CAPACITY);
  if (total > MAX_PARTS) throw new InvalidInput('payload', `${o.wsp.length} bytes need ${total} SMS parts; a concatenated SMS has at most ${MAX_PARTS}`);
  const ref = (o.ref ?? 0) & 0xff;
  const parts: SmsPart[] = [];
  for (let i = 0; i < total; i++) {
    const chunk = o.wsp.subarray(i * MULTI_PART_CAPACITY, (i + 1) * MULTI_PART_CAPACITY);
    const udh: UdhElement[] = [concatElement(ref, total, i + 1), ports];
    const e = encodeSubmit({ ...common, data: chunk, udh });
    parts.push({ seq: i + 1, total, ref, pduHex: toHex(e.pdu), tpduLength: e.tpdu.length, payloadLength: chunk.length });
  }
  return parts;
}

/** Concatenation references for one sender: a fresh one per message, wrapping at 256. */
export class ConcatRefCounter {
  constructor(private next = Math.floor(Math.random() * 256)) {}
  take(): number {
    const r = this.next & 0xff;
    this.next = (this.next + 1) & 0xff;
    return r;
  }
}

/** WSP push of a package #0: `01 06 03 C4 AF 87` then the package. */
export function buildNotificationPush(pkg0: Uint8Array, tid = 0x01): Uint8Array {
  return encodeWspPush({ tid, contentType: CT_DM_NOTIFICATION, appId: APP_ID_SYNCML_DM, body: pkg0 });
}

export interface WapPushContent {
  wsp: DecodedWspPush;
  /** Present when the push is a DM notification whose body parses as package #0. */
  package0?: ParsedPackage0;
  package0Error?: string;
}

/** Reads the WSP push in reassembled WDP data and, for a DM notification, its package #0. */
export function readWapPush(data: Uint8Array): { ok: true; value: WapPushContent } | { ok: false; error: string } {
  const w = decodeWspPush(data);
  if (!w.ok) return { ok: false, error: `WSP: ${w.error.message}${w.error.offset === undefined ? '' : ` at byte ${w.error.offset}`}` };
  const out: WapPushContent = { wsp: w.value };
  if (w.value.contentTypeCode === CT_DM_NOTIFICATION) {
    const p = parsePackage0(w.value.body);
    if (p.ok) out.package0 = p.value;
    // With its byte offset (into the package, i.e. the push body): the message alone does not say where.
    else out.package0Error = describeNotifyError(p.error);
  }
  return { ok: true, value: out };
}

export function isWapPushSms(sms: DecodedSms): boolean {
  return sms.udh?.ports?.destination === WAP_PUSH_PORT || sms.udh?.ports?.destination === 2949;
}

export { decodeSmsPdu };
