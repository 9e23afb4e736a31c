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
 *
 * This class is the store's one face; each idea lives in its own module and the methods here hand
 * over to it: schema.ts (tables, migrations), group-commit.ts (transactions, group commit, fsync),
 * devices.ts, jobs.ts, sessions.ts, messages.ts (the log and its index), tree.ts (tree, alerts),
 * imports.ts, over one statement cache (statements.ts) and the row mappings (rows.ts).
 */
import Database from 'better-sqlite3';
import { fsync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type {
  AlertRecord, Credential, DeviceAuthState, JobMemberStatus, JobRecord, JobResult, JobSpec, JobStatus, MessageRecord, NewMessage, SessionRecord, SessionState,
  StoredDevice, TreeEntry, UnconfirmedDecision, UnconfirmedPolicy,
} from '../types.js';
import { DEFAULT_MAX_JOB_ATTEMPTS } from '../job-settlement.js';
import type { Encoding } from '../../protocol/codec.js';
import type { JobOutcome } from '../store.js';
import { catchUpIndex, unindexedCount } from '../message-index.js';
import { DeferredIndex, type IndexLimits } from './deferred-index.js';
import { upgrade } from './schema.js';
import { Statements } from './statements.js';
import { GroupCommit, type FsyncAsync } from './group-commit.js';
import { DeviceTable, type DeviceWrite } from './devices.js';
import { JobTable } from './jobs.js';
import { SessionTable } from './sessions.js';
import { MessageLog, type StoreIndexing } from './messages.js';
import { TreeTable } from './tree.js';
import { importSessions, type ImportedSessionInput } from './imports.js';

export { SCHEMA_VERSION } from './schema.js';
export type { DeviceWrite } from './devices.js';
export type { StoreIndexing } from './messages.js';
/** Why a decision on an unconfirmed job was refused (one class for both stores: callers test instanceof). */
export { JobDecisionError } from '../types.js';
/** The store's records (../types.ts), re-exported for the callers that import them from here. */
export type { NewMessage, StoredDevice };

export const DB_FILE = 'dmw.sqlite';

export interface StoreOptions {
  /** 'FULL' (default) survives power loss; 'NORMAL' survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How the WAL is flushed to disk in 'FULL' (tests count calls); default node:fs fsync. */
  fsync?: FsyncAsync;
  /** How long a writer waits for another process's lock (ms). */
  busyTimeoutMs?: number;
  /** The deferred message index's batch and queue bounds (deferred-index.ts; the first store opened on a file in a process sets them). */
  index?: Partial<IndexLimits>;
  /** Called with every SQL statement run, parameters filled in (better-sqlite3's `verbose`; tests count statements). */
  trace?: (sql: string) => void;
}

export class ServerStore {
  readonly db: Database.Database;
  /** The deferred message index's view of this connection (deferred-index.ts, ../message-index-sqlite.ts). */
  readonly indexing: StoreIndexing;

  private readonly st: Statements;
  private readonly commits: GroupCommit;
  private readonly deviceTable: DeviceTable;
  private readonly jobTable: JobTable;
  private readonly sessionTable: SessionTable;
  private readonly log: MessageLog;
  private readonly treeTable: TreeTable;

  private constructor(db: Database.Database, durable: boolean, walPath: string, fsyncAsync: FsyncAsync) {
    this.db = db;
    this.st = new Statements(db);
    // The rows read under the group's write lock are forgotten when it commits or rolls back.
    this.commits = new GroupCommit(db, this.st, durable, walPath, fsyncAsync, () => this.deviceTable.dropReads());
    this.deviceTable = new DeviceTable(db, this.st, this.commits);
    this.jobTable = new JobTable(this.st, this.commits);
    this.sessionTable = new SessionTable(this.st);
    this.log = new MessageLog(db, this.st, this.commits);
    this.treeTable = new TreeTable(this.st);
    this.indexing = this.log.indexing;
  }

  /** FULL: nothing is acknowledged before it is on disk; NORMAL: it survives a crash of the process, not of the machine. */
  get durability(): 'FULL' | 'NORMAL' {
    return this.commits.durable ? 'FULL' : 'NORMAL';
  }

  /** The statement cache's sql() (statements.ts), for the what-if bench's stand-ins (test/bench/store-what-if.ts). */
  private sql(text: string): Database.Statement {
    return this.st.sql(text);
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
    store.log.deferredIndex = DeferredIndex.attach(file, store.indexing, opts.index);
    return store;
  }

  close(): void {
    if (this.db.open) {
      this.commits.flush();
      if (this.log.deferredIndex.detach(this.indexing)) this.commits.markDirty();
      this.commits.syncNow();
      this.db.close();
    }
    // An fsync still on the thread pool closes the file when it returns (everything is on disk already).
    this.commits.release();
  }

  // --- transactions and the group commit (group-commit.ts) -----------------------------------

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE): all of it commits, or none; committed
   * when this returns. A pending group commit is committed first.
   */
  tx<T>(fn: () => T): T {
    return this.commits.tx(fn);
  }

  /**
   * Runs `fn` now, in a savepoint of the shared group transaction (its writes all land, or none
   * of them when it throws), and resolves once that transaction committed. Rejects when `fn`
   * throws or the COMMIT fails (then every request of the group is rejected: none was answered yet).
   */
  group<T>(fn: () => T): Promise<T> {
    return this.commits.group(fn);
  }

  /**
   * group() for a callback that awaits (DmStore.tx over SQLite, sqlite-store.ts): one callback at a
   * time, in call order, each in its own savepoint of the shared group transaction; `fn` must await
   * only this store. Resolves once the group committed (and, FULL, fsynced).
   */
  groupAsync<T>(fn: () => Promise<T>): Promise<T> {
    return this.commits.groupAsync(fn);
  }

  /** Commits the group transaction, if one is open, and settles its waiters. */
  flush(): void {
    this.commits.flush();
  }

  // --- devices (devices.ts) ------------------------------------------------------------------

  device(devId: string): StoredDevice | undefined {
    return this.deviceTable.device(devId);
  }

  devices(): StoredDevice[] {
    return this.deviceTable.devices();
  }

  /** Records that the device was seen now, creating it on first sight. */
  touchDevice(devId: string, now: number): { device: StoredDevice; created: boolean } {
    return this.deviceTable.touchDevice(devId, now);
  }

  /** Merges what the device reported into its DevInfo (no write when it is what the row holds). */
  setDevInfo(devId: string, info: Record<string, string>): void {
    this.deviceTable.setDevInfo(devId, info);
  }

  /** Stores the device's auth state (nonces, failures); with `seenAt`, also when it was last seen. */
  setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): void {
    this.deviceTable.setDeviceAuth(devId, auth, seenAt);
  }

  /** touchDevice without its write for a device the store knows (its row as after the touch); a new device is created (`written`). */
  seeDevice(devId: string, now: number): { device: StoredDevice; created: boolean; written: boolean } {
    return this.deviceTable.seeDevice(devId, now);
  }

  /** What a message changed in the device's row (last seen, auth, DevInfo), in one statement. */
  writeDevice(devId: string, w: DeviceWrite): void {
    this.deviceTable.writeDevice(devId, w);
  }

  /** Records that a known device was seen now (no read: the caller has its row). */
  markSeen(devId: string, now: number): void {
    this.deviceTable.markSeen(devId, now);
  }

  /** Per-device client credentials; undefined goes back to the lab default. Creates the device if new. */
  setDeviceCredential(devId: string, cred: Credential | undefined, now: number): void {
    this.deviceTable.setDeviceCredential(devId, cred, now);
  }

  setNotifyUrl(devId: string, url: string | undefined, now: number): void {
    this.deviceTable.setNotifyUrl(devId, url, now);
  }

  // --- jobs (jobs.ts) ------------------------------------------------------------------------

  /** Queues a job; `onUnconfirmed` is checked against its kind (throws with the reason). */
  addJob(device: string, spec: JobSpec, now: number, opts: { onUnconfirmed?: UnconfirmedPolicy } = {}): JobRecord {
    return this.jobTable.addJob(device, spec, now, opts);
  }

  /** A queued job's policy, changed; throws as addJob does. */
  setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): JobRecord {
    return this.jobTable.setUnconfirmedPolicy(id, policy, now);
  }

  job(id: number): JobRecord | undefined {
    return this.jobTable.job(id);
  }

  jobs(filter: { device?: string; status?: JobStatus } = {}): JobRecord[] {
    return this.jobTable.jobs(filter);
  }

  queuedJobs(device: string): JobRecord[] {
    return this.jobTable.queuedJobs(device);
  }

  /** What a session needs of the queue, oldest first (read at every message). */
  queuedJobSpecs(device: string): { id: number; spec: JobSpec; verify?: boolean }[] {
    return this.jobTable.queuedJobSpecs(device);
  }

  /** Queued jobs of `device`, oldest first (at most `limit`), marked sent in `sessionId` in one statement. */
  claimJobs(device: string, sessionId: number, now: number, opts: { limit?: number } = {}): { id: number; spec: JobSpec; verify?: boolean }[] {
    return this.jobTable.claimJobs(device, sessionId, now, opts);
  }

  markSent(ids: number[], sessionId: number, now: number): void {
    this.jobTable.markSent(ids, sessionId, now);
  }

  /** Settles a job; returns it as stored now (undefined when it is gone, e.g. cleared meanwhile). */
  finishJob(o: { id: number; status: 'done' | 'failed'; statusCode: number | null; results: JobResult[]; members: JobMemberStatus[]; error: string | null }, now: number): JobRecord | undefined {
    return this.jobTable.finishJob(o, now);
  }

  /** A turn's job changes in one statement: `sent` marked sent, `finished` settled; returns the finished jobs as stored now. */
  updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): (JobRecord | undefined)[] {
    return this.jobTable.updateTurnJobs(sent, finished, now);
  }

  /** A session let go of a job without its answer: back to the queue, or what its onUnconfirmed policy says. */
  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts: { unclaim?: boolean } = {}): JobRecord | undefined {
    return this.jobTable.releaseJob(id, wasSent, maxAttempts, reason, now, opts);
  }

  /** Every job still out on the wire in a session that ended without their answers, as releaseJob. */
  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): JobRecord[] {
    return this.jobTable.releaseSessionJobs(sessionId, reason, now, maxAttempts);
  }

  /** The engineer's decision on an unconfirmed job (verify, resend, drop); throws JobDecisionError. */
  decideJob(id: number, action: UnconfirmedDecision, now: number): JobRecord {
    return this.jobTable.decideJob(id, action, now);
  }

  /** A generic alert whose Correlator matches the device's latest Exec job: its items join that job's results. */
  attachAlertToJobs(device: string, alert: AlertRecord, now: number): number[] {
    return this.jobTable.attachAlertToJobs(device, alert, now);
  }

  /** Removes a device's jobs, except those out on the wire right now. */
  clearJobs(device: string): { deleted: number; kept: number } {
    return this.jobTable.clearJobs(device);
  }

  // --- sessions (sessions.ts) and messages (messages.ts) -------------------------------------

  createSession(p: { device: string | null; dmSessionId: string | null; encoding: Encoding | null; state?: SessionState; reason?: string; authType?: string }, now: number): number {
    return this.sessionTable.createSession(p, now);
  }

  endSession(id: number, state: SessionState, reason: string, now: number): void {
    this.sessionTable.endSession(id, state, reason, now);
  }

  setSessionAuth(id: number, authType: string): void {
    this.sessionTable.setSessionAuth(id, authType);
  }

  session(id: number): SessionRecord | undefined {
    return this.sessionTable.session(id);
  }

  sessions(filter: { device?: string; limit?: number } = {}): SessionRecord[] {
    return this.sessionTable.sessions(filter);
  }

  /** Logs a message (`seq` given, or MAX(seq) + 1); returns its id. */
  addMessage(m: NewMessage): number {
    return this.log.addMessage(m);
  }

  /** Logs messages whose `seq` the caller knows, in one statement; returns their ids in order. */
  addMessages(ms: readonly (NewMessage & { seq: number })[]): number[] {
    return this.log.addMessages(ms);
  }

  /** Adds a line to a logged message's note (auth reasons, warnings found after it was stored). */
  annotateMessage(id: number, note: string): void {
    this.log.annotateMessage(id, note);
  }

  messages(sessionId: number): MessageRecord[] {
    return this.log.messages(sessionId);
  }

  /** One logged message without reading its whole session (sessions can hold thousands). */
  message(id: number): MessageRecord | undefined {
    return this.log.message(id);
  }

  /**
   * After a crash: sessions that were open are 'interrupted' (their devices will start new ones) and
   * their jobs that went out unanswered follow their onUnconfirmed policy (releaseJob): `jobs` of
   * them queued again (read-only ones, verify, resend), `unconfirmed` left to the engineer,
   * `failed` dropped or out of attempts.
   */
  recoverInterrupted(now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): { sessions: number; jobs: number; unconfirmed: number; failed: number } {
    return this.commits.tx(() => {
      const sessions = this.sessionTable.interruptActive(now);
      return { sessions, ...this.jobTable.releaseAllSent(now, maxAttempts) };
    });
  }

  // --- the discovered tree and alerts (tree.ts) ----------------------------------------------

  upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): void {
    this.treeTable.upsertTree(device, entries, now);
  }

  /** Forgets a node and everything under it (the device said 2xx to a Delete of it). */
  removeTree(device: string, uri: string): void {
    this.treeTable.removeTree(device, uri);
  }

  tree(device: string): TreeEntry[] {
    return this.treeTable.tree(device);
  }

  addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): void {
    this.treeTable.addAlert(device, sessionId, alert, now);
  }

  alerts(device: string): (AlertRecord & { at: string; sessionId: number | null })[] {
    return this.treeTable.alerts(device);
  }

  // --- imported sessions (imports.ts) --------------------------------------------------------

  /** Stores sessions read from a capture or a bundle, all in one transaction; returns the session ids. */
  importSessions(sessions: readonly ImportedSessionInput[], reason: string): number[] {
    return importSessions(this.commits, this.sessionTable, this.log, sessions, reason);
  }
}
