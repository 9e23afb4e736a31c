/**
 * One message's processing, phase by phase: authentication (authentication.ts), the device's
 * statuses, results and commands (incoming.ts, large-objects.ts), the jobs those settle
 * (job-progress.ts), and the response (packing.ts). A Turn holds the scratch state those phases
 * share; it works on its own copy of the session, so a turn that throws changes nothing.
 */
import type { Alert, Command, Status, SyncHdr, SyncML } from '../../protocol/model.js';
import type { EngineConfig } from '../config.js';
import { commandUri } from '../jobs.js';
import type { ClientAuthOutcome } from '../auth.js';
import type { DeviceAuthState } from '../types.js';
import { authenticate, onHeaderStatus, serverCredentialsRefused } from './authentication.js';
import { ALERT, emptyEffects, num } from './helpers.js';
import { cutIncoming } from './large-objects.js';
import { onCommand } from './incoming.js';
import { closeSession, evaluateJobs, ingestJobs } from './job-progress.js';
import { nextMessageAlert, respond } from './packing.js';
import type { AdmitOutcome, EngineEffects, EngineInput, EngineOutput, EngineSession, NonceSource, OutItem, PendingCommand, ReleaseOptions } from './types.js';

/** run() stopped before the response because the step control holds it. */
export const HOLD = Symbol('hold');

export class Turn {
  readonly msg: SyncML;
  readonly hdr: SyncHdr;
  /** Our statuses for this message's commands, the SyncHdr's first. */
  readonly statuses: Status[] = [];
  /** Commands of our own that go before any job command (Alert 1222, 1223, 1225). */
  readonly control: Command[] = [];
  readonly headers: Record<string, string> = {};
  clientWantsNext = false;
  clientAborted = false;
  /** The device's SyncHdr Status refused our credentials (401/407). */
  serverCredRefused = false;
  /** Commands the device refused for our credentials, to go out again with new ones. */
  readonly resend: OutItem[] = [];
  /** The device's auth state as this turn leaves it. */
  auth: DeviceAuthState;
  authChanged = false;
  /** The outcome of this turn's check of the device's credentials, when one ran (or was handed over). */
  checked: ClientAuthOutcome | undefined = undefined;
  hdrCache?: { msgId: number; hdr: SyncHdr };

  constructor(
    readonly config: EngineConfig,
    readonly nonces: NonceSource,
    readonly s: EngineSession,
    readonly input: EngineInput,
    public fx: EngineEffects,
    /** Most job commands the response may carry (the step control). */
    public maxCommands?: number,
  ) {
    this.msg = input.message;
    this.hdr = input.message.hdr;
    // Never changed in place (auth.ts returns new states; setAuth tells a change by identity).
    this.auth = input.device.auth;
  }

  get session(): EngineSession {
    return this.s;
  }

  get effects(): EngineEffects {
    return this.fx;
  }

  /** The outbox, for the step control. */
  pending(): PendingCommand[] {
    return this.s.outbox.map((o) => ({ jobId: o.jobId, cmd: o.command.kind, target: commandUri(o.command), ...(o.lo ? { chunk: true } : {}) }));
  }

  setAuth(next: DeviceAuthState): void {
    if (next !== this.auth) {
      this.auth = next;
      this.authChanged = true;
    }
  }

  /** Second half of a held turn: the response, with effects of its own (the first half's were stored). */
  resume(opts: ReleaseOptions): EngineOutput {
    this.fx = emptyEffects();
    if (opts.abort) {
      this.control.push({ kind: 'Alert', cmdID: '', data: ALERT.ABORT, items: [] } satisfies Alert);
      const r = respond(this, { takeOutbox: false, final: true });
      closeSession(this.s, this.fx, opts.abort.state, opts.abort.reason);
      return r;
    }
    this.maxCommands = opts.maxCommands;
    return respond(this, { takeOutbox: true, final: true });
  }

  /**
   * The start of every turn: the limits the device announces, then who it is. Returns the answer
   * when the message is refused (the turn ends there), undefined when it goes on.
   */
  admit(): EngineOutput | undefined {
    const { s, hdr } = this;
    const maxMsg = num(hdr.meta?.maxMsgSize);
    if (maxMsg) s.clientMaxMsgSize = maxMsg;
    const maxObj = num(hdr.meta?.maxObjSize);
    if (maxObj) s.clientMaxObjSize = maxObj;
    return authenticate(this);
  }

  /** admit() for SessionEngine.admit: the refusal, or what the message's whole turn is handed. */
  admission(): AdmitOutcome {
    const refused = this.admit();
    if (refused) return { refused };
    const device = this.input.device;
    return { admitted: { message: this.msg, config: this.config, auth: device.auth, clientCred: device.clientCred, outcome: this.checked } };
  }

  run(hold: boolean): EngineOutput | typeof HOLD {
    const { s, msg } = this;
    const refused = this.admit();
    if (refused) return refused;

    // The client's verdict on our previous message's credentials comes first.
    for (const c of msg.body.commands) if (c.kind === 'Status' && (c.cmd === 'SyncHdr' || c.cmdRef === '0')) onHeaderStatus(this, c);
    for (const c of msg.body.commands) onCommand(this, c);

    if (this.resend.length > 0) {
      s.serverAuth.retries++;
      s.outbox.unshift(...this.resend);
      this.fx.notes.push(`re-sending ${this.resend.length} command(s) the client refused for our credentials`);
    }

    // Jobs are evaluated once the whole message is read: Results follow their Status.
    // On abort, what went unanswered is released to the queue, not failed.
    evaluateJobs(this, msg.body.final && !this.clientAborted);

    // The device refused our credentials again after we re-sent with new ones as often as we
    // may: nothing more can succeed in this session, and it ends as failed, saying so.
    if (this.serverCredRefused && this.resend.length === 0 && (s.serverAuth.refusals ?? 0) > this.config.limits.maxServerAuthRetries) {
      const r = respond(this, { takeOutbox: false, final: true });
      closeSession(s, this.fx, 'failed', serverCredentialsRefused(this)!);
      return r;
    }

    if (this.clientAborted) {
      const r = respond(this, { takeOutbox: false, final: true });
      closeSession(s, this.fx, 'aborted', 'client sent Alert 1223');
      return r;
    }
    if (s.abortRequested) {
      this.control.push({ kind: 'Alert', cmdID: '', data: ALERT.ABORT, items: [] } satisfies Alert);
      const r = respond(this, { takeOutbox: false, final: true });
      closeSession(s, this.fx, 'aborted', 'aborted by the server');
      return r;
    }

    const clientFinal = msg.body.final;
    if (!clientFinal && (!this.clientWantsNext || s.incomingLo)) {
      // The client's package goes on (or it is mid-way through a large object): ask for the rest.
      this.control.push(nextMessageAlert(this));
      return respond(this, { takeOutbox: false, final: false });
    }
    // The client closed its package with an object unfinished.
    if (s.incomingLo) cutIncoming(this, s.incomingLo, 'the device ended its package in the middle of a large object');
    if (s.phase === 'pkg1') s.phase = 'mgmt';
    if (!s.serverPackageOpen) ingestJobs(this);
    if (hold && s.outbox.length > 0) {
      // What reading the message changed is stored while the response waits.
      if (this.authChanged) this.fx.deviceAuth = this.auth;
      return HOLD;
    }
    return respond(this, { takeOutbox: true, final: true });
  }
}
