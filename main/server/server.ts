/**
 * DmServer: the HTTP(S) listener, the session engine and the SQLite store put together.
 *
 * Per request: read the body (bounded) -> decode -> find or open the session -> in ONE write
 * transaction: read the device's queued jobs, run the engine, log the message with the engine's
 * notes, apply its effects, log the response -> answer. Nothing goes on the wire that is not
 * committed (and fsynced) first, so a kill -9 at any moment loses no job or message that anyone was
 * told about. The transactions of requests that arrive together share one COMMIT and one fsync
 * (ServerStore.group), which is what lets a busy server keep that promise without waiting for the
 * disk per round trip. Jobs written by another process (`dmw job add`) are read from the store at
 * every message; the device's row is read at a session's first message and kept with the session.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { randomBase64, randomHex } from '../protocol/random-pool.js';
import { decodeMessage, encodeMessage, sniffEncoding, type Encoding } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';
import type { StoreOptions } from '../store/server-store.js';
import { openStore } from '../store/open.js';
import type { DmStore, DmStoreOps } from '../store/store.js';
import type { NewMessage, QueuedJobSpec } from '../store/types.js';
import { factsSurviveEncoding } from '../store/message-facts.js';
import { LabCa } from './ca.js';
import { engineConfig, type ClientAuthMode, type Credential, type EngineConfig, type ServerAuthMode, type ServerLimits } from './config.js';
import { SessionEngine, isPackage1, type AdmitOutcome, type Admitted, type DeviceView, type EngineEffects, type EngineInput, type EngineOutput, type EngineSession, type HeldTurn, type NonceSource } from './engine.js';
import { applyEffects } from './effects.js';
import { serverHmacHeader } from './auth.js';
import { LiveSessions, type Live } from './live-sessions.js';
import { Admission, isSlot, type NoSlot, type Slot } from './admission.js';
import { checkHeaderLimits, describeOverLimit } from './header-limits.js';
import { Rejections, text } from './rejections.js';
import { NO_CREDENTIAL, PreAuthDesk } from './pre-auth.js';
import type { FailedSession } from './failed-sessions.js';
import { shownDevId, type RefusalEntry, type RefusalKind } from './failure-ring.js';
import { sourceAddressKey } from './source-address.js';
import { EventBus, type ServerEvent } from './events.js';
import { StepControl, type SteppingState } from './step-control.js';
import { ACCEPTED_MEDIA_TYPES, listen, type ClientCertMode, type IncomingBody, type Listener, type OutgoingResponse } from './http.js';
import { parseJobSpec } from './jobs.js';
import type { SessionHook } from './scripted.js';
import { buildPackage0, HttpNotifier, type Notifier, type NotifyResult, type UiMode } from './notifier.js';
import type { JobRecord, JobSpec, SessionState } from './types.js';
import { claimTakenJobs, JobsTakenError } from './job-claims.js';
import { isStoreUnavailable, storeUnavailable } from './unavailable.js';
import { LeaseLostError, pgStateReader, SharedGate, sharedPreAuthId, SharedSessions, STEPPING_NEEDS_ONE_INSTANCE, type SharedLookup } from './shared-sessions.js';
import { StoreEventBus } from './store-events.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import { activeDm20Sessions, closeDm20, createDm20Context, handleDm20, sweepDm20, type Dm20Context, type Dm20Limits } from './dm20/index.js';

export interface DmServerOptions {
  /** The lab CA and other files; also the SQLite store when no storeUrl is given. */
  dataDir: string;
  /** postgres://USER@HOST:PORT/DB: a PostgreSQL store shared with other instances (main/store/open.ts). */
  storeUrl?: string;
  /** 0 picks a free port (see `server.port`). */
  port?: number;
  host?: string;
  /** Path devices POST to; RespURIs live under it. */
  basePath?: string;
  /** The server URI put in SyncHdr Source (default derived from host and port). */
  publicUrl?: string;
  /** HTTPS with a certificate from the lab CA in `<dataDir>/ca` (or the given PEMs). */
  tls?: { clientCerts?: ClientCertMode; hosts?: string[]; certPem?: string; keyPem?: string; caPem?: string };
  serverId?: string;
  clientAuth?: ClientAuthMode;
  defaultClientCred?: Credential;
  serverCred?: Credential;
  serverAuth?: ServerAuthMode;
  /** Require a lab-CA client certificate whose CN is the DevId (implies clientCerts 'optional' or stricter). */
  requireClientCert?: boolean;
  limits?: Partial<ServerLimits>;
  notifiers?: Notifier[];
  /** Clock and nonce source, injectable for tests. */
  now?: () => number;
  nonces?: NonceSource;
  /** How often idle sessions are looked for. */
  sweepIntervalMs?: number;
  store?: StoreOptions;
  /**
   * Also serve the DM 2.0 RESTful JSON binding at `<basePath>/v2` (a lab binding on assumptions,
   * main/protocol/dm20/README.md). Off by default: DM 1.2/1.3 is the protocol.
   */
  dm20?: boolean | { limits?: Partial<Dm20Limits> };
}

/** Refusals before authentication and the session pools, as GET /api/v1/auth-failures and the UI show them. */
export interface AuthFailuresView {
  /** Newest first, bounded (failureRingSize); runs of the same refusal folded into one entry with a count. */
  recent: RefusalEntry[];
  /** Refusals per kind since the server started. */
  counts: Record<RefusalKind, number>;
  /** Addresses and credential names whose failure buckets are not full, and how many DevIds are in good standing. */
  throttled: ReturnType<PreAuthDesk['throttle']['snapshot']>;
  sessions: { authenticated: number; maxSessions: number; preAuth: number; maxPreAuthSessions: number; maxPreAuthSessionsPerAddress: number };
}

/** How a session enters the store: its slot (taken before any await) and, when it authenticated in memory first, that session. */
interface StoreEntry {
  slot: Slot;
  token: string;
  /** The engine state before the turn that authenticated it (the turn runs again, with the jobs). */
  state?: EngineSession;
  /** The device as that turn saw it (the nonce its session was given). */
  view?: DeviceView;
  /** That turn's verdict, handed to the whole turn so the credentials are checked once. */
  admitted?: Admitted;
  /** The in-memory session it was (its messages are written first). */
  from?: Live;
}

/** A Host header we echo in a RespURI: a name or address and a port, nothing else. */
const PLAUSIBLE_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** How stale a live session's device row may let last_seen get (it is written with other changes). */
const SEEN_RESOLUTION_MS = 1000;

const randomNonces: NonceSource = { nonce: () => randomBase64(16) };

export type { SteppingState } from './step-control.js';

