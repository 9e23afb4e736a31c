/**
 * The Serial view's slice: the port list, the chosen port and its identity (AT), the raw console
 * (lines come as events), and a notification push: preview first, then send exactly that.
 */
import type { ConsoleState, DmwApi, EventName, EventPayload, HandsetIdentityView, PortsListing, PushPreview, PushResult } from '../../main/api/contract.js';

export type UiModeName = 'unspecified' | 'background' | 'informative' | 'interactive';

export interface PushDraft {
  to: string;
  devId: string;
  uiMode: UiModeName;
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
}

export const MAX_CONSOLE_LINES = 5000;

type Get = () => SerialSlice & { notify(kind: 'error' | 'info', text: string): void };
type Set = (p: Partial<SerialSlice>) => void;

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
    loadPorts: async () => {
      const ports = await guard('serial ports', () => api['serial.ports']({}));
      if (!ports) return;
      const patch: Partial<SerialSlice> = { ports };
      const sel = get().selectedPort;
      if (sel === null || !ports.ports.some((p) => p.path === sel)) patch.selectedPort = ports.ports[0]?.path ?? null;
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
