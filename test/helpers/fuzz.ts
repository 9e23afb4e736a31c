/**
 * The engine the fuzz tests share: a seeded generator and the mutators that turn valid seeds into
 * damaged inputs. Each mutator draws its random numbers in a fixed order, so a seed (and the
 * iteration a failure names) replays exactly. Options only choose between the variants the test
 * files need; each option value draws the same numbers in the same order every time.
 */
import { wbxmlToXml, xmlToWbxml } from '../../main/protocol/convert.js';

/** A seeded source of floats in [0, 1). */
export type Rnd = () => number;

/** mulberry32: tiny, fast, good enough to drive mutations reproducibly (a seed replays exactly). */
export function prng(seed: number): Rnd {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same generator drawing integers: `rng(seed)(n)` is in [0, n), one draw of `prng(seed)` each (the integration fuzzers' form). */
export function rng(seed: number): (n: number) => number {
  const rnd = prng(seed);
  return (n) => Math.floor(rnd() * n);
}

/** An integer in [0, n), from one draw. */
export const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);

/** One element of a non-empty list, from one draw. */
export const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[int(rnd, xs.length)]!;

// ------------------------------------------------------------------------------------------ bytes

export interface ByteMutation {
  /**
   * Only the mutations that change no length (flips, bytes, swaps), so formats whose lengths must
   * add up (an SMS's TP-UDL, a TLV) still get past their length check.
   */
  keepLength?: boolean;
  /** A swap exchanges two slices of 1..maxSwap bytes (default 12). */
  maxSwap?: number;
  /** A splice appends fewer than maxSplice bytes of another seed (default 64). */
  maxSplice?: number;
}

/**
 * Byte-level mutation of a binary seed, 1 to 3 rounds of: bits flipped, an interesting or a random
 * byte set, cut short, bytes inserted, a slice dropped, repeated or swapped, or the tail replaced by
 * a piece of another seed. `interesting` holds the bytes that mean something to the format.
 */
export function mutateBytes(src: Uint8Array, seeds: readonly Uint8Array[], rnd: Rnd, interesting: readonly number[], opts: ByteMutation = {}): Uint8Array {
  const { keepLength = false, maxSwap = 12, maxSplice = 64 } = opts;
  let b = Array.from(src);
  for (let round = 1 + int(rnd, 3); round > 0; round--) {
    const at = int(rnd, b.length + 1);
    switch (keepLength ? [0, 1, 2, 7][int(rnd, 4)] : int(rnd, 9)) {
      case 0:
        for (let k = 1 + int(rnd, 4); k > 0 && b.length > 0; k--) b[int(rnd, b.length)]! ^= 1 << int(rnd, 8);
        break;
      case 1:
        if (b.length > 0) b[int(rnd, b.length)] = pick(rnd, interesting);
        break;
      case 2:
        if (b.length > 0) b[int(rnd, b.length)] = int(rnd, 256);
        break;
      case 3:
        b.length = at;
        break;
      case 4:
        b.splice(at, 0, ...Array.from({ length: 1 + int(rnd, 8) }, () => (rnd() < 0.5 ? pick(rnd, interesting) : int(rnd, 256))));
        break;
      case 5:
        b.splice(at, 1 + int(rnd, 16));
        break;
      case 6: {
        const end = Math.min(b.length, at + 1 + int(rnd, 32));
        b.splice(end, 0, ...b.slice(at, end));
        break;
      }
      case 7: {
        const i = int(rnd, b.length);
        const j = int(rnd, b.length);
        const n = 1 + int(rnd, maxSwap);
        const x = b.slice(i, i + n);
        const y = b.slice(j, j + n);
        b.splice(i, x.length, ...y);
        b.splice(j, y.length, ...x);
        break;
      }
      default: {
        const other = pick(rnd, seeds);
        const from = int(rnd, other.length);
        b = [...b.slice(0, at), ...other.subarray(from, from + int(rnd, maxSplice))];
      }
    }
  }
  return Uint8Array.from(b);
}

// ------------------------------------------------------------------------------------------ text

export interface TextMutation {
  /** Also flip a bit of one character (as latin1): for byte streams read as text, e.g. a modem's. */
  flipByte?: boolean;
  /** A drop removes 1..maxDrop characters (default 8). */
  maxDrop?: number;
  /** A repeat doubles a run of 1..maxRepeat characters (default 16). */
  maxRepeat?: number;
  /** A swap exchanges two runs of 1..maxSwap characters (default 6). */
  maxSwap?: number;
  /** A splice inserts fewer than maxSplice characters of another seed (default 24). */
  maxSplice?: number;
}

/**
 * Character-level mutation of a text seed, 1 to 3 rounds of: a token inserted or written over,
 * a run dropped, repeated or swapped, cut short, a piece of another seed spliced in (and with
 * `flipByte`, a bit flipped). `tokens` holds the pieces of syntax that mean something to the parser.
 */
export function mutateText(src: string, seeds: readonly string[], rnd: Rnd, tokens: readonly string[], opts: TextMutation = {}): string {
  const { flipByte = false, maxDrop = 8, maxRepeat = 16, maxSwap = 6, maxSplice = 24 } = opts;
  let s = src;
  for (let round = 1 + int(rnd, 3); round > 0; round--) {
    const at = int(rnd, s.length + 1);
    const kind = int(rnd, flipByte ? 8 : 7);
    // without flips, kinds 5 and 6 are the swap and the splice
    switch (!flipByte && kind >= 5 ? kind + 1 : kind) {
      case 0:
        s = s.slice(0, at) + pick(rnd, tokens) + s.slice(at);
        break;
      case 1: {
        const t = pick(rnd, tokens);
        s = s.slice(0, at) + t + s.slice(at + t.length);
        break;
      }
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + int(rnd, maxDrop));
        break;
      case 3: {
        const end = Math.min(s.length, at + 1 + int(rnd, maxRepeat));
        s = s.slice(0, end) + s.slice(at, end) + s.slice(end);
        break;
      }
      case 4:
        s = s.slice(0, at);
        break;
      case 5: {
        if (s.length) {
          const k = int(rnd, s.length);
          s = s.slice(0, k) + String.fromCharCode((s.charCodeAt(k) ^ (1 << int(rnd, 8))) & 0xff) + s.slice(k + 1);
        }
        break;
      }
      case 6: {
        const i = int(rnd, s.length);
        const n = 1 + int(rnd, maxSwap);
        const j = int(rnd, s.length);
        const x = s.slice(i, i + n);
        s = s.slice(0, i) + s.slice(j, j + n) + s.slice(i + n);
        s = s.slice(0, j) + x + s.slice(j + n);
        break;
      }
      default: {
        const o = pick(rnd, seeds);
        const from = int(rnd, o.length);
        s = s.slice(0, at) + o.slice(from, from + int(rnd, maxSplice)) + s.slice(at);
      }
    }
  }
  return s;
}