export class DmServer {
  /** On a shared store, a StoreEventBus: every instance's events (store-events.ts). */
  readonly bus: EventBus;
  readonly config: EngineConfig;
  readonly engine: SessionEngine;
  ca?: LabCa;
  private listener?: Listener;
  private readonly admission: Admission;
  private readonly live: LiveSessions;
  /** Everything about devices that have not authenticated: throttles, recent refusals, failed sessions. */
  private readonly desk: PreAuthDesk;
  private readonly rejections: Rejections;
  private sweeper?: NodeJS.Timeout;
  /**
   * Several instances on one PostgreSQL store (shared-sessions.ts): a session lives in the database
   * between its messages and any instance takes the next one. What stays per instance: the admission
   * slots (maxSessions counts turns in progress here), the pre-auth throttles and lockout buckets,
   * the failure ring, DM 2.0 sessions, and stepping (refused: STEPPING_NEEDS_ONE_INSTANCE).
   */
  private shared?: SharedGate;
  private sharedSweeping = false;
  private eventsPrunedAt = 0;
  /** The sessions open on any instance, as of the last sweep (activeSessions() is synchronous). */
  private sharedActive: ReturnType<SharedSessions['active']> extends Promise<infer T> ? T : never = [];
  /** Messages decoded ahead to find their session on a shared store (decoded once). */
  private readonly decodedAhead = new WeakMap<IncomingBody, ReturnType<typeof decodeMessage>>();
  private readonly now: () => number;
  /** Jobs are claimed when the engine takes them (several instances may serve the device), not marked sent when they go out. */
  private readonly claimsJobs: boolean;
  private readonly notifiers: Notifier[];
  private scheme = 'http';
  /** Matches RespURI paths (`<basePath>/s/<id>-<token>`). */
  private sessionPath?: RegExp;
  /** Held answers of paused devices (the Sessions view's Step and Resume). */
  private readonly steps: StepControl;
  private dm20?: Dm20Context;
  /** Scripted sessions of a device under test (scripted.ts, the conformance runner): its own engine and turns. */
  sessionHook?: SessionHook;
  /** Requests the DM endpoint does not own (the management API, api/index.ts): true = taken. */
  httpHook?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;

  private constructor(
    readonly store: DmStore,
    private readonly opts: DmServerOptions,
    config: EngineConfig,
  ) {
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.bus = store.kind === 'postgres' ? new StoreEventBus(store) : new EventBus();
    this.claimsJobs = store.kind !== 'sqlite';
    this.engine = new SessionEngine(config, opts.nonces ?? randomNonces);
    this.notifiers = opts.notifiers ?? [new HttpNotifier()];
    this.admission = new Admission(config.limits, { authenticated: 30, preAuth: Math.max(1, Math.ceil(config.limits.preAuthTimeoutMs / 3000)) });
    this.live = new LiveSessions(this.admission);
    this.steps = new StepControl({ engine: this.engine, now: this.now, maxHoldMs: config.limits.maxHoldMs, setState: (l, st) => this.live.setState(l, st), emit: (e) => this.emit(e) });
    this.desk = new PreAuthDesk(config.limits);
    this.rejections = new Rejections({ store, config, desk: this.desk, takeSeq: (id) => this.takeSeq(id), emit: (e) => this.emit(e), now: () => this.now() });
  }

