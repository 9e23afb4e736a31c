/**
 * DmStoreQueries (../queries.ts) on PostgreSQL: the same answers as sqlite/queries.ts, over the
 * pool (autocommit reads).
 */
import type pg from 'pg';
import type { DmStoreQueries, JobCount, LastSession, MessageEnvelope } from '../queries.js';
import type { Direction, JobStatus, MessageRecord, SessionState } from '../types.js';
import { messageFromRow, type MessageRow } from './rows.js';
import type { Query } from './ops.js';
import { isoOfDate } from '../../util/iso-time.js';


export class PgQueries implements DmStoreQueries {
  constructor(private readonly q: Query) {}

  private async all<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.q<R>(text, values)).rows;
  }

  async jobCounts(): Promise<JobCount[]> {
    // COLLATE "C": the byte order SQLite sorts by, whatever the database's collation.
    const rows = await this.all<{ device: string; status: JobStatus; n: number }>(
      'SELECT device, status, COUNT(*) AS n FROM jobs GROUP BY device, status ORDER BY device COLLATE "C", status COLLATE "C"');
    return rows.map((r) => ({ device: r.device, status: r.status, n: r.n }));
  }

  async lastSessions(): Promise<LastSession[]> {
    const rows = await this.all<{ id: number; device: string; state: SessionState; started_at: Date; ended_at: Date | null }>(
      `SELECT * FROM (SELECT DISTINCT ON (device) id, device, state, started_at, ended_at FROM sessions WHERE device IS NOT NULL
       ORDER BY device, id DESC) last ORDER BY device COLLATE "C"`);
    return rows.map((r) => ({ device: r.device, id: r.id, state: r.state, startedAt: isoOfDate(r.started_at), endedAt: r.ended_at === null ? null : isoOfDate(r.ended_at) }));
  }

  async messagePage(sessionId: number, offset: number, limit: number): Promise<MessageRecord[]> {
    const rows = await this.all<MessageRow>('SELECT * FROM messages WHERE session_id = $1 ORDER BY seq, id LIMIT $2 OFFSET $3', [sessionId, limit, offset]);
    return rows.map(messageFromRow);
  }

  async messageEnvelopes(sessionId: number): Promise<MessageEnvelope[]> {
    const rows = await this.all<{
      id: number; seq: number; direction: Direction; at: Date; duration_ms: number | null; msg_id: string | null; content_type: string | null;
      http_status: number | null; size: number; error: string | null; note: string | null;
    }>(`SELECT id, seq, direction, at, duration_ms, msg_id, content_type, http_status, octet_length(bytes) AS size, error, note
        FROM messages WHERE session_id = $1 ORDER BY seq, id`, [sessionId]);
    return rows.map((r) => ({
      id: r.id, seq: r.seq, direction: r.direction, at: isoOfDate(r.at), durationMs: r.duration_ms, msgId: r.msg_id, contentType: r.content_type,
      httpStatus: r.http_status, size: r.size, error: r.error, note: r.note,
    }));
  }

  async firstMessageAt(sessionId: number): Promise<string | null> {
    const rows = await this.all<{ at: Date }>('SELECT at FROM messages WHERE session_id = $1 ORDER BY seq, id LIMIT 1', [sessionId]);
    return rows[0] ? isoOfDate(rows[0].at) : null;
  }

  async messageCount(sessionId: number): Promise<number> {
    const rows = await this.all<{ n: number }>('SELECT COUNT(*) AS n FROM messages WHERE session_id = $1', [sessionId]);
    return rows[0]!.n;
  }

  async treeValues(device: string, uris: readonly string[]): Promise<{ uri: string; data: string | null }[]> {
    if (uris.length === 0) return [];
    return this.all<{ uri: string; data: string | null }>('SELECT uri, data FROM tree WHERE device = $1 AND uri = ANY($2::text[]) ORDER BY uri COLLATE "C"', [device, [...uris]]);
  }

  async maxSessionId(): Promise<number> {
    const rows = await this.all<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM sessions');
    return rows[0]!.id;
  }

  async activeSessionIds(): Promise<number[]> {
    return (await this.all<{ id: number }>(`SELECT id FROM sessions WHERE state = 'active' ORDER BY id`)).map((r) => r.id);
  }
}
