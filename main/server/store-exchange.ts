/**
 * A DM message's turn in the store (DmServer's request path, after dm-endpoint.ts found the session
 * and pre-auth-exchange.ts let it in): in ONE write transaction read the device's queued jobs, run
 * the engine, log the message with the engine's notes, apply its effects, log the response; answer
 * once that committed. The transactions of requests that arrive together share one COMMIT and one
 * fsync (the store's group). A held answer (step control) is logged and sent once released.
 */
import { randomHex } from '../protocol/random-pool.js';
import type { Encoding } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';
import type { NewMessage } from '../store/types.js';
import { factsSurviveEncoding } from '../store/message-facts.js';
import type { Credential } from './config.js';
import type { Admitted, DeviceView, EngineInput, EngineSession, HeldTurn } from './engine.js';
import type { Live } from './live-sessions.js';
import { isSlot, type Slot } from './admission.js';
import { sourceAddressKey } from './source-address.js';
import type { ServerEvent } from './events.js';
import type { IncomingBody, OutgoingResponse } from './http.js';
import { claimTakenJobs, JobsTakenError } from './job-claims.js';
import { isStoreUnavailable, jobsTaken, storeUnavailable } from './unavailable.js';
import { LeaseLostError } from './shared-sessions.js';
import type { StoreEventBus } from './store-events.js';
import type { DmEndpoint } from './dm-endpoint.js';
import { iso } from '../util/iso-time.js';

/** How a session enters the store: its slot (taken before any await) and, when it authenticated in memory first, that session. */
export interface StoreEntry {
  slot: Slot;
  token: string;
  /** The engine state before the turn that authenticated it (the turn runs again, with the jobs). */
  state?: EngineSession;
  /** The device as that turn saw it (the nonce its session was given). */
  view?: DeviceView;
  /** That turn's verdict, handed to the whole turn so the credentials are checked once. */
  admitted?: Admitted;
  /** The in-memory session it was (its messages are written first). */
  from?: Live;
}

/** How stale a live session's device row may let last_seen get (it is written with other changes). */
const SEEN_RESOLUTION_MS = 1000;

/**
 * The heart of a request: one transaction from the logged request to the logged response,
 * answered once it committed. For a session already in the store, a new one (client auth
 * 'none': its slot is taken here, before any await), or one entering the store because it just
 * authenticated (`entry`, from exchangePreAuth: its messages so far are written first, and its
 * turn runs again, now with the device's queued jobs).
 */
