/**
 * The DM endpoint: DmServer's request path from a POSTed body to its answer. Routes the request (a
 * RespURI or the base path), decodes the message, finds its session (or opens one for a package 1),
 * and hands it on: to pre-auth-exchange.ts while the session has not authenticated, else to its turn
 * in the store (store-exchange.ts). Also ends sessions in the store (endLive) and logs internal
 * errors. DmServer (server.ts) builds it, owns its lifecycle and sets what start() decides (scheme,
 * shared store, DM 2.0); the rest of the request path reads the endpoint's fields.
 */
import { decodeMessage, sniffEncoding } from '../protocol/codec.js';
import type { DmStore, DmStoreOps } from '../store/store.js';
import type { EngineConfig } from './config.js';
import { isPackage1, type EngineEffects, type EngineInput, type SessionEngine } from './engine.js';
import { applyEffects } from './effects.js';
import type { LiveSessions, Live } from './live-sessions.js';
import type { Admission, NoSlot } from './admission.js';
import { checkHeaderLimits, describeOverLimit } from './header-limits.js';
import { Rejections, text } from './rejections.js';
import type { PreAuthDesk } from './pre-auth.js';
import { sourceAddressKey } from './source-address.js';
import type { EventBus, ServerEvent } from './events.js';
import type { StepControl } from './step-control.js';
import { ACCEPTED_MEDIA_TYPES, type IncomingBody, type OutgoingResponse } from './http.js';
import type { SessionHook } from './scripted.js';
import type { SessionState } from './types.js';
import { isStoreUnavailable, storeUnavailable } from './unavailable.js';
import type { SharedGate, SharedLookup } from './shared-sessions.js';
import { handleDm20, type Dm20Context } from './dm20/index.js';
import { iso } from '../util/iso-time.js';
import { exchangePreAuth, refuseFailed } from './pre-auth-exchange.js';
import { exchange } from './store-exchange.js';

/** A Host header we echo in a RespURI: a name or address and a port, nothing else. */
const PLAUSIBLE_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** What DmServer gives its endpoint: the server's parts the request path works with. */
export interface EndpointParts {
  store: DmStore;
  config: EngineConfig;
  engine: SessionEngine;
  bus: EventBus;
  now: () => number;
  /** Path devices POST to; RespURIs live under it. */
  basePath: string;
  live: LiveSessions;
  admission: Admission;
  /** Everything about devices that have not authenticated: throttles, recent refusals, failed sessions. */
  desk: PreAuthDesk;
  /** Held answers of paused devices (the Sessions view's Step and Resume). */
  steps: StepControl;
}

export class DmEndpoint {
  readonly store: DmStore;
  readonly config: EngineConfig;
  readonly engine: SessionEngine;
  readonly bus: EventBus;
  readonly now: () => number;
  readonly basePath: string;
  readonly live: LiveSessions;
  readonly admission: Admission;
  readonly desk: PreAuthDesk;
  readonly steps: StepControl;
  readonly rejections: Rejections;
  /** Jobs are claimed when the engine takes them (several instances may serve the device), not marked sent when they go out. */
  readonly claimsJobs: boolean;
  /** 'https' when DmServer.start serves TLS. */
  scheme = 'http';
  /** Several instances on one PostgreSQL store (DmServer.shared explains what stays per instance). */
  shared?: SharedGate;
  dm20?: Dm20Context;
  /** Scripted sessions of a device under test (scripted.ts, the conformance runner): its own engine and turns. */
  sessionHook?: SessionHook;
  /** Messages decoded ahead to find their session on a shared store (decoded once). */
  private readonly decodedAhead = new WeakMap<IncomingBody, ReturnType<typeof decodeMessage>>();
  /** Matches RespURI paths (`<basePath>/s/<id>-<token>`). */
  private sessionPath?: RegExp;

