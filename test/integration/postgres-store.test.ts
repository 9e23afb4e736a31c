/**
 * The PostgreSQL store (main/store/postgres/) against a real PostgreSQL (test/helpers/postgres.ts,
 * one throwaway cluster for this file, a database per case): migrations, the same answers as the
 * SQLite store for the same calls, jobs claimed exactly once by competing instances, a session's
 * turn taken by one instance only, events fanned out to every instance, and the database going away
 * and coming back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerStore } from '../../main/store/server-store.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../main/store/postgres/migrations.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { StoreUnavailableError, type DeliveredEvent, type DmStoreOps } from '../../main/store/store.js';
import { JobDecisionError, type JobSpec } from '../../main/store/types.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('PostgreSQL store');
const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);

let cluster: TestPostgres;
let dbCount = 0;
/** A fresh, empty database in the file's cluster. */
const freshDb = () => cluster.createDatabase(`case_${++dbCount}`);
const opened: { close(): Promise<void> }[] = [];
async function openStore(url: string, opts: Parameters<typeof PostgresStore.open>[1] = {}): Promise<PostgresStore> {
  const s = await PostgresStore.open(url, opts);
  opened.push(s);
  return s;
}

async function tables(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ t: string }>(`SELECT table_name || ':' || string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS t
      FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name`);
    return r.rows.map((x) => x.t);
  } finally {
    await c.end();
  }
}

