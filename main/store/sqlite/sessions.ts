/** The sessions table of the SQLite store: one row per DM session, live, interrupted or imported. */
import type { Encoding } from '../../protocol/codec.js';
import type { SessionRecord, SessionState } from '../types.js';
import { iso } from '../../util/iso-time.js';
import { sessionFromRow, type SessionRow } from './rows.js';
import type { Statements } from './statements.js';

export class SessionTable {
  constructor(private readonly st: Statements) {}

  createSession(p: { device: string | null; dmSessionId: string | null; encoding: Encoding | null; state?: SessionState; reason?: string; authType?: string }, now: number): number {
    const info = this.st.sql(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(p.device, p.dmSessionId, p.state ?? 'active', p.encoding, p.authType ?? null, iso(now), p.state && p.state !== 'active' ? iso(now) : null, p.reason ?? null);
    return Number(info.lastInsertRowid);
  }

  endSession(id: number, state: SessionState, reason: string, now: number): void {
    this.st.sql(`UPDATE sessions SET state = ?, reason = ?, ended_at = ? WHERE id = ? AND state = 'active'`).run(state, reason, iso(now), id);
  }

  setSessionAuth(id: number, authType: string): void {
    this.st.sql('UPDATE sessions SET auth_type = ? WHERE id = ?').run(authType, id);
  }

  session(id: number): SessionRecord | undefined {
    const row = this.st.sql(`SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count FROM sessions s WHERE id = ?`).get(id) as SessionRow | undefined;
    return row && sessionFromRow(row);
  }

  sessions(filter: { device?: string; limit?: number } = {}): SessionRecord[] {
    const args: unknown[] = [];
    let where = '';
    if (filter.device !== undefined) {
      where = 'WHERE s.device = ?';
      args.push(filter.device);
    }
    const rows = this.st.sql(`SELECT s.*, (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count FROM sessions s ${where} ORDER BY s.id DESC LIMIT ?`)
      .all(...args, filter.limit ?? 1000) as SessionRow[];
    return rows.map(sessionFromRow);
  }

  /** After a crash: every session still open is 'interrupted' (its device will start a new one); returns how many. */
  interruptActive(now: number): number {
    return this.st.sql(`UPDATE sessions SET state = 'interrupted', reason = 'server stopped during the session', ended_at = ? WHERE state = 'active'`).run(iso(now)).changes;
  }

  /** A session read from a capture or a bundle (imports.ts): state 'imported', from `first` to `last` (ms). */
  addImported(s: { device: string | null; dmSessionId: string | null; encoding: Encoding | null; authType: string | null }, first: number, last: number, reason: string): number {
    return Number(this.st.sql(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at, ended_at, reason) VALUES (?, ?, 'imported', ?, ?, ?, ?, ?)`)
      .run(s.device, s.dmSessionId, s.encoding, s.authType, iso(first), iso(last), reason).lastInsertRowid);
  }
}
