/**
 * Display filters on PostgreSQL: the filter AST (main/store/filter/parse.ts) compiled to SQL over
 * the PostgreSQL message index (message-index.ts here, migration v2), and the queries the packet list,
 * the Sessions view's content search and `dmw session find` run. Same answers as the SQLite side
 * (main/store/filter/compile.ts + query.ts) row for row, order and paging included
 * (test/integration/postgres-index.test.ts runs every filter of the SQLite tests on both):
 *
 *  - The boolean structure is shared (foldWith): constants folded, command fields false on a message
 *    without commands, every test two-valued (`col IS NOT NULL AND ...`) so `!` means "not".
 *  - Text compares byte for byte as SQLite's BINARY: equality is bytewise in PostgreSQL anyway, and
 *    sort keys use COLLATE "C" (UTF-8 byte order = SQLite's memcmp); NULLs sort first ascending and
 *    last descending, as in SQLite.
 *  - `contains` is strpos (case-sensitive, like SQLite's instr); on `data` it is LIKE over the full
 *    item text, which the pg_trgm GIN index serves when the extension is there (SQLite: FTS5 trigram).
 *  - Numbers are bound as float8 (a filter may say `size > 3.5`, as SQLite compares integer and real).
 *  - `matches` never reaches PostgreSQL's regex engine: before the statement runs, our step-bounded
 *    engine (filter/regex.ts) tests the candidates in JS, and the test becomes plain SQL over what
 *    matched: for a column, the distinct values it holds (`col = ANY($n)`); for `data`, the ids of
 *    the command items whose text matches (`c.id = ANY($n)`), every item tested once, as SQLite does.
 *    One step budget per query; over it, the same located FilterError as on SQLite.
 *  - PostgreSQL text cannot hold NUL: the index stores U+FFFD for it (message-index.ts, pgText), and
 *    filter values are mapped the same way, so a NUL in a filter finds what was stored.
 */
import { DATA_EXCERPT } from '../message-facts.js';
import { aliasesUsed, codepoints, compilePatterns, firstMatches, foldWith, SQL_OP, usesCommands, type Folded, type Leaf, type SqlPart } from '../filter/compile.js';
import type { FieldDef } from '../filter/fields.js';
import { FilterError, parseFilter, type FilterExpr } from '../filter/parse.js';
import type { CommandHit, MessageHit, QueryOptions, SortColumn } from '../filter/query.js';
import { DEFAULT_REGEX_STEPS, RegexBudgetError, type Budget, type SafeRegex } from '../filter/regex.js';
import type { Query } from './ops.js';

/** PostgreSQL text holds no NUL character: the index and the filter values both carry U+FFFD in its place. */
export function pgText(s: string): string;
export function pgText(s: string | null): string | null;
export function pgText(s: string | null): string | null {
  return s !== null && s.includes('\0') ? s.replace(/\0/g, '\uFFFD') : s;
}

/** What the `matches` tests of one query matched, computed in JS before the statement (see the top). */
type RegexHits = Map<string, string[] | number[]>;
const regexKey = (f: FieldDef, pattern: string) => `${f.column}\u0000${pattern}`;

/** The table and alias a field's column lives in (its column expression starts with the alias). */
const TABLE_OF: Readonly<Record<string, string>> = { s: 'sessions s', m: 'msg_index m', c: 'cmd_index c', f: 'msg_findings f' };

/** Rows of item text read per round trip while a `data matches` test runs. */
const TEXT_BATCH = 20_000;

async function regexHits(q: Query, expr: FilterExpr, patterns: Map<string, SafeRegex>, budget: Budget): Promise<RegexHits> {
  const out: RegexHits = new Map();
  const tests: { field: FieldDef; pattern: string }[] = [];
  (function walk(e: FilterExpr): void {
    if (e.kind === 'and' || e.kind === 'or') {
      walk(e.left);
      walk(e.right);
    } else if (e.kind === 'not') walk(e.expr);
    else if (e.kind === 'cmp' && e.op === 'matches') tests.push({ field: e.field, pattern: String(e.value) });
  })(expr);
  for (const { field, pattern } of tests) {
    const key = regexKey(field, pattern);
    if (out.has(key)) continue;
    const re = patterns.get(pattern)!;
    if (field.level === 'text') {
      // Every item with text, once (SQLite: the FTS table scanned by the dmw_regex function); only
      // those holding the literal every match contains, when the pattern has one long enough for
      // the trigram index (a text without it cannot match: same rows, fewer steps).
      const lit = usableLiteral(re.required);
      const narrow = lit === undefined ? '' : 'AND data_text LIKE $3::text';
      const ids: number[] = [];
      for (let after = 0; ;) {
        const rows = (await q<{ id: number; t: string }>(`SELECT id, data_text AS t FROM cmd_index WHERE data_text IS NOT NULL AND id > $1 ${narrow} ORDER BY id LIMIT $2`,
          lit === undefined ? [after, TEXT_BATCH] : [after, TEXT_BATCH, likeContains(lit)])).rows;
        for (const r of rows) if (re.test(r.t, budget)) ids.push(r.id);
        if (rows.length < TEXT_BATCH) break;
        after = rows[rows.length - 1]!.id;
      }
      out.set(key, ids);
    } else {
      const col = field.column;
      const table = TABLE_OF[col.slice(0, col.indexOf('.'))];
      if (!table || !/^[a-z]\.[a-z_]+$/.test(col)) throw new Error(`no regex source for field ${field.name}`);
      const values = (await q<{ v: unknown }>(`SELECT DISTINCT ${col} AS v FROM ${table} WHERE ${col} IS NOT NULL`)).rows.map((r) => r.v);
      // Only text can match (SQLite's dmw_regex answers 0 for anything else).
      out.set(key, values.filter((v): v is string => typeof v === 'string' && re.test(v, budget)));
    }
  }
  return out;
}

