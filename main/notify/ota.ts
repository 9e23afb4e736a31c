/**
 * OTA bootstrap security (DM-4, OMA ProvBoot as used by DM Bootstrap): the MAC parameter is the
 * uppercase hex HMAC-SHA1 of the WBXML body under a key that depends on SEC.
 *   NETWPIN      key = IMSI as semi-octets, like EF_IMSI without its length byte
 *   USERPIN      key = the PIN as ASCII
 *   USERNETWPIN  key = IMSI semi-octets followed by the PIN as ASCII (Intel cpclient lib/src/wp.c,
 *                Funambol DS server, Symbian CWPPushMessage all do this). The notes also mention an
 *                `IMSI:PIN` variant no readable source confirmed; it stays selectable and every output
 *                says which one was used.
 *   USERPINMAC   key = the first half of the PIN the user types; the second half is hmac[i] % 10.
 *                cpclient refuses PINs shorter than 10 digits, so the key half has at least 5.
 */
import { createHmac } from 'node:crypto';
import { concatBytes, toHex } from './bytes.js';
import { InvalidInput } from './errors.js';
import { APP_ID_SYNCML_DM, CT_DM_WBXML, encodeWspPush, type SecMethod } from './wsp.js';

export type UserNetwPinKey = 'imsi+pin' | 'imsi:pin';
export const USERNETWPIN_KEYS: readonly UserNetwPinKey[] = ['imsi+pin', 'imsi:pin'];
export const USERNETWPIN_NOTE =
  'USERNETWPIN key choice is unverified against the OMA spec text: "imsi+pin" (semi-octet IMSI followed by the ASCII PIN, ' +
  'as Intel cpclient, Funambol and Symbian compute it) or "imsi:pin" (semi-octet IMSI, ":", PIN); pick with --usernetwpin-key';

/** IMSI: 6 to 15 digits (MCC 3 + MNC 2..3 + MSIN; 15 at most by TS 23.003). */
export function validateImsi(text: string): string {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) throw new InvalidInput('imsi', `"${text}" has characters other than digits`);
  if (t.length < 6 || t.length > 15) throw new InvalidInput('imsi', `"${text}" has ${t.length} digits; an IMSI has 6 to 15`);
  return t;
}

/** A PIN a person types on the handset: digits only, 4 to 16 of them. */
export function validatePin(text: string, field = 'pin'): string {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) throw new InvalidInput(field, 'must be digits only');
  if (t.length < 4 || t.length > 16) throw new InvalidInput(field, `has ${t.length} digits; use 4 to 16`);
  return t;
}

/**
 * EF_IMSI-style semi-octets: the parity nibble (9 odd length, 1 even) goes first, digits are nibble
 * swapped, an even-length IMSI is padded with F. `001010123456789` -> `09 10 10 10 32 54 76 98`.
 */
export function imsiSemiOctets(imsi: string): Uint8Array {
  const digits = validateImsi(imsi);
  const s = (digits.length % 2 ? '9' : '1') + digits + (digits.length % 2 ? '' : 'F');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (parseInt(s[2 * i + 1]!, 16) << 4) | parseInt(s[2 * i]!, 16);
  return out;
}

export interface SecInputs {
  sec: SecMethod;
  imsi?: string;
  /** USERPIN / USERNETWPIN: the PIN. USERPINMAC: the key half the PIN starts with. */
  pin?: string;
  userNetwPinKey?: UserNetwPinKey;
}

export interface SecKey {
  key: Uint8Array;
  /** How the key was made, for the output (never the PIN itself). */
  description: string;
}

