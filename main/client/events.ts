/**
 * What a virtual handset tells the UI as it happens: sessions starting and ending, every message in
 * and out with its raw bytes, notifications accepted or refused. A listener that throws is reported
 * and skipped for that event only: the UI can never take a session down.
 */
import type { Encoding } from '../protocol/codec.js';
import { Listeners } from '../util/listeners.js';

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
   * A pool's relay (re-emitting its handsets' events) counts as listening only while the pool
   * itself is heard: until then the handset builds no events at all (timestamps, spreads, encodings
   * of every message), though the relay keeps its place among the listeners for when someone comes.
   */
  private readonly listeners = new Listeners<HandsetEvent>(reportFailure);

  /**
   * Returns the function that unsubscribes. With `wanted`, the listener is a relay: it counts as
   * listening only while `wanted()` says so (it is called all the same whenever an event is built).
   */
  on(fn: HandsetListener, wanted?: () => boolean): () => void {
    this.listeners.add(fn, wanted);
    return () => {
      this.listeners.remove(fn);
    };
  }

  /** Listeners subscribed (relays included, heard or not). */
  get size(): number {
    return this.listeners.size;
  }

  /** Would an event emitted now reach anyone? (A relay counts only while it is heard.) */
  get active(): boolean {
    return this.listeners.active;
  }

  emit(e: HandsetEvent): void {
    this.listeners.emit(e);
  }
}

function reportFailure(err: unknown, e: HandsetEvent): void {
  process.emitWarning(`handset event listener failed on ${e.type}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Event times: the one formatter (main/util/iso-time.ts), for handset.ts and the other importers of it from here. */
export { iso } from '../util/iso-time.js';
