/**
 * `dmw job add|list|clear|verify|resend|drop`: the job queue in a data folder, or in a shared lab
 * server's PostgreSQL database (--store URL, DMW_STORE_URL). Safe while `dmw server` runs on the same
 * store: SQLite takes the write lock with a wait (WAL), PostgreSQL row locks, and the server reads
 * the queue at every message, so a job added here goes out in the device's next session (or the running one).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseJobSpec } from '../server/jobs.js';
import { publicJob } from '../server/api/public.js';
import { JOB_STATUSES, UNCONFIRMED_POLICIES, type JobRecord, type JobSpec, type JobStatus, type UnconfirmedDecision, type UnconfirmedPolicy } from '../server/types.js';
import { resolveUnconfirmedPolicy } from '../server/unconfirmed.js';
import { CliError } from './errors.js';
import { helpIfAsked, runSubcommand } from './subcommands.js';
import { isRemote, remoteAddJob, remoteClearJobs, remoteDecideJob, remoteJobs, REMOTE_OPTIONS } from './job-remote.js';
import { openStore, STORE_HELP, STORE_OPTIONS } from './store-flag.js';

export { openStore };

const HELP = `usage:
  dmw job add --data DIR --device DEVID get|replace|add|delete|exec URI [VALUE] [--format F] [--type MIME] [--binary] [--json]
  dmw job add --data DIR --device DEVID exec URI [DATA] [--correlator ID] [--format F] [--type MIME] [--json]
  dmw job add --data DIR --device DEVID copy URI SOURCE_URI
  dmw job add --data DIR --device DEVID discover|acl URI
  dmw job add ... [--on-unconfirmed ask|verify|resend|drop]
  dmw job list --data DIR [--device DEVID] [--status queued|sent|done|failed|unconfirmed] [--json]
  dmw job clear --data DIR --device DEVID
  dmw job verify|resend|drop ID --data DIR [--json]
  dmw job add|list|clear|verify|resend|drop --store URL ...   the same on a shared lab server's database (PostgreSQL)
  dmw job add|list|clear|verify|resend|drop --server URL [--token TOKEN] [--ca CA.pem] ...   the same, through a running server's API

add: VALUE is the node value (Replace/Add) or the Exec data; --binary takes VALUE as base64.
     Add without VALUE creates an interior node. A job may name a device the server has not seen:
     it goes out in that device's first session.
     --correlator (exec only): the Exec's Correlator; a Generic Alert (1226) the device sends back
     with the same Correlator is added to the job's results (FUMO reports, main/client/APPS.md).
     --on-unconfirmed: what happens when the command goes out and no Status comes back (crash,
     cut connection, session timeout): ask (the job becomes unconfirmed and waits for your decision;
     the default for everything that changes the device), verify (the server reads the node back
     first, then sends the command only if it is not there yet: add, replace, delete only), resend
     (sent again, up to the attempt limit; the default for get, discover, acl), drop (failed). An
     Exec is re-sent only with an explicit --on-unconfirmed resend.
list --json: [{id, device, command, target, status, statusCode, results: [{uri, format, data}], onUnconfirmed, ...}]
clear: removes the device's jobs except those out on the wire right now.
verify|resend|drop ID: your decision on an unconfirmed job (its command went out, its Status never
     came back, so the device may or may not have executed it): verify = queued again, the node is
     read back first and the command sent only if the device does not have it (add, replace, delete);
     resend = queued again as it is; drop = failed. Exit 1 when the job is not unconfirmed.
${STORE_HELP}
--server: instead of --data, the server's management API (main/server/API.md), same output;
     the token is --token or $DMW_API_TOKEN, an HTTPS server's lab CA --ca or $DMW_API_CA.`;

export async function jobCommand(argv: string[]): Promise<number> {
  return runSubcommand('job', HELP, { add, list, clear, verify: decide('verify'), resend: decide('resend'), drop: decide('drop') }, argv);
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  helpIfAsked(argv, usage);
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\nusage: ${usage}`);
  }
}

const ADD_USAGE = 'dmw job add --data DIR|--store URL --device DEVID get|replace|add|delete|exec|copy|discover|acl URI [VALUE] [--on-unconfirmed ask|verify|resend|drop]';

async function add(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...STORE_OPTIONS, device: { type: 'string' }, format: { type: 'string' }, type: { type: 'string' },
    binary: { type: 'boolean' }, json: { type: 'boolean' }, correlator: { type: 'string' }, 'on-unconfirmed': { type: 'string' }, ...REMOTE_OPTIONS,
  }, ADD_USAGE);
  const remote = isRemote(values);
  if (!values.device) throw new CliError(`--device DEVID is required\nusage: ${ADD_USAGE}`);
  const [command, uri, value, ...extra] = positionals;
  if (!command || !uri) throw new CliError(`expected a command and a URI\nusage: ${ADD_USAGE}`);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"\nusage: ${ADD_USAGE}`);
  if (values.correlator !== undefined && command !== 'exec') throw new CliError('--correlator goes with exec');
  if (values.correlator === '') throw new CliError('--correlator must not be empty');
  let raw: Record<string, unknown>;
  switch (command) {
    case 'get':
    case 'delete':
    case 'discover':
      if (value !== undefined) throw new CliError(`${command} takes no VALUE`);
      raw = { kind: command, uri };
      break;
    case 'acl':
      if (value !== undefined) throw new CliError('acl takes no VALUE');
      raw = { kind: 'read-acl', uri };
      break;
    case 'replace':
    case 'add':
      if (command === 'replace' && value === undefined) throw new CliError('replace needs a VALUE');
      raw = { kind: command, uri, ...(value !== undefined ? { value } : {}), ...(values.format ? { format: values.format } : {}), ...(values.type ? { type: values.type } : {}), ...(values.binary ? { binary: true } : {}) };
      if (values.binary && value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new CliError('--binary: VALUE must be base64');
      break;
    case 'exec':
      raw = { kind: 'exec', uri, ...(value !== undefined ? { data: value } : {}), ...(values.format ? { format: values.format } : {}), ...(values.type ? { type: values.type } : {}), ...(values.correlator !== undefined ? { correlator: values.correlator } : {}) };
      break;
    case 'copy':
      if (value === undefined) throw new CliError('copy needs the SOURCE_URI');
      raw = { kind: 'copy', uri, source: value };
      break;
    default:
      throw new CliError(`unknown job command "${command}" (get, replace, add, delete, exec, copy, discover, acl)`);
  }
  let spec: JobSpec;
  try {
    spec = parseJobSpec(raw);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const given = values['on-unconfirmed'];
  if (given !== undefined && !(UNCONFIRMED_POLICIES as readonly string[]).includes(given)) {
    throw new CliError(`--on-unconfirmed must be one of ${UNCONFIRMED_POLICIES.join(', ')}, got "${given}"`);
  }
  let onUnconfirmed: UnconfirmedPolicy | undefined;
  try {
    onUnconfirmed = given === undefined ? undefined : resolveUnconfirmedPolicy(spec, given);
  } catch (e) {
    throw new CliError(`--on-unconfirmed: ${(e as Error).message.replace(/^onUnconfirmed /, '')}`);
  }
  let job: JobRecord;
  if (remote) job = await remoteAddJob(values, values.device, spec, onUnconfirmed);
  else {
    const store = await openStore(values, ADD_USAGE, true);
    try {
      job = await store.tx((s) => s.addJob(values.device!, spec, Date.now(), onUnconfirmed ? { onUnconfirmed } : {}));
    } finally {
      await store.close();
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(publicJob(job))}\n`);
  else process.stdout.write(`job ${job.id} queued for ${job.device}: ${job.command} ${job.target}\n`);
  return 0;
}

/** The job as scripts see it (the contract of `dmw job list --json`); the HTTP API sends the same shape. */
export { publicJob };

