/**
 * server --store postgres: the DM server on a shared PostgreSQL database (issue 16), 1, 2 and 4
 * instances, beside one instance on the embedded SQLite store, in the same run and measured the
 * same way (reached through `npm run bench -- server --store postgres`; server.ts hands over here).
 *
 * Setup: a throwaway cluster (test/helpers/postgres.ts) run durable, as SQLite runs by default:
 * fsync=on, full_page_writes=on, synchronous_commit=on (the test defaults turn fsync off), a
 * database per configuration. Every instance is a server child (test/bench/server-child.ts,
 * `storeUrl` set); 2 and 4 instances sit behind HAProxy with the documented configuration
 * (main/store/postgres/haproxy.cfg, test/helpers/haproxy.ts: round robin, a new backend connection
 * per request, so consecutive messages of a session reach different instances). One instance, on
 * either store, is reached directly.
 *
 * Throughput: 32 handsets at once (WBXML, MD5 both ways, a Get and a Replace job per session, as in
 * server.ts), rounds of every configuration in a rotated order; per run, sessions/s and CPU per DM
 * round trip of the dmw instances (all of them, summed), of PostgreSQL (the postmaster and its
 * backends, from /proc) and of HAProxy. Median (min-max) of the rounds.
 *
 * Memory: 10,000 registered devices and 1,000 sessions open at once (each held after the server's
 * package 2; all started at once, see RAMP_MS) on one instance on PostgreSQL; target: its RSS < 1 GiB.
 *
 *   npm run bench -- server --store postgres [--instances 1,2,4] [--rounds 3] [--handsets 32] [--no-memory]
 *                                             [--concurrent 1000] [--devices 10000] [--ramp-ms 0] [--json]
 *
 * Everything (handsets, instances, HAProxy, PostgreSQL) shares this machine's CPUs; the report
 * prints how many. On 2 cores more instances cannot add throughput: the figures show what sharing
 * the database costs per round trip, not how far a lab scales on real hosts.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtBytes, fmtInt, fmtNum, table, verdictWord } from '../format.js';
import type { BenchContext, Verdict } from '../suite.js';
import { intArg, printJsonLast } from '../suite.js';
import { roundOrder, spreadOf, type Spread } from './codec.js';
import { benchHandsets, BENCH_CLIENT, BENCH_SERVER, RSS_TARGET_BYTES, startServerChild, type Child } from './server.js';
import { randomImeiDevId, type HandsetPool, type SessionOutcome } from '../../../main/client/index.js';
import type { DmStore } from '../../../main/store/store.js';
import { openStore } from '../../../main/store/open.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { startHaproxy, type RunningHaproxy } from '../../helpers/haproxy.js';

const WARM_UP_MS = 2000;
/**
 * The memory test's sessions start all at once, as on SQLite (--ramp-ms N: N ms apart, then all
 * open at once). Before 3b0ccdf a burst of 1,000 turns waited for the instance's 10 pooled
 * connections past the connect timeout (5 s) and was answered 503 "the store is unavailable": 690 of
 * 1,000 sessions here. A ramp is a diagnostic for such a regression.
 */
const RAMP_MS = 0;

function rampArg(args: readonly string[]): number {
  const i = args.indexOf('--ramp-ms');
  if (i < 0) return RAMP_MS;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error('--ramp-ms needs a whole number of milliseconds (0: all at once)');
  return n;
}

interface Config {
  label: string;
  kind: 'sqlite' | 'postgres';
  instances: Child[];
  proxy?: RunningHaproxy;
  store: DmStore;
  pool: HandsetPool;
  url: string;
  jobRound: number;
}

interface RunFigures {
  sessionsPerS: number;
  rtPerSession: number;
  dmwCpuMsPerRt: number;
  pgCpuMsPerRt: number;
  proxyCpuMsPerRt: number;
  handsetCpuMsPerRt: number;
}

/** User + system CPU of a process so far, ms (/proc/<pid>/stat; 100 ticks/s). */
function procCpuMs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return undefined;
  }
}

