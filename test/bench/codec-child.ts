/**
 * One timed run of our codec on one fixture, in a fresh process, for the codec suite's alternating
 * rounds (a fresh process per run, so that no run inherits another's JIT state or heap):
 *
 *   node --import tsx test/bench/codec-child.ts WBXML_FILE XML_FILE [--min-millis N] [--codec-root DIR]
 *
 * prints one JSON line, the CodecBenchDetail of main/cli/codec-bench.ts (wall and CPU time per
 * conversion). --codec-root times the conversions of another checkout of this repository (an older
 * commit in a git worktree) with this checkout's timing loop, so that before and after are measured
 * the same way in one run.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchCodecDetailed, type Conversions } from '../../main/cli/codec-bench.js';

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: readonly string[]): Promise<void> {
  const [wbxmlPath, xmlPath] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (!wbxmlPath || !xmlPath) throw new Error('usage: codec-child.ts WBXML_FILE XML_FILE [--min-millis N] [--codec-root DIR]');
  const minMillis = Number(option(args, '--min-millis') ?? 1000);
  if (!Number.isFinite(minMillis) || minMillis < 0) throw new Error(`--min-millis needs a number of milliseconds`);
  const root = option(args, '--codec-root');
  let conv: Conversions | undefined;
  if (root !== undefined) {
    const mod = (await import(pathToFileURL(join(resolve(root), 'main', 'protocol', 'convert.ts')).href)) as Conversions;
    conv = { wbxmlToXml: mod.wbxmlToXml, xmlToWbxml: mod.xmlToWbxml };
  }
  const wbxml = new Uint8Array(readFileSync(wbxmlPath));
  const xml = readFileSync(xmlPath, 'utf8');
  const r = benchCodecDetailed(wbxml, xml, { minMillis }, conv);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`codec-child: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
