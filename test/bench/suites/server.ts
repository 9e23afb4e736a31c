/**
 * server: our DM server (in a child process, test/bench/server-child.ts) and N virtual handsets
 * (main/client, in this process) on loopback.
 *
 * Throughput: full sessions per second, each a real DM session in WBXML with MD5 client
 * authentication and MD5 server credentials, carrying one Get and one Replace job (queued through
 * the store between rounds, as `dmw job add` does; not timed). Beside it, in the same run, the
 * baseline: a bare node:http server answering POSTs of the same size with a fixed body, driven by
 * the same number of keep-alive clients. Target: (sessions/s x round trips per session) /
 * baseline req/s >= 0.5, i.e. a DM round trip costs at most twice a bare HTTP one.
 *
 * Memory: 10,000 registered devices, then 1,000 sessions open at once (each handset holds after
 * the server's package 2, its Get and Replace out, until all 1,000 are there). Target: the server
 * process's RSS < 1 GiB (read from /proc/<pid>/status: VmRSS at the hold, VmHWM for the peak).
 *
 *   npm run bench -- server [--handsets 32] [--concurrent 1000] [--devices 10000] [--min-millis N]
 *                           [--synchronous FULL|NORMAL] [--what-if no-store-writes]
 *
 * --synchronous NORMAL runs the server's store without its fsync of the WAL before answering (the
 * product default is FULL: nothing acknowledged is lost on power failure), to show how much of a
 * round trip is the disk.
 * --what-if no-store-writes is a diagnostic, not the product: the server's store writes are left
 * out (store-what-if.ts) to show the ratio's ceiling if durable persistence cost nothing. Its
 * ratio is printed, not judged, and the memory part is skipped.
 * DMW_BENCH_PROFILE=DIR writes a V8 CPU profile of the server child there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../fixtures.js';
import { fmtBytes, fmtInt, fmtNum, fmtRatio, table, verdictWord } from '../format.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';
import { HandsetPool, Transport, randomImeiDevId, type SessionOutcome } from '../../../main/client/index.js';
import type { ServerStore } from '../../../main/store/server-store.js';
import { DEVICE } from '../../../main/tree/tree.js';

export const RATIO_TARGET = 0.5;
export const RSS_TARGET_BYTES = 1024 ** 3;
/** Untimed load before each throughput figure (DM sessions and the bare baseline alike). */
const WARM_UP_MS = 2000;

const CHILD = join(REPO_ROOT, 'test', 'bench', 'server-child.ts');

interface Child {
  proc: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startChild(mode: 'dm' | 'bare', opts: object): Promise<Child> {
  // DMW_BENCH_PROFILE=DIR: a V8 CPU profile of each server child (node --cpu-prof) lands in DIR.
  const prof = process.env.DMW_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.DMW_BENCH_PROFILE] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', CHILD, mode, JSON.stringify(opts)], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`server child (${mode}) exited ${code}: ${err.trim()}`)));
  });
  const { url, pid } = JSON.parse(line) as { url: string; pid: number };
  return {
    proc, url, pid,
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
    }),
  };
}

function procStatus(pid: number, key: string): number | undefined {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU time of a process so far, ms (from /proc/<pid>/stat, clock ticks assumed 100/s). */
function procCpuMs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return undefined;
  }
}

