/**
 * The UI backend: the contract's handlers over the real DM server and its store. Plain Node, no
 * Electron: it runs in Electron's utilityProcess for the desktop app and in a plain Node process for
 * `npm run serve`. One instance owns one data folder.
 *
 * Besides what the server does itself it keeps three things of its own:
 *  - server settings (`<dataDir>/workbench.json`), edited in the Server view;
 *  - per-device job holds: while a device's queue is paused and the device is not in a session, jobs
 *    from the UI wait here and `step` hands them to the server one at a time (jobs queued by other
 *    processes, e.g. `dmw job add`, go straight to the server's queue). The pause is also set on the
 *    server's step control, so inside an open session each answer that would carry a command is held
 *    and `step` releases it with one command, in that same session (DmServer.pauseDevice/step/resume);
 *  - tree snapshots taken when a session ends, so the Tree view can diff against the previous one
 *    (`<dataDir>/workbench-snapshots/`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DmServer } from '../server/server.js';
import { LabCa } from '../server/ca.js';
import type { ServerEvent } from '../server/events.js';
import { parseJobSpec } from '../server/jobs.js';
import type { JobRecord, JobSpec, MessageRecord, StoredDevice, TreeEntry } from '../store/types.js';
import { openStore } from '../store/open.js';
import type { DmStore } from '../store/store.js';
import { aclMatrix } from './acl-view.js';
import { BootstrapService, checkProfile, listStoredProfiles, loadStoredProfile, saveStoredProfile, type OpenMonitor } from './bootstrap-view.js';
import { SerialService, type OpenLink } from './serial-view.js';
import type { EventName } from './channels.js';
import {
  ServerSettingsSchema, type DeviceSummary, type EventPayload, type Handlers, type HandsetsStatus, type JobSpecInput, type QueueState,
  type MessageSummary, type ServerSettings, type ServerStatus, type TreeDiff,
} from './contract.js';
import { loadHandsetModule, type HandsetFleet, type HandsetLoad } from './handsets.js';
import { DecodeCache, messageDetail, summarizeSession } from './session-view.js';
import { LAZY_SESSION_MESSAGES, messageCount, sessionEnvelope, summaryWindow } from './session-pages.js';
import { explainRule, FindingsCache } from './findings-view.js';
import { deletedUris, writtenEntries } from './tree-writes.js';
import { certificateDevIdProblem } from './form-rules.js';
import { packetFields, PacketFindings, searchSessions } from './packets-view.js';
import { MAX_SEARCH_SESSIONS } from './contract-packets.js';
import { ConformanceService, conformanceHandlers, type ConformanceRunner } from './conformance-view.js';
import { defaultConformanceRunner } from './conformance-runner.js';
import { traceHandlers } from './traces-view.js';

export const DEFAULT_SETTINGS: Readonly<ServerSettings> = Object.freeze({
  port: 8080,
  host: '127.0.0.1',
  tls: false,
  clientCerts: 'optional',
  serverId: 'dmw',
  clientAuth: 'none',
  defaultClientCred: null,
  serverCred: null,
  serverAuth: 'md5',
  requireClientCert: false,
  publicUrl: null,
  sessionTimeoutSec: 300,
  maxMsgSize: 1024 * 1024,
  stepHoldSec: 25,
});

const SETTINGS_FILE = 'workbench.json';
const SNAPSHOT_DIR = 'workbench-snapshots';

export interface BackendOptions {
  dataDir: string;
  /** The store: a shared lab server's PostgreSQL (postgres://…); unset: SQLite in dataDir (main/store/open.ts). */
  storeUrl?: string;
  /** Overrides the saved settings for this run (saved only if the user then changes settings). */
  settings?: Partial<ServerSettings>;
  /** Start the DM server at once. */
  startServer?: boolean;
  /** Handset module path (tests, `--handsets`); default main/client. */
  handsetModule?: string;
  /** Skip loading handsets altogether (unit tests). */
  handsets?: HandsetLoad;
  now?: () => number;
  /** PC/SC for the Bootstrap view (tests plug in a fake; default: native/pcsc, loaded on first use). */
  openPcsc?: OpenMonitor;
  /** Serial ports for the Serial view (tests plug in memory links; default: serialport, loaded on first use). */
  openSerial?: OpenLink;
  /** The conformance runner (tests plug in their own; default main/judge/conformance/run.ts). */
  conformanceRunner?: () => Promise<ConformanceRunner>;
}

