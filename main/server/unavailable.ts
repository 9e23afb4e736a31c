/**
 * Answers that tell a caller to come back: HTTP 503 + Retry-After, with nothing of its message
 * kept. Mostly the store cannot be reached (PostgreSQL down or restarting): the request's
 * transaction rolled back, nothing of it was written, on the DM endpoint and the management API alike.
 */
import { StoreUnavailableError } from '../store/store.js';
import type { OutgoingResponse } from './http.js';

/** Seconds a device or script waits before trying again while the store is away. */
export const STORE_RETRY_AFTER_SEC = 5;

export function isStoreUnavailable(e: unknown): e is StoreUnavailableError {
  return e instanceof StoreUnavailableError;
}

/**
 * The one shape of every such answer: 503, plain text, Retry-After in whole seconds. `why` is the
 * line a person reads in a trace (it says when to send again; devices go by the header).
 */
export function retryLater(retryAfterSec: number, why: string): OutgoingResponse {
  return {
    status: 503,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(retryAfterSec) },
    body: `${why}\n`,
  };
}

export function storeUnavailable(retryAfterSec = STORE_RETRY_AFTER_SEC): OutgoingResponse {
  return retryLater(retryAfterSec, `the store is unavailable; nothing of this message was processed, send it again in ${retryAfterSec} s`);
}

/** Seconds a device waits before sending again a message whose jobs another instance's session claimed first. */
export const JOBS_TAKEN_RETRY_AFTER_SEC = 1;

/**
 * A shared store's turn that lost the claim on a job it meant to send (job-claims.ts): the store is
 * fine, another instance's session took the job first; the turn rolled back and the device sends
 * the message again, to find the queue as it is now.
 */
export function jobsTaken(): OutgoingResponse {
  const sec = JOBS_TAKEN_RETRY_AFTER_SEC;
  return retryLater(sec, `another session claimed this device's queued jobs meanwhile; nothing of this message was processed, send it again in ${sec} s`);
}
