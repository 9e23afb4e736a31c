/**
 * A job a session takes but never sends costs no attempt, on PostgreSQL as on SQLite. On
 * PostgreSQL the turn claims what the engine takes at ingest (job-claims.ts: status sent, attempts
 * + 1); on SQLite a job is marked sent only when a command of it goes out. A session that lets go
 * of a job of which nothing went out (onWire false) must leave it as SQLite does: queued, no
 * attempt counted. Otherwise maxJobAttempts such releases use up the job's attempts and its first
 * real unanswered send fails it. Both stores go through applyEffects (effects.ts) the way their
 * servers call it (jobsClaimed only on PostgreSQL); a real cluster (test/helpers/postgres.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEffects } from '../../main/server/effects.js';
import type { EngineEffects, JobRelease } from '../../main/server/engine/types.js';
import type { ServerEvent } from '../../main/server/events.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { DmStore } from '../../main/store/store.js';
import type { JobSpec } from '../../main/store/types.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('jobs released unsent on PostgreSQL');
const T = Date.UTC(2026, 11, 7, 9, 0, 0);
const MAX = 3;
const DEV = 'IMEI:356938035643809';
const GET: JobSpec = { kind: 'get', uri: './DevInfo/Mod' };
const REPLACE: JobSpec = { kind: 'replace', uri: './Lab/R', value: 'r' };

let cluster: TestPostgres;
const closers: Array<() => unknown> = [];

/** One session of `store` that takes job `id` and lets go of it: as each server does it. */
async function session(store: DmStore, id: number, n: number, release: JobRelease): Promise<void> {
  const claims = store.kind !== 'sqlite';
  const sid = await store.createSession({ device: DEV, dmSessionId: String(n), encoding: 'xml' }, T + n);
  // PostgreSQL: the turn that takes the job claims it (claimTakenJobs); SQLite: nothing yet.
  if (claims) expect((await store.tx((s) => s.claimJobs(DEV, sid, T + n, { limit: 1 }))).map((j) => j.id)).toEqual([id]);
  const onWire = release.onWire === true;
  const fx: EngineEffects = {
    jobsSent: onWire ? [id] : [], jobsFinished: [], tree: [], alerts: [], notes: [],
    jobsReleased: [release], closed: { state: 'timeout', reason: 'no message' },
  };
  const events: ServerEvent[] = [];
  await store.tx((s) => applyEffects(s, fx, { sessionId: sid, devId: DEV, now: T + n, maxJobAttempts: MAX, jobsClaimed: claims }, events));
}

async function both(url: string): Promise<DmStore[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-unclaim-'));
  const sqlite = SqliteStore.open(dir);
  const pgStore = await PostgresStore.open(url);
  closers.push(() => sqlite.close(), () => rmSync(dir, { recursive: true, force: true }), () => pgStore.close());
  return [sqlite, pgStore];
}

describe.skipIf(!run)('a job taken but never sent costs no attempt (PostgreSQL as SQLite)', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    cluster?.stop();
  });

  it('released unsent again and again: queued with 0 attempts; its first unanswered send is attempt 1, queued again (resend)', async () => {
    const results = [];
    for (const store of await both(await cluster.createDatabase('unsent'))) {
      const job = await store.addJob(DEV, GET, T);
      for (let n = 1; n <= MAX + 1; n++) {
        await session(store, job.id, n, { id: job.id, wasSent: false, onWire: false });
        expect(await store.job(job.id), `${store.kind} after release ${n}`).toMatchObject({ status: 'queued', attempts: 0 });
      }
      await session(store, job.id, MAX + 2, { id: job.id, wasSent: true, onWire: true });
      const after = await store.job(job.id);
      results.push({ kind: store.kind, status: after!.status, attempts: after!.attempts });
    }
    expect(results).toEqual([
      { kind: 'sqlite', status: 'queued', attempts: 1 },
      { kind: 'postgres', status: 'queued', attempts: 1 },
    ]);
  });

  it('releaseJob with unclaim after claimJobs gives the attempt back on either store; a job already queued is left alone', async () => {
    for (const store of await both(await cluster.createDatabase('claimed'))) {
      const job = await store.addJob(DEV, GET, T);
      const sid = await store.createSession({ device: DEV, dmSessionId: '1', encoding: 'xml' }, T);
      await store.tx((s) => s.claimJobs(DEV, sid, T));
      expect(await store.job(job.id), store.kind).toMatchObject({ status: 'sent', attempts: 1 });
      await store.releaseJob(job.id, false, MAX, 'x', T + 1, { unclaim: true });
      expect(await store.job(job.id), store.kind).toMatchObject({ status: 'queued', attempts: 0 });
      expect(await store.releaseJob(job.id, false, MAX, 'x', T + 2, { unclaim: true }), store.kind).toBeUndefined();
      expect(await store.job(job.id), store.kind).toMatchObject({ status: 'queued', attempts: 0 });
    }
  });

  it('a job of which only its read-back Get went out keeps its attempt on both', async () => {
    const results = [];
    for (const store of await both(await cluster.createDatabase('readback'))) {
      const job = await store.addJob(DEV, REPLACE, T, { onUnconfirmed: 'verify' });
      await session(store, job.id, 1, { id: job.id, wasSent: false, onWire: true });
      const after = await store.job(job.id);
      results.push({ kind: store.kind, status: after!.status, attempts: after!.attempts });
    }
    expect(results).toEqual([
      { kind: 'sqlite', status: 'queued', attempts: 1 },
      { kind: 'postgres', status: 'queued', attempts: 1 },
    ]);
  });
});