/**
 * A regex's required literal as a LIKE prefilter: at least 3 characters (what a trigram index can
 * use), and no UTF-16 surrogate (the text PostgreSQL holds is UTF-8: a lone half has no equal there).
 */
function usableLiteral(required: string): string | undefined {
  if (codepoints(required) < 3 || /[\uD800-\uDFFF]/.test(required)) return undefined;
  return pgText(required);
}

/** `%v%` for LIKE, its wildcards and the escape character escaped (LIKE's default escape is \). */
function likeContains(v: string): string {
  return `%${v.replace(/[\\%_]/g, '\\$&')}%`;
}

function compare(f: FieldDef, op: string, value: string | number, hits: RegexHits): SqlPart {
  const col = f.column;
  if (op === 'contains') return { sql: `(${col} IS NOT NULL AND strpos(${col}, ?::text) > 0)`, params: [pgText(String(value))] };
  if (op === 'matches') return { sql: `(${col} IS NOT NULL AND ${col} = ANY(?::text[]))`, params: [hits.get(regexKey(f, String(value)))!] };
  if (f.type === 'number') return { sql: `(${col} IS NOT NULL AND ${col} ${SQL_OP[op]} ?::float8)`, params: [value] };
  return { sql: `(${col} IS NOT NULL AND ${col} ${SQL_OP[op]} ?::text)`, params: [pgText(String(value))] };
}

/**
 * `data` tests. c.data_text is the item's text for content search (SQLite's cmd_text row: present
 * when the data is not empty), c.data the excerpt; the choice between them follows compile.ts's
 * dataTest exactly, so an empty data or a long value behaves the same.
 */
function dataTest(f: FieldDef, op: string, raw: string, hits: RegexHits): SqlPart {
  const v = pgText(raw);
  const indexed = codepoints(raw) >= 3;
  switch (op) {
    case 'contains':
      return { sql: '(c.data_text IS NOT NULL AND c.data_text LIKE ?::text)', params: [likeContains(v)] };
    case 'matches':
      return { sql: 'c.id = ANY(?::bigint[])', params: [hits.get(regexKey(f, raw))!] };
    case '==':
    case '!=': {
      const eq: SqlPart = indexed || raw.length >= DATA_EXCERPT
        ? { sql: '(c.data_text IS NOT NULL AND c.data_text = ?::text)', params: [v] }
        : { sql: '(c.data IS NOT NULL AND c.data = ?::text)', params: [v] };
      return op === '==' ? eq : { sql: `(c.data IS NOT NULL AND NOT ${eq.sql})`, params: eq.params };
    }
    default:
      throw new Error(`no ${op} on data`);
  }
}

function leaf(e: Leaf, msgId: string, hits: RegexHits): SqlPart {
  const f = e.field;
  const col = f.column;
  if (f.level === 'finding') {
    if (e.kind === 'has') return { sql: '(m.f_error + m.f_warning + m.f_note) > 0', params: [] };
    const inner = compare(f, e.op, e.value, hits);
    return { sql: `${msgId} IN (SELECT f.message_id FROM msg_findings f WHERE ${inner.sql})`, params: inner.params };
  }
  if (f.level === 'text' && e.kind === 'cmp') return dataTest(f, e.op, String(e.value), hits);
  if (e.kind === 'has') {
    if (f.name === 'findings') return { sql: `${col} > 0`, params: [] };
    return f.type === 'number' ? { sql: `${col} IS NOT NULL`, params: [] } : { sql: `(${col} IS NOT NULL AND ${col} <> '')`, params: [] };
  }
  return compare(f, e.op, e.value, hits);
}

