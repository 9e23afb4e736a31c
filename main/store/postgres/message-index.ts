/**
 * The message index on PostgreSQL (migration v2): the same tables and rows as the SQLite index
 * (main/store/message-index.ts, read it first), written in the transaction that logs the messages
 * (PgOps.addMessage/addMessages), so display filters (filter-sql.ts) never decode stored messages.
 *
 * Differences, and why:
 *  - No FTS table: cmd_index.data_text holds an item's text (up to MAX_INDEXED_DATA, NULL when empty:
 *    SQLite's cmd_text rows), with a pg_trgm GIN index when the extension can be created (Debian's
 *    postgresql pulls postgresql-contrib, which ships it; it is "trusted", so the database owner may
 *    create it). Without it `data contains` still works, by scanning.
 *  - The hot path writes one statement per turn for the whole index: both tables filled from arrays
 *    (INSERT ... SELECT FROM unnest, a fixed text whatever the number of rows, never near the
 *    65,535-parameter limit) and, in the same statement, the UPDATE that gives earlier commands the
 *    code of the Status answering them. Statements of one statement do not see each other's rows, so
 *    a Status answering a command of the same batch (a turn's request and answer) is linked here in
 *    JS, in log order, before the rows go out; the UPDATE only reaches rows of earlier turns.
 *  - Text columns are COLLATE "C": sort order is UTF-8 byte order, as SQLite's BINARY.
 */
import { messageFacts, parsedMessageFacts, DATA_EXCERPT, type MessageFacts } from '../message-facts.js';
import type { JudgedFinding, LoggedMessage } from '../message-index.js';
import type { CommandHit, MessageHit, QueryOptions } from '../filter/query.js';
import type { DmMessageIndex, MessageQuery } from '../message-index-store.js';
import { pgFindCommands, pgQueryMessages, pgSessionsMatching, pgText } from './filter-sql.js';
import type { NewMessage } from '../types.js';
import type { Query } from './ops.js';

/** Migration v2 (migrations.ts). */
export const INDEX_MIGRATION_SQL = `
CREATE TABLE msg_index (
  message_id bigint PRIMARY KEY,
  session_id bigint NOT NULL,
  seq integer NOT NULL,
  at_ms bigint NOT NULL,
  dir text COLLATE "C" NOT NULL,
  msg_id text COLLATE "C",
  size integer NOT NULL,
  enc text COLLATE "C" NOT NULL,
  cred text COLLATE "C",
  decoded boolean NOT NULL,
  ncmd integer NOT NULL,
  commands text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL,
  worst integer,
  f_error integer NOT NULL DEFAULT 0,
  f_warning integer NOT NULL DEFAULT 0,
  f_note integer NOT NULL DEFAULT 0
);
CREATE INDEX msg_index_by_session ON msg_index (session_id, seq);
CREATE INDEX msg_index_by_time ON msg_index (at_ms, message_id);
CREATE TABLE cmd_index (
  id bigserial PRIMARY KEY,
  message_id bigint NOT NULL,
  session_id bigint NOT NULL,
  dir text COLLATE "C" NOT NULL,
  msg_id text COLLATE "C",
  pos integer NOT NULL,
  item integer NOT NULL,
  cmd_id text COLLATE "C" NOT NULL,
  cmd text COLLATE "C" NOT NULL,
  uri text COLLATE "C",
  status integer,
  msg_ref text COLLATE "C",
  cmd_ref text COLLATE "C",
  data text COLLATE "C",
  data_text text COLLATE "C"
);
CREATE INDEX cmd_index_by_message ON cmd_index (message_id, pos, item);
CREATE INDEX cmd_index_by_ref ON cmd_index (session_id, dir, msg_id, cmd_id);
CREATE TABLE msg_findings (
  message_id bigint NOT NULL,
  rule text COLLATE "C" NOT NULL,
  severity text COLLATE "C" NOT NULL
);
CREATE INDEX msg_findings_by_message ON msg_findings (message_id);
CREATE INDEX msg_findings_by_rule ON msg_findings (rule, message_id);
CREATE TABLE judged_sessions (
  session_id bigint PRIMARY KEY,
  messages integer NOT NULL
);
CREATE TABLE msg_index_backfill (up_to bigint NOT NULL);
INSERT INTO msg_index_backfill (up_to) SELECT max(id) FROM messages HAVING count(*) > 0;
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX cmd_index_text_trgm ON cmd_index USING gin (data_text gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'pg_trgm not available (%): data contains scans instead of using an index', SQLERRM;
END
$$;
`;

