/**
 * The nonce pool: fresh values of the asked size, no value handed out twice across refills, and
 * sizes larger than the pool still served.
 */
import { describe, expect, it } from 'vitest';
import { randomBase64, randomHex } from '../../main/protocol/random-pool.js';

describe('random pool', () => {
  it('gives nonces of the asked size, never the same one twice, across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) { // 32 KB: eight refills of the 4 KB pool
      const n = randomBase64(16);
      expect(Buffer.from(n, 'base64')).toHaveLength(16);
      expect(seen.has(n)).toBe(false);
      seen.add(n);
    }
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('serves a request larger than the pool', () => {
    expect(Buffer.from(randomBase64(10_000), 'base64')).toHaveLength(10_000);
  });
});
