/**
 * A regular expression engine for `matches` that cannot be made to backtrack: patterns compile to a
 * small program run by a Pike VM (Thompson's construction, all threads in lock step), so matching a
 * text of n characters with a program of m instructions costs at most n * m steps whatever the
 * pattern. JavaScript's RegExp backtracks (`(a+)+$` takes exponential time) and cannot be
 * interrupted, so a filter typed by anyone must not reach it.
 *
 * Syntax: literals, `.`, classes `[a-z0-9_]` `[^...]`, `\d \w \s \D \W \S`, escapes `\. \\ \n \t \xHH`,
 * anchors `^ $`, groups `( )` `(?: )`, alternation `|`, quantifiers `* + ? {m} {m,} {m,n}` (lazy
 * forms accepted: they match the same texts), and a leading `(?i)` for case-insensitive.
 * Backreferences and lookaround are refused (they need backtracking). A match anywhere in the text
 * counts (as RegExp.test does).
 *
 * Cost is bounded twice: the program has at most MAX_PROGRAM instructions (counted repeats expand),
 * and a Budget shared by one query stops it after a number of steps (RegexBudgetError).
 */

export const MAX_PROGRAM = 4000;
/** Steps one query may spend on regular expressions (about a second of matching). */
export const DEFAULT_REGEX_STEPS = 200_000_000;

export class RegexSyntaxError extends Error {
  constructor(message: string, readonly index: number) {
    super(message);
  }
}

export class RegexBudgetError extends Error {}

const OVER_BUDGET = 'the regular expression took too long over the stored data; narrow the filter (e.g. add cmd == "Replace" &&) or simplify the pattern';

type Node =
  /** `lit`: the one character it matches, when it is a literal of a case-sensitive pattern. */
  | { t: 'char'; test: (c: number) => boolean; lit?: number }
  | { t: 'bol' } | { t: 'eol' }
  | { t: 'cat'; parts: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }; // max -1: unbounded

type Inst =
  | { op: 'char'; test: (c: number) => boolean }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'bol' } | { op: 'eol' }
  | { op: 'match' };

const isDigit = (c: number) => c >= 48 && c <= 57;
const isWord = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff;
const fold = (c: number) => (c >= 65 && c <= 90 ? c + 32 : c);

