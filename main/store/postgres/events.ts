/**
 * The event stream's writes on PostgreSQL: rows of the events table (SSE replay by id) and a NOTIFY
 * per event to every instance's LISTEN connection (postgres-store.ts reads them back).
 *
 * A turn's events (about six: turn, jobs, session) are written together (DmStoreOps.publishAll, from
 * the server's StoreEventBus.publishIn), in one statement where each used to cost a statement and a
 * round trip to the database of its own, the largest share of a turn's statements. Nothing else
 * changes: the rows are written where the turn publishes them, their ids come from the events
 * sequence in publishing order, and NOTIFY inside a transaction is delivered when it commits (never
 * when it rolls back), in the order it was called.
 */
import type { DeliveredEvent, StoreEvent } from '../store.js';
import type { Query } from './ops.js';

/** The NOTIFY channel every instance listens on. */
export const EVENT_CHANNEL = 'dmw_events';
/** NOTIFY payloads stop at 8000 bytes: a bigger event travels by id and is read from the events table. */
export const INLINE_EVENT_BYTES = 7000;
/** Events per statement: a transaction that publishes more (a large import) writes them in several. */
const EVENTS_PER_STATEMENT = 256;

/**
 * Rows in array order (WITH ORDINALITY ... ORDER BY: the sequence hands out ids in that order), then
 * one pg_notify per row in id order (a volatile target list is evaluated after the sort). json keeps
 * its input text, so body::text is the JSON we sent, as the payload always carried.
 */
const PUBLISH = {
  name: 'dmw_publish_events',
  text: `WITH e AS (INSERT INTO events (body) SELECT b::json FROM unnest($1::text[]) WITH ORDINALITY AS u (b, n) ORDER BY n RETURNING id, body)
SELECT pg_notify('${EVENT_CHANNEL}', CASE WHEN octet_length(body::text) <= ${INLINE_EVENT_BYTES} THEN id || ' ' || body::text ELSE id::text END) FROM e ORDER BY id`,
};

/** Writes and notifies `events` in order, on the runner given (the pool, or the open transaction). */
export async function publishEvents(q: Query, events: readonly StoreEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += EVENTS_PER_STATEMENT) {
    const bodies = events.slice(i, i + EVENTS_PER_STATEMENT).map((e) => JSON.stringify(e));
    await q(PUBLISH as unknown as string, [bodies]);
  }
}

/** A NOTIFY payload ("ID JSON", or "ID" for an event too big to travel inline) -> the event, or its id to read. */
export function parseEventPayload(payload: string): DeliveredEvent | { id: number } {
  const space = payload.indexOf(' ');
  if (space < 0) return { id: Number(payload) };
  return { id: Number(payload.slice(0, space)), event: JSON.parse(payload.slice(space + 1)) as DeliveredEvent['event'] };
}
