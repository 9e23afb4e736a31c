/**
 * The shared-session protocol (main/server/shared-sessions.ts) and the shared event bus
 * (main/server/store-events.ts) on a real PostgreSQL, two "instances" being two PostgresStores
 * (two pools) on one database: a session made on one is taken by the other, a turn held by one is
 * refused to the other, a lost lease rolls the turn back, a resend gets the committed answer, the
 * sweep ends an idle session once however many sweep, and events reach both buses once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import type { DmStore } from '../../main/store/store.js';
import { LeaseLostError, pgStateReader, SharedSessions, aliasKey, sharedPreAuthId } from '../../main/server/shared-sessions.js';
import { package1, post, randomImei } from '../helpers/hostile.js';
import { StoreEventBus } from '../../main/server/store-events.js';
import type { ServerEvent } from '../../main/server/events.js';
import type { Live } from '../../main/server/live-sessions.js';
import { Harness } from '../helpers/engine-harness.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('shared sessions');
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

let cluster: TestPostgres;
let dbCount = 0;
const opened: DmStore[] = [];
async function twoInstances(): Promise<[PostgresStore, PostgresStore]> {
  const url = await cluster.createDatabase(`shared_${++dbCount}`);
  const a = await PostgresStore.open(url);
  const b = await PostgresStore.open(url);
  opened.push(a, b);
  return [a, b];
}

function liveFor(id: number, token: string): Live {
  const h = new Harness();
  const out = h.send(h.pkg1());
  return {
    id, token, devId: h.devId, dmSessionId: '1', state: { ...out.session, id }, lastActivity: T0, logged: 2,
    device: { devId: h.devId, auth: { authFailures: [] } }, seenWritten: T0, address: '127.0.0.1',
  };
}

describe.skipIf(!run)('shared sessions on PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
    cluster?.stop();
  });

  it('a session made on one instance is taken by the other, by token and by (DevId, SessionID); a held turn is refused meanwhile', async () => {
    const [a, b] = await twoInstances();
    let now = T0;
    const A = new SharedSessions({ store: a, reader: pgStateReader(a.pool), owner: 'A', now: () => now });
    const B = new SharedSessions({ store: b, reader: pgStateReader(b.pool), owner: 'B', now: () => now });
    const id = await a.createSession({ device: 'IMEI:001', dmSessionId: '1', encoding: 'xml' }, now);
    const live = liveFor(id, 'abc123');
    const t0 = A.fresh(live);
    await a.tx((s) => A.commitIn(s, t0, live, { request: new Uint8Array([1]), status: 200, headers: {}, body: new Uint8Array([2, 3]), inSeq: 1, outSeq: 2 }));
    await A.finish(t0, live);

    const byToken = await B.find({ token: 'abc123' });
    expect(byToken.kind).toBe('claimed');
    if (byToken.kind !== 'claimed') return;
    expect(byToken.turn.live).toEqual(live);
    expect(byToken.turn.version).toBe(1);
    // B holds the turn: A is refused (the server answers 503 Retry-After: 1).
    expect(await A.find({ devId: live.devId, dmSessionId: '1' })).toMatchObject({ kind: 'held', retryAfterSec: 1, owner: 'B' });
    const next = { ...byToken.turn.live, logged: 4, lastActivity: T0 + 1000 };
    await b.tx(async (s) => {
      await s.addMessages([{ sessionId: id, seq: 3, direction: 'in', at: now, bytes: new Uint8Array([9]) }]);
      await B.commitIn(s, byToken.turn, next, { request: new Uint8Array([9]), status: 200, headers: { 'x-a': '1' }, body: new Uint8Array([7]), inSeq: 3, outSeq: 4 });
    });
    await B.finish(byToken.turn, next);

    now += 1000;
    const again = await A.find({ devId: live.devId, dmSessionId: '1' });
    expect(again.kind).toBe('claimed');
    if (again.kind !== 'claimed') return;
    expect(again.turn.version).toBe(2);
    expect(again.turn.live.logged).toBe(4);
    // The device sends message 3 again (its instance died before answering): the committed answer.
    expect(A.repeated(again.turn, new Uint8Array([9]))).toMatchObject({ status: 200, headers: { 'x-a': '1' }, body: new Uint8Array([7]), outSeq: 4 });
    expect(A.repeated(again.turn, new Uint8Array([10]))).toBeUndefined();
    await A.release(again.turn);
    expect((await B.find({ token: 'abc123' })).kind).toBe('claimed');
    expect((await B.find({ token: 'nope' })).kind).toBe('none');
  });

  it('a lost lease rolls the turn back: nothing of it is written, and the instance that took over commits', async () => {
    const [a, b] = await twoInstances();
    let now = T0;
    const A = new SharedSessions({ store: a, reader: pgStateReader(a.pool), owner: 'A', now: () => now, leaseMs: 1000 });
    const B = new SharedSessions({ store: b, reader: pgStateReader(b.pool), owner: 'B', now: () => now, leaseMs: 1000 });
    const id = await a.createSession({ device: 'IMEI:001', dmSessionId: '1', encoding: 'xml' }, now);
    const live = liveFor(id, 'dead01');
    const t0 = A.fresh(live);
    await a.tx((s) => A.commitIn(s, t0, live));
    const slow = await A.find({ token: 'dead01' });
    if (slow.kind !== 'claimed') throw new Error(slow.kind);
    now += 1500; // A stalls past its lease
    const fast = await B.find({ token: 'dead01' });
    if (fast.kind !== 'claimed') throw new Error(fast.kind);
    await b.tx((s) => B.commitIn(s, fast.turn, { ...fast.turn.live, logged: 10 }));
    const late = a.tx(async (s) => {
      await s.addMessages([{ sessionId: id, seq: 3, direction: 'in', at: now, bytes: new Uint8Array([1]) }]);
      await A.commitIn(s, slow.turn, { ...slow.turn.live, logged: 99 });
    });
    await expect(late).rejects.toBeInstanceOf(LeaseLostError);
    A.rolledBack(slow.turn);
    expect(await a.messages(id)).toEqual([]);
    const now2 = await A.find({ token: 'dead01' });
    if (now2.kind !== 'claimed') throw new Error(now2.kind);
    expect(now2.turn.live.logged).toBe(10);
  });

  it('a session not yet authenticated (no sessions row, negative id) is shared too', async () => {
    const [a, b] = await twoInstances();
    const now = T0;
    const A = new SharedSessions({ store: a, reader: pgStateReader(a.pool), owner: 'A', now: () => now });
    const B = new SharedSessions({ store: b, reader: pgStateReader(b.pool), owner: 'B', now: () => now });
    const live: Live = { ...liveFor(-1, 'fee1'), preAuth: { startedAt: now, messages: [{ seq: 1, direction: 'in', at: now, bytes: new Uint8Array([60, 62]) }] } };
    await A.finish(A.fresh(live), live);
    const got = await B.find({ devId: live.devId, dmSessionId: '1' });
    if (got.kind !== 'claimed') throw new Error(got.kind);
    expect(got.turn.live.preAuth!.messages[0]!.bytes).toEqual(new Uint8Array([60, 62]));
  });

  it('the sweep ends a session idle past the timeout whose lease ran out, once, however many instances sweep', async () => {
    const [a, b] = await twoInstances();
    let now = T0;
    const A = new SharedSessions({ store: a, reader: pgStateReader(a.pool), owner: 'A', now: () => now, leaseMs: 1000 });
    const B = new SharedSessions({ store: b, reader: pgStateReader(b.pool), owner: 'B', now: () => now, leaseMs: 1000 });
    const ids: number[] = [];
    for (const token of ['a1', 'b2', 'c3']) {
      const id = await a.createSession({ device: `IMEI:${token}`, dmSessionId: '1', encoding: 'xml' }, now);
      ids.push(id);
      const l = { ...liveFor(id, token), devId: `IMEI:${token}` };
      const t = A.fresh(l);
      await a.tx((s) => A.commitIn(s, t, l));
    }
    // One is in a turn on A (killed mid-turn, say): its lease runs until T0 + 1000 + 60 s... not for this test.
    now = T0 + 30_000;
    const busy = await A.find({ token: 'c3' });
    expect(busy.kind).toBe('claimed');
    now = T0 + 30_500;
    const ended: number[] = [];
    const end = async (s: Parameters<Parameters<SharedSessions['sweep']>[1]>[0], l: Live) => {
      ended.push(l.id);
      await s.endSession(l.id, 'timeout', 'idle', now);
    };
    const [na, nb] = await Promise.all([A.sweep(20_000, end), B.sweep(20_000, end)]);
    expect(na + nb).toBe(2);
    expect(ended.sort()).toEqual([ids[0], ids[1]].sort());
    expect((await a.session(ids[0]!))!.state).toBe('timeout');
    expect((await a.session(ids[2]!))!.state).not.toBe('timeout');
    // Its lease runs out: the next sweep takes it.
    now = T0 + 45_000;
    expect(await B.sweep(10_000, end)).toBe(1);
    expect(ended).toHaveLength(3);
    expect((await B.find({ token: 'a1' })).kind).toBe('none');
    const aliases = await a.pool.query(`SELECT count(*)::int AS n FROM session_state WHERE key LIKE 'd:%'`);
    expect(aliases.rows[0].n).toBe(0);
    expect(aliasKey('x', '1')).toBe('d:x\n1');
  });

  it('events reach the subscribers of every instance once; a rolled-back turn publishes nothing', async () => {
    const [a, b] = await twoInstances();
    const busA = new StoreEventBus(a);
    const busB = new StoreEventBus(b);
    await busA.start();
    await busB.start();
    const gotA: ServerEvent[] = [];
    const gotB: ServerEvent[] = [];
    busA.subscribe((e) => gotA.push(e));
    busB.subscribe((e) => gotB.push(e));
    const at = new Date(T0).toISOString();
    busA.emit({ type: 'device-seen', at, device: 'd1', firstTime: true });
    await b.tx((s) => busB.publishIn(s, [{ type: 'notified', at, device: 'd2', ok: true, detail: 'in tx' }]));
    await expect(b.tx(async (s) => {
      await busB.publishIn(s, [{ type: 'notified', at, device: 'd3', ok: false, detail: 'rolled back' }]);
      throw new Error('turn failed');
    })).rejects.toThrow('turn failed');
    busB.emit({ type: 'device-seen', at, device: 'd4', firstTime: false });
    await busA.flushed();
    await busB.flushed();
    const deadline = Date.now() + 5000;
    while ((gotA.length < 3 || gotB.length < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // anything doubled would arrive meanwhile
    const devices = (l: ServerEvent[]) => l.map((e) => (e as { device: string }).device).sort();
    expect(devices(gotA)).toEqual(['d1', 'd2', 'd4']);
    expect(devices(gotB)).toEqual(['d1', 'd2', 'd4']);
    await busA.stop();
    await busB.stop();
  });

  it('a server on a shared store refuses stepping with a plain reason, and lists no session it does not have', async () => {
    const url = await cluster.createDatabase(`shared_${++dbCount}`);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dmw-shared-'));
    const server = await DmServer.start({ dataDir, storeUrl: url, port: 0 });
    try {
      expect(() => server.pauseDevice('IMEI:001')).toThrow(/stepping and holds need the device's sessions on one instance/);
      expect(() => server.step('IMEI:001')).toThrow(/run a single `dmw server` instance for stepping/);
      expect(server.activeSessions()).toEqual([]);
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('the sweep drops a session not yet authenticated after the pre-auth timeout, an authenticated one only after the session timeout', async () => {
    const [a, b] = await twoInstances();
    let now = T0;
    const A = new SharedSessions({ store: a, reader: pgStateReader(a.pool), owner: 'A', now: () => now });
    const warnings: string[] = [];
    const B = new SharedSessions({ store: b, reader: pgStateReader(b.pool), owner: 'B', now: () => now, warn: (m) => warnings.push(m) });
    const pre: Live = { ...liveFor(sharedPreAuthId(), 'beef01'), preAuth: { startedAt: now, messages: [] } };
    await A.finish(A.fresh(pre), pre);
    const id = await a.createSession({ device: 'IMEI:002', dmSessionId: '1', encoding: 'xml' }, now);
    const authed = { ...liveFor(id, 'beef02'), devId: 'IMEI:002' };
    const t = A.fresh(authed);
    await a.tx((s) => A.commitIn(s, t, authed));
    const ended: number[] = [];
    const end = async (_s: unknown, l: Live) => { ended.push(l.id); };
    const limits = { sessionMs: 300_000, preAuthMs: 15_000 };
    now = T0 + 10_000;
    expect(await B.sweep(limits, end)).toBe(0);
    now = T0 + 16_000;
    expect(await B.sweep(limits, end)).toBe(1);
    expect(warnings).toEqual([]);
    expect(ended).toEqual([pre.id]);
    expect((await A.find({ token: 'beef01' })).kind).toBe('none');
    now = T0 + 299_000;
    expect(await B.sweep(limits, end)).toBe(0);
    now = T0 + 301_000;
    expect(await B.sweep(limits, end)).toBe(1);
    expect(ended).toEqual([pre.id, id]);
  });

  describe('servers on one database', () => {
    const dirs: string[] = [];
    const servers: DmServer[] = [];
    afterAll(async () => {
      for (const s of servers) await s.close().catch(() => undefined);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    async function start(url: string, o: Partial<Parameters<typeof DmServer.start>[0]> = {}): Promise<DmServer> {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dmw-shared-'));
      dirs.push(dataDir);
      const server = await DmServer.start({ dataDir, storeUrl: url, port: 0, host: '127.0.0.1', clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'labpw' }, ...o });
      servers.push(server);
      return server;
    }
    const preAuthRows = async (store: PostgresStore) =>
      (await store.pool.query<{ id: string }>(`SELECT (state->'live'->>'id') AS id FROM session_state WHERE key LIKE 't:%' AND (state->'live'->>'id')::bigint < 0`)).rows.map((r) => Number(r.id));

    it('two instances give their sessions not yet authenticated ids that do not collide (not a per-process counter)', async () => {
      const url = await cluster.createDatabase(`shared_${++dbCount}`);
      const [sa, sb] = [await start(url), await start(url)];
      for (const srv of [sa, sb]) {
        const dm = `http://127.0.0.1:${srv.port}/dm`;
        expect((await post(dm, package1({ server: dm, devId: randomImei() }))).status).toBe(200);
      }
      const probe = await PostgresStore.open(url);
      opened.push(probe);
      const ids = await preAuthRows(probe);
      expect(ids).toHaveLength(2);
      expect(new Set(ids).size).toBe(2);
      // Not the first values of a counter that every instance starts at -1.
      expect(ids.every((i) => i < -2)).toBe(true);
    });

    it('a server drops a session not yet authenticated after --preauth-timeout, long before --session-timeout', async () => {
      const url = await cluster.createDatabase(`shared_${++dbCount}`);
      let clock = Date.now();
      const srv = await start(url, { now: () => clock, sweepIntervalMs: 50, limits: { preAuthTimeoutMs: 15_000, sessionTimeoutMs: 300_000 } });
      const dm = `http://127.0.0.1:${srv.port}/dm`;
      expect((await post(dm, package1({ server: dm, devId: randomImei() }))).status).toBe(200);
      const probe = await PostgresStore.open(url);
      opened.push(probe);
      expect(await preAuthRows(probe)).toHaveLength(1);
      clock += 16_000;
      const deadline = Date.now() + 10_000;
      while ((await preAuthRows(probe)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await preAuthRows(probe)).toEqual([]);
    });
  });
});
