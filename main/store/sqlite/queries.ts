/**
 * DmStoreQueries (../queries.ts) on the SQLite store: the statements main/api and main/cli used to
 * run on ServerStore.db themselves. Synchronous better-sqlite3 calls behind already-resolved
 * promises, as the rest of the SQLite adapter.
 */
import type Database from 'better-sqlite3';
import { messageRecord } from '../message-record.js';
import type { DmStoreQueries, JobCount, LastSession, MessageEnvelope } from '../queries.js';
import type { Direction, JobStatus, MessageRecord, SessionState } from '../types.js';

interface EnvelopeRow {
  id: number; seq: number; direction: Direction; at: string; duration_ms: number | null; msg_id: string | null;
  content_type: string | null; http_status: number | null; size: number; error: string | null; note: string | null;
}

interface FullRow extends Omit<EnvelopeRow, 'size'> {
  session_id: number;
  bytes: Buffer;
  decoded: string | null;
}

export class SqliteQueries implements DmStoreQueries {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) this.statements.set(text, (s = this.db.prepare(text)));
    return s;
  }

  async jobCounts(): Promise<JobCount[]> {
    const rows = this.sql('SELECT device, status, COUNT(*) AS n FROM jobs GROUP BY device, status ORDER BY device, status').all() as { device: string; status: JobStatus; n: number }[];
    return rows.map((r) => ({ device: r.device, status: r.status, n: r.n }));
  }

  async lastSessions(): Promise<LastSession[]> {
    const rows = this.sql(`SELECT s.id, s.device, s.state, s.started_at, s.ended_at FROM sessions s
      JOIN (SELECT device, MAX(id) AS id FROM sessions WHERE device IS NOT NULL GROUP BY device) m ON m.id = s.id ORDER BY s.device`)
      .all() as { id: number; device: string; state: SessionState; started_at: string; ended_at: string | null }[];
    return rows.map((r) => ({ device: r.device, id: r.id, state: r.state, startedAt: r.started_at, endedAt: r.ended_at }));
  }

  async messagePage(sessionId: number, offset: number, limit: number): Promise<MessageRecord[]> {
    const rows = this.sql(`SELECT id, session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note
      FROM messages WHERE session_id = ? ORDER BY seq, id LIMIT ? OFFSET ?`).all(sessionId, limit, offset) as FullRow[];
    return rows.map(pageRecord);
  }

  async messageEnvelopes(sessionId: number): Promise<MessageEnvelope[]> {
    const rows = this.sql(`SELECT id, seq, direction, at, duration_ms, msg_id, content_type, http_status, length(bytes) AS size, error, note
      FROM messages WHERE session_id = ? ORDER BY seq, id`).all(sessionId) as EnvelopeRow[];
    return rows.map((r) => ({
      id: r.id, seq: r.seq, direction: r.direction, at: r.at, durationMs: r.duration_ms, msgId: r.msg_id, contentType: r.content_type,
      httpStatus: r.http_status, size: r.size, error: r.error, note: r.note,
    }));
  }

  async firstMessageAt(sessionId: number): Promise<string | null> {
    const r = this.sql('SELECT at FROM messages WHERE session_id = ? ORDER BY seq, id LIMIT 1').get(sessionId) as { at: string } | undefined;
    return r?.at ?? null;
  }

  async messageCount(sessionId: number): Promise<number> {
    return (this.sql('SELECT COUNT(*) AS n FROM messages WHERE session_id = ?').get(sessionId) as { n: number }).n;
  }

  async treeValues(device: string, uris: readonly string[]): Promise<{ uri: string; data: string | null }[]> {
    if (uris.length === 0) return [];
    // A statement per list length (the views ask for a few fixed lists), not one per call.
    return this.sql(`SELECT uri, data FROM tree WHERE device = ? AND uri IN (${uris.map(() => '?').join(', ')}) ORDER BY uri`).all(device, ...uris) as { uri: string; data: string | null }[];
  }

  async maxSessionId(): Promise<number> {
    return (this.sql('SELECT COALESCE(MAX(id), 0) AS id FROM sessions').get() as { id: number }).id;
  }

  async activeSessionIds(): Promise<number[]> {
    return (this.sql(`SELECT id FROM sessions WHERE state = 'active' ORDER BY id`).all() as { id: number }[]).map((r) => r.id);
  }
}

function pageRecord(r: FullRow): MessageRecord {
  return messageRecord({
    id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction, at: r.at, durationMs: r.duration_ms, msgId: r.msg_id,
    contentType: r.content_type, httpStatus: r.http_status, bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), error: r.error, note: r.note,
  }, r.decoded);
}
