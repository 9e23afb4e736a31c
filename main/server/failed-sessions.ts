/**
 * Sessions that ended because the device failed authentication (too many attempts, locked, or the
 * wrong client certificate). Such a session is over: a later message to its RespURI, or with the
 * same DevId and SessionID at the base URL, gets HTTP 403, which stops a client that has no retry
 * limit of its own (libdmclient looped on HTTP 200 + SyncHdr 401). Each such message is counted
 * here, not logged again. Bounded in count and age, like every table about strangers.
 */
import { BoundedMap } from './bounded-map.js';
import type { RefusalEntry } from './failure-ring.js';

export interface FailedSession {
  devId: string;
  dmSessionId: string;
  token: string;
  /** Source address key: at the base URL only the same address is refused by DevId and SessionID (anyone can name those). */
  address: string;
  /** Its id in the store when it was stored (client auth 'none', or it failed after authenticating). */
  sessionId: number | null;
  /** Why it ended, as the session's end reason says. */
  reason: string;
  /** Messages refused since it ended. */
  followUps: number;
  /** Its failure-ring entry, counting the follow-ups. */
  entry?: RefusalEntry;
}

export class FailedSessions {
  private readonly byToken: BoundedMap<string, FailedSession>;
  private readonly byDeviceSession: BoundedMap<string, FailedSession>;

  constructor(max: number, ttlMs: number) {
    this.byToken = new BoundedMap(max, ttlMs);
    this.byDeviceSession = new BoundedMap(max, ttlMs);
  }

  add(f: FailedSession, now: number): void {
    this.byToken.set(f.token, f, now);
    this.byDeviceSession.set(key(f.devId, f.dmSessionId), f, now);
  }

  withToken(token: string, now: number): FailedSession | undefined {
    return this.byToken.get(token, now);
  }

  latest(devId: string, dmSessionId: string, now: number): FailedSession | undefined {
    return this.byDeviceSession.get(key(devId, dmSessionId), now);
  }

  prune(now: number): void {
    this.byToken.prune(now);
    this.byDeviceSession.prune(now);
  }
}

function key(devId: string, dmSessionId: string): string {
  return `${devId}\n${dmSessionId}`;
}
