/**
 * A session logged the way the running server logs it: through DmStore.tx (on SQLite the group
 * commit, where index rows are deferred), a round trip per tx, each message with the decoded form
 * the server hands over. The four messages of test/helpers/filter-fixture.ts.
 */
import { decodeMessage } from '../../main/protocol/codec.js';
import type { SyncML } from '../../main/protocol/model.js';
import type { DmStore } from '../../main/store/store.js';
import { sessionMessages, type SessionSpec } from './filter-fixture.js';

export function decoded(bytes: Uint8Array): SyncML {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(d.error.message);
  return d.value.message;
}

/** Logs the session; resolves with its id once both round trips are committed. */
export async function logLiveSession(store: DmStore, spec: SessionSpec): Promise<number> {
  const sid = await store.createSession({ device: spec.devId, dmSessionId: spec.dmSessionId ?? '1', encoding: 'xml' }, spec.at ?? 0);
  const ms = sessionMessages(spec).map((m) => ({ ...m, parsed: decoded(m.bytes) }));
  for (let i = 0; i < ms.length; i += 2) {
    await store.tx(async (s) => {
      await s.addMessages([{ ...ms[i]!, sessionId: sid, seq: i + 1 }, { ...ms[i + 1]!, sessionId: sid, seq: i + 2 }]);
    });
  }
  return sid;
}
