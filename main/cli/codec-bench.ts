/**
 * `dmw codec bench WBXML_FILE XML_FILE [--iterations N] [--json]`: codec throughput in one process.
 *
 *   decode = WBXML bytes -> XML text   (wbxmlToXml, compact UTF-8: what `wbxml2xml -m 0` does)
 *   encode = XML text -> WBXML bytes   (xmlToWbxml: what `xml2wbxml -v 1.2 -n` does)
 *
 * MB/s counts input consumed (WBXML bytes for decode, UTF-8 bytes of the XML for encode), 1 MB = 1e6
 * bytes, so the figures line up with test/bench/libwbxml/baseline.c, which does the same conversions
 * with libwbxml in-process. Figures only: a benchmark never asserts on time (see `npm run bench`).
 */
import { describeCodecError, type Result } from '../protocol/errors.js';
import { wbxmlToXml, xmlToWbxml } from '../protocol/convert.js';

export interface CodecBenchOptions {
  /** Time at least this many conversions of each kind. */
  iterations?: number;
  /**
   * And keep going until at least this many milliseconds were timed for each kind. Defaults to
   * 1000 when `iterations` is not given, else 0 (exactly `iterations`, rounded up to whole batches
   * only when minMillis asks for more).
   */
  minMillis?: number;
}

export interface CodecBenchResult {
  decode_MBps: number;
  encode_MBps: number;
  decode_us_per_msg: number;
  encode_us_per_msg: number;
  /** High-water mark of this process's resident set (whole process, not the codec alone). */
  peak_rss_bytes?: number;
}

/** Conversions timed and how long they took, for callers that want more than the four figures. */
export interface CodecBenchDetail extends CodecBenchResult {
  decode_iterations: number;
  encode_iterations: number;
  wbxml_bytes: number;
  xml_bytes: number;
  /**
   * CPU time of this process (user + system, all its threads: V8's GC and compiler threads count)
   * per conversion over the same timed loops. Unlike wall time it does not grow while other
   * processes hold the CPU, so on a shared machine it is the steadier figure.
   */
  decode_cpu_us_per_msg: number;
  encode_cpu_us_per_msg: number;
}

/** The two conversions being timed: ours by default; the bench passes another tree's to compare. */
export interface Conversions {
  wbxmlToXml(bytes: Uint8Array): { ok: boolean; value?: { length: number } };
  xmlToWbxml(text: string): { ok: boolean; value?: { length: number } };
}

const OURS: Conversions = { wbxmlToXml, xmlToWbxml };

/** Results are folded into this so that no conversion can be optimised away. */
let sink = 0;

interface Timing {
  nanos: bigint;
  /** Process CPU time (user + system) over the same timed batches. */
  cpuMicros: number;
  iterations: number;
}

const WARMUP_MIN_ITERATIONS = 20;
/**
 * Untimed warm-up before each figure (at most minMillis): TurboFan compiles the codec's big one-pass
 * functions on a background thread, which took 0.3 s on the loaded 2-CPU build machine; with 200 ms
 * of warm-up that compile fell into the timed loop and its CPU time into the CPU figure.
 */
const WARMUP_MILLIS = 1000;
/** Batches double until one takes this long, so the clock is read rarely relative to the work. */
const BATCH_TARGET_NANOS = 20_000_000n;

function timeLoop(run: () => void, minIterations: number, minMillis: number): Timing {
  // Warm-up: let the JIT compile the codec's hot paths before anything is timed.
  const warmStart = process.hrtime.bigint();
  const warmUntil = warmStart + BigInt(Math.round(Math.min(WARMUP_MILLIS, Math.max(minMillis, 50)) * 1e6));
  for (let i = 0; i < WARMUP_MIN_ITERATIONS || process.hrtime.bigint() < warmUntil; i++) run();

  const minNanos = BigInt(Math.round(minMillis * 1e6));
  let batch = 1;
  let nanos = 0n;
  let cpuMicros = 0;
  let iterations = 0;
  for (;;) {
    const todo = minNanos === 0n ? Math.max(1, Math.min(batch, minIterations - iterations)) : batch;
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < todo; i++) run();
    const elapsed = process.hrtime.bigint() - start;
    const cpu = process.cpuUsage(cpuStart);
    cpuMicros += cpu.user + cpu.system;
    nanos += elapsed;
    iterations += todo;
    if (iterations >= minIterations && nanos >= minNanos) break;
    if (elapsed < BATCH_TARGET_NANOS && batch < 1 << 30) batch *= 2;
  }
  return { nanos, cpuMicros, iterations };
}

