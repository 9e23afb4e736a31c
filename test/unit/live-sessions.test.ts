/**
 * The server's in-memory sessions: the open count follows state changes, the newest session of a
 * (device, SessionID) is found without walking the closed ones, and deleting keeps the indexes right.
 */
import { describe, expect, it } from 'vitest';
import { LiveSessions, type Live } from '../../main/server/live-sessions.js';
import { Admission, type Slot } from '../../main/server/admission.js';
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

  it('gives a session\'s slot back when it closes or is dropped, once, and re-keys a session that entered the store', () => {
    const admission = new Admission({ maxSessions: 2, maxPreAuthSessions: 2, maxPreAuthSessionsPerAddress: 2 });
    const ls = new LiveSessions(admission);
    const withSlot = (l: Live, pool: 'authenticated' | 'pre-auth'): Live => ({ ...l, address: 'A', slot: admission.take(pool, 'A') as Slot });
    const a = withSlot(live(1, 'IMEI:1', '1'), 'authenticated');
    const p: Live = { ...withSlot(live(-1, 'IMEI:2', '1', 'pkg1'), 'pre-auth'), token: 'p', preAuth: { startedAt: 0, messages: [] } };
    ls.set(a);
    ls.set(p);
    expect(admission.counts()).toEqual({ authenticated: 1, preAuth: 1, preAuthAddresses: 1 });
    ls.setState(a, state('closed'));
    ls.delete(1); // closed, then dropped: released once
    expect(admission.counts().authenticated).toBe(0);
    // The pre-auth session authenticates: its slot moves, its id becomes the store's, its token still finds it.
    expect(admission.promote(p.slot!)).toBeUndefined();
    ls.rekey(p, 42);
    delete p.preAuth;
    ls.set(p);
    expect(ls.get(-1)).toBeUndefined();
    expect(ls.get(42)).toBe(p);
    expect(ls.withToken('p')).toBe(p);
    expect(ls.openCount).toBe(1);
    expect(admission.counts()).toEqual({ authenticated: 1, preAuth: 0, preAuthAddresses: 0 });
    ls.clear();
    expect(admission.counts()).toEqual({ authenticated: 0, preAuth: 0, preAuthAddresses: 0 });
  });

  it('knows which unauthenticated session has been idle longest', () => {
    const ls = new LiveSessions();
    const pre = (id: number): Live => ({ ...live(id, `IMEI:${id}`, '1', 'pkg1'), token: `t${id}`, preAuth: { startedAt: 0, messages: [] } });
    const [x, y, z] = [pre(-1), pre(-2), pre(-3)];
    ls.set(x);
    ls.set(y);
    ls.set(z);
    ls.set(live(5, 'IMEI:5', '1'));
    expect(ls.leastActivePreAuth()).toBe(x);
    ls.set(x); // x sent another message
    expect(ls.leastActivePreAuth()).toBe(y);
    ls.delete(-2);
    expect(ls.leastActivePreAuth()).toBe(z);
  });
});
