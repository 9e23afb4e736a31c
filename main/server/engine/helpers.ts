/**
 * Small pure helpers the engine's phases share: copying session state, item bytes, Status
 * building, and the keys that name commands and large objects across messages.
 */
import type { Command, ItemData, Results, Status, SyncML } from '../../protocol/model.js';
import { reportedUri } from '../jobs.js';
import type { EngineEffects } from './types.js';

/**
 * Deep copy of plain data that shares byte arrays (they are never mutated), so big objects stay
 * cheap. Plain loops: this runs on every message and Object.entries cost a third of a round trip.
 */
export function clone<T>(v: T): T {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
    return out as T;
  }
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in src) out[k] = clone(src[k]);
  return out as T;
}

export const utf8 = new TextEncoder();
export const utf8d = new TextDecoder();

export function dataBytes(d: ItemData | undefined): { bytes: Uint8Array; text: boolean } {
  if (!d) return { bytes: new Uint8Array(), text: true };
  if (d.kind === 'binary') return { bytes: d.bytes, text: false };
  if (d.kind === 'text') return { bytes: utf8.encode(d.text), text: true };
  return { bytes: new Uint8Array(), text: true };
}

export function status(msgRef: string, cmd: Command | { kind: 'SyncHdr'; cmdID: string }, code: number, extra: Partial<Status> = {}): Status {
  return { kind: 'Status', cmdID: '', msgRef, cmdRef: cmd.cmdID, cmd: cmd.kind, targetRefs: [], sourceRefs: [], data: String(code), items: [], ...extra };
}

export function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number.parseInt(s.trim(), 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Names the Results answering our command `MsgRef:CmdRef` (a large object in them keeps it). */
export function resultsKey(r: Results, serverMsgId: number): string {
  return `${r.msgRef ?? String(serverMsgId)}:${r.cmdRef}`;
}

/** Names a large object the client sends in its own Replace/Add. */
export function clientObjectKey(kind: string, uri: string): string {
  return `client:${kind}:${uri}`;
}

export function isClientObjectKey(key: string): boolean {
  return key.startsWith('client:');
}

/** The large-object key a command would continue, if it carries one. */
export function incomingKey(c: Command, serverMsgId: number): string | undefined {
  if (c.kind === 'Results') return resultsKey(c, serverMsgId);
  if (c.kind === 'Replace' || c.kind === 'Add') {
    const uri = reportedUri(c.items[0]);
    return uri === undefined ? undefined : clientObjectKey(c.kind, uri);
  }
  return undefined;
}

export const ALERT = { SERVER_INIT: '1200', CLIENT_INIT: '1201', NEXT_MESSAGE: '1222', ABORT: '1223', CLIENT_EVENT: '1224', NO_END_OF_DATA: '1225', GENERIC: '1226' } as const;

export function isPackage1(msg: SyncML): boolean {
  return msg.body.commands.some((c) => c.kind === 'Alert' && (c.data === ALERT.CLIENT_INIT || c.data === ALERT.SERVER_INIT));
}


export function emptyEffects(): EngineEffects {
  return { jobsSent: [], jobsFinished: [], jobsReleased: [], tree: [], alerts: [], notes: [] };
}

export function countIds(c: Command): number {
  return 1 + (c.kind === 'Atomic' || c.kind === 'Sequence' ? c.commands.reduce((n, m) => n + countIds(m), 0) : 0);
}
