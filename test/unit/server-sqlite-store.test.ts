/**
 * DmStore over SQLite (main/store/sqlite/sqlite-store.ts): tx() with an async callback stays one
 * atomic savepoint of the group commit, concurrent callers never interleave, a throw undoes
 * everything (rows, in-memory session state, events), events reach subscribers only after the
 * COMMIT is on disk, and a queued job is claimed once. openStore() picks the implementation.
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DB_FILE } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { openStore } from '../../main/store/open.js';
import type { DeliveredEvent, DmStoreOps } from '../../main/store/store.js';

const dirs: string[] = [];
const open: SqliteStore[] = [];
function fresh(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-sqlite-store-'));
  dirs.push(d);
  return d;
}
function store(dir = fresh(), fsync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void): SqliteStore {
  const s = SqliteStore.open(dir, fsync ? { fsync } : {});
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;
const bytes = (s: string) => new TextEncoder().encode(s);
/** A few turns of the event loop's microtask queue (what an await of the store's resolved promises yields to). */
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

/** A turn's read-modify-write: counts the session's messages, yields, logs the next one. Interleaved, two turns would take the same seq. */
async function logNext(s: DmStoreOps, sessionId: number, tag: string): Promise<number> {
  const n = (await s.messages(sessionId)).length;
  await ticks(3);
  await s.addMessage({ sessionId, seq: n + 1, direction: 'in', at: T, bytes: bytes(tag) });
  return n + 1;
}

