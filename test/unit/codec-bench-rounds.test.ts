/**
 * The codec bench's statistics: alternating order, per-round ratios, median and range, and the CPU
 * figures both sides report. Figures are not judged here (speed targets live in `npm run bench`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchCodecDetailed } from '../../main/cli/codec-bench.js';
import { GENERATED_FIXTURES } from '../bench/fixtures.js';
import { ensureBaseline, parseBaselineOutput, runBaseline } from '../bench/libwbxml/harness.js';
import { ratiosOf, roundOrder, spreadOf } from '../bench/suites/codec.js';

const fixture = GENERATED_FIXTURES.find((f) => f.id === 'dm12-server-2k')!;

describe('codec bench rounds', () => {
  it('median and range of a set of figures (even and odd counts, NaN left out)', () => {
    expect(spreadOf([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spreadOf([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spreadOf([5, Number.NaN])).toEqual({ median: 5, min: 5, max: 5 });
    expect(Number.isNaN(spreadOf([]).median)).toBe(true);
  });

  it('alternates who runs first from round to round', () => {
    const two = [0, 1, 2, 3].map((r) => roundOrder(['ours', 'lib'], r).join(','));
    expect(two).toEqual(['ours,lib', 'lib,ours', 'ours,lib', 'lib,ours']);
    const firsts = new Set([0, 1, 2, 3, 4, 5].map((r) => roundOrder(['a', 'b', 'c'], r)[0]));
    expect(firsts).toEqual(new Set(['a', 'b', 'c']));
    for (let r = 0; r < 6; r++) expect([...roundOrder(['a', 'b', 'c'], r)].sort()).toEqual(['a', 'b', 'c']);
  });

  it('ratios are libwbxml time over ours (> 1: ours faster), wall and CPU apart', () => {
    const ours = { decode_us: 10, encode_us: 20, decode_cpu_us: 8, encode_cpu_us: 40 };
    const lib = { decode_us: 30, encode_us: 10, decode_cpu_us: 16, encode_cpu_us: 20 };
    expect(ratiosOf(ours, lib)).toEqual({ decode_wall: 3, encode_wall: 0.5, decode_cpu: 2, encode_cpu: 0.5 });
  });

  it('our loop reports CPU time per conversion beside wall time', () => {
    const r = benchCodecDetailed(new Uint8Array(readFileSync(fixture.wbxmlPath)), readFileSync(fixture.xmlPath, 'utf8'), { iterations: 20, minMillis: 0 });
    expect(r.decode_cpu_us_per_msg).toBeGreaterThanOrEqual(0);
    expect(r.encode_cpu_us_per_msg).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.decode_cpu_us_per_msg + r.encode_cpu_us_per_msg)).toBe(true);
  });

  it('the libwbxml baseline reports CPU time too, and its output without it is refused', (ctx) => {
    const build = ensureBaseline();
    if (!build.ok) {
      if (process.env.CI) throw new Error(`libwbxml baseline cannot be built in CI: ${build.reason}`);
      ctx.skip();
      return;
    }
    const r = runBaseline(build.binary, fixture.wbxmlPath, fixture.xmlPath, { iterations: 3, minMillis: 0 });
    expect(r.decode_cpu_us_per_msg).toBeGreaterThan(0);
    expect(r.encode_cpu_us_per_msg).toBeGreaterThan(0);
    const line = JSON.stringify({ ...r, decode_cpu_us_per_msg: undefined });
    expect(() => parseBaselineOutput(line)).toThrow(/decode_cpu_us_per_msg/);
  });
});