function where(e: FilterExpr, withCommands: boolean, hits: RegexHits, msgId = 'm.message_id'): SqlPart {
  const f: Folded = foldWith(e, withCommands, (x) => leaf(x, msgId, hits));
  return 'const' in f ? { sql: f.const ? 'true' : 'false', params: [] } : f;
}

/** `?` placeholders -> $1, $2, ... (every `?` in our SQL is a placeholder: values only travel as parameters). */
function numbered(p: SqlPart, first = 1): string {
  let n = first - 1;
  return p.sql.replace(/\?/g, () => `$${++n}`);
}

const FROM_MESSAGES = 'msg_index m JOIN sessions s ON s.id = m.session_id';
const FROM_COMMANDS = 'cmd_index c JOIN msg_index m ON m.message_id = c.message_id JOIN sessions s ON s.id = m.session_id';

/**
 * The messages matching `expr`, as query.ts's messagesWhere: a WHERE over FROM_MESSAGES for a filter
 * of message fields only, else the ids of the hits (command rows, united with the messages without
 * commands when the filter can hold without one), which `hits` says.
 */
function matching(expr: FilterExpr, hits: RegexHits): { where: SqlPart } | { hits: SqlPart } {
  if (!usesCommands(expr)) return { where: where(expr, false, hits) };
  const used = aliasesUsed(expr);
  const from = used.s ? FROM_COMMANDS : used.m ? 'cmd_index c JOIN msg_index m ON m.message_id = c.message_id' : 'cmd_index c';
  const withCmd = where(expr, true, hits, used.m || used.s ? 'm.message_id' : 'c.message_id');
  const without = foldWith(expr, false, (x) => leaf(x, 'm.message_id', hits));
  const parts: SqlPart[] = [{ sql: `SELECT c.message_id AS id FROM ${from} WHERE ${withCmd.sql}`, params: withCmd.params }];
  if (!('const' in without) || without.const) {
    const w = 'const' in without ? { sql: 'true', params: [] } : without;
    parts.push({ sql: `SELECT m.message_id AS id FROM ${FROM_MESSAGES} WHERE m.ncmd = 0 AND ${w.sql}`, params: w.params });
  }
  return { hits: { sql: parts.map((p) => p.sql).join(' UNION ALL '), params: parts.flatMap((p) => p.params) } };
}

/**
 * Sort keys over unqualified column names, valid both inside the page (msg_index m JOIN sessions s,
 * where each name belongs to one table) and over the page's own columns outside it.
 */
const SORT_KEY: Readonly<Record<SortColumn, string>> = {
  time: 'at_ms', session: 'session_id', device: 'device COLLATE "C"', dir: 'dir COLLATE "C"', msgId: 'msg_id COLLATE "C"', size: 'size',
  enc: 'enc COLLATE "C"', status: 'worst', findings: '(f_error::bigint * 1000000 + f_warning::bigint * 1000 + f_note)',
};

/** Sort columns that may be NULL (a session without a device, a message without MsgID or Status). */
const NULLABLE_SORT: ReadonlySet<SortColumn> = new Set(['device', 'msgId', 'status']);

function orderBy(sort: { column: SortColumn; desc: boolean } | undefined): string {
  if (!sort) return 'message_id ASC';
  // SQLite puts NULLs first ascending (they sort lowest) and so last descending. Said only for the
  // columns that can be NULL: on the others the plain order lets an index give it (msg_index_by_time).
  const plain = sort.desc ? 'DESC' : 'ASC';
  const dir = NULLABLE_SORT.has(sort.column) ? (sort.desc ? 'DESC NULLS LAST' : 'ASC NULLS FIRST') : plain;
  return `${SORT_KEY[sort.column]} ${dir}, message_id ${plain}`;
}

/** Parses, compiles the patterns (located syntax errors) and runs `fn` with the regex tests decided; a budget overrun is located too. */
async function withFilter<T>(q: Query, filter: string, opts: QueryOptions, fn: (expr: FilterExpr, hits: RegexHits) => Promise<T>): Promise<T> {
  const expr = parseFilter(filter);
  const patterns = compilePatterns(expr);
  let hits: RegexHits;
  try {
    hits = patterns.size === 0 ? new Map() : await regexHits(q, expr, patterns, { steps: opts.regexSteps ?? DEFAULT_REGEX_STEPS });
  } catch (e) {
    if (e instanceof RegexBudgetError) {
      const at = firstMatches(expr) ?? { pos: 0, len: 0 };
      throw new FilterError(e.message, at.pos, at.len);
    }
    throw e;
  }
  return fn(expr, hits);
}

interface PageRow {
  total: number; message_id: number | null; session_id: number; seq: number; at_ms: number; device: string | null; dir: 'in' | 'out'; msg_id: string | null;
  size: number; enc: string; commands: string; status: string; worst: number | null; f_error: number; f_warning: number; f_note: number;
}

