/**
 * The Electron shell: one window onto the built renderer, the backend in a utilityProcess, and an
 * IPC relay with one handler per contract channel. Thin on purpose: the backend (main/api) owns all
 * behaviour; this file validates senders and input, forwards, and restarts a backend that died.
 *
 * The Electron module is passed in, so tests run the shell under vitest with a fake.
 */
import type * as Electron from 'electron';
import { CHANNELS, IPC_EVENT, IPC_PREFIX } from '../api/channels.js';
import type { CallReply } from '../api/contract.js';
import { parseInput } from '../api/dispatch.js';
import { hardenContents, hardenSession, isTrustedSender } from './security.js';

export type ElectronApi = Pick<typeof Electron, 'app' | 'BrowserWindow' | 'ipcMain' | 'session' | 'utilityProcess' | 'Menu'>;

export interface ShellPaths {
  /** renderer/dist/index.html */
  indexHtml: string;
  /** The preload bundle (CommonJS, sandbox-safe). */
  preload: string;
  /** The backend bundle run in the utility process. */
  backend: string;
  /** The data folder handed to the backend. */
  dataDir: string;
}

/** Time a call may take before the UI is told the backend did not answer. */
export const BACKEND_CALL_TIMEOUT_MS = 120_000;

export interface Shell {
  window: Electron.BrowserWindow;
  appUrl: string;
  /** Sends a call to the backend (what every IPC handler does after its checks). */
  call(channel: string, input: unknown): Promise<CallReply>;
}

function fileUrl(p: string): string {
  const norm = p.replace(/\\/g, '/');
  return encodeURI(`file://${norm.startsWith('/') ? '' : '/'}${norm}`);
}

export async function startShell(electron: ElectronApi, paths: ShellPaths): Promise<Shell> {
  const { app, BrowserWindow, ipcMain, session, utilityProcess, Menu } = electron;
  const appUrl = fileUrl(paths.indexHtml);

  app.on('web-contents-created', (_e, contents) => hardenContents(contents, appUrl));
  await app.whenReady();
  hardenSession(session.defaultSession);
  Menu.setApplicationMenu(null);

  // --- the backend ----------------------------------------------------------------------------
  let child: Electron.UtilityProcess | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: CallReply) => void; timer: NodeJS.Timeout }>();
  let win: Electron.BrowserWindow | undefined;
  let quitting = false;
  let restarts = 0;

  const spawn = () => {
    const c = utilityProcess.fork(paths.backend, ['--data', paths.dataDir], { serviceName: 'DM Workbench backend', stdio: 'inherit' });
    child = c;
    c.on('message', (m: { t?: string; id?: number; reply?: CallReply; name?: string; payload?: unknown }) => {
      if (m.t === 'reply' && typeof m.id === 'number') {
        const p = pending.get(m.id);
        if (p && m.reply) {
          clearTimeout(p.timer);
          pending.delete(m.id);
          p.resolve(m.reply);
        }
      } else if (m.t === 'event' && typeof m.name === 'string' && win && !win.isDestroyed()) {
        win.webContents.send(IPC_EVENT, { name: m.name, payload: m.payload });
      }
    });
    c.on('exit', (code) => {
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.resolve({ ok: false, error: { code: 'transport', message: `the backend stopped (exit ${code}); restarting it` } });
        pending.delete(id);
      }
      if (quitting) return;
      // A native crash (card reader, serial port) takes the backend down, never the window.
      const delay = Math.min(10_000, 250 * 2 ** restarts++);
      setTimeout(spawn, delay);
    });
  };
  spawn();

  const call = (channel: string, input: unknown): Promise<CallReply> =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve({ ok: false, error: { code: 'transport', message: `${channel}: the backend did not answer in ${BACKEND_CALL_TIMEOUT_MS / 1000} s` } });
      }, BACKEND_CALL_TIMEOUT_MS);
      pending.set(id, { resolve, timer });
      child!.postMessage({ t: 'call', id, channel, input });
    });

  // --- IPC: one handler per channel; anything else has no handler at all ------------------------
  for (const channel of CHANNELS) {
    ipcMain.handle(`${IPC_PREFIX}${channel}`, async (event, input: unknown): Promise<CallReply> => {
      if (!isTrustedSender(event.senderFrame, appUrl)) {
        return { ok: false, error: { code: 'bad-channel', message: 'IPC refused: the sender is not the DM Workbench window' } };
      }
      const p = parseInput(channel, input);
      if (!p.ok) return p;
      return call(channel, p.value);
    });
  }

  app.on('before-quit', () => {
    quitting = true;
    child?.kill();
  });
  app.on('window-all-closed', () => app.quit());

  win = new BrowserWindow({
    width: 1440,
    height: 900,
    title: 'DM Workbench',
    show: false,
    backgroundColor: '#f6f7f9',
    // Spelled out here (not built elsewhere) so static checkers such as electronegativity see them.
    webPreferences: {
      preload: paths.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      disableBlinkFeatures: 'Auxclick',
    },
  });
  win.once('ready-to-show', () => win?.show());
  await win.loadFile(paths.indexHtml);
  return { window: win, appUrl, call };
}
