/**
 * The store cannot be reached (PostgreSQL down or restarting): the request's transaction rolled
 * back, nothing of it was written, and the caller is told to come back (HTTP 503 + Retry-After),
 * on the DM endpoint and the management API alike.
 */
import { StoreUnavailableError } from '../store/store.js';
import type { OutgoingResponse } from './http.js';

/** Seconds a device or script waits before trying again while the store is away. */
export const STORE_RETRY_AFTER_SEC = 5;

export function isStoreUnavailable(e: unknown): e is StoreUnavailableError {
  return e instanceof StoreUnavailableError;
}

export function storeUnavailable(retryAfterSec = STORE_RETRY_AFTER_SEC): OutgoingResponse {
  return {
    status: 503,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(retryAfterSec) },
    body: `the store is unavailable; nothing of this message was processed, send it again in ${retryAfterSec} s\n`,
  };
}
