/**
 * Memory of one conversion direction, measured in a fresh process so that nothing else the bench did
 * (other fixtures, the timed loops) is in the figures. Run by the codec suite as
 *
 *   node --expose-gc --import tsx test/bench/memprobe.ts decode|encode WBXML_FILE XML_FILE [RUNS]
 *
 * and prints one JSON line:
 *   input_bytes          WBXML bytes (decode) or UTF-8 bytes of the XML (encode)
 *   heap_growth_bytes    max over RUNS of (V8 heap used + external memory) right after one conversion
 *                        minus the same right before it, with a full GC before each run: what one
 *                        conversion leaves behind, its output and the garbage not yet collected. An
 *                        estimate of its peak, low only if V8 scavenged during the conversion.
 *   retained_bytes       the same after a full GC with the last output still referenced (~ the output)
 *   rss_peak_growth_bytes  peak RSS during the runs minus RSS before them (VmHWM reset through
 *                        /proc/self/clear_refs when rss_peak_reset is true); includes V8's own
 *                        heap-sizing decisions, so it is informational.
 */
import { readFileSync, writeFileSync } from 'node:fs';

type Op = 'decode' | 'encode';

function procStatusBytes(key: string): number | undefined {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function jsBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

async function main(argv: string[]): Promise<void> {
  const [opArg, wbxmlPath, xmlPath, runsArg] = argv;
  if ((opArg !== 'decode' && opArg !== 'encode') || !wbxmlPath || !xmlPath) {
    throw new Error('usage: memprobe.ts decode|encode WBXML_FILE XML_FILE [RUNS]');
  }
  const op: Op = opArg;
  const runs = Math.max(1, Number(runsArg ?? 10));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memprobe needs node --expose-gc');

  const { wbxmlToXml, xmlToWbxml } = await import('../../main/protocol/convert.js');
  const wbxml = new Uint8Array(readFileSync(wbxmlPath));
  const xml = readFileSync(xmlPath, 'utf8');
  const input_bytes = op === 'decode' ? wbxml.length : Buffer.byteLength(xml, 'utf8');

  const convert = (): unknown => {
    const r = op === 'decode' ? wbxmlToXml(wbxml) : xmlToWbxml(xml);
    if (!r.ok) throw new Error(`${op} failed: ${r.error.message}`);
    return r.value;
  };

  // Warm-up (JIT, lazily built tables), then a clean heap.
  let keep: unknown = convert();
  for (let i = 0; i < 5; i++) keep = convert();
  keep = undefined;
  gc();
  gc();

  const base = jsBytes();
  const rss_peak_reset = resetPeakRss();
  const rssBase = procStatusBytes('VmRSS') ?? process.memoryUsage().rss;

  let heapGrowth = 0;
  for (let i = 0; i < runs; i++) {
    keep = undefined;
    gc();
    const before = jsBytes();
    keep = convert();
    heapGrowth = Math.max(heapGrowth, jsBytes() - before);
  }
  gc();
  const retained = jsBytes() - base;
  const rssPeak = procStatusBytes('VmHWM') ?? process.resourceUsage().maxRSS * 1024;
  const outputSize = keep instanceof Uint8Array ? keep.length : typeof keep === 'string' ? keep.length : 0;

  process.stdout.write(
    `${JSON.stringify({
      op,
      runs,
      input_bytes,
      output_size: outputSize,
      heap_growth_bytes: heapGrowth,
      retained_bytes: Math.max(0, retained),
      rss_base_bytes: rssBase,
      rss_peak_growth_bytes: Math.max(0, rssPeak - rssBase),
      rss_peak_reset,
    })}\n`,
  );
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`memprobe: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
