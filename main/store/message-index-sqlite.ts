/**
 * DmMessageIndex on the SQLite store: the functions of message-index.ts and filter/query.ts over a
 * ServerStore's connection, answering with settled promises. Writes go through groupAsync(), the
 * group commit's queue for DmStore.tx: inside the running server they join the turn's group commit
 * (its fsync off the event loop), and they never land inside another caller's open savepoint (a
 * DmStore.tx awaiting the store), whose rollback would take them along.
 *
 * The server writes index rows after the messages, in batches (sqlite/deferred-index.ts): every
 * method here first has everything logged so far indexed (indexReady: this process's pending
 * batch, and messages another process logged without index rows yet), so a reader never misses
 * a message that is stored.
 */
import type Database from 'better-sqlite3';
import { recordFindings, unindexedCount, unjudgedSessions, type JudgedFinding } from './message-index.js';
import { findCommands, queryMessages, sessionsMatching, type CommandHit, type MessageHit, type QueryOptions } from './filter/query.js';
import type { DmMessageIndex, MessageQuery } from './message-index-store.js';

/** What the SQLite side needs of ServerStore (a structural type: no import of the server store's module). */
export interface SqliteIndexHost {
  readonly db: Database.Database;
  groupAsync<T>(fn: () => Promise<T>): Promise<T>;
  readonly indexing: {
    /** Resolves once everything logged is indexed and committed; undefined when nothing is missing. */
    indexReady(): Promise<void> | undefined;
    /** Indexes everything logged, synchronously, in the write transaction the caller holds; returns how many were missing. */
    indexHere(): number;
  };
}

/** Runs `fn` now; its value or its throw as a promise. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

export class SqliteMessageIndex implements DmMessageIndex {
  constructor(private readonly store: SqliteIndexHost) {}

  /** `fn` over an index holding everything logged so far. */
  private read<T>(fn: () => T): Promise<T> {
    const ready = this.store.indexing.indexReady();
    return ready ? ready.then(fn) : settled(fn);
  }

  queryMessages(q: MessageQuery, opts?: QueryOptions): Promise<{ total: number; rows: MessageHit[] }> {
    return this.read(() => queryMessages(this.store.db, q, opts));
  }

  sessionsMatching(filter: string, limit: number, opts?: QueryOptions): Promise<{ ids: number[]; truncated: boolean }> {
    return this.read(() => sessionsMatching(this.store.db, filter, limit, opts));
  }

  findCommands(filter: string, opts?: QueryOptions): Promise<CommandHit[]> {
    return this.read(() => findCommands(this.store.db, filter, opts));
  }

  unindexedCount(): Promise<number> {
    return settled(() => unindexedCount(this.store.db));
  }

  catchUpIndex(): Promise<number> {
    return this.store.groupAsync(async () => this.store.indexing.indexHere());
  }

  unjudgedSessions(since?: { afterId: number; alsoIds: readonly number[] }): Promise<{ id: number; messages: number }[]> {
    return this.read(() => unjudgedSessions(this.store.db, since));
  }

  recordFindings(sessionId: number, messages: number, findings: readonly JudgedFinding[]): Promise<void> {
    // The judged messages' index rows first (they may wait in the deferred batch), in the same transaction.
    return this.store.groupAsync(async () => {
      this.store.indexing.indexHere();
      recordFindings(this.store.db, sessionId, messages, findings);
    });
  }

  judgedSessions(ids: readonly number[]): Promise<number[]> {
    return this.read(() => judgedSessions(this.store.db, ids));
  }
}

/** Of `ids`, the sessions judged for all of their messages (a live session keeps logging), ascending. */
export function judgedSessions(db: Database.Database, ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  return (db.prepare(`SELECT j.session_id AS id FROM judged_sessions j WHERE j.session_id IN (SELECT value FROM json_each(?))
    AND j.messages >= (SELECT MAX(i.seq) FROM msg_index i WHERE i.session_id = j.session_id) ORDER BY 1`).all(JSON.stringify(ids)) as { id: number }[]).map((r) => r.id);
}
