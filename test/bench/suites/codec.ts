/**
 * codec: our WBXML<->XML conversions against libwbxml's, in one run, on the same files.
 *
 *   decode = WBXML bytes -> XML text (ours: wbxmlToXml compact; libwbxml: `wbxml2xml -m 0`)
 *   encode = XML text -> WBXML bytes (ours: xmlToWbxml; libwbxml: `xml2wbxml -v 1.2 -n`)
 *
 * Both sides run in-process loops (ours: main/cli/codec-bench.ts; libwbxml: libwbxml/baseline.c),
 * one after the other for each fixture. Target: ours >= 1.5x libwbxml in MB/s, both directions.
 * Memory on the 200 KB large object: what one conversion leaves on our heap, as a multiple of the
 * input (target: a small multiple, read here as <= 10x), beside the peak RSS growth of both sides.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANDROID_TESTADD, GENERATED_FIXTURES, REPO_ROOT, missingFixtureFiles, type BenchFixture } from '../fixtures.js';
import { fmtBytes, fmtInt, fmtNum, fmtRatio, table, verdictWord } from '../format.js';
import { ensureBaseline, runBaseline, type BaselineResult } from '../libwbxml/harness.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';
import type { CodecBenchDetail } from '../../../main/cli/codec-bench.js';

/** ours / libwbxml, MB/s, each direction. */
export const THROUGHPUT_TARGET_RATIO = 1.5;
/** "memory bounded by a small multiple of the input": our reading of "small". */
export const MEMORY_TARGET_MULTIPLE = 10;

const MEMPROBE = join(dirname(fileURLToPath(import.meta.url)), '..', 'memprobe.ts');

interface ProbeResult {
  op: 'decode' | 'encode';
  input_bytes: number;
  heap_growth_bytes: number;
  retained_bytes: number;
  rss_peak_growth_bytes: number;
  rss_peak_reset: boolean;
}

type Resolved = { fixture: BenchFixture; skip?: string };

function resolveFixtures(only: string | undefined): Resolved[] {
  const all: Resolved[] = GENERATED_FIXTURES.map((fixture) => {
    const missing = missingFixtureFiles(fixture);
    return missing.length === 0
      ? { fixture }
      : { fixture, skip: `missing ${missing.map((p) => relative(REPO_ROOT, p)).join(', ')}: run npx tsx test/bench/make-fixtures.ts` };
  });
  all.push(resolveAndroidVector());
  return only ? all.filter((r) => r.fixture.id === only) : all;
}

