/**
 * The message index and the display filters as store methods (issue 16): what the packet list
 * (packets.query), the Sessions view's content search (sessions.search), the judge's findings column
 * and `dmw session find` need, the same on both stores. DmStore extends it (store.ts).
 *
 *  - SQLite: message-index-sqlite.ts (message-index.ts + filter/query.ts over the folder's database).
 *  - PostgreSQL: postgres/message-index.ts (writes, findings) and postgres/filter-sql.ts (queries).
 *
 * Results have the shapes the SQLite functions always had; a bad filter rejects with FilterError
 * (message, position, length), the same error on both stores. test/integration/postgres-index.test.ts
 * runs one corpus through both and compares every answer.
 */
import type { JudgedFinding } from './message-index.js';
import type { CommandHit, MessageHit, QueryOptions, SortColumn } from './filter/query.js';

export type { CommandHit, JudgedFinding, MessageHit, QueryOptions, SortColumn };

export interface MessageQuery {
  filter: string;
  offset: number;
  limit: number;
  sort?: { column: SortColumn; desc: boolean };
}

export interface DmMessageIndex {
  /** One page of messages matching the filter, and how many match. Rejects with FilterError. */
  queryMessages(q: MessageQuery, opts?: QueryOptions): Promise<{ total: number; rows: MessageHit[] }>;
  /** Sessions with a message matching the filter, newest first, at most `limit` (`truncated`: there were more). Rejects with FilterError. */
  sessionsMatching(filter: string, limit: number, opts?: QueryOptions): Promise<{ ids: number[]; truncated: boolean }>;
  /** Every command matching the filter, one line per command, in log order (`dmw session find`). Rejects with FilterError. */
  findCommands(filter: string, opts?: QueryOptions): Promise<CommandHit[]>;
  /** Messages the index has not seen (on SQLite, those of the deferred batch until it is written: sqlite/deferred-index.ts; every query here catches up first). */
  unindexedCount(): Promise<number>;
  /** Indexes them, in a transaction of its own; returns how many. */
  catchUpIndex(): Promise<number>;
  /** Sessions whose findings are missing or older than their messages; `since` narrows to sessions after an id, active ones and the listed ones. */
  unjudgedSessions(since?: { afterId: number; alsoIds: readonly number[] }): Promise<{ id: number; messages: number }[]>;
  /** Stores a session's findings (replacing an earlier judgement) and the counts per message, in a transaction of its own (SQLite: the group commit). */
  recordFindings(sessionId: number, messages: number, findings: readonly JudgedFinding[]): Promise<void>;
  /** Of `ids`, the sessions judged for all of their messages, ascending. */
  judgedSessions(ids: readonly number[]): Promise<number[]>;
}
