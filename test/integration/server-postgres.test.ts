/**
 * The DM server on a PostgreSQL store (issue 16), against a real cluster (test/helpers/postgres.ts):
 * a `dmw server --store URL` process serves a virtual handset (main/client) through sessions with
 * queued Get and Replace jobs, and the jobs, sessions and messages are in the database; with the
 * database down the DM endpoint and the management API answer 503 with Retry-After and nothing of
 * the refused turn is written; once it is back the same server serves again without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { VirtualHandset, AAUTH_TYPE } from '../../main/client/index.js';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import type { PgOps } from '../../main/store/postgres/ops.js';
import { StoreUnavailableError } from '../../main/store/store.js';
import { DEVICE } from '../../main/tree/tree.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { startFleet, type Fleet } from '../helpers/instances.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('DM server on PostgreSQL');

let cluster: TestPostgres;
let dbCount = 0;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  if (run) cluster = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  cluster?.stop();
});

async function rows<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/** Messages, sessions and jobs as the database has them: what "nothing half-written" compares. */
async function snapshot(url: string) {
  return {
    messages: await rows<{ session_id: number; seq: number; direction: string }>(url, 'SELECT session_id::int AS session_id, seq::int AS seq, direction FROM messages ORDER BY id'),
    sessions: await rows<{ id: number; state: string }>(url, 'SELECT id::int AS id, state FROM sessions ORDER BY id'),
    jobs: await rows<{ id: number; status: string; attempts: number }>(url, 'SELECT id::int AS id, status, attempts::int AS attempts FROM jobs ORDER BY id'),
  };
}