describe.skipIf(!run)('the PostgreSQL store', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => undefined);
    cluster?.stop();
  });

  describe('migrations', () => {
    it('apply to an empty database, one transaction each; a second start is a no-op', async () => {
      const url = await freshDb();
      expect(await tables(url)).toEqual([]);
      const pool = new pg.Pool({ connectionString: url });
      try {
        const first = await migrate(pool);
        expect(first).toEqual({ from: 0, to: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => m.version) });
        const schema = await tables(url);
        // v1's tables, and those of the later migrations (v2 message index, v3 federation).
        expect(schema.map((t) => t.split(':')[0])).toEqual(expect.arrayContaining(['alerts', 'devices', 'events', 'jobs', 'messages', 'schema_version', 'session_state', 'sessions', 'tree',
          'msg_index', 'cmd_index', 'msg_findings', 'judged_sessions', 'msg_index_backfill']));
        const again = await migrate(pool);
        expect(again).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
        expect(await tables(url)).toEqual(schema);
        const versions = await pool.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
        expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      } finally {
        await pool.end();
      }
    });

    it('several instances starting at once on an empty database migrate it once', async () => {
      const url = await freshDb();
      const stores = await Promise.all([0, 1, 2].map(() => openStore(url, { maxConnections: 2 })));
      // Each migration is its own transaction under the lock, so the instances may take turns
      // between versions; every version is applied by exactly one of them.
      const applied = stores.flatMap((s) => s.migration!.applied);
      expect(applied.sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version));
      const r = await stores[0]!.pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM schema_version');
      expect(r.rows[0]!.n).toBe(MIGRATIONS.length);
    });

    it('a failing migration leaves the previous version whole; a newer database is refused untouched', async () => {
      const url = await freshDb();
      const pool = new pg.Pool({ connectionString: url });
      try {
        const broken = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT no_such_column FROM devices' }];
        await expect(migrate(pool, { migrations: broken })).rejects.toThrow(new RegExp(`from schema version ${SCHEMA_VERSION} to ${SCHEMA_VERSION + 1} \\(broken\\).*stays at version ${SCHEMA_VERSION}`));
        expect((await tables(url)).some((t) => t.startsWith('half_done'))).toBe(false);
        await pool.query(`INSERT INTO schema_version (version, name) VALUES (${SCHEMA_VERSION + 5}, 'from the future')`);
        await expect(migrate(pool)).rejects.toThrow(`the database has schema version ${SCHEMA_VERSION + 5}; this dmw knows up to ${SCHEMA_VERSION}`);
      } finally {
        await pool.end();
      }
    });
  });

  it('answers every operation exactly as the SQLite store does for the same calls', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-sqlite-vs-pg-'));
    const sqlite = ServerStore.open(dir, { synchronous: 'NORMAL' });
    try {
      const pgStore = await openStore(await freshDb());
      const fromSqlite = await scenario(sqlite as unknown as ScenarioStore);
      const fromPostgres = await scenario(pgStore);
      expect(fromPostgres.length).toBeGreaterThan(30);
      for (let i = 0; i < fromSqlite.length; i++) expect([i, fromPostgres[i]]).toEqual([i, fromSqlite[i]]);
      expect(fromPostgres.length).toBe(fromSqlite.length);
    } finally {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a job spec no boundary should have let through, as the SQLite store does, and queues nothing', async () => {
    const pgStore = await openStore(await freshDb());
    const bad = [{ kind: 'get', uri: './A\u0000B' }, { kind: 'get', uri: './A/../../DMAcc' }, { kind: 'nope', uri: './A' }] as unknown as JobSpec[];
    for (const spec of bad) {
      const sqliteError = (() => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-bad-spec-'));
        const sqlite = ServerStore.open(dir, { synchronous: 'NORMAL' });
        try {
          sqlite.addJob('IMEI:1', spec, Date.now());
          return undefined;
        } catch (e) {
          return (e as Error).message;
        } finally {
          sqlite.close();
          rmSync(dir, { recursive: true, force: true });
        }
      })();
      expect(sqliteError).toBeDefined();
      await expect(pgStore.addJob('IMEI:1', spec, Date.now())).rejects.toThrow(sqliteError!);
    }
    expect(await pgStore.jobs()).toEqual([]);
  });

  it('gives each queued job to exactly one of two instances claiming at once (FOR UPDATE SKIP LOCKED)', async () => {
    const url = await freshDb();
    const a = await openStore(url, { maxConnections: 4 });
    const b = await openStore(url, { maxConnections: 4 });
    const JOBS = 200;
    for (let i = 0; i < JOBS; i++) await a.addJob('IMEI:farm', { kind: 'get', uri: `./N/${i}` }, T0);
    const sessionA = await a.createSession({ device: 'IMEI:farm', dmSessionId: 'a', encoding: 'xml' }, T0);
    const sessionB = await b.createSession({ device: 'IMEI:farm', dmSessionId: 'b', encoding: 'xml' }, T0);
    const claimed = new Map<number, string>();
    const worker = async (store: PostgresStore, name: string, sessionId: number) => {
      let got = 0;
      for (;;) {
        const batch = await store.claimJobs('IMEI:farm', sessionId, T0 + 1, { limit: 2 });
        if (batch.length === 0) {
          const left = await store.jobs({ device: 'IMEI:farm', status: 'queued' });
          if (left.length === 0) return got;
          continue;
        }
        for (const j of batch) {
          expect(claimed.get(j.id), `job ${j.id} claimed twice`).toBeUndefined();
          claimed.set(j.id, name);
        }
        got += batch.length;
      }
    };
    // Eight claimers over two pools (two instances), all at once.
    const counts = await Promise.all([1, 2, 3, 4].flatMap((n) => [worker(a, `a${n}`, sessionA), worker(b, `b${n}`, sessionB)]));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(JOBS);
    expect(claimed.size).toBe(JOBS);
    const jobs = await a.jobs({ device: 'IMEI:farm' });
    expect(jobs.every((j) => j.status === 'sent' && j.attempts === 1)).toBe(true);
    // Each sent job names the session (the instance) that claimed it.
    for (const j of jobs) expect(j.sessionId).toBe(claimed.get(j.id)!.startsWith('a') ? sessionA : sessionB);
    // Both instances got work: the claims really overlapped.
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it("lets one instance at a time take a session's turn; a stale turn cannot commit", async () => {
    const url = await freshDb();
    const a = await openStore(url);
    const b = await openStore(url);
    const sessionId = await a.createSession({ device: 'IMEI:1', dmSessionId: '7', encoding: 'xml' }, T0);
    const key = 'IMEI:1/7';
    expect((await a.createSessionState(key, sessionId, { turns: [] as string[] }, T0))?.version).toBe(1);
    expect(await b.createSessionState(key, sessionId, { turns: ['b'] }, T0)).toBeUndefined();

    // Two instances race for 40 turns; every turn is processed by exactly one of them.
    const TURNS = 40;
    let refusals = 0;
    const instance = async (store: PostgresStore, name: string) => {
      for (;;) {
        const claim = await store.claimSessionState(key, name, T0, 60_000);
        if (!claim.ok) {
          expect(claim.reason).toBe('held');
          refusals++;
          await new Promise((r) => setImmediate(r));
          continue;
        }
        const state = claim.record.state as { turns: string[] };
        if (state.turns.length >= TURNS) {
          expect(await store.commitSessionState(key, name, claim.record.version, state, T0)).toBe(true);
          return;
        }
        // The turn's writes and its state commit together, or not at all.
        await store.tx(async (s) => {
          await s.addMessage({ sessionId, direction: 'in', at: T0, bytes: new TextEncoder().encode(`turn ${state.turns.length + 1} by ${name}`) });
          const ok = await s.commitSessionState(key, name, claim.record.version, { turns: [...state.turns, name] }, T0);
          if (!ok) throw new Error('lost the turn');
        });
      }
    };
    await Promise.all([instance(a, 'a'), instance(b, 'b')]);
    const final = await a.claimSessionState(key, 'check', T0, 1000);
    expect(final.ok).toBe(true);
    if (!final.ok) return;
    const turns = (final.record.state as { turns: string[] }).turns;
    expect(turns.length).toBe(TURNS);
    const messages = await a.messages(sessionId);
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: TURNS }, (_, i) => i + 1));
    expect(messages.map((m) => new TextDecoder().decode(m.bytes))).toEqual(turns.map((n, i) => `turn ${i + 1} by ${n}`));
    expect(refusals).toBeGreaterThan(0);
    expect(new Set(turns).size).toBe(2);

    // An instance that died mid-turn: its lease runs out and another takes the turn; the dead one's late commit fails.
    await a.commitSessionState(key, 'check', final.record.version, final.record.state, T0);
    const dead = await a.claimSessionState(key, 'dead', T0, 1000);
    expect(dead.ok).toBe(true);
    expect(await b.claimSessionState(key, 'b', T0 + 500, 1000)).toMatchObject({ ok: false, reason: 'held', owner: 'dead' });
    const taken = await b.claimSessionState(key, 'b', T0 + 1000, 1000);
    expect(taken.ok).toBe(true);
    if (!dead.ok || !taken.ok) return;
    expect(await b.commitSessionState(key, 'b', taken.record.version, { turns: ['after'] }, T0 + 1001)).toBe(true);
    expect(await a.commitSessionState(key, 'dead', dead.record.version, { turns: ['stale'] }, T0 + 1002)).toBe(false);
    await a.dropSessionState(key);
    expect(await a.claimSessionState(key, 'a', T0, 1000)).toEqual({ ok: false, reason: 'missing' });
  });

  it('fans events out to every instance with LISTEN/NOTIFY, only once their transaction commits', async () => {
    const url = await freshDb();
    const a = await openStore(url);
    const b = await openStore(url);
    const seenA: DeliveredEvent[] = [];
    const seenB: DeliveredEvent[] = [];
    await a.subscribe((e) => seenA.push(e));
    const stopB = await b.subscribe((e) => seenB.push(e));
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    };

    await a.publish({ type: 'device-seen', device: 'IMEI:1' });
    await expect(b.tx(async (s) => {
      await s.publish({ type: 'rolled-back' });
      throw new Error('the turn failed');
    })).rejects.toThrow('the turn failed');
    await b.tx(async (s) => {
      await s.publish({ type: 'job-done', job: { id: 1 } });
      await s.publish({ type: 'big', text: 'x'.repeat(20_000) });
    });
    await until(() => seenA.length >= 3 && seenB.length >= 3);
    for (const seen of [seenA, seenB]) {
      expect(seen.map((e) => e.event.type)).toEqual(['device-seen', 'job-done', 'big']);
      expect(String(seen[2]!.event['text']).length).toBe(20_000);
    }
    expect(seenA.map((e) => e.id)).toEqual(seenB.map((e) => e.id));

    await stopB();
    await b.publish({ type: 'after-unsubscribe' });
    await until(() => seenA.length >= 4);
    expect(seenA.map((e) => e.event.type).at(-1)).toBe('after-unsubscribe');
    expect(seenB.length).toBe(3);
  });

  // Last: it stops and starts the file's cluster.
  it('rejects with StoreUnavailableError while the database is down, writes nothing half, and recovers by itself', async () => {
    const url = await freshDb();
    const store = await openStore(url, { connectTimeoutMs: 1000, listenRetryMs: 100 });
    // Reconnects long after the database is back: what was published meanwhile comes from the events table.
    const slow = await openStore(url, { connectTimeoutMs: 1000, listenRetryMs: 2500 });
    const seen: string[] = [];
    const seenSlow: string[] = [];
    await store.subscribe((e) => seen.push(e.event.type));
    await slow.subscribe((e) => seenSlow.push(e.event.type));
    await store.touchDevice('IMEI:1', T0);
    await store.publish({ type: 'before' });
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => seen.includes('before') && seenSlow.includes('before'));
    cluster.down();
    try {
      await expect(store.touchDevice('IMEI:2', T0)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.tx(async (s) => s.addJob('IMEI:1', { kind: 'get', uri: './A' }, T0))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.publish({ type: 'while-down' })).rejects.toBeInstanceOf(StoreUnavailableError);
      // Down for several of the fast listener's retry periods: it keeps retrying.
      await new Promise((r) => setTimeout(r, 800));
    } finally {
      cluster.up();
    }
    // Back: the pool reconnects, nothing of the failed calls was written.
    expect((await store.devices()).map((d) => d.devId)).toEqual(['IMEI:1']);
    expect(await store.jobs()).toEqual([]);
    // Published before the slow listener is back: it gets it anyway, once.
    await store.publish({ type: 'gap' });
    expect(seenSlow).toEqual(['before']);
    await until(() => seen.includes('gap') && seenSlow.includes('gap'));
    await store.publish({ type: 'after' });
    await until(() => seen.includes('after') && seenSlow.includes('after'));
    expect(seen).toEqual(['before', 'gap', 'after']);
    expect(seenSlow).toEqual(['before', 'gap', 'after']);
  });
});

