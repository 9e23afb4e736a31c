/**
 * The DM 1.2 sessions the server has in memory, indexed the ways a request looks them up. Ended
 * sessions stay until the sweeper drops them (a late message of theirs still finds them), so on a
 * busy server most entries are closed: counting the open ones or finding a device's session must not
 * walk them all on every package 1.
 *
 * A session holds a slot (admission.ts) from before its first await until it closes or is dropped:
 * this class gives the slot back on both paths, so no code path can leak one.
 */
import type { Admission, Slot } from './admission.js';
import type { DeviceView, EngineSession } from './engine.js';
import type { NewMessage } from '../store/types.js';

/** A message of a session that has not authenticated yet: kept here, written if it authenticates. */
export type PendingMessage = Omit<NewMessage, 'sessionId'> & { seq: number };

export interface Live {
  /** The store's session id; negative while the session is not in the store (not authenticated yet). */
  id: number;
  token: string;
  devId: string;
  dmSessionId: string;
  state: EngineSession;
  lastActivity: number;
  /** Messages logged in this session so far (numbers the next one without asking the store). */
  logged: number;
  /** The device as the session knows it: read at its first message, auth kept current since. */
  device: DeviceView;
  /** When last_seen was last written for it. */
  seenWritten: number;
  /** Source address key (source-address.ts). */
  address?: string;
  /** Its slot among the sessions open at once. */
  slot?: Slot;
  /** Not in the store yet: it has not authenticated (client auth is on). */
  preAuth?: {
    /** When its first message arrived (the session's start once it is stored). */
    startedAt: number;
    /**
     * Its messages so far, in order. Bounded by the engine, which ends an unauthenticated session
     * after maxAuthAttemptsPerSession refused messages, each at most maxPreAuthMessageBytes.
     */
    messages: PendingMessage[];
  };
}

export class LiveSessions {
  private readonly byId = new Map<number, Live>();
  private readonly byToken = new Map<string, Live>();
  /** The newest session per (device, SessionID). */
  private readonly byDeviceSession = new Map<string, Live>();
  private readonly open = new Set<number>();
  /** Sessions not yet authenticated, least recently active first (the one to give up when their pool is full). */
  private readonly preAuthByActivity = new Map<number, Live>();

  constructor(private readonly admission?: Admission) {}

  get(id: number): Live | undefined {
    return this.byId.get(id);
  }

  /** The session a RespURI names (its token is the part no one can guess). */
  withToken(token: string): Live | undefined {
    return this.byToken.get(token);
  }

  values(): IterableIterator<Live> {
    return this.byId.values();
  }

  /** The newest session this device opened under this SessionID. */
  latest(devId: string, dmSessionId: string): Live | undefined {
    return this.byDeviceSession.get(key(devId, dmSessionId));
  }

  get openCount(): number {
    return this.open.size;
  }

  /** The unauthenticated session that has waited longest since its last message. */
  leastActivePreAuth(): Live | undefined {
    return this.preAuthByActivity.values().next().value;
  }

  /** Adds or refreshes a session (call after its state changed). */
  set(l: Live): void {
    this.byId.set(l.id, l);
    this.byToken.set(l.token, l);
    this.byDeviceSession.set(key(l.devId, l.dmSessionId), l);
    this.track(l);
    // Refreshed on every message: Map order is activity order.
    this.preAuthByActivity.delete(l.id);
    if (l.preAuth && l.state.phase !== 'closed') this.preAuthByActivity.set(l.id, l);
  }

  /** Replaces a session's engine state, keeping the open count right. */
  setState(l: Live, state: EngineSession): void {
    l.state = state;
    if (this.byId.get(l.id) === l) this.track(l);
  }

  /** A session that was in memory only got its store id (it authenticated). */
  rekey(l: Live, id: number): void {
    this.preAuthByActivity.delete(l.id);
    const wasOpen = this.open.delete(l.id);
    if (this.byId.get(l.id) === l) this.byId.delete(l.id);
    l.id = id;
    this.byId.set(id, l);
    if (wasOpen) this.open.add(id);
  }

  delete(id: number): void {
    const l = this.byId.get(id);
    if (!l) return;
    this.byId.delete(id);
    this.open.delete(id);
    this.preAuthByActivity.delete(id);
    this.releaseSlot(l);
    if (this.byToken.get(l.token) === l) this.byToken.delete(l.token);
    const k = key(l.devId, l.dmSessionId);
    if (this.byDeviceSession.get(k) === l) this.byDeviceSession.delete(k);
  }

  clear(): void {
    for (const l of this.byId.values()) this.releaseSlot(l);
    this.byId.clear();
    this.byToken.clear();
    this.byDeviceSession.clear();
    this.open.clear();
    this.preAuthByActivity.clear();
  }

  private track(l: Live): void {
    if (l.state.phase === 'closed') {
      this.open.delete(l.id);
      this.preAuthByActivity.delete(l.id);
      this.releaseSlot(l);
    } else this.open.add(l.id);
  }

  private releaseSlot(l: Live): void {
    if (l.slot) this.admission?.release(l.slot);
  }
}

function key(devId: string, dmSessionId: string): string {
  return `${devId}\n${dmSessionId}`;
}
