/**
 * Acceptance (issue 16 point 3 and its Tests paragraph): several real `dmw server --store
 * postgres://…` processes on one real PostgreSQL (test/helpers/postgres.ts), behind the test's
 * round-robin balancer (test/helpers/rr-proxy.ts, per request: consecutive messages of one session
 * go to different instances), virtual handsets authenticating with MD5 digest (the 401 challenge and
 * the retry land on different instances too).
 *
 *  - two and three instances: every handset's sessions complete with their queued jobs, and each
 *    session's messages were answered by more than one instance;
 *  - kill -9 of one instance mid-run: no job lost, none executed twice on a handset (the jobs are
 *    "ask" on unconfirmed, so a repeat could only come from a turn run twice), sessions go on at
 *    the others; a handset resends a message whose answer the dead instance never gave (as a
 *    device does after a broken exchange), and gets the answer the database holds;
 *  - the database restarted mid-run: meanwhile the instances answer 503 with Retry-After, and
 *    afterwards they serve again by themselves (nobody restarts them).
 *
 * Bounded: a few handsets, a few jobs, every wait with a deadline; traffic only to 127.0.0.1.
 * Never skipped in CI (postgresAvailable throws there without PostgreSQL).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AAUTH_TYPE, VirtualHandset, type HandsetAppHooks } from '../../main/client/index.js';
import type { Transport } from '../../main/client/transport.js';
import { imeiFromBody } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import http from 'node:http';
import { api, sseReader, type StreamEvent } from '../helpers/dmw-servers.js';
import { startFleet, type Fleet } from '../helpers/instances.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/rr-proxy.js';

const run = postgresAvailable('several dmw server instances on PostgreSQL');
const TOKEN = 'multi-instance-operator-token-01';
const ARGS = ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--api-token', TOKEN, '--session-timeout', '10'];
const COUNTED = new Set(['Add', 'Replace', 'Delete', 'Exec']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: TestPostgres;
let dbCount = 0;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Phone {
  h: VirtualHandset;
  devId: string;
  executed: Map<string, number>;
  /** What its transport met: 503s waited out, exchanges broken and sent again. */
  busy: number;
  resent: number;
  retryAfter: string[];
}

/**
 * A handset as a device behaves on a flaky network: a 503 is waited out (its Retry-After, at most a
 * second here) and sent again, a broken exchange (connection closed before the answer) is sent again
 * as it was, a bounded number of times.
 */
async function phone(n: number, url: string): Promise<Phone> {
  const devId = `IMEI:${imeiFromBody(`3510000000${String(100 + n).padStart(4, '0')}`)}`;
  const h = await VirtualHandset.open({
    device: {
      devId, mod: 'Multi Phone',
      accounts: [{ serverId: 'dmw', addr: url, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' }, serverCred: { type: AAUTH_TYPE.basic, name: 'dmw', secret: '' } }],
    },
    serverAuth: 'off',
    encoding: n % 2 === 0 ? 'wbxml' : 'xml',
    // Small messages (a session's commands travel in several), with room for XML's overhead.
    maxMsgSize: n % 2 === 0 ? 1200 : 4000,
    requestTimeoutMs: 10_000,
    exec: () => ({ status: 200 }),
  });
  cleanup.push(() => h.close());
  const lab = h.tree.add(DEVICE, './Lab', { format: 'node', acl: 'Add=*&Get=*&Replace=*&Delete=*&Exec=*', createParents: true });
  if (!lab.ok) throw new Error(lab.message);
  const p: Phone = { h, devId, executed: new Map(), busy: 0, resent: 0, retryAfter: [] };
  const hooks: HandsetAppHooks = {
    exec: () => undefined,
    serverCommands: (events) => {
      for (const e of events) {
        if (!COUNTED.has(e.cmd) || e.target === undefined) continue;
        const key = `${e.cmd} ${e.target}`;
        p.executed.set(key, (p.executed.get(key) ?? 0) + 1);
      }
    },
  };
  h.attachApps(hooks);
  const t = (h as unknown as { transport: Transport }).transport;
  const post = t.post.bind(t);
  t.post = async (u, body, headers) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await post(u, body, headers);
        if (r.status !== 503 || attempt >= 40) return r;
        p.busy++;
        const ra = r.headers['retry-after'];
        p.retryAfter.push(String(ra));
        await sleep(Math.min(1000, 1000 * Number(ra ?? 1)));
      } catch (e) {
        if (attempt >= 40) throw e;
        p.resent++;
        await sleep(250);
      }
    }
  };
  return p;
}

interface Queued {
  id: number;
  device: string;
  uri: string;
  cmd: string;
}

