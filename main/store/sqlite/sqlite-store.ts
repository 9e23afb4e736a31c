/**
 * DmStore over the embedded SQLite store (ServerStore): the default, one process per data folder.
 *
 * Every operation runs ServerStore's synchronous better-sqlite3 call and hands back an
 * already-resolved promise. `tx(fn)` is ServerStore.groupAsync(): a savepoint in the shared
 * group-commit transaction, awaited while `fn` runs, released or rolled back, and settled only
 * once the group's COMMIT is on disk (FULL durability: nothing is answered before that). Calls are
 * served one at a time, so concurrent requests' savepoints never interleave; because `fn` awaits
 * only this store, whose promises are already resolved, a tx holds the others back for no more
 * than its own synchronous work.
 *
 * Writes outside tx() run as a tx of their own (so they never land inside another request's open
 * savepoint); reads run directly. Inside tx(fn), use the ops fn is given, never this store's own
 * write methods: those queue behind the running tx, which waits for them (a deadlock here; on
 * PostgreSQL a second transaction, not part of the first).
 *
 * The multi-instance operations are trivial here: claims are one UPDATE (the write lock is ours),
 * session state is a map in memory (one process), events an in-process emitter that delivers a
 * tx's events after it committed, and never a rolled-back one's.
 */
import { ServerStore, type DeviceWrite, type StoreOptions } from './server-store.js';
import type { DmStoreQueries } from '../queries.js';
import { SqliteQueries } from './queries.js';
import { SqliteMessageIndex } from '../message-index-sqlite.js';
import type { DmMessageIndex } from '../message-index-store.js';
import type {
  DeliveredEvent, DmStore, DmStoreOps, JobOutcome, NewSession, RecoveryCount, SessionClaim, SessionStateRecord, StoreEvent,
} from '../store.js';
import type {
  AlertRecord, Credential, DeviceAuthState, ImportedSession, JobRecord, JobSpec, JobStatus, MessageRecord, NewMessage, QueuedJobSpec,
  SessionRecord, SessionState, StoredAlert, StoredDevice, TreeEntry, UnconfirmedDecision, UnconfirmedPolicy,
} from '../types.js';
import { iso } from '../../util/iso-time.js';

/**
 * What a running tx holds besides its savepoint: the in-memory changes to undo, the events to
 * publish after COMMIT, and the device-row changes not written yet (`device`).
 */
interface TxScope {
  undo: (() => void)[];
  events: StoreEvent[];
  /**
   * A message changes its device's row up to three times (touchDevice's last_seen, the auth state
   * with its new nonces, DevInfo): they are gathered here and written as one UPDATE when the tx's
   * callback is done (SqliteStore.tx), or before anything else reads or writes the devices table.
   */
  device: { devId: string; write: DeviceWrite } | undefined;
}

/** Runs a synchronous call as a settled promise (a throw becomes a rejection, as on PostgreSQL). */
function settled<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The shared in-memory parts: session state and event subscribers. */
class Memory {
  readonly states = new Map<string, SessionStateRecord>();
  readonly listeners = new Set<(e: DeliveredEvent) => void>();
  private nextEventId = 1;

  deliver(events: readonly StoreEvent[]): void {
    for (const event of events) {
      const e: DeliveredEvent = { id: this.nextEventId++, event: event as DeliveredEvent['event'] };
      for (const fn of [...this.listeners]) {
        try {
          fn(e);
        } catch (err) {
          process.emitWarning(`a store event subscriber failed: ${(err as Error).message}`);
        }
      }
    }
  }
}

/**
 * Every DmStoreOps operation over ServerStore. `scope` is the tx it runs in (undefined: a read
 * outside any tx, or the write-through path of SqliteStore, which always passes a scope).
 */
class SqliteOps implements DmStoreOps {
  constructor(
    protected readonly s: ServerStore,
    protected readonly mem: Memory,
    private readonly scope: TxScope | undefined,
  ) {}

