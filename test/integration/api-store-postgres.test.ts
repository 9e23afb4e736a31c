/**
 * The UI backend (main/api/backend.ts) on a shared lab server's PostgreSQL (issue 16), against a
 * real cluster: the views' channels answer the same as on SQLite for the same stored data (devices,
 * sessions with windows and envelopes, findings, the packet list's filter, content search, the tree,
 * jobs), a job added while no server runs lands in the database, and while the database is down a
 * call answers `unavailable` (nothing crashes) and works again once it is back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { dispatch } from '../../main/api/dispatch.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { DmStore } from '../../main/store/store.js';
import { sessionMessages } from '../helpers/filter-fixture.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('UI backend on PostgreSQL');
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

/** Sessions a server logged: three short ones and one long enough to come as envelope plus windows. */
async function fill(s: DmStore): Promise<void> {
  await s.touchDevice('IMEI:1', T0);
  await s.touchDevice('IMEI:2', T0);
  for (const [i, dev] of ['IMEI:1', 'IMEI:2', 'IMEI:1'].entries()) {
    const at = T0 + 1000 * (i + 1);
    const sid = await s.createSession({ device: dev, dmSessionId: String(i + 1), encoding: 'xml', authType: 'md5' }, at);
    await s.addMessages(sessionMessages({ devId: dev, dmSessionId: String(i + 1), at, getStatus: i === 1 ? 404 : 200 }).map((m, seq) => ({ ...m, sessionId: sid, seq: seq + 1 })));
    await s.endSession(sid, 'done', 'ok', at + 50);
  }
  // 1,004 messages: over LAZY_SESSION_MESSAGES, so sessions.get answers an envelope.
  const long = await s.createSession({ device: 'IMEI:2', dmSessionId: '9', encoding: 'xml' }, T0 + 10_000);
  const rounds = Array.from({ length: 251 }, (_, r) => sessionMessages({ devId: 'IMEI:2', dmSessionId: '9', at: T0 + 10_000 + r * 100 })).flat();
  await s.addMessages(rounds.map((m, seq) => ({ ...m, sessionId: long, seq: seq + 1 })));
  await s.upsertTree('IMEI:1', [
    { uri: './DevInfo/Mod', format: 'chr', type: null, data: 'Lab Phone' },
    { uri: './DevDetail/URI/MaxDepth', format: 'int', type: null, data: '2' },
  ], T0 + 20_000);
  await s.tx(async (t) => {
    const j = await t.addJob('IMEI:1', { kind: 'get', uri: './DevInfo/Ext' }, T0 + 30_000);
    await t.markSent([j.id], 1, T0 + 30_001);
    await t.finishJob({ id: j.id, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Ext', format: 'chr', data: 'x' }], members: [], error: null }, T0 + 30_002);
  });
  await s.addJob('IMEI:2', { kind: 'replace', uri: './Vendor/A', value: '1' }, T0 + 30_003);
}

/** What the views are shown, channel by channel (times the backend measures left out). */
async function views(b: Backend): Promise<Record<string, unknown>> {
  const call = async (channel: string, input: unknown) => {
    const r = await dispatch(b.handlers, channel, input);
    if (!r.ok) throw new Error(`${channel}: ${r.error.code}: ${r.error.message}`);
    return r.value;
  };
  const noTime = (v: unknown) => {
    const { tookMs, ...rest } = v as { tookMs: number };
    return { ...rest, tookMs: typeof tookMs };
  };
  const devices = (await call('devices.list', {})) as Record<string, unknown>[];
  return {
    // devInfo's key order is jsonb's on PostgreSQL (a known difference); none is set here.
    devices,
    sessions: await call('sessions.list', {}),
    sessionsOfOne: await call('sessions.list', { device: 'IMEI:1', limit: 1 }),
    short: await call('sessions.get', { id: 2 }),
    long: await call('sessions.get', { id: 4 }),
    window: await call('sessions.summaries', { id: 4, offset: 500, limit: 20 }),
    message: await call('sessions.message', { id: 3 }),
    findings: await call('sessions.findings', { id: 2 }),
    counts: await call('sessions.findingCounts', { ids: [1, 2, 3] }),
    packets: noTime(await call('packets.query', { filter: 'status == 404', offset: 0, limit: 50 })),
    sorted: noTime(await call('packets.query', { filter: 'dev == "IMEI:1"', offset: 2, limit: 5, sort: { column: 'size', desc: true } })),
    badFilter: await call('packets.query', { filter: 'status ==', offset: 0, limit: 5 }),
    search: noTime(await call('sessions.search', { filter: 'cmd == "Get" && status == 404' })),
    tree: await call('tree.get', { device: 'IMEI:1' }),
    jobs: await call('jobs.list', {}),
  };
}

describe.skipIf(!run)('the UI backend on PostgreSQL', () => {
  let cluster: TestPostgres;
  let url: string;
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'dmw-api-pg-'));
    dirs.push(d);
    return d;
  };
  const opts = { settings: { port: 0 }, handsets: { ok: false as const, reason: 'not in this test' } };

  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase('lab');
    const pg = await PostgresStore.open(url);
    try {
      await fill(pg);
    } finally {
      await pg.close();
    }
  }, 60_000);
  afterAll(() => {
    cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('shows the same devices, sessions, findings, packets, tree and jobs as on SQLite', async () => {
    const sqliteDir = tmp();
    const sqlite = SqliteStore.open(sqliteDir);
    await fill(sqlite);
    await sqlite.close();
    const onSqlite = await Backend.create({ dataDir: sqliteDir, ...opts });
    const onPostgres = await Backend.create({ dataDir: tmp(), storeUrl: url, ...opts });
    try {
      const a = await views(onSqlite);
      const b = await views(onPostgres);
      for (const k of Object.keys(a)) expect([k, b[k]]).toEqual([k, a[k]]);
      // And they say what is there.
      expect(b.devices).toMatchObject([{ devId: 'IMEI:1', lastSession: { id: 3, state: 'done' }, jobs: { done: 1 } }, { devId: 'IMEI:2', lastSession: { id: 4, state: 'active' }, jobs: { queued: 1 } }]);
      expect(b.long).toMatchObject({ summarized: 100 });
      expect((b.long as { messages: unknown[] }).messages).toHaveLength(1004);
      const packets = b.packets as { total: number; rows: { sessionId: number }[] };
      expect(packets.total).toBeGreaterThan(0);
      expect(new Set(packets.rows.map((r) => r.sessionId))).toEqual(new Set([2]));
      expect(b.badFilter).toMatchObject({ ok: false, error: { position: 9 } });
      expect(b.search).toMatchObject({ ok: true, ids: [2] });
      expect((b.findings as { session: number; messages: number }).messages).toBe(4);
    } finally {
      await onSqlite.close();
      await onPostgres.close();
    }
  }, 60_000);

  it('with its DM server on the database: a handset\'s session, a job sent and its result, the tree written by a Replace, all read back', async () => {
    const served = await cluster.createDatabase('served');
    const b = await Backend.create({ dataDir: tmp(), storeUrl: served, settings: { port: 0 }, startServer: true, handsetModule: path.resolve('test/e2e/support/test-handsets.ts') });
    try {
      expect(b.status()).toMatchObject({ running: true, error: null });
      const dev = (await b.handlers['handsets.add']({ count: 1 })).handsets[0]!.devId;
      await b.handsetFleet!.connect(dev);
      const j = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'replace', uri: './DMAcc/dmw/Name', value: 'on-postgres', format: 'chr' }, notify: false });
      const g = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/Mod' }, notify: false });
      await b.handsetFleet!.connect(dev);
      const jobs = await b.handlers['jobs.list']({ device: dev });
      expect(jobs.filter((x) => x.id === j.job!.id || x.id === g.job!.id).map((x) => x.status)).toEqual(['done', 'done']);
      const sessions = await b.handlers['sessions.list']({ device: dev });
      expect(sessions.map((x) => x.state)).toEqual(['done', 'done']);
      const detail = await b.handlers['sessions.get']({ id: sessions[0]!.id });
      expect(detail.messages.flatMap((m) => m.commands).some((c) => c.kind === 'Replace')).toBe(true);
      // The Replace's value is in the cached tree (the backend writes it after job-done), in the database.
      await (b as unknown as { treeWork: Promise<void> }).treeWork;
      const other = await PostgresStore.open(served);
      try {
        expect((await other.tree(dev)).find((e) => e.uri === './DMAcc/dmw/Name')?.data).toBe('on-postgres');
        expect((await other.session(sessions[0]!.id))?.state).toBe('done');
      } finally {
        await other.close();
      }
      expect((await b.handlers['devices.list']({})).find((d) => d.devId === dev)).toMatchObject({ virtual: true, lastSession: { id: sessions[0]!.id, state: 'done' }, jobs: { done: 2 } });
    } finally {
      await b.close();
    }
  }, 60_000);

  it('a job added while no server runs goes into the database; the database down is `unavailable`, not a crash, and it works again once back', async () => {
    const b = await Backend.create({ dataDir: tmp(), storeUrl: url, ...opts });
    try {
      const added = await b.handlers['jobs.add']({ device: 'IMEI:7', spec: { kind: 'get', uri: './DevInfo/Mod' }, notify: false });
      const other = await PostgresStore.open(url);
      try {
        expect(await other.job(added.job!.id)).toMatchObject({ device: 'IMEI:7', status: 'queued' });
      } finally {
        await other.close();
      }
      cluster.down();
      for (const [channel, input] of [['sessions.list', {}], ['devices.list', {}], ['packets.query', { filter: 'cmd == "Get"', offset: 0, limit: 5 }], ['jobs.add', { device: 'IMEI:7', spec: { kind: 'get', uri: './A' }, notify: false }]] as const) {
        const r = await dispatch(b.handlers, channel, input);
        expect(r, channel).toMatchObject({ ok: false, error: { code: 'unavailable', retryAfterSec: expect.any(Number) } });
        expect(!r.ok && r.error.message, channel).toMatch(/^database unavailable, retrying: /);
      }
      await cluster.up();
      const back = await dispatch(b.handlers, 'jobs.list', { device: 'IMEI:7' });
      // The refused jobs.add wrote nothing: one job, the first.
      expect(back).toMatchObject({ ok: true, value: [{ id: added.job!.id }] });
      expect(back.ok && (back.value as unknown[]).length).toBe(1);
    } finally {
      await b.close();
    }
  }, 60_000);
});
