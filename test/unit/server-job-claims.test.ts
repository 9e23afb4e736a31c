/**
 * Jobs a turn takes on a shared store (main/server/job-claims.ts): exactly the queue's jobs the
 * engine took into the session are claimed, in the turn's transaction; a job another session
 * claimed first refuses the whole turn (rolled back), and a turn that took none costs no statement.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { claimTakenJobs, JobsTakenError, takenJobs } from '../../main/server/job-claims.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';

const dirs: string[] = [];
const stores: SqliteStore[] = [];
function store(): SqliteStore {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-claims-'));
  dirs.push(d);
  const s = SqliteStore.open(d);
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;
const GET = (uri: string) => ({ kind: 'get' as const, uri });

describe('job claims of a turn', () => {
  it('takes the jobs new in the session after the turn, in queue order', () => {
    const queued = [{ id: 3, spec: GET('./A') }, { id: 4, spec: GET('./B') }, { id: 7, spec: GET('./C') }];
    expect(takenJobs(queued, { jobs: {} }, { jobs: { 3: {}, 4: {} } })).toEqual([3, 4]);
    expect(takenJobs(queued, { jobs: { 3: {} } }, { jobs: { 3: {}, 4: {}, 7: {} } })).toEqual([4, 7]);
    expect(takenJobs(queued, { jobs: {} }, { jobs: {} })).toEqual([]);
  });

  it('claims what the engine took for the session, and nothing when it took none', async () => {
    const s = store();
    const a = await s.addJob('d', GET('./A'), T);
    const b = await s.addJob('d', GET('./B'), T);
    const c = await s.addJob('d', GET('./C'), T);
    await s.tx(async (t) => {
      const spy = vi.spyOn(t, 'claimJobs');
      const queued = await t.queuedJobSpecs('d');
      await claimTakenJobs(t, 'd', 9, T, queued, { jobs: {} }, { jobs: {} });
      expect(spy).not.toHaveBeenCalled();
      await claimTakenJobs(t, 'd', 9, T, queued, { jobs: {} }, { jobs: { [a.id]: {}, [b.id]: {} } });
      expect(spy).toHaveBeenCalledTimes(1);
    });
    expect((await s.jobs({ device: 'd' })).map((j) => [j.id, j.status, j.sessionId, j.attempts])).toEqual([
      [a.id, 'sent', 9, 1], [b.id, 'sent', 9, 1], [c.id, 'queued', null, 0],
    ]);
  });

  it('a job claimed by another session meanwhile refuses the turn: JobsTakenError, and nothing of the turn is written', async () => {
    const s = store();
    const a = await s.addJob('d', GET('./A'), T);
    const b = await s.addJob('d', GET('./B'), T);
    // Read by this turn while the job was still queued, then taken by another session.
    const queued = await s.queuedJobSpecs('d');
    await s.claimJobs('d', 5, T, { limit: 1 });
    const sid = await s.createSession({ device: 'd', dmSessionId: '1', encoding: 'xml' }, T);
    const turn = s.tx(async (t) => {
      await t.addMessage({ sessionId: sid, seq: 1, direction: 'in', at: T, bytes: new Uint8Array([60]) });
      await claimTakenJobs(t, 'd', sid, T, queued, { jobs: {} }, { jobs: { [a.id]: {}, [b.id]: {} } });
    });
    await expect(turn).rejects.toThrow(JobsTakenError);
    await expect(turn).rejects.toThrow(`jobs ${a.id}, ${b.id} of d were claimed by another session meanwhile (got ${b.id})`);
    expect((await s.jobs({ device: 'd' })).map((j) => [j.status, j.sessionId])).toEqual([['sent', 5], ['queued', null]]);
    expect(await s.messages(sid)).toEqual([]);
  });
});
