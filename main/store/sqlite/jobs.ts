/**
 * The jobs table of the SQLite store: the queue of commands for each device, what went out in which
 * session, and how each was settled (../job-settlement.ts decides; this stores).
 */
import {
  jobTarget, JobDecisionError, type AlertRecord, type JobMemberStatus, type JobRecord, type JobResult, type JobSpec, type JobStatus, type UnconfirmedDecision,
  type UnconfirmedPolicy,
} from '../types.js';
import {
  decisionRefusal, DEFAULT_MAX_JOB_ATTEMPTS, resolveUnconfirmedPolicy, settleDecision, settleUnanswered, type JobSettlement,
} from '../job-settlement.js';
import type { JobOutcome } from '../store.js';
import { parseJobSpec } from '../job-spec.js';
import { iso } from '../../util/iso-time.js';
import type { GroupCommit } from './group-commit.js';
import { jobFromRow, type JobRow } from './rows.js';
import type { Statements } from './statements.js';

export class JobTable {
  constructor(
    private readonly st: Statements,
    private readonly commits: GroupCommit,
  ) {}

  /**
   * Queues a job. `onUnconfirmed` (checked against its kind; throws with the reason) says what
   * happens when its command goes out and no Status comes back; default unconfirmed.ts's.
   */
  addJob(device: string, spec: JobSpec, now: number, opts: { onUnconfirmed?: UnconfirmedPolicy } = {}): JobRecord {
    // Checked at the boundary too; here again, so nothing that skipped one is ever queued.
    const clean = parseJobSpec(spec);
    const policy = resolveUnconfirmedPolicy(clean, opts.onUnconfirmed);
    const info = this.st.sql(`INSERT INTO jobs (device, command, target, spec, status, on_unconfirmed, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`)
      .run(device, clean.kind, jobTarget(clean), JSON.stringify(clean), policy, iso(now), iso(now));
    return this.job(Number(info.lastInsertRowid))!;
  }