/** The real vector's XML comes from libwbxml itself (`wbxml2xml -m 0`), written to the bench cache. */
function resolveAndroidVector(): Resolved {
  const f = ANDROID_TESTADD;
  if (!existsSync(f.wbxmlPath)) return { fixture: f, skip: `vector ${f.wbxmlPath} not found (set DMW_VECTORS)` };
  try {
    mkdirSync(dirname(f.xmlPath), { recursive: true });
    execFileSync('wbxml2xml', ['-m', '0', '-o', f.xmlPath, f.wbxmlPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { fixture: f };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = err.code === 'ENOENT' ? 'wbxml2xml not found (install libwbxml2-utils)' : (err.stderr?.toString().trim() ?? err.message);
    return { fixture: f, skip: `cannot derive its XML: ${why}` };
  }
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function runProbe(op: 'decode' | 'encode', f: BenchFixture): ProbeResult {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', MEMPROBE, op, f.wbxmlPath, f.xmlPath, '10'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '') as ProbeResult;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const suite: BenchSuite = {
  name: 'codec',
  description: `WBXML<->XML decode/encode throughput vs libwbxml in-process (target >= ${THROUGHPUT_TARGET_RATIO}x), memory on the 200 KB large object`,
  default: true,
  async run(ctx: BenchContext): Promise<Verdict[]> {
    const { log } = ctx;
    const verdicts: Verdict[] = [];
    log(`codec: ours vs libwbxml in-process, same files, one run`);
    log(`  decode = WBXML -> XML (wbxml2xml -m 0), encode = XML -> WBXML (xml2wbxml -v 1.2 -n); MB/s of input, 1 MB = 1e6 B`);
    log(`  node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, >= ${ctx.minMillis} ms timed per figure`);

    const build = ensureBaseline();
    if (build.ok) log(`  libwbxml baseline: ${relative(REPO_ROOT, build.binary)}${build.cached ? '' : ' (built now)'}`);
    else log(`  libwbxml baseline NOT AVAILABLE: ${build.reason}`);

    let benchCodecDetailed: ((w: Uint8Array, x: string, o: { minMillis: number }) => CodecBenchDetail) | undefined;
    let codecMissing: string | undefined;
    try {
      ({ benchCodecDetailed } = await import('../../../main/cli/codec-bench.js'));
    } catch (e) {
      codecMissing = errMessage(e).split('\n')[0];
      log(`  our codec NOT AVAILABLE (cannot load main/cli/codec-bench.ts): ${codecMissing}`);
    }
    log();

    const rows: string[][] = [['', 'decode MB/s', 'msgs/s', 'encode MB/s', 'msgs/s']];
    let libVersion = 'libwbxml';
    const notes: string[] = [];
    for (const { fixture: f, skip } of resolveFixtures(option(ctx.args, '--fixture'))) {
      if (skip) {
        rows.push([`${f.label}: skipped, ${skip}`]);
        continue;
      }
      const wbxml = new Uint8Array(readFileSync(f.wbxmlPath));
      const xml = readFileSync(f.xmlPath, 'utf8');
      rows.push([`${f.label} (${f.id}): ${fmtInt(wbxml.length)} B WBXML, ${fmtInt(Buffer.byteLength(xml))} B XML`]);

      let ours: CodecBenchDetail | undefined;
      if (benchCodecDetailed) {
        try {
          ours = benchCodecDetailed(wbxml, xml, { minMillis: ctx.minMillis });
        } catch (e) {
          notes.push(`${f.id}: ours failed: ${errMessage(e)}`);
        }
      }
      let base: BaselineResult | undefined;
      if (build.ok) {
        try {
          base = runBaseline(build.binary, f.wbxmlPath, f.xmlPath, { minMillis: ctx.minMillis });
          libVersion = `libwbxml ${base.libwbxml}`;
        } catch (e) {
          notes.push(`${f.id}: libwbxml failed: ${errMessage(e)}`);
        }
      }
      rows.push(
        ours
          ? ['  ours', fmtNum(ours.decode_MBps), fmtInt(1e6 / ours.decode_us_per_msg), fmtNum(ours.encode_MBps), fmtInt(1e6 / ours.encode_us_per_msg)]
          : ['  ours', 'n/a', '', 'n/a', ''],
      );
      rows.push(
        base
          ? [`  ${libVersion}`, fmtNum(base.decode_MBps), fmtInt(1e6 / base.decode_us_per_msg), fmtNum(base.encode_MBps), fmtInt(1e6 / base.encode_us_per_msg)]
          : ['  libwbxml', 'n/a', '', 'n/a', ''],
      );
      const dr = ours && base ? ours.decode_MBps / base.decode_MBps : undefined;
      const er = ours && base ? ours.encode_MBps / base.encode_MBps : undefined;
      const dPass = dr === undefined ? undefined : dr >= THROUGHPUT_TARGET_RATIO;
      const ePass = er === undefined ? undefined : er >= THROUGHPUT_TARGET_RATIO;
      rows.push([`  ours/libwbxml (>= ${THROUGHPUT_TARGET_RATIO}x)`, fmtRatio(dr), verdictWord(dPass), fmtRatio(er), verdictWord(ePass)]);
      verdicts.push(
        { target: `codec decode ${f.id} >= ${THROUGHPUT_TARGET_RATIO}x libwbxml`, pass: dPass, detail: fmtRatio(dr) },
        { target: `codec encode ${f.id} >= ${THROUGHPUT_TARGET_RATIO}x libwbxml`, pass: ePass, detail: fmtRatio(er) },
      );
    }
    for (const line of table(rows, 'lrrrr')) log(line);
    for (const n of notes) log(`  ! ${n}`);
    log();

    verdicts.push(...memory(ctx, build.ok ? build.binary : undefined, codecMissing === undefined));
    return verdicts;
  },
};

function memory(ctx: BenchContext, binary: string | undefined, haveCodec: boolean): Verdict[] {
  const { log } = ctx;
  const f = GENERATED_FIXTURES.find((x) => x.memory);
  if (!f || missingFixtureFiles(f).length > 0) {
    log('  memory: large-object fixture missing (run npx tsx test/bench/make-fixtures.ts)');
    return [];
  }
  log(`  memory, ${f.label}: one conversion at a time, each direction in a fresh process`);
  const rows: string[][] = [
    ['', 'input', 'ours heap growth', 'ours RSS peak growth', 'libwbxml RSS peak growth', `ours heap <= ${MEMORY_TARGET_MULTIPLE}x input`],
  ];
  const verdicts: Verdict[] = [];
  const notes: string[] = [];
  for (const op of ['decode', 'encode'] as const) {
    let ours: ProbeResult | undefined;
    if (haveCodec) {
      try {
        ours = runProbe(op, f);
      } catch (e) {
        const err = e as { stderr?: string };
        notes.push(`${op}: our memory probe failed: ${(err.stderr || errMessage(e)).toString().trim().split('\n')[0]}`);
      }
    }
    let base: BaselineResult | undefined;
    if (binary) {
      try {
        base = runBaseline(binary, f.wbxmlPath, f.xmlPath, { iterations: 50, minMillis: 0, mode: op });
      } catch (e) {
        notes.push(`${op}: libwbxml failed: ${errMessage(e)}`);
      }
    }
    const input = op === 'decode' ? readFileSync(f.wbxmlPath).length : readFileSync(f.xmlPath).length;
    const mult = (n: number): string => `${fmtBytes(n)} (${fmtRatio(n / input)})`;
    const heapMult = ours ? ours.heap_growth_bytes / input : undefined;
    const pass = heapMult === undefined ? undefined : heapMult <= MEMORY_TARGET_MULTIPLE;
    const baseGrowth = base ? Math.max(0, base.peak_rss_bytes - base.base_rss_bytes) : undefined;
    rows.push([
      op,
      fmtBytes(input),
      ours ? mult(ours.heap_growth_bytes) : 'n/a',
      ours ? mult(ours.rss_peak_growth_bytes) + (ours.rss_peak_reset ? '' : ' *') : 'n/a',
      baseGrowth !== undefined ? mult(baseGrowth) + (base?.peak_rss_reset ? '' : ' *') : 'n/a',
      verdictWord(pass),
    ]);
    verdicts.push({ target: `codec ${op} memory ${f.id} <= ${MEMORY_TARGET_MULTIPLE}x input`, pass, detail: fmtRatio(heapMult) });
  }
  for (const line of table(rows, 'lrrrrl', '    ')) log(line);
  log('    heap growth: V8 heap + external right after one conversion minus right before (GC before each), max of 10;');
  log('    RSS peak growth: peak resident set during the conversions minus before them (ours includes V8 heap sizing).');
  if (rows.some((r) => r.some((c) => c.endsWith(' *')))) log('    * peak RSS could not be reset (no /proc/self/clear_refs): the peak may predate the conversions.');
  for (const n of notes) log(`    ! ${n}`);
  log();
  return verdicts;
}
