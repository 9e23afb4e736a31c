/**
 * The handsets' side of the server suite alone, for profiling: our DM server in a child process
 * (server-child.ts), N virtual handsets in this process running full sessions (WBXML, MD5 both ways,
 * a Get and a Replace job each, as in `npm run bench -- server`) for a while; prints this process's
 * CPU per DM round trip.
 *
 *   node --cpu-prof --cpu-prof-dir DIR --import tsx test/bench/handset-loop.ts [--seconds 10] [--handsets 32] [--server-root DIR]
 *
 * `--server-root DIR` runs the server of another checkout (e.g. a worktree at a fixed commit), so
 * that before/after runs of the handsets face the same server.
 *
 * The profile then holds the handsets' work and little else (the job queueing between rounds is in
 * it too: the store's frames).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomImeiDevId } from '../../main/client/index.js';
import { BENCH_CLIENT, BENCH_SERVER, benchHandsets, queueBenchJobs, startServerChild } from './suites/server.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (name: string, d: number): number => {
    const i = args.indexOf(name);
    return i < 0 ? d : Number(args[i + 1]);
  };
  const seconds = num('--seconds', 10);
  const n = num('--handsets', 32);
  const si = args.indexOf('--server-root');
  const serverRoot = si < 0 ? undefined : String(args[si + 1]);
  const dataDir = mkdtempSync(join(tmpdir(), 'dmw-handset-loop-'));
  const dm = await startServerChild('dm', {
    dataDir, clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5',
    limits: { maxSessions: n + 100, maxPreAuthSessions: n + 100, maxPreAuthSessionsPerAddress: n + 100 },
  }, serverRoot);
  // The store of the server's checkout: the jobs are queued in its schema.
  const { ServerStore } = (await import(serverRoot ? pathToFileURL(join(serverRoot, 'main', 'store', 'server-store.ts')).href : '../../main/store/server-store.js')) as typeof import('../../main/store/server-store.js');
  const store = ServerStore.open(dataDir);
  const taken = new Set<string>();
  const devIds = Array.from({ length: n }, () => {
    const d = randomImeiDevId(taken);
    taken.add(d);
    return d;
  });
  const pool = await benchHandsets(dm.url, devIds);
  try {
    let round = 0;
    let cpu = 0;
    let rts = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      queueBenchJobs(store, devIds, round++);
      const c0 = process.cpuUsage();
      const out = await pool.runAll({ concurrency: n });
      const c1 = process.cpuUsage(c0);
      if (round > 3) {
        cpu += (c1.user + c1.system) / 1000;
        for (const o of out) rts += o.roundTrips;
      }
      const bad = out.find((o) => !o.ok);
      if (bad) throw new Error(`session failed: ${bad.error}`);
    }
    console.log(`${rts} round trips, handsets' CPU ${(cpu / rts).toFixed(3)} ms per round trip`);
  } finally {
    await pool.close();
    store.close();
    await dm.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
