/**
 * The listener list behind EventBus and HandsetEvents (main/util/listeners.ts): an emit walks the
 * list it found, whatever its listeners do to the list meanwhile; a listener that throws costs the
 * others nothing; a relay counts as listening only while it is wanted.
 */
import { describe, expect, it } from 'vitest';
import { Listeners } from '../../main/util/listeners.js';
import { EventBus, type ServerEvent } from '../../main/server/events.js';
import { HandsetEvents, type HandsetEvent } from '../../main/client/index.js';

type Failure = { err: unknown; e: string };

function list(): { ls: Listeners<string>; failures: Failure[] } {
  const failures: Failure[] = [];
  return { ls: new Listeners<string>((err, e) => failures.push({ err, e })), failures };
}

describe('Listeners', () => {
  it('calls its listeners in the order they came; one added twice is there once, in its first place', () => {
    const { ls } = list();
    const got: string[] = [];
    const a = (e: string) => got.push(`a ${e}`);
    const b = (e: string) => got.push(`b ${e}`);
    expect(ls.add(a)).toBe(true);
    expect(ls.add(b)).toBe(true);
    expect(ls.add(a)).toBe(false);
    expect(ls.size).toBe(2);
    ls.emit('1');
    expect(got).toEqual(['a 1', 'b 1']);
    expect(ls.remove(a)).toBe(true);
    expect(ls.remove(a)).toBe(false);
    ls.emit('2');
    expect(got).toEqual(['a 1', 'b 1', 'b 2']);
  });

  it('a listener that throws is reported with its event and the others still get it', () => {
    const { ls, failures } = list();
    const got: string[] = [];
    const boom = new Error('boom');
    ls.add(() => {
      throw boom;
    });
    ls.add((e) => got.push(e));
    ls.emit('x');
    expect(got).toEqual(['x']);
    expect(failures).toEqual([{ err: boom, e: 'x' }]);
  });

  it('leaving or joining during an emit counts from the next event, for the listener itself and for others', () => {
    const { ls } = list();
    const got: string[] = [];
    const late = (e: string) => got.push(`late ${e}`);
    const second = (e: string) => got.push(`second ${e}`);
    const first = (e: string) => {
      got.push(`first ${e}`);
      if (e === '1') {
        ls.remove(first);
        ls.remove(second);
        ls.add(late);
      }
    };
    ls.add(first);
    ls.add(second);
    ls.emit('1');
    expect(got).toEqual(['first 1', 'second 1']);
    ls.emit('2');
    expect(got).toEqual(['first 1', 'second 1', 'late 2']);
  });

  it('a relay is listening only while wanted; a plain listener always; removing either ends that', () => {
    const { ls } = list();
    let wanted = false;
    const relay = () => {};
    const plain = () => {};
    expect(ls.active).toBe(false);
    ls.add(relay, () => wanted);
    expect(ls.size).toBe(1);
    expect(ls.active).toBe(false);
    wanted = true;
    expect(ls.active).toBe(true);
    wanted = false;
    ls.add(plain);
    expect(ls.active).toBe(true);
    ls.remove(plain);
    expect(ls.active).toBe(false);
    // Added again as a relay, a plain listener stays plain (and vice versa).
    ls.add(plain);
    ls.add(plain, () => false);
    expect(ls.active).toBe(true);
    ls.add(relay);
    ls.remove(plain);
    expect(ls.active).toBe(false);
    wanted = true;
    expect(ls.active).toBe(true);
    ls.remove(relay);
    expect(ls.size).toBe(0);
    expect(ls.active).toBe(false);
  });
});

describe('EventBus and HandsetEvents on Listeners', () => {
  const serverEvent = (n: number): ServerEvent => ({ type: 'rejected', at: '', sessionId: n, httpStatus: 400, reason: 'r' });
  const handsetEvent = (n: number): HandsetEvent => ({ type: 'warning', at: '', devId: String(n), message: 'm' });

  it('EventBus: an unsubscribe during an emit takes effect from the next event; a throwing listener is a warning', () => {
    const bus = new EventBus();
    const got: number[] = [];
    const off = bus.subscribe((e) => {
      if (e.type === 'rejected') got.push(e.sessionId ?? -1);
      off();
      off(); // twice: nothing more
    });
    bus.subscribe(() => {
      throw new Error('listener broke');
    });
    const warnings: string[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((w: string | Error) => warnings.push(typeof w === 'string' ? w : w.message)) as typeof process.emitWarning;
    try {
      bus.emit(serverEvent(1));
      bus.emit(serverEvent(2));
    } finally {
      process.emitWarning = emitWarning;
    }
    expect(got).toEqual([1]);
    expect(warnings).toEqual(['event listener failed on rejected: listener broke', 'event listener failed on rejected: listener broke']);
  });

  it('HandsetEvents: the same, and a listener subscribed twice hears each event once', () => {
    const ev = new HandsetEvents();
    const got: string[] = [];
    const fn = (e: HandsetEvent) => got.push(e.devId);
    const off = ev.on(fn);
    ev.on(fn);
    expect(ev.size).toBe(1);
    ev.emit(handsetEvent(1));
    off();
    ev.emit(handsetEvent(2));
    expect(got).toEqual(['1']);
    expect(ev.size).toBe(0);
  });
});
