/**
 * The DM session engine: one client message + the session's state + the device's auth state + the
 * jobs queued for it -> the response message, the next state, and the changes the caller must store.
 * No I/O, no clock, no randomness of its own (`now` and a nonce source come in): the HTTP listener
 * and the SQLite store sit around it and apply what it returns, in one transaction, before replying.
 *
 * Protocol shape (OMA DM 1.2 protocol §8-10, notes §1-2):
 *  - package 1: Alert 1201/1200, DevInfo Replace, optional 1224/1226 alerts; the server answers with
 *    SyncHdr status (auth), statuses, then its management commands (package 2..n);
 *  - a message without Final is one message of a larger package: the receiver asks for the next one
 *    with Alert 1222 (no Final of its own);
 *  - large objects travel in chunks marked MoreData, the first carrying Meta Size; chunks are
 *    answered 213, a wrong total 424;
 *  - the session ends when the server closes a package holding nothing but statuses.
 *
 * The engine's phases live in ./engine/, one module each: authentication, incoming (the device's
 * statuses, results and commands), large-objects, job-progress and packing (the response), with
 * the Turn that runs them in order (engine/turn.ts).
 */
import type { Encoding } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';
import type { EngineConfig } from './config.js';
import type { SessionState } from './types.js';
import { emptyEffects } from './engine/helpers.js';
import { copySession } from './engine/session-copy.js';
import { closeSession } from './engine/job-progress.js';
import { HOLD, Turn } from './engine/turn.js';
import type { AdmitOutcome, DeviceView, EngineEffects, EngineInput, EngineOutput, EngineSession, HeldTurn, NonceSource, ReleaseOptions, TurnOptions } from './engine/types.js';

export type {
  AdmitOutcome, Admitted, DeviceView, EngineEffects, EngineInput, EngineJob, EngineOutput, EngineSession, HeldTurn, JobOutcome, NonceSource, PendingCommand, ReleaseOptions, TransportInfo, TurnOptions,
} from './engine/types.js';
export { isPackage1 } from './engine/helpers.js';

export class SessionEngine {
  constructor(
    readonly config: EngineConfig,
    private readonly nonces: NonceSource,
  ) {}

  open(p: { id: number; message: SyncML; encoding: Encoding; respUri: string; device: DeviceView }): EngineSession {
    const a = p.device.auth;
    const configured = this.config.serverCred ? this.config.serverAuth : 'none';
    return {
      id: p.id,
      devId: p.message.hdr.source.locURI,
      dmSessionId: p.message.hdr.sessionID,
      encoding: p.encoding,
      respUri: p.respUri,
      verDTD: p.message.hdr.verDTD,
      verProto: p.message.hdr.verProto,
      phase: 'pkg1',
      authenticated: false,
      authAttempts: 0,
      serverMsgId: 0,
      serverPackageOpen: false,
      outbox: [],
      sent: {},
      jobs: {},
      serverAuth: { type: this.config.serverCred ? (a.serverAuthType ?? configured) : 'none', nonce: a.serverNonce, retries: 0 },
    };
  }

  /** Marks the session so the next response carries Alert 1223 and ends it. */
  requestAbort(session: EngineSession): EngineSession {
    return { ...copySession(session), abortRequested: true };
  }

  /** Ends a session from outside (timeout, shutdown): its unfinished jobs are released. */
  close(session: EngineSession, state: SessionState, reason: string): { session: EngineSession; effects: EngineEffects } {
    const s = copySession(session);
    const fx = emptyEffects();
    closeSession(s, fx, state, reason);
    return { session: s, effects: fx };
  }

  handle(session: EngineSession, input: EngineInput, opts: TurnOptions = {}): EngineOutput {
    const out = this.turn(session, input, opts).run(false);
    if (out === HOLD) throw new Error('unreachable: a turn held without being asked to');
    return out;
  }

  /**
   * The authentication phase alone, for a session that has not authenticated yet: `refused`, the
   * answer handle() would give, or `admitted` when the device authenticates. Then nothing of this
   * turn is kept but its verdict: the caller runs the whole turn (with the device's queued jobs)
   * through handle() or handleOrHold(), with `admitted` in its input, so the credentials are checked
   * once and an answer built and encoded only to be thrown away is not made.
   */
  admit(session: EngineSession, input: EngineInput): AdmitOutcome {
    return this.turn(session, input, {}).admission();
  }

  /**
   * Like handle, but when the response would carry job commands the turn stops before building it
   * (the step control: the caller stores `held.effects`, waits, then calls `release`). Responses that
   * carry no job command (statuses, challenges, 1222, aborts, the end) are never held.
   */
  handleOrHold(session: EngineSession, input: EngineInput): { output: EngineOutput } | { held: HeldTurn } {
    const t = this.turn(session, input, {});
    const out = t.run(true);
    if (out !== HOLD) return { output: out };
    const held: HeldTurn = { session: t.session, effects: t.effects, next: t.pending() };
    heldTurns.set(held, t);
    return { held };
  }

  /** Builds the response of a held turn (once): with at most `maxCommands` job commands, or an abort. */
  release(held: HeldTurn, opts: ReleaseOptions = {}): EngineOutput {
    const t = heldTurns.get(held);
    if (!t) throw new Error('this turn was already released');
    heldTurns.delete(held);
    return t.resume(opts);
  }

  private turn(session: EngineSession, input: EngineInput, opts: TurnOptions): Turn {
    return new Turn(this.config, this.nonces, copySession(session), input, emptyEffects(), opts.maxCommands);
  }
}

/** Turns stopped by handleOrHold, until released. */
const heldTurns = new WeakMap<HeldTurn, Turn>();
