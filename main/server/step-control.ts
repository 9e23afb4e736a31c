/**
 * The step control (Sessions view: step a device's session command by command). A paused device's
 * answer that would carry job commands is held, its HTTP request left open, until Step (one
 * command), Resume (all), the hold limit (one command, so the device's request does not time out),
 * an abort or the server's shutdown. The engine builds the held answer when it is released
 * (SessionEngine.handleOrHold / release); the server logs it and sends it (store-exchange.ts,
 * waitForStep).
 */
import type { EngineEffects, EngineInput, EngineOutput, EngineSession, HeldTurn, ReleaseOptions, SessionEngine } from './engine.js';
import type { HeldCommand, ReleaseCause, ServerEvent } from './events.js';
import type { Live } from './live-sessions.js';
import { iso } from '../util/iso-time.js';

/** A device's step control, as the UI shows it. */
export interface SteppingState {
  device: string;
  paused: boolean;
  /** Steps given while nothing was held: that many job commands go out without a hold, one per message. */
  credits: number;
  held: { sessionId: number; since: string; releaseAt: string; next: HeldCommand | null; pending: number } | null;
}

/** An answer the step control holds: the device's HTTP request waits for Step, Resume, the limit or an end. */
interface Hold {
  live: Live;
  turn: HeldTurn;
  since: number;
  releaseAt: number;
  timer: NodeJS.Timeout;
  resolve: (r: { out: EngineOutput; by: ReleaseCause }) => void;
  /** Settles when the answer is logged (and handed to the listener). */
  done: Promise<void>;
}

/** A held answer once released: what goes out, why, and `finish` to call once it is logged. */
export interface Released {
  out: EngineOutput;
  by: ReleaseCause;
  since: number;
  /** Job commands in the answer (not statuses or the engine's own control alerts). */
  commands: number;
  /** The line the session log gets about the hold. */
  note: string;
  finish: () => void;
}

export interface StepControlHost {
  engine: SessionEngine;
  now: () => number;
  maxHoldMs: number;
  /** Stores a session's new engine state (LiveSessions.setState). */
  setState: (l: Live, state: EngineSession) => void;
  emit: (e: ServerEvent) => void;
}

/** Alerts the engine sends on its own (next message, abort, no end of data): not job commands. */
const CONTROL_ALERTS = new Set(['1222', '1223', '1225']);

export class StepControl {
  /** Devices whose queue is paused, with their Step credits. */
  private readonly paused = new Map<string, { credits: number }>();
  /** Held answers by session id. */
  private readonly holds = new Map<number, Hold>();

  constructor(private readonly host: StepControlHost) {}

  /**
   * Pauses the device's queue: from its next message on, an answer that would carry job commands is
   * held (the HTTP request stays open) until step() (one command), resume() (all) or the hold limit.
   */
  pause(devId: string): SteppingState {
    if (!this.paused.has(devId)) this.paused.set(devId, { credits: 0 });
    return this.state(devId);
  }

  /**
   * One command: the held answer goes out with at most one job command, in the same session. With
   * nothing held, a paused device gets a credit instead: its next command goes out without a hold.
   */
  step(devId: string): { released: boolean; state: SteppingState } {
    const h = this.holdOf(devId);
    if (h) {
      this.settle(h, 'step', { maxCommands: 1 });
      return { released: true, state: this.state(devId) };
    }
    const st = this.paused.get(devId);
    if (st) st.credits++;
    return { released: false, state: this.state(devId) };
  }

  /** Unpauses: a held answer goes out with everything that fits, as if it had never been held. */
  resume(devId: string): SteppingState {
    this.paused.delete(devId);
    const h = this.holdOf(devId);
    if (h) this.settle(h, 'resume', {});
    return this.state(devId);
  }

  state(devId: string): SteppingState {
    const st = this.paused.get(devId);
    const h = this.holdOf(devId);
    const next = h?.turn.next[0];
    return {
      device: devId,
      paused: st !== undefined,
      credits: st?.credits ?? 0,
      held: h ? { sessionId: h.live.id, since: iso(h.since), releaseAt: iso(h.releaseAt), next: next ? { jobId: next.jobId, cmd: next.cmd, target: next.target } : null, pending: h.turn.next.length } : null,
    };
  }

  /** The session's answer is held (it waits for us, not for the device). */
  isHolding(sessionId: number): boolean {
    return this.holds.has(sessionId);
  }

  /** Ends a held answer now with an abort (Alert 1223, no command); false when nothing is held. */
  abort(sessionId: number, by: 'abort' | 'superseded', reason: string): boolean {
    const h = this.holds.get(sessionId);
    if (!h) return false;
    this.settle(h, by, { abort: { state: 'aborted', reason } });
    return true;
  }

