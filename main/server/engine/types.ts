/**
 * The session engine's vocabulary: what a turn takes in and gives back (public), and the session
 * state it carries from one message to the next (plain data, cloned per turn).
 */
import type { Encoding } from '../../protocol/codec.js';
import type { AuthType } from '../../protocol/auth.js';
import type { Command, Item, Meta, Status, SyncML } from '../../protocol/model.js';
import type { ClientAuthOutcome } from '../auth.js';
import type { Credential, EngineConfig } from '../config.js';
import type { AlertRecord, DeviceAuthState, JobMemberStatus, JobResult, JobSpec, JobStatus, SessionState, TreeEntry } from '../types.js';

// --- inputs and outputs ----------------------------------------------------------------------

export interface EngineJob {
  id: number;
  spec: JobSpec;
  /**
   * The job was sent before without its Status arriving, and the engineer chose to verify: an
   * Add, Replace or Delete first reads its node back and goes out again only if the node shows
   * it was not applied (engine/read-back.ts).
   */
  verify?: boolean;
}

export interface DeviceView {
  devId: string;
  /** The credentials this device must present (its own, or the lab default). */
  clientCred?: Credential;
  auth: DeviceAuthState;
}

export interface TransportInfo {
  tls: boolean;
  /** The TLS client certificate, when one was presented. */
  clientCert?: { cn: string; authorized: boolean };
  /** The x-syncml-hmac request header. */
  hmac?: string;
}

export interface EngineInput {
  message: SyncML;
  encoding: Encoding;
  /** Exact request body (HMAC is computed over it). */
  bytes: Uint8Array;
  transport: TransportInfo;
  device: DeviceView;
  /** Jobs queued for this device right now (read from the store at each message). */
  queuedJobs: EngineJob[];
  now: number;
  /** SessionEngine.admit's verdict on this very message, when it was admitted first (see Admitted). */
  admitted?: Admitted | undefined;
}

/**
 * A message SessionEngine.admit let in, handed to that message's whole turn (EngineInput.admitted)
 * so the turn takes the admission's outcome instead of checking the credentials again: a second MD5
 * digest, and a second new nonce that no one would ever see. The outcome holds only for what the
 * check read: the turn checks again when its message, engine configuration, the device's auth state
 * or its credential are other objects. The auth state notably: another session of the same device
 * may commit a new nonce between the admission and the turn, and then the old one is spent.
 */
export interface Admitted {
  readonly message: SyncML;
  readonly config: EngineConfig;
  readonly auth: DeviceAuthState;
  readonly clientCred: Credential | undefined;
  /** The check's outcome (a success); undefined when the session needed no check (already authenticated). */
  readonly outcome: ClientAuthOutcome | undefined;
}

/** SessionEngine.admit: the answer when the message is refused, else its admission for the turn. */
export type AdmitOutcome = { refused: EngineOutput } | { admitted: Admitted };

export interface JobOutcome {
  id: number;
  status: Extract<JobStatus, 'done' | 'failed'>;
  statusCode: number | null;
  results: JobResult[];
  members: JobMemberStatus[];
  error: string | null;
}

/**
 * A job the session let go of. `wasSent`: a command that may change the device went out (a
 * read-back Get alone does not count). `onWire`: anything of it went out, a read-back Get too: on a
 * shared store the job was claimed (status sent, attempt counted) when the session took it, and one
 * that never reached the wire gives its attempt back, as on SQLite where it was never marked sent.
 */
export interface JobRelease {
  id: number;
  wasSent: boolean;
  onWire?: boolean;
}

export interface EngineEffects {
  /** The device's auth state after this message, when it changed. */
  deviceAuth?: DeviceAuthState;
  /** ./DevInfo leaves received (package 1 Replace). */
  devInfo?: Record<string, string>;
  /** Jobs whose first command went out in this response. */
  jobsSent: number[];
  jobsFinished: JobOutcome[];
  /** Jobs the session let go of unfinished (it closed): back to the queue, or failed by the caller. */
  jobsReleased: JobRelease[];
  tree: Omit<TreeEntry, 'fetchedAt'>[];
  alerts: AlertRecord[];
  /** Lines for the session log: auth failures, protocol oddities. */
  notes: string[];
  closed?: { state: SessionState; reason: string };
}

export interface EngineOutput {
  session: EngineSession;
  response: SyncML;
  bytes: Uint8Array;
  /** Extra HTTP response headers (x-syncml-hmac, Retry-After). */
  headers: Record<string, string>;
  effects: EngineEffects;
}

