/**
 * A pool of virtual handsets: the app's Devices view (add N, start, stop, connect) and load runs
 * (`dmw sim`, the server benchmark) drive N handsets through it.
 *
 *   const pool = await HandsetPool.create({
 *     dir: '/data/handsets',                                   // trees persist here, reloaded on create
 *     template: { encoding: 'wbxml', device: { mod: 'AM-X1' }, accounts: (devId) => [account] },
 *   });
 *   await pool.add(10);                                        // IMEI:<15 digits, Luhn>, started
 *   const outcomes = await pool.runAll({ concurrency: 50 });   // one client-initiated session each
 *   pool.events.on((e) => ...);                                // every handset's events
 *   await pool.close();
 *
 * Handsets in the pool are served package #0 by one HTTP listener (`notify`), so a server's
 * HttpNotifier reaches each at `handset.notifyUrl`.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { DmAccountSpec, DeviceTreeOptions } from '../tree/mos.js';
import type { DmTree } from '../tree/tree.js';
import { loadTree } from '../tree/persist.js';
import { randomImeiDevId } from './devid.js';
import { HandsetEvents, type HandsetEvent } from './events.js';
import { VirtualHandset, type ConnectOptions, type HandsetOptions, type SessionOutcome } from './handset.js';
import { NotificationListener } from './notify-listener.js';
import type { HandsetTls } from './transport.js';
import type { VirtualHandset as AppHandsetView } from '../api/handsets.js';

export interface HandsetTemplate extends Omit<HandsetOptions, 'tree' | 'treeFile' | 'device' | 'tls'> {
  /** DevInfo / DevDetail of new handsets (DevId is generated unless given to add()). */
  device?: Omit<DeviceTreeOptions, 'devId' | 'accounts'>;
  /** DMAcc accounts of a new handset. */
  accounts?: DmAccountSpec[] | ((devId: string) => DmAccountSpec[]);
  /** TLS settings; a function gives each handset its own client certificate (CN = DevId). */
  tls?: HandsetTls | ((devId: string) => HandsetTls | Promise<HandsetTls>);
  /** Adds to a new tree (vendor nodes the server's jobs touch, ...), before its first save. */
  setup?: (tree: DmTree, devId: string) => void;
}

export interface PoolOptions {
  template?: HandsetTemplate;
  /** Each handset's tree is kept in DIR/<DevId>.json; create() loads the ones already there. */
  dir?: string;
  /** The package #0 listener (default 127.0.0.1, any port); false: none. */
  notify?: { host?: string; port?: number } | false;
}

/** What the Devices view shows of a handset (main/api VirtualHandset), plus a little. */
export interface HandsetView extends AppHandsetView {
  busy: boolean;
  notifyUrl: string | null;
}

export interface RunAllOptions extends Omit<ConnectOptions, 'sessionId'> {
  /** Sessions at once. Default 32. */
  concurrency?: number;
  /** Only these handsets (default: every running one). */
  devIds?: string[];
  /** Called as each session ends. */
  onOutcome?: (o: SessionOutcome) => void;
}

