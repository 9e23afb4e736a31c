/**
 * `dmw bootstrap build|check|diff|list|save`: bootstrap profiles -> DM bootstrap messages.
 */
import { readFileSync } from 'node:fs';
import { BootstrapBuildError, buildBootstrap } from '../bootstrap/message.js';
import { BootstrapDecodeError, decodeBootstrap, diffAgainstProfile, formatDiff } from '../bootstrap/diff.js';
import { ProfileError, parseProfile, profileAccount, type BootstrapProfile } from '../bootstrap/profile.js';
import { ProfileStore } from '../bootstrap/store.js';
import { CliError } from './errors.js';
import { displayName, readInput, writeOutput } from './io.js';
import { parseCommandArgs, runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw bootstrap build PROFILE.json [-o OUT.wbxml] [--xml]
                         the profile's DM bootstrap message: WBXML to OUT, --xml prints the XML preview
  dmw bootstrap check PROFILE.json            validate a profile (every bad field is named)
  dmw bootstrap diff BOOTSTRAP PROFILE.json [--show-secrets]
                         what a bootstrap (WBXML/XML) provisions vs the profile (exit 1 when they differ)
  dmw bootstrap list                          stored profiles ($DMW_HOME/profiles)
  dmw bootstrap save PROFILE.json [--id ID]   validate and store a profile

PROFILE is a JSON file, or @ID for a stored profile.`;

export async function bootstrapCommand(argv: string[]): Promise<number> {
  return runSubcommand('bootstrap', HELP, { build, check, diff, list, save }, argv);
}

/** A profile from a file (or `@ID` from the store); errors name the file and the fields. */
export function loadProfile(arg: string): BootstrapProfile {
  try {
    if (arg.startsWith('@')) {
      const store = new ProfileStore();
      const p = store.get(arg.slice(1));
      if (!p) throw new CliError(`${arg}: no stored profile "${arg.slice(1)}" in ${store.dir}`);
      return p;
    }
    const text = new TextDecoder().decode(readInput(arg));
    return parseProfile(text, displayName(arg));
  } catch (e) {
    if (e instanceof ProfileError) throw new CliError(e.message);
    throw e;
  }
}

function build(argv: string[]): number {
  const usage = 'dmw bootstrap build PROFILE.json [-o OUT.wbxml] [--xml]';
  const { positionals, values } = parseCommandArgs(argv, { output: { type: 'string', short: 'o' }, xml: { type: 'boolean' } }, 1, usage);
  if (values.output === undefined && !values.xml) throw new CliError(`give -o OUT.wbxml and/or --xml\nusage: ${usage}`);
  if (values.output === '-' && values.xml) throw new CliError('-o - (WBXML on stdout) and --xml (XML on stdout) cannot both go to stdout');
  const file = positionals[0]!;
  const profile = loadProfile(file);
  let built;
  try {
    built = buildBootstrap(profile);
  } catch (e) {
    if (e instanceof BootstrapBuildError) throw new CliError(`${displayName(file)}: ${e.message}`);
    throw e;
  }
  if (values.output !== undefined) {
    writeOutput(values.output, built.wbxml);
    if (values.output !== '-' && !values.xml) {
      process.stdout.write(`${values.output}: ${built.wbxml.length} bytes WBXML, ${built.nodes.length} nodes, ./DMAcc/${profileAccount(profile)} (${profile.form ?? 'dmacc'}, ${profile.operation ?? 'Add'})\n`);
    }
  }
  if (values.xml) process.stdout.write(built.xml);
  return 0;
}

function check(argv: string[]): number {
  const { positionals } = parseCommandArgs(argv, {}, 1, 'dmw bootstrap check PROFILE.json');
  const file = positionals[0]!;
  const profile = loadProfile(file);
  try {
    const built = buildBootstrap(profile);
    process.stdout.write(`${displayName(file)}: ok (${built.nodes.length} nodes, ${built.wbxml.length} bytes WBXML)\n`);
  } catch (e) {
    if (e instanceof BootstrapBuildError) throw new CliError(`${displayName(file)}: ${e.message}`);
    throw e;
  }
  return 0;
}

function diff(argv: string[]): number {
  const usage = 'dmw bootstrap diff BOOTSTRAP PROFILE.json [--show-secrets]';
  const { positionals, values } = parseCommandArgs(argv, { 'show-secrets': { type: 'boolean' } }, 2, usage);
  const [bootFile, profFile] = positionals as [string, string];
  const bytes = readInput(bootFile);
  let msg;
  try {
    msg = decodeBootstrap(bytes);
  } catch (e) {
    if (e instanceof BootstrapDecodeError) throw new CliError(`${displayName(bootFile)}: ${e.message}`);
    throw e;
  }
  const d = diffAgainstProfile(msg, loadProfile(profFile));
  process.stdout.write(formatDiff(d, { showSecrets: values['show-secrets'] ?? false }));
  return d.length === 0 ? 0 : 1;
}

function list(argv: string[]): number {
  parseCommandArgs(argv, {}, 0, 'dmw bootstrap list');
  const store = new ProfileStore();
  const ids = store.list();
  if (ids.length === 0) process.stdout.write(`no stored profiles in ${store.dir}\n`);
  for (const id of ids) {
    let line = id;
    try {
      const p = store.get(id);
      if (p) line += `\t${p.serverId}\t${p.address}`;
    } catch (e) {
      line += `\t(invalid: ${(e as Error).message})`;
    }
    process.stdout.write(`${line}\n`);
  }
  return 0;
}

function save(argv: string[]): number {
  const usage = 'dmw bootstrap save PROFILE.json [--id ID]';
  const { positionals, values } = parseCommandArgs(argv, { id: { type: 'string' } }, 1, usage);
  const file = positionals[0]!;
  const profile = loadProfile(file);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown };
  const id = values.id ?? (typeof raw.id === 'string' ? raw.id : undefined) ?? profileAccount(profile);
  try {
    const f = new ProfileStore().save(id, profile);
    process.stdout.write(`saved ${id}: ${f}\n`);
  } catch (e) {
    if (e instanceof ProfileError) throw new CliError(e.message);
    throw e;
  }
  return 0;
}
