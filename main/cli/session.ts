/**
 * `dmw session list|show`: the session log of a data folder (or of a shared lab server's PostgreSQL
 * database: --store URL, DMW_STORE_URL), decoded, with timings and raw bytes for what could not be
 * decoded. Readable while the server runs.
 */
import type { MessageRecord, SessionRecord } from '../server/types.js';
import { checkLoggedSession, countBySeverity, findingsByMessage, formatFinding, hasErrors, uriLimitsFromTree, type Finding, type UriLimits } from '../judge/index.js';
import { CliError } from './errors.js';
import { parse } from './job.js';
import { openStore, STORE_HELP, STORE_OPTIONS, storePlace } from './store-flag.js';
import { formatStatusLine, statusesOf } from './session-statuses.js';
import { runSubcommand } from './subcommands.js';
import { find, FIND_HELP, FIND_USAGE } from './session-find.js';

const HELP = `usage:
  dmw session list --data DIR|--store URL [--device DEVID] [--limit N] [--json]
  dmw session show ID --data DIR|--store URL [--json]
  dmw session check ID --data DIR|--store URL [--json]
  dmw session export ID --data DIR|--store URL --format pcapng|bundle -o OUT
  ${FIND_USAGE}

${STORE_HELP}

show prints every message of the session in order: direction, time, size, the expert findings on
it, each Status with what its code means (e.g. "status 425 Permission denied <- Get #3"), then
the decoded message as XML (WBXML included), or the error and a hex dump when it could not be
decoded.
check judges every message, sent and received, against the OMA DM 1.2 rules (rule id, severity,
spec clause, message number and element path per finding); exit 0 when no finding is an error,
1 when one is, 2 on bad input.
export writes the session as a pcapng trace (Wireshark and tshark dissect every DM message) or as
a bundle (the JSON session export, the server settings without secrets, the app version) that
\`dmw capture import\` reads back.
${FIND_HELP}`;

export async function sessionCommand(argv: string[]): Promise<number> {
  return runSubcommand('session', HELP, { list, show, check, export: exportSession, find }, argv);
}

async function list(argv: string[]): Promise<number> {
  const usage = 'dmw session list --data DIR|--store URL [--device DEVID] [--limit N] [--json]';
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, device: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, usage);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"\nusage: ${usage}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit must be a positive integer, got "${values.limit}"`);
  const store = await openStore(values, usage, false);
  let sessions: SessionRecord[];
  try {
    sessions = await store.sessions({ limit, ...(values.device ? { device: values.device } : {}) });
  } finally {
    await store.close();
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(sessions)}\n`);
    return 0;
  }
  if (sessions.length === 0) {
    process.stdout.write('no sessions\n');
    return 0;
  }
  const rows = sessions.map((s) => [String(s.id), s.device ?? '-', s.dmSessionId ?? '-', s.startedAt, s.state, String(s.messageCount ?? 0), s.encoding ?? '-', s.reason ?? '']);
  const head = ['ID', 'DEVICE', 'SESSIONID', 'STARTED', 'STATE', 'MSGS', 'ENC', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${[head, ...rows].map(line).join('\n')}\n`);
  return 0;
}

async function show(argv: string[]): Promise<number> {
  const usage = 'dmw session show ID --data DIR|--store URL [--json]';
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, json: { type: 'boolean' } }, usage);
  if (positionals.length !== 1) throw new CliError(`expected one session ID\nusage: ${usage}`);
  const id = Number(positionals[0]);
  if (!Number.isInteger(id) || id < 1) throw new CliError(`session ID must be a positive integer, got "${positionals[0]}"`);
  const store = await openStore(values, usage, false);
  let session: SessionRecord | undefined;
  let messages: MessageRecord[];
  let uriLimits: UriLimits = {};
  try {
    session = await store.session(id);
    messages = session ? await store.messages(id) : [];
    if (session?.device) uriLimits = uriLimitsFromTree(await store.tree(session.device));
  } finally {
    await store.close();
  }
  if (!session) throw new CliError(`no session ${id} in ${storePlace(values)}`);
  const findings = checkLoggedSession(messages, { uriLimits });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ session, messages: messages.map((m) => ({ ...m, bytes: Buffer.from(m.bytes).toString('base64'), statuses: statusesOf(m.bytes) })), findings })}\n`);
    return 0;
  }
  process.stdout.write(formatSession(session, messages, findings));
  return 0;
}

const CHECK_USAGE = 'dmw session check ID --data DIR|--store URL [--json]';

/** `dmw session check`: the session's findings; exit 1 when one is an error (a verdict, not a failure). */
async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, json: { type: 'boolean' } }, CHECK_USAGE);
  if (positionals.length !== 1) throw new CliError(`expected one session ID\nusage: ${CHECK_USAGE}`);
  const id = Number(positionals[0]);
  if (!Number.isInteger(id) || id < 1) throw new CliError(`session ID must be a positive integer, got "${positionals[0]}"`);
  const store = await openStore(values, CHECK_USAGE, false);
  let messages: MessageRecord[] | undefined;
  let uriLimits: UriLimits = {};
  try {
    const session = await store.session(id);
    messages = session ? await store.messages(id) : undefined;
    // DevDetail/URI limits the server read from this device before, for the URI rules.
    if (session?.device) uriLimits = uriLimitsFromTree(await store.tree(session.device));
  } finally {
    await store.close();
  }
  if (!messages) throw new CliError(`no session ${id} in ${storePlace(values)}`);
  const findings = checkLoggedSession(messages, { uriLimits });
  if (values.json) {
    const list = findings.map(({ severity, rule, clause, msg, path, text }) => ({ severity, rule, clause, msg, path, text }));
    process.stdout.write(`${JSON.stringify({ session: id, findings: list })}\n`);
  } else {
    for (const f of findings) process.stdout.write(`#${f.msg} ${formatFinding(f)}\n`);
    const n = countBySeverity(findings);
    process.stdout.write(`session ${id}: ${messages.length} message(s), ${n.error} error(s), ${n.warning} warning(s), ${n.note} note(s)\n`);
  }
  return hasErrors(findings) ? 1 : 0;
}

