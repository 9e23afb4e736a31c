/**
 * The display filter language: text -> AST, or a FilterError that points at the character.
 *
 *   filter     := or
 *   or         := and (("||" | "or") and)*
 *   and        := unary (("&&" | "and") unary)*
 *   unary      := ("!" | "not") unary | "(" or ")" | test
 *   test       := FIELD [op value]          a bare field: the field is present (non-empty, non-zero count)
 *   op         := "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "matches"   (also eq ne lt le gt ge)
 *   value      := STRING | NUMBER | WORD     a WORD (IMEI:1, ./DevInfo/Mod, Get) is a string
 *
 * Strings are "double" or 'single' quoted with \\ \" \' \n \r \t \0 \xHH \u{H..} \uHHHH escapes; any
 * other backslash stays as written (so `matches "\d+"` needs no doubling).
 * Every error is a FilterError (message, 0-based position, length); nothing else is ever thrown
 * (test/unit/filter-parse.test.ts fuzzes that). Pure, no Node: the renderer may use it to check as
 * the user types.
 */
import { fieldByName, fieldNames, type FieldDef } from './fields.js';

/** Longest filter parsed (the contract bounds it too). */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting of parentheses and negations (recursion depth of the parser). */
export const MAX_FILTER_DEPTH = 64;
/** Longest regular expression after `matches` (its cost is bounded by regex.ts as well). */
export const MAX_REGEX_LENGTH = 256;

export class FilterError extends Error {
  constructor(message: string, readonly position: number, readonly length: number) {
    super(message);
    this.name = 'FilterError';
  }

  toJSON(): { message: string; position: number; length: number } {
    return { message: this.message, position: this.position, length: this.length };
  }
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'matches';

export type FilterExpr =
  | { kind: 'or' | 'and'; left: FilterExpr; right: FilterExpr }
  | { kind: 'not'; expr: FilterExpr }
  | { kind: 'has'; field: FieldDef; pos: number; len: number }
  | { kind: 'cmp'; field: FieldDef; op: CompareOp; value: string | number; pos: number; len: number; valuePos: number; valueLen: number }
  | { kind: 'true' };

type TokKind = 'string' | 'number' | 'word' | 'op' | 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'end';
interface Token {
  kind: TokKind;
  /** For strings the decoded value; otherwise the source text. */
  text: string;
  pos: number;
  len: number;
}

const WORD_OPS: Readonly<Record<string, CompareOp>> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', contains: 'contains', matches: 'matches' };
const isWordStart = (c: string) => /[A-Za-z_.\/]/.test(c);
const isWordChar = (c: string) => /[A-Za-z0-9_.:\/\-+@*#%]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      out.push({ kind: two === '&&' ? 'and' : 'or', text: two, pos: i, len: 2 });
      i += 2;
    } else if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
      out.push({ kind: 'op', text: two, pos: i, len: 2 });
      i += 2;
    } else if (c === '<' || c === '>') {
      out.push({ kind: 'op', text: c, pos: i, len: 1 });
      i++;
    } else if (c === '!') {
      out.push({ kind: 'not', text: c, pos: i, len: 1 });
      i++;
    } else if (c === '=') {
      throw new FilterError('"=" is not an operator: use "==" to compare', i, 1);
    } else if (c === '&' || c === '|') {
      throw new FilterError(`"${c}" alone is not an operator: use "${c}${c}" (or "${c === '&' ? 'and' : 'or'}")`, i, 1);
    } else if (c === '(' || c === ')') {
      out.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, pos: i, len: 1 });
      i++;
    } else if (c === '"' || c === "'") {
      const t = lexString(src, i);
      out.push(t);
      i += t.len;
    } else if (isDigit(c) || (c === '-' && isDigit(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && /[0-9.]/.test(src[j]!)) j++;
      // 404x or 1.2.3 is not a number; IMEI:35.. written bare starts with a letter and is a word.
      if (j < src.length && isWordChar(src[j]!)) {
        while (j < src.length && isWordChar(src[j]!)) j++;
        throw new FilterError(`"${src.slice(i, j)}" is not a number; quote it to compare text`, i, j - i);
      }
      const text = src.slice(i, j);
      if (!/^-?\d+(\.\d+)?$/.test(text)) throw new FilterError(`"${text}" is not a number`, i, j - i);
      out.push({ kind: 'number', text, pos: i, len: j - i });
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < src.length && isWordChar(src[j]!)) j++;
      const text = src.slice(i, j);
      const lower = text.toLowerCase();
      const kind: TokKind = lower === 'and' ? 'and' : lower === 'or' ? 'or' : lower === 'not' ? 'not' : lower in WORD_OPS ? 'op' : 'word';
      out.push({ kind, text: kind === 'op' ? WORD_OPS[lower]! : text, pos: i, len: j - i });
      i = j;
    } else {
      throw new FilterError(`unexpected character "${c}"`, i, 1);
    }
  }
  out.push({ kind: 'end', text: '', pos: src.length, len: 0 });
  return out;
}

