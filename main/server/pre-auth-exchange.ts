/**
 * Messages of sessions that have not authenticated (client auth on), on DmServer's request path:
 * checked only when the throttles allow (pre-auth.ts), run through the engine's authentication
 * phase alone without the store, kept in memory while refused, and handed with their admission to
 * the turn in the store (store-exchange.ts) once the device authenticates. Also the answer to a
 * message of a session that failed authentication.
 */
import { randomHex } from '../protocol/random-pool.js';
import { encodeMessage, type Encoding } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';
import type { AdmitOutcome, DeviceView, EngineOutput } from './engine.js';
import { serverHmacHeader } from './auth.js';
import type { Live } from './live-sessions.js';
import { isSlot, type NoSlot, type Slot } from './admission.js';
import { text } from './rejections.js';
import { NO_CREDENTIAL } from './pre-auth.js';
import type { FailedSession } from './failed-sessions.js';
import { shownDevId } from './failure-ring.js';
import { sourceAddressKey } from './source-address.js';
import type { IncomingBody, OutgoingResponse } from './http.js';
import type { DmEndpoint } from './dm-endpoint.js';
import { iso } from '../util/iso-time.js';
import { deviceViewOf, exchange } from './store-exchange.js';

/**
 * A message of a session that has not authenticated (client auth is on). Its credentials are
 * checked only when the throttles allow (pre-auth.ts). The engine runs without the store and
 * without jobs. If the device authenticates, the session takes a slot among the authenticated
 * ones and enters the store through exchange(); if not, nothing is stored: the session stays in
 * memory with its messages (bounded: the engine ends it after maxAuthAttemptsPerSession refusals,
 * each message at most maxPreAuthMessageBytes) or it is over, and the refusal is counted.
 */
export async function exchangePreAuth(ep: DmEndpoint, r: IncomingBody, live: Live | undefined, message: SyncML, encoding: Encoding, now: number): Promise<OutgoingResponse> {
  const hdr = message.hdr;
  const devId = hdr.source.locURI;
  const address = sourceAddressKey(r.remote);
  const known = live?.device ?? await deviceView(ep, devId);
  const credential = known.clientCred?.name ?? NO_CREDENTIAL;
  const gate = ep.desk.gate({ address, credential, devId, now });
  if (!gate.check) {
    return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(gate.retryAfterSec) }, body: `${gate.reason}: refused without checking; try again in ${gate.retryAfterSec} s\n` };
  }
  const view = ep.desk.checkedView(known, gate.lockBinds, now);
  const id = live?.id ?? ep.desk.newSessionId();
  const token = live?.token ?? randomHex(8);
  const engine = ep.sessionHook?.engineFor(devId) ?? ep.engine;
  const state = live?.state ?? engine.open({ id, message, encoding, respUri: ep.respUri(r.host, `u${-id}`, token), device: view });
  // Only the authentication phase runs here: a device that authenticates has its whole turn run
  // once, in exchange(), with its queued jobs and this admission (building and encoding an answer
  // without them here cost a third of the first message's work, and was thrown away).
  let verdict: AdmitOutcome;
  try {
    // `admitted` present, as in exchange()'s input: one shape of input for the engine's reads.
    verdict = engine.admit(state, { message, encoding, bytes: r.bytes, now, device: view, queuedJobs: [], transport: ep.transport(r), admitted: undefined });
  } catch (e) {
    // A bug, not the device's doing: logged like any internal error, and the session goes.
    if (live) ep.live.delete(live.id);
    return ep.internalError(r, undefined, e, now);
  }

  if ('admitted' in verdict) {
    const { admitted } = verdict;
    // In: a slot among the authenticated sessions, taken before any await.
    if (live) {
      const no = ep.admission.promote(live.slot!);
      if (no) {
        ep.live.delete(live.id);
        return ep.busy(r, no, now, devId);
      }
      return exchange(ep, r, undefined, message, encoding, now, { slot: live.slot!, token, state, view, admitted, from: live });
    }
    const slot = ep.admission.take('authenticated', address);
    if (!isSlot(slot)) return ep.busy(r, slot, now, devId);
    return exchange(ep, r, undefined, message, encoding, now, { slot, token, state, view, admitted });
  }

  const out = withinMaxMsgSize(ep, verdict.refused);
  const refusal = ep.desk.refused({ address, credential, checked: view, lockBinds: gate.lockBinds, fx: out.effects, session: out.session, now });
  if (refusal) ep.emit({ type: 'rejected', at: iso(now), sessionId: null, httpStatus: 200, reason: `${shownDevId(devId)} from ${address}: ${refusal.reason}` });
  const reply: OutgoingResponse = { status: 200, headers: { 'content-type': r.contentType, ...out.headers }, body: out.bytes };
  if (out.session.phase === 'closed') {
    ep.desk.sessionFailed({ devId, dmSessionId: hdr.sessionID, token, address, sessionId: null, reason: out.effects.closed?.reason ?? 'authentication failed' }, now);
    if (live) ep.live.delete(live.id);
    return reply;
  }
  let l = live;
  if (!l) {
    const slot = preAuthSlot(ep, address);
    if (!isSlot(slot)) return ep.busy(r, slot, now, devId);
    l = { id, token, devId, dmSessionId: hdr.sessionID, state: out.session, lastActivity: now, logged: 0, device: known, seenWritten: now, address, slot, preAuth: { startedAt: r.receivedAt, messages: [] } };
  }
  // Its own nonce (the one its challenge carried) stays with the session; failures and lockout are the desk's.
  l.device = { ...known, auth: out.effects.deviceAuth ?? view.auth };
  l.state = out.session;
  l.lastActivity = now;
  keepPending(ep, l, r, hdr.msgID, out);
  ep.live.set(l);
  return reply;
}