export async function exchange(ep: DmEndpoint, r: IncomingBody, live: Live | undefined, message: SyncML, encoding: Encoding, now: number, entry?: StoreEntry): Promise<OutgoingResponse> {
  const hdr = message.hdr;
  const devId = hdr.source.locURI;
  if (!live && !entry) {
    const slot = ep.admission.take('authenticated', sourceAddressKey(r.remote));
    if (!isSlot(slot)) return ep.busy(r, slot, now, devId);
    entry = { slot, token: randomHex(8) };
  }
  const events: ServerEvent[] = [];
  const pending = entry?.from?.preAuth?.messages ?? [];
  // Numbered now, not after the await: anything else logged into this session meanwhile comes after.
  const inSeq = live ? ++live.logged : pending.length + 1;
  const outSeq = live ? ++live.logged : pending.length + 2;
  let result: { state: EngineSession; bytes: Uint8Array; headers: Record<string, string>; sessionId: number; token: string; held?: HeldTurn; device: DeviceView; seenAt: number | undefined; closed?: string };
  try {
    result = await ep.store.tx(async (s) => {
      let sessionId = live?.id;
      const token = live?.token ?? entry!.token;
      // The device's row is read once per session; later messages use what the session knows
      // (its auth state is kept up to date below) and refresh last_seen at most once a second.
      let view: DeviceView;
      let seenAt: number | undefined;
      let seen: ServerEvent;
      if (live) {
        view = live.device;
        if (now - live.seenWritten >= SEEN_RESOLUTION_MS) seenAt = now;
        seen = { type: 'device-seen', at: iso(now), device: devId, firstTime: false };
      } else {
        const startedAt = entry!.from?.preAuth?.startedAt ?? now;
        sessionId = await s.createSession({ device: devId, dmSessionId: hdr.sessionID, encoding, authType: ep.config.clientAuth }, startedAt);
        events.push({ type: 'session-started', at: iso(startedAt), sessionId, device: devId, dmSessionId: hdr.sessionID, encoding });
        const { device, created } = await s.touchDevice(devId, now);
        seen = { type: 'device-seen', at: iso(now), device: devId, firstTime: created };
        const cred = device.clientCred ?? ep.config.defaultClientCred;
        // A session that authenticated before entering the store keeps what it was given (its nonce).
        view = entry!.view ?? deviceViewOf(devId, device.auth, cred);
        if (pending.length > 0) {
          await s.addMessages(pending.map((m) => ({ ...m, sessionId: sessionId! })));
          for (const m of pending) events.push({ type: 'message', at: iso(m.at), sessionId, direction: m.direction, bytes: m.bytes.length, msgId: m.msgId ?? null, httpStatus: m.httpStatus ?? null });
        }
      }
      const size = r.bytes.length;
      events.push({ type: 'message', at: iso(r.receivedAt), sessionId: sessionId!, direction: 'in', bytes: size, msgId: hdr.msgID, httpStatus: null }, seen);
      const state = live?.state ?? (entry!.state ? withId(entry!.state, sessionId!) : (ep.sessionHook?.engineFor(devId) ?? ep.engine).open({ id: sessionId!, message, encoding, respUri: ep.respUri(r.host, String(sessionId), token), device: view }));
      const queued = await s.queuedJobSpecs(devId);
      const input: EngineInput = { message, encoding, bytes: r.bytes, now, device: view, queuedJobs: queued, transport: ep.transport(r), admitted: entry?.admitted };
      const scripted = ep.sessionHook?.turn(devId, state, input);
      const turn = scripted ? { output: scripted } : ep.steps.turnFor(devId, state, input);
      if (entry?.state && !('held' in turn ? turn.held.session : turn.output.session).authenticated) {
        throw new Error('a session that authenticated without its jobs did not with them');
      }
      // What the device said is logged with what the engine noted about it, and with the answer
      // in the same INSERT when there is one (the group's savepoint still undoes it all if
      // anything here throws).
      const fx = 'held' in turn ? turn.held.effects : turn.output.effects;
      // Shared store: the jobs the engine took into the session are claimed in this transaction (once, by one session, however many instances).
      if (ep.claimsJobs) await claimTakenJobs(s, devId, sessionId!, now, queued, state, 'held' in turn ? turn.held.session : turn.output.session);
      const sizeNote = size > ep.config.limits.maxMsgSize ? `message of ${size} bytes exceeds our MaxMsgSize ${ep.config.limits.maxMsgSize}` : undefined;
      const notes = sizeNote ? [sizeNote, ...fx.notes] : fx.notes;
      // `parsed`: the message index reads the message decoded above instead of decoding it again.
      const logIn: NewMessage & { seq: number } = { sessionId: sessionId!, seq: inSeq, direction: 'in', at: r.receivedAt, msgId: hdr.msgID, contentType: r.contentType, bytes: r.bytes, note: notes.length > 0 ? notes.join('\n') : null, parsed: message };
      await ep.apply(s, fx, sessionId!, devId, now, events, seenAt);
      const device: DeviceView = fx.deviceAuth ? { ...view, auth: fx.deviceAuth } : view;
      if ('held' in turn) {
        // Step control: what the device said is stored now; the answer is built and logged when released.
        await s.addMessages([logIn]);
        return { state: turn.held.session, bytes: new Uint8Array(), headers: {}, sessionId: sessionId!, token, held: turn.held, device, seenAt };
      }
      const out = turn.output;
      const at = ep.now();
      const logOut: NewMessage & { seq: number } = {
        sessionId: sessionId!, seq: outSeq, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200, bytes: out.bytes,
      };
      if (factsSurviveEncoding(out.response)) logOut.parsed = out.response;
      await s.addMessages([logIn, logOut]);
      events.push({ type: 'message', at: iso(at), sessionId: sessionId!, direction: 'out', bytes: out.bytes.length, msgId: out.response.hdr.msgID, httpStatus: 200 });
      // The session ends after its last message went out.
      endLast(events);
      if (ep.shared) {
        // The session's new state (with this answer, for a resend) and its events, in this same transaction.
        const address = live?.address ?? entry?.from?.address ?? entry?.slot.address;
        const next: Live = {
          id: sessionId!, token, devId, dmSessionId: live?.dmSessionId ?? hdr.sessionID, state: out.session, lastActivity: now, logged: outSeq, device,
          seenWritten: seenAt ?? live?.seenWritten ?? now, ...(address !== undefined ? { address } : {}),
        };
        await ep.shared.commitTurn(s, r, next, { request: r.bytes, status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes, inSeq, outSeq });
        await (ep.bus as StoreEventBus).publishIn(s, events);
      }
      const done: typeof result = { state: out.session, bytes: out.bytes, headers: out.headers, sessionId: sessionId!, token, device, seenAt };
      if (out.effects.closed) done.closed = out.effects.closed.reason;
      return done;
    });
  } catch (e) {
    // The slot goes back with the session that held it.
    if (entry?.from) ep.live.delete(entry.from.id);
    else if (entry) ep.admission.release(entry.slot);
    // Shared store: the turn's sessions go back to the database as claimed; a lease lost meanwhile
    // means another instance has the session now (the gate answers 503, the device sends again).
    ep.shared?.rolledBack(r);
    if (e instanceof LeaseLostError) throw e;
    if (isStoreUnavailable(e) || e instanceof JobsTakenError) {
      // Nothing of the turn was written (its transaction rolled back): the device sends the message
      // again, and the numbers taken for it are free again.
      if (live && live.logged === outSeq) live.logged -= 2;
      return e instanceof JobsTakenError ? jobsTaken() : storeUnavailable();
    }
    return ep.internalError(r, live, e, now);
  }
  let l: Live;
  if (live) l = live;
  else if (entry!.from) {
    l = entry!.from;
    ep.live.rekey(l, result.sessionId);
    delete l.preAuth;
    l.logged = outSeq;
    l.seenWritten = now;
  } else {
    l = { id: result.sessionId, token: result.token, devId, dmSessionId: hdr.sessionID, state: result.state, lastActivity: now, logged: outSeq, device: result.device, seenWritten: now, address: entry!.slot.address, slot: entry!.slot };
  }
  l.state = result.state;
  l.lastActivity = now;
  l.device = result.device;
  if (result.seenAt !== undefined) l.seenWritten = result.seenAt;
  ep.live.set(l);
  if (entry && ep.config.clientAuth !== 'none') ep.desk.succeeded(devId, now);
  if (result.state.phase === 'closed' && result.state.closedCode !== undefined) {
    ep.desk.sessionFailed({ devId, dmSessionId: l.dmSessionId, token: l.token, address: l.address ?? sourceAddressKey(r.remote), sessionId: l.id, reason: result.closed ?? 'authentication failed' }, now);
  }
  // Shared store: published inside the turn's transaction, delivered to this bus by the store.
  if (!ep.shared) for (const e of events) ep.emit(e);
  if (result.held) return waitForStep(ep, r, l, result.held, outSeq);
  return { status: 200, headers: withContentType(r.contentType, result.headers), body: result.bytes };
}

