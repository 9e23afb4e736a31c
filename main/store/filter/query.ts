/**
 * Runs display filters over the message index: the packet list's page of messages (packets.query)
 * and the matching commands (`dmw session find`). Reads only the index tables and sessions, never
 * the stored message bytes.
 *
 * Plan: a filter that reads only message fields scans msg_index (joined to sessions). One that reads
 * command fields runs over cmd_index joined to its message (SQLite drives from an index such as
 * cmd_index_by_cmd or the FTS table when the filter is selective), united with the messages that
 * have no commands when the filter can hold without one.
 */
import type Database from 'better-sqlite3';
import { FilterError, parseFilter, type FilterExpr } from './parse.js';
import { aliasesUsed, compilePatterns, compileWhere, firstMatches, REGEX_FUNCTION, usesCommands, whereSql, type SqlPart } from './compile.js';
import { DEFAULT_REGEX_STEPS, RegexBudgetError, type Budget, type SafeRegex } from './regex.js';

export type SortColumn = 'time' | 'session' | 'device' | 'dir' | 'msgId' | 'size' | 'enc' | 'status' | 'findings';

const SORT_SQL: Readonly<Record<SortColumn, string>> = {
  time: 'm.at_ms', session: 'm.session_id', device: 's.device', dir: 'm.dir', msgId: 'm.msg_id', size: 'm.size', enc: 'm.enc', status: 'm.worst',
  findings: '(m.f_error * 1000000 + m.f_warning * 1000 + m.f_note)',
};

export interface MessageHit {
  id: number;
  sessionId: number;
  seq: number;
  at: number;
  devId: string;
  dir: 'in' | 'out';
  msgId: string | null;
  size: number;
  enc: string;
  commands: string;
  status: string;
  worst: number | null;
  findings: { error: number; warning: number; note: number };
}

export interface CommandHit {
  session: number;
  /** The message's seq in its session (as `dmw session show` numbers them). */
  msg: number;
  cmdId: string;
  cmd: string;
  uri: string | null;
  status: number | null;
}

/** The regex patterns of the running query (the SQL function reads them) and its step budget. */
let active: { patterns: Map<string, SafeRegex>; budget: Budget } | undefined;
const registered = new WeakSet<Database.Database>();

function register(db: Database.Database): void {
  if (registered.has(db)) return;
  db.function(REGEX_FUNCTION, { deterministic: true, varargs: false }, (pattern: unknown, text: unknown) => {
    if (typeof text !== 'string' || typeof pattern !== 'string') return 0;
    const re = active?.patterns.get(pattern);
    if (!re) throw new Error(`${REGEX_FUNCTION}: pattern not compiled for this query`);
    return re.test(text, active!.budget) ? 1 : 0;
  });
  registered.add(db);
}

/** Runs `fn` with the filter's patterns available to SQL; a regex over budget becomes a located error. */
function withPatterns<T>(db: Database.Database, expr: FilterExpr, steps: number, fn: () => T): T {
  register(db);
  const patterns = compilePatterns(expr);
  const prev = active;
  active = { patterns, budget: { steps } };
  try {
    return fn();
  } catch (e) {
    if (e instanceof RegexBudgetError || (e instanceof Error && e.message.includes('took too long over the stored data'))) {
      const at = firstMatches(expr) ?? { pos: 0, len: 0 };
      throw new FilterError((e as Error).message, at.pos, at.len);
    }
    throw e;
  } finally {
    active = prev;
  }
}

export interface QueryOptions {
  /** Regex steps one query may spend (regex.ts); default DEFAULT_REGEX_STEPS. */
  regexSteps?: number;
}

const FROM_MESSAGES = 'msg_index m JOIN sessions s ON s.id = m.session_id';
const FROM_COMMANDS = 'cmd_index c JOIN msg_index m ON m.message_id = c.message_id JOIN sessions s ON s.id = m.session_id';

/** The matching messages' ids as one statement, or null when the filter reads message fields only. */
function hitsQuery(expr: FilterExpr): SqlPart | null {
  if (!usesCommands(expr)) return null;
  // Join the message and session rows only when the filter reads them (500k command rows per 100k messages).
  const used = aliasesUsed(expr);
  const from = used.s ? FROM_COMMANDS : used.m ? 'cmd_index c JOIN msg_index m ON m.message_id = c.message_id' : 'cmd_index c';
  const withCmd = whereSql(compileWhere(expr, true, used.m || used.s ? 'm.message_id' : 'c.message_id'));
  const without = compileWhere(expr, false);
  const parts: SqlPart[] = [{ sql: `SELECT c.message_id FROM ${from} WHERE ${withCmd.sql}`, params: withCmd.params }];
  if (!('const' in without) || without.const) {
    const w = whereSql(without);
    parts.push({ sql: `SELECT m.message_id FROM ${FROM_MESSAGES} WHERE m.ncmd = 0 AND ${w.sql}`, params: w.params });
  }
  return { sql: parts.map((p) => p.sql).join(' UNION ALL '), params: parts.flatMap((p) => p.params) };
}

/**
 * The hits of a command-level filter, collected once per query into a temporary table (the
 * connection's own, so a read-only reader can write it): the count and the page both read it.
 */
