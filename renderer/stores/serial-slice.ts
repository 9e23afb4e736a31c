/**
 * The Serial view's slice: the port list, the chosen port and its identity (AT), the raw console
 * (lines come as events), a notification push and an OTA bootstrap push (the Bootstrap view's profile
 * or pasted JSON, SEC/MAC, IMSI typed or read over AT): preview first, then send exactly that.
 */
import type { BootstrapPushPreview, ConsoleState, DmwApi, EventName, EventPayload, HandsetIdentityView, PortsListing, PushPreview, PushResult } from '../../main/api/contract.js';
import { draftToProfile, type ProfileDraft } from './bootstrap-slice.js';

export type UiModeName = 'unspecified' | 'background' | 'informative' | 'interactive';

export interface PushDraft {
  to: string;
  devId: string;
  uiMode: UiModeName;
}

export type SecMethodName = 'NETWPIN' | 'USERPIN' | 'USERNETWPIN' | 'USERPINMAC';

export interface BootstrapPushDraft {
  to: string;
  /** The Bootstrap view's current profile, or the JSON pasted below. */
  source: 'view' | 'json';
  profileJson: string;
  sec: SecMethodName;
  /** NETWPIN / USERNETWPIN key: typed, or read with AT+CIMI from the chosen port. */
  imsiFrom: 'typed' | 'port';
  imsi: string;
  pin: string;
  userNetwPinKey: 'imsi+pin' | 'imsi:pin';
}

export const secNeedsImsi = (sec: SecMethodName): boolean => sec === 'NETWPIN' || sec === 'USERNETWPIN';

