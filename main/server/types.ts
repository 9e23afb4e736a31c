/**
 * Records the server keeps (devices, jobs, sessions, messages) and the job specifications it accepts.
 * Plain JSON-friendly data: the store persists them, the API sends them, the CLI prints them. The
 * store owns them (main/store/types.ts, issue 16): re-exported here, with what only the server needs
 * (the kinds it accepts, UI alert codes, the decisions it takes).
 */
import type { UnconfirmedDecision } from '../store/types.js';

export {
  JOB_KINDS, JOB_STATUSES, UI_ALERT_CODES, UNCONFIRMED_POLICIES, jobTarget,
  type AlertRecord, type DeviceAuthState, type DeviceRecord, type Direction, type JobKind, type JobMemberStatus, type JobRecord, type JobResult,
  type JobSpec, type JobStatus, type MessageRecord, type SessionRecord, type SessionState, type SimpleJobSpec, type TreeEntry, type UiAlertKind,
  type UnconfirmedDecision, type UnconfirmedPolicy,
} from '../store/types.js';

/** The engineer's decisions on an `unconfirmed` job. */
export const UNCONFIRMED_DECISIONS: readonly UnconfirmedDecision[] = ['verify', 'resend', 'drop'];
