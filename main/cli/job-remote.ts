/**
 * `dmw job add|list|clear|verify|resend|drop --server URL`: the same commands against a running server's management
 * API (main/server/API.md) instead of its data folder. The token comes from --token or
 * $DMW_API_TOKEN; for HTTPS, the lab CA from --ca or $DMW_API_CA (a PEM file).
 */
import { readFileSync } from 'node:fs';
import { ApiClient, describeApiError } from '../server/api/client.js';
import type { PublicJob } from '../server/api/public.js';
import type { JobRecord, JobSpec, JobStatus, UnconfirmedDecision, UnconfirmedPolicy } from '../server/types.js';
import { CliError } from './errors.js';

/** Options every `dmw job` subcommand takes for the remote form. */
export const REMOTE_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  ca: { type: 'string' },
} as const;

export interface RemoteValues {
  server?: string;
  token?: string;
  ca?: string;
  data?: string;
  store?: string;
}

/** True for the remote form; refuses --data with --server, and remote-only flags without --server. */
export function isRemote(v: RemoteValues): boolean {
  if (v.server !== undefined && v.data !== undefined) throw new CliError('give --data DIR or --server URL, not both');
  if (v.server !== undefined && v.store !== undefined) throw new CliError('give --store URL or --server URL, not both');
  if (v.server === undefined && (v.token !== undefined || v.ca !== undefined)) throw new CliError('--token and --ca go with --server URL');
  return v.server !== undefined;
}

function client(v: RemoteValues): ApiClient {
  const token = v.token ?? process.env.DMW_API_TOKEN;
  if (!token) throw new CliError('--server needs a token: --token TOKEN or DMW_API_TOKEN');
  const caFile = v.ca ?? process.env.DMW_API_CA;
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new CliError(`--ca ${caFile}: ${(e as Error).message}`);
    }
  }
  try {
    return new ApiClient({ url: v.server!, token, ...(ca ? { tls: { ca } } : {}) });
  } catch (e) {
    throw new CliError(`--server: ${(e as Error).message}`);
  }
}

async function call(v: RemoteValues, method: string, path: string, body?: unknown, query?: Record<string, string | undefined>, ok = 200): Promise<unknown> {
  let r;
  try {
    r = await client(v).request(method, path, body, query);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${v.server}: cannot reach the server: ${(e as Error).message}`);
  }
  // 409: the request was well formed but the job's state refuses it (a decision on a job that is not unconfirmed).
  if (r.status !== ok) throw new CliError(`${v.server}: ${describeApiError(r)}`, r.status === 409 ? 1 : 2);
  return r.json;
}

/** The API's job back as the record `dmw job` prints (publicJob of it is the same JSON). */
function asRecord(p: PublicJob): JobRecord {
  return { ...p, members: p.members ?? [], verify: p.verify ?? false, spec: undefined as unknown as JobSpec };
}

export async function remoteAddJob(v: RemoteValues, device: string, spec: JobSpec, onUnconfirmed?: UnconfirmedPolicy): Promise<JobRecord> {
  const json = (await call(v, 'POST', '/jobs', { device, spec, ...(onUnconfirmed ? { onUnconfirmed } : {}) }, undefined, 201)) as { job: PublicJob };
  return asRecord(json.job);
}

/** POST /jobs/{id}/decision: the engineer's decision on an unconfirmed job. */
export async function remoteDecideJob(v: RemoteValues, id: number, action: UnconfirmedDecision): Promise<JobRecord> {
  return asRecord((await call(v, 'POST', `/jobs/${id}/decision`, { action })) as PublicJob);
}

export async function remoteJobs(v: RemoteValues, filter: { device?: string; status?: JobStatus }): Promise<JobRecord[]> {
  const json = (await call(v, 'GET', '/jobs', undefined, { device: filter.device, status: filter.status })) as PublicJob[];
  return json.map(asRecord);
}

export async function remoteClearJobs(v: RemoteValues, device: string): Promise<{ deleted: number; kept: number }> {
  return (await call(v, 'DELETE', '/jobs', undefined, { device })) as { deleted: number; kept: number };
}
