/**
 * What the server tells the UI as it happens. The API layer streams these (IPC or WebSocket);
 * `dmw server` prints them. A listener that throws is reported and dropped from that event only:
 * the UI can never take a session down.
 */
import type { Direction, JobRecord, SessionState, AlertRecord } from './types.js';
import { Listeners } from '../util/listeners.js';

export type ServerEvent =
  | { type: 'session-started'; at: string; sessionId: number; device: string; dmSessionId: string; encoding: string }
  | { type: 'message'; at: string; sessionId: number; direction: Direction; bytes: number; msgId: string | null; httpStatus: number | null; note?: string }
  | { type: 'session-ended'; at: string; sessionId: number; device: string | null; state: SessionState; reason: string }
  | { type: 'job-sent'; at: string; jobId: number; device: string; sessionId: number }
  | { type: 'job-done'; at: string; job: JobRecord }
  /** Its command went out and no Status came back: `unconfirmed`, for the engineer to decide (unconfirmed.ts). */
  | { type: 'job-unconfirmed'; at: string; job: JobRecord }
  | { type: 'device-seen'; at: string; device: string; firstTime: boolean }
  | { type: 'alert'; at: string; device: string; sessionId: number; alert: AlertRecord }
  | { type: 'notified'; at: string; device: string; ok: boolean; detail: string }
  | { type: 'rejected'; at: string; sessionId: number | null; httpStatus: number; reason: string }
  /** The step control holds the answer to the device's message (its HTTP request stays open). */
  | { type: 'session-held'; at: string; sessionId: number; device: string; next: HeldCommand | null; pending: number; releaseAt: string }
  /** The held answer went out: by Step (one command), Resume (all), the hold limit (one), or instead an abort. */
  | { type: 'session-released'; at: string; sessionId: number; device: string; by: ReleaseCause; heldMs: number; commands: number };

export interface HeldCommand {
  jobId: number;
  cmd: string;
  target: string;
}

export type ReleaseCause = 'step' | 'resume' | 'limit' | 'abort' | 'close' | 'superseded';

export type ServerEventType = ServerEvent['type'];
export type Listener = (e: ServerEvent) => void;

export class EventBus {
  private readonly listeners = new Listeners<ServerEvent>(reportFailure);

  /** Returns the function that unsubscribes. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.remove(fn);
    };
  }

  /** Resolves with the first event of `type` that passes `match` (tests, scripts). */
  next<T extends ServerEventType>(type: T, match: (e: Extract<ServerEvent, { type: T }>) => boolean = () => true, timeoutMs = 10_000): Promise<Extract<ServerEvent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.subscribe((e) => {
        if (e.type === type && match(e as Extract<ServerEvent, { type: T }>)) {
          clearTimeout(timer);
          off();
          resolve(e as Extract<ServerEvent, { type: T }>);
        }
      });
    });
  }

  emit(e: ServerEvent): void {
    this.listeners.emit(e);
  }
}

function reportFailure(err: unknown, e: ServerEvent): void {
  process.emitWarning(`event listener failed on ${e.type}: ${err instanceof Error ? err.message : String(err)}`);
}
