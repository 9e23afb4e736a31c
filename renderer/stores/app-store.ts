/**
 * The window's one store: slices combined, built by a factory so every test gets a fresh store with
 * the API it wants. Streaming backend events are queued and applied once per frame (one `set`), and
 * lists that are cheaper to refetch than to patch (devices, the open session) are refetched on a
 * short throttle instead of on every event.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type {
  AclMatrix, DeviceSummary, DmwApi, EventName, EventPayload, HandsetsStatus, JobSpecInput, JobView, MessageDetail, QueueState,
  ServerSettings, ServerStatus, SessionDetail, SessionSummary, TreeDiff, TreeEntryView,
} from '../../main/api/contract.js';
import type { ConnectionState } from '../api/transport.js';
import { applyBootstrapEvent, createBootstrapSlice, type BootstrapSlice } from './bootstrap-slice.js';
import { applySerialEvent, createSerialSlice, type SerialSlice } from './serial-slice.js';
import { createFindingsSlice, type FindingsSlice } from './findings-slice.js';
import { createPacketsSlice, type PacketsSlice } from './packets-slice.js';

export type ViewName = 'devices' | 'sessions' | 'packets' | 'tree' | 'acl' | 'server' | 'bootstrap' | 'serial' | 'conformance';
export const VIEWS: { id: ViewName; label: string }[] = [
  { id: 'devices', label: 'Devices' },
  { id: 'sessions', label: 'Sessions' },
  { id: 'packets', label: 'Packets' },
  { id: 'tree', label: 'Tree' },
  { id: 'acl', label: 'ACL' },
  { id: 'server', label: 'Server' },
  { id: 'bootstrap', label: 'Bootstrap' },
  { id: 'serial', label: 'Serial' },
  { id: 'conformance', label: 'Conformance' },
];

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
  /** How many times this same notice came (shown once, with ×N, instead of stacking). */
  count?: number;
}

/** Longest an info (success) notice stays; errors stay until closed. */
export const INFO_NOTICE_MS = 4000;
/** Notices shown at once: the oldest goes first. */
export const MAX_NOTICES = 3;

export interface SessionFilter {
  device: string | null;
  state: string | null;
  text: string;
}

export interface AppState extends BootstrapSlice, SerialSlice, FindingsSlice, PacketsSlice {
  // connection and navigation
  connection: ConnectionState;
  connectionDetail: string | null;
  view: ViewName;
  notices: Notice[];
  setView(v: ViewName): void;
  notify(kind: Notice['kind'], text: string): void;
  dismiss(id: number): void;
  setConnection(s: ConnectionState, detail?: string): void;
  refreshAll(): Promise<void>;
  ingest<E extends EventName>(name: E, payload: EventPayload<E>): void;

  // server
  server: ServerStatus | null;
  loadServer(): Promise<void>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  configureServer(p: { settings?: Partial<ServerSettings>; dataDir?: string }): Promise<boolean>;

  // devices and handsets
  devices: DeviceSummary[];
  handsets: HandsetsStatus | null;
  selectedDevice: string | null;
  loadDevices(): Promise<void>;
  loadHandsets(): Promise<void>;
  selectDevice(devId: string | null): void;
  addHandsets(count: number): Promise<void>;
  setHandsetRunning(devId: string, running: boolean): Promise<void>;

  // sessions
  sessions: SessionSummary[];
  sessionFilter: SessionFilter;
  selectedSessionId: number | null;
  sessionDetail: SessionDetail | null;
  selectedMessageId: number | null;
  messageDetails: Record<number, MessageDetail>;
  messageSearch: string;
  loadSessions(): Promise<void>;
  setSessionFilter(f: Partial<SessionFilter>): void;
  selectSession(id: number | null): Promise<void>;
  loadSessionDetail(): Promise<void>;
  selectMessage(id: number | null): Promise<void>;
  setMessageSearch(text: string): void;
  abortSession(id: number): Promise<void>;

  // jobs
  queues: Record<string, QueueState>;
  jobs: Record<number, JobView>;
  addJob(device: string, spec: JobSpecInput): Promise<JobView | null>;
  loadJobs(device: string): Promise<void>;
  loadQueue(device: string): Promise<void>;
  pauseQueue(device: string, paused: boolean): Promise<void>;
  /** One command; `all`: every held job into the device's (next) session, stepped there. */
  stepQueue(device: string, opts?: { all?: boolean }): Promise<void>;
  discardHeld(device: string, heldId: number): Promise<void>;
  /** The engineer's decision on an unconfirmed job (its command went out, no Status came back). */
  decideJob(id: number, action: 'verify' | 'resend' | 'drop'): Promise<void>;