describe.skipIf(!run)('DM server on PostgreSQL', () => {
  it('`dmw server --store URL` serves a virtual handset: queued Get and Replace done in its session, everything logged in the database', async () => {
    const url = await cluster.createDatabase(`srv_${++dbCount}`);
    const fleet: Fleet = await startFleet({
      storeUrl: url, count: 1,
      args: ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-auth', 'md5'],
    });
    cleanups.push(() => fleet.stopAll());
    const inst = fleet.instances[0]!;
    const dmUrl = `${inst.base}/dm`;
    const h = await VirtualHandset.open({
      encoding: 'wbxml',
      device: {
        mod: 'PG Phone',
        accounts: [{ serverId: 'dmw', addr: dmUrl, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'dmw', secret: 'srvpw' } }],
      },
    });
    cleanups.push(() => h.close());
    const leaf = h.tree.add(DEVICE, './Vendor/Lab/Mode', { format: 'chr', value: 'old', createParents: true, acl: 'Get=*&Replace=*' });
    expect(leaf.ok).toBe(true);

    // Jobs queued by another program on the same database (as `dmw job add --store URL` does).
    const store = await PostgresStore.open(url);
    cleanups.push(() => store.close());
    const get = await store.addJob(h.devId, { kind: 'get', uri: './DevInfo/Mod' }, Date.now());
    const replace = await store.addJob(h.devId, { kind: 'replace', uri: './Vendor/Lab/Mode', value: 'new' }, Date.now());

    const r = await h.connect();
    expect(r.error, fleet.logs()).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(await store.job(get.id)).toMatchObject({ status: 'done', statusCode: 200, attempts: 1, results: [{ uri: './DevInfo/Mod', data: 'PG Phone' }] });
    expect(await store.job(replace.id)).toMatchObject({ status: 'done', statusCode: 200, attempts: 1 });
    const now = h.tree.get(DEVICE, './Vendor/Lab/Mode');
    expect(now.ok && now.value.kind === 'leaf' && now.value.value).toBe('new');

    // The session, its messages in order (both directions, raw bytes kept), the device and its tree.
    const [session] = await store.sessions({ device: h.devId });
    expect(session).toMatchObject({ state: 'done', device: h.devId, authType: 'md5' });
    const msgs = await store.messages(session!.id);
    expect(msgs.length).toBeGreaterThanOrEqual(4);
    expect(msgs.map((m) => m.seq)).toEqual(msgs.map((_, i) => i + 1));
    expect(msgs.map((m) => m.direction)).toEqual(msgs.map((_, i) => (i % 2 === 0 ? 'in' : 'out')));
    expect(msgs.every((m) => m.bytes.length > 0)).toBe(true);
    expect((await store.device(h.devId))?.devInfo).toMatchObject({ Mod: 'PG Phone' });
    expect((await store.tree(h.devId)).find((t) => t.uri === './DevInfo/Mod')).toMatchObject({ data: 'PG Phone' });

    // A second session: nothing left to send, the same server and database.
    const again = await h.connect();
    expect(again.ok).toBe(true);
    expect((await store.sessions({ device: h.devId })).map((s) => s.state)).toEqual(['done', 'done']);
    expect(inst.output()).toMatch(/listening on .*store postgres:\/\//);
  }, 120_000);

  it('database down: 503 with Retry-After on the DM endpoint and the API, nothing of the refused turn written; back up: serves again without a restart', async () => {
    const url = await cluster.createDatabase(`srv_${++dbCount}`);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-srv-pg-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = await DmServer.start({ dataDir, storeUrl: url, port: 0, host: '127.0.0.1' });
    cleanups.push(() => server.close());
    expect(server.store.kind).toBe('postgres');
    const token = 'operator-token-0123456789';
    attachApi(server, { auth: buildAuthConfig({ apiToken: token, peers: [], serverId: 'dmw' }) });
    const api = (p: string) => fetch(`http://127.0.0.1:${server.port}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });

    const dev = 'IMEI:490154203237518';
    const { job } = await server.addJob(dev, { kind: 'get', uri: './DevInfo/Mod' });
    const held: { status: number; retryAfter: string | undefined }[] = [];
    let downAfter = 1;
    const client = new TestClient({
      url: server.url, devId: dev, devInfo: { Mod: 'Down Phone' },
      // The database goes away after the first round trip: the device's next message is refused.
      onExchange: (ex) => {
        held.push({ status: ex.httpStatus, retryAfter: ex.headers['retry-after'] as string | undefined });
        if (--downAfter === 0) cluster.down();
      },
    });
    let before: Awaited<ReturnType<typeof snapshot>> | undefined;
    try {
      const r = await client.runSession();
      expect(r.completed).toBe(false);
      expect(held[0]!.status).toBe(200);
      expect(held[1]).toEqual({ status: 503, retryAfter: expect.stringMatching(/^[1-9]\d*$/) });

      // The management API: 503 + Retry-After, JSON error.
      const listed = await api('/jobs');
      expect(listed.status).toBe(503);
      expect(listed.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(await listed.json()).toMatchObject({ error: { status: 503, code: 'unavailable' } });
      // A new device's package 1 too (nothing is written for it either).
      const other = await new TestClient({ url: server.url, devId: 'IMEI:356938035643809' }).runSession();
      expect(other.httpStatus).toBe(503);
      expect(other.exchanges[0]!.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    } finally {
      cluster.up();
    }

    // What the database holds: the first round trip whole (in and out, seq 1 and 2, the job sent),
    // nothing of the refused one, no session of the other device.
    before = await snapshot(url);
    expect(before.sessions).toEqual([{ id: expect.any(Number), state: 'active' }]);
    expect(before.messages.map((m) => `${m.seq}:${m.direction}`)).toEqual(['1:in', '2:out']);
    expect(before.jobs).toEqual([{ id: job.id, status: 'sent', attempts: 1 }]);

    // Back: the same server process answers the API and serves a session (a new job, a new device).
    const ok = await api('/jobs');
    expect(ok.status).toBe(200);
    const { job: next } = await server.addJob('IMEI:351756051523999', { kind: 'get', uri: './DevInfo/Mod' });
    const r2 = await new TestClient({ url: server.url, devId: 'IMEI:351756051523999', devInfo: { Mod: 'Back Phone' } }).runSession();
    expect(r2.completed).toBe(true);
    expect(await server.store.job(next.id)).toMatchObject({ status: 'done', results: [{ data: 'Back Phone' }] });
    const after = await snapshot(url);
    expect(after.messages.length).toBeGreaterThan(before.messages.length);
    expect(after.messages.slice(0, 2)).toEqual(before.messages);
  }, 120_000);

  it('a burst of turns larger than the pool waits for connections instead of failing as unavailable; only a stalled pool does', async () => {
    const url = await cluster.createDatabase(`srv_${++dbCount}`);
    // A connect bound far shorter than the burst takes to drain: it must bound connecting, not queueing.
    const store = await PostgresStore.open(url, { maxConnections: 10, connectTimeoutMs: 300 });
    cleanups.push(() => store.close());
    const turns = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => store.tx(async (s) => {
      await (s as PgOps).sql('SELECT pg_sleep(0.005)');
      return (await s.addJob(`IMEI:${i}`, { kind: 'get', uri: './DevInfo/Mod' }, Date.now())).id;
    })));
    const failed = turns.filter((t) => t.status === 'rejected');
    expect(failed.length, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toBe(0);
    expect(await store.jobs()).toHaveLength(1000);

    // All connections held past the acquire bound: the waiting turn fails as unavailable (503), and its connection, when it comes, goes back.
    const stalled = await PostgresStore.open(url, { maxConnections: 1, acquireTimeoutMs: 200 });
    cleanups.push(() => stalled.close());
    let release!: () => void;
    const holding = stalled.tx(async (s) => {
      await new Promise<void>((r) => (release = r));
      return s.jobs({ device: 'IMEI:1' });
    });
    await new Promise((r) => setTimeout(r, 50));
    await expect(stalled.tx((s) => s.jobs())).rejects.toThrow(StoreUnavailableError);
    release();
    expect(await holding).toHaveLength(1);
    expect(await stalled.tx((s) => s.jobs({ device: 'IMEI:2' }))).toHaveLength(1);
  }, 120_000);
});
