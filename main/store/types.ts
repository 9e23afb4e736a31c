/**
 * The records the store keeps (devices, jobs, sessions, messages, the discovered tree, alerts), owned
 * by the store (issue 16: today main/store imports main/server for them; the dependency turns around).
 *
 * For now these are declared here, structurally identical to main/server/types.ts and config.ts's
 * Credential, and test/unit/store-types.test.ts checks at the type level that both sides agree. At
 * the switch-over main/server/types.ts re-exports these (`export type { JobRecord, ... } from
 * '../store/types.js'`) and the duplicates go. Plain JSON-friendly data; imports only the protocol's
 * two tiny unions (the protocol sits below both server and store).
 */
import type { AuthType } from '../protocol/auth.js';
import type { Encoding } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';

export type { Encoding };

/** A name and a secret (a device's client credentials). */
export interface Credential {
  name: string;
  secret: string;
}

// --- jobs -----------------------------------------------------------------------------------

export type UiAlertKind = 'display' | 'confirm' | 'input' | 'single' | 'multiple';

/** A single DM command aimed at one node; the members of Atomic and Sequence are these. */
export type SimpleJobSpec =
  | { kind: 'get'; uri: string }
  | { kind: 'replace' | 'add'; uri: string; value?: string; format?: string; type?: string; /** value is base64 of binary data */ binary?: boolean }
  | { kind: 'delete'; uri: string }
  | { kind: 'exec'; uri: string; data?: string; correlator?: string; format?: string; type?: string }
  | { kind: 'copy'; uri: string; source: string }
  | { kind: 'alert'; alert: UiAlertKind; text: string; choices?: string[]; options?: Record<string, string | number> };

export type JobSpec =
  | SimpleJobSpec
  | { kind: 'atomic' | 'sequence'; commands: SimpleJobSpec[] }
  | { kind: 'discover'; uri: string }
  | { kind: 'read-acl'; uri: string };

export type JobKind = JobSpec['kind'];

/** queued, sent (on the wire), done / failed (answered or given up), unconfirmed (sent, no Status: the engineer decides). */
export type JobStatus = 'queued' | 'sent' | 'done' | 'failed' | 'unconfirmed';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'sent', 'done', 'failed', 'unconfirmed'];

/** What happens to a job whose command went out but whose Status never arrived. */
export type UnconfirmedPolicy = 'ask' | 'verify' | 'resend' | 'drop';
export const UNCONFIRMED_POLICIES: readonly UnconfirmedPolicy[] = ['ask', 'verify', 'resend', 'drop'];

/** The engineer's decision on an `unconfirmed` job. */
export type UnconfirmedDecision = 'verify' | 'resend' | 'drop';

export interface JobResult {
  uri: string;
  format: string | null;
  /** Text as received; binary data as base64 (then `encoding` is 'b64'). */
  data: string | null;
  type?: string;
  encoding?: 'b64';
}

/** Status of one member of an Atomic / Sequence, or of one step of a tree walk. */
export interface JobMemberStatus {
  cmd: string;
  uri: string;
  statusCode: number | null;
}