/** Jobs of every kind for each handset, queued through one instance's API. */
async function queueJobs(base: string, phones: Phone[], perPhone: number, serial: { n: number }): Promise<Queued[]> {
  const out: Queued[] = [];
  for (const p of phones) {
    for (let k = 0; k < perPhone; k++) {
      const n = serial.n++;
      const kind = (['add', 'replace', 'delete', 'exec'] as const)[n % 4]!;
      const uri = `./Lab/${kind}${n}`;
      if (kind !== 'add') {
        const leaf = p.h.tree.add(DEVICE, uri, { format: 'chr', value: 'old' });
        if (!leaf.ok) throw new Error(leaf.message);
      }
      const spec = kind === 'add' || kind === 'replace' ? { kind, uri, value: `new-${n}` } : { kind, uri };
      const r = await api(base, 'POST', '/api/v1/jobs', TOKEN, { device: p.devId, spec });
      if (r.status !== 201) throw new Error(`queueing a job: ${r.status} ${JSON.stringify(r.json)}`);
      out.push({ id: r.json.job.id, device: p.devId, uri, cmd: kind[0]!.toUpperCase() + kind.slice(1) });
    }
  }
  return out;
}

/** Sessions until the server has nothing more for the handset (bounded). */
async function callIn(p: Phone, url: string, pauseMs = 0): Promise<{ ok: number; failed: string[] }> {
  const res = { ok: 0, failed: [] as string[] };
  for (let i = 0; i < 8; i++) {
    const r = await p.h.connect({ url, ...(pauseMs > 0 ? { beforeSend: async (index: number) => { if (index > 0) await sleep(pauseMs); } } : {}) });
    if (!r.ok) {
      res.failed.push(`${p.devId}: ${r.error ?? 'failed'} (SyncHdr codes ${r.headerCodes.join(',')}, ${r.roundTrips} round trips)`);
      continue;
    }
    res.ok++;
    if (!r.log.some((e) => COUNTED.has(e.cmd))) return res;
  }
  return res;
}

async function fleetBehindProxy(count: number, extraArgs: string[] = []): Promise<{ fleet: Fleet; proxy: RoundRobinProxy; url: string }> {
  const url = await cluster.createDatabase(`multi_${++dbCount}`);
  const fleet = await startFleet({ storeUrl: url, count, args: [...ARGS, ...extraArgs] });
  cleanup.push(() => fleet.stopAll());
  const proxy = await startRoundRobinProxy(fleet.instances.map((i) => i.port));
  cleanup.push(() => proxy.close());
  return { fleet, proxy, url };
}

/** The management API's event stream of one instance (SSE), parsed. */
function events(base: string): { events: StreamEvent[] } {
  const out: StreamEvent[] = [];
  const req = http.get(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', sseReader((e) => out.push(e)));
  });
  req.on('error', () => undefined);
  cleanup.push(() => req.destroy());
  return { events: out };
}

type ListedJob = { id: number; status: string; error: string | null };

