/**
 * The pieces of the shared-store event stream (main/server/api/shared-events.ts) without a
 * database: IdOrder puts events delivered in commit order back in id order (holding for a missing
 * id, giving up on it after holdMs, passing a late one through once), and EventBacklog with given
 * ids (holes between them) resumes, gaps and replays as with its own ids. Fake timers: no timing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdOrder } from '../../main/server/api/shared-events.js';
import { EventBacklog, type BacklogEntry, type EventSink } from '../../main/server/event-backlog.js';
import type { DeliveredEvent } from '../../main/store/store.js';

const ev = (id: number): DeliveredEvent => ({ id, event: { type: 'x', n: id } });

afterEach(() => {
  vi.useRealTimers();
});

describe('IdOrder', () => {
  it('holds an event until the id before it comes, then releases both in id order', () => {
    const out: string[] = [];
    const o = new IdOrder((e, late) => out.push(`${e.id}${late ? ' late' : ''}`), 1000);
    o.push(ev(11)); // before start: held
    o.start(10);
    expect(out).toEqual(['11']);
    o.push(ev(13));
    o.push(ev(14));
    expect(out).toEqual(['11']);
    o.push(ev(12));
    expect(out).toEqual(['11', '12', '13', '14']);
    o.push(ev(12)); // already released: a late one (the store never sends one twice)
    expect(out.at(-1)).toBe('12 late');
    o.stop();
  });

  it('drops what comes before start at or before its id', () => {
    const out: number[] = [];
    const o = new IdOrder((e) => out.push(e.id), 1000);
    o.push(ev(5));
    o.push(ev(7));
    o.start(6);
    expect(out).toEqual([7]);
    o.stop();
  });

  it('gives up on a missing id after holdMs (a rolled-back turn), and passes it through late if it comes after all', () => {
    vi.useFakeTimers();
    const out: string[] = [];
    const o = new IdOrder((e, late) => out.push(`${e.id}${late ? ' late' : ''}`), 1000);
    o.start(0);
    o.push(ev(1));
    o.push(ev(3));
    vi.advanceTimersByTime(999);
    expect(out).toEqual(['1']);
    o.push(ev(4));
    vi.advanceTimersByTime(1);
    expect(out).toEqual(['1', '3', '4']);
    // A second hole: its own wait, counted from the first event held behind it.
    o.push(ev(6));
    vi.advanceTimersByTime(500);
    o.push(ev(7));
    vi.advanceTimersByTime(499);
    expect(out).toEqual(['1', '3', '4']);
    vi.advanceTimersByTime(1);
    expect(out).toEqual(['1', '3', '4', '6', '7']);
    o.push(ev(2));
    expect(out.at(-1)).toBe('2 late');
    o.push(ev(8));
    expect(out.at(-1)).toBe('8');
    o.stop();
  });
});

function sink(got: BacklogEntry<string>[]): EventSink<string> {
  return {
    accepts: (m) => m !== 'hidden',
    write: (e, written) => {
      got.push(e);
      written();
      return e.bytes;
    },
    drop: () => undefined,
    bufferedBytes: () => 0,
  };
}

describe('EventBacklog with given ids', () => {
  it('resumes after any id it holds or lies between, gaps before what it let go of, and refuses ids that go back', () => {
    const b = new EventBacklog<string>({ backlogEvents: 3 });
    b.startAfter(100);
    expect(b.resumePoint(100)).toEqual({ kind: 'resumed', after: 100 });
    for (const id of [103, 107, 108, 120]) b.publish('m', `e${id}`, id);
    // 103 left (3 kept: 107, 108, 120)
    expect(b.floorId).toBe(103);
    expect(b.oldestId).toBe(107);
    expect(b.newestId).toBe(120);
    expect(b.resumePoint(101)).toEqual({ kind: 'gap', after: 103, lastEventId: 101, oldestId: 104 });
    expect(b.resumePoint(103)).toEqual({ kind: 'resumed', after: 103 });
    expect(b.resumePoint(121)).toMatchObject({ kind: 'unknown' });
    expect(() => b.publish('m', 'old', 119)).toThrow(RangeError);

    for (const [from, want] of [[103, [107, 108, 120]], [105, [107, 108, 120]], [107, [108, 120]], [110, [120]]] as const) {
      const got: BacklogEntry<string>[] = [];
      const sub = b.subscribe(sink(got), from);
      sub.start();
      expect(got.map((e) => e.id), `after ${from}`).toEqual(want);
      sub.close();
    }
    // A subscriber placed after an id not published yet (another instance's stream is ahead).
    const got: BacklogEntry<string>[] = [];
    const ahead = b.subscribeAt(sink(got), { kind: 'resumed', after: 125 });
    ahead.start();
    b.publish('m', 'e124', 124);
    b.publish('hidden', 'e126', 126);
    b.publish('m', 'e127', 127);
    expect(got.map((e) => e.id)).toEqual([127]);
    // A late event goes to the subscribers streaming now, and is not kept.
    b.publishLate('m', 'late', 122);
    expect(got.map((e) => e.id)).toEqual([127, 122]);
    expect(b.newestId).toBe(127);
    ahead.close();
  });

  it('with its own ids, behaves as before (consecutive ids, gap once evicted)', () => {
    const b = new EventBacklog<string>({ backlogEvents: 2 }, 1000);
    for (let i = 0; i < 4; i++) b.publish('m', `e${i}`);
    expect([b.oldestId, b.newestId, b.floorId]).toEqual([1002, 1003, 1001]);
    expect(b.resumePoint(1000)).toEqual({ kind: 'gap', after: 1001, lastEventId: 1000, oldestId: 1002 });
    const got: BacklogEntry<string>[] = [];
    const sub = b.subscribe(sink(got), 1001);
    sub.start();
    expect(got.map((e) => e.id)).toEqual([1002, 1003]);
  });
});