const STATUSES = JOB_STATUSES;

async function list(argv: string[]): Promise<number> {
  const usage = 'dmw job list --data DIR|--store URL [--device DEVID] [--status S] [--json]';
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, device: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean' }, ...REMOTE_OPTIONS }, usage);
  const remote = isRemote(values);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"\nusage: ${usage}`);
  if (values.status && !STATUSES.includes(values.status as JobStatus)) throw new CliError(`--status must be one of ${STATUSES.join(', ')}`);
  const filter = { ...(values.device ? { device: values.device } : {}), ...(values.status ? { status: values.status as JobStatus } : {}) };
  let jobs: JobRecord[];
  if (remote) jobs = await remoteJobs(values, filter);
  else {
    const store = await openStore(values, usage, false);
    try {
      jobs = await store.jobs(filter);
    } finally {
      await store.close();
    }
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(jobs.map(publicJob))}\n`);
    return 0;
  }
  if (jobs.length === 0) {
    process.stdout.write('no jobs\n');
    return 0;
  }
  const rows = jobs.map((j) => [String(j.id), j.device, j.command, j.target, j.status, j.statusCode === null ? '-' : String(j.statusCode), summary(j)]);
  const head = ['ID', 'DEVICE', 'COMMAND', 'TARGET', 'STATUS', 'CODE', 'RESULT'];
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${[head, ...rows].map(line).join('\n')}\n`);
  return 0;
}