const MSG_COLUMNS = 'message_id, session_id, seq, at_ms, dir, msg_id, size, enc, cred, decoded, ncmd, commands, status, worst';
const MSG_TYPES = ['bigint', 'bigint', 'integer', 'bigint', 'text', 'text', 'integer', 'text', 'text', 'boolean', 'integer', 'text', 'text', 'integer'];
const CMD_COLUMNS = 'message_id, session_id, dir, msg_id, pos, item, cmd_id, cmd, uri, status, msg_ref, cmd_ref, data, data_text';
const CMD_TYPES = ['bigint', 'bigint', 'text', 'text', 'integer', 'integer', 'text', 'text', 'text', 'integer', 'text', 'text', 'text', 'text'];
const LINK_TYPES = ['integer', 'bigint', 'text', 'text', 'text', 'bigint'];

const unnest = (types: readonly string[], first: number) => `unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')})`;

/**
 * The whole index write of a batch: one statement, its text fixed. Without Statuses answering rows
 * of earlier turns, only INSERTs: prepared once per connection (a named statement: its plan is not
 * made again on every turn). With them (most turns: a request's Statuses answer the commands of the
 * previous answer) the statement is sent unnamed, so it is planned for its arrays and the table as
 * they are: a named statement's generic plan, made once while cmd_index was young, joined the links
 * to cmd_index by a hash join over a sequential scan of the whole table, and kept doing so as the
 * table grew (the bench: 1.5 ms of the database's CPU per turn at 3,000 rows, and rising), where the
 * plan made for the actual two or three links probes cmd_index_by_ref.
 */
const INSERT_MESSAGES = `INSERT INTO msg_index (${MSG_COLUMNS}) SELECT * FROM ${unnest(MSG_TYPES, 1)}`;
const INSERT_COMMANDS = `INSERT INTO cmd_index (${CMD_COLUMNS}) SELECT * FROM ${unnest(CMD_TYPES, 1 + MSG_TYPES.length)}`;
export const INDEX_STATEMENT = { name: 'dmw_index_rows', text: `WITH mi AS (${INSERT_MESSAGES}) ${INSERT_COMMANDS}` };
export const INDEX_AND_LINK_STATEMENT = {
  text: `WITH mi AS (${INSERT_MESSAGES}), ci AS (${INSERT_COMMANDS})
UPDATE cmd_index c SET status = v.status FROM ${unnest(LINK_TYPES, 1 + MSG_TYPES.length + CMD_TYPES.length)} AS v (status, session_id, dir, msg_id, cmd_id, before)
WHERE c.session_id = v.session_id AND c.dir = v.dir AND c.msg_id = v.msg_id AND c.cmd_id = v.cmd_id AND c.cmd <> 'Status' AND c.message_id < v.before`,
};

/**
 * A named statement through a Query: node-postgres takes a query config object where the text goes
 * (pool.query and client.query both do), so the store's runners pass it on unchanged.
 */
const named = (s: { name: string; text: string }) => s as unknown as string;

/** Columns as arrays (one array per column, a row per index). */
const columns = (n: number): unknown[][] => Array.from({ length: n }, () => []);

/**
 * Indexes logged messages in the caller's transaction (the one that logged them): the rows
 * message-index.ts's indexMessages writes on SQLite, in one statement.
 */
