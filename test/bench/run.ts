/**
 * `npm run bench [-- SUITE... [--min-millis N] [--strict] [--list]]`
 *
 * Speed and memory targets are shown here, as figures and ratios against a named baseline measured
 * in the same run, never asserted in timed unit tests. Suites live in test/bench/suites/ (one module
 * each, exporting `suite`); without names the default ones run (codec, tree).
 *
 *   --min-millis N   minimum timed milliseconds per figure (default 1000; lower for a quick look)
 *   --strict         exit 1 when a judged target FAILs (default: report only)
 *   --list           list the suites
 * Other options are passed to the suites (codec: --fixture ID).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { verdictWord } from './format.js';
import type { BenchContext, BenchSuite, Verdict } from './suite.js';

const SUITES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'suites');

export async function loadSuites(dir: string = SUITES_DIR): Promise<Map<string, BenchSuite>> {
  const suites = new Map<string, BenchSuite>();
  const files = readdirSync(dir)
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !/\.(test|d)\.[mc]?[tj]s$/.test(f) && !f.startsWith('_'))
    .sort();
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { suite?: BenchSuite; suites?: BenchSuite[] };
    for (const s of [...(mod.suite ? [mod.suite] : []), ...(mod.suites ?? [])]) {
      if (suites.has(s.name)) throw new Error(`bench suite '${s.name}' is defined twice (second in suites/${file})`);
      suites.set(s.name, s);
    }
  }
  return suites;
}

interface Args {
  names: string[];
  minMillis: number;
  strict: boolean;
  list: boolean;
  rest: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { names: [], minMillis: 1000, strict: false, list: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    else if (arg === '--strict') a.strict = true;
    else if (arg === '--list' || arg === '-l') a.list = true;
    else if (arg === '--min-millis') {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--min-millis needs a number of milliseconds, got '${argv[i] ?? ''}'`);
      a.minMillis = n;
    } else if (arg.startsWith('-')) {
      a.rest.push(arg);
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) a.rest.push(argv[++i]!);
    } else a.names.push(arg);
  }
  return a;
}

function describeSuites(suites: Map<string, BenchSuite>): string {
  return [...suites.values()].map((s) => `  ${s.name.padEnd(8)} ${s.default ? '(default) ' : ''}${s.description}`).join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const suites = await loadSuites();
  if (args.list) {
    console.log(`bench suites:\n${describeSuites(suites)}`);
    return 0;
  }
  const unknown = args.names.filter((n) => !suites.has(n));
  if (unknown.length > 0) {
    console.error(`unknown bench suite${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\nknown suites:\n${describeSuites(suites)}`);
    return 2;
  }
  const chosen = args.names.length > 0 ? args.names.map((n) => suites.get(n)!) : [...suites.values()].filter((s) => s.default);

  const ctx: BenchContext = { minMillis: args.minMillis, args: args.rest, log: (line = '') => console.log(line) };
  const verdicts: Verdict[] = [];
  for (const s of chosen) {
    try {
      verdicts.push(...(await s.run(ctx)));
    } catch (e) {
      console.log(`suite ${s.name} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      verdicts.push({ target: `suite ${s.name}`, pass: false, detail: 'crashed' });
    }
  }

  const judged = verdicts.filter((v) => v.pass !== undefined);
  const failed = judged.filter((v) => v.pass === false);
  console.log(`summary: ${judged.length - failed.length}/${judged.length} targets met${verdicts.length > judged.length ? `, ${verdicts.length - judged.length} not measurable` : ''}`);
  for (const v of verdicts) if (v.pass !== true) console.log(`  ${verdictWord(v.pass).padEnd(4)} ${v.target}${v.detail ? ` (${v.detail})` : ''}`);
  return args.strict && failed.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 2;
    },
  );
}
