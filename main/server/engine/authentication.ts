/**
 * The authentication phase of a turn: who the device is (TLS client certificate, SyncHdr Cred or
 * x-syncml-hmac, lockout after repeated failures) and the device's verdict on our own credentials
 * (its SyncHdr Status, with a Chal naming the scheme and nonce it wants next).
 * OMA DM 1.2 protocol §9 (authentication); notes §2.
 */
import { authTypeFromMeta } from '../../protocol/auth.js';
import type { Status } from '../../protocol/model.js';
import { isThrottled, verifyClient, type ClientAuthOutcome } from '../auth.js';
import type { SessionState } from '../types.js';
import { status } from './helpers.js';
import { closeSession } from './job-progress.js';
import { respond } from './packing.js';
import type { Turn } from './turn.js';
import type { EngineOutput } from './types.js';

/**
 * Checks the device's identity for this message. Returns the answer when the message is refused
 * (or the session is already over); undefined when the turn goes on, with the SyncHdr's Status
 * (200/212, and a Chal with the next nonce) already in place.
 */
export function authenticate(t: Turn): EngineOutput | undefined {
  const s = t.s;
  const limits = t.config.limits;
  if (s.phase === 'closed') {
    // A client that talks after the end: answer, change nothing.
    const code = s.closedCode ?? 200;
    t.fx.notes.push(`message after the session ended (${s.closedState}); answered ${code}, not processed`);
    hdrStatus(t, code);
    refuseAll(t, code);
    return respond(t, { takeOutbox: false, final: true });
  }

  // Transport-level identity first: a required client certificate must name this device.
  if (t.config.requireClientCert) {
    const cert = t.input.transport.clientCert;
    if (!cert || !cert.authorized || cert.cn !== s.devId) {
      const why = !cert ? 'no client certificate' : !cert.authorized ? 'client certificate not issued by the lab CA' : `client certificate is for "${cert.cn}", not "${s.devId}"`;
      t.fx.notes.push(`refused: ${why}`);
      return refuseSession(t, 403, 'failed', why);
    }
  }

  const mode = t.config.clientAuth;
  if (mode !== 'none' && isThrottled(t.auth, t.input.now)) {
    const wait = Math.ceil((t.auth.lockedUntil! - t.input.now) / 1000);
    t.headers['Retry-After'] = String(wait);
    t.fx.notes.push(`throttled: too many authentication failures; refused for another ${wait} s`);
    return refuseSession(t, 503, 'failed', 'throttled after repeated authentication failures');
  }

  if (s.authenticated && mode !== 'hmac') {
    hdrStatus(t, 200);
    return undefined;
  }
  const out = admittedOutcome(t) ?? verify(t);
  t.checked = out;
  t.setAuth(out.state);
  if (!out.ok) {
    s.authAttempts++;
    t.fx.notes.push(`client authentication failed (${out.code}): ${out.reason}`);
    hdrStatus(t, out.code, out.chal);
    refuseAll(t, out.code);
    if (isThrottled(t.auth, t.input.now) || s.authAttempts >= limits.maxAuthAttemptsPerSession) {
      s.closedCode = out.code;
      const r = respond(t, { takeOutbox: false, final: true });
      closeSession(s, t.fx, 'failed', isThrottled(t.auth, t.input.now) ? 'authentication failed; device throttled' : 'authentication failed too often');
      return r;
    }
    return respond(t, { takeOutbox: false, final: true });
  }
  if (!s.authenticated && mode !== 'none') t.fx.notes.push(`client authenticated (${mode})`);
  s.authenticated = true;
  hdrStatus(t, out.code, out.chal);
  return undefined;
}

/**
 * The outcome of the admission handed to this turn (EngineInput.admitted), when it holds for what
 * this turn's check would read; undefined when the turn must check itself.
 */
function admittedOutcome(t: Turn): ClientAuthOutcome | undefined {
  const a = t.input.admitted;
  if (a === undefined) return undefined;
  const same = a.message === t.msg && a.config === t.config && a.auth === t.auth && a.clientCred === t.input.device.clientCred;
  return same ? a.outcome : undefined;
}

function verify(t: Turn): ClientAuthOutcome {
  const i = t.input;
  return verifyClient({
    mode: t.config.clientAuth,
    cred: t.hdr.cred,
    hmac: i.transport.hmac,
    body: i.bytes,
    expected: i.device.clientCred,
    state: t.auth,
    now: i.now,
    limits: t.config.limits,
    newNonce: t.nonces.nonce.bind(t.nonces),
  });
}

export function hdrStatus(t: Turn, code: number, chal?: Status['chal']): void {
  const st = status(t.hdr.msgID, { kind: 'SyncHdr', cmdID: '0' }, code, {
    targetRefs: [t.hdr.target.locURI],
    sourceRefs: [t.hdr.source.locURI],
  });
  if (chal) st.chal = chal;
  t.statuses.push(st);
}

/** Every command of the message gets `code` (not executed). */
export function refuseAll(t: Turn, code: number): void {
  for (const c of t.msg.body.commands) {
    if (c.kind === 'Status' || c.kind === 'Results' || c.noResp) continue;
    t.statuses.push(status(t.hdr.msgID, c, code));
  }
}

export function refuseSession(t: Turn, code: number, state: SessionState, reason: string): EngineOutput {
  hdrStatus(t, code);
  refuseAll(t, code);
  t.s.closedCode = code;
  const r = respond(t, { takeOutbox: false, final: true });
  closeSession(t.s, t.fx, state, reason);
  return r;
}

export function onHeaderStatus(t: Turn, st: Status): void {
  const code = Number.parseInt(st.data, 10);
  const sa = t.s.serverAuth;
  if (st.chal) {
    const type = authTypeFromMeta(st.chal.meta.type);
    if (type && t.config.serverCred) sa.type = type;
    if (st.chal.meta.nextNonce !== undefined) sa.nonce = st.chal.meta.nextNonce;
    t.setAuth({ ...t.auth, serverNonce: sa.nonce, ...(type ? { serverAuthType: type } : {}) });
  }
  if (code === 401 || code === 407) {
    t.serverCredRefused = true;
    sa.refusals = (sa.refusals ?? 0) + 1;
    sa.lastRefusal = code;
    t.fx.notes.push(t.config.serverCred ? `client refused the server's credentials (${code})` : `client wants server credentials (${code}); start the server with --server-cred`);
  } else if (code >= 200 && code < 300) {
    delete sa.refusals;
    delete sa.lastRefusal;
  }
}

/**
 * Why the session cannot succeed when the device still refuses our credentials (its last SyncHdr
 * Status was 401/407), for the session's recorded state; undefined when it accepts them.
 */
export function serverCredentialsRefused(t: Turn): string | undefined {
  const sa = t.s.serverAuth;
  if (!sa.refusals) return undefined;
  const times = sa.refusals === 1 ? 'once' : `${sa.refusals} times in a row`;
  return t.config.serverCred
    ? `the device refused the server's credentials (${sa.lastRefusal}) ${times}`
    : `the device wants server credentials (${sa.lastRefusal}) and the server has none (--server-cred)`;
}

