/**
 * The benchmark machinery works; its figures are not judged here (no timed assertions in unit
 * tests: speed targets live in `npm run bench`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchCodec } from '../../main/cli/codec-bench.js';
import { GENERATED_FIXTURES } from '../bench/fixtures.js';
import { ensureBaseline, runBaseline } from '../bench/libwbxml/harness.js';

const fixture = GENERATED_FIXTURES.find((f) => f.id === 'dm12-server-2k')!;
const wbxml = new Uint8Array(readFileSync(fixture.wbxmlPath));
const xml = readFileSync(fixture.xmlPath, 'utf8');

const FIELDS = ['decode_MBps', 'encode_MBps', 'decode_us_per_msg', 'encode_us_per_msg'] as const;

describe('benchCodec', () => {
  it('returns positive finite figures for a few iterations', () => {
    const r = benchCodec(wbxml, xml, { iterations: 3, minMillis: 0 });
    for (const f of FIELDS) {
      expect(Number.isFinite(r[f]), f).toBe(true);
      expect(r[f], f).toBeGreaterThan(0);
    }
  });

  it('names the input that does not convert, before timing anything', () => {
    expect(() => benchCodec(new Uint8Array([0x02, 0xa4]), xml, { iterations: 1 })).toThrow(/WBXML input/);
    expect(() => benchCodec(wbxml, '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>', { iterations: 1 })).toThrow(/XML input/);
  });
});

describe('libwbxml baseline harness', () => {
  it('compiles and prints the JSON figures', (ctx) => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'dmw-bench-test-'));
    try {
      const build = ensureBaseline(cacheDir);
      if (!build.ok) {
        if (process.env.CI) throw new Error(`libwbxml baseline cannot be built in CI: ${build.reason}`);
        console.warn(`skipping libwbxml baseline check: ${build.reason}`);
        ctx.skip();
        return;
      }
      const r = runBaseline(build.binary, fixture.wbxmlPath, fixture.xmlPath, { iterations: 3, minMillis: 0 });
      for (const f of FIELDS) {
        expect(Number.isFinite(r[f]), f).toBe(true);
        expect(r[f], f).toBeGreaterThan(0);
      }
      expect(r.decode_iterations).toBeGreaterThanOrEqual(3);
      expect(r.encode_iterations).toBeGreaterThanOrEqual(3);
      expect(r.wbxml_bytes).toBe(wbxml.length);
      expect(r.xml_bytes).toBe(Buffer.byteLength(xml));
      expect(r.peak_rss_bytes).toBeGreaterThan(0);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