/**
 * A refusal whose statuses do not fit the device's MaxMsgSize (a message of thousands of commands
 * before authenticating) goes with the SyncHdr's Status alone: the device must send its package
 * again once it authenticated anyway, and our answer must not grow with what it sent.
 */
function withinMaxMsgSize(ep: DmEndpoint, out: EngineOutput): EngineOutput {
  const limit = out.session.clientMaxMsgSize ?? ep.config.limits.assumedClientMaxMsgSize;
  const [hdrStatus, ...rest] = out.response.body.commands;
  if (out.bytes.length <= limit || !hdrStatus || rest.length === 0) return out;
  const response: SyncML = { hdr: out.response.hdr, body: { commands: [hdrStatus], final: out.response.body.final } };
  const bytes = encodeMessage(response, out.session.encoding);
  if (!bytes.ok) return out;
  const headers = { ...out.headers };
  const cred = ep.config.serverCred;
  if (cred && headers['x-syncml-hmac'] !== undefined) headers['x-syncml-hmac'] = serverHmacHeader(cred, out.session.serverAuth.nonce, bytes.value);
  const note = `the statuses of ${rest.length} refused commands (${out.bytes.length} bytes) do not fit the device's MaxMsgSize ${limit}: only the SyncHdr's went`;
  return { ...out, response, bytes: bytes.value, headers, effects: { ...out.effects, notes: [...out.effects.notes, note] } };
}

/**
 * A slot among the unauthenticated sessions. When the whole pool is full (not just this
 * address's share), the session idle longest gives way: a flood's sessions are older than a real
 * device's, which answers its challenge within a round trip, so a flood cannot keep devices out
 * by filling the pool, only by refilling all of it within one such round trip.
 */
function preAuthSlot(ep: DmEndpoint, address: string): Slot | NoSlot {
  const slot = ep.admission.take('pre-auth', address);
  if (isSlot(slot) || slot.limit !== 'pre-auth') return slot;
  const oldest = ep.live.leastActivePreAuth();
  if (!oldest) return slot;
  ep.live.delete(oldest.id);
  return ep.admission.take('pre-auth', address);
}

/** A refused exchange stays with its session until it authenticates (then it is written) or ends (then it is dropped). */
function keepPending(ep: DmEndpoint, l: Live, r: IncomingBody, msgId: string, out: EngineOutput): void {
  const notes = out.effects.notes;
  const at = ep.now();
  l.preAuth!.messages.push(
    { seq: ++l.logged, direction: 'in', at: r.receivedAt, msgId, contentType: r.contentType, bytes: r.bytes, note: notes.length > 0 ? notes.join('\n') : null },
    { seq: ++l.logged, direction: 'out', at, durationMs: at - r.receivedAt, msgId: out.response.hdr.msgID, contentType: r.contentType, httpStatus: 200, bytes: out.bytes },
  );
}

/** The device as an unauthenticated message sees it: its row read, never written, and the credential it must present. */
async function deviceView(ep: DmEndpoint, devId: string): Promise<DeviceView> {
  const row = await ep.store.device(devId);
  return deviceViewOf(devId, row?.auth ?? { authFailures: [] }, row?.clientCred ?? ep.config.defaultClientCred);
}

/** A message for a session that failed authentication: HTTP 403, logged the first time, counted after. */
export function refuseFailed(ep: DmEndpoint, r: IncomingBody, f: FailedSession, now: number): OutgoingResponse {
  const reason = `the session ended because authentication failed (${f.reason}); its later messages are refused`;
  if (ep.desk.followUp(f, sourceAddressKey(r.remote), now)) {
    if (f.sessionId !== null) void ep.rejections.log(f.sessionId, r.bytes, r.contentType, now, 403, `${reason}: this one is logged, the next ones only counted`);
    ep.emit({ type: 'rejected', at: iso(now), sessionId: f.sessionId, httpStatus: 403, reason });
  }
  return text(403, `${reason}\n`);
}
