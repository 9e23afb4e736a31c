/**
 * SyncML DM credentials (OMA DM Security 1.2): basic, MD5 digest and the HMAC transport header.
 * Pure functions over bytes and strings; the session engine decides which to use and when.
 */
import * as crypto from 'node:crypto';

export type AuthType = 'basic' | 'md5' | 'hmac';

export const AUTH_META_TYPE: Readonly<Record<AuthType, string>> = {
  basic: 'syncml:auth-basic',
  md5: 'syncml:auth-md5',
  hmac: 'syncml:auth-MAC',
};

export function authTypeFromMeta(type: string | undefined): AuthType | undefined {
  switch (type?.trim().toLowerCase()) {
    case 'syncml:auth-basic':
      return 'basic';
    case 'syncml:auth-md5':
      return 'md5';
    case 'syncml:auth-mac':
      return 'hmac';
    default:
      return undefined;
  }
}

/**
 * crypto.hash (Node 20.12+) digests in one call, without the Hash object createHash builds for
 * every digest (that object was most of an MD5's cost: the server makes several per round trip).
 */
type OneShot = (algorithm: string, data: Uint8Array | string, outputEncoding: 'base64' | 'buffer') => string | Buffer;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

function md5(data: Uint8Array | string): Buffer {
  return oneShot ? (oneShot('md5', data, 'buffer') as Buffer) : crypto.createHash('md5').update(data).digest();
}

function md5Base64(data: Uint8Array | string): string {
  return oneShot ? (oneShot('md5', data, 'base64') as string) : crypto.createHash('md5').update(data).digest('base64');
}

const b64 = (data: Uint8Array): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');

/** Cred Data for syncml:auth-basic: B64(name:password). */
export function basicCredential(name: string, password: string): string {
  return Buffer.from(`${name}:${password}`, 'utf8').toString('base64');
}

export function parseBasicCredential(data: string): { name: string; password: string } | undefined {
  const text = Buffer.from(data.trim(), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { name: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * B64(MD5(name:password)) + ":", the shared first part of the MD5 and HMAC digests, as bytes. It
 * depends only on the credential, and a server checks the same few credentials on every message:
 * remembered, keyed by the very text it digests (so a changed name or secret is a new entry), and
 * bounded (the oldest goes first), so a flood of made-up names cannot grow it without end.
 */
const userDigests = new Map<string, Buffer>();
export const USER_DIGESTS_KEPT = 1024;

function userDigestPrefix(name: string, password: string): Buffer {
  const key = `${name}:${password}`;
  let d = userDigests.get(key);
  if (d === undefined) {
    d = Buffer.from(`${b64(md5(key))}:`, 'latin1');
    if (userDigests.size >= USER_DIGESTS_KEPT) userDigests.delete(userDigests.keys().next().value as string);
    userDigests.set(key, d);
  }
  return d;
}

/** How many user digests are remembered (tests: the cache stays bounded). */
export function userDigestsKept(): number {
  return userDigests.size;
}

/**
 * Cred Data for syncml:auth-md5: B64(MD5(B64(MD5(name:password)) + ":" + nonce)).
 * The nonce is the raw bytes (NextNonce is sent base64; callers decode it first).
 */
export function md5Credential(name: string, password: string, nonce: Uint8Array): string {
  const prefix = userDigestPrefix(name, password);
  const data = Buffer.allocUnsafe(prefix.length + nonce.length);
  prefix.copy(data, 0);
  data.set(nonce, prefix.length);
  return md5Base64(data);
}

/** The `mac` of an x-syncml-hmac header, over the exact body bytes. */
export function hmacMac(name: string, password: string, nonce: Uint8Array, body: Uint8Array): string {
  return md5Base64(Buffer.concat([userDigestPrefix(name, password), nonce, Buffer.from(`:${md5Base64(body)}`)]));
}

export function hmacHeader(name: string, password: string, nonce: Uint8Array, body: Uint8Array): string {
  return `algorithm=MD5, username="${name}", mac=${hmacMac(name, password, nonce, body)}`;
}

export interface HmacHeaderFields {
  algorithm: string;
  username: string;
  mac: string;
}

/** Parses `algorithm=MD5, username="NAME", mac=MAC` (order and quoting vary between peers). */
export function parseHmacHeader(value: string): HmacHeaderFields | undefined {
  const fields = new Map<string, string>();
  for (const m of value.matchAll(/([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g)) fields.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  const username = fields.get('username');
  const mac = fields.get('mac');
  if (username === undefined || !mac) return undefined;
  return { algorithm: fields.get('algorithm') ?? 'MD5', username, mac };
}

const BASE64_TEXT = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The nonce bytes a stored NextNonce stands for. NextNonce travels base64; Android decodes it and falls
 * back to the raw text when it is not base64, so we do the same.
 */
export function nonceBytes(nextNonce: string): Uint8Array {
  const t = nextNonce.trim();
  // Decoded straight into bytes of its own (not a slice of Node's shared pool, then a copy of it):
  // both sides decode a nonce or two per message.
  const base64 = t.length > 0 && t.length % 4 === 0 && BASE64_TEXT.test(t);
  const size = base64 ? (t.length / 4) * 3 - (t.endsWith('==') ? 2 : t.endsWith('=') ? 1 : 0) : Buffer.byteLength(t, 'utf8');
  const out = Buffer.allocUnsafeSlow(size);
  const written = out.write(t, 0, base64 ? 'base64' : 'utf8');
  return new Uint8Array(out.buffer, out.byteOffset, written);
}