  // tree
  treeDevice: string | null;
  treeEntries: TreeEntryView[];
  treePreviousAt: string | null;
  expanded: Record<string, true>;
  selectedUri: string | null;
  treeDiff: TreeDiff | null;
  showDiff: boolean;
  loadTree(device?: string): Promise<void>;
  toggleNode(uri: string): void;
  setExpanded(uris: string[] | 'all' | 'none'): void;
  selectNode(uri: string | null): void;
  loadDiff(): Promise<void>;
  setShowDiff(on: boolean): void;

  // ACL
  aclDevice: string | null;
  aclUri: string;
  aclMatrix: AclMatrix | null;
  /** Why the matrix for aclUri could not be had (shown in the ACL view, not only as a toast). */
  aclError: string | null;
  loadAcl(device?: string, uri?: string): Promise<void>;
}

export interface StoreDeps {
  api: DmwApi;
  /** Schedules the flush of queued events (default: the next animation frame). */
  schedule?: (fn: () => void) => void;
  /** Throttle for refetches after events (ms). */
  refetchMs?: number;
}

export type AppStore = StoreApi<AppState>;

const defaultSchedule = (fn: () => void) => {
  if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
};

export function createAppStore(deps: StoreDeps): AppStore {
  const { api } = deps;
  const schedule = deps.schedule ?? defaultSchedule;
  const refetchMs = deps.refetchMs ?? 250;
  let noticeId = 1;
  let queued: { name: EventName; payload: unknown }[] = [];
  let flushPending = false;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();

  const store = createStore<AppState>()((set, get) => {
    /** Runs `fn` at most once per `refetchMs` per key, trailing. */
    const soon = (key: string, fn: () => Promise<void> | void) => {
      if (timers.has(key)) return;
      timers.set(key, setTimeout(() => {
        timers.delete(key);
        void Promise.resolve(fn()).catch(() => undefined);
      }, refetchMs));
    };

    const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (e) {
        get().notify('error', `${what}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      }
    };

    const flush = () => {
      flushPending = false;
      const batch = queued;
      queued = [];
      if (batch.length === 0) return;
      const s = get();
      let sessions = s.sessions;
      let jobs = s.jobs;
      let queues = s.queues;
      let server = s.server;
      let handsets = s.handsets;
      let sessionsChanged = false;
      // Bootstrap and Serial events: applied in order onto a working copy of their slices.
      let slices: AppState = s;
      let slicePatch: Partial<AppState> = {};
      const byId = new Map(sessions.map((x, i) => [x.id, i]));
      for (const { name, payload } of batch) {
        const sp = applyBootstrapEvent(slices, name, payload) ?? applySerialEvent(slices, name, payload);
        if (sp) {
          slicePatch = { ...slicePatch, ...sp };
          slices = { ...slices, ...sp };
          continue;
        }
        if (name === 'server.status') server = payload as ServerStatus;
        else if (name === 'handsets.changed') {
          handsets = payload as HandsetsStatus;
          soon('devices', () => get().loadDevices());
        } else if (name === 'jobs.changed') {
          const q = payload as QueueState;
          queues = { ...queues, [q.device]: q };
          soon('devices', () => get().loadDevices());
        } else if (name === 'server.event') {
          const e = payload as EventPayload<'server.event'>;
          switch (e.type) {
            case 'session-started': {
              if (!sessionsChanged) sessions = [...sessions];
              sessionsChanged = true;
              sessions.unshift({ id: e.sessionId, device: e.device, dmSessionId: e.dmSessionId, state: 'active', encoding: e.encoding, authType: null, startedAt: e.at, endedAt: null, reason: null, messageCount: 0 });
              byId.clear();
              sessions.forEach((x, i) => byId.set(x.id, i));
              soon('devices', () => get().loadDevices());
              break;
            }
            case 'message': {
              const i = byId.get(e.sessionId);
              if (i !== undefined) {
                if (!sessionsChanged) sessions = [...sessions];
                sessionsChanged = true;
                sessions[i] = { ...sessions[i]!, messageCount: sessions[i]!.messageCount + 1 };
              }
              if (e.sessionId === get().selectedSessionId) soon('detail', () => get().loadSessionDetail());
              break;
            }
            case 'session-ended': {
              const i = byId.get(e.sessionId);
              if (i !== undefined) {
                if (!sessionsChanged) sessions = [...sessions];
                sessionsChanged = true;
                sessions[i] = { ...sessions[i]!, state: e.state, endedAt: e.at, reason: e.reason };
              }
              if (e.sessionId === get().selectedSessionId) soon('detail', () => get().loadSessionDetail());
              if (e.device && e.device === get().treeDevice) soon('tree', () => get().loadTree());
              if (e.device && e.device === get().aclDevice) soon('acl', () => get().loadAcl());
              soon('devices', () => get().loadDevices());
              break;
            }
            case 'job-sent': {
              const j = jobs[e.jobId];
              if (j) jobs = { ...jobs, [e.jobId]: { ...j, status: 'sent', sessionId: e.sessionId } };
              break;
            }
            case 'job-done':
              jobs = { ...jobs, [e.job.id]: e.job };
              break;
            case 'job-unconfirmed':
              jobs = { ...jobs, [e.job.id]: e.job };
              soon('devices', () => get().loadDevices());
              break;
            case 'device-seen':
              soon('devices', () => get().loadDevices());
              break;
            // The step control: the device's answer is held until Step / Resume (queues[device].session).
            case 'session-held': {
              const q = queues[e.device] ?? { device: e.device, paused: true, held: [] };
              queues = { ...queues, [e.device]: { ...q, session: { sessionId: e.sessionId, since: e.at, releaseAt: e.releaseAt, next: e.next, pending: e.pending } } };
              break;
            }
            case 'session-released': {
              const q = queues[e.device];
              if (q?.session?.sessionId === e.sessionId) queues = { ...queues, [e.device]: { ...q, session: null } };
              break;
            }
            default:
              break;
          }
        }
      }
      set({ ...slicePatch, sessions, jobs, queues, server, handsets });
    };

    const setSlice = (p: Partial<AppState>) => set(p);
    return {
      ...createBootstrapSlice(api, setSlice, get, guard),
      ...createSerialSlice(api, setSlice, get, guard),
      ...createFindingsSlice(api, setSlice, get, guard),
      ...createPacketsSlice(api, setSlice, get, guard),
      connection: 'connecting',
      connectionDetail: null,
      view: 'devices',
      notices: [],
      setView: (view) => set({ view }),
      notify: (kind, text) => {
        const id = noticeId++;
        const same = get().notices.find((n) => n.kind === kind && n.text === text);
        const rest = get().notices.filter((n) => n !== same);
        set({ notices: [...rest, { id, kind, text, count: (same?.count ?? 1) + (same ? 1 : 0) }].slice(-MAX_NOTICES) });
        if (kind === 'info') setTimeout(() => get().dismiss(id), INFO_NOTICE_MS);
      },
      dismiss: (id) => set({ notices: get().notices.filter((n) => n.id !== id) }),
      setConnection: (connection, detail) => {
        const was = get().connection;
        set({ connection, connectionDetail: detail ?? null });
        if (connection === 'open' && was !== 'open') void get().refreshAll();
      },
      refreshAll: async () => {
        const s = get();
        await Promise.all([s.loadServer(), s.loadDevices(), s.loadHandsets(), s.loadSessions()]);
        if (get().selectedSessionId !== null) await get().loadSessionDetail();
        if (get().treeDevice) await get().loadTree();
      },
      ingest: (name, payload) => {
        queued.push({ name, payload });
        if (!flushPending) {
          flushPending = true;
          schedule(flush);
        }
      },

      server: null,
      loadServer: async () => {
        const server = await guard('server status', () => api['server.status']({}));
        if (server) set({ server });
      },
      startServer: async () => {
        const server = await guard('start the server', () => api['server.start']({}));
        if (server) {
          set({ server });
          if (server.error) get().notify('error', server.error);
        }
      },
      stopServer: async () => {
        const server = await guard('stop the server', () => api['server.stop']({}));
        if (server) set({ server });
      },
      configureServer: async (p) => {
        const server = await guard('apply the settings', () => api['server.configure'](p));
        if (!server) return false;
        set({ server });
        if (server.error) get().notify('error', server.error);
        else get().notify('info', 'Settings saved');
        await get().refreshAll();
        return true;
      },

      devices: [],
      handsets: null,
      selectedDevice: null,
      loadDevices: async () => {
        const devices = await guard('devices', () => api['devices.list']({}));
        if (!devices) return;
        const patch: Partial<AppState> = { devices };
        const first = devices[0]?.devId ?? null;
        if (get().selectedDevice === null && first) patch.selectedDevice = first;
        if (get().treeDevice === null && first) patch.treeDevice = first;
        if (get().aclDevice === null && first) patch.aclDevice = first;
        set(patch);
      },
      loadHandsets: async () => {
        const handsets = await guard('virtual handsets', () => api['handsets.status']({}));
        if (handsets) set({ handsets });
      },
      selectDevice: (selectedDevice) => set({ selectedDevice }),
      addHandsets: async (count) => {
        const handsets = await guard('add handsets', () => api['handsets.add']({ count }));
        if (handsets) set({ handsets });
      },
      setHandsetRunning: async (devId, running) => {
        const handsets = await guard(running ? 'start handset' : 'stop handset', () => api[running ? 'handsets.start' : 'handsets.stop']({ devId }));
        if (handsets) set({ handsets });
      },

      sessions: [],
      sessionFilter: { device: null, state: null, text: '' },
      selectedSessionId: null,
      sessionDetail: null,
      selectedMessageId: null,
      messageDetails: {},
      messageSearch: '',
      loadSessions: async () => {
        const sessions = await guard('sessions', () => api['sessions.list']({ limit: 2000 }));
        if (sessions) set({ sessions });
      },
      setSessionFilter: (f) => set({ sessionFilter: { ...get().sessionFilter, ...f } }),
      selectSession: async (id) => {
        set({ selectedSessionId: id, sessionDetail: null, selectedMessageId: null });
        if (id !== null) await get().loadSessionDetail();
      },
      loadSessionDetail: async () => {
        const id = get().selectedSessionId;
        if (id === null) return;
        const detail = await guard('session', () => api['sessions.get']({ id }));
        if (!detail || get().selectedSessionId !== id) return;
        const jobs = { ...get().jobs };
        for (const j of detail.jobs) jobs[j.id] = j;
        set({ sessionDetail: detail, jobs });
      },
      selectMessage: async (id) => {
        set({ selectedMessageId: id });
        if (id === null || get().messageDetails[id]) return;
        const m = await guard('message', () => api['sessions.message']({ id }));
        if (m) set({ messageDetails: { ...get().messageDetails, [id]: m } });
      },
      setMessageSearch: (messageSearch) => set({ messageSearch }),
      abortSession: async (id) => {
        const r = await guard('abort', () => api['sessions.abort']({ id }));
        if (r) get().notify('info', r.ok ? `Session ${id}: the next message ends it (Alert 1223)` : `Session ${id} is not open`);
      },

      queues: {},
      jobs: {},
      addJob: async (device, spec) => {
        const r = await guard(`queue ${spec.kind}`, () => api['jobs.add']({ device, spec }));
        if (!r) return null;
        if (r.job) set({ jobs: { ...get().jobs, [r.job.id]: r.job } });
        if (r.held) get().notify('info', `Queue of ${device} is paused: ${spec.kind} held (Step to send it)`);
        if (r.notified && !r.notified.ok) get().notify('info', `Queued; the device could not be notified (${r.notified.detail}); it goes out at its next session`);
        void get().loadQueue(device);
        return r.job;
      },
      loadJobs: async (device) => {
        const list = await guard('jobs', () => api['jobs.list']({ device }));
        if (!list) return;
        const jobs = { ...get().jobs };
        for (const j of list) jobs[j.id] = j;
        set({ jobs });
      },
      loadQueue: async (device) => {
        const q = await guard('queue', () => api['jobs.queue']({ device }));
        if (q) set({ queues: { ...get().queues, [device]: q } });
      },
      pauseQueue: async (device, paused) => {
        const q = await guard(paused ? 'pause' : 'resume', () => api['jobs.pause']({ device, paused }));
        if (q) set({ queues: { ...get().queues, [device]: q } });
        void get().loadDevices();
      },
      stepQueue: async (device, opts) => {
        const r = await guard('step', () => api['jobs.step']({ device, ...(opts?.all ? { all: true } : {}) }));
        if (!r) return;
        set({ queues: { ...get().queues, [device]: r.queue }, ...(r.job ? { jobs: { ...get().jobs, [r.job.id]: r.job } } : {}) });
        void get().loadDevices();
      },
      discardHeld: async (device, heldId) => {
        const q = await guard('discard', () => api['jobs.discard']({ device, heldId }));
        if (q) set({ queues: { ...get().queues, [device]: q } });
      },
      decideJob: async (id, action) => {
        const job = await guard(action, () => api['jobs.decide']({ id, action }));
        if (!job) return;
        set({ jobs: { ...get().jobs, [job.id]: job } });
        get().notify('info', action === 'drop' ? `Job ${id} dropped` : `Job ${id} queued again${action === 'verify' ? ': the node is read back before anything is sent' : ''}; it goes out in the device's next session`);
        void get().loadDevices();
      },

      treeDevice: null,
      treeEntries: [],
      treePreviousAt: null,
      expanded: { '.': true },
      selectedUri: null,
      treeDiff: null,
      showDiff: false,
      loadTree: async (device) => {
        const dev = device ?? get().treeDevice;
        if (!dev) return;
        if (dev !== get().treeDevice) set({ treeDevice: dev, treeEntries: [], selectedUri: null, treeDiff: null, expanded: { '.': true } });
        const t = await guard('tree', () => api['tree.get']({ device: dev }));
        if (!t || get().treeDevice !== dev) return;
        set({ treeEntries: t.entries, treePreviousAt: t.previousAt });
        if (get().showDiff) await get().loadDiff();
      },
      toggleNode: (uri) => {
        const expanded = { ...get().expanded };
        if (expanded[uri]) delete expanded[uri];
        else expanded[uri] = true;
        set({ expanded });
      },
      setExpanded: (uris) => {
        if (uris === 'none') set({ expanded: { '.': true } });
        else if (uris === 'all') {
          const expanded: Record<string, true> = { '.': true };
          for (const e of get().treeEntries) {
            let p = e.uri;
            for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/')) {
              p = p.slice(0, i);
              if (expanded[p]) break;
              expanded[p] = true;
            }
          }
          set({ expanded });
        } else {
          const expanded = { ...get().expanded };
          for (const u of uris) expanded[u] = true;
          set({ expanded });
        }
      },
      selectNode: (selectedUri) => set({ selectedUri }),
      loadDiff: async () => {
        const dev = get().treeDevice;
        if (!dev) return;
        const treeDiff = await guard('diff', () => api['tree.diff']({ device: dev }));
        if (treeDiff) set({ treeDiff });
      },
      setShowDiff: (showDiff) => {
        set({ showDiff });
        if (showDiff) void get().loadDiff();
      },

      aclDevice: null,
      aclUri: '.',
      aclMatrix: null,
      aclError: null,
      loadAcl: async (device, uri) => {
        const dev = device ?? get().aclDevice;
        const u = uri ?? get().aclUri;
        set({ aclDevice: dev, aclUri: u });
        if (!dev) return;
        try {
          const aclMatrix = await api['acl.matrix']({ device: dev, uri: u });
          if (get().aclDevice === dev && get().aclUri === u) set({ aclMatrix, aclError: null });
        } catch (e) {
          if (get().aclDevice === dev && get().aclUri === u) set({ aclError: `${u}: ${e instanceof Error ? e.message : String(e)}` });
        }
      },
    };
  });
  return store;
}

/** The held answer of this session (step control), if its device's queue says so. */
export function heldSession(s: Pick<AppState, 'queues'>, device: string | null, sessionId: number): NonNullable<QueueState['session']> | null {
  const h = device ? s.queues[device]?.session : null;
  return h && h.sessionId === sessionId ? h : null;
}

/** Sessions after the list filter (device, state, free text over device / DM session id / id). */
export function filterSessions(sessions: SessionSummary[], f: SessionFilter): SessionSummary[] {
  const text = f.text.trim().toLowerCase();
  return sessions.filter((s) => {
    if (f.device && s.device !== f.device) return false;
    if (f.state && s.state !== f.state) return false;
    if (text && !`${s.id} ${s.device ?? ''} ${s.dmSessionId ?? ''} ${s.state} ${s.reason ?? ''}`.toLowerCase().includes(text)) return false;
    return true;
  });
}
