/**
 * `dmw notify build|parse`: notification package #0 (DM-1).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { toHex, fromHex } from '../notify/bytes.js';
import { InvalidInput } from '../notify/errors.js';
import { UI_MODES, buildPackage0, parsePackage0, parseSessionIdHex, verifyPackage0, type Initiator, type UiModeName } from '../notify/package0.js';
import { CliError } from './errors.js';
import { displayName, readInput, writeOutput } from './io.js';
import { helpIfAsked, runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw notify build --server-id ID --secret S --nonce N --session HEX
                   [--ui unspecified|background|informative|interactive] [--initiator user|server]
                   [--vendor HEX] [--nonce-encoding text|hex|base64] -o PKG0.bin
  dmw notify parse PKG0.bin|- [--secret S --nonce N [--nonce-encoding text|hex|base64]] [--json]

The digest is MD5(B64(MD5(serverid:secret)) ":" nonce ":" B64(MD5(trigger))); the nonce is the server
nonce (SRVCRED AAuthData), taken as text unless --nonce-encoding says hex or base64.
parse exits 1 when a secret is given and the digest does not match (the inputs are printed), 2 on a
malformed package.`;

export async function notifyCommand(argv: string[]): Promise<number> {
  return runSubcommand('notify', HELP, { build, parse }, argv);
}

export function cliArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string, positionals: { min: number; max: number }) {
  helpIfAsked(argv, usage);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\nusage: ${usage}`);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min || n > positionals.max) {
    const want = positionals.min === positionals.max ? `${positionals.min}` : `${positionals.min} to ${positionals.max}`;
    throw new CliError(`expected ${want} argument(s), got ${n}\nusage: ${usage}`);
  }
  return parsed;
}

/** Turns a builder's InvalidInput into the CLI's bad-input exit. */
export function inputGuard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InvalidInput) throw new CliError(`--${e.message}`);
    throw e;
  }
}

export function nonceFrom(text: string, encoding: string | undefined): Uint8Array {
  switch (encoding ?? 'text') {
    case 'text':
      return new Uint8Array(Buffer.from(text, 'utf8'));
    case 'hex': {
      const b = fromHex(text);
      if (!b) throw new CliError(`--nonce "${text}" is not hex`);
      return b;
    }
    case 'base64':
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text.trim()) || text.trim().length % 4 !== 0) throw new CliError(`--nonce "${text}" is not base64`);
      return new Uint8Array(Buffer.from(text.trim(), 'base64'));
    default:
      throw new CliError(`--nonce-encoding must be text, hex or base64, got "${encoding}"`);
  }
}

function build(argv: string[]): number {
  const usage = 'dmw notify build --server-id ID --secret S --nonce N --session HEX [--ui MODE] [--initiator user|server] [--vendor HEX] [--nonce-encoding E] -o PKG0.bin';
  const { values } = cliArgs(
    argv,
    {
      'server-id': { type: 'string' },
      secret: { type: 'string' },
      nonce: { type: 'string' },
      'nonce-encoding': { type: 'string' },
      session: { type: 'string' },
      ui: { type: 'string' },
      initiator: { type: 'string' },
      vendor: { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    usage,
    { min: 0, max: 0 },
  );
  for (const k of ['server-id', 'secret', 'nonce', 'session'] as const) if (values[k] === undefined) throw new CliError(`--${k} is required\nusage: ${usage}`);
  const ui = (values.ui ?? 'unspecified') as UiModeName;
  if (!UI_MODES.includes(ui)) throw new CliError(`--ui must be one of ${UI_MODES.join(', ')}, got "${values.ui}"`);
  const initiator = (values.initiator ?? 'server') as Initiator;
  if (initiator !== 'user' && initiator !== 'server') throw new CliError(`--initiator must be user or server, got "${values.initiator}"`);
  let vendorData: Uint8Array | undefined;
  if (values.vendor !== undefined) {
    vendorData = fromHex(values.vendor);
    if (!vendorData) throw new CliError(`--vendor "${values.vendor}" is not hex`);
  }
  const nonce = nonceFrom(values.nonce!, values['nonce-encoding']);
  const pkg = inputGuard(() =>
    buildPackage0(
      { uiMode: ui, initiator, sessionId: parseSessionIdHex(values.session!), serverId: values['server-id']!, ...(vendorData ? { vendorData } : {}) },
      { secret: values.secret!, nonce },
    ),
  );
  writeOutput(values.output, pkg);
  return 0;
}

function parse(argv: string[]): number {
  const usage = 'dmw notify parse PKG0.bin|- [--secret S --nonce N [--nonce-encoding E]] [--json]';
  const { values, positionals } = cliArgs(argv, { secret: { type: 'string' }, nonce: { type: 'string' }, 'nonce-encoding': { type: 'string' }, json: { type: 'boolean' } }, usage, { min: 1, max: 1 });
  const file = positionals[0]!;
  if ((values.secret === undefined) !== (values.nonce === undefined)) throw new CliError(`--secret and --nonce go together (the digest needs both)\nusage: ${usage}`);
  const bytes = readInput(file);
  const r = parsePackage0(bytes);
  if (!r.ok) throw new CliError(`${displayName(file)}: ${r.error.message}${r.error.offset === undefined ? '' : ` at byte ${r.error.offset}`}`);
  const p = r.value;
  for (const w of p.warnings) process.stderr.write(`dmw: ${displayName(file)}: warning: ${w}\n`);
  const check = values.secret !== undefined ? verifyPackage0(p, { secret: values.secret, nonce: nonceFrom(values.nonce!, values['nonce-encoding']) }) : undefined;
  const fields = {
    version: p.version,
    uiMode: p.uiMode,
    initiator: p.initiator,
    sessionId: p.sessionIdHex,
    serverId: p.serverId,
    vendorData: toHex(p.vendorData),
    digest: toHex(p.digest),
  };
  if (values.json) {
    const out: Record<string, unknown> = { ...fields, warnings: p.warnings };
    if (check) {
      out.digestOk = check.ok;
      if (!check.ok) out.digestCheck = { expected: check.expectedHex, received: check.receivedHex, matchedResyncNonce: check.matched?.replace('resync:', '') ?? null, inputs: check.inputs };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const lines = [
      `version:    ${p.version}${p.version === 11 ? ' (DM 1.2)' : ''}`,
      `uiMode:     ${p.uiMode}`,
      `initiator:  ${p.initiator}`,
      `sessionId:  ${p.sessionIdHex} (SyncHdr SessionID)`,
      `serverId:   ${p.serverId}`,
      `vendorData: ${p.vendorData.length ? toHex(p.vendorData, ' ') : '(none)'}`,
      `digest:     ${toHex(p.digest)}`,
    ];
    if (check) lines.push(`digestOk:   ${check.ok}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (check && !check.ok) {
    const i = check.inputs;
    const resync = check.matched ? `; it matches the ${check.matched.replace('resync:', '')} resync nonce instead` : '';
    process.stderr.write(
      `dmw: ${displayName(file)}: digest mismatch: computed ${check.expectedHex}, package has ${check.receivedHex}${resync}\n` +
        `dmw:   inputs: server id "${i.serverId}" (from the package), nonce "${i.nonceText}" (hex ${i.nonceHex || 'empty'}), ` +
        `B64(MD5(serverid:secret)) = ${i.userDigestB64}, B64(MD5(trigger)) = ${i.triggerDigestB64}, trigger = ${i.triggerHex}\n`,
    );
    return 1;
  }
  return 0;
}
