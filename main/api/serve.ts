/**
 * `npm run serve [-- --port N] [-- --demo] [--data DIR] [--store URL] [--dm-port N] [--handsets MODULE]`
 *
 * The desktop app's backend in a plain Node process, the UI in a browser over WebSocket. Binds to
 * 127.0.0.1 and prints the URL with a session token. `--demo` uses a fresh data folder, starts the
 * DM server on a free port and has three virtual handsets keep having sessions.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Backend } from './backend.js';
import { redact } from '../store/open.js';
import { DemoDriver } from './demo.js';
import { ensureRendererBuilt, RENDERER_DIST } from './ui-build.js';
import { startUiServer } from './ws-server.js';

const HELP = `usage: npm run serve -- [--port N] [--demo] [--data DIR] [--store URL] [--dm-port N] [--handsets MODULE] [--no-build]

  --port N          port of the UI (default 4780; 0 = any free port); always on 127.0.0.1
  --demo            fresh data folder, DM server on a free port, three virtual handsets having sessions
  --data DIR        data folder (default $DMW_DATA or ~/.dmw)
  --store URL       a shared lab server's database (postgres://USER@HOST:PORT/DB) instead of SQLite
                    in the data folder (default $DMW_STORE_URL)
  --dm-port N       port of the DM server (default: the saved setting, 8080; demo: any free port)
  --handsets FILE   module that provides virtual handsets (default main/client)
  --no-build        do not rebuild the UI even if its sources changed`;

function int(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`serve: ${flag} must be a port number (0-65535), got "${v}"\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      args: process.argv.slice(2).filter((a) => a !== '--'),
      options: {
        port: { type: 'string' }, demo: { type: 'boolean' }, data: { type: 'string' }, store: { type: 'string' }, 'dm-port': { type: 'string' },
        handsets: { type: 'string' }, 'no-build': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`serve: ${(e as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const demo = args.demo === true;
  const uiPort = int('--port', args.port) ?? 4780;
  const dmPort = int('--dm-port', args['dm-port']);
  const dataDir = args.data ?? (demo ? mkdtempSync(path.join(os.tmpdir(), 'dmw-demo-')) : process.env.DMW_DATA ?? path.join(os.homedir(), '.dmw'));

  if (!args['no-build']) await ensureRendererBuilt((l) => process.stdout.write(`${l}\n`));

  const settings = { ...(dmPort !== undefined ? { port: dmPort } : demo ? { port: 0 } : {}) };
  const storeUrl = args.store ?? (process.env.DMW_STORE_URL || undefined);
  let backend: Backend;
  try {
    backend = await Backend.create({ dataDir, settings, startServer: true, ...(storeUrl ? { storeUrl } : {}), ...(args.handsets ? { handsetModule: args.handsets } : {}) });
  } catch (e) {
    // A bad store URL or a database that is not there: openStore's message names the URL (password hidden).
    process.stderr.write(`serve: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const status = backend.status();
  const ui = await startUiServer({ backend, staticDir: RENDERER_DIST, port: uiPort });

  process.stdout.write(`DM Workbench UI: ${ui.urlWithToken}\n`);
  process.stdout.write(`  data folder: ${dataDir}\n`);
  if (storeUrl) process.stdout.write(`  store:       ${redact(storeUrl)}\n`);
  process.stdout.write(status.running ? `  DM server:   ${status.url}\n` : `  DM server:   not running (${status.error ?? 'stopped'})\n`);

  let driver: DemoDriver | undefined;
  if (demo) {
    const fleet = backend.handsetFleet;
    if (!fleet) {
      process.stdout.write(`  demo:        no virtual handsets: ${backend.handsetsStatus().reason}\n`);
    } else {
      driver = new DemoDriver(backend, fleet);
      await driver.start();
      process.stdout.write(`  demo:        ${fleet.list().length} virtual handsets (${backend.handsetsStatus().provider})\n`);
    }
  }

  let closing = false;
  const shutdown = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    driver?.stop();
    await ui.close();
    await backend.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

void main().catch((e: unknown) => {
  process.stderr.write(`serve: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
