/**
 * Fuzz: 100,000+ inputs mutated from real and synthetic WBXML (bit flips, byte sets, truncations,
 * insertions, deletions, splices, random bytes) plus hostile shapes (100k-deep nesting, huge lengths).
 * decodeWbxml and inspectWbxml must always return a Result, never throw, and put every error at an
 * offset inside the input; a successful decode must re-encode to the same tree. Seeded, so a failure
 * names the iteration that reproduces it.
 */
import { prng } from '../helpers/fuzz.js';
import { VECTORS_DIR } from '../helpers/tools.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import type { CodecError } from '../../main/protocol/errors.js';
import { el, type Child, type Element } from '../../main/protocol/element.js';
import { decodeWbxml, encodeWbxml, inspectWbxml, PUBLIC_ID_LITERAL } from '../../main/protocol/wbxml/index.js';

const SEED = 20251124;
const ITERATIONS = 100_000;

const here = path.dirname(fileURLToPath(import.meta.url));
const VECTORS = VECTORS_DIR;

function corpus(): Uint8Array[] {
  const seeds: Uint8Array[] = readdirSync(VECTORS)
    .filter((f) => f.endsWith('.wbxml'))
    .map((f) => new Uint8Array(readFileSync(path.join(VECTORS, f))));
  const s = (name: string, children: Child[] = []): Element => el('syncml', name, children);
  const tree = s('SyncML', [
    s('SyncHdr', [s('VerDTD', ['1.2']), s('Meta', [el('metinf', 'MaxMsgSize', ['9999'])])]),
    s('SyncBody', [
      s('Atomic', [s('CmdID', ['1']), s('Sequence', [s('Replace', [s('Item', [s('Data', [new Uint8Array([0, 1, 2, 0xc3, 0xff])])])])])]),
      s('Add', [s('Item', [s('Data', [el('dmddf', 'MgmtTree', [el('dmddf', 'Node', [el('dmddf', 'NodeName', ['名前'])])])])])]),
      s('Final'),
    ]),
  ]);
  const info = { wbxmlVersion: 2, publicId: 0x1201, rootNamespaceUri: 'SYNCML:SYNCML1.2' };
  for (const opts of [{}, { publicId: PUBLIC_ID_LITERAL.SYNCML_12 }, { ddf: 'opaque' as const, version: 3 as const }]) {
    const r = encodeWbxml({ info, root: tree }, opts);
    if (r.ok) seeds.push(r.value);
  }
  // String table, STR_T, LITERAL_C and ENTITY, which our encoder never writes.
  seeds.push(new Uint8Array([0x02, 0xa4, 0x01, 0x6a, 0x08, 0x4c, 0x6f, 0x00, 0x44, 0x61, 0x74, 0x61, 0x00,
    0x6d, 0x44, 0x03, 0x03, 0x48, 0x00, 0x02, 0x81, 0x69, 0x83, 0x00, 0x01, 0x01]));
  return seeds;
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x44, 0x45, 0x6d, 0x7f, 0x80, 0x83, 0x84, 0xc0, 0xc3, 0xc4, 0xff];

/** This file's own byte mutator, not the shared mutateBytes: no swap, and a random body behind a valid WBXML header instead. */
function mutate(src: Uint8Array, seeds: Uint8Array[], rnd: () => number): Uint8Array {
  const int = (n: number): number => Math.floor(rnd() * n);
  let b = Uint8Array.from(src);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1);
    switch (int(9)) {
      case 0: // bit flips
        for (let k = 1 + int(4); k > 0 && b.length > 0; k--) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // interesting byte
        if (b.length > 0) b[int(b.length)] = INTERESTING[int(INTERESTING.length)]!;
        break;
      case 2: // random byte
        if (b.length > 0) b[int(b.length)] = int(256);
        break;
      case 3: // truncate
        b = b.slice(0, at);
        break;
      case 4: { // insert random bytes
        const ins = Array.from({ length: 1 + int(8) }, () => (rnd() < 0.5 ? INTERESTING[int(INTERESTING.length)]! : int(256)));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 5: // delete a range
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + int(16)))]);
        break;
      case 6: { // duplicate a range
        const end = Math.min(b.length, at + 1 + int(32));
        b = Uint8Array.from([...b.subarray(0, end), ...b.subarray(at, end), ...b.subarray(end)]);
        break;
      }
      case 7: { // splice with another seed
        const other = seeds[int(seeds.length)]!;
        const from = int(other.length);
        b = Uint8Array.from([...b.subarray(0, at), ...other.subarray(from, from + int(64))]);
        break;
      }
      default: // random body behind a valid header
        b = Uint8Array.from([0x02, 0xa4, 0x01, 0x6a, 0x00, ...Array.from({ length: int(48) }, () => int(256))]);
    }
  }
  return b;
}