describe('SqliteStore', () => {
  it('serves concurrent tx callers one at a time: each read-modify-write is whole, and a failing one undoes only its own writes', async () => {
    const s = store();
    const sid = await s.createSession({ device: 'd', dmSessionId: '1', encoding: 'xml' }, T);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.tx(async (t) => {
      const seq = await logNext(t, sid, `m${i}`);
      await t.annotateMessage((await t.messages(sid)).at(-1)!.id, `by ${i}`);
      if (i % 5 === 4) throw new Error(`turn ${i} failed`);
      return seq;
    })));
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(4);
    const logged = await s.messages(sid);
    // 16 turns landed, numbered 1..16 without a gap or a duplicate; the 4 failed ones left nothing.
    expect(logged.map((m) => m.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(ok.sort((a, b) => a - b)).toEqual(logged.map((m) => m.seq));
    for (const m of logged) expect(m.note).toBe(`by ${new TextDecoder().decode(m.bytes).slice(1)}`);
  });

  it('rolls a throwing tx back whole: rows, session state and events', async () => {
    const s = store();
    const seen: DeliveredEvent[] = [];
    await s.subscribe((e) => seen.push(e));
    await s.createSessionState('k', 1, { n: 0 }, T);
    await expect(s.tx(async (t) => {
      await t.addJob('d', { kind: 'get', uri: './A' }, T);
      const c = await t.claimSessionState('k', 'me', T, 1000);
      expect(c.ok).toBe(true);
      expect(await t.commitSessionState('k', 'me', 1, { n: 1 }, T)).toBe(true);
      await t.createSessionState('k2', 2, {}, T);
      await t.publish({ type: 'job-added' });
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await s.jobs()).toEqual([]);
    // The state is as before the tx: version 1, nobody holding it, no k2.
    const again = await s.claimSessionState('k', 'other', T, 1000);
    expect(again).toMatchObject({ ok: true, record: { version: 1, state: { n: 0 } } });
    expect(await s.claimSessionState('k2', 'other', T, 1000)).toEqual({ ok: false, reason: 'missing' });
    await ticks(5);
    expect(seen).toEqual([]);
  });

  it('delivers a tx\'s events only after its COMMIT is on disk, and answers the tx only then', async () => {
    const syncs: (() => void)[] = [];
    const dir = fresh();
    const s = store(dir, (_fd, done) => syncs.push(() => done(null)));
    const seen: DeliveredEvent[] = [];
    await s.subscribe((e) => seen.push(e));
    let answered = false;
    const p = s.tx(async (t) => {
      await t.addJob('d', { kind: 'get', uri: './A' }, T);
      await t.publish({ type: 'job-added', n: 1 });
      await t.publish({ type: 'job-added', n: 2 });
      return 'done';
    }).then((v) => {
      answered = true;
      return v;
    });
    await new Promise((r) => setImmediate(r)); // the group commits at the end of the turn; its fsync is pending
    await new Promise((r) => setImmediate(r));
    expect(syncs).toHaveLength(1);
    // Committed (another connection sees it) but not yet on disk: nobody has heard of it.
    const other = new Database(path.join(dir, DB_FILE), { readonly: true });
    expect((other.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n).toBe(1);
    other.close();
    expect(answered).toBe(false);
    expect(seen).toEqual([]);
    syncs.shift()!();
    expect(await p).toBe('done');
    expect(seen.map((e) => e.event)).toEqual([{ type: 'job-added', n: 1 }, { type: 'job-added', n: 2 }]);
    expect(seen[1]!.id).toBeGreaterThan(seen[0]!.id);
  });

  it('keeps the group open while a tx awaits across turns of the event loop: its half is never committed', async () => {
    const dir = fresh();
    const s = store(dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = s.tx(async (t) => {
      await t.addJob('d', { kind: 'get', uri: './A' }, T);
      await gate; // not the store: against the rule, but the COMMIT must still wait
      await t.addJob('d', { kind: 'get', uri: './B' }, T);
    });
    // A second tx queued behind it, and several event-loop turns (each would commit the group).
    const q = s.tx((t) => t.addJob('d', { kind: 'get', uri: './C' }, T));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const other = new Database(path.join(dir, DB_FILE), { readonly: true });
    const count = () => (other.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
    expect(count()).toBe(0);
    release();
    await Promise.all([p, q]);
    expect(count()).toBe(3);
    other.close();
    expect((await s.jobs()).map((j) => j.target)).toEqual(['./A', './B', './C']);
  });

  it('claims each queued job once, oldest first, whatever the number of claimers', async () => {
    const s = store();
    for (let i = 0; i < 7; i++) await s.addJob('d', { kind: 'get', uri: `./N${i}` }, T);
    await s.addJob('other', { kind: 'get', uri: './X' }, T);
    const claims = await Promise.all([
      s.tx((t) => t.claimJobs('d', 1, T + 1, { limit: 3 })),
      s.tx((t) => t.claimJobs('d', 2, T + 1)),
      s.claimJobs('d', 3, T + 1),
    ]);
    expect(claims.map((c) => c.map((j) => j.id))).toEqual([[1, 2, 3], [4, 5, 6, 7], []]);
    expect(claims[0]![0]).toEqual({ id: 1, spec: { kind: 'get', uri: './N0' } });
    const jobs = await s.jobs({ device: 'd' });
    expect(jobs.every((j) => j.status === 'sent' && j.attempts === 1)).toBe(true);
    expect(jobs.map((j) => j.sessionId)).toEqual([1, 1, 1, 2, 2, 2, 2]);
    expect((await s.job(8))!.status).toBe('queued');
    // A rolled-back claim leaves the jobs queued.
    await s.addJob('d', { kind: 'get', uri: './Y' }, T);
    await expect(s.tx(async (t) => {
      expect(await t.claimJobs('d', 4, T)).toHaveLength(1);
      throw new Error('turn failed');
    })).rejects.toThrow('turn failed');
    expect((await s.queuedJobSpecs('d')).map((j) => j.id)).toEqual([9]);
  });

  it('openStore: SQLite in the data folder without a URL; a URL it cannot open is an error naming it', async () => {
    const dir = fresh();
    const s = await openStore({ dataDir: dir });
    expect(s.kind).toBe('sqlite');
    await s.addJob('d', { kind: 'get', uri: './A' }, T);
    await s.close();
    const again = await openStore({ dataDir: dir, storeUrl: '' });
    expect((await again.jobs()).length).toBe(1);
    await again.close();
    await expect(openStore({ dataDir: dir, storeUrl: 'mysql://u@h/db' })).rejects.toThrow(/store URL "mysql:\/\/u@h\/db" .*postgres:\/\/USER@HOST:PORT\/DB/);
    await expect(openStore({ dataDir: dir, storeUrl: '/var/lib/dmw' })).rejects.toThrow(/"\/var\/lib\/dmw"/);
    await expect(openStore({ dataDir: dir, storeUrl: 'postgres://u:secret@127.0.0.1:1/db' })).rejects.toThrow(/could not open the store at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  });
});