function collectHits(db: Database.Database, hits: SqlPart): number {
  db.exec('CREATE TEMP TABLE IF NOT EXISTS filter_hits (id INTEGER PRIMARY KEY)');
  db.prepare('DELETE FROM temp.filter_hits').run();
  return db.prepare(`INSERT OR IGNORE INTO temp.filter_hits (id) ${hits.sql}`).run(...hits.params).changes;
}

/**
 * The WHERE over FROM_MESSAGES that picks the messages matching `expr`; for a command-level filter
 * the hits are collected first (collectHits) and `hits` is their count, else null.
 */
function messagesWhere(db: Database.Database, expr: FilterExpr): { where: SqlPart; hits: number | null } {
  const hits = hitsQuery(expr);
  if (!hits) return { where: whereSql(compileWhere(expr, false)), hits: null };
  return { where: { sql: 'm.message_id IN (SELECT id FROM temp.filter_hits)', params: [] }, hits: collectHits(db, hits) };
}

/** One page of messages matching `filter`, and how many match. Throws FilterError for a bad filter. */
export function queryMessages(
  db: Database.Database,
  q: { filter: string; offset: number; limit: number; sort?: { column: SortColumn; desc: boolean } },
  opts: QueryOptions = {},
): { total: number; rows: MessageHit[] } {
  const expr = parseFilter(q.filter);
  return withPatterns(db, expr, opts.regexSteps ?? DEFAULT_REGEX_STEPS, () => {
    const { where, hits } = messagesWhere(db, expr);
    const total = hits ?? (db.prepare(`SELECT COUNT(*) AS n FROM ${FROM_MESSAGES} WHERE ${where.sql}`).get(...where.params) as { n: number }).n;
    const dir = q.sort?.desc ? 'DESC' : 'ASC';
    const order = q.sort ? `${SORT_SQL[q.sort.column]} ${dir}, m.message_id ${dir}` : 'm.message_id ASC';
    const rows = db.prepare(`SELECT m.message_id, m.session_id, m.seq, m.at_ms, s.device, m.dir, m.msg_id, m.size, m.enc, m.commands, m.status, m.worst,
        m.f_error, m.f_warning, m.f_note FROM ${FROM_MESSAGES} WHERE ${where.sql} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...where.params, q.limit, q.offset) as Row[];
    return { total, rows: rows.map(hitFromRow) };
  });
}

/**
 * The sessions with at least one message matching `filter`, newest first, at most `limit` of them
 * (`truncated` says there were more): the Sessions view's content search. Throws FilterError.
 */
export function sessionsMatching(db: Database.Database, filter: string, limit: number, opts: QueryOptions = {}): { ids: number[]; truncated: boolean } {
  const expr = parseFilter(filter);
  return withPatterns(db, expr, opts.regexSteps ?? DEFAULT_REGEX_STEPS, () => {
    const { where } = messagesWhere(db, expr);
    const rows = db.prepare(`SELECT DISTINCT m.session_id AS id FROM ${FROM_MESSAGES} WHERE ${where.sql} ORDER BY m.session_id DESC LIMIT ?`)
      .all(...where.params, limit + 1) as { id: number }[];
    return { ids: rows.slice(0, limit).map((r) => r.id), truncated: rows.length > limit };
  });
}

interface Row {
  message_id: number; session_id: number; seq: number; at_ms: number; device: string | null; dir: 'in' | 'out'; msg_id: string | null; size: number; enc: string;
  commands: string; status: string; worst: number | null; f_error: number; f_warning: number; f_note: number;
}

function hitFromRow(r: Row): MessageHit {
  return {
    id: r.message_id, sessionId: r.session_id, seq: r.seq, at: r.at_ms, devId: r.device ?? '', dir: r.dir, msgId: r.msg_id, size: r.size, enc: r.enc,
    commands: r.commands, status: r.status, worst: r.worst, findings: { error: r.f_error, warning: r.f_warning, note: r.f_note },
  };
}

/**
 * Every command matching `filter` (one per command, its first matching item's URI), in log order:
 * `dmw session find`. Messages without commands have no line. Throws FilterError for a bad filter.
 */
export function findCommands(db: Database.Database, filter: string, opts: QueryOptions = {}): CommandHit[] {
  const expr = parseFilter(filter);
  return withPatterns(db, expr, opts.regexSteps ?? DEFAULT_REGEX_STEPS, () => {
    const w = whereSql(compileWhere(expr, true));
    const rows = db.prepare(`SELECT c.session_id AS session, m.seq AS msg, c.pos AS pos, c.cmd_id AS cmdId, c.cmd AS cmd, c.uri AS uri, c.status AS status
      FROM ${FROM_COMMANDS} WHERE ${w.sql} ORDER BY c.message_id, c.pos, c.item`).all(...w.params) as (CommandHit & { pos: number })[];
    // One line per command: the first of its matching items.
    const out: CommandHit[] = [];
    let last = '';
    for (const r of rows) {
      const key = `${r.session}:${r.msg}:${r.pos}`;
      if (key === last) continue;
      last = key;
      out.push({ session: r.session, msg: r.msg, cmdId: r.cmdId, cmd: r.cmd, uri: r.uri, status: r.status });
    }
    return out;
  });
}