  /** A queued job's policy, changed (e.g. right after queueing, in the same transaction); throws as addJob does. */
  setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): JobRecord {
    const job = this.job(id);
    if (!job) throw new JobDecisionError(404, `no job ${id}`);
    const checked = resolveUnconfirmedPolicy(job.spec, policy);
    return jobFromRow(this.st.sql('UPDATE jobs SET on_unconfirmed = ?, updated_at = ? WHERE id = ? RETURNING *').get(checked, iso(now), id) as JobRow);
  }

  job(id: number): JobRecord | undefined {
    const row = this.st.sql('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && jobFromRow(row);
  }

  jobs(filter: { device?: string; status?: JobStatus } = {}): JobRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.device !== undefined) {
      where.push('device = ?');
      args.push(filter.device);
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      args.push(filter.status);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.st.sql(sql).all(...args) as JobRow[]).map(jobFromRow);
  }

  queuedJobs(device: string): JobRecord[] {
    return this.jobs({ device, status: 'queued' });
  }

  /**
   * What a session needs of the queue, oldest first: ids and specs only (read at every message);
   * `verify: true` when the engine must read the node back before sending the command.
   */
  queuedJobSpecs(device: string): { id: number; spec: JobSpec; verify?: boolean }[] {
    const rows = this.st.sql(`SELECT id, spec, verify FROM jobs WHERE device = ? AND status = 'queued' ORDER BY id`).all(device) as { id: number; spec: string; verify: number }[];
    return rows.map((r) => (r.verify ? { id: r.id, spec: JSON.parse(r.spec) as JobSpec, verify: true } : { id: r.id, spec: JSON.parse(r.spec) as JobSpec }));
  }

  /**
   * Queued jobs of `device`, oldest first (at most `limit`), marked sent in `sessionId`: one
   * statement, so no other writer can take the same jobs (DmStore.claimJobs).
   */
  claimJobs(device: string, sessionId: number, now: number, opts: { limit?: number } = {}): { id: number; spec: JobSpec; verify?: boolean }[] {
    const rows = this.st.sql(`UPDATE jobs SET status = 'sent', session_id = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (SELECT id FROM jobs WHERE device = ? AND status = 'queued' ORDER BY id LIMIT ?) RETURNING id, spec, verify`)
      .all(sessionId, iso(now), device, opts.limit ?? -1) as { id: number; spec: string; verify: number }[];
    rows.sort((a, b) => a.id - b.id);
    return rows.map((r) => (r.verify ? { id: r.id, spec: JSON.parse(r.spec) as JobSpec, verify: true } : { id: r.id, spec: JSON.parse(r.spec) as JobSpec }));
  }

  markSent(ids: number[], sessionId: number, now: number): void {
    if (ids.length === 0) return;
    // One statement for the whole message's jobs (prepared once per count, like the other texts).
    this.st.shaped(`sent/${ids.length}`, () => `UPDATE jobs SET status = 'sent', session_id = ?, attempts = attempts + 1, updated_at = ? WHERE status = 'queued' AND id IN (${ids.map(() => '?').join(', ')})`)
      .run(sessionId, iso(now), ...ids);
  }

  /** Settles a job; returns it as stored now (undefined when it is gone, e.g. cleared meanwhile). */
  finishJob(o: { id: number; status: 'done' | 'failed'; statusCode: number | null; results: JobResult[]; members: JobMemberStatus[]; error: string | null }, now: number): JobRecord | undefined {
    return this.updateTurnJobs(undefined, [o], now)[0];
  }

  /**
   * A turn's job changes in one statement: `sent` marked sent in their session (as markSent: only
   * those still queued), `finished` settled (as finishJob). Returns the finished jobs as stored now,
   * in the order given (undefined for one that is gone).
   */
  updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): (JobRecord | undefined)[] {
    const sentIds = sent?.ids ?? [];
    if (finished.length === 0) {
      if (sent) this.markSent([...sentIds], sent.sessionId, now);
      return [];
    }
    const finishedIds = finished.map((o) => o.id);
    if (new Set([...finishedIds, ...sentIds]).size !== finishedIds.length + sentIds.length) {
      // A job named twice: one statement would apply only one of its changes; in order, as separate calls do.
      if (sent) this.markSent([...sentIds], sent.sessionId, now);
      return finished.map((o) => this.updateTurnJobs(undefined, [o], now)[0]);
    }
    const at = iso(now);
    const results = finished.map((o) => JSON.stringify(o.results));
    const members = finished.map((o) => JSON.stringify(o.members));
    // The CASE columns' (id, value) pairs, column by column, as the text lists them.
    const args: unknown[] = [];
    for (const o of finished) args.push(o.id, o.status);
    for (const o of finished) args.push(o.id, o.statusCode);
    for (let i = 0; i < finished.length; i++) args.push(finished[i]!.id, results[i]);
    for (let i = 0; i < finished.length; i++) args.push(finished[i]!.id, members[i]);
    for (const o of finished) args.push(o.id, o.error);
    if (sentIds.length === 0) args.push(at, ...finishedIds);
    else args.push(...finishedIds, ...finishedIds, sent!.sessionId, ...finishedIds, at, ...finishedIds, ...sentIds);
    const rows = this.st.shaped(`turn/${sentIds.length}/${finished.length}`, () => turnJobsUpdate(sentIds.length, finished.length)).all(...args) as Pick<JobRow, typeof JOB_KEPT[number]>[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return finished.map((o, i) => {
      const r = byId.get(o.id);
      // The columns the UPDATE set are the ones given; the rest come back (RETURNING costs per column).
      return r && jobFromRow({
        id: r.id, device: r.device, command: r.command, target: r.target, spec: r.spec, status: o.status, status_code: o.statusCode, results: results[i]!,
        members: members[i]!, session_id: r.session_id, attempts: r.attempts, error: o.error, created_at: r.created_at, updated_at: at,
        on_unconfirmed: r.on_unconfirmed, verify: 0,
      });
    });
  }

  /**
   * A session let go of a job without its answer. Not sent: back to the queue. Sent (nobody knows
   * whether the device executed it): what its onUnconfirmed policy says (unconfirmed.ts), never a
   * silent re-send of a command that changes the device. `reason` says how the session ended.
   * Returns the job as it is now when this changed it.
   */
  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts: { unclaim?: boolean } = {}): JobRecord | undefined {
    const job = this.job(id);
    if (!job || (job.status !== 'sent' && job.status !== 'queued')) return undefined;
    if (!wasSent) {
      if (job.status === 'queued') return undefined;
      if (opts.unclaim) {
        // Claimed (claimJobs) but nothing of it went out: as if never claimed (the server here
        // marks jobs sent when they go out, so only a caller of claimJobs gets here).
        const row = this.st.sql(`UPDATE jobs SET status = 'queued', attempts = MAX(attempts - 1, 0), updated_at = ? WHERE id = ? RETURNING *`).get(iso(now), id) as JobRow | undefined;
        return row && jobFromRow(row);
      }
      return this.settle(id, { status: 'queued', verify: job.verify, error: job.error }, now);
    }
    return this.settle(id, settleUnanswered(job, reason, maxAttempts), now);
  }

  /**
   * Every job still out on the wire in a session that ended without their answers (the server
   * failed inside it): each by its onUnconfirmed policy, as releaseJob. Returns the jobs changed.
   */
  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): JobRecord[] {
    const rows = this.st.sql(`SELECT * FROM jobs WHERE session_id = ? AND status = 'sent' ORDER BY id`).all(sessionId) as JobRow[];
    return rows.map((r) => this.settle(r.id, settleUnanswered(jobFromRow(r), reason, maxAttempts), now));
  }

  /**
   * The engineer's decision on an unconfirmed job: verify (queued, the node is read back before
   * anything is sent), resend (queued as it is), drop (failed). Throws JobDecisionError: 404 no such
   * job, 409 not unconfirmed (decided already, or never unconfirmed), 400 verify on a kind that
   * cannot be read back. One statement decides, so two deciders cannot both win.
   */
  decideJob(id: number, action: UnconfirmedDecision, now: number): JobRecord {
    return this.commits.tx(() => {
      const job = this.job(id);
      if (!job) throw new JobDecisionError(404, `no job ${id}`);
      const refusal = decisionRefusal(job, action);
      if (refusal) throw new JobDecisionError(refusal.status, refusal.message);
      const s = settleDecision(job, action);
      const row = this.st.sql(`UPDATE jobs SET status = ?, verify = ?, error = ?, updated_at = ? WHERE id = ? AND status = 'unconfirmed' RETURNING *`)
        .get(s.status, s.verify ? 1 : 0, s.error, iso(now), id) as JobRow | undefined;
      if (!row) throw new JobDecisionError(409, `job ${id} was decided meanwhile`);
      return jobFromRow(row);
    });
  }

  private settle(id: number, s: JobSettlement, now: number): JobRecord {
    return jobFromRow(this.st.sql(`UPDATE jobs SET status = ?, verify = ?, error = ?, updated_at = ? WHERE id = ? RETURNING *`).get(s.status, s.verify ? 1 : 0, s.error, iso(now), id) as JobRow);
  }

  /**
   * A generic alert (1226) whose Correlator matches an Exec job: its items join the job's results.
   * Only the device's latest Exec with that Correlator gets them: a lab reuses correlators from run
   * to run, and a report answers the last command that asked for one, not every earlier one.
   */
  attachAlertToJobs(device: string, alert: AlertRecord, now: number): number[] {
    if (!alert.correlator) return [];
    const rows = (this.st.sql(`SELECT * FROM jobs WHERE device = ? AND command = 'exec' ORDER BY id DESC`).all(device) as JobRow[]).map(jobFromRow)
      .filter((j) => j.spec.kind === 'exec' && j.spec.correlator === alert.correlator)
      .slice(0, 1);
    for (const j of rows) {
      const extra: JobResult[] = alert.items.map((i) => ({ uri: i.source ?? i.target ?? '', format: i.format ?? null, data: i.data ?? null, type: i.type ?? `alert:${alert.code}` }));
      this.st.sql('UPDATE jobs SET results = ?, updated_at = ? WHERE id = ?').run(JSON.stringify([...j.results, ...extra]), iso(now), j.id);
    }
    return rows.map((j) => j.id);
  }

  /** Removes a device's jobs, except those out on the wire right now. */
  clearJobs(device: string): { deleted: number; kept: number } {
    return this.commits.tx(() => {
      const deleted = this.st.sql(`DELETE FROM jobs WHERE device = ? AND status != 'sent'`).run(device).changes;
      const kept = (this.st.sql(`SELECT COUNT(*) AS n FROM jobs WHERE device = ? AND status = 'sent'`).get(device) as { n: number }).n;
      return { deleted, kept };
    });
  }

  /**
   * Every job out on the wire when the server stopped, settled by its onUnconfirmed policy (as
   * releaseJob): how many were queued again, left unconfirmed, failed (ServerStore.recoverInterrupted).
   */
  releaseAllSent(now: number, maxAttempts: number): { jobs: number; unconfirmed: number; failed: number } {
    const out = { jobs: 0, unconfirmed: 0, failed: 0 };
    const rows = this.st.sql(`SELECT * FROM jobs WHERE status = 'sent' ORDER BY id`).all() as JobRow[];
    for (const r of rows) {
      const j = this.settle(r.id, settleUnanswered(jobFromRow(r), 'the server stopped during the session (crash, kill or power loss)', maxAttempts), now);
      if (j.status === 'queued') out.jobs++;
      else if (j.status === 'unconfirmed') out.unconfirmed++;
      else out.failed++;
    }
    return out;
  }
}

