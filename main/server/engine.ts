/**
 * The DM session engine: one client message + the session's state + the device's auth state + the
 * jobs queued for it -> the response message, the next state, and the changes the caller must store.
 * No I/O, no clock, no randomness of its own (`now` and a nonce source come in): the HTTP listener
 * and the SQLite store sit around it and apply what it returns, in one transaction, before replying.
 *
 * Protocol shape (OMA DM 1.2 protocol §8-10, notes §1-2):
 *  - package 1: Alert 1201/1200, DevInfo Replace, optional 1224/1226 alerts; the server answers with
 *    SyncHdr status (auth), statuses, then its management commands (package 2..n);
 *  - a message without Final is one message of a larger package: the receiver asks for the next one
 *    with Alert 1222 (no Final of its own);
 *  - large objects travel in chunks marked MoreData, the first carrying Meta Size; chunks are
 *    answered 213, a wrong total 424;
 *  - the session ends when the server closes a package holding nothing but statuses.
 */
import { encodeMessage, type Encoding } from '../protocol/codec.js';
import { authTypeFromMeta, type AuthType } from '../protocol/auth.js';
import type { Alert, Command, Container, Item, ItemCommand, ItemData, Meta, Results, Status, SyncHdr, SyncML } from '../protocol/model.js';
import { itemText } from '../protocol/model.js';
import { isThrottled, serverCredential, serverHmacHeader, verifyClient } from './auth.js';
import type { Credential, EngineConfig } from './config.js';
import { commandUri, getCommand, itemResult, reportedUri, specCommand } from './jobs.js';
import type { AlertRecord, DeviceAuthState, JobMemberStatus, JobResult, JobSpec, JobStatus, SessionState, TreeEntry } from './types.js';

// --- inputs and outputs ----------------------------------------------------------------------

export interface EngineJob {
  id: number;
  spec: JobSpec;
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
}

export interface JobOutcome {
  id: number;
  status: Extract<JobStatus, 'done' | 'failed'>;
  statusCode: number | null;
  results: JobResult[];
  members: JobMemberStatus[];
  error: string | null;
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
  jobsReleased: { id: number; wasSent: boolean }[];
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

interface SentRecord {
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
  /** The ?list=Struct Get of a discover job. */
  structGet?: boolean;
  /** Key of the Atomic/Sequence this member belongs to. */
  parent?: string;
}

interface OutItem {
  jobId: number;
  command: Command;
  walk?: boolean;
  structGet?: boolean;
  /** Set once a large object started going out in chunks. */
  lo?: { offset: number; total: number; bytes: Uint8Array; text: boolean };
}

interface JobProgress {
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
}

interface IncomingLo {
  key: string;
  uri: string;
  declared?: number;
  received: number;
  chunks: Uint8Array[];
  text: boolean;
  first: Item;
  /** The carrying command's Meta (Results), kept for the reassembled item. */
  meta?: Meta;
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
  serverAuth: { type: AuthType | 'none'; nonce?: string; retries: number };
  abortRequested?: boolean;
}

// --- helpers ---------------------------------------------------------------------------------

/**
 * Deep copy of plain data that shares byte arrays (they are never mutated), so big objects stay
 * cheap. Plain loops: this runs on every message and Object.entries cost a third of a round trip.
 */
function clone<T>(v: T): T {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
    return out as T;
  }
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in src) out[k] = clone(src[k]);
  return out as T;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function dataBytes(d: ItemData | undefined): { bytes: Uint8Array; text: boolean } {
  if (!d) return { bytes: new Uint8Array(), text: true };
  if (d.kind === 'binary') return { bytes: d.bytes, text: false };
  if (d.kind === 'text') return { bytes: utf8.encode(d.text), text: true };
  return { bytes: new Uint8Array(), text: true };
}

