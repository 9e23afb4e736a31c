/**
 * The store interface the server, the API and the CLI use (issue 16), with two implementations:
 * SQLite (the embedded default, main/store/server-store.ts today, sqlite/ after the switch-over) and
 * PostgreSQL (main/store/postgres/, a lab server shared by several instances).
 *
 * It lists what callers use on ServerStore today (grep of main/server, main/api, main/cli), with the
 * same names, arguments and results, only Promise-returning: a PostgreSQL round trip cannot be
 * synchronous. test/unit/store-types.test.ts checks that every ServerStore method listed here has
 * the same parameters and, awaited, the same result, so the SQLite adapter is mechanical.
 *
 * How the SQLite side satisfies it (the switch-over): an adapter over ServerStore whose methods run
 * the synchronous better-sqlite3 call and return an already-resolved promise. `tx(fn)` maps onto
 * ServerStore.group() (one savepoint in the turn's shared transaction, committed and fsynced before
 * the promise settles): fn's awaits of the adapter's own methods only resume microtasks, so nothing
 * else runs on the connection before fn returns and the group commits on the next setImmediate. The
 * rule that makes this hold for both sides: inside tx(), await only the store (no network, no
 * timers). The multi-instance operations (claims, session state, events) are trivial on one
 * process: claims are a BEGIN IMMEDIATE, events an in-process emitter.
 *
 * The views' read queries (queries.ts) and the message index with the display filters
 * (message-index-store.ts) are interfaces of their own that DmStore extends.
 */
import type {
  AlertRecord, Credential, DeviceAuthState, Encoding, ImportedSession, JobMemberStatus, JobRecord, JobResult, JobSpec, JobStatus,
  MessageRecord, NewMessage, QueuedJobSpec, SessionRecord, SessionState, StoredAlert, StoredDevice, TreeEntry, UnconfirmedDecision, UnconfirmedPolicy,
} from './types.js';
import type { DmStoreQueries } from './queries.js';
import type { DmMessageIndex } from './message-index-store.js';

/** What a session's jobs changed to when it let go of them (recoverInterrupted). */
export interface RecoveryCount {
  sessions: number;
  jobs: number;
  unconfirmed: number;
  failed: number;
}

export interface NewSession {
  device: string | null;
  dmSessionId: string | null;
  encoding: Encoding | null;
  state?: SessionState;
  reason?: string;
  authType?: string;
}

export interface JobOutcome {
  id: number;
  status: 'done' | 'failed';
  statusCode: number | null;
  results: JobResult[];
  members: JobMemberStatus[];
  error: string | null;
}

/**
 * A live session's state as the database holds it, so any instance can take the next message
 * (issue 16 point 3). `version` counts committed turns; `owner` is the instance holding it right
 * now (null when nobody is in a turn), until `leaseUntil` (an instance killed mid-turn loses it).
 */
export interface SessionStateRecord {
  key: string;
  sessionId: number;
  version: number;
  owner: string | null;
  leaseUntil: string | null;
  state: unknown;
  updatedAt: string;
}

export type SessionClaim =
  | { ok: true; record: SessionStateRecord }
  /** missing: no such live session (ended, or never started here); held: another instance is in its turn. */
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'held'; owner: string; leaseUntil: string };

/** An event for every instance's subscribers (SSE, the UI): JSON data with a type. */
export interface StoreEvent {
  type: string;
}

/** A published event as subscribers get it; ids are unique and grow per publisher (for SSE Last-Event-ID; concurrent publishers may commit out of id order). */
export interface DeliveredEvent {
  id: number;
  event: StoreEvent & Record<string, unknown>;
}

