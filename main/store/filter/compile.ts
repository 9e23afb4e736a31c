/**
 * Filter AST -> SQL over the message index (message-index.ts), parameterized: user values only ever
 * travel as bound parameters, column expressions only come from the field table (fields.ts).
 *
 * Every leaf compiles to a two-valued test (absent fields make comparisons false, never NULL), so
 * `!` means "not" also where a field is missing: `!(cmd == "Get")` holds for a message without
 * commands. A filter is compiled twice: for a message with one of its commands (aliases m, s, c),
 * and for a message without commands (command fields absent: their tests are false, folded away).
 */
import { DATA_EXCERPT } from '../message-facts.js';
import { FilterError, type FilterExpr } from './parse.js';
import { compileRegex, RegexSyntaxError, type SafeRegex } from './regex.js';

export interface SqlPart {
  sql: string;
  params: unknown[];
}

/** The SQL function `dmw_regex(pattern, text)` the store registers (filter/query.ts). */
export const REGEX_FUNCTION = 'dmw_regex';

export type Folded = { const: boolean } | SqlPart;

/** Whether the filter reads command fields (cmd, uri, status, data...). */
export function usesCommands(e: FilterExpr): boolean {
  switch (e.kind) {
    case 'and':
    case 'or': return usesCommands(e.left) || usesCommands(e.right);
    case 'not': return usesCommands(e.expr);
    case 'has':
    case 'cmp': return e.field.level === 'command' || e.field.level === 'text';
    default: return false;
  }
}

/** Whether the filter reads the judge's findings (finding, severity, findings). */
export function usesFindings(e: FilterExpr): boolean {
  if (e.kind === 'and' || e.kind === 'or') return usesFindings(e.left) || usesFindings(e.right);
  if (e.kind === 'not') return usesFindings(e.expr);
  return (e.kind === 'has' || e.kind === 'cmp') && (e.field.level === 'finding' || e.field.name === 'findings');
}

/** Patterns of the filter's `matches` tests, compiled (a syntax error is located in the filter). */
export function compilePatterns(e: FilterExpr, out = new Map<string, SafeRegex>()): Map<string, SafeRegex> {
  if (e.kind === 'and' || e.kind === 'or') {
    compilePatterns(e.left, out);
    compilePatterns(e.right, out);
  } else if (e.kind === 'not') compilePatterns(e.expr, out);
  else if (e.kind === 'cmp' && e.op === 'matches' && !out.has(String(e.value))) {
    try {
      out.set(String(e.value), compileRegex(String(e.value)));
    } catch (err) {
      if (err instanceof RegexSyntaxError) {
        // Inside a quoted value the pattern starts one character in (escapes aside: then the whole value).
        const simple = e.valueLen === String(e.value).length + 2;
        throw new FilterError(`bad regular expression: ${err.message}`, simple ? e.valuePos + 1 + Math.min(err.index, String(e.value).length) : e.valuePos, simple ? 1 : e.valueLen);
      }
      throw err;
    }
  }
  return out;
}

/** The first `matches` test (where a regex over budget is reported). */
export function firstMatches(e: FilterExpr): { pos: number; len: number } | undefined {
  if (e.kind === 'and' || e.kind === 'or') return firstMatches(e.left) ?? firstMatches(e.right);
  if (e.kind === 'not') return firstMatches(e.expr);
  if (e.kind === 'cmp' && e.op === 'matches') return { pos: e.pos, len: e.len };
  return undefined;
}

