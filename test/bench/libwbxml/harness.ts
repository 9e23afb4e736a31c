/**
 * Builds (on demand, cached) and runs test/bench/libwbxml/baseline.c: libwbxml's own conversions in
 * a loop, in-process, the baseline our codec is measured against.
 *
 * The binary is compiled with `cc -O2 baseline.c $(pkg-config --cflags --libs libwbxml2)` into
 * node_modules/.cache/dmw-bench/, keyed by a hash of the source, the flags and the compiler, so it is
 * rebuilt only when one of them changes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_CACHE_DIR } from '../fixtures.js';

export const BASELINE_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'baseline.c');

/** What `dmw codec bench --json` prints, plus the harness's own counts and memory figures. */
export interface BaselineResult {
  decode_MBps: number;
  encode_MBps: number;
  decode_us_per_msg: number;
  encode_us_per_msg: number;
  /** CPU time of the process per conversion (CLOCK_PROCESS_CPUTIME_ID over the timed loops). */
  decode_cpu_us_per_msg: number;
  encode_cpu_us_per_msg: number;
  decode_iterations: number;
  encode_iterations: number;
  wbxml_bytes: number;
  xml_bytes: number;
  /** Resident set size just before the timed loops. */
  base_rss_bytes: number;
  /** High-water mark of the resident set size at the end. */
  peak_rss_bytes: number;
  /** The high-water mark was reset before the loops (Linux clear_refs), so it is theirs alone. */
  peak_rss_reset: boolean;
  libwbxml: string;
}

export type BaselineBuild = { ok: true; binary: string; cached: boolean } | { ok: false; reason: string };

const INSTALL_HINT = 'install libwbxml2-dev and pkg-config (Debian/Ubuntu: apt-get install libwbxml2-dev pkg-config)';

function tryExec(cmd: string, args: string[]): { ok: true; out: string } | { ok: false; missing: boolean; err: string } {
  try {
    return { ok: true, out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    return { ok: false, missing: err.code === 'ENOENT', err: (err.stderr || err.message).toString().trim() };
  }
}

/** Compiler flags for libwbxml2, from pkg-config; the reason it cannot be built otherwise. */
function libwbxmlFlags(): { ok: true; flags: string[] } | { ok: false; reason: string } {
  const pc = tryExec('pkg-config', ['--cflags', '--libs', 'libwbxml2']);
  if (pc.ok) {
    // Debian's libwbxml2.pc says libdir=lib/x86_64-linux-gnu (relative): drop -L paths that are not
    // absolute, the library is on the linker's default path anyway.
    const flags = pc.out.trim().split(/\s+/).filter((f) => f !== '' && !(f.startsWith('-L') && !f.startsWith('-L/')));
    return { ok: true, flags };
  }
  if (pc.missing) {
    // No pkg-config: accept the Debian layout if the header is there.
    if (existsSync('/usr/include/libwbxml-1.0/wbxml/wbxml.h')) {
      return { ok: true, flags: ['-I/usr/include/libwbxml-1.0', '-lwbxml2', '-lexpat'] };
    }
    return { ok: false, reason: `pkg-config not found and no libwbxml headers in /usr/include/libwbxml-1.0: ${INSTALL_HINT}` };
  }
  return { ok: false, reason: `libwbxml2 development files not found (pkg-config libwbxml2: ${pc.err.split('\n')[0]}): ${INSTALL_HINT}` };
}

/** Compiles the baseline if needed. Never throws: a missing tool is a reason, not a crash. */
export function ensureBaseline(cacheDir: string = BENCH_CACHE_DIR): BaselineBuild {
  const cc = process.env.CC ?? 'cc';
  const ccVersion = tryExec(cc, ['--version']);
  if (!ccVersion.ok) {
    return {
      ok: false,
      reason: ccVersion.missing
        ? `C compiler '${cc}' not found: install one (Debian/Ubuntu: apt-get install gcc) or set CC`
        : `C compiler '${cc}' does not run: ${ccVersion.err}`,
    };
  }
  const flags = libwbxmlFlags();
  if (!flags.ok) return flags;

  const source = readFileSync(BASELINE_SOURCE);
  const cflags = ['-O2', '-std=c99', '-Wall'];
  const key = createHash('sha256')
    .update(source)
    .update([...cflags, ...flags.flags].join(' '))
    .update(ccVersion.out)
    .digest('hex')
    .slice(0, 16);
  const binary = join(cacheDir, `libwbxml-baseline-${key}`);
  if (existsSync(binary)) return { ok: true, binary, cached: true };

  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const built = tryExec(cc, [...cflags, '-o', tmp, BASELINE_SOURCE, ...flags.flags]);
  if (!built.ok) {
    rmSync(tmp, { force: true });
    const hint = /wbxml\.h|lwbxml2|lexpat/.test(built.err) ? ` (${INSTALL_HINT})` : '';
    return { ok: false, reason: `compiling ${BASELINE_SOURCE} failed${hint}:\n${built.err}` };
  }
  renameSync(tmp, binary); // atomic: a concurrent run sees either nothing or the whole binary
  return { ok: true, binary, cached: false };
}

export interface BaselineRunOptions {
  iterations?: number;
  minMillis?: number;
  /** Time one direction only (so that the peak RSS belongs to it alone). */
  mode?: 'both' | 'decode' | 'encode';
}

const NUMERIC_FIELDS = [
  'decode_MBps', 'encode_MBps', 'decode_us_per_msg', 'encode_us_per_msg', 'decode_cpu_us_per_msg',
  'encode_cpu_us_per_msg', 'decode_iterations',
  'encode_iterations', 'wbxml_bytes', 'xml_bytes', 'base_rss_bytes', 'peak_rss_bytes',
] as const;

/** Parses and checks the baseline's one JSON line. */
export function parseBaselineOutput(stdout: string): BaselineResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error(`libwbxml baseline printed something that is not JSON: ${line.slice(0, 200)}`);
  }
  if (typeof v !== 'object' || v === null) throw new Error('libwbxml baseline output is not a JSON object');
  const o = v as Record<string, unknown>;
  for (const f of NUMERIC_FIELDS) {
    if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) throw new Error(`libwbxml baseline output lacks a numeric ${f}`);
  }
  return {
    ...(Object.fromEntries(NUMERIC_FIELDS.map((f) => [f, o[f] as number])) as Omit<BaselineResult, 'libwbxml' | 'peak_rss_reset'>),
    peak_rss_reset: o.peak_rss_reset === true,
    libwbxml: typeof o.libwbxml === 'string' ? o.libwbxml : 'unknown',
  };
}

/** Runs the compiled baseline on one WBXML file and one XML file. Throws with libwbxml's message on failure. */
export function runBaseline(binary: string, wbxmlPath: string, xmlPath: string, opts: BaselineRunOptions = {}): BaselineResult {
  const args = [wbxmlPath, xmlPath];
  if (opts.iterations !== undefined) args.push('--iterations', String(opts.iterations));
  if (opts.minMillis !== undefined) args.push('--min-millis', String(opts.minMillis));
  if (opts.mode !== undefined) args.push('--mode', opts.mode);
  let out: string;
  try {
    out = execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; status?: number; message: string };
    throw new Error(`libwbxml baseline failed (exit ${err.status ?? '?'}): ${(err.stderr || err.message).toString().trim()}`);
  }
  return parseBaselineOutput(out);
}
