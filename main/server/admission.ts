/**
 * Session slots: `maxSessions` for sessions that authenticated (or every session when client auth
 * is 'none'), and a separate small pool for sessions that have not authenticated yet, capped per
 * source address too. Unauthenticated sessions therefore never take a slot an authenticated one
 * needs, and one address cannot take the whole small pool.
 *
 * Exact under any concurrency because taking a slot is synchronous: the caller takes it before its
 * first await and gives it back on every path (LiveSessions releases it when the session closes or
 * is dropped; release is idempotent).
 */
import type { ServerLimits } from './config.js';

export type Pool = 'authenticated' | 'pre-auth';

export type AdmissionLimits = Pick<ServerLimits, 'maxSessions' | 'maxPreAuthSessions' | 'maxPreAuthSessionsPerAddress'>;

export interface Slot {
  pool: Pool;
  address: string;
  released: boolean;
}

export interface NoSlot {
  /** Which limit: all authenticated sessions, the unauthenticated pool, or this address's share of it. */
  limit: 'sessions' | 'pre-auth' | 'per-address';
  reason: string;
  /** Seconds a device should wait before trying again (the Retry-After header). */
  retryAfterSec: number;
}

export class Admission {
  private authenticated = 0;
  private preAuth = 0;
  private readonly preAuthByAddress = new Map<string, number>();

  constructor(
    private readonly limits: AdmissionLimits,
    /** Retry-After for a full authenticated pool, and for the unauthenticated one (which empties in seconds). */
    private readonly retryAfterSec: { authenticated: number; preAuth: number } = { authenticated: 30, preAuth: 5 },
  ) {}

  /** A slot in `pool`, or why there is none. */
  take(pool: Pool, address: string): Slot | NoSlot {
    const why = pool === 'authenticated' ? this.authenticatedFull() : this.preAuthFull(address);
    if (why) return why;
    if (pool === 'authenticated') this.authenticated++;
    else {
      this.preAuth++;
      this.preAuthByAddress.set(address, (this.preAuthByAddress.get(address) ?? 0) + 1);
    }
    return { pool, address, released: false };
  }

  /** Moves a session that just authenticated into the authenticated pool (its pre-auth slot is freed). */
  promote(slot: Slot): NoSlot | undefined {
    if (slot.released) throw new Error('promote: the slot was already released');
    if (slot.pool === 'authenticated') return undefined;
    const why = this.authenticatedFull();
    if (why) return why;
    this.releasePreAuth(slot.address);
    this.authenticated++;
    slot.pool = 'authenticated';
    return undefined;
  }

  release(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    if (slot.pool === 'authenticated') this.authenticated--;
    else this.releasePreAuth(slot.address);
  }

  counts(): { authenticated: number; preAuth: number; preAuthAddresses: number } {
    return { authenticated: this.authenticated, preAuth: this.preAuth, preAuthAddresses: this.preAuthByAddress.size };
  }

  private authenticatedFull(): NoSlot | undefined {
    const max = this.limits.maxSessions;
    return this.authenticated >= max ? { limit: 'sessions', reason: `${this.authenticated} sessions open, the limit is ${max}`, retryAfterSec: this.retryAfterSec.authenticated } : undefined;
  }

  private preAuthFull(address: string): NoSlot | undefined {
    const l = this.limits;
    if (this.preAuth >= l.maxPreAuthSessions) {
      return { limit: 'pre-auth', reason: `${this.preAuth} sessions waiting to authenticate, the limit is ${l.maxPreAuthSessions}`, retryAfterSec: this.retryAfterSec.preAuth };
    }
    const mine = this.preAuthByAddress.get(address) ?? 0;
    if (mine >= l.maxPreAuthSessionsPerAddress) {
      return { limit: 'per-address', reason: `${mine} sessions from ${address} waiting to authenticate, the limit per address is ${l.maxPreAuthSessionsPerAddress}`, retryAfterSec: this.retryAfterSec.preAuth };
    }
    return undefined;
  }

  private releasePreAuth(address: string): void {
    this.preAuth--;
    const n = (this.preAuthByAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.preAuthByAddress.delete(address);
    else this.preAuthByAddress.set(address, n);
  }
}

export function isSlot(x: Slot | NoSlot): x is Slot {
  return 'pool' in x;
}
