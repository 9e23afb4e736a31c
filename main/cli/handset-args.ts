/**
 * The arguments `dmw sim` and `dmw handset` share: the server URL, credentials, authentication,
 * ServerID, TLS (--ca / --data) and the tree file. Each check throws a CliError (exit 2) with one
 * line naming the flag; the messages are part of `dmw sim`'s contract.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AuthType } from '../protocol/auth.js';
import type { DmTree } from '../tree/tree.js';
import type { HandsetTls } from '../client/transport.js';
import { readCredential, type CredentialValues } from './credential-flags.js';
import { CliError } from './errors.js';
import { helpIfAsked } from './subcommands.js';
import { describeFaults, parseFaults, UnknownFaultError, type FaultName } from '../client/faults.js';

type Flags = NonNullable<ParseArgsConfig['options']>;

/**
 * The flags of a handset command (strict: no unknown flag, no positional argument); a bad one is a
 * CliError naming it, with the command's usage.
 */
export function parseFlags<const O extends Flags>(argv: string[], options: O, usage: string) {
  helpIfAsked(argv, usage);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]} (usage: ${usage})`);
  }
  if (parsed.positionals.length > 0) throw new CliError(`unexpected argument "${parsed.positionals[0]}" (usage: ${usage})`);
  return parsed.values;
}


export function positiveInt(flag: string, v: string | undefined, max = 1_000_000): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1 || n > max) throw new CliError(`${flag} must be a whole number from 1 to ${max}, got "${v}"`);
  return n;
}

/** --server: required, http:// or https://. */
export function serverUrl(v: string | undefined, usage: string): URL {
  if (v === undefined) throw new CliError(`--server URL is required (usage: ${usage})`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new CliError(`--server must be an http:// or https:// URL, got "${v}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server must be an http:// or https:// URL, got "${v}"`);
  return url;
}

export function authType(v: string | undefined): AuthType | undefined {
  if (v === undefined) return undefined;
  if (!['basic', 'md5', 'hmac'].includes(v)) throw new CliError(`--auth must be basic, md5 or hmac, got "${v}"`);
  return v as AuthType;
}

/**
 * --client-cred and --server-cred, each also as a file (--client-cred-file) or from the environment
 * (DMW_CLIENT_CRED, DMW_SERVER_CRED): credential-flags.ts; and --auth needing a client credential.
 */
export function credentials(values: CredentialValues, auth: AuthType | undefined, env: NodeJS.ProcessEnv = process.env) {
  const clientCred = readCredential(values, 'client-cred', env);
  const serverCred = readCredential(values, 'server-cred', env);
  if (auth && !clientCred) throw new CliError(`--auth ${auth} needs --client-cred NAME:SECRET (or --client-cred-file FILE, or $DMW_CLIENT_CRED)`);
  return { clientCred, serverCred };
}

export async function checkServerId(v: string | undefined): Promise<void> {
  if (v === undefined) return;
  const { isValidServerId } = await import('../tree/acl.js');
  if (!isValidServerId(v)) throw new CliError(`--server-id "${v}" cannot appear in an ACL (no spaces, &, +, =, *)`);
}

