/**
 * Work a parser does, counted instead of timed, so that a fuzz test's "no input makes it slow"
 * holds or fails the same on an idle and on a loaded machine.
 *
 * What is counted: the characters and elements that the searching built-ins look at during a call
 * (String indexOf / lastIndexOf / includes, Array indexOf / lastIndexOf / includes, and every regular
 * expression match: String match, replace, split and search and RegExp test all go through
 * RegExp.prototype.exec). That is where a parser's quadratic work hides, behind a loop that looks
 * linear: a search from every position to the end of the text, a duplicate check with includes, a
 * pattern run over the rest of the text for each token. A parser's own loops are not counted;
 * backtracking inside one regular expression match is not either.
 *
 * The built-ins are wrapped only while the measured function runs (synchronously).
 */

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** Where a search starting at `from` (clamped as the built-ins clamp it) in a sequence of `length` begins. */
function start(from: unknown, length: number): number {
  const n = Math.trunc(Number(from ?? 0)) || 0;
  return n < 0 ? Math.max(0, length + n) : Math.min(n, length);
}

let work = 0;

/** Runs `f` and counts what the searching built-ins looked at meanwhile. */
export function countWork<T>(f: () => T): { value: T; work: number } {
  const S = String.prototype as unknown as Record<string, Fn>;
  const A = Array.prototype as unknown as Record<string, Fn>;
  const R = RegExp.prototype as unknown as Record<string, Fn>;
  const saved = { sIndexOf: S.indexOf!, sLastIndexOf: S.lastIndexOf!, sIncludes: S.includes!, aIndexOf: A.indexOf!, aLastIndexOf: A.lastIndexOf!, aIncludes: A.includes!, exec: R.exec! };
  const stringIndex = (self: unknown, args: unknown[]): number => {
    const s = String(self);
    const from = start(args[1], s.length);
    const at = Reflect.apply(saved.sIndexOf, s, args) as number;
    work += Math.max(1, at >= 0 ? at - from + String(args[0]).length : s.length - from);
    return at;
  };
  const arrayIndex = (self: unknown, args: unknown[], found: (a: unknown[]) => number): number => {
    const a = self as unknown[];
    const from = start(args[1], a.length);
    const at = found(a);
    work += Math.max(1, at >= 0 ? at - from + 1 : a.length - from);
    return at;
  };
  S.indexOf = function (this: unknown, ...args: unknown[]) {
    return stringIndex(this, args);
  };
  S.includes = function (this: unknown, ...args: unknown[]) {
    return stringIndex(this, args) >= 0;
  };
  S.lastIndexOf = function (this: unknown, ...args: unknown[]) {
    const s = String(this);
    const at = Reflect.apply(saved.sLastIndexOf, s, args) as number;
    work += Math.max(1, at >= 0 ? s.length - at : s.length);
    return at;
  };
  A.indexOf = function (this: unknown, ...args: unknown[]) {
    return arrayIndex(this, args, (a) => Reflect.apply(saved.aIndexOf, a, args) as number);
  };
  A.includes = function (this: unknown, ...args: unknown[]) {
    // includes finds NaN where indexOf does not: ask includes, then where (or count the whole scan).
    return arrayIndex(this, args, (a) => (Reflect.apply(saved.aIncludes, a, args) ? Math.max(0, Reflect.apply(saved.aIndexOf, a, args) as number) : -1)) >= 0;
  };
  A.lastIndexOf = function (this: unknown, ...args: unknown[]) {
    const a = this as unknown[];
    const at = Reflect.apply(saved.aLastIndexOf, a, args) as number;
    work += Math.max(1, at >= 0 ? a.length - at : a.length);
    return at;
  };
  R.exec = function (this: unknown, s: unknown) {
    const re = this as RegExp;
    const text = String(s);
    const from = re.global || re.sticky ? Math.min(re.lastIndex, text.length) : 0;
    const m = Reflect.apply(saved.exec, re, [text]) as RegExpExecArray | null;
    // A sticky match (split tries one at each position) looks only where it stands.
    if (re.sticky) work += Math.max(1, m ? m[0].length : 1);
    else work += Math.max(1, m ? m.index + m[0].length - from : text.length - from);
    return m;
  };
  const before = work;
  try {
    const value = f();
    return { value, work: work - before };
  } finally {
    S.indexOf = saved.sIndexOf;
    S.lastIndexOf = saved.sLastIndexOf;
    S.includes = saved.sIncludes;
    A.indexOf = saved.aIndexOf;
    A.lastIndexOf = saved.aLastIndexOf;
    A.includes = saved.aIncludes;
    R.exec = saved.exec;
  }
}

/**
 * The most work per unit of input over many calls (`size` + 64, so that tiny inputs with a fixed
 * cost do not dominate), and the input that took it.
 */
export class WorkMeter {
  worstPerUnit = 0;
  worstInput = '';

  run<T>(input: string | Uint8Array, f: () => T): T {
    const { value, work } = countWork(f);
    const perUnit = work / (input.length + 64);
    if (perUnit > this.worstPerUnit) {
      this.worstPerUnit = perUnit;
      this.worstInput = typeof input === 'string' ? (input.length > 200 ? `${input.slice(0, 200)}… (${input.length} chars)` : input) : `${input.length} bytes`;
    }
    return value;
  }

  /** For an assertion's message. */
  toString(): string {
    return `${this.worstPerUnit.toFixed(1)} per unit of input, on ${JSON.stringify(this.worstInput)}`;
  }
}
