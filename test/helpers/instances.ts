/**
 * Several `dmw server --store URL` processes on one database, for the multi-instance tests (issue
 * 16): each on its own free loopback port (`--port 0`, read back from its "listening on" line),
 * each with its own `--data` folder (the lab CA and other files; the sessions, jobs and messages
 * are in the database). kill9() is a crash (SIGKILL, no shutdown path runs), restart() starts the
 * same instance again on a new port, stopAll() ends whatever still runs.
 *
 * The child is node itself running main/cli/bin.mjs (never npx: a signal to npm would leave its
 * node child running and holding the port and the database connections).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN } from './dmw-servers.js';

export interface Instance {
  /** Its place in the fleet (0, 1, 2, …), kept across restarts. */
  index: number;
  child: ChildProcess;
  port: number;
  base: string;
  dataDir: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Fleet {
  readonly instances: Instance[];
  /** SIGKILL, then waits until the process is gone (bounded). */
  kill9(index: number): Promise<void>;
  /** Starts instance `index` again (same --data, new port) after it was killed or stopped. */
  restart(index: number): Promise<Instance>;
  /** Ends every instance still running (SIGTERM, then SIGKILL after a bound), removes the data folders. */
  stopAll(): Promise<void>;
  /** Everything every instance printed, labelled: for failure messages. */
  logs(): string;
}

export interface FleetOptions {
  storeUrl: string;
  count: number;
  /** More `dmw server` arguments (auth, limits, --api-token). */
  args?: string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 10_000;

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const instances: Instance[] = [];
  const all: Instance[] = [];
  const dataDirs: string[] = [];
  const start = async (index: number, dataDir: string): Promise<Instance> => {
    const child = spawn(process.execPath, [BIN, 'server', '--port', '0', '--host', '127.0.0.1', '--data', dataDir, '--store', o.storeUrl, ...(o.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const inst: Instance = { index, child, port: 0, base: '', dataDir, output: () => out, exited };
    all.push(inst);
    const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
    while (!/listening on /.test(out)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dmw server #${index} exited: ${out}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`dmw server #${index} did not start within ${o.startTimeoutMs ?? 30_000} ms: ${out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    inst.port = Number(/\(port (\d+),/.exec(out)![1]);
    inst.base = `http://127.0.0.1:${inst.port}`;
    instances[index] = inst;
    return inst;
  };

  const stop = async (inst: Instance, signal: NodeJS.Signals): Promise<void> => {
    if (inst.child.exitCode !== null || inst.child.signalCode !== null) return;
    inst.child.kill(signal);
    const timer = setTimeout(() => inst.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await inst.exited;
    clearTimeout(timer);
  };

  const fleet: Fleet = {
    instances,
    async kill9(index) {
      await stop(instances[index]!, 'SIGKILL');
    },
    async restart(index) {
      const old = instances[index]!;
      await stop(old, 'SIGTERM');
      return start(index, old.dataDir);
    },
    async stopAll() {
      await Promise.all(all.map((i) => stop(i, 'SIGTERM')));
      for (const d of dataDirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
    logs: () => all.map((i) => `--- instance #${i.index} (pid ${i.child.pid}) ---\n${i.output()}`).join('\n'),
  };
  try {
    // One after another: each start migrates (the advisory lock makes that once), and two cores are shared.
    for (let i = 0; i < o.count; i++) {
      const dir = mkdtempSync(path.join(tmpdir(), `dmw-inst${i}-`));
      dataDirs.push(dir);
      await start(i, dir);
    }
  } catch (e) {
    await fleet.stopAll();
    throw e;
  }
  return fleet;
}
