/**
 * What was refused before authentication, for the API (GET /api/v1/auth-failures) and the UI: a
 * bounded ring of recent entries plus a counter per kind. Failed attempts leave only this (no
 * device, session or message row), so a guesser cannot grow the database. A run of the same
 * refusal (same kind, address, credential and reason) folds into one entry with a count, so a
 * flood does not push the informative entries out.
 */

export type RefusalKind =
  /** Credentials were checked and were wrong. */
  | 'auth-failed'
  /** Refused unchecked: the address's or the credential's failure bucket is empty. */
  | 'throttled'
  /** Refused unchecked: the device is locked after repeated failures (at a suspect address). */
  | 'locked'
  /** Refused by the transport identity (client certificate) before any credential. */
  | 'refused'
  /** A message for a session that already failed authentication (HTTP 403). */
  | 'session-over'
  /** No room: the pool of unauthenticated sessions (or all sessions) is full, or the address has its share. */
  | 'busy'
  /** Unreadable, oversized or misaddressed input from a device that had not authenticated. */
  | 'rejected';

export interface RefusalEntry {
  /** When it last happened (ISO). */
  at: string;
  /** When the first of a folded run happened (ISO). */
  firstAt: string;
  kind: RefusalKind;
  /** Source address (an IPv6 /64 as such). */
  address: string;
  /** The DevId it claimed (cut to DEVID_SHOWN characters), when readable. */
  devId: string | null;
  /** The credential name checked against, when known. */
  credential: string | null;
  reason: string;
  /** How many times in a row (folded). */
  count: number;
}

export const DEVID_SHOWN = 64;

/** A DevId as the ring shows it: never more than DEVID_SHOWN characters plus its true length. */
export function shownDevId(devId: string | undefined): string | null {
  if (devId === undefined) return null;
  return devId.length <= DEVID_SHOWN ? devId : `${devId.slice(0, DEVID_SHOWN)}... (${devId.length} characters)`;
}

export class FailureRing {
  private readonly ring: RefusalEntry[] = [];
  private readonly totals = new Map<RefusalKind, number>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`FailureRing needs a positive integer size, got ${size}`);
  }

  /** Records one refusal; returns its entry (a folded run's, with the count raised). */
  add(e: { at: number; kind: RefusalKind; address: string; devId?: string; credential?: string | null; reason: string }): RefusalEntry {
    this.totals.set(e.kind, (this.totals.get(e.kind) ?? 0) + 1);
    const at = new Date(e.at).toISOString();
    const devId = shownDevId(e.devId);
    const last = this.ring[this.ring.length - 1];
    if (last && last.kind === e.kind && last.address === e.address && last.credential === (e.credential ?? null) && last.reason === e.reason) {
      last.count++;
      last.at = at;
      last.devId = devId;
      return last;
    }
    const entry: RefusalEntry = { at, firstAt: at, kind: e.kind, address: e.address, devId, credential: e.credential ?? null, reason: e.reason, count: 1 };
    this.ring.push(entry);
    if (this.ring.length > this.size) this.ring.shift();
    return entry;
  }

  /** Counts one more of an entry's kind without a new entry (follow-ups of an ended session). */
  bump(entry: RefusalEntry, now: number): void {
    this.totals.set(entry.kind, (this.totals.get(entry.kind) ?? 0) + 1);
    entry.count++;
    entry.at = new Date(now).toISOString();
  }

  /** Newest first. */
  recent(): RefusalEntry[] {
    return this.ring.map((e) => ({ ...e })).reverse();
  }

  /** Refusals per kind since the server started (every kind present, zero or not). */
  counts(): Record<RefusalKind, number> {
    const kinds: RefusalKind[] = ['auth-failed', 'throttled', 'locked', 'refused', 'session-over', 'busy', 'rejected'];
    return Object.fromEntries(kinds.map((k) => [k, this.totals.get(k) ?? 0])) as Record<RefusalKind, number>;
  }
}
