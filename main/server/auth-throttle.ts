/**
 * Who may have their credentials checked (README "Limits before authentication"). Failed checks
 * drain two token buckets, one per source address and one per credential name (the name of the
 * credential the device must present: its own or the lab default; with MD5 the name is not in the
 * message, so it is the expected one, not the claimed one). Before a check:
 *
 * - an address whose bucket is empty is refused unchecked, unless the DevId is in good standing
 *   (it authenticated here before): a guesser cannot lock a known handset out by sharing its address;
 * - a credential whose bucket is empty is refused unchecked only from a suspect address (one that
 *   failed a check within `suspectAddressMs`); a clean address is still checked, so the right
 *   credential is never refused because someone else guessed wrong;
 * - the per-device lockout (auth.ts) binds suspect addresses only, for the same reason;
 * - a DevId in good standing passes both buckets (the per-device lockout still bounds guesses
 *   against it from suspect addresses).
 *
 * Each guess then costs the guesser a token of its address, which refills slowly; rotating DevIds
 * gains nothing. Every table is bounded (BoundedMap). The caller decides and records in one
 * synchronous step, so concurrent requests cannot slip past an empty bucket.
 */
import { BoundedMap } from './bounded-map.js';
import type { ServerLimits } from './config.js';

export type ThrottleLimits = Pick<
  ServerLimits,
  'authFailureBurstPerAddress' | 'authFailureRefillMsPerAddress' | 'authFailureBurstPerCredential' | 'authFailureRefillMsPerCredential' | 'suspectAddressMs' | 'maxThrottleEntries'
>;

/** A token bucket as plain data: `tokens` as of `at`. */
export interface Bucket {
  tokens: number;
  at: number;
}

/** The bucket's tokens at `now` (it refills one per `refillMs`, up to `burst`). */
export function tokensAt(b: Bucket | undefined, now: number, burst: number, refillMs: number): number {
  if (!b) return burst;
  return Math.min(burst, b.tokens + Math.max(0, now - b.at) / refillMs);
}

/** The bucket after one token was taken at `now` (never below zero). */
export function takeToken(b: Bucket | undefined, now: number, burst: number, refillMs: number): Bucket {
  return { tokens: Math.max(0, tokensAt(b, now, burst, refillMs) - 1), at: now };
}

/** Whole seconds until the bucket holds a token again. */
function secondsToToken(tokens: number, refillMs: number): number {
  return Math.max(1, Math.ceil(((1 - tokens) * refillMs) / 1000));
}

export type Gate =
  /** Check the credentials. `lockBinds`: the per-device lockout applies (a suspect address). */
  | { check: true; lockBinds: boolean }
  | { check: false; rule: 'address' | 'credential'; reason: string; retryAfterSec: number };

interface AddressEntry {
  bucket: Bucket;
  lastFailureAt: number;
}

export class AuthThrottle {
  private readonly addresses: BoundedMap<string, AddressEntry>;
  private readonly credentials: BoundedMap<string, Bucket>;
  /** DevIds that authenticated here (since the server started). */
  private readonly goodStanding: BoundedMap<string, true>;

  constructor(private readonly limits: ThrottleLimits) {
    this.addresses = new BoundedMap(limits.maxThrottleEntries);
    this.credentials = new BoundedMap(limits.maxThrottleEntries);
    this.goodStanding = new BoundedMap(limits.maxThrottleEntries);
  }

  /** Whether an attempt from `address` by `devId` against `credential` is checked at all. */
  gate(p: { address: string; credential: string; devId: string; now: number }): Gate {
    const l = this.limits;
    const suspect = this.isSuspect(p.address, p.now);
    if (this.goodStanding.has(p.devId, p.now)) return { check: true, lockBinds: suspect };
    const a = this.addresses.get(p.address, p.now);
    const addressTokens = tokensAt(a?.bucket, p.now, l.authFailureBurstPerAddress, l.authFailureRefillMsPerAddress);
    if (addressTokens < 1) {
      return { check: false, rule: 'address', reason: `too many failed authentications from ${p.address}`, retryAfterSec: secondsToToken(addressTokens, l.authFailureRefillMsPerAddress) };
    }
    if (suspect) {
      const c = this.credentials.get(p.credential, p.now);
      const credentialTokens = tokensAt(c, p.now, l.authFailureBurstPerCredential, l.authFailureRefillMsPerCredential);
      if (credentialTokens < 1) {
        return { check: false, rule: 'credential', reason: `too many failed authentications against credential "${p.credential}", and ${p.address} failed recently`, retryAfterSec: secondsToToken(credentialTokens, l.authFailureRefillMsPerCredential) };
      }
    }
    return { check: true, lockBinds: suspect };
  }

  /** A check failed: one token off the address's and the credential's bucket; the address is suspect now. */
  failed(p: { address: string; credential: string; now: number }): void {
    const l = this.limits;
    const a = this.addresses.get(p.address, p.now);
    this.addresses.set(p.address, { bucket: takeToken(a?.bucket, p.now, l.authFailureBurstPerAddress, l.authFailureRefillMsPerAddress), lastFailureAt: p.now }, p.now);
    const c = this.credentials.get(p.credential, p.now);
    this.credentials.set(p.credential, takeToken(c, p.now, l.authFailureBurstPerCredential, l.authFailureRefillMsPerCredential), p.now);
  }

  /** A device proved who it is: it is in good standing from now on. */
  succeeded(p: { devId: string; now: number }): void {
    this.goodStanding.set(p.devId, true, p.now);
  }

  isSuspect(address: string, now: number): boolean {
    const a = this.addresses.get(address, now);
    return a !== undefined && now - a.lastFailureAt < this.limits.suspectAddressMs;
  }

  /** What is throttled right now, for the API and the UI. */
  snapshot(now: number): { addresses: { address: string; tokens: number; lastFailureAt: string }[]; credentials: { credential: string; tokens: number }[]; goodStanding: number } {
    const l = this.limits;
    const round = (n: number) => Math.floor(n * 100) / 100;
    return {
      addresses: this.addresses.entries(now)
        .map(([address, e]) => ({ address, tokens: round(tokensAt(e.bucket, now, l.authFailureBurstPerAddress, l.authFailureRefillMsPerAddress)), lastFailureAt: new Date(e.lastFailureAt).toISOString() }))
        .filter((e) => e.tokens < l.authFailureBurstPerAddress)
        .reverse(),
      credentials: this.credentials.entries(now)
        .map(([credential, b]) => ({ credential, tokens: round(tokensAt(b, now, l.authFailureBurstPerCredential, l.authFailureRefillMsPerCredential)) }))
        .filter((e) => e.tokens < l.authFailureBurstPerCredential)
        .reverse(),
      goodStanding: this.goodStanding.size,
    };
  }
}
