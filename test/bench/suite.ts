/**
 * What a benchmark suite is. Each module in test/bench/suites/ exports `suite` (or `suites`), and
 * test/bench/run.ts finds them there: adding a suite (server, ui, card, ...) is adding a file.
 *
 * Suites print figures and ratios against their named baseline or target; they never fail a unit
 * test on time. A target they judge is reported as a Verdict, which `npm run bench -- --strict`
 * turns into the exit status.
 */

export interface BenchContext {
  /** Minimum timed milliseconds per measurement (`--min-millis`, default 1000). */
  minMillis: number;
  /** Options after the suite names that the runner did not consume, e.g. `--fixture dm12-server-2k`. */
  args: readonly string[];
  /** Prints a line of the report. */
  log(line?: string): void;
}

export interface Verdict {
  /** What was judged, e.g. `codec decode 2 KB >= 1.5x libwbxml`. */
  target: string;
  /** undefined when it could not be measured (baseline or module missing). */
  pass: boolean | undefined;
  detail?: string;
}

export interface BenchSuite {
  name: string;
  /** One line for `npm run bench -- --list`. */
  description: string;
  /** Part of `npm run bench` without suite names. */
  default?: boolean;
  run(ctx: BenchContext): Promise<Verdict[]>;
}

/** `--name N` from a suite's arguments: a whole number >= 1, or `dflt` when the flag is absent. */
export function intArg(args: readonly string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number`);
  return n;
}

/**
 * `--json`: one JSON line after everything else the bench prints (its summary included), so that
 * scripts can read the last line. Printed when the process is about to exit.
 */
export function printJsonLast(value: unknown): void {
  process.once('beforeExit', () => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  });
}
