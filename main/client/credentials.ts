/**
 * The handset's side of DM authentication (notes §2), over the DMAcc account's AppAuth leaves:
 *  - CLCRED (how we authenticate): basic / MD5 Cred in our SyncHdr, or the x-syncml-hmac header over
 *    the exact body; AAuthData keeps the nonce the server gave us (NextNonce, base64);
 *  - SRVCRED (how the server authenticates to us, and signs package #0): its SyncHdr Cred or its
 *    x-syncml-hmac response header, checked like intel/libdmclient does: no valid credentials, no
 *    command executed (SyncHdr and every command 401, or 407 when they are missing). For MD5 and
 *    HMAC every answer challenges with a fresh nonce (kept in SRVCRED AAuthData once sent).
 */
import {
  AUTH_META_TYPE, authTypeFromMeta, basicCredential, hmacMac, md5Credential, nonceBytes, parseHmacHeader, type AuthType,
} from '../protocol/auth.js';
import type { Chal, Cred, SyncHdr } from '../protocol/model.js';
import { randomBase64 } from '../protocol/random-pool.js';
import { DEVICE, type DmNode, type DmTree } from '../tree/tree.js';
import type { DmUri } from '../tree/uri.js';

/**
 * A DMAcc account node by its path, or by that path parsed once: a session reads and writes its
 * account's credentials on every message, and a parsed URI resolves without parsing again.
 */
export type AccountRef = string | DmUri;

function accountPathText(account: AccountRef): string {
  return typeof account === 'string' ? account : account.path;
}

/** AAuthType as DMAcc spells it (and the spellings real bootstraps use) -> our auth type. */
export function authTypeOf(aauthType: string | undefined): AuthType | undefined {
  const t = (aauthType ?? '').trim();
  switch (t.toUpperCase()) {
    case 'BASIC':
      return 'basic';
    case 'DIGEST':
    case 'MD5':
      return 'md5';
    case 'HMAC':
    case 'HMAC-MD5':
      return 'hmac';
    default:
      return authTypeFromMeta(t);
  }
}

export const AAUTH_TYPE: Readonly<Record<AuthType, string>> = { basic: 'BASIC', md5: 'DIGEST', hmac: 'HMAC' };

export interface AccountCredential {
  type: AuthType;
  name: string;
  secret: string;
  /** Nonce, base64 (AAuthData). */
  nonce: string;
}

/** The AppAuth/<X> node of `level` under an account node. */
export function appAuthNode(tree: DmTree, account: AccountRef, level: 'CLCRED' | 'SRVCRED'): DmNode | undefined {
  const acc = tree.lookup(account);
  for (const x of acc?.child('AppAuth')?.children() ?? []) {
    if (x.child('AAuthLevel')?.value === level) return x;
  }
  return undefined;
}

function leafText(n: DmNode | undefined): string {
  return n !== undefined && typeof n.value === 'string' ? n.value : '';
}

export function readCredential(tree: DmTree, account: AccountRef, level: 'CLCRED' | 'SRVCRED'): (AccountCredential & { typeText: string }) | undefined {
  const x = appAuthNode(tree, account, level);
  if (!x) return undefined;
  const typeText = leafText(x.child('AAuthType'));
  const type = authTypeOf(typeText) ?? 'md5';
  return { type, typeText, name: leafText(x.child('AAuthName')), secret: leafText(x.child('AAuthSecret')), nonce: leafText(x.child('AAuthData')) };
}

/**
 * The parsed URI of each AppAuth leaf written, by its AppAuth/<X> node: a session writes a nonce
 * or two on every message, and the path text of the node and its parse were most of that. A node
 * keeps its path (DM has no rename; a node deleted and added again is a new object).
 */
const leafUris = new WeakMap<DmNode, Map<string, DmUri | string>>();

function leafUri(tree: DmTree, x: DmNode, leaf: string): DmUri | string {
  let m = leafUris.get(x);
  if (m === undefined) leafUris.set(x, (m = new Map()));
  let u = m.get(leaf);
  if (u === undefined) {
    const text = `${tree.pathOf(x)}/${leaf}`;
    const p = tree.parse(text);
    u = p.ok ? p.value : text;
    m.set(leaf, u);
  }
  return u;
}

/** Writes an AppAuth leaf as the device itself (no ACL applies). Throws if the tree refuses. */
export function writeCredentialLeaf(tree: DmTree, account: AccountRef, level: 'CLCRED' | 'SRVCRED', leaf: 'AAuthData' | 'AAuthType', value: string): void {
  const x = appAuthNode(tree, account, level);
  if (!x) throw new Error(`${accountPathText(account)} has no ${level} AppAuth`);
  const r = tree.replace(DEVICE, leafUri(tree, x, leaf), value);
  if (!r.ok) throw new Error(`cannot store ${level} ${leaf}: ${r.message}`);
}

