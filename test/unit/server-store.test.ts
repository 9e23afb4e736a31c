/**
 * The SQLite store: job lifecycle, release after unanswered sessions, crash recovery, clearing,
 * two connections (two processes) on one data folder.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerStore } from '../../main/store/sqlite/server-store.js';
import { DmServer } from '../../main/server/server.js';

const dirs: string[] = [];
function fresh(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;

describe('server store', () => {
  it('keeps a job through queued -> sent -> done with its results', () => {
    const s = ServerStore.open(fresh());
    const j = s.addJob('IMEI:1', { kind: 'get', uri: './DevInfo/Mod' }, T);
    expect(j).toMatchObject({ id: 1, device: 'IMEI:1', command: 'get', target: './DevInfo/Mod', status: 'queued', statusCode: null, results: [], attempts: 0 });
    const sid = s.createSession({ device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, T);
    s.markSent([j.id], sid, T + 1);
    expect(s.job(j.id)).toMatchObject({ status: 'sent', sessionId: sid, attempts: 1 });
    expect(s.queuedJobs('IMEI:1')).toEqual([]);
    s.finishJob({ id: j.id, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'R3' }], members: [], error: null }, T + 2);
    expect(s.job(j.id)).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'R3' }] });
    s.close();
  });

  it('rejects a bad job spec at the boundary (parseJobSpec: the server, the API and the CLI check before the store)', async () => {
    const dir = fresh();
    const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1' });
    try {
      await expect(server.addJob('d', { kind: 'get', uri: '' } as never)).rejects.toThrow(/not a DM URI/);
      await expect(server.addJob('d', { kind: 'frobnicate' } as never)).rejects.toThrow(/unknown job kind/);
      await expect(server.addJob('d', { kind: 'atomic', commands: [{ kind: 'discover', uri: '.' }] } as never)).rejects.toThrow(/cannot be inside/);
      expect(await server.store.jobs()).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('puts unanswered read-only jobs back in the queue (their default onUnconfirmed resend), and fails them after maxAttempts', () => {
    const s = ServerStore.open(fresh());
    const j = s.addJob('d', { kind: 'get', uri: './DevInfo/Mod' }, T);
    for (let i = 1; i <= 3; i++) {
      s.markSent([j.id], 1, T);
      s.releaseJob(j.id, true, 3, 'timeout', T);
      expect(s.job(j.id)!.status).toBe(i < 3 ? 'queued' : 'failed');
    }
    expect(s.job(j.id)).toMatchObject({ attempts: 3, error: 'no answer after 3 attempt(s); last: sent in session 1, no Status arrived: timeout' });
    // A job that never went out does not use up an attempt.
    const k = s.addJob('d', { kind: 'get', uri: './A' }, T);
    s.releaseJob(k.id, false, 1, 'x', T);
    expect(s.job(k.id)).toMatchObject({ status: 'queued', attempts: 0 });
    s.close();
  });

  it('recovers after a crash: open sessions interrupted, jobs on the wire queued again', () => {
    const dir = fresh();
    const s = ServerStore.open(dir);
    const sid = s.createSession({ device: 'd', dmSessionId: '7', encoding: 'wbxml' }, T);
    const j = s.addJob('d', { kind: 'get', uri: './A' }, T);
    s.markSent([j.id], sid, T);
    s.addMessage({ sessionId: sid, direction: 'in', at: T, bytes: new Uint8Array([2, 0xa4, 1, 0x6a]), decoded: null, error: 'x' });
    s.close(); // as if killed: nothing more is written
    const again = ServerStore.open(dir);
    expect(again.recoverInterrupted(T + 5)).toEqual({ sessions: 1, jobs: 1, unconfirmed: 0, failed: 0 });
    expect(again.session(sid)).toMatchObject({ state: 'interrupted', messageCount: 1 });
    expect(again.job(j.id)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(Array.from(again.messages(sid)[0]!.bytes)).toEqual([2, 0xa4, 1, 0x6a]);
    again.close();
  });

  it('clears a device\'s jobs but keeps those in flight', () => {
    const s = ServerStore.open(fresh());
    const a = s.addJob('d', { kind: 'get', uri: './A' }, T);
    s.addJob('d', { kind: 'get', uri: './B' }, T);
    s.addJob('other', { kind: 'get', uri: './C' }, T);
    s.markSent([a.id], 1, T);
    expect(s.clearJobs('d')).toEqual({ deleted: 1, kept: 1 });
    expect(s.jobs().map((j) => j.target)).toEqual(['./A', './C']);
    s.close();
  });

  it('lets two connections (two processes) share the folder: a job written by one is read by the other', () => {
    const dir = fresh();
    const server = ServerStore.open(dir);
    const cli = ServerStore.open(dir);
    const j = cli.tx(() => cli.addJob('IMEI:2', { kind: 'replace', uri: './X', value: '1' }, T));
    expect(server.queuedJobs('IMEI:2').map((x) => x.id)).toEqual([j.id]);
    // A write transaction on one waits for, and does not corrupt, the other's.
    server.tx(() => server.markSent([j.id], 1, T));
    expect(cli.job(j.id)!.status).toBe('sent');
    expect(server.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(server.durability).toBe('FULL');
    server.close();
    cli.close();
  });

  it('answers a group commit only after its WAL fsync returned; requests meanwhile gather in the next group; tx() is durable when it returns', async () => {
    const dir = fresh();
    const syncs: Array<() => void> = [];
    const s = ServerStore.open(dir, { fsync: (_fd, done) => syncs.push(() => done(null)) });
    const other = ServerStore.open(dir, { synchronous: 'NORMAL' });
    const targets = () => other.queuedJobs('IMEI:3').map((j) => j.target);
    const settled: string[] = [];
    const a = s.group(() => s.addJob('IMEI:3', { kind: 'get', uri: './A' }, T)).then(() => settled.push('a'));
    await new Promise((r) => setImmediate(r)); // end of the turn: A commits, its fsync starts
    expect(syncs).toHaveLength(1);
    expect(targets()).toEqual(['./A']); // committed, but its device is not answered yet
    const b = s.group(() => s.addJob('IMEI:3', { kind: 'get', uri: './B' }, T)).then(() => settled.push('b'));
    await new Promise((r) => setImmediate(r));
    const c = s.group(() => s.addJob('IMEI:3', { kind: 'get', uri: './C' }, T)).then(() => settled.push('c'));
    await new Promise((r) => setImmediate(r));
    // B and C (two turns) wait in one open group while A's fsync runs.
    expect(targets()).toEqual(['./A']);
    expect(settled).toEqual([]);
    expect(syncs).toHaveLength(1);
    syncs.shift()!();
    await a;
    expect(settled).toEqual(['a']);
    expect(targets()).toEqual(['./A', './B', './C']); // the gathered group committed, one fsync for both
    expect(syncs).toHaveLength(1);
    syncs.shift()!();
    await Promise.all([b, c]);
    expect(settled).toEqual(['a', 'b', 'c']);
    // tx() flushes with a synchronous fsync: nothing waits on the thread pool afterwards.
    s.tx(() => s.addJob('IMEI:3', { kind: 'get', uri: './D' }, T));
    expect(syncs).toHaveLength(0);
    expect(targets()).toContain('./D');
    other.close();
    s.close();
  });

  it('fails the requests of a group whose fsync failed', async () => {
    const s = ServerStore.open(fresh(), { fsync: (_fd, done) => done(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })) });
    await expect(s.group(() => s.addJob('IMEI:4', { kind: 'get', uri: './A' }, T))).rejects.toThrow(/could not flush .*dmw\.sqlite-wal to disk: EIO/);
    s.close();
  });

  it('keeps the discovered tree with timestamps, newest value winning', () => {
    const s = ServerStore.open(fresh());
    s.upsertTree('d', [{ uri: 'DevInfo/Mod', format: 'chr', type: null, data: 'A' }], T);
    s.upsertTree('d', [{ uri: './DevInfo/Mod', format: null, type: null, data: 'B' }, { uri: './DevInfo', format: 'node', type: null, data: null }], T + 1000);
    expect(s.tree('d')).toEqual([
      { uri: './DevInfo', format: 'node', type: null, data: null, fetchedAt: new Date(T + 1000).toISOString() },
      { uri: './DevInfo/Mod', format: 'chr', type: null, data: 'B', fetchedAt: new Date(T + 1000).toISOString() },
    ]);
    s.close();
  });

  it('attaches a generic alert to the Exec job with the same Correlator', () => {
    const s = ServerStore.open(fresh());
    const j = s.addJob('d', { kind: 'exec', uri: './FUMO/Update', correlator: 'c1' }, T);
    s.finishJob({ id: j.id, status: 'done', statusCode: 202, results: [], members: [], error: null }, T);
    expect(s.attachAlertToJobs('d', { code: '1226', correlator: 'c1', items: [{ source: './FUMO/Update', type: 'org.openmobilealliance.dm.firmwareupdate.update', data: '200' }] }, T)).toEqual([j.id]);
    expect(s.job(j.id)!.results).toEqual([{ uri: './FUMO/Update', format: null, data: '200', type: 'org.openmobilealliance.dm.firmwareupdate.update' }]);
    // The next run reuses the correlator: its report belongs to the new Exec, not to both.
    const again = s.addJob('d', { kind: 'exec', uri: './FUMO/Update', correlator: 'c1' }, T);
    s.finishJob({ id: again.id, status: 'done', statusCode: 202, results: [], members: [], error: null }, T);
    expect(s.attachAlertToJobs('d', { code: '1226', correlator: 'c1', items: [{ source: './FUMO/Update', data: '410' }] }, T)).toEqual([again.id]);
    expect(s.job(again.id)!.results).toEqual([{ uri: './FUMO/Update', format: null, data: '410', type: 'alert:1226' }]);
    expect(s.job(j.id)!.results).toHaveLength(1);
    // Another device's Exec with the same correlator is not this device's.
    expect(s.attachAlertToJobs('other', { code: '1226', correlator: 'c1', items: [] }, T)).toEqual([]);
    s.close();
  });
});
