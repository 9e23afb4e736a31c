/**
 * At most once, visibly: what becomes of a job whose command went out but whose Status never came
 * back. The rules are the store's (main/store/job-settlement.ts: the store applies them, on SQLite
 * and PostgreSQL alike), re-exported here for the server, the API and the CLI.
 */
import { UNCONFIRMED_DECISIONS } from './types.js';
import type { UnconfirmedDecision } from './types.js';

export {
  READ_ONLY_KINDS, VERIFIABLE_KINDS, canVerify, decisionRefusal, defaultUnconfirmedPolicy, resolveUnconfirmedPolicy, runsExec, settleDecision,
  settleUnanswered, unansweredText, type DecisionRefusal, type JobSettlement, type UnansweredJob,
} from '../store/job-settlement.js';

export function isUnconfirmedDecision(x: unknown): x is UnconfirmedDecision {
  return typeof x === 'string' && (UNCONFIRMED_DECISIONS as readonly string[]).includes(x);
}
