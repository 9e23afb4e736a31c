/**
 * The backend inside Electron's utilityProcess (no `electron` import: the parent port is on
 * `process.parentPort`). Calls arrive from the shell already sender-checked; they are validated again
 * here by dispatch(), like every call from any transport.
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '../api/backend.js';
import { dispatch } from '../api/dispatch.js';
import type { HandsetLoad, HandsetModule } from '../api/handsets.js';

interface ParentPort {
  on(event: 'message', fn: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

export async function runHost(handsetModule: Partial<HandsetModule> | undefined): Promise<void> {
  const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (!port) throw new Error('the backend host runs in an Electron utility process');
  const { values } = parseArgs({ args: process.argv.slice(2), options: { data: { type: 'string' } }, strict: false });
  const dataDir = typeof values.data === 'string' ? values.data : path.join(os.homedir(), '.dmw');
  const handsets: HandsetLoad = handsetModule && typeof handsetModule.createFleet === 'function'
    ? { ok: true, module: handsetModule as HandsetModule, provider: 'main/client' }
    : { ok: false, reason: 'Virtual handsets are not part of this build: the virtual DM client module (main/client) was missing when it was built.' };
  // A shared lab server's database (README, "A shared lab server"): the utility process inherits the app's environment.
  const storeUrl = process.env.DMW_STORE_URL || undefined;
  const backend = await Backend.create({ dataDir, handsets, startServer: true, ...(storeUrl ? { storeUrl } : {}) });
  backend.onEvent((name, payload) => port.postMessage({ t: 'event', name, payload }));
  port.on('message', (e) => {
    const m = e.data as { t?: unknown; id?: unknown; channel?: unknown; input?: unknown };
    if (m?.t !== 'call' || typeof m.id !== 'number') return;
    const id = m.id;
    void dispatch(backend.handlers, m.channel, m.input).then((reply) => port.postMessage({ t: 'reply', id, reply }));
  });
  process.on('SIGTERM', () => void backend.close().finally(() => process.exit(0)));
}
