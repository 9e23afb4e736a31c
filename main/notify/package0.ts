/**
 * Notification package #0 (DM-1, OMA DM Notification 1.2):
 *   digest(16) | version 10 bits | ui-mode 2 | initiator 1 | future 27 (zero) | session id 16 |
 *   server-id length 8 | server-id | vendor data
 * digest = MD5( B64(MD5(serverid:password)) ":" nonce ":" B64(MD5(trigger)) ), trigger = every byte after
 * the digest. That is the x-syncml-hmac construction of protocol/auth.ts, so the digest reuses it.
 */
import { createHash } from 'node:crypto';
import { hmacMac } from '../protocol/auth.js';
import { ByteReader, bytesEqual, toHex } from './bytes.js';
import { DecodeFailure, InvalidInput, ok, type Result } from './errors.js';

/** 1.2 in the 10-bit version field; the only value libdmclient accepts. */
export const PACKAGE0_VERSION = 11;
export const PACKAGE0_FIXED_LENGTH = 24;
export const PACKAGE0_MEDIA_TYPE = 'application/vnd.syncml.notification';

export const UI_MODES = ['unspecified', 'background', 'informative', 'interactive'] as const;
export type UiModeName = (typeof UI_MODES)[number];
export type Initiator = 'user' | 'server';

/**
 * Nonces a server falls back to when the device's digest check fails and it asks for a resync:
 * libdmclient hashes the text `0x00000000`, the Android engine 4 zero bytes (`AAAAAA==` base64-decoded).
 */
export const RESYNC_NONCES: Readonly<Record<'libdmclient' | 'android', Uint8Array>> = {
  libdmclient: new Uint8Array(Buffer.from('0x00000000', 'utf8')),
  android: new Uint8Array(4),
};

export interface Package0Fields {
  version?: number;
  uiMode: UiModeName;
  initiator: Initiator;
  /** 0..0xFFFF. */
  sessionId: number;
  serverId: string;
  vendorData?: Uint8Array;
}

export interface Package0Credentials {
  /** SRVCRED AAuthSecret. */
  secret: string;
  /** The server nonce (SRVCRED AAuthData) as raw bytes. */
  nonce: Uint8Array;
}

export interface ParsedPackage0 extends Required<Omit<Package0Fields, 'vendorData'>> {
  digest: Uint8Array;
  trigger: Uint8Array;
  /** Session id as it goes into SyncHdr SessionID: uppercase hex, no leading zeros. */
  sessionIdHex: string;
  vendorData: Uint8Array;
  /** The 27 future-use bits, which must be zero. */
  futureBits: number;
  warnings: string[];
}

/** SyncHdr SessionID text for a notification's session id (0x1234 -> `1234`, 0x00AF -> `AF`). */
export function sessionIdHex(sessionId: number): string {
  return sessionId.toString(16).toUpperCase();
}

/** `1234`, `0x1234`, `af` -> number; refuses anything that does not fit 16 bits. */
export function parseSessionIdHex(text: string): number {
  const t = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,4}$/.test(t)) throw new InvalidInput('session', `"${text}" is not 1 to 4 hex digits (a 16-bit session id)`);
  return parseInt(t, 16);
}

export function encodeTrigger(f: Package0Fields): Uint8Array {
  const version = f.version ?? PACKAGE0_VERSION;
  if (!Number.isInteger(version) || version < 0 || version > 0x3ff) throw new InvalidInput('version', 'must fit 10 bits');
  if (!Number.isInteger(f.sessionId) || f.sessionId < 0 || f.sessionId > 0xffff) throw new InvalidInput('session', 'must fit 16 bits');
  const ui = UI_MODES.indexOf(f.uiMode);
  if (ui < 0) throw new InvalidInput('ui', `must be one of ${UI_MODES.join(', ')}`);
  const id = Buffer.from(f.serverId, 'utf8');
  if (id.length === 0) throw new InvalidInput('server-id', 'must not be empty');
  if (id.length > 255) throw new InvalidInput('server-id', `is ${id.length} bytes, the length field holds at most 255`);
  const vendor = f.vendorData ?? new Uint8Array();
  const t = Buffer.alloc(8 + id.length + vendor.length);
  // Bits 0..15: version(10) ui(2) initiator(1) and the first 3 future bits (zero).
  t.writeUInt16BE((version << 6) | (ui << 4) | ((f.initiator === 'server' ? 1 : 0) << 3), 0);
  t.writeUInt16BE(f.sessionId, 5);
  t[7] = id.length;
  id.copy(t, 8);
  Buffer.from(vendor).copy(t, 8 + id.length);
  return new Uint8Array(t);
}