  constructor(p: EndpointParts) {
    this.store = p.store;
    this.config = p.config;
    this.engine = p.engine;
    this.bus = p.bus;
    this.now = p.now;
    this.basePath = p.basePath;
    this.live = p.live;
    this.admission = p.admission;
    this.desk = p.desk;
    this.steps = p.steps;
    this.claimsJobs = p.store.kind !== 'sqlite';
    this.rejections = new Rejections({ store: p.store, config: p.config, desk: p.desk, takeSeq: (id) => this.takeSeq(id), emit: (e) => this.emit(e), now: () => this.now() });
  }

  /** A whole request body POSTed to the listener (on a shared store, inside the gate's claim of its session). */
  onBody(r: IncomingBody): Promise<OutgoingResponse> {
    if (!this.shared) return this.onMessage(r);
    return this.shared.handle(r, this.sharedLookup(r), () => this.onMessage(r)) as Promise<OutgoingResponse>;
  }

  /** A body over maxBodyBytes: 413, logged with its first bytes. */
  onTooLarge(r: Omit<IncomingBody, 'bytes'> & { declared: number | undefined; bytes: Uint8Array }): Promise<OutgoingResponse> {
    const limit = this.config.limits.maxBodyBytes;
    const reason = `body of ${r.declared ?? `more than ${limit}`} bytes is over the limit of ${limit} bytes`;
    return this.rejections.reject(r, this.routed(this.route(r.path)), 413, reason, this.now(), { logReason: `${reason}; first ${r.bytes.length} bytes kept` });
  }

  private async onMessage(r: IncomingBody): Promise<OutgoingResponse> {
    // The DM 2.0 endpoint speaks JSON: before the SyncML routing and media-type checks.
    if (this.dm20 && (r.path === `${this.basePath}/v2` || r.path === `${this.basePath}/v2/`)) return handleDm20(this.dm20, r);
    const now = this.now();
    const route = this.route(r.path);
    if (!route) {
      this.emit({ type: 'rejected', at: iso(now), sessionId: null, httpStatus: 404, reason: `POST to ${r.path}` });
      return text(404, `no DM endpoint at ${r.path}; POST to ${this.basePath}\n`);
    }
    const routed = this.routed(route);
    if (!ACCEPTED_MEDIA_TYPES.has(r.contentType)) {
      return this.rejections.reject(r, routed, 415, `unsupported media type "${r.contentType || '(none)'}"; send ${[...ACCEPTED_MEDIA_TYPES].join(', ')}`, now);
    }
    const decoded = (this.shared && this.decodedAhead.get(r)) || decodeMessage(r.bytes);
    if (!decoded.ok) return this.rejections.malformed(r, routed, decoded.error, now);
    const { message, encoding } = decoded.value;
    const hdr = message.hdr;
    // Header values over their limits are named, never echoed (our SyncHdr Status would carry them).
    const over = checkHeaderLimits(message, this.config.limits);
    if (over) return this.rejections.reject(r, routed, 400, describeOverLimit(over), now);
    const devId = hdr.source.locURI;
    const address = sourceAddressKey(r.remote);
    const package1 = isPackage1(message);

    // A session that failed authentication is over, by its RespURI or (from the same address) by DevId and SessionID.
    const failed = route.kind === 'session' ? this.desk.failed.withToken(route.token, now) : this.desk.failed.latest(devId, hdr.sessionID, now);
    if (failed && (route.kind === 'session' || failed.address === address)) return refuseFailed(this, r, failed, now);

    // Which session: the RespURI we gave, else (device, SessionID), else a new one for package 1.
    let live: Live | undefined = routed;
    if (live && live.devId !== devId) {
      return this.rejections.syncmlError(r, hdr, encoding, undefined, 401, `message for session ${live.id} claims to come from "${devId}", not "${live.devId}"`, now);
    }
    if (!live && route.kind === 'base') {
      const same = this.live.latest(devId, hdr.sessionID);
      // A session not yet authenticated is found this way only from its own address (anyone can name a DevId).
      if (same && !(same.state.phase === 'closed' && package1) && !(same.preAuth && same.address !== address)) live = same;
    }
    // A client that sends again while its answer is held stopped waiting for it (timeout, restart).
    const stale = live !== undefined && this.steps.abort(live.id, 'superseded', 'the device sent another message while the answer to its previous one was held');
    if (stale) {
      if (package1 && route.kind === 'base') live = undefined;
    }
    if (live && live.state.phase === 'mgmt' && package1 && route.kind === 'base') {
      await this.endLive(live, 'aborted', 'the device started the session over');
      live = undefined;
    }
    if (!live && !package1) {
      const why = route.kind === 'session' ? `session ${route.no} is unknown or has expired` : `no open session ${hdr.sessionID} for "${devId}" and the message is not a package 1`;
      return this.rejections.syncmlError(r, hdr, encoding, undefined, 408, why, now);
    }
    if (this.config.clientAuth === 'none' || (live && !live.preAuth)) return exchange(this, r, live, message, encoding, now);
    const limit = this.config.limits.maxPreAuthMessageBytes;
    if (r.bytes.length > limit) {
      return this.rejections.reject(r, live, 413, `a message before authentication may be at most ${limit} bytes (maxPreAuthMessageBytes); this one is ${r.bytes.length}`, now, { devId });
    }
    return exchangePreAuth(this, r, live, message, encoding, now);
  }

