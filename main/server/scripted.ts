/**
 * Scripted sessions: the server hook a conformance case drives a device with (main/judge/conformance).
 *
 * For one device, a script supplies the server's package at each turn (any command of the model,
 * including what the job queue cannot express: unusual commands, chunks it cuts itself, an Atomic
 * with a failing member, UI alerts) and may rewrite our message before it goes (wrong credentials),
 * ask the device to authenticate again (a changed nonce), or give the device's sessions their own
 * limits and authentication (a small MaxMsgSize, MD5 client authentication). Everything else is the
 * engine's as for any session: authentication, statuses, large objects both ways, packing to the
 * device's MaxMsgSize, and the session log in the store (so `dmw session show/check` work on them).
 *
 * How the script's commands ride the engine: each goes into the session's outbox as a synthetic job
 * (an id no stored job has), so the engine tracks its Status, its Results and a large object in them
 * as it does a queued job's; what the engine reports about those synthetic jobs is handed to the
 * script and taken out of the effects before the server stores them. Queued jobs of the device are
 * left in the queue while a script is attached (the script owns its sessions).
 *
 * Attach to a running DmServer (`ScriptedSessions.of(server).attach(devId, script)`); the returned
 * function detaches. Only the attached device's sessions are touched.
 */
import { randomBase64 } from '../protocol/random-pool.js';
import { encodeMessage } from '../protocol/codec.js';
import type { Command, SyncML } from '../protocol/model.js';
import { serverHmacHeader } from './auth.js';
import type { ClientAuthMode, Credential, EngineConfig, ServerAuthMode, ServerLimits } from './config.js';
import { SessionEngine, type EngineEffects, type EngineInput, type EngineOutput, type EngineSession, type JobOutcome } from './engine.js';
import type { JobProgress } from './engine/types.js';
import { commandUri } from './jobs.js';
import type { DmServer } from './server.js';
import { mergeEffects } from './step-control.js';
import type { JobSpec } from './types.js';

/** What the server lets a hook decide (DmServer.sessionHook). */
export interface SessionHook {
  /** The engine a device's sessions run on, when a script gives them their own configuration. */
  engineFor(devId: string): SessionEngine | undefined;
  /** The whole turn of a device's message, or undefined to let the server run it as usual. */
  turn(devId: string, state: EngineSession, input: EngineInput): EngineOutput | undefined;
}

/** One message the device sent, as the server took it. */
export interface DeviceMessage {
  /** The stored session id (`dmw session show ID`). */
  sessionId: number;
  message: SyncML;
  bytes: Uint8Array;
  /** The engine refused it (authentication): the script was not asked for a package. */
  refused: boolean;
}

/** What became of one command of our last package, as the engine settled it. */
export interface CommandOutcome {
  /** Index of the command in the package the script gave. */
  index: number;
  command: Command;
  statusCode: number | null;
  /** Results (a large object reassembled), text as is, binary as base64. */
  results: JobOutcome['results'];
  /** Statuses of an Atomic's or Sequence's members, in order. */
  members: JobOutcome['members'];
  error: string | null;
}

/** The device's package (all its messages since our last package) handed to the script. */
export interface DevicePackage {
  sessionId: number;
  /** True for a session's package 1 (Alert 1200/1201). */
  first: boolean;
  messages: DeviceMessage[];
  outcomes: CommandOutcome[];
}

/** The server's next package, as the script wants it. */
export interface ServerPackage {
  commands: Command[];
  /** false: our package goes on after this message (the device asks for the rest with Alert 1222). */
  final?: boolean;
  /** Our message as it goes on the wire (the engine's state keeps the message it built). */
  rewrite?: (msg: SyncML) => SyncML;
  /** The x-syncml-hmac header of that message, when the script wants another one. */
  hmacHeader?: string;
  /** The device's next message must authenticate again (its session is challenged afresh). */
  reauthenticate?: boolean;
  /** This message ends the session (it carries our Alert 1223): no answer is awaited. */
  end?: { state: 'aborted' | 'done'; reason: string };
}

/** The engine configuration a script gives the device's sessions (the rest is the server's). */
export interface ScriptConfig {
  clientAuth?: ClientAuthMode;
  serverAuth?: ServerAuthMode;
  serverCred?: Credential;
  /** What the device must present (instead of its registered or the lab default credential). */
  clientCred?: Credential;
  limits?: Partial<ServerLimits>;
}

export interface DeviceScript {
  config?: ScriptConfig;
  /** Every message of the device (refused ones included), in order. */
  onMessage?(m: DeviceMessage): void;
  /** Our package for the device's complete package; undefined ends the session (statuses only). */
  nextPackage(p: DevicePackage): ServerPackage | undefined;
  /** Our message as it went out. */
  onSent?(sessionId: number, message: SyncML, bytes: Uint8Array): void;
}