export async function indexLoggedMessages(q: Query, messages: readonly LoggedMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const msg = columns(MSG_TYPES.length);
  const cmd = columns(CMD_TYPES.length);
  // This batch's command rows by what a Status would name (session, dir, MsgID, CmdID), for linking in JS.
  const batchRows = new Map<string, number[]>();
  // Links to rows of earlier turns: the last Status per command wins, as with SQLite's UPDATE per Status in log order.
  const links = new Map<string, unknown[]>();
  for (const m of messages) {
    const f: MessageFacts = m.parsed ? parsedMessageFacts(m.parsed, m.bytes, m.contentType) : messageFacts(m.bytes, m.contentType);
    const row = [m.id, m.sessionId, m.seq, Math.round(m.atMs), m.direction, pgText(m.msgId ?? f.hdrMsgId), m.bytes.length, f.enc, pgText(f.cred), f.decoded,
      f.commands.length, pgText(f.commandSummary), f.statusSummary, f.worst];
    row.forEach((v, i) => msg[i]!.push(v));
    const msgId = pgText(f.hdrMsgId ?? m.msgId);
    const peer = m.direction === 'in' ? 'out' : 'in';
    // Statuses first link to what is already there (earlier messages), as when each message was indexed alone.
    for (const c of f.commands) {
      if (c.cmd !== 'Status' || c.status === null || c.msgRef === null || c.cmdRef === null || c.cmdRef === '0') continue;
      const ref = [m.sessionId, peer, pgText(c.msgRef), pgText(c.cmdRef)];
      const key = JSON.stringify(ref);
      for (const r of batchRows.get(key) ?? []) cmd[9]![r] = c.status;
      links.set(key, [c.status, ...ref, m.id]);
    }
    for (const c of f.commands) {
      const r = cmd[0]!.length;
      const values = [m.id, m.sessionId, m.direction, msgId, c.pos, c.item, pgText(c.cmdId), pgText(c.cmd), pgText(c.uri), c.status, pgText(c.msgRef), pgText(c.cmdRef),
        c.data === null ? null : pgText(c.data.slice(0, DATA_EXCERPT)), c.data === null || c.data.length === 0 ? null : pgText(c.data)];
      values.forEach((v, i) => cmd[i]!.push(v));
      if (c.cmd !== 'Status' && msgId !== null) {
        const key = JSON.stringify([m.sessionId, m.direction, msgId, pgText(c.cmdId)]);
        const list = batchRows.get(key);
        if (list) list.push(r);
        else batchRows.set(key, [r]);
      }
    }
  }
  if (links.size === 0) {
    await q(named(INDEX_STATEMENT), [...msg, ...cmd]);
    return;
  }
  const link = columns(LINK_TYPES.length);
  for (const l of links.values()) l.forEach((v, i) => link[i]!.push(v));
  await q(INDEX_AND_LINK_STATEMENT.text, [...msg, ...cmd, ...link]);
}

/** Any 64-bit number of our own: catch-ups of several instances take turns. */
const CATCH_UP_LOCK = 0x646d_775f_6978; // "dmw_ix"

interface UnindexedRow { id: number; session_id: number; seq: number; direction: 'in' | 'out'; at_ms: number; msg_id: string | null; content_type: string | null; bytes: Buffer }

/**
 * Messages without index rows. Every message is indexed in the transaction that logs it, so the
 * only ones are those logged before migration v2 (msg_index_backfill says how far they go, until a
 * catch-up has indexed them) and any past the highest indexed id (written by other means): both
 * cheap to count, as SQLite's max-id comparison, without an anti-join over every message per query.
 */
export async function pgUnindexedCount(q: Query): Promise<number> {
  const r = await q<{ n: number }>(`SELECT CASE WHEN EXISTS (SELECT 1 FROM msg_index_backfill)
      THEN (SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM msg_index i WHERE i.message_id = m.id))
      ELSE (SELECT count(*) FROM messages WHERE id > (SELECT coalesce(max(message_id), 0) FROM msg_index)) END AS n`);
  return r.rows[0]!.n;
}

