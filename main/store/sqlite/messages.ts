/**
 * The message log of the SQLite store: every DM message of every session, as its raw bytes (the
 * decoded form is derived when read: ../message-record.ts), and the display filters' index rows
 * of each (../message-index.ts), written with it or, in the group commit, by the deferred indexer
 * in batches (deferred-index.ts).
 */
import type Database from 'better-sqlite3';
import type { MessageRecord, NewMessage } from '../types.js';
import { indexMessages, unindexedCount, type LoggedMessage } from '../message-index.js';
import { iso } from '../../util/iso-time.js';
import type { DeferredIndex, IndexHost } from './deferred-index.js';
import type { GroupCommit } from './group-commit.js';
import { messageFromRow, type MessageRow } from './rows.js';
import type { Statements } from './statements.js';

/** ServerStore.indexing: what the deferred index (deferred-index.ts) and the index's readers (../message-index-sqlite.ts) use of a connection. */
export interface StoreIndexing extends IndexHost {
  /** Resolves once everything logged is indexed and committed; undefined when nothing is missing. */
  indexReady(): Promise<void> | undefined;
  /** Indexes everything logged, synchronously, in the write transaction the caller holds; returns how many were missing. */
  indexHere(): number;
  /** The file's deferred indexer (tests check its bounds). */
  queue(): DeferredIndex;
}

export class MessageLog {
  /** Writes the index rows of messages logged in the group commit, in batches (deferred-index.ts; attached once the store is open). */
  deferredIndex!: DeferredIndex;
  /** The deferred message index's view of this connection (deferred-index.ts, ../message-index-sqlite.ts). */
  readonly indexing: StoreIndexing;

  constructor(
    private readonly db: Database.Database,
    private readonly st: Statements,
    private readonly commits: GroupCommit,
  ) {
    this.indexing = this.hooks();
  }

  /**
   * Logs a message. `seq` is its place in the session; callers that count their session's
   * messages pass it, others get MAX(seq) + 1. `decoded` is only for a form the bytes cannot give
   * back (normally null: messages() derives it from the bytes).
   */
  addMessage(m: NewMessage): number {
    const seq = m.seq ?? ((this.st.sql('SELECT MAX(seq) AS s FROM messages WHERE session_id = ?').get(m.sessionId) as { s: number | null }).s ?? 0) + 1;
    // One transaction for the message and its index rows (see `together`).
    return this.commits.together(() => {
      const id = Number(this.st.sql(`INSERT INTO messages (session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...messageValues(m, seq)).lastInsertRowid);
      this.logIndex([loggedMessage(m, seq, id)]);
      return id;
    });
  }

  /**
   * Logs messages whose `seq` the caller knows, in one statement (a round trip's request and its
   * answer); returns their ids in order.
   */
  addMessages(ms: readonly (NewMessage & { seq: number })[]): number[] {
    if (ms.length === 0) return [];
    const args: unknown[] = [];
    for (const m of ms) args.push(...messageValues(m, m.seq));
    return this.commits.together(() => {
      const rows = this.st.sql(messagesInsert(ms.length)).all(...args) as { id: number }[];
      this.logIndex(ms.map((m, i) => loggedMessage(m, m.seq, rows[i]!.id)));
      return rows.map((r) => r.id);
    });
  }

  /**
   * The index rows of messages just logged. In the group commit (the server answering a device),
   * deferred: a batch writes them later for many messages at once (deferred-index.ts), off the
   * answer's path. Elsewhere (tx(): imports, tools, tests that read right after) in the same transaction.
   */
  private logIndex(logged: LoggedMessage[]): void {
    if (this.commits.inGroup) this.deferredIndex.logged(logged);
    else indexMessages(this.db, logged);
  }

  /** The deferred message index's view of this connection (deferred-index.ts, ../message-index-sqlite.ts). */
  private hooks(): StoreIndexing {
    return {
      db: this.db,
      // The group-commit transaction is open: index rows must be written in it (the write lock is ours).
      writing: () => this.commits.open,
      indexWrite: (fn) => this.commits.indexWrite(fn),
      indexReady: () => (this.deferredIndex.needsCatchUp(this.indexing) ? this.deferredIndex.catchUp(this.indexing) : undefined),
      indexHere: () => {
        const d = this.deferredIndex;
        const n = unindexedCount(this.db);
        while (d.indexIn(this.db, d.limits.maxBatch));
        return n;
      },
      queue: () => this.deferredIndex,
    };
  }

  /** Adds a line to a logged message's note (auth reasons, warnings found after it was stored). */
  annotateMessage(id: number, note: string): void {
    this.st.sql(`UPDATE messages SET note = CASE WHEN note IS NULL THEN ? ELSE note || char(10) || ? END WHERE id = ?`).run(note, note, id);
  }

  messages(sessionId: number): MessageRecord[] {
    return (this.st.sql('SELECT * FROM messages WHERE session_id = ? ORDER BY seq').all(sessionId) as MessageRow[]).map(messageFromRow);
  }

  /** One logged message without reading its whole session (sessions can hold thousands). */
  message(id: number): MessageRecord | undefined {
    const row = this.st.sql('SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
    return row && messageFromRow(row);
  }
}

const messageInserts: string[] = [];

/** The messages INSERT for `n` rows, RETURNING their ids (the text built once per n). */
function messagesInsert(n: number): string {
  return (messageInserts[n] ??= `INSERT INTO messages (session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')} RETURNING id`);
}

/** What the message index needs of a message just logged. */
function loggedMessage(m: NewMessage, seq: number, id: number): LoggedMessage {
  return { id, sessionId: m.sessionId, seq, direction: m.direction, atMs: m.at, msgId: m.msgId ?? null, contentType: m.contentType ?? null, bytes: m.bytes, ...(m.parsed ? { parsed: m.parsed } : {}) };
}

/** A message row's values, in the column order of the INSERTs above. */
function messageValues(m: NewMessage, seq: number): unknown[] {
  return [
    m.sessionId, seq, m.direction, iso(m.at), m.durationMs ?? null, m.msgId ?? null, m.contentType ?? null, m.httpStatus ?? null,
    Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength), m.decoded ?? null, m.error ?? null, m.note ?? null,
  ];
}