/** Everything that can run inside a transaction (tx hands fn an object with these). */
export interface DmStoreOps {
  // --- devices
  device(devId: string): Promise<StoredDevice | undefined>;
  devices(): Promise<StoredDevice[]>;
  touchDevice(devId: string, now: number): Promise<{ device: StoredDevice; created: boolean }>;
  setDevInfo(devId: string, info: Record<string, string>): Promise<void>;
  setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): Promise<void>;
  markSeen(devId: string, now: number): Promise<void>;
  setDeviceCredential(devId: string, cred: Credential | undefined, now: number): Promise<void>;
  setNotifyUrl(devId: string, url: string | undefined, now: number): Promise<void>;

  // --- jobs (specs are validated by the caller, at the boundary: parseJobSpec in the API and the CLI)
  addJob(device: string, spec: JobSpec, now: number, opts?: { onUnconfirmed?: UnconfirmedPolicy }): Promise<JobRecord>;
  setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): Promise<JobRecord>;
  job(id: number): Promise<JobRecord | undefined>;
  jobs(filter?: { device?: string; status?: JobStatus }): Promise<JobRecord[]>;
  queuedJobs(device: string): Promise<JobRecord[]>;
  queuedJobSpecs(device: string): Promise<QueuedJobSpec[]>;
  markSent(ids: number[], sessionId: number, now: number): Promise<void>;
  /**
   * New for several instances: queued jobs of `device`, oldest first, marked sent in `sessionId` in
   * one step, each claimed by exactly one caller however many claim at once (PostgreSQL: FOR UPDATE
   * SKIP LOCKED; SQLite: one BEGIN IMMEDIATE). Replaces queuedJobSpecs + markSent, which race.
   */
  claimJobs(device: string, sessionId: number, now: number, opts?: { limit?: number }): Promise<QueuedJobSpec[]>;
  finishJob(o: JobOutcome, now: number): Promise<JobRecord | undefined>;
  /**
   * A turn's job changes at once: `sent` as markSent, then each of `finished` as finishJob (SQLite:
   * one statement). Returns the finished jobs as stored now, in order (undefined: gone).
   */
  updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): Promise<(JobRecord | undefined)[]>;
  /**
   * `opts.unclaim` (only where jobs are claimed when a session takes them: PostgreSQL): the job was
   * claimed but nothing of it went out; it goes back to the queue with the claim's attempt given
   * back, as on SQLite, where such a job was never marked sent and costs no attempt.
   */
  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts?: { unclaim?: boolean }): Promise<JobRecord | undefined>;
  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts?: number): Promise<JobRecord[]>;
  /** Throws JobDecisionError (types.ts): 404, 409, 400. */
  decideJob(id: number, action: UnconfirmedDecision, now: number): Promise<JobRecord>;
  attachAlertToJobs(device: string, alert: AlertRecord, now: number): Promise<number[]>;
  clearJobs(device: string): Promise<{ deleted: number; kept: number }>;
  recoverInterrupted(now: number, maxAttempts?: number): Promise<RecoveryCount>;

  // --- sessions and messages
  createSession(p: NewSession, now: number): Promise<number>;
  endSession(id: number, state: SessionState, reason: string, now: number): Promise<void>;
  setSessionAuth(id: number, authType: string): Promise<void>;
  session(id: number): Promise<SessionRecord | undefined>;
  sessions(filter?: { device?: string; limit?: number }): Promise<SessionRecord[]>;
  addMessage(m: NewMessage): Promise<number>;
  addMessages(ms: readonly (NewMessage & { seq: number })[]): Promise<number[]>;
  annotateMessage(id: number, note: string): Promise<void>;
  messages(sessionId: number): Promise<MessageRecord[]>;
  message(id: number): Promise<MessageRecord | undefined>;
  importSessions(sessions: readonly ImportedSession[], reason: string): Promise<number[]>;

  // --- the discovered tree and alerts
  upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): Promise<void>;
  /** Forgets a node and its subtree (a 2xx Delete). */
  removeTree(device: string, uri: string): Promise<void>;
  tree(device: string): Promise<TreeEntry[]>;
  addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): Promise<void>;
  alerts(device: string): Promise<StoredAlert[]>;

  // --- several instances (new; SQLite: one process, so these never contend)
  /** Stores a new live session's state at version 1; undefined when `key` exists already (another instance made it). */
  createSessionState(key: string, sessionId: number, state: unknown, now: number): Promise<SessionStateRecord | undefined>;
  /** Takes the session's turn for `owner` until now + leaseMs; refused while another owner's lease runs. */
  claimSessionState(key: string, owner: string, now: number, leaseMs: number): Promise<SessionClaim>;
  /** Writes the turn's new state (version + 1) and lets go; false when `owner` no longer holds `version` (lease lost: roll back). */
  commitSessionState(key: string, owner: string, version: number, state: unknown, now: number): Promise<boolean>;
  /** The session ended: its state goes. */
  dropSessionState(key: string): Promise<void>;
  /** Reaches every instance's subscribers; inside tx(), only once it commits (never for a rolled-back turn). */
  publish<E extends StoreEvent>(event: E): Promise<void>;
  /** As publish() for each, in order; a store may write them together (PostgreSQL: one statement). */
  publishAll(events: readonly StoreEvent[]): Promise<void>;
}

export interface DmStore extends DmStoreOps, DmStoreQueries, DmMessageIndex {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Runs fn in one transaction: all its writes land, or none (fn threw, the database went away).
   * Inside fn, await only the store (see the top of this file).
   */
  tx<T>(fn: (s: DmStoreOps) => Promise<T>): Promise<T>;
  /** Every published event, from every instance (this one's too), in commit order; resolves when listening. */
  subscribe(listener: (e: DeliveredEvent) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The database cannot be reached (down, restarting, the network): the server answers 503 with
 * Retry-After; nothing of the failed request was written (its transaction rolled back).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}
