/**
 * Read queries of the UI backend (main/api) and the CLI (main/cli) that are not record operations
 * of the server: counts, pages and picks the views need without reading whole tables. They used to
 * be raw SQL on ServerStore.db; as DmStore methods (DmStore extends this) they run on SQLite
 * (sqlite/queries.ts) and on PostgreSQL (postgres/queries.ts) with the same answers.
 *
 * The message index and display filters (queryMessages, findCommands, ...) are not here: they are
 * DmMessageIndex's (message-index-store.ts).
 */
import type { Direction, JobStatus, MessageRecord, SessionState } from './types.js';

/** How many jobs a device has in one status. */
export interface JobCount {
  device: string;
  status: JobStatus;
  n: number;
}

/** A device's latest session (the highest id), as the device list shows it. */
export interface LastSession {
  device: string;
  id: number;
  state: SessionState;
  startedAt: string;
  endedAt: string | null;
}

/** A logged message without its bytes: what the log says about it without decoding it. */
export interface MessageEnvelope {
  id: number;
  seq: number;
  direction: Direction;
  at: string;
  durationMs: number | null;
  msgId: string | null;
  contentType: string | null;
  httpStatus: number | null;
  /** Bytes on the wire. */
  size: number;
  error: string | null;
  note: string | null;
}

export interface DmStoreQueries {
  /** Jobs per device and status (statuses a device has none of are left out). */
  jobCounts(): Promise<JobCount[]>;
  /** Every device's latest session (devices without sessions are left out). */
  lastSessions(): Promise<LastSession[]>;
  /** Messages [offset, offset + limit) of the session, in seq order, bytes included. */
  messagePage(sessionId: number, offset: number, limit: number): Promise<MessageRecord[]>;
  /** Every message of the session in seq order, without the bytes. */
  messageEnvelopes(sessionId: number): Promise<MessageEnvelope[]>;
  /** The time of the session's first message (by seq); null when it has none. */
  firstMessageAt(sessionId: number): Promise<string | null>;
  /** How many messages the session has (without reading them). */
  messageCount(sessionId: number): Promise<number>;
  /** The cached values of these nodes of the device's tree (nodes not cached are left out); a tree may hold 100k nodes. */
  treeValues(device: string, uris: readonly string[]): Promise<{ uri: string; data: string | null }[]>;
  /** The highest session id; 0 when there is none. */
  maxSessionId(): Promise<number>;
  /** Ids of the sessions in state `active`, ascending. */
  activeSessionIds(): Promise<number[]>;
}
