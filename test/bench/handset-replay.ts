/**
 * The handset's own work per DM round trip, without HTTP and without a server: one real session
 * (WBXML, MD5 both ways, a Get and a Replace job, as in `npm run bench -- server`) is recorded
 * against our server in a child process, then replayed to handsets whose transport hands back the
 * recorded answers. The handset's challenge nonce is fixed, so the server's recorded credentials
 * verify on every replay. What it times is what a handset does with a message: build, encode,
 * decode, check credentials, run the commands on its tree, events; node:http is left out (the
 * server suite's bare clients measure that part).
 *
 *   node --expose-gc --import tsx test/bench/handset-replay.ts [--rounds 7] [--ms 1500] [--compare-with DIR] [--listen] [--save FILE [--save-only]]
 *
 * `--compare-with DIR`: another checkout's handset code (e.g. a worktree at an older commit) is
 * timed in the same process, alternating with ours round by round; medians and ranges of the
 * rounds. The recording is made once, with our handset and the server of DIR (or ours).
 * `--listen`: a listener on the pool's events (default none, as in the server suite's timed runs).
 * `--save FILE` writes the recording for handset-replay-loop.ts (instruction counts, callgrind):
 * on a shared machine CPU time moved by half between runs of the same code, instructions do not.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './fixtures.js';
import { BENCH_CLIENT, BENCH_SERVER, queueBenchJobs, startServerChild } from './suites/server.js';
import { spreadOf } from './suites/codec.js';
import type * as ClientModule from '../../main/client/index.js';
import { DEVICE } from '../../main/tree/tree.js';

const FIXED_NONCE = 'AAECAwQFBgcICQoLDA0ODw==';
const SESSION_ID = '1A2B';
/** Untimed replays before each figure: TurboFan compiles on background threads, whose CPU time the figure counts. */
const WARM_UP_MS = 1500;

interface Recorded { url: string; replies: { status: number; headers: Record<string, string>; body: Uint8Array }[] }

function account(url: string) {
  return [{ serverId: 'dmw', addr: url, clientCred: { type: 'DIGEST', ...BENCH_CLIENT }, serverCred: { type: 'DIGEST', ...BENCH_SERVER } }];
}

interface Handsets { client: typeof ClientModule; device: typeof DEVICE }

/** The handset code of a checkout (its tree module too: the DEVICE principal is its own). */
async function handsetCode(root: string): Promise<Handsets> {
  const from = (p: string) => (root === REPO_ROOT ? `../../${p.replace(/\.ts$/, '.js')}` : pathToFileURL(join(root, p)).href);
  const client = (await import(from('main/client/index.ts'))) as typeof ClientModule;
  const tree = (await import(from('main/tree/tree.ts'))) as { DEVICE: typeof DEVICE };
  return { client, device: tree.DEVICE };
}

/**
 * `--listen`: someone listens to the pool's events (the app's Devices view). Without it, as in the
 * server suite's timed runs: the handset is in a pool that nobody listens to.
 */
const LISTEN = process.argv.includes('--listen');

async function handsetOf(code: Handsets, devId: string, url: string): Promise<ClientModule.VirtualHandset> {
  const h = await code.client.VirtualHandset.open({ encoding: 'wbxml', nonce: () => FIXED_NONCE, device: { devId, accounts: account(url) } });
  const r = h.tree.add(code.device, './Vendor/Mode', { format: 'chr', value: 'turbo', createParents: true, acl: 'Get=*&Replace=*' });
  if (!r.ok) throw new Error(r.message);
  // As in the server suite: the handset is in a pool (which subscribes to it).
  const pool = await code.client.HandsetPool.create({ notify: false });
  pool.adopt(h);
  if (LISTEN) pool.events.on(() => undefined);
  return h;
}

