/**
 * The event stream on a shared store (issue 16): several `dmw server --store postgres://…` instances,
 * one `events` table. A client that reads the stream from instance A and reconnects with
 * `Last-Event-ID` to instance B must get from B exactly the events it missed, in order, once. So on
 * a shared store the stream's ids are the store's event ids (the same on every instance), and what
 * an instance's in-memory backlog no longer holds is replayed from the events table.
 *
 * The catch (main/store/store.ts): ids are taken when an event is inserted, but events reach the
 * instances (NOTIFY) in commit order, and two instances' transactions may commit out of id order
 * (id 11 committed, id 10 still in its turn's transaction). If a stream handed out 11 and then 10,
 * "everything after Last-Event-ID 11" could not be answered from the table without repeating or
 * losing 10. What we chose: every instance's stream hands events out in id order (IdOrder below).
 * An event whose predecessor id has not arrived is held until it does, or for at most `holdMs`
 * (then the missing id is taken for a rolled-back transaction's, which never comes). Ids are
 * consecutive between events that did commit (a bigserial; events that are not streamed still
 * count, as they pass here too), so the wait happens only when a turn actually rolled back after
 * publishing, or commits slowly. A stream's ids therefore only grow, and `Last-Event-ID: L` means
 * "everything up to L": a reconnect replays `id > L` from the table (or the backlog), nothing at
 * or before L, no overlap to deduplicate. What is left: an event whose transaction commits more
 * than `holdMs` after a later id was handed out is still streamed live (to the subscribers
 * connected then, with a warning), but a client that was away at that moment and resumes after a
 * later id does not get it in its replay.
 *
 * The table keeps an hour (the sweep prunes older rows): a Last-Event-ID older than its oldest row
 * gets the same `gap` event as an overflowed backlog (event-backlog.ts), then what is kept.
 */
import type pg from 'pg';
import type { DeliveredEvent } from '../../store/store.js';

/** The store's events table, read for replays. */
export interface EventHistory {
  /** The oldest and newest ids kept, undefined while the table is empty. */
  bounds(): Promise<{ oldest: number; newest: number } | undefined>;
  /** Events with from < id <= upTo, in id order, at most `limit`. */
  between(from: number, upTo: number, limit: number): Promise<DeliveredEvent[]>;
}

/** A PostgreSQL store's statements (PgOps.sql: a database that is not there fails as StoreUnavailableError, a 503). */
export interface SqlRunner {
  sql<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export function pgEventHistory(db: SqlRunner): EventHistory {
  return {
    async bounds() {
      const r = await db.sql<{ oldest: number | null; newest: number | null }>('SELECT min(id) AS oldest, max(id) AS newest FROM events');
      const row = r.rows[0];
      return row?.oldest == null || row.newest == null ? undefined : { oldest: Number(row.oldest), newest: Number(row.newest) };
    },
    async between(from, upTo, limit) {
      const r = await db.sql<{ id: number; body: DeliveredEvent['event'] }>(
        'SELECT id, body FROM events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3', [from, upTo, limit]);
      return r.rows.map((row) => ({ id: Number(row.id), event: row.body }));
    },
  };
}

/** How long an event waits for a missing predecessor id before that id is taken for rolled back. */
export const DEFAULT_HOLD_MS = 2000;

/**
 * Puts delivered events back in id order. `release(e, false)` in increasing id order; an event that
 * comes after a later id was released (its transaction committed more than holdMs late) goes out
 * with `late` true, once. Events before start() are held; start(after) drops those at or before
 * `after` (the stream begins after it).
 */
export class IdOrder {
  private released?: number;
  private readonly held = new Map<number, { e: DeliveredEvent; since: number }>();
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly release: (e: DeliveredEvent, late: boolean) => void,
    private readonly holdMs = DEFAULT_HOLD_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The newest id released (undefined before start). */
  get newest(): number | undefined {
    return this.released;
  }

  start(after: number): void {
    this.released = after;
    for (const id of this.held.keys()) if (id <= after) this.held.delete(id);
    this.drain();
  }

  push(e: DeliveredEvent): void {
    if (this.stopped || this.held.has(e.id)) return;
    if (this.released !== undefined && e.id <= this.released) {
      this.release(e, true);
      return;
    }
    this.held.set(e.id, { e, since: this.now() });
    this.drain();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held.clear();
  }

  private drain(): void {
    if (this.released === undefined) return;
    for (let next = this.held.get(this.released + 1); next; next = this.held.get(this.released + 1)) {
      this.held.delete(next.e.id);
      this.released = next.e.id;
      this.release(next.e, false);
    }
    if (this.held.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer) return;
    const oldest = Math.min(...[...this.held.values()].map((h) => h.since));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      // An event has waited holdMs, so the missing id after `released` has been missing that long:
      // the ids below the lowest one held are not coming (rolled back).
      if (this.held.size > 0) this.released = Math.min(...this.held.keys()) - 1;
      this.drain();
    }, Math.max(0, oldest + this.holdMs - this.now()));
    this.timer.unref();
  }
}
