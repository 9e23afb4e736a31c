/**
 * The server's front desk for devices that have not proved who they are (README "Limits before
 * authentication"). It owns everything a stranger can make the server remember, each bounded:
 * the failure buckets (auth-throttle.ts), the ring of recent refusals (failure-ring.ts), the
 * failures and lockout of devices that have no row (or whose row must not be written for a guess),
 * and the sessions that failed authentication (failed-sessions.ts). Pure bookkeeping: the server
 * runs the engine and answers; this decides who is checked and records what happened.
 */
import { failureRecorded, withoutLockout } from './auth.js';
import { AuthThrottle, type Gate } from './auth-throttle.js';
import { BoundedMap } from './bounded-map.js';
import type { ServerLimits } from './config.js';
import type { DeviceView, EngineEffects, EngineSession } from './engine.js';
import { FailedSessions, type FailedSession } from './failed-sessions.js';
import { FailureRing, type RefusalEntry, type RefusalKind } from './failure-ring.js';
import type { DeviceAuthState } from './types.js';

/** A device's failures and lockout, shared by all its sessions (its nonces stay with each session). */
interface Strikes {
  authFailures: number[];
  lockedUntil?: number;
}

/** What the credential name is when none is configured for the device (every attempt fails). */
export const NO_CREDENTIAL = '(none configured)';

/** The turn's refusal as the ring and the event stream show it. */
export interface Refusal {
  kind: RefusalKind;
  reason: string;
  /** A credential was checked and was wrong (a guess). */
  guess: boolean;
}

export class PreAuthDesk {
  readonly throttle: AuthThrottle;
  readonly ring: FailureRing;
  readonly failed: FailedSessions;
  private readonly strikes: BoundedMap<string, Strikes>;
  private lastId = 0;
  /** Where ids of sessions not yet authenticated come from, when not this process's counter (a shared store: sharedPreAuthId). */
  idSource?: () => number;

  constructor(private readonly limits: ServerLimits) {
    this.throttle = new AuthThrottle(limits);
    this.ring = new FailureRing(limits.failureRingSize);
    this.failed = new FailedSessions(limits.maxThrottleEntries, limits.sessionTimeoutMs);
    this.strikes = new BoundedMap(limits.maxThrottleEntries, Math.max(limits.authFailureWindowMs, limits.authLockoutMs));
  }

  /** An id for a session kept in memory only: negative, so it never meets a store id. */
  newSessionId(): number {
    if (this.idSource) return this.idSource();
    return --this.lastId;
  }

  /**
   * The device as a check sees it: nonces as `view` has them (its row's, or those its session was
   * given), failures and lockout as all its sessions left them. Without the lockout when the
   * address is clean (`lockBinds` false): someone else's failures never refuse a device unchecked.
   */
  checkedView(view: DeviceView, lockBinds: boolean, now: number): DeviceView {
    const s = this.strikes.get(view.devId, now);
    let auth: DeviceAuthState = s ? { ...view.auth, authFailures: s.authFailures, ...(s.lockedUntil !== undefined ? { lockedUntil: s.lockedUntil } : {}) } : view.auth;
    if (s && s.lockedUntil === undefined && auth.lockedUntil !== undefined) auth = withoutLockout(auth);
    return lockBinds ? { ...view, auth } : { ...view, auth: withoutLockout(auth) };
  }

  /** Whether to check this attempt at all; a refusal is recorded in the ring. */
  gate(p: { address: string; credential: string; devId: string; now: number }): Gate {
    const g = this.throttle.gate(p);
    if (!g.check) this.ring.add({ at: p.now, kind: 'throttled', address: p.address, devId: p.devId, credential: p.credential, reason: g.reason });
    return g;
  }

  /**
   * After a turn that did not authenticate the device: a guess drains the buckets, the device's
   * failures and lockout are kept (in memory, never in its row), and the refusal goes in the ring.
   * Returns the refusal, or undefined for the ordinary challenge of a handshake (no credentials yet,
   * a nonce to use), which is not a failure.
   */
  refused(p: { address: string; credential: string; checked: DeviceView; lockBinds: boolean; fx: EngineEffects; session: EngineSession; now: number }): Refusal | undefined {
    const { now, fx, session } = p;
    const guess = failureRecorded(p.checked.auth, fx.deviceAuth, now, this.limits);
    if (guess) this.throttle.failed({ address: p.address, credential: p.credential, now });
    if (fx.deviceAuth) this.keepStrikes(p.checked.devId, fx.deviceAuth, p.lockBinds, now);
    const closed = session.phase === 'closed';
    if (!guess && !closed) return undefined;
    const code = session.closedCode;
    const kind: RefusalKind = guess ? 'auth-failed' : code === 503 ? 'locked' : code === 403 ? 'refused' : 'auth-failed';
    const note = fx.notes.find((n) => n.startsWith('client authentication failed') || n.startsWith('refused:') || n.startsWith('throttled:'));
    const reason = [note, closed ? `session ended: ${fx.closed?.reason ?? session.closedState}` : undefined].filter(Boolean).join('; ');
    this.ring.add({ at: now, kind, address: p.address, devId: p.checked.devId, credential: p.credential, reason });
    return { kind, reason, guess };
  }

  /** The device proved who it is: its strikes are gone and it is in good standing. */
  succeeded(devId: string, now: number): void {
    this.strikes.delete(devId);
    this.throttle.succeeded({ devId, now });
  }

  /** A session over because it failed authentication; its later messages get HTTP 403. */
  sessionFailed(f: Omit<FailedSession, 'followUps'>, now: number): void {
    this.failed.add({ ...f, followUps: 0 }, now);
  }

  /** Counts a message to a failed session (one ring entry per session): true for the first (log it once), false after. */
  followUp(f: FailedSession, address: string, now: number): boolean {
    f.followUps++;
    if (f.entry) this.ring.bump(f.entry, now);
    else f.entry = this.ring.add({ at: now, kind: 'session-over', address, devId: f.devId, reason: `message to a session that failed authentication (${f.reason}): HTTP 403` });
    return f.followUps === 1;
  }

  /** Records a refusal that is not about credentials (busy, bad input before authentication). */
  note(kind: RefusalKind, p: { address: string; devId?: string; credential?: string; reason: string; now: number }): RefusalEntry {
    return this.ring.add({ at: p.now, kind, address: p.address, ...(p.devId !== undefined ? { devId: p.devId } : {}), credential: p.credential ?? null, reason: p.reason });
  }

  prune(now: number): void {
    this.strikes.prune(now);
    this.failed.prune(now);
  }

  /**
   * The device's failures and lockout after a turn. A lockout the check did not see (a clean
   * address) is kept: it still binds the suspect addresses.
   */
  private keepStrikes(devId: string, after: DeviceAuthState, lockBinds: boolean, now: number): void {
    const before = this.strikes.get(devId, now);
    const locks = [after.lockedUntil, lockBinds ? undefined : before?.lockedUntil].filter((t): t is number => t !== undefined && t > now);
    const lockedUntil = locks.length > 0 ? Math.max(...locks) : undefined;
    if (after.authFailures.length === 0 && lockedUntil === undefined) {
      if (before) this.strikes.set(devId, { authFailures: [] }, now);
      return;
    }
    this.strikes.set(devId, { authFailures: after.authFailures, ...(lockedUntil !== undefined ? { lockedUntil } : {}) }, now);
  }
}
