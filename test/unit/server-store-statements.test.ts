/**
 * How many SQL statements a DM session costs the SQLite store (issue 17), counted with the store's
 * trace hook (better-sqlite3's `verbose`: every statement run, transactions and savepoints
 * included), and that the fewer statements store exactly what the separate ones did:
 *  - a bench session (WBXML, MD5 both ways, a Get and a Replace job, 2 round trips, a known device
 *    with its nonces from the session before) writes its device's row once per message, its jobs
 *    once per turn;
 *  - a device row read while the group transaction is open is read once (the write lock is ours);
 *  - the gathered device write and the one-statement job update leave the rows the separate calls
 *    left, and a failing turn leaves none of them.
 * The message index's statements (message-index*.ts, deferred-index.ts) are not counted here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { ServerStore } from '../../main/store/sqlite/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { JobOutcome } from '../../main/store/store.js';
import { benchHandsets, BENCH_CLIENT, BENCH_SERVER, queueBenchJobs } from '../bench/suites/server.js';

const dirs: string[] = [];
function fresh(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-stmts-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;

/** Statements on the message index's tables, or its catch-up reads: another part's cost. */
const INDEX_STATEMENT = /\b(msg_index|cmd_index|cmd_text|index_queue|judged)\b|MAX\(message_id\)/;

/** The statement's kind: its first words with values left out (`UPDATE devices`, `SAVEPOINT`). */
function kind(sql: string): string {
  const s = sql.trim().replace(/\s+/g, ' ');
  const m = /^(INSERT INTO \w+|UPDATE \w+|SELECT .*? FROM \w+|DELETE FROM \w+|SAVEPOINT|RELEASE|ROLLBACK|BEGIN IMMEDIATE|BEGIN|COMMIT|WITH|\w+)/i.exec(s);
  return m ? m[1]!.replace(/^SELECT .*? FROM/, 'SELECT FROM') : s.slice(0, 30);
}

/**
 * A round trip's own statements: its savepoint in the group transaction and what runs in it, and
 * reads outside any transaction; not the group's BEGIN and COMMIT (one per group, shared by every
 * request that joins it) nor the message index's (its rows, or its deferred batches, which run in
 * transactions of their own).
 */
function requestStatements(all: readonly string[]): string[] {
  const out: string[] = [];
  let inTx = false;
  let inSavepoint = false;
  for (const q of all) {
    const k = kind(q);
    if (k === 'BEGIN IMMEDIATE' || k === 'BEGIN') inTx = true;
    else if (k === 'COMMIT' || k === 'ROLLBACK') inTx = false;
    else if (k === 'SAVEPOINT' || k === 'RELEASE') {
      inSavepoint = k === 'SAVEPOINT';
      out.push(k);
    } else if ((inSavepoint || !inTx) && !INDEX_STATEMENT.test(q)) out.push(k);
  }
  return out;
}

/** Runs `sessions` bench sessions one after the other; the statements of each round trip of the last one (index left out). */
async function benchSessionStatements(sessions: number): Promise<string[][]> {
  let trace: string[] = [];
  const server = await DmServer.start({
    port: 0, host: '127.0.0.1', dataDir: fresh(), clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5',
    // No index batch until close: one landing inside a traced round trip (its own BEGIN, SAVEPOINT
    // and catch-up read) would be counted as that round trip's statements.
    store: { trace: (sql) => trace.push(sql), index: { batchMessages: 1_000_000, delayMs: 600_000 } },
  });
  const devIds = ['IMEI:356980000000001'];
  const pool = await benchHandsets(server.url, devIds);
  let perRoundTrip: string[][] = [];
  pool.events.on((e) => {
    if (e.type !== 'message') return;
    // A request leaves the handset: what the server runs until its answer is back is its round trip's.
    if (e.direction === 'out') perRoundTrip.push((trace = []));
    else trace = [];
  });
  try {
    if (!(server.store instanceof SqliteStore)) throw new Error('SQLite store expected');
    const store = server.store.serverStore;
    for (let round = 0; round < sessions; round++) {
      perRoundTrip = [];
      queueBenchJobs(store, devIds, round);
      const [outcome] = await pool.runAll({ concurrency: 1 });
      expect(outcome).toMatchObject({ ok: true });
      expect(outcome!.log).toHaveLength(2);
    }
    return perRoundTrip.map(requestStatements);
  } finally {
    await pool.close();
    await server.close();
  }
}

