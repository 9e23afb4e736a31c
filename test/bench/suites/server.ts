/**
 * server: our DM server (in a child process, test/bench/server-child.ts) and N virtual handsets
 * (main/client, in this process) on loopback.
 *
 * CPU per round trip: full sessions, each a real DM session in WBXML with MD5 client
 * authentication and MD5 server credentials, carrying one Get and one Replace job (queued through
 * the store between rounds, as `dmw job add` does; not timed). Beside it the baseline: a bare
 * node:http server answering POSTs of the same size with a fixed body, driven by the same number
 * of keep-alive clients. `--rounds N` (default 5) rounds, each a DM run and a bare run in an order
 * that alternates; per round, the ratios of CPU per round trip (server child vs bare server child;
 * handsets in this process vs bare clients in this process), then their median and range.
 * Targets (issue 17): server <= 4x, handsets <= 2.5x. `--json` ends the output with one JSON line.
 *
 * Memory: 10,000 registered devices, then 1,000 sessions open at once (each handset holds after
 * the server's package 2, its Get and Replace out, until all 1,000 are there). Target: the server
 * process's RSS < 1 GiB (read from /proc/<pid>/status: VmRSS at the hold, VmHWM for the peak).
 *
 *   npm run bench -- server [--rounds 5] [--json] [--no-memory] [--paced-baseline] [--handsets 32] [--concurrent 1000] [--devices 10000] [--min-millis N]
 *                           [--synchronous FULL|NORMAL] [--what-if no-store-writes|floor|floor+index] [--server-root DIR]
 *   npm run bench -- server --store postgres [...]   (server-postgres.ts: PostgreSQL, 1, 2 and 4 instances, beside SQLite)
 *
 * --synchronous NORMAL runs the server's store without its fsync of the WAL before answering (the
 * product default is FULL: nothing acknowledged is lost on power failure), to show how much of a
 * round trip is the disk.
 * --what-if no-store-writes is a diagnostic, not the product: the server's store writes are left
 * out (store-what-if.ts) to show the ratio's ceiling if durable persistence cost nothing. Its
 * ratio is printed, not judged, and the memory part is skipped.
 * --what-if floor, also a diagnostic: a minimal server that does only what these sessions cannot do
 * without (floor-server.ts: HTTP, decode, MD5 both ways, encode, the durable writes) stands in for
 * ours, to show whether the target is within reach of any design on this machine; floor+index
 * adds the product's message index (batched off the answer's path, as the product does).
 * --paced-baseline adds, per round, a bare run paced to the DM run's round trips per second (not
 * judged): the CPU per request of a server as idle as ours, which pays for its wake-ups alone.
 * DMW_BENCH_PROFILE=DIR writes a V8 CPU profile of the server child there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../fixtures.js';
import { fmtBytes, fmtInt, fmtNum, fmtRatio, table, verdictWord } from '../format.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';
import { intArg, printJsonLast } from '../suite.js';
import { spreadOf, type Spread } from './codec.js';
import { HandsetPool, Transport, randomImeiDevId, type SessionOutcome } from '../../../main/client/index.js';
import type { ServerStore } from '../../../main/store/server-store.js';
import { DEVICE } from '../../../main/tree/tree.js';

/** Server CPU per DM round trip against the bare node:http server's CPU per request (issue 17). */
export const SERVER_CPU_TARGET = 4;
/** The handsets' CPU per DM round trip against the bare clients' CPU per request (issue 17). */
export const HANDSET_CPU_TARGET = 2.5;
const DEFAULT_ROUNDS = 5;
export const RSS_TARGET_BYTES = 1024 ** 3;
/** How long the memory part waits for its 1,000 sessions to reach the hold (and for any one answer). */
const HOLD_TIMEOUT_MS = 120_000;
/** Untimed load before each throughput figure (DM sessions and the bare baseline alike). */
const WARM_UP_MS = 2000;

const CHILD = join(REPO_ROOT, 'test', 'bench', 'server-child.ts');

