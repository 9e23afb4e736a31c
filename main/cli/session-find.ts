/**
 * `dmw session find --data DIR|--store URL 'FILTER' [--json]`: every command, across all stored sessions, that
 * the display filter matches (main/store/filter/), read from the message index; content search
 * (`data contains "..."`) goes through its FTS5 table.
 *
 * Output: one line per matching command (session, message, CmdID, command, URI, status); with --json
 * an array of {"session","msg","cmdId","cmd","uri","status"} (msg: the message's number in its
 * session, as `dmw session show` numbers them). A bad filter exits 2 and prints the filter with a
 * caret under the character; a folder without DM Workbench data exits 2.
 *
 * Filters on `finding` or `severity` need the sessions judged: sessions whose findings the index does
 * not hold yet are judged first (and their findings stored), once.
 */
import { CliError } from './errors.js';
import { parse } from './job.js';
import { openStore, STORE_HELP, STORE_OPTIONS } from './store-flag.js';
import type { DmStore } from '../store/store.js';

export const FIND_USAGE = `dmw session find --data DIR|--store URL 'FILTER' [--json]`;

export const FIND_HELP = `find lists every command of every stored session that a display filter matches, one line each
(session, message, CmdID, command, URI, status). Fields: dev session sessionid state msgid (msg) seq
dir size enc auth cred time worst commands findings cmd cmdid uri status data finding severity;
operators == != < <= > >= contains matches (a regular expression), && || ! (and or not), parentheses,
"strings" with \\ escapes, numbers. Example: dmw session find --data DIR 'cmd == "Get" && status >= 400'`;

/** Judges the sessions the index holds no findings for (only when a filter asks for findings). */
async function judgeMissing(store: DmStore): Promise<void> {
  const missing = await store.unjudgedSessions();
  if (missing.length === 0) return;
  const { checkLoggedSession, uriLimitsFromTree } = await import('../judge/index.js');
  for (const { id } of missing) {
    const s = await store.session(id);
    if (!s) continue;
    const messages = await store.messages(id);
    const uriLimits = s.device ? uriLimitsFromTree(await store.tree(s.device)) : {};
    const findings = checkLoggedSession(messages, { uriLimits });
    await store.recordFindings(id, messages.length, findings);
  }
}

export async function find(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, json: { type: 'boolean' } }, `${FIND_USAGE}\n${FIND_HELP}\n${STORE_HELP}`);
  if (positionals.length !== 1) throw new CliError(`expected one FILTER (quote it)\nusage: ${FIND_USAGE}`);
  const filter = positionals[0]!;
  const { caretLines, tryParseFilter } = await import('../store/filter/parse.js');
  const parsed = tryParseFilter(filter);
  // Checked before the folder is opened: a typo costs nothing.
  if (!parsed.ok) throw new CliError(filterProblem(filter, parsed.error, caretLines));
  const store = await openStore(values, FIND_USAGE, false);
  try {
    if ((await store.unindexedCount()) > 0) await store.catchUpIndex();
    const { usesFindings } = await import('../store/filter/compile.js');
    if (usesFindings(parsed.expr)) await judgeMissing(store);
    const { FilterError } = await import('../store/filter/parse.js');
    let hits;
    try {
      hits = await store.findCommands(filter);
    } catch (e) {
      if (e instanceof FilterError) throw new CliError(filterProblem(filter, e, caretLines));
      throw e;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(hits.map((h) => ({ session: h.session, msg: h.msg, cmdId: h.cmdId, cmd: h.cmd, uri: h.uri, status: h.status })))}\n`);
      return 0;
    }
    if (hits.length === 0) {
      process.stdout.write('no matching commands\n');
      return 0;
    }
    const rows = hits.map((h) => [String(h.session), `#${h.msg}`, h.cmdId, h.cmd, h.uri ?? '-', h.status === null ? '-' : String(h.status)]);
    const head = ['SESSION', 'MSG', 'CMDID', 'COMMAND', 'URI', 'STATUS'];
    const widths = head.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    process.stdout.write(`${[head, ...rows].map(line).join('\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

function filterProblem(filter: string, e: { message: string; position: number; length: number }, caret: (src: string, e: { position: number; length: number }) => string): string {
  const [text, marks] = caret(filter, e).split('\n');
  return `bad filter at character ${e.position}: ${e.message}\n  ${text}\n  ${marks}`;
}
