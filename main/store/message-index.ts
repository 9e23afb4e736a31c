/**
 * The message index (schema v3): what display filters and the packet list read instead of decoding
 * stored messages.
 *
 *  - msg_index: one row per logged message (same id): time in ms, direction, MsgID, size, encoding,
 *    the credential it carries, the command and status summaries, the worst Status code and the
 *    judge's finding counts.
 *  - cmd_index: one row per command item (CmdID, command, URI, status code, data excerpt). A command's
 *    status is its own code for a Status, and for any other command the code of the Status that
 *    answered it (filled when that Status is logged: a Status names the MsgID and CmdID it answers).
 *  - cmd_text: FTS5 (trigram tokenizer, case-sensitive) over each item's data, rowid = cmd_index.id,
 *    for content search (`data contains "..."`).
 *  - msg_findings / judged_sessions: the judge's findings per message, stored when a session is judged.
 *
 * When rows are written: messages the server logs in its group commit (ServerStore.addMessage(s)
 * inside group()/groupAsync(): live sessions, rejections, imports through the API) get theirs from a
 * deferred indexer, in batches of many messages per transaction, off the answer's path
 * (sqlite/deferred-index.ts: FTS5 writes a segment at every COMMIT and every statement has a fixed
 * cost, so a batch pays them once for tens of messages). Messages logged through tx() (tools, the
 * CLI's imports) are indexed in their own transaction. Either way the index is a prefix of the
 * messages by id, and `catchUpIndex` indexes whatever follows it (a crash's lost batch, another
 * process's pending one) from the stored bytes, or from decoded forms still held (`held`). Every
 * reader of the SQLite store catches up first (message-index-sqlite.ts), so none misses a stored
 * message; the v2 -> v3 migration backfills existing folders the same way.
 *
 * The server hands over the message it decoded (LoggedMessage.parsed), so the index never decodes a
 * message twice; each table gets one multi-row INSERT per 32 rows of a batch. Figures:
 * test/bench/README.md, "message index".
 */
import type Database from 'better-sqlite3';
import { messageFacts, parsedMessageFacts, DATA_EXCERPT, type MessageFacts } from './message-facts.js';
import type { SyncML } from '../protocol/model.js';

export const INDEX_SCHEMA = `
CREATE TABLE IF NOT EXISTS msg_index (
  message_id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  dir TEXT NOT NULL,
  msg_id TEXT,
  size INTEGER NOT NULL,
  enc TEXT NOT NULL,
  cred TEXT,
  decoded INTEGER NOT NULL,
  ncmd INTEGER NOT NULL,
  commands TEXT NOT NULL,
  status TEXT NOT NULL,
  worst INTEGER,
  f_error INTEGER NOT NULL DEFAULT 0,
  f_warning INTEGER NOT NULL DEFAULT 0,
  f_note INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS msg_index_by_session ON msg_index (session_id, seq);
CREATE INDEX IF NOT EXISTS msg_index_by_time ON msg_index (at_ms);
CREATE TABLE IF NOT EXISTS cmd_index (
  id INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL,
  session_id INTEGER NOT NULL,
  dir TEXT NOT NULL,
  msg_id TEXT,
  pos INTEGER NOT NULL,
  item INTEGER NOT NULL,
  cmd_id TEXT NOT NULL,
  cmd TEXT NOT NULL,
  uri TEXT,
  status INTEGER,
  msg_ref TEXT,
  cmd_ref TEXT,
  data TEXT
);
CREATE INDEX IF NOT EXISTS cmd_index_by_message ON cmd_index (message_id, pos, item);
CREATE INDEX IF NOT EXISTS cmd_index_by_ref ON cmd_index (session_id, dir, msg_id, cmd_id);
CREATE VIRTUAL TABLE IF NOT EXISTS cmd_text USING fts5 (data, tokenize = 'trigram case_sensitive 1');
CREATE TABLE IF NOT EXISTS msg_findings (
  message_id INTEGER NOT NULL,
  rule TEXT NOT NULL,
  severity TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS msg_findings_by_message ON msg_findings (message_id);
CREATE INDEX IF NOT EXISTS msg_findings_by_rule ON msg_findings (rule, message_id);
CREATE TABLE IF NOT EXISTS judged_sessions (
  session_id INTEGER PRIMARY KEY,
  messages INTEGER NOT NULL
);
`;

