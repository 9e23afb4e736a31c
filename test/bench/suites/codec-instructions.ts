/**
 * codec-instructions: the codec comparison counted in CPU instructions (valgrind's callgrind) instead
 * of time, for a view that other processes on the machine do not move. Not a default suite (it takes
 * minutes) and not judged (the target is about speed, and instructions are not time: libwbxml's
 * mallocs and our JIT code retire instructions at different rates); printed beside the timed suite.
 *
 *   npm run bench -- codec-instructions [--fixture ID] [--compare-with DIR]
 *
 * Ours: main/protocol/convert.ts bundled by esbuild (no tsx loader under valgrind) and run by a plain
 * loop under `node --single-threaded` (no background compiler or GC threads, so the JIT tiers up at
 * the same points every run). libwbxml: test/bench/libwbxml/baseline.c. Each side runs twice with
 * different message counts; (instructions of the long run - of the short run) / (messages between)
 * is the steady-state count per message, without start-up, file reading and JIT warm-up. Repeated
 * runs of ours differ by about 1% (V8's hash seeds), libwbxml's not at all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { BENCH_CACHE_DIR, GENERATED_FIXTURES, ANDROID_TESTADD, REPO_ROOT, missingFixtureFiles, type BenchFixture } from '../fixtures.js';
import { fmtInt, fmtNum, table } from '../format.js';
import { ensureBaseline } from '../libwbxml/harness.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';

type Op = 'decode' | 'encode';

/** Messages in the short and the long run, per fixture: enough for the optimised code to dominate. */
const COUNTS: Record<string, [number, number]> = {
  'dm12-server-2k': [1000, 2000],
  'dm12-lobj-200k': [50, 100],
  'android-testadd': [2000, 4000],
};

const LOOP = `import { readFileSync } from 'node:fs';
const [bundle, op, wbxmlPath, xmlPath, count] = process.argv.slice(2);
const { wbxmlToXml, xmlToWbxml } = await import(bundle);
const wbxml = new Uint8Array(readFileSync(wbxmlPath));
const xml = readFileSync(xmlPath, 'utf8');
let sink = 0;
for (let i = 0, n = Number(count); i < n; i++) {
  const r = op === 'decode' ? wbxmlToXml(wbxml) : xmlToWbxml(xml);
  if (!r.ok) throw new Error(op + ' failed');
  sink += r.value.length;
}
console.log(JSON.stringify({ sink }));
`;

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Instructions callgrind counted for one command (the "Collected" line of its summary). */
function instructions(cmd: string, args: string[]): { count: number; stdout: string } {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', cmd, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw new Error((r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'valgrind not found (apt-get install valgrind)' : r.error.message);
  const m = /Collected\s*:\s*([\d,]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} under callgrind failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return { count: Number(m[1]!.replace(/,/g, '')), stdout: r.stdout };
}

/** esbuild's bundle of a checkout's convert.ts, in the bench cache. */
function bundle(root: string, name: string): string {
  const dir = join(BENCH_CACHE_DIR, 'instructions');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.mjs`);
  const esbuild = join(REPO_ROOT, 'node_modules', '.bin', 'esbuild');
  execFileSync(esbuild, [join(root, 'main', 'protocol', 'convert.ts'), '--bundle', '--format=esm', '--platform=node', `--outfile=${out}`, '--log-level=warning'], { cwd: root });
  return out;
}

function oursPerMessage(bundlePath: string, loop: string, op: Op, f: BenchFixture): number {
  const [n1, n2] = COUNTS[f.id] ?? [500, 1000];
  const run = (n: number): number => instructions(process.execPath, ['--single-threaded', loop, bundlePath, op, f.wbxmlPath, f.xmlPath, String(n)]).count;
  return (run(n2) - run(n1)) / (n2 - n1);
}

function libPerMessage(binary: string, op: Op, f: BenchFixture): number {
  const [n1, n2] = COUNTS[f.id] ?? [500, 1000];
  const run = (n: number): { count: number; iterations: number } => {
    const r = instructions(binary, [f.wbxmlPath, f.xmlPath, '--iterations', String(n), '--min-millis', '0', '--mode', op]);
    const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
    return { count: r.count, iterations: j[`${op}_iterations`] ?? Number.NaN };
  };
  const a = run(n1);
  const b = run(n2);
  return (b.count - a.count) / (b.iterations - a.iterations);
}

export const suite: BenchSuite = {
  name: 'codec-instructions',
  description: 'the codec vs libwbxml in CPU instructions per message (valgrind callgrind; minutes; printed, not judged)',
  default: false,
  async run(ctx: BenchContext): Promise<Verdict[]> {
    const { log } = ctx;
    log('codec-instructions: instructions per message under callgrind (steady state: long run - short run)');
    const build = ensureBaseline();
    if (!build.ok) {
      log(`  libwbxml baseline NOT AVAILABLE: ${build.reason}`);
      return [];
    }
    const loop = join(BENCH_CACHE_DIR, 'instructions', 'loop.mjs');
    mkdirSync(join(BENCH_CACHE_DIR, 'instructions'), { recursive: true });
    writeFileSync(loop, LOOP);
    const sides: { label: string; bundle: string }[] = [{ label: 'ours', bundle: bundle(REPO_ROOT, 'ours') }];
    const compareWith = option(ctx.args, '--compare-with');
    if (compareWith !== undefined) sides.push({ label: `old (${compareWith})`, bundle: bundle(resolve(compareWith), 'old') });

    const only = option(ctx.args, '--fixture');
    const fixtures = [...GENERATED_FIXTURES, ANDROID_TESTADD].filter((f) => (!only || f.id === only) && missingFixtureFiles(f).length === 0);
    const rows: string[][] = [['', 'decode instr/msg', 'lib/ours', 'encode instr/msg', 'lib/ours']];
    for (const f of fixtures) {
      // The Android vector's XML is written by the codec suite (wbxml2xml at bench time).
      try {
        readFileSync(f.xmlPath);
      } catch {
        rows.push([`${f.label}: skipped, ${relative(REPO_ROOT, f.xmlPath)} missing (run the codec suite once)`]);
        continue;
      }
      rows.push([`${f.label} (${f.id})`]);
      const lib = { decode: libPerMessage(build.binary, 'decode', f), encode: libPerMessage(build.binary, 'encode', f) };
      for (const side of sides) {
        const d = oursPerMessage(side.bundle, loop, 'decode', f);
        const e = oursPerMessage(side.bundle, loop, 'encode', f);
        rows.push([`  ${side.label}`, fmtInt(d), `${fmtNum(lib.decode / d, 2)}x`, fmtInt(e), `${fmtNum(lib.encode / e, 2)}x`]);
      }
      rows.push(['  libwbxml', fmtInt(lib.decode), '', fmtInt(lib.encode), '']);
      log(`  ${f.id} done`);
    }
    for (const line of table(rows, 'lrrrr')) log(line);
    log();
    return [];
  },
};
