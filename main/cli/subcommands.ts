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
