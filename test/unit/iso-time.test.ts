/** main/util/iso-time.ts: the text Date#toISOString gives, whatever instants were formatted before. */
import { describe, expect, it } from 'vitest';
import { iso, isoOfDate } from '../../main/util/iso-time.js';

const T = 1_765_122_744_123;

describe('iso()', () => {
  it('formats as Date#toISOString does, instants repeated, alternating and sharing a slot', () => {
    const instants = [T, T, T + 1, T, T + 4, T, T + 8, T + 4, T - 1, 0, -1, -4, 1.5, 1, T + 0.25, T, 8.64e15, -8.64e15];
    for (const ms of instants) expect(iso(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws on an instant out of range, as Date#toISOString does, and remembers nothing of it', () => {
    expect(iso(T)).toBe(new Date(T).toISOString());
    for (const bad of [Number.NaN, 8.64e15 + 4, Infinity]) expect(() => iso(bad)).toThrow(RangeError);
    expect(iso(T)).toBe(new Date(T).toISOString());
  });

  it('defaults to now, and formats a Date as its instant', () => {
    const before = Date.now();
    const text = iso();
    expect(Date.parse(text)).toBeGreaterThanOrEqual(before);
    expect(isoOfDate(new Date(T))).toBe(new Date(T).toISOString());
    expect(() => isoOfDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});
