/**
 * What a virtual handset tells the UI as it happens: sessions starting and ending, every message in
 * and out with its raw bytes, notifications accepted or refused. A listener that throws is reported
 * and skipped for that event only: the UI can never take a session down.
 */
import type { Encoding } from '../protocol/codec.js';

export type Initiator = 'client' | 'server';

export type HandsetEvent =
  | { type: 'session-start'; at: string; devId: string; serverId: string; sessionId: string; initiator: Initiator; url: string }
  | {
      type: 'message';
      at: string;
      devId: string;
      serverId: string;
      sessionId: string;
      direction: 'out' | 'in';
      url: string;
      /** Exact bytes on the wire (HMAC is computed over these). */
      bytes: Uint8Array;
      contentType: string;
      encoding: Encoding | undefined;
      msgId: string | undefined;
      /** Response only. */
      httpStatus?: number;
      /** Transport headers worth showing (x-syncml-hmac). */
      headers?: Record<string, string>;
    }
  | { type: 'session-end'; at: string; devId: string; serverId: string; sessionId: string; ok: boolean; reason: string; roundTrips: number; durationMs: number }
  | { type: 'notification'; at: string; devId: string; serverId: string; sessionId: string | undefined; accepted: boolean; reason: string; uiMode?: string }
  | { type: 'warning'; at: string; devId: string; serverId?: string; message: string };

export type HandsetEventType = HandsetEvent['type'];
export type HandsetListener = (e: HandsetEvent) => void;

export class HandsetEvents {
  /**
   * Replaced, never changed in place, when a listener comes or goes: emit() walks the array it
   * found, so a listener that unsubscribes (or subscribes another) while called changes nothing
   * for this event, and emitting copies nothing (a pool emits each of its handsets' events).
   */
  private listeners: readonly HandsetListener[] = [];
  /**
   * The listeners that only relay (a pool re-emitting its handsets' events), with the question
   * whether anyone hears them now: while nobody does, `active` is false and the handset builds no
   * events at all (timestamps, spreads, encodings of every message), though the relay keeps its
   * place among the listeners for when someone comes.
   */
  private relays: ReadonlyMap<HandsetListener, () => boolean> = new Map();

  /**
   * Returns the function that unsubscribes. With `wanted`, the listener is a relay: it counts as
   * listening only while `wanted()` says so (it is called all the same whenever an event is built).
   */
  on(fn: HandsetListener, wanted?: () => boolean): () => void {
    if (!this.listeners.includes(fn)) {
      this.listeners = [...this.listeners, fn];
      if (wanted) this.relays = new Map([...this.relays, [fn, wanted]]);
    }
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
      if (this.relays.has(fn)) {
        const rest = new Map(this.relays);
        rest.delete(fn);
        this.relays = rest;
      }
    };
  }

  /** Listeners subscribed (relays included, heard or not). */
  get size(): number {
    return this.listeners.length;
  }

  /** Would an event emitted now reach anyone? (A relay counts only while it is heard.) */
  get active(): boolean {
    const listeners = this.listeners;
    if (listeners.length > this.relays.size) return true;
    for (const wanted of this.relays.values()) if (wanted()) return true;
    return false;
  }

  emit(e: HandsetEvent): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(e);
      } catch (err) {
        process.emitWarning(`handset event listener failed on ${e.type}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/**
 * The last instant formatted, and its text: a busy pool stamps many events within the same
 * millisecond (each session's start, messages and end), and formatting a Date is not free.
 */
let lastMs = Number.NaN;
let lastIso = '';

export function iso(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
