/**
 * The management API's event stream on a shared store (issue 16): two real `dmw server --store
 * postgres://…` instances behind the test's round-robin balancer. A subscriber reads instance A's
 * stream, goes away, sessions run meanwhile (their messages alternate between the instances), and
 * it reconnects with `Last-Event-ID` to instance B: it gets every event it missed, once, in order,
 * and nothing it had already got. Checked three ways: B up all along (its backlog), B restarted
 * (an empty backlog: the events table), and the table pruned past the id (a `gap` event, then what
 * the table keeps). The reference is a second subscriber on A that stayed connected throughout.
 *
 * And the case the ids' order makes hard: two transactions that commit out of id order (the later
 * id first), and one that rolls back after taking an id: the stream still hands them out in id
 * order, the rolled-back id's successor after a bounded wait, and a resume after the first id gets
 * exactly the rest.
 *
 * Bounded: three handsets, a few jobs, every wait with a deadline; traffic only to 127.0.0.1.
 */
import http from 'node:http';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AAUTH_TYPE, VirtualHandset } from '../../main/client/index.js';
import { imeiFromBody } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { api } from '../helpers/dmw-servers.js';
import { startFleet } from '../helpers/instances.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startRoundRobinProxy } from '../helpers/rr-proxy.js';

const run = postgresAvailable('the event stream across dmw server instances on PostgreSQL');
const TOKEN = 'multi-instance-sse-token-000001';
const ARGS = ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--api-token', TOKEN, '--session-timeout', '10'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: TestPostgres;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Sse {
  id?: string;
  event: string;
  data: any;
}