class RegexParser {
  private i = 0;
  constructor(private readonly src: string, private readonly icase: boolean) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.src.length) throw new RegexSyntaxError(`unexpected "${this.src[this.i]}"`, this.i);
    return n;
  }

  private alt(): Node {
    const options = [this.cat()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.cat());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private cat(): Node {
    const parts: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') parts.push(this.repeat());
    return { t: 'cat', parts };
  }

  private repeat(): Node {
    const start = this.i;
    let node = this.atom();
    for (;;) {
      const c = this.src[this.i];
      let min: number, max: number;
      if (c === '*') [min, max] = [0, -1];
      else if (c === '+') [min, max] = [1, -1];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i))!;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3]);
        if (min > 1000 || max > 1000 || (max >= 0 && max < min)) throw new RegexSyntaxError('bad repeat count (at most 1000, min <= max)', this.i);
        this.i += m[0].length - 1;
      } else return node;
      this.i++;
      if (this.src[this.i] === '?') this.i++;
      if (node.t === 'bol' || node.t === 'eol') throw new RegexSyntaxError('nothing to repeat', start);
      node = { t: 'rep', node, min, max };
    }
  }

  private atom(): Node {
    const c = this.src[this.i]!;
    const at = this.i;
    if (c === '(') {
      this.i++;
      if (this.src.startsWith('?:', this.i)) this.i += 2;
      else if (this.src[this.i] === '?') throw new RegexSyntaxError('lookaround and group flags are not supported (they need backtracking)', at);
      const n = this.alt();
      if (this.src[this.i] !== ')') throw new RegexSyntaxError('unclosed group "("', at);
      this.i++;
      return n;
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') throw new RegexSyntaxError('nothing to repeat', at);
    this.i++;
    if (c === '^') return { t: 'bol' };
    if (c === '$') return { t: 'eol' };
    if (c === '.') return { t: 'char', test: (x) => x !== 10 && x !== 13 };
    if (c === '[') return this.klass(at);
    if (c === '\\') {
      const test = this.escape(at, false);
      const lit = this.icase ? undefined : escapedLiteral(this.src.slice(at + 1, this.i));
      return lit === undefined ? { t: 'char', test } : { t: 'char', test, lit };
    }
    return this.literal(c.charCodeAt(0));
  }

  private literal(code: number): Node {
    if (!this.icase) return { t: 'char', test: (x) => x === code, lit: code };
    const f = fold(code);
    return { t: 'char', test: (x) => fold(x) === f };
  }

  /** After a backslash at `at`; returns the class it stands for. */
  private escape(at: number, inClass: boolean): (c: number) => boolean {
    const e = this.src[this.i];
    if (e === undefined) throw new RegexSyntaxError('"\\" at the end of the pattern', at);
    this.i++;
    switch (e) {
      case 'd': return isDigit;
      case 'D': return (c) => !isDigit(c);
      case 'w': return isWord;
      case 'W': return (c) => !isWord(c);
      case 's': return isSpace;
      case 'S': return (c) => !isSpace(c);
      case 'n': return (c) => c === 10;
      case 'r': return (c) => c === 13;
      case 't': return (c) => c === 9;
      case 'x': {
        const h = this.src.slice(this.i, this.i + 2);
        if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new RegexSyntaxError('\\x needs two hex digits', at);
        this.i += 2;
        const v = Number.parseInt(h, 16);
        return (c) => c === v;
      }
      default:
        if (/[1-9]/.test(e) && !inClass) throw new RegexSyntaxError('backreferences are not supported (they need backtracking)', at);
        if (/[A-Za-z0-9]/.test(e)) throw new RegexSyntaxError(`unknown escape "\\${e}"`, at);
        {
          const v = e.charCodeAt(0);
          return this.icase ? (c) => fold(c) === fold(v) : (c) => c === v;
        }
    }
  }

  private klass(at: number): Node {
    const negate = this.src[this.i] === '^';
    if (negate) this.i++;
    const tests: ((c: number) => boolean)[] = [];
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== ']' || first)) {
      first = false;
      const at2 = this.i;
      let lo: number;
      if (this.src[this.i] === '\\') {
        const esc = this.src[this.i + 1] ?? '';
        this.i++;
        const t = this.escape(at2, true);
        if (/[dDwWsS]/.test(esc)) {
          tests.push(t);
          continue;
        }
        lo = esc === 'n' ? 10 : esc === 'r' ? 13 : esc === 't' ? 9 : esc === 'x' ? Number.parseInt(this.src.slice(this.i - 2, this.i), 16) : esc.charCodeAt(0);
      } else lo = this.src.charCodeAt(this.i++);
      let hi = lo;
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== undefined && this.src[this.i + 1] !== ']') {
        this.i++;
        if (this.src[this.i] === '\\') throw new RegexSyntaxError('escapes as range ends are not supported', this.i);
        hi = this.src.charCodeAt(this.i++);
        if (hi < lo) throw new RegexSyntaxError('range out of order', at2);
      }
      const [l, h] = [lo, hi];
      tests.push(this.icase ? (c) => (c >= l && c <= h) || (fold(c) >= fold(l) && fold(c) <= fold(h)) || (c >= 97 && c <= 122 && c - 32 >= l && c - 32 <= h) : (c) => c >= l && c <= h);
    }
    if (this.src[this.i] !== ']') throw new RegexSyntaxError('unclosed character class "["', at);
    this.i++;
    return { t: 'char', test: negate ? (c) => !tests.some((t) => t(c)) : (c) => tests.some((t) => t(c)) };
  }
}