export interface Child {
  proc: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `root`: the checkout whose server runs (another one's, to hold the server still while the handsets change). */
export async function startServerChild(mode: 'dm' | 'bare', opts: object, root = REPO_ROOT): Promise<Child> {
  // DMW_BENCH_PROFILE=DIR: a V8 CPU profile of each server child (node --cpu-prof) lands in DIR.
  const prof = process.env.DMW_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.DMW_BENCH_PROFILE] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', root === REPO_ROOT ? CHILD : join(root, 'test', 'bench', 'server-child.ts'), mode, JSON.stringify(opts)], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
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

export interface DmRun { sessions: number; roundTrips: number; ms: number; serverCpuMs: number; clientCpuMs: number }
export interface BareRun { requests: number; ms: number; serverCpuMs: number; clientCpuMs: number }
export interface RoundFigures {
  sessionsPerS: number; rtPerSession: number; serverCpuMsPerRt: number; handsetCpuMsPerRt: number;
  bareReqPerS: number; bareCpuMsPerReq: number; bareClientCpuMsPerReq: number;
  serverRatio: number; handsetRatio: number; throughputRatio: number;
}

/** One round's figures: a DM run and a bare run made seconds apart, so their ratios share the machine's phase. */
export function roundFigures(d: DmRun, b: BareRun): RoundFigures {
  const serverCpuMsPerRt = d.serverCpuMs / d.roundTrips;
  const handsetCpuMsPerRt = d.clientCpuMs / d.roundTrips;
  const bareCpuMsPerReq = b.serverCpuMs / b.requests;
  const bareClientCpuMsPerReq = b.clientCpuMs / b.requests;
  const bareReqPerS = b.requests / (b.ms / 1000);
  return {
    sessionsPerS: d.sessions / (d.ms / 1000), rtPerSession: d.roundTrips / d.sessions, serverCpuMsPerRt, handsetCpuMsPerRt,
    bareReqPerS, bareCpuMsPerReq, bareClientCpuMsPerReq,
    serverRatio: serverCpuMsPerRt / bareCpuMsPerReq, handsetRatio: handsetCpuMsPerRt / bareClientCpuMsPerReq,
    throughputRatio: d.roundTrips / (d.ms / 1000) / bareReqPerS,
  };
}

/**
 * The `--json` line's content: per figure the median over the rounds and its range (`NAME_min`,
 * `NAME_max`), rounded to 3 decimals. Scripts compare runs by these names: extend, never rename.
 */
export function serverJson(figures: readonly RoundFigures[], o: {
  handsets: number; synchronous: string; whatIf?: string; messageBytes: number; loadBefore: readonly number[]; loadAfter: readonly number[];
  paced?: { serverCpuMs: readonly number[]; clientCpuMs: readonly number[] };
}): Record<string, unknown> {
  const r3 = (n: number): number => Math.round(n * 1000) / 1000;
  const json: Record<string, unknown> = { suite: 'server', rounds: figures.length, basis: 'cpu', handsets: o.handsets, synchronous: o.synchronous, ...(o.whatIf ? { what_if: o.whatIf } : {}) };
  const put = (key: string, values: readonly number[]): void => {
    const sp = spreadOf(values);
    json[key] = r3(sp.median);
    json[`${key}_min`] = r3(sp.min);
    json[`${key}_max`] = r3(sp.max);
  };
  const of = (k: keyof RoundFigures) => figures.map((f) => f[k]);
  put('sessions_per_s', of('sessionsPerS'));
  put('server_cpu_ms_per_roundtrip', of('serverCpuMsPerRt'));
  put('bare_cpu_ms_per_request', of('bareCpuMsPerReq'));
  put('server_cpu_ratio', of('serverRatio'));
  put('handset_cpu_ms_per_roundtrip', of('handsetCpuMsPerRt'));
  put('bare_client_cpu_ms_per_request', of('bareClientCpuMsPerReq'));
  put('handset_cpu_ratio', of('handsetRatio'));
  put('roundtrips_per_session', of('rtPerSession'));
  put('bare_req_per_s', of('bareReqPerS'));
  if (o.paced) {
    put('bare_paced_cpu_ms_per_request', o.paced.serverCpuMs);
    put('bare_paced_client_cpu_ms_per_request', o.paced.clientCpuMs);
  }
  json.message_bytes = Math.round(o.messageBytes);
  json.loadavg_before = o.loadBefore.map(r3);
  json.loadavg_after = o.loadAfter.map(r3);
  json.targets = { server_cpu_ratio: SERVER_CPU_TARGET, handset_cpu_ratio: HANDSET_CPU_TARGET };
  return json;
}

export const BENCH_CLIENT = { name: 'lab', secret: 'pw' };
export const BENCH_SERVER = { name: 'dmw', secret: 'srvpw' };
const CLIENT = BENCH_CLIENT;
const SERVER = BENCH_SERVER;

/** Handsets with an account for `url`, MD5 both ways, WBXML, and a leaf the Replace job writes. */
export async function benchHandsets(url: string, devIds: string[], requestTimeoutMs?: number): Promise<HandsetPool> {
  const pool = await HandsetPool.create({
    notify: false,
    template: {
      encoding: 'wbxml',
      ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
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

export function queueBenchJobs(store: ServerStore, devIds: readonly string[], round: number): void {
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
    // --store postgres: the shared lab server (1, 2, 4 instances) beside SQLite, in server-postgres.ts.
    const storeAt = ctx.args.indexOf('--store');
    if (storeAt >= 0) {
      if (ctx.args[storeAt + 1] !== 'postgres') throw new Error(`--store takes postgres, got ${String(ctx.args[storeAt + 1])}`);
      return (await import('./server-postgres.js')).runServerPostgres(ctx);
    }
    const nHandsets = intArg(ctx.args, '--handsets', 32);
    const rounds = intArg(ctx.args, '--rounds', DEFAULT_ROUNDS);
    const nConcurrent = intArg(ctx.args, '--concurrent', 1000);
    const nDevices = Math.max(intArg(ctx.args, '--devices', 10_000), nConcurrent, nHandsets);
    const si = ctx.args.indexOf('--synchronous');
    const synchronous = si < 0 ? 'FULL' : String(ctx.args[si + 1]).toUpperCase();
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new Error('--synchronous must be FULL or NORMAL');
    const wi = ctx.args.indexOf('--what-if');
    const whatIf = wi < 0 ? undefined : String(ctx.args[wi + 1]);
    if (whatIf !== undefined && !['no-store-writes', 'floor', 'floor+index'].includes(whatIf)) throw new Error(`--what-if must be no-store-writes, floor or floor+index, got ${whatIf}`);
    // --server-root DIR: the DM server (and the store the jobs are queued in) of another checkout,
    // e.g. a worktree at an older commit, so that handset changes are measured against one server.
    const ri = ctx.args.indexOf('--server-root');
    const serverRoot = ri < 0 ? REPO_ROOT : String(ctx.args[ri + 1]);
    const dataDir = mkdtempSync(join(tmpdir(), 'dmw-bench-server-'));
    const cleanup: Array<() => Promise<unknown> | unknown> = [() => rmSync(dataDir, { recursive: true, force: true })];
    const verdicts: Verdict[] = [];
    ctx.log(`server: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), Node ${process.version}; data folder ${dataDir} (SQLite WAL, synchronous=${synchronous})`);
    if (whatIf === 'no-store-writes') ctx.log(`  WHAT-IF no-store-writes: a diagnostic, not the product. The server's store writes are left out (test/bench/store-what-if.ts); the ratio is printed, not judged`);
    if (whatIf?.startsWith('floor')) ctx.log(`  WHAT-IF ${whatIf}: a diagnostic, not the product. A minimal server doing only what these sessions cannot do without${whatIf === 'floor+index' ? ', plus the message index' : ''} (test/bench/floor-server.ts) stands in for ours; the ratio is printed, not judged`);
    try {
      const dm = await startServerChild('dm', {
        dataDir, clientAuth: 'md5', defaultClientCred: CLIENT, serverCred: SERVER, serverAuth: 'md5',
        // The pre-authentication limits sized for the bench's handsets, all from 127.0.0.1 (a first
        // session opens unauthenticated: MD5 needs the server's nonce first).
        limits: { maxSessions: nConcurrent + 100, maxPreAuthSessions: nConcurrent + 100, maxPreAuthSessionsPerAddress: nConcurrent + 100, sessionTimeoutMs: 600_000 }, ...(synchronous === 'NORMAL' ? { store: { synchronous } } : {}),
        ...(whatIf ? { whatIf } : {}),
      }, serverRoot);
      cleanup.unshift(() => dm.stop());
      const { ServerStore } = (await import(serverRoot === REPO_ROOT ? '../../../main/store/server-store.js' : pathToFileURL(join(serverRoot, 'main', 'store', 'server-store.ts')).href)) as typeof import('../../../main/store/server-store.js');
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

      // --- throughput, in alternating rounds ---------------------------------------------------
      const tDevs = devIds.slice(0, nHandsets);
      const pool = await benchHandsets(dm.url, tDevs);
      cleanup.unshift(() => pool.close());
      let bytes = 0;
      let messages = 0;
      const off = pool.events.on((e) => {
        if (e.type === 'message') {
          bytes += e.bytes.length;
          messages++;
        }
      });
      cleanup.unshift(off);
      // Warm-up, untimed: the first round sets every device's nonces; the rest lets both processes'
      // JIT settle (a session runs far more code than a bare POST: one round left a 1 s run
      // measuring half-compiled code at twice the steady-state CPU per session).
      let jobRound = 0;
      for (const w0 = performance.now(); jobRound === 0 || performance.now() - w0 < WARM_UP_MS; jobRound++) {
        queueBenchJobs(store, tDevs, jobRound);
        check(await pool.runAll({ concurrency: nHandsets }), 'warm-up');
      }
      const avgMsg = bytes / messages;
      // The message sizes were all this listener was for: the timed runs have none, so the handsets
      // build no events for the pool (the bench's own listener is not handset work).
      off();

      // The baseline: bare node:http, same clients, same concurrency, same body size.
      const bare = await startServerChild('bare', { responseBytes: Math.round(avgMsg) });
      cleanup.unshift(() => bare.stop());
      const body = new Uint8Array(Math.round(avgMsg)).fill(0x61);
      const clients = Array.from({ length: nHandsets }, () => new Transport());
      cleanup.unshift(() => clients.forEach((c) => c.close()));
      /** As fast as the server answers, or (`perSecond`) paced to that many requests a second in all. */
      const hammer = async (ms: number, perSecond?: number): Promise<number> => {
        let n = 0;
        const start = performance.now();
        const end = start + ms;
        const gap = perSecond ? (1000 * clients.length) / perSecond : 0;
        await Promise.all(clients.map(async (c, i) => {
          for (let due = start + (gap * i) / clients.length; performance.now() < end; due += gap) {
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const r = await c.post(bare.url, body, { 'content-type': 'application/vnd.syncml.dm+wbxml' });
            if (r.status !== 200) throw new Error(`bare server answered ${r.status}`);
            n++;
          }
        }));
        return n;
      };
      await hammer(WARM_UP_MS);

      const runDm = async (): Promise<DmRun> => {
        const r: DmRun = { sessions: 0, roundTrips: 0, ms: 0, serverCpuMs: 0, clientCpuMs: 0 };
        while (r.ms < ctx.minMillis || r.sessions < 2 * nHandsets) {
          queueBenchJobs(store, tDevs, jobRound++);
          const s0 = procCpuMs(dm.pid) ?? NaN;
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const out = await pool.runAll({ concurrency: nHandsets });
          r.ms += performance.now() - t0;
          const c1 = process.cpuUsage(c0);
          r.clientCpuMs += (c1.user + c1.system) / 1000;
          r.serverCpuMs += (procCpuMs(dm.pid) ?? NaN) - s0;
          check(out, `round ${jobRound}`);
          r.sessions += out.length;
          for (const o of out) r.roundTrips += o.roundTrips;
        }
        return r;
      };
      const runBare = async (perSecond?: number): Promise<BareRun> => {
        const s0 = procCpuMs(bare.pid) ?? NaN;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const requests = await hammer(Math.max(ctx.minMillis, 500), perSecond);
        const ms = performance.now() - t0;
        const c1 = process.cpuUsage(c0);
        return { requests, ms, serverCpuMs: (procCpuMs(bare.pid) ?? NaN) - s0, clientCpuMs: (c1.user + c1.system) / 1000 };
      };

      const paced = ctx.args.includes('--paced-baseline');
      const pacedCpu: number[] = [];
      const pacedClientCpu: number[] = [];
      const load0 = loadavg();
      const figures: RoundFigures[] = [];
      // With DMW_BENCH_PROFILE, the timed DM runs' windows (monotonic microseconds, the clock of V8's
      // profiles) go to phases.json there, so a profile of this process can be cut to the handsets' part.
      const windows: { phase: 'dm' | 'bare'; start: number; end: number }[] = [];
      const timedRun = async <T>(phase: 'dm' | 'bare', f: () => Promise<T>): Promise<T> => {
        const start = Number(process.hrtime.bigint() / 1000n);
        const v = await f();
        windows.push({ phase, start, end: Number(process.hrtime.bigint() / 1000n) });
        return v;
      };
      for (let r = 0; r < rounds; r++) {
        // Alternate which side goes first, so a slow phase of the machine does not always hit one.
        let d: DmRun;
        let b: BareRun;
        if (r % 2 === 0) {
          d = await timedRun('dm', runDm);
          b = await timedRun('bare', runBare);
        } else {
          b = await timedRun('bare', runBare);
          d = await timedRun('dm', runDm);
        }
        figures.push(roundFigures(d, b));
        // A diagnostic, not judged: the bare server paced to this round's DM round trips per
        // second. A server that is mostly waiting pays for every wake-up that a saturated one shares
        // between many requests; this shows how much of the ratio that is.
        if (paced) {
          const p = await runBare(d.roundTrips / (d.ms / 1000));
          pacedCpu.push(p.serverCpuMs / p.requests);
          pacedClientCpu.push(p.clientCpuMs / p.requests);
        }
      }
      const load1 = loadavg();
      if (process.env.DMW_BENCH_PROFILE) writeFileSync(join(process.env.DMW_BENCH_PROFILE, `phases-${process.pid}.json`), JSON.stringify(windows));
      await bare.stop();
      const med = (k: keyof RoundFigures): Spread => spreadOf(figures.map((f) => f[k]));
      const m = {
        sessionsPerS: med('sessionsPerS'), rtPerSession: med('rtPerSession'), serverCpu: med('serverCpuMsPerRt'), bareCpu: med('bareCpuMsPerReq'),
        serverRatio: med('serverRatio'), handsetCpu: med('handsetCpuMsPerRt'), bareClientCpu: med('bareClientCpuMsPerReq'), handsetRatio: med('handsetRatio'),
        bareReqPerS: med('bareReqPerS'), throughputRatio: med('throughputRatio'),
      };
      const sp = (s: Spread, digits: number, unit = ''): string => `${fmtNum(s.median, digits)}${unit} (${fmtNum(s.min, digits)}-${fmtNum(s.max, digits)})`;

      ctx.log(`  throughput: ${nHandsets} handsets at once, WBXML, MD5 both ways, Get + Replace job per session, ~${fmtInt(avgMsg)} B per message`);
      ctx.log(`  ${rounds} rounds, DM and bare alternating, >= ${fmtInt(ctx.minMillis)} ms each; median (min-max) of the rounds; CPU from /proc (10 ms ticks) and process.cpuUsage()`);
      ctx.log(`  load average ${load0.map((x) => fmtNum(x, 2)).join(' ')} before, ${load1.map((x) => fmtNum(x, 2)).join(' ')} after (${cpus().length} CPUs)`);
      for (const line of table([
        ['', 'median (min-max)', ''],
        ['DM sessions', sp(m.sessionsPerS, 0, ' /s'), `${fmtNum(m.rtPerSession.median, 2)} round trips each`],
        ['bare node:http', sp(m.bareReqPerS, 0, ' req/s'), `POSTs of ${fmtInt(avgMsg)} B, ${nHandsets} keep-alive clients`],
        ['server CPU per round trip', sp(m.serverCpu, 3, ' ms'), `bare server ${sp(m.bareCpu, 3, ' ms')} per request`],
        ['  ratio', sp(m.serverRatio, 2, 'x'), whatIf ? 'not judged' : `target <= ${SERVER_CPU_TARGET}x: ${verdictWord(m.serverRatio.median <= SERVER_CPU_TARGET)}`],
        ['handset CPU per round trip', sp(m.handsetCpu, 3, ' ms'), `bare clients ${sp(m.bareClientCpu, 3, ' ms')} per request`],
        ['  ratio', sp(m.handsetRatio, 2, 'x'), whatIf ? 'not judged' : `target <= ${HANDSET_CPU_TARGET}x: ${verdictWord(m.handsetRatio.median <= HANDSET_CPU_TARGET)}`],
        ...(paced ? [
          ['bare server, paced', sp(spreadOf(pacedCpu), 3, ' ms'), `per request at the DM's round trips/s (--paced-baseline; not judged): DM server ${fmtNum(m.serverCpu.median / spreadOf(pacedCpu).median, 1)}x that`],
          ['bare clients, paced', sp(spreadOf(pacedClientCpu), 3, ' ms'), `per request: handsets ${fmtNum(m.handsetCpu.median / spreadOf(pacedClientCpu).median, 1)}x that`],
        ] : []),
        ['DM round trips / bare req', sp(m.throughputRatio, 2, 'x'), 'both sides share the 2 CPUs: shown, not judged'],
      ], 'lrl')) ctx.log(line);
      // Printed when the process exits, so the memory part below can still add its figures to it.
      let jsonOut: Record<string, unknown> | undefined;
      if (ctx.args.includes('--json')) {
        printJsonLast(jsonOut = serverJson(figures, {
          handsets: nHandsets, synchronous, ...(whatIf ? { whatIf } : {}), messageBytes: avgMsg, loadBefore: load0, loadAfter: load1,
          ...(paced ? { paced: { serverCpuMs: pacedCpu, clientCpuMs: pacedClientCpu } } : {}),
        }));
      }
      if (whatIf) return verdicts;
      verdicts.push({ target: `server CPU per DM round trip <= ${SERVER_CPU_TARGET}x bare node:http per request`, pass: m.serverRatio.median <= SERVER_CPU_TARGET, detail: `${sp(m.serverRatio, 2, 'x')}: ${fmtNum(m.serverCpu.median, 3)} vs ${fmtNum(m.bareCpu.median, 3)} ms` });
      verdicts.push({ target: `handset CPU per DM round trip <= ${HANDSET_CPU_TARGET}x bare clients per request`, pass: m.handsetRatio.median <= HANDSET_CPU_TARGET, detail: `${sp(m.handsetRatio, 2, 'x')}: ${fmtNum(m.handsetCpu.median, 3)} vs ${fmtNum(m.bareClientCpu.median, 3)} ms` });
      if (ctx.args.includes('--no-memory')) return verdicts;
      await pool.close();

      // --- 1,000 sessions open at once --------------------------------------------------------
      const cDevs = devIds.slice(nHandsets, nHandsets + nConcurrent);
      // 1,000 package 1s at once queue up in the server: on a loaded machine the last ones are
      // answered after the handsets' default 30 s request timeout (990 of 1,000 failed so at load 14),
      // and this part measures memory, not latency: the hold's own 120 s bound applies instead.
      const many = await benchHandsets(dm.url, cDevs, HOLD_TIMEOUT_MS);
      cleanup.unshift(() => many.close());
      queueBenchJobs(store, cDevs, 0);
      check(await many.runAll({ concurrency: 64 }), 'first contact'); // 401 + nonce, like a first session
      queueBenchJobs(store, cDevs, 1);
      let waiting = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let allThere!: () => void;
      const there = new Promise<void>((r) => (allThere = r));
      const t0 = performance.now();
      // Sessions that end before they reach the hold (none should: each has a Get and a Replace out).
      const endedEarly: SessionOutcome[] = [];
      let released = false;
      const running = many.runAll({
        concurrency: nConcurrent,
        onOutcome: (o) => {
          if (!released) endedEarly.push(o);
        },
        beforeSend: (_i, msg) => {
          if (msg.body.commands.some((c) => c.kind === 'Alert' && (c.data === '1201' || c.data === '1200'))) return;
          if (++waiting === nConcurrent) allThere();
          return gate;
        },
      });
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), HOLD_TIMEOUT_MS).unref());
      if ((await Promise.race([there, timeout])) === 'timeout') {
        // Say why: the sessions that never got there have ended by now (or will within their timeouts).
        released = true;
        release();
        const early = endedEarly.map((o) => `${o.ok ? 'ok' : o.error}, ${o.roundTrips} round trips, ${o.log.length} commands`);
        const earlyWhy = new Map<string, number>();
        for (const e of early) earlyWhy.set(e, (earlyWhy.get(e) ?? 0) + 1);
        if (early.length > 0) ctx.log(`  ${early.length} sessions ended before the hold: ${JSON.stringify(Object.fromEntries(earlyWhy))}`);
        const ended = await Promise.race([running, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000).unref())]);
        const why = new Map<string, number>();
        for (const o of ended ?? []) if (!o.ok) why.set((o.error ?? '?').replace(/IMEI:\d+|:\d{4,5}\//g, '#'), (why.get((o.error ?? '?').replace(/IMEI:\d+|:\d{4,5}\//g, '#')) ?? 0) + 1);
        const failed = [...why.values()].reduce((a, b) => a + b, 0);
        throw new Error(`only ${waiting} of ${nConcurrent} sessions got their package 2 within 120 s; ${ended ? `once released, ${ended.length - failed} sessions ended well and ${failed} failed${failed ? `: ${JSON.stringify(Object.fromEntries(why))}` : ''}` : 'the rest still running 60 s after the release'}`);
      }
      const openMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      const rssHeld = procStatus(dm.pid, 'VmRSS');
      released = true;
      release();
      const out = await running;
      check(out, 'concurrent');
      const rssPeak = procStatus(dm.pid, 'VmHWM');
      const done = store.jobs({ status: 'done' }).length;
      if (jsonOut) Object.assign(jsonOut, { concurrent_sessions: nConcurrent, concurrent_open_s: Math.round(openMs) / 1000, rss_idle_bytes: rssIdle ?? null, rss_held_bytes: rssHeld ?? null, rss_peak_bytes: rssPeak ?? null });

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
