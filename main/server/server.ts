/**
 * DmServer: the HTTP(S) listener, the session engine and the store put together; its lifecycle
 * (start, sweeps, close) and the management API (jobs, devices, notifications, step control).
 *
 * The request path, in the order a message takes it: dm-endpoint.ts (route, decode, find or open
 * the session), pre-auth-exchange.ts (a session not yet authenticated), store-exchange.ts (the
 * turn in the store). Per request: read the body (bounded) -> decode -> find or open the session
 * -> in ONE write transaction: read the device's queued jobs, run the engine, log the message with
 * the engine's notes, apply its effects, log the response -> answer. Nothing goes on the wire that
 * is not committed (and fsynced) first, so a kill -9 at any moment loses no job or message that
 * anyone was told about. The transactions of requests that arrive together share one COMMIT and
 * one fsync (ServerStore.group), which is what lets a busy server keep that promise without
 * waiting for the disk per round trip. Jobs written by another process (`dmw job add`) are read
 * from the store at every message; the device's row is read at a session's first message and kept
 * with the session.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { randomBase64, randomHex } from '../protocol/random-pool.js';
import type { StoreOptions } from '../store/server-store.js';
import { openStore } from '../store/open.js';
import type { DmStore } from '../store/store.js';
import { LabCa } from './ca.js';
import { engineConfig, type ClientAuthMode, type Credential, type EngineConfig, type ServerAuthMode, type ServerLimits } from './config.js';
import { SessionEngine, type NonceSource } from './engine.js';
import { LiveSessions, type Live } from './live-sessions.js';
import { Admission, isSlot } from './admission.js';
import { PreAuthDesk } from './pre-auth.js';
import type { RefusalEntry, RefusalKind } from './failure-ring.js';
import { EventBus, type ServerEvent } from './events.js';
import { StepControl, type SteppingState } from './step-control.js';
import { listen, type ClientCertMode, type Listener } from './http.js';
import { parseJobSpec } from './jobs.js';
import type { SessionHook } from './scripted.js';
import { buildPackage0, HttpNotifier, type Notifier, type NotifyResult, type UiMode } from './notifier.js';
import type { JobRecord, JobSpec } from './types.js';
import { isStoreUnavailable } from './unavailable.js';
import { pgStateReader, SharedGate, sharedPreAuthId, SharedSessions, STEPPING_NEEDS_ONE_INSTANCE } from './shared-sessions.js';
import { StoreEventBus } from './store-events.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import { activeDm20Sessions, closeDm20, createDm20Context, sweepDm20, type Dm20Context, type Dm20Limits } from './dm20/index.js';
import { DmEndpoint } from './dm-endpoint.js';
import { iso } from '../util/iso-time.js';

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

const randomNonces: NonceSource = { nonce: () => randomBase64(16) };

export type { SteppingState } from './step-control.js';

export class DmServer {
  /** On a shared store, a StoreEventBus: every instance's events (store-events.ts). */
  readonly bus: EventBus;
  readonly config: EngineConfig;
  readonly engine: SessionEngine;
  ca?: LabCa;
  private listener?: Listener;
  /** The request path (dm-endpoint.ts): what start() decides is set on it before it listens. */
  private readonly endpoint: DmEndpoint;
  private readonly admission: Admission;
  private readonly live: LiveSessions;
  /** Everything about devices that have not authenticated: throttles, recent refusals, failed sessions. */
  private readonly desk: PreAuthDesk;
  private sweeper?: NodeJS.Timeout;
  private sharedSweeping = false;
  private eventsPrunedAt = 0;
  /** The sessions open on any instance, as of the last sweep (activeSessions() is synchronous). */
  private sharedActive: ReturnType<SharedSessions['active']> extends Promise<infer T> ? T : never = [];
  private readonly now: () => number;
  private readonly notifiers: Notifier[];
  /** Held answers of paused devices (the Sessions view's Step and Resume). */
  private readonly steps: StepControl;
  /** Requests the DM endpoint does not own (the management API, api/index.ts): true = taken. */
  httpHook?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;

  private constructor(
    readonly store: DmStore,
    opts: DmServerOptions,
    config: EngineConfig,
  ) {
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.bus = store.kind === 'postgres' ? new StoreEventBus(store) : new EventBus();
    this.engine = new SessionEngine(config, opts.nonces ?? randomNonces);
    this.notifiers = opts.notifiers ?? [new HttpNotifier()];
    this.admission = new Admission(config.limits, { authenticated: 30, preAuth: Math.max(1, Math.ceil(config.limits.preAuthTimeoutMs / 3000)) });
    this.live = new LiveSessions(this.admission);
    this.steps = new StepControl({ engine: this.engine, now: this.now, maxHoldMs: config.limits.maxHoldMs, setState: (l, st) => this.live.setState(l, st), emit: (e) => this.emit(e) });
    this.desk = new PreAuthDesk(config.limits);
    this.endpoint = new DmEndpoint({ store, config, engine: this.engine, bus: this.bus, now: this.now, basePath: opts.basePath!, live: this.live, admission: this.admission, desk: this.desk, steps: this.steps });
  }

  /** Scripted sessions of a device under test (scripted.ts, the conformance runner): its own engine and turns. */
  get sessionHook(): SessionHook | undefined {
    return this.endpoint.sessionHook;
  }

  set sessionHook(hook: SessionHook | undefined) {
    this.endpoint.sessionHook = hook;
  }

  /**
   * Several instances on one PostgreSQL store (shared-sessions.ts): a session lives in the database
   * between its messages and any instance takes the next one. What stays per instance: the admission
   * slots (maxSessions counts turns in progress here), the pre-auth throttles and lockout buckets,
   * the failure ring, DM 2.0 sessions, and stepping (refused: STEPPING_NEEDS_ONE_INSTANCE).
   */
  private get shared(): SharedGate | undefined {
    return this.endpoint.shared;
  }

  /** The DM 2.0 binding at `<basePath>/v2`, when served. */
  private get dm20(): Dm20Context | undefined {
    return this.endpoint.dm20;
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
      server.endpoint.dm20 = createDm20Context({
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
        server.endpoint.scheme = 'https';
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
      const endpoint = server.endpoint;
      server.listener = await listen({ port: opts.port ?? 0, host, maxBodyBytes: config.limits.maxBodyBytes, maxBodyBytesInFlight: config.limits.maxBodyBytesInFlight, maxConnections: config.limits.maxConnections, headersTimeoutMs: config.limits.headersTimeoutMs, requestTimeoutMs: config.limits.requestTimeoutMs, now: server.now, ...(tls ? { tls } : {}) }, {
        onBody: (r) => endpoint.onBody(r),
        onTooLarge: (r) => endpoint.onTooLarge(r),
        onRequest: (req, res) => server.httpHook?.(req, res) ?? false,
        onOther: (r) => (r.method === 'GET' && (r.url === '/' || r.url === basePath) ? { status: 200, headers: { 'content-type': 'text/plain' }, body: 'DM Workbench server: POST SyncML DM messages here\n' } : undefined),
      });
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      (config as { serverUri: string }).serverUri = opts.publicUrl ?? `${endpoint.scheme}://${shownHost}:${server.listener.port}${basePath}`;
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
    if (!this.shared) for (const l of [...this.live.values()]) if (l.state.phase !== 'closed') await this.endpoint.endLive(l, 'interrupted', 'server shut down');
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

  // --- lifecycle ----------------------------------------------------------------------------

  private emit(e: ServerEvent): void {
    this.bus.emit(e);
  }

  /** Several instances: sessions from the database, events through it, the sweep by lease (shared-sessions.ts). */
  private async shareSessions(store: PostgresStore): Promise<void> {
    const warn = (m: string) => process.emitWarning(m);
    const sessions = new SharedSessions({ store, reader: pgStateReader(store.pool), owner: `${os.hostname()}/${process.pid}/${randomHex(4)}`, now: this.now, warn });
    this.endpoint.shared = new SharedGate(sessions, { live: this.live, adopt: (l) => this.adopt(l), warn });
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
        void this.endpoint.endLive(l, 'timeout', `no message for ${Math.round(idle / 1000)} s`);
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
        await this.endpoint.apply(s, effects, l.id, l.devId, this.now(), events);
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

}

function defaultHosts(host: string): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', os.hostname()]);
  if (host !== '0.0.0.0' && host !== '::') hosts.add(host);
  return [...hosts];
}