// ------------------------------------------------------------------------------------------ DM messages

/** A mutated message and what was done to it, so a fuzz run can count (and log) its kinds of damage. */
export interface Mutated {
  bytes: Uint8Array;
  kind: string;
}

/**
 * One byte-level change to a whole DM message (XML or WBXML), drawn from an integer generator:
 * bytes set at random, cut short, a slice repeated, dropped or swapped, or a meaningful byte inserted.
 */
export function mutateMessage(src: Uint8Array, r: (n: number) => number): Mutated {
  const b = Array.from(src);
  const at = () => r(b.length + 1);
  switch (r(6)) {
    case 0: // flip a few bytes
      for (let i = 1 + r(4); i > 0; i--) b[r(b.length)] = r(256);
      return { bytes: new Uint8Array(b), kind: 'flip' };
    case 1: // cut short
      b.length = r(b.length);
      return { bytes: new Uint8Array(b), kind: 'cut' };
    case 2: { // repeat a slice
      const s = at();
      const e = Math.min(b.length, s + 1 + r(40));
      b.splice(at(), 0, ...b.slice(s, e));
      return { bytes: new Uint8Array(b), kind: 'repeat' };
    }
    case 3: // drop a slice
      b.splice(at(), 1 + r(20));
      return { bytes: new Uint8Array(b), kind: 'drop' };
    case 4: { // swap two slices
      const i = r(b.length);
      const j = r(b.length);
      const n = 1 + r(12);
      const x = b.slice(i, i + n);
      const y = b.slice(j, j + n);
      b.splice(i, x.length, ...y);
      b.splice(j, y.length, ...x);
      return { bytes: new Uint8Array(b), kind: 'swap' };
    }
    default: // a byte that often means something: a WBXML END, string start, or '<'
      b.splice(at(), 0, [0x01, 0x03, 0x00, 0x3c, 0xc3][r(5)]!);
      return { bytes: new Uint8Array(b), kind: 'insert' };
  }
}

/**
 * What leaf mutations draw: `values` that mean something to the side under test, and `valueWeight`,
 * how many of the valueWeight + 2 equally likely choices replace a value (the other two drop or
 * repeat the leaf).
 */