function fileName(devId: string): string {
  return `${devId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
}

export class HandsetPool {
  /** Events of every handset in the pool. */
  readonly events = new HandsetEvents();
  private readonly handsetsById = new Map<string, VirtualHandset>();
  private readonly unsubscribe = new Map<string, () => void>();
  private readonly changeListeners = new Set<() => void>();
  /** Every handset's events go through this to the pool's listeners (and session starts and ends to onChange's). */
  private readonly relay = (e: HandsetEvent): void => {
    this.events.emit(e);
    if (e.type === 'session-start' || e.type === 'session-end') this.changed();
  };
  /**
   * Is anyone listening to the pool? While nobody is, its handsets build no events for it (a load
   * run of thousands of sessions pays for none of them).
   */
  private readonly heard = (): boolean => this.changeListeners.size > 0 || this.events.active;

  private constructor(
    readonly options: PoolOptions,
    readonly listener: NotificationListener | undefined,
  ) {}

  static async create(options: PoolOptions = {}): Promise<HandsetPool> {
    const listener = options.notify === false ? undefined : await NotificationListener.start(options.notify ?? {});
    const pool = new HandsetPool(options, listener);
    if (options.dir) {
      mkdirSync(options.dir, { recursive: true });
      for (const f of readdirSync(options.dir).filter((x) => x.endsWith('.json')).sort()) {
        const treeFile = path.join(options.dir, f);
        const tree = await loadTree(treeFile);
        const devId = tree.lookup('./DevInfo/DevId')?.value;
        const h = await VirtualHandset.open({ ...(await pool.handsetOptions(typeof devId === 'string' ? devId : undefined)), tree, treeFile });
        pool.adopt(h);
      }
    }
    return pool;
  }

  get size(): number {
    return this.handsetsById.size;
  }

  get(devId: string): VirtualHandset | undefined {
    return this.handsetsById.get(devId);
  }

  handsets(): VirtualHandset[] {
    return [...this.handsetsById.values()];
  }

  list(): HandsetView[] {
    return this.handsets().map((h) => ({
      devId: h.devId,
      model: h.model,
      running: h.running,
      sessions: h.sessions,
      lastSessionAt: h.lastSessionAt,
      lastError: h.lastError,
      busy: h.busy,
      notifyUrl: h.notifyUrl ?? null,
    }));
  }

  /** Called after any change of the list or of a handset's state. Returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => {
      this.changeListeners.delete(fn);
    };
  }

  private changed(): void {
    for (const fn of [...this.changeListeners]) {
      try {
        fn();
      } catch (e) {
        process.emitWarning(`handset pool change listener failed: ${(e as Error).message}`);
      }
    }
  }

  private async handsetOptions(devId: string | undefined): Promise<HandsetOptions> {
    const { device: _d, accounts: _a, tls, setup: _s, ...rest } = this.options.template ?? {};
    const opts: HandsetOptions = { ...rest };
    if (typeof tls === 'function') {
      if (devId !== undefined) opts.tls = await tls(devId);
    } else if (tls) opts.tls = tls;
    return opts;
  }

  /** Takes a handset in (its events, its notifications). It keeps its own options. */
  adopt(h: VirtualHandset): VirtualHandset {
    const devId = h.devId;
    if (this.handsetsById.has(devId)) throw new Error(`a handset ${devId} is already in the pool`);
    this.handsetsById.set(devId, h);
    this.unsubscribe.set(devId, h.on(this.relay, this.heard));
    this.listener?.register(h);
    this.changed();
    return h;
  }

  /**
   * `count` new handsets, running, each with a fresh `IMEI:` DevId (15 digits, Luhn check digit) or
   * the given ones, and the template's accounts.
   */
  async add(count: number, opts: { model?: string; devIds?: string[]; device?: Omit<DeviceTreeOptions, 'devId' | 'accounts'> } = {}): Promise<VirtualHandset[]> {
    if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a whole number, got ${count}`);
    const t = this.options.template ?? {};
    const taken = new Set(this.handsetsById.keys());
    const out: VirtualHandset[] = [];
    for (let i = 0; i < count; i++) {
      const devId = opts.devIds?.[i] ?? randomImeiDevId(taken);
      if (taken.has(devId)) throw new Error(`a handset ${devId} is already in the pool`);
      taken.add(devId);
      const accounts = typeof t.accounts === 'function' ? t.accounts(devId) : t.accounts ?? [];
      const device: DeviceTreeOptions = { ...t.device, ...opts.device, ...(opts.model !== undefined ? { mod: opts.model } : {}), devId, accounts };
      const base = await this.handsetOptions(devId);
      const h = await VirtualHandset.open({ ...base, device, ...(this.options.dir ? { treeFile: path.join(this.options.dir, fileName(devId)) } : {}) });
      if (t.setup) {
        t.setup(h.tree, devId);
        await h.save();
      }
      out.push(this.adopt(h));
    }
    return out;
  }

  private must(devId: string): VirtualHandset {
    const h = this.handsetsById.get(devId);
    if (!h) throw new Error(`no handset ${devId} in the pool`);
    return h;
  }

  start(devId: string): void {
    this.must(devId).running = true;
    this.changed();
  }

  stop(devId: string): void {
    this.must(devId).running = false;
    this.changed();
  }

  connect(devId: string, opts: ConnectOptions = {}): Promise<SessionOutcome> {
    return this.must(devId).connect(opts);
  }

  /** One session for each chosen (default: every running) handset, `concurrency` at a time. */
  async runAll(opts: RunAllOptions = {}): Promise<SessionOutcome[]> {
    const { concurrency = 32, devIds, onOutcome, ...connect } = opts;
    const chosen = devIds ? devIds.map((d) => this.must(d)) : this.handsets().filter((h) => h.running);
    const out: SessionOutcome[] = new Array(chosen.length);
    let next = 0;
    const worker = async () => {
      while (next < chosen.length) {
        const i = next++;
        out[i] = await chosen[i]!.connect(connect);
        onOutcome?.(out[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, chosen.length)) }, worker));
    return out;
  }

  /** Takes a handset out of the pool (its tree file stays). */
  remove(devId: string): void {
    const h = this.must(devId);
    this.unsubscribe.get(devId)?.();
    this.unsubscribe.delete(devId);
    this.listener?.unregister(devId);
    this.handsetsById.delete(devId);
    h.close();
    this.changed();
  }

  async close(): Promise<void> {
    for (const h of this.handsetsById.values()) h.close();
    for (const off of this.unsubscribe.values()) off();
    this.unsubscribe.clear();
    await this.listener?.close();
  }
}