function intArg(args: readonly string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number`);
  return n;
}

const CLIENT = { name: 'lab', secret: 'pw' };
const SERVER = { name: 'dmw', secret: 'srvpw' };

/** Handsets with an account for `url`, MD5 both ways, WBXML, and a leaf the Replace job writes. */
async function handsets(url: string, devIds: string[]): Promise<HandsetPool> {
  const pool = await HandsetPool.create({
    notify: false,
    template: {
      encoding: 'wbxml',
      accounts: () => [{ serverId: 'dmw', addr: url, clientCred: { type: 'DIGEST', ...CLIENT }, serverCred: { type: 'DIGEST', ...SERVER } }],
      setup: (tree) => {
        const r = tree.add(DEVICE, './Vendor/Mode', { format: 'chr', value: 'turbo', createParents: true, acl: 'Get=*&Replace=*' });
        if (!r.ok) throw new Error(r.message);
      },
    },
  });
  await pool.add(devIds.length, { devIds });
  return pool;
}

function queueJobs(store: ServerStore, devIds: readonly string[], round: number): void {
  const now = Date.now();
  store.tx(() => {
    for (const d of devIds) {
      store.addJob(d, { kind: 'get', uri: './DevInfo/Mod' }, now);
      store.addJob(d, { kind: 'replace', uri: './Vendor/Mode', value: `mode-${round}` }, now);
    }
  });
}

function check(outcomes: SessionOutcome[], what: string): void {
  const bad = outcomes.filter((o) => !o.ok || o.log.length !== 2 || o.log.some((e) => e.status !== 200));
  if (bad.length > 0) throw new Error(`${bad.length} of ${outcomes.length} ${what} sessions went wrong, e.g. ${bad[0]!.devId}: ${bad[0]!.error ?? JSON.stringify(bad[0]!.log)}`);
}

export const suite: BenchSuite = {
  name: 'server',
  description: 'DM server + virtual handsets on loopback: sessions/s vs bare HTTP; RSS with 10k devices and 1,000 open sessions',
  async run(ctx: BenchContext): Promise<Verdict[]> {
    const nHandsets = intArg(ctx.args, '--handsets', 32);
    const nConcurrent = intArg(ctx.args, '--concurrent', 1000);
    const nDevices = Math.max(intArg(ctx.args, '--devices', 10_000), nConcurrent, nHandsets);
    const si = ctx.args.indexOf('--synchronous');
    const synchronous = si < 0 ? 'FULL' : String(ctx.args[si + 1]).toUpperCase();
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new Error('--synchronous must be FULL or NORMAL');
    const wi = ctx.args.indexOf('--what-if');
    const whatIf = wi < 0 ? undefined : String(ctx.args[wi + 1]);
    if (whatIf !== undefined && whatIf !== 'no-store-writes') throw new Error('--what-if must be no-store-writes');
    const dataDir = mkdtempSync(join(tmpdir(), 'dmw-bench-server-'));
    const cleanup: Array<() => Promise<unknown> | unknown> = [() => rmSync(dataDir, { recursive: true, force: true })];
    const verdicts: Verdict[] = [];
    ctx.log(`server: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), Node ${process.version}; data folder ${dataDir} (SQLite WAL, synchronous=${synchronous})`);
    if (whatIf) ctx.log(`  WHAT-IF no-store-writes: a diagnostic, not the product. The server's store writes are left out (test/bench/store-what-if.ts); the ratio is printed, not judged`);
    try {
      const dm = await startChild('dm', {
        dataDir, clientAuth: 'md5', defaultClientCred: CLIENT, serverCred: SERVER, serverAuth: 'md5',
        limits: { maxSessions: nConcurrent + 100, sessionTimeoutMs: 600_000 }, ...(synchronous === 'NORMAL' ? { store: { synchronous } } : {}),
        ...(whatIf ? { whatIf } : {}),
      });
      cleanup.unshift(() => dm.stop());
      const { ServerStore } = await import('../../../main/store/server-store.js');
      const store = ServerStore.open(dataDir);
      cleanup.unshift(() => store.close());

      // --- registered devices ------------------------------------------------------------------
      const taken = new Set<string>();
      const devIds: string[] = [];
      while (devIds.length < nDevices) {
        const d = randomImeiDevId(taken);
        taken.add(d);
        devIds.push(d);
      }
      store.tx(() => {
        const now = Date.now();
        for (const d of devIds) store.touchDevice(d, now);
      });
      const rssIdle = procStatus(dm.pid, 'VmRSS');

      // --- throughput --------------------------------------------------------------------------
      const tDevs = devIds.slice(0, nHandsets);
      const pool = await handsets(dm.url, tDevs);
      cleanup.unshift(() => pool.close());
      // Warm-up, untimed: the first round sets every device's nonces; the rest lets both processes'
      // JIT settle (a session runs far more code than a bare POST: one round left a 1 s run
      // measuring half-compiled code at twice the steady-state CPU per session).
      let round = 0;
      for (const w0 = performance.now(); round === 0 || performance.now() - w0 < WARM_UP_MS; round++) {
        queueJobs(store, tDevs, round);
        check(await pool.runAll({ concurrency: nHandsets }), 'warm-up');
      }
      let sessions = 0;
      let roundTrips = 0;
      let timed = 0;
      let bytes = 0;
      const off = pool.events.on((e) => {
        if (e.type === 'message') bytes += e.bytes.length;
      });
      let serverCpu = 0;
      let clientCpu = 0;
      for (const first = round; timed < ctx.minMillis || round < first + 2; round++) {
        queueJobs(store, tDevs, round);
        const s0 = procCpuMs(dm.pid) ?? NaN;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const out = await pool.runAll({ concurrency: nHandsets });
        timed += performance.now() - t0;
        const c1 = process.cpuUsage(c0);
        clientCpu += (c1.user + c1.system) / 1000;
        serverCpu += (procCpuMs(dm.pid) ?? NaN) - s0;
        check(out, `round ${round}`);
        sessions += out.length;
        for (const o of out) roundTrips += o.roundTrips;
      }
      off();
      const sessionsPerS = sessions / (timed / 1000);
      const rtPerSession = roundTrips / sessions;
      const avgMsg = bytes / (roundTrips * 2);

      // --- baseline: bare node:http, same clients, same concurrency, same body size ------------
      const bare = await startChild('bare', { responseBytes: Math.round(avgMsg) });
      cleanup.unshift(() => bare.stop());
      const body = new Uint8Array(Math.round(avgMsg)).fill(0x61);
      const clients = Array.from({ length: nHandsets }, () => new Transport());
      cleanup.unshift(() => clients.forEach((c) => c.close()));
      const hammer = async (ms: number): Promise<number> => {
        let n = 0;
        const end = performance.now() + ms;
        await Promise.all(clients.map(async (c) => {
          while (performance.now() < end) {
            const r = await c.post(bare.url, body, { 'content-type': 'application/vnd.syncml.dm+wbxml' });
            if (r.status !== 200) throw new Error(`bare server answered ${r.status}`);
            n++;
          }
        }));
        return n;
      };
      await hammer(WARM_UP_MS);
      const bs0 = procCpuMs(bare.pid) ?? NaN;
      const bc0 = process.cpuUsage();
      const b0 = performance.now();
      const reqs = await hammer(Math.max(ctx.minMillis, 500));
      const baselineReqPerS = reqs / ((performance.now() - b0) / 1000);
      const bc1 = process.cpuUsage(bc0);
      const bareServerCpu = ((procCpuMs(bare.pid) ?? NaN) - bs0) / reqs;
      const bareClientCpu = (bc1.user + bc1.system) / 1000 / reqs;
      await bare.stop();
      const ratio = (sessionsPerS * rtPerSession) / baselineReqPerS;

      ctx.log(`  throughput: ${nHandsets} handsets at once, WBXML, MD5 both ways, Get + Replace job per session`);
      for (const line of table([
        ['', 'figure', ''],
        ['DM sessions', `${fmtNum(sessionsPerS)} /s`, `${fmtInt(sessions)} sessions in ${fmtNum(timed / 1000, 2)} s, ${fmtNum(rtPerSession, 2)} round trips each, ~${fmtInt(avgMsg)} B per message`],
        ['DM round trips', `${fmtNum(sessionsPerS * rtPerSession)} /s`, ''],
        ['CPU per session', `${fmtNum(serverCpu / sessions, 2)} ms`, `server process; the handsets (this process; queueing the jobs is not timed): ${fmtNum(clientCpu / sessions, 2)} ms`],
        ['bare node:http', `${fmtNum(baselineReqPerS)} req/s`, `${fmtInt(reqs)} POSTs of ${fmtInt(avgMsg)} B, ${nHandsets} keep-alive clients`],
        // Where a round trip's CPU goes, side by side: what the target asks of each process.
        ['CPU per round trip', `${fmtNum(serverCpu / roundTrips, 3)} ms`, `DM server vs ${fmtNum(bareServerCpu, 3)} ms bare server (${fmtNum(serverCpu / roundTrips / bareServerCpu, 1)}x); handsets ${fmtNum(clientCpu / roundTrips, 3)} ms vs ${fmtNum(bareClientCpu, 3)} ms bare clients (${fmtNum(clientCpu / roundTrips / bareClientCpu, 1)}x)`],
        ['ratio', fmtRatio(ratio), whatIf ? `what-if ${whatIf}: not judged` : `target >= ${RATIO_TARGET}: ${verdictWord(ratio >= RATIO_TARGET)}`],
      ], 'lrl')) ctx.log(line);
      if (whatIf) return verdicts;
      verdicts.push({ target: `server round trips/s >= ${RATIO_TARGET}x bare node:http req/s`, pass: ratio >= RATIO_TARGET, detail: `${fmtRatio(ratio)}: ${fmtNum(sessionsPerS)} sessions/s x ${fmtNum(rtPerSession, 2)} vs ${fmtNum(baselineReqPerS)} req/s` });
      await pool.close();

      // --- 1,000 sessions open at once --------------------------------------------------------
      const cDevs = devIds.slice(nHandsets, nHandsets + nConcurrent);
      const many = await handsets(dm.url, cDevs);
      cleanup.unshift(() => many.close());
      queueJobs(store, cDevs, 0);
      check(await many.runAll({ concurrency: 64 }), 'first contact'); // 401 + nonce, like a first session
      queueJobs(store, cDevs, 1);
      let waiting = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let allThere!: () => void;
      const there = new Promise<void>((r) => (allThere = r));
      const t0 = performance.now();
      const running = many.runAll({
        concurrency: nConcurrent,
        beforeSend: (_i, msg) => {
          if (msg.body.commands.some((c) => c.kind === 'Alert' && (c.data === '1201' || c.data === '1200'))) return;
          if (++waiting === nConcurrent) allThere();
          return gate;
        },
      });
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000).unref());
      if ((await Promise.race([there, timeout])) === 'timeout') throw new Error(`only ${waiting} of ${nConcurrent} sessions got their package 2 within 120 s`);
      const openMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      const rssHeld = procStatus(dm.pid, 'VmRSS');
      release();
      const out = await running;
      check(out, 'concurrent');
      const rssPeak = procStatus(dm.pid, 'VmHWM');
      const done = store.jobs({ status: 'done' }).length;

      ctx.log(`  memory: ${fmtInt(nDevices)} registered devices, ${fmtInt(nConcurrent)} sessions open at once (each with a Get and a Replace out)`);
      for (const line of table([
        ['', 'server RSS', ''],
        ['idle, devices registered', fmtBytes(rssIdle ?? NaN), ''],
        [`${fmtInt(nConcurrent)} sessions open`, fmtBytes(rssHeld ?? NaN), `all open after ${fmtNum(openMs / 1000, 2)} s`],
        ['peak (VmHWM)', fmtBytes(rssPeak ?? NaN), `target < ${fmtBytes(RSS_TARGET_BYTES)}: ${verdictWord(rssPeak === undefined ? undefined : rssPeak < RSS_TARGET_BYTES)}`],
        ['jobs done (whole run)', fmtInt(done), ''],
      ], 'lrl')) ctx.log(line);
      verdicts.push({
        target: `server RSS < 1 GiB with ${fmtInt(nDevices)} devices and ${fmtInt(nConcurrent)} concurrent sessions`,
        pass: rssPeak === undefined ? undefined : rssPeak < RSS_TARGET_BYTES,
        detail: rssPeak === undefined ? 'no /proc: RSS not measurable' : `peak ${fmtBytes(rssPeak)}, ${fmtBytes(rssHeld ?? NaN)} with all open`,
      });
      ctx.log('');
    } finally {
      for (const f of cleanup) {
        try {
          await f();
        } catch {
          // best effort
        }
      }
    }
    return verdicts;
  },
};