/** Logs a held answer as it leaves (once the step control released it) and returns it. */
export async function waitForStep(ep: DmEndpoint, r: IncomingBody, l: Live, turn: HeldTurn, outSeq: number): Promise<OutgoingResponse> {
  const { out, by, since, commands, note, finish } = await ep.steps.hold(l, turn);
  try {
    const at = ep.now();
    const events: ServerEvent[] = [];
    try {
      await ep.store.tx(async (s) => {
        await ep.apply(s, out.effects, l.id, l.devId, at, events);
        await s.addMessage({
          sessionId: l.id, seq: outSeq, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200,
          bytes: out.bytes, note, ...(factsSurviveEncoding(out.response) ? { parsed: out.response } : {}),
        });
        events.push({ type: 'message', at: iso(at), sessionId: l.id, direction: 'out', bytes: out.bytes.length, msgId: out.response.hdr.msgID, httpStatus: 200, note });
        endLast(events);
      });
    } catch (e) {
      if (isStoreUnavailable(e)) return storeUnavailable();
      return ep.internalError(r, l, e, at);
    }
    // The device's think time counts from when it got this answer.
    l.lastActivity = at;
    if (out.effects.deviceAuth) l.device = { ...l.device, auth: out.effects.deviceAuth };
    ep.emit({ type: 'session-released', at: iso(at), sessionId: l.id, device: l.devId, by, heldMs: at - since, commands });
    for (const e of events) ep.emit(e);
    return { status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes };
  } finally {
    finish();
  }
}

/** Events in the order subscribers get them: the session's end after everything else of the request. */
function endLast(events: ServerEvent[]): void {
  let ends = false;
  for (const e of events) if (e.type === 'session-ended') ends = true;
  if (ends) events.sort((a, b) => Number(a.type === 'session-ended') - Number(b.type === 'session-ended'));
}

export function deviceViewOf(devId: string, auth: DeviceView['auth'], cred: Credential | undefined): DeviceView {
  const v: DeviceView = { devId, auth };
  if (cred) v.clientCred = cred;
  return v;
}

/** The session as it authenticated before entering the store, under its store id. */
function withId(state: EngineSession, id: number): EngineSession {
  return { ...state, id };
}

/** Our answer's headers: its media type, then the engine's (x-syncml-hmac, Retry-After). */
function withContentType(contentType: string, headers: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { 'content-type': contentType };
  for (const k in headers) h[k] = headers[k]!;
  return h;
}
