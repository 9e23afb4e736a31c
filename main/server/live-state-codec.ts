/**
 * A live DM 1.2 session (live-sessions.ts `Live`) as the database keeps it between messages when
 * several instances share one store (issue 16 point 3): the engine state, the device as the
 * session knows it, the message counter, the token, the messages of a session not yet
 * authenticated, and the last answer given (a device whose instance died after committing but
 * before answering sends the same message again and gets that answer again).
 *
 * JSON both ways. Bytes (message bodies, large-object chunks, binary item data) are Uint8Arrays in
 * memory and `{ "$u8": base64 }` in JSON; a plain object that happens to have a `$u8` or `$obj` key
 * is wrapped as `{ "$obj": … }` so it cannot be mistaken for bytes on the way back.
 *
 * On the way in the row is checked before anything uses it: a corrupt or hostile row (another
 * version of dmw, a hand edit, a bug) gives a LiveStateError naming the session key and the path of
 * the bad value, never a crash deep in the engine.
 */
import type { DeviceView, EngineSession } from './engine.js';
import type { Live, PendingMessage } from './live-sessions.js';

/** Bumped when the shape changes: a row of another shape is refused by name. */
export const LIVE_STATE_FORMAT = 1;

/** The answer last given in a session, kept to answer a resent message the same way. */
export interface LastAnswer {
  /** SHA-256 (hex) of the request body it answered. */
  requestDigest: string;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The message numbers (seq) the exchange was logged under. */
  inSeq: number;
  outSeq: number;
}

/** What of a Live goes to the database (not its admission slot: slots are per instance). */
export type StoredLive = Omit<Live, 'slot'>;

export interface SharedLiveState {
  live: StoredLive;
  lastAnswer?: LastAnswer;
}

export class LiveStateError extends Error {
  constructor(readonly key: string, readonly at: string, problem: string) {
    super(`session state ${JSON.stringify(key)} is unusable: ${at}: ${problem}`);
    this.name = 'LiveStateError';
  }
}

// --- out -------------------------------------------------------------------------------------

/** The JSON value the store writes (its `state` column). */
export function encodeLiveState(s: SharedLiveState): unknown {
  const { slot: _slot, ...live } = s.live as Live;
  const preAuth = live.preAuth && { ...live.preAuth, messages: live.preAuth.messages.map(({ parsed: _p, ...m }) => m) };
  return { format: LIVE_STATE_FORMAT, live: toJson({ ...live, ...(preAuth ? { preAuth } : {}) }), ...(s.lastAnswer ? { lastAnswer: toJson(s.lastAnswer) } : {}) };
}

function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $u8: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x);
    return '$u8' in out || '$obj' in out ? { $obj: out } : out;
  }
  return v;
}

// --- in --------------------------------------------------------------------------------------

/** The row's state back to a session, checked; throws LiveStateError naming `key`. */
export function decodeLiveState(key: string, raw: unknown): SharedLiveState {
  const c = new Checker(key);
  const top = c.object(raw, '$');
  if (top.format !== LIVE_STATE_FORMAT) c.fail('$.format', `format ${JSON.stringify(top.format)}; this dmw reads format ${LIVE_STATE_FORMAT}`);
  const live = c.object(fromJson(c, top.live, '$.live'), '$.live');
  checkLive(c, live, '$.live');
  const out: SharedLiveState = { live: live as unknown as StoredLive };
  if (top.lastAnswer !== undefined) {
    const a = c.object(fromJson(c, top.lastAnswer, '$.lastAnswer'), '$.lastAnswer');
    c.string(a.requestDigest, '$.lastAnswer.requestDigest');
    c.int(a.status, '$.lastAnswer.status');
    c.stringRecord(a.headers, '$.lastAnswer.headers');
    c.bytes(a.body, '$.lastAnswer.body');
    c.int(a.inSeq, '$.lastAnswer.inSeq');
    c.int(a.outSeq, '$.lastAnswer.outSeq');
    out.lastAnswer = a as unknown as LastAnswer;
  }
  return out;
}

