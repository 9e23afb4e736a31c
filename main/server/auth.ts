/**
 * The server's side of DM authentication, as pure functions over the device's stored auth state:
 * verify the client (basic, MD5 with rotating nonces, x-syncml-hmac), build challenges, throttle
 * repeated failures, and build the server's own credentials for the client.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  AUTH_META_TYPE, authTypeFromMeta, basicCredential, hmacHeader, hmacMac, md5Credential, nonceBytes, parseHmacHeader,
  type AuthType,
} from '../protocol/auth.js';
import type { Chal, Cred } from '../protocol/model.js';
import type { ClientAuthMode, Credential, ServerLimits } from './config.js';
import type { DeviceAuthState } from './types.js';

export interface ClientAuthInput {
  mode: ClientAuthMode;
  /** SyncHdr Cred of the message, if any. */
  cred?: Cred;
  /** The x-syncml-hmac transport header, if any. */
  hmac?: string;
  /** The exact body bytes (HMAC covers them). */
  body: Uint8Array;
  /** What the device must present; undefined = nothing configured (every attempt fails). */
  expected?: Credential;
  state: DeviceAuthState;
  now: number;
  limits: Pick<ServerLimits, 'nonceMaxAgeMs' | 'maxAuthFailures' | 'authFailureWindowMs' | 'authLockoutMs'>;
  /** A fresh random nonce, base64 (injected so tests are deterministic). */
  newNonce: () => string;
}

export interface ClientAuthOutcome {
  ok: boolean;
  /** SyncHdr status: 200 / 212 on success, 401 / 407 on failure. */
  code: number;
  /** Chal to put on the SyncHdr status (a new nonce for MD5/HMAC). */
  chal?: Chal;
  /** The device's auth state after this message. */
  state: DeviceAuthState;
  /** Why it failed, for the session log. */
  reason?: string;
}

export function challenge(type: AuthType, nextNonce?: string): Chal {
  return { meta: { type: AUTH_META_TYPE[type], format: 'b64', ...(nextNonce !== undefined ? { nextNonce } : {}) } };
}

export function isThrottled(state: DeviceAuthState, now: number): boolean {
  return state.lockedUntil !== undefined && state.lockedUntil > now;
}

/** Adds a failure; locks the device when too many fall inside the window. */
export function recordFailure(state: DeviceAuthState, now: number, limits: ClientAuthInput['limits']): DeviceAuthState {
  const failures = [...state.authFailures.filter((t) => now - t < limits.authFailureWindowMs), now];
  const next: DeviceAuthState = { ...state, authFailures: failures };
  if (failures.length >= limits.maxAuthFailures) {
    next.lockedUntil = now + limits.authLockoutMs;
    next.authFailures = [];
  }
  return next;
}

/**
 * Whether a turn that went from `before` to `after` recorded a failure (recordFailure above): a
 * credential was checked and was wrong. Missing credentials, a nonce not yet issued or expired do
 * not count, and are not guesses. Lets the server throttle guesses without reading log notes.
 */
export function failureRecorded(before: DeviceAuthState, after: DeviceAuthState | undefined, now: number, limits: Pick<ServerLimits, 'authFailureWindowMs'>): boolean {
  if (!after) return false;
  if (after.lockedUntil !== undefined && after.lockedUntil > now && after.lockedUntil !== before.lockedUntil) return true;
  const kept = before.authFailures.filter((t) => now - t < limits.authFailureWindowMs).length;
  return after.authFailures.length === kept + 1 && after.authFailures[after.authFailures.length - 1] === now;
}

