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
import type { DmStoreQueries, MessageEnvelope } from '../store/queries.js';
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

/** What the pages read: the store's message queries (DmStore has them, on SQLite and PostgreSQL). */
export type PageSource = Pick<DmStoreQueries, 'messagePage' | 'messageEnvelopes' | 'firstMessageAt' | 'messageCount'>;

/** A message without its commands: what the log says about it without decoding it. */
function envelope(r: MessageEnvelope, t0: number): MessageSummary {
  return {
    id: r.id, seq: r.seq, direction: r.direction, at: r.at, offsetMs: Date.parse(r.at) - t0, durationMs: r.durationMs, msgId: r.msgId,
    size: r.size, contentType: r.contentType, httpStatus: r.httpStatus, final: null, error: r.error, note: r.note,
    commands: [], auth: { cred: null, hdrStatus: null },
  };
}

/** Full summaries of messages [offset, offset + limit) of the session, in seq order. */
export async function summaryWindow(store: PageSource, sessionId: number, offset: number, limit: number, cache: DecodeCache): Promise<MessageSummary[]> {
  const n = Math.min(limit, MAX_SUMMARY_WINDOW);
  const [records, first] = await Promise.all([store.messagePage(sessionId, offset, n + ANSWER_LOOKAHEAD), store.firstMessageAt(sessionId)]);
  return summarizeSession(records, cache, { t0: first === null ? 0 : Date.parse(first), count: n });
}

/**
 * Every message of the session: the first FIRST_SUMMARIZED in full, the rest as envelopes.
 * Returns the messages and how many of them are in full.
 */
export async function sessionEnvelope(store: PageSource, sessionId: number, cache: DecodeCache): Promise<{ messages: MessageSummary[]; summarized: number }> {
  const rows = await store.messageEnvelopes(sessionId);
  const t0 = rows.length > 0 ? Date.parse(rows[0]!.at) : 0;
  const full = await summaryWindow(store, sessionId, 0, FIRST_SUMMARIZED, cache);
  const messages = rows.map((r, i) => full[i] ?? envelope(r, t0));
  return { messages, summarized: full.length };
}

/** Messages of the session (without reading them). */
export function messageCount(store: PageSource, sessionId: number): Promise<number> {
  return store.messageCount(sessionId);
}