/** A logged message as the index needs it. */
export interface LoggedMessage {
  id: number;
  sessionId: number;
  seq: number;
  direction: 'in' | 'out';
  atMs: number;
  msgId: string | null;
  contentType: string | null;
  bytes: Uint8Array;
  /** What `bytes` decode to, when the caller holds it (the server); else the index decodes them. */
  parsed?: SyncML;
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function sql(db: Database.Database, text: string): Database.Statement {
  let m = statements.get(db);
  if (!m) statements.set(db, (m = new Map()));
  let st = m.get(text);
  if (!st) m.set(text, (st = db.prepare(text)));
  return st;
}

/** Rows per multi-row INSERT (a statement is prepared once per row count up to this). */
const ROWS_PER_INSERT = 32;
const MSG_COLUMNS = '(message_id, session_id, seq, at_ms, dir, msg_id, size, enc, cred, decoded, ncmd, commands, status, worst)';
const MSG_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const CMD_COLUMNS = '(message_id, session_id, dir, msg_id, pos, item, cmd_id, cmd, uri, status, msg_ref, cmd_ref, data)';
const CMD_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

const insertTexts = new Map<string, string[]>();

/** `INSERT INTO table columns VALUES row, row, ...` with `n` rows, its text built and prepared once per n. */
function insertRows(db: Database.Database, table: string, columns: string, row: string, n: number): Database.Statement {
  let texts = insertTexts.get(table);
  if (!texts) insertTexts.set(table, (texts = []));
  return sql(db, (texts[n] ??= `INSERT INTO ${table} ${columns} VALUES ${Array.from({ length: n }, () => row).join(', ')}`));
}

/**
 * Indexes logged messages, in id order; runs in the caller's transaction. Few statements, however
 * many messages (the deferred indexer hands over a batch of them; sqlite/deferred-index.ts): one
 * msg_index INSERT per ROWS_PER_INSERT messages, one cmd_index INSERT and one FTS INSERT per
 * ROWS_PER_INSERT command items across the messages, and one UPDATE per Status that answers a command.
 */
export function indexMessages(db: Database.Database, messages: readonly LoggedMessage[]): void {
  const all = messages.map((m) => (m.parsed ? parsedMessageFacts(m.parsed, m.bytes, m.contentType) : messageFacts(m.bytes, m.contentType)));
  for (let i = 0; i < messages.length; i += ROWS_PER_INSERT) {
    const n = Math.min(ROWS_PER_INSERT, messages.length - i);
    const args: unknown[] = [];
    for (let k = i; k < i + n; k++) {
      const m = messages[k]!;
      const f = all[k]!;
      args.push(m.id, m.sessionId, m.seq, Math.round(m.atMs), m.direction, m.msgId ?? f.hdrMsgId, m.bytes.length, f.enc, f.cred, f.decoded ? 1 : 0, f.commands.length, f.commandSummary, f.statusSummary, f.worst);
    }
    insertRows(db, 'msg_index', MSG_COLUMNS, MSG_ROW, n).run(...args);
  }
  indexCommands(db, messages, all);
}

/** Keys of a command a Status answers: session, direction, MsgID, CmdID (the UPDATE's equality tests). */
function refKey(sessionId: number, dir: string, msgId: string, cmdId: string): string {
  return `${sessionId}\u0000${dir}\u0000${msgId}\u0000${cmdId}`;
}

/**
 * The cmd_index rows of `messages` (message by message, item by item: the ids one message at a time
 * would give), their FTS rows, and the Status links. A command's status is that of the last Status,
 * in log order, of a later message that answers it (session, the other direction, its MsgID and
 * CmdID), as when each message was indexed alone with an UPDATE per Status. Links within the batch
 * are worked out here, before the INSERT; commands indexed before the batch get one UPDATE per chunk
 * of the batch's answers (the last answer per command: every one of them came later).
 */
function indexCommands(db: Database.Database, messages: readonly LoggedMessage[], all: readonly MessageFacts[]): void {
  if (messages.length === 0) return;
  // Pass 1: each row's status, links inside the batch resolved; the answers for earlier rows.
  const statusOf: (number | null)[] = [];
  const rowsByRef = new Map<string, number[]>();
  const answers = new Map<string, unknown[]>();
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k]!;
    const peer = m.direction === 'in' ? 'out' : 'in';
    const msgId = all[k]!.hdrMsgId ?? m.msgId;
    for (const c of all[k]!.commands) {
      if (c.cmd === 'Status' && c.status !== null && c.msgRef !== null && c.cmdRef !== null && c.cmdRef !== '0') {
        const key = refKey(m.sessionId, peer, c.msgRef, c.cmdRef);
        for (const r of rowsByRef.get(key) ?? []) statusOf[r] = c.status;
        answers.delete(key);
        answers.set(key, [c.status, m.sessionId, peer, c.msgRef, c.cmdRef]);
      }
      if (c.cmd !== 'Status' && msgId !== null) {
        const key = refKey(m.sessionId, m.direction, msgId, c.cmdId);
        let rows = rowsByRef.get(key);
        if (!rows) rowsByRef.set(key, (rows = []));
        rows.push(statusOf.length);
      }
      statusOf.push(c.status);
    }
  }
  // Pass 2: the rows, ROWS_PER_INSERT per INSERT across messages, and their FTS rows.
  let args: unknown[] = [];
  let data: (string | null)[] = [];
  const text: unknown[] = [];
  const flushText = (force: boolean) => {
    while (text.length >= 2 * ROWS_PER_INSERT || (force && text.length > 0)) {
      const part = text.splice(0, 2 * ROWS_PER_INSERT);
      insertRows(db, 'cmd_text', '(rowid, data)', '(?, ?)', part.length / 2).run(...part);
    }
  };
  const flushRows = () => {
    if (data.length === 0) return;
    // An INTEGER PRIMARY KEY without AUTOINCREMENT: the rows of one INSERT take MAX(id)+1, +2, ...
    // in order, so the last one's id gives every row's id (cheaper than RETURNING).
    const last = Number(insertRows(db, 'cmd_index', CMD_COLUMNS, CMD_ROW, data.length).run(...args).lastInsertRowid);
    for (let k = 0; k < data.length; k++) {
      const d = data[k]!;
      // Only items with data get an FTS row (content search finds nothing in the others).
      if (d !== null && d.length > 0) text.push(last - (data.length - 1 - k), d);
    }
    args = [];
    data = [];
    flushText(false);
  };
  let row = 0;
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k]!;
    const msgId = all[k]!.hdrMsgId ?? m.msgId;
    for (const c of all[k]!.commands) {
      args.push(m.id, m.sessionId, m.direction, msgId, c.pos, c.item, c.cmdId, c.cmd, c.uri, statusOf[row++], c.msgRef, c.cmdRef,
        c.data === null ? null : c.data.slice(0, DATA_EXCERPT));
      data.push(c.data);
      if (data.length === ROWS_PER_INSERT) flushRows();
    }
  }
  flushRows();
  flushText(true);
  // Pass 3: answers to commands indexed before the batch (one key per VALUES row: no ambiguity).
  const firstId = messages[0]!.id;
  const pending = [...answers.values()];
  for (let i = 0; i < pending.length; i += ROWS_PER_INSERT) {
    const part = pending.slice(i, i + ROWS_PER_INSERT);
    answerEarlier(db, part.length).run(...part.flat(), firstId);
  }
}

