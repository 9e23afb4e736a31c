/**
 * Acceptance (issue 14, point 5): kill -9 of `dmw server` while commands are on the wire never
 * applies a command twice unseen. A real `dmw server` process, virtual handsets that pause 100-500 ms
 * before each message (as real handsets do) and count every Add, Replace, Delete and Exec they
 * execute, jobs of every kind and onUnconfirmed policy queued through the management API, and
 * several rounds of: handsets run sessions, the server is killed (SIGKILL) at a random moment while
 * some handset holds executed commands whose Statuses it has not sent yet (or at any instant), the
 * server restarts on the same data folder. Between handsets and server a proxy cuts the connection
 * now and then before the server's answer reaches the handset: commands the server sent that the
 * device never saw, so that verifying finds both what was applied and what was not. Then the engineer decides on every unconfirmed job (verify the Adds, Replaces and
 * Deletes, drop the Execs) and the handsets call in once more.
 *
 * Asserted: no command executed twice on any handset unless its job said onUnconfirmed resend; no
 * job lost (every queued job is in the store, in a known state, after every restart); the verified
 * jobs end done, executed exactly once, and the device holds what they say; `pragma
 * integrity_check` is ok after every kill. DMW_CRASH_SEED replays a run's choices (jobs, policies,
 * pauses, kill moments, cuts; the interleaving is the machine's); DMW_CRASH_DEBUG=1 prints why jobs
 * failed and what each verification read back.
 */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DB_FILE } from '../../main/store/server-store.js';
import { AAUTH_TYPE, VirtualHandset, type HandsetAppHooks } from '../../main/client/index.js';
import { imeiFromBody } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import type { JobSpec, UnconfirmedPolicy } from '../../main/server/types.js';
import { api, dmwLab, type Running } from '../helpers/dmw-servers.js';

const { tmp, startServer, cleanup } = dmwLab('dmw-crash-');

const TOKEN = 'crash-test-operator-token-0123';
const HANDSETS = 6;
const ROUNDS = 6;
/** Jobs queued per handset before each round (the last batch is queued before the final round too). */
const PER_ROUND = 6;
const COUNTED = new Set(['Add', 'Replace', 'Delete', 'Exec']);
/** Server messages with commands that some handset executed and had not answered yet, all handsets together. */
let holdMoments = 0;

/** Seeded so that a failing run can be replayed (DMW_CRASH_SEED). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The handsets' way to the server: forwards every request (Host kept, so the server's RespURI points
 * here too) and, with probability `cutRate`, cuts the connection instead of passing the answer on.
 */
