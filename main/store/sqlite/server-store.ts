/**
 * The DM server's persistence: devices, jobs, sessions with every message, the discovered tree.
 *
 * SQLite in WAL mode in a data folder. Several processes share it (`dmw server` and `dmw job add`
 * on the same folder): writes take the write lock up front (BEGIN IMMEDIATE) and wait for each other
 * (busy_timeout). Durability 'FULL' (the default) makes every commit durable before anyone hears of
 * it, so a kill -9 (or power loss) never loses what was committed; the server commits before it
 * answers a device.
 *
 * Group commit: the server's requests go through `group()`, which runs each one in a savepoint of a
 * transaction shared by every request of the same event-loop turn and settles them all after one
 * COMMIT. The fsync that makes a commit durable is ours, not SQLite's: SQLite runs with
 * synchronous=NORMAL (in WAL mode a COMMIT then only write()s its frames to the WAL) and we fsync the
 * WAL file on libuv's thread pool before settling the group. The event loop keeps serving devices
 * while the disk flushes; their requests gather in the next group, which commits when the fsync in
 * flight returns. A caller that answers the device only after its promise resolved still never tells
 * anyone about a write that is not on disk. `tx()` stays synchronous: it fsyncs before it returns.
 *
 * Messages are stored as their raw bytes; their decoded (pretty XML) form is derived from those
 * bytes when read (`decodedForm`, ../message-record.ts), rather than written a second time on every round trip.
 */
import Database from 'better-sqlite3';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import {
  jobTarget, JobDecisionError, UNCONFIRMED_POLICIES, type AlertRecord, type Credential, type DeviceAuthState, type Direction, type JobMemberStatus, type JobRecord,
  type JobResult, type JobSpec, type JobStatus, type MessageRecord, type NewMessage, type SessionRecord, type SessionState, type StoredDevice, type TreeEntry,
  type UnconfirmedDecision, type UnconfirmedPolicy,
} from '../types.js';
import {
  decisionRefusal, DEFAULT_MAX_JOB_ATTEMPTS, READ_ONLY_KINDS, resolveUnconfirmedPolicy, settleDecision, settleUnanswered, type JobSettlement,
} from '../job-settlement.js';
import type { Encoding } from '../../protocol/codec.js';
import type { JobOutcome } from '../store.js';
import { messageRecord } from '../message-record.js';
import { catchUpIndex, INDEX_SCHEMA, indexMessages, migrateToV3, unindexedCount, type LoggedMessage } from '../message-index.js';
import { DeferredIndex, type IndexHost, type IndexLimits } from './deferred-index.js';
import { parseJobSpec } from '../job-spec.js';
import { iso } from '../../util/iso-time.js';

/** ServerStore.indexing: what the deferred index (deferred-index.ts) and the index's readers (../message-index-sqlite.ts) use of a connection. */
export interface StoreIndexing extends IndexHost {
  /** Resolves once everything logged is indexed and committed; undefined when nothing is missing. */
  indexReady(): Promise<void> | undefined;
  /** Indexes everything logged, synchronously, in the write transaction the caller holds; returns how many were missing. */
  indexHere(): number;
  /** The file's deferred indexer (tests check its bounds). */
  queue(): DeferredIndex;
}

export const DB_FILE = 'dmw.sqlite';
/**
 * 1: the first release. 2: jobs may be 'unconfirmed' and carry on_unconfirmed and verify
 * (migrateToV2). 3: the message index for display filters (message-index.ts; migrateToV3 backfills it).
 * A data folder opens with the schema it has and is brought up to this one in place.
 */
export const SCHEMA_VERSION = 3;

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface StoreOptions {
  /** 'FULL' (default) survives power loss; 'NORMAL' survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How the WAL is flushed to disk in 'FULL' (tests count calls); default node:fs fsync. */
  fsync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** How long a writer waits for another process's lock (ms). */
  busyTimeoutMs?: number;
  /** The deferred message index's batch and queue bounds (deferred-index.ts; the first store opened on a file in a process sets them). */
  index?: Partial<IndexLimits>;
  /** Called with every SQL statement run, parameters filled in (better-sqlite3's `verbose`; tests count statements). */
  trace?: (sql: string) => void;
}

/** The jobs table as of SCHEMA_VERSION (a function: migrateToV2 builds it under another name first). */
function jobsTable(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT NOT NULL,
  command TEXT NOT NULL,
  target TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'done', 'failed', 'unconfirmed')),
  status_code INTEGER,
  results TEXT NOT NULL DEFAULT '[]',
  members TEXT NOT NULL DEFAULT '[]',
  session_id INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  on_unconfirmed TEXT NOT NULL DEFAULT 'ask' CHECK (on_unconfirmed IN (${UNCONFIRMED_POLICIES.map((p) => `'${p}'`).join(', ')})),
  verify INTEGER NOT NULL DEFAULT 0 CHECK (verify IN (0, 1))
);`;
}

/**
 * v1 -> v2. SQLite cannot change a CHECK constraint in place, so the jobs table is rebuilt (the
 * procedure of https://sqlite.org/lang_altertable.html#otheralter): new table, copy, drop, rename,
 * index. Runs in the caller's transaction: a crash leaves v1 untouched. Jobs keep their ids, and the
 * id sequence its high-water mark (ids of deleted jobs are never handed out again). Existing jobs get
 * the policy a new job of their kind gets. Nothing references jobs by foreign key.
 */
function migrateToV2(db: Database.Database): void {
  const readOnly = READ_ONLY_KINDS.map((k) => `'${k}'`).join(', ');
  const seq = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).get() as { seq: number } | undefined)?.seq ?? 0;
  db.exec(`${jobsTable('jobs_v2')}
    INSERT INTO jobs_v2 (id, device, command, target, spec, status, status_code, results, members, session_id, attempts, error, created_at, updated_at, on_unconfirmed, verify)
      SELECT id, device, command, target, spec, status, status_code, results, members, session_id, attempts, error, created_at, updated_at,
        CASE WHEN command IN (${readOnly}) THEN 'resend' ELSE 'ask' END, 0
      FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_v2 RENAME TO jobs;
    CREATE INDEX IF NOT EXISTS jobs_by_device ON jobs (device, status, id);`);
  const now = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).get() as { seq: number } | undefined)?.seq ?? 0;
  db.prepare(`DELETE FROM sqlite_sequence WHERE name IN ('jobs', 'jobs_v2')`).run();
  if (Math.max(seq, now) > 0) db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)`).run(Math.max(seq, now));
}

