/**
 * The listeners of an event source (the server's EventBus, a handset's HandsetEvents). The list is
 * replaced, never changed in place, when a listener comes or goes, so emit() walks the array it
 * found: a listener that leaves (or brings another) while it is called changes nothing for the
 * event under way, and an event costs no copy of the list and no closure (a server emits several
 * events per message, a pool each of its handsets' events). A listener that throws is handed to
 * `failed` and skipped for that event only: a UI listener can never take a session down.
 *
 * A listener may be a relay (another source re-emitting what it gets) that asks `wanted()` whether
 * anyone hears it now: `active` counts it only then, so a source can skip building events that
 * nobody would hear, while the relay keeps its place in the list for when someone comes.
 */
export type Listener<E> = (e: E) => void;

interface Relay<E> {
  listener: Listener<E>;
  wanted: () => boolean;
}

export class Listeners<E> {
  private list: readonly Listener<E>[] = [];
  /** Replaced like `list`; an array, so `active` walks it without an iterator. */
  private relays: readonly Relay<E>[] = [];
  private readonly failed: (err: unknown, e: E) => void;

  constructor(failed: (err: unknown, e: E) => void) {
    this.failed = failed;
  }

  /** Listeners there now, relays included (heard or not). */
  get size(): number {
    return this.list.length;
  }

  /** Would an event emitted now reach anyone? A relay counts only while it is wanted. */
  get active(): boolean {
    const relays = this.relays;
    if (this.list.length > relays.length) return true;
    for (let i = 0; i < relays.length; i++) if (relays[i]!.wanted()) return true;
    return false;
  }

  /**
   * Adds `fn` last; with `wanted`, as a relay. False when `fn` is there already: it is not added
   * twice, and keeps its place and its kind.
   */
  add(fn: Listener<E>, wanted?: () => boolean): boolean {
    if (this.list.includes(fn)) return false;
    this.list = [...this.list, fn];
    if (wanted) this.relays = [...this.relays, { listener: fn, wanted }];
    return true;
  }

  /** False when `fn` was not there. */
  remove(fn: Listener<E>): boolean {
    if (!this.list.includes(fn)) return false;
    this.list = this.list.filter((l) => l !== fn);
    if (this.relays.some((r) => r.listener === fn)) this.relays = this.relays.filter((r) => r.listener !== fn);
    return true;
  }

  emit(e: E): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(e);
      } catch (err) {
        this.failed(err, e);
      }
    }
  }
}
