/**
 * A Map with a ceiling: at most `max` entries (the least recently used goes first) and, when given,
 * entries older than `ttlMs` (since they were last set) read as absent. Every table the server keeps
 * about strangers (addresses, credential names, devices without a row, ended sessions) is one of
 * these, so no stream of new keys can grow memory without bound. The clock comes in (`now`), so
 * tests need no timers.
 */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, { value: V; at: number }>();

  constructor(
    readonly max: number,
    private readonly ttlMs?: number,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`BoundedMap needs a positive integer size, got ${max}`);
  }

  get size(): number {
    return this.m.size;
  }

  /** The value, refreshed as most recently used; undefined when absent or expired. */
  get(key: K, now: number): V | undefined {
    const e = this.m.get(key);
    if (!e) return undefined;
    if (this.expired(e.at, now)) {
      this.m.delete(key);
      return undefined;
    }
    // Map keeps insertion order: moving the key to the end makes the first key the least recently used.
    this.m.delete(key);
    this.m.set(key, e);
    return e.value;
  }

  has(key: K, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  /** Sets the value (its age starts again) and drops the least recently used entries over the ceiling. */
  set(key: K, value: V, now: number): void {
    this.m.delete(key);
    this.m.set(key, { value, at: now });
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.m.delete(key);
  }

  /** Live entries, least recently used first (expired ones are dropped on the way). */
  entries(now: number): [K, V][] {
    const out: [K, V][] = [];
    for (const [k, e] of [...this.m]) {
      if (this.expired(e.at, now)) this.m.delete(k);
      else out.push([k, e.value]);
    }
    return out;
  }

  /** Drops expired entries (the sweeper calls this; reads drop them anyway). */
  prune(now: number): void {
    if (this.ttlMs === undefined) return;
    for (const [k, e] of [...this.m]) if (this.expired(e.at, now)) this.m.delete(k);
  }

  private expired(at: number, now: number): boolean {
    return this.ttlMs !== undefined && now - at >= this.ttlMs;
  }
}