/** --ca (read and checked) and --data, both only for an https:// server. */
export function caFile(values: { ca?: string; data?: string }, url: URL): string | undefined {
  if ((values.ca || values.data) && url.protocol !== 'https:') throw new CliError('--ca and --data are for an https:// server');
  if (!values.ca) return undefined;
  let caPem: string;
  try {
    caPem = readFileSync(values.ca, 'utf8');
  } catch (e) {
    throw new CliError(`${values.ca}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`${values.ca}: not a PEM certificate`);
  return caPem;
}

/** --tree FILE: the tree in it (the file must exist unless `mayCreate`; then undefined is returned for a new one). */
export async function treeFile(file: string | undefined, mayCreate = false): Promise<{ tree: DmTree; file: string } | undefined> {
  if (file === undefined) return undefined;
  if (!existsSync(file)) {
    if (mayCreate && existsSync(path.dirname(path.resolve(file)))) return undefined;
    throw new CliError(`${file}: no such file`);
  }
  // Loaded here so `dmw --help` never pays for the tree engine.
  const { loadTree, TreeFileError } = await import('../tree/persist.js');
  try {
    return { tree: await loadTree(file), file };
  } catch (e) {
    if (e instanceof TreeFileError) throw new CliError(`${file}: ${e.jsonPath === '$' ? '' : `${e.jsonPath}: `}${e.reason}`);
    throw new CliError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * HTTPS trust and identity: with --data DIR the lab CA in DIR/ca is trusted (or --ca) and issues
 * each handset a client certificate (CN = DevId); with --ca alone, that CA is trusted.
 */
export async function handsetTls(data: string | undefined, caPem: string | undefined): Promise<HandsetTls | ((devId: string) => Promise<HandsetTls>) | undefined> {
  if (data) {
    const { LabCa } = await import('../server/ca.js');
    let ca: Awaited<ReturnType<typeof LabCa.loadOrCreate>>;
    try {
      ca = await LabCa.loadOrCreate(path.join(data, 'ca'));
    } catch (e) {
      throw new CliError(`${data}: cannot open the lab CA: ${(e as Error).message}`);
    }
    const trust = caPem ?? ca.certPem;
    return async (devId: string) => {
      const c = await ca.issueDevice(devId);
      return { ca: trust, cert: c.certPem, key: c.keyPem };
    };
  }
  return caPem ? { ca: caPem } : undefined;
}

/** --fault NAME (repeatable): the faults the handsets misbehave with (main/client/faults.ts). */
export const FAULT_FLAG = { fault: { type: 'string', multiple: true } } as const;

/** `--fault list` (or --help) shows this: every fault, its clause and the judge rules that catch it. */
export function faultCatalogue(): string {
  return `faults (--fault NAME, repeatable; main/client/faults.ts):\n${describeFaults()}`;
}

/** The --fault values checked: `list` asks for the catalogue; an unknown name is bad input listing the valid ones. */
export function faultFlag(v: readonly string[] | undefined): FaultName[] | 'list' {
  if (v === undefined || v.length === 0) return [];
  if (v.includes('list')) return 'list';
  try {
    return [...parseFaults(v)];
  } catch (e) {
    if (e instanceof UnknownFaultError) throw new CliError(`--fault: ${e.message}`);
    throw e;
  }
}

/** --app NAME[:ROOT] (repeatable): a demo client app run inside the handset (main/client/apps). */
export const APP_FLAG = { app: { type: 'string', multiple: true } } as const;

export const KNOWN_APPS = ['fumo'] as const;
export type AppName = (typeof KNOWN_APPS)[number];
export interface AppChoice {
  name: AppName;
  /** Where the app's MO goes; undefined for the app's default (FUMO: ./FwUpdate/Lab). */
  root?: string;
}

/** The --app values checked: a known app, an optional ./ URI for its MO, each app once. */
export function appFlag(v: readonly string[] | undefined): AppChoice[] {
  const out: AppChoice[] = [];
  for (const spec of v ?? []) {
    const colon = spec.indexOf(':');
    const name = colon < 0 ? spec : spec.slice(0, colon);
    const root = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!(KNOWN_APPS as readonly string[]).includes(name)) throw new CliError(`--app ${JSON.stringify(spec)}: unknown app "${name}" (known: ${KNOWN_APPS.join(', ')})`);
    if (root !== undefined && (!root.startsWith('./') || root.length < 3 || root.endsWith('/') || /\/\/|\/\.\.?(\/|$)|[?#\s]/.test(root))) {
      throw new CliError(`--app ${JSON.stringify(spec)}: the MO root must be a DM URI under the tree root, like ./FwUpdate/Lab, got "${root}"`);
    }
    const choice: AppChoice = root === undefined ? { name: name as AppName } : { name: name as AppName, root };
    // One instance per app: the registry knows an app by its id, and the demo apps have fixed ids.
    if (out.some((o) => o.name === choice.name)) throw new CliError(`--app ${JSON.stringify(spec)}: ${name} is given twice`);
    out.push(choice);
  }
  return out;
}
