/**
 * At most once, visibly (main/server/unconfirmed.ts): a job whose command went out and whose Status
 * never came back follows its onUnconfirmed policy (ask -> unconfirmed, verify -> queued with a
 * read-back, resend -> queued up to maxJobAttempts, drop -> failed), never a silent re-send of what
 * changes the device; the engineer's decisions; crash recovery; the v1 -> v2 migration of a data
 * folder built by the old schema; the events applyEffects makes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DB_FILE, JobDecisionError, SCHEMA_VERSION, ServerStore } from '../../main/store/server-store.js';
import { applyEffects } from '../../main/server/effects.js';
import type { EngineEffects } from '../../main/server/engine.js';
import type { ServerEvent } from '../../main/server/events.js';
import type { JobSpec } from '../../main/server/types.js';
import { defaultUnconfirmedPolicy, resolveUnconfirmedPolicy, runsExec, settleUnanswered } from '../../main/server/unconfirmed.js';
import { REPO_ROOT } from '../helpers/tools.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';

const dirs: string[] = [];
function fresh(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-unconfirmed-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;
const MAX = 3;

const ADD: JobSpec = { kind: 'add', uri: './Lab/A', value: 'a' };
const REPLACE: JobSpec = { kind: 'replace', uri: './Lab/R', value: 'r' };
const DELETE: JobSpec = { kind: 'delete', uri: './Lab/D' };
const EXEC: JobSpec = { kind: 'exec', uri: './FwUpdate/Lab/Update' };
const GET: JobSpec = { kind: 'get', uri: './DevInfo/Mod' };

/** A store with one session and a job of `spec` out on the wire in it. */
function sentJob(spec: JobSpec, onUnconfirmed?: 'ask' | 'verify' | 'resend' | 'drop') {
  const s = ServerStore.open(fresh());
  const sid = s.createSession({ device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, T);
  const j = s.addJob('IMEI:1', spec, T, onUnconfirmed ? { onUnconfirmed } : {});
  s.markSent([j.id], sid, T + 1);
  return { s, sid, id: j.id };
}

describe('onUnconfirmed policy (pure)', () => {
  it('defaults: resend for read-only jobs (get, discover, read-acl), ask for everything that changes the device', () => {
    for (const k of ['get', 'discover', 'read-acl'] as const) expect(defaultUnconfirmedPolicy({ kind: k })).toBe('resend');
    for (const k of ['add', 'replace', 'delete', 'exec', 'copy', 'alert', 'atomic', 'sequence'] as const) expect(defaultUnconfirmedPolicy({ kind: k })).toBe('ask');
  });

  it('verify only for add, replace and delete; anything else is refused at queue time with the reason', () => {
    for (const spec of [ADD, REPLACE, DELETE]) expect(resolveUnconfirmedPolicy(spec, 'verify')).toBe('verify');
    expect(() => resolveUnconfirmedPolicy(EXEC, 'verify')).toThrow(/verify reads the node back, which works for add, replace, delete jobs only, not exec/);
    expect(() => resolveUnconfirmedPolicy({ kind: 'atomic', commands: [ADD as never] }, 'verify')).toThrow(/not atomic/);
    expect(() => resolveUnconfirmedPolicy(GET, 'maybe')).toThrow(/onUnconfirmed must be one of ask, verify, resend, drop, got "maybe"/);
    // An Exec is re-sent only when resend is given explicitly for it.
    expect(resolveUnconfirmedPolicy(EXEC, undefined)).toBe('ask');
    expect(resolveUnconfirmedPolicy(EXEC, 'resend')).toBe('resend');
    expect(runsExec({ kind: 'sequence', commands: [{ kind: 'get', uri: './A' }, { kind: 'exec', uri: './B' }] })).toBe(true);
  });

  it('says which session, and why, in what it writes', () => {
    const job = { id: 7, spec: REPLACE, onUnconfirmed: 'ask' as const, attempts: 1, sessionId: 12 };
    expect(settleUnanswered(job, 'server restarted', MAX)).toEqual({ status: 'unconfirmed', verify: false, error: 'sent in session 12, no Status arrived: server restarted; decide: verify, resend or drop' });
    expect(settleUnanswered({ ...job, spec: EXEC }, 'x', MAX).error).toMatch(/decide: resend or drop$/);
  });
});

describe('releasing a sent job without its Status (store)', () => {
  it('ask (the default for add, replace, delete, exec): unconfirmed at once, never queued again, whatever the attempts', () => {
    for (const spec of [ADD, REPLACE, DELETE, EXEC, { kind: 'copy', uri: './B', source: './A' } as JobSpec]) {
      const { s, sid, id } = sentJob(spec);
      const j = s.releaseJob(id, true, MAX, 'session timeout (no message for 300 s)', T + 2);
      expect(j).toMatchObject({ status: 'unconfirmed', onUnconfirmed: 'ask', verify: false, attempts: 1, sessionId: sid });
      expect(j!.error).toBe(`sent in session ${sid}, no Status arrived: session timeout (no message for 300 s); decide: ${spec.kind === 'exec' || spec.kind === 'copy' ? 'resend or drop' : 'verify, resend or drop'}`);
      expect(s.queuedJobSpecs('IMEI:1')).toEqual([]);
      expect(s.jobs({ status: 'unconfirmed' }).map((x) => x.id)).toEqual([id]);
      // A second release (a late close of the same session) changes nothing.
      expect(s.releaseJob(id, true, MAX, 'again', T + 3)).toBeUndefined();
      s.close();
    }
  });

  it('verify: queued with the read-back flag (queuedJobSpecs says verify: true), cleared when the job finishes; past maxJobAttempts unconfirmed', () => {
    const { s, id } = sentJob(REPLACE, 'verify');
    expect(s.releaseJob(id, true, MAX, 'cut', T + 2)).toMatchObject({ status: 'queued', verify: true, error: expect.stringMatching(/queued again to read the node back first/) });
    expect(s.queuedJobSpecs('IMEI:1')).toEqual([{ id, spec: REPLACE, verify: true }]);
    s.markSent([id], 1, T + 3);
    s.finishJob({ id, status: 'done', statusCode: 200, results: [], members: [{ cmd: 'Get', uri: './Lab/R', statusCode: 200 }], error: null }, T + 4);
    expect(s.job(id)).toMatchObject({ status: 'done', verify: false, error: null });
    s.close();

    const again = sentJob(DELETE, 'verify');
    for (let i = 1; i < MAX; i++) {
      expect(again.s.releaseJob(again.id, true, MAX, 'cut', T)!.status).toBe('queued');
      again.s.markSent([again.id], 1, T);
    }
    expect(again.s.releaseJob(again.id, true, MAX, 'cut', T)).toMatchObject({ status: 'unconfirmed', verify: false, attempts: MAX, error: expect.stringMatching(/no answer after 3 attempt\(s\) with read-back/) });
    expect(again.s.queuedJobSpecs('IMEI:1')).toEqual([]);
    again.s.close();
  });

  it('resend: queued again as it is (an Exec too, when given explicitly), failed past maxJobAttempts', () => {
    const { s, id } = sentJob(EXEC, 'resend');
    for (let i = 1; i <= MAX; i++) {
      const j = s.releaseJob(id, true, MAX, 'cut', T)!;
      expect(j.status).toBe(i < MAX ? 'queued' : 'failed');
      expect(j.verify).toBe(false);
      if (i < MAX) {
        expect(s.queuedJobSpecs('IMEI:1')).toEqual([{ id, spec: EXEC }]);
        s.markSent([id], 1, T);
      }
    }
    expect(s.job(id)!.error).toBe('no answer after 3 attempt(s); last: sent in session 1, no Status arrived: cut');
    s.close();
  });

  it('drop: failed, saying the device may have executed it', () => {
    const { s, sid, id } = sentJob(ADD, 'drop');
    expect(s.releaseJob(id, true, MAX, 'cut', T)).toMatchObject({ status: 'failed', error: `dropped unconfirmed (onUnconfirmed drop): sent in session ${sid}, no Status arrived: cut; the device may have executed it` });
    s.close();
  });

  it('a job the session never sent goes back to the queue without an attempt counted, whatever its policy', () => {
    const s = ServerStore.open(fresh());
    const j = s.addJob('IMEI:1', EXEC, T);
    expect(s.releaseJob(j.id, false, MAX, 'x', T)).toBeUndefined(); // queued, and still queued
    expect(s.job(j.id)).toMatchObject({ status: 'queued', attempts: 0 });
    s.close();
  });

  it('releaseSessionJobs (the server failed inside a session): only that session\'s jobs on the wire, each by its policy', () => {
    const s = ServerStore.open(fresh());
    const a = s.createSession({ device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, T);
    const b = s.createSession({ device: 'IMEI:2', dmSessionId: '2', encoding: 'xml' }, T);
    const ask = s.addJob('IMEI:1', REPLACE, T);
    const get = s.addJob('IMEI:1', GET, T);
    const other = s.addJob('IMEI:2', REPLACE, T);
    const waiting = s.addJob('IMEI:1', ADD, T);
    s.markSent([ask.id, get.id], a, T);
    s.markSent([other.id], b, T);
    const changed = s.releaseSessionJobs(a, 'internal error: boom', T + 1, MAX);
    expect(changed.map((j) => [j.id, j.status])).toEqual([[ask.id, 'unconfirmed'], [get.id, 'queued']]);
    expect(changed[0]!.error).toBe(`sent in session ${a}, no Status arrived: internal error: boom; decide: verify, resend or drop`);
    expect(s.job(other.id)!.status).toBe('sent');
    expect(s.job(waiting.id)!.status).toBe('queued');
    s.close();
  });

  it('crash recovery: jobs on the wire follow their policy instead of going back to the queue', () => {
    const dir = fresh();
    const s = ServerStore.open(dir);
    const sid = s.createSession({ device: 'IMEI:1', dmSessionId: '7', encoding: 'wbxml' }, T);
    const specs: [JobSpec, 'ask' | 'verify' | 'resend' | 'drop' | undefined][] = [[REPLACE, undefined], [EXEC, undefined], [ADD, 'verify'], [GET, undefined], [DELETE, 'drop'], [REPLACE, 'resend']];
    const ids = specs.map(([spec, p]) => s.addJob('IMEI:1', spec, T, p ? { onUnconfirmed: p } : {}).id);
    s.markSent(ids, sid, T);
    s.close(); // as if killed
    const again = ServerStore.open(dir);
    expect(again.recoverInterrupted(T + 5, MAX)).toEqual({ sessions: 1, jobs: 3, unconfirmed: 2, failed: 1 });
    expect(ids.map((id) => again.job(id)!.status)).toEqual(['unconfirmed', 'unconfirmed', 'queued', 'queued', 'failed', 'queued']);
    expect(again.job(ids[0]!)!.error).toBe(`sent in session ${sid}, no Status arrived: the server stopped during the session (crash, kill or power loss); decide: verify, resend or drop`);
    expect(again.queuedJobSpecs('IMEI:1')).toEqual([{ id: ids[2], spec: ADD, verify: true }, { id: ids[3], spec: GET }, { id: ids[5], spec: REPLACE }]);
    again.close();
  });
});

describe('decisions on an unconfirmed job', () => {
  function unconfirmed(spec: JobSpec) {
    const x = sentJob(spec);
    x.s.releaseJob(x.id, true, MAX, 'cut', T + 2);
    return x;
  }

  it('verify: queued with the read-back flag; resend: queued as it is; drop: failed', () => {
    const v = unconfirmed(ADD);
    expect(v.s.decideJob(v.id, 'verify', T + 3)).toMatchObject({ status: 'queued', verify: true, error: null });
    expect(v.s.queuedJobSpecs('IMEI:1')).toEqual([{ id: v.id, spec: ADD, verify: true }]);
    v.s.close();
    const r = unconfirmed(EXEC);
    expect(r.s.decideJob(r.id, 'resend', T + 3)).toMatchObject({ status: 'queued', verify: false, error: null, attempts: 1 });
    expect(r.s.queuedJobSpecs('IMEI:1')).toEqual([{ id: r.id, spec: EXEC }]);
    r.s.close();
    const d = unconfirmed(REPLACE);
    expect(d.s.decideJob(d.id, 'drop', T + 3)).toMatchObject({ status: 'failed', verify: false, error: `dropped unconfirmed by decision: sent in session ${d.sid}, no Status arrived: cut; the device may have executed it` });
    d.s.close();
  });

  it('an explicit resend goes out even past maxJobAttempts; unanswered again, it is unconfirmed again (ask)', () => {
    const x = unconfirmed(EXEC);
    x.s.decideJob(x.id, 'resend', T);
    x.s.markSent([x.id], 1, T);
    // The decision is for this once, not a standing policy.
    expect(x.s.releaseJob(x.id, true, 1, 'cut', T)!.status).toBe('unconfirmed');
    x.s.close();
  });

  it('refuses a job that is not unconfirmed (409), an unknown job (404), verify on an Exec (400), a second decision (409)', () => {
    const x = unconfirmed(EXEC);
    const refused = (id: number, action: 'verify' | 'resend' | 'drop') => {
      try {
        x.s.decideJob(id, action, T);
      } catch (e) {
        expect(e).toBeInstanceOf(JobDecisionError);
        return { status: (e as JobDecisionError).status, message: (e as Error).message };
      }
      throw new Error('not refused');
    };
    expect(refused(x.id, 'verify')).toEqual({ status: 400, message: `job ${x.id} is exec: verify reads the node back, which works for add, replace, delete only; decide resend or drop` });
    expect(refused(999, 'drop')).toEqual({ status: 404, message: 'no job 999' });
    const queued = x.s.addJob('IMEI:1', ADD, T);
    expect(refused(queued.id, 'resend')).toEqual({ status: 409, message: `job ${queued.id} is queued, not unconfirmed: verify, resend and drop are for jobs whose command went out without an answer` });
    x.s.decideJob(x.id, 'drop', T);
    expect(refused(x.id, 'resend').status).toBe(409);
    x.s.close();
  });

  it('two processes deciding at once: one wins, the other is told (409)', () => {
    const x = unconfirmed(REPLACE);
    const other = ServerStore.open(path.dirname(x.s.db.name));
    expect(x.s.decideJob(x.id, 'verify', T).status).toBe('queued');
    expect(() => other.decideJob(x.id, 'drop', T)).toThrow(/is queued, not unconfirmed/);
    other.close();
    x.s.close();
  });
});

describe('applyEffects (effects.ts) on released jobs', () => {
  it('a sent job released by a closing session: job-unconfirmed (ask) or job-done (dropped), with the session state and reason', async () => {
    const s = ServerStore.open(fresh());
    const sid = s.createSession({ device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, T);
    const ask = s.addJob('IMEI:1', REPLACE, T);
    const drop = s.addJob('IMEI:1', ADD, T, { onUnconfirmed: 'drop' });
    const get = s.addJob('IMEI:1', GET, T);
    const notSent = s.addJob('IMEI:1', EXEC, T);
    s.markSent([ask.id, drop.id, get.id], sid, T);
    const fx: EngineEffects = {
      jobsSent: [], jobsFinished: [], tree: [], alerts: [], notes: [],
      jobsReleased: [{ id: ask.id, wasSent: true }, { id: drop.id, wasSent: true }, { id: get.id, wasSent: true }, { id: notSent.id, wasSent: false }],
      closed: { state: 'timeout', reason: 'no message for 300 s' },
    };
    const events: ServerEvent[] = [];
    await SqliteStore.over(s).tx((t) => applyEffects(t, fx, { sessionId: sid, devId: 'IMEI:1', now: T + 1, maxJobAttempts: MAX }, events));
    const jobEvents = events.filter((e) => e.type === 'job-unconfirmed' || e.type === 'job-done');
    expect(jobEvents.map((e) => [e.type, 'job' in e ? e.job.id : 0, 'job' in e ? e.job.status : ''])).toEqual([
      ['job-unconfirmed', ask.id, 'unconfirmed'],
      ['job-done', drop.id, 'failed'],
    ]);
    expect(s.job(ask.id)!.error).toBe(`sent in session ${sid}, no Status arrived: session timeout (no message for 300 s); decide: verify, resend or drop`);
    expect(s.job(get.id)).toMatchObject({ status: 'queued' });
    expect(s.job(notSent.id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(events.at(-1)).toMatchObject({ type: 'session-ended', state: 'timeout' });
    s.close();
  });
});

describe('schema migration', () => {
  const V1 = readFileSync(path.join(REPO_ROOT, 'test/fixtures/store/schema-v1.sql'), 'utf8');

  /** A data folder as dmw of schema version 1 left it: jobs in every v1 state, the newest one deleted. */
  function v1Folder(): string {
    const dir = fresh();
    const db = new Database(path.join(dir, DB_FILE));
    db.pragma('journal_mode = WAL');
    db.exec(V1);
    db.pragma('user_version = 1');
    const add = db.prepare(`INSERT INTO jobs (device, command, target, spec, status, status_code, session_id, attempts, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const at = new Date(T).toISOString();
    db.prepare(`INSERT INTO sessions (device, dm_session_id, state, encoding, started_at) VALUES ('IMEI:1', '5', 'active', 'xml', ?)`).run(at);
    add.run('IMEI:1', 'get', './DevInfo/Mod', JSON.stringify(GET), 'queued', null, null, 0, null, at, at);
    add.run('IMEI:1', 'replace', './Lab/R', JSON.stringify(REPLACE), 'sent', null, 1, 1, null, at, at);
    add.run('IMEI:1', 'add', './Lab/A', JSON.stringify(ADD), 'done', 200, 1, 1, null, at, at);
    add.run('IMEI:1', 'exec', './FwUpdate/Lab/Update', JSON.stringify(EXEC), 'failed', 500, 1, 1, 'boom', at, at);
    add.run('IMEI:1', 'get', './X', JSON.stringify({ kind: 'get', uri: './X' }), 'queued', null, null, 0, null, at, at);
    db.prepare('DELETE FROM jobs WHERE id = 5').run();
    // The old CHECK refuses the new state: this is why the table must be rebuilt.
    expect(() => db.prepare(`UPDATE jobs SET status = 'unconfirmed' WHERE id = 1`).run()).toThrow(/CHECK constraint failed/);
    db.close();
    return dir;
  }

  it('opens a v1 data folder and migrates it in place: jobs kept with their ids and states, policies by kind, ids never reused, unconfirmed accepted, integrity ok', () => {
    const dir = v1Folder();
    const s = ServerStore.open(dir);
    expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(3); // v1 -> v2 (jobs) -> v3 (the message index, message-index.ts)
    expect(s.jobs().map((j) => [j.id, j.command, j.status, j.onUnconfirmed, j.verify, j.attempts, j.error])).toEqual([
      [1, 'get', 'queued', 'resend', false, 0, null],
      [2, 'replace', 'sent', 'ask', false, 1, null],
      [3, 'add', 'done', 'ask', false, 1, null],
      [4, 'exec', 'failed', 'ask', false, 1, 'boom'],
    ]);
    expect(s.job(3)).toMatchObject({ statusCode: 200, spec: ADD, target: './Lab/A', createdAt: new Date(T).toISOString() });
    expect(s.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(s.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'`).all()).toEqual([{ name: 'jobs_by_device' }]);
    // The job that was on the wire when v1 stopped is unconfirmed after recovery, not re-sent.
    expect(s.recoverInterrupted(T + 1)).toEqual({ sessions: 1, jobs: 0, unconfirmed: 1, failed: 0 });
    expect(s.job(2)!.status).toBe('unconfirmed');
    // Job 5 was deleted: its id is not handed out again.
    expect(s.addJob('IMEI:1', GET, T).id).toBe(6);
    s.close();
    // Opening again finds it migrated.
    const again = ServerStore.open(dir);
    expect(again.job(2)!.status).toBe('unconfirmed');
    again.close();
  });

  it('two processes opening a v1 folder at once: one migrates, the other finds it done', () => {
    const dir = v1Folder();
    const a = ServerStore.open(dir);
    const b = ServerStore.open(dir);
    expect(b.jobs()).toHaveLength(4);
    a.close();
    b.close();
  });

  it('refuses a data folder from a newer dmw, naming the versions', () => {
    const dir = fresh();
    const db = new Database(path.join(dir, DB_FILE));
    db.pragma('user_version = 9');
    db.close();
    expect(() => ServerStore.open(dir)).toThrow(/has schema version 9; this dmw knows up to 3/);
  });

  it('a failed migration leaves the v1 folder as it was', () => {
    const dir = v1Folder();
    const db = new Database(path.join(dir, DB_FILE));
    // A leftover from an interrupted attempt would make the copy fail: the whole transaction rolls back.
    db.exec(`CREATE TABLE jobs_v2 (id INTEGER PRIMARY KEY)`);
    db.close();
    expect(() => ServerStore.open(dir)).toThrow(/could not migrate schema version 1 to \d+: .*; the data folder is unchanged/);
    const after = new Database(path.join(dir, DB_FILE));
    expect(after.pragma('user_version', { simple: true })).toBe(1);
    expect((after.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n).toBe(4);
    after.close();
  });
});
