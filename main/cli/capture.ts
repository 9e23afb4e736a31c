/**
 * `dmw capture import`: DM sessions out of a pcap/pcapng capture (or a session bundle) into a data
 * folder, as imported sessions; and the file side of `dmw session export`. The decoding is in
 * main/capture/ (pure); this file reads and writes files and the store.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DmStore } from '../store/store.js';
import type { ImportedSession } from '../capture/bundle.js';
import type { CredentialCheck, SkippedStream } from '../capture/import.js';
import { appVersion, savedSettings } from '../capture/producer.js';
import { readTraceFile, sessionTraceBytes, traceFileProblem, type TraceFormat } from '../capture/trace-file.js';
import { CliError } from './errors.js';
import { parse } from './job.js';
import { checkStoreUrl, openStore, STORE_HELP, STORE_OPTIONS, storeUrlOf } from './store-flag.js';
import { runSubcommand } from './subcommands.js';

const IMPORT_USAGE = 'dmw capture import FILE --data DIR|--store URL [--client-cred NAME:SECRET] [--server-cred NAME:SECRET] [--json]';

const HELP = `usage:
  ${IMPORT_USAGE}

import reads a pcap or pcapng capture (Ethernet, Linux cooked SLL/SLL2, loopback/null; IPv4 and
IPv6; TCP reassembled; HTTP/1.1 with Content-Length or chunked bodies), finds the DM messages by
media type (application/vnd.syncml.dm+xml|+wbxml, application/vnd.syncml+xml|+wbxml), groups them
into sessions (SessionID, DevId, RespURI) and stores them as imported sessions (state "imported").
TLS connections are listed as skipped. A session bundle (dmw session export --format bundle)
imports too. With --client-cred / --server-cred each MD5 or HMAC credential in the capture is
checked and marked valid or not in a message note. A broken file: exit 2 with the file offset,
nothing stored. --json prints {"sessions":N,"messages":N,"skipped":[{"stream":..,"reason":..}]}.
${STORE_HELP}`;

export async function captureCommand(argv: string[]): Promise<number> {
  return runSubcommand('capture', HELP, { import: importCommand }, argv);
}

/** Largest file `dmw capture import` reads (hostile or mistaken input). */
export const MAX_CAPTURE_FILE = 1024 * 1024 * 1024;

/** `place`: where the store is, for the error (the data folder, or the database URL without its password). */
export async function exportSessionFile(store: DmStore, dataDir: string, id: number, format: TraceFormat, out: string, place = dataDir): Promise<void> {
  const session = await store.session(id);
  if (!session) throw new CliError(`no session ${id} in ${place}`);
  const bytes = sessionTraceBytes(format, { session, messages: await store.messages(id), appVersion: appVersion(), settings: savedSettings(dataDir), dataDir: path.resolve(dataDir), now: Date.now() });
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
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, 'client-cred': { type: 'string' }, 'server-cred': { type: 'string' }, json: { type: 'boolean' } }, IMPORT_USAGE);
  if (positionals.length !== 1) throw new CliError(`expected one capture FILE\nusage: ${IMPORT_USAGE}`);
  const file = positionals[0]!;
  const url = storeUrlOf(values);
  if (!values.data && !url) throw new CliError(`--data DIR is required\nusage: ${IMPORT_USAGE}`);
  // A bad URL costs nothing: refused before the file is read.
  if (url) checkStoreUrl(url);
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
  let skipped: SkippedStream[];
  try {
    ({ sessions, skipped } = readTraceFile(bytes, creds));
  } catch (e) {
    const problem = traceFileProblem(e);
    if (problem) throw new CliError(`${file}: ${problem.message}; nothing imported`);
    throw e;
  }
  const store = await openStore(values, IMPORT_USAGE, true);
  let ids: number[];
  try {
    ids = await store.importSessions(sessions, `imported from ${path.basename(file)}`);
  } finally {
    await store.close();
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
