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
import type { DmStore } from '../store/store.js';
import { fieldHelp } from '../store/filter/fields.js';
import { FilterError } from '../store/filter/parse.js';
import { MAX_SEARCH_SESSIONS, type PacketField, type PacketsQueryInput, type PacketsQueryOutput, type SessionsSearchOutput } from './contract-packets.js';
import type { SessionFindings } from './findings-view.js';

/**
 * Runs a filter over the index (caught up first with what was logged without index rows): its
 * answer with the time it took, or the located error of a bad filter.
 */
async function overIndex<T extends object>(store: DmStore, writer: DmStore, run: () => Promise<T>): Promise<({ ok: true; tookMs: number } & T) | { ok: false; error: ReturnType<FilterError['toJSON']> }> {
  const t0 = performance.now();
  if ((await store.unindexedCount()) > 0) await writer.catchUpIndex();
  try {
    const value = await run();
    return { ok: true, ...value, tookMs: Math.round((performance.now() - t0) * 100) / 100 };
  } catch (e) {
    if (e instanceof FilterError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

export function queryPackets(store: DmStore, q: PacketsQueryInput, writer: DmStore = store): Promise<PacketsQueryOutput> {
  return overIndex(store, writer, () => store.queryMessages(q));
}

/** sessions.search: the sessions with a message matching `filter` (the Sessions view's content search). */
export function searchSessions(store: DmStore, filter: string, limit: number, writer: DmStore = store): Promise<SessionsSearchOutput> {
  return overIndex(store, writer, () => store.sessionsMatching(filter, limit));
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
  reader: () => DmStore;
  writer: () => DmStore;
  /** The running DM server's store, if it runs in this process (its group commit takes the writes). */
  server?: () => DmStore | undefined;
  /** Judges these sessions (FindingsCache.counts: cached, time-sliced); each judgement comes back through record(). */
  judge: (ids: number[]) => Promise<unknown>;
  now?: () => number;
}

export class PacketFindings {
  private sweeping = false;
  /**
   * Findings being written, not committed yet. Each write leaves the set when it settles, and a
   * waiter waits for what is in the set when it looks: the page and the background sweep both wait,
   * and neither may take the other's writes out from under it (with a list each emptied, a page
   * whose sessions the sweep had just recorded read back before those writes committed).
   */
  private readonly pending = new Set<Promise<void>>();
  private lastSweep = -Infinity;
  /** What earlier sweeps covered: sessions up to this id, except those active then (looked at again). */
  private seen: { afterId: number; alsoIds: number[]; store: DmStore } | undefined;

  constructor(private readonly deps: PacketFindingsDeps) {}

  /**
   * A session was judged: its findings go to the index (a cache of the judge; a failed write waits for
   * the next judgement). While the DM server runs, through its store: on SQLite the write joins the
   * turn's group commit and its fsync runs off the event loop, so a sweep over thousands of sessions
   * never blocks the server on the disk.
   */
  record(v: SessionFindings): void {
    try {
      const target = this.deps.server?.() ?? this.deps.writer();
      const write: Promise<void> = target
        .recordFindings(v.session, v.messages, v.findings)
        .catch(() => undefined)
        .then(() => {
          this.pending.delete(write);
        });
      this.pending.add(write);
    } catch {
      // e.g. the folder was switched meanwhile: the next judgement writes it again.
    }
  }

  /**
   * Resolves once the findings recorded so far are committed. On SQLite a write waits for the next
   * turn of the event loop (group commit) holding the write lock: a test that writes through another
   * connection of the same process synchronously waits for this first.
   */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** packets.query with the shown rows' sessions judged first, and a background sweep of the rest. */
  async query(q: PacketsQueryInput): Promise<PacketsQueryOutput> {
    const store = this.deps.reader();
    const first = await queryPackets(store, q, this.deps.writer());
    if (!first.ok || first.rows.length === 0) return first;
    const sessions = [...new Set(first.rows.map((r) => r.sessionId))];
    // Judged, and for all of its messages (a live session keeps logging).
    const judged = new Set(await store.judgedSessions(sessions));
    const missing = sessions.filter((id) => !judged.has(id));
    this.sweep();
    if (missing.length === 0) return first;
    // The judge takes a bounded batch per call; a page of many short sessions leaves the rest to the sweep.
    for (let i = 0; i < Math.min(missing.length, PAGE_JUDGE_LIMIT); i += SWEEP_BATCH) await this.deps.judge(missing.slice(i, Math.min(i + SWEEP_BATCH, PAGE_JUDGE_LIMIT)));
    // The reader sees them once the writes have committed (the sweep's too: a session judged by it
    // is a cache hit here and records nothing new).
    await this.settled();
    const again = await queryPackets(this.deps.reader(), q, this.deps.writer());
    return again.ok ? { ...again, tookMs: first.tookMs + again.tookMs } : again;
  }

  /** Judges sessions without stored findings in the background, one batch per turn of the event loop. */
  sweep(): void {
    const now = (this.deps.now ?? Date.now)();
    if (this.sweeping || now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    this.sweeping = true;
    void this.sweepNow().catch(() => undefined).finally(() => {
      this.sweeping = false;
    });
  }

  private async sweepNow(): Promise<void> {
    const store = this.deps.reader();
    const since = this.seen?.store === store ? this.seen : undefined;
    const ids = (await store.unjudgedSessions(since)).map((s) => s.id);
    const top = await store.maxSessionId();
    const active = await store.activeSessionIds();
    // Sessions active now may log more after they are judged: the next sweep looks at them again.
    this.seen = { afterId: top, alsoIds: [...new Set([...active, ...ids])], store };
    for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.deps.judge(ids.slice(i, i + SWEEP_BATCH));
      await this.settled();
    }
  }
}