function figures(bytes: number, t: Timing): { MBps: number; usPerMsg: number; cpuUsPerMsg: number } {
  const seconds = Number(t.nanos) / 1e9;
  return {
    MBps: seconds > 0 ? (bytes * t.iterations) / seconds / 1e6 : 0,
    usPerMsg: (seconds * 1e6) / t.iterations,
    cpuUsPerMsg: t.cpuMicros / t.iterations,
  };
}

/**
 * Checks that both inputs convert, then times decode and encode. Throws an Error naming the input
 * that does not convert (with the codec's own description of why) before timing anything.
 */
export function benchCodecDetailed(wbxml: Uint8Array, xml: string, opts: CodecBenchOptions = {}, conv: Conversions = OURS): CodecBenchDetail {
  const iterations = Math.max(0, Math.floor(opts.iterations ?? 0));
  const minMillis = Math.max(0, opts.minMillis ?? (opts.iterations === undefined ? 1000 : 0));
  const minIterations = iterations === 0 && minMillis === 0 ? 1 : iterations;

  const decoded = conv.wbxmlToXml(wbxml) as Result<Uint8Array>;
  if (!decoded.ok) {
    throw new Error(`codec bench: the WBXML input (${wbxml.length} bytes) does not decode: ${describeCodecError(decoded.error)}`);
  }
  const encoded = conv.xmlToWbxml(xml) as Result<Uint8Array>;
  if (!encoded.ok) {
    throw new Error(`codec bench: the XML input (${xml.length} characters) does not encode: ${describeCodecError(encoded.error)}`);
  }

  // Results are folded into `sink` so that no conversion can be optimised away.
  const { wbxmlToXml: decode, xmlToWbxml: encode } = conv;
  const dec = timeLoop(() => {
    const r = decode(wbxml);
    sink += r.ok ? r.value!.length : -1;
  }, minIterations, minMillis);
  const enc = timeLoop(() => {
    const r = encode(xml);
    sink += r.ok ? r.value!.length : -1;
  }, minIterations, minMillis);

  const xmlBytes = Buffer.byteLength(xml, 'utf8');
  const d = figures(wbxml.length, dec);
  const e = figures(xmlBytes, enc);
  return {
    decode_MBps: d.MBps,
    encode_MBps: e.MBps,
    decode_us_per_msg: d.usPerMsg,
    encode_us_per_msg: e.usPerMsg,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    decode_iterations: dec.iterations,
    encode_iterations: enc.iterations,
    wbxml_bytes: wbxml.length,
    xml_bytes: xmlBytes,
    decode_cpu_us_per_msg: d.cpuUsPerMsg,
    encode_cpu_us_per_msg: e.cpuUsPerMsg,
  };
}

/** The four figures of `dmw codec bench --json` (plus the process's peak RSS). */
export function benchCodec(wbxml: Uint8Array, xml: string, opts: CodecBenchOptions = {}): CodecBenchResult {
  const r = benchCodecDetailed(wbxml, xml, opts);
  return {
    decode_MBps: r.decode_MBps,
    encode_MBps: r.encode_MBps,
    decode_us_per_msg: r.decode_us_per_msg,
    encode_us_per_msg: r.encode_us_per_msg,
    ...(r.peak_rss_bytes === undefined ? {} : { peak_rss_bytes: r.peak_rss_bytes }),
  };
}

/** Keeps `sink` observable (and so the conversions live) for whoever wants to print it. */
export function codecBenchSink(): number {
  return sink;
}
