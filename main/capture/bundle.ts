/**
 * A session bundle: the debugger's JSON session export (format dmw-session-export/1, the same
 * fields as the UI's export) plus the server settings without secrets and the app version, in one
 * JSON file that `dmw capture import` reads back into a data folder. Pure, but for nothing: the
 * caller reads the store and the settings file.
 */
import { messageDetail, summarizeSession, DecodeCache } from '../api/session-view.js';
import type { MessageRecord, SessionRecord } from '../server/types.js';

export const BUNDLE_FORMAT = 'dmw-session-bundle/1';
/** Bounds on what an imported bundle may hold (hostile files). */
export const BUNDLE_LIMITS = { maxMessages: 100_000, maxMessageBytes: 64 * 1024 * 1024 } as const;

export interface BundleMessage {
  seq: number;
  direction: 'in' | 'out';
  at: string;
  durationMs: number | null;
  msgId: string | null;
  contentType: string | null;
  httpStatus: number | null;
  base64: string;
  error: string | null;
  note: string | null;
}

export interface ImportedMessage {
  direction: 'in' | 'out';
  at: number;
  bytes: Uint8Array;
  msgId: string | null;
  contentType: string | null;
  httpStatus: number | null;
  durationMs: number | null;
  note: string | null;
  error?: string | null;
}

export interface ImportedSession {
  device: string | null;
  dmSessionId: string | null;
  encoding: 'xml' | 'wbxml' | null;
  authType: string | null;
  messages: ImportedMessage[];
}

/** Keys whose values never leave the data folder. */
const SECRET_KEY = /secret|password|passphrase|privateKey|^key$/i;

/** A copy of `v` with every secret-looking value replaced by "(removed)". */
export function withoutSecrets(v: unknown, depth = 0): unknown {
  if (depth > 20 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => withoutSecrets(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) && x !== null ? '(removed)' : withoutSecrets(x, depth + 1);
  return out;
}

export function buildBundle(o: { session: SessionRecord; messages: MessageRecord[]; settings: unknown; appVersion: string; now: number }): string {
  const summaries = summarizeSession(o.messages, new DecodeCache());
  const doc = {
    format: BUNDLE_FORMAT,
    export: {
      format: 'dmw-session-export/1',
      exportedAt: new Date(o.now).toISOString(),
      session: o.session,
      messages: o.messages.map((m, i) => ({
        ...messageDetail(m), at: m.at, durationMs: m.durationMs, msgId: m.msgId, contentType: m.contentType, httpStatus: m.httpStatus, commands: summaries[i]?.commands ?? [],
      })),
    },
    settings: withoutSecrets(o.settings ?? null),
    appVersion: o.appVersion,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export class BundleError extends Error {}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** True when the text looks like a bundle (or a plain session export) rather than a capture. */
export function looksLikeJson(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b;
}

/** The session a bundle (or a bare dmw-session-export/1) holds, checked field by field. */
export function readBundle(text: string): ImportedSession {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`not JSON: ${(e as Error).message}`);
  }
  const root = doc as Record<string, unknown>;
  const exp = (root?.format === BUNDLE_FORMAT ? root.export : root) as Record<string, unknown> | undefined;
  if (!exp || exp.format !== 'dmw-session-export/1') throw new BundleError(`not a session bundle (format ${JSON.stringify(root?.format ?? null)}, expected ${BUNDLE_FORMAT} or dmw-session-export/1)`);
  const s = exp.session as Record<string, unknown> | undefined;
  const ms = exp.messages;
  if (!s || typeof s !== 'object' || !Array.isArray(ms)) throw new BundleError('the bundle has no session or no messages array');
  if (ms.length > BUNDLE_LIMITS.maxMessages) throw new BundleError(`${ms.length} messages, more than the limit of ${BUNDLE_LIMITS.maxMessages}`);
  const messages = ms.map((raw: unknown, i): ImportedMessage => {
    const m = raw as Record<string, unknown>;
    const at = Date.parse(str(m?.at) ?? '');
    if (m?.direction !== 'in' && m?.direction !== 'out') throw new BundleError(`messages[${i}].direction must be "in" or "out"`);
    if (!Number.isFinite(at)) throw new BundleError(`messages[${i}].at is not a time`);
    const b64 = str(m.base64);
    if (b64 === null || b64.length > (BUNDLE_LIMITS.maxMessageBytes * 4) / 3 + 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new BundleError(`messages[${i}].base64 is missing, too long or not base64`);
    return { direction: m.direction, at, bytes: new Uint8Array(Buffer.from(b64, 'base64')), msgId: str(m.msgId), contentType: str(m.contentType), httpStatus: num(m.httpStatus), durationMs: num(m.durationMs), note: str(m.note), error: str(m.error) };
  });
  const enc = s.encoding === 'xml' || s.encoding === 'wbxml' ? s.encoding : null;
  return { device: str(s.device), dmSessionId: str(s.dmSessionId), encoding: enc, authType: str(s.authType), messages };
}
