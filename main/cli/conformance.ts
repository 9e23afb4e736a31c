/**
 * `dmw conformance list|run`: conformance test plans (main/judge/conformance). `run` starts its own
 * DM server on the port (the flags mean what they mean for `dmw server`), drives the device through
 * the plan's cases and ends with a summary line; `--json` ends with the issue's one-line summary.
 * Exit 0 when no case failed, 1 when one did, 2 on bad input.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientAuthMode, Credential } from '../server/config.js';
import { CREDENTIAL_FLAGS, readCredential } from './credential-flags.js';
import { CliError } from './errors.js';
import { parseCommandArgs, runSubcommand } from './subcommands.js';
import { jsonSummary, type ConformanceProgress, type PlanResult, type Verdict } from '../judge/conformance/types.js';
import { DEFAULT_PLAN, PLAN_NAMES, planInfo } from '../judge/conformance/plans.js';

const LIST_USAGE = 'dmw conformance list [--plan NAME] [--json]';
const RUN_USAGE = 'dmw conformance run --device DEVID --port N [--data DIR] [--server-id ID] [--client-auth basic|md5|hmac] [--client-cred NAME:SECRET] [--server-cred NAME:SECRET] [--tls] [--plan NAME] [--case ID]... [--wait S] [--junit OUT.xml] [--html OUT.html] [--json] [--notify URL]';

const HELP = `usage:
  ${LIST_USAGE}
  ${RUN_USAGE}

list          the plan's cases: id, group, clause and title (plans: ${PLAN_NAMES.join(', ')})
run           runs a DM server on --port for the run and drives the device through the cases:
              package #0 first when the device has a notify address (a virtual handset registers
              one), otherwise it waits for the device to connect (start its DM session).
--device      the DevId of the device under test (only its sessions are scripted)
--port, --data, --server-id, --client-auth, --client-cred, --server-cred, --tls
              as for \`dmw server\` (--client-cred-file, --server-cred-file and --host ADDR, default
              0.0.0.0, too); cases that need credentials the run lacks are not applicable
--notify      the device's package #0 address (dmw handset prints it as notifyUrl), kept as the
              device's notify URL in --data: the run then asks for each session itself instead of
              waiting for the device to connect
--case        only this case (repeat for more), by id as \`list\` shows it
--wait        seconds to wait for the device to open a session or to send its next message
              (default 60); past it the case and the rest are inconclusive
--junit, --html
              also write the report as JUnit XML / one self-contained HTML file
--json        end with one line: {"plan","device","passed","failed","inconclusive","skipped","cases":[...]}
exit status: 0 no case failed, 1 a case failed, 2 bad input`;

export async function conformanceCommand(argv: string[]): Promise<number> {
  return runSubcommand('conformance', HELP, { list, run }, argv);
}

function knownPlan(name: string | undefined): string {
  const plan = name ?? DEFAULT_PLAN;
  if (!PLAN_NAMES.includes(plan)) throw new CliError(`--plan: unknown plan "${plan}"; plans: ${PLAN_NAMES.join(', ')}`);
  return plan;
}

async function list(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { plan: { type: 'string' }, json: { type: 'boolean' } }, 0, LIST_USAGE);
  const info = planInfo(knownPlan(values.plan))!;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
    return 0;
  }
  const rows = info.cases.map((c) => [c.id, c.group, c.clause, c.title]);
  const head = ['ID', 'GROUP', 'CLAUSE', 'TITLE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${info.name}: ${info.title} (${info.cases.length} cases)\n${[head, ...rows].map(line).join('\n')}\n`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    device: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, 'server-id': { type: 'string' },
    'client-auth': { type: 'string' }, ...CREDENTIAL_FLAGS, tls: { type: 'boolean' }, plan: { type: 'string' },
    case: { type: 'string', multiple: true }, wait: { type: 'string' }, junit: { type: 'string' }, html: { type: 'string' }, json: { type: 'boolean' },
    notify: { type: 'string' },
  }, 0, RUN_USAGE);
  if (!values.device) throw new CliError(`--device DEVID is required\nusage: ${RUN_USAGE}`);
  if (values.port === undefined) throw new CliError(`--port N is required\nusage: ${RUN_USAGE}`);
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) throw new CliError(`--port must be 0..65535, got "${values.port}"`);
  const clientAuth = (values['client-auth'] ?? 'none') as ClientAuthMode;
  if (values['client-auth'] !== undefined && !['basic', 'md5', 'hmac'].includes(clientAuth)) throw new CliError(`--client-auth must be basic, md5 or hmac, got "${values['client-auth']}"`);
  const clientCred: Credential | undefined = readCredential(values, 'client-cred');
  const serverCred: Credential | undefined = readCredential(values, 'server-cred');
  let waitMs = 60_000;
  if (values.wait !== undefined) {
    const s = Number(values.wait);
    if (!Number.isFinite(s) || s <= 0 || s > 86_400) throw new CliError(`--wait must be a number of seconds above 0 (at most 86400), got "${values.wait}"`);
    waitMs = Math.round(s * 1000);
  }
  if (values.notify !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(values.notify);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new CliError(`--notify must be an http:// or https:// URL (the handset's notifyUrl), got "${values.notify}"`);
  }
  const plan = knownPlan(values.plan);
  const { selectCases, UnknownCaseError } = await import('../judge/conformance/run.js');
  try {
    selectCases(plan, values.case);
  } catch (e) {
    if (e instanceof UnknownCaseError) throw new CliError(`--case: ${e.message} (dmw conformance list --plan ${plan})`);
    throw e;
  }
  for (const [flag, file] of [['--junit', values.junit], ['--html', values.html]] as const) {
    if (file !== undefined && file.trim() === '') throw new CliError(`${flag} needs a file name`);
  }
  const data = values.data ?? process.env.DMW_DATA ?? path.join(os.homedir(), '.dmw');

  const { DmServer } = await import('../server/server.js');
  let server: Awaited<ReturnType<typeof DmServer.start>>;
  try {
    server = await DmServer.start({
      dataDir: data, port, host: values.host ?? '0.0.0.0', clientAuth,
      ...(values['server-id'] ? { serverId: values['server-id'] } : {}),
      ...(clientCred ? { defaultClientCred: clientCred } : {}),
      ...(serverCred ? { serverCred } : {}),
      ...(values.tls ? { tls: {} } : {}),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new CliError(`--port: port ${port} is in use`);
    if (err.code === 'EACCES') throw new CliError(`--port: not allowed to listen on port ${port}`);
    throw new CliError(`cannot start the server: ${err.message}`);
  }
  if (values.notify !== undefined) server.setDevice(values.device, { notifyUrl: values.notify });
  const progress = new Progress(process.stderr, values.device);
  let result: PlanResult;
  try {
    process.stderr.write(`conformance: plan ${plan}, device ${values.device}; DM server on ${server.url.replace(/:\d+\//, `:${server.port}/`)}\n`);
    const { runConformance } = await import('../judge/conformance/run.js');
    result = await runConformance({
      server, device: values.device, plan, waitMs,
      ...(values.case ? { cases: values.case } : {}),
      ...(clientCred ? { clientCred } : {}),
      onProgress: (p) => progress.on(p),
    });
  } finally {
    progress.end();
    await server.close();
  }
  if (values.junit) {
    const { toJUnit } = await import('../judge/conformance/junit.js');
    writeReport('--junit', values.junit, toJUnit(result));
  }
  if (values.html) {
    const { toHtml } = await import('../judge/conformance/html-report.js');
    writeReport('--html', values.html, toHtml(result));
  }
  if (values.json) process.stdout.write(`${JSON.stringify(jsonSummary(result))}\n`);
  else {
    for (const c of result.cases) process.stdout.write(`${VERDICT_WORD[c.verdict].padEnd(4)}  ${c.id}  ${c.detail}\n`);
    process.stdout.write(`${summaryLine(result)}\n`);
  }
  if (values.json) process.stderr.write(`${summaryLine(result)}\n`);
  return result.failed > 0 ? 1 : 0;
}

function writeReport(flag: string, file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new CliError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (e as Error).message}`);
  }
}

const VERDICT_WORD: Record<Verdict, string> = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INC', 'not-applicable': 'N/A' };

export function summaryLine(r: PlanResult): string {
  const n = r.cases.length;
  const notRestored = r.cases.reduce((k, c) => k + c.notRestored.length, 0);
  return `${r.plan} on ${r.device}: ${n} case${n === 1 ? '' : 's'}, ${r.passed} passed, ${r.failed} failed, ${r.inconclusive} inconclusive, ${r.skipped} not applicable (${((r.finishedAt - r.startedAt) / 1000).toFixed(1)} s)${notRestored ? `; ${notRestored} change(s) could not be put back` : ''}`;
}

/** The progress bar on a terminal; plain lines otherwise (a log file or CI). */
class Progress {
  private readonly tty: boolean;
  private waitingSaid = false;
  private current: string | undefined;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream, private readonly device: string) {
    this.tty = out.isTTY === true;
  }

  on(p: ConformanceProgress): void {
    switch (p.kind) {
      case 'waiting':
        // Notified: said once. Not notified: every session the device must start by hand is asked for.
        if (p.notified && this.waitingSaid) return;
        this.waitingSaid = true;
        this.line(p.notified ? `sent package #0 to ${this.device}; waiting for its session` : `waiting for ${this.device} to connect${this.current ? ` for ${this.current}` : ''} (${p.detail ?? 'no package #0 sent'}: start its DM session, or give --notify URL)`);
        return;
      case 'case-start':
        this.current = p.id;
        if (this.tty) this.bar(p.index, p.total, p.id);
        return;
      case 'case-end':
        if (this.tty) this.bar(p.index + 1, p.total, p.id);
        else this.out.write(`[${p.index + 1}/${p.total}] ${p.id}: ${p.verdict}\n`);
        return;
      case 'done':
        return;
    }
  }

  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private line(text: string): void {
    this.end();
    this.out.write(`${text}\n`);
  }

  private bar(done: number, total: number, id: string): void {
    const width = 30;
    const full = Math.round((done / Math.max(1, total)) * width);
    this.out.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${done}/${total} ${id.padEnd(40).slice(0, 40)}`);
    this.drawn = true;
  }
}
