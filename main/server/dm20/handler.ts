/**
 * The DM 2.0 HTTP endpoint, thin: one POSTed JSON package -> decode -> find or open the session ->
 * in ONE store transaction: log the package, read the queued jobs, run dm20Step, apply its effects
 * (the same way DmServer applies the DM 1.2 engine's), log the answer -> answer. As with DM 1.2,
 * nothing goes on the wire that is not committed first.
 *
 * DmServer mounts it at `<basePath>/v2` (see README.md); it needs only the DmStore interface.
 * Sessions are keyed by (DevID, SID): every package of a session is POSTed to the same URL.
 */
import { prettyDm20, decodeClientMessage, describeDm20Error, encodeDm20, type Dm20CodecLimits } from '../../protocol/dm20/codec.js';
import { DM20_ACCEPTED_MEDIA_TYPES, DM20_MEDIA_TYPE, PKG, type Dm20ClientMessage, type Dm20ServerPackage } from '../../protocol/dm20/model.js';
import type { DmStore, DmStoreOps } from '../../store/store.js';
import { claimTakenJobs, JobsTakenError } from '../job-claims.js';
import { isStoreUnavailable, jobsTaken, storeUnavailable } from '../unavailable.js';
import type { EngineEffects } from '../engine.js';
import type { ServerEvent } from '../events.js';
import { applyEffects } from '../effects.js';
import type { IncomingBody, OutgoingResponse } from '../http.js';
import type { SessionState } from '../types.js';
import { DEFAULT_DM20_STEP_LIMITS, closeDm20Session, dm20Step, openDm20Session, type Dm20ServerSession, type Dm20StepLimits } from './step.js';
import { iso } from '../../util/iso-time.js';

export interface Dm20Limits extends Dm20StepLimits, Dm20CodecLimits {
  /** Idle time after which an open session is ended and its unanswered jobs released. */
  sessionTimeoutMs: number;
  /** Unanswered sends after which a released job is failed instead of queued again. */
  maxJobAttempts: number;
  /** Open DM 2.0 sessions at once. */
  maxSessions: number;
}

export const DEFAULT_DM20_LIMITS: Readonly<Dm20Limits> = Object.freeze({
  ...DEFAULT_DM20_STEP_LIMITS,
  maxMessageBytes: 1 << 20,
  maxCommands: 1000,
  maxResults: 10_000,
  sessionTimeoutMs: 5 * 60_000,
  maxJobAttempts: 3,
  maxSessions: 256,
});

interface LiveDm20 {
  state: Dm20ServerSession;
  lastActivity: number;
}

export interface Dm20Context {
  readonly store: DmStore;
  readonly limits: Dm20Limits;
  readonly now: () => number;
  /** Events for the UI (DmServer passes its bus's emit). */
  readonly emit: (e: ServerEvent) => void;
  /** Refuse devices without a lab-CA client certificate naming their DevID. */
  readonly requireClientCert: boolean;
  /** Reject unknown JSON fields (default true). */
  readonly strict: boolean;
  /** Open and recently closed sessions by `${DevID}\n${SID}`. */
  readonly sessions: Map<string, LiveDm20>;
}

export interface Dm20ContextOptions {
  store: DmStore;
  limits?: Partial<Dm20Limits>;
  now?: () => number;
  emit?: (e: ServerEvent) => void;
  requireClientCert?: boolean;
  strict?: boolean;
}

export function createDm20Context(o: Dm20ContextOptions): Dm20Context {
  return {
    store: o.store,
    limits: { ...DEFAULT_DM20_LIMITS, ...o.limits },
    now: o.now ?? Date.now,
    emit: o.emit ?? (() => undefined),
    requireClientCert: o.requireClientCert ?? false,
    strict: o.strict ?? true,
    sessions: new Map(),
  };
}

const key = (devId: string, sid: string) => `${devId}\n${sid}`;

function text(status: number, body: string, extra: Record<string, string> = {}): OutgoingResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...extra }, body: `${body}\n` };
}

