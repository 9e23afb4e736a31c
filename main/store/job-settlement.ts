/**
 * At most once, visibly: what becomes of a job whose command went out but whose Status never came
 * back, and of the engineer's decision on it. The store applies these rules in both implementations
 * (SQLite and PostgreSQL), so they live with the store.
 *
 * A copy of main/server/unconfirmed.ts typed against the store's own types (issue 16 turns the
 * store -> server dependency around): test/unit/store-types.test.ts checks both give the same
 * answer for every kind, policy, attempt count and decision. At the switch-over
 * main/server/unconfirmed.ts re-exports this module and its copy goes.
 */
import {
  UNCONFIRMED_POLICIES,
  type JobKind, type JobRecord, type JobSpec, type UnconfirmedDecision, type UnconfirmedPolicy,
} from './types.js';

/** The server's default bound on automatic re-sends (main/server/config.ts DEFAULT_LIMITS.maxJobAttempts). */
export const DEFAULT_MAX_JOB_ATTEMPTS = 3;

/** Jobs that only read: sending them twice changes nothing on the device. */
export const READ_ONLY_KINDS: readonly JobKind[] = ['get', 'discover', 'read-acl'];
/** Jobs the server can check by reading their node back (a Get) before deciding to send them. */
export const VERIFIABLE_KINDS: readonly JobKind[] = ['add', 'replace', 'delete'];

/** Default policy: repeat what only reads, ask about everything that changes the device. */
export function defaultUnconfirmedPolicy(spec: Pick<JobSpec, 'kind'>): UnconfirmedPolicy {
  return READ_ONLY_KINDS.includes(spec.kind) ? 'resend' : 'ask';
}

export function canVerify(spec: Pick<JobSpec, 'kind'>): boolean {
  return VERIFIABLE_KINDS.includes(spec.kind);
}

/** Whether the spec runs an Exec (alone or inside Atomic/Sequence): never re-sent without an explicit choice. */
export function runsExec(spec: JobSpec): boolean {
  if (spec.kind === 'exec') return true;
  return (spec.kind === 'atomic' || spec.kind === 'sequence') && spec.commands.some((c) => c.kind === 'exec');
}

/**
 * The policy a new job gets: the one given, checked against its kind, or the default. Throws with
 * the reason (the CLI and the API show it as the error of the field).
 */
export function resolveUnconfirmedPolicy(spec: JobSpec, given: unknown): UnconfirmedPolicy {
  if (given === undefined || given === null) return defaultUnconfirmedPolicy(spec);
  if (typeof given !== 'string' || !(UNCONFIRMED_POLICIES as readonly string[]).includes(given)) {
    throw new Error(`onUnconfirmed must be one of ${UNCONFIRMED_POLICIES.join(', ')}, got ${JSON.stringify(given)}`);
  }
  const policy = given as UnconfirmedPolicy;
  if (policy === 'verify' && !canVerify(spec)) {
    throw new Error(`onUnconfirmed verify reads the node back, which works for ${VERIFIABLE_KINDS.join(', ')} jobs only, not ${spec.kind}; choose ask, resend or drop`);
  }
  return policy;
}

/** What the store writes for a job. */
export interface JobSettlement {
  status: 'queued' | 'unconfirmed' | 'failed';
  /** Read the node back before sending (cleared otherwise). */
  verify: boolean;
  /** Shown with the job: what happened to it, and what is next. */
  error: string | null;
}

export type UnansweredJob = Pick<JobRecord, 'id' | 'spec' | 'onUnconfirmed' | 'attempts' | 'sessionId'>;

/** "sent in session 12, no Status arrived: the server restarted" */
export function unansweredText(job: Pick<JobRecord, 'sessionId'>, why: string): string {
  return `sent in session ${job.sessionId ?? '?'}, no Status arrived: ${why}`;
}

function choices(spec: JobSpec): string {
  return canVerify(spec) ? 'verify, resend or drop' : 'resend or drop';
}

/**
 * A job whose command went out and whose Status never arrived, by its policy. `why` says how the
 * session ended; `maxAttempts` bounds automatic re-sends (past it: failed for resend, and left to
 * the engineer for verify, since the device may well have executed it).
 */
export function settleUnanswered(job: UnansweredJob, why: string, maxAttempts: number): JobSettlement {
  const what = unansweredText(job, why);
  switch (job.onUnconfirmed) {
    case 'ask':
      return { status: 'unconfirmed', verify: false, error: `${what}; decide: ${choices(job.spec)}` };
    case 'verify':
      if (job.attempts >= maxAttempts) {
        return { status: 'unconfirmed', verify: false, error: `${what}; no answer after ${job.attempts} attempt(s) with read-back, decide: ${choices(job.spec)}` };
      }
      return { status: 'queued', verify: true, error: `${what}; queued again to read the node back first (onUnconfirmed verify)` };
    case 'resend':
      if (job.attempts >= maxAttempts) return { status: 'failed', verify: false, error: `no answer after ${job.attempts} attempt(s); last: ${what}` };
      return { status: 'queued', verify: false, error: `${what}; queued to be sent again (onUnconfirmed resend)` };
    case 'drop':
      return { status: 'failed', verify: false, error: `dropped unconfirmed (onUnconfirmed drop): ${what}; the device may have executed it` };
  }
}

/** Why a decision cannot be taken on this job: 409 for its state, 400 for a decision its kind cannot take. */
export interface DecisionRefusal {
  status: 400 | 409;
  message: string;
}

export function decisionRefusal(job: Pick<JobRecord, 'id' | 'status' | 'spec' | 'command'>, action: UnconfirmedDecision): DecisionRefusal | undefined {
  if (job.status !== 'unconfirmed') {
    return { status: 409, message: `job ${job.id} is ${job.status}, not unconfirmed: verify, resend and drop are for jobs whose command went out without an answer` };
  }
  if (action === 'verify' && !canVerify(job.spec)) {
    return { status: 400, message: `job ${job.id} is ${job.command}: verify reads the node back, which works for ${VERIFIABLE_KINDS.join(', ')} only; decide resend or drop` };
  }
  return undefined;
}

/** What an unconfirmed job becomes by the engineer's decision (checked with decisionRefusal first). */
export function settleDecision(job: Pick<JobRecord, 'error'>, action: UnconfirmedDecision): JobSettlement {
  switch (action) {
    case 'verify':
      return { status: 'queued', verify: true, error: null };
    case 'resend':
      return { status: 'queued', verify: false, error: null };
    case 'drop':
      return { status: 'failed', verify: false, error: `dropped unconfirmed by decision${job.error ? `: ${job.error.replace(/; decide: .*$/, '')}` : ''}; the device may have executed it` };
  }
}