/** Synthetic job ids: far above any id SQLite gives a stored job in a lab's lifetime. */
const SYNTHETIC_BASE = 2_000_000_000;
const isSynthetic = (id: number): boolean => id >= SYNTHETIC_BASE;

interface Attached {
  script: DeviceScript;
  engine: SessionEngine;
  clientCred?: Credential;
  /** Per session: the device's messages not yet handed over, our last package's commands by job id. */
  sessions: Map<number, ScriptedSession>;
}

interface ScriptedSession {
  /** The device's messages not yet handed to the script. */
  pending: DeviceMessage[];
  /** Our last package's commands by synthetic job id. */
  sent: Map<number, { index: number; command: Command }>;
  /** Their outcomes, not yet handed to the script. */
  outcomes: CommandOutcome[];
  /** The device's next message must authenticate again. */
  reauth: boolean;
}

/** The outbox entry that makes the engine hold its answer until the script has spoken. */
const PLACEHOLDER = -1_000_001;
const PLACEHOLDER_COMMAND: Command = { kind: 'Get', cmdID: '', items: [] };

const hooks = new WeakMap<DmServer, ScriptedSessions>();

export class ScriptedSessions implements SessionHook {
  private readonly devices = new Map<string, Attached>();
  private nextJobId = SYNTHETIC_BASE;

  private constructor(private readonly server: DmServer) {}

  /** The hook of this server, installed on first use. */
  static of(server: DmServer): ScriptedSessions {
    let h = hooks.get(server);
    if (!h) {
      h = new ScriptedSessions(server);
      hooks.set(server, h);
    }
    if (server.sessionHook && server.sessionHook !== h) throw new Error('another session hook is attached to this server');
    server.sessionHook = h;
    return h;
  }

  /** Scripts the device's sessions from its next message on; returns the function that detaches. */
  attach(devId: string, script: DeviceScript): () => void {
    if (this.devices.has(devId)) throw new Error(`a script is already attached to device "${devId}"`);
    const c = script.config ?? {};
    const base = this.server.config;
    const config: EngineConfig = {
      ...base,
      ...(c.clientAuth ? { clientAuth: c.clientAuth } : {}),
      ...(c.serverAuth ? { serverAuth: c.serverAuth } : {}),
      ...(c.serverCred ? { serverCred: c.serverCred } : {}),
      limits: { ...base.limits, ...c.limits },
    };
    const a: Attached = { script, engine: new SessionEngine(config, { nonce: () => randomBase64(16) }), sessions: new Map(), ...(c.clientCred ? { clientCred: c.clientCred } : {}) };
    this.devices.set(devId, a);
    return () => {
      if (this.devices.get(devId) === a) this.devices.delete(devId);
    };
  }

  isAttached(devId: string): boolean {
    return this.devices.has(devId);
  }

  engineFor(devId: string): SessionEngine | undefined {
    return this.devices.get(devId)?.engine;
  }

  turn(devId: string, state: EngineSession, input: EngineInput): EngineOutput | undefined {
    const a = this.devices.get(devId);
    if (!a) return undefined;
    const engine = a.engine;
    const first = state.phase === 'pkg1';
    let sess: ScriptedSession | undefined = a.sessions.get(state.id);
    if (!sess) {
      sess = { pending: [], sent: new Map(), outcomes: [], reauth: false };
      a.sessions.set(state.id, sess);
    }
    // The script's queued jobs are its commands: the device's own queue waits for a normal session.
    const device = a.clientCred ? { ...input.device, clientCred: a.clientCred } : input.device;
    const own: EngineInput = { ...input, device, queuedJobs: [] };
    let s = state;
    if (sess.reauth && s.authenticated) {
      s = { ...s, authenticated: false };
      sess.reauth = false;
    }

    // The server may hand over its own admission of this message (input.admitted): taken when it holds.
    const admission = engine.admit(s, own);
    const seen: DeviceMessage = { sessionId: state.id, message: input.message, bytes: input.bytes, refused: 'refused' in admission };
    a.script.onMessage?.(seen);
    if ('refused' in admission) return this.finish(a, sess, admission.refused, admission.refused.effects, undefined);
    sess.pending.push(seen);
    // The turn below takes this admission: the credentials are checked once.
    own.admitted = admission.admitted;

    // The script is asked when the device's package is complete (Final, or Alert 1222 asking for
    // the rest of ours) and nothing of ours is still waiting to go out.
    const body = input.message.body;
    const asksNext = body.commands.some((c) => c.kind === 'Alert' && c.data?.trim() === '1222');
    if (!((body.final || (asksNext && !s.incomingLo)) && s.outbox.length === 0)) {
      const out = engine.handle(s, own);
      return this.finish(a, sess, out, out.effects, undefined);
    }
    // A placeholder in the outbox makes the engine stop after reading the message (the step
    // control's hold): the device's answers to our last package are settled then, the script
    // reads them, and its commands take the placeholder's place before the answer is built.
    const r = engine.handleOrHold({ ...s, outbox: [{ jobId: PLACEHOLDER, command: PLACEHOLDER_COMMAND }] }, own);
    if ('output' in r) {
      // The session ends here (an abort, credentials refused too often): nothing more to ask.
      const out = { ...r.output, session: { ...r.output.session, outbox: r.output.session.outbox.filter((o) => o.jobId !== PLACEHOLDER) } };
      return this.finish(a, sess, out, out.effects, undefined);
    }
    const held = r.held;
    const hs = held.session;
    hs.outbox = hs.outbox.filter((o) => o.jobId !== PLACEHOLDER);
    this.collect(sess, held.effects);
    const handed: DevicePackage = { sessionId: state.id, first, messages: sess.pending, outcomes: sess.outcomes };
    sess.pending = [];
    sess.outcomes = [];
    const pkg = a.script.nextPackage(handed);
    if (pkg && pkg.commands.length > 0) this.enqueue(hs, sess, pkg.commands);
    if (pkg?.reauthenticate) sess.reauth = true;
    const out = engine.release(held, {});
    return this.finish(a, sess, { ...out, effects: mergeEffects(held.effects, out.effects) }, out.effects, pkg);
  }

