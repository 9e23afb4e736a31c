/**
 * The bytes of request bodies the DM listener may hold at once (being read, or waiting for their
 * answer). maxBodyBytes bounds one request; without this, N clients sending at once could make the
 * process hold N x maxBodyBytes before admission or authentication ever sees them. A request takes
 * its share before its body is read (its Content-Length, or maxBodyBytes when it declares none) and
 * gives it back once answered or gone. One that does not fit is not queued: it is answered 503 with
 * Retry-After, so the budget can never make the server wait, only refuse.
 */
import { retryLater } from './unavailable.js';
import type { OutgoingResponse } from './http.js';

/** Seconds a client waits before sending again a body the budget had no room for. */
export const BODY_BUDGET_RETRY_AFTER_SEC = 1;

export class BodyBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Bytes taken by requests not yet answered. */
  get inUse(): number {
    return this.held;
  }

  /** Takes `bytes` when they fit; false (nothing taken) when they do not. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }

  /** The answer to a request that did not fit: what is held, the limit's name, when to come back. */
  refusal(wanted: number): OutgoingResponse {
    const sec = BODY_BUDGET_RETRY_AFTER_SEC;
    return retryLater(sec, `the server holds ${this.held} bytes of other requests' bodies; this one's ${wanted} would pass maxBodyBytesInFlight (${this.limit}): nothing of it was read, send it again in ${sec} s`);
  }
}