/** Handles one POST to the DM 2.0 endpoint. Never throws: a failure is an HTTP answer and a log entry. */
export async function handleDm20(ctx: Dm20Context, r: IncomingBody): Promise<OutgoingResponse> {
  const now = ctx.now();
  if (r.method !== 'POST') return { status: 405, headers: { allow: 'POST', 'content-type': 'text/plain' }, body: 'DM 2.0 packages are POSTed\n' };
  if (!DM20_ACCEPTED_MEDIA_TYPES.includes(r.contentType)) {
    return reject(ctx, r, 415, `unsupported media type "${r.contentType || '(none)'}"; send ${DM20_MEDIA_TYPE}`, now);
  }
  const decoded = decodeClientMessage(r.bytes, { limits: ctx.limits, strict: ctx.strict });
  if (!decoded.ok) return reject(ctx, r, decoded.error.code === 'too-large' ? 413 : 400, `malformed DM 2.0 package: ${describeDm20Error(decoded.error)}`, now);
  const m = decoded.value;

  if (ctx.requireClientCert) {
    const cert = r.clientCert;
    if (!cert || !cert.authorized || cert.cn !== m.DevID) {
      const why = !cert ? 'no client certificate' : !cert.authorized ? 'client certificate not issued by the lab CA' : `client certificate is for "${cert.cn}", not "${m.DevID}"`;
      return reject(ctx, r, 403, `refused: ${why}`, now, m);
    }
  }

  const k = key(m.DevID, m.SID);
  let live = ctx.sessions.get(k);
  if (live && m.Pkg === PKG.CLIENT_INIT && (live.state.phase === 'closed' || live.state.packages > 0)) {
    // A package 1 starts over: a new session, the old one (if open) aborted.
    if (live.state.phase === 'open') await endLive(ctx, live, 'aborted', 'the device started the session over');
    ctx.sessions.delete(k);
    live = undefined;
  }
  if (!live) {
    if (m.Pkg !== PKG.CLIENT_INIT) return reject(ctx, r, 404, `no open DM 2.0 session ${m.SID} for "${m.DevID}"; start with package 1`, now, m);
    const open = [...ctx.sessions.values()].filter((l) => l.state.phase === 'open').length;
    if (open >= ctx.limits.maxSessions) return reject(ctx, r, 503, `${open} DM 2.0 sessions open, the limit is ${ctx.limits.maxSessions}`, now, m, { 'retry-after': '30' });
  }
  return exchange(ctx, r, live, m, now);
}

async function exchange(ctx: Dm20Context, r: IncomingBody, live: LiveDm20 | undefined, m: Dm20ClientMessage, now: number): Promise<OutgoingResponse> {
  const events: ServerEvent[] = [];
  let out: { state: Dm20ServerSession; bytes: Uint8Array };
  try {
    out = await ctx.store.tx(async (s) => {
      let state = live?.state;
      if (!state) {
        const id = await s.createSession({ device: m.DevID, dmSessionId: m.SID, encoding: null }, now);
        await s.setSessionAuth(id, 'none');
        state = openDm20Session(id, m as Extract<Dm20ClientMessage, { Pkg: 1 }>);
        events.push({ type: 'session-started', at: iso(now), sessionId: id, device: m.DevID, dmSessionId: m.SID, encoding: 'json' });
      }
      const sessionId = state.id;
      const inId = await s.addMessage({ sessionId, direction: 'in', at: r.receivedAt, msgId: `pkg${m.Pkg}`, contentType: r.contentType, bytes: r.bytes, decoded: prettyDm20(r.bytes) });
      events.push({ type: 'message', at: iso(r.receivedAt), sessionId, direction: 'in', bytes: r.bytes.length, msgId: `pkg${m.Pkg}`, httpStatus: null });
      const { created } = await s.touchDevice(m.DevID, now);
      events.push({ type: 'device-seen', at: iso(now), device: m.DevID, firstTime: created });
      const queuedJobs = (await s.queuedJobSpecs(m.DevID)).map((j) => ({ id: j.id, spec: j.spec }));
      const before = state;
      const step = dm20Step(state, { message: m, queuedJobs, limits: ctx.limits });
      if (ctx.store.kind !== 'sqlite') await claimTakenJobs(s, m.DevID, sessionId, now, queuedJobs, before, step.session);
      if (step.effects.notes.length > 0) await s.annotateMessage(inId, step.effects.notes.join('\n'));
      const bytes = encode(step.response, ctx);
      await applyDm20Effects(s, ctx, step.effects, sessionId, m.DevID, now, events);
      const at = ctx.now();
      await s.addMessage({ sessionId, direction: 'out', at, durationMs: at - r.receivedAt, msgId: 'pkg2', contentType: DM20_MEDIA_TYPE, httpStatus: 200, bytes, decoded: prettyDm20(bytes) });
      events.push({ type: 'message', at: iso(at), sessionId, direction: 'out', bytes: bytes.length, msgId: 'pkg2', httpStatus: 200 });
      events.sort((a, b) => Number(a.type === 'session-ended') - Number(b.type === 'session-ended'));
      return { state: step.session, bytes };
    });
  } catch (e) {
    // Nothing of the package was written: the device sends it again.
    if (isStoreUnavailable(e)) return storeUnavailable();
    if (e instanceof JobsTakenError) return jobsTaken();
    const why = e instanceof Error ? e.message : String(e);
    process.emitWarning(`DM 2.0 session step failed: ${e instanceof Error ? e.stack ?? why : why}`);
    if (live) {
      await endLive(ctx, live, 'failed', `internal error: ${why}`);
      ctx.sessions.delete(key(m.DevID, m.SID));
    }
    return text(500, 'internal error; the package was not processed');
  }
  ctx.sessions.set(key(m.DevID, m.SID), { state: out.state, lastActivity: now });
  for (const e of events) ctx.emit(e);
  return { status: 200, headers: { 'content-type': DM20_MEDIA_TYPE }, body: out.bytes };
}