  /** Releases every held answer as an interrupted end; resolves once they are logged and written. */
  async releaseAll(): Promise<void> {
    const pending = [...this.holds.values()].map((h) => {
      this.settle(h, 'close', { abort: { state: 'interrupted', reason: 'server shut down' } });
      return h.done;
    });
    if (pending.length === 0) return;
    await Promise.all(pending);
    // Let the listener write those answers before its connections are cut.
    await new Promise((r) => setImmediate(r));
  }

  /** The engine turn of a device: held when paused, or released at once by a Step given in advance. */
  turnFor(devId: string, state: EngineSession, input: EngineInput): { output: EngineOutput } | { held: HeldTurn } {
    const { engine } = this.host;
    const st = this.paused.get(devId);
    if (!st) return { output: engine.handle(state, input) };
    const r = engine.handleOrHold(state, input);
    if ('output' in r || st.credits === 0) return r;
    st.credits--;
    const out = engine.release(r.held, { maxCommands: 1 });
    return { output: { ...out, effects: mergeEffects(r.held.effects, out.effects) } };
  }

  /** Holds the session's answer until Step/Resume/limit/abort/close; the caller logs it, then calls `finish`. */
  async hold(l: Live, turn: HeldTurn): Promise<Released> {
    const since = this.host.now();
    const limit = this.host.maxHoldMs;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const released = new Promise<{ out: EngineOutput; by: ReleaseCause }>((resolve) => {
      const h: Hold = { live: l, turn, since, releaseAt: since + limit, resolve, done, timer: setTimeout(() => this.settle(h, 'limit', { maxCommands: 1 }), limit) };
      this.holds.set(l.id, h);
    });
    const next = turn.next[0];
    this.host.emit({ type: 'session-held', at: iso(since), sessionId: l.id, device: l.devId, next: next ? { jobId: next.jobId, cmd: next.cmd, target: next.target } : null, pending: turn.next.length, releaseAt: iso(since + limit) });
    const { out, by } = await released;
    const commands = out.response.body.commands.filter((c) => c.kind !== 'Status' && !(c.kind === 'Alert' && CONTROL_ALERTS.has(c.data ?? ''))).length;
    const note = [holdNote(by, this.host.now() - since, limit, commands), ...out.effects.notes].join('\n');
    return { out, by, since, commands, note, finish };
  }

  private holdOf(devId: string): Hold | undefined {
    for (const h of this.holds.values()) if (h.live.devId === devId) return h;
    return undefined;
  }

  /** Builds the held answer now (synchronously, so the session's state is settled at once). */
  private settle(h: Hold, by: ReleaseCause, opts: ReleaseOptions): void {
    if (this.holds.get(h.live.id) !== h) return;
    this.holds.delete(h.live.id);
    clearTimeout(h.timer);
    const out = this.host.engine.release(h.turn, opts);
    this.host.setState(h.live, out.session);
    h.resolve({ out, by });
  }
}

function holdNote(by: ReleaseCause, heldMs: number, limitMs: number, commands: number): string {
  const held = `held ${(heldMs / 1000).toFixed(1)} s by the step control`;
  const n = `${commands} command${commands === 1 ? '' : 's'}`;
  switch (by) {
    case 'step':
      return `${held}; released by Step (${n})`;
    case 'resume':
      return `${held}; released by Resume (${n})`;
    case 'limit':
      return `${held}; the hold limit of ${limitMs % 1000 === 0 ? limitMs / 1000 : (limitMs / 1000).toFixed(1)} s was reached, released by itself as one Step (${n}) so the device's request does not time out`;
    case 'abort':
      return `${held}; aborted while held (Alert 1223, no command)`;
    case 'close':
      return `${held}; the server shut down while it was held (Alert 1223, no command)`;
    case 'superseded':
      return `${held}; the device sent another message meanwhile (it stopped waiting), so the session was ended`;
  }
}

/** Effects of a held turn's two halves, as one (also the scripted sessions' halves: scripted.ts). */
export function mergeEffects(a: EngineEffects, b: EngineEffects): EngineEffects {
  const m: EngineEffects = {
    jobsSent: [...a.jobsSent, ...b.jobsSent],
    jobsFinished: [...a.jobsFinished, ...b.jobsFinished],
    jobsReleased: [...a.jobsReleased, ...b.jobsReleased],
    tree: [...a.tree, ...b.tree],
    alerts: [...a.alerts, ...b.alerts],
    notes: [...a.notes, ...b.notes],
  };
  const deviceAuth = b.deviceAuth ?? a.deviceAuth;
  if (deviceAuth) m.deviceAuth = deviceAuth;
  if (a.devInfo) m.devInfo = a.devInfo;
  const closed = b.closed ?? a.closed;
  if (closed) m.closed = closed;
  return m;
}

