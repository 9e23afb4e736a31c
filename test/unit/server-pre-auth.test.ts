/**
 * The pure parts of the server's front desk for devices that have not authenticated (issue 14,
 * points 2-4): bounded tables, source-address keys, failure buckets per address and per credential
 * name, the ring of recent refusals, session slots, header limits, and telling a guess from a
 * handshake. The attacks themselves run over HTTP in test/integration/server-hostile.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Admission, isSlot, type Slot } from '../../main/server/admission.js';
import { failureRecorded, recordFailure, verifyClient, withoutLockout } from '../../main/server/auth.js';
import { AuthThrottle, takeToken, tokensAt } from '../../main/server/auth-throttle.js';
import { BoundedMap } from '../../main/server/bounded-map.js';
import { DEFAULT_LIMITS, type ServerLimits } from '../../main/server/config.js';
import { FailureRing, shownDevId } from '../../main/server/failure-ring.js';
import { checkHeaderLimits, describeOverLimit } from '../../main/server/header-limits.js';
import { PreAuthDesk } from '../../main/server/pre-auth.js';
import { sourceAddressKey } from '../../main/server/source-address.js';
import type { SyncML } from '../../main/protocol/model.js';
import { basicCredential } from '../../main/protocol/auth.js';
import type { EngineEffects, EngineSession } from '../../main/server/engine.js';

const limits = (over: Partial<ServerLimits> = {}): ServerLimits => ({ ...DEFAULT_LIMITS, ...over });

describe('BoundedMap', () => {
  it('keeps at most max entries, dropping the least recently used, and forgets entries older than the ttl', () => {
    const m = new BoundedMap<string, number>(3, 1000);
    m.set('a', 1, 0);
    m.set('b', 2, 0);
    m.set('c', 3, 0);
    expect(m.get('a', 10)).toBe(1); // a is now the most recently used
    m.set('d', 4, 10);
    expect(m.size).toBe(3);
    expect(m.get('b', 10)).toBeUndefined();
    expect(m.entries(10).map(([k]) => k)).toEqual(['c', 'a', 'd']);
    expect(m.get('c', 1000)).toBeUndefined(); // set at 0, ttl 1000
    expect(m.get('d', 1009)).toBe(4);
    m.prune(5000);
    expect(m.size).toBe(0);
    // A million distinct keys never hold more than the ceiling.
    const big = new BoundedMap<number, true>(100);
    for (let i = 0; i < 1_000_000; i++) big.set(i, true, 0);
    expect(big.size).toBe(100);
    expect(() => new BoundedMap(0)).toThrow(/positive integer/);
  });
});

describe('source address key', () => {
  it('is the IPv4 address (also when IPv4-mapped), and an IPv6 address as its /64', () => {
    expect(sourceAddressKey('127.0.0.2:51234')).toBe('127.0.0.2');
    expect(sourceAddressKey('::ffff:10.1.2.3:443')).toBe('10.1.2.3');
    expect(sourceAddressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd:8080')).toBe('2001:db8:1:2::/64');
    expect(sourceAddressKey('2001:db8:1:2::99:8080')).toBe('2001:db8:1:2::/64');
    expect(sourceAddressKey('2001:DB8:0001:0002:1::1:1')).toBe('2001:db8:1:2::/64');
    expect(sourceAddressKey('::1:40000')).toBe('0:0:0:0::/64');
    expect(sourceAddressKey('fe80::1%eth0:40000')).toBe('fe80:0:0:0::/64');
    expect(sourceAddressKey('?:?')).toBe('?');
  });
});

describe('failure buckets', () => {
  it('a token bucket refills one token per refill period up to its burst', () => {
    let b = takeToken(undefined, 0, 3, 1000);
    expect(b.tokens).toBe(2);
    b = takeToken(takeToken(b, 0, 3, 1000), 0, 3, 1000);
    expect(tokensAt(b, 0, 3, 1000)).toBe(0);
    expect(takeToken(b, 0, 3, 1000).tokens).toBe(0); // never below zero
    expect(tokensAt(b, 500, 3, 1000)).toBe(0.5);
    expect(tokensAt(b, 10_000, 3, 1000)).toBe(3);
  });

  const throttle = () => new AuthThrottle(limits({ authFailureBurstPerAddress: 3, authFailureRefillMsPerAddress: 1000, authFailureBurstPerCredential: 5, authFailureRefillMsPerCredential: 1000, suspectAddressMs: 60_000 }));

  it('refuses an address whose bucket is empty, unchecked, whatever DevId it rotates to, until a token refills', () => {
    const t = throttle();
    for (let i = 0; i < 3; i++) {
      expect(t.gate({ address: 'A', credential: 'lab', devId: `IMEI:${i}`, now: 0 }).check).toBe(true);
      t.failed({ address: 'A', credential: 'lab', now: 0 });
    }
    const g = t.gate({ address: 'A', credential: 'lab', devId: 'IMEI:new', now: 0 });
    expect(g).toMatchObject({ check: false, rule: 'address', retryAfterSec: 1 });
    expect(t.gate({ address: 'A', credential: 'lab', devId: 'IMEI:new', now: 1000 }).check).toBe(true);
    // Another address is not touched by A's failures.
    expect(t.gate({ address: 'B', credential: 'other', devId: 'IMEI:x', now: 0 })).toEqual({ check: true, lockBinds: false });
  });

  it('a DevId in good standing is checked even from an address whose bucket is empty', () => {
    const t = throttle();
    t.succeeded({ devId: 'IMEI:REAL', now: 0 });
    for (let i = 0; i < 3; i++) t.failed({ address: 'A', credential: 'lab', now: 0 });
    expect(t.gate({ address: 'A', credential: 'lab', devId: 'IMEI:GUESS', now: 0 }).check).toBe(false);
    // Checked; the device lockout still binds it at this suspect address.
    expect(t.gate({ address: 'A', credential: 'lab', devId: 'IMEI:REAL', now: 0 })).toEqual({ check: true, lockBinds: true });
  });

  it('an empty credential bucket refuses suspect addresses only: a clean address is still checked', () => {
    const t = throttle();
    // Five addresses each fail once against "lab": its bucket is empty, each of them is suspect.
    for (let i = 0; i < 5; i++) t.failed({ address: `S${i}`, credential: 'lab', now: 0 });
    expect(t.gate({ address: 'S0', credential: 'lab', devId: 'IMEI:1', now: 0 })).toMatchObject({ check: false, rule: 'credential' });
    expect(t.gate({ address: 'CLEAN', credential: 'lab', devId: 'IMEI:1', now: 0 })).toEqual({ check: true, lockBinds: false });
    // Another credential is not affected, and a suspect address stops being one after suspectAddressMs.
    expect(t.gate({ address: 'S0', credential: 'own', devId: 'IMEI:2', now: 0 }).check).toBe(true);
    expect(t.isSuspect('S0', 60_000)).toBe(false);
    const snap = t.snapshot(0);
    expect(snap.credentials).toEqual([{ credential: 'lab', tokens: 0 }]);
    expect(snap.addresses.map((a) => a.address).sort()).toEqual(['S0', 'S1', 'S2', 'S3', 'S4']);
  });

  it('keeps every table bounded however many addresses and credentials it sees', () => {
    const t = new AuthThrottle(limits({ maxThrottleEntries: 50 }));
    for (let i = 0; i < 10_000; i++) t.failed({ address: `10.0.${i >> 8}.${i & 255}`, credential: `c${i}`, now: i });
    const s = t.snapshot(10_000);
    expect(s.addresses.length).toBeLessThanOrEqual(50);
    expect(s.credentials.length).toBeLessThanOrEqual(50);
  });
});

describe('failure ring', () => {
  it('keeps the newest entries, folds a run of the same refusal into one with a count, and counts every kind', () => {
    const ring = new FailureRing(3);
    for (let i = 0; i < 1000; i++) ring.add({ at: i, kind: 'throttled', address: '127.0.0.2', devId: `IMEI:${i}`, credential: 'lab', reason: 'too many' });
    ring.add({ at: 2000, kind: 'auth-failed', address: '127.0.0.3', devId: 'x'.repeat(1_000_005), credential: 'lab', reason: 'wrong name or password' });
    ring.add({ at: 3000, kind: 'busy', address: '127.0.0.3', reason: 'full' });
    ring.add({ at: 4000, kind: 'rejected', address: '127.0.0.3', reason: '400' });
    const recent = ring.recent();
    expect(recent.map((e) => e.kind)).toEqual(['rejected', 'busy', 'auth-failed']);
    expect(recent[2]!.devId).toBe(`${'x'.repeat(64)}... (1000005 characters)`);
    expect(ring.counts()).toEqual({ 'auth-failed': 1, throttled: 1000, locked: 0, refused: 0, 'session-over': 0, busy: 1, rejected: 1 });
    const folded = new FailureRing(10);
    for (let i = 0; i < 5; i++) folded.add({ at: i * 1000, kind: 'throttled', address: 'A', devId: `IMEI:${i}`, credential: 'lab', reason: 'too many' });
    expect(folded.recent()).toEqual([{ at: new Date(4000).toISOString(), firstAt: new Date(0).toISOString(), kind: 'throttled', address: 'A', devId: 'IMEI:4', credential: 'lab', reason: 'too many', count: 5 }]);
    expect(shownDevId('IMEI:1')).toBe('IMEI:1');
  });
});

describe('admission', () => {
  const l = { maxSessions: 2, maxPreAuthSessions: 3, maxPreAuthSessionsPerAddress: 2 };

  it('gives exactly maxSessions authenticated slots, and unauthenticated ones from their own pool, capped per address', () => {
    const a = new Admission(l);
    const taken = Array.from({ length: 5 }, () => a.take('authenticated', 'A'));
    expect(taken.filter(isSlot)).toHaveLength(2);
    expect(taken[2]).toMatchObject({ limit: 'sessions', reason: '2 sessions open, the limit is 2' });
    // A full authenticated pool does not keep an unauthenticated session out, nor the other way round.
    const p1 = a.take('pre-auth', 'B');
    const p2 = a.take('pre-auth', 'B');
    expect(a.take('pre-auth', 'B')).toMatchObject({ limit: 'per-address' });
    expect(isSlot(p1) && isSlot(p2)).toBe(true);
    expect(isSlot(a.take('pre-auth', 'C'))).toBe(true);
    expect(a.take('pre-auth', 'D')).toMatchObject({ limit: 'pre-auth' });
    expect(a.counts()).toEqual({ authenticated: 2, preAuth: 3, preAuthAddresses: 2 });
  });

  it('promotes an unauthenticated slot only when an authenticated one is free, and releases each slot once', () => {
    const a = new Admission(l);
    const s1 = a.take('authenticated', 'A') as Slot;
    const p = a.take('pre-auth', 'B') as Slot;
    const q = a.take('pre-auth', 'B') as Slot;
    expect(a.promote(p)).toBeUndefined();
    expect(p.pool).toBe('authenticated');
    expect(a.promote(q)).toMatchObject({ limit: 'sessions' });
    expect(q.pool).toBe('pre-auth');
    a.release(s1);
    a.release(s1); // idempotent
    expect(a.counts()).toEqual({ authenticated: 1, preAuth: 1, preAuthAddresses: 1 });
    expect(a.promote(q)).toBeUndefined();
    a.release(p);
    a.release(q);
    expect(a.counts()).toEqual({ authenticated: 0, preAuth: 0, preAuthAddresses: 0 });
    expect(() => a.promote(q)).toThrow(/already released/);
  });
});

describe('header limits', () => {
  const msg = (over: Partial<SyncML['hdr']> = {}, cmdID = '1'): SyncML => ({
    hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '1', target: { locURI: 'http://127.0.0.1/dm' }, source: { locURI: 'IMEI:1' }, ...over },
    body: { commands: [{ kind: 'Alert', cmdID, data: '1201', items: [] }], final: true },
  });

  it('names the first value over its limit with its length, never the value', () => {
    const l = limits();
    expect(checkHeaderLimits(msg(), l)).toBeUndefined();
    const devId = checkHeaderLimits(msg({ source: { locURI: 'I'.repeat(1_000_005) } }), l)!;
    expect(describeOverLimit(devId)).toBe('SyncHdr Source LocURI (DevId) is 1000005 characters; the limit is 256 (maxDevIdLength)');
    expect(checkHeaderLimits(msg({ sessionID: 'S'.repeat(1 << 20) }), l)).toMatchObject({ field: 'SyncHdr SessionID', length: 1 << 20, limitName: 'maxSessionIdLength' });
    expect(checkHeaderLimits(msg({ target: { locURI: 'T'.repeat(2000) } }), l)).toMatchObject({ field: 'SyncHdr Target LocURI', limitName: 'maxLocUriLength' });
    expect(checkHeaderLimits(msg({ cred: { data: 'c'.repeat(5000) } }), l)).toMatchObject({ field: 'SyncHdr Cred Data' });
    expect(checkHeaderLimits(msg({ meta: { maxMsgSize: '9'.repeat(300) } }), l)).toMatchObject({ field: 'SyncHdr Meta maxMsgSize' });
    expect(checkHeaderLimits(msg({}, '7'.repeat(300)), l)).toMatchObject({ field: 'Alert CmdID', length: 300 });
  });
});

describe('telling a guess from a handshake', () => {
  const lim = limits({ maxAuthFailures: 3 });
  const base = { mode: 'basic' as const, body: new Uint8Array(), expected: { name: 'lab', secret: 'pw' }, now: 1000, limits: lim, newNonce: () => 'bm9uY2U=' };

  it('a wrong secret is a recorded failure; no credentials, or the lockout, are not', () => {
    const state = { authFailures: [] };
    const wrong = verifyClient({ ...base, state, cred: { meta: { type: 'syncml:auth-basic' }, data: basicCredential('lab', 'nope') } });
    expect(failureRecorded(state, wrong.state, 1000, lim)).toBe(true);
    const none = verifyClient({ ...base, state });
    expect(failureRecorded(state, none.state, 1000, lim)).toBe(false);
    // The failure that locks the device counts too (its failure list is emptied then).
    const two = recordFailure(recordFailure(state, 1000, lim), 1000, lim);
    const third = recordFailure(two, 1000, lim);
    expect(third.lockedUntil).toBeGreaterThan(1000);
    expect(failureRecorded(two, third, 1000, lim)).toBe(true);
    expect(withoutLockout(third).lockedUntil).toBeUndefined();
  });

  it('the desk keeps failures and lockout per device in memory; a clean address is checked past the lockout, a suspect one is not', () => {
    const desk = new PreAuthDesk(limits({ maxAuthFailures: 2, authLockoutMs: 60_000 }));
    const view = { devId: 'IMEI:X', clientCred: { name: 'lab', secret: 'pw' }, auth: { authFailures: [] } };
    const session = { phase: 'pkg1' } as EngineSession;
    const fx = (auth: EngineEffects['deviceAuth']): EngineEffects => ({ jobsSent: [], jobsFinished: [], jobsReleased: [], tree: [], alerts: [], notes: ['client authentication failed (401): wrong name or password'], ...(auth ? { deviceAuth: auth } : {}) });
    const l = limits({ maxAuthFailures: 2, authLockoutMs: 60_000 });
    let checked = desk.checkedView(view, true, 0);
    const r1 = desk.refused({ address: 'A', credential: 'lab', checked, lockBinds: true, fx: fx(recordFailure(checked.auth, 0, l)), session, now: 0 });
    expect(r1).toEqual({ kind: 'auth-failed', reason: 'client authentication failed (401): wrong name or password', guess: true });
    checked = desk.checkedView(view, true, 1);
    desk.refused({ address: 'A', credential: 'lab', checked, lockBinds: true, fx: fx(recordFailure(checked.auth, 1, l)), session, now: 1 });
    expect(desk.checkedView(view, true, 2).auth.lockedUntil).toBe(60_001);
    expect(desk.checkedView(view, false, 2).auth.lockedUntil).toBeUndefined();
    // A clean address's check that fails again keeps (and renews) the lockout for suspect addresses.
    const clean = desk.checkedView(view, false, 3);
    desk.refused({ address: 'B', credential: 'lab', checked: clean, lockBinds: false, fx: fx(recordFailure(clean.auth, 3, l)), session, now: 3 });
    expect(desk.checkedView(view, true, 4).auth.lockedUntil).toBe(60_001);
    // Success clears it all.
    desk.succeeded('IMEI:X', 5);
    expect(desk.checkedView(view, true, 6).auth).toEqual({ authFailures: [] });
    expect(desk.ring.counts()['auth-failed']).toBe(3);
    // An ordinary challenge (no credentials yet) is not a refusal worth a ring entry.
    expect(desk.refused({ address: 'C', credential: 'lab', checked: desk.checkedView(view, false, 7), lockBinds: false, fx: { ...fx(undefined), notes: ['client authentication failed (407): no credentials'] }, session, now: 7 })).toBeUndefined();
  });
});