const count = (rt: string[], k: string) => rt.filter((s) => s === k).length;

describe('SQL statements per DM session (SQLite store)', () => {
  it("a bench session writes its device row once per message and its jobs once per turn: 10 + 8 statements (and the group's BEGIN and COMMIT)", async () => {
    const rts = await benchSessionStatements(3);
    console.log(rts.map((rt, i) => `round trip ${i + 1}: ${rt.length} statements\n${rt.map((s) => `  ${s}`).join('\n')}`).join('\n'));
    expect(rts).toHaveLength(2);
    const [rt1, rt2] = rts as [string[], string[]];
    for (const rt of rts) {
      expect(count(rt, 'UPDATE devices')).toBe(1);
      expect(count(rt, 'UPDATE jobs')).toBe(1);
      expect(count(rt, 'SELECT FROM jobs')).toBe(1);
    }
    // Package 1: read outside the transaction to check its credentials (no group open: nothing
    // read ahead can be kept), read again when the session enters the store.
    expect(rt1).toEqual([
      'SELECT FROM devices', 'SAVEPOINT', 'INSERT INTO sessions', 'SELECT FROM devices', 'SELECT FROM jobs', 'INSERT INTO tree', 'UPDATE jobs',
      'INSERT INTO messages', 'UPDATE devices', 'RELEASE',
    ]);
    expect(rt2).toEqual(['SAVEPOINT', 'SELECT FROM jobs', 'INSERT INTO tree', 'UPDATE jobs', 'UPDATE sessions', 'INSERT INTO messages', 'UPDATE devices', 'RELEASE']);
  }, 30_000);

  it('reads a device row once while the group transaction is open, again after a write, a rollback or the COMMIT', async () => {
    const trace: string[] = [];
    const s = ServerStore.open(fresh(), { trace: (sql) => trace.push(sql), synchronous: 'NORMAL' });
    s.touchDevice('d1', T);
    const reads = () => trace.filter((q) => q.startsWith('SELECT * FROM devices')).length;
    try {
      trace.length = 0;
      // Outside a transaction: every read reads.
      s.device('d1');
      s.device('d1');
      expect(reads()).toBe(2);
      trace.length = 0;
      await s.groupAsync(async () => {
        expect(s.device('d1')?.lastSeen).toBe(new Date(T).toISOString());
        expect(s.seeDevice('d1', T + 5).device.lastSeen).toBe(new Date(T + 5).toISOString());
        expect(reads()).toBe(1);
        s.writeDevice('d1', { lastSeen: T + 5 });
        expect(s.device('d1')?.lastSeen).toBe(new Date(T + 5).toISOString());
        expect(reads()).toBe(2);
      });
      // A rolled-back savepoint drops what was read in it.
      await expect(s.groupAsync(async () => {
        s.writeDevice('d1', { lastSeen: T + 9 });
        expect(s.device('d1')?.lastSeen).toBe(new Date(T + 9).toISOString());
        throw new Error('turn failed');
      })).rejects.toThrow('turn failed');
      expect(s.device('d1')?.lastSeen).toBe(new Date(T + 5).toISOString());
      trace.length = 0;
      s.device('d1');
      expect(reads()).toBe(0);
      // After the COMMIT, another process may change the row: read again.
      s.flush();
      s.device('d1');
      expect(reads()).toBe(1);
    } finally {
      s.close();
    }
  });

  it('stores the same device row from one gathered write as from touchDevice + setDeviceAuth + setDevInfo, and nothing when the turn fails', async () => {
    const auth = { authFailures: [], clientNonce: 'bm9uY2U=', serverNonce: 'c2VydmVy' };
    const info = { Man: 'Acme', Mod: 'X1' };
    const separate = ServerStore.open(fresh(), { synchronous: 'NORMAL' });
    separate.touchDevice('d1', T);
    separate.setDevInfo('d1', { Man: 'Old', Lang: 'en' });
    separate.tx(() => {
      separate.touchDevice('d1', T + 1000);
      separate.setDeviceAuth('d1', auth);
      separate.setDevInfo('d1', info);
    });
    const trace: string[] = [];
    const dir = fresh();
    const setup = ServerStore.open(dir, { synchronous: 'NORMAL' });
    setup.touchDevice('d1', T);
    setup.setDevInfo('d1', { Man: 'Old', Lang: 'en' });
    setup.close();
    const gathered = SqliteStore.open(dir, { trace: (sql) => trace.push(sql), synchronous: 'NORMAL' });
    try {
      trace.length = 0;
      const seen = await gathered.tx(async (s) => {
        const r = await s.touchDevice('d1', T + 1000);
        await s.setDeviceAuth('d1', auth);
        await s.setDevInfo('d1', info);
        return r;
      });
      expect(seen).toEqual({ created: false, device: separate.device('d1') && { ...separate.device('d1')!, auth: { authFailures: [] }, devInfo: { Man: 'Old', Lang: 'en' } } });
      expect(trace.filter((q) => /^(UPDATE|INSERT INTO) devices/.test(q))).toHaveLength(1);
      expect(await gathered.device('d1')).toEqual(separate.device('d1'));
      // A turn that fails after its device changes writes none of them.
      await expect(gathered.tx(async (s) => {
        await s.touchDevice('d1', T + 2000);
        await s.setDeviceAuth('d1', { authFailures: [] }, T + 2000);
        throw new Error('engine failed');
      })).rejects.toThrow('engine failed');
      expect(await gathered.device('d1')).toEqual(separate.device('d1'));
      // A read inside the tx sees the changes gathered so far.
      await gathered.tx(async (s) => {
        await s.markSeen('d1', T + 3000);
        expect((await s.device('d1'))?.lastSeen).toBe(new Date(T + 3000).toISOString());
      });
    } finally {
      separate.close();
      await gathered.close();
    }
  });

  it('marks a turn\'s jobs sent and settles its finished ones in one statement, the rows as markSent + finishJob leave them', () => {
    const make = () => {
      const s = ServerStore.open(fresh(), { synchronous: 'NORMAL' });
      for (let i = 0; i < 5; i++) s.addJob('d1', { kind: 'get', uri: `./N${i}` }, T);
      const sid = s.createSession({ device: 'd1', dmSessionId: '1', encoding: 'xml' }, T);
      s.markSent([1, 2], sid, T + 1);
      return { s, sid };
    };
    const outcomes: JobOutcome[] = [
      { id: 2, status: 'done', statusCode: 200, results: [{ uri: './N1', format: 'chr', data: 'v' }], members: [], error: null },
      { id: 1, status: 'failed', statusCode: 404, results: [], members: [{ cmd: 'Get', uri: './N0', statusCode: 404 }], error: 'not found' },
      { id: 99, status: 'done', statusCode: 200, results: [], members: [], error: null },
    ];
    const a = make();
    a.s.markSent([3, 4], a.sid, T + 2);
    const separately = outcomes.map((o) => a.s.finishJob(o, T + 2));
    const trace: string[] = [];
    const b = make();
    const dir = path.dirname(b.s.db.name);
    b.s.close();
    const traced = ServerStore.open(dir, { synchronous: 'NORMAL', trace: (sql) => trace.push(sql) });
    try {
      const together = traced.updateTurnJobs({ ids: [3, 4], sessionId: b.sid }, outcomes, T + 2);
      expect(trace.filter((q) => /UPDATE jobs/.test(q))).toHaveLength(1);
      expect(together).toEqual(separately);
      expect(traced.jobs()).toEqual(a.s.jobs());
      // Only finished, only sent, nothing: as the separate calls.
      expect(traced.updateTurnJobs(undefined, [], T + 3)).toEqual([]);
      expect(traced.updateTurnJobs({ ids: [5], sessionId: b.sid }, [], T + 3)).toEqual([]);
      a.s.markSent([5], a.sid, T + 3);
      expect(traced.jobs()).toEqual(a.s.jobs());
      // A job both sent and finished (never by the engine): in order, as the separate calls.
      const again: JobOutcome = { id: 5, status: 'done', statusCode: 200, results: [], members: [], error: null };
      expect(traced.updateTurnJobs({ ids: [5], sessionId: b.sid }, [again], T + 4)).toEqual([a.s.finishJob(again, T + 4)]);
      expect(traced.jobs()).toEqual(a.s.jobs());
    } finally {
      a.s.close();
      traced.close();
    }
  });
});
