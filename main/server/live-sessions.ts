/**
 * The DM 1.2 sessions the server has in memory, indexed the ways a request looks them up. Ended
 * sessions stay until the sweeper drops them (a late message of theirs still finds them), so on a
 * busy server most entries are closed: counting the open ones or finding a device's session must not
 * walk them all on every package 1.
 */
import type { DeviceView, EngineSession } from './engine.js';

export interface Live {
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
}

export class LiveSessions {
  private readonly byId = new Map<number, Live>();
  /** The newest session per (device, SessionID). */
  private readonly byDeviceSession = new Map<string, Live>();
  private readonly open = new Set<number>();

  get(id: number): Live | undefined {
    return this.byId.get(id);
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

  /** Adds or refreshes a session (call after its state changed). */
  set(l: Live): void {
    this.byId.set(l.id, l);
    this.byDeviceSession.set(key(l.devId, l.dmSessionId), l);
    this.track(l);
  }

  /** Replaces a session's engine state, keeping the open count right. */
  setState(l: Live, state: EngineSession): void {
    l.state = state;
    if (this.byId.get(l.id) === l) this.track(l);
  }

  delete(id: number): void {
    const l = this.byId.get(id);
    if (!l) return;
    this.byId.delete(id);
    this.open.delete(id);
    const k = key(l.devId, l.dmSessionId);
    if (this.byDeviceSession.get(k) === l) this.byDeviceSession.delete(k);
  }

  clear(): void {
    this.byId.clear();
    this.byDeviceSession.clear();
    this.open.clear();
  }

  private track(l: Live): void {
    if (l.state.phase === 'closed') this.open.delete(l.id);
    else this.open.add(l.id);
  }
}

function key(devId: string, dmSessionId: string): string {
  return `${devId}\n${dmSessionId}`;
}