const answerTexts: string[] = [];

/** UPDATE of the commands before the batch that `n` answers (status, session, dir, msg_id, cmd_id) link to. */
function answerEarlier(db: Database.Database, n: number): Database.Statement {
  return sql(db, (answerTexts[n] ??= `UPDATE cmd_index SET status = v.column1
    FROM (VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ')}) AS v
    WHERE cmd_index.session_id = v.column2 AND cmd_index.dir = v.column3 AND cmd_index.msg_id = v.column4 AND cmd_index.cmd_id = v.column5
      AND cmd_index.cmd != 'Status' AND cmd_index.message_id < ?`));
}

interface MessageRow { id: number; session_id: number; seq: number; direction: 'in' | 'out'; at: string; msg_id: string | null; content_type: string | null; bytes: Buffer }

function logged(r: MessageRow): LoggedMessage {
  return { id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction, atMs: Date.parse(r.at), msgId: r.msg_id, contentType: r.content_type, bytes: new Uint8Array(r.bytes) };
}

/** Messages rows not in the index yet (cheap: both primary keys). */
export function unindexedCount(db: Database.Database): number {
  const r = sql(db, `SELECT (SELECT COALESCE(MAX(id), 0) FROM messages) AS m, (SELECT COALESCE(MAX(message_id), 0) FROM msg_index) AS i`).get() as { m: number; i: number };
  return r.m > r.i ? (sql(db, 'SELECT COUNT(*) AS n FROM messages WHERE id > ?').get(r.i) as { n: number }).n : 0;
}