type EventListener = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

interface Hold {
  paused: boolean;
  held: { heldId: number; device: string; spec: JobSpecInput; notify: boolean; createdAt: string }[];
}

interface Snapshot {
  at: string;
  values: Record<string, string | null>;
}

export class Backend {
  readonly handlers: Handlers;
  private server: DmServer | undefined;
  private reader: DmStore;
  private dataDir: string;
  private readonly storeUrl: string | undefined;
  /** Tree writes and snapshots that follow server events, one after the other (each awaits the store). */
  private treeWork: Promise<void> = Promise.resolve();
  private settings: ServerSettings;
  private startedAt: string | null = null;
  private lastError: string | null = null;
  private offBus: (() => void) | undefined;
  private readonly listeners = new Set<EventListener>();
  private readonly holds = new Map<string, Hold>();
  private nextHeldId = 1;
  private readonly cache = new DecodeCache();
  private readonly summaryCache = new Map<number, { count: number; messages: MessageSummary[] }>();
  /** Expert findings per session, judged on demand (findings-view.ts). */
  private readonly findings = new FindingsCache(() => this.reader, this.cache, undefined, (v) => this.packetFindings.record(v));
  /** The packet list's findings per message, kept in the store's message index (packets-view.ts). */
  private readonly packetFindings = new PacketFindings({ reader: () => this.reader, writer: () => this.server?.store ?? this.reader, server: () => this.server?.store, judge: (ids) => this.findings.counts(ids) });
  private readonly snapshots = new Map<string, { previous: Snapshot | null; last: Snapshot }>();
  private fleet: HandsetFleet | undefined;
  private fleetReason: string | null = null;
  private fleetProvider: string | null = null;
  private readonly now: () => number;
  private starting: Promise<ServerStatus> | undefined;
  private readonly cards: BootstrapService;
  private readonly serial: SerialService;
  /** Conformance plan runs against a device through this server (conformance-view.ts). */
  private readonly conformance: ConformanceService;

  private constructor(opts: BackendOptions, dataDir: string, reader: DmStore) {
    this.now = opts.now ?? Date.now;
    this.dataDir = dataDir;
    this.storeUrl = opts.storeUrl;
    this.settings = { ...this.loadSettings(), ...opts.settings };
    this.reader = reader;
    const emit = this.emit.bind(this) as <E extends EventName>(name: E, payload: EventPayload<E>) => void;
    this.cards = new BootstrapService(emit, opts.openPcsc);
    this.serial = new SerialService(emit, { settings: () => this.settings, serverNonce: async (d) => (await this.reader.device(d))?.auth.serverNonce }, opts.openSerial);
    this.conformance = new ConformanceService({
      server: () => this.server,
      runner: opts.conformanceRunner ?? defaultConformanceRunner,
      // A virtual handset of the app starts its session when asked; other devices get package #0 or are waited for.
      trigger: (d) => (this.fleet?.list().some((h) => h.devId === d) ? () => this.fleet?.connect(d) : undefined),
    });
    this.handlers = this.makeHandlers();
  }