  device(devId: string): Promise<StoredDevice | undefined> { return settled(() => (this.writePendingDevice(), this.s.device(devId))); }
  devices(): Promise<StoredDevice[]> { return settled(() => (this.writePendingDevice(), this.s.devices())); }
  touchDevice(devId: string, now: number): Promise<{ device: StoredDevice; created: boolean }> {
    return settled(() => {
      if (!this.scope) return this.s.touchDevice(devId, now);
      // Read now, last_seen written with the rest of the message's device changes.
      const { device, created, written } = this.s.seeDevice(devId, now);
      if (!written) this.deviceChange(devId, { lastSeen: now });
      return { device, created };
    });
  }
  setDevInfo(devId: string, info: Record<string, string>): Promise<void> { return settled(() => this.deviceChange(devId, { devInfo: info })); }
  setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): Promise<void> {
    return settled(() => this.deviceChange(devId, seenAt === undefined ? { auth } : { auth, lastSeen: seenAt }));
  }
  markSeen(devId: string, now: number): Promise<void> { return settled(() => this.deviceChange(devId, { lastSeen: now })); }
  setDeviceCredential(devId: string, cred: Credential | undefined, now: number): Promise<void> { return settled(() => (this.writePendingDevice(), this.s.setDeviceCredential(devId, cred, now))); }
  setNotifyUrl(devId: string, url: string | undefined, now: number): Promise<void> { return settled(() => (this.writePendingDevice(), this.s.setNotifyUrl(devId, url, now))); }

  /** Adds to the tx's pending device-row change (a later value of a column wins, DevInfo merges); another device's is written first. */
  private deviceChange(devId: string, w: DeviceWrite): void {
    if (!this.scope) {
      this.s.writeDevice(devId, w);
      return;
    }
    const pending = this.scope.device;
    if (pending && pending.devId !== devId) this.writePendingDevice();
    // Every field there from the start: one object shape whatever the order of the changes.
    const into = this.scope.device ??= { devId, write: { lastSeen: undefined, auth: undefined, devInfo: undefined } };
    if (w.lastSeen !== undefined) into.write.lastSeen = w.lastSeen;
    if (w.auth !== undefined) into.write.auth = w.auth;
    if (w.devInfo !== undefined) into.write.devInfo = { ...into.write.devInfo, ...w.devInfo };
  }

  /** Writes the tx's pending device-row change, if any (SqliteStore.tx calls it when the callback is done). */
  writePendingDevice(): void {
    const pending = this.scope?.device;
    if (!pending) return;
    this.scope!.device = undefined;
    this.s.writeDevice(pending.devId, pending.write);
  }

  addJob(device: string, spec: JobSpec, now: number, opts?: { onUnconfirmed?: UnconfirmedPolicy }): Promise<JobRecord> { return settled(() => this.s.addJob(device, spec, now, opts)); }
  setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): Promise<JobRecord> { return settled(() => this.s.setUnconfirmedPolicy(id, policy, now)); }
  job(id: number): Promise<JobRecord | undefined> { return settled(() => this.s.job(id)); }
  jobs(filter?: { device?: string; status?: JobStatus }): Promise<JobRecord[]> { return settled(() => this.s.jobs(filter)); }
  queuedJobs(device: string): Promise<JobRecord[]> { return settled(() => this.s.queuedJobs(device)); }
  queuedJobSpecs(device: string): Promise<QueuedJobSpec[]> { return settled(() => this.s.queuedJobSpecs(device)); }
  markSent(ids: number[], sessionId: number, now: number): Promise<void> { return settled(() => this.s.markSent(ids, sessionId, now)); }
  claimJobs(device: string, sessionId: number, now: number, opts?: { limit?: number }): Promise<QueuedJobSpec[]> { return settled(() => this.s.claimJobs(device, sessionId, now, opts)); }
  finishJob(o: JobOutcome, now: number): Promise<JobRecord | undefined> { return settled(() => this.s.finishJob(o, now)); }
  updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): Promise<(JobRecord | undefined)[]> {
    return settled(() => this.s.updateTurnJobs(sent, finished, now));
  }
  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts?: { unclaim?: boolean }): Promise<JobRecord | undefined> { return settled(() => this.s.releaseJob(id, wasSent, maxAttempts, reason, now, opts)); }
  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts?: number): Promise<JobRecord[]> { return settled(() => this.s.releaseSessionJobs(sessionId, reason, now, maxAttempts)); }
  decideJob(id: number, action: UnconfirmedDecision, now: number): Promise<JobRecord> { return settled(() => this.s.decideJob(id, action, now)); }
  attachAlertToJobs(device: string, alert: AlertRecord, now: number): Promise<number[]> { return settled(() => this.s.attachAlertToJobs(device, alert, now)); }
  clearJobs(device: string): Promise<{ deleted: number; kept: number }> { return settled(() => this.s.clearJobs(device)); }
  recoverInterrupted(now: number, maxAttempts?: number): Promise<RecoveryCount> { return settled(() => this.s.recoverInterrupted(now, maxAttempts)); }

  createSession(p: NewSession, now: number): Promise<number> { return settled(() => this.s.createSession(p, now)); }
  endSession(id: number, state: SessionState, reason: string, now: number): Promise<void> { return settled(() => this.s.endSession(id, state, reason, now)); }
  setSessionAuth(id: number, authType: string): Promise<void> { return settled(() => this.s.setSessionAuth(id, authType)); }
  session(id: number): Promise<SessionRecord | undefined> { return settled(() => this.s.session(id)); }
  sessions(filter?: { device?: string; limit?: number }): Promise<SessionRecord[]> { return settled(() => this.s.sessions(filter)); }
  addMessage(m: NewMessage): Promise<number> { return settled(() => this.s.addMessage(m)); }
  addMessages(ms: readonly (NewMessage & { seq: number })[]): Promise<number[]> { return settled(() => this.s.addMessages(ms)); }
  annotateMessage(id: number, note: string): Promise<void> { return settled(() => this.s.annotateMessage(id, note)); }
  messages(sessionId: number): Promise<MessageRecord[]> { return settled(() => this.s.messages(sessionId)); }
  message(id: number): Promise<MessageRecord | undefined> { return settled(() => this.s.message(id)); }
  importSessions(sessions: readonly ImportedSession[], reason: string): Promise<number[]> { return settled(() => this.s.importSessions(sessions, reason)); }

  upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): Promise<void> { return settled(() => this.s.upsertTree(device, entries, now)); }
  removeTree(device: string, uri: string): Promise<void> { return settled(() => this.s.removeTree(device, uri)); }
  tree(device: string): Promise<TreeEntry[]> { return settled(() => this.s.tree(device)); }
  addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): Promise<void> { return settled(() => this.s.addAlert(device, sessionId, alert, now)); }
  alerts(device: string): Promise<StoredAlert[]> { return settled(() => this.s.alerts(device)); }

  // --- session state: in memory, undone with the tx that changed it

  /** Sets or removes `key`, remembering how to put it back if the tx rolls back. */
  private put(key: string, r: SessionStateRecord | undefined): void {
    const before = this.mem.states.get(key);
    if (r) this.mem.states.set(key, r);
    else this.mem.states.delete(key);
    this.scope?.undo.push(() => {
      if (before) this.mem.states.set(key, before);
      else this.mem.states.delete(key);
    });
  }

  createSessionState(key: string, sessionId: number, state: unknown, now: number): Promise<SessionStateRecord | undefined> {
    if (this.mem.states.has(key)) return Promise.resolve(undefined);
    const r: SessionStateRecord = { key, sessionId, version: 1, owner: null, leaseUntil: null, state, updatedAt: iso(now) };
    this.put(key, r);
    return Promise.resolve({ ...r });
  }

  claimSessionState(key: string, owner: string, now: number, leaseMs: number): Promise<SessionClaim> {
    const r = this.mem.states.get(key);
    if (!r) return Promise.resolve({ ok: false, reason: 'missing' });
    if (r.owner !== null && r.owner !== owner && r.leaseUntil !== null && Date.parse(r.leaseUntil) > now) {
      return Promise.resolve({ ok: false, reason: 'held', owner: r.owner, leaseUntil: r.leaseUntil });
    }
    const claimed = { ...r, owner, leaseUntil: iso(now + leaseMs) };
    this.put(key, claimed);
    return Promise.resolve({ ok: true, record: { ...claimed } });
  }

  commitSessionState(key: string, owner: string, version: number, state: unknown, now: number): Promise<boolean> {
    const r = this.mem.states.get(key);
    if (!r || r.owner !== owner || r.version !== version) return Promise.resolve(false);
    this.put(key, { ...r, state, version: version + 1, owner: null, leaseUntil: null, updatedAt: iso(now) });
    return Promise.resolve(true);
  }

  dropSessionState(key: string): Promise<void> {
    if (this.mem.states.has(key)) this.put(key, undefined);
    return Promise.resolve();
  }

  publish<E extends StoreEvent>(event: E): Promise<void> {
    if (this.scope) this.scope.events.push(event);
    // Outside a tx there is nothing to commit: delivered now (after the caller's current step).
    else queueMicrotask(() => this.mem.deliver([event]));
    return Promise.resolve();
  }

  async publishAll(events: readonly StoreEvent[]): Promise<void> {
    for (const e of events) await this.publish(e);
  }
}