function fromJson(c: Checker, v: unknown, at: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => fromJson(c, x, `${at}[${i}]`));
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('$u8' in o) {
      if (typeof o.$u8 !== 'string' || Object.keys(o).length !== 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.$u8)) c.fail(at, 'bytes must be { "$u8": base64 } and nothing else');
      return new Uint8Array(Buffer.from(o.$u8 as string, 'base64'));
    }
    if ('$obj' in o) {
      if (Object.keys(o).length !== 1 || o.$obj === null || typeof o.$obj !== 'object' || Array.isArray(o.$obj)) c.fail(at, '"$obj" must wrap one object and nothing else');
      return fromEntries(c, o.$obj as Record<string, unknown>, at);
    }
    return fromEntries(c, o, at);
  }
  return v;
}

function fromEntries(c: Checker, o: Record<string, unknown>, at: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    // A key like __proto__ would reach the prototype through some later spread or assignment.
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') c.fail(`${at}.${k}`, 'key not allowed');
    out[k] = fromJson(c, x, `${at}.${k}`);
  }
  return out;
}

const PHASES = new Set(['pkg1', 'mgmt', 'closed']);
const ENCODINGS = new Set(['xml', 'wbxml']);

function checkLive(c: Checker, l: Record<string, unknown>, at: string): void {
  c.int(l.id, `${at}.id`);
  c.string(l.token, `${at}.token`);
  if (!/^[0-9a-f]{1,64}$/.test(l.token as string)) c.fail(`${at}.token`, 'not a hex token');
  c.string(l.devId, `${at}.devId`);
  c.string(l.dmSessionId, `${at}.dmSessionId`);
  c.number(l.lastActivity, `${at}.lastActivity`);
  c.int(l.logged, `${at}.logged`);
  c.number(l.seenWritten, `${at}.seenWritten`);
  if (l.address !== undefined) c.string(l.address, `${at}.address`);
  checkDevice(c, c.object(l.device, `${at}.device`), `${at}.device`);
  checkEngineSession(c, c.object(l.state, `${at}.state`), `${at}.state`);
  if (l.preAuth !== undefined) {
    const p = c.object(l.preAuth, `${at}.preAuth`);
    c.number(p.startedAt, `${at}.preAuth.startedAt`);
    c.array(p.messages, `${at}.preAuth.messages`).forEach((m, i) => checkPending(c, c.object(m, `${at}.preAuth.messages[${i}]`), `${at}.preAuth.messages[${i}]`));
  }
}

function checkDevice(c: Checker, d: Record<string, unknown>, at: string): asserts d is Record<string, unknown> & DeviceView {
  c.string(d.devId, `${at}.devId`);
  if (d.clientCred !== undefined) {
    const cred = c.object(d.clientCred, `${at}.clientCred`);
    c.string(cred.name, `${at}.clientCred.name`);
    c.string(cred.secret, `${at}.clientCred.secret`);
  }
  const auth = c.object(d.auth, `${at}.auth`);
  c.array(auth.authFailures, `${at}.auth.authFailures`).forEach((x, i) => c.number(x, `${at}.auth.authFailures[${i}]`));
  for (const k of ['clientNonce', 'serverNonce', 'serverAuthType'] as const) if (auth[k] !== undefined) c.string(auth[k], `${at}.auth.${k}`);
  for (const k of ['clientNonceIssuedAt', 'lockedUntil'] as const) if (auth[k] !== undefined) c.number(auth[k], `${at}.auth.${k}`);
}

/**
 * The engine state's skeleton: what every turn reads first. The commands inside the outbox and the
 * sent records are the engine's own values written by this dmw (format above); their containers
 * are checked here, their members by the engine as it uses them.
 */