export const SQL_OP: Readonly<Record<string, string>> = { '==': '=', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

export function codepoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** An FTS5 phrase: the text in double quotes, quotes doubled (no query syntax reaches FTS). */
function ftsPhrase(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function leaf(e: Leaf, msgId: string): SqlPart {
  const f = e.field;
  const col = f.column;
  if (f.level === 'finding') {
    if (e.kind === 'has') return { sql: '(m.f_error + m.f_warning + m.f_note) > 0', params: [] };
    const inner = compare(col, e.op, e.value);
    return { sql: `${msgId} IN (SELECT f.message_id FROM msg_findings f WHERE ${inner.sql})`, params: inner.params };
  }
  if (f.level === 'text' && e.kind === 'cmp') return dataTest(e.op, String(e.value));
  if (e.kind === 'has') {
    if (f.name === 'findings') return { sql: `${col} > 0`, params: [] };
    return f.type === 'number' ? { sql: `${col} IS NOT NULL`, params: [] } : { sql: `(${col} IS NOT NULL AND ${col} != '')`, params: [] };
  }
  return compare(col, e.op, e.value);
}

function compare(col: string, op: string, value: string | number): SqlPart {
  if (op === 'contains') return { sql: `(${col} IS NOT NULL AND instr(${col}, ?) > 0)`, params: [value] };
  if (op === 'matches') return { sql: `(${col} IS NOT NULL AND ${REGEX_FUNCTION}(?, ${col}))`, params: [value] };
  return { sql: `(${col} IS NOT NULL AND ${col} ${SQL_OP[op]} ?)`, params: [value] };
}

/** `data` tests: through the trigram index when the text allows (3 characters or more). */
function dataTest(op: string, v: string): SqlPart {
  const indexed = codepoints(v) >= 3;
  switch (op) {
    case 'contains':
      return indexed
        ? { sql: 'c.id IN (SELECT rowid FROM cmd_text WHERE cmd_text MATCH ?)', params: [ftsPhrase(v)] }
        : { sql: 'c.id IN (SELECT rowid FROM cmd_text WHERE instr(data, ?) > 0)', params: [v] };
    case 'matches':
      return { sql: `c.id IN (SELECT rowid FROM cmd_text WHERE ${REGEX_FUNCTION}(?, data))`, params: [v] };
    case '==':
    case '!=': {
      const eq: SqlPart = indexed
        ? { sql: 'c.id IN (SELECT rowid FROM cmd_text WHERE cmd_text MATCH ? AND data = ?)', params: [ftsPhrase(v), v] }
        : v.length < DATA_EXCERPT ? { sql: '(c.data IS NOT NULL AND c.data = ?)', params: [v] } : { sql: 'c.id IN (SELECT rowid FROM cmd_text WHERE data = ?)', params: [v] };
      return op === '==' ? eq : { sql: `(c.data IS NOT NULL AND NOT ${eq.sql})`, params: eq.params };
    }
    default:
      throw new Error(`no ${op} on data`);
  }
}

/** A test (field, operator, value) as SQL of one dialect. */
export type Leaf = Extract<FilterExpr, { kind: 'has' | 'cmp' }>;

/**
 * The boolean structure, the same for every SQL dialect: constants folded, command fields false
 * where the message has no command; `leafSql` compiles each test (SQLite here, PostgreSQL in
 * postgres/filter-sql.ts).
 */
export function foldWith(e: FilterExpr, withCommands: boolean, leafSql: (e: Leaf) => SqlPart): Folded {
  switch (e.kind) {
    case 'true': return { const: true };
    case 'not': {
      const x = foldWith(e.expr, withCommands, leafSql);
      return 'const' in x ? { const: !x.const } : { sql: `NOT ${x.sql}`, params: x.params };
    }
    case 'and':
    case 'or': {
      const l = foldWith(e.left, withCommands, leafSql);
      const r = foldWith(e.right, withCommands, leafSql);
      const absorbing = e.kind === 'or';
      if ('const' in l) return l.const === absorbing ? l : r;
      if ('const' in r) return r.const === absorbing ? r : l;
      return { sql: `(${l.sql} ${e.kind === 'and' ? 'AND' : 'OR'} ${r.sql})`, params: [...l.params, ...r.params] };
    }
    default:
      if (!withCommands && (e.field.level === 'command' || e.field.level === 'text')) return { const: false };
      return leafSql(e);
  }
}

/**
 * The WHERE condition for a message with one of its commands (withCommands: aliases m, s, c) or for
 * a message without commands (aliases m, s): true, false, or SQL.
 */
export function compileWhere(e: FilterExpr, withCommands: boolean, msgId = 'm.message_id'): Folded {
  return foldWith(e, withCommands, (x) => leaf(x, msgId));
}

/** Which tables besides cmd_index the filter reads: msg_index (m) and sessions (s). */
export function aliasesUsed(e: FilterExpr, out = { m: false, s: false }): { m: boolean; s: boolean } {
  if (e.kind === 'and' || e.kind === 'or') {
    aliasesUsed(e.left, out);
    aliasesUsed(e.right, out);
  } else if (e.kind === 'not') aliasesUsed(e.expr, out);
  else if (e.kind === 'has' || e.kind === 'cmp') {
    if (e.field.column.includes('m.') && !(e.field.level === 'finding' && e.kind === 'cmp')) out.m = true;
    if (e.field.column.startsWith('s.')) out.s = true;
  }
  return out;
}

export function whereSql(f: Folded): SqlPart {
  return 'const' in f ? { sql: f.const ? '1' : '0', params: [] } : f;
}