/** The 16-byte digest over a trigger. */
export function package0Digest(serverId: string, cred: Package0Credentials, trigger: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.from(hmacMac(serverId, cred.secret, cred.nonce, trigger), 'base64'));
}

export function buildPackage0(f: Package0Fields, cred: Package0Credentials): Uint8Array {
  const trigger = encodeTrigger(f);
  const digest = package0Digest(f.serverId, cred, trigger);
  const out = new Uint8Array(digest.length + trigger.length);
  out.set(digest, 0);
  out.set(trigger, digest.length);
  return out;
}

export function parsePackage0(bytes: Uint8Array): Result<ParsedPackage0> {
  const r = new ByteReader(bytes);
  try {
    if (bytes.length < PACKAGE0_FIXED_LENGTH) r.fail('truncated', `package #0 is ${bytes.length} bytes, the fixed part alone is ${PACKAGE0_FIXED_LENGTH}`, bytes.length);
    const digest = r.take(16, 'digest');
    const trigger = bytes.subarray(16);
    const b0 = r.u8('version');
    const b1 = r.u8('version');
    const version = (b0 << 2) | (b1 >> 6);
    const uiMode = UI_MODES[(b1 >> 4) & 3]!;
    const initiator: Initiator = (b1 >> 3) & 1 ? 'server' : 'user';
    const f = r.take(3, 'future-use bits');
    const futureBits = ((b1 & 7) << 24) | (f[0]! << 16) | (f[1]! << 8) | f[2]!;
    const sid = r.take(2, 'session id');
    const sessionId = (sid[0]! << 8) | sid[1]!;
    const idLen = r.u8('server-id length');
    const idBytes = r.take(idLen, `server-id (length ${idLen})`);
    const serverId = Buffer.from(idBytes).toString('utf8');
    const vendorData = r.rest();
    const warnings: string[] = [];
    if (version !== PACKAGE0_VERSION) warnings.push(`version ${version} is not 11 (DM 1.2); libdmclient rejects it`);
    if (futureBits !== 0) warnings.push(`future-use bits are not zero (0x${futureBits.toString(16).padStart(7, '0')})`);
    if (idLen === 0) warnings.push('server-id is empty');
    return ok({ digest, trigger, version, uiMode, initiator, sessionId, sessionIdHex: sessionIdHex(sessionId), serverId, vendorData, futureBits, warnings });
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, error: e.error };
    throw e;
  }
}

export interface DigestCheck {
  ok: boolean;
  /** Which nonce matched: the one given, or a resync nonce. */
  matched?: 'nonce' | 'resync:libdmclient' | 'resync:android';
  /** Everything that went into the digest, for a person comparing with the server's log. */
  inputs: {
    serverId: string;
    nonceHex: string;
    nonceText: string;
    /** B64(MD5(serverid:password)). */
    userDigestB64: string;
    /** B64(MD5(trigger)). */
    triggerDigestB64: string;
    triggerHex: string;
  };
  expectedHex: string;
  receivedHex: string;
}

const md5 = (d: Uint8Array | string) => createHash('md5').update(d).digest();

export function verifyPackage0(pkg: ParsedPackage0, cred: Package0Credentials, tryResync = true): DigestCheck {
  const expected = package0Digest(pkg.serverId, cred, pkg.trigger);
  let matched: DigestCheck['matched'];
  if (bytesEqual(expected, pkg.digest)) matched = 'nonce';
  else if (tryResync) {
    for (const [name, nonce] of Object.entries(RESYNC_NONCES)) {
      if (bytesEqual(package0Digest(pkg.serverId, { secret: cred.secret, nonce }, pkg.trigger), pkg.digest)) {
        matched = `resync:${name}` as DigestCheck['matched'];
        break;
      }
    }
  }
  return {
    ok: matched === 'nonce',
    ...(matched ? { matched } : {}),
    inputs: {
      serverId: pkg.serverId,
      nonceHex: toHex(cred.nonce),
      nonceText: Buffer.from(cred.nonce).toString('latin1'),
      userDigestB64: md5(`${pkg.serverId}:${cred.secret}`).toString('base64'),
      triggerDigestB64: md5(pkg.trigger).toString('base64'),
      triggerHex: toHex(pkg.trigger),
    },
    expectedHex: toHex(expected),
    receivedHex: toHex(pkg.digest),
  };
}
