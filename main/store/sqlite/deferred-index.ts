/**
 * The message index off the DM answer's path (issue 17).
 *
 * The server logs each round trip's messages in its group commit (durable before the answer, as
 * before), but their index rows (message-index.ts) are written later, by this indexer, for many
 * messages in one transaction: FTS5 writes a segment at every COMMIT (~80 us whatever the rows), and
 * every statement has a fixed cost, so a batch of N messages pays them once instead of once per
 * group. A batch starts `batchMessages` messages after the last one, or `delayMs` after the first
 * message waiting, whichever comes first, in a macrotask of its own (never inside a request).
 *
 * What stays true:
 *  - The index is always a prefix of the messages table by id (ids follow commit order): a batch
 *    indexes every message after the highest indexed id (catchUpThrough), whoever logged it, reading
 *    that id inside the write transaction, so two processes (or two connections) never index a
 *    message twice. The queue below is only a cache of decoded forms, checked against the stored
 *    row before use; a message it does not hold is decoded from its stored bytes.
 *  - Readers see everything logged: the DmMessageIndex methods of the SQLite store (message-index-
 *    sqlite.ts) catch up first, in this process through whichever connection holds the write lock
 *    now (the server's open group, so a reader never waits on its own process's lock), and with
 *    no such connection in their own (BEGIN IMMEDIATE), which also covers what another process
 *    (a running `dmw server`) logged and had not indexed yet. A reader that cannot write (read-only
 *    folder, a lock held past the busy timeout) reads the index as it is.
 *  - close() indexes what is pending; a crash loses only the queue: the next open catches up from the
 *    stored bytes (ServerStore.open), as does any reader meanwhile.
 *  - Bounded: the queue holds at most `maxHeldMessages` decoded messages and `maxHeldBytes` of their
 *    bytes; past that, messages are still logged and indexed, from their bytes. A batch indexes at
 *    most `maxBatch` messages per transaction; a longer backlog goes in several, one per macrotask.
 *
 * One DeferredIndex per database file per process, shared by every ServerStore open on that file
 * (the backend's reader and the server's store are two connections in one process).
 */
import { realpathSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { catchUpThrough, unindexedCount, type LoggedMessage } from '../message-index.js';

export interface IndexLimits {
  /** A batch starts once this many logged messages wait for their index rows... */
  batchMessages: number;
  /** ...or this long (ms) after the first of them was logged, whichever comes first. */
  delayMs: number;
  /** Most messages indexed in one transaction (a backlog goes in several, one per macrotask). */
  maxBatch: number;
  /** Most decoded messages held for the indexer (beyond them, their stored bytes are decoded). */
  maxHeldMessages: number;
  /** Most bytes of held messages (their wire size, a proxy for their decoded form's). */
  maxHeldBytes: number;
}

/**
 * Defaults, measured with test/bench/store-index.ts (its "group: index deferred, batch N" variants,
 * 2026-12-07, load 11-13, CPU per round trip with the messages INSERT alone at ~0.30 ms): the index
 * added ~0.34 ms in the logging transaction, ~0.34 in batches of 1, ~0.17 of 8, ~0.10 of 32, ~0.08
 * of 64, and 0.01-0.10 of 128 and 512 (within the noise of 64): 64 is past the knee, and its batch
 * holds the event loop ~2-3 ms where 512 would hold it ~20 ms. At the bench's ~300 round trips a
 * second a batch fills in ~0.1 s; 250 ms bounds how long a quiet server keeps rows pending (another
 * process catches up by itself anyway). The queue's caps hold several seconds of a busy server.
 */
export const DEFAULT_INDEX_LIMITS: IndexLimits = {
  batchMessages: 64,
  delayMs: 250,
  maxBatch: 512,
  maxHeldMessages: 4096,
  maxHeldBytes: 16 * 1024 * 1024,
};

/** What the indexer needs of a store's connection (ServerStore, structurally). */
export interface IndexHost {
  readonly db: Database.Database;
  /** This connection holds a write transaction open now (its group commit): index rows are written there. */
  writing(): boolean;
  /**
   * Runs `fn` where this connection may write now: a savepoint of its open group (resolves once that
   * group committed), else a transaction of its own (BEGIN IMMEDIATE; committed when this returns).
   */
  indexWrite(fn: () => void): Promise<void>;
}

const perFile = new Map<string, DeferredIndex>();

/** The key of a database file: the same file under two spellings is one. */
function fileKey(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** A write the connection could not make (read-only folder, another process's lock past the busy timeout). */
function cannotWrite(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_BUSY') || code === 'SQLITE_CANTOPEN');
}

export class DeferredIndex {
  private readonly hosts = new Set<IndexHost>();
  /** Decoded forms of logged messages waiting for their index rows, by message id (insertion order = id order). */
  private readonly held = new Map<number, LoggedMessage>();
  private heldBytes = 0;
  /** Messages logged in this process since the last batch began (held or not). */
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** The batch running now (a savepoint of an open group waits for its COMMIT). */
  private running: Promise<void> | undefined;
  /** What the indexer did (tests and the bench read it): batches, messages indexed, of them from held forms, the largest batch. */
  readonly stats = { batches: 0, indexed: 0, fromHeld: 0, largestBatch: 0 };

  private constructor(
    private readonly key: string,
    readonly limits: IndexLimits,
  ) {}

  /** The file's indexer in this process, `host` among its connections. */
  static attach(file: string, host: IndexHost, limits: Partial<IndexLimits> = {}): DeferredIndex {
    const key = fileKey(file);
    let d = perFile.get(key);
    if (!d) perFile.set(key, (d = new DeferredIndex(key, { ...DEFAULT_INDEX_LIMITS, ...limits })));
    d.hosts.add(host);
    return d;
  }

  /** A connection of this process holds the file's write lock now (another open must not wait for it). */
  static writing(file: string): boolean {
    const d = perFile.get(fileKey(file));
    return d !== undefined && [...d.hosts].some((h) => h.writing());
  }

  /** Messages waiting in this process (held or not). */
  get waiting(): number {
    return this.pending;
  }

  /** Decoded messages held now, and their bytes (tests check the bounds). */
  get heldCount(): { messages: number; bytes: number } {
    return { messages: this.held.size, bytes: this.heldBytes };
  }

  /**
   * Messages were logged (in the caller's transaction, not committed yet): their decoded forms are
   * kept while the bounds allow, and a batch is scheduled.
   */
  logged(ms: readonly LoggedMessage[]): void {
    const l = this.limits;
    for (const m of ms) {
      this.pending++;
      if (!m.parsed) continue;
      const before = this.held.get(m.id);
      if (before) {
        // An id given back by a rollback and taken again: the newer message replaces the stale one.
        this.heldBytes -= before.bytes.byteLength;
        this.held.delete(m.id);
      }
      if (this.held.size >= l.maxHeldMessages || this.heldBytes + m.bytes.byteLength > l.maxHeldBytes) continue;
      this.held.set(m.id, m);
      this.heldBytes += m.bytes.byteLength;
    }
    if (this.pending >= l.batchMessages) this.soon();
    else if (this.timer === undefined && this.immediate === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.background();
      }, l.delayMs);
      this.timer.unref();
    }
  }

  /** A batch in the next macrotask (after the requests of this one have been answered or grouped). */
  private soon(): void {
    if (this.immediate !== undefined) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.background();
    });
    this.immediate.unref();
  }

  private background(): void {
    if (this.running) {
      // One batch at a time: the next one follows it.
      void this.running.then(() => this.soon(), () => this.soon());
      return;
    }
    if (this.hosts.size === 0) return;
    void this.batch(undefined).then((more) => {
      if (more || this.pending >= this.limits.batchMessages) this.soon();
    }, (e: unknown) => {
      // The next message logged starts another batch.
      this.pending = Math.max(this.pending, 1);
      // Nothing is lost: the messages are stored, and the next batch or reader indexes them from the start.
      if (!cannotWrite(e)) process.emitWarning(`could not write the message index: ${(e as Error).message}`);
    });
  }

  /** The connection to write through: the one holding the write lock now, else `preferred`, else any. */
  private writer(preferred: IndexHost | undefined): IndexHost {
    for (const h of this.hosts) if (h.writing()) return h;
    return preferred ?? this.hosts.values().next().value!;
  }

  /** One bounded batch; resolves (to "messages are left") once its rows are committed. */
  private batch(preferred: IndexHost | undefined): Promise<boolean> {
    const host = this.writer(preferred);
    let more = false;
    const p = host.indexWrite(() => {
      more = this.indexIn(host.db, this.limits.maxBatch);
    });
    const done = p.finally(() => {
      if (this.running === done) this.running = undefined;
    });
    this.running = done;
    return done.then(() => more);
  }

  /**
   * Indexes up to `max` messages after the highest indexed one, in the transaction the caller holds
   * on `db`, with the held decoded forms; drops what is indexed from the queue. Returns "more left".
   */
  indexIn(db: Database.Database, max = Infinity): boolean {
    const before = this.pending;
    this.pending = 0;
    let r: ReturnType<typeof catchUpThrough>;
    try {
      r = catchUpThrough(db, { max, held: (id) => this.held.get(id) });
    } catch (e) {
      this.pending += before;
      throw e;
    }
    for (const [id, m] of this.held) {
      if (id > r.through) break;
      this.held.delete(id);
      this.heldBytes -= m.bytes.byteLength;
    }
    if (r.more) this.pending = Math.max(this.pending, 1);
    if (r.indexed > 0) {
      this.stats.batches++;
      this.stats.indexed += r.indexed;
      this.stats.fromHeld += r.fromHeld;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, r.indexed);
    }
    return r.more;
  }

  /**
   * Before a read through `reader`: everything logged so far indexed and committed. Through the
   * connection of this process holding the write lock, if one does, else `reader`'s own. Readers
   * that cannot write read the index as it is.
   */
  async catchUp(reader: IndexHost): Promise<void> {
    for (;;) {
      if (this.running) await this.running.catch(() => undefined);
      if (this.pending === 0 && this.held.size === 0 && unindexedCount(reader.db) === 0) return;
      let more: boolean;
      try {
        more = await this.batch(reader);
      } catch (e) {
        if (cannotWrite(e)) return;
        throw e;
      }
      if (!more) return;
    }
  }

  /** Whether a read through `reader` must catch up first (cheap: two primary-key lookups). */
  needsCatchUp(reader: IndexHost): boolean {
    return this.running !== undefined || this.pending > 0 || this.held.size > 0 || unindexedCount(reader.db) > 0;
  }

  /**
   * `host` is closing: what is pending is indexed now through it (unless another connection of this
   * process holds the lock: that one carries on), then it leaves. A failure leaves the rows to the
   * next open's catch-up, as a crash would. Returns whether it wrote (the caller fsyncs).
   */
  detach(host: IndexHost): boolean {
    const others = [...this.hosts].filter((h) => h !== host);
    let wrote = false;
    if (!others.some((h) => h.writing()) && (this.pending > 0 || this.held.size > 0)) {
      wrote = true;
      try {
        host.db.transaction(() => {
          while (this.indexIn(host.db, this.limits.maxBatch));
        }).immediate();
      } catch (e) {
        if (!cannotWrite(e)) process.emitWarning(`could not write the message index on close: ${(e as Error).message}`);
      }
    }
    this.hosts.delete(host);
    if (this.hosts.size > 0) return wrote;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.held.clear();
    this.heldBytes = 0;
    this.pending = 0;
    if (perFile.get(this.key) === this) perFile.delete(this.key);
    return wrote;
  }

  /** Drops the queue without indexing it (tests: what a crash leaves). */
  dropPendingForTest(): void {
    this.held.clear();
    this.heldBytes = 0;
    this.pending = 0;
  }
}