/** Indexes every message without index rows, in id order, in batches; run it in a transaction of its own. Returns how many. */
export async function pgCatchUpIndex(q: Query, batch = 2000): Promise<number> {
  await q('SELECT pg_advisory_xact_lock($1)', [CATCH_UP_LOCK]);
  let n = 0;
  // Keyset by id: each batch starts where the last one ended (a backfill of millions never rescans).
  for (let after = 0; ;) {
    const rows = (await q<UnindexedRow>(`SELECT id, session_id, seq, direction, round(extract(epoch FROM at) * 1000)::float8 AS at_ms, msg_id, content_type, bytes
      FROM messages m WHERE m.id > $2 AND NOT EXISTS (SELECT 1 FROM msg_index i WHERE i.message_id = m.id) ORDER BY id LIMIT $1`, [batch, after])).rows;
    if (rows.length === 0) {
      await q('DELETE FROM msg_index_backfill');
      return n;
    }
    // Command rows of a message without its message row cannot be written together with ours.
    await q('DELETE FROM cmd_index WHERE message_id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
    await indexLoggedMessages(q, rows.map((r) => ({
      id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction, atMs: r.at_ms, msgId: r.msg_id, contentType: r.content_type, bytes: new Uint8Array(r.bytes),
    })));
    n += rows.length;
    after = rows[rows.length - 1]!.id;
  }
}

/** A session's findings, replacing an earlier judgement (message-index.ts's recordFindings); run it in a transaction. */
export async function pgRecordFindings(q: Query, sessionId: number, messages: number, findings: readonly JudgedFinding[]): Promise<void> {
  await q('DELETE FROM msg_findings WHERE message_id IN (SELECT message_id FROM msg_index WHERE session_id = $1)', [sessionId]);
  await q('UPDATE msg_index SET f_error = 0, f_warning = 0, f_note = 0 WHERE session_id = $1 AND (f_error + f_warning + f_note) > 0', [sessionId]);
  if (findings.length > 0) {
    const seqs = findings.map((f) => f.msg);
    const rules = findings.map((f) => pgText(f.rule));
    const severities = findings.map((f) => f.severity);
    // Findings on a seq the session does not have are dropped, as on SQLite.
    await q(`WITH f AS (SELECT i.message_id, f.rule, f.severity FROM unnest($2::integer[], $3::text[], $4::text[]) AS f (seq, rule, severity)
        JOIN msg_index i ON i.session_id = $1 AND i.seq = f.seq),
      ins AS (INSERT INTO msg_findings (message_id, rule, severity) SELECT message_id, rule, severity FROM f)
      UPDATE msg_index m SET f_error = n.e, f_warning = n.w, f_note = n.o FROM (SELECT message_id, count(*) FILTER (WHERE severity = 'error') AS e,
        count(*) FILTER (WHERE severity = 'warning') AS w, count(*) FILTER (WHERE severity = 'note') AS o FROM f GROUP BY message_id) n
      WHERE m.message_id = n.message_id`, [sessionId, seqs, rules, severities]);
  }
  await q('INSERT INTO judged_sessions (session_id, messages) VALUES ($1, $2) ON CONFLICT (session_id) DO UPDATE SET messages = excluded.messages', [sessionId, messages]);
}

/** Sessions whose findings are missing or older than their messages (message-index.ts's unjudgedSessions). */
export async function pgUnjudgedSessions(q: Query, since?: { afterId: number; alsoIds: readonly number[] }): Promise<{ id: number; messages: number }[]> {
  const narrow = since ? `WHERE s.id > $1 OR s.state = 'active' OR s.id = ANY($2::bigint[])` : '';
  const args = since ? [since.afterId, [...since.alsoIds]] : [];
  return (await q<{ id: number; messages: number }>(`SELECT id, messages FROM (
      SELECT s.id AS id, j.messages AS judged, (SELECT max(i.seq) FROM msg_index i WHERE i.session_id = s.id) AS messages
      FROM sessions s LEFT JOIN judged_sessions j ON j.session_id = s.id ${narrow}) x
    WHERE messages IS NOT NULL AND (judged IS NULL OR judged < messages) ORDER BY id`, args)).rows;
}

/** Of `ids`, the sessions judged for all of their messages (a live session keeps logging), ascending. */
export async function pgJudgedSessions(q: Query, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  return (await q<{ id: number }>(`SELECT j.session_id AS id FROM judged_sessions j WHERE j.session_id = ANY($1::bigint[])
    AND j.messages >= (SELECT max(i.seq) FROM msg_index i WHERE i.session_id = j.session_id) ORDER BY 1`, [[...ids]])).rows.map((r) => r.id);
}

/** A message being logged as the index reads it (server-store.ts's loggedMessage). */
export function loggedMessage(m: NewMessage, seq: number, id: number): LoggedMessage {
  return { id, sessionId: m.sessionId, seq, direction: m.direction, atMs: m.at, msgId: m.msgId ?? null, contentType: m.contentType ?? null, bytes: m.bytes, ...(m.parsed ? { parsed: m.parsed } : {}) };
}

/** DmMessageIndex on PostgreSQL: reads on the pool, writes each in a transaction of its own. */
export class PgMessageIndex implements DmMessageIndex {
  constructor(
    private readonly q: Query,
    private readonly inTx: <T>(fn: (q: Query) => Promise<T>) => Promise<T>,
  ) {}

  queryMessages(query: MessageQuery, opts?: QueryOptions): Promise<{ total: number; rows: MessageHit[] }> {
    return pgQueryMessages(this.q, query, opts);
  }

  sessionsMatching(filter: string, limit: number, opts?: QueryOptions): Promise<{ ids: number[]; truncated: boolean }> {
    return pgSessionsMatching(this.q, filter, limit, opts);
  }

  findCommands(filter: string, opts?: QueryOptions): Promise<CommandHit[]> {
    return pgFindCommands(this.q, filter, opts);
  }

  unindexedCount(): Promise<number> {
    return pgUnindexedCount(this.q);
  }

  catchUpIndex(): Promise<number> {
    return this.inTx((q) => pgCatchUpIndex(q));
  }

  unjudgedSessions(since?: { afterId: number; alsoIds: readonly number[] }): Promise<{ id: number; messages: number }[]> {
    return pgUnjudgedSessions(this.q, since);
  }

  recordFindings(sessionId: number, messages: number, findings: readonly JudgedFinding[]): Promise<void> {
    return this.inTx((q) => pgRecordFindings(q, sessionId, messages, findings));
  }

  judgedSessions(ids: readonly number[]): Promise<number[]> {
    return pgJudgedSessions(this.q, ids);
  }
}
