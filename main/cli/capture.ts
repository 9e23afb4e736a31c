/**
 * `dmw capture import`: DM sessions out of a pcap/pcapng capture (or a session bundle) into a data
 * folder, as imported sessions; and the file side of `dmw session export`. The decoding is in
 * main/capture/ (pure); this file reads and writes files and the store.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerStore } from '../store/server-store.js';
import { buildBundle, BundleError, looksLikeJson, readBundle, type ImportedSession } from '../capture/bundle.js';
import { sessionsToPcapng } from '../capture/pcapng-write.js';
import { CaptureError } from '../capture/errors.js';
import { importCapture, type CredentialCheck, type SkippedStream } from '../capture/import.js';
import { CliError } from './errors.js';
import { openStore, parse } from './job.js';
import { runSubcommand } from './subcommands.js';

const IMPORT_USAGE = 'dmw capture import FILE --data DIR [--client-cred NAME:SECRET] [--server-cred NAME:SECRET] [--json]';

const HELP = `usage:
  ${IMPORT_USAGE}

import reads a pcap or pcapng capture (Ethernet, Linux cooked SLL/SLL2, loopback/null; IPv4 and
IPv6; TCP reassembled; HTTP/1.1 with Content-Length or chunked bodies), finds the DM messages by
media type (application/vnd.syncml.dm+xml|+wbxml, application/vnd.syncml+xml|+wbxml), groups them
into sessions (SessionID, DevId, RespURI) and stores them as imported sessions (state "imported").
TLS connections are listed as skipped. A session bundle (dmw session export --format bundle)
imports too. With --client-cred / --server-cred each MD5 or HMAC credential in the capture is
checked and marked valid or not in a message note. A broken file: exit 2 with the file offset,
nothing stored. --json prints {"sessions":N,"messages":N,"skipped":[{"stream":..,"reason":..}]}.`;

export async function captureCommand(argv: string[]): Promise<number> {
  return runSubcommand('capture', HELP, { import: importCommand }, argv);
}

/** Largest file `dmw capture import` reads (hostile or mistaken input). */
export const MAX_CAPTURE_FILE = 1024 * 1024 * 1024;

function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The UI's saved server settings in the data folder (workbench.json), or null when there are none. */
function savedSettings(dataDir: string): unknown {
  const file = path.join(dataDir, 'workbench.json');
  if (!existsSync(file)) return null;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { settings?: unknown }).settings ?? null;
  } catch {
    return null;
  }
}

export function exportSessionFile(store: ServerStore, dataDir: string, id: number, format: 'pcapng' | 'bundle', out: string): void {
  const session = store.session(id);
  if (!session) throw new CliError(`no session ${id} in ${dataDir}`);
  const messages = store.messages(id);
  const version = appVersion();
  let bytes: Uint8Array | string;
  if (format === 'bundle') {
    bytes = buildBundle({ session, messages, settings: savedSettings(dataDir), appVersion: version, now: Date.now() });
  } else {
    const trace = messages.map((m) => ({
      direction: m.direction, at: m.at, bytes: m.bytes, contentType: m.contentType, httpStatus: m.httpStatus,
      label: `dmw session ${id} message #${m.seq} ${m.direction === 'in' ? 'device -> server' : 'server -> device'}${m.msgId ? ` MsgID ${m.msgId}` : ''}${m.note ? `; ${m.note.split('\n')[0]}` : ''}`,
    }));
    bytes = sessionsToPcapng([{ messages: trace }], {
      comment: `DM Workbench ${version}: session ${id} (device ${session.device ?? '-'}, SessionID ${session.dmSessionId ?? '-'}) exported from ${path.resolve(dataDir)}; synthetic Ethernet/IPv4/TCP/HTTP framing, original timestamps and message bytes`,
      application: `DM Workbench ${version} (dmw session export)`,
    });
  }
  try {
    writeFileSync(out, bytes);
  } catch (e) {
    throw new CliError(`${out}: cannot write: ${(e as Error).message}`);
  }
}

function credFlag(v: string | undefined, flag: string): { name: string; secret: string } | undefined {
  if (v === undefined) return undefined;
  const i = v.indexOf(':');
  if (i < 1) throw new CliError(`${flag} must be NAME:SECRET, got "${v}"\nusage: ${IMPORT_USAGE}`);
  return { name: v.slice(0, i), secret: v.slice(i + 1) };
}

async function importCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { values, positionals } = parse(argv, { data: { type: 'string' }, 'client-cred': { type: 'string' }, 'server-cred': { type: 'string' }, json: { type: 'boolean' } }, IMPORT_USAGE);
  if (positionals.length !== 1) throw new CliError(`expected one capture FILE\nusage: ${IMPORT_USAGE}`);
  const file = positionals[0]!;
  if (!values.data) throw new CliError(`--data DIR is required\nusage: ${IMPORT_USAGE}`);
  const creds: CredentialCheck = { client: credFlag(values['client-cred'], '--client-cred'), server: credFlag(values['server-cred'], '--server-cred') };
  let bytes: Uint8Array;
  try {
    // Checked before reading: a mistaken path to a disk image must not be read into memory first.
    const size = statSync(file).size;
    if (size > MAX_CAPTURE_FILE) throw new CliError(`${file}: ${size} bytes, more than the ${MAX_CAPTURE_FILE}-byte limit`);
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: cannot read: ${(e as Error).message}`);
  }

  let sessions: ImportedSession[];
  let skipped: SkippedStream[] = [];
  try {
    if (looksLikeJson(bytes)) sessions = [readBundle(new TextDecoder().decode(bytes))];
    else ({ sessions, skipped } = importCapture(bytes, creds));
  } catch (e) {
    if (e instanceof CaptureError) throw new CliError(`${file}: broken capture at file offset ${e.offset}: ${e.message}; nothing imported`);
    if (e instanceof BundleError) throw new CliError(`${file}: ${e.message}; nothing imported`);
    throw e;
  }
  const store = await openStore(values.data, IMPORT_USAGE, true);
  let ids: number[];
  try {
    ids = store.importSessions(sessions, `imported from ${path.basename(file)}`);
  } finally {
    store.close();
  }
  const messages = sessions.reduce((n, s) => n + s.messages.length, 0);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ sessions: ids.length, messages, skipped })}\n`);
  } else {
    process.stdout.write(`${file}: ${ids.length} session(s), ${messages} message(s) imported${ids.length > 0 ? ` (sessions ${ids.join(', ')})` : ''}\n`);
    for (const s of skipped) process.stdout.write(`skipped ${s.stream}: ${s.reason}\n`);
  }
  return 0;
}