/**
 * A server's NextNonce as AAuthData (format b64) can hold it: as it came (trimmed) when it is
 * base64, else the base64 of the bytes nonceBytes takes from its text, so the digest computed from
 * the stored value is the one computed from the text. Writing the text itself made the tree refuse
 * it (not base64) and writeCredentialLeaf throw out of connect() (found by
 * test/integration/handset-fuzz.test.ts).
 */
export function storableNonce(nextNonce: string): string {
  const t = nextNonce.trim();
  if (t === '' || (t.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(t))) return t;
  return Buffer.from(nonceBytes(nextNonce)).toString('base64');
}

/**
 * A fresh nonce to challenge the server with (base64 of 16 random bytes). From the pool that is
 * refilled in bulk: every server message gets one, and crypto.randomBytes per call costs far more.
 */
export function newNonce(): string {
  return randomBase64(16);
}

/** Our SyncHdr Cred (basic / MD5); HMAC travels in a header instead. */
export function clientCred(c: AccountCredential): Cred | undefined {
  switch (c.type) {
    case 'basic':
      return { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential(c.name, c.secret) };
    case 'md5':
      return { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(c.name, c.secret, nonceBytes(c.nonce)) };
    case 'hmac':
      return undefined;
  }
}

/**
 * Do the server's `got` and our `want` (base64 or a base64 MAC: ASCII) say the same, trimmed, in
 * time that does not depend on where they differ? Against ASCII, equal UTF-8 bytes are equal UTF-16
 * units (a non-ASCII unit makes bytes no ASCII text has), so the units are compared as they are,
 * without two Buffers per message.
 */
function same(got: string, want: string): boolean {
  const x = got.trim();
  const y = want.trim();
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < y.length; i++) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}

export interface ServerVerdict {
  /** Status for the server's SyncHdr: 212 (basic/MD5), 200 (HMAC, or no check), 401 wrong, 407 missing. */
  status: number;
  chal?: Chal;
  /** Why, for the log. */
  reason: string;
  /** The nonce this answer challenges with: becomes SRVCRED AAuthData once the answer is sent. */
  nextNonce?: string;
}

/** A verdict that carries our challenge (and the nonce in it, unless basic) for the server's next message. */
function challenging(status: number, chal: Chal, nextNonce: string | undefined, reason: string): ServerVerdict {
  return { status, chal, reason, ...(nextNonce !== undefined ? { nextNonce } : {}) };
}

/**
 * Checks the server's credentials on one message: its SyncHdr Cred (basic, MD5 with the nonce we
 * last gave it) or its x-syncml-hmac header over the exact body bytes.
 */
export function checkServer(expected: AccountCredential, hdr: SyncHdr, hmac: string | undefined, body: Uint8Array, fresh: () => string = newNonce): ServerVerdict {
  const type = expected.type;
  const nextNonce = type === 'basic' ? undefined : fresh();
  const chal: Chal = { meta: { type: AUTH_META_TYPE[type], format: 'b64', ...(nextNonce !== undefined ? { nextNonce } : {}) } };
  if (type === 'hmac') {
    if (!hmac) return challenging(407, chal, nextNonce, 'no x-syncml-hmac header from the server');
    const h = parseHmacHeader(hmac);
    if (!h) return challenging(401, chal, nextNonce, 'unreadable x-syncml-hmac header from the server');
    if (h.algorithm.toUpperCase() !== 'MD5') return challenging(401, chal, nextNonce, `server HMAC algorithm ${h.algorithm} is not MD5`);
    if (h.username !== expected.name) return challenging(401, chal, nextNonce, `server HMAC username "${h.username}", expected "${expected.name}"`);
    const mac = hmacMac(expected.name, expected.secret, nonceBytes(expected.nonce), body);
    if (!same(h.mac, mac)) return challenging(401, chal, nextNonce, 'server HMAC does not match the body (wrong secret or nonce)');
    return challenging(200, chal, nextNonce, 'server authenticated (HMAC)');
  }
  const cred = hdr.cred;
  if (!cred) return challenging(407, chal, nextNonce, 'the server sent no Cred');
  const got = authTypeFromMeta(cred.meta?.type) ?? 'basic';
  if (got !== type) return challenging(401, chal, nextNonce, `server Cred is ${got}, we expect ${type}`);
  const want = type === 'basic' ? basicCredential(expected.name, expected.secret) : md5Credential(expected.name, expected.secret, nonceBytes(expected.nonce));
  if (!same(cred.data, want)) return challenging(401, chal, nextNonce, `server Cred (${type}) is wrong`);
  return { status: 212, reason: `server authenticated (${type})`, ...(type === 'md5' ? { chal, ...(nextNonce !== undefined ? { nextNonce } : {}) } : {}) };
}
