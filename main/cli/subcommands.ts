import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';

export type Subcommand = (args: string[]) => Promise<number> | number;

/**
 * Not a failure: `--help` (or -h) was given to a subcommand. Thrown by the argument parsers with the
 * usage as its message; main() prints it on stdout and exits 0, whatever else was on the line.
 */
export class HelpRequested extends CliError {
  constructor(readonly usage: string) {
    super(usage, 0);
  }
}

/** `--help` or `-h` among the options (not after a `--`, where it would be a value). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Throws HelpRequested with the usage when the arguments ask for help; every parser calls it first. */
export function helpIfAsked(argv: readonly string[], usage: string): void {
  if (wantsHelp(argv)) throw new HelpRequested(usage.startsWith('usage') ? usage : `usage: ${usage}`);
}

/**
 * The subcommands of each group that dispatched through runSubcommand, by group: what `--help`
 * lists, and what the CLI test walks (so a new subcommand is covered without editing the test).
 */
export const SUBCOMMANDS_SEEN: Map<string, readonly string[]> = new Map();

/**
 * `dmw GROUP SUB args...`: help with no subcommand (exit 2, it was a mistake) or with --help (exit 0),
 * a clear error naming the group for an unknown one, else the subcommand's own exit status.
 */
export async function runSubcommand(group: string, help: string, table: Readonly<Record<string, Subcommand>>, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  SUBCOMMANDS_SEEN.set(group, Object.keys(table));
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${help}\n`);
    return sub === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(table, sub) ? table[sub] : undefined;
  if (!run) throw new CliError(`${group}: unknown subcommand "${sub}"\n${help}`);
  try {
    return await run(rest);
  } catch (e) {
    // `dmw GROUP SUB --help`: the subcommand's usage first, then the group's notes on every option.
    if (e instanceof HelpRequested && !e.usage.includes(help)) throw new HelpRequested(`${e.usage}\n\n${help}`);
    throw e;
  }
}

/**
 * Options and positionals of one subcommand, strictly: an unknown option or a wrong number of
 * arguments is a CliError (exit 2) that repeats the usage line.
 */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  positionals: number | readonly [min: number, max: number],
  usage: string,
) {
  helpIfAsked(argv, usage);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]}\nusage: ${usage}`);
  }
  const [min, max] = typeof positionals === 'number' ? [positionals, positionals] : positionals;
  const n = parsed.positionals.length;
  if (n < min || n > max) throw new CliError(`expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${n}\nusage: ${usage}`);
  return parsed;
}