/** One subscriber: every block with its id line (when it has one), until close(). */
function subscribe(base: string, lastEventId?: string): { got: Sse[]; status: Promise<number>; close(): void } {
  const got: Sse[] = [];
  let buf = '';
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  let resolveStatus!: (n: number) => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const req = http.get(`${base}/api/v1/events`, { headers, agent: false }, (res) => {
    resolveStatus(res.statusCode!);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        const id = /^id: (.*)$/m.exec(block)?.[1];
        if (event && data) got.push({ ...(id !== undefined ? { id } : {}), event, data: JSON.parse(data) });
      }
    });
  });
  req.on('error', () => undefined);
  const close = () => req.destroy();
  cleanup.push(close);
  return { got, status, close };
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function phone(n: number, url: string): Promise<{ h: VirtualHandset; devId: string }> {
  const devId = `IMEI:${imeiFromBody(`3520000000${String(100 + n).padStart(4, '0')}`)}`;
  const h = await VirtualHandset.open({
    device: {
      devId, mod: 'SSE Phone',
      accounts: [{ serverId: 'dmw', addr: url, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' }, serverCred: { type: AAUTH_TYPE.basic, name: 'dmw', secret: '' } }],
    },
    serverAuth: 'off',
    encoding: n % 2 === 0 ? 'wbxml' : 'xml',
    requestTimeoutMs: 10_000,
    exec: () => ({ status: 200 }),
  });
  cleanup.push(() => h.close());
  const lab = h.tree.add(DEVICE, './Lab', { format: 'node', acl: 'Add=*&Get=*&Replace=*&Delete=*&Exec=*', createParents: true });
  if (!lab.ok) throw new Error(lab.message);
  return { h, devId };
}

/** Two jobs for the handset (through one instance's API), then one session through the balancer. */
async function round(base: string, p: { h: VirtualHandset; devId: string }, url: string, tag: string): Promise<void> {
  for (const k of [1, 2]) {
    const r = await api(base, 'POST', '/api/v1/jobs', TOKEN, { device: p.devId, spec: { kind: 'add', uri: `./Lab/${tag}-${k}`, value: 'v' } });
    if (r.status !== 201) throw new Error(`queueing a job: ${r.status} ${JSON.stringify(r.json)}`);
  }
  for (let attempt = 0; ; attempt++) {
    const s = await p.h.connect({ url });
    if (s.ok) return;
    // A message whose session the other instance held at that moment (503): the device calls again.
    if (attempt >= 5) throw new Error(`${p.devId}: session failed: ${s.error}`);
    await sleep(300);
  }
}

const withId = (s: Sse[]) => s.filter((e) => e.id !== undefined && e.event !== 'ready');
const key = (e: Sse) => `${e.event} ${JSON.stringify(e.data)}`;

describe.skipIf(!run)('event stream across instances (shared store)', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(() => {
    cluster?.stop();
  });

  it('a subscriber that reconnects to another instance with Last-Event-ID gets exactly what it missed, in order, once', async () => {
    const storeUrl = await cluster.createDatabase('sse_1');
    const fleet = await startFleet({ storeUrl, count: 2, args: ARGS });
    cleanup.push(() => fleet.stopAll());
    const proxy = await startRoundRobinProxy(fleet.instances.map((i) => i.port));
    cleanup.push(() => proxy.close());
    const dmUrl = proxy.url('/dm');
    const [A, B] = [fleet.instances[0]!, fleet.instances[1]!];

    const reference = subscribe(A.base);
    const client = subscribe(A.base);
    await until('both streams ready', () => reference.got.length > 0 && client.got.length > 0);
    const phones = [await phone(1, dmUrl), await phone(2, dmUrl), await phone(3, dmUrl)];

    // Before the disconnect: one session, read until its end.
    await round(A.base, phones[0]!, dmUrl, 'before');
    await until('the first session ended on the client stream', () => client.got.some((e) => e.event === 'session-ended'));
    await sleep(300);
    client.close();
    const seen = withId(client.got);
    expect(seen.length).toBeGreaterThan(3);
    const last = seen.at(-1)!;

    // Meanwhile: sessions of three handsets at once, through the balancer (both instances).
    await Promise.all(phones.map((p, i) => round(i % 2 === 0 ? A.base : B.base, p, dmUrl, `during${i}`)));
    await until('the reference saw three more sessions end', () => reference.got.filter((e) => e.event === 'session-ended').length >= 4);
    await sleep(1000);
    const ref = withId(reference.got);
    const at = ref.findIndex((e) => key(e) === key(last));
    expect(at, 'the reference stream has the last event the client got').toBeGreaterThanOrEqual(0);
    const missed = ref.slice(at + 1);
    expect(missed.length).toBeGreaterThan(10);

    const check = async (base: string, what: string) => {
      const again = subscribe(base, last.id);
      expect(await again.status).toBe(200);
      await until(`${what}: the resumed stream caught up`, () => withId(again.got).length >= missed.length, 10_000).catch(() => undefined);
      await sleep(500);
      again.close();
      expect(again.got[0]!.event).toBe('ready');
      expect(again.got.filter((e) => e.event === 'gap'), what).toEqual([]);
      // Every missed event, once, in order; nothing the client had (ids and contents).
      expect(withId(again.got).map(key), what).toEqual(missed.map(key));
      expect(withId(again.got).map((e) => e.id), what).toEqual(missed.map((e) => e.id));
    };
    // B up all along: from its backlog.
    await check(B.base, 'instance B, its backlog');
    // B restarted: nothing in memory, so from the events table.
    await fleet.kill9(1);
    const B2 = await fleet.restart(1);
    await check(B2.base, 'instance B restarted, the events table');

    // The table pruned past the id (older than the hour it keeps): a gap, then what is kept.
    const db = new pg.Client({ connectionString: storeUrl });
    await db.connect();
    cleanup.push(() => db.end());
    const cut = Number(missed[2]!.id);
    await db.query('DELETE FROM events WHERE id <= $1', [cut]);
    const pruned = subscribe(B2.base, last.id);
    await until('the pruned resume', () => withId(pruned.got).length >= missed.length - 3, 10_000).catch(() => undefined);
    await sleep(500);
    pruned.close();
    const gaps = pruned.got.filter((e) => e.event === 'gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.data).toMatchObject({ type: 'gap', lastEventId: Number(last.id) });
    expect(gaps[0]!.data.oldestId).toBeGreaterThan(cut);
    expect(withId(pruned.got).map(key)).toEqual(missed.slice(3).map(key));
  }, 120_000);

  it('events committed out of id order, and a rolled-back id: streamed in id order, once; a resume gets the rest', async () => {
    const storeUrl = await cluster.createDatabase('sse_2');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-sse-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = await DmServer.start({ dataDir, storeUrl, port: 0, host: '127.0.0.1' });
    cleanup.push(() => server.close());
    attachApi(server, { auth: buildAuthConfig({ apiToken: TOKEN, peers: [], serverId: 'dmw' }) });
    const base = `http://127.0.0.1:${server.port}`;
    // Another instance's store on the same database.
    const other = await PostgresStore.open(storeUrl);
    cleanup.push(() => other.close());

    const live = subscribe(base);
    await until('ready', () => live.got.length > 0);
    const seen = (device: string) => ({ type: 'device-seen', at: new Date().toISOString(), device, firstTime: true });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let published!: () => void;
    const inTx = new Promise<void>((r) => (published = r));
    const first = other.tx(async (s) => {
      await s.publish(seen('IMEI:1')); // takes the lower id, commits last
      published();
      await gate;
    });
    await inTx;
    await other.publish(seen('IMEI:2')); // the higher id, committed first
    await sleep(300);
    open();
    await first;
    // A turn that publishes and rolls back: its id never comes.
    await expect(other.tx(async (s) => {
      await s.publish(seen('IMEI:3'));
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    await other.publish(seen('IMEI:4'));
    await until('the four-minus-one events', () => withId(live.got).length >= 3, 15_000);
    await sleep(300);
    const got = withId(live.got);
    expect(got.map((e) => e.data.device)).toEqual(['IMEI:1', 'IMEI:2', 'IMEI:4']);
    const ids = got.map((e) => Number(e.id));
    expect(ids[1]).toBe(ids[0]! + 1);
    expect(ids[2]).toBe(ids[1]! + 2);

    const again = subscribe(base, String(ids[0]));
    await until('the resumed stream', () => withId(again.got).length >= 2, 10_000);
    await sleep(300);
    expect(withId(again.got).map((e) => e.data.device)).toEqual(['IMEI:2', 'IMEI:4']);

    // A resume that needs the table while the database is down: 503 (the router's Retry-After), nothing streamed.
    cluster.down();
    try {
      const down = subscribe(base, String(ids[2]! + 1000));
      expect(await down.status).toBe(503);
    } finally {
      cluster.up();
    }
  }, 60_000);
});
