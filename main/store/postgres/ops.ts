/**
 * The store's operations in PostgreSQL (DmStoreOps), over one "runner": the pool (each statement
 * its own transaction) or one client inside a transaction (PostgresStore.tx). An operation that
 * needs several statements to be atomic runs through `atomic`, which opens a transaction on the
 * pool, or simply continues the caller's.
 *
 * Same behaviour as the SQLite store (main/store/server-store.ts) operation by operation; where
 * several instances could race, one statement decides (claimJobs, decideJob, the session-state
 * claims) and row locks do the rest.
 */
import type pg from 'pg';
import {
  decisionRefusal, DEFAULT_MAX_JOB_ATTEMPTS, resolveUnconfirmedPolicy, settleDecision, settleUnanswered, type JobSettlement,
} from '../job-settlement.js';
import type { DmStoreOps, JobOutcome, NewSession, RecoveryCount, SessionClaim, SessionStateRecord, StoreEvent } from '../store.js';
import {
  jobTarget, JobDecisionError,
  type AlertRecord, type Credential, type DeviceAuthState, type ImportedSession, type JobRecord, type JobSpec, type JobStatus, type MessageRecord,
  type NewMessage, type QueuedJobSpec, type SessionRecord, type SessionState, type StoredAlert, type StoredDevice, type TreeEntry,
  type UnconfirmedDecision, type UnconfirmedPolicy,
} from '../types.js';
import {
  alertFromRow, deviceFromRow, jobFromRow, messageFromRow, sessionFromRow, sessionStateFromRow, treeFromRow,
  type AlertRow, type DeviceRow, type JobRow, type MessageRow, type SessionRow, type SessionStateRow, type TreeRow,
} from './rows.js';
import { indexLoggedMessages, loggedMessage } from './message-index.js';
import { parseJobSpec } from '../job-spec.js';
import { publishEvents } from './events.js';
import { iso, isoOfDate } from '../../util/iso-time.js';

export type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

const json = (x: unknown) => JSON.stringify(x);
/** Rows per tree upsert statement (as the SQLite store). */
const TREE_ROWS_PER_STATEMENT = 64;
const MESSAGE_COLUMNS = 'session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note';
/**
 * finishJob, for one job or several at once (updateTurnJobs): one text whatever the count. Unnamed, so it
 * is planned for the jobs it names (a named statement's generic plan, made while the jobs table was
 * small, would go on hash-joining over a scan of the whole table; message-index.ts).
 */
const FINISH_JOBS = `UPDATE jobs j SET status = v.status, status_code = v.status_code, results = v.results::json, members = v.members::json, error = v.error, verify = false, updated_at = $7
    FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[]) AS v (id, status, status_code, results, members, error)
    WHERE j.id = v.id RETURNING j.*`;
const SESSION_WITH_COUNT = `SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count FROM sessions s`;

export class PgOps implements DmStoreOps {
  constructor(
    protected readonly q: Query,
    /** Runs fn atomically: in a new transaction, or in the one this runner already is. */
    protected readonly atomic: <T>(fn: (ops: PgOps) => Promise<T>) => Promise<T>,
  ) {}