  /**
   * `/dm` -> 'base'; `/dm/s/<n>-<token>` -> that session; anything else -> undefined. `<n>` is the
   * session's id in the log, or `u<n>` for a session that began before authenticating (it had no
   * log id yet); the token is what finds it.
   */
  private route(p: string): { kind: 'base' } | { kind: 'session'; no: string; token: string } | undefined {
    const base = this.basePath;
    if (p === base || p === `${base}/`) return { kind: 'base' };
    // Compiled once: building it per request showed up in profiles.
    this.sessionPath ??= new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/s/(u?\\d+)-([0-9a-f]+)$`);
    const m = this.sessionPath.exec(p);
    return m ? { kind: 'session', no: m[1]!, token: m[2]! } : undefined;
  }

  /** The live session a RespURI names: its token, given out with exactly that URL. */
  private routed(route: ReturnType<DmEndpoint['route']>): Live | undefined {
    if (route?.kind !== 'session') return undefined;
    const l = this.live.withToken(route.token);
    return l && l.state.respUri.endsWith(`/s/${route.no}-${route.token}`) ? l : undefined;
  }

  /** Which stored session a message names: its RespURI's token, or its DevId and SessionID at the base URL. */
  private sharedLookup(r: IncomingBody): SharedLookup | undefined {
    const route = this.route(r.path);
    if (!route) return undefined;
    const token = route.kind === 'session' ? { token: route.token } : {};
    if (!ACCEPTED_MEDIA_TYPES.has(r.contentType)) return token;
    const decoded = decodeMessage(r.bytes);
    this.decodedAhead.set(r, decoded);
    return decoded.ok ? { ...token, devId: decoded.value.message.hdr.source.locURI, dmSessionId: decoded.value.message.hdr.sessionID } : token;
  }

  /** A session's RespURI: `<basePath>/s/<no>-<token>` on the authority the device used, when plausible. */
  respUri(host: string | undefined, no: string, token: string): string {
    // The Host header is the device's own text: echoed only when it looks like an authority.
    const authority = host !== undefined && PLAUSIBLE_HOST.test(host) ? host : new URL(this.config.serverUri).host;
    return `${this.scheme}://${authority}${this.basePath}/s/${no}-${token}`;
  }

  /** What the engine reads of the request besides its body: TLS, the client certificate, x-syncml-hmac. */
  transport(r: IncomingBody): EngineInput['transport'] {
    const t: EngineInput['transport'] = { tls: r.tls };
    if (r.clientCert) t.clientCert = r.clientCert;
    const hmac = r.headers['x-syncml-hmac'];
    if (typeof hmac === 'string') t.hmac = hmac;
    return t;
  }