/** The columns of a job that settling it leaves as they are: all updateTurnJobs reads back. */
const JOB_KEPT = ['id', 'device', 'command', 'target', 'spec', 'session_id', 'attempts', 'created_at', 'on_unconfirmed'] as const;

/**
 * updateTurnJobs' statement for `nSent` jobs sent and `nFinished` settled (prepared once per shape:
 * Statements.shaped). Each settled column is a CASE over the finished ids; sent rows keep it (ELSE),
 * and take what markSent sets. A CASE on constants, not a join with a VALUES table: that one cost
 * more than the statements it replaced.
 */
function turnJobsUpdate(nSent: number, nFinished: number): string {
  const when = Array.from({ length: nFinished }, () => 'WHEN ? THEN ?').join(' ');
  const finishedIn = `(${Array.from({ length: nFinished }, () => '?').join(', ')})`;
  const sentIn = `(${Array.from({ length: nSent }, () => '?').join(', ')})`;
  const returning = `RETURNING ${JOB_KEPT.join(', ')}`;
  return nSent === 0
    ? `UPDATE jobs SET status = CASE id ${when} END, status_code = CASE id ${when} END, results = CASE id ${when} END,
      members = CASE id ${when} END, error = CASE id ${when} END, verify = 0, updated_at = ? WHERE id IN ${finishedIn} ${returning}`
    : `UPDATE jobs SET status = CASE id ${when} ELSE 'sent' END, status_code = CASE id ${when} ELSE status_code END,
      results = CASE id ${when} ELSE results END, members = CASE id ${when} ELSE members END, error = CASE id ${when} ELSE error END,
      verify = CASE WHEN id IN ${finishedIn} THEN 0 ELSE verify END, session_id = CASE WHEN id IN ${finishedIn} THEN session_id ELSE ? END,
      attempts = CASE WHEN id IN ${finishedIn} THEN attempts ELSE attempts + 1 END, updated_at = ?
      WHERE id IN ${finishedIn} OR (id IN ${sentIn} AND status = 'queued') ${returning}`;
}
