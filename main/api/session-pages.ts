/**
 * Long sessions in the Sessions view, a window at a time. Decoding every message of a 10,000-message
 * session and sending every command of it took 4.5 s before the diagram showed anything (decode
 * 2.7 s, pairing 0.9 s, 20 MB of JSON); the view needs only the rows on screen. So a session longer
 * than LAZY_SESSION_MESSAGES comes as:
 *
 *  - its envelope: every message's seq, direction, time, MsgID, size, HTTP status, error and note,
 *    read without the bytes (no decoding), and the first FIRST_SUMMARIZED messages in full;
 *  - `sessions.summaries`: the full summaries (commands, answers, auth) of a window, decoded when
 *    asked, each command paired with the Status and Results found in the window or the
 *    ANSWER_LOOKAHEAD messages after it (a peer answers in its next message, or its next package).
 *
 * Shorter sessions keep coming whole (summarizeSession over every message).
 */
import type { ServerStore } from '../store/server-store.js';
import type { MessageRecord } from '../server/types.js';
import type { MessageSummary } from './contract.js';
import { summarizeSession, type DecodeCache } from './session-view.js';

/** Sessions longer than this are sent as an envelope plus windows. */
export const LAZY_SESSION_MESSAGES = 1000;
/** Messages summarized in full with the envelope (what the diagram shows first). */
export const FIRST_SUMMARIZED = 100;
/** Most messages one sessions.summaries call returns. */
export const MAX_SUMMARY_WINDOW = 500;
/** Messages after a window whose Statuses and Results still count as answers to it. */
export const ANSWER_LOOKAHEAD = 16;

interface EnvelopeRow {
  id: number; seq: number; direction: 'in' | 'out'; at: string; duration_ms: number | null; msg_id: string | null;
  content_type: string | null; http_status: number | null; size: number; error: string | null; note: string | null;
}

interface FullRow extends Omit<EnvelopeRow, 'size'> {
  session_id: number;
  bytes: Buffer;
}

/** A message without its commands: what the log says about it without decoding it. */
function envelope(r: EnvelopeRow, t0: number): MessageSummary {
  return {
    id: r.id, seq: r.seq, direction: r.direction, at: r.at, offsetMs: Date.parse(r.at) - t0, durationMs: r.duration_ms, msgId: r.msg_id,
    size: r.size, contentType: r.content_type, httpStatus: r.http_status, final: null, error: r.error, note: r.note,
    commands: [], auth: { cred: null, hdrStatus: null },
  };
}

function record(r: FullRow): MessageRecord {
  return {
    id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction, at: r.at, durationMs: r.duration_ms, msgId: r.msg_id,
    contentType: r.content_type, httpStatus: r.http_status, bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
    decoded: null, error: r.error, note: r.note,
  };
}

function firstAt(store: ServerStore, sessionId: number): number {
  const r = store.db.prepare('SELECT at FROM messages WHERE session_id = ? ORDER BY seq LIMIT 1').get(sessionId) as { at: string } | undefined;
  return r ? Date.parse(r.at) : 0;
}

/** Full summaries of messages [offset, offset + limit) of the session, in seq order. */
export function summaryWindow(store: ServerStore, sessionId: number, offset: number, limit: number, cache: DecodeCache): MessageSummary[] {
  const n = Math.min(limit, MAX_SUMMARY_WINDOW);
  const rows = store.db.prepare(`SELECT id, session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, error, note
    FROM messages WHERE session_id = ? ORDER BY seq LIMIT ? OFFSET ?`).all(sessionId, n + ANSWER_LOOKAHEAD, offset) as FullRow[];
  return summarizeSession(rows.map(record), cache, { t0: firstAt(store, sessionId), count: n });
}

/**
 * Every message of the session: the first FIRST_SUMMARIZED in full, the rest as envelopes.
 * Returns the messages and how many of them are in full.
 */
export function sessionEnvelope(store: ServerStore, sessionId: number, cache: DecodeCache): { messages: MessageSummary[]; summarized: number } {
  const rows = store.db.prepare(`SELECT id, seq, direction, at, duration_ms, msg_id, content_type, http_status, length(bytes) AS size, error, note
    FROM messages WHERE session_id = ? ORDER BY seq`).all(sessionId) as EnvelopeRow[];
  const t0 = rows.length > 0 ? Date.parse(rows[0]!.at) : 0;
  const full = summaryWindow(store, sessionId, 0, FIRST_SUMMARIZED, cache);
  const messages = rows.map((r, i) => full[i] ?? envelope(r, t0));
  return { messages, summarized: full.length };
}

/** Messages of the session (without reading them). */
export function messageCount(store: ServerStore, sessionId: number): number {
  return (store.db.prepare('SELECT COUNT(*) AS n FROM messages WHERE session_id = ?').get(sessionId) as { n: number }).n;
}
