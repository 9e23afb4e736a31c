/**
 * The server's in-memory sessions: the open count follows state changes, the newest session of a
 * (device, SessionID) is found without walking the closed ones, and deleting keeps the indexes right.
 */
import { describe, expect, it } from 'vitest';
import { LiveSessions, type Live } from '../../main/server/live-sessions.js';
import type { EngineSession } from '../../main/server/engine.js';

const state = (phase: EngineSession['phase']) => ({ phase }) as EngineSession;
const live = (id: number, devId: string, dmSessionId: string, phase: EngineSession['phase'] = 'mgmt'): Live => ({
  id, token: 't', devId, dmSessionId, state: state(phase), lastActivity: 0, logged: 0, device: { devId, auth: { authFailures: [] } }, seenWritten: 0,
});

describe('live sessions', () => {
  it('counts open sessions as their state changes and finds the newest per device and SessionID', () => {
    const ls = new LiveSessions();
    const a = live(1, 'IMEI:1', '5');
    const b = live(2, 'IMEI:1', '5');
    ls.set(a);
    ls.set(live(3, 'IMEI:2', '5'));
    expect(ls.openCount).toBe(2);
    expect(ls.latest('IMEI:1', '5')).toBe(a);
    ls.setState(a, state('closed'));
    expect(ls.openCount).toBe(1);
    ls.set(b); // the device started over with the same SessionID
    expect(ls.latest('IMEI:1', '5')).toBe(b);
    expect(ls.openCount).toBe(2);
    ls.delete(1); // the sweeper drops the old one: the newer stays findable
    expect(ls.latest('IMEI:1', '5')).toBe(b);
    ls.delete(2);
    expect(ls.latest('IMEI:1', '5')).toBeUndefined();
    expect(ls.openCount).toBe(1);
    expect([...ls.values()].map((l) => l.id)).toEqual([3]);
    // A state change of a session no longer held does not count it again.
    ls.setState(b, state('mgmt'));
    expect(ls.openCount).toBe(1);
  });
});
