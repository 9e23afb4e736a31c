/** The SQLite store's rows as better-sqlite3 returns them, and the records (../types.ts) they make. */
import type { Encoding } from '../../protocol/codec.js';
import type {
  DeviceAuthState, Direction, JobMemberStatus, JobRecord, JobResult, JobSpec, JobStatus, MessageRecord, SessionRecord, SessionState, StoredDevice,
  UnconfirmedPolicy,
} from '../types.js';
import { messageRecord } from '../message-record.js';

export interface JobRow {
  id: number; device: string; command: string; target: string; spec: string; status: string; status_code: number | null;
  results: string; members: string; session_id: number | null; attempts: number; error: string | null; created_at: string; updated_at: string;
  on_unconfirmed: string; verify: number;
}
export interface DeviceRow {
  dev_id: string; dev_info: string; first_seen: string; last_seen: string; client_cred_name: string | null;
  client_cred_secret: string | null; notify_url: string | null; auth: string;
}
export interface SessionRow {
  id: number; device: string | null; dm_session_id: string | null; state: string; encoding: string | null; auth_type: string | null;
  started_at: string; ended_at: string | null; reason: string | null; message_count?: number;
}
export interface MessageRow {
  id: number; session_id: number; seq: number; direction: string; at: string; duration_ms: number | null; msg_id: string | null;
  content_type: string | null; http_status: number | null; bytes: Buffer; decoded: string | null; error: string | null; note: string | null;
}

export function messageFromRow(r: MessageRow): MessageRecord {
  return messageRecord({
    id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction as Direction, at: r.at, durationMs: r.duration_ms, msgId: r.msg_id,
    contentType: r.content_type, httpStatus: r.http_status, bytes: new Uint8Array(r.bytes), error: r.error, note: r.note,
  }, r.decoded);
}

export function deviceFromRow(r: DeviceRow): StoredDevice {
  const d: StoredDevice = {
    devId: r.dev_id,
    devInfo: JSON.parse(r.dev_info) as Record<string, string>,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    auth: { authFailures: [], ...(JSON.parse(r.auth) as Partial<DeviceAuthState>) },
  };
  if (r.client_cred_name !== null && r.client_cred_secret !== null) d.clientCred = { name: r.client_cred_name, secret: r.client_cred_secret };
  if (r.notify_url) d.notifyUrl = r.notify_url;
  return d;
}

export function jobFromRow(r: JobRow): JobRecord {
  return {
    id: r.id,
    device: r.device,
    command: r.command as JobRecord['command'],
    target: r.target,
    status: r.status as JobStatus,
    statusCode: r.status_code,
    results: JSON.parse(r.results) as JobResult[],
    members: JSON.parse(r.members) as JobMemberStatus[],
    spec: JSON.parse(r.spec) as JobSpec,
    sessionId: r.session_id,
    attempts: r.attempts,
    error: r.error,
    onUnconfirmed: r.on_unconfirmed as UnconfirmedPolicy,
    verify: r.verify === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function sessionFromRow(r: SessionRow): SessionRecord {
  const s: SessionRecord = {
    id: r.id, device: r.device, dmSessionId: r.dm_session_id, state: r.state as SessionState, encoding: r.encoding as Encoding | null,
    authType: r.auth_type, startedAt: r.started_at, endedAt: r.ended_at, reason: r.reason,
  };
  if (r.message_count !== undefined) s.messageCount = r.message_count;
  return s;
}
