/**
 * Random bytes for nonces and session tokens, drawn from a pool refilled in bulk. Every DM message
 * carries a fresh nonce; crypto.randomBytes(16) per call costs far more than the bytes themselves,
 * while one randomFillSync of a few KiB serves hundreds of them. The pool comes from the same CSPRNG
 * and each byte is handed out once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let next = POOL_BYTES;

/** `n` fresh random bytes (a view into the pool: turned into text at once by the callers below). */
function take(n: number): Buffer {
  if (n > POOL_BYTES) return randomFillSync(Buffer.alloc(n));
  if (next + n > POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool.subarray(next, next + n);
  next += n;
  return b;
}

/** `n` random bytes as base64 (a nonce as NextNonce carries it). */
export function randomBase64(n: number): string {
  return take(n).toString('base64');
}

/** `n` random bytes as lowercase hex (tokens in URLs). */
export function randomHex(n: number): string {
  return take(n).toString('hex');
}