/** Hostile shapes the mutator would rarely reach. */
/** A 1 MiB string table holding one string, and Data elements whose STR_Ts point ever further into it. */
function tableAmplifier(): Uint8Array {
  const n = 1 << 20;
  const head = [0x02, 0xa4, 0x01, 0x6a, 0xc0, 0x80, 0x00]; // string table length 2^20 as mb_u_int32
  const table = new Uint8Array(n).fill(0x41);
  table[n - 1] = 0;
  const refs = Array.from({ length: 40 }, (_, i) => [0x4f, 0x83, ...(i < 128 ? [i] : [0x81, i - 128]), 0x01]).flat();
  return new Uint8Array([...head, ...table, 0x6d, ...refs, 0x01]);
}

function hostile(): Uint8Array[] {
  const H = [0x02, 0xa4, 0x01, 0x6a, 0x00];
  const fill = (prefix: number[], n: number, pattern: number[], suffix: number[] = []): Uint8Array => {
    const out = new Uint8Array(prefix.length + n * pattern.length + suffix.length);
    out.set(prefix);
    for (let i = 0; i < n; i++) out.set(pattern, prefix.length + i * pattern.length);
    out.set(suffix, prefix.length + n * pattern.length);
    return out;
  };
  return [
    fill(H, 100_000, [0x64]), // 100k nested Sequence, never closed
    fill(H, 100_000, [0x64], new Array(100_000).fill(0x01)), // 100k nested and closed
    fill([...H, 0x6d], 100_000, [0x12], [0x01]), // 100k empty siblings
    fill([...H, 0x6d], 100_000, [0x00, 0x01]), // 100k SWITCH_PAGEs
    fill([...H, 0x6d, 0x4f, 0x03], 100_000, [0x41]), // 100k-byte string, no NUL
    fill([...H, 0x6d, 0x4f], 50_000, [0x02, 0x41], [0x01, 0x01]), // 50k ENTITY pieces merged into one string
    new Uint8Array([...H, 0x6d, 0xc3, 0x8f, 0xff, 0xff, 0xff, 0x7f]), // OPAQUE of 4 GiB
    new Uint8Array([0x02, 0xa4, 0x01, 0x6a, 0x8f, 0xff, 0xff, 0xff, 0x7f]), // string table of 4 GiB
    new Uint8Array([0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // mb_u_int32 of 7 bytes
    new Uint8Array([...H, 0x6d, 0x83, 0x8f, 0xff, 0xff, 0xff, 0x7f, 0x01]), // STR_T far outside
    tableAmplifier(), // 40 STR_Ts into one 1 MiB table string, each a byte further (maxTableTextChars)
    new Uint8Array(0),
    new Uint8Array([0x02]),
  ];
}

const CODES = new Set<string>([
  'truncated', 'bad-header', 'bad-token', 'bad-mb-uint', 'bad-string-table-ref', 'bad-charset',
  'unknown-element', 'unknown-namespace', 'unexpected-content', 'bad-value', 'limit-exceeded',
  'trailing-data', 'unsupported',
]);

/** Why an error value breaks the contract, or undefined when it keeps it. */
function badError(e: CodecError, input: Uint8Array): string | undefined {
  if (!CODES.has(e.code)) return `unexpected code ${e.code}`;
  if (typeof e.message !== 'string' || e.message.length === 0) return 'empty message';
  // An offset points at the offending token; "input ends" errors may point at the end of the input.
  if (typeof e.offset !== 'number' || !Number.isInteger(e.offset) || e.offset < 0 || e.offset > input.length) {
    return `offset ${String(e.offset)} outside 0..${input.length}`;
  }
  return undefined;
}

interface Finding {
  iteration: number;
  what: string;
  input: string;
}

function check(input: Uint8Array, iteration: number, findings: Finding[]): 'ok' | 'error' {
  const report = (what: string): void => {
    if (findings.length < 20) findings.push({ iteration, what, input: Buffer.from(input.subarray(0, 96)).toString('hex') });
  };
  let outcome: 'ok' | 'error' = 'error';
  try {
    const r = decodeWbxml(input);
    if (r.ok) {
      outcome = 'ok';
      const enc = encodeWbxml(r.value);
      // LITERAL tags may name elements that have no token: those cannot be re-encoded, and say so.
      if (enc.ok) {
        const again = decodeWbxml(enc.value);
        if (!again.ok) report(`re-encoded tree does not decode: ${again.error.message}`);
        else if (!isDeepStrictEqual(again.value.root, r.value.root)) report('re-encoded tree differs');
      } else if (enc.error.code !== 'unknown-element') {
        report(`decoded tree does not encode: ${enc.error.code} ${enc.error.message}`);
      }
    } else {
      const why = badError(r.error, input);
      if (why) report(`decode: ${why}`);
    }
  } catch (e) {
    report(`decodeWbxml threw: ${String(e)}`);
  }
  try {
    const i = inspectWbxml(input);
    if (!Array.isArray(i.tokens)) report('inspect: no tokens array');
    if (i.ok) {
      if (!i.tokens.every((t) => t.offset >= 0 && t.offset + t.length <= input.length)) report('inspect: token outside input');
    } else {
      const why = badError(i.error, input);
      if (why) report(`inspect: ${why}`);
      if (outcome === 'ok' && i.error.code !== 'limit-exceeded') report(`inspect failed where decode succeeded: ${i.error.message}`);
    }
  } catch (e) {
    report(`inspectWbxml threw: ${String(e)}`);
  }
  return outcome;
}

describe('WBXML fuzz', () => {
  it(`survives ${ITERATIONS} mutated inputs (seed ${SEED})`, () => {
    const seeds = corpus();
    const rnd = prng(SEED);
    const findings: Finding[] = [];
    let decoded = 0;
    const t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const input = mutate(seeds[Math.floor(rnd() * seeds.length)]!, seeds, rnd);
      if (check(input, i, findings) === 'ok') decoded++;
    }
    // The time is printed, not asserted: it says how loaded the machine was (speed lives in npm run bench).
    console.log(`wbxml fuzz: ${ITERATIONS} inputs in ${(performance.now() - t0).toFixed(0)} ms, ${decoded} decoded OK`);
    expect(findings).toEqual([]);
    // Mutations must still reach the decoder's happy path, or the fuzz only tests the header parser.
    expect(decoded).toBeGreaterThan(ITERATIONS / 50);
  }, 120_000);

  it('survives hostile shapes: deep nesting, huge lengths, endless strings', () => {
    const findings: Finding[] = [];
    hostile().forEach((input, i) => check(input, i, findings));
    expect(findings).toEqual([]);
    // And the depth limit is what stops deep nesting, before any stack could.
    const deep = hostile()[1]!;
    expect(decodeWbxml(deep)).toMatchObject({ ok: false, error: { code: 'limit-exceeded' } });
    expect(decodeWbxml(deep, { maxDepth: 200_000 }).ok).toBe(true);
    const merged = decodeWbxml(hostile()[5]!);
    expect(merged.ok && merged.value.root).toEqual(el('syncml', 'SyncML', [el('syncml', 'Data', ['A'.repeat(50_000)])]));
  });
});
