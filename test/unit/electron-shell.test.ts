/**
 * The Electron shell under vitest with a fake `electron`: secure web preferences, one IPC handler
 * per contract channel and nothing else, foreign senders refused, navigation / new windows /
 * permissions denied, and calls relayed to the utility-process backend.
 */
import { EventEmitter } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, IPC_PREFIX } from '../../main/api/channels.js';
import type { CallReply } from '../../main/api/contract.js';
import { APP_CSP, isAppUrl } from '../../main/electron/security.js';
import { startShell, type ElectronApi } from '../../main/electron/shell.js';

type Handler = (event: { senderFrame: { url: string; parent: unknown } | null }, input: unknown) => Promise<CallReply>;

function fakeElectron() {
  const handlers = new Map<string, Handler>();
  const app = Object.assign(new EventEmitter(), { whenReady: async () => undefined, quit: () => undefined, getPath: () => '/tmp' });
  const contentsList: (EventEmitter & { openHandler?: () => { action: string }; setWindowOpenHandler(fn: () => { action: string }): void; send(ch: string, m: unknown): void; sent: unknown[] })[] = [];
  const makeContents = () => {
    const c = Object.assign(new EventEmitter(), {
      sent: [] as unknown[],
      openHandler: undefined as undefined | (() => { action: string }),
      setWindowOpenHandler(fn: () => { action: string }) { c.openHandler = fn; },
      send(_ch: string, m: unknown) { c.sent.push(m); },
    });
    contentsList.push(c);
    app.emit('web-contents-created', {}, c);
    return c;
  };
  const windows: { options: { webPreferences: Record<string, unknown> }; loaded?: string }[] = [];
  class BrowserWindow extends EventEmitter {
    webContents = makeContents();
    loaded: string | undefined;
    constructor(readonly options: { webPreferences: Record<string, unknown> }) {
      super();
      windows.push(this);
    }
    async loadFile(f: string) { this.loaded = f; }
    isDestroyed() { return false; }
    show() {}
  }
  const perms: { request?: (wc: unknown, p: string, cb: (ok: boolean) => void) => void; check?: () => boolean; headers?: (d: { responseHeaders: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void } = {};
  const session = {
    defaultSession: {
      setPermissionRequestHandler: (fn: typeof perms.request) => (perms.request = fn),
      setPermissionCheckHandler: (fn: typeof perms.check) => (perms.check = fn),
      webRequest: { onHeadersReceived: (fn: typeof perms.headers) => (perms.headers = fn) },
    },
  };
  const forks: (EventEmitter & { path: string; args: string[]; posted: unknown[] })[] = [];
  const utilityProcess = {
    fork(path: string, args: string[]) {
      const child = Object.assign(new EventEmitter(), {
        posted: [] as unknown[],
        postMessage(m: { t: string; id: number; channel: string; input: unknown }) {
          child.posted.push(m);
          // The fake backend answers every call with what it was asked.
          setImmediate(() => child.emit('message', { t: 'reply', id: m.id, reply: { ok: true, value: { echo: m.channel, input: m.input } } }));
        },
        kill() {},
        path,
        args,
      });
      forks.push(child);
      return child;
    },
  };
  const ipcMain = { handle: (ch: string, fn: Handler) => handlers.set(ch, fn) };
  const Menu = { setApplicationMenu: () => undefined };
  const electron = { app, BrowserWindow, ipcMain, session, utilityProcess, Menu } as unknown as ElectronApi;
  return { electron, handlers, windows, contentsList, perms, forks };
}

describe('Electron shell', () => {
  const f = fakeElectron();
  let appUrl: string;
  beforeAll(async () => {
    const shell = await startShell(f.electron, { indexHtml: '/opt/dmw/renderer/dist/index.html', preload: '/opt/dmw/preload.cjs', backend: '/opt/dmw/backend.cjs', dataDir: '/tmp/dmw-data' });
    appUrl = shell.appUrl;
  });

  it('opens the window with secure web preferences', () => {
    const wp = f.windows[0]!.options.webPreferences;
    expect(wp).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, preload: '/opt/dmw/preload.cjs' });
    expect(appUrl).toBe('file:///opt/dmw/renderer/dist/index.html');
  });

  it('registers a handler for every contract channel, and for nothing else', () => {
    expect([...f.handlers.keys()].sort()).toEqual(CHANNELS.map((c) => `${IPC_PREFIX}${c}`).sort());
  });

  it('runs the backend in a utility process with the data folder', () => {
    expect(f.forks).toHaveLength(1);
    expect(f.forks[0]).toMatchObject({ path: '/opt/dmw/backend.cjs', args: ['--data', '/tmp/dmw-data'] });
  });

  it('relays a call from the app window to the backend', async () => {
    const r = await f.handlers.get(`${IPC_PREFIX}sessions.get`)!({ senderFrame: { url: appUrl, parent: null } }, { id: 3 });
    expect(r).toEqual({ ok: true, value: { echo: 'sessions.get', input: { id: 3 } } });
  });

  it('refuses foreign senders: another page, a subframe, no frame', async () => {
    const h = f.handlers.get(`${IPC_PREFIX}server.stop`)!;
    const before = f.forks[0]!.posted.length;
    for (const frame of [{ url: 'https://evil.example/', parent: null }, { url: appUrl, parent: {} }, null, { url: 'file:///tmp/other.html', parent: null }]) {
      const r = await h({ senderFrame: frame }, {});
      expect(r).toMatchObject({ ok: false, error: { code: 'bad-channel' } });
    }
    expect(f.forks[0]!.posted.length).toBe(before);
  });

  it('validates input before it crosses to the backend', async () => {
    const r = await f.handlers.get(`${IPC_PREFIX}jobs.add`)!({ senderFrame: { url: appUrl, parent: null } }, { device: 'x', spec: { kind: 'format-c' } });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });

  it('blocks navigation, redirects, webviews and new windows', () => {
    const c = f.contentsList[0]!;
    const prevented = (event: string, url: string) => {
      let stopped = false;
      c.emit(event, { preventDefault: () => (stopped = true) }, url);
      return stopped;
    };
    expect(prevented('will-navigate', 'https://evil.example/')).toBe(true);
    expect(prevented('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(prevented('will-redirect', 'https://evil.example/')).toBe(true);
    expect(prevented('will-navigate', `${appUrl}#sessions`)).toBe(false);
    expect(prevented('will-attach-webview', 'x')).toBe(true);
    expect(c.openHandler!()).toEqual({ action: 'deny' });
  });

  it('denies every permission request and sets a strict CSP', () => {
    let granted: boolean | undefined;
    f.perms.request!({}, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(f.perms.check!()).toBe(false);
    let headers: Record<string, string[]> = {};
    f.perms.headers!({ responseHeaders: {} }, (r) => (headers = r.responseHeaders));
    expect(headers['Content-Security-Policy']).toEqual([APP_CSP]);
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toContain('unsafe');
  });

  it('matches the app URL exactly', () => {
    expect(isAppUrl('file:///opt/dmw/renderer/dist/index.html?x#y', appUrl)).toBe(true);
    expect(isAppUrl('file:///opt/dmw/renderer/dist/other.html', appUrl)).toBe(false);
    expect(isAppUrl('not a url', appUrl)).toBe(false);
  });

  it('forwards backend events to the window', () => {
    f.forks[0]!.emit('message', { t: 'event', name: 'server.status', payload: { running: true } });
    expect(f.contentsList[0]!.sent.at(-1)).toEqual({ name: 'server.status', payload: { running: true } });
  });
});
