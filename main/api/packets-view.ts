/**
 * The packet list's handlers (contract-packets.ts): packets.query runs a display filter over the
 * message index (main/store/filter/), packets.fields lists the language's fields for the filter bar.
 *
 * A bad filter is an answer ({ ok: false, error: {message, position, length} }), not a failed call:
 * the filter bar shows it under the character. Before a query, messages the index has not seen yet
 * (none in normal operation: the store indexes as it logs) are indexed through `writer`, the store
 * connection allowed to write now (the running server's, so it never waits on its own group commit).
 *
 * Findings per message come from the judge (findings-view.ts) and are kept in the index whenever a
 * session is judged (PacketFindings.record). The sessions of the rows a page shows are judged before
 * it is answered; the others are judged in the background, a batch at a time, so `finding` and
 * `severity` filters and the findings column fill in without the filter ever decoding messages.
 */
import type { ServerStore } from '../store/server-store.js';
import { catchUpIndex, recordFindings, unindexedCount, unjudgedSessions } from '../store/message-index.js';
import { fieldHelp } from '../store/filter/fields.js';
import { FilterError } from '../store/filter/parse.js';
import { queryMessages, sessionsMatching } from '../store/filter/query.js';
import { MAX_SEARCH_SESSIONS, type PacketField, type PacketsQueryInput, type PacketsQueryOutput, type SessionsSearchOutput } from './contract-packets.js';
import type { SessionFindings } from './findings-view.js';

/**
 * Runs a filter over the index (caught up first with what was logged without index rows): its
 * answer with the time it took, or the located error of a bad filter.
 */
function overIndex<T extends object>(store: ServerStore, writer: ServerStore, run: () => T): ({ ok: true; tookMs: number } & T) | { ok: false; error: ReturnType<FilterError['toJSON']> } {
  const t0 = performance.now();
  if (unindexedCount(store.db) > 0) writer.tx(() => catchUpIndex(writer.db));
  try {
    const value = run();
    return { ok: true, ...value, tookMs: Math.round((performance.now() - t0) * 100) / 100 };
  } catch (e) {
    if (e instanceof FilterError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

export function queryPackets(store: ServerStore, q: PacketsQueryInput, writer: ServerStore = store): PacketsQueryOutput {
  return overIndex(store, writer, () => queryMessages(store.db, q));
}

/** sessions.search: the sessions with a message matching `filter` (the Sessions view's content search). */
export function searchSessions(store: ServerStore, filter: string, limit: number, writer: ServerStore = store): SessionsSearchOutput {
  return overIndex(store, writer, () => sessionsMatching(store.db, filter, limit));
}

export function packetFields(): { fields: PacketField[] } {
  return { fields: fieldHelp() };
}

/** Sessions judged per background batch, and the pause between looks for unjudged sessions. */
const SWEEP_BATCH = 50;
const SWEEP_EVERY_MS = 5000;
/** Most sessions judged before a page is answered (about half a second of judging at worst). */
const PAGE_JUDGE_LIMIT = 150;

export interface PacketFindingsDeps {
  reader: () => ServerStore;
  writer: () => ServerStore;
  /** The running DM server's store, if it runs in this process (its group commit takes the writes). */
  server?: () => ServerStore | undefined;
  /** Judges these sessions (FindingsCache.counts: cached, time-sliced); each judgement comes back through record(). */
  judge: (ids: number[]) => Promise<unknown>;
  now?: () => number;
}

export class PacketFindings {
  private sweeping = false;
  /** Findings written through the server's group commit, not committed yet. */
  private pending: Promise<unknown>[] = [];
  private lastSweep = -Infinity;
  /** What earlier sweeps covered: sessions up to this id, except those active then (looked at again). */
  private seen: { afterId: number; alsoIds: number[]; store: ServerStore } | undefined;

  constructor(private readonly deps: PacketFindingsDeps) {}

  /**
   * A session was judged: its findings go to the index (a cache of the judge; a failed write waits for
   * the next judgement). While the DM server runs, through its group(): the write joins the turn's
   * group commit and its fsync runs off the event loop, so a sweep over thousands of sessions never
   * blocks the server on the disk.
   */
  record(v: SessionFindings): void {
    const server = this.deps.server?.();
    try {
      if (server) this.pending.push(server.group(() => recordFindings(server.db, v.session, v.messages, v.findings)).catch(() => undefined));
      else {
        // No DM server in this process to keep waiting: a plain transaction, committed now.
        const w = this.deps.writer();
        w.tx(() => recordFindings(w.db, v.session, v.messages, v.findings));
      }
    } catch {
      // e.g. the folder was switched meanwhile: the next judgement writes it again.
    }
  }

  /** packets.query with the shown rows' sessions judged first, and a background sweep of the rest. */
  async query(q: PacketsQueryInput): Promise<PacketsQueryOutput> {
    const store = this.deps.reader();
    const first = queryPackets(store, q, this.deps.writer());
    if (!first.ok || first.rows.length === 0) return first;
    const sessions = [...new Set(first.rows.map((r) => r.sessionId))];
    // Judged, and for all of its messages (a live session keeps logging).
    const judged = new Set((store.db.prepare(`SELECT j.session_id FROM judged_sessions j WHERE j.session_id IN (${sessions.map(() => '?').join(', ')})
      AND j.messages >= (SELECT MAX(i.seq) FROM msg_index i WHERE i.session_id = j.session_id)`).all(...sessions) as { session_id: number }[]).map((r) => r.session_id));
    const missing = sessions.filter((id) => !judged.has(id));
    this.sweep();
    if (missing.length === 0) return first;
    // The judge takes a bounded batch per call; a page of many short sessions leaves the rest to the sweep.
    for (let i = 0; i < Math.min(missing.length, PAGE_JUDGE_LIMIT); i += SWEEP_BATCH) await this.deps.judge(missing.slice(i, Math.min(i + SWEEP_BATCH, PAGE_JUDGE_LIMIT)));
    // The reader sees them once the server's group has committed.
    await Promise.all(this.pending.splice(0));
    const again = queryPackets(this.deps.reader(), q, this.deps.writer());
    return again.ok ? { ...again, tookMs: first.tookMs + again.tookMs } : again;
  }

  /** Judges sessions without stored findings in the background, one batch per turn of the event loop. */
  sweep(): void {
    const now = (this.deps.now ?? Date.now)();
    if (this.sweeping || now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    const store = this.deps.reader();
    const since = this.seen?.store === store ? this.seen : undefined;
    const ids = unjudgedSessions(store.db, since).map((s) => s.id);
    const top = (store.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM sessions').get() as { id: number }).id;
    const active = (store.db.prepare(`SELECT id FROM sessions WHERE state = 'active'`).all() as { id: number }[]).map((r) => r.id);
    // Sessions active now may log more after they are judged: the next sweep looks at them again.
    this.seen = { afterId: top, alsoIds: [...new Set([...active, ...ids])], store };
    if (ids.length === 0) return;
    this.sweeping = true;
    void (async () => {
      for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.deps.judge(ids.slice(i, i + SWEEP_BATCH));
        await Promise.all(this.pending.splice(0));
      }
    })().catch(() => undefined).finally(() => {
      this.sweeping = false;
    });
  }
}