/** The device's state without its lockout (for a check from an address that never failed, see auth-throttle.ts). */
export function withoutLockout(state: DeviceAuthState): DeviceAuthState {
  if (state.lockedUntil === undefined) return state;
  const { lockedUntil: _, ...rest } = state;
  return rest;
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks one message's client credentials. MD5 and HMAC nonces are single use: a success or a
 * failure both issue a new one, so a replayed message (same digest, old nonce) can never pass again.
 */
export function verifyClient(input: ClientAuthInput): ClientAuthOutcome {
  const { mode, cred, state, now, limits } = input;
  if (mode === 'none') return { ok: true, code: 200, state };

  if (mode === 'hmac') {
    if (!input.hmac) return refusal(input, 407, 'no x-syncml-hmac header', false);
    const h = parseHmacHeader(input.hmac);
    if (!h) return refusal(input, 401, 'unreadable x-syncml-hmac header', true);
    if (h.algorithm.toUpperCase() !== 'MD5') return refusal(input, 401, `unsupported HMAC algorithm ${h.algorithm}`, true);
    if (state.clientNonce === undefined) return refusal(input, 401, 'no nonce issued to this device yet', false);
    if (stale(state, now, limits)) return refusal(input, 401, 'nonce expired', false);
    const exp = input.expected;
    if (!exp || h.username !== exp.name) return refusal(input, 401, `unknown user "${h.username}"`, true);
    const mac = hmacMac(exp.name, exp.secret, nonceBytes(state.clientNonce), input.body);
    if (!equalSecret(mac, h.mac)) return refusal(input, 401, 'HMAC mismatch (wrong secret, replayed or altered message)', true);
    // Every HMAC message gets a new nonce; status is 200, not 212 (the next message is checked too).
    const nonce = input.newNonce();
    return { ok: true, code: 200, chal: challenge('hmac', nonce), state: { ...state, clientNonce: nonce, clientNonceIssuedAt: now, authFailures: [] } };
  }

  if (!cred) return refusal(input, 407, 'no credentials', false);
  const type = authTypeFromMeta(cred.meta?.type) ?? 'basic';
  if (type !== mode) return refusal(input, 401, `credentials of type ${type}, ${mode} required`, true);
  const exp = input.expected;
  if (mode === 'basic') {
    if (!exp || !equalSecret(cred.data.trim(), basicCredential(exp.name, exp.secret))) return refusal(input, 401, 'wrong name or password', true);
    return { ok: true, code: 212, state: { ...state, authFailures: [] } };
  }
  // md5
  if (state.clientNonce === undefined) return refusal(input, 401, 'no nonce issued to this device yet', false);
  if (stale(state, now, limits)) return refusal(input, 401, 'nonce expired', false);
  if (!exp || !equalSecret(cred.data.trim(), md5Credential(exp.name, exp.secret, nonceBytes(state.clientNonce)))) {
    // A client that could not keep our last nonce digests the right password with an empty one
    // (libdmclient does at the start of every session). That is not a guess: challenge it with a
    // new nonce (DM security §5.1.3.3) without counting it towards the lockout.
    if (exp && equalSecret(cred.data.trim(), md5Credential(exp.name, exp.secret, new Uint8Array()))) {
      return refusal(input, 401, 'MD5 digest made with an empty nonce, not the one issued: challenged again', false);
    }
    return refusal(input, 401, 'MD5 digest mismatch (wrong credentials or a used nonce)', true);
  }
  const nonce = input.newNonce();
  return { ok: true, code: 212, chal: challenge('md5', nonce), state: { ...state, clientNonce: nonce, clientNonceIssuedAt: now, authFailures: [] } };
}

/** A refused check: a new challenge (and nonce), the failure counted when it was a guess. */
function refusal(input: ClientAuthInput, code: 401 | 407, reason: string, counts: boolean): ClientAuthOutcome {
  const { mode, state, now, limits } = input;
  let next: DeviceAuthState = state;
  let chal: Chal;
  if (mode === 'basic' || mode === 'none') chal = challenge('basic');
  else {
    const nonce = input.newNonce();
    next = { ...next, clientNonce: nonce, clientNonceIssuedAt: now };
    chal = challenge(mode, nonce);
  }
  if (counts) next = recordFailure(next, now, limits);
  return { ok: false, code, chal, state: next, reason };
}

function stale(state: DeviceAuthState, now: number, limits: ClientAuthInput['limits']): boolean {
  return state.clientNonceIssuedAt !== undefined && now - state.clientNonceIssuedAt > limits.nonceMaxAgeMs;
}

/** The Cred the server puts in its SyncHdr (basic / md5); HMAC goes in a header instead. */
export function serverCredential(cred: Credential, type: AuthType, serverNonce: string | undefined): Cred | undefined {
  switch (type) {
    case 'basic':
      return { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential(cred.name, cred.secret) };
    case 'md5':
      // A client that never challenged us has no nonce yet: libdmclient then digests with an empty one.
      return { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(cred.name, cred.secret, serverNonce ? nonceBytes(serverNonce) : new Uint8Array()) };
    case 'hmac':
      return undefined;
  }
}

export function serverHmacHeader(cred: Credential, serverNonce: string | undefined, body: Uint8Array): string {
  return hmacHeader(cred.name, cred.secret, serverNonce ? nonceBytes(serverNonce) : new Uint8Array(), body);
}