function summary(j: JobRecord): string {
  if (j.error) return j.error;
  if (j.results.length === 0) return '';
  if (j.results.length === 1) {
    const d = j.results[0]!.data;
    return d === null ? '' : JSON.stringify(d.length > 60 ? `${d.slice(0, 57)}...` : d);
  }
  return `${j.results.length} results`;
}

async function clear(argv: string[]): Promise<number> {
  const usage = 'dmw job clear --data DIR|--store URL --device DEVID';
  const { values, positionals } = parse(argv, { ...STORE_OPTIONS, device: { type: 'string' }, ...REMOTE_OPTIONS }, usage);
  const remote = isRemote(values);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"\nusage: ${usage}`);
  if (!values.device) throw new CliError(`--device DEVID is required\nusage: ${usage}`);
  let r: { deleted: number; kept: number };
  if (remote) r = await remoteClearJobs(values, values.device);
  else {
    const store = await openStore(values, usage, false);
    try {
      r = await store.clearJobs(values.device);
    } finally {
      await store.close();
    }
  }
  process.stdout.write(`cleared ${r.deleted} job(s) of ${values.device}${r.kept > 0 ? `; ${r.kept} in flight kept` : ''}\n`);
  return 0;
}

const DECIDED: Record<UnconfirmedDecision, string> = {
  verify: 'queued again: the node is read back first, and the command goes out only if the device does not have it yet',
  resend: 'queued to be sent again',
  drop: 'dropped (failed); the device may have executed it',
};

/** `dmw job verify|resend|drop ID`: the engineer's decision on an unconfirmed job. */
function decide(action: UnconfirmedDecision) {
  return async (argv: string[]): Promise<number> => {
    const usage = `dmw job ${action} ID --data DIR|--store URL [--json]`;
    const { values, positionals } = parse(argv, { ...STORE_OPTIONS, json: { type: 'boolean' }, ...REMOTE_OPTIONS }, usage);
    const remote = isRemote(values);
    if (positionals.length !== 1) throw new CliError(`expected one job ID\nusage: ${usage}`);
    const text = positionals[0]!;
    if (!/^[1-9]\d{0,15}$/.test(text)) throw new CliError(`job ID must be a positive integer, got "${text}"\nusage: ${usage}`);
    const id = Number(text);
    let job: JobRecord;
    if (remote) job = await remoteDecideJob(values, id, action);
    else {
      const store = await openStore(values, usage, false);
      try {
        job = await store.decideJob(id, action, Date.now());
      } catch (e) {
        // Each store's JobDecisionError (the SQLite one and the store's own, until they are one class): by its status.
        const status = (e as { status?: unknown }).status;
        if (e instanceof Error && (status === 400 || status === 404 || status === 409)) throw new CliError(e.message, status === 409 ? 1 : 2);
        throw e;
      } finally {
        await store.close();
      }
    }
    if (values.json) process.stdout.write(`${JSON.stringify(publicJob(job))}\n`);
    else process.stdout.write(`job ${job.id} (${job.command} ${job.target} on ${job.device}) ${DECIDED[action]}\n`);
    return 0;
  };
}
