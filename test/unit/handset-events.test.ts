/**
 * A handset's events are built only while someone hears them: a pool relays its handsets' events,
 * but while the pool itself has no listener (a load run), its handsets build none. Listeners that
 * exist get the same events, in the same order, as when every event was built.
 */
import { describe, expect, it } from 'vitest';
import { HandsetEvents, HandsetPool, type HandsetEvent, type VirtualHandset } from '../../main/client/index.js';

/** Port 1 on loopback: nothing listens, so a session is a start, one message out and a failed end. */
const NOWHERE = 'http://127.0.0.1:1/dm';

async function poolOfOne(now: () => number): Promise<{ pool: HandsetPool; h: VirtualHandset }> {
  const pool = await HandsetPool.create({ notify: false, template: { now, accounts: () => [{ serverId: 'dmw', addr: NOWHERE, clientCred: { type: 'DIGEST', name: 'lab', secret: 'pw' }, serverCred: { type: 'DIGEST', name: 'dmw', secret: 'srvpw' } }] } });
  const [h] = await pool.add(1);
  return { pool, h: h! };
}

function summary(events: HandsetEvent[]): string[] {
  return events.map((e) => (e.type === 'message' ? `message ${e.direction} ${e.msgId}` : e.type === 'session-end' ? `session-end ${e.ok} ${e.roundTrips}` : e.type));
}

describe('handset events', () => {
  it('a relay listener counts as listening only while it is wanted; a plain one always', () => {
    const ev = new HandsetEvents();
    expect(ev.active).toBe(false);
    let wanted = false;
    const got: string[] = [];
    const offRelay = ev.on(() => got.push('relay'), () => wanted);
    expect(ev.size).toBe(1);
    expect(ev.active).toBe(false);
    wanted = true;
    expect(ev.active).toBe(true);
    wanted = false;
    const offPlain = ev.on(() => got.push('plain'));
    expect(ev.active).toBe(true);
    ev.emit({ type: 'warning', at: '', devId: 'x', message: 'm' });
    // Emitted events reach every listener, the relay included, in the order they came.
    expect(got).toEqual(['relay', 'plain']);
    offPlain();
    expect(ev.active).toBe(false);
    offRelay();
    expect(ev.size).toBe(0);
    expect(ev.active).toBe(false);
  });

  it('a handset in a pool nobody listens to builds no events; a pool listener gets them all, in order, and its going stops them', async () => {
    let calls = 0;
    const now = () => {
      calls++;
      return Date.UTC(2026, 11, 7, 12, 0, 0);
    };
    const { pool, h } = await poolOfOne(now);
    try {
      // The pool subscribed (a relay), but nobody hears it.
      expect(h.events.size).toBe(1);
      expect(h.events.active).toBe(false);
      calls = 0;
      const quiet = await h.connect({ sessionId: '1' });
      expect(quiet.ok).toBe(false);
      expect(quiet.error).toMatch(/^http:\/\/127\.0\.0\.1:1\/dm: /);
      expect(quiet.roundTrips).toBe(0);
      // The session's start, its duration and its end: no event timestamps.
      const quietCalls = calls;
      expect(quietCalls).toBe(3);
      expect(h.lastSessionAt).toBe('2026-12-07T12:00:00.000Z');

      const seen: HandsetEvent[] = [];
      const off = pool.events.on((e) => seen.push(e));
      expect(h.events.active).toBe(true);
      calls = 0;
      const heard = await h.connect({ sessionId: '2' });
      expect(heard.error).toBe(quiet.error);
      expect(summary(seen)).toEqual(['session-start', 'message out 1', 'session-end false 0']);
      expect(seen.every((e) => e.devId === h.devId && e.at === '2026-12-07T12:00:00.000Z')).toBe(true);
      expect(calls).toBeGreaterThan(quietCalls);

      off();
      expect(h.events.active).toBe(false);
      seen.length = 0;
      await h.connect({ sessionId: '3' });
      expect(seen).toEqual([]);
      expect(h.sessions).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it("a listener on the handset itself hears it whatever the pool's listeners, after the pool's relay as before", async () => {
    const { pool, h } = await poolOfOne(Date.now);
    try {
      const order: string[] = [];
      h.on((e) => order.push(`handset ${e.type}`));
      expect(h.events.active).toBe(true);
      await h.connect();
      expect(order).toEqual(['handset session-start', 'handset message', 'handset session-end']);
      order.length = 0;
      pool.events.on((e) => order.push(`pool ${e.type}`));
      await h.connect();
      expect(order).toEqual(['pool session-start', 'handset session-start', 'pool message', 'handset message', 'pool session-end', 'handset session-end']);
    } finally {
      await pool.close();
    }
  });

  it("the pool's change listeners alone make its handsets' session starts and ends heard", async () => {
    const { pool, h } = await poolOfOne(Date.now);
    try {
      let changes = 0;
      const off = pool.onChange(() => changes++);
      expect(h.events.active).toBe(true);
      await h.connect();
      expect(changes).toBe(2);
      off();
      expect(h.events.active).toBe(false);
      await h.connect();
      expect(changes).toBe(2);
    } finally {
      await pool.close();
    }
  });
});
