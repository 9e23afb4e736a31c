/**
 * The SQLite store's transactions: tx() (one write transaction, durable when it returns) and the
 * group commit the server's requests go through (group(), groupAsync()): each request runs in a
 * savepoint of a transaction shared by every request of the same event-loop turn, and all of them
 * are settled after one COMMIT and, in durability FULL, one fsync of the WAL on libuv's thread pool
 * (SQLite itself runs with synchronous=NORMAL; see server-store.ts). Nobody hears of a write before
 * it is on disk.
 */
import type Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import type { Statements } from './statements.js';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** How the WAL is flushed to disk in 'FULL' (StoreOptions.fsync). */
export type FsyncAsync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export class GroupCommit {
  /** The open group-commit transaction and who waits for its COMMIT. */
  private batch?: { waiters: Waiter[] };
  /** Committed, waiting for the next fsync of the WAL (FULL durability only). */
  private unsynced: Waiter[] = [];
  private syncing = false;
  /** Something was committed that a synchronous fsync has not covered yet. */
  private dirty = false;
  private walFd?: number;
  /** >0 while a group() callback runs (a tx() inside it must nest, not commit the batch). */
  private groupDepth = 0;
  /** A groupAsync() callback is running (its savepoint is open): the group's COMMIT waits for it. */
  private asyncActive = false;
  /** groupAsync() callers waiting for the running one to finish (savepoints never interleave). */
  private readonly asyncQueue: (() => void)[] = [];
  /** The group's COMMIT came due while a groupAsync() callback ran: it runs when the last one is done. */
  private commitDeferred = false;

  constructor(
    private readonly db: Database.Database,
    private readonly st: Statements,
    /** True: we fsync the WAL ourselves before a commit counts (durability FULL). */
    readonly durable: boolean,
    private readonly walPath: string,
    private readonly fsyncAsync: FsyncAsync,
    /** Forgets what was read under the group's write lock (a rollback or the COMMIT ends it: devices.ts). */
    private readonly dropReads: () => void,
  ) {}

  /** The group-commit transaction is open (this connection holds the write lock until its COMMIT). */
  get open(): boolean {
    return this.batch !== undefined;
  }

  /** A group() or groupAsync() callback is running: its writes land with its request's savepoint. */
  get inGroup(): boolean {
    return this.groupDepth > 0;
  }

  /** Closes the WAL file once no fsync runs on it (one still on the thread pool closes it when it returns). */
  release(): void {
    if (!this.syncing) this.closeWal();
  }

  /** Something was committed outside this machinery (the deferred index's last batch at close()): the next syncNow() flushes it. */
  markDirty(): void {
    this.dirty = true;
  }

  private closeWal(): void {
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE): all of it commits, or none; committed
   * when this returns. A pending group commit is committed first.
   */
  tx<T>(fn: () => T): T {
    if (this.groupDepth > 0) return this.db.transaction(fn)();
    this.flush();
    const value = this.db.transaction(fn).immediate();
    this.dirty = true;
    this.syncNow();
    return value;
  }

  /**
   * Runs `fn` now, in a savepoint of the shared group transaction (its writes all land, or none
   * of them when it throws), and resolves once that transaction committed. Rejects when `fn`
   * throws or the COMMIT fails (then every request of the group is rejected: none was answered yet).
   */
  group<T>(fn: () => T): Promise<T> {
    if (!this.batch) this.openBatch();
    let value: T;
    this.groupDepth++;
    try {
      value = this.db.transaction(fn)();
    } catch (e) {
      this.dropReads();
      return Promise.reject(e);
    } finally {
      this.groupDepth--;
    }
    return new Promise<T>((resolve, reject) => this.batch!.waiters.push({ resolve: () => resolve(value), reject }));
  }

  /**
   * group() for a callback that awaits (DmStore.tx over SQLite, main/store/sqlite/sqlite-store.ts):
   * a savepoint of the shared group transaction is opened, `fn` is awaited, and the savepoint is
   * released (or rolled back when `fn` throws); resolves once the group committed (and, FULL,
   * fsynced), like group(). Callers are served one at a time, in call order, so the savepoints of
   * concurrent requests never interleave, and the group's COMMIT waits while one runs. `fn` must
   * await only this store (anything slower holds every other writer of this process back).
   */
  groupAsync<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.asyncActive) {
      this.asyncActive = true;
      return this.runAsync(fn);
    }
    return new Promise<void>((go) => this.asyncQueue.push(go)).then(() => this.runAsync(fn));
  }

  private async runAsync<T>(fn: () => Promise<T>): Promise<T> {
    let settled: Promise<T>;
    this.groupDepth++;
    try {
      if (!this.batch) this.openBatch();
      const batch = this.batch!;
      this.st.sql('SAVEPOINT dmw_async').run();
      try {
        const value = await fn();
        this.st.sql('RELEASE dmw_async').run();
        settled = new Promise<T>((resolve, reject) => batch.waiters.push({ resolve: () => resolve(value), reject }));
      } catch (e) {
        this.dropReads();
        try {
          if (this.db.inTransaction) {
            this.st.sql('ROLLBACK TO dmw_async').run();
            this.st.sql('RELEASE dmw_async').run();
          }
        } catch {
          // The transaction is gone already (SQLite rolled it back itself): nothing more to undo.
        }
        settled = Promise.reject(e);
      }
    } catch (e) {
      settled = Promise.reject(e);
    } finally {
      this.groupDepth--;
      this.nextAsync();
    }
    return settled;
  }

  /** Hands the savepoint to the next waiting groupAsync(), or, with none, commits a group that came due meanwhile. */
  private nextAsync(): void {
    const next = this.asyncQueue.shift();
    if (next) {
      next();
      return;
    }
    this.asyncActive = false;
    if (this.commitDeferred) {
      this.commitDeferred = false;
      this.commitGroup();
    }
  }

  private openBatch(): void {
    this.st.sql('BEGIN IMMEDIATE').run();
    this.batch = { waiters: [] };
    setImmediate(() => this.commitGroup());
  }

  /**
   * The end of the event-loop turn: the group commits now, or, while the previous group's fsync is
   * still running, stays open (later requests join it) and commits when that fsync returns. One
   * fsync in flight at a time, each covering every commit since the one before. While a
   * groupAsync() callback runs, the COMMIT waits for it (nextAsync).
   */
  private commitGroup(): void {
    if (this.asyncActive) {
      this.commitDeferred = true;
      return;
    }
    if (this.durable && this.syncing) return;
    this.flush();
  }

  /** Commits the group transaction, if one is open, and settles its waiters. */
  flush(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    this.dropReads();
    try {
      this.st.sql('COMMIT').run();
    } catch (e) {
      try {
        if (this.db.inTransaction) this.st.sql('ROLLBACK').run();
      } catch {
        // Nothing more to undo.
      }
      for (const w of b.waiters) w.reject(e);
      return;
    }
    this.dirty = true;
    if (!this.durable) {
      for (const w of b.waiters) w.resolve();
      return;
    }
    this.unsynced.push(...b.waiters);
    if (!this.syncing) this.startSync();
  }

  /**
   * One fsync of the WAL on the thread pool for every commit not yet on disk; commits made while it
   * runs wait for the next one (each waiter is settled by an fsync that began after its COMMIT).
   */
  private startSync(): void {
    const waiters = this.unsynced;
    if (waiters.length === 0) return;
    this.unsynced = [];
    this.syncing = true;
    let fd: number;
    try {
      fd = this.wal();
    } catch (e) {
      this.syncing = false;
      for (const w of waiters) w.reject(e);
      return;
    }
    this.fsyncAsync(fd, (err) => {
      this.syncing = false;
      if (!this.db.open) this.closeWal();
      for (const w of waiters) {
        if (err) w.reject(new Error(`could not flush ${this.walPath} to disk: ${err.message}`));
        else w.resolve();
      }
      // The group that gathered meanwhile commits now and starts the next fsync (or once the groupAsync() in its savepoint is done).
      if (this.batch && this.db.open) {
        if (this.asyncActive) this.commitDeferred = true;
        else this.flush();
      } else this.startSync();
    });
  }

  /** Makes everything committed so far durable before returning (tx(), close()). */
  syncNow(): void {
    if (!this.durable || !this.dirty || !this.db.open) return;
    this.dirty = false;
    const fd = this.wal(true);
    if (fd !== undefined) fsyncSync(fd);
    // Those waiting for the thread-pool fsync are on disk now too.
    const waiters = this.unsynced;
    this.unsynced = [];
    for (const w of waiters) w.resolve();
  }

  /**
   * The WAL file, opened once (SQLite keeps it, same inode, while a connection is open). With
   * `mayBeMissing`, no WAL yet means nothing to flush (undefined).
   */
  private wal(mayBeMissing: true): number | undefined;
  private wal(): number;
  private wal(mayBeMissing = false): number | undefined {
    if (this.walFd === undefined) {
      try {
        // Read-write although we never write: Windows flushes (FlushFileBuffers) only through a
        // handle with write access, and a read-only one made every fsync, so every answer, fail.
        this.walFd = openSync(this.walPath, 'r+');
      } catch (e) {
        if (mayBeMissing && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    }
    return this.walFd;
  }

  /**
   * Runs `fn` so that its writes land together or not at all. Inside group() the request's own
   * savepoint already does that (a throw undoes the whole request, which is then refused), so no
   * savepoint of its own: one cost ~0.07 ms, on every round trip (test/bench/store-index.ts).
   * Anywhere else (tx(), a caller that may catch and go on), a savepoint inside the caller's.
   */
  together<T>(fn: () => T): T {
    return this.groupDepth > 0 ? fn() : this.db.transaction(fn)();
  }

  /**
   * Index rows written where this connection may write now: in the open group (a savepoint; resolves
   * when the group committed), else a transaction of their own, committed now and fsynced with the
   * next group or close() (index rows are rebuilt from the stored bytes after a crash).
   */
  indexWrite(fn: () => void): Promise<void> {
    if (this.batch) return this.asyncActive ? this.groupAsync(async () => fn()) : this.group(fn);
    try {
      this.db.transaction(fn).immediate();
    } catch (e) {
      return Promise.reject(e);
    }
    this.dirty = true;
    return Promise.resolve();
  }
}