async function record(root: string): Promise<Recorded & { devId: string }> {
  const code = await handsetCode(REPO_ROOT);
  const dataDir = mkdtempSync(join(tmpdir(), 'dmw-handset-replay-'));
  const dm = await startServerChild('dm', { dataDir, clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5' }, root);
  const { ServerStore } = (await import(root === REPO_ROOT ? '../../main/store/server-store.js' : pathToFileURL(join(root, 'main', 'store', 'server-store.ts')).href)) as typeof import('../../main/store/server-store.js');
  const store = ServerStore.open(dataDir);
  const devId = code.client.randomImeiDevId(new Set());
  const h = await handsetOf(code, devId, dm.url);
  try {
    // A first session to meet the server (401 + nonce), a second so the nonces settle, then the one kept.
    let rec: Recorded | undefined;
    for (let i = 0; i < 3; i++) {
      queueBenchJobs(store, [devId], i);
      const replies: Recorded['replies'] = [];
      const real = (h as unknown as { transport: ClientModule.Transport }).transport;
      const post = real.post.bind(real);
      (real as { post: ClientModule.Transport['post'] }).post = async (url, body, headers) => {
        const r = await post(url, body, headers);
        const hs: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') hs[k] = v;
        replies.push({ status: r.status, headers: hs, body: r.body });
        return r;
      };
      const o = await h.connect({ serverId: 'dmw', sessionId: SESSION_ID });
      (real as { post: ClientModule.Transport['post'] }).post = post;
      if (!o.ok || o.log.length !== 2) throw new Error(`recording session ${i}: ${o.error ?? JSON.stringify(o.log)}`);
      rec = { url: dm.url, replies };
    }
    return { ...rec!, devId };
  } finally {
    h.close();
    store.close();
    await dm.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** µs of this process's CPU per round trip, replaying the recorded session for `ms`. */
async function timeReplays(code: Handsets, rec: Recorded & { devId: string }, ms: number): Promise<number> {
  const h = await handsetOf(code, rec.devId, rec.url);
  let i = 0;
  (h as unknown as { transport: unknown }).transport = {
    post: async () => rec.replies[i++ % rec.replies.length]!,
    close: () => undefined,
  };
  const once = async () => {
    i = 0;
    const o = await h.connect({ serverId: 'dmw', sessionId: SESSION_ID });
    if (!o.ok) throw new Error(`replay failed: ${o.error}`);
    return o.roundTrips;
  };
  // The first replay stores the fixed nonce as the server's; then warm up.
  for (const t0 = performance.now(); performance.now() - t0 < WARM_UP_MS;) await once();
  (globalThis as { gc?: () => void }).gc?.();
  let rts = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) rts += await once();
  const c = process.cpuUsage(c0);
  h.close();
  return (c.user + c.system) / rts;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args[i + 1];
  };
  const rounds = Number(arg('--rounds') ?? 7);
  const ms = Number(arg('--ms') ?? 1500);
  const other = arg('--compare-with');
  const rec = await record(other ?? REPO_ROOT);
  const save = arg('--save');
  if (save) {
    // For handset-replay-loop.ts (instruction counts under callgrind).
    writeFileSync(save, JSON.stringify({ url: rec.url, devId: rec.devId, nonce: FIXED_NONCE, sessionId: SESSION_ID, client: BENCH_CLIENT, server: BENCH_SERVER, replies: rec.replies.map((r) => ({ ...r, body: Buffer.from(r.body).toString('base64') })) }));
    console.log(`recording saved to ${save}`);
    if (args.includes('--save-only')) return;
  }
  const ours = await handsetCode(REPO_ROOT);
  const theirs = other ? await handsetCode(other) : undefined;
  const load0 = loadavg();
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first.
    if (theirs && r % 2 === 0) b.push(await timeReplays(theirs, rec, ms));
    a.push(await timeReplays(ours, rec, ms));
    if (theirs && r % 2 === 1) b.push(await timeReplays(theirs, rec, ms));
  }
  const fmt = (v: number[]) => {
    const s = spreadOf(v);
    return `${s.median.toFixed(1)} us (${s.min.toFixed(1)}-${s.max.toFixed(1)})`;
  };
  console.log(`handset replay: ${rec.replies.length} round trips a session, ${rounds} rounds of ${ms} ms, ${cpus().length} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')} -> ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`  ours (${REPO_ROOT}): ${fmt(a)} CPU per round trip`);
  if (theirs) console.log(`  ${other}: ${fmt(b)} CPU per round trip; ours/theirs per round ${fmt(a.map((x, i) => (100 * x) / b[i]!)).replace(/ us/g, ' %')}`);
  console.log(JSON.stringify({ suite: 'handset-replay', rounds, ours_us_per_roundtrip: spreadOf(a).median, ours_min: spreadOf(a).min, ours_max: spreadOf(a).max, ...(theirs ? { theirs_us_per_roundtrip: spreadOf(b).median, theirs_min: spreadOf(b).min, theirs_max: spreadOf(b).max } : {}) }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