// --- the same calls on both stores ----------------------------------------------------------

/** What the scenario calls: ServerStore's synchronous answers and DmStore's promises are both awaited. */
type ScenarioStore = { [K in keyof DmStoreOps]: (...a: Parameters<DmStoreOps[K]>) => ReturnType<DmStoreOps[K]> | Awaited<ReturnType<DmStoreOps[K]>> };

async function outcome(f: () => unknown): Promise<unknown> {
  try {
    return { ok: await f() };
  } catch (e) {
    // Each store throws its own JobDecisionError class (until the switch-over makes them one): compare status and text.
    const status = (e as Partial<JobDecisionError>).status;
    return { threw: status !== undefined ? `${status} ${(e as Error).message}` : (e as Error).message };
  }
}

/** A lab day in miniature; every answer is recorded. Ids and times are deterministic (fresh stores, given clocks). */
async function scenario(s: ScenarioStore): Promise<unknown[]> {
  const out: unknown[] = [];
  const rec = async (f: () => unknown) => out.push(await outcome(f));
  const dev = 'IMEI:001';
  const bytes = (text: string) => new TextEncoder().encode(text);
  const syncml = `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>http://x</LocURI></Target><Source><LocURI>${dev}</LocURI></Source></SyncHdr><SyncBody><Final/></SyncBody></SyncML>`;

  await rec(() => s.touchDevice(dev, T0));
  await rec(() => s.touchDevice(dev, T0 + 1000));
  await rec(() => s.setDevInfo(dev, { Man: 'Acme', Mod: 'X1' }));
  await rec(() => s.setDevInfo(dev, { Mod: 'X2', Lang: 'en' }));
  await rec(() => s.setDeviceAuth(dev, { authFailures: [T0], clientNonce: 'bm9uY2U=' }, T0 + 2000));
  await rec(() => s.setDeviceCredential('IMEI:002', { name: 'user', secret: 'pw' }, T0 + 3000));
  await rec(() => s.setNotifyUrl('IMEI:002', 'http://127.0.0.1:9/notify', T0 + 3000));
  await rec(() => s.setNotifyUrl(dev, 'http://127.0.0.1:9/n1', T0 + 3000));
  await rec(() => s.setNotifyUrl(dev, undefined, T0 + 3000));
  await rec(() => s.markSeen(dev, T0 + 4000));
  await rec(() => s.devices());
  await rec(() => s.device(dev));
  await rec(() => s.device('nobody'));

  const specs: JobSpec[] = [
    { kind: 'replace', uri: './Vendor/A', value: '1' },
    { kind: 'get', uri: './DevInfo/Mod' },
    { kind: 'exec', uri: './Vendor/Run', correlator: 'c-1' },
    { kind: 'atomic', commands: [{ kind: 'add', uri: './Vendor/B', value: '2' }, { kind: 'delete', uri: './Vendor/C' }] },
    { kind: 'exec', uri: './Vendor/Run', correlator: 'c-1', data: 'again' },
  ];
  for (const spec of specs) await rec(() => s.addJob(dev, spec, T0 + 5000));
  await rec(() => s.addJob(dev, { kind: 'get', uri: './A' }, T0, { onUnconfirmed: 'verify' }));
  await rec(() => s.setUnconfirmedPolicy(1, 'verify', T0 + 5500));
  await rec(() => s.setUnconfirmedPolicy(99, 'drop', T0 + 5500));
  await rec(() => s.queuedJobs(dev));
  await rec(() => s.queuedJobSpecs(dev));

  const sid = (await s.createSession({ device: dev, dmSessionId: '1', encoding: 'xml' }, T0 + 6000)) as number;
  out.push(sid);
  await rec(() => s.setSessionAuth(sid, 'md5'));
  await rec(() => s.markSent([1, 2, 3, 4], sid, T0 + 6100));
  await rec(() => s.addMessage({ sessionId: sid, direction: 'in', at: T0 + 6000, bytes: bytes(syncml), msgId: '1', contentType: 'application/vnd.syncml.dm+xml' }));
  await rec(() => s.addMessage({ sessionId: sid, direction: 'out', at: T0 + 6010, durationMs: 10.5, bytes: new Uint8Array([0x02, 0xa4, 0x01, 0x6a]), httpStatus: 200, msgId: '1', note: 'first' }));
  await rec(() => s.addMessages([
    { sessionId: sid, seq: 3, direction: 'in', at: T0 + 6100, bytes: bytes('<not-dm/>'), error: 'not SyncML' },
    { sessionId: sid, seq: 4, direction: 'out', at: T0 + 6110, bytes: new Uint8Array(0), httpStatus: 400, decoded: 'kept as given' },
  ]));
  await rec(() => s.annotateMessage(2, 'second line'));
  await rec(() => s.annotateMessage(3, 'only line'));
  await rec(() => s.messages(sid));
  await rec(() => s.message(2));
  await rec(() => s.message(999));
  await rec(() => s.finishJob({ id: 2, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'X2' }], members: [], error: null }, T0 + 6200));
  await rec(() => s.finishJob({ id: 999, status: 'failed', statusCode: null, results: [], members: [], error: 'x' }, T0 + 6200));
  await rec(() => s.attachAlertToJobs(dev, { code: '1226', correlator: 'c-1', items: [{ source: './Vendor/Run', data: 'ok', format: 'chr' }] }, T0 + 6300));
  await rec(() => s.attachAlertToJobs(dev, { code: '1226', items: [] }, T0 + 6300));
  await rec(() => s.addAlert(dev, sid, { code: '1226', correlator: 'c-1', items: [{ source: './Vendor/Run', data: 'ok' }] }, T0 + 6300));
  await rec(() => s.addAlert(dev, null, { code: '1201', items: [] }, T0 + 6400));
  await rec(() => s.alerts(dev));
  await rec(() => s.upsertTree(dev, [
    { uri: 'DevInfo/Mod', format: 'chr', type: null, data: 'X2' },
    { uri: './DevInfo/Man', format: 'chr', type: 'text/plain', data: 'Acme' },
    { uri: './DevInfo/Mod', format: null, type: 'text/plain', data: null },
    { uri: './Vendor/Bin', format: 'bin', type: null, data: 'AAEC', encoding: 'b64' },
  ], T0 + 6500));
  await rec(() => s.upsertTree(dev, [{ uri: './DevInfo/Man', format: null, type: null, data: 'Acme Corp' }], T0 + 6600));
  await rec(() => s.tree(dev));
  // The session ends without the answers of jobs 1, 3 and 4: each by its policy (verify, ask, ask).
  await rec(() => s.releaseSessionJobs(sid, 'session timed out', T0 + 7000, 3));
  await rec(() => s.endSession(sid, 'timeout', 'no message for 5 minutes', T0 + 7000));
  await rec(() => s.endSession(sid, 'done', 'ignored: not active', T0 + 7001));
  await rec(() => s.decideJob(3, 'verify', T0 + 7100));
  await rec(() => s.decideJob(3, 'drop', T0 + 7100));
  await rec(() => s.decideJob(3, 'drop', T0 + 7200));
  await rec(() => s.decideJob(999, 'resend', T0 + 7200));
  await rec(() => s.decideJob(4, 'resend', T0 + 7300));
  await rec(() => s.releaseJob(4, false, 3, 'not sent', T0 + 7400));

  const sid2 = (await s.createSession({ device: dev, dmSessionId: '2', encoding: 'wbxml' }, T0 + 8000)) as number;
  await rec(() => s.markSent([1, 4, 5], sid2, T0 + 8100));
  await rec(() => s.releaseJob(5, false, 3, 'not sent after all', T0 + 8150));
  await rec(() => s.releaseJob(4, true, 1, 'connection cut', T0 + 8150));
  await rec(() => s.createSession({ device: null, dmSessionId: null, encoding: null, state: 'rejected', reason: 'bad body' }, T0 + 8200));
  await rec(() => s.clearJobs('IMEI:002'));
  await rec(() => s.recoverInterrupted(T0 + 9000, 3));
  await rec(() => s.session(sid));
  await rec(() => s.session(sid2));
  await rec(() => s.sessions());
  await rec(() => s.sessions({ device: dev, limit: 1 }));
  await rec(() => s.importSessions([
    { device: 'IMEI:cap', dmSessionId: '9', encoding: 'xml', authType: 'basic', messages: [
      { direction: 'in', at: T0 - 5000, bytes: bytes(syncml) },
      { direction: 'out', at: T0 - 4000, bytes: bytes('<x/>'), httpStatus: 200 },
    ] },
    { device: null, dmSessionId: null, encoding: null, authType: null, messages: [] },
  ], 'capture.pcapng'));
  await rec(() => s.sessions({ device: 'IMEI:cap' }));
  await rec(() => s.messages(5));
  await rec(() => s.clearJobs(dev));
  await rec(() => s.jobs());
  await rec(() => s.jobs({ status: 'queued' }));
  await rec(() => s.jobs({ device: dev, status: 'failed' }));
  return out;
}
