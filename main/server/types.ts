/**
 * Records the server keeps (devices, jobs, sessions, messages) and the job specifications it accepts.
 * Plain JSON-friendly data: the store persists them, the API sends them, the CLI prints them.
 */
import type { AuthType } from '../protocol/auth.js';
import type { Encoding } from '../protocol/codec.js';
import type { Credential } from './config.js';

// --- jobs -----------------------------------------------------------------------------------

/** A single DM command aimed at one node; the members of Atomic and Sequence are these. */
export type SimpleJobSpec =
  | { kind: 'get'; uri: string }
  | { kind: 'replace' | 'add'; uri: string; value?: string; format?: string; type?: string; /** value is base64 of binary data */ binary?: boolean }
  | { kind: 'delete'; uri: string }
  | { kind: 'exec'; uri: string; data?: string; correlator?: string; format?: string; type?: string }
  | { kind: 'copy'; uri: string; source: string }
  | { kind: 'alert'; alert: UiAlertKind; text: string; choices?: string[]; options?: Record<string, string | number> };

export type UiAlertKind = 'display' | 'confirm' | 'input' | 'single' | 'multiple';
export const UI_ALERT_CODES: Readonly<Record<UiAlertKind, string>> = {
  display: '1100',
  confirm: '1101',
  input: '1102',
  single: '1103',
  multiple: '1104',
};

export type JobSpec =
  | SimpleJobSpec
  | { kind: 'atomic' | 'sequence'; commands: SimpleJobSpec[] }
  /** Walk the subtree under `uri` (Get `?list=Struct`, falling back to Gets of interior nodes). */
  | { kind: 'discover'; uri: string }
  /** Get `uri?prop=ACL`. */
  | { kind: 'read-acl'; uri: string };

export type JobKind = JobSpec['kind'];
export const JOB_KINDS: readonly JobKind[] = ['get', 'replace', 'add', 'delete', 'exec', 'copy', 'alert', 'atomic', 'sequence', 'discover', 'read-acl'];

/**
 * queued: waiting for the device's next session; sent: its command is on the wire; done / failed: the
 * device answered (or the server gave up); unconfirmed: its command went out but no Status came back
 * (crash, cut connection, session timeout), so nobody knows whether the device executed it, and the
 * engineer decides (main/server/unconfirmed.ts).
 */
export type JobStatus = 'queued' | 'sent' | 'done' | 'failed' | 'unconfirmed';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'sent', 'done', 'failed', 'unconfirmed'];

/**
 * What happens to a job whose command went out but whose Status never arrived: ask (it becomes
 * `unconfirmed`, the engineer decides), verify (read the node back first: add, replace and delete
 * only), resend (send it again, up to maxJobAttempts), drop (it fails). Set when queueing.
 */
export type UnconfirmedPolicy = 'ask' | 'verify' | 'resend' | 'drop';
export const UNCONFIRMED_POLICIES: readonly UnconfirmedPolicy[] = ['ask', 'verify', 'resend', 'drop'];

/** The engineer's decision on an `unconfirmed` job. */
export type UnconfirmedDecision = 'verify' | 'resend' | 'drop';
export const UNCONFIRMED_DECISIONS: readonly UnconfirmedDecision[] = ['verify', 'resend', 'drop'];

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
  /** What happens when its command goes out and no Status comes back. */
  onUnconfirmed: UnconfirmedPolicy;
  /** The next time it goes out, the server first reads the node back (the "verify" decision). */
  verify: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The node a job is about, for listings. */
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
  /** ./DevInfo/* leaves from package 1, by leaf name (DevId, Man, Mod, DmV, Lang, ...). */
  devInfo: Record<string, string>;
  firstSeen: string;
  lastSeen: string;
  /** Credentials the device must present; undefined = the lab default. */
  clientCred?: Credential;
  /** Where an HTTP notifier reaches the device (virtual handsets). */
  notifyUrl?: string;
}

/** Authentication state kept per device between sessions. */
export interface DeviceAuthState {
  /** Nonce (base64, as sent in NextNonce) the client must use in its next MD5/HMAC digest. */
  clientNonce?: string;
  clientNonceIssuedAt?: number;
  /** Nonce (base64) the client last challenged the server with; the server digests with it. */
  serverNonce?: string;
  /** Scheme the client last asked the server to use. */
  serverAuthType?: AuthType;
  /** Failure timestamps (ms) inside the current window. */
  authFailures: number[];
  lockedUntil?: number;
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

/** 'imported': read from a capture or bundle by `dmw capture import` (main/capture/), never live. */
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
  /** For 'out': time from the request's arrival to the response being ready. */
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

export interface AlertRecord {
  code: string;
  correlator?: string;
  items: { source?: string; target?: string; type?: string; format?: string; data?: string }[];
}