function emit(n: Node, prog: Inst[]): void {
  if (prog.length > MAX_PROGRAM) throw new RegexSyntaxError(`pattern too large once its repeats are expanded (more than ${MAX_PROGRAM} steps)`, 0);
  switch (n.t) {
    case 'char': prog.push({ op: 'char', test: n.test }); return;
    case 'bol': prog.push({ op: 'bol' }); return;
    case 'eol': prog.push({ op: 'eol' }); return;
    case 'cat': for (const p of n.parts) emit(p, prog); return;
    case 'alt': {
      const jumps: Inst[] = [];
      n.options.forEach((o, k) => {
        if (k < n.options.length - 1) {
          const split = { op: 'split', x: prog.length + 1, y: 0 } as Inst & { op: 'split' };
          prog.push(split);
          emit(o, prog);
          const j = { op: 'jmp', x: 0 } as Inst & { op: 'jmp' };
          prog.push(j);
          jumps.push(j);
          split.y = prog.length;
        } else emit(o, prog);
      });
      for (const j of jumps) (j as { x: number }).x = prog.length;
      return;
    }
    case 'rep': {
      for (let k = 0; k < n.min; k++) emit(n.node, prog);
      if (n.max === -1) {
        const split = { op: 'split', x: prog.length + 1, y: 0 } as Inst & { op: 'split' };
        const top = prog.length;
        prog.push(split);
        emit(n.node, prog);
        prog.push({ op: 'jmp', x: top });
        split.y = prog.length;
      } else {
        const splits: (Inst & { op: 'split' })[] = [];
        for (let k = n.min; k < n.max; k++) {
          const split = { op: 'split', x: prog.length + 1, y: 0 } as Inst & { op: 'split' };
          prog.push(split);
          splits.push(split);
          emit(n.node, prog);
        }
        for (const s of splits) s.y = prog.length;
      }
    }
  }
}

export interface Budget {
  steps: number;
}

export interface SafeRegex {
  /** True when the pattern matches somewhere in `text`; spends `budget.steps` (RegexBudgetError when gone). */
  test(text: string, budget?: Budget): boolean;
  /**
   * The longest run of literal characters every match contains ('' when there is none, or the
   * pattern is case-insensitive): a text without it cannot match, so a store may skip it unread
   * (PostgreSQL's `data matches` asks its trigram index for the texts holding it).
   */
  readonly required: string;
}

/** The character a one-character escape stands for (`\.`, `\n`, `\x41`), or undefined for a class (`\d`). */
function escapedLiteral(e: string): number | undefined {
  if (e === 'n') return 10;
  if (e === 'r') return 13;
  if (e === 't') return 9;
  if (e.length === 3 && e[0] === 'x') return Number.parseInt(e.slice(1), 16);
  if (e.length === 1 && !/[A-Za-z0-9]/.test(e)) return e.charCodeAt(0);
  return undefined;
}

/**
 * Runs of consecutive literal characters in the pattern's top-level sequence (groups of a plain
 * sequence count as inline); anything else (a class, a repeat, an alternation, an anchor) ends a
 * run. Each run appears in every match; the longest is kept.
 */
function requiredLiteral(n: Node): string {
  let best = '';
  let run: number[] = [];
  const end = () => {
    if (run.length > best.length) best = String.fromCharCode(...run);
    run = [];
  };
  const walk = (x: Node): void => {
    if (x.t === 'cat') x.parts.forEach(walk);
    else if (x.t === 'alt' && x.options.length === 1) walk(x.options[0]!);
    else if (x.t === 'char' && x.lit !== undefined) run.push(x.lit);
    else end();
  };
  walk(n);
  end();
  return best;
}

