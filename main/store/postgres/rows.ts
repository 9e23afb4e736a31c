/**
 * PostgreSQL rows -> the store's records (main/store/types.ts), the same records the SQLite store
 * returns: times as ISO strings with milliseconds, ids as numbers, JSON columns parsed.
 */
import pg from 'pg';
import { messageRecord } from '../message-record.js';
import type {
  Direction, Encoding, JobMemberStatus, JobRecord, JobResult, JobSpec, JobStatus, MessageRecord, SessionRecord, SessionState,
  StoredDevice, UnconfirmedPolicy, DeviceAuthState, TreeEntry, StoredAlert,
} from '../types.js';
import type { SessionStateRecord } from '../store.js';
import { isoOfDate } from '../../util/iso-time.js';

/**
 * How this pool's connections parse values: bigint (ids, counts) as numbers (ids stay far below
 * 2^53), timestamps as Dates (toISOString gives back what we wrote, in ms). Per pool, not pg's
 * global parsers: other code in the process may use pg differently.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const isoOf = (d: Date | null): string | null => (d === null ? null : isoOfDate(d));

export interface DeviceRow {
  dev_id: string; dev_info: Record<string, string>; first_seen: Date; last_seen: Date; client_cred_name: string | null;
  client_cred_secret: string | null; notify_url: string | null; auth: Partial<DeviceAuthState>;
}

export function deviceFromRow(r: DeviceRow): StoredDevice {
  const d: StoredDevice = {
    devId: r.dev_id,
    devInfo: r.dev_info,
    firstSeen: isoOfDate(r.first_seen),
    lastSeen: isoOfDate(r.last_seen),
    auth: { authFailures: [], ...r.auth },
  };
  if (r.client_cred_name !== null && r.client_cred_secret !== null) d.clientCred = { name: r.client_cred_name, secret: r.client_cred_secret };
  if (r.notify_url) d.notifyUrl = r.notify_url;
  return d;
}

export interface JobRow {
  id: number; device: string; command: string; target: string; spec: JobSpec; status: string; status_code: number | null;
  results: JobResult[]; members: JobMemberStatus[]; session_id: number | null; attempts: number; error: string | null;
  created_at: Date; updated_at: Date; on_unconfirmed: string; verify: boolean;
}

export function jobFromRow(r: JobRow): JobRecord {
  return {
    id: r.id,
    device: r.device,
    command: r.command as JobRecord['command'],
    target: r.target,
    status: r.status as JobStatus,
    statusCode: r.status_code,
    results: r.results,
    members: r.members,
    spec: r.spec,
    sessionId: r.session_id,
    attempts: r.attempts,
    error: r.error,
    onUnconfirmed: r.on_unconfirmed as UnconfirmedPolicy,
    verify: r.verify,
    createdAt: isoOfDate(r.created_at),
    updatedAt: isoOfDate(r.updated_at),
  };
}

export interface SessionRow {
  id: number; device: string | null; dm_session_id: string | null; state: string; encoding: string | null; auth_type: string | null;
  started_at: Date; ended_at: Date | null; reason: string | null; message_count?: number;
}

export function sessionFromRow(r: SessionRow): SessionRecord {
  const s: SessionRecord = {
    id: r.id, device: r.device, dmSessionId: r.dm_session_id, state: r.state as SessionState, encoding: r.encoding as Encoding | null,
    authType: r.auth_type, startedAt: isoOfDate(r.started_at), endedAt: isoOf(r.ended_at), reason: r.reason,
  };
  if (r.message_count !== undefined) s.messageCount = r.message_count;
  return s;
}

export interface MessageRow {
  id: number; session_id: number; seq: number; direction: string; at: Date; duration_ms: number | null; msg_id: string | null;
  content_type: string | null; http_status: number | null; bytes: Buffer; decoded: string | null; error: string | null; note: string | null;
}

export function messageFromRow(r: MessageRow): MessageRecord {
  return messageRecord({
    id: r.id, sessionId: r.session_id, seq: r.seq, direction: r.direction as Direction, at: isoOfDate(r.at), durationMs: r.duration_ms, msgId: r.msg_id,
    contentType: r.content_type, httpStatus: r.http_status, bytes: new Uint8Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength), error: r.error, note: r.note,
  }, r.decoded);
}

export interface TreeRow { uri: string; format: string | null; type: string | null; data: string | null; encoding: string | null; fetched_at: Date }

export function treeFromRow(r: TreeRow): TreeEntry {
  return { uri: r.uri, format: r.format, type: r.type, data: r.data, fetchedAt: isoOfDate(r.fetched_at), ...(r.encoding === 'b64' ? { encoding: 'b64' as const } : {}) };
}

export interface AlertRow { code: string; correlator: string | null; items: StoredAlert['items']; at: Date; session_id: number | null }

export function alertFromRow(r: AlertRow): StoredAlert {
  return { code: r.code, items: r.items, at: isoOfDate(r.at), sessionId: r.session_id, ...(r.correlator ? { correlator: r.correlator } : {}) };
}

export interface SessionStateRow {
  key: string; session_id: number; version: number; owner: string | null; lease_until: Date | null; state: unknown; updated_at: Date;
}

export function sessionStateFromRow(r: SessionStateRow): SessionStateRecord {
  return { key: r.key, sessionId: r.session_id, version: r.version, owner: r.owner, leaseUntil: isoOf(r.lease_until), state: r.state, updatedAt: isoOfDate(r.updated_at) };
}
