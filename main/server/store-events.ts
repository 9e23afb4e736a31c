/**
 * Server events on a shared store (issue 16 point 3): every instance's EventBus subscribers (the
 * SSE stream, the UI, federation, `dmw server`'s printout) see the events of every instance.
 *
 * emit() does not call the listeners: it publishes to the store (NOTIFY), and the store's
 * subscription (LISTEN, this instance's own events included) calls them, so each event reaches each
 * subscriber once, in commit order, whichever instance produced it. A turn's events are published
 * inside the turn's transaction (publishIn): they go out only if it commits, and never for a turn
 * that rolled back. Events emitted outside a turn are published one after another, in emit order.
 *
 * When the database is unreachable an event cannot be published; its listeners here still get it
 * (the instance's own printout and UI), marked by nothing: it is the only copy anyone gets.
 */
import type { DeliveredEvent, DmStore, DmStoreOps } from '../store/store.js';
import { EventBus, type ServerEvent } from './events.js';

export class StoreEventBus extends EventBus {
  private unsubscribe?: () => Promise<void>;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: DmStore,
    private readonly warn: (message: string) => void = (m) => process.emitWarning(m),
  ) {
    super();
  }

  /** Starts listening to the store (every instance's events). Resolves once listening. */
  async start(): Promise<void> {
    this.unsubscribe ??= await this.store.subscribe((e) => this.delivered(e));
  }

  async stop(): Promise<void> {
    const off = this.unsubscribe;
    this.unsubscribe = undefined;
    await this.publishing;
    await off?.();
  }

  /** Publishes (outside a turn): delivered here when the store hands it back. */
  override emit(e: ServerEvent): void {
    this.publishing = this.publishing.then(() => this.store.publish(e)).catch((err: unknown) => {
      this.warn(`event ${e.type} not shared with the other instances (${(err as Error).message}); delivered here only`);
      super.emit(e);
    });
  }

  /** Inside a turn's transaction: the events go out when it commits, in this order. */
  async publishIn(s: DmStoreOps, events: readonly ServerEvent[]): Promise<void> {
    await s.publishAll(events);
  }

  /** Settles when everything emitted so far was published (tests, shutdown). */
  flushed(): Promise<void> {
    return this.publishing;
  }

  private delivered(d: DeliveredEvent): void {
    if (typeof d.event?.type !== 'string') return;
    super.emit(d.event as unknown as ServerEvent);
  }
}
