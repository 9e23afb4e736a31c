/**
 * A private pcscd with the vpcd driver, for integration tests and the card benchmark.
 *
 * pcscd serves one socket per machine (/run/pcscd/pcscd.comm), so only one can run; we refuse to
 * start when another is up rather than fight it. The vpcd driver is found in the system's
 * /etc/reader.conf.d (Debian's vsmartcard-vpcd: `LIBPATH .../libifdvpcd.so`, `DEVICENAME
 * /dev/null:0x8C7B` = listen on port 35963 for "Virtual PCD 00 00", 35964 for "00 01"); we write
 * our own reader.conf with a free port pair so a running `dmw card emulate` on 35963 is not touched,
 * and start `pcscd -f -c <our conf dir>`. `stop()` ends it and waits; an exit hook kills it if the
 * test process dies first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SYSTEM_READER_CONF_DIR = '/etc/reader.conf.d';
export const PCSCD_PID_FILE = '/run/pcscd/pcscd.pid';

export class HarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarnessError';
  }
}

/** The vpcd driver library named in the system reader.conf.d, if installed. */
export function findVpcdDriver(dir = SYSTEM_READER_CONF_DIR): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*LIBPATH\s+(\S*vpcd\S*)/.exec(line);
      if (m && existsSync(m[1]!)) return m[1]!;
    }
  }
  for (const p of ['/usr/lib/pcsc/drivers/serial/libifdvpcd.so', '/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so']) if (existsSync(p)) return p;
  return undefined;
}

/** pid of a running pcscd (from its pid file), if one runs. */
export function runningPcscd(): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(PCSCD_PID_FILE, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // A zombie still answers kill(0): check it is not one.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** Whether something LISTENs on `port` (Linux /proc/net/tcp{,6}): no connection, so vpcd sees no card. */
export function isListening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

export interface PcscdHarness {
  /** vpcd's port for "Virtual PCD 00 00" (the next one serves "00 01"). */
  port: number;
  readerName: string;
  pid: number;
  /** pcscd's output so far (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  port?: number;
  /** Log APDUs in pcscd's output (-a). */
  apduLog?: boolean;
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

export async function startPcscd(opts: HarnessOptions = {}): Promise<PcscdHarness> {
  const other = runningPcscd();
  if (other !== undefined) throw new HarnessError(`another pcscd (pid ${other}) is running; only one can serve /run/pcscd/pcscd.comm: stop it first`);
  const driver = findVpcdDriver();
  if (!driver) throw new HarnessError(`the vpcd driver is not installed (no LIBPATH ...vpcd... in ${SYSTEM_READER_CONF_DIR}): apt-get install vsmartcard-vpcd`);
  let port = opts.port;
  if (port === undefined) {
    for (let i = 0; i < 20 && port === undefined; i++) {
      const p = await freePort();
      if (p < 65535 && (await portFree(p + 1))) port = p;
    }
    if (port === undefined) throw new HarnessError('no free TCP port pair for vpcd');
  }
  const dir = mkdtempSync(join(tmpdir(), 'dmw-pcscd-'));
  const hexPort = `0x${port.toString(16).toUpperCase()}`;
  writeFileSync(join(dir, 'vpcd'), `FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:${hexPort}\nLIBPATH      ${driver}\nCHANNELID    ${hexPort}\n`);
  const args = ['-f', '-c', dir, ...(opts.apduLog ? ['-a'] : [])];
  const child = spawn('pcscd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  hookExit();
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code) => {
      exited = code;
      live.delete(child);
      resolve();
    });
  });
  child.on('error', (e) => {
    out += `spawn error: ${e.message}\n`;
  });
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (!isListening(port)) {
    if (exited !== undefined) {
      await stop();
      throw new HarnessError(`pcscd exited (status ${exited}) before vpcd listened on ${port}:\n${out.trim()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new HarnessError(`vpcd did not listen on port ${port} within ${opts.startTimeoutMs ?? 10_000} ms:\n${out.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, readerName: 'Virtual PCD 00 00', pid: child.pid!, log: () => out, stop };
}
