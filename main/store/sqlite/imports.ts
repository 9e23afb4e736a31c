/** Sessions imported into the SQLite store from a capture or a bundle (dmw capture import; main/capture/). */
import type { Encoding } from '../../protocol/codec.js';
import type { NewMessage } from '../types.js';
import type { GroupCommit } from './group-commit.js';
import type { MessageLog } from './messages.js';
import type { SessionTable } from './sessions.js';

/** A session as a capture or a bundle gives it: its messages in order, with their own times and bytes. */
export interface ImportedSessionInput {
  device: string | null;
  dmSessionId: string | null;
  encoding: Encoding | null;
  authType: string | null;
  messages: readonly Omit<NewMessage, 'sessionId' | 'seq'>[];
}

/**
 * Stores sessions read from a capture or a bundle, all in one transaction (a file imports whole
 * or not at all). State 'imported', `reason` naming the file; started/ended at the first/last
 * message's own time; messages keep their original times and bytes. Returns the session ids.
 */
export function importSessions(commits: GroupCommit, sessionTable: SessionTable, log: MessageLog, sessions: readonly ImportedSessionInput[], reason: string): number[] {
  return commits.tx(() => sessions.map((s) => {
    const first = s.messages[0]?.at ?? 0;
    const last = s.messages[s.messages.length - 1]?.at ?? first;
    const id = sessionTable.addImported(s, first, last, reason);
    s.messages.forEach((m, i) => log.addMessage({ ...m, sessionId: id, seq: i + 1 }));
    return id;
  }));
}