export interface CatchUpOptions {
  /** Messages read per SELECT. */
  batch?: number;
  /** Stop after this many messages (a bounded transaction); default all. */
  max?: number;
  /**
   * The decoded form the caller still holds of a logged message (sqlite/deferred-index.ts's queue),
   * used instead of decoding the stored bytes when it is that very message (see `sameMessage`).
   */
  held?: (id: number) => LoggedMessage | undefined;
}

/**
 * The held message is the stored row: every field the index reads is equal, the bytes included. A
 * message rolled back with its request leaves its id free, and SQLite gives it to the next message
 * (AUTOINCREMENT's sequence rolls back too), possibly another process's: its held form is then
 * stale and the stored bytes are decoded instead.
 */
function sameMessage(h: LoggedMessage, r: MessageRow): boolean {
  return h.sessionId === r.session_id && h.seq === r.seq && h.direction === r.direction && h.msgId === r.msg_id
    && h.contentType === r.content_type && new Date(h.atMs).toISOString() === r.at && r.bytes.equals(h.bytes);
}

/**
 * catchUpIndex, saying also the highest message id indexed when it stopped (everything up to it is).
 * `more`: it stopped at `max` with messages left; `fromHeld`: how many were indexed from held decoded forms.
 */
export function catchUpThrough(db: Database.Database, opts: CatchUpOptions = {}): { indexed: number; through: number; more: boolean; fromHeld: number } {
  const batch = opts.batch ?? 2000;
  const max = opts.max ?? Infinity;
  let n = 0;
  let fromHeld = 0;
  let after = (sql(db, 'SELECT COALESCE(MAX(message_id), 0) AS i FROM msg_index').get() as { i: number }).i;
  // Leftovers of a partial index past that point would collide with the rows written now.
  sql(db, 'DELETE FROM msg_index WHERE message_id > ?').run(after);
  sql(db, 'DELETE FROM cmd_index WHERE message_id > ?').run(after);
  sql(db, 'DELETE FROM cmd_text WHERE rowid > (SELECT COALESCE(MAX(id), 0) FROM cmd_index)').run();
  for (;;) {
    const want = Math.min(batch, max - n);
    if (want <= 0) return { indexed: n, through: after, more: unindexedCount(db) > 0, fromHeld };
    const rows = sql(db, 'SELECT id, session_id, seq, direction, at, msg_id, content_type, bytes FROM messages WHERE id > ? ORDER BY id LIMIT ?').all(after, want) as MessageRow[];
    if (rows.length === 0) return { indexed: n, through: after, more: false, fromHeld };
    indexMessages(db, rows.map((r) => {
      const h = opts.held?.(r.id);
      if (h?.parsed && sameMessage(h, r)) {
        fromHeld++;
        return h;
      }
      return logged(r);
    }));
    n += rows.length;
    after = rows[rows.length - 1]!.id;
  }
}