  static async create(opts: BackendOptions): Promise<Backend> {
    const dataDir = path.resolve(opts.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const b = new Backend(opts, dataDir, await openStore({ dataDir, ...(opts.storeUrl ? { storeUrl: opts.storeUrl } : {}) }));
    const load = opts.handsets ?? (await loadHandsetModule(opts.handsetModule));
    if (load.ok) {
      try {
        b.fleet = await load.module.createFleet({ server: () => b.server, dataDir: b.dataDir });
        b.fleetProvider = load.provider;
        b.fleet.onChange(() => b.emit('handsets.changed', b.handsetsStatus()));
      } catch (e) {
        b.fleetReason = `The virtual handset module failed to start: ${e instanceof Error ? e.message : String(e)}`;
      }
    } else {
      b.fleetReason = load.reason;
    }
    if (opts.startServer) await b.startServer();
    return b;
  }

  get running(): DmServer | undefined {
    return this.server;
  }

  get handsetFleet(): HandsetFleet | undefined {
    return this.fleet;
  }

  /** The device's tree as the server cached it (Get results). */
  treeEntries(device: string): Promise<TreeEntry[]> {
    return this.reader.tree(device);
  }

  get folder(): string {
    return this.dataDir;
  }

  /** Subscribe to the contract's events; returns the unsubscribe. */
  onEvent(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(name, payload);
      } catch (e) {
        process.emitWarning(`api event listener failed on ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.cards.close();
    await this.serial.close();
    await this.fleet?.close().catch(() => undefined);
    await this.stopServer();
    await this.treeWork;
    await this.reader.close();
    this.listeners.clear();
  }

  // --- settings -------------------------------------------------------------------------------

  private loadSettings(): ServerSettings {
    const file = path.join(this.dataDir, SETTINGS_FILE);
    if (!existsSync(file)) return { ...DEFAULT_SETTINGS };
    try {
      const raw = JSON.parse(readFileSync(file, 'utf8')) as { settings?: unknown };
      const saved = { ...((raw.settings ?? {}) as Record<string, unknown>) };
      let parsed = ServerSettingsSchema.partial().safeParse(saved);
      if (!parsed.success) {
        // One value the checks now refuse (an old public URL that is not a URL) costs that value, not every setting.
        for (const i of parsed.error.issues) delete saved[String(i.path[0])];
        parsed = ServerSettingsSchema.partial().safeParse(saved);
      }
      return { ...DEFAULT_SETTINGS, ...(parsed.success ? stripUndefined(parsed.data) : {}) };
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
  }

  private saveSettings(): void {
    writeFileSync(path.join(this.dataDir, SETTINGS_FILE), `${JSON.stringify({ settings: this.settings }, null, 2)}\n`, { mode: 0o600 });
  }

  // --- the DM server --------------------------------------------------------------------------

  status(): ServerStatus {
    const s = this.server;
    return {
      running: s !== undefined,
      url: s?.url ?? null,
      port: s?.port ?? null,
      startedAt: s ? this.startedAt : null,
      dataDir: this.dataDir,
      settings: this.settings,
      error: this.lastError,
      caExists: existsSync(path.join(this.dataDir, 'ca', 'ca.crt.pem')),
      activeSessions: s?.activeSessions().length ?? 0,
    };
  }

  /** `port`: listen there this time instead of the setting (a restart keeping an ephemeral port). */
  async startServer(port?: number): Promise<ServerStatus> {
    if (this.server) return this.status();
    if (this.starting) return this.starting;
    this.starting = (async () => {
      const st = port === undefined ? this.settings : { ...this.settings, port };
      try {
        const server = await DmServer.start({
          dataDir: this.dataDir,
          ...(this.storeUrl ? { storeUrl: this.storeUrl } : {}),
          port: st.port,
          host: st.host,
          serverId: st.serverId,
          clientAuth: st.clientAuth,
          serverAuth: st.serverAuth,
          requireClientCert: st.requireClientCert,
          ...(st.tls ? { tls: { clientCerts: st.clientCerts } } : {}),
          ...(st.defaultClientCred ? { defaultClientCred: st.defaultClientCred } : {}),
          ...(st.serverCred ? { serverCred: st.serverCred } : {}),
          ...(st.publicUrl ? { publicUrl: st.publicUrl } : {}),
          limits: { sessionTimeoutMs: st.sessionTimeoutSec * 1000, maxMsgSize: st.maxMsgSize, maxHoldMs: (st.stepHoldSec ?? DEFAULT_SETTINGS.stepHoldSec!) * 1000 },
        });
        this.server = server;
        for (const [device, h] of this.holds) {
          if (!h.paused) continue;
          try {
            server.pauseDevice(device);
          } catch (e) {
            // Stepping needs one instance (a shared store refuses it): the hold before the server stays.
            process.emitWarning(`could not pause ${device} in the server: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        this.startedAt = new Date(this.now()).toISOString();
        this.lastError = null;
        this.offBus = server.bus.subscribe((e) => this.onServerEvent(e));
      } catch (e) {
        this.lastError = `could not start the DM server on ${st.host}:${st.port}: ${e instanceof Error ? e.message : String(e)}`;
      }
      const status = this.status();
      this.emit('server.status', status);
      return status;
    })();
    try {
      return await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  async stopServer(): Promise<ServerStatus> {
    const s = this.server;
    if (s) {
      this.offBus?.();
      this.server = undefined;
      await s.close();
      this.startedAt = null;
      this.emit('server.status', this.status());
    }
    return this.status();
  }

  private onServerEvent(e: ServerEvent): void {
    this.emit('server.event', e as EventPayload<'server.event'>);
    // A 2xx Add/Replace/Delete shows in the Tree view at once (tree-writes.ts), not after the next Discover.
    if (e.type === 'job-done') {
      const written = writtenEntries(e.job);
      const deleted = deletedUris(e.job);
      const store = this.server?.store ?? this.reader;
      const now = this.now();
      if (deleted.length > 0 || written.length > 0) {
        this.afterEvent(`the tree of ${e.job.device}`, () => store.tx(async (t) => {
          for (const uri of deleted) await t.removeTree(e.job.device, uri);
          if (written.length > 0) await t.upsertTree(e.job.device, written, now);
        }));
      }
    }
    const ended = e.type === 'session-ended' ? e.device : undefined;
    if (ended) this.afterEvent(`the tree snapshot of ${ended}`, () => this.snapshot(ended));
    if (e.type === 'session-held' || e.type === 'session-released') this.emit('jobs.changed', this.queueState(e.device));
  }

  /**
   * Store work a server event asks for, in event order (a snapshot at session end sees the tree
   * writes of the jobs before it); a failure (the database away) is a warning, not a crash.
   */
  private afterEvent(what: string, work: () => Promise<void>): void {
    this.treeWork = this.treeWork.then(work).catch((err: unknown) => {
      process.emitWarning(`could not update ${what}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private async configure(p: { settings?: Partial<ServerSettings>; dataDir?: string }): Promise<ServerStatus> {
    // A start that failed (a port in use, say) is tried again with the new settings.
    const wasRunning = this.server !== undefined || this.lastError !== null;
    // Port 0 (any free port): a restart keeps the port it is bound to, so handsets pointed at it keep it.
    const bound = this.settings.port === 0 ? this.server?.port : undefined;
    if (p.dataDir !== undefined && path.resolve(p.dataDir) !== this.dataDir) {
      await this.stopServer();
      const dir = path.resolve(p.dataDir);
      mkdirSync(dir, { recursive: true });
      const store = await openStore({ dataDir: dir, ...(this.storeUrl ? { storeUrl: this.storeUrl } : {}) });
      await this.treeWork;
      await this.reader.close();
      this.reader = store;
      this.dataDir = dir;
      this.holds.clear();
      this.snapshots.clear();
      this.findings.clear();
      this.settings = this.loadSettings();
    }
    if (p.settings) this.settings = { ...this.settings, ...stripUndefined(p.settings) };
    this.saveSettings();
    if (wasRunning) {
      await this.stopServer();
      const samePlace = bound !== undefined && this.settings.port === 0 && (p.dataDir === undefined);
      return this.startServer(samePlace ? bound : undefined);
    }
    const status = this.status();
    this.emit('server.status', status);
    return status;
  }

  private async ca(): Promise<LabCa> {
    if (this.server?.ca) return this.server.ca;
    const existed = this.status().caExists;
    const ca = await LabCa.loadOrCreate(path.join(this.dataDir, 'ca'));
    // The Server view's Lab CA panel follows server.status: say the CA now exists.
    if (!existed) this.emit('server.status', this.status());
    return ca;
  }

  // --- devices and handsets -------------------------------------------------------------------

  async devices(): Promise<DeviceSummary[]> {
    const store = this.reader;
    const counts = new Map<string, Record<string, number>>();
    for (const r of await store.jobCounts()) {
      const c = counts.get(r.device) ?? {};
      c[r.status] = r.n;
      counts.set(r.device, c);
    }
    const lastSessions = new Map<string, { id: number; state: string; startedAt: string; endedAt: string | null }>();
    for (const r of await store.lastSessions()) lastSessions.set(r.device, { id: r.id, state: r.state, startedAt: r.startedAt, endedAt: r.endedAt });
    const devices = await store.devices();
    const active = new Set(this.server?.activeSessions().map((s) => s.device) ?? []);
    const virtual = new Set(this.fleet?.list().map((h) => h.devId) ?? []);
    return devices.map((d) => {
      const c = counts.get(d.devId) ?? {};
      const hold = this.holds.get(d.devId);
      return {
        devId: d.devId,
        model: d.devInfo.Mod ?? null,
        manufacturer: d.devInfo.Man ?? null,
        devInfo: d.devInfo,
        firstSeen: d.firstSeen,
        lastSeen: d.lastSeen,
        lastSession: lastSessions.get(d.devId) ?? null,
        state: active.has(d.devId) ? 'in-session' : 'idle',
        hasOwnCredentials: d.clientCred !== undefined,
        notifyUrl: d.notifyUrl ?? null,
        jobs: { queued: c.queued ?? 0, sent: c.sent ?? 0, done: c.done ?? 0, failed: c.failed ?? 0, held: hold?.held.length ?? 0, unconfirmed: c.unconfirmed ?? 0 },
        paused: hold?.paused ?? false,
        virtual: virtual.has(d.devId),
      };
    });
  }

  handsetsStatus(): HandsetsStatus {
    if (!this.fleet) return { available: false, reason: this.fleetReason ?? 'Virtual handsets are not available.', provider: null, handsets: [] };
    return { available: true, reason: null, provider: this.fleetProvider, handsets: this.fleet.list() };
  }

  private needFleet(): HandsetFleet {
    if (!this.fleet) throw new Error(this.fleetReason ?? 'virtual handsets are not available');
    return this.fleet;
  }

  // --- jobs and holds -------------------------------------------------------------------------

  private hold(device: string): Hold {
    let h = this.holds.get(device);
    if (!h) {
      h = { paused: false, held: [] };
      this.holds.set(device, h);
    }
    return h;
  }

  queueState(device: string): QueueState {
    const h = this.holds.get(device);
    return { device, paused: h?.paused ?? false, held: h ? h.held.map((x) => ({ ...x })) : [], session: this.server?.steppingState(device).held ?? null };
  }

  private inSession(device: string): boolean {
    return this.server?.activeSessions().some((s) => s.device === device) ?? false;
  }

  /** Gives a job to the server (or, when stopped, to its queue in the store for the next start). */
  async submit(device: string, spec: JobSpecInput, notify: boolean | undefined): Promise<{ job: JobRecord; notified: { ok: boolean; detail: string } | null }> {
    const clean = parseJobSpec(spec) as JobSpec;
    const s = this.server;
    if (!s) {
      const job = await this.reader.tx((t) => t.addJob(device, clean, this.now()));
      return { job, notified: null };
    }
    const reachable = notify ?? (await this.reader.device(device))?.notifyUrl !== undefined;
    const r = await s.addJob(device, clean, { notify: reachable });
    return { job: r.job, notified: r.notified ? { ok: r.notified.ok, detail: r.notified.detail } : null };
  }

  private async addJob(p: { device: string; spec: JobSpecInput; notify?: boolean | undefined }) {
    parseJobSpec(p.spec);
    const h = this.holds.get(p.device);
    // In session, a paused device's jobs go to the server, whose step control sends them one per Step.
    if (h?.paused && !this.inSession(p.device)) {
      const held = { heldId: this.nextHeldId++, device: p.device, spec: p.spec, notify: p.notify ?? true, createdAt: new Date(this.now()).toISOString() };
      h.held.push(held);
      this.emit('jobs.changed', this.queueState(p.device));
      return { job: null, held, notified: null };
    }
    const r = await this.submit(p.device, p.spec, p.notify);
    return { job: r.job, held: null, notified: r.notified };
  }

  private async step(device: string, all = false) {
    const s = this.server;
    const held = s?.steppingState(device).held;
    if (s && held) {
      // In session: the held answer goes with one command, in this same session.
      s.step(device);
      const job = held.next ? (await this.reader.job(held.next.jobId)) ?? null : null;
      const queue = this.queueState(device);
      this.emit('jobs.changed', queue);
      return { queue, job };
    }
    const h = this.holds.get(device);
    if (all && h && h.held.length > 0) {
      // Into one session: every held job goes to the server's queue, the device is notified once,
      // and (the device being paused there too) each command waits for its Step inside the session.
      const batch = h.held.splice(0);
      this.emit('jobs.changed', this.queueState(device));
      const notify = batch.some((x) => x.notify) && !this.inSession(device);
      let first: JobRecord | null = null;
      for (const [i, x] of batch.entries()) {
        const r = await this.submit(device, x.spec, notify && i === batch.length - 1);
        first ??= r.job;
      }
      return { queue: this.queueState(device), job: first };
    }
    const next = h?.held.shift();
    if (!next) return { queue: this.queueState(device), job: null };
    this.emit('jobs.changed', this.queueState(device));
    const r = await this.submit(device, next.spec, next.notify && !this.inSession(device));
    // This Step was for that job's command: the step control lets it (one command) out without a hold.
    if (h?.paused) s?.step(device);
    return { queue: this.queueState(device), job: r.job };
  }

  /**
   * Resume: jobs that waited in this hold (queued while paused and out of session, e.g. after "Step
   * through in one session" handed the earlier ones over) go to the server now, in order, with one
   * notification; left here they would stay held with nothing to step them.
   */
  private async releaseHeld(device: string, h: Hold): Promise<void> {
    const batch = h.held.splice(0);
    const notify = batch.some((x) => x.notify) && !this.inSession(device);
    for (const [i, x] of batch.entries()) await this.submit(device, x.spec, notify && i === batch.length - 1);
  }

  /**
   * Session summaries, kept for the last few sessions opened: a live session is re-read as each
   * message arrives, and a logged message never changes once its answer is logged.
   */
  private async summaries(id: number, count: number): Promise<MessageSummary[]> {
    const hit = this.summaryCache.get(id);
    if (hit && hit.count === count) return hit.messages;
    const messages = summarizeSession(await this.reader.messages(id), this.cache);
    this.summaryCache.delete(id);
    this.summaryCache.set(id, { count, messages });
    if (this.summaryCache.size > 8) this.summaryCache.delete(this.summaryCache.keys().next().value!);
    return messages;
  }

  // --- tree snapshots -------------------------------------------------------------------------

  private snapshotFile(device: string): string {
    return path.join(this.dataDir, SNAPSHOT_DIR, `${device.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  private snapshotsOf(device: string): { previous: Snapshot | null; last: Snapshot } | undefined {
    let s = this.snapshots.get(device);
    if (!s) {
      const file = this.snapshotFile(device);
      if (existsSync(file)) {
        try {
          s = JSON.parse(readFileSync(file, 'utf8')) as { previous: Snapshot | null; last: Snapshot };
          this.snapshots.set(device, s);
        } catch {
          s = undefined;
        }
      }
    }
    return s;
  }

  /** Records the device's tree when it differs from the last record (called as sessions end). */
  async snapshot(device: string): Promise<void> {
    const values = treeValues(await this.reader.tree(device));
    const cur = this.snapshotsOf(device);
    if (cur && sameValues(cur.last.values, values)) return;
    const next = { previous: cur?.last ?? null, last: { at: new Date(this.now()).toISOString(), values } };
    this.snapshots.set(device, next);
    try {
      mkdirSync(path.join(this.dataDir, SNAPSHOT_DIR), { recursive: true });
      writeFileSync(this.snapshotFile(device), JSON.stringify(next));
    } catch (e) {
      process.emitWarning(`could not save the tree snapshot of ${device}: ${(e as Error).message}`);
    }
  }

  async treeDiff(device: string): Promise<TreeDiff> {
    const s = this.snapshotsOf(device);
    const current = treeValues(await this.reader.tree(device));
    const before = s?.previous?.values ?? (s && !sameValues(s.last.values, current) ? s.last.values : null);
    const diff: TreeDiff = { device, previousAt: null, currentAt: s?.last.at ?? null, added: [], removed: [], changed: [] };
    if (!before) return diff;
    diff.previousAt = s?.previous?.at ?? s?.last.at ?? null;
    for (const [uri, after] of Object.entries(current)) {
      if (!(uri in before)) diff.added.push({ uri, before: null, after });
      else if (before[uri] !== after) diff.changed.push({ uri, before: before[uri] ?? null, after });
    }
    for (const [uri, b] of Object.entries(before)) if (!(uri in current)) diff.removed.push({ uri, before: b, after: null });
    return diff;
  }

  // --- handlers -------------------------------------------------------------------------------

  private makeHandlers(): Handlers {
    return {
      'server.status': () => this.status(),
      'server.authFailures': () => this.server?.authFailures() ?? null,
      'server.start': () => this.startServer(),
      'server.stop': () => this.stopServer(),
      'server.configure': (p) => this.configure({ ...(p.settings ? { settings: p.settings } : {}), ...(p.dataDir ? { dataDir: p.dataDir } : {}) }),
      'server.caCertificate': async () => ({ fileName: 'dmw-lab-ca.crt.pem', pem: (await this.ca()).certPem }),
      'server.issueDeviceCertificate': async ({ devId }) => {
        const why = certificateDevIdProblem(devId);
        if (why) throw new Error(`DevId: ${why}`);
        const ca = await this.ca();
        const issued = await ca.issueDevice(devId);
        // Two files: a certificate may be shared, the unencrypted key must not travel with it.
        const base = devId.replace(/[^A-Za-z0-9._-]/g, '_');
        return { fileName: `${base}.crt.pem`, keyFileName: `${base}.key.pem`, certPem: issued.certPem, keyPem: issued.keyPem, caPem: ca.certPem };
      },

      'devices.list': () => this.devices(),
      'devices.configure': async ({ devId, clientCred, notifyUrl }) => {
        const p: { clientCred?: { name: string; secret: string } | null; notifyUrl?: string | null } = {};
        if (clientCred !== undefined) p.clientCred = clientCred;
        if (notifyUrl !== undefined) p.notifyUrl = notifyUrl;
        if (this.server) await this.server.setDevice(devId, p);
        else {
          const now = this.now();
          await this.reader.tx(async (t) => {
            if (p.notifyUrl !== undefined) await t.setNotifyUrl(devId, p.notifyUrl ?? undefined, now);
            if (p.clientCred !== undefined) await t.setDeviceCredential(devId, p.clientCred ?? undefined, now);
          });
        }
        const d = (await this.devices()).find((x) => x.devId === devId);
        if (!d) throw new Error(`no device ${devId}`);
        return d;
      },

      'handsets.status': () => this.handsetsStatus(),
      'handsets.add': async ({ count, model }) => {
        await this.needFleet().add(count, model ? { model } : {});
        return this.handsetsStatus();
      },
      'handsets.start': async ({ devId }) => {
        await this.needFleet().start(devId);
        return this.handsetsStatus();
      },
      'handsets.stop': async ({ devId }) => {
        await this.needFleet().stop(devId);
        return this.handsetsStatus();
      },

      'sessions.list': async ({ device, limit }) =>
        (await this.reader.sessions({ ...(device ? { device } : {}), limit: limit ?? 500 })).map((s) => ({ ...s, messageCount: s.messageCount ?? 0 })),
      'sessions.get': async ({ id }) => {
        const s = await this.reader.session(id);
        if (!s) throw new Error(`no session ${id}`);
        const jobs = s.device ? (await this.reader.jobs({ device: s.device })).filter((j) => j.sessionId === id) : [];
        // A long session: envelopes and the first messages in full; the view asks for the rest as it scrolls.
        if ((s.messageCount ?? 0) > LAZY_SESSION_MESSAGES) {
          const { messages, summarized } = await sessionEnvelope(this.reader, id, this.cache);
          return { session: { ...s, messageCount: messages.length }, messages, jobs, summarized };
        }
        const messages = await this.summaries(id, s.messageCount ?? 0);
        return { session: { ...s, messageCount: s.messageCount ?? messages.length }, messages, jobs };
      },
      'sessions.summaries': async ({ id, offset, limit }) => {
        if (!(await this.reader.session(id))) throw new Error(`no session ${id}`);
        return { total: await messageCount(this.reader, id), messages: await summaryWindow(this.reader, id, offset, limit, this.cache) };
      },
      'sessions.message': async ({ id }) => {
        const m = await this.reader.message(id);
        if (!m) throw new Error(`no message ${id}`);
        return messageDetail(m);
      },
      'sessions.export': async ({ id }) => {
        const s = await this.reader.session(id);
        if (!s) throw new Error(`no session ${id}`);
        const records = await this.reader.messages(id);
        const summaries = summarizeSession(records, this.cache);
        const doc = {
          format: 'dmw-session-export/1',
          exportedAt: new Date(this.now()).toISOString(),
          session: s,
          // Without its credentials or auth state: the export goes into bug reports.
          device: s.device ? devicePublic(await this.reader.device(s.device), s.device) : null,
          messages: records.map((m, i) => ({ ...messageDetail(m), at: m.at, durationMs: m.durationMs, msgId: m.msgId, contentType: m.contentType, httpStatus: m.httpStatus, commands: summaries[i]?.commands ?? [] })),
          jobs: s.device ? (await this.reader.jobs({ device: s.device })).filter((j) => j.sessionId === id) : [],
        };
        const name = `dmw-session-${id}-${(s.device ?? 'unknown').replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
        return { fileName: name, json: `${JSON.stringify(doc, null, 2)}\n` };
      },
      'sessions.abort': ({ id }) => ({ ok: this.server?.abortSession(id) ?? false }),
      'sessions.findings': ({ id }) => this.findings.findings(id),
      'sessions.findingCounts': ({ ids }) => this.findings.counts(ids),
      'judge.rule': ({ id }) => {
        const r = explainRule(id);
        if (!r) throw new Error(`no rule "${id}" in the catalogue (dmw session check lists the ids it finds)`);
        return r;
      },

      'jobs.list': ({ device }) => this.reader.jobs(device ? { device } : {}),
      'jobs.add': (p) => this.addJob(p),
      'jobs.queue': ({ device }) => this.queueState(device),
      'jobs.pause': async ({ device, paused }) => {
        const h = this.hold(device);
        if (paused) {
          // The server first: a shared store refuses stepping (one instance needed), and then nothing is paused.
          this.server?.pauseDevice(device);
          h.paused = true;
        } else {
          h.paused = false;
          this.server?.resume(device);
          await this.releaseHeld(device, h);
        }
        const st = this.queueState(device);
        this.emit('jobs.changed', st);
        return st;
      },
      'jobs.step': ({ device, all }) => this.step(device, all ?? false),
      'jobs.discard': ({ device, heldId }) => {
        const h = this.holds.get(device);
        if (h) h.held = h.held.filter((x) => x.heldId !== heldId);
        const st = this.queueState(device);
        this.emit('jobs.changed', st);
        return st;
      },
      // The store refuses (with the reason) a job that is not unconfirmed, or verify where nothing can be read back.
      'jobs.decide': ({ id, action }) => this.reader.decideJob(id, action, this.now()),

      'tree.get': async ({ device }) => {
        const entries = await this.reader.tree(device);
        if (!this.snapshotsOf(device) && entries.length > 0) await this.snapshot(device);
        return { device, entries, previousAt: this.snapshotsOf(device)?.previous?.at ?? null };
      },
      'tree.diff': ({ device }) => this.treeDiff(device),
      'acl.matrix': async ({ device, uri }) => aclMatrix(device, uri, await this.reader.tree(device), this.settings.serverId),

      'bootstrap.check': ({ profile }) => checkProfile(profile).check,
      'bootstrap.readers': () => this.cards.readers(),
      'bootstrap.flash': (p) => this.cards.flash(p),
      'bootstrap.profiles': () => listStoredProfiles(),
      'bootstrap.save': ({ id, profile }) => saveStoredProfile(id, profile),
      'bootstrap.load': ({ id }) => loadStoredProfile(id),

      'serial.ports': () => this.serial.ports(),
      'serial.identify': ({ port, baudRate }) => this.serial.identify(port, baudRate),
      'serial.consoleOpen': ({ port, baudRate }) => this.serial.consoleOpen(port, baudRate),
      'serial.consoleClose': () => this.serial.consoleClose(),
      'serial.consoleSend': ({ line }) => this.serial.consoleSend(line),
      'serial.pushPreview': (p) => this.serial.preview(p),
      'serial.pushSend': (p) => this.serial.send(p),
      'serial.bootstrapPreview': (p) => this.serial.bootstrapPreview(p),
      'serial.bootstrapSend': (p) => this.serial.bootstrapSend(p),
      'packets.query': (q) => this.packetFindings.query(q),
      'packets.fields': () => packetFields(),
      'sessions.search': (q) => searchSessions(this.reader, q.filter, q.limit ?? MAX_SEARCH_SESSIONS, this.server?.store ?? this.reader),
      ...conformanceHandlers(this.conformance),
      ...traceHandlers({ reader: () => this.reader, writer: () => this.server?.store ?? this.reader, dataDir: () => this.dataDir, now: this.now }),
    };
  }
}

function devicePublic(d: StoredDevice | undefined, devId: string): { devId: string; devInfo: Record<string, string>; firstSeen?: string; lastSeen?: string } {
  if (!d) return { devId, devInfo: {} };
  return { devId: d.devId, devInfo: d.devInfo, firstSeen: d.firstSeen, lastSeen: d.lastSeen };
}

function treeValues(entries: TreeEntry[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const e of entries) out[e.uri] = e.data;
  return out;
}

function sameValues(a: Record<string, string | null>, b: Record<string, string | null>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || a[k] !== b[k]) return false;
  return true;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
