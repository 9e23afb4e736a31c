/**
 * Trace files in and out, as both the `dmw` CLI and the UI make and read them: a logged session
 * to the bytes of a pcapng trace or a bundle (`dmw session export`, the Sessions view's export),
 * and a file's bytes to the sessions it holds (`dmw capture import`, the Sessions view's import).
 * One builder for both, so the UI's file is byte for byte the CLI's. Pure: the callers read the
 * store, the settings file and the app version (producer.ts), and write files or send bytes.
 */
import type { MessageRecord, SessionRecord } from '../server/types.js';
import { buildBundle, BundleError, looksLikeJson, readBundle, type ImportedSession } from './bundle.js';
import { CaptureError } from './errors.js';
import { importCapture, type CredentialCheck, type SkippedStream } from './import.js';
import { sessionsToPcapng } from './pcapng-write.js';

export type TraceFormat = 'pcapng' | 'bundle';
export const TRACE_FORMATS: readonly TraceFormat[] = ['pcapng', 'bundle'];

export interface SessionExportSource {
  session: SessionRecord;
  messages: MessageRecord[];
  /** The app version written into the file (producer.ts appVersion). */
  appVersion: string;
  /** The server settings saved in the data folder (producer.ts savedSettings); secrets are removed. */
  settings: unknown;
  /** The data folder, absolute (named in the pcapng comment). */
  dataDir: string;
  /** ms since the epoch: the bundle's exportedAt. */
  now: number;
}

/** The file `dmw session export --format FORMAT` writes for this session. */
export function sessionTraceBytes(format: TraceFormat, src: SessionExportSource): Uint8Array {
  const { session, messages, appVersion: version } = src;
  const id = session.id;
  if (format === 'bundle') {
    return new TextEncoder().encode(buildBundle({ session, messages, settings: src.settings, appVersion: version, now: src.now }));
  }
  const trace = messages.map((m) => ({
    direction: m.direction, at: m.at, bytes: m.bytes, contentType: m.contentType, httpStatus: m.httpStatus,
    label: `dmw session ${id} message #${m.seq} ${m.direction === 'in' ? 'device -> server' : 'server -> device'}${m.msgId ? ` MsgID ${m.msgId}` : ''}${m.note ? `; ${m.note.split('\n')[0]}` : ''}`,
  }));
  return sessionsToPcapng([{ messages: trace }], {
    comment: `DM Workbench ${version}: session ${id} (device ${session.device ?? '-'}, SessionID ${session.dmSessionId ?? '-'}) exported from ${src.dataDir}; synthetic Ethernet/IPv4/TCP/HTTP framing, original timestamps and message bytes`,
    application: `DM Workbench ${version} (dmw session export)`,
  });
}

/** A file name for the session's trace: dmw-session-7-IMEI_123.pcapng, dmw-session-7-IMEI_123.bundle.json. */
export function sessionTraceFileName(session: Pick<SessionRecord, 'id' | 'device'>, format: TraceFormat): string {
  const dev = (session.device ?? 'unknown').replace(/[^A-Za-z0-9._-]/g, '_');
  return `dmw-session-${session.id}-${dev}${format === 'pcapng' ? '.pcapng' : '.bundle.json'}`;
}

export const TRACE_MEDIA_TYPES: Readonly<Record<TraceFormat, string>> = { pcapng: 'application/x-pcapng', bundle: 'application/json' };

export interface TraceFileContents {
  kind: 'capture' | 'bundle';
  sessions: ImportedSession[];
  skipped: SkippedStream[];
}

/**
 * The sessions a file holds: a bundle (or a bare JSON session export) when it starts with `{`,
 * else a pcap or pcapng capture. A broken file throws (CaptureError with the file offset, or
 * BundleError); nothing half-read is returned. Credentials are checked in captures only.
 */
export function readTraceFile(bytes: Uint8Array, creds: CredentialCheck = {}): TraceFileContents {
  if (looksLikeJson(bytes)) return { kind: 'bundle', sessions: [readBundle(new TextDecoder().decode(bytes))], skipped: [] };
  const { sessions, skipped } = importCapture(bytes, creds);
  return { kind: 'capture', sessions, skipped };
}

/** Why a file could not be read, with the file offset when the reader knows it; null for other errors (bugs). */
export function traceFileProblem(e: unknown): { message: string; offset: number | null } | null {
  if (e instanceof CaptureError) return { message: `broken capture at file offset ${e.offset}: ${e.message}`, offset: e.offset };
  if (e instanceof BundleError) return { message: e.message, offset: null };
  return null;
}

/** Lines checkCredentials (cred-check.ts) writes into a message's note. */
const CREDENTIAL_NOTE = /^(client|server) (MD5 credential|HMAC)\b/;

/** The credential verdicts noted on imported messages, per session index and message seq (1-based). */
export function credentialVerdicts(sessions: readonly ImportedSession[]): { session: number; seq: number; text: string }[] {
  const out: { session: number; seq: number; text: string }[] = [];
  sessions.forEach((s, si) => s.messages.forEach((m, mi) => {
    for (const line of m.note?.split('\n') ?? []) if (CREDENTIAL_NOTE.test(line)) out.push({ session: si, seq: mi + 1, text: line });
  }));
  return out;
}
