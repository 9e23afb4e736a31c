/**
 * A long session's commands, a window at a time. sessions.get sends a session longer than the
 * backend's LAZY_SESSION_MESSAGES as envelopes (seq, time, MsgID, size; no commands) with only the
 * first `summarized` messages in full; this hook fills in the windows the sequence diagram shows
 * (sessions.summaries) and hands back the messages with what has come so far.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
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
}

export function useSessionWindows(detail: SessionDetail): SessionWindows {
  const api = useApi();
  const lazy = detail.summarized !== undefined && detail.summarized < detail.messages.length;
  const [filled, setFilled] = useState<ReadonlyMap<number, MessageSummary>>(new Map());
  /** Windows asked for, by index of their first message, for this detail. */
  const asked = useRef(new Set<number>());
  // A new detail (another session, or a live one that grew) starts over.
  useEffect(() => {
    asked.current = new Set();
    setFilled(new Map());
  }, [detail]);

  const onRange = useCallback((first: number, last: number) => {
    if (!lazy) return;
    const sessionId = detail.session.id;
    for (let w = Math.floor(first / SUMMARY_WINDOW) * SUMMARY_WINDOW; w <= last; w += SUMMARY_WINDOW) {
      if (w + SUMMARY_WINDOW <= (detail.summarized ?? 0) || asked.current.has(w)) continue;
      asked.current.add(w);
      const forSet = asked.current;
      api['sessions.summaries']({ id: sessionId, offset: w, limit: SUMMARY_WINDOW }).then((r) => {
        if (asked.current !== forSet) return; // another detail meanwhile
        setFilled((prev) => {
          const next = new Map(prev);
          for (const m of r.messages) next.set(m.id, m);
          return next;
        });
      }, () => forSet.delete(w));
    }
  }, [api, detail, lazy]);

  const messages = useMemo(() => (lazy && filled.size > 0 ? detail.messages.map((m) => filled.get(m.id) ?? m) : detail.messages), [detail.messages, filled, lazy]);
  const summarized = lazy ? (detail.summarized ?? 0) + filled.size : detail.messages.length;
  return { messages, summarized: Math.min(summarized, detail.messages.length), complete: !lazy || summarized >= detail.messages.length, onRange };
}
