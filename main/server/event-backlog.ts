/**
 * Event streams with a bound on what a slow subscriber can cost: the management API's server-sent
 * events (api/sse.ts) and the UI's WebSocket (main/api/ws-server.ts) both publish into one of these.
 *
 * Every event gets an id and goes into a backlog shared by all subscribers (a ring of the last
 * `backlogEvents` events, at most `backlogBytes` of text). A subscriber is a cursor into that
 * backlog: it is handed the events after its cursor while less than `subscriberBytes` of what it was
 * handed is still waiting in its socket's buffer, and waits otherwise. So a subscriber that reads
 * slowly costs at most `subscriberBytes` (and the event that crossed it); one that falls so far behind
 * that the next event it needs has left the backlog is dropped, with a last message saying why.
 * The same backlog lets a client that reconnects resume after the last id it got (Last-Event-ID),
 * or be told that the backlog no longer reaches back that far.
 *
 * Ids start from the clock (milliseconds x 1000), so they keep increasing across restarts and an
 * id from an earlier run is simply older than the backlog, never taken for a later event.
 *
 * On a shared store (several instances, api/shared-events.ts) the ids are given: the store's event
 * ids, increasing but with holes (events that are not streamed, rolled-back ids). The backlog then
 * only needs them in increasing order; `floorId` (the newest id it let go of) says where it stops
 * reaching back, and a subscriber may be placed after any id (`subscribeAfter`).
 */

export interface EventStreamLimits {
  /** Events kept for subscribers catching up and for clients resuming after a reconnect. */
  backlogEvents: number;
  /** Bytes of event text kept in the backlog; past either limit the oldest events go first. */
  backlogBytes: number;
  /** Bytes one subscriber may have been handed that its socket has not yet sent; past it, it waits. */
  subscriberBytes: number;
}

export const DEFAULT_EVENT_STREAM_LIMITS: Readonly<EventStreamLimits> = Object.freeze({
  backlogEvents: 1024,
  backlogBytes: 8 * 1024 * 1024,
  subscriberBytes: 256 * 1024,
});

/** Checks limits given by a caller (API options, tests); throws naming the limit. */
export function eventStreamLimits(given: Partial<EventStreamLimits> = {}): EventStreamLimits {
  const l = { ...DEFAULT_EVENT_STREAM_LIMITS, ...given };
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`event stream limit ${k} must be a positive integer, got ${String(v)}`);
  }
  return l;
}

export interface BacklogEntry<M> {
  readonly id: number;
  /** What subscribers filter on (type, device ...). */
  readonly meta: M;
  /** The event, serialized once for every subscriber. */
  readonly text: string;
  readonly bytes: number;
}

/** Where a subscriber starts, from the Last-Event-ID it gave (if any). */
export type ResumePoint =
  /** No id given: live events from now on. */
  | { kind: 'live'; after: number }
  /** The backlog holds everything after the id: those events come first. */
  | { kind: 'resumed'; after: number }
  /** Events after `lastEventId` up to `oldestId - 1` are gone: what the backlog holds comes first. */
  | { kind: 'gap'; after: number; lastEventId: number; oldestId: number }
  /** An id this stream never gave (another server's, a clock set back): live from now on. */
  | { kind: 'unknown'; after: number; lastEventId: number };

/** Why a subscriber was dropped, for its last message. */
export interface DropNotice {
  reason: string;
  /** The last event it was handed (it may not have read it): resume after the last one it did read. */
  lastEventId: number;
}

export interface EventSink<M> {
  /** Whether this subscriber wants the event (its filter, what its principal may see). */
  accepts(meta: M): boolean;
  /** Writes one event; `written` is called once the socket has taken it. Returns the bytes written. */
  write(entry: BacklogEntry<M>, written: () => void): number;
  /** One last, short message saying why, then close. Called at most once; nothing is written after. */
  drop(notice: DropNotice): void;
  /** Bytes the transport holds for this subscriber (socket buffer), for stats and tests. */
  bufferedBytes(): number;
}

export interface SubscriberStats {
  lastEventId: number;
  /** Bytes handed to the socket and not yet taken by it (what the limit bounds). */
  queuedBytes: number;
  /** What the transport itself reports as buffered. */
  bufferedBytes: number;
}