  static async start(opts: DmServerOptions): Promise<DmServer> {
    const store = await openStore({ dataDir: opts.dataDir, ...(opts.storeUrl !== undefined ? { storeUrl: opts.storeUrl } : {}), ...(opts.store ? { sqlite: opts.store } : {}) });
    const host = opts.host ?? '127.0.0.1';
    const basePath = (opts.basePath ?? '/dm').replace(/\/+$/, '');
    const config = engineConfig({
      serverId: opts.serverId ?? 'dmw',
      clientAuth: opts.clientAuth ?? 'none',
      serverAuth: opts.serverAuth ?? 'md5',
      requireClientCert: opts.requireClientCert ?? false,
      ...(opts.defaultClientCred ? { defaultClientCred: opts.defaultClientCred } : {}),
      ...(opts.serverCred ? { serverCred: opts.serverCred } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    const server = new DmServer(store, { ...opts, basePath }, config);
    if (opts.dm20) {
      const l = config.limits;
      server.dm20 = createDm20Context({
        store, now: server.now, emit: (e) => server.bus.emit(e), requireClientCert: opts.requireClientCert ?? false,
        limits: { sessionTimeoutMs: l.sessionTimeoutMs, maxJobAttempts: l.maxJobAttempts, maxSessions: l.maxSessions, maxMessageBytes: l.maxBodyBytes, ...(typeof opts.dm20 === 'object' ? opts.dm20.limits : {}) },
      });
    }
    try {
      // One process owns a SQLite store: what was active is what it left behind. A shared store's
      // active sessions may be other instances' live ones: those are swept by lease, not here.
      if (store.kind === 'sqlite') {
        const recovered = await store.recoverInterrupted(server.now(), config.limits.maxJobAttempts);
        if (recovered.sessions > 0 || recovered.jobs > 0 || recovered.unconfirmed > 0 || recovered.failed > 0) {
          process.emitWarning(`recovered after an unclean stop: ${recovered.sessions} session(s) marked interrupted; of the jobs on the wire, ${recovered.unconfirmed} unconfirmed (decide: dmw job verify|resend|drop), ${recovered.jobs} queued again by their policy, ${recovered.failed} failed`);
        }
      }
      if (store.kind === 'postgres') await server.shareSessions(store as unknown as PostgresStore);
      let tls;
      if (opts.tls) {
        server.scheme = 'https';
        let { certPem, keyPem, caPem } = opts.tls;
        if (!certPem || !keyPem) {
          server.ca = await LabCa.loadOrCreate(path.join(opts.dataDir, 'ca'));
          const hosts = opts.tls.hosts ?? defaultHosts(host);
          ({ certPem, keyPem } = await server.ca.serverCertificate(hosts));
          caPem ??= server.ca.certPem;
        }
        const clientCerts = opts.tls.clientCerts ?? (opts.requireClientCert ? 'optional' : 'optional');
        tls = { certPem, keyPem, clientCerts, ...(caPem ? { caPem } : {}) };
      }
      server.listener = await listen({ port: opts.port ?? 0, host, maxBodyBytes: config.limits.maxBodyBytes, now: server.now, ...(tls ? { tls } : {}) }, {
        onBody: (r) => server.onBody(r),
        onTooLarge: (r) => server.onTooLarge(r),
        onRequest: (req, res) => server.httpHook?.(req, res) ?? false,
        onOther: (r) => (r.method === 'GET' && (r.url === '/' || r.url === basePath) ? { status: 200, headers: { 'content-type': 'text/plain' }, body: 'DM Workbench server: POST SyncML DM messages here\n' } : undefined),
      });
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      (config as { serverUri: string }).serverUri = opts.publicUrl ?? `${server.scheme}://${shownHost}:${server.listener.port}${basePath}`;
      const every = opts.sweepIntervalMs ?? Math.max(50, Math.min(5000, Math.floor(Math.min(config.limits.sessionTimeoutMs, config.limits.preAuthTimeoutMs) / 4)));
      server.sweeper = setInterval(() => server.sweep(), every);
      server.sweeper.unref();
      return server;
    } catch (e) {
      await server.listener?.close();
      await store.close();
      throw e;
    }
  }

  get port(): number {
    return this.listener!.port;
  }

  /** Where devices POST (also SyncHdr Source of the server). */
  get url(): string {
    return this.config.serverUri;
  }

  /** Ends open sessions (their jobs go back to the queue), stops listening, closes the store. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.steps.releaseAll();
    // Shared store: the other instances go on with these sessions (each is in the database).
    if (!this.shared) for (const l of [...this.live.values()]) if (l.state.phase !== 'closed') await this.endLive(l, 'interrupted', 'server shut down');
    this.live.clear();
    if (this.dm20) await closeDm20(this.dm20);
    await this.listener?.close();
    if (this.bus instanceof StoreEventBus) await this.bus.stop();
    await this.store.close();
  }

  // --- management API (used by the CLI, the UI API and virtual handsets) ---------------------

  /** Queues a job; with `notify`, also asks the device to call now. */
  async addJob(device: string, spec: JobSpec, opts: { notify?: boolean; uiMode?: UiMode } = {}): Promise<{ job: JobRecord; notified?: NotifyResult }> {
    const clean = parseJobSpec(spec);
    const job = await this.store.addJob(device, clean, this.now());
    if (!opts.notify) return { job };
    return { job, notified: await this.notify(device, opts.uiMode === undefined ? {} : { uiMode: opts.uiMode }) };
  }

  /** Registers how to reach a device and what it must authenticate with. */
  async setDevice(devId: string, p: { notifyUrl?: string | null; clientCred?: Credential | null }): Promise<void> {
    await this.store.tx(async (s) => {
      if (p.notifyUrl !== undefined) await s.setNotifyUrl(devId, p.notifyUrl ?? undefined, this.now());
      if (p.clientCred !== undefined) await s.setDeviceCredential(devId, p.clientCred ?? undefined, this.now());
    });
  }

  /** Sends package #0 through the first notifier that reaches the device. */
  async notify(devId: string, opts: { uiMode?: UiMode; sessionId?: number } = {}): Promise<NotifyResult> {
    const dev = await this.store.device(devId);
    const sessionId = opts.sessionId ?? (randomBytes(2).readUInt16BE(0) || 1);
    const cred = this.config.serverCred ?? { name: this.config.serverId, secret: '' };
    const package0 = buildPackage0({ serverId: this.config.serverId, sessionId, uiMode: opts.uiMode ?? 0, initiator: 1, serverCred: cred, ...(dev?.auth.serverNonce ? { serverNonce: dev.auth.serverNonce } : {}) });
    let last: NotifyResult = { ok: false, detail: 'no notifier configured' };
    for (const n of this.notifiers) {
      last = await n.notify({ devId, ...(dev?.notifyUrl ? { notifyUrl: dev.notifyUrl } : {}) }, { devId, serverId: this.config.serverId, sessionId, uiMode: opts.uiMode ?? 0, package0 });
      if (last.ok) break;
    }
    this.emit({ type: 'notified', at: iso(this.now()), device: devId, ok: last.ok, detail: last.detail });
    return last;
  }

  /** The next message of this session answers with Alert 1223 and ends it. */
  abortSession(sessionId: number): boolean {
    const l = this.live.get(sessionId);
    if (!l || l.preAuth || l.state.phase === 'closed') return false;
    // A held answer becomes the abort: statuses and Alert 1223, no command.
    if (this.steps.abort(sessionId, 'abort', 'aborted by the server')) return true;
    this.live.setState(l, this.engine.requestAbort(l.state));
    return true;
  }

  activeSessions(): { id: number; device: string; dmSessionId: string; phase: string; lastActivity: string }[] {
    const dm12 = this.shared ? this.sharedActive : [...this.live.values()].filter((l) => !l.preAuth && l.state.phase !== 'closed').map((l) => ({ id: l.id, device: l.devId, dmSessionId: l.dmSessionId, phase: l.state.phase, lastActivity: iso(l.lastActivity) }));
    return this.dm20 ? [...dm12, ...activeDm20Sessions(this.dm20)] : dm12;
  }

  // --- step control (Sessions view: step a device's session command by command, step-control.ts) ---

  pauseDevice(devId: string): SteppingState {
    if (this.shared) throw new Error(STEPPING_NEEDS_ONE_INSTANCE);
    return this.steps.pause(devId);
  }

  step(devId: string): { released: boolean; state: SteppingState } {
    if (this.shared) throw new Error(STEPPING_NEEDS_ONE_INSTANCE);
    return this.steps.step(devId);
  }

  resume(devId: string): SteppingState {
    return this.steps.resume(devId);
  }

  steppingState(devId: string): SteppingState {
    return this.steps.state(devId);
  }

  /** Logs a held answer as it leaves (once the step control released it) and returns it. */
  private async waitForStep(r: IncomingBody, l: Live, turn: HeldTurn, outSeq: number): Promise<OutgoingResponse> {
    const { out, by, since, commands, note, finish } = await this.steps.hold(l, turn);
    try {
      const at = this.now();
      const events: ServerEvent[] = [];
      try {
        await this.store.tx(async (s) => {
          await this.apply(s, out.effects, l.id, l.devId, at, events);
          await s.addMessage({
            sessionId: l.id, seq: outSeq, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200,
            bytes: out.bytes, note, ...(factsSurviveEncoding(out.response) ? { parsed: out.response } : {}),
          });
          events.push({ type: 'message', at: iso(at), sessionId: l.id, direction: 'out', bytes: out.bytes.length, msgId: out.response.hdr.msgID, httpStatus: 200, note });
          endLast(events);
        });
      } catch (e) {
        if (isStoreUnavailable(e)) return storeUnavailable();
        return this.internalError(r, l, e, at);
      }
      // The device's think time counts from when it got this answer.
      l.lastActivity = at;
      if (out.effects.deviceAuth) l.device = { ...l.device, auth: out.effects.deviceAuth };
      this.emit({ type: 'session-released', at: iso(at), sessionId: l.id, device: l.devId, by, heldMs: at - since, commands });
      for (const e of events) this.emit(e);
      return { status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes };
    } finally {
      finish();
    }
  }

  // --- request handling ----------------------------------------------------------------------

  private emit(e: ServerEvent): void {
    this.bus.emit(e);
  }

  /**
   * `/dm` -> 'base'; `/dm/s/<n>-<token>` -> that session; anything else -> undefined. `<n>` is the
   * session's id in the log, or `u<n>` for a session that began before authenticating (it had no
   * log id yet); the token is what finds it.
   */
  private route(p: string): { kind: 'base' } | { kind: 'session'; no: string; token: string } | undefined {
    const base = this.opts.basePath!;
    if (p === base || p === `${base}/`) return { kind: 'base' };
    // Compiled once: building it per request showed up in profiles.
    this.sessionPath ??= new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/s/(u?\\d+)-([0-9a-f]+)$`);
    const m = this.sessionPath.exec(p);
    return m ? { kind: 'session', no: m[1]!, token: m[2]! } : undefined;
  }

  /** The live session a RespURI names: its token, given out with exactly that URL. */
  private routed(route: ReturnType<DmServer['route']>): Live | undefined {
    if (route?.kind !== 'session') return undefined;
    const l = this.live.withToken(route.token);
    return l && l.state.respUri.endsWith(`/s/${route.no}-${route.token}`) ? l : undefined;
  }

  private respUri(host: string | undefined, no: string, token: string): string {
    // The Host header is the device's own text: echoed only when it looks like an authority.
    const authority = host !== undefined && PLAUSIBLE_HOST.test(host) ? host : new URL(this.config.serverUri).host;
    return `${this.scheme}://${authority}${this.opts.basePath}/s/${no}-${token}`;
  }

  private onTooLarge(r: Omit<IncomingBody, 'bytes'> & { declared: number | undefined; bytes: Uint8Array }): Promise<OutgoingResponse> {
    const limit = this.config.limits.maxBodyBytes;
    const reason = `body of ${r.declared ?? `more than ${limit}`} bytes is over the limit of ${limit} bytes`;
    return this.rejections.reject(r, this.routed(this.route(r.path)), 413, reason, this.now(), { logReason: `${reason}; first ${r.bytes.length} bytes kept` });
  }

  private onBody(r: IncomingBody): Promise<OutgoingResponse> {
    if (!this.shared) return this.onMessage(r);
    return this.shared.handle(r, this.sharedLookup(r), () => this.onMessage(r)) as Promise<OutgoingResponse>;
  }

  /** Which stored session a message names: its RespURI's token, or its DevId and SessionID at the base URL. */
  private sharedLookup(r: IncomingBody): SharedLookup | undefined {
    const route = this.route(r.path);
    if (!route) return undefined;
    const token = route.kind === 'session' ? { token: route.token } : {};
    if (!ACCEPTED_MEDIA_TYPES.has(r.contentType)) return token;
    const decoded = decodeMessage(r.bytes);
    this.decodedAhead.set(r, decoded);
    return decoded.ok ? { ...token, devId: decoded.value.message.hdr.source.locURI, dmSessionId: decoded.value.message.hdr.sessionID } : token;
  }

  /** Several instances: sessions from the database, events through it, the sweep by lease (shared-sessions.ts). */
  private async shareSessions(store: PostgresStore): Promise<void> {
    const warn = (m: string) => process.emitWarning(m);
    const sessions = new SharedSessions({ store, reader: pgStateReader(store.pool), owner: `${os.hostname()}/${process.pid}/${randomHex(4)}`, now: this.now, warn });
    this.shared = new SharedGate(sessions, { live: this.live, adopt: (l) => this.adopt(l), warn });
    // Any instance may rebuild another's session not yet authenticated: their ids must not collide.
    this.desk.idSource = sharedPreAuthId;
    await (this.bus as StoreEventBus).start();
  }

  /** A session rebuilt from the database takes a slot here for its turn (slots count turns in progress on this instance). */
  private adopt(l: Live): { ok: true } | { ok: false; retryAfterSec: number; reason: string } {
    const slot = this.admission.take(l.preAuth ? 'pre-auth' : 'authenticated', l.address ?? 'unknown');
    if (!isSlot(slot)) return { ok: false, retryAfterSec: slot.retryAfterSec, reason: slot.reason };
    l.slot = slot;
    return { ok: true };
  }

  private async onMessage(r: IncomingBody): Promise<OutgoingResponse> {
    // The DM 2.0 endpoint speaks JSON: before the SyncML routing and media-type checks.
    if (this.dm20 && (r.path === `${this.opts.basePath}/v2` || r.path === `${this.opts.basePath}/v2/`)) return handleDm20(this.dm20, r);
    const now = this.now();
    const route = this.route(r.path);
    if (!route) {
      this.emit({ type: 'rejected', at: iso(now), sessionId: null, httpStatus: 404, reason: `POST to ${r.path}` });
      return text(404, `no DM endpoint at ${r.path}; POST to ${this.opts.basePath}\n`);
    }
    const routed = this.routed(route);
    if (!ACCEPTED_MEDIA_TYPES.has(r.contentType)) {
      return this.rejections.reject(r, routed, 415, `unsupported media type "${r.contentType || '(none)'}"; send ${[...ACCEPTED_MEDIA_TYPES].join(', ')}`, now);
    }
    const decoded = (this.shared && this.decodedAhead.get(r)) || decodeMessage(r.bytes);
    if (!decoded.ok) return this.rejections.malformed(r, routed, decoded.error, now);
    const { message, encoding } = decoded.value;
    const hdr = message.hdr;
    // Header values over their limits are named, never echoed (our SyncHdr Status would carry them).
    const over = checkHeaderLimits(message, this.config.limits);
    if (over) return this.rejections.reject(r, routed, 400, describeOverLimit(over), now);
    const devId = hdr.source.locURI;
    const address = sourceAddressKey(r.remote);
    const package1 = isPackage1(message);

    // A session that failed authentication is over, by its RespURI or (from the same address) by DevId and SessionID.
    const failed = route.kind === 'session' ? this.desk.failed.withToken(route.token, now) : this.desk.failed.latest(devId, hdr.sessionID, now);
    if (failed && (route.kind === 'session' || failed.address === address)) return this.refuseFailed(r, failed, now);

    // Which session: the RespURI we gave, else (device, SessionID), else a new one for package 1.
    let live: Live | undefined = routed;
    if (live && live.devId !== devId) {
      return this.rejections.syncmlError(r, hdr, encoding, undefined, 401, `message for session ${live.id} claims to come from "${devId}", not "${live.devId}"`, now);
    }
    if (!live && route.kind === 'base') {
      const same = this.live.latest(devId, hdr.sessionID);
      // A session not yet authenticated is found this way only from its own address (anyone can name a DevId).
      if (same && !(same.state.phase === 'closed' && package1) && !(same.preAuth && same.address !== address)) live = same;
    }
    // A client that sends again while its answer is held stopped waiting for it (timeout, restart).
    const stale = live !== undefined && this.steps.abort(live.id, 'superseded', 'the device sent another message while the answer to its previous one was held');
    if (stale) {
      if (package1 && route.kind === 'base') live = undefined;
    }
    if (live && live.state.phase === 'mgmt' && package1 && route.kind === 'base') {
      await this.endLive(live, 'aborted', 'the device started the session over');
      live = undefined;
    }
    if (!live && !package1) {
      const why = route.kind === 'session' ? `session ${route.no} is unknown or has expired` : `no open session ${hdr.sessionID} for "${devId}" and the message is not a package 1`;
      return this.rejections.syncmlError(r, hdr, encoding, undefined, 408, why, now);
    }
    if (this.config.clientAuth === 'none' || (live && !live.preAuth)) return this.exchange(r, live, message, encoding, now);
    const limit = this.config.limits.maxPreAuthMessageBytes;
    if (r.bytes.length > limit) {
      return this.rejections.reject(r, live, 413, `a message before authentication may be at most ${limit} bytes (maxPreAuthMessageBytes); this one is ${r.bytes.length}`, now, { devId });
    }
    return this.exchangePreAuth(r, live, message, encoding, now);
  }

  /**
   * The heart of a request: one transaction from the logged request to the logged response,
   * answered once it committed. For a session already in the store, a new one (client auth
   * 'none': its slot is taken here, before any await), or one entering the store because it just
   * authenticated (`entry`, from exchangePreAuth: its messages so far are written first, and its
   * turn runs again, now with the device's queued jobs).
   */
  private async exchange(r: IncomingBody, live: Live | undefined, message: SyncML, encoding: Encoding, now: number, entry?: StoreEntry): Promise<OutgoingResponse> {
    const hdr = message.hdr;
    const devId = hdr.source.locURI;
    if (!live && !entry) {
      const slot = this.admission.take('authenticated', sourceAddressKey(r.remote));
      if (!isSlot(slot)) return this.busy(r, slot, now, devId);
      entry = { slot, token: randomHex(8) };
    }
    const events: ServerEvent[] = [];
    const pending = entry?.from?.preAuth?.messages ?? [];
    // Numbered now, not after the await: anything else logged into this session meanwhile comes after.
    const inSeq = live ? ++live.logged : pending.length + 1;
    const outSeq = live ? ++live.logged : pending.length + 2;
    let result: { state: EngineSession; bytes: Uint8Array; headers: Record<string, string>; sessionId: number; token: string; held?: HeldTurn; device: DeviceView; seenAt: number | undefined; closed?: string };
    try {
      result = await this.store.tx(async (s) => {
        let sessionId = live?.id;
        const token = live?.token ?? entry!.token;
        // The device's row is read once per session; later messages use what the session knows
        // (its auth state is kept up to date below) and refresh last_seen at most once a second.
        let view: DeviceView;
        let seenAt: number | undefined;
        let seen: ServerEvent;
        if (live) {
          view = live.device;
          if (now - live.seenWritten >= SEEN_RESOLUTION_MS) seenAt = now;
          seen = { type: 'device-seen', at: iso(now), device: devId, firstTime: false };
        } else {
          const startedAt = entry!.from?.preAuth?.startedAt ?? now;
          sessionId = await s.createSession({ device: devId, dmSessionId: hdr.sessionID, encoding, authType: this.config.clientAuth }, startedAt);
          events.push({ type: 'session-started', at: iso(startedAt), sessionId, device: devId, dmSessionId: hdr.sessionID, encoding });
          const { device, created } = await s.touchDevice(devId, now);
          seen = { type: 'device-seen', at: iso(now), device: devId, firstTime: created };
          const cred = device.clientCred ?? this.config.defaultClientCred;
          // A session that authenticated before entering the store keeps what it was given (its nonce).
          view = entry!.view ?? deviceViewOf(devId, device.auth, cred);
          if (pending.length > 0) {
            await s.addMessages(pending.map((m) => ({ ...m, sessionId: sessionId! })));
            for (const m of pending) events.push({ type: 'message', at: iso(m.at), sessionId, direction: m.direction, bytes: m.bytes.length, msgId: m.msgId ?? null, httpStatus: m.httpStatus ?? null });
          }
        }
        const size = r.bytes.length;
        events.push({ type: 'message', at: iso(r.receivedAt), sessionId: sessionId!, direction: 'in', bytes: size, msgId: hdr.msgID, httpStatus: null }, seen);
        const state = live?.state ?? (entry!.state ? withId(entry!.state, sessionId!) : (this.sessionHook?.engineFor(devId) ?? this.engine).open({ id: sessionId!, message, encoding, respUri: this.respUri(r.host, String(sessionId), token), device: view }));
        const queued = await s.queuedJobSpecs(devId);
        const input: EngineInput = { message, encoding, bytes: r.bytes, now, device: view, queuedJobs: queued, transport: this.transport(r), admitted: entry?.admitted };
        const scripted = this.sessionHook?.turn(devId, state, input);
        const turn = scripted ? { output: scripted } : this.steps.turnFor(devId, state, input);
        if (entry?.state && !('held' in turn ? turn.held.session : turn.output.session).authenticated) {
          throw new Error('a session that authenticated without its jobs did not with them');
        }
        // What the device said is logged with what the engine noted about it, and with the answer
        // in the same INSERT when there is one (the group's savepoint still undoes it all if
        // anything here throws).
        const fx = 'held' in turn ? turn.held.effects : turn.output.effects;
        // Shared store: the jobs the engine took into the session are claimed in this transaction (once, by one session, however many instances).
        if (this.claimsJobs) await claimTakenJobs(s, devId, sessionId!, now, queued, state, 'held' in turn ? turn.held.session : turn.output.session);
        const sizeNote = size > this.config.limits.maxMsgSize ? `message of ${size} bytes exceeds our MaxMsgSize ${this.config.limits.maxMsgSize}` : undefined;
        const notes = sizeNote ? [sizeNote, ...fx.notes] : fx.notes;
        // `parsed`: the message index reads the message decoded above instead of decoding it again.
        const logIn: NewMessage & { seq: number } = { sessionId: sessionId!, seq: inSeq, direction: 'in', at: r.receivedAt, msgId: hdr.msgID, contentType: r.contentType, bytes: r.bytes, note: notes.length > 0 ? notes.join('\n') : null, parsed: message };
        await this.apply(s, fx, sessionId!, devId, now, events, seenAt);
        const device: DeviceView = fx.deviceAuth ? { ...view, auth: fx.deviceAuth } : view;
        if ('held' in turn) {
          // Step control: what the device said is stored now; the answer is built and logged when released.
          await s.addMessages([logIn]);
          return { state: turn.held.session, bytes: new Uint8Array(), headers: {}, sessionId: sessionId!, token, held: turn.held, device, seenAt };
        }
        const out = turn.output;
        const at = this.now();
        const logOut: NewMessage & { seq: number } = {
          sessionId: sessionId!, seq: outSeq, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200, bytes: out.bytes,
        };
        if (factsSurviveEncoding(out.response)) logOut.parsed = out.response;
        await s.addMessages([logIn, logOut]);
        events.push({ type: 'message', at: iso(at), sessionId: sessionId!, direction: 'out', bytes: out.bytes.length, msgId: out.response.hdr.msgID, httpStatus: 200 });
        // The session ends after its last message went out.
        endLast(events);
        if (this.shared) {
          // The session's new state (with this answer, for a resend) and its events, in this same transaction.
          const address = live?.address ?? entry?.from?.address ?? entry?.slot.address;
          const next: Live = {
            id: sessionId!, token, devId, dmSessionId: live?.dmSessionId ?? hdr.sessionID, state: out.session, lastActivity: now, logged: outSeq, device,
            seenWritten: seenAt ?? live?.seenWritten ?? now, ...(address !== undefined ? { address } : {}),
          };
          await this.shared.commitTurn(s, r, next, { request: r.bytes, status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes, inSeq, outSeq });
          await (this.bus as StoreEventBus).publishIn(s, events);
        }
        const done: typeof result = { state: out.session, bytes: out.bytes, headers: out.headers, sessionId: sessionId!, token, device, seenAt };
        if (out.effects.closed) done.closed = out.effects.closed.reason;
        return done;
      });
    } catch (e) {
      // The slot goes back with the session that held it.
      if (entry?.from) this.live.delete(entry.from.id);
      else if (entry) this.admission.release(entry.slot);
      // Shared store: the turn's sessions go back to the database as claimed; a lease lost meanwhile
      // means another instance has the session now (the gate answers 503, the device sends again).
      this.shared?.rolledBack(r);
      if (e instanceof LeaseLostError) throw e;
      if (isStoreUnavailable(e) || e instanceof JobsTakenError) {
        // Nothing of the turn was written (its transaction rolled back): the device sends the message
        // again, and the numbers taken for it are free again.
        if (live && live.logged === outSeq) live.logged -= 2;
        return storeUnavailable(e instanceof JobsTakenError ? 1 : undefined);
      }
      return this.internalError(r, live, e, now);
    }
    let l: Live;
    if (live) l = live;
    else if (entry!.from) {
      l = entry!.from;
      this.live.rekey(l, result.sessionId);
      delete l.preAuth;
      l.logged = outSeq;
      l.seenWritten = now;
    } else {
      l = { id: result.sessionId, token: result.token, devId, dmSessionId: hdr.sessionID, state: result.state, lastActivity: now, logged: outSeq, device: result.device, seenWritten: now, address: entry!.slot.address, slot: entry!.slot };
    }
    l.state = result.state;
    l.lastActivity = now;
    l.device = result.device;
    if (result.seenAt !== undefined) l.seenWritten = result.seenAt;
    this.live.set(l);
    if (entry && this.config.clientAuth !== 'none') this.desk.succeeded(devId, now);
    if (result.state.phase === 'closed' && result.state.closedCode !== undefined) {
      this.desk.sessionFailed({ devId, dmSessionId: l.dmSessionId, token: l.token, address: l.address ?? sourceAddressKey(r.remote), sessionId: l.id, reason: result.closed ?? 'authentication failed' }, now);
    }
    // Shared store: published inside the turn's transaction, delivered to this bus by the store.
    if (!this.shared) for (const e of events) this.emit(e);
    if (result.held) return this.waitForStep(r, l, result.held, outSeq);
    return { status: 200, headers: withContentType(r.contentType, result.headers), body: result.bytes };
  }

  /**
   * A message of a session that has not authenticated (client auth is on). Its credentials are
   * checked only when the throttles allow (pre-auth.ts). The engine runs without the store and
   * without jobs. If the device authenticates, the session takes a slot among the authenticated
   * ones and enters the store through exchange(); if not, nothing is stored: the session stays in
   * memory with its messages (bounded: the engine ends it after maxAuthAttemptsPerSession refusals,
   * each message at most maxPreAuthMessageBytes) or it is over, and the refusal is counted.
   */
  private async exchangePreAuth(r: IncomingBody, live: Live | undefined, message: SyncML, encoding: Encoding, now: number): Promise<OutgoingResponse> {
    const hdr = message.hdr;
    const devId = hdr.source.locURI;
    const address = sourceAddressKey(r.remote);
    const known = live?.device ?? await this.deviceView(devId);
    const credential = known.clientCred?.name ?? NO_CREDENTIAL;
    const gate = this.desk.gate({ address, credential, devId, now });
    if (!gate.check) {
      return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(gate.retryAfterSec) }, body: `${gate.reason}: refused without checking; try again in ${gate.retryAfterSec} s\n` };
    }
    const view = this.desk.checkedView(known, gate.lockBinds, now);
    const id = live?.id ?? this.desk.newSessionId();
    const token = live?.token ?? randomHex(8);
    const engine = this.sessionHook?.engineFor(devId) ?? this.engine;
    const state = live?.state ?? engine.open({ id, message, encoding, respUri: this.respUri(r.host, `u${-id}`, token), device: view });
    // Only the authentication phase runs here: a device that authenticates has its whole turn run
    // once, in exchange(), with its queued jobs and this admission (building and encoding an answer
    // without them here cost a third of the first message's work, and was thrown away).
    let verdict: AdmitOutcome;
    try {
      verdict = engine.admit(state, { message, encoding, bytes: r.bytes, now, device: view, queuedJobs: [], transport: this.transport(r) });
    } catch (e) {
      // A bug, not the device's doing: logged like any internal error, and the session goes.
      if (live) this.live.delete(live.id);
      return this.internalError(r, undefined, e, now);
    }

    if ('admitted' in verdict) {
      const { admitted } = verdict;
      // In: a slot among the authenticated sessions, taken before any await.
      if (live) {
        const no = this.admission.promote(live.slot!);
        if (no) {
          this.live.delete(live.id);
          return this.busy(r, no, now, devId);
        }
        return this.exchange(r, undefined, message, encoding, now, { slot: live.slot!, token, state, view, admitted, from: live });
      }
      const slot = this.admission.take('authenticated', address);
      if (!isSlot(slot)) return this.busy(r, slot, now, devId);
      return this.exchange(r, undefined, message, encoding, now, { slot, token, state, view, admitted });
    }

    const out = this.withinMaxMsgSize(verdict.refused);
    const refusal = this.desk.refused({ address, credential, checked: view, lockBinds: gate.lockBinds, fx: out.effects, session: out.session, now });
    if (refusal) this.emit({ type: 'rejected', at: iso(now), sessionId: null, httpStatus: 200, reason: `${shownDevId(devId)} from ${address}: ${refusal.reason}` });
    const reply: OutgoingResponse = { status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes };
    if (out.session.phase === 'closed') {
      this.desk.sessionFailed({ devId, dmSessionId: hdr.sessionID, token, address, sessionId: null, reason: out.effects.closed?.reason ?? 'authentication failed' }, now);
      if (live) this.live.delete(live.id);
      return reply;
    }
    let l = live;
    if (!l) {
      const slot = this.preAuthSlot(address);
      if (!isSlot(slot)) return this.busy(r, slot, now, devId);
      l = { id, token, devId, dmSessionId: hdr.sessionID, state: out.session, lastActivity: now, logged: 0, device: known, seenWritten: now, address, slot, preAuth: { startedAt: r.receivedAt, messages: [] } };
    }
    // Its own nonce (the one its challenge carried) stays with the session; failures and lockout are the desk's.
    l.device = { ...known, auth: out.effects.deviceAuth ?? view.auth };
    l.state = out.session;
    l.lastActivity = now;
    this.keepPending(l, r, hdr.msgID, out);
    this.live.set(l);
    return reply;
  }

  /**
   * A refusal whose statuses do not fit the device's MaxMsgSize (a message of thousands of commands
   * before authenticating) goes with the SyncHdr's Status alone: the device must send its package
   * again once it authenticated anyway, and our answer must not grow with what it sent.
   */
  private withinMaxMsgSize(out: EngineOutput): EngineOutput {
    const limit = out.session.clientMaxMsgSize ?? this.config.limits.assumedClientMaxMsgSize;
    const [hdrStatus, ...rest] = out.response.body.commands;
    if (out.bytes.length <= limit || !hdrStatus || rest.length === 0) return out;
    const response: SyncML = { hdr: out.response.hdr, body: { commands: [hdrStatus], final: out.response.body.final } };
    const bytes = encodeMessage(response, out.session.encoding);
    if (!bytes.ok) return out;
    const headers = { ...out.headers };
    const cred = this.config.serverCred;
    if (cred && headers['x-syncml-hmac'] !== undefined) headers['x-syncml-hmac'] = serverHmacHeader(cred, out.session.serverAuth.nonce, bytes.value);
    const note = `the statuses of ${rest.length} refused commands (${out.bytes.length} bytes) do not fit the device's MaxMsgSize ${limit}: only the SyncHdr's went`;
    return { ...out, response, bytes: bytes.value, headers, effects: { ...out.effects, notes: [...out.effects.notes, note] } };
  }

  /**
   * A slot among the unauthenticated sessions. When the whole pool is full (not just this
   * address's share), the session idle longest gives way: a flood's sessions are older than a real
   * device's, which answers its challenge within a round trip, so a flood cannot keep devices out
   * by filling the pool, only by refilling all of it within one such round trip.
   */
  private preAuthSlot(address: string): Slot | NoSlot {
    const slot = this.admission.take('pre-auth', address);
    if (isSlot(slot) || slot.limit !== 'pre-auth') return slot;
    const oldest = this.live.leastActivePreAuth();
    if (!oldest) return slot;
    this.live.delete(oldest.id);
    return this.admission.take('pre-auth', address);
  }

  /** A refused exchange stays with its session until it authenticates (then it is written) or ends (then it is dropped). */
  private keepPending(l: Live, r: IncomingBody, msgId: string, out: EngineOutput): void {
    const notes = out.effects.notes;
    const at = this.now();
    l.preAuth!.messages.push(
      { seq: ++l.logged, direction: 'in', at: r.receivedAt, msgId, contentType: r.contentType, bytes: r.bytes, note: notes.length > 0 ? notes.join('\n') : null },
      { seq: ++l.logged, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200, bytes: out.bytes },
    );
  }

  /** The device as an unauthenticated message sees it: its row read, never written, and the credential it must present. */
  private async deviceView(devId: string): Promise<DeviceView> {
    const row = await this.store.device(devId);
    return deviceViewOf(devId, row?.auth ?? { authFailures: [] }, row?.clientCred ?? this.config.defaultClientCred);
  }

  private transport(r: IncomingBody): EngineInput['transport'] {
    const t: EngineInput['transport'] = { tls: r.tls };
    if (r.clientCert) t.clientCert = r.clientCert;
    const hmac = r.headers['x-syncml-hmac'];
    if (typeof hmac === 'string') t.hmac = hmac;
    return t;
  }

  /** No slot: HTTP 503 + Retry-After, counted, nothing stored (shedding load must cost nothing). */
  private busy(r: IncomingBody, no: NoSlot, now: number, devId: string): OutgoingResponse {
    this.desk.note('busy', { address: sourceAddressKey(r.remote), devId, reason: no.reason, now });
    return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(no.retryAfterSec) }, body: `${no.reason}\n` };
  }

  /** A message for a session that failed authentication: HTTP 403, logged the first time, counted after. */
  private refuseFailed(r: IncomingBody, f: FailedSession, now: number): OutgoingResponse {
    const reason = `the session ended because authentication failed (${f.reason}); its later messages are refused`;
    if (this.desk.followUp(f, sourceAddressKey(r.remote), now)) {
      if (f.sessionId !== null) void this.rejections.log(f.sessionId, r.bytes, r.contentType, now, 403, `${reason}: this one is logged, the next ones only counted`);
      this.emit({ type: 'rejected', at: iso(now), sessionId: f.sessionId, httpStatus: 403, reason });
    }
    return text(403, `${reason}\n`);
  }

  /** Refusals before authentication, what is throttled now, and the session pools (API and UI). */
  authFailures(): AuthFailuresView {
    const now = this.now();
    const l = this.config.limits;
    const c = this.admission.counts();
    return {
      recent: this.desk.ring.recent(),
      counts: this.desk.ring.counts(),
      throttled: this.desk.throttle.snapshot(now),
      sessions: { authenticated: c.authenticated, maxSessions: l.maxSessions, preAuth: c.preAuth, maxPreAuthSessions: l.maxPreAuthSessions, maxPreAuthSessionsPerAddress: l.maxPreAuthSessionsPerAddress },
    };
  }

  /** Writes what the engine decided. Runs inside the request's transaction (`s`). */
  private apply(s: DmStoreOps, fx: EngineEffects, sessionId: number, devId: string, now: number, events: ServerEvent[], seenAt?: number): Promise<void> {
    return applyEffects(s, fx, { sessionId, devId, now, maxJobAttempts: this.config.limits.maxJobAttempts, jobsClaimed: this.claimsJobs, ...(seenAt !== undefined ? { seenAt } : {}) }, events);
  }

  private async endLive(l: Live, state: SessionState, reason: string): Promise<void> {
    if (l.preAuth) {
      // Nothing of it is stored: it just goes (with its slot).
      this.live.delete(l.id);
      return;
    }
    const now = this.now();
    const { session, effects } = this.engine.close(l.state, state, reason);
    // Closed before the await: a message or a sweep meanwhile finds it over, and does not end it twice.
    this.live.setState(l, session);
    const events: ServerEvent[] = [];
    try {
      await this.store.tx((s) => this.apply(s, effects, l.id, l.devId, now, events));
    } catch (e) {
      process.emitWarning(`could not record the end of session ${l.id}: ${(e as Error).message}`);
      return;
    }
    for (const e of events) this.emit(e);
  }

  private sweep(): void {
    if (this.dm20) void sweepDm20(this.dm20);
    const now = this.now();
    if (this.shared) this.sweepShared(now);
    const { sessionTimeoutMs: timeout, preAuthTimeoutMs } = this.config.limits;
    for (const l of [...this.live.values()]) {
      if (this.steps.isHolding(l.id)) continue; // waiting for us, not for the device
      const idle = now - l.lastActivity;
      if (l.preAuth) {
        if (idle > preAuthTimeoutMs) this.live.delete(l.id);
      } else if (l.state.phase === 'closed') {
        if (idle > timeout) this.live.delete(l.id);
      } else if (idle > timeout) {
        void this.endLive(l, 'timeout', `no message for ${Math.round(idle / 1000)} s`);
      }
    }
    this.desk.prune(now);
  }

  /**
   * Shared store: sessions idle past the timeout whose lease ran out, whichever instance had them,
   * end as timed out (their jobs released by the hardening rules; one instance ends each, by claim).
   * This replaces recoverInterrupted() at start, which would interrupt other instances' sessions.
   * Sessions not yet authenticated and ended ones just go. Old events are pruned once a minute.
   */
  private sweepShared(now: number): void {
    if (this.sharedSweeping || !this.shared) return;
    this.sharedSweeping = true;
    const sessions = this.shared.sessions;
    const bus = this.bus as StoreEventBus;
    const work = async () => {
      await sessions.sweep({ sessionMs: this.config.limits.sessionTimeoutMs, preAuthMs: this.config.limits.preAuthTimeoutMs }, async (s, l, idleMs) => {
        if (l.preAuth || l.id <= 0 || l.state.phase === 'closed') return;
        const { effects } = this.engine.close(l.state, 'timeout', `no message for ${Math.round(idleMs / 1000)} s`);
        const events: ServerEvent[] = [];
        await this.apply(s, effects, l.id, l.devId, this.now(), events);
        await bus.publishIn(s, events);
      });
      this.sharedActive = await sessions.active();
      if (now - this.eventsPrunedAt > 60_000) {
        this.eventsPrunedAt = now;
        await (this.store as unknown as PostgresStore).pruneEvents(now - 3_600_000);
      }
    };
    void work()
      .catch((e: unknown) => {
        if (!isStoreUnavailable(e)) process.emitWarning(`sweep of shared sessions failed: ${(e as Error).message}`);
      })
      .finally(() => (this.sharedSweeping = false));
  }

  // --- bad input -----------------------------------------------------------------------------

  /** The next message number of a live session (undefined: the store counts). */
  private takeSeq(sessionId: number): number | undefined {
    const l = this.live.get(sessionId);
    return l ? ++l.logged : undefined;
  }

  private async internalError(r: IncomingBody, live: Live | undefined, e: unknown, now: number): Promise<OutgoingResponse> {
    const why = e instanceof Error ? e.message : String(e);
    process.emitWarning(`session engine failed: ${e instanceof Error ? e.stack ?? why : why}`);
    const at = iso(now);
    // Gone from memory before the await: the session's next message finds it ended.
    if (live) this.live.delete(live.id);
    try {
      const seq = live ? ++live.logged : undefined;
      const released = await this.store.tx(async (s) => {
        const id = live?.id ?? await s.createSession({ device: null, dmSessionId: null, encoding: sniffEncoding(r.bytes) ?? null, state: 'failed', reason: `internal error: ${why}` }, now);
        await s.addMessage({ sessionId: id, seq, direction: 'in', at: r.receivedAt, bytes: r.bytes, contentType: r.contentType, httpStatus: 500, error: `internal error: ${why}` });
        if (!live) return [];
        await s.endSession(id, 'failed', `internal error: ${why}`, now);
        // What went out in this session may have been applied: its jobs follow their onUnconfirmed policy.
        return s.releaseSessionJobs(id, `internal error: ${why}`, now, this.config.limits.maxJobAttempts);
      });
      for (const job of released) {
        if (job.status === 'unconfirmed') this.emit({ type: 'job-unconfirmed', at, job });
        else if (job.status === 'failed') this.emit({ type: 'job-done', at, job });
      }
    } catch (err) {
      // The store itself failed: nothing was logged, and the device may try again.
      if (isStoreUnavailable(err)) return storeUnavailable();
    }
    return text(500, 'internal error; the message was logged\n');
  }
}