  private async one<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.q<R>(text, values)).rows[0];
  }

  private async all<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.q<R>(text, values)).rows;
  }

  /** One statement on this runner (the pool, or the open transaction), for tables beside the store's (federation). */
  sql<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.q<R>(text, values);
  }

  // --- devices -------------------------------------------------------------------------------

  async device(devId: string): Promise<StoredDevice | undefined> {
    const r = await this.one<DeviceRow>('SELECT * FROM devices WHERE dev_id = $1', [devId]);
    return r && deviceFromRow(r);
  }

  async devices(): Promise<StoredDevice[]> {
    return (await this.all<DeviceRow>('SELECT * FROM devices ORDER BY last_seen DESC')).map(deviceFromRow);
  }

  async touchDevice(devId: string, now: number): Promise<{ device: StoredDevice; created: boolean }> {
    // One statement, race-free between instances: xmax = 0 only on the row this INSERT created.
    const r = await this.one<DeviceRow & { created: boolean }>(`INSERT INTO devices (dev_id, first_seen, last_seen) VALUES ($1, $2, $2)
      ON CONFLICT (dev_id) DO UPDATE SET last_seen = excluded.last_seen RETURNING *, (xmax = 0) AS created`, [devId, iso(now)]);
    return { device: deviceFromRow(r!), created: r!.created };
  }

  async setDevInfo(devId: string, info: Record<string, string>): Promise<void> {
    // No write when the device reports what it did last time (the usual case).
    await this.q('UPDATE devices SET dev_info = dev_info || $2::jsonb WHERE dev_id = $1 AND dev_info || $2::jsonb IS DISTINCT FROM dev_info', [devId, json(info)]);
  }

  async setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): Promise<void> {
    if (seenAt === undefined) await this.q('UPDATE devices SET auth = $2 WHERE dev_id = $1', [devId, json(auth)]);
    else await this.q('UPDATE devices SET auth = $2, last_seen = $3 WHERE dev_id = $1', [devId, json(auth), iso(seenAt)]);
  }

  async markSeen(devId: string, now: number): Promise<void> {
    await this.q('UPDATE devices SET last_seen = $2 WHERE dev_id = $1', [devId, iso(now)]);
  }

  async setDeviceCredential(devId: string, cred: Credential | undefined, now: number): Promise<void> {
    await this.q(`INSERT INTO devices (dev_id, first_seen, last_seen, client_cred_name, client_cred_secret) VALUES ($1, $2, $2, $3, $4)
      ON CONFLICT (dev_id) DO UPDATE SET client_cred_name = excluded.client_cred_name, client_cred_secret = excluded.client_cred_secret`,
    [devId, iso(now), cred?.name ?? null, cred?.secret ?? null]);
  }

  async setNotifyUrl(devId: string, url: string | undefined, now: number): Promise<void> {
    await this.q(`INSERT INTO devices (dev_id, first_seen, last_seen, notify_url) VALUES ($1, $2, $2, $3)
      ON CONFLICT (dev_id) DO UPDATE SET notify_url = excluded.notify_url`, [devId, iso(now), url ?? null]);
  }

  // --- jobs ----------------------------------------------------------------------------------

  async addJob(device: string, spec: JobSpec, now: number, opts: { onUnconfirmed?: UnconfirmedPolicy } = {}): Promise<JobRecord> {
    // Checked at the boundary too; here again, so nothing that skipped one is ever queued.
    const clean = parseJobSpec(spec);
    const policy = resolveUnconfirmedPolicy(clean, opts.onUnconfirmed);
    const r = await this.one<JobRow>(`INSERT INTO jobs (device, command, target, spec, status, on_unconfirmed, created_at, updated_at)
      VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) RETURNING *`, [device, clean.kind, jobTarget(clean), json(clean), policy, iso(now)]);
    return jobFromRow(r!);
  }

  async setUnconfirmedPolicy(id: number, policy: UnconfirmedPolicy, now: number): Promise<JobRecord> {
    const job = await this.job(id);
    if (!job) throw new JobDecisionError(404, `no job ${id}`);
    const checked = resolveUnconfirmedPolicy(job.spec, policy);
    return jobFromRow((await this.one<JobRow>('UPDATE jobs SET on_unconfirmed = $2, updated_at = $3 WHERE id = $1 RETURNING *', [id, checked, iso(now)]))!);
  }

  async job(id: number): Promise<JobRecord | undefined> {
    const r = await this.one<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]);
    return r && jobFromRow(r);
  }

  async jobs(filter: { device?: string; status?: JobStatus } = {}): Promise<JobRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.device !== undefined) where.push(`device = $${args.push(filter.device)}`);
    if (filter.status !== undefined) where.push(`status = $${args.push(filter.status)}`);
    return (await this.all<JobRow>(`SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`, args)).map(jobFromRow);
  }

  queuedJobs(device: string): Promise<JobRecord[]> {
    return this.jobs({ device, status: 'queued' });
  }

  async queuedJobSpecs(device: string): Promise<QueuedJobSpec[]> {
    const rows = await this.all<{ id: number; spec: JobSpec; verify: boolean }>(`SELECT id, spec, verify FROM jobs WHERE device = $1 AND status = 'queued' ORDER BY id`, [device]);
    return rows.map(queuedSpec);
  }

  async markSent(ids: number[], sessionId: number, now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.q(`UPDATE jobs SET status = 'sent', session_id = $1, attempts = attempts + 1, updated_at = $2 WHERE status = 'queued' AND id = ANY($3::bigint[])`, [sessionId, iso(now), ids]);
  }

  async claimJobs(device: string, sessionId: number, now: number, opts: { limit?: number } = {}): Promise<QueuedJobSpec[]> {
    // Rows another instance is claiming right now are skipped, not waited for; a row it claimed and
    // committed is no longer 'queued' when FOR UPDATE re-reads it. Each job goes out exactly once.
    const rows = await this.all<{ id: number; spec: JobSpec; verify: boolean }>(`WITH picked AS (
        SELECT id FROM jobs WHERE device = $1 AND status = 'queued' ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED
      )
      UPDATE jobs j SET status = 'sent', session_id = $2, attempts = j.attempts + 1, updated_at = $3
      FROM picked WHERE j.id = picked.id RETURNING j.id, j.spec, j.verify`, [device, sessionId, iso(now), opts.limit ?? null]);
    return rows.sort((a, b) => a.id - b.id).map(queuedSpec);
  }

  async finishJob(o: JobOutcome, now: number): Promise<JobRecord | undefined> {
    return (await this.finishJobs([o], now))[0];
  }

  /** Each job's outcome, in one statement; the ids must be distinct (a repeated one would be set once, by either). */
  private async finishJobs(finished: readonly JobOutcome[], now: number): Promise<(JobRecord | undefined)[]> {
    const rows = await this.all<JobRow>(FINISH_JOBS, [finished.map((o) => o.id), finished.map((o) => o.status),
      finished.map((o) => o.statusCode), finished.map((o) => json(o.results)), finished.map((o) => json(o.members)), finished.map((o) => o.error), iso(now)]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return finished.map((o) => {
      const r = byId.get(o.id);
      return r && jobFromRow(r);
    });
  }

  async updateTurnJobs(sent: { ids: readonly number[]; sessionId: number } | undefined, finished: readonly JobOutcome[], now: number): Promise<(JobRecord | undefined)[]> {
    if (sent) await this.markSent([...sent.ids], sent.sessionId, now);
    // The turn's finished jobs in one statement (a round trip each was most of the cost). A job
    // finished twice in one turn goes one by one, so the later outcome wins as it always did.
    if (finished.length === 0) return [];
    if (new Set(finished.map((o) => o.id)).size === finished.length) return this.finishJobs(finished, now);
    const out: (JobRecord | undefined)[] = [];
    for (const o of finished) out.push(await this.finishJob(o, now));
    return out;
  }

  private async settle(id: number, s: JobSettlement, now: number): Promise<JobRecord> {
    return jobFromRow((await this.one<JobRow>('UPDATE jobs SET status = $2, verify = $3, error = $4, updated_at = $5 WHERE id = $1 RETURNING *', [id, s.status, s.verify, s.error, iso(now)]))!);
  }

  releaseJob(id: number, wasSent: boolean, maxAttempts: number, reason: string, now: number, opts: { unclaim?: boolean } = {}): Promise<JobRecord | undefined> {
    return this.atomic(async (o) => {
      const r = await o.one<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [id]);
      const job = r && jobFromRow(r);
      if (!job || (job.status !== 'sent' && job.status !== 'queued')) return undefined;
      if (!wasSent) {
        if (job.status === 'queued') return undefined;
        if (opts.unclaim) {
          // Claimed (claimJobs counted an attempt) but never on the wire: as if never claimed, the
          // way SQLite leaves a job that was taken and not sent (queued, no attempt counted).
          const back = await o.one<JobRow>(`UPDATE jobs SET status = 'queued', attempts = GREATEST(attempts - 1, 0), updated_at = $2 WHERE id = $1 RETURNING *`, [id, iso(now)]);
          return back && jobFromRow(back);
        }
        return o.settle(id, { status: 'queued', verify: job.verify, error: job.error }, now);
      }
      return o.settle(id, settleUnanswered(job, reason, maxAttempts), now);
    });
  }

  releaseSessionJobs(sessionId: number, reason: string, now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): Promise<JobRecord[]> {
    return this.atomic(async (o) => {
      const rows = await o.all<JobRow>(`SELECT * FROM jobs WHERE session_id = $1 AND status = 'sent' ORDER BY id FOR UPDATE`, [sessionId]);
      const out: JobRecord[] = [];
      for (const r of rows) out.push(await o.settle(r.id, settleUnanswered(jobFromRow(r), reason, maxAttempts), now));
      return out;
    });
  }

  decideJob(id: number, action: UnconfirmedDecision, now: number): Promise<JobRecord> {
    return this.atomic(async (o) => {
      const job = await o.job(id);
      if (!job) throw new JobDecisionError(404, `no job ${id}`);
      const refusal = decisionRefusal(job, action);
      if (refusal) throw new JobDecisionError(refusal.status, refusal.message);
      const s = settleDecision(job, action);
      // One statement decides: of two deciders at once, the second finds it no longer unconfirmed.
      const r = await o.one<JobRow>(`UPDATE jobs SET status = $2, verify = $3, error = $4, updated_at = $5 WHERE id = $1 AND status = 'unconfirmed' RETURNING *`,
        [id, s.status, s.verify, s.error, iso(now)]);
      if (!r) throw new JobDecisionError(409, `job ${id} was decided meanwhile`);
      return jobFromRow(r);
    });
  }

  attachAlertToJobs(device: string, alert: AlertRecord, now: number): Promise<number[]> {
    const correlator = alert.correlator;
    if (!correlator) return Promise.resolve([]);
    return this.atomic(async (o) => {
      // The device's latest Exec with that Correlator only (as the SQLite store).
      const r = await o.one<JobRow>(`SELECT * FROM jobs WHERE device = $1 AND command = 'exec' AND spec->>'correlator' = $2 ORDER BY id DESC LIMIT 1 FOR UPDATE`, [device, correlator]);
      if (!r) return [];
      const extra = alert.items.map((i) => ({ uri: i.source ?? i.target ?? '', format: i.format ?? null, data: i.data ?? null, type: i.type ?? `alert:${alert.code}` }));
      await o.q('UPDATE jobs SET results = $2, updated_at = $3 WHERE id = $1', [r.id, json([...r.results, ...extra]), iso(now)]);
      return [r.id];
    });
  }

  clearJobs(device: string): Promise<{ deleted: number; kept: number }> {
    return this.atomic(async (o) => {
      const deleted = (await o.q(`DELETE FROM jobs WHERE device = $1 AND status != 'sent'`, [device])).rowCount ?? 0;
      const kept = (await o.one<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE device = $1 AND status = 'sent'`, [device]))!.n;
      return { deleted, kept };
    });
  }

  recoverInterrupted(now: number, maxAttempts: number = DEFAULT_MAX_JOB_ATTEMPTS): Promise<RecoveryCount> {
    return this.atomic(async (o) => {
      const sessions = (await o.q(`UPDATE sessions SET state = 'interrupted', reason = 'server stopped during the session', ended_at = $1 WHERE state = 'active'`, [iso(now)])).rowCount ?? 0;
      const out = { sessions, jobs: 0, unconfirmed: 0, failed: 0 };
      const rows = await o.all<JobRow>(`SELECT * FROM jobs WHERE status = 'sent' ORDER BY id FOR UPDATE`);
      for (const r of rows) {
        const j = await o.settle(r.id, settleUnanswered(jobFromRow(r), 'the server stopped during the session (crash, kill or power loss)', maxAttempts), now);
        if (j.status === 'queued') out.jobs++;
        else if (j.status === 'unconfirmed') out.unconfirmed++;
        else out.failed++;
      }
      return out;
    });
  }

  // --- sessions and messages -----------------------------------------------------------------

  async createSession(p: NewSession, now: number): Promise<number> {
    const r = await this.one<{ id: number }>(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [p.device, p.dmSessionId, p.state ?? 'active', p.encoding, p.authType ?? null, iso(now), p.state && p.state !== 'active' ? iso(now) : null, p.reason ?? null]);
    return r!.id;
  }

  async endSession(id: number, state: SessionState, reason: string, now: number): Promise<void> {
    await this.q(`UPDATE sessions SET state = $2, reason = $3, ended_at = $4 WHERE id = $1 AND state = 'active'`, [id, state, reason, iso(now)]);
  }

  async setSessionAuth(id: number, authType: string): Promise<void> {
    await this.q('UPDATE sessions SET auth_type = $2 WHERE id = $1', [id, authType]);
  }

  async session(id: number): Promise<SessionRecord | undefined> {
    const r = await this.one<SessionRow>(`${SESSION_WITH_COUNT} WHERE s.id = $1`, [id]);
    return r && sessionFromRow(r);
  }

  async sessions(filter: { device?: string; limit?: number } = {}): Promise<SessionRecord[]> {
    const args: unknown[] = [];
    const where = filter.device !== undefined ? `WHERE s.device = $${args.push(filter.device)}` : '';
    const rows = await this.all<SessionRow>(`${SESSION_WITH_COUNT} ${where} ORDER BY s.id DESC LIMIT $${args.push(filter.limit ?? 1000)}`, args);
    return rows.map(sessionFromRow);
  }

  async addMessage(m: NewMessage): Promise<number> {
    // Without a seq: the next one, computed in the INSERT itself (one round trip).
    const seq = m.seq ?? null;
    const v = messageValues(m, 0);
    v[1] = seq;
    // The message and its index rows (message-index.ts) in one transaction.
    return this.atomic(async (o) => {
      const r = await o.one<{ id: number; seq: number }>(`INSERT INTO messages (${MESSAGE_COLUMNS})
        VALUES ($1, COALESCE($2::integer, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = $1)), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id, seq`, v);
      await indexLoggedMessages(o.q, [loggedMessage(m, r!.seq, r!.id)]);
      return r!.id;
    });
  }

  async addMessages(ms: readonly (NewMessage & { seq: number })[]): Promise<number[]> {
    if (ms.length === 0) return [];
    const args: unknown[] = [];
    const tuples = ms.map((m) => {
      const base = args.length;
      args.push(...messageValues(m, m.seq));
      return `(${Array.from({ length: 12 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    // The messages and their index rows (message-index.ts: one more statement) in one transaction.
    return this.atomic(async (o) => {
      const rows = await o.all<{ id: number }>(`INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES ${tuples.join(', ')} RETURNING id`, args);
      // RETURNING follows the VALUES order for a plain multi-row INSERT; ids come from one sequence, so sorting is the same order.
      const ids = rows.map((r) => r.id).sort((a, b) => a - b);
      await indexLoggedMessages(o.q, ms.map((m, i) => loggedMessage(m, m.seq, ids[i]!)));
      return ids;
    });
  }

  async annotateMessage(id: number, note: string): Promise<void> {
    await this.q(`UPDATE messages SET note = CASE WHEN note IS NULL THEN $2 ELSE note || chr(10) || $2 END WHERE id = $1`, [id, note]);
  }

  async messages(sessionId: number): Promise<MessageRecord[]> {
    return (await this.all<MessageRow>('SELECT * FROM messages WHERE session_id = $1 ORDER BY seq, id', [sessionId])).map(messageFromRow);
  }

  async message(id: number): Promise<MessageRecord | undefined> {
    const r = await this.one<MessageRow>('SELECT * FROM messages WHERE id = $1', [id]);
    return r && messageFromRow(r);
  }

  importSessions(sessions: readonly ImportedSession[], reason: string): Promise<number[]> {
    return this.atomic(async (o) => {
      const ids: number[] = [];
      for (const s of sessions) {
        const first = s.messages[0]?.at ?? 0;
        const last = s.messages[s.messages.length - 1]?.at ?? first;
        const r = await o.one<{ id: number }>(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES ($1, $2, 'imported', $3, $4, $5, $6, $7) RETURNING id`,
          [s.device, s.dmSessionId, s.encoding, s.authType, iso(first), iso(last), reason]);
        const id = r!.id;
        if (s.messages.length > 0) await o.addMessages(s.messages.map((m, i) => ({ ...m, sessionId: id, seq: i + 1 })));
        ids.push(id);
      }
      return ids;
    });
  }

  // --- the discovered tree and alerts --------------------------------------------------------

  async upsertTree(device: string, entries: Omit<TreeEntry, 'fetchedAt'>[], now: number): Promise<void> {
    const at = iso(now);
    for (let i = 0; i < entries.length; i += TREE_ROWS_PER_STATEMENT) {
      // A statement must not name the same (device, uri) twice (ON CONFLICT cannot update a row twice).
      const part = [...mergeByUri(entries.slice(i, i + TREE_ROWS_PER_STATEMENT)).entries()];
      const args: unknown[] = [];
      const tuples = part.map(([uri, e]) => {
        const base = args.length;
        args.push(device, uri, e.format, e.type, e.data, e.encoding ?? null, at);
        return `(${Array.from({ length: 7 }, (_, k) => `$${base + k + 1}`).join(', ')})`;
      });
      await this.q(`INSERT INTO tree (device, uri, format, type, data, encoding, fetched_at) VALUES ${tuples.join(', ')}
        ON CONFLICT (device, uri) DO UPDATE SET format = COALESCE(excluded.format, tree.format), type = COALESCE(excluded.type, tree.type),
        data = COALESCE(excluded.data, tree.data), encoding = COALESCE(excluded.encoding, tree.encoding), fetched_at = excluded.fetched_at`, args);
    }
  }

  async removeTree(device: string, uri: string): Promise<void> {
    const u = normaliseUri(uri);
    await this.q("DELETE FROM tree WHERE device = $1 AND (uri = $2 OR left(uri, length($2) + 1) = $2 || '/')", [device, u]);
  }

  async tree(device: string): Promise<TreeEntry[]> {
    // COLLATE "C": the byte order SQLite's ORDER BY uri gives.
    return (await this.all<TreeRow>('SELECT * FROM tree WHERE device = $1 ORDER BY uri COLLATE "C"', [device])).map(treeFromRow);
  }

  async addAlert(device: string, sessionId: number | null, alert: AlertRecord, now: number): Promise<void> {
    await this.q('INSERT INTO alerts (session_id, device, code, correlator, items, at) VALUES ($1, $2, $3, $4, $5, $6)',
      [sessionId, device, alert.code, alert.correlator ?? null, json(alert.items), iso(now)]);
  }

  async alerts(device: string): Promise<StoredAlert[]> {
    return (await this.all<AlertRow>('SELECT * FROM alerts WHERE device = $1 ORDER BY id', [device])).map(alertFromRow);
  }

  // --- several instances ---------------------------------------------------------------------

  async createSessionState(key: string, sessionId: number, state: unknown, now: number): Promise<SessionStateRecord | undefined> {
    const r = await this.one<SessionStateRow>(`INSERT INTO session_state (key, session_id, version, state, updated_at) VALUES ($1, $2, 1, $3, $4)
      ON CONFLICT (key) DO NOTHING RETURNING *`, [key, sessionId, json(state), iso(now)]);
    return r && sessionStateFromRow(r);
  }

  async claimSessionState(key: string, owner: string, now: number, leaseMs: number): Promise<SessionClaim> {
    // Of two instances claiming at once, the second waits for the first's row lock, then re-reads
    // the row: held, so it gets nothing. A lease that ran out (its instance died mid-turn) is free.
    const r = await this.one<SessionStateRow>(`UPDATE session_state SET owner = $2, lease_until = $3 WHERE key = $1 AND (owner IS NULL OR owner = $2 OR lease_until <= $4) RETURNING *`,
      [key, owner, iso(now + leaseMs), iso(now)]);
    if (r) return { ok: true, record: sessionStateFromRow(r) };
    const held = await this.one<SessionStateRow>('SELECT * FROM session_state WHERE key = $1', [key]);
    if (!held) return { ok: false, reason: 'missing' };
    // Released between our UPDATE and this read: say held by nobody in particular, the caller retries.
    return { ok: false, reason: 'held', owner: held.owner ?? '', leaseUntil: held.lease_until ? isoOfDate(held.lease_until) : iso(now) };
  }

  async commitSessionState(key: string, owner: string, version: number, state: unknown, now: number): Promise<boolean> {
    const r = await this.q(`UPDATE session_state SET state = $4, version = version + 1, owner = NULL, lease_until = NULL, updated_at = $5
      WHERE key = $1 AND owner = $2 AND version = $3`, [key, owner, version, json(state), iso(now)]);
    return r.rowCount === 1;
  }

  async dropSessionState(key: string): Promise<void> {
    await this.q('DELETE FROM session_state WHERE key = $1', [key]);
  }

  async publish<E extends StoreEvent>(event: E): Promise<void> {
    await publishEvents(this.q, [event]);
  }

  async publishAll(events: readonly StoreEvent[]): Promise<void> {
    await publishEvents(this.q, events);
  }
}

function queuedSpec(r: { id: number; spec: JobSpec; verify: boolean }): QueuedJobSpec {
  return r.verify ? { id: r.id, spec: r.spec, verify: true } : { id: r.id, spec: r.spec };
}

function messageValues(m: NewMessage, seq: number): unknown[] {
  return [
    m.sessionId, seq, m.direction, iso(m.at), m.durationMs ?? null, m.msgId ?? null, m.contentType ?? null, m.httpStatus ?? null,
    Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), m.decoded ?? null, m.error ?? null, m.note ?? null,
  ];
}

/**
 * Entries naming one node twice, folded as SQLite's row-by-row upsert would: a later value wins,
 * a later null keeps the earlier value (the COALESCE of the upsert).
 */
function mergeByUri(entries: readonly Omit<TreeEntry, 'fetchedAt'>[]): Map<string, Omit<TreeEntry, 'fetchedAt'>> {
  const out = new Map<string, Omit<TreeEntry, 'fetchedAt'>>();
  for (const e of entries) {
    const uri = normaliseUri(e.uri);
    const before = out.get(uri);
    const encoding = e.encoding ?? before?.encoding;
    out.set(uri, before
      ? { uri, format: e.format ?? before.format, type: e.type ?? before.type, data: e.data ?? before.data, ...(encoding ? { encoding } : {}) }
      : e);
  }
  return out;
}

/** `DevInfo/Mod` and `./DevInfo/Mod` are the same node. */
function normaliseUri(uri: string): string {
  if (uri === '.' || uri.startsWith('./')) return uri;
  return `./${uri}`;
}