function procStatus(pid: number, key: string): number | undefined {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU so far of the cluster: its postmaster and every process it started (backends, writers), by pid. */
function clusterCpu(cluster: TestPostgres): Map<number, number> {
  const master = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      if (pid === master || Number(rest[1]) === master) out.set(pid, (Number(rest[11]) + Number(rest[12])) * 10);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU the cluster used between two snapshots (a process that started meanwhile counts from 0; one that ended is lost). */
function clusterCpuDelta(a: Map<number, number>, b: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of b) ms += t - (a.get(pid) ?? 0);
  return ms;
}

async function queueJobs(store: DmStore, devIds: readonly string[], round: number): Promise<void> {
  const now = Date.now();
  await store.tx(async (s) => {
    for (const d of devIds) {
      await s.addJob(d, { kind: 'get', uri: './DevInfo/Mod' }, now);
      await s.addJob(d, { kind: 'replace', uri: './Vendor/Mode', value: `mode-${round}` }, now);
    }
  });
}

function check(outcomes: SessionOutcome[], what: string): void {
  const bad = outcomes.filter((o) => !o.ok || o.log.length !== 2 || o.log.some((e) => e.status !== 200));
  if (bad.length > 0) throw new Error(`${bad.length} of ${outcomes.length} ${what} sessions went wrong, e.g. ${bad[0]!.devId}: ${bad[0]!.error ?? JSON.stringify(bad[0]!.log)}`);
}

function devIdList(n: number): string[] {
  const taken = new Set<string>();
  const out: string[] = [];
  while (out.length < n) {
    const d = randomImeiDevId(taken);
    taken.add(d);
    out.push(d);
  }
  return out;
}

async function registerDevices(store: DmStore, devIds: readonly string[]): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < devIds.length; i += 500) {
    await store.tx(async (s) => {
      for (const d of devIds.slice(i, i + 500)) await s.touchDevice(d, now);
    });
  }
}

