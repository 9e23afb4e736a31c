/**
 * The packet list's handlers (contract-packets.ts): packets.query runs a display filter over the
 * message index (main/store/filter/), packets.fields lists the language's fields for the filter bar.
 *
 * A bad filter is an answer ({ ok: false, error: {message, position, length} }), not a failed call:
 * the filter bar shows it under the character. Before a query, messages the index has not seen yet
 * (none in normal operation: the store indexes as it logs) are indexed through `writer`, the store
 * connection allowed to write now (the running server's, so it never waits on its own group commit).
 */
import type { ServerStore } from '../store/server-store.js';
import { catchUpIndex, unindexedCount } from '../store/message-index.js';
import { fieldHelp } from '../store/filter/fields.js';
import { FilterError } from '../store/filter/parse.js';
import { queryMessages } from '../store/filter/query.js';
import type { PacketField, PacketsQueryInput, PacketsQueryOutput } from './contract-packets.js';

export function queryPackets(store: ServerStore, q: PacketsQueryInput, writer: ServerStore = store): PacketsQueryOutput {
  const t0 = performance.now();
  if (unindexedCount(store.db) > 0) writer.tx(() => catchUpIndex(writer.db));
  try {
    const { total, rows } = queryMessages(store.db, q);
    return { ok: true, total, rows, tookMs: Math.round((performance.now() - t0) * 100) / 100 };
  } catch (e) {
    if (e instanceof FilterError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

export function packetFields(): { fields: PacketField[] } {
  return { fields: fieldHelp() };
}
