/**
 * On a store shared by several instances (PostgreSQL), which queued jobs a turn takes, claimed in
 * the turn's transaction. (On SQLite one process serves every device: a job is marked sent when its
 * command goes out, as always, and its status says exactly whether it is on the wire.) The engine reads the device's
 * queue at every message but takes jobs into the session only on some turns (once the device's
 * package is complete, not while a server package is still going out; the DM 2.0 step up to its
 * command limit). Claiming the whole queue up front would mark jobs sent that no session holds, so
 * the turn reads the queue (queuedJobSpecs), runs the engine, and claims what the engine took: a
 * prefix of the queue, oldest first, which claimJobs takes whole. Another instance that claimed
 * one of them first makes the claim come back short: the turn is refused (JobsTakenError, its
 * transaction rolled back) and the device sends the message again.
 */
import type { DmStoreOps } from '../store/store.js';
import type { QueuedJobSpec } from '../store/types.js';

/** Another session took a job this turn meant to send; nothing of the turn was written. */
export class JobsTakenError extends Error {
  constructor(readonly device: string, readonly wanted: number[], readonly got: number[]) {
    super(`jobs ${wanted.join(', ')} of ${device} were claimed by another session meanwhile (got ${got.join(', ') || 'none'})`);
    this.name = 'JobsTakenError';
  }
}

/** The ids of the queue the turn took: in the session's jobs after it, not before. */
export function takenJobs(queued: readonly QueuedJobSpec[], before: { jobs: Record<number, unknown> }, after: { jobs: Record<number, unknown> }): number[] {
  const ids: number[] = [];
  for (const j of queued) if (after.jobs[j.id] !== undefined && before.jobs[j.id] === undefined) ids.push(j.id);
  return ids;
}

/**
 * Claims the jobs the turn took for `sessionId` (no statement when it took none); throws
 * JobsTakenError when it could not have them all. A claimed job is 'sent' from then on (taken by
 * this session, its attempt counted), even while its command waits in the session's outbox.
 */
export async function claimTakenJobs(
  s: DmStoreOps, device: string, sessionId: number, now: number, queued: readonly QueuedJobSpec[],
  before: { jobs: Record<number, unknown> }, after: { jobs: Record<number, unknown> },
): Promise<void> {
  const wanted = takenJobs(queued, before, after);
  if (wanted.length === 0) return;
  const got = (await s.claimJobs(device, sessionId, now, { limit: wanted.length })).map((j) => j.id);
  if (got.length !== wanted.length || got.some((id, i) => id !== wanted[i])) throw new JobsTakenError(device, wanted, got);
}