function lexString(src: string, start: number): Token {
  const quote = src[start]!;
  let value = '';
  let i = start + 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) return { kind: 'string', text: value, pos: start, len: i + 1 - start };
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined) break;
    const simple: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', r: '\r', t: '\t', '0': '\0' };
    if (e in simple) {
      value += simple[e];
      i += 2;
    } else if (e === 'x' && /^[0-9A-Fa-f]{2}$/.test(src.slice(i + 2, i + 4))) {
      value += String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(src.slice(i + 2, i + 6))) {
      value += String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 6), 16));
      i += 6;
    } else if (e === 'u' && src[i + 2] === '{') {
      const close = src.indexOf('}', i + 3);
      const hex = close < 0 ? '' : src.slice(i + 3, close);
      const cp = /^[0-9A-Fa-f]{1,6}$/.test(hex) ? Number.parseInt(hex, 16) : -1;
      if (cp < 0 || cp > 0x10ffff) throw new FilterError('bad \\u{...} escape: 1 to 6 hex digits, at most 10FFFF', i, close < 0 ? 3 : close + 1 - i);
      value += String.fromCodePoint(cp);
      i = close + 1;
    } else if (e === 'x' || e === 'u') {
      throw new FilterError(`bad escape "\\${e}": \\xHH takes two hex digits, \\uHHHH four, \\u{H} one to six`, i, 2);
    } else {
      // Kept as written, so a regular expression reads naturally: matches "\d+\.\d".
      value += `\\${e}`;
      i += 2;
    }
  }
  throw new FilterError('unterminated string: the closing ' + (quote === '"' ? '"' : "'") + ' is missing', start, src.length - start);
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  // Optimal string alignment: a swap of two neighbours (uir -> uri) costs one edit.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

