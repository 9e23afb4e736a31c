/**
 * DmStoreQueries (main/store/queries.ts): the views' read queries answer the same on SQLite
 * (main/store/sqlite/queries.ts over the ServerStore's connection) and on a real PostgreSQL
 * (main/store/postgres/queries.ts through PostgresStore) for the same stored data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerStore } from '../../main/store/server-store.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { SqliteQueries } from '../../main/store/sqlite/queries.js';
import type { DmStoreQueries } from '../../main/store/queries.js';
import type { DmStoreOps } from '../../main/store/store.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('store queries on PostgreSQL');
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

type Writer = { [K in keyof DmStoreOps]: (...a: Parameters<DmStoreOps[K]>) => ReturnType<DmStoreOps[K]> | Awaited<ReturnType<DmStoreOps[K]>> };

const enc = (t: string) => new TextEncoder().encode(t);
const syncml = (dev: string, msgId: number) => enc(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>${msgId}</MsgID><Target><LocURI>http://x</LocURI></Target><Source><LocURI>${dev}</LocURI></Source></SyncHdr><SyncBody><Final/></SyncBody></SyncML>`);

/** The same lab data on either store: two devices with jobs in several states, ended and active sessions, a tree. */
async function fill(s: Writer): Promise<void> {
  for (const d of ['IMEI:b', 'IMEI:a', 'IMEI:c']) await s.touchDevice(d, T0);
  for (let i = 0; i < 3; i++) await s.addJob('IMEI:a', { kind: 'get', uri: `./A/${i}` }, T0 + i);
  await s.addJob('IMEI:b', { kind: 'replace', uri: './B', value: 'x' }, T0 + 10);
  await s.addJob('IMEI:z', { kind: 'get', uri: './Z' }, T0 + 11);
  const s1 = (await s.createSession({ device: 'IMEI:a', dmSessionId: '1', encoding: 'xml' }, T0 + 1000)) as number;
  await s.markSent([1, 2], s1, T0 + 1001);
  await s.finishJob({ id: 1, status: 'done', statusCode: 200, results: [], members: [], error: null }, T0 + 1002);
  for (let i = 0; i < 7; i++) {
    await s.addMessage({ sessionId: s1, direction: i % 2 ? 'out' : 'in', at: T0 + 1000 + i * 10, durationMs: i % 2 ? 1.5 : null, bytes: i === 5 ? enc('<broken') : syncml('IMEI:a', i + 1), msgId: String(i + 1), httpStatus: i % 2 ? 200 : null, contentType: 'application/vnd.syncml.dm+xml', ...(i === 5 ? { error: 'not SyncML' } : {}), ...(i === 3 ? { note: 'a note' } : {}) });
  }
  await s.releaseSessionJobs(s1, 'ended', T0 + 2000, 3);
  await s.endSession(s1, 'done', 'ok', T0 + 2000);
  const s2 = (await s.createSession({ device: 'IMEI:b', dmSessionId: '2', encoding: 'wbxml' }, T0 + 3000)) as number;
  await s.addMessage({ sessionId: s2, direction: 'in', at: T0 + 3000, bytes: syncml('IMEI:b', 1) });
  await s.createSession({ device: 'IMEI:a', dmSessionId: '3', encoding: 'xml' }, T0 + 4000);
  await s.createSession({ device: null, dmSessionId: null, encoding: null, state: 'rejected', reason: 'bad body' }, T0 + 5000);
  await s.upsertTree('IMEI:a', [
    { uri: './DevDetail/URI/MaxDepth', format: 'int', type: null, data: '8' },
    { uri: './DevDetail/URI/MaxTotLen', format: 'int', type: null, data: '256' },
    { uri: './DevInfo/Mod', format: 'chr', type: null, data: 'X1' },
    { uri: './Vendor/Empty', format: 'node', type: null, data: null },
  ], T0 + 6000);
}

/** Every query's answer, with the records' lazily decoded form read out. */
async function answers(q: DmStoreQueries) {
  const page = async (id: number, offset: number, limit: number) => (await q.messagePage(id, offset, limit)).map((m) => ({ ...m, decoded: m.decoded, bytes: Buffer.from(m.bytes).toString('hex') }));
  return {
    jobCounts: await q.jobCounts(),
    lastSessions: await q.lastSessions(),
    page: await page(1, 0, 100),
    pageMiddle: await page(1, 2, 3),
    pagePast: await page(1, 50, 10),
    envelopes: await q.messageEnvelopes(1),
    envelopesNone: await q.messageEnvelopes(99),
    firstAt: [await q.firstMessageAt(1), await q.firstMessageAt(3), await q.firstMessageAt(99)],
    counts: [await q.messageCount(1), await q.messageCount(2), await q.messageCount(99)],
    treeValues: await q.treeValues('IMEI:a', ['./DevDetail/URI/MaxDepth', './DevDetail/URI/MaxTotLen', './DevDetail/URI/MaxSegLen', './Vendor/Empty']),
    treeNone: [await q.treeValues('IMEI:b', ['./DevInfo/Mod']), await q.treeValues('IMEI:a', [])],
    maxSessionId: await q.maxSessionId(),
    active: await q.activeSessionIds(),
  };
}

describe.skipIf(!run)('the views\' store queries on SQLite and PostgreSQL', () => {
  let cluster: TestPostgres;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(() => cluster?.stop());

  it('give the same answers for the same data', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-queries-'));
    const sqlite = ServerStore.open(dir, { synchronous: 'NORMAL' });
    const pgStore = await PostgresStore.open(cluster.url);
    try {
      await fill(sqlite as unknown as Writer);
      await fill(pgStore);
      const fromSqlite = await answers(new SqliteQueries(sqlite.db));
      const fromPostgres = await answers(pgStore);
      expect(fromPostgres).toEqual(fromSqlite);
      // And what they say is right, not only alike.
      const a = fromSqlite;
      expect(a).toMatchObject({
        jobCounts: [
          { device: 'IMEI:a', status: 'done', n: 1 }, { device: 'IMEI:a', status: 'queued', n: 2 },
          { device: 'IMEI:b', status: 'queued', n: 1 }, { device: 'IMEI:z', status: 'queued', n: 1 },
        ],
        lastSessions: [
          { device: 'IMEI:a', id: 3, state: 'active', startedAt: new Date(T0 + 4000).toISOString(), endedAt: null },
          { device: 'IMEI:b', id: 2, state: 'active', startedAt: new Date(T0 + 3000).toISOString(), endedAt: null },
        ],
        counts: [7, 1, 0],
        firstAt: [new Date(T0 + 1000).toISOString(), null, null],
        treeValues: [{ uri: './DevDetail/URI/MaxDepth', data: '8' }, { uri: './DevDetail/URI/MaxTotLen', data: '256' }, { uri: './Vendor/Empty', data: null }],
        maxSessionId: 4,
        active: [2, 3],
      });
      const page = a.page;
      expect(page.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(page[5]!.decoded).toBeNull();
      expect(page[0]!.decoded).toContain('<SyncML');
      expect(a.pageMiddle.map((m) => m.seq)).toEqual([3, 4, 5]);
      expect(a.envelopes[5]).toMatchObject({ size: 7, error: 'not SyncML' });
      // A page is the store's own records, a slice of them.
      expect((await pgStore.messagePage(1, 2, 3)).map((m) => m.id)).toEqual((await pgStore.messages(1)).slice(2, 5).map((m) => m.id));
    } finally {
      sqlite.close();
      await pgStore.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