/** Each step brings a data folder from version N to N + 1 (index N - 1). */
const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [migrateToV2, migrateToV3];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  dev_id TEXT PRIMARY KEY,
  dev_info TEXT NOT NULL DEFAULT '{}',
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  client_cred_name TEXT,
  client_cred_secret TEXT,
  notify_url TEXT,
  auth TEXT NOT NULL DEFAULT '{"authFailures":[]}'
);
${jobsTable('jobs')}
CREATE INDEX IF NOT EXISTS jobs_by_device ON jobs (device, status, id);
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT,
  dm_session_id TEXT,
  state TEXT NOT NULL,
  encoding TEXT,
  auth_type TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_device ON sessions (device, id);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER NOT NULL REFERENCES sessions (id),
  seq INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  at TEXT NOT NULL,
  duration_ms REAL,
  msg_id TEXT,
  content_type TEXT,
  http_status INTEGER,
  bytes BLOB NOT NULL,
  decoded TEXT,
  error TEXT,
  note TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages (session_id, seq);
CREATE TABLE IF NOT EXISTS tree (
  device TEXT NOT NULL,
  uri TEXT NOT NULL,
  format TEXT,
  type TEXT,
  data TEXT,
  encoding TEXT,
  fetched_at TEXT NOT NULL,
  PRIMARY KEY (device, uri)
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER,
  device TEXT NOT NULL,
  code TEXT NOT NULL,
  correlator TEXT,
  items TEXT NOT NULL,
  at TEXT NOT NULL
);
`;

/** Rows per tree upsert statement (7 parameters each, well under SQLite's parameter limit). */
const TREE_ROWS_PER_STATEMENT = 64;

/**
 * Creates the schema in a new data folder, or migrates an older one in place, in one write
 * transaction (another process opening the folder at the same time waits, then finds it done).
 */
function upgrade(db: Database.Database, file: string): void {
  const tooNew = (v: number) => new Error(`${file} has schema version ${v}; this dmw knows up to ${SCHEMA_VERSION}`);
  const seen = db.pragma('user_version', { simple: true }) as number;
  if (seen > SCHEMA_VERSION) throw tooNew(seen);
  if (seen === SCHEMA_VERSION) return;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw tooNew(version);
    if (version === 0) db.exec(SCHEMA + INDEX_SCHEMA);
    else {
      try {
        for (let v = version; v < SCHEMA_VERSION; v++) MIGRATIONS[v - 1]!(db);
      } catch (e) {
        throw new Error(`${file}: could not migrate schema version ${version} to ${SCHEMA_VERSION}: ${(e as Error).message}; the data folder is unchanged`);
      }
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

interface JobRow {
  id: number; device: string; command: string; target: string; spec: string; status: string; status_code: number | null;
  results: string; members: string; session_id: number | null; attempts: number; error: string | null; created_at: string; updated_at: string;
  on_unconfirmed: string; verify: number;
}

/** Why a decision on an unconfirmed job was refused (one class for both stores: callers test instanceof). */
export { JobDecisionError };
interface DeviceRow {
  dev_id: string; dev_info: string; first_seen: string; last_seen: string; client_cred_name: string | null;
  client_cred_secret: string | null; notify_url: string | null; auth: string;
}
interface SessionRow {
  id: number; device: string | null; dm_session_id: string | null; state: string; encoding: string | null; auth_type: string | null;
  started_at: string; ended_at: string | null; reason: string | null; message_count?: number;
}
interface MessageRow {
  id: number; session_id: number; seq: number; direction: string; at: string; duration_ms: number | null; msg_id: string | null;
  content_type: string | null; http_status: number | null; bytes: Buffer; decoded: string | null; error: string | null; note: string | null;
}

/** A message's changes to its device's row (ServerStore.writeDevice). */
export interface DeviceWrite {
  lastSeen?: number;
  auth?: DeviceAuthState;
  devInfo?: Record<string, string>;
}

/** The store's records (../types.ts), re-exported for the callers that import them from here. */
export type { NewMessage, StoredDevice };

export class ServerStore {
  readonly db: Database.Database;
  /** Writes the index rows of messages logged in the group commit, in batches (deferred-index.ts). */
  private deferredIndex!: DeferredIndex;
  /** The deferred message index's view of this connection (deferred-index.ts, ../message-index-sqlite.ts). */
  readonly indexing: StoreIndexing;

  private readonly statements = new Map<string, Database.Statement>();
  /** Statements whose text depends on a count or a choice of columns, by a short key (shaped()). */
  private readonly shapedStatements = new Map<string, Database.Statement>();
  /** The open group-commit transaction and who waits for its COMMIT. */
  private batch?: { waiters: Waiter[] };
  /**
   * Device rows read while the group transaction is open, by dev_id: until its COMMIT this
   * connection holds the write lock (BEGIN IMMEDIATE), so no other process can change them, and a
   * turn reads its device once (a package 1 is checked before its transaction and touched in it).
   * A write to a device row (every one goes through deviceWrite()), a rollback and the COMMIT drop them.
   */
  private readonly deviceRows = new Map<string, DeviceRow>();
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

  private constructor(
    db: Database.Database,
    /** True: we fsync the WAL ourselves before a commit counts (durability FULL). */
    private readonly durable: boolean,
    private readonly walPath: string,
    private readonly fsyncAsync: NonNullable<StoreOptions['fsync']>,
  ) {
    this.db = db;
    this.indexing = this.indexingHooks();
  }

  /** FULL: nothing is acknowledged before it is on disk; NORMAL: it survives a crash of the process, not of the machine. */
  get durability(): 'FULL' | 'NORMAL' {
    return this.durable ? 'FULL' : 'NORMAL';
  }

  /** A statement prepared once per SQL text: preparing costs more than running these small statements. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (st === undefined) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /**
   * A statement whose text depends on a count (rows, ids) or a choice of columns: prepared once per
   * `key`, its text built only then (sql() would build it and hash it, some hundreds of characters, every call).
   */
  private shaped(key: string, text: () => string): Database.Statement {
    let st = this.shapedStatements.get(key);
    if (st === undefined) {
      st = this.db.prepare(text());
      this.shapedStatements.set(key, st);
    }
    return st;
  }

  /** Opens (creating if needed) the store in `dir`. */
  static open(dir: string, opts: StoreOptions = {}): ServerStore {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, DB_FILE);
    const db = new Database(file, opts.trace ? { verbose: (sql) => opts.trace!(String(sql)) } : {});
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    db.pragma('journal_mode = WAL');
    // FULL durability is our own fsync of the WAL (see the top of this file), so SQLite itself
    // never blocks the event loop on the disk.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    try {
      upgrade(db, file);
      // Messages without index rows (a crash before the deferred indexer wrote them, another process's
      // pending ones) are indexed now; not while a connection of this process holds the lock (it would
      // wait for itself): readers catch up before they read anyway.
      if (!DeferredIndex.writing(file) && unindexedCount(db) > 0) db.transaction(() => catchUpIndex(db)).immediate();
    } catch (e) {
      db.close();
      throw e;
    }
    const store = new ServerStore(db, (opts.synchronous ?? 'FULL') === 'FULL', `${file}-wal`, opts.fsync ?? fsync);
    store.deferredIndex = DeferredIndex.attach(file, store.indexing, opts.index);
    return store;
  }

  close(): void {
    if (this.db.open) {
      this.flush();
      if (this.deferredIndex.detach(this.indexing)) this.dirty = true;
      this.syncNow();
      this.db.close();
    }
    // An fsync still on the thread pool closes the file when it returns (everything is on disk already).
    if (!this.syncing) this.closeWal();
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
      this.deviceRows.clear();
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
      this.sql('SAVEPOINT dmw_async').run();
      try {
        const value = await fn();
        this.sql('RELEASE dmw_async').run();
        settled = new Promise<T>((resolve, reject) => batch.waiters.push({ resolve: () => resolve(value), reject }));
      } catch (e) {
        this.deviceRows.clear();
        try {
          if (this.db.inTransaction) {
            this.sql('ROLLBACK TO dmw_async').run();
            this.sql('RELEASE dmw_async').run();
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
    this.sql('BEGIN IMMEDIATE').run();
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
    this.deviceRows.clear();
    try {
      this.sql('COMMIT').run();
    } catch (e) {
      try {
        if (this.db.inTransaction) this.sql('ROLLBACK').run();
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
  private syncNow(): void {
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

  // --- devices -------------------------------------------------------------------------------

  device(devId: string): StoredDevice | undefined {
    const row = this.deviceRow(devId);
    return row && deviceFromRow(row);
  }

  /**
   * The statement for a write to the devices table, the only way to one: it first drops the row
   * deviceRows holds for `devId`, so the next read in the open group sees the write.
   */
  private deviceWrite(devId: string, text: string): Database.Statement {
    this.deviceRows.delete(devId);
    return this.sql(text);
  }

  /** deviceWrite() for a text that depends on the columns written (shaped()). */
  private shapedDeviceWrite(devId: string, key: string, text: () => string): Database.Statement {
    this.deviceRows.delete(devId);
    return this.shaped(key, text);
  }

  /** The device's row, read once per group transaction (deviceRows). */
  private deviceRow(devId: string): DeviceRow | undefined {
    const known = this.deviceRows.get(devId);
    // inTransaction: a transaction SQLite rolled back by itself (a failed statement) holds no lock any more.
    if (known && this.db.inTransaction) return known;
    const row = this.sql('SELECT * FROM devices WHERE dev_id = ?').get(devId) as DeviceRow | undefined;
    if (row && this.batch && this.db.inTransaction) this.deviceRows.set(devId, row);
    return row;
  }

  devices(): StoredDevice[] {
    return (this.sql('SELECT * FROM devices ORDER BY last_seen DESC').all() as DeviceRow[]).map(deviceFromRow);
  }

  /** Records that the device was seen now, creating it on first sight. */
  touchDevice(devId: string, now: number): { device: StoredDevice; created: boolean } {
    const at = iso(now);
    // Seen before is the common case: one statement.
    const seen = this.deviceWrite(devId, 'UPDATE devices SET last_seen = ? WHERE dev_id = ? RETURNING *').get(at, devId) as DeviceRow | undefined;
    if (seen) return { device: deviceFromRow(seen), created: false };
    const row = this.deviceWrite(devId, 'INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) RETURNING *').get(devId, at, at) as DeviceRow;
    return { device: deviceFromRow(row), created: true };
  }

  /**
   * Merges what the device reported into its DevInfo. One statement, and no write at all when the
   * device reports what it did last time (the usual case: every session starts with DevInfo).
   */
  setDevInfo(devId: string, info: Record<string, string>): void {
    this.deviceWrite(devId, 'UPDATE devices SET dev_info = json_patch(dev_info, @info) WHERE dev_id = @devId AND json_patch(dev_info, @info) IS NOT dev_info').run({ info: JSON.stringify(info), devId });
  }

  /** Stores the device's auth state (nonces, failures); with `seenAt`, also when it was last seen. */
  setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): void {
    if (seenAt === undefined) this.deviceWrite(devId, 'UPDATE devices SET auth = ? WHERE dev_id = ?').run(JSON.stringify(auth), devId);
    else this.deviceWrite(devId, 'UPDATE devices SET auth = ?, last_seen = ? WHERE dev_id = ?').run(JSON.stringify(auth), iso(seenAt), devId);
  }

  /**
   * touchDevice without its write for a device the store knows: its row as it would be after the
   * touch (`lastSeen` now), for a caller that writes `last_seen` with the rest of the message's
   * device changes (writeDevice: one write per message). A new device is created here (`written`).
   */
  seeDevice(devId: string, now: number): { device: StoredDevice; created: boolean; written: boolean } {
    const row = this.deviceRow(devId);
    if (row) {
      const device = deviceFromRow(row);
      device.lastSeen = iso(now);
      return { device, created: false, written: false };
    }
    const at = iso(now);
    const made = this.deviceWrite(devId, 'INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) RETURNING *').get(devId, at, at) as DeviceRow;
    return { device: deviceFromRow(made), created: true, written: true };
  }

  /**
   * What a message changed in the device's row, in one statement: `lastSeen`, `auth` (replaced),
   * `devInfo` (merged as setDevInfo does). DevInfo alone writes nothing when it is what the row holds.
   */
  writeDevice(devId: string, w: DeviceWrite): void {
    const sets: string[] = [];
    const args: unknown[] = [];
    if (w.auth !== undefined) {
      sets.push('auth = ?');
      args.push(JSON.stringify(w.auth));
    }
    if (w.lastSeen !== undefined) {
      sets.push('last_seen = ?');
      args.push(iso(w.lastSeen));
    }
    if (w.devInfo !== undefined) {
      if (sets.length === 0) {
        this.setDevInfo(devId, w.devInfo);
        return;
      }
      sets.push('dev_info = json_patch(dev_info, ?)');
      args.push(JSON.stringify(w.devInfo));
    }
    if (sets.length === 0) return;
    // One text per combination of columns (at most seven), each prepared once.
    this.shapedDeviceWrite(devId, `device/${w.auth !== undefined}/${w.lastSeen !== undefined}/${w.devInfo !== undefined}`, () => `UPDATE devices SET ${sets.join(', ')} WHERE dev_id = ?`).run(...args, devId);
  }

  /** Records that a known device was seen now (no read: the caller has its row). */
  markSeen(devId: string, now: number): void {
    this.deviceWrite(devId, 'UPDATE devices SET last_seen = ? WHERE dev_id = ?').run(iso(now), devId);
  }

  /** Per-device client credentials; undefined goes back to the lab default. Creates the device if new. */
  setDeviceCredential(devId: string, cred: Credential | undefined, now: number): void {
    this.touchDeviceQuiet(devId, now);
    this.deviceWrite(devId, 'UPDATE devices SET client_cred_name = ?, client_cred_secret = ? WHERE dev_id = ?').run(cred?.name ?? null, cred?.secret ?? null, devId);
  }

  setNotifyUrl(devId: string, url: string | undefined, now: number): void {
    this.touchDeviceQuiet(devId, now);
    this.deviceWrite(devId, 'UPDATE devices SET notify_url = ? WHERE dev_id = ?').run(url ?? null, devId);
  }

  private touchDeviceQuiet(devId: string, now: number): void {
    this.deviceWrite(devId, `INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT (dev_id) DO NOTHING`).run(devId, iso(now), iso(now));
  }

  // --- jobs ----------------------------------------------------------------------------------

  /**
   * Queues a job. `onUnconfirmed` (checked against its kind; throws with the reason) says what
   * happens when its command goes out and no Status comes back; default unconfirmed.ts's.
   */
  addJob(device: string, spec: JobSpec, now: number, opts: { onUnconfirmed?: UnconfirmedPolicy } = {}): JobRecord {
    // Checked at the boundary too; here again, so nothing that skipped one is ever queued.
    const clean = parseJobSpec(spec);
    const policy = resolveUnconfirmedPolicy(clean, opts.onUnconfirmed);
    const info = this.sql(`INSERT INTO jobs (device, command, target, spec, status, on_unconfirmed, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`)
      .run(device, clean.kind, jobTarget(clean), JSON.stringify(clean), policy, iso(now), iso(now));
    return this.job(Number(info.lastInsertRowid))!;
  }

  /** A queued job's policy, changed (e.g. right after queueing, in the same transaction); throws as addJob does. */
  setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): JobRecord {
    const job = this.job(id);
    if (!job) throw new JobDecisionError(404, `no job ${id}`);
    const checked = resolveUnconfirmedPolicy(job.spec, policy);
    return jobFromRow(this.sql('UPDATE jobs SET on_unconfirmed = ?, updated_at = ? WHERE id = ? RETURNING *').get(checked, iso(now), id) as JobRow);
  }

  job(id: number): JobRecord | undefined {
    const row = this.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && jobFromRow(row);
  }

  jobs(filter: { device?: string; status?: JobStatus } = {}): JobRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.device !== undefined) {
      where.push('device = ?');
      args.push(filter.device);
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      args.push(filter.status);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.sql(sql).all(...args) as JobRow[]).map(jobFromRow);
  }

  queuedJobs(device: string): JobRecord[] {
    return this.jobs({ device, status: 'queued' });
  }

  /**
   * What a session needs of the queue, oldest first: ids and specs only (read at every message);
   * `verify: true` when the engine must read the node back before sending the command.
   */
  queuedJobSpecs(device: string): { id: number; spec: JobSpec; verify?: boolean }[] {
    const rows = this.sql(`SELECT id, spec, verify FROM jobs WHERE device = ? AND status = 'queued' ORDER BY id`).all(device) as { id: number; spec: string; verify: number }[];
    return rows.map((r) => (r.verify ? { id: r.id, spec: JSON.parse(r.spec) as JobSpec, verify: true } : { id: r.id, spec: JSON.parse(r.spec) as JobSpec }));
  }

  /**
   * Queued jobs of `device`, oldest first (at most `limit`), marked sent in `sessionId`: one
   * statement, so no other writer can take the same jobs (DmStore.claimJobs).
   */
  claimJobs(device: string, sessionId: number, now: number, opts: { limit?: number } = {}): { id: number; spec: JobSpec; verify?: boolean }[] {
    const rows = this.sql(`UPDATE jobs SET status = 'sent', session_id = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (SELECT id FROM jobs WHERE device = ? AND status = 'queued' ORDER BY id LIMIT ?) RETURNING id, spec, verify`)
      .all(sessionId, iso(now), device, opts.limit ?? -1) as { id: number; spec: string; verify: number }[];
    rows.sort((a, b) => a.id - b.id);
    return rows.map((r) => (r.verify ? { id: r.id, spec: JSON.parse(r.spec) as JobSpec, verify: true } : { id: r.id, spec: JSON.parse(r.spec) as JobSpec }));
  }

  markSent(ids: number[], sessionId: number, now: number): void {
    if (ids.length === 0) return;
    // One statement for the whole message's jobs (prepared once per count, like the other texts).
    this.shaped(`sent/${ids.length}`, () => `UPDATE jobs SET status = 'sent', session_id = ?, attempts = attempts + 1, updated_at = ? WHERE status = 'queued' AND id IN (${ids.map(() => '?').join(', ')})`)
      .run(sessionId, iso(now), ...ids);
  }

  /** Settles a job; returns it as stored now (undefined when it is gone, e.g. cleared meanwhile). */
  finishJob(o: { id: number; status: 'done' | 'failed'; statusCode: number | null; results: JobResult[]; members: JobMemberStatus[]; error: string | null }, now: number): JobRecord | undefined {
    return this.updateTurnJobs(undefined, [o], now)[0];
  }

  /**
   * A turn's job changes in one statement: `sent` marked sent in their session (as markSent: only
   * those still queued), `finished` settled (as finishJob). Returns the finished jobs as stored now,
   * in the order given (undefined for one that is gone).
   */
  updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): (JobRecord | undefined)[] {
    const sentIds = sent?.ids ?? [];
    if (finished.length === 0) {
      if (sent) this.markSent([...sentIds], sent.sessionId, now);
      return [];
    }
    const finishedIds = finished.map((o) => o.id);
    if (new Set([...finishedIds, ...sentIds]).size !== finishedIds.length + sentIds.length) {
      // A job named twice: one statement would apply only one of its changes; in order, as separate calls do.
      if (sent) this.markSent([...sentIds], sent.sessionId, now);
      return finished.map((o) => this.updateTurnJobs(undefined, [o], now)[0]);
    }
    const at = iso(now);
    const results = finished.map((o) => JSON.stringify(o.results));
    const members = finished.map((o) => JSON.stringify(o.members));
    // The CASE columns' (id, value) pairs, column by column, as the text lists them.
    const args: unknown[] = [];
    for (const o of finished) args.push(o.id, o.status);
    for (const o of finished) args.push(o.id, o.statusCode);
    for (let i = 0; i < finished.length; i++) args.push(finished[i]!.id, results[i]);
    for (let i = 0; i < finished.length; i++) args.push(finished[i]!.id, members[i]);
    for (const o of finished) args.push(o.id, o.error);
    if (sentIds.length === 0) args.push(at, ...finishedIds);
    else args.push(...finishedIds, ...finishedIds, sent!.sessionId, ...finishedIds, at, ...finishedIds, ...sentIds);
    const rows = this.shaped(`turn/${sentIds.length}/${finished.length}`, () => turnJobsUpdate(sentIds.length, finished.length)).all(...args) as Pick<JobRow, typeof JOB_KEPT[number]>[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return finished.map((o, i) => {
      const r = byId.get(o.id);
      // The columns the UPDATE set are the ones given; the rest come back (RETURNING costs per column).
      return r && jobFromRow({
        id: r.id, device: r.device, command: r.command, target: r.target, spec: r.spec, status: o.status, status_code: o.statusCode, results: results[i]!,
        members: members[i]!, session_id: r.session_id, attempts: r.attempts, error: o.error, created_at: r.created_at, updated_at: at,
        on_unconfirmed: r.on_unconfirmed, verify: 0,
      });
    });
  }

  /**
   * A session let go of a job without its answer. Not sent: back to the queue. Sent (nobody knows
   * whether the device executed it): what its onUnconfirmed policy says (unconfirmed.ts), never a
   * silent re-send of a command that changes the device. `reason` says how the session ended.
   * Returns the job as it is now when this changed it.
   */
  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts: { unclaim?: boolean } = {}): JobRecord | undefined {
    const job = this.job(id);
    if (!job || (job.status !== 'sent' && job.status !== 'queued')) return undefined;
    if (!wasSent) {
      if (job.status === 'queued') return undefined;
      if (opts.unclaim) {
        // Claimed (claimJobs) but nothing of it went out: as if never claimed (the server here
        // marks jobs sent when they go out, so only a caller of claimJobs gets here).
        const row = this.sql(`UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), updated_at = ? WHERE id = ? RETURNING *`).get(iso(now), id) as JobRow | undefined;
        return row && jobFromRow(row);
      }
      return this.settle(id, { status: 'queued', verify: job.verify, error: job.error }, now);
    }
    return this.settle(id, settleUnanswered(job, reason, maxAttempts), now);
  }

  /**
   * Every job still out on the wire in a session that ended without their answers (the server
   * failed inside it): each by its onUnconfirmed policy, as releaseJob. Returns the jobs changed.
   */
  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): JobRecord[] {
    const rows = this.sql(`SELECT * FROM jobs WHERE session_id = ? AND status = 'sent' ORDER BY id`).all(sessionId) as JobRow[];
    return rows.map((r) => this.settle(r.id, settleUnanswered(jobFromRow(r), reason, maxAttempts), now));
  }

  /**
   * The engineer's decision on an unconfirmed job: verify (queued, the node is read back before
   * anything is sent), resend (queued as it is), drop (failed). Throws JobDecisionError: 404 no such
   * job, 409 not unconfirmed (decided already, or never unconfirmed), 400 verify on a kind that
   * cannot be read back. One statement decides, so two deciders cannot both win.
   */
  decideJob(id: number, action: UnconfirmedDecision, now: number): JobRecord {
    return this.tx(() => {
      const job = this.job(id);
      if (!job) throw new JobDecisionError(404, `no job ${id}`);
      const refusal = decisionRefusal(job, action);
      if (refusal) throw new JobDecisionError(refusal.status, refusal.message);
      const s = settleDecision(job, action);
      const row = this.sql(`UPDATE jobs SET status = ?, verify = ?, error = ?, updated_at = ? WHERE id = ? AND status = 'unconfirmed' RETURNING *`)
        .get(s.status, s.verify ? 1 : 0, s.error, iso(now), id) as JobRow | undefined;
      if (!row) throw new JobDecisionError(409, `job ${id} was decided meanwhile`);
      return jobFromRow(row);
    });
  }

  private settle(id: number, s: JobSettlement, now: number): JobRecord {
    return jobFromRow(this.sql(`UPDATE jobs SET status = ?, verify = ?, error = ?, updated_at = ? WHERE id = ? RETURNING *`).get(s.status, s.verify ? 1 : 0, s.error, iso(now), id) as JobRow);
  }

  /**
   * A generic alert (1226) whose Correlator matches an Exec job: its items join the job's results.
   * Only the device's latest Exec with that Correlator gets them: a lab reuses correlators from run
   * to run, and a report answers the last command that asked for one, not every earlier one.
   */
  attachAlertToJobs(device: string, alert: AlertRecord, now: number): number[] {
    if (!alert.correlator) return [];
    const rows = (this.sql(`SELECT * FROM jobs WHERE device = ? AND command = 'exec' ORDER BY id DESC`).all(device) as JobRow[]).map(jobFromRow)
      .filter((j) => j.spec.kind === 'exec' && j.spec.correlator === alert.correlator)
      .slice(0, 1);
    for (const j of rows) {
      const extra: JobResult[] = alert.items.map((i) => ({ uri: i.source ?? i.target ?? '', format: i.format ?? null, data: i.data ?? null, type: i.type ?? `alert:${alert.code}` }));
      this.sql('UPDATE jobs SET results = ?, updated_at = ? WHERE id = ?').run(JSON.stringify([...j.results, ...extra]), iso(now), j.id);
    }
    return rows.map((j) => j.id);
  }

  /** Removes a device's jobs, except those out on the wire right now. */
  clearJobs(device: string): { deleted: number; kept: number } {
    return this.tx(() => {
      const deleted = this.sql(`DELETE FROM jobs WHERE device = ? AND status != 'sent'`).run(device).changes;
      const kept = (this.sql(`SELECT COUNT(*) AS n FROM jobs WHERE device = ? AND status = 'sent'`).get(device) as { n: number }).n;
      return { deleted, kept };
    });
  }

  // --- sessions and messages -----------------------------------------------------------------

  createSession(p: { device: string | null; dmSessionId: string | null; encoding: Encoding | null; state?: SessionState; reason?: string; authType?: string }, now: number): number {
    const info = this.sql(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(p.device, p.dmSessionId, p.state ?? 'active', p.encoding, p.authType ?? null, iso(now), p.state && p.state !== 'active' ? iso(now) : null, p.reason ?? null);
    return Number(info.lastInsertRowid);
  }

  endSession(id: number, state: SessionState, reason: string, now: number): void {
    this.sql(`UPDATE sessions SET state = ?, reason = ?, ended_at = ? WHERE id = ? AND state = 'active'`).run(state, reason, iso(now), id);
  }

  setSessionAuth(id: number, authType: string): void {
    this.sql('UPDATE sessions SET auth_type = ? WHERE id = ?').run(authType, id);
  }

  session(id: number): SessionRecord | undefined {
    const row = this.sql(`SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count FROM sessions s WHERE id = ?`).get(id) as SessionRow | undefined;
    return row && sessionFromRow(row);
  }

  sessions(filter: { device?: string; limit?: number } = {}): SessionRecord[] {
    const args: unknown[] = [];
    let where = '';
    if (filter.device !== undefined) {
      where = 'WHERE s.device = ?';
      args.push(filter.device);
    }
    const rows = this.sql(`SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count FROM sessions s ${where} ORDER BY s.id DESC LIMIT ?`)
      .all(...args, filter.limit ?? 1000) as SessionRow[];
    return rows.map(sessionFromRow);
  }

  /**
   * Logs a message. `seq` is its place in the session; callers that count their session's
   * messages pass it, others get MAX(seq) + 1. `decoded` is only for a form the bytes cannot give
   * back (normally null: messages() derives it from the bytes).
   */
  addMessage(m: NewMessage): number {
    const seq = m.seq ?? ((this.sql('SELECT MAX(seq) AS s FROM messages WHERE session_id = ?').get(m.sessionId) as { s: number | null }).s ?? 0) + 1;
    // One transaction for the message and its index rows (see `together`).
    return this.together(() => {
      const id = Number(this.sql(`INSERT INTO messages (session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...messageValues(m, seq)).lastInsertRowid);
      this.logIndex([loggedMessage(m, seq, id)]);
      return id;
    });
  }

  /**
   * Logs messages whose `seq` the caller knows, in one statement (a round trip's request and its
   * answer); returns their ids in order.
   */
  addMessages(ms: readonly (NewMessage & { seq: number })[]): number[] {
    if (ms.length === 0) return [];
    const args: unknown[] = [];
    for (const m of ms) args.push(...messageValues(m, m.seq));
    return this.together(() => {
      const rows = this.sql(messagesInsert(ms.length)).all(...args) as { id: number }[];
      this.logIndex(ms.map((m, i) => loggedMessage(m, m.seq, rows[i]!.id)));
      return rows.map((r) => r.id);
    });
  }

  /**
   * The index rows of messages just logged. In the group commit (the server answering a device),
   * deferred: a batch writes them later for many messages at once (deferred-index.ts), off the
   * answer's path. Elsewhere (tx(): imports, tools, tests that read right after) in the same transaction.
   */
  private logIndex(logged: LoggedMessage[]): void {
    if (this.groupDepth > 0) this.deferredIndex.logged(logged);
    else indexMessages(this.db, logged);
  }

  /** The deferred message index's view of this connection (deferred-index.ts, ../message-index-sqlite.ts). */
  private indexingHooks(): StoreIndexing {
    return {
      db: this.db,
      // The group-commit transaction is open: index rows must be written in it (the write lock is ours).
      writing: () => this.batch !== undefined,
      indexWrite: (fn) => this.indexWrite(fn),
      indexReady: () => (this.deferredIndex.needsCatchUp(this.indexing) ? this.deferredIndex.catchUp(this.indexing) : undefined),
      indexHere: () => {
        const d = this.deferredIndex;
        const n = unindexedCount(this.db);
        while (d.indexIn(this.db, d.limits.maxBatch));
        return n;
      },
      queue: () => this.deferredIndex,
    };
  }

  /**
   * Index rows written where this connection may write now: in the open group (a savepoint; resolves
   * when the group committed), else a transaction of their own, committed now and fsynced with the
   * next group or close() (index rows are rebuilt from the stored bytes after a crash).
   */
  private indexWrite(fn: () => void): Promise<void> {
    if (this.batch) return this.asyncActive ? this.groupAsync(async () => fn()) : this.group(fn);
    try {
      this.db.transaction(fn).immediate();
    } catch (e) {
      return Promise.reject(e);
    }
    this.dirty = true;
    return Promise.resolve();
  }

  /**
   * Runs `fn` so that its writes land together or not at all. Inside group() the request's own
   * savepoint already does that (a throw undoes the whole request, which is then refused), so no
   * savepoint of its own: one cost ~0.07 ms, on every round trip (test/bench/store-index.ts).
   * Anywhere else (tx(), a caller that may catch and go on), a savepoint inside the caller's.
   */
  private together<T>(fn: () => T): T {
    return this.groupDepth > 0 ? fn() : this.db.transaction(fn)();
  }

  /** Adds a line to a logged message's note (auth reasons, warnings found after it was stored). */
  annotateMessage(id: number, note: string): void {
    this.sql(`UPDATE messages SET note = CASE WHEN note IS NULL THEN ? ELSE note || char(10) || ? END WHERE id = ?`).run(note, note, id);
  }

  messages(sessionId: number): MessageRecord[] {
    return (this.sql('SELECT * FROM messages WHERE session_id = ? ORDER BY seq').all(sessionId) as MessageRow[]).map(messageFromRow);
  }

  /** One logged message without reading its whole session (sessions can hold thousands). */
  message(id: number): MessageRecord | undefined {
    const row = this.sql('SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
    return row && messageFromRow(row);
  }

  /**
   * After a crash: sessions that were open are 'interrupted' (their devices will start new ones) and
   * their jobs that went out unanswered follow their onUnconfirmed policy (releaseJob): `jobs` of
   * them queued again (read-only ones, verify, resend), `unconfirmed` left to the engineer,
   * `failed` dropped or out of attempts.
   */
  recoverInterrupted(now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): { sessions: number; jobs: number; unconfirmed: number; failed: number } {
    return this.tx(() => {
      const sessions = this.sql(`UPDATE sessions SET state = 'interrupted', reason = 'server stopped during the session', ended_at = ? WHERE state = 'active'`).run(iso(now)).changes;
      const out = { sessions, jobs: 0, unconfirmed: 0, failed: 0 };
      const rows = this.sql(`SELECT * FROM jobs WHERE status = 'sent' ORDER BY id`).all() as JobRow[];
      for (const r of rows) {
        const j = this.settle(r.id, settleUnanswered(jobFromRow(r), 'the server stopped during the session (crash, kill or power loss)', maxAttempts), now);
        if (j.status === 'queued') out.jobs++;
        else if (j.status === 'unconfirmed') out.unconfirmed++;
        else out.failed++;
      }
      return out;
    });
  }

  // --- the discovered tree and alerts --------------------------------------------------------

  upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): void {
    const at = iso(now);
    // Many rows per statement: a package 1 alone brings five DevInfo leaves.
    for (let i = 0; i < entries.length; i += TREE_ROWS_PER_STATEMENT) {
      const part = entries.slice(i, i + TREE_ROWS_PER_STATEMENT);
      const args: unknown[] = [];
      for (const e of part) args.push(device, normaliseUri(e.uri), e.format, e.type, e.data, e.encoding ?? null, at);
      this.shaped(`tree/${part.length}`, () => `INSERT INTO tree (device, uri, format, type, data, encoding, fetched_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
        ON CONFLICT (device, uri) DO UPDATE SET format = COALESCE(excluded.format, format), type = COALESCE(excluded.type, type),
        data = COALESCE(excluded.data, data), encoding = COALESCE(excluded.encoding, encoding), fetched_at = excluded.fetched_at`).run(...args);
    }
  }

  /** Forgets a node and everything under it (the device said 2xx to a Delete of it). */
  removeTree(device: string, uri: string): void {
    const u = normaliseUri(uri);
    this.sql("DELETE FROM tree WHERE device = ? AND (uri = ? OR substr(uri, 1, length(?) + 1) = ? || '/')").run(device, u, u, u);
  }

  tree(device: string): TreeEntry[] {
    return (this.sql('SELECT * FROM tree WHERE device = ? ORDER BY uri').all(device) as { uri: string; format: string | null; type: string | null; data: string | null; encoding: string | null; fetched_at: string }[])
      .map((r) => ({ uri: r.uri, format: r.format, type: r.type, data: r.data, fetchedAt: r.fetched_at, ...(r.encoding === 'b64' ? { encoding: 'b64' as const } : {}) }));
  }

  addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): void {
    this.sql('INSERT INTO alerts (session_id, device, code, correlator, items, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(sessionId, device, alert.code, alert.correlator ?? null, JSON.stringify(alert.items), iso(now));
  }

  alerts(device: string): (AlertRecord & { at: string; sessionId: number | null })[] {
    return (this.sql('SELECT * FROM alerts WHERE device = ? ORDER BY id').all(device) as { code: string; correlator: string | null; items: string; at: string; session_id: number | null }[])
      .map((r) => ({ code: r.code, items: JSON.parse(r.items), at: r.at, sessionId: r.session_id, ...(r.correlator ? { correlator: r.correlator } : {}) }));
  }

  // --- imported sessions (dmw capture import; main/capture/) ----------------------------------

  /**
   * Stores sessions read from a capture or a bundle, all in one transaction (a file imports whole
   * or not at all). State 'imported', `reason` naming the file; started/ended at the first/last
   * message's own time; messages keep their original times and bytes. Returns the session ids.
   */
  importSessions(sessions: readonly { device: string | null; dmSessionId: string | null; encoding: Encoding | null; authType: string | null; messages: readonly Omit<NewMessage, 'sessionId' | 'seq'>[] }[], reason: string): number[] {
    return this.tx(() => sessions.map((s) => {
      const first = s.messages[0]?.at ?? 0;
      const last = s.messages[s.messages.length - 1]?.at ?? first;
      const id = Number(this.sql(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES (?, ?, 'imported', ?, ?, ?, ?, ?)`)
        .run(s.device, s.dmSessionId, s.encoding, s.authType, iso(first), iso(last), reason).lastInsertRowid);
      s.messages.forEach((m, i) => this.addMessage({ ...m, sessionId: id, seq: i + 1 }));
      return id;
    }));
  }
}

/** The columns of a job that settling it leaves as they are: all updateTurnJobs reads back. */
const JOB_KEPT = ['id', 'device', 'command', 'target', 'spec', 'session_id', 'attempts', 'created_at', 'on_unconfirmed'] as const;

/**
 * updateTurnJobs' statement for `nSent` jobs sent and `nFinished` settled (prepared once per shape:
 * ServerStore.shaped). Each settled column is a CASE over the finished ids; sent rows keep it (ELSE),
 * and take what markSent sets. A CASE on constants, not a join with a VALUES table: that one cost
 * more than the statements it replaced.
 */
function turnJobsUpdate(nSent: number, nFinished: number): string {
  const when = Array.from({ length: nFinished }, () => 'WHEN ? THEN ?').join(' ');
  const finishedIn = `(${Array.from({ length: nFinished }, () => '?').join(', ')})`;
  const sentIn = `(${Array.from({ length: nSent }, () => '?').join(', ')})`;
  const returning = `RETURNING ${JOB_KEPT.join(', ')}`;
  return nSent === 0
    ? `UPDATE jobs SET status = CASE id ${when} END, status_code = CASE id ${when} END, results = CASE id ${when} END,
      members = CASE id ${when} END, error = CASE id ${when} END, verify = 0, updated_at = ? WHERE id IN ${finishedIn} ${returning}`
    : `UPDATE jobs SET status = CASE id ${when} ELSE 'sent' END, status_code = CASE id ${when} ELSE status_code END,
      results = CASE id ${when} ELSE results END, members = CASE id ${when} ELSE members END, error = CASE id ${when} ELSE error END,
      verify = CASE WHEN id IN ${finishedIn} THEN 0 ELSE verify END, session_id = CASE WHEN id IN ${finishedIn} THEN session_id ELSE ? END,
      attempts = CASE WHEN id IN ${finishedIn} THEN attempts ELSE attempts + 1 END, updated_at = ?
      WHERE id IN ${finishedIn} OR (id IN ${sentIn} AND status = 'queued') ${returning}`;
}

const messageInserts: string[] = [];

/** The messages INSERT for `n` rows, RETURNING their ids (the text built once per n). */
function messagesInsert(n: number): string {
  return (messageInserts[n] ??= `INSERT INTO messages (session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')} RETURNING id`);
}

/** What the message index needs of a message just logged. */
function loggedMessage(m: NewMessage, seq: number, id: number): LoggedMessage {
  return { id, sessionId: m.sessionId, seq, direction: m.direction, atMs: m.at, msgId: m.msgId ?? null, contentType: m.contentType ?? null, bytes: m.bytes, ...(m.parsed ? { parsed: m.parsed } : {}) };
}

/** A message row's values, in the column order of the INSERTs above. */
function messageValues(m: NewMessage, seq: number): unknown[] {
  return [
    m.sessionId, seq, m.direction, iso(m.at), m.durationMs ?? null, m.msgId ?? null, m.contentType ?? null, m.httpStatus ?? null,
    Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), m.decoded ?? null, m.error ?? null, m.note ?? null,
  ];
}

/** `DevInfo/Mod` and `./DevInfo/Mod` are the same node. */
function normaliseUri(uri: string): string {
  if (uri === '.' || uri.startsWith('./')) return uri;
  return `./${uri}`;
}

function messageFromRow(r: MessageRow): MessageRecord {
  return messageRecord({
    id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction as Direction, at: r.at, durationMs: r.duration_ms, msgId: r.msg_id,
    contentType: r.content_type, httpStatus: r.http_status, bytes: new Uint8Array(r.bytes), error: r.error, note: r.note,
  }, r.decoded);
}

function deviceFromRow(r: DeviceRow): StoredDevice {
  const d: StoredDevice = {
    devId: r.dev_id,
    devInfo: JSON.parse(r.dev_info) as Record<string, string>,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    auth: { authFailures: [], ...(JSON.parse(r.auth) as Partial<DeviceAuthState>) },
  };
  if (r.client_cred_name !== null && r.client_cred_secret !== null) d.clientCred = { name: r.client_cred_name, secret: r.client_cred_secret };
  if (r.notify_url) d.notifyUrl = r.notify_url;
  return d;
}

function jobFromRow(r: JobRow): JobRecord {
  return {
    id: r.id,
    device: r.device,
    command: r.command as JobRecord['command'],
    target: r.target,
    status: r.status as JobStatus,
    statusCode: r.status_code,
    results: JSON.parse(r.results) as JobResult[],
    members: JSON.parse(r.members) as JobMemberStatus[],
    spec: JSON.parse(r.spec) as JobSpec,
    sessionId: r.session_id,
    attempts: r.attempts,
    error: r.error,
    onUnconfirmed: r.on_unconfirmed as UnconfirmedPolicy,
    verify: r.verify === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function sessionFromRow(r: SessionRow): SessionRecord {
  const s: SessionRecord = {
    id: r.id, device: r.device, dmSessionId: r.dm_session_id, state: r.state as SessionState, encoding: r.encoding as Encoding | null,
    authType: r.auth_type, startedAt: r.started_at, endedAt: r.ended_at, reason: r.reason,
  };
  if (r.message_count !== undefined) s.messageCount = r.message_count;
  return s;
}