export interface JobRecord {
  id: number;
  device: string;
  command: JobKind;
  target: string;
  status: JobStatus;
  statusCode: number | null;
  results: JobResult[];
  members: JobMemberStatus[];
  spec: JobSpec;
  sessionId: number | null;
  attempts: number;
  error: string | null;
  onUnconfirmed: UnconfirmedPolicy;
  /** The next time it goes out, the server first reads the node back (the "verify" decision). */
  verify: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What a session needs of a queued job (read at every message). */
export interface QueuedJobSpec {
  id: number;
  spec: JobSpec;
  verify?: boolean;
}

/** The node a job is about, for listings (same rule as main/server/types.ts's jobTarget). */
export function jobTarget(spec: JobSpec): string {
  switch (spec.kind) {
    case 'atomic':
    case 'sequence':
      return spec.commands.map((c) => ('uri' in c ? c.uri : '')).filter(Boolean).join(',');
    case 'alert':
      return '';
    default:
      return spec.uri;
  }
}

// --- devices --------------------------------------------------------------------------------

export interface DeviceRecord {
  devId: string;
  devInfo: Record<string, string>;
  firstSeen: string;
  lastSeen: string;
  clientCred?: Credential;
  notifyUrl?: string;
}

/** Authentication state kept per device between sessions. */
export interface DeviceAuthState {
  clientNonce?: string;
  clientNonceIssuedAt?: number;
  serverNonce?: string;
  serverAuthType?: AuthType;
  authFailures: number[];
  lockedUntil?: number;
}

export interface StoredDevice extends DeviceRecord {
  auth: DeviceAuthState;
}

export interface TreeEntry {
  uri: string;
  format: string | null;
  type: string | null;
  data: string | null;
  encoding?: 'b64';
  fetchedAt: string;
}

// --- sessions and their log -----------------------------------------------------------------

export type SessionState = 'active' | 'done' | 'aborted' | 'timeout' | 'interrupted' | 'failed' | 'rejected' | 'imported';

export interface SessionRecord {
  id: number;
  device: string | null;
  dmSessionId: string | null;
  state: SessionState;
  encoding: Encoding | null;
  authType: string | null;
  startedAt: string;
  endedAt: string | null;
  reason: string | null;
  messageCount?: number;
}

export type Direction = 'in' | 'out';

export interface MessageRecord {
  id: number;
  sessionId: number;
  seq: number;
  direction: Direction;
  at: string;
  durationMs: number | null;
  msgId: string | null;
  contentType: string | null;
  httpStatus: number | null;
  bytes: Uint8Array;
  /** Pretty XML of the decoded message, or null when it could not be decoded. */
  decoded: string | null;
  error: string | null;
  note: string | null;
}

/** A message to log (server-store.ts's NewMessage). */
export interface NewMessage {
  sessionId: number;
  direction: Direction;
  at: number;
  durationMs?: number | null;
  msgId?: string | null;
  contentType?: string | null;
  httpStatus?: number | null;
  bytes: Uint8Array;
  /** Place in the session (1, 2, ...); default the next one. */
  seq?: number;
  decoded?: string | null;
  error?: string | null;
  note?: string | null;
  /**
   * What `bytes` decode to, when the caller already holds it (the server decoded the device's
   * message to answer it): the message index is built from it instead of decoding the bytes again.
   * Not stored; must equal decodeMessage(bytes) in what the index reads (message-facts.ts).
   */
  parsed?: SyncML;
}

/** A session read from a capture or bundle (`dmw capture import`). */
export interface ImportedSession {
  device: string | null;
  dmSessionId: string | null;
  encoding: Encoding | null;
  authType: string | null;
  messages: readonly Omit<NewMessage, 'sessionId' | 'seq'>[];
}

export interface AlertRecord {
  code: string;
  correlator?: string;
  items: { source?: string; target?: string; type?: string; format?: string; data?: string }[];
}

export type StoredAlert = AlertRecord & { at: string; sessionId: number | null };

/** Why a decision on an unconfirmed job was refused: 404 no such job, 409 not unconfirmed, 400 not for its kind. */
export class JobDecisionError extends Error {
  constructor(readonly status: 400 | 404 | 409, message: string) {
    super(message);
  }
}

/** The Alert code of each user-interaction alert kind (1100-1104). */
export const UI_ALERT_CODES: Readonly<Record<UiAlertKind, string>> = {
  display: '1100',
  confirm: '1101',
  input: '1102',
  single: '1103',
  multiple: '1104',
};

export const JOB_KINDS: readonly JobKind[] = ['get', 'replace', 'add', 'delete', 'exec', 'copy', 'alert', 'atomic', 'sequence', 'discover', 'read-acl'];
