/**
 * The checks behind the UI's forms, as pure functions that say in words why a typed value is not
 * acceptable (or null). The renderer runs them as the user types (next to the field, Save disabled
 * while any fails); the contract runs the same ones at the boundary, so a value that slips past
 * the UI gets the same sentence back instead of raw schema text.
 *
 * Browser-safe: no Node, no zod.
 */
import { deviceIdProblem } from '../protocol/device-id.js';

/** Numeric server settings: [min, max] (the contract's ServerSettingsSchema uses these too). */
export const SETTING_RANGES = {
  port: [0, 65535],
  sessionTimeoutSec: [1, 24 * 3600],
  stepHoldSec: [1, 3600],
  maxMsgSize: [512, 64 * 1024 * 1024],
} as const satisfies Record<string, readonly [number, number]>;

/** Most virtual handsets one "Add" creates. */
export const MAX_HANDSETS_PER_ADD = 100;

function shown(text: string, max = 24): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max - 3)}...` : text);
}

/** Why `text` is not a whole number in min..max, or null. Empty is an error unless `optional`. */
export function integerProblem(text: string, min: number, max: number, opts: { optional?: boolean } = {}): string | null {
  const t = text.trim();
  if (t === '') return opts.optional ? null : `required: a whole number from ${min} to ${max}`;
  if (!/^[+-]?\d+$/.test(t)) return `${shown(t)} is not a whole number (${min} to ${max})`;
  const n = Number(t);
  if (n < min || n > max) return `${n} is out of range: ${min} to ${max}`;
  return null;
}

/** The same check for a number that already is one (the contract's side). */
export function integerValueProblem(n: number, min: number, max: number): string | null {
  if (!Number.isInteger(n)) return `${n} is not a whole number (${min} to ${max})`;
  if (n < min || n > max) return `${n} is out of range: ${min} to ${max}`;
  return null;
}

/**
 * The public URL devices are told to use (RespURI base, bootstrap profiles): empty means "derived
 * from the address and port". Otherwise an absolute http(s) URL with a host, no fragment and no
 * user:password (a credential in a URL ends up in every device's tree and log).
 */
export function publicUrlProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return null;
  if (/\s/.test(t)) return 'a URL has no spaces';
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return /^[a-z][a-z0-9+.-]*:/i.test(t) ? `${shown(t, 40)} is not a URL` : `${shown(t, 40)} is not a URL: it needs http:// or https://, e.g. https://dm.lab.example:8443/dm`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `the scheme must be http or https, not ${u.protocol.slice(0, -1)}`;
  if (u.hostname === '') return 'the URL needs a host name';
  if (u.username || u.password) return 'no user:password in the URL (devices authenticate with credentials, not the URL)';
  if (u.hash) return 'no #fragment: devices do not send it';
  return null;
}

/** The listen address: an IPv4/IPv6 address or a host name. */
export function hostProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return 'required: an address to listen on, e.g. 0.0.0.0 (all) or 127.0.0.1';
  if (t.length > 255) return 'at most 255 characters';
  if (/^[0-9.]+$/.test(t)) {
    const parts = t.split('.');
    if (parts.length !== 4 || parts.some((p) => p === '' || Number(p) > 255)) return `${shown(t)} is not an IPv4 address`;
    return null;
  }
  if (t.includes(':')) return /^[0-9a-f:.]+$/i.test(t) ? null : `${shown(t)} is not an IPv6 address`;
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(t)) return `${shown(t)} is not a host name (letters, digits, - and .)`;
  return null;
}

export function serverIdProblem(text: string): string | null {
  if (text.trim() === '') return 'required: the name this server gives in SyncHdr Source';
  if (text.length > 128) return 'at most 128 characters';
  if (text !== text.trim()) return 'no spaces at the start or end';
  return null;
}

/** A name/secret pair where both empty means "none". */
export function credentialProblem(name: string, secret: string): string | null {
  if (name === '' && secret === '') return null;
  if (name === '') return 'a name is needed with the secret';
  if (name.length > 256) return 'the name has at most 256 characters';
  if (secret.length > 1024) return 'the secret has at most 1024 characters';
  return null;
}

/** "Add N handsets": a whole number 1..MAX_HANDSETS_PER_ADD. */
export function handsetCountProblem(text: string, max = MAX_HANDSETS_PER_ADD): string | null {
  return integerProblem(text, 1, max);
}

function luhnDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(i) - 48;
    if ((body.length - i) % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

const DEVID_FORMS = 'IMEI:<15 digits>, MEID:<14 hex>, ESN:<8 hex>, MAC:<12 hex>, UUID:<8-4-4-4-12 hex>';

/**
 * Why `devId` is not one of the DevId forms a device certificate is issued for (DevInfo/DevId as
 * devices report it: IMEI with its Luhn check digit, MEID, ESN, MAC, UUID), or null. The
 * certificate's CN is compared with the DevId the device sends, so a made-up id such as "hello"
 * gives a certificate no device can use.
 */
export function certificateDevIdProblem(devId: string): string | null {
  const base = deviceIdProblem(devId);
  if (base) return `the DevId ${base}`;
  const m = /^([A-Za-z]+):(.*)$/.exec(devId);
  if (!m) {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(devId)) return null;
    return `${shown(devId, 40)} is not a DevId: expected ${DEVID_FORMS}`;
  }
  const [, prefix, rest] = m as unknown as [string, string, string];
  switch (prefix) {
    case 'IMEI': {
      if (!/^\d{15}$/.test(rest)) return `an IMEI is 15 digits after "IMEI:" (${rest.length} characters given${/\D/.test(rest) ? ', not all digits' : ''})`;
      const want = luhnDigit(rest.slice(0, 14));
      if (Number(rest[14]) !== want) return `IMEI check digit wrong: the last digit should be ${want} (Luhn over the first 14)`;
      return null;
    }
    case 'MEID':
      return /^[0-9A-Fa-f]{14}$/.test(rest) ? null : 'a MEID is 14 hex digits after "MEID:"';
    case 'ESN':
      return /^[0-9A-Fa-f]{8}$/.test(rest) ? null : 'an ESN is 8 hex digits after "ESN:"';
    case 'MAC':
      return /^[0-9A-Fa-f]{12}$/.test(rest) || /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(rest) ? null : 'a MAC is 12 hex digits after "MAC:"';
    case 'UUID':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(rest) ? null : 'a UUID is 8-4-4-4-12 hex digits after "UUID:"';
    default:
      return /^(imei|meid|esn|mac|uuid)$/i.test(prefix) ? `write the prefix in capitals: ${prefix.toUpperCase()}:` : `unknown DevId prefix "${prefix}:": expected ${DEVID_FORMS}`;
  }
}