  /** The commands as synthetic jobs in the session's outbox (a copy of the state). */
  private enqueue(s: EngineSession, sess: ScriptedSession, commands: Command[]): void {
    sess.sent = new Map();
    commands.forEach((command, index) => {
      const id = this.nextJobId++;
      const spec = { kind: 'get', uri: commandUri(command) } as JobSpec;
      const job: JobProgress = { id, spec, keys: [], results: [], members: [], sent: false, finished: false };
      s.jobs[id] = job;
      s.outbox.push({ jobId: id, command });
      sess.sent.set(id, { index, command });
    });
  }

  /** What the engine settled about our commands, for the script's next look. */
  private collect(sess: ScriptedSession, fx: EngineEffects): void {
    for (const o of fx.jobsFinished) {
      const sent = sess.sent.get(o.id);
      if (sent) sess.outcomes.push({ index: sent.index, command: sent.command, statusCode: o.statusCode, results: o.results, members: o.members, error: o.error });
    }
  }

  /** Synthetic jobs out of the effects (handed to the script), the script's rewrite applied. */
  private finish(a: Attached, sess: ScriptedSession, out: EngineOutput, settled: EngineEffects, pkg: ServerPackage | undefined): EngineOutput {
    this.collect(sess, settled);
    const fx = out.effects;
    const effects = {
      ...fx,
      jobsSent: fx.jobsSent.filter((id) => !isSynthetic(id)),
      jobsFinished: fx.jobsFinished.filter((o) => !isSynthetic(o.id)),
      jobsReleased: fx.jobsReleased.filter((r) => !isSynthetic(r.id)),
    };
    let response = out.response;
    let bytes = out.bytes;
    const headers = { ...out.headers };
    if (pkg && (pkg.final === false || pkg.rewrite)) {
      response = pkg.final === false ? { ...response, body: { ...response.body, final: false } } : response;
      if (pkg.rewrite) response = pkg.rewrite(response);
      const enc = encodeMessage(response, out.session.encoding);
      if (!enc.ok) throw new Error(`cannot encode the scripted message: ${enc.error.message}`);
      bytes = enc.value;
      const cred = a.engine.config.serverCred;
      if (cred && headers['x-syncml-hmac'] !== undefined) headers['x-syncml-hmac'] = serverHmacHeader(cred, out.session.serverAuth.nonce, bytes);
      if (pkg.final === false && out.session.phase === 'closed') {
        // The package goes on: the session is not over whatever the engine concluded.
        delete effects.closed;
        out = { ...out, session: { ...out.session, phase: 'mgmt' } };
        delete (out.session as { closedState?: unknown }).closedState;
      }
    }
    if (pkg?.hmacHeader !== undefined) headers['x-syncml-hmac'] = pkg.hmacHeader;
    if (pkg?.end && out.session.phase !== 'closed') {
      const closed = this.server.engine.close(out.session, pkg.end.state, pkg.end.reason);
      out = { ...out, session: closed.session };
      effects.closed = pkg.end;
      effects.jobsReleased = [];
    }
    if (out.session.phase === 'closed') a.sessions.delete(out.session.id);
    a.script.onSent?.(out.session.id, response, bytes);
    return { ...out, response, bytes, headers, effects };
  }
}

/** Lets the device's sessions go back to the server's own engine and queue. */
export function detachAll(server: DmServer): void {
  if (hooks.get(server) === server.sessionHook) server.sessionHook = undefined;
  hooks.delete(server);
}