/**
 * A time as the events carry it. A request's events mostly share one or two instants (the request's
 * arrival, now), and requests arriving together share them too: the last two texts are kept.
 */
function iso(ms: number): string {
  if (ms === isoLast.ms) return isoLast.text;
  if (ms === isoPrev.ms) return isoPrev.text;
  isoPrev = isoLast;
  isoLast = { ms, text: new Date(ms).toISOString() };
  return isoLast.text;
}

let isoLast = { ms: Number.NaN, text: '' };
let isoPrev = { ms: Number.NaN, text: '' };

/** Events in the order subscribers get them: the session's end after everything else of the request. */
function endLast(events: ServerEvent[]): void {
  let ends = false;
  for (const e of events) if (e.type === 'session-ended') ends = true;
  if (ends) events.sort((a, b) => Number(a.type === 'session-ended') - Number(b.type === 'session-ended'));
}

function deviceViewOf(devId: string, auth: DeviceView['auth'], cred: Credential | undefined): DeviceView {
  const v: DeviceView = { devId, auth };
  if (cred) v.clientCred = cred;
  return v;
}

/** The session as it authenticated before entering the store, under its store id. */
function withId(state: EngineSession, id: number): EngineSession {
  return { ...state, id };
}

/** Our answer's headers: its media type, then the engine's (x-syncml-hmac, Retry-After). */
function withContentType(contentType: string, headers: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { 'content-type': contentType };
  for (const k in headers) h[k] = headers[k]!;
  return h;
}

function defaultHosts(host: string): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', os.hostname()]);
  if (host !== '0.0.0.0' && host !== '::') hosts.add(host);
  return [...hosts];
}