export function secKey(i: SecInputs): SecKey {
  const need = (v: string | undefined, field: string): string => {
    if (v === undefined || v.trim() === '') throw new InvalidInput(field, `is required for SEC=${i.sec}`);
    return v;
  };
  switch (i.sec) {
    case 'NETWPIN': {
      const key = imsiSemiOctets(need(i.imsi, 'imsi'));
      return { key, description: `IMSI semi-octets ${toHex(key, ' ')}` };
    }
    case 'USERPIN': {
      const pin = validatePin(need(i.pin, 'pin'));
      return { key: new Uint8Array(Buffer.from(pin, 'ascii')), description: `USERPIN as ASCII (${pin.length} digits)` };
    }
    case 'USERNETWPIN': {
      const imsi = imsiSemiOctets(need(i.imsi, 'imsi'));
      const pin = validatePin(need(i.pin, 'pin'));
      const variant = i.userNetwPinKey ?? 'imsi+pin';
      const key = concatBytes(imsi, variant === 'imsi:pin' ? Uint8Array.of(0x3a) : new Uint8Array(), new Uint8Array(Buffer.from(pin, 'ascii')));
      return { key, description: `USERNETWPIN key variant "${variant}": IMSI semi-octets ${toHex(imsi, ' ')}${variant === 'imsi:pin' ? ' + ":"' : ''} + PIN as ASCII` };
    }
    case 'USERPINMAC': {
      const half = need(i.pin, 'pin').trim();
      if (!/^[0-9]+$/.test(half)) throw new InvalidInput('pin', 'must be digits only');
      if (half.length < 5 || half.length > 8) throw new InvalidInput('pin', `USERPINMAC key half has ${half.length} digits; use 5 to 8 (cpclient refuses a PIN under 10 digits)`);
      return { key: new Uint8Array(Buffer.from(half, 'ascii')), description: `USERPINMAC key half as ASCII (${half.length} digits)` };
    }
  }
}

export function hmacSha1(key: Uint8Array, body: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha1', key).update(body).digest());
}

/** The full PIN to give the user for USERPINMAC: the key half, then hmac[i] % 10 for each of its digits. */
export function userPinMacPin(keyHalf: string, mac: Uint8Array): string {
  let tail = '';
  for (let i = 0; i < keyHalf.length; i++) tail += String(mac[i]! % 10);
  return keyHalf + tail;
}

export interface BootstrapPush {
  wsp: Uint8Array;
  mac: string;
  keyDescription: string;
  /** USERPINMAC only: what the user must type on the handset. */
  userPin?: string;
  notes: string[];
}

/** WSP push carrying a DM bootstrap: application/vnd.syncml.dm+wbxml with SEC and MAC, app id syncml.dm. */
export function buildBootstrapPush(wbxml: Uint8Array, sec: SecInputs, tid = 0x01): BootstrapPush {
  const k = secKey(sec);
  const macBytes = hmacSha1(k.key, wbxml);
  const mac = toHex(macBytes);
  const notes: string[] = [];
  if (sec.sec === 'USERNETWPIN') notes.push(USERNETWPIN_NOTE);
  const wsp = encodeWspPush({ tid, contentType: CT_DM_WBXML, security: { sec: sec.sec, mac }, appId: APP_ID_SYNCML_DM, body: wbxml });
  const out: BootstrapPush = { wsp, mac, keyDescription: k.description, notes };
  if (sec.sec === 'USERPINMAC') out.userPin = userPinMacPin(sec.pin!.trim(), macBytes);
  return out;
}

export interface MacCheck {
  ok: boolean;
  expected: string;
  received?: string;
  keyDescription: string;
}

/** Checks a received push's MAC (and, for USERPINMAC, the full PIN typed by the user) like a handset does. */
export function verifyBootstrapMac(body: Uint8Array, received: string | undefined, sec: SecInputs): MacCheck {
  if (sec.sec === 'USERPINMAC') {
    const full = (sec.pin ?? '').trim();
    if (full.length % 2 || full.length < 10) throw new InvalidInput('pin', 'a USERPINMAC PIN has an even number of digits, at least 10');
    const half = full.slice(0, full.length / 2);
    const k = secKey({ ...sec, pin: half });
    const mac = hmacSha1(k.key, body);
    return { ok: userPinMacPin(half, mac) === full, expected: toHex(mac), ...(received ? { received } : {}), keyDescription: k.description };
  }
  const k = secKey(sec);
  const expected = toHex(hmacSha1(k.key, body));
  return { ok: received !== undefined && received.toUpperCase() === expected, expected, ...(received ? { received } : {}), keyDescription: k.description };
}