/** Compiles a pattern; throws RegexSyntaxError (with the index in the pattern) for what it cannot run safely. */
export function compileRegex(pattern: string): SafeRegex {
  let src = pattern;
  let icase = false;
  if (src.startsWith('(?i)')) {
    icase = true;
    src = src.slice(4);
  }
  let tree: Node;
  try {
    tree = new RegexParser(src, icase).parse();
  } catch (e) {
    if (e instanceof RegexSyntaxError) throw new RegexSyntaxError(e.message, e.index + (icase ? 4 : 0));
    throw e;
  }
  const prog: Inst[] = [];
  emit(tree, prog);
  prog.push({ op: 'match' });
  if (prog.length > MAX_PROGRAM) throw new RegexSyntaxError(`pattern too large once its repeats are expanded (more than ${MAX_PROGRAM} steps)`, 0);
  const n = prog.length;
  // Work arrays reused by every test (filters run synchronously, one test at a time).
  const work: Work = { a: new Int32Array(n), b: new Int32Array(n), mark: new Int32Array(n), stack: new Int32Array(n * 2 + 2), generation: 0 };
  return { test: (text, budget) => run(prog, work, text, budget), required: requiredLiteral(tree) };
}

interface Work {
  a: Int32Array;
  b: Int32Array;
  mark: Int32Array;
  stack: Int32Array;
  /** Marks from earlier tests are below it: never reset, only moved on. */
  generation: number;
}

function run(prog: readonly Inst[], work: Work, text: string, budget?: Budget): boolean {
  let clist = work.a;
  let nlist = work.b;
  let ccount = 0;
  let ncount = 0;
  const mark = work.mark;
  const stack = work.stack;
  if (work.generation > 0x3fffffff) {
    mark.fill(0);
    work.generation = 0;
  }
  let generation = work.generation + 1;
  let steps = 0;

  // Adds pc and everything reachable from it without consuming a character.
  const add = (list: Int32Array, count: number, pc0: number, pos: number): number | -1 => {
    let sp = 0;
    stack[sp++] = pc0;
    while (sp > 0) {
      const pc = stack[--sp]!;
      if (mark[pc] === generation) continue;
      mark[pc] = generation;
      steps++;
      const ins = prog[pc]!;
      switch (ins.op) {
        case 'jmp': stack[sp++] = ins.x; break;
        case 'split': stack[sp++] = ins.y; stack[sp++] = ins.x; break;
        case 'bol': if (pos === 0) stack[sp++] = pc + 1; break;
        case 'eol': if (pos === text.length) stack[sp++] = pc + 1; break;
        case 'match': return -1;
        default: list[count++] = pc;
      }
    }
    return count;
  };

  for (let pos = 0; pos <= text.length; pos++) {
    generation++;
    // Re-mark the threads carried over so a new start at this position does not duplicate them.
    for (let k = 0; k < ccount; k++) mark[clist[k]!] = generation;
    const r = add(clist, ccount, 0, pos);
    if (r === -1) {
      work.generation = generation;
      return true;
    }
    ccount = r;
    if (pos === text.length) break;
    const ch = text.charCodeAt(pos);
    generation++;
    ncount = 0;
    for (let k = 0; k < ccount; k++) {
      const ins = prog[clist[k]!]! as Extract<Inst, { op: 'char' }>;
      steps++;
      if (ins.test(ch)) {
        const r2 = add(nlist, ncount, clist[k]! + 1, pos + 1);
        if (r2 === -1) {
          work.generation = generation;
          return true;
        }
        ncount = r2;
      }
    }
    [clist, nlist] = [nlist, clist];
    ccount = ncount;
    if (budget && steps > 4096) {
      budget.steps -= steps;
      steps = 0;
      work.generation = generation;
      if (budget.steps < 0) throw new RegexBudgetError(OVER_BUDGET);
    }
  }
  work.generation = generation;
  if (budget) {
    budget.steps -= steps;
    if (budget.steps < 0) throw new RegexBudgetError(OVER_BUDGET);
  }
  return false;
}