describe.skipIf(!run)('several dmw server instances on one PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(() => {
    cluster?.stop();
  });

  for (const count of [2, 3]) {
    it(`${count} instances: sessions whose messages alternate between instances complete with their jobs`, async () => {
      const { fleet, proxy } = await fleetBehindProxy(count);
      const dmUrl = proxy.url('/dm');
      const phones = await Promise.all([0, 1, 2].map((n) => phone(n + count * 10, dmUrl)));
      const stream = events(fleet.instances[0]!.base);
      for (const until = Date.now() + 5000; !stream.events.some((e) => e.event === 'ready') && Date.now() < until;) await sleep(20);
      const queued = await queueJobs(fleet.instances[0]!.base, phones, 4, { n: 0 });
      // One handset at a time: the balancer's turn then alternates every message of a session.
      for (const p of phones) {
        const r = await callIn(p, dmUrl);
        expect(r.failed, fleet.logs()).toEqual([]);
      }
      const jobs = (await api(fleet.instances[count - 1]!.base, 'GET', '/api/v1/jobs', TOKEN)).json as ListedJob[];
      expect(jobs.map((j) => `${j.id} ${j.status}`).sort(), JSON.stringify(jobs.filter((j) => j.status !== 'done'))).toEqual(queued.map((q) => `${q.id} done`).sort());
      for (const q of queued) expect(phones.find((p) => p.devId === q.device)!.executed.get(`${q.cmd} ${q.uri}`), `job ${q.id}`).toBe(1);
      // Each session's messages (its RespURI path) were answered by more than one instance.
      const bySession = new Map<string, Set<number>>();
      for (const r of proxy.routed) {
        const m = /\/s\/u?\d+-([0-9a-f]+)$/.exec(r.path);
        if (!m) continue;
        bySession.set(m[1]!, (bySession.get(m[1]!) ?? new Set()).add(r.backend));
      }
      expect(bySession.size).toBeGreaterThanOrEqual(phones.length);
      const sessionsSeen = bySession;
      for (const [token, backends] of bySession) expect(backends.size, `session ${token}`).toBeGreaterThan(1);
      expect(proxy.stats().every((s) => s.requests > 0)).toBe(true);
      // Events of every instance reach a subscriber of any one (LISTEN/NOTIFY), once each: each
      // session's start and end, and each job's result, whichever instance handled it.
      const deadline = Date.now() + 10_000;
      const ended = () => stream.events.filter((e) => e.event === 'session-ended');
      const startedCount = () => stream.events.filter((e) => e.event === 'session-started').length;
      while ((ended().length < startedCount() || startedCount() < sessionsSeen.size) && Date.now() < deadline) await sleep(50);
      const started = stream.events.filter((e) => e.event === 'session-started').map((e) => e.data.sessionId as number);
      expect(new Set(started).size).toBe(started.length);
      expect(ended().map((e) => e.data.sessionId).sort()).toEqual([...started].sort());
      expect(started.length).toBeGreaterThanOrEqual(sessionsSeen.size);
      const done = stream.events.filter((e) => e.event === 'job-done').map((e) => e.data.job.id as number);
      expect(done.sort((a, b) => a - b)).toEqual(queued.map((q) => q.id).sort((a, b) => a - b));
    }, 120_000);
  }

  it('kill -9 of one of three instances mid-run: no job lost or executed twice, sessions go on at the others', async () => {
    const { fleet, proxy } = await fleetBehindProxy(3);
    const dmUrl = proxy.url('/dm');
    const phones = await Promise.all([0, 1, 2, 3].map((n) => phone(100 + n, dmUrl)));
    const serial = { n: 0 };
    const queued = await queueJobs(fleet.instances[0]!.base, phones, 6, serial);
    const running = Promise.all(phones.map((p) => callIn(p, dmUrl, 150)));
    // Mid-run: once some commands were executed on the handsets and before the work is over.
    const deadline = Date.now() + 20_000;
    const executed = () => phones.reduce((n, p) => n + p.executed.size, 0);
    while (executed() < 4 && Date.now() < deadline) await sleep(10);
    await fleet.kill9(1);
    expect((await fleet.instances[1]!.exited).signal).toBe('SIGKILL');
    const first = await running;
    // The others go on: every handset's work completes (its broken exchanges sent again).
    const more = await queueJobs(fleet.instances[0]!.base, phones, 2, serial);
    const second = await Promise.all(phones.map((p) => callIn(p, dmUrl)));
    expect(second.flatMap((r) => r.failed), fleet.logs()).toEqual([]);
    const all = [...queued, ...more];
    const jobs = (await api(fleet.instances[2]!.base, 'GET', '/api/v1/jobs', TOKEN)).json as ListedJob[];
    // No job lost: every one queued is there, in a settled state.
    expect(jobs.map((j) => j.id).sort((a, b) => a - b)).toEqual(all.map((q) => q.id).sort((a, b) => a - b));
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const twice: string[] = [];
    for (const q of all) {
      const n = phones.find((p) => p.devId === q.device)!.executed.get(`${q.cmd} ${q.uri}`) ?? 0;
      const j = byId.get(q.id)!;
      // Executed twice only if it was shown as unconfirmed (the engineer decides); these are all "ask".
      if (n > 1 && j.status !== 'unconfirmed') twice.push(`job ${q.id} ${q.cmd} ${q.uri}: ${n} times, ${j.status}`);
      if (j.status === 'done') expect(n, `job ${q.id} done`).toBe(1);
      expect(['done', 'unconfirmed', 'failed', 'queued'], `job ${q.id}`).toContain(j.status);
    }
    expect(twice).toEqual([]);
    expect(jobs.filter((j) => j.status === 'done').length).toBeGreaterThanOrEqual(more.length);
    const resent = phones.reduce((n, p) => n + p.resent, 0);
    console.info(`multi-instance kill -9: ${all.length} jobs, ${jobs.filter((j) => j.status === 'done').length} done, ` +
      `${jobs.filter((j) => j.status === 'unconfirmed').length} unconfirmed; first run ${first.reduce((n, r) => n + r.ok, 0)} sessions ok, ` +
      `${first.flatMap((r) => r.failed).length} failed; ${resent} exchanges sent again, ${phones.reduce((n, p) => n + p.busy, 0)} 503s waited out; ` +
      `answers sent again from the store ${(fleet.logs().match(/came again with the same bytes/g) ?? []).length}; ` +
      `backends ${JSON.stringify(proxy.stats())}${first.some((r) => r.failed.length > 0) ? `; failed: ${first.flatMap((r) => r.failed).join(' | ')}` : ''}`);
    if (process.env.DMW_MULTI_LOGS) (await import('node:fs')).writeFileSync(process.env.DMW_MULTI_LOGS, fleet.logs());
    // The killed instance comes back and takes its share again.
    const back = await fleet.restart(1);
    proxy.setBackend(1, back.port);
    const before = proxy.stats()[1]!.requests;
    await queueJobs(fleet.instances[0]!.base, phones.slice(0, 1), 2, serial);
    expect((await callIn(phones[0]!, dmUrl)).failed).toEqual([]);
    expect(proxy.stats()[1]!.requests).toBeGreaterThan(before);
  }, 180_000);

  it('a database restart mid-run: 503 with Retry-After meanwhile, then the instances serve again by themselves', async () => {
    const { fleet, proxy } = await fleetBehindProxy(2);
    const dmUrl = proxy.url('/dm');
    const phones = await Promise.all([0, 1].map((n) => phone(200 + n, dmUrl)));
    const serial = { n: 0 };
    await queueJobs(fleet.instances[0]!.base, phones, 2, serial);
    expect((await Promise.all(phones.map((p) => callIn(p, dmUrl)))).flatMap((r) => r.failed)).toEqual([]);

    // Mid-run: sessions in progress (the handsets pause between messages) when the database goes.
    const queued = await queueJobs(fleet.instances[0]!.base, phones, 4, serial);
    const during = phones.map((p) => callIn(p, dmUrl, 300));
    const deadline = Date.now() + 20_000;
    while (phones.reduce((n, p) => n + p.executed.size, 0) < 5 && Date.now() < deadline) await sleep(5);
    cluster.down();
    // Meanwhile: the DM endpoint of each instance answers 503 with Retry-After (nothing half-written).
    for (const inst of fleet.instances) {
      const t0 = Date.now();
      let status = 0;
      let retryAfter: string | undefined;
      while (Date.now() - t0 < 15_000) {
        const r = await fetch(`${inst.base}/dm`, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml' }, body: pkg1Xml(phones[0]!.devId) }).catch(() => undefined);
        status = r?.status ?? 0;
        retryAfter = r?.headers.get('retry-after') ?? undefined;
        if (status === 503) break;
        await sleep(100);
      }
      expect(status, fleet.logs()).toBe(503);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    }
    await sleep(1000);
    cluster.up();
    // The sessions caught by it finish once it is back (503s waited out), with nobody restarting anything.
    const r = await Promise.all(during);
    expect(r.flatMap((x) => x.failed), fleet.logs()).toEqual([]);
    expect(phones.reduce((n, p) => n + p.busy, 0)).toBeGreaterThan(0);
    expect(phones.flatMap((p) => p.retryAfter).every((x) => Number(x) > 0)).toBe(true);
    const afterRestart = (await api(fleet.instances[1]!.base, 'GET', '/api/v1/jobs', TOKEN)).json as ListedJob[];
    for (const q of queued) {
      expect(afterRestart.find((j) => j.id === q.id)?.status, `job ${q.id}`).toBe('done');
      expect(phones.find((p) => p.devId === q.device)!.executed.get(`${q.cmd} ${q.uri}`), `job ${q.id}`).toBe(1);
    }
    const more = await queueJobs(fleet.instances[1]!.base, phones, 2, serial);
    expect((await Promise.all(phones.map((p) => callIn(p, dmUrl)))).flatMap((x) => x.failed), fleet.logs()).toEqual([]);
    const jobs = (await api(fleet.instances[0]!.base, 'GET', '/api/v1/jobs', TOKEN)).json as ListedJob[];
    for (const q of more) expect(jobs.find((j) => j.id === q.id)?.status, `job ${q.id}`).toBe('done');
    expect(fleet.instances.every((i) => i.child.exitCode === null)).toBe(true);
  }, 120_000);
});

/** A minimal package 1 in XML (the 503 probe: any well-formed message that needs the store). */
function pkg1Xml(devId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>77</SessionID><MsgID>1</MsgID>` +
    `<Target><LocURI>http://127.0.0.1/dm</LocURI></Target><Source><LocURI>${devId}</LocURI></Source></SyncHdr>` +
    `<SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`;
}
