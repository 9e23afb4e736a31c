/**
 * Writes what a session step decided (EngineEffects) into the store and lists the events it makes.
 * One writer for both protocols: the DM 1.2 engine (server.ts) and the DM 2.0 step (dm20/handler.ts)
 * report in the same shape, so a job, an alert or a session ends the same way whichever spoke.
 * Runs inside the caller's transaction (awaiting only the store).
 *
 * Jobs sent are marked here (SQLite: one process serves the devices), unless the turn claimed them
 * already when the engine took them (a shared store: job-claims.ts).
 */
import type { DmStoreOps } from '../store/store.js';
import type { EngineEffects } from './engine.js';
import type { ServerEvent } from './events.js';
import { iso } from '../util/iso-time.js';

export interface EffectsTarget {
  sessionId: number;
  devId: string;
  now: number;
  /** Automatic re-sends (onUnconfirmed resend or verify) of a released job stop after this many attempts. */
  maxJobAttempts: number;
  /** Also record that the device was seen at this time (folded into the device row's write). */
  seenAt?: number;
  /** The turn claimed its jobs when the engine took them (a shared store): they are marked sent already. */
  jobsClaimed?: boolean;
}

export async function applyEffects(s: DmStoreOps, fx: EngineEffects, t: EffectsTarget, events: ServerEvent[]): Promise<void> {
  const { sessionId, devId, now } = t;
  const at = iso(now);
  // The device row's changes (SQLite gathers them into one write per message: sqlite-store.ts).
  if (fx.deviceAuth) await s.setDeviceAuth(devId, fx.deviceAuth, t.seenAt);
  else if (t.seenAt !== undefined) await s.markSeen(devId, t.seenAt);
  if (fx.devInfo) await s.setDevInfo(devId, fx.devInfo);
  if (fx.tree.length > 0) await s.upsertTree(devId, fx.tree, now);
  // Jobs sent and jobs finished by this turn: one call (SQLite: one statement).
  const sent = fx.jobsSent.length > 0 && !t.jobsClaimed ? { ids: fx.jobsSent, sessionId } : undefined;
  const finished = sent || fx.jobsFinished.length > 0 ? await s.updateTurnJobs(sent, fx.jobsFinished, now) : [];
  for (const id of fx.jobsSent) events.push({ type: 'job-sent', at, jobId: id, device: devId, sessionId });
  for (const job of finished) {
    if (job) events.push({ type: 'job-done', at, job });
  }
  for (const a of fx.alerts) {
    await s.addAlert(devId, sessionId, a, now);
    const reported = await s.attachAlertToJobs(devId, a, now);
    events.push({ type: 'alert', at, device: devId, sessionId, alert: a });
    // An Exec's asynchronous report (1226 with its Correlator) completes what the job says: subscribers get the job again.
    for (const id of reported) {
      const job = await s.job(id);
      if (job) events.push({ type: 'job-done', at, job });
    }
  }
  // A released job that went out is unconfirmed (nobody knows whether the device executed it): its
  // policy decides, and subscribers hear when it waits for the engineer or has failed.
  const why = fx.closed ? `session ${fx.closed.state} (${fx.closed.reason})` : 'the session let go of it';
  for (const r of fx.jobsReleased) {
    // Claimed at ingest (a shared store) but nothing of it went out: back to the queue with its attempt given back.
    const unclaim = t.jobsClaimed === true && r.onWire === false;
    const job = await s.releaseJob(r.id, r.wasSent, t.maxJobAttempts, why, now, unclaim ? { unclaim: true } : undefined);
    if (job?.status === 'unconfirmed') events.push({ type: 'job-unconfirmed', at, job });
    else if (job?.status === 'failed') events.push({ type: 'job-done', at, job });
  }
  if (fx.closed) {
    await s.endSession(sessionId, fx.closed.state, fx.closed.reason, now);
    events.push({ type: 'session-ended', at, sessionId, device: devId, state: fx.closed.state, reason: fx.closed.reason });
  }
}