function checkEngineSession(c: Checker, s: Record<string, unknown>, at: string): asserts s is Record<string, unknown> & EngineSession {
  c.int(s.id, `${at}.id`);
  for (const k of ['devId', 'dmSessionId', 'respUri', 'verDTD', 'verProto'] as const) c.string(s[k], `${at}.${k}`);
  if (!ENCODINGS.has(s.encoding as string)) c.fail(`${at}.encoding`, `${JSON.stringify(s.encoding)} is not xml or wbxml`);
  if (!PHASES.has(s.phase as string)) c.fail(`${at}.phase`, `${JSON.stringify(s.phase)} is not pkg1, mgmt or closed`);
  c.boolean(s.authenticated, `${at}.authenticated`);
  c.boolean(s.serverPackageOpen, `${at}.serverPackageOpen`);
  c.int(s.authAttempts, `${at}.authAttempts`);
  c.int(s.serverMsgId, `${at}.serverMsgId`);
  for (const k of ['clientMaxMsgSize', 'clientMaxObjSize', 'closedCode'] as const) if (s[k] !== undefined) c.int(s[k], `${at}.${k}`);
  c.array(s.outbox, `${at}.outbox`).forEach((o, i) => {
    const item = c.object(o, `${at}.outbox[${i}]`);
    c.int(item.jobId, `${at}.outbox[${i}].jobId`);
    c.object(item.command, `${at}.outbox[${i}].command`);
    if (item.lo !== undefined) c.bytes(c.object(item.lo, `${at}.outbox[${i}].lo`).bytes, `${at}.outbox[${i}].lo.bytes`);
  });
  for (const [k, v] of Object.entries(c.object(s.sent, `${at}.sent`))) {
    const r = c.object(v, `${at}.sent.${k}`);
    c.int(r.jobId, `${at}.sent.${k}.jobId`);
    c.string(r.cmd, `${at}.sent.${k}.cmd`);
  }
  for (const [k, v] of Object.entries(c.object(s.jobs, `${at}.jobs`))) {
    const j = c.object(v, `${at}.jobs.${k}`);
    c.int(j.id, `${at}.jobs.${k}.id`);
    c.object(j.spec, `${at}.jobs.${k}.spec`);
    c.array(j.keys, `${at}.jobs.${k}.keys`);
    c.array(j.results, `${at}.jobs.${k}.results`);
    c.array(j.members, `${at}.jobs.${k}.members`);
    c.boolean(j.sent, `${at}.jobs.${k}.sent`);
    c.boolean(j.finished, `${at}.jobs.${k}.finished`);
  }
  if (s.incomingLo !== undefined) {
    const lo = c.object(s.incomingLo, `${at}.incomingLo`);
    c.array(lo.chunks, `${at}.incomingLo.chunks`).forEach((b, i) => c.bytes(b, `${at}.incomingLo.chunks[${i}]`));
    c.int(lo.received, `${at}.incomingLo.received`);
  }
  if (s.pendingStatuses !== undefined) c.array(s.pendingStatuses, `${at}.pendingStatuses`);
  const auth = c.object(s.serverAuth, `${at}.serverAuth`);
  c.string(auth.type, `${at}.serverAuth.type`);
  c.int(auth.retries, `${at}.serverAuth.retries`);
}

function checkPending(c: Checker, m: Record<string, unknown>, at: string): asserts m is Record<string, unknown> & PendingMessage {
  c.int(m.seq, `${at}.seq`);
  if (m.direction !== 'in' && m.direction !== 'out') c.fail(`${at}.direction`, `${JSON.stringify(m.direction)} is not in or out`);
  c.number(m.at, `${at}.at`);
  c.bytes(m.bytes, `${at}.bytes`);
}

/** Type checks that name the session and the path. */
class Checker {
  constructor(private readonly key: string) {}
  fail(at: string, problem: string): never {
    throw new LiveStateError(this.key, at, problem);
  }
  object(v: unknown, at: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) this.fail(at, `expected an object, found ${kind(v)}`);
    return v as Record<string, unknown>;
  }
  array(v: unknown, at: string): unknown[] {
    if (!Array.isArray(v)) this.fail(at, `expected an array, found ${kind(v)}`);
    return v;
  }
  string(v: unknown, at: string): void {
    if (typeof v !== 'string') this.fail(at, `expected a string, found ${kind(v)}`);
  }
  number(v: unknown, at: string): void {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(at, `expected a number, found ${kind(v)}`);
  }
  int(v: unknown, at: string): void {
    if (!Number.isSafeInteger(v)) this.fail(at, `expected an integer, found ${kind(v)}`);
  }
  boolean(v: unknown, at: string): void {
    if (typeof v !== 'boolean') this.fail(at, `expected true or false, found ${kind(v)}`);
  }
  bytes(v: unknown, at: string): void {
    if (!(v instanceof Uint8Array)) this.fail(at, `expected bytes ({ "$u8": base64 }), found ${kind(v)}`);
  }
  stringRecord(v: unknown, at: string): void {
    for (const [k, x] of Object.entries(this.object(v, at))) this.string(x, `${at}.${k}`);
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