function status(msgRef: string, cmd: Command | { kind: 'SyncHdr'; cmdID: string }, code: number, extra: Partial<Status> = {}): Status {
  return { kind: 'Status', cmdID: '', msgRef, cmdRef: cmd.cmdID, cmd: cmd.kind, targetRefs: [], sourceRefs: [], data: String(code), items: [], ...extra };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number.parseInt(s.trim(), 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Names the Results answering our command `MsgRef:CmdRef` (a large object in them keeps it). */
function resultsKey(r: Results, serverMsgId: number): string {
  return `${r.msgRef ?? String(serverMsgId)}:${r.cmdRef}`;
}

/** Names a large object the client sends in its own Replace/Add. */
function clientObjectKey(kind: string, uri: string): string {
  return `client:${kind}:${uri}`;
}

function isClientObjectKey(key: string): boolean {
  return key.startsWith('client:');
}

/** The large-object key a command would continue, if it carries one. */
function incomingKey(c: Command, serverMsgId: number): string | undefined {
  if (c.kind === 'Results') return resultsKey(c, serverMsgId);
  if (c.kind === 'Replace' || c.kind === 'Add') {
    const uri = reportedUri(c.items[0]);
    return uri === undefined ? undefined : clientObjectKey(c.kind, uri);
  }
  return undefined;
}

const ALERT = { SERVER_INIT: '1200', CLIENT_INIT: '1201', NEXT_MESSAGE: '1222', ABORT: '1223', CLIENT_EVENT: '1224', NO_END_OF_DATA: '1225', GENERIC: '1226' } as const;

export function isPackage1(msg: SyncML): boolean {
  return msg.body.commands.some((c) => c.kind === 'Alert' && (c.data === ALERT.CLIENT_INIT || c.data === ALERT.SERVER_INIT));
}

export interface NonceSource {
  /** A fresh random nonce, base64. */
  nonce(): string;
}

// --- the engine ------------------------------------------------------------------------------

export class SessionEngine {
  constructor(
    readonly config: EngineConfig,
    private readonly nonces: NonceSource,
  ) {}

  open(p: { id: number; message: SyncML; encoding: Encoding; respUri: string; device: DeviceView }): EngineSession {
    const a = p.device.auth;
    const configured = this.config.serverCred ? this.config.serverAuth : 'none';
    return {
      id: p.id,
      devId: p.message.hdr.source.locURI,
      dmSessionId: p.message.hdr.sessionID,
      encoding: p.encoding,
      respUri: p.respUri,
      verDTD: p.message.hdr.verDTD,
      verProto: p.message.hdr.verProto,
      phase: 'pkg1',
      authenticated: false,
      authAttempts: 0,
      serverMsgId: 0,
      serverPackageOpen: false,
      outbox: [],
      sent: {},
      jobs: {},
      serverAuth: { type: this.config.serverCred ? (a.serverAuthType ?? configured) : 'none', nonce: a.serverNonce, retries: 0 },
    };
  }

  /** Marks the session so the next response carries Alert 1223 and ends it. */
  requestAbort(session: EngineSession): EngineSession {
    return { ...clone(session), abortRequested: true };
  }

  /** Ends a session from outside (timeout, shutdown): its unfinished jobs are released. */
  close(session: EngineSession, state: SessionState, reason: string): { session: EngineSession; effects: EngineEffects } {
    const s = clone(session);
    const fx = emptyEffects();
    this.closeInto(s, fx, state, reason);
    return { session: s, effects: fx };
  }

  handle(session: EngineSession, input: EngineInput, opts: TurnOptions = {}): EngineOutput {
    const out = this.turn(session, input, opts).run(false);
    if (out === HOLD) throw new Error('unreachable: a turn held without being asked to');
    return out;
  }

  /**
   * Like handle, but when the response would carry job commands the turn stops before building it
   * (the step control: the caller stores `held.effects`, waits, then calls `release`). Responses that
   * carry no job command (statuses, challenges, 1222, aborts, the end) are never held.
   */
  handleOrHold(session: EngineSession, input: EngineInput): { output: EngineOutput } | { held: HeldTurn } {
    const t = this.turn(session, input, {});
    const out = t.run(true);
    if (out !== HOLD) return { output: out };
    const held: HeldTurn = { session: t.session, effects: t.effects, next: t.pending() };
    heldTurns.set(held, t);
    return { held };
  }

  /** Builds the response of a held turn (once): with at most `maxCommands` job commands, or an abort. */
  release(held: HeldTurn, opts: ReleaseOptions = {}): EngineOutput {
    const t = heldTurns.get(held);
    if (!t) throw new Error('this turn was already released');
    heldTurns.delete(held);
    return t.resume(opts);
  }

  private turn(session: EngineSession, input: EngineInput, opts: TurnOptions): Turn {
    return new Turn(this.config, this.nonces, clone(session), input, emptyEffects(), (st, f, state, reason) => this.closeInto(st, f, state, reason), opts.maxCommands);
  }

  private closeInto(s: EngineSession, fx: EngineEffects, state: SessionState, reason: string): void {
    if (s.phase === 'closed') return;
    s.phase = 'closed';
    s.closedState = state;
    for (const j of Object.values(s.jobs)) {
      if (!j.finished) {
        fx.jobsReleased.push({ id: j.id, wasSent: j.sent });
        j.finished = true;
      }
    }
    s.outbox = [];
    delete s.incomingLo;
    fx.closed = { state, reason };
  }
}

/** Turns stopped by handleOrHold, until released. */
const heldTurns = new WeakMap<HeldTurn, Turn>();
const HOLD = Symbol('hold');

function emptyEffects(): EngineEffects {
  return { jobsSent: [], jobsFinished: [], jobsReleased: [], tree: [], alerts: [], notes: [] };
}

/** One message's processing; holds the scratch state of the turn. */
class Turn {
  private readonly msg: SyncML;
  private readonly hdr: SyncHdr;
  private readonly statuses: Status[] = [];
  private readonly control: Command[] = [];
  private readonly headers: Record<string, string> = {};
  private clientWantsNext = false;
  private clientAborted = false;
  private serverCredRefused = false;
  private readonly resend: OutItem[] = [];
  private auth: DeviceAuthState;
  private authChanged = false;
  private hdrCache?: { msgId: number; hdr: SyncHdr };

  constructor(
    private readonly config: EngineConfig,
    private readonly nonces: NonceSource,
    private readonly s: EngineSession,
    private readonly input: EngineInput,
    private fx: EngineEffects,
    private readonly closeInto: (s: EngineSession, fx: EngineEffects, state: SessionState, reason: string) => void,
    private maxCommands?: number,
  ) {
    this.msg = input.message;
    this.hdr = input.message.hdr;
    this.auth = { ...input.device.auth, authFailures: [...input.device.auth.authFailures] };
  }

  get session(): EngineSession {
    return this.s;
  }

  get effects(): EngineEffects {
    return this.fx;
  }

  /** The outbox, for the step control. */
  pending(): PendingCommand[] {
    return this.s.outbox.map((o) => ({ jobId: o.jobId, cmd: o.command.kind, target: commandUri(o.command), ...(o.lo ? { chunk: true } : {}) }));
  }

  /** Second half of a held turn: the response, with effects of its own (the first half's were stored). */
  resume(opts: ReleaseOptions): EngineOutput {
    this.fx = emptyEffects();
    if (opts.abort) {
      this.control.push({ kind: 'Alert', cmdID: '', data: ALERT.ABORT, items: [] } satisfies Alert);
      const r = this.respond({ takeOutbox: false, final: true });
      this.closeInto(this.s, this.fx, opts.abort.state, opts.abort.reason);
      return r;
    }
    this.maxCommands = opts.maxCommands;
    return this.respond({ takeOutbox: true, final: true });
  }

  run(hold: boolean): EngineOutput | typeof HOLD {
    const { s, hdr, msg } = this;
    const limits = this.config.limits;
    const maxMsg = num(hdr.meta?.maxMsgSize);
    if (maxMsg) s.clientMaxMsgSize = maxMsg;
    const maxObj = num(hdr.meta?.maxObjSize);
    if (maxObj) s.clientMaxObjSize = maxObj;

    if (s.phase === 'closed') {
      // A client that talks after the end: answer, change nothing.
      const code = s.closedCode ?? 200;
      this.fx.notes.push(`message after the session ended (${s.closedState}); answered ${code}, not processed`);
      this.hdrStatus(code);
      this.refuseAll(code);
      return this.respond({ takeOutbox: false, final: true });
    }

    // Transport-level identity first: a required client certificate must name this device.
    if (this.config.requireClientCert) {
      const cert = this.input.transport.clientCert;
      if (!cert || !cert.authorized || cert.cn !== s.devId) {
        const why = !cert ? 'no client certificate' : !cert.authorized ? 'client certificate not issued by the lab CA' : `client certificate is for "${cert.cn}", not "${s.devId}"`;
        this.fx.notes.push(`refused: ${why}`);
        return this.refuseSession(403, 'failed', why);
      }
    }

    const mode = this.config.clientAuth;
    if (mode !== 'none' && isThrottled(this.auth, this.input.now)) {
      const wait = Math.ceil((this.auth.lockedUntil! - this.input.now) / 1000);
      this.headers['Retry-After'] = String(wait);
      this.fx.notes.push(`throttled: too many authentication failures; refused for another ${wait} s`);
      return this.refuseSession(503, 'failed', 'throttled after repeated authentication failures');
    }

    if (!s.authenticated || mode === 'hmac') {
      const out = verifyClient({
        mode,
        cred: hdr.cred,
        hmac: this.input.transport.hmac,
        body: this.input.bytes,
        expected: this.input.device.clientCred,
        state: this.auth,
        now: this.input.now,
        limits,
        newNonce: () => this.nonces.nonce(),
      });
      this.setAuth(out.state);
      if (!out.ok) {
        s.authAttempts++;
        this.fx.notes.push(`client authentication failed (${out.code}): ${out.reason}`);
        this.hdrStatus(out.code, out.chal);
        this.refuseAll(out.code);
        if (isThrottled(this.auth, this.input.now) || s.authAttempts >= limits.maxAuthAttemptsPerSession) {
          s.closedCode = out.code;
          const r = this.respond({ takeOutbox: false, final: true });
          this.closeInto(s, this.fx, 'failed', isThrottled(this.auth, this.input.now) ? 'authentication failed; device throttled' : 'authentication failed too often');
          return r;
        }
        return this.respond({ takeOutbox: false, final: true });
      }
      if (!s.authenticated && mode !== 'none') this.fx.notes.push(`client authenticated (${mode})`);
      s.authenticated = true;
      this.hdrStatus(out.code, out.chal);
    } else {
      this.hdrStatus(200);
    }

    // The client's verdict on our previous message's credentials comes first.
    for (const c of msg.body.commands) if (c.kind === 'Status' && (c.cmd === 'SyncHdr' || c.cmdRef === '0')) this.onHeaderStatus(c);
    for (const c of msg.body.commands) this.onCommand(c);

    if (this.resend.length > 0) {
      s.serverAuth.retries++;
      s.outbox.unshift(...this.resend);
      this.fx.notes.push(`re-sending ${this.resend.length} command(s) the client refused for our credentials`);
    }

    // Jobs are evaluated once the whole message is read: Results follow their Status.
    // On abort, what went unanswered is released to the queue, not failed.
    this.evaluateJobs(msg.body.final && !this.clientAborted);

    if (this.clientAborted) {
      const r = this.respond({ takeOutbox: false, final: true });
      this.closeInto(s, this.fx, 'aborted', 'client sent Alert 1223');
      return r;
    }
    if (s.abortRequested) {
      this.control.push({ kind: 'Alert', cmdID: '', data: ALERT.ABORT, items: [] } satisfies Alert);
      const r = this.respond({ takeOutbox: false, final: true });
      this.closeInto(s, this.fx, 'aborted', 'aborted by the server');
      return r;
    }

    const clientFinal = msg.body.final;
    if (!clientFinal && (!this.clientWantsNext || s.incomingLo)) {
      // The client's package goes on (or it is mid-way through a large object): ask for the rest.
      this.control.push(this.nextMessageAlert());
      return this.respond({ takeOutbox: false, final: false });
    }
    // The client closed its package with an object unfinished.
    if (s.incomingLo) this.cutIncoming(s.incomingLo, 'the device ended its package in the middle of a large object');
    if (s.phase === 'pkg1') s.phase = 'mgmt';
    if (!s.serverPackageOpen) this.ingestJobs();
    if (hold && s.outbox.length > 0) {
      // What reading the message changed is stored while the response waits.
      if (this.authChanged) this.fx.deviceAuth = this.auth;
      return HOLD;
    }
    return this.respond({ takeOutbox: true, final: true });
  }

  // --- auth bookkeeping ----------------------------------------------------------------------

  private setAuth(next: DeviceAuthState): void {
    if (next !== this.auth) {
      this.auth = next;
      this.authChanged = true;
    }
  }

  private hdrStatus(code: number, chal?: Status['chal']): void {
    const st = status(this.hdr.msgID, { kind: 'SyncHdr', cmdID: '0' }, code, {
      targetRefs: [this.hdr.target.locURI],
      sourceRefs: [this.hdr.source.locURI],
    });
    if (chal) st.chal = chal;
    this.statuses.push(st);
  }

  /** Every command of the message gets `code` (not executed). */
  private refuseAll(code: number): void {
    for (const c of this.msg.body.commands) {
      if (c.kind === 'Status' || c.kind === 'Results' || c.noResp) continue;
      this.statuses.push(status(this.hdr.msgID, c, code));
    }
  }

  private refuseSession(code: number, state: SessionState, reason: string): EngineOutput {
    this.hdrStatus(code);
    this.refuseAll(code);
    this.s.closedCode = code;
    const r = this.respond({ takeOutbox: false, final: true });
    this.closeInto(this.s, this.fx, state, reason);
    return r;
  }

  private onHeaderStatus(st: Status): void {
    const code = Number.parseInt(st.data, 10);
    const sa = this.s.serverAuth;
    if (st.chal) {
      const type = authTypeFromMeta(st.chal.meta.type);
      if (type && this.config.serverCred) sa.type = type;
      if (st.chal.meta.nextNonce !== undefined) sa.nonce = st.chal.meta.nextNonce;
      this.setAuth({ ...this.auth, serverNonce: sa.nonce, ...(type ? { serverAuthType: type } : {}) });
    }
    if (code === 401 || code === 407) {
      this.serverCredRefused = true;
      this.fx.notes.push(this.config.serverCred ? `client refused the server's credentials (${code})` : `client wants server credentials (${code}); start the server with --server-cred`);
    }
  }

  // --- client commands -----------------------------------------------------------------------

  private onCommand(c: Command): void {
    const respond = (code: number, extra: Partial<Status> = {}) => {
      if (!c.noResp) this.statuses.push(status(this.hdr.msgID, c, code, extra));
    };
    // No new command may come between the chunks of a large object (Statuses and Alerts such as
    // 1222 may): one that does cuts it off.
    const lo = this.s.incomingLo;
    if (lo && c.kind !== 'Status' && c.kind !== 'Alert' && incomingKey(c, this.s.serverMsgId) !== lo.key) {
      this.cutIncoming(lo, `the device sent ${c.kind} before the last chunk of its large object`);
    }
    switch (c.kind) {
      case 'Status':
        if (!(c.cmd === 'SyncHdr' || c.cmdRef === '0')) this.onStatus(c);
        return;
      case 'Results':
        this.onResults(c);
        return;
      case 'Alert':
        respond(this.onAlert(c));
        return;
      case 'Replace':
      case 'Add':
        respond(this.onClientData(c));
        return;
      default:
        // Management commands flow server -> client in DM; a client sending them gets 406.
        this.fx.notes.push(`client sent ${c.kind}: not supported from a client (406)`);
        respond(406);
    }
  }

  private onAlert(a: Alert): number {
    switch (a.data) {
      case ALERT.CLIENT_INIT:
      case ALERT.SERVER_INIT:
        return 200;
      case ALERT.NEXT_MESSAGE:
        this.clientWantsNext = true;
        return 200;
      case ALERT.ABORT:
        this.clientAborted = true;
        return 200;
      case ALERT.CLIENT_EVENT:
      case ALERT.GENERIC: {
        const rec: AlertRecord = { code: a.data, items: a.items.map((i) => {
          const r: AlertRecord['items'][number] = {};
          if (i.source) r.source = i.source.locURI;
          if (i.target) r.target = i.target.locURI;
          if (i.meta?.type) r.type = i.meta.type;
          if (i.meta?.format) r.format = i.meta.format;
          const t = i.data?.kind === 'binary' ? Buffer.from(i.data.bytes).toString('base64') : itemText(i);
          if (t !== undefined) r.data = t;
          return r;
        }) };
        if (a.correlator) rec.correlator = a.correlator;
        this.fx.alerts.push(rec);
        return 200;
      }
      case ALERT.NO_END_OF_DATA: {
        // Our large object was cut: whichever job was sending one fails.
        const lo = this.s.outbox.find((o) => o.lo);
        if (lo) this.failJob(lo.jobId, 1225, 'the device reported no end of data (Alert 1225)');
        this.s.outbox = this.s.outbox.filter((o) => !o.lo);
        return 200;
      }
      default:
        this.fx.notes.push(`client sent Alert ${a.data ?? '(no code)'}: not handled (406)`);
        return 406;
    }
  }

  /**
   * The client's own Replace/Add (DevInfo in package 1, or any node it reports): cached in the
   * device's tree. An item may be a large object in chunks (213 each, applied once whole).
   * Returns the command's status code.
   */
  private onClientData(c: ItemCommand): number {
    let code = 200;
    for (const item of c.items) {
      const uri = reportedUri(item);
      if (!uri) continue;
      const key = clientObjectKey(c.kind, uri);
      if (item.moreData || this.s.incomingLo?.key === key) {
        const got = this.takeChunk(key, uri, item, c.meta, (n) => (code = n));
        if (typeof got !== 'string') this.cacheClientItem(c, got.item);
        continue;
      }
      this.cacheClientItem(c, item);
    }
    return code;
  }

  private cacheClientItem(c: ItemCommand, item: Item): void {
    const uri = reportedUri(item) ?? '';
    const text = item.data?.kind === 'binary' ? Buffer.from(item.data.bytes).toString('base64') : itemText(item) ?? null;
    const m = /^(?:\.\/)?DevInfo\/([^/]+)$/.exec(uri);
    if (m && text !== null) (this.fx.devInfo ??= {})[m[1]!] = text;
    this.fx.tree.push({ uri, format: item.meta?.format ?? c.meta?.format ?? null, type: item.meta?.type ?? c.meta?.type ?? null, data: text, ...(item.data?.kind === 'binary' ? { encoding: 'b64' as const } : {}) });
  }

  private onStatus(st: Status): void {
    const key = `${st.msgRef}:${st.cmdRef}`;
    const rec = this.s.sent[key];
    if (!rec) {
      this.fx.notes.push(`Status for unknown command (MsgRef ${st.msgRef}, CmdRef ${st.cmdRef}) ignored`);
      return;
    }
    const code = Number.parseInt(st.data, 10);
    rec.status = Number.isFinite(code) ? code : 500;
    if (rec.jobId < 0) return;
    const job = this.s.jobs[rec.jobId];
    if (!job || job.finished) return;

    if ((code === 401 || code === 407) && this.serverCredRefused && rec.command && this.config.serverCred
      && this.s.serverAuth.retries < this.config.limits.maxServerAuthRetries) {
      rec.superseded = true;
      if (rec.cmd === 'Atomic' || rec.cmd === 'Sequence') {
        for (const r of Object.values(this.s.sent)) if (r.parent === key) r.superseded = true;
        job.members = [];
      }
      this.resend.push({ jobId: rec.jobId, command: rec.command, ...(rec.walk ? { walk: true } : {}), ...(rec.structGet ? { structGet: true } : {}) });
      return;
    }
    if (rec.member !== undefined) {
      const m = job.members[rec.member];
      if (m) m.statusCode = rec.status;
    }
    if (rec.chunk && !rec.chunk.last && code !== 213) {
      this.failJob(job.id, code, `large object chunk refused (${code})`);
      this.s.outbox = this.s.outbox.filter((o) => o.jobId !== job.id);
    }
    if (rec.structGet && code >= 300) {
      // No ?list=Struct on this device: walk the tree with plain Gets instead.
      this.fx.notes.push(`job ${job.id}: ?list=Struct refused (${code}); walking the tree with Gets`);
      rec.superseded = true;
      this.enqueueWalk(job, (job.spec as { uri: string }).uri);
    }
  }

  private onResults(r: Results): void {
    const key = resultsKey(r, this.s.serverMsgId);
    const rec = this.s.sent[key];
    if (!rec || rec.jobId < 0) {
      this.fx.notes.push(`Results for unknown command (MsgRef ${r.msgRef ?? '-'}, CmdRef ${r.cmdRef}) ignored`);
      return;
    }
    const job = this.s.jobs[rec.jobId];
    const answer = (code: number) => this.statuses.push(status(this.hdr.msgID, r, code, { targetRefs: r.targetRefs, sourceRefs: r.sourceRefs }));

    for (const item of r.items) {
      const lo = this.s.incomingLo;
      if (item.moreData || (lo && lo.key === key)) {
        const got = this.takeChunk(key, reportedUri(item) ?? rec.uri, item, r.meta, answer);
        if (got === 'more') continue;
        if (got !== 'refused' && job) this.addResult(job, rec, got.item, got.meta);
        rec.resultsDone = true;
        continue;
      }
      if (job) this.addResult(job, rec, item, r.meta);
      rec.resultsDone = true;
    }
    if (r.items.length === 0) rec.resultsDone = true;
  }

  /**
   * One item of a large object the client sends in chunks (Results of our Get, or its own
   * Replace/Add): 'more' when buffered (answered 213), the reassembled item after the last chunk,
   * 'refused' when it was answered with an error (413 over our MaxObjSize, 424 size mismatch; the
   * object is dropped, never applied). `key` names the object; another one still open is cut (1225).
   */
  private takeChunk(key: string, uri: string, item: Item, meta: Meta | undefined, answer: (code: number) => void): { item: Item; meta: Meta | undefined } | 'more' | 'refused' {
    const limits = this.config.limits;
    const d = dataBytes(item.data);
    let cur = this.s.incomingLo;
    if (!cur || cur.key !== key) {
      if (cur) this.cutIncoming(cur, 'a new large object started before the previous one ended');
      const declared = num(item.meta?.size ?? meta?.size);
      cur = { key, uri, received: 0, chunks: [], text: d.text, first: { ...item, data: undefined }, ...(declared !== undefined ? { declared } : {}), ...(meta ? { meta } : {}) };
      if (declared !== undefined && declared > limits.maxObjSize) {
        answer(413);
        this.failJobOfKey(key, 413, `object of ${declared} bytes exceeds the server's MaxObjSize ${limits.maxObjSize}`);
        return 'refused';
      }
      this.s.incomingLo = cur;
    }
    cur.chunks.push(d.bytes);
    cur.received += d.bytes.length;
    cur.text &&= d.text;
    if (cur.received > limits.maxObjSize) {
      answer(413);
      this.failJobOfKey(key, 413, `object exceeds the server's MaxObjSize ${limits.maxObjSize}`);
      delete this.s.incomingLo;
      return 'refused';
    }
    if (item.moreData) {
      answer(213);
      return 'more';
    }
    // The last chunk: the object is whole, or wrong and dropped.
    delete this.s.incomingLo;
    const all = new Uint8Array(Buffer.concat(cur.chunks));
    if (cur.declared !== undefined && cur.declared !== all.length) {
      answer(424);
      this.failJobOfKey(key, 424, `large object size mismatch: announced ${cur.declared}, received ${all.length}`);
      if (isClientObjectKey(key)) this.fx.notes.push(`the device's large object for ${cur.uri} dropped: announced ${cur.declared} bytes, received ${all.length} (424)`);
      return 'refused';
    }
    return { item: { ...cur.first, data: cur.text ? { kind: 'text', text: utf8d.decode(all) } : { kind: 'binary', bytes: all } }, meta: cur.meta };
  }

  /**
   * The large object the client was sending ends without its last chunk: Alert 1225 names it, the
   * job waiting for it fails, and nothing of it is applied.
   */
  private cutIncoming(lo: IncomingLo, why: string): void {
    this.control.push({ kind: 'Alert', cmdID: '', data: ALERT.NO_END_OF_DATA, items: [{ target: { locURI: lo.uri } }] } satisfies Alert);
    this.failJobOfKey(lo.key, 1225, why);
    if (isClientObjectKey(lo.key)) this.fx.notes.push(`the device's large object for ${lo.uri} dropped (Alert 1225): ${why}`);
    delete this.s.incomingLo;
  }

  private addResult(job: JobProgress, rec: SentRecord, item: Item, meta: Meta | undefined): void {
    const res = itemResult(item, rec.uri, meta);
    job.results.push(res);
    this.fx.tree.push({ uri: res.uri, format: res.format, type: res.type ?? null, data: res.data, ...(res.encoding ? { encoding: res.encoding } : {}) });
    if (rec.walk && res.format === 'node' && res.data) {
      const base = res.uri.replace(/\/+$/, '');
      for (const child of res.data.split('/').filter((c) => c.length > 0)) this.enqueueWalk(job, `${base}/${child}`);
    }
  }

  private enqueueWalk(job: JobProgress, uri: string): void {
    job.walked = (job.walked ?? 0) + 1;
    if (job.walked > this.config.limits.maxDiscoverNodes) {
      if (job.walked === this.config.limits.maxDiscoverNodes + 1) this.fx.notes.push(`job ${job.id}: tree walk stopped at ${this.config.limits.maxDiscoverNodes} nodes`);
      return;
    }
    this.s.outbox.push({ jobId: job.id, command: getCommand(uri), walk: true });
  }

  private failJobOfKey(key: string, code: number | null, error: string): void {
    const rec = this.s.sent[key];
    if (rec && rec.jobId >= 0) this.failJob(rec.jobId, code, error);
  }

  private failJob(id: number, code: number | null, error: string): void {
    const job = this.s.jobs[id];
    if (job && !job.failure) job.failure = { code, error };
  }

  // --- jobs ----------------------------------------------------------------------------------

  private ingestJobs(): void {
    for (const j of this.input.queuedJobs) {
      if (this.s.jobs[j.id]) continue;
      const job: JobProgress = { id: j.id, spec: j.spec, keys: [], results: [], members: [], sent: false, finished: false };
      this.s.jobs[j.id] = job;
      let command: Command;
      try {
        command = specCommand(j.spec);
      } catch (e) {
        this.finish(job, 'failed', null, `bad job: ${(e as Error).message}`);
        continue;
      }
      this.s.outbox.push({ jobId: j.id, command, ...(j.spec.kind === 'discover' ? { structGet: true } : {}) });
    }
  }

  private evaluateJobs(clientFinal: boolean): void {
    for (const job of Object.values(this.s.jobs)) {
      if (job.finished || !job.sent) continue;
      const queued = this.s.outbox.some((o) => o.jobId === job.id) || this.resend.some((o) => o.jobId === job.id);
      if (job.failure && !queued) {
        this.finish(job, 'failed', job.failure.code, job.failure.error);
        continue;
      }
      if (queued) continue;
      let pending = false;
      for (const key of job.keys) {
        const rec = this.s.sent[key]!;
        if (rec.superseded) continue;
        if (rec.status === undefined || (rec.expectResults && rec.status === 200 && !rec.resultsDone)) pending = true;
      }
      if (pending) {
        if (clientFinal && !this.s.incomingLo) this.finish(job, 'failed', this.primaryCode(job), 'the device closed its package without answering');
        continue;
      }
      const code = this.primaryCode(job);
      const ok = code !== null && ((code >= 200 && code < 300) || (job.spec.kind === 'alert' && code === 304));
      this.finish(job, ok ? 'done' : 'failed', code, ok ? null : `device answered ${code}`);
    }
  }

  /** The status that stands for the job: the container's, the last chunk's, the walk's, or the only one. */
  private primaryCode(job: JobProgress): number | null {
    if (job.failure) return job.failure.code;
    const recs = job.keys.map((k) => this.s.sent[k]!).filter((r) => !r.superseded);
    if (job.spec.kind === 'discover') {
      const struct = recs.find((r) => r.structGet);
      if (struct) return struct.status ?? null;
      const root = recs.find((r) => r.walk);
      return root?.status ?? null;
    }
    const top = recs.filter((r) => r.member === undefined);
    return top[top.length - 1]?.status ?? null;
  }

  private finish(job: JobProgress, status: 'done' | 'failed', statusCode: number | null, error: string | null): void {
    job.finished = true;
    this.fx.jobsFinished.push({ id: job.id, status, statusCode, results: job.results, members: job.members, error });
  }

  // --- the response --------------------------------------------------------------------------

  private nextMessageAlert(): Alert {
    return { kind: 'Alert', cmdID: '', data: ALERT.NEXT_MESSAGE, items: [{ target: { locURI: this.s.devId }, source: { locURI: this.config.serverUri } }] };
  }

  /** Our SyncHdr for the message being built; computed once per message (its Cred is a hash). */
  private header(): SyncHdr {
    const s = this.s;
    if (this.hdrCache?.msgId === s.serverMsgId) return this.hdrCache.hdr;
    const h: SyncHdr = {
      verDTD: s.verDTD,
      verProto: s.verProto,
      sessionID: s.dmSessionId,
      msgID: String(s.serverMsgId),
      target: { locURI: s.devId },
      source: { locURI: this.config.serverUri },
      respURI: s.respUri,
      meta: { maxMsgSize: String(this.config.limits.maxMsgSize), maxObjSize: String(this.config.limits.maxObjSize) },
    };
    const cred = this.config.serverCred;
    if (cred && (s.serverAuth.type === 'basic' || s.serverAuth.type === 'md5')) {
      const c = serverCredential(cred, s.serverAuth.type, s.serverAuth.nonce);
      if (c) h.cred = c;
    }
    this.hdrCache = { msgId: s.serverMsgId, hdr: h };
    return h;
  }

  private encode(commands: Command[], final: boolean): Uint8Array {
    const r = encodeMessage({ hdr: this.header(), body: { commands, final } }, this.s.encoding);
    if (!r.ok) throw new Error(`cannot encode our own response: ${r.error.message}`);
    return r.value;
  }

  /**
   * Builds the response: statuses and control commands, then as much of the outbox as the client's
   * MaxMsgSize allows (`takeOutbox`), splitting a large object into chunks when it cannot fit whole.
   */
  private respond(opts: { takeOutbox: boolean; final: boolean }): EngineOutput {
    const s = this.s;
    s.serverMsgId++;
    const msgId = String(s.serverMsgId);
    let nextId = 1;
    const number = (c: Command): Command => {
      const n = clone(c);
      n.cmdID = String(nextId++);
      if (n.kind === 'Atomic' || n.kind === 'Sequence') n.commands = n.commands.map(number);
      return n;
    };
    const statuses = this.withPendingStatuses();
    let fixed = [...statuses, ...this.control].map(number);
    const limit = s.clientMaxMsgSize ?? this.config.limits.assumedClientMaxMsgSize;
    const chosen: Command[] = [];
    let final = opts.final;
    let chunkSent = false;
    let limited = false;
    // Usually everything queued fits: one encode sizes and builds the whole answer at once.
    let whole = opts.takeOutbox ? this.takeAllIfFits(fixed, msgId, limit, () => nextId, (n) => (nextId = n), number) : undefined;
    // Without the fast path, what always goes is encoded once: it sizes the rest and, when nothing
    // else joins it, it is the answer.
    let fixedBytes = whole ? undefined : this.encode(fixed, opts.final);
    // Statuses alone over the limit (a client message of many commands, a small MaxMsgSize): as
    // many as fit go now, the rest open our next message, and no job command goes before them.
    // Not while refusing or closing the session: there is no next message to carry them.
    let statusesHeld = false;
    const fitting = fixedBytes && fixedBytes.length > limit && (opts.takeOutbox || !opts.final) && statuses.length > 2 ? this.fitStatuses(statuses, limit) : undefined;
    if (fitting) {
      nextId = 1;
      fixed = fitting.map(number);
      fixedBytes = undefined;
      statusesHeld = true;
    }
    // Remember our control commands so their statuses are recognised.
    for (const c of fixed) if (c.kind === 'Alert') s.sent[`${msgId}:${c.cmdID}`] = { jobId: -1, cmd: 'Alert', uri: '', expectResults: false };

    if (whole) {
      chosen.push(...whole.commands);
      final = true;
    } else if (statusesHeld) {
      final = false;
    } else if (opts.takeOutbox) {
      const baseSize = fixedBytes!.length;
      let used = baseSize;
      const cost = (c: Command) => this.encode([...fixed, c], true).length - baseSize;
      while (s.outbox.length > 0 && !chunkSent) {
        if (this.maxCommands !== undefined && chosen.length >= this.maxCommands) {
          limited = true;
          break;
        }
        const out = s.outbox[0]!;
        const job = s.jobs[out.jobId];
        if (out.lo) {
          if (chosen.length > 0 && limit - used < 256) break;
          const c = this.chunk(out, msgId, () => nextId++, limit - used, fixed, baseSize);
          if (!c) {
            s.outbox.shift();
            continue;
          }
          chosen.push(c);
          chunkSent = out.lo.offset < out.lo.total;
          if (!chunkSent) s.outbox.shift();
          continue;
        }
        const cmd = number(out.command);
        const size = cost(cmd);
        if (used + size <= limit) {
          chosen.push(cmd);
          used += size;
          s.outbox.shift();
          this.record(out, cmd, msgId);
          continue;
        }
        if (chosen.length > 0) {
          nextId -= countIds(cmd);
          break;
        }
        nextId -= countIds(cmd);
        // Alone it does not fit: a large object goes in chunks, anything else cannot go at all.
        const lo = loCandidate(out.command);
        if (!lo) {
          s.outbox.shift();
          if (job) {
            job.failure = { code: null, error: `command of ${size} bytes does not fit the device's MaxMsgSize ${limit}` };
            job.sent = true;
          }
          continue;
        }
        const total = lo.bytes.length;
        const maxObj = s.clientMaxObjSize;
        if (maxObj === undefined || total > maxObj) {
          s.outbox.shift();
          if (job) {
            job.failure = { code: null, error: maxObj === undefined ? `object of ${total} bytes needs large-object support and the device announced no MaxObjSize` : `object of ${total} bytes exceeds the device's MaxObjSize ${maxObj}` };
            job.sent = true;
          }
          continue;
        }
        out.lo = { offset: 0, total, bytes: lo.bytes, text: lo.text };
      }
      // Stopped by maxCommands: the package still closes, so the device executes what it got now.
      final = (s.outbox.length === 0 || limited) && !chunkSent;
    }

    // Jobs that failed locally while building (too large) are settled now.
    for (const job of Object.values(s.jobs)) {
      if (!job.finished && job.failure && !s.outbox.some((o) => o.jobId === job.id) && !job.keys.some((k) => s.sent[k]!.status === undefined && !s.sent[k]!.superseded)) {
        this.finish(job, 'failed', job.failure.code, job.failure.error);
      }
    }

    const commands = [...fixed, ...chosen];
    const response: SyncML = { hdr: this.header(), body: { commands, final } };
    const bytes = whole?.bytes ?? (chosen.length === 0 && fixedBytes && final === opts.final ? fixedBytes : this.encode(commands, final));
    whole = undefined;
    fixedBytes = undefined;
    if (bytes.length > limit) this.fx.notes.push(`response of ${bytes.length} bytes exceeds the device's MaxMsgSize ${limit} (statuses alone)`);
    // Only a message carrying our package leaves it open; asking for the client's next message does not.
    if (opts.takeOutbox) s.serverPackageOpen = !final;
    if (this.config.serverCred && s.serverAuth.type === 'hmac') this.headers['x-syncml-hmac'] = serverHmacHeader(this.config.serverCred, s.serverAuth.nonce, bytes);
    if (this.authChanged) this.fx.deviceAuth = this.auth;

    // A closed package holding no command that wants an answer ends the session.
    const wantsAnswer = commands.some((c) => c.kind !== 'Status');
    if (opts.takeOutbox && final && !wantsAnswer && s.phase !== 'closed') {
      const open = Object.values(s.jobs).some((j) => !j.finished);
      if (!open) this.closeInto(s, this.fx, 'done', 'completed');
    }
    return { session: s, response, bytes, headers: this.headers, effects: this.fx };
  }

  /** This message's statuses, the SyncHdr's first, then those an earlier message had no room for. */
  private withPendingStatuses(): Status[] {
    const pending = this.s.pendingStatuses;
    if (!pending) return this.statuses;
    delete this.s.pendingStatuses;
    const [first, ...rest] = this.statuses;
    return first?.cmd === 'SyncHdr' ? [first, ...pending, ...rest] : [...pending, ...this.statuses];
  }

  /**
   * The longest run of `statuses` that fits `limit` with our control commands (the SyncHdr's
   * Status and one more always go); the rest wait in pendingStatuses. Returns what goes now,
   * unnumbered, or undefined when holding back would not help: when not even the fewest fit, or
   * when it would not make progress (every message of the device brings statuses of its own, its
   * SyncHdr's and its Alert 1222's, and a limit too small for more than those would carry the rest
   * forever). Then everything goes now, over the limit.
   */
  private fitStatuses(statuses: Status[], limit: number): Command[] | undefined {
    const numbered = (cmds: Command[]) => cmds.map((c, i) => ({ ...c, cmdID: String(i + 1) }) as Command);
    const fits = (n: number) => this.encode(numbered([...statuses.slice(0, n), ...this.control]), false).length <= limit;
    // Not even the fewest fit: holding the rest back would cost a round trip and fit nothing.
    if (!fits(Math.min(2, statuses.length))) return undefined;
    // Binary search: statuses are small and many; sizing them one by one would encode n times.
    let lo = Math.min(2, statuses.length);
    let hi = statuses.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (fits(mid)) lo = mid + 1;
      else hi = mid - 1;
    }
    const n = Math.max(Math.min(2, statuses.length), hi);
    const carried = statuses.length - this.statuses.length;
    if (carried > 0 && n <= this.statuses.length) {
      this.fx.notes.push(`the device's MaxMsgSize ${limit} leaves no room to catch up on ${carried} held statuses: all ${statuses.length} go now`);
      return undefined;
    }
    this.s.pendingStatuses = statuses.slice(n);
    this.fx.notes.push(`${statuses.length - n} of ${statuses.length} statuses did not fit the device's MaxMsgSize ${limit}: they go in the next message`);
    return [...statuses.slice(0, n), ...this.control];
  }

  /**
   * The fast path of respond(): when no large object is in the outbox and no step limit applies,
   * numbers every queued command and encodes the whole answer once. If it fits the device's
   * MaxMsgSize the commands are taken (and the bytes are the answer); otherwise nothing changes
   * and respond() sizes command by command.
   */
  private takeAllIfFits(fixed: Command[], msgId: string, limit: number, getId: () => number, setId: (n: number) => void, number: (c: Command) => Command): { commands: Command[]; bytes: Uint8Array } | undefined {
    const s = this.s;
    if (s.outbox.length === 0 || this.maxCommands !== undefined || s.outbox.some((o) => o.lo !== undefined)) return undefined;
    const firstId = getId();
    const commands = s.outbox.map((o) => number(o.command));
    const bytes = this.encode([...fixed, ...commands], true);
    if (bytes.length > limit) {
      setId(firstId);
      return undefined;
    }
    const taken = s.outbox.splice(0);
    for (let i = 0; i < taken.length; i++) this.record(taken[i]!, commands[i]!, msgId);
    return { commands, bytes };
  }

  private record(out: OutItem, cmd: Command, msgId: string): void {
    const s = this.s;
    const job = s.jobs[out.jobId];
    const key = `${msgId}:${cmd.cmdID}`;
    const rec: SentRecord = { jobId: out.jobId, cmd: cmd.kind, uri: commandUri(cmd), expectResults: cmd.kind === 'Get', command: out.command };
    if (out.walk) rec.walk = true;
    if (out.structGet) rec.structGet = true;
    if (job) {
      if (out.walk) {
        rec.member = job.members.length;
        job.members.push({ cmd: 'Get', uri: rec.uri, statusCode: null });
      }
      job.keys.push(key);
      if (!job.sent) {
        job.sent = true;
        this.fx.jobsSent.push(job.id);
      }
    }
    s.sent[key] = rec;
    if ((cmd.kind === 'Atomic' || cmd.kind === 'Sequence') && job) {
      for (const m of (cmd as Container).commands) {
        const mk = `${msgId}:${m.cmdID}`;
        s.sent[mk] = { jobId: out.jobId, cmd: m.kind, uri: commandUri(m), expectResults: m.kind === 'Get', member: job.members.length, parent: key };
        job.members.push({ cmd: m.kind, uri: commandUri(m), statusCode: null });
        job.keys.push(mk);
      }
    }
  }

  /** The next chunk of a large object, sized to what is left of the message. */
  private chunk(out: OutItem, msgId: string, nextId: () => number, room: number, fixed: Command[], baseSize: number): Command | undefined {
    const lo = out.lo!;
    const src = out.command as ItemCommand;
    const first = lo.offset === 0;
    const make = (end: number): ItemCommand => {
      const piece = lo.bytes.subarray(lo.offset, end);
      const it: Item = { ...src.items[0]! };
      const meta: Meta = { ...(it.meta ?? {}) };
      if (first) meta.size = String(lo.total);
      it.meta = meta;
      it.data = lo.text ? { kind: 'text', text: utf8d.decode(piece) } : { kind: 'binary', bytes: piece };
      if (end < lo.total) it.moreData = true;
      else delete it.moreData;
      return { ...src, cmdID: '0', items: [it] };
    };
    const cost = (c: Command) => this.encode([...fixed, c], true).length - baseSize;
    const overhead = cost(make(lo.offset));
    const xmlBinary = this.s.encoding === 'xml' && !lo.text;
    const budget = room - overhead - 32;
    let span = xmlBinary ? Math.floor(budget / 4) * 3 : budget;
    for (let attempt = 0; attempt < 8; attempt++) {
      if (span < 1) {
        const job = this.s.jobs[out.jobId];
        if (job) job.failure = { code: null, error: `MaxMsgSize ${room} leaves no room for a large-object chunk` };
        return undefined;
      }
      let end = Math.min(lo.total, lo.offset + span);
      if (lo.text) while (end < lo.total && end > lo.offset && (lo.bytes[end]! & 0xc0) === 0x80) end--;
      const c = make(end);
      const over = cost(c) - (room - 16);
      if (over > 0) {
        span -= over + 8;
        continue;
      }
      c.cmdID = String(nextId());
      lo.offset = end;
      const key = `${msgId}:${c.cmdID}`;
      this.s.sent[key] = { jobId: out.jobId, cmd: c.kind, uri: commandUri(c), expectResults: false, chunk: { last: end >= lo.total } };
      const job = this.s.jobs[out.jobId];
      if (job) {
        job.keys.push(key);
        if (!job.sent) {
          job.sent = true;
          this.fx.jobsSent.push(job.id);
        }
      }
      return c;
    }
    const job = this.s.jobs[out.jobId];
    if (job) job.failure = { code: null, error: 'could not size a large-object chunk' };
    return undefined;
  }
}

function countIds(c: Command): number {
  return 1 + (c.kind === 'Atomic' || c.kind === 'Sequence' ? c.commands.reduce((n, m) => n + countIds(m), 0) : 0);
}

/** A single-item Add/Replace with data can travel as a large object. */
function loCandidate(c: Command): { bytes: Uint8Array; text: boolean } | undefined {
  if ((c.kind !== 'Replace' && c.kind !== 'Add') || c.items.length !== 1) return undefined;
  const d = c.items[0]!.data;
  if (!d || d.kind === 'xml') return undefined;
  return dataBytes(d);
}