export async function runServerPostgres(ctx: BenchContext): Promise<Verdict[]> {
  const nHandsets = intArg(ctx.args, '--handsets', 32);
  const rounds = intArg(ctx.args, '--rounds', 3);
  const nConcurrent = intArg(ctx.args, '--concurrent', 1000);
  const nDevices = Math.max(intArg(ctx.args, '--devices', 10_000), nConcurrent, nHandsets);
  const ii = ctx.args.indexOf('--instances');
  const counts = (ii < 0 ? '1,2,4' : String(ctx.args[ii + 1])).split(',').map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('--instances takes counts from 1 to 8, e.g. 1,2,4');
  const limits = { maxSessions: nConcurrent + 100, maxPreAuthSessions: nConcurrent + 100, maxPreAuthSessionsPerAddress: nConcurrent + 100, sessionTimeoutMs: 600_000 };
  const serverOpts = { clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5', limits };
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  const verdicts: Verdict[] = [];
  const t = (s: Spread, digits: number, unit = ''): string => `${fmtNum(s.median, digits)}${unit} (${fmtNum(s.min, digits)}-${fmtNum(s.max, digits)})`;
  try {
    // Durable, as the SQLite store is by default (its fsync before answering). max_connections:
    // 4 instances x (10 pooled + 1 LISTEN) + the bench's own pools.
    const cluster = await startPostgres({ database: 'dmw_bench', settings: { fsync: 'on', full_page_writes: 'on', synchronous_commit: 'on', shared_buffers: '128MB', max_connections: '120' } });
    cleanup.push(() => cluster.stop());
    const pgVersion = readFileSync(join(cluster.dir, 'data', 'PG_VERSION'), 'utf8').trim();
    ctx.log(`server --store postgres: ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), Node ${process.version}, PostgreSQL ${pgVersion} (fsync=on, synchronous_commit=on), HAProxy in front of 2+ instances`);
    ctx.log(`  everything shares these ${cpus().length} CPUs: handsets, instances, HAProxy and PostgreSQL`);

    const devIds = devIdList(nDevices);
    const tDevs = devIds.slice(0, nHandsets);
    const configs: Config[] = [];
    const dataDirs: string[] = [];
    const dataDir = () => {
      const d = mkdtempSync(join(tmpdir(), 'dmw-bench-pg-'));
      dataDirs.push(d);
      return d;
    };
    cleanup.push(() => dataDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
    const addConfig = async (kind: 'sqlite' | 'postgres', n: number): Promise<void> => {
      const storeUrl = kind === 'postgres' ? await cluster.createDatabase(`bench_${n}`) : undefined;
      const sqliteDir = dataDir();
      const instances: Child[] = [];
      for (let i = 0; i < n; i++) {
        const c = await startServerChild('dm', { ...serverOpts, dataDir: kind === 'sqlite' ? sqliteDir : dataDir(), ...(storeUrl ? { storeUrl } : {}) });
        cleanup.unshift(() => c.stop());
        instances.push(c);
      }
      const proxy = n > 1 ? await startHaproxy(instances.map((c) => Number(new URL(c.url).port)), { quiet: true, healthPath: '/dm' }) : undefined;
      if (proxy) cleanup.unshift(() => proxy.stop());
      const store = await openStore({ dataDir: sqliteDir, ...(storeUrl ? { storeUrl } : {}) });
      cleanup.unshift(() => store.close());
      await registerDevices(store, tDevs);
      const url = proxy?.url ?? instances[0]!.url;
      const pool = await benchHandsets(url, tDevs);
      cleanup.unshift(() => pool.close());
      configs.push({ label: kind === 'sqlite' ? 'SQLite, 1 instance' : `PostgreSQL, ${n} instance${n > 1 ? 's' : ''}`, kind, instances, ...(proxy ? { proxy } : {}), store, pool, url, jobRound: 0 });
    };
    await addConfig('sqlite', 1);
    for (const n of counts) await addConfig('postgres', n);

    // Warm-up, untimed: first contact (401 + nonce) and the JIT of every process.
    for (const c of configs) {
      for (const w0 = performance.now(); c.jobRound === 0 || performance.now() - w0 < WARM_UP_MS; c.jobRound++) {
        await queueJobs(c.store, tDevs, c.jobRound);
        check(await c.pool.runAll({ concurrency: nHandsets }), `${c.label} warm-up`);
      }
    }

    const run = async (c: Config): Promise<RunFigures> => {
      let sessions = 0;
      let roundTrips = 0;
      let ms = 0;
      let dmwCpu = 0;
      let pgCpu = 0;
      let proxyCpu = 0;
      let handsetCpu = 0;
      while (ms < ctx.minMillis || sessions < 2 * nHandsets) {
        await queueJobs(c.store, tDevs, c.jobRound++);
        const d0 = c.instances.map((i) => procCpuMs(i.pid) ?? NaN);
        const p0 = clusterCpu(cluster);
        const x0 = c.proxy ? procCpuMs(c.proxy.pid) ?? NaN : 0;
        const h0 = process.cpuUsage();
        const t0 = performance.now();
        const out = await c.pool.runAll({ concurrency: nHandsets });
        ms += performance.now() - t0;
        const h1 = process.cpuUsage(h0);
        handsetCpu += (h1.user + h1.system) / 1000;
        dmwCpu += c.instances.reduce((sum, i, k) => sum + (procCpuMs(i.pid) ?? NaN) - d0[k]!, 0);
        pgCpu += clusterCpuDelta(p0, clusterCpu(cluster));
        proxyCpu += c.proxy ? (procCpuMs(c.proxy.pid) ?? NaN) - x0 : 0;
        check(out, `${c.label} round ${c.jobRound}`);
        sessions += out.length;
        for (const o of out) roundTrips += o.roundTrips;
      }
      return {
        sessionsPerS: sessions / (ms / 1000), rtPerSession: roundTrips / sessions, dmwCpuMsPerRt: dmwCpu / roundTrips,
        // SQLite: the database is inside the instance; what the cluster did meanwhile is other configurations' idle noise.
        pgCpuMsPerRt: c.kind === 'postgres' ? pgCpu / roundTrips : 0,
        proxyCpuMsPerRt: proxyCpu / roundTrips, handsetCpuMsPerRt: handsetCpu / roundTrips,
      };
    };

    const figures = new Map<Config, RunFigures[]>(configs.map((c) => [c, []]));
    const load0 = loadavg();
    for (let r = 0; r < rounds; r++) for (const c of roundOrder(configs, r)) figures.get(c)!.push(await run(c));
    const load1 = loadavg();

    ctx.log(`  throughput: ${nHandsets} handsets at once, WBXML, MD5 both ways, Get + Replace job per session; ${rounds} rounds, configurations in rotated order, >= ${fmtInt(ctx.minMillis)} ms each`);
    ctx.log(`  load average ${load0.map((x) => fmtNum(x, 2)).join(' ')} before, ${load1.map((x) => fmtNum(x, 2)).join(' ')} after; median (min-max) of the rounds; CPU per DM round trip in ms`);
    const rows: string[][] = [['', 'sessions/s', 'dmw CPU/rt', 'PostgreSQL CPU/rt', 'HAProxy CPU/rt', 'server total/rt', 'handsets/rt']];
    const json: Record<string, unknown> = { suite: 'server-postgres', rounds, handsets: nHandsets, cpus: cpus().length, postgres: pgVersion, configs: [] as unknown[] };
    for (const c of configs) {
      const f = figures.get(c)!;
      const s = (k: keyof RunFigures) => spreadOf(f.map((x) => x[k]));
      const total = spreadOf(f.map((x) => x.dmwCpuMsPerRt + x.pgCpuMsPerRt + x.proxyCpuMsPerRt));
      rows.push([c.label, t(s('sessionsPerS'), 0), t(s('dmwCpuMsPerRt'), 3), c.kind === 'postgres' ? t(s('pgCpuMsPerRt'), 3) : '(in dmw)', c.proxy ? t(s('proxyCpuMsPerRt'), 3) : '-', t(total, 3), t(s('handsetCpuMsPerRt'), 3)]);
      const entry: Record<string, unknown> = { label: c.label, store: c.kind, instances: c.instances.length, proxy: c.proxy ? 'haproxy' : null };
      const r3 = (n: number) => Math.round(n * 1000) / 1000;
      for (const [k, sp] of [['sessions_per_s', s('sessionsPerS')], ['dmw_cpu_ms_per_roundtrip', s('dmwCpuMsPerRt')], ['postgres_cpu_ms_per_roundtrip', s('pgCpuMsPerRt')],
        ['haproxy_cpu_ms_per_roundtrip', s('proxyCpuMsPerRt')], ['server_total_cpu_ms_per_roundtrip', total], ['handset_cpu_ms_per_roundtrip', s('handsetCpuMsPerRt')], ['roundtrips_per_session', s('rtPerSession')]] as const) {
        entry[k] = r3(sp.median);
        entry[`${k}_min`] = r3(sp.min);
        entry[`${k}_max`] = r3(sp.max);
      }
      (json.configs as unknown[]).push(entry);
    }
    for (const line of table(rows, 'lrrrrrr')) ctx.log(line);

    // Throughput done: the configurations go, the memory test gets the machine.
    for (const c of configs) {
      await c.pool.close();
      for (const i of c.instances) await i.stop();
      await c.proxy?.stop();
    }

    if (!ctx.args.includes('--no-memory')) {
      const m = await memoryTest(ctx, cluster, { nDevices, nConcurrent, rampMs: rampArg(ctx.args), devIds, serverOpts, dataDir: dataDir(), cleanup });
      verdicts.push(m.verdict);
      json.memory = m.json;
    }
    if (ctx.args.includes('--json')) printJsonLast(json);
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
}

/** 10,000 devices and 1,000 sessions held open at once on one instance on PostgreSQL: its RSS. */
async function memoryTest(ctx: BenchContext, cluster: TestPostgres, o: {
  nDevices: number; nConcurrent: number; rampMs: number; devIds: string[]; serverOpts: object; dataDir: string; cleanup: Array<() => Promise<unknown> | unknown>;
}): Promise<{ verdict: Verdict; json: Record<string, unknown> }> {
  const storeUrl = await cluster.createDatabase('bench_memory');
  const dm = await startServerChild('dm', { ...o.serverOpts, dataDir: o.dataDir, storeUrl });
  o.cleanup.unshift(() => dm.stop());
  const store = await openStore({ dataDir: o.dataDir, storeUrl });
  o.cleanup.unshift(() => store.close());
  await registerDevices(store, o.devIds);
  const rssIdle = procStatus(dm.pid, 'VmRSS');
  const cDevs = o.devIds.slice(0, o.nConcurrent);
  const many = await benchHandsets(dm.url, cDevs);
  o.cleanup.unshift(() => many.close());
  await queueJobs(store, cDevs, 0);
  check(await many.runAll({ concurrency: 64 }), 'first contact');
  await queueJobs(store, cDevs, 1);
  let waiting = 0;
  // Held sessions go on over the same ramp as they started (all at once without one).
  const held: Array<() => void> = [];
  const release = () => {
    held.splice(0).forEach((go, k) => (o.rampMs > 0 ? setTimeout(go, o.rampMs * k) : go()));
  };
  let allThere!: () => void;
  const there = new Promise<void>((r) => (allThere = r));
  const t0 = performance.now();
  const endedEarly = new Map<string, number>();
  let released = false;
  let started = 0;
  const running = many.runAll({
    concurrency: o.nConcurrent,
    onOutcome: (x) => {
      if (released) return;
      const why = x.ok ? `ok after ${x.roundTrips} round trips` : (x.error ?? '?').replace(/IMEI:\d+|:\d{4,5}\//g, '#');
      endedEarly.set(why, (endedEarly.get(why) ?? 0) + 1);
    },
    beforeSend: (index, msg) => {
      // --ramp-ms: sessions start o.rampMs apart (see RAMP_MS).
      if (index === 0 && o.rampMs > 0) return new Promise<void>((r) => setTimeout(r, o.rampMs * started++));
      if (msg.body.commands.some((c) => c.kind === 'Alert' && (c.data === '1201' || c.data === '1200'))) return;
      const hold = new Promise<void>((r) => held.push(r));
      if (released) release();
      if (++waiting === o.nConcurrent) allThere();
      return hold;
    },
  });
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 180_000).unref());
  if ((await Promise.race([there, timeout])) === 'timeout') {
    released = true;
    release();
    await Promise.race([running, new Promise((r) => setTimeout(r, 60_000).unref())]);
    throw new Error(`only ${waiting} of ${o.nConcurrent} sessions got their package 2 within 180 s; ended before: ${JSON.stringify(Object.fromEntries(endedEarly))}`);
  }
  const openMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  const rssHeld = procStatus(dm.pid, 'VmRSS');
  const live = (await store.activeSessionIds()).length;
  released = true;
  release();
  check(await running, 'concurrent');
  const rssPeak = procStatus(dm.pid, 'VmHWM');
  const done = (await store.jobs({ status: 'done' })).length;
  ctx.log(`  memory, PostgreSQL, 1 instance: ${fmtInt(o.nDevices)} registered devices, ${fmtInt(o.nConcurrent)} sessions open at once (each with a Get and a Replace out; ${o.rampMs > 0 ? `started ${o.rampMs} ms apart` : 'started at once'})`);
  for (const line of table([
    ['', 'instance RSS', ''],
    ['idle, devices registered', fmtBytes(rssIdle ?? NaN), ''],
    [`${fmtInt(o.nConcurrent)} sessions open`, fmtBytes(rssHeld ?? NaN), `all open after ${fmtNum(openMs / 1000, 2)} s; ${fmtInt(live)} active in the database`],
    ['peak (VmHWM)', fmtBytes(rssPeak ?? NaN), `target < ${fmtBytes(RSS_TARGET_BYTES)}: ${verdictWord(rssPeak === undefined ? undefined : rssPeak < RSS_TARGET_BYTES)}`],
    ['jobs done', fmtInt(done), ''],
  ], 'lrl')) ctx.log(line);
  return {
    verdict: {
      target: `instance RSS < 1 GiB on PostgreSQL with ${fmtInt(o.nDevices)} devices and ${fmtInt(o.nConcurrent)} concurrent sessions`,
      pass: rssPeak === undefined ? undefined : rssPeak < RSS_TARGET_BYTES,
      detail: rssPeak === undefined ? 'no /proc: RSS not measurable' : `peak ${fmtBytes(rssPeak)}, ${fmtBytes(rssHeld ?? NaN)} with all open`,
    },
    json: { devices: o.nDevices, concurrent: o.nConcurrent, rss_idle: rssIdle ?? null, rss_held: rssHeld ?? null, rss_peak: rssPeak ?? null, open_s: Math.round(openMs) / 1000, jobs_done: done },
  };
}
