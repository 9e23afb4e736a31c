/**
 * The bytes of request bodies the DM listener may hold at once (being read, or waiting for their
 * answer). maxBodyBytes bounds one request; without this, N clients sending at once could make the
 * process hold N x maxBodyBytes before admission or authentication ever sees them. A request that
 * declares a Content-Length takes it before its body is read; one that declares none (chunked) takes
 * its bytes as they arrive, since taking maxBodyBytes up front would let a few such requests, holding
 * almost nothing, fill the budget. Either gives its share back once answered or gone. One that does
 * not fit is not queued: it is answered 503 with Retry-After (a chunked one as soon as a chunk does
 * not fit, its body so far dropped), so the budget can never make the server wait, only refuse.
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

  /**
   * The same for a body without Content-Length whose next chunk did not fit, asked while it still
   * holds the `had` bytes it brought so far (they are not counted as other requests').
   */
  refusalMidBody(had: number, wanted: number): OutgoingResponse {
    const sec = BODY_BUDGET_RETRY_AFTER_SEC;
    return retryLater(sec, `the server holds ${this.held - had} bytes of other requests' bodies; this one (no Content-Length) brought ${had} and its next ${wanted} would pass maxBodyBytesInFlight (${this.limit}): what it sent was dropped, send it again in ${sec} s`);
  }
}

/**
 * The share of one body without Content-Length, taken as its chunks arrive (readBody's `admit`).
 * Its owner gives back `taken` once the request is answered or gone, however it ended.
 */
export class ArrivingShare {
  taken = 0;
  /** The chunk that did not fit (0 while every one did). */
  private unfit = 0;

  constructor(private readonly budget: BodyBudget) {}

  readonly admit = (bytes: number): boolean => {
    if (!this.budget.take(bytes)) {
      this.unfit = bytes;
      return false;
    }
    this.taken += bytes;
    return true;
  };

  /** The 503 once a chunk did not fit (readBody drains the rest; the connection closes after it). */
  refusal(): OutgoingResponse {
    return this.budget.refusalMidBody(this.taken, this.unfit);
  }
}