export function suggestField(name: string): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const n of fieldNames()) {
    // Ties go to a name with the same first letter (uir: uri rather than dir).
    const d = (n.startsWith(lower) || lower.startsWith(n) ? 1 : distance(lower, n)) + (n[0] === lower[0] ? 0 : 0.5);
    if (!best || d < best.d) best = { name: n, d };
  }
  return best && best.d <= Math.max(2, Math.floor(lower.length / 3)) + 0.5 ? best.name : undefined;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }

  private next(): Token {
    return this.toks[this.i++]!;
  }

  parse(): FilterExpr {
    if (this.peek().kind === 'end') return { kind: 'true' };
    const e = this.or();
    const t = this.peek();
    if (t.kind === 'rparen') throw new FilterError('")" without a matching "("', t.pos, 1);
    if (t.kind !== 'end') throw new FilterError(`expected "&&", "||" or the end of the filter, found ${describe(t)}`, t.pos, Math.max(1, t.len));
    return e;
  }

  private or(): FilterExpr {
    let left = this.and();
    while (this.peek().kind === 'or') {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterExpr {
    let left = this.unary();
    while (this.peek().kind === 'and') {
      this.next();
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterExpr {
    const t = this.peek();
    if (++this.depth > MAX_FILTER_DEPTH) throw new FilterError(`nested deeper than ${MAX_FILTER_DEPTH} levels`, t.pos, Math.max(1, t.len));
    try {
      if (t.kind === 'not') {
        this.next();
        return { kind: 'not', expr: this.unary() };
      }
      if (t.kind === 'lparen') {
        this.next();
        if (this.peek().kind === 'rparen') throw new FilterError('empty parentheses: expected a test inside', this.peek().pos, 1);
        const e = this.or();
        const close = this.peek();
        if (close.kind !== 'rparen') {
          throw close.kind === 'end'
            ? new FilterError('unbalanced parenthesis: this "(" is never closed', t.pos, 1)
            : new FilterError(`expected ")" to close the "(" at ${t.pos}, found ${describe(close)}`, close.pos, Math.max(1, close.len));
        }
        this.next();
        return e;
      }
      return this.test();
    } finally {
      this.depth--;
    }
  }

  private test(): FilterExpr {
    const t = this.next();
    if (t.kind === 'end') throw new FilterError('missing operand: expected a field such as cmd, uri or status', t.pos, 0);
    if (t.kind === 'rparen') throw new FilterError('")" without a matching "(" (or a missing operand before it)', t.pos, 1);
    if (t.kind === 'and' || t.kind === 'or') throw new FilterError(`missing operand before "${t.text}"`, t.pos, t.len);
    if (t.kind === 'op') throw new FilterError(`missing field before "${t.text}"`, t.pos, t.len);
    if (t.kind !== 'word') throw new FilterError(`expected a field name, found ${describe(t)}`, t.pos, Math.max(1, t.len));
    const field = fieldByName(t.text);
    if (!field) {
      const s = suggestField(t.text);
      throw new FilterError(`unknown field "${t.text}"${s ? `; did you mean "${s}"?` : ''}`, t.pos, t.len);
    }
    const opTok = this.peek();
    if (opTok.kind !== 'op') {
      if (opTok.kind === 'string' || opTok.kind === 'number' || opTok.kind === 'word') {
        throw new FilterError(`expected an operator (== != < <= > >= contains matches) after "${t.text}", found ${describe(opTok)}`, opTok.pos, opTok.len);
      }
      return { kind: 'has', field, pos: t.pos, len: t.len };
    }
    this.next();
    const op = opTok.text as CompareOp;
    const v = this.next();
    if (v.kind === 'end') throw new FilterError(`missing operand: "${opTok.text}" needs a value after it`, v.pos, 0);
    if (v.kind !== 'string' && v.kind !== 'number' && v.kind !== 'word') {
      throw new FilterError(`missing operand: expected a value after "${opTok.text}", found ${describe(v)}`, v.pos, Math.max(1, v.len));
    }
    const len = v.pos + v.len - t.pos;
    if (field.type === 'number') {
      if (op === 'contains' || op === 'matches') throw new FilterError(`type mismatch: "${op}" works on text, and ${field.name} is a number (use == != < <= > >=)`, opTok.pos, opTok.len);
      if (v.kind !== 'number') throw new FilterError(`type mismatch: ${field.name} is a number, and ${describe(v)} is not`, v.pos, v.len);
      return { kind: 'cmp', field, op, value: Number(v.text), pos: t.pos, len, valuePos: v.pos, valueLen: v.len };
    }
    if (op !== '==' && op !== '!=' && op !== 'contains' && op !== 'matches') {
      throw new FilterError(`type mismatch: "${op}" compares numbers, and ${field.name} is text (use == != contains matches)`, opTok.pos, opTok.len);
    }
    if (v.kind === 'word' && fieldByName(v.text) && op !== 'matches') {
      // `uri == dev` compares with the text "dev"; say so rather than guess field-to-field comparison.
      throw new FilterError(`"${v.text}" is a field name; quote it to compare with the text "${v.text}"`, v.pos, v.len);
    }
    if (op === 'matches' && v.text.length > MAX_REGEX_LENGTH) {
      throw new FilterError(`regular expression longer than ${MAX_REGEX_LENGTH} characters`, v.pos, v.len);
    }
    return { kind: 'cmp', field, op, value: v.text, pos: t.pos, len, valuePos: v.pos, valueLen: v.len };
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'end': return 'the end of the filter';
    case 'string': return `the string ${JSON.stringify(t.text)}`;
    case 'number': return `the number ${t.text}`;
    default: return `"${t.text}"`;
  }
}

/** Parses a display filter; '' (or only spaces) is the filter that matches everything. Throws only FilterError. */
export function parseFilter(src: string): FilterExpr {
  try {
    if (typeof src !== 'string') throw new FilterError('the filter must be text', 0, 0);
    if (src.length > MAX_FILTER_LENGTH) throw new FilterError(`filter longer than ${MAX_FILTER_LENGTH} characters`, MAX_FILTER_LENGTH, src.length - MAX_FILTER_LENGTH);
    return new Parser(lex(src)).parse();
  } catch (e) {
    if (e instanceof FilterError) throw e;
    // A bug here must still reach the user as a located error, not a crash of the call.
    throw new FilterError(`could not parse the filter: ${(e as Error)?.message ?? String(e)}`, 0, typeof src === 'string' ? src.length : 0);
  }
}

/** The filter parsed, or its error as a value. */
export function tryParseFilter(src: string): { ok: true; expr: FilterExpr } | { ok: false; error: FilterError } {
  try {
    return { ok: true, expr: parseFilter(src) };
  } catch (e) {
    return { ok: false, error: e as FilterError };
  }
}

/** The filter with a caret line under the error (the CLI prints it). */
export function caretLines(src: string, e: { position: number; length: number }): string {
  const oneLine = src.replace(/[\r\n\t]/g, ' ');
  return `${oneLine}\n${' '.repeat(Math.min(e.position, oneLine.length))}${'^'.repeat(Math.max(1, Math.min(e.length, Math.max(1, oneLine.length - e.position))))}`;
}