export interface LeafMutation {
  values: readonly string[];
  valueWeight: number;
}

/**
 * One change to a leaf element of an XML document (a value replaced, the element dropped or
 * repeated), so the message still parses and reaches the code behind the parser; undefined when
 * the document has no leaf.
 */
export function mutateLeaves(src: Uint8Array, r: (n: number) => number, leaf: LeafMutation): Mutated | undefined {
  const text = Buffer.from(src).toString('utf8');
  const leaves = [...text.matchAll(/<(\w+)(?: [^>]*)?>[^<]*<\/\1>|<(\w+)\/>/g)];
  if (leaves.length === 0) return undefined;
  const m = leaves[r(leaves.length)]!;
  const [whole] = m;
  const start = m.index!;
  const name = m[1] ?? m[2]!;
  const choice = r(leaf.valueWeight + 2);
  let repl: string;
  let kind: string;
  if (choice < leaf.valueWeight) {
    repl = m[1] ? whole.replace(/>[^<]*</, `>${leaf.values[r(leaf.values.length)]}<`) : `<${name}>${leaf.values[r(leaf.values.length)]}</${name}>`;
    kind = 'leaf-value';
  } else if (choice === leaf.valueWeight) {
    repl = '';
    kind = 'leaf-drop';
  } else {
    repl = whole + whole;
    kind = 'leaf-repeat';
  }
  return { bytes: new Uint8Array(Buffer.from(text.slice(0, start) + repl + text.slice(start + whole.length), 'utf8')), kind };
}

/** XML is mostly refused at the parser when its bytes are flipped: half of its mutations work on leaves. */
export function mutateXml(src: Uint8Array, r: (n: number) => number, leaf: LeafMutation): Mutated {
  if (r(2) === 0) return mutateMessage(src, r);
  return mutateLeaves(src, r, leaf) ?? mutateMessage(src, r);
}

/** The same for WBXML: half byte-level, half the leaf mutations on its XML form, encoded back. */
export function mutateWbxml(src: Uint8Array, r: (n: number) => number, leaf: LeafMutation): Mutated {
  if (r(2) === 0) return mutateMessage(src, r);
  const xml = wbxmlToXml(src);
  if (!xml.ok) throw new Error(`message to mutate does not decode: ${xml.error.message}`);
  for (let tries = 0; tries < 5; tries++) {
    const leafy = mutateLeaves(xml.value, r, leaf);
    const changed = leafy && xmlToWbxml(Buffer.from(leafy.bytes).toString('utf8'));
    if (leafy && changed?.ok) return { bytes: changed.value, kind: leafy.kind };
  }
  return mutateMessage(src, r);
}

/** A contract breach a fuzz run found: which parser, at which iteration, what, on which input. */
export interface Finding {
  parser: string;
  iteration: number;
  what: string;
  input: string;
}

/**
 * Collects the findings of a fuzz run (the first 20: one bug tends to repeat) and the slowest single
 * call, so a test can fail with the inputs that broke the contract instead of the first stack trace.
 */
export class Judge {
  findings: Finding[] = [];
  slowestMs = 0;

  report(parser: string, iteration: number, what: string, input: Uint8Array | string): void {
    if (this.findings.length >= 20) return;
    const shown = typeof input === 'string' ? JSON.stringify(input.length > 300 ? `${input.slice(0, 300)}…` : input) : Buffer.from(input.subarray(0, 120)).toString('hex');
    this.findings.push({ parser, iteration, what, input: shown });
  }

  /** Runs one parser call; a throw is a finding (returned as undefined). */
  call<T>(parser: string, iteration: number, input: Uint8Array | string, f: () => T): T | undefined {
    const r = this.attempt(f);
    if ('thrown' in r) {
      this.unexpected(parser, iteration, input, r.thrown);
      return undefined;
    }
    return r.value;
  }

  /** Runs one parser call and hands back what it threw, for callers that expect some errors. */
  attempt<T>(f: () => T): { value: T } | { thrown: unknown } {
    const t0 = performance.now();
    try {
      return { value: f() };
    } catch (e) {
      return { thrown: e };
    } finally {
      this.slowestMs = Math.max(this.slowestMs, performance.now() - t0);
    }
  }

  /** A throw the parser's contract does not allow. */
  unexpected(parser: string, iteration: number, input: Uint8Array | string, e: unknown): void {
    this.report(parser, iteration, `threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, input);
  }
}
