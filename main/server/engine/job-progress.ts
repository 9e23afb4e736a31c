/**
 * Jobs through a session: queued jobs become commands in the outbox, the device's statuses and
 * results settle them (done / failed), and a session that ends lets go of the unfinished ones.
 */
import type { Command } from '../../protocol/model.js';
import { specCommand } from '../jobs.js';
import type { SessionState } from '../types.js';
import { decideAfterReadBack, readBackCommand } from './read-back.js';
import type { Turn } from './turn.js';
import type { EngineEffects, EngineSession, JobProgress, OutItem } from './types.js';

/** Ends a session: its unfinished jobs are released (the caller decides what becomes of them). */
export function closeSession(s: EngineSession, fx: EngineEffects, state: SessionState, reason: string): void {
  if (s.phase === 'closed') return;
  s.phase = 'closed';
  s.closedState = state;
  for (const j of Object.values(s.jobs)) {
    if (!j.finished) {
      // A read-back Get changes nothing on the device: a job that sent only that was not sent.
      const wasSent = j.keys.some((k) => !s.sent[k]?.readBack);
      fx.jobsReleased.push({ id: j.id, wasSent, onWire: j.keys.length > 0 });
      j.finished = true;
    }
  }
  s.outbox = [];
  delete s.incomingLo;
  fx.closed = { state, reason };
}

export function failJobOfKey(t: Turn, key: string, code: number | null, error: string): void {
  const rec = t.s.sent[key];
  if (rec && rec.jobId >= 0) failJob(t, rec.jobId, code, error);
}

export function failJob(t: Turn, id: number, code: number | null, error: string): void {
  const job = t.s.jobs[id];
  if (job && !job.failure) job.failure = { code, error };
}

export function ingestJobs(t: Turn): void {
  for (const j of t.input.queuedJobs) {
    if (t.s.jobs[j.id]) continue;
    const job: JobProgress = { id: j.id, spec: j.spec, keys: [], results: [], members: [], sent: false, finished: false };
    t.s.jobs[j.id] = job;
    let command: Command;
    try {
      command = specCommand(j.spec);
    } catch (e) {
      finish(t, job, 'failed', null, `bad job: ${(e as Error).message}`);
      continue;
    }
    if (j.verify) {
      const readBack = readBackCommand(t, job);
      if (readBack) {
        t.s.outbox.push(readBack);
        continue;
      }
    }
    t.s.outbox.push({ jobId: j.id, command, ...(j.spec.kind === 'discover' ? { structGet: true } : {}) });
  }
}

export function evaluateJobs(t: Turn, clientFinal: boolean): void {
  for (const job of Object.values(t.s.jobs)) {
    if (job.finished || !job.sent) continue;
    const queued = holds(t.s.outbox, job.id) || holds(t.resend, job.id);
    if (job.failure && !queued) {
      finish(t, job, 'failed', job.failure.code, job.failure.error);
      continue;
    }
    if (queued) continue;
    let pending = false;
    for (const key of job.keys) {
      const rec = t.s.sent[key]!;
      if (rec.superseded) continue;
      if (rec.status === undefined || (rec.expectResults && rec.status === 200 && !rec.resultsDone)) pending = true;
    }
    if (pending) {
      if (clientFinal && !t.s.incomingLo) finish(t, job, 'failed', primaryCode(t, job), 'the device closed its package without answering');
      continue;
    }
    // The read-back is answered: the job is settled by it, or its command goes out now.
    if (job.readBack?.pending) {
      decideAfterReadBack(t, job);
      continue;
    }
    const code = primaryCode(t, job);
    const ok = code !== null && ((code >= 200 && code < 300) || (job.spec.kind === 'alert' && code === 304));
    finish(t, job, ok ? 'done' : 'failed', code, ok ? null : `device answered ${code}`);
  }
}

/** Whether a command of the job waits in `items` (the outbox, or the commands to send again). */
export function holds(items: readonly OutItem[], jobId: number): boolean {
  for (const o of items) if (o.jobId === jobId) return true;
  return false;
}

/** The status that stands for the job: the container's, the last chunk's, the walk's, or the only one. */
export function primaryCode(t: Turn, job: JobProgress): number | null {
  if (job.failure) return job.failure.code;
  const recs = job.keys.map((k) => t.s.sent[k]!).filter((r) => !r.superseded);
  if (job.spec.kind === 'discover') {
    const struct = recs.find((r) => r.structGet);
    if (struct) return struct.status ?? null;
    const root = recs.find((r) => r.walk);
    return root?.status ?? null;
  }
  const top = recs.filter((r) => r.member === undefined);
  return top[top.length - 1]?.status ?? null;
}

export function finish(t: Turn, job: JobProgress, status: 'done' | 'failed', statusCode: number | null, error: string | null): void {
  job.finished = true;
  t.fx.jobsFinished.push({ id: job.id, status, statusCode, results: job.results, members: job.members, error });
}