export class SqliteStore extends SqliteOps implements DmStore {
  readonly kind = 'sqlite' as const;
  private closed = false;
  /** tx() calls not settled yet (close() waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    /** The SQLite store itself (its `db` for what has no DmStore method yet). */
    readonly serverStore: ServerStore,
    mem: Memory,
  ) {
    super(serverStore, mem, undefined);
    this.queries = new SqliteQueries(serverStore.db);
    this.index = new SqliteMessageIndex(serverStore);
  }

  // --- the views' read queries (../queries.ts, sqlite/queries.ts)
  private readonly queries: SqliteQueries;
  // --- the message index and display filters (../message-index-store.ts, ../message-index-sqlite.ts)
  private readonly index: SqliteMessageIndex;
  queryMessages: DmMessageIndex['queryMessages'] = (q, o) => this.index.queryMessages(q, o);
  sessionsMatching: DmMessageIndex['sessionsMatching'] = (filter, limit, o) => this.index.sessionsMatching(filter, limit, o);
  findCommands: DmMessageIndex['findCommands'] = (filter, o) => this.index.findCommands(filter, o);
  unindexedCount: DmMessageIndex['unindexedCount'] = () => this.index.unindexedCount();
  catchUpIndex: DmMessageIndex['catchUpIndex'] = () => this.index.catchUpIndex();
  unjudgedSessions: DmMessageIndex['unjudgedSessions'] = (since) => this.index.unjudgedSessions(since);
  recordFindings: DmMessageIndex['recordFindings'] = (id, n, findings) => this.index.recordFindings(id, n, findings);
  judgedSessions: DmMessageIndex['judgedSessions'] = (ids) => this.index.judgedSessions(ids);
  jobCounts: DmStoreQueries['jobCounts'] = () => this.queries.jobCounts();
  lastSessions: DmStoreQueries['lastSessions'] = () => this.queries.lastSessions();
  messagePage: DmStoreQueries['messagePage'] = (sessionId, offset, limit) => this.queries.messagePage(sessionId, offset, limit);
  messageEnvelopes: DmStoreQueries['messageEnvelopes'] = (sessionId) => this.queries.messageEnvelopes(sessionId);
  firstMessageAt: DmStoreQueries['firstMessageAt'] = (sessionId) => this.queries.firstMessageAt(sessionId);
  messageCount: DmStoreQueries['messageCount'] = (sessionId) => this.queries.messageCount(sessionId);
  treeValues: DmStoreQueries['treeValues'] = (device, uris) => this.queries.treeValues(device, uris);
  maxSessionId: DmStoreQueries['maxSessionId'] = () => this.queries.maxSessionId();
  activeSessionIds: DmStoreQueries['activeSessionIds'] = () => this.queries.activeSessionIds();

  /** Opens (creating or migrating in place) the data folder's store. */
  static open(dataDir: string, opts?: StoreOptions): SqliteStore {
    return new SqliteStore(ServerStore.open(dataDir, opts), new Memory());
  }

  /** Wraps a ServerStore opened elsewhere (tests, benches). */
  static over(server: ServerStore): SqliteStore {
    return new SqliteStore(server, new Memory());
  }

  tx<T>(fn: (s: DmStoreOps) => Promise<T>): Promise<T> {
    const scope: TxScope = { undo: [], events: [], device: undefined };
    const ops = new SqliteOps(this.s, this.mem, scope);
    const undo = () => {
      for (const u of scope.undo.reverse()) u();
      scope.undo = [];
    };
    const p = this.s.groupAsync(async () => {
      try {
        const value = await fn(ops);
        ops.writePendingDevice();
        return value;
      } catch (e) {
        undo();
        throw e;
      }
    }).then(
      (value) => {
        if (scope.events.length > 0) this.mem.deliver(scope.events);
        return value;
      },
      (e: unknown) => {
        // Also when the COMMIT itself failed (the savepoint was released already): its memory changes go too.
        undo();
        throw e;
      },
    );
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** A write outside tx(): a tx of its own (it must not land inside another request's savepoint). */
  private write<T>(f: (s: DmStoreOps) => Promise<T>): Promise<T> {
    return this.tx(f);
  }

  override touchDevice(devId: string, now: number) { return this.write((s) => s.touchDevice(devId, now)); }
  override setDevInfo(devId: string, info: Record<string, string>) { return this.write((s) => s.setDevInfo(devId, info)); }
  override setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number) { return this.write((s) => s.setDeviceAuth(devId, auth, seenAt)); }
  override markSeen(devId: string, now: number) { return this.write((s) => s.markSeen(devId, now)); }
  override setDeviceCredential(devId: string, cred: Credential | undefined, now: number) { return this.write((s) => s.setDeviceCredential(devId, cred, now)); }
  override setNotifyUrl(devId: string, url: string | undefined, now: number) { return this.write((s) => s.setNotifyUrl(devId, url, now)); }
  override addJob(device: string, spec: JobSpec, now: number, opts?: { onUnconfirmed?: UnconfirmedPolicy }) { return this.write((s) => s.addJob(device, spec, now, opts)); }
  override setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number) { return this.write((s) => s.setUnconfirmedPolicy(id, policy, now)); }
  override markSent(ids: number[], sessionId: number, now: number) { return this.write((s) => s.markSent(ids, sessionId, now)); }
  override claimJobs(device: string, sessionId: number, now: number, opts?: { limit?: number }) { return this.write((s) => s.claimJobs(device, sessionId, now, opts)); }
  override finishJob(o: JobOutcome, now: number) { return this.write((s) => s.finishJob(o, now)); }
  override updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number) { return this.write((s) => s.updateTurnJobs(sent, finished, now)); }
  override releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts?: { unclaim?: boolean }) { return this.write((s) => s.releaseJob(id, wasSent, maxAttempts, reason, now, opts)); }
  override releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts?: number) { return this.write((s) => s.releaseSessionJobs(sessionId, reason, now, maxAttempts)); }
  override decideJob(id: number, action: UnconfirmedDecision, now: number) { return this.write((s) => s.decideJob(id, action, now)); }
  override attachAlertToJobs(device: string, alert: AlertRecord, now: number) { return this.write((s) => s.attachAlertToJobs(device, alert, now)); }
  override clearJobs(device: string) { return this.write((s) => s.clearJobs(device)); }
  override recoverInterrupted(now: number, maxAttempts?: number) { return this.write((s) => s.recoverInterrupted(now, maxAttempts)); }
  override createSession(p: NewSession, now: number) { return this.write((s) => s.createSession(p, now)); }
  override endSession(id: number, state: SessionState, reason: string, now: number) { return this.write((s) => s.endSession(id, state, reason, now)); }
  override setSessionAuth(id: number, authType: string) { return this.write((s) => s.setSessionAuth(id, authType)); }
  override addMessage(m: NewMessage) { return this.write((s) => s.addMessage(m)); }
  override addMessages(ms: readonly (NewMessage & { seq: number })[]) { return this.write((s) => s.addMessages(ms)); }
  override annotateMessage(id: number, note: string) { return this.write((s) => s.annotateMessage(id, note)); }
  override importSessions(sessions: readonly ImportedSession[], reason: string) { return this.write((s) => s.importSessions(sessions, reason)); }
  override upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number) { return this.write((s) => s.upsertTree(device, entries, now)); }
  override removeTree(device: string, uri: string) { return this.write((s) => s.removeTree(device, uri)); }
  override addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number) { return this.write((s) => s.addAlert(device, sessionId, alert, now)); }
  override createSessionState(key: string, sessionId: number, state: unknown, now: number) { return this.write((s) => s.createSessionState(key, sessionId, state, now)); }
  override claimSessionState(key: string, owner: string, now: number, leaseMs: number) { return this.write((s) => s.claimSessionState(key, owner, now, leaseMs)); }
  override commitSessionState(key: string, owner: string, version: number, state: unknown, now: number) { return this.write((s) => s.commitSessionState(key, owner, version, state, now)); }
  override dropSessionState(key: string) { return this.write((s) => s.dropSessionState(key)); }

  subscribe(listener: (e: DeliveredEvent) => void): Promise<() => Promise<void>> {
    this.mem.listeners.add(listener);
    return Promise.resolve(() => {
      this.mem.listeners.delete(listener);
      return Promise.resolve();
    });
  }

  /** Waits for the txs already asked for, then closes the database (flushed and fsynced). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing regardless of how they end: a failed commit was reported to its caller.
    await Promise.allSettled([...this.inFlight]);
    this.mem.listeners.clear();
    this.s.close();
  }
}
