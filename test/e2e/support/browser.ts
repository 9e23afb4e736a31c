/**
 * Debian Chromium through playwright-core, and the `npm run serve` process the e2e tests drive.
 * In CI a missing Chromium fails the suite; locally the suite is skipped with the reason printed.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const p = execSync(`command -v ${name}`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
      if (p) return p;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** undefined: run; a string: why the suite is skipped (never in CI, where it must run). */
export function e2eSkipReason(): string | undefined {
  if (findChromium()) return undefined;
  const why = 'Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)';
  if (process.env.CI) throw new Error(`e2e: ${why}; CI must run the browser tests`);
  process.stdout.write(`e2e skipped: ${why}\n`);
  return why;
}

export async function launchBrowser(): Promise<BrowserContext> {
  const executablePath = findChromium()!;
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'dmw-chromium-'));
  return chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 } });
}

export interface Served {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** `npm run serve -- --demo --port 0 ...`, resolved when it prints its URL. */
export function serve(args: string[], cwd: string, timeoutMs = 90_000): Promise<Served> {
  const proc = spawn('npm', ['run', 'serve', '--', '--port', '0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, DMW_DATA: '' } });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /DM Workbench UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m && !out.includes('demo:')) return;
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          proc,
          output: () => out,
          stop: () => new Promise<void>((res) => {
            if (proc.exitCode !== null) return res();
            proc.once('exit', () => res());
            try {
              process.kill(-proc.pid!, 'SIGTERM');
            } catch {
              res();
            }
          }),
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before printing its URL:\n${out}`));
    });
  });
}