/** Options of one turn. */
export interface TurnOptions {
  /**
   * Most job commands the response may carry (an Atomic/Sequence, or one large-object chunk, counts
   * as one). When more are waiting the response still closes the package (Final), so the device
   * executes and answers what it got; the rest go in the next package of the same session.
   */
  maxCommands?: number;
}

/** A command waiting in a session's outbox, as the step control shows it. */
export interface PendingCommand {
  jobId: number;
  cmd: string;
  target: string;
  /** A large object part-way through its chunks. */
  chunk?: boolean;
}

/**
 * A turn stopped after reading the client's message, before its response was built (handleOrHold).
 * `effects` are what reading the message changed (store them now); `release` builds the response.
 */
export interface HeldTurn {
  readonly session: EngineSession;
  readonly effects: EngineEffects;
  /** The outbox as it stands: `next[0]` is the command the next response starts with. */
  readonly next: PendingCommand[];
}

export interface ReleaseOptions extends TurnOptions {
  /** Answer with Alert 1223 (statuses, no commands) and end the session instead. */
  abort?: { state: SessionState; reason: string };
}

// --- session state ---------------------------------------------------------------------------

export interface SentRecord {
  jobId: number; // -1 for the server's own control commands (Alert 1222 ...)
  cmd: string;
  uri: string;
  expectResults: boolean;
  status?: number;
  resultsDone?: boolean;
  /** The command as sent, for re-sending after the client refused our credentials (top level only). */
  command?: Command;
  /** Index into the job's members list (Atomic/Sequence members, walk steps). */
  member?: number;
  chunk?: { last: boolean };
  /** Re-sent under a new CmdID: ignore for completion. */
  superseded?: boolean;
  walk?: boolean;
  /** The read-back Get of a job being verified. */
  readBack?: boolean;
  /** The ?list=Struct Get of a discover job. */
  structGet?: boolean;
  /** Key of the Atomic/Sequence this member belongs to. */
  parent?: string;
}

export interface OutItem {
  jobId: number;
  command: Command;
  walk?: boolean;
  structGet?: boolean;
  /** The Get that reads a verified job's node back before deciding to send it again. */
  readBack?: boolean;
  /** Set once a large object started going out in chunks. */
  lo?: { offset: number; total: number; bytes: Uint8Array; text: boolean };
}

export interface JobProgress {
  id: number;
  spec: JobSpec;
  keys: string[];
  results: JobResult[];
  members: JobMemberStatus[];
  sent: boolean;
  finished: boolean;
  /** A failure decided before all answers came (chunk refused, too large to send). */
  failure?: { code: number | null; error: string };
  walked?: number;
  /** Verifying: `pending` until the read-back Get is answered and decided; what it read. */
  readBack?: { pending: boolean; value?: JobResult };
}

export interface IncomingLo {
  key: string;
  uri: string;
  declared?: number;
  received: number;
  chunks: Uint8Array[];
  text: boolean;
  first: Item;
  /** The carrying command's Meta (Results), kept for the reassembled item. */
  meta?: Meta;
  /**
   * Binary data in Format b64 (how XML carries it, TND §7.7.2): each chunk's Base64 text; `chunks`
   * then hold the decoded bytes while every chunk decodes alone, and the object is bin once whole.
   */
  b64?: { texts: string[]; encodedSize: number; eachDecodes: boolean };
}

export interface EngineSession {
  id: number;
  devId: string;
  dmSessionId: string;
  encoding: Encoding;
  respUri: string;
  verDTD: string;
  verProto: string;
  phase: 'pkg1' | 'mgmt' | 'closed';
  closedState?: SessionState;
  closedCode?: number;
  authenticated: boolean;
  authAttempts: number;
  serverMsgId: number;
  clientMaxMsgSize?: number;
  clientMaxObjSize?: number;
  serverPackageOpen: boolean;
  outbox: OutItem[];
  sent: Record<string, SentRecord>;
  jobs: Record<string, JobProgress>;
  incomingLo?: IncomingLo;
  /** Statuses that did not fit the client's MaxMsgSize: they open our next message. */
  pendingStatuses?: Status[];
  /**
   * How we authenticate to the device: the scheme and nonce it asked for, how often we re-sent
   * commands it refused for our credentials, and its refusals of them in a row (reset when its
   * SyncHdr Status accepts us).
   */
  serverAuth: { type: AuthType | 'none'; nonce?: string; retries: number; refusals?: number; lastRefusal?: number };
  abortRequested?: boolean;
}

export interface NonceSource {
  /** A fresh random nonce, base64. */
  nonce(): string;
}
