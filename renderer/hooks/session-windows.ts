/**
 * A long session's commands, a window at a time. sessions.get sends a session longer than the
 * backend's LAZY_SESSION_MESSAGES as envelopes (seq, time, MsgID, size; no commands) with only the
 * first `summarized` messages in full; this hook fills in the windows the sequence diagram shows
 * (sessions.summaries) and hands back the messages with what has come so far.
 */
import { useCallback, useMemo, useRef, useState } from 'react';
import type { MessageSummary, SessionDetail } from '../../main/api/contract.js';
import { useApi } from './store.js';

/** Messages per sessions.summaries call (the contract allows 500). */
export const SUMMARY_WINDOW = 100;

export interface SessionWindows {
  /** The session's messages: full summaries where fetched, envelopes elsewhere. */
  messages: MessageSummary[];
  /** How many of them are full summaries. */
  summarized: number;
  /** Whether every message is a full summary. */
  complete: boolean;
  /** The diagram shows messages[first .. last]: fetch their windows. */
  onRange: (first: number, last: number) => void;
  /** Whether this message's commands are here (false: only its envelope so far). */
  hasCommands: (id: number) => boolean;
}

const NONE: ReadonlyMap<number, MessageSummary> = new Map();

export function useSessionWindows(detail: SessionDetail): SessionWindows {
  const api = useApi();
  const sessionId = detail.session.id;
  const lazy = detail.summarized !== undefined && detail.summarized < detail.messages.length;
  // Summaries fetched for this session; a live session's new detail keeps them (messages never
  // change, an answer logged later is picked up when its window is asked for again).
  const [fetched, setFetched] = useState<{ sessionId: number; byId: ReadonlyMap<number, MessageSummary> }>({ sessionId, byId: NONE });
  // Windows asked for under this detail (reset, during render, when another detail comes).
  const asked = useRef<{ detail: SessionDetail; windows: Set<number> }>({ detail, windows: new Set() });
  if (asked.current.detail !== detail) asked.current = { detail, windows: new Set() };
  const filled = fetched.sessionId === sessionId ? fetched.byId : NONE;

  const onRange = useCallback((first: number, last: number) => {
    if (!lazy) return;
    const mine = asked.current;
    for (let w = Math.floor(first / SUMMARY_WINDOW) * SUMMARY_WINDOW; w <= last; w += SUMMARY_WINDOW) {
      if (w + SUMMARY_WINDOW <= (detail.summarized ?? 0) || mine.windows.has(w)) continue;
      mine.windows.add(w);
      api['sessions.summaries']({ id: sessionId, offset: w, limit: SUMMARY_WINDOW }).then((r) => {
        setFetched((prev) => {
          const byId = new Map(prev.sessionId === sessionId ? prev.byId : NONE);
          for (const m of r.messages) byId.set(m.id, m);
          return { sessionId, byId };
        });
      }, () => mine.windows.delete(w));
    }
  }, [api, detail, lazy, sessionId]);

  const messages = useMemo(() => (lazy && filled.size > 0 ? detail.messages.map((m) => filled.get(m.id) ?? m) : detail.messages), [detail.messages, filled, lazy]);
  let summarized = detail.messages.length;
  if (lazy) {
    summarized = detail.summarized ?? 0;
    for (let i = summarized; i < detail.messages.length; i++) if (filled.has(detail.messages[i]!.id)) summarized++;
  }
  const firstLazy = detail.summarized ?? detail.messages.length;
  const hasCommands = (id: number) => !lazy || filled.has(id) || detail.messages.findIndex((m) => m.id === id) < firstLazy;
  return { messages, summarized, complete: summarized >= detail.messages.length, onRange, hasCommands };
}
