import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';

export type Subcommand = (args: string[]) => Promise<number> | number;

/**
 * `dmw GROUP SUB args...`: help with no subcommand (exit 2, it was a mistake) or with --help (exit 0),
 * a clear error naming the group for an unknown one, else the subcommand's own exit status.
 */
export async function runSubcommand(group: string, help: string, table: Readonly<Record<string, Subcommand>>, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${help}\n`);
    return sub === undefined ? 2 : 0;
  }
  const run = Object.hasOwn(table, sub) ? table[sub] : undefined;
  if (!run) throw new CliError(`${group}: unknown subcommand "${sub}"\n${help}`);
  return run(rest);
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
