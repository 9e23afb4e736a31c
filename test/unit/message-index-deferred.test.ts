/**
 * The message index off the answer's path (issue 17; main/store/sqlite/deferred-index.ts): messages
 * logged in the group commit get their index rows later, in batches, and yet every reader sees every
 * stored message: readers of this process (the same store, another connection on the folder while
 * the server's group transaction is open), another process (already open, or opened after), after a
 * crash (the batch lost, the stored bytes indexed on the next open). Batches and the queue are bounded.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catchUpIndex, unindexedCount } from '../../main/store/message-index.js';
import { DB_FILE, ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { sessionMessages } from '../helpers/filter-fixture.js';
import { decoded, logLiveSession } from '../helpers/index-live-session.js';
import { REPO_ROOT } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const CHILD = path.join(REPO_ROOT, 'test/helpers/index-child.ts');
/** No batch before a read asks for one (or close()). */
const WAIT = { batchMessages: 100_000, delayMs: 600_000 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fresh(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-index-deferred-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function counts(db: Database.Database): { m: number; i: number; c: number } {
  return db.prepare('SELECT (SELECT COUNT(*) FROM messages) AS m, (SELECT COUNT(*) FROM msg_index) AS i, (SELECT COUNT(*) FROM cmd_index) AS c').get() as { m: number; i: number; c: number };
}

/** The folder's rows as another connection sees them (no catch-up, no store). */
function rawCounts(dir: string): { m: number; i: number; c: number } {
  const db = new Database(path.join(dir, DB_FILE), { readonly: true });
  try {
    return counts(db);
  } finally {
    db.close();
  }
}

/** Every index row, ids included. */
function indexRows(db: Database.Database): unknown {
  return {
    msg: db.prepare('SELECT * FROM msg_index ORDER BY message_id').all(),
    cmd: db.prepare('SELECT * FROM cmd_index ORDER BY id').all(),
    text: db.prepare('SELECT rowid, data FROM cmd_text ORDER BY rowid').all(),
  };
}

/** The same rows built again from the stored bytes (the catch-up path, as the index was before). */
function rowsFromBytes(s: ServerStore): unknown {
  const live = indexRows(s.db);
  s.tx(() => s.db.exec('DELETE FROM msg_index; DELETE FROM cmd_index; DELETE FROM cmd_text'));
  s.tx(() => catchUpIndex(s.db));
  const again = indexRows(s.db);
  expect(again).toEqual(live);
  return again;
}

function sqlite(dir: string, opts: Parameters<typeof SqliteStore.open>[1] = {}): SqliteStore {
  const s = SqliteStore.open(dir, opts);
  cleanups.push(() => s.close());
  return s;
}

describe('readers of this process see every logged message', () => {
  it('a filter query right after a session sees its messages, whose index rows were waiting in the deferred batch', async () => {
    const dir = fresh();
    const store = sqlite(dir, { synchronous: 'NORMAL', index: WAIT });
    const sid = await logLiveSession(store, { devId: 'IMEI:1', getStatus: 404, greeting: 'hello lab' });
    // Stored and committed, the index rows not written yet: they wait for a batch.
    expect(counts(store.serverStore.db)).toMatchObject({ m: 4, i: 0, c: 0 });
    expect((await store.queryMessages({ filter: 'dev == "IMEI:1"', offset: 0, limit: 10 })).total).toBe(4);
    expect(await store.findCommands('cmd == Get && status == 404')).toEqual([{ session: sid, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 }]);
    // Every message of the next session too, through each reader (content search, the judge's reads).
    const sid2 = await logLiveSession(store, { devId: 'IMEI:2', dmSessionId: '2', greeting: 'bonjour' });
    expect(await store.sessionsMatching('data contains "bonjour"', 10)).toEqual({ ids: [sid2], truncated: false });
    const sid3 = await logLiveSession(store, { devId: 'IMEI:3', dmSessionId: '3' });
    expect(await store.unjudgedSessions()).toEqual([{ id: sid, messages: 4 }, { id: sid2, messages: 4 }, { id: sid3, messages: 4 }]);
    // Built from the decoded forms the store was handed, and the same rows as from the stored bytes.
    expect(store.serverStore.indexing.queue().stats.fromHeld).toBe(12);
    expect(unindexedCount(store.serverStore.db)).toBe(0);
    rowsFromBytes(store.serverStore);
    // Findings of a session judged right after it was logged land on its messages' rows.
    const sid4 = await logLiveSession(store, { devId: 'IMEI:4', dmSessionId: '4' });
    await store.recordFindings(sid4, 4, [{ msg: 2, rule: 'R1', severity: 'error' }]);
    expect(await store.judgedSessions([sid4])).toEqual([sid4]);
    expect((await store.queryMessages({ filter: 'finding == R1', offset: 0, limit: 10 })).rows.map((r) => [r.sessionId, r.seq])).toEqual([[sid4, 2]]);
  });

  it('another connection of this process reads while the server\'s group transaction is open: the batch goes into that group, no wait on its own lock', async () => {
    const dir = fresh();
    // The server's fsyncs are held until released here: its next group stays open meanwhile.
    const held: (() => void)[] = [];
    let holding = false;
    const server = sqlite(dir, { index: WAIT, fsync: (_fd, done) => (holding ? held.push(() => done(null)) : done(null)) });
    const reader = sqlite(dir, { busyTimeoutMs: 200 });
    // Run before the stores close (cleanups run last first), also when an expectation failed midway.
    cleanups.push(() => {
      holding = false;
      for (const release of held.splice(0)) release();
    });
    const sid = await server.createSession({ device: 'IMEI:A', dmSessionId: '1', encoding: 'xml' }, 0);
    const ms = sessionMessages({ devId: 'IMEI:A', greeting: 'first one' }).map((m, i) => ({ ...m, sessionId: sid, seq: i + 1, parsed: decoded(m.bytes) }));
    holding = true;
    const first = server.tx(async (s) => s.addMessages(ms.slice(0, 2)));
    await new Promise((r) => setImmediate(r));
    expect(held.length).toBe(1);
    // The first round trip is committed (its fsync held); the second's group is open.
    const second = server.tx(async (s) => s.addMessages(ms.slice(2)));
    await new Promise((r) => setImmediate(r));
    expect(server.serverStore.indexing.writing()).toBe(true);
    const query = reader.queryMessages({ filter: 'data contains "first one"', offset: 0, limit: 10 });
    holding = false;
    for (const release of held.splice(0)) release();
    await Promise.all([first, second]);
    expect((await query).rows.map((r) => [r.sessionId, r.seq])).toEqual([[sid, 2]]);
    expect(await reader.findCommands('dev == "IMEI:A"')).toHaveLength(10);
    expect(unindexedCount(reader.serverStore.db)).toBe(0);
    // Written through the server's connection, from the decoded forms it held.
    expect(server.serverStore.indexing.queue().stats.fromHeld).toBe(4);
  });

  it('close() writes the pending batch', async () => {
    const dir = fresh();
    const store = SqliteStore.open(dir, { index: WAIT });
    await logLiveSession(store, { devId: 'IMEI:C' });
    expect(rawCounts(dir)).toMatchObject({ m: 4, i: 0 });
    await store.close();
    expect(rawCounts(dir)).toEqual({ m: 4, i: 4, c: 10 });
  });
});

describe('a crash loses no index row', () => {
  it('the pending batch dropped (no close, no flush), the store reopened: nothing is left unindexed, the rows are those of the stored bytes', async () => {
    const dir = fresh();
    const s = ServerStore.open(dir, { index: WAIT });
    const sid = s.tx(() => s.createSession({ device: 'IMEI:K', dmSessionId: '1', encoding: 'xml' }, 0));
    const ms = sessionMessages({ devId: 'IMEI:K', getStatus: 500 }).map((m, i) => ({ ...m, sessionId: sid, seq: i + 1, parsed: decoded(m.bytes) }));
    await s.group(() => s.addMessages(ms.slice(0, 2)));
    await s.group(() => s.addMessages(ms.slice(2)));
    // What a crash leaves: the messages on disk, the batch gone with the process.
    s.indexing.queue().dropPendingForTest();
    s.close();
    expect(rawCounts(dir)).toEqual({ m: 4, i: 0, c: 0 });
    const again = ServerStore.open(dir);
    cleanups.push(() => again.close());
    expect(unindexedCount(again.db)).toBe(0);
    expect(counts(again.db)).toEqual({ m: 4, i: 4, c: 10 });
    rowsFromBytes(again);
  });

  it('a process killed (SIGKILL) right after logging: the next open of the folder indexes what it logged', async () => {
    const dir = fresh();
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, 'log-and-die', dir, 'IMEI:KILLED'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('logged\n');
    expect(r.signal).toBe('SIGKILL');
    // Its index rows were still waiting for their batch (250 ms by default) when it died.
    expect(rawCounts(dir)).toEqual({ m: 4, i: 0, c: 0 });
    const store = sqlite(dir);
    expect(await store.findCommands('dev == "IMEI:KILLED" && cmd == Get')).toHaveLength(1);
    expect(await store.unindexedCount()).toBe(0);
  });
});

describe('another process on the same folder sees the messages just logged', () => {
  it('`dmw session find` started after they were logged, and a reader open before: both see them; the batch then indexes nothing twice', async () => {
    const dir = fresh();
    const store = sqlite(dir, { index: WAIT });
    await logLiveSession(store, { devId: 'IMEI:0' });
    await store.queryMessages({ filter: 'dev', offset: 0, limit: 1 });
    // A reader process, open before the next session is logged.
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'reader', dir, 'cmd == Get'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    cleanups.push(() => child.kill());
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const line = () => new Promise<string>((resolve, reject) => {
      const look = () => {
        const i = out.indexOf('\n');
        if (i >= 0) {
          const l = out.slice(0, i);
          out = out.slice(i + 1);
          resolve(l);
          return true;
        }
        return false;
      };
      if (look()) return;
      const on = (d: Buffer) => {
        out += d.toString();
        if (look()) child.stdout.off('data', on);
      };
      child.stdout.on('data', on);
      child.once('exit', (code) => reject(new Error(`reader exited ${code}: ${err}`)));
    });
    expect(await line()).toBe('ready');
    const sid = await logLiveSession(store, { devId: 'IMEI:1', getStatus: 404 });
    expect(rawCounts(dir)).toMatchObject({ m: 8, i: 4 });
    // `dmw session find` in a process of its own, while this one's batch still waits.
    const find = spawnSync(process.execPath, [BIN, 'session', 'find', '--data', dir, 'cmd == Get && status == 404', '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(find.stderr).toBe('');
    expect(JSON.parse(find.stdout)).toEqual([{ session: sid, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 }]);
    const sid2 = await logLiveSession(store, { devId: 'IMEI:2', dmSessionId: '2' });
    expect(rawCounts(dir)).toMatchObject({ m: 12, i: 8 });
    child.stdin.write('go\n');
    const hits = JSON.parse(await line()) as { session: number; status: number }[];
    expect(hits.map((h) => [h.session, h.status])).toEqual([[1, 200], [sid, 404], [sid2, 200]]);
    // This process's batch still holds their decoded forms: it finds them indexed and writes nothing twice.
    const s = store.serverStore;
    expect(s.indexing.queue().heldCount.messages).toBe(8);
    const before = s.indexing.queue().stats.indexed;
    await s.indexing.indexReady();
    expect(s.indexing.queue().stats.indexed).toBe(before);
    expect(s.indexing.queue().heldCount).toEqual({ messages: 0, bytes: 0 });
    expect(counts(s.db)).toEqual({ m: 12, i: 12, c: 30 });
    rowsFromBytes(s);
  });
});

describe('rows of a batch equal rows written one message at a time', () => {
  it('Status links inside a batch, across its edge, with MsgIDs used twice in a session and commands answered twice', async () => {
    // One session of eight messages: the fixture's four twice (MsgIDs 1, 1, 2, 2 again), the second
    // time the Get answered 404: the Statuses of #3 and #7 both answer the Gets of #2 and #6.
    const spec = (dir: string) => {
      const s = ServerStore.open(dir, { index: WAIT });
      cleanups.push(() => s.close());
      const sid = s.tx(() => s.createSession({ device: 'IMEI:S', dmSessionId: '1', encoding: 'xml' }, 0));
      const ms = [...sessionMessages({ devId: 'IMEI:S' }), ...sessionMessages({ devId: 'IMEI:S', getStatus: 404, greeting: 'again' })]
        .map((m, i) => ({ ...m, sessionId: sid, seq: i + 1, parsed: decoded(m.bytes) }));
      return { s, ms };
    };
    // Reference: each message indexed in its own transaction (tx(): the index in the logging transaction).
    const ref = spec(fresh());
    for (const m of ref.ms) ref.s.tx(() => ref.s.addMessage(m));
    const want = indexRows(ref.s.db);
    const gets = (want as { cmd: { cmd: string; status: number | null }[] }).cmd.filter((c) => c.cmd === 'Get').map((c) => c.status);
    expect(gets).toEqual([404, 404]);
    for (let split = 0; split <= 8; split++) {
      const { s, ms } = spec(fresh());
      await s.group(() => s.addMessages(ms));
      if (split > 0) s.tx(() => catchUpIndex(s.db, { max: split, held: (id) => ({ ...ms[id - 1]!, id, atMs: ms[id - 1]!.at, msgId: ms[id - 1]!.msgId ?? null, contentType: ms[id - 1]!.contentType ?? null }) }));
      s.tx(() => catchUpIndex(s.db));
      expect(indexRows(s.db), `split at ${split}`).toEqual(want);
      s.indexing.queue().dropPendingForTest();
    }
  });
});

describe('bounds', () => {
  it('a batch starts at batchMessages, takes at most maxBatch per transaction, and the queue of decoded forms never passes its caps', async () => {
    const dir = fresh();
    const one = sessionMessages({ devId: 'IMEI:B' })[1]!.bytes.byteLength;
    const limits = { batchMessages: 4, delayMs: 600_000, maxBatch: 6, maxHeldMessages: 5, maxHeldBytes: 4 * one };
    const s = ServerStore.open(dir, { synchronous: 'NORMAL', index: limits });
    cleanups.push(() => s.close());
    const q = s.indexing.queue();
    const sid = s.tx(() => s.createSession({ device: 'IMEI:B', dmSessionId: '1', encoding: 'xml' }, 0));
    let seq = 0;
    const messages = (n: number) => Array.from({ length: n }, () => {
      const m = sessionMessages({ devId: 'IMEI:B', greeting: `g${seq}` })[seq % 4]!;
      return { ...m, sessionId: sid, seq: ++seq, parsed: decoded(m.bytes) };
    });
    const turn = () => new Promise((r) => setImmediate(r));
    await s.group(() => s.addMessages(messages(3)));
    await turn();
    await turn();
    expect(q.stats.batches).toBe(0);
    expect(q.waiting).toBe(3);
    await s.group(() => s.addMessages(messages(1)));
    for (let i = 0; i < 5 && q.stats.batches === 0; i++) await turn();
    expect(q.stats).toMatchObject({ batches: 1, indexed: 4, largestBatch: 4 });
    // A flood in one group: held forms stay within both caps; the rest is decoded from its bytes.
    const flood = messages(40);
    const sizes: { messages: number; bytes: number }[] = [];
    await s.group(() => {
      for (const m of flood) {
        s.addMessages([m]);
        sizes.push(q.heldCount);
      }
    });
    expect(Math.max(...sizes.map((h) => h.messages))).toBeLessThanOrEqual(5);
    expect(Math.max(...sizes.map((h) => h.bytes))).toBeLessThanOrEqual(4 * one);
    expect(Math.max(...sizes.map((h) => h.messages))).toBeGreaterThan(0);
    await s.indexing.indexReady();
    expect(unindexedCount(s.db)).toBe(0);
    expect(q.stats.indexed).toBe(44);
    expect(q.stats.largestBatch).toBeLessThanOrEqual(6);
    expect(q.stats.batches).toBeGreaterThanOrEqual(1 + Math.ceil(40 / 6));
    expect(q.heldCount).toEqual({ messages: 0, bytes: 0 });
    rowsFromBytes(s);
  });
});