export function formatSession(s: SessionRecord, messages: MessageRecord[], findings: readonly Finding[] = []): string {
  const byMsg = findingsByMessage(findings);
  const out: string[] = [];
  out.push(`session ${s.id}  device ${s.device ?? '-'}  SessionID ${s.dmSessionId ?? '-'}  ${s.encoding ?? '-'}  auth ${s.authType ?? '-'}`);
  out.push(`state ${s.state}${s.reason ? ` (${s.reason})` : ''}  started ${s.startedAt}${s.endedAt ? `  ended ${s.endedAt}` : ''}  ${messages.length} message(s)`);
  for (const m of messages) {
    out.push('');
    const arrow = m.direction === 'in' ? '<- in ' : '-> out';
    const parts = [`#${m.seq} ${arrow}`, m.at, m.msgId ? `MsgID ${m.msgId}` : null, `${m.bytes.length} bytes`, m.contentType, m.httpStatus !== null ? `HTTP ${m.httpStatus}` : null, m.durationMs !== null ? `${m.durationMs} ms` : null];
    out.push(parts.filter(Boolean).join('  '));
    for (const f of byMsg.get(m.seq) ?? []) out.push(`! ${formatFinding(f)}`);
    for (const st of statusesOf(m.bytes)) out.push(formatStatusLine(st));
    if (m.error) out.push(`error: ${m.error}`);
    if (m.note) for (const n of m.note.split('\n')) out.push(`note: ${n}`);
    if (m.decoded !== null) out.push(m.decoded.trimEnd());
    else if (m.bytes.length > 0) out.push(hexDump(m.bytes, 4096));
  }
  return `${out.join('\n')}\n`;
}

export function hexDump(b: Uint8Array, max: number): string {
  const lines: string[] = [];
  const n = Math.min(b.length, max);
  for (let off = 0; off < n; off += 16) {
    const row = b.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, (x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (b.length > n) lines.push(`... ${b.length - n} more bytes`);
  return lines.join('\n');
}

const EXPORT_USAGE = 'dmw session export ID --data DIR|--store URL --format pcapng|bundle -o OUT';

/** `dmw session export`: the session as a pcapng trace or a bundle (main/capture/). */
async function exportSession(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ${EXPORT_USAGE}\n${HELP.slice(HELP.indexOf('export writes'))}\n`);
    return 0;
  }
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, format: { type: 'string' }, o: { type: 'string', short: 'o' } }, EXPORT_USAGE);
  if (positionals.length !== 1) throw new CliError(`expected one session ID\nusage: ${EXPORT_USAGE}`);
  const id = Number(positionals[0]);
  if (!Number.isInteger(id) || id < 1) throw new CliError(`session ID must be a positive integer, got "${positionals[0]}"`);
  if (values.format !== 'pcapng' && values.format !== 'bundle') throw new CliError(`--format must be pcapng or bundle, got ${JSON.stringify(values.format ?? null)}\nusage: ${EXPORT_USAGE}`);
  if (!values.o) throw new CliError(`-o OUT is required\nusage: ${EXPORT_USAGE}`);
  const { exportSessionFile } = await import('./capture.js');
  const store = await openStore(values, EXPORT_USAGE, false);
  try {
    await exportSessionFile(store, values.data ?? '.', id, values.format, values.o, storePlace(values));
  } finally {
    await store.close();
  }
  return 0;
}