/**
 * Indexes every message after the highest indexed id, in id order (the order they were committed),
 * in batches; runs in the caller's transaction, which must hold the write lock (BEGIN IMMEDIATE):
 * the highest indexed id is read inside it, so two processes catching up never index a message
 * twice. The v2 -> v3 migration calls it for the whole folder. Returns how many.
 */
export function catchUpIndex(db: Database.Database, opts: CatchUpOptions = {}): number {
  return catchUpThrough(db, opts).indexed;
}

/** v2 -> v3: the index tables, filled from the messages already stored. */
export function migrateToV3(db: Database.Database): void {
  db.exec(INDEX_SCHEMA);
  catchUpIndex(db);
}

const BUMP_FINDING: Readonly<Record<JudgedFinding['severity'], string>> = {
  error: 'UPDATE msg_index SET f_error = f_error + 1 WHERE message_id = ?',
  warning: 'UPDATE msg_index SET f_warning = f_warning + 1 WHERE message_id = ?',
  note: 'UPDATE msg_index SET f_note = f_note + 1 WHERE message_id = ?',
};

export interface JudgedFinding {
  /** The message's seq in its session. */
  msg: number;
  rule: string;
  severity: 'error' | 'warning' | 'note';
}

/**
 * Stores a session's findings (replacing what an earlier judgement of it stored) and the counts per
 * message; `messages` is how many of its messages were judged. Runs in the caller's transaction.
 */
export function recordFindings(db: Database.Database, sessionId: number, messages: number, findings: readonly JudgedFinding[]): void {
  sql(db, 'DELETE FROM msg_findings WHERE message_id IN (SELECT message_id FROM msg_index WHERE session_id = ?)').run(sessionId);
  sql(db, 'UPDATE msg_index SET f_error = 0, f_warning = 0, f_note = 0 WHERE session_id = ? AND (f_error + f_warning + f_note) > 0').run(sessionId);
  const idOf = sql(db, 'SELECT message_id FROM msg_index WHERE session_id = ? AND seq = ?');
  const add = sql(db, 'INSERT INTO msg_findings (message_id, rule, severity) VALUES (?, ?, ?)');
  for (const f of findings) {
    const row = idOf.get(sessionId, f.msg) as { message_id: number } | undefined;
    if (!row) continue;
    add.run(row.message_id, f.rule, f.severity);
    sql(db, BUMP_FINDING[f.severity]).run(row.message_id);
  }
  sql(db, 'INSERT INTO judged_sessions (session_id, messages) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET messages = excluded.messages').run(sessionId, messages);
}

/**
 * Sessions whose stored findings are missing or older than their messages (a live session judged
 * before its last messages). One index probe per session: messages are numbered 1..n by seq.
 * `since` narrows the look to sessions after an id, active ones and the listed ones (a sweep that
 * already saw the rest).
 */
export function unjudgedSessions(db: Database.Database, since?: { afterId: number; alsoIds: readonly number[] }): { id: number; messages: number }[] {
  const narrow = since ? `WHERE s.id > ? OR s.state = 'active' OR s.id IN (SELECT value FROM json_each(?))` : '';
  const args = since ? [since.afterId, JSON.stringify(since.alsoIds)] : [];
  return sql(db, `SELECT id, messages FROM (
      SELECT s.id AS id, j.messages AS judged, (SELECT MAX(i.seq) FROM msg_index i WHERE i.session_id = s.id) AS messages
      FROM sessions s LEFT JOIN judged_sessions j ON j.session_id = s.id ${narrow})
    WHERE messages IS NOT NULL AND (judged IS NULL OR judged < messages) ORDER BY id`).all(...args) as { id: number; messages: number }[];
}