export interface Subscription {
  readonly resume: ResumePoint;
  /** Starts delivery (the backlog after the resume point first). Write any greeting before. */
  start(): void;
  /** Stops delivery (the client went away). */
  close(): void;
  stats(): SubscriberStats;
}

interface Subscriber<M> {
  sink: EventSink<M>;
  cursor: number;
  queuedBytes: number;
  started: boolean;
  closed: boolean;
}

/**
 * What to tell a client whose Last-Event-ID cannot be honoured in full (`gap`), or undefined when it
 * can. `catchUp` says how to refetch the state the missed events would have brought.
 */
export function gapNotice(r: ResumePoint, catchUp: string): { type: 'gap'; lastEventId: number; oldestId: number; message: string } | undefined {
  if (r.kind === 'gap') {
    return {
      type: 'gap', lastEventId: r.lastEventId, oldestId: r.oldestId,
      message: `events after ${r.lastEventId} up to ${r.oldestId - 1} are no longer kept (the backlog starts at ${r.oldestId}); what it holds follows; ${catchUp}`,
    };
  }
  if (r.kind === 'unknown') {
    return {
      type: 'gap', lastEventId: r.lastEventId, oldestId: r.after + 1,
      message: `event ${r.lastEventId} was never sent here (a restart with the clock set back, or another server's id); new events follow; ${catchUp}`,
    };
  }
  return undefined;
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export class EventBacklog<M> {
  readonly limits: EventStreamLimits;
  private readonly ring: (BacklogEntry<M> | undefined)[];
  private head = 0; // index of the oldest entry
  private count = 0;
  private bytes = 0;
  private next: number;
  /** The newest id evicted (or the one before the first): everything after it is still here. */
  private floor: number;
  private readonly subscribers = new Set<Subscriber<M>>();

  constructor(limits: Partial<EventStreamLimits> = {}, firstId = Date.now() * 1000) {
    this.limits = eventStreamLimits(limits);
    this.ring = new Array<BacklogEntry<M> | undefined>(this.limits.backlogEvents);
    this.next = firstId;
    this.floor = firstId - 1;
  }

  /** Where the ids go on from (given ids: the newest event before this backlog). Only while empty. */
  startAfter(id: number): void {
    if (this.count > 0) throw new Error('event backlog: startAfter() on a backlog that holds events');
    this.next = id + 1;
    this.floor = id;
  }

  /** The newest id no longer kept: a subscriber after it misses nothing (its events, if any, are here). */
  get floorId(): number {
    return this.floor;
  }

  /** The id of the newest event (one less than the first id while there is none). */
  get newestId(): number {
    return this.next - 1;
  }

  /** The id of the oldest event kept (newestId + 1 while the backlog is empty). */
  get oldestId(): number {
    return this.count > 0 ? this.ring[this.head]!.id : this.next;
  }

  /**
   * Adds an event, drops what no longer fits, and hands it to every subscriber that can take it.
   * `id`: the event's own id (a shared store's), greater than every id before it; else the next one.
   */
  publish(meta: M, text: string, id?: number): number {
    if (id !== undefined && (!Number.isSafeInteger(id) || id < this.next)) throw new RangeError(`event backlog: id ${id} is not after ${this.next - 1}`);
    const entry: BacklogEntry<M> = { id: id ?? this.next, meta, text, bytes: utf8Bytes(text) };
    this.next = entry.id + 1;
    const cap = this.ring.length;
    if (this.count === cap) this.evictOldest();
    this.ring[(this.head + this.count) % cap] = entry;
    this.count++;
    this.bytes += entry.bytes;
    // The newest event always stays, however large: a subscriber that keeps up still gets it.
    while (this.bytes > this.limits.backlogBytes && this.count > 1) this.evictOldest();
    for (const s of [...this.subscribers]) this.pump(s);
    return entry.id;
  }

  /**
   * An event that came after later ids were published (a shared store's transaction that committed
   * late, api/shared-events.ts): handed to the subscribers streaming now, once, and not kept (the
   * backlog's ids only grow).
   */
  publishLate(meta: M, text: string, id: number): void {
    const entry: BacklogEntry<M> = { id, meta, text, bytes: utf8Bytes(text) };
    for (const s of [...this.subscribers]) {
      if (s.started && !s.closed && s.sink.accepts(meta)) s.sink.write(entry, () => undefined);
    }
  }

  /**
   * A new subscriber, not yet started (so its greeting goes first). `lastEventId` is what the client
   * says it got last; without it, the subscriber gets the events published from now on.
   */
  subscribe(sink: EventSink<M>, lastEventId?: number): Subscription {
    return this.subscribeAt(sink, this.resumePoint(lastEventId));
  }

  /**
   * A subscriber that starts after `resume.after`, as the caller decided (a shared store: after the
   * events it replayed from the database, or after an id this backlog has not got yet).
   */
  subscribeAt(sink: EventSink<M>, resume: ResumePoint): Subscription {
    const s: Subscriber<M> = { sink, cursor: resume.after, queuedBytes: 0, started: false, closed: false };
    this.subscribers.add(s);
    return {
      resume,
      start: () => {
        if (s.closed || s.started) return;
        s.started = true;
        this.pump(s);
      },
      close: () => {
        s.closed = true;
        this.subscribers.delete(s);
      },
      stats: () => ({ lastEventId: s.cursor, queuedBytes: s.queuedBytes, bufferedBytes: s.sink.bufferedBytes() }),
    };
  }

  resumePoint(lastEventId: number | undefined): ResumePoint {
    const newest = this.newestId;
    if (lastEventId === undefined) return { kind: 'live', after: newest };
    if (lastEventId > newest) return { kind: 'unknown', after: newest, lastEventId };
    if (lastEventId < this.floor) return { kind: 'gap', after: this.floor, lastEventId, oldestId: this.floor + 1 };
    return { kind: 'resumed', after: lastEventId };
  }

  stats(): { events: number; bytes: number; oldestId: number; newestId: number; subscribers: SubscriberStats[] } {
    return {
      events: this.count, bytes: this.bytes, oldestId: this.oldestId, newestId: this.newestId,
      subscribers: [...this.subscribers].map((s) => ({ lastEventId: s.cursor, queuedBytes: s.queuedBytes, bufferedBytes: s.sink.bufferedBytes() })),
    };
  }

  /** Drops every subscriber without a word (the server is closing). */
  close(): void {
    for (const s of this.subscribers) s.closed = true;
    this.subscribers.clear();
  }

  /** The oldest event after `id` (there is one: id < newestId and id >= floor). */
  private entryAfter(id: number): BacklogEntry<M> {
    const at = (i: number) => this.ring[(this.head + i) % this.ring.length]!;
    // Own ids are consecutive: the guess is right. Given ids have holes: binary search.
    const guess = id + 1 - this.oldestId;
    if (guess >= 0 && guess < this.count && at(guess).id === id + 1) return at(guess);
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at(mid).id > id) hi = mid;
      else lo = mid + 1;
    }
    return at(lo);
  }

  private evictOldest(): void {
    const e = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.bytes -= e.bytes;
    this.floor = e.id;
  }

  /** Hands a subscriber what it can take now; drops it when what it needs next is gone. */
  private pump(s: Subscriber<M>): void {
    if (!s.started || s.closed) return;
    while (s.cursor < this.newestId) {
      if (s.cursor < this.floor) {
        this.dropSubscriber(s);
        return;
      }
      if (s.queuedBytes >= this.limits.subscriberBytes) return; // the socket's write callbacks pump again
      const e = this.entryAfter(s.cursor);
      s.cursor = e.id;
      if (!s.sink.accepts(e.meta)) continue;
      let done = false;
      let n = 0;
      const written = () => {
        // Called once the socket took the bytes, or with an error once it is gone: either way they
        // no longer wait in our buffer.
        if (done) return;
        done = true;
        s.queuedBytes -= n;
        this.pump(s);
      };
      n = s.sink.write(e, written);
      if (!done) s.queuedBytes += n;
    }
  }

  private dropSubscriber(s: Subscriber<M>): void {
    s.closed = true;
    this.subscribers.delete(s);
    const kept = this.count;
    s.sink.drop({
      reason: `fell behind: the next event for this subscriber (after id ${s.cursor}) is no longer in the backlog of the last ${kept} events, ` +
        `while ${s.queuedBytes} bytes sent to it were still unread (limit ${this.limits.subscriberBytes}); reconnect with Last-Event-ID to be told what was missed`,
      lastEventId: s.cursor,
    });
  }
}