function encode(p: Dm20ServerPackage, ctx: Dm20Context): Uint8Array {
  const r = encodeDm20(p, { limits: ctx.limits });
  if (!r.ok) throw new Error(`cannot encode our own package: ${describeDm20Error(r.error)}`);
  return r.value;
}

/** Writes what the step decided: the same writer as DmServer's for the DM 1.2 engine. Runs inside the transaction. */
export function applyDm20Effects(s: DmStoreOps, ctx: Dm20Context, fx: EngineEffects, sessionId: number, devId: string, now: number, events: ServerEvent[]): Promise<void> {
  return applyEffects(s, fx, { sessionId, devId, now, maxJobAttempts: ctx.limits.maxJobAttempts, jobsClaimed: ctx.store.kind !== 'sqlite' }, events);
}

async function endLive(ctx: Dm20Context, l: LiveDm20, state: SessionState, reason: string): Promise<void> {
  const now = ctx.now();
  const { session, effects } = closeDm20Session(l.state, state, reason);
  const id = l.state.id;
  const devId = l.state.devId;
  // Closed before the await: a package or a sweep meanwhile finds it over.
  l.state = session;
  const events: ServerEvent[] = [];
  try {
    await ctx.store.tx((s) => applyDm20Effects(s, ctx, effects, id, devId, now, events));
  } catch (e) {
    process.emitWarning(`could not record the end of DM 2.0 session ${id}: ${(e as Error).message}`);
    return;
  }
  for (const e of events) ctx.emit(e);
}

/** Ends sessions idle past `sessionTimeoutMs` and forgets closed ones. DmServer's sweeper calls it. */
export async function sweepDm20(ctx: Dm20Context): Promise<void> {
  const now = ctx.now();
  const ending: Promise<void>[] = [];
  for (const [k, l] of [...ctx.sessions]) {
    const idle = now - l.lastActivity;
    if (idle <= ctx.limits.sessionTimeoutMs) continue;
    if (l.state.phase === 'open') ending.push(endLive(ctx, l, 'timeout', `no package for ${Math.round(idle / 1000)} s`));
    else ctx.sessions.delete(k);
  }
  await Promise.all(ending);
}

/** Server shutdown: open sessions become 'interrupted', their jobs go back to the queue. */
export async function closeDm20(ctx: Dm20Context, reason = 'server shut down'): Promise<void> {
  for (const l of ctx.sessions.values()) if (l.state.phase === 'open') await endLive(ctx, l, 'interrupted', reason);
  ctx.sessions.clear();
}

/** Open DM 2.0 sessions, for DmServer.activeSessions(). */
export function activeDm20Sessions(ctx: Dm20Context): { id: number; device: string; dmSessionId: string; phase: string; lastActivity: string }[] {
  return [...ctx.sessions.values()].filter((l) => l.state.phase === 'open').map((l) => ({ id: l.state.id, device: l.state.devId, dmSessionId: l.state.sid, phase: 'dm2.0', lastActivity: iso(l.lastActivity) }));
}

/** Logs a package that could not start or join a session, and answers it with plain text. */
async function reject(ctx: Dm20Context, r: IncomingBody, status: number, reason: string, now: number, m?: Dm20ClientMessage, headers: Record<string, string> = {}): Promise<OutgoingResponse> {
  let sessionId: number | null = null;
  try {
    sessionId = await ctx.store.tx(async (s) => {
      const id = await s.createSession({ device: m?.DevID ?? null, dmSessionId: m?.SID ?? null, encoding: null, state: 'rejected', reason }, now);
      await s.addMessage({ sessionId: id, direction: 'in', at: r.receivedAt, bytes: r.bytes, contentType: r.contentType, httpStatus: status, decoded: prettyDm20(r.bytes), error: reason });
      return id;
    });
  } catch (e) {
    process.emitWarning(`could not log a rejected DM 2.0 package: ${(e as Error).message}`);
  }
  ctx.emit({ type: 'rejected', at: iso(now), sessionId, httpStatus: status, reason });
  return text(status, reason, headers);
}