/** The pasted profile JSON as an object, or why it is not one. */
export function parseProfileJson(text: string): { ok: true; profile: Record<string, unknown> } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `profile JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, error: 'profile JSON: must be an object' };
  return { ok: true, profile: v as Record<string, unknown> };
}

export interface SerialSlice {
  ports: PortsListing | null;
  selectedPort: string | null;
  baudRate: number;
  identities: Record<string, HandsetIdentityView>;
  identifying: boolean;
  consoleState: ConsoleState;
  consoleLines: string[];
  pushDraft: PushDraft;
  pushPreview: PushPreview | null;
  pushResult: PushResult | null;
  pushing: boolean;
  bootstrapPushDraft: BootstrapPushDraft;
  bootstrapPushPreview: BootstrapPushPreview | null;
  bootstrapPushResult: PushResult | null;
  bootstrapPushing: boolean;
  loadPorts(): Promise<void>;
  selectPort(path: string | null): void;
  setBaudRate(n: number): void;
  identifyPort(): Promise<void>;
  openConsole(): Promise<void>;
  closeConsole(): Promise<void>;
  sendConsoleLine(line: string): Promise<void>;
  clearConsole(): void;
  setPushDraft(p: Partial<PushDraft>): void;
  previewPush(): Promise<void>;
  sendPush(): Promise<void>;
  setBootstrapPushDraft(p: Partial<BootstrapPushDraft>): void;
  previewBootstrapPush(): Promise<void>;
  sendBootstrapPush(): Promise<void>;
}

export const MAX_CONSOLE_LINES = 5000;

type Get = () => SerialSlice & { profileDraft: ProfileDraft; notify(kind: 'error' | 'info', text: string): void };
type Set = (p: Partial<SerialSlice>) => void;

/**
 * The port to preselect: the first that looks like a modem or handset (USB, or a ttyUSB / ttyACM
 * device), never a legacy ttyS port with nothing behind it (every PC lists /dev/ttyS0; preselecting
 * it sent AT commands into the void). Null: the user picks or types one.
 */
export function preselectPort(ports: readonly { path: string; vendorId?: string | undefined }[]): string | null {
  return ports.find((p) => p.vendorId !== undefined || /\/tty(USB|ACM)\d+$/.test(p.path))?.path ?? null;
}

/** A serial port path as the backend takes it (contract portPath): /dev/... or COMn. */
export function portPathProblem(path: string): string | null {
  if (path === '') return null;
  return /^(\/dev\/[^\0]+|COM\d{1,3}|\\\\\.\\COM\d{1,3})$/.test(path) && !path.includes('/../') ? null : 'a serial port path: /dev/... (e.g. the /dev/pts/N socat printed) or COMn';
}

export function createSerialSlice(api: DmwApi, set: Set, get: Get, guard: <T>(what: string, fn: () => Promise<T>) => Promise<T | undefined>): SerialSlice {
  const baud = () => (get().baudRate !== 115200 ? { baudRate: get().baudRate } : {});
  return {
    ports: null,
    selectedPort: null,
    baudRate: 115200,
    identities: {},
    identifying: false,
    consoleState: { port: null, open: false, error: null },
    consoleLines: [],
    pushDraft: { to: '', devId: '', uiMode: 'unspecified' },
    pushPreview: null,
    pushResult: null,
    pushing: false,
    bootstrapPushDraft: { to: '', source: 'view', profileJson: '', sec: 'USERPIN', imsiFrom: 'typed', imsi: '', pin: '', userNetwPinKey: 'imsi+pin' },
    bootstrapPushPreview: null,
    bootstrapPushResult: null,
    bootstrapPushing: false,
    loadPorts: async () => {
      const ports = await guard('serial ports', () => api['serial.ports']({}));
      if (!ports) return;
      const patch: Partial<SerialSlice> = { ports };
      const sel = get().selectedPort;
      // A port typed by hand (a pty of socat, not in the listing) stays; a listed one that went away is replaced.
      const wasListed = sel !== null && (get().ports?.ports.some((p) => p.path === sel) ?? false);
      if (sel === null || (wasListed && !ports.ports.some((p) => p.path === sel))) patch.selectedPort = preselectPort(ports.ports);
      set(patch);
    },
    selectPort: (selectedPort) => set({ selectedPort }),
    setBaudRate: (baudRate) => set({ baudRate }),
    identifyPort: async () => {
      const port = get().selectedPort;
      if (!port) return;
      set({ identifying: true });
      const id = await guard(`identify ${port}`, () => api['serial.identify']({ port, ...baud() }));
      set({ identifying: false, ...(id ? { identities: { ...get().identities, [port]: id } } : {}) });
    },
    openConsole: async () => {
      const port = get().selectedPort;
      if (!port) return;
      const st = await guard(`console on ${port}`, () => api['serial.consoleOpen']({ port, ...baud() }));
      if (st) set({ consoleState: st });
    },
    closeConsole: async () => {
      const st = await guard('close the console', () => api['serial.consoleClose']({}));
      if (st) set({ consoleState: st });
    },
    sendConsoleLine: async (line) => {
      const st = await guard('console', () => api['serial.consoleSend']({ line }));
      if (st) set({ consoleState: st, consoleLines: [...get().consoleLines, `> ${line}`].slice(-MAX_CONSOLE_LINES) });
    },
    clearConsole: () => set({ consoleLines: [] }),
    setPushDraft: (p) => set({ pushDraft: { ...get().pushDraft, ...p }, pushPreview: null, pushResult: null }),
    previewPush: async () => {
      const d = get().pushDraft;
      const pushPreview = await guard('preview the push', () => api['serial.pushPreview']({ to: d.to.trim(), uiMode: d.uiMode, ...(d.devId ? { devId: d.devId } : {}) }));
      if (pushPreview) set({ pushPreview, pushResult: null });
    },
    sendPush: async () => {
      const pv = get().pushPreview;
      const port = get().selectedPort;
      const d = get().pushDraft;
      if (!pv || !port) return;
      set({ pushing: true });
      const pushResult = await guard('send the push', () =>
        api['serial.pushSend']({ port, ...baud(), to: pv.to, sessionId: pv.sessionId, uiMode: d.uiMode, ref: pv.ref, ...(d.devId ? { devId: d.devId } : {}) }),
      );
      set({ pushing: false, pushResult: pushResult ?? null });
      if (pushResult) get().notify(pushResult.ok ? 'info' : 'error', pushResult.detail);
    },
    setBootstrapPushDraft: (p) => set({ bootstrapPushDraft: { ...get().bootstrapPushDraft, ...p }, bootstrapPushPreview: null, bootstrapPushResult: null }),
    previewBootstrapPush: async () => {
      const d = get().bootstrapPushDraft;
      let profile: Record<string, unknown>;
      if (d.source === 'json') {
        const j = parseProfileJson(d.profileJson);
        if (!j.ok) {
          get().notify('error', `preview the bootstrap push: ${j.error}`);
          return;
        }
        profile = j.profile;
      } else profile = draftToProfile(get().profileDraft);
      const port = get().selectedPort;
      const needsImsi = secNeedsImsi(d.sec);
      if (needsImsi && d.imsiFrom === 'port' && !port) {
        get().notify('error', 'preview the bootstrap push: imsi: choose a port to read it from');
        return;
      }
      const input = {
        to: d.to.trim(), profile, sec: d.sec,
        ...(needsImsi ? (d.imsiFrom === 'port' ? { imsiPort: port!, ...baud() } : { imsi: d.imsi.trim() }) : {}),
        ...(d.sec !== 'NETWPIN' ? { pin: d.pin.trim() } : {}),
        ...(d.sec === 'USERNETWPIN' ? { userNetwPinKey: d.userNetwPinKey } : {}),
      };
      const bootstrapPushPreview = await guard('preview the bootstrap push', () => api['serial.bootstrapPreview'](input));
      if (bootstrapPushPreview) set({ bootstrapPushPreview, bootstrapPushResult: null });
    },
    sendBootstrapPush: async () => {
      const pv = get().bootstrapPushPreview;
      const port = get().selectedPort;
      if (!pv || !port) return;
      set({ bootstrapPushing: true });
      const r = await guard('send the bootstrap push', () => api['serial.bootstrapSend']({ previewId: pv.previewId, port, ...baud() }));
      set({ bootstrapPushing: false, bootstrapPushResult: r ?? null });
      if (r) get().notify(r.ok ? 'info' : 'error', r.detail);
    },
  };
}

export function applySerialEvent(s: SerialSlice, name: EventName, payload: unknown): Partial<SerialSlice> | null {
  if (name !== 'serial.console') return null;
  const e = payload as EventPayload<'serial.console'>;
  const lines = e.lines.length ? [...s.consoleLines, ...e.lines].slice(-MAX_CONSOLE_LINES) : s.consoleLines;
  const patch: Partial<SerialSlice> = { consoleLines: lines };
  if (e.closed !== null && s.consoleState.port === e.port) patch.consoleState = { port: null, open: false, error: e.closed === 'closed' ? null : e.closed };
  return patch;
}