/** One page of messages matching `filter`, and how many match (filter/query.ts's queryMessages). Rejects with FilterError. */
export function pgQueryMessages(
  q: Query,
  query: { filter: string; offset: number; limit: number; sort?: { column: SortColumn; desc: boolean } },
  opts: QueryOptions = {},
): Promise<{ total: number; rows: MessageHit[] }> {
  return withFilter(q, query.filter, opts, async (expr, hits) => {
    const order = orderBy(query.sort);
    const m = matching(expr, hits);
    const p = 'where' in m ? m.where : m.hits;
    const n = p.params.length;
    const columns = `m.message_id, m.session_id, m.seq, m.at_ms, s.device, m.dir, m.msg_id, m.size, m.enc, m.commands, m.status, m.worst, m.f_error, m.f_warning, m.f_note`;
    // One statement for the count and the page (an empty page still brings the count). A message
    // filter is its WHERE twice (same parameters); a command filter collects its hits once.
    // Every msg_index row has its session (messages reference sessions): the join to sessions waits
    // for the page's rows unless the filter or the sort reads the session.
    const late = 'where' in m && !aliasesUsed(expr).s && query.sort?.column !== 'device';
    const sql = late
      ? `WITH page AS (SELECT ${columns} FROM (SELECT * FROM msg_index m WHERE ${numbered(p)} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}) m
          JOIN sessions s ON s.id = m.session_id)
        SELECT t.total, p.* FROM (SELECT count(*) AS total FROM msg_index m WHERE ${numbered(p)}) t LEFT JOIN page p ON true ORDER BY ${order}`
      : 'where' in m
      ? `WITH page AS (SELECT ${columns} FROM ${FROM_MESSAGES} WHERE ${numbered(p)} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2})
        SELECT t.total, p.* FROM (SELECT count(*) AS total FROM ${FROM_MESSAGES} WHERE ${numbered(p)}) t LEFT JOIN page p ON true ORDER BY ${order}`
      : `WITH hits AS MATERIALIZED (SELECT id FROM (${numbered(p)}) h GROUP BY id),
        page AS (SELECT ${columns} FROM ${FROM_MESSAGES} WHERE (m.message_id IN (SELECT id FROM hits)) IS TRUE ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2})
        SELECT t.total, p.* FROM (SELECT count(*) AS total FROM hits) t LEFT JOIN page p ON true ORDER BY ${order}`;
    const rows = (await q<PageRow>(sql, [...p.params, query.limit, query.offset])).rows;
    return { total: rows[0]?.total ?? 0, rows: rows.filter((r) => r.message_id !== null).map(hitFromRow) };
  });
}

function hitFromRow(r: PageRow): MessageHit {
  return {
    id: r.message_id!, sessionId: r.session_id, seq: r.seq, at: r.at_ms, devId: r.device ?? '', dir: r.dir, msgId: r.msg_id, size: r.size, enc: r.enc,
    commands: r.commands, status: r.status, worst: r.worst, findings: { error: r.f_error, warning: r.f_warning, note: r.f_note },
  };
}

/** The sessions with a message matching `filter`, newest first, at most `limit` (filter/query.ts's sessionsMatching). */
export function pgSessionsMatching(q: Query, filter: string, limit: number, opts: QueryOptions = {}): Promise<{ ids: number[]; truncated: boolean }> {
  return withFilter(q, filter, opts, async (expr, hits) => {
    const m = matching(expr, hits);
    const p = 'where' in m ? m.where : m.hits;
    const cond = 'where' in m ? numbered(p) : `m.message_id IN (${numbered(p)})`;
    const rows = (await q<{ id: number }>(`SELECT DISTINCT m.session_id AS id FROM ${FROM_MESSAGES}
      WHERE ${cond} ORDER BY id DESC LIMIT $${p.params.length + 1}`, [...p.params, limit + 1])).rows;
    return { ids: rows.slice(0, limit).map((r) => r.id), truncated: rows.length > limit };
  });
}

/** Every command matching `filter`, one line per command, in log order (filter/query.ts's findCommands). */
export function pgFindCommands(q: Query, filter: string, opts: QueryOptions = {}): Promise<CommandHit[]> {
  return withFilter(q, filter, opts, async (expr, hits) => {
    const w = where(expr, true, hits);
    const rows = (await q<CommandHit & { pos: number }>(`SELECT c.session_id AS session, m.seq AS msg, c.pos AS pos, c.cmd_id AS "cmdId", c.cmd AS cmd, c.uri AS uri, c.status AS status
      FROM ${FROM_COMMANDS} WHERE ${numbered(w)} ORDER BY c.message_id, c.pos, c.item`, w.params)).rows;
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
