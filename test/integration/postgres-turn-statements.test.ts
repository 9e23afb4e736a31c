/**
 * What a turn costs on PostgreSQL, counted in statements (each a round trip to the database and,
 * in the bench's profile, most of the instance's CPU): the turn's events go out in one statement
 * (StoreEventBus.publishIn -> publishAll), its finished jobs in one. Same rows, same ids in
 * publishing order, same deliveries, and still nothing of a rolled-back turn.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { StoreEventBus } from '../../main/server/store-events.js';
import type { ServerEvent } from '../../main/server/events.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import type { DeliveredEvent, JobOutcome } from '../../main/store/store.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('a turn\'s statements on PostgreSQL');
const T = Date.UTC(2026, 11, 7, 9, 0, 0);
const DEV = 'IMEI:356938035643809';

let cluster: TestPostgres;
const closers: Array<() => unknown> = [];

/** Statements sent on any connection while fn runs (the pool's clients are pg.Clients). */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; statements: string[] }> {
  const statements: string[] = [];
  const original = pg.Client.prototype.query;
  const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const q = args[0];
    statements.push(typeof q === 'string' ? q : String((q as { text?: string }).text));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as never);
  try {
    return { value: await fn(), statements };
  } finally {
    spy.mockRestore();
  }
}

const seen = (device: string): ServerEvent => ({ type: 'device-seen', at: new Date(T).toISOString(), device, firstTime: true }) as ServerEvent;

describe.skipIf(!run)('a turn\'s statements on PostgreSQL', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    cluster?.stop();
  });

  it('a turn\'s six events: one statement, ids in publishing order, delivered in order once committed; none of a rolled-back turn', async () => {
    const store = await PostgresStore.open(await cluster.createDatabase('events'));
    closers.push(() => store.close());
    const got: DeliveredEvent[] = [];
    await store.subscribe((e) => got.push(e));
    const bus = new StoreEventBus(store);
    const devices = ['IMEI:1', 'IMEI:2', 'IMEI:3', 'IMEI:4', 'IMEI:5', 'IMEI:6'];
    const { statements } = await counted(() => store.tx((s) => bus.publishIn(s, devices.map(seen))));
    expect(statements.filter((t) => /events/.test(t))).toHaveLength(1);
    expect(statements).toHaveLength(3); // BEGIN, the events, COMMIT
    await expect(store.tx(async (s) => {
      await bus.publishIn(s, [seen('IMEI:rolled-back')]);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    await store.publish(seen('IMEI:after'));
    await vi.waitFor(() => expect(got.length).toBeGreaterThanOrEqual(7), { timeout: 10_000 });
    expect(got.map((e) => (e.event as { device?: string }).device)).toEqual([...devices, 'IMEI:after']);
    const ids = got.map((e) => e.id);
    expect(ids.slice(0, 6)).toEqual(devices.map((_, i) => ids[0]! + i));
    expect(ids[6]).toBe(ids[5]! + 2); // the rolled-back turn's id is a hole
    const rows = await store.pool.query<{ id: number; body: unknown }>('SELECT id, body FROM events ORDER BY id');
    expect(rows.rows.map((r) => r.id)).toEqual(ids);
    expect(rows.rows.map((r) => r.body)).toEqual(got.map((e) => e.event));
  });

  it('a turn\'s finished jobs: one statement, each outcome on its job, in order; a job finished twice keeps the later outcome', async () => {
    const store = await PostgresStore.open(await cluster.createDatabase('jobs'));
    closers.push(() => store.close());
    const a = await store.addJob(DEV, { kind: 'get', uri: './DevInfo/Mod' }, T);
    const b = await store.addJob(DEV, { kind: 'replace', uri: './Vendor/Mode', value: 'x' }, T);
    const c = await store.addJob(DEV, { kind: 'get', uri: './DevInfo/Man' }, T);
    const outcome = (id: number, status: 'done' | 'failed', data: string): JobOutcome => ({
      id, status, statusCode: status === 'done' ? 200 : 500, results: [{ uri: './DevInfo/Mod', format: 'chr', data }],
      members: [], error: status === 'failed' ? `failed: ${data}` : null,
    });
    const finished = [outcome(c.id, 'failed', 'it"s \\ {odd}'), outcome(a.id, 'done', 'Phone'), outcome(999_999, 'done', 'nobody')];
    const { value, statements } = await counted(() => store.tx((s) => s.updateTurnJobs(undefined, finished, T + 1)));
    expect(statements.filter((t) => /UPDATE jobs/.test(t))).toHaveLength(1);
    expect(value.map((j) => j?.id)).toEqual([c.id, a.id, undefined]);
    expect(value[0]).toMatchObject({ status: 'failed', statusCode: 500, error: 'failed: it"s \\ {odd}', results: finished[0]!.results, verify: false });
    expect(value[1]).toMatchObject({ status: 'done', statusCode: 200, error: null, results: finished[1]!.results, updatedAt: new Date(T + 1).toISOString() });
    expect(await store.job(a.id)).toEqual(value[1]);
    expect((await store.job(b.id))!.status).toBe('queued');
    const twice = await store.tx((s) => s.updateTurnJobs(undefined, [outcome(b.id, 'failed', '1'), outcome(b.id, 'done', '2')], T + 2));
    expect(twice.map((j) => j?.status)).toEqual(['failed', 'done']);
    expect((await store.job(b.id))!.status).toBe('done');
  });
});