async function cuttingProxy(random: () => number, cutRate: number) {
  let target = 0;
  let cuts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const body: Buffer[] = [];
        answer.on('data', (c: Buffer) => body.push(c));
        answer.on('end', () => {
          if (random() < cutRate) {
            cuts++;
            res.socket?.destroy();
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(body));
        });
        answer.on('error', () => res.socket?.destroy());
      });
      up.on('error', () => res.socket?.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/dm`,
    to(serverPort: number) {
      target = serverPort;
    },
    get cuts() {
      return cuts;
    },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

interface Phone {
  h: VirtualHandset;
  devId: string;
  /** Executions per `Cmd uri` (Add ./Lab/a3 ...). */
  executed: Map<string, number>;
  /** It executed commands of the server and has not sent their Statuses yet (it is pausing). */
  holding: boolean;
}

/** A job as GET /api/v1/jobs gives it (the `dmw job list --json` shape), what this test reads of it. */
interface ListedJob {
  id: number;
  command: string;
  status: string;
  statusCode: number | null;
  error: string | null;
  members?: { cmd: string; uri: string; statusCode: number | null }[];
}

interface Queued {
  id: number;
  device: string;
  spec: Extract<JobSpec, { uri: string }>;
  cmd: string;
  policy: UnconfirmedPolicy;
}

async function phone(n: number, url: string): Promise<Phone> {
  const devId = `IMEI:${imeiFromBody(`3500000000${String(100 + n).padStart(4, '0')}`)}`;
  const h = await VirtualHandset.open({
    device: {
      devId, mod: 'Crash Phone',
      accounts: [{ serverId: 'dmw', addr: url, clientCred: { type: AAUTH_TYPE.basic, name: 'lab', secret: 'pw' }, serverCred: { type: AAUTH_TYPE.basic, name: 'dmw', secret: '' } }],
    },
    serverAuth: 'off',
    encoding: 'wbxml',
    // Small messages: a round's commands travel in several messages, so more of them are on the wire at a kill.
    maxMsgSize: 900,
    requestTimeoutMs: 5_000,
    exec: () => ({ status: 200 }),
  });
  cleanup.push(() => h.close());
  const lab = h.tree.add(DEVICE, './Lab', { format: 'node', acl: 'Add=*&Get=*&Replace=*&Delete=*&Exec=*', createParents: true });
  if (!lab.ok) throw new Error(lab.message);
  const p: Phone = { h, devId, executed: new Map(), holding: false };
  const hooks: HandsetAppHooks = {
    exec: () => undefined,
    serverCommands: (events) => {
      for (const e of events) {
        if (!COUNTED.has(e.cmd) || e.target === undefined) continue;
        const key = `${e.cmd} ${e.target}`;
        p.executed.set(key, (p.executed.get(key) ?? 0) + 1);
        if (!p.holding) holdMoments++;
        p.holding = true;
      }
    },
  };
  h.attachApps(hooks);
  return p;
}

/** Sessions until the server has nothing more for the handset, the server is gone, or the bound. */
async function callIn(p: Phone, url: string, random: () => number): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const r = await p.h.connect({
      url,
      beforeSend: async (index) => {
        // A real handset takes its time between messages: the Statuses of what it just executed wait here.
        if (index > 0) await sleep(100 + Math.floor(random() * 400));
        p.holding = false;
      },
    });
    p.holding = false;
    if (!r.ok) return;
    if (!r.log.some((e) => COUNTED.has(e.cmd) || e.cmd === 'Get')) return;
  }
}

function integrityOk(data: string): string {
  const db = new Database(path.join(data, DB_FILE));
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('kill -9 of dmw server while commands are on the wire', () => {
  it('never executes a command twice unless its job said resend; no job is lost; verified jobs end done, executed once', async () => {
    const seed = Number(process.env.DMW_CRASH_SEED ?? Math.floor(Math.random() * 0x7fffffff));
    const random = rng(seed);
    const note = `DMW_CRASH_SEED=${seed}`;
    const data = tmp();
    // A session cut off by the proxy times out after a second: its jobs are released by their policy.
    const args = ['--client-auth', 'basic', '--client-cred', 'lab:pw', '--api-token', TOKEN, '--session-timeout', '1'];
    const proxy = await cuttingProxy(random, 0.07);
    cleanup.push(() => proxy.close());
    let srv: Running = await startServer(data, args);
    proxy.to(srv.port);
    const phones = await Promise.all(Array.from({ length: HANDSETS }, (_, n) => phone(n, proxy.url)));
    const queued: Queued[] = [];
    let serial = 0;

    /** One batch per handset: every kind, default and explicit policies (resend only where the test accepts a repeat). */
    const queueBatch = async (base: string) => {
      for (const p of phones) {
        for (let k = 0; k < PER_ROUND; k++) {
          const n = serial++;
          const kind = (['add', 'replace', 'delete', 'exec'] as const)[n % 4]!;
          const uri = `./Lab/${kind}${n}`;
          if (kind !== 'add') {
            const leaf = p.h.tree.add(DEVICE, uri, { format: 'chr', value: 'old' });
            if (!leaf.ok) throw new Error(leaf.message);
          }
          const spec: Queued['spec'] = kind === 'add' ? { kind, uri, value: `new-${n}` } : kind === 'replace' ? { kind, uri, value: `new-${n}` } : { kind, uri };
          // Mostly the defaults (ask); some verify, drop, and a few resend (the only repeats allowed).
          const r = random();
          const policy: UnconfirmedPolicy | undefined = r < 0.5 ? undefined : r < 0.7 ? (kind === 'exec' ? 'drop' : 'verify') : r < 0.85 ? 'drop' : 'resend';
          const res = await api(base, 'POST', '/api/v1/jobs', TOKEN, { device: p.devId, spec, ...(policy ? { onUnconfirmed: policy } : {}) });
          expect(res.status, `${note}: ${JSON.stringify(res.json)}`).toBe(201);
          queued.push({ id: res.json.job.id, device: p.devId, spec, cmd: kind[0]!.toUpperCase() + kind.slice(1), policy: res.json.job.onUnconfirmed });
        }
      }
    };

    /** Every job ever queued is in the store, in a known state. */
    const accountFor = async (base: string, allowed: readonly string[]) => {
      const all = (await api(base, 'GET', '/api/v1/jobs', TOKEN)).json as ListedJob[];
      expect(all.map((j) => j.id).sort((a, b) => a - b), note).toEqual(queued.map((q) => q.id).sort((a, b) => a - b));
      for (const j of all) expect(allowed, `${note}: job ${j.id}`).toContain(j.status);
      return all;
    };

    const unconfirmedSeen = new Set<number>();
    let killsInFlight = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await queueBatch(srv.base);
      let idle = false;
      const running = Promise.all(phones.map((p) => callIn(p, proxy.url, random))).then(() => (idle = true));
      if (round % 2 === 0) {
        // A random moment among those at which a handset holds executed commands unanswered (it is
        // pausing before it sends their Statuses): the 1st to 6th of this round, or the end of the work.
        const target = holdMoments + 1 + Math.floor(random() * 6);
        const deadline = Date.now() + 10_000;
        while (!(holdMoments >= target && phones.some((p) => p.holding)) && !idle && Date.now() < deadline) await sleep(2);
        await sleep(Math.floor(random() * 60));
      } else {
        // Any instant: also between the server's commit of a message and the device receiving it.
        await sleep(50 + Math.floor(random() * 700));
      }
      if (phones.some((p) => p.holding)) killsInFlight++;
      srv.child.kill('SIGKILL');
      expect((await srv.exited).signal).toBe('SIGKILL');
      await running;
      expect(integrityOk(data), note).toBe('ok');
      srv = await startServer(data, args);
      proxy.to(srv.port);
      // After recovery nothing is 'sent': each job on the wire went by its policy.
      const all = await accountFor(srv.base, ['queued', 'done', 'failed', 'unconfirmed']);
      for (const j of all) if (j.status === 'unconfirmed') unconfirmedSeen.add(j.id);
    }
    // The kills hit commands on the wire, and some jobs were left for the engineer.
    expect(killsInFlight, note).toBeGreaterThanOrEqual(ROUNDS / 2);
    expect(unconfirmedSeen.size, note).toBeGreaterThan(0);

    // The engineer decides: read back the Adds, Replaces and Deletes, drop the Execs.
    const open = ((await api(srv.base, 'GET', '/api/v1/jobs?status=unconfirmed', TOKEN)).json as { id: number; command: string }[]);
    const verified = new Set<number>();
    for (const j of open) {
      const action = j.command === 'exec' ? 'drop' : 'verify';
      const r = await api(srv.base, 'POST', `/api/v1/jobs/${j.id}/decision`, TOKEN, { action });
      expect(r.status, `${note}: ${JSON.stringify(r.json)}`).toBe(200);
      if (action === 'verify') verified.add(j.id);
    }
    // Straight to the server (no cuts now): the decisions go out and are answered.
    await Promise.all(phones.map((p) => callIn(p, srv.dmUrl, random)));
    const final = await accountFor(srv.base, ['done', 'failed']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited, note).toEqual({ code: 0, signal: null });
    expect(integrityOk(data), note).toBe('ok');

    // No command executed twice unless its job said resend.
    const byId = new Map(final.map((j) => [j.id, j]));
    const twice: string[] = [];
    for (const q of queued) {
      const p = phones.find((x) => x.devId === q.device)!;
      const n = p.executed.get(`${q.cmd} ${q.spec.uri}`) ?? 0;
      if (n > 1 && q.policy !== 'resend') twice.push(`job ${q.id} ${q.cmd} ${q.spec.uri} (${q.policy}): ${n} times`);
      const j = byId.get(q.id)!;
      if (j.status === 'done' && q.policy !== 'resend') expect(n, `${note}: job ${q.id} ${q.cmd} ${q.spec.uri} done`).toBe(1);
    }
    expect(twice, note).toEqual([]);

    // The verified jobs end done, executed exactly once, and the device holds what they say.
    for (const id of verified) {
      const q = queued.find((x) => x.id === id)!;
      const p = phones.find((x) => x.devId === q.device)!;
      expect(byId.get(id), `${note}: verified job ${id}`).toMatchObject({ status: 'done' });
      expect(p.executed.get(`${q.cmd} ${q.spec.uri}`), `${note}: verified job ${id} ${q.cmd} ${q.spec.uri}`).toBe(1);
      const node = p.h.tree.lookup(q.spec.uri);
      if (q.spec.kind === 'delete') expect(node, `${note}: ${q.spec.uri}`).toBeUndefined();
      else expect(node?.value, `${note}: ${q.spec.uri}`).toBe((q.spec as { value: string }).value);
    }

    if (process.env.DMW_CRASH_DEBUG) {
      // Why jobs failed, and what each verification read back (members: the read-back Get first).
      const reasons = new Map<string, number>();
      for (const j of final) {
        if (j.status !== 'failed') continue;
        const k = `${j.command}: ${String(j.error).replace(/\d+/g, 'N').slice(0, 90)}`;
        reasons.set(k, (reasons.get(k) ?? 0) + 1);
      }
      console.info([...reasons].map(([k, v]) => `${v} x ${k}`).join('\n'));
      const reads = new Map<string, number>();
      for (const j of final) {
        if (!verified.has(j.id)) continue;
        const k = `${j.command} ${(j.members ?? []).map((m) => `${m.cmd} ${m.statusCode}`).join(', ')}`;
        reads.set(k, (reads.get(k) ?? 0) + 1);
      }
      console.info([...reads].map(([k, v]) => `${v} x verified ${k}`).join('\n'));
    }
    const count = (s: string) => final.filter((j) => j.status === s).length;
    console.info(`server-crash: ${note}, ${queued.length} jobs on ${HANDSETS} handsets, ${ROUNDS} kills (${killsInFlight} with commands on the wire), ` +
      `${proxy.cuts} connections cut, ${unconfirmedSeen.size} unconfirmed, ${verified.size} verified; final ${count('done')} done, ${count('failed')} failed; ` +
      `${[...phones].reduce((n, p) => n + [...p.executed.values()].reduce((a, b) => a + b, 0), 0)} commands executed`);
  }, 150_000);
});