  /** No slot: HTTP 503 + Retry-After, counted, nothing stored (shedding load must cost nothing). */
  busy(r: IncomingBody, no: NoSlot, now: number, devId: string): OutgoingResponse {
    this.desk.note('busy', { address: sourceAddressKey(r.remote), devId, reason: no.reason, now });
    return { status: 503, headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(no.retryAfterSec) }, body: `${no.reason}\n` };
  }

  emit(e: ServerEvent): void {
    this.bus.emit(e);
  }

  /** Writes what the engine decided. Runs inside the request's transaction (`s`). */
  apply(s: DmStoreOps, fx: EngineEffects, sessionId: number, devId: string, now: number, events: ServerEvent[], seenAt?: number): Promise<void> {
    return applyEffects(s, fx, { sessionId, devId, now, maxJobAttempts: this.config.limits.maxJobAttempts, jobsClaimed: this.claimsJobs, ...(seenAt !== undefined ? { seenAt } : {}) }, events);
  }

  /** Ends a session outside its turns (timeout, shutdown, the device starting over): written, then its events. */
  async endLive(l: Live, state: SessionState, reason: string): Promise<void> {
    if (l.preAuth) {
      // Nothing of it is stored: it just goes (with its slot).
      this.live.delete(l.id);
      return;
    }
    const now = this.now();
    const { session, effects } = this.engine.close(l.state, state, reason);
    // Closed before the await: a message or a sweep meanwhile finds it over, and does not end it twice.
    this.live.setState(l, session);
    const events: ServerEvent[] = [];
    try {
      await this.store.tx((s) => this.apply(s, effects, l.id, l.devId, now, events));
    } catch (e) {
      process.emitWarning(`could not record the end of session ${l.id}: ${(e as Error).message}`);
      return;
    }
    for (const e of events) this.emit(e);
  }

  /** The next message number of a live session (undefined: the store counts). */
  private takeSeq(sessionId: number): number | undefined {
    const l = this.live.get(sessionId);
    return l ? ++l.logged : undefined;
  }

  /** A turn that threw (a bug, not the device's doing): logged with HTTP 500, the session ended, its jobs released. */
  async internalError(r: IncomingBody, live: Live | undefined, e: unknown, now: number): Promise<OutgoingResponse> {
    const why = e instanceof Error ? e.message : String(e);
    process.emitWarning(`session engine failed: ${e instanceof Error ? e.stack ?? why : why}`);
    const at = iso(now);
    // Gone from memory before the await: the session's next message finds it ended.
    if (live) this.live.delete(live.id);
    try {
      const seq = live ? ++live.logged : undefined;
      const released = await this.store.tx(async (s) => {
        const id = live?.id ?? await s.createSession({ device: null, dmSessionId: null, encoding: sniffEncoding(r.bytes) ?? null, state: 'failed', reason: `internal error: ${why}` }, now);
        await s.addMessage({ sessionId: id, seq, direction: 'in', at: r.receivedAt, bytes: r.bytes, contentType: r.contentType, httpStatus: 500, error: `internal error: ${why}` });
        if (!live) return [];
        await s.endSession(id, 'failed', `internal error: ${why}`, now);
        // What went out in this session may have been applied: its jobs follow their onUnconfirmed policy.
        return s.releaseSessionJobs(id, `internal error: ${why}`, now, this.config.limits.maxJobAttempts);
      });
      for (const job of released) {
        if (job.status === 'unconfirmed') this.emit({ type: 'job-unconfirmed', at, job });
        else if (job.status === 'failed') this.emit({ type: 'job-done', at, job });
      }
    } catch (err) {
      // The store itself failed: nothing was logged, and the device may try again.
      if (isStoreUnavailable(err)) return storeUnavailable();
    }
    return text(500, 'internal error; the message was logged\n');
  }
}
