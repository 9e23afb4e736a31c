/**
 * PC/SC through the `pcsclite` addon (built against libpcsclite-dev): readers and hot-plug, card
 * insert/remove events, exclusive connections, raw APDU transport. The addon is loaded on first use
 * (`openPcsc()`), so importing this module, and every `dmw` command that never touches a card, stays
 * free of native code; only `dmw card ...` and the app's card view pay for it.
 *
 * We drive the addon's native classes directly instead of its JS wrapper: the wrapper never reports
 * an empty reader list, and "no reader" must be an answer, not a wait.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ApduTransport } from './channel.js';

// --- the addon's native surface -------------------------------------------------------------------

interface NativeReader {
  name: string;
  get_status(cb: (err: Error | undefined, state: number, atr?: Buffer) => void): void;
  _connect(share: number, protocol: number, cb: (err: Error | null, protocol: number) => void): void;
  _disconnect(disposition: number, cb: (err: Error | null) => void): void;
  _transmit(data: Buffer, resLen: number, protocol: number, cb: (err: Error | null, data: Buffer) => void): void;
  close(): void;
  on(ev: '_end', f: () => void): void;
  removeAllListeners(): void;
}
interface NativePcsc {
  start(cb: (err: Error | undefined, readers?: Buffer) => void): void;
  close(): void;
}
interface Binding {
  PCSCLite: new () => NativePcsc;
  CardReader: new (name: string) => NativeReader;
}

const SCARD = {
  SHARE_SHARED: 2,
  SHARE_EXCLUSIVE: 1,
  PROTOCOL_T0: 1,
  PROTOCOL_T1: 2,
  LEAVE_CARD: 0,
  RESET_CARD: 1,
  UNPOWER_CARD: 2,
  STATE_UNKNOWN: 0x4,
  STATE_UNAVAILABLE: 0x8,
  STATE_EMPTY: 0x10,
  STATE_PRESENT: 0x20,
  STATE_EXCLUSIVE: 0x80,
  STATE_INUSE: 0x100,
  STATE_MUTE: 0x200,
} as const;

let binding: Binding | undefined;

/** Load the addon (once). Throws PcscError('no-addon') with the reason when it cannot be loaded. */
export function loadBinding(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  let b: Binding;
  try {
    const pkg = require.resolve('pcsclite/package.json');
    const bindings = createRequire(pkg)('bindings') as (o: { bindings: string; module_root: string }) => Binding;
    b = bindings({ bindings: 'pcsclite', module_root: dirname(pkg) });
  } catch (e) {
    throw new PcscError(
      `cannot load the pcsclite addon (${(e as Error).message.split('\n')[0]}); install libpcsclite-dev and run npm ci`,
      'no-addon',
    );
  }
  // The addon emits '_end' through `this.emit`: give its classes EventEmitter's methods, as its wrapper does.
  for (const C of [b.PCSCLite, b.CardReader]) {
    for (const k of Object.getOwnPropertyNames(EventEmitter.prototype)) {
      if (k === 'constructor' || k in C.prototype) continue;
      Object.defineProperty(C.prototype, k, Object.getOwnPropertyDescriptor(EventEmitter.prototype, k)!);
    }
  }
  binding = b;
  return b;
}

/** Path of the addon's build, for diagnostics. */
export function addonPath(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('pcsclite/package.json')), 'build/Release/pcsclite.node');
  } catch {
    return undefined;
  }
}

// --- errors ---------------------------------------------------------------------------------------

export type PcscErrorKind =
  | 'no-addon'
  | 'no-service' // pcscd not running
  | 'no-reader'
  | 'unknown-reader'
  | 'no-card'
  | 'removed'
  | 'reset'
  | 'sharing' // another application holds the card
  | 'unresponsive'
  | 'timeout'
  | 'closed'
  | 'other';

const CODES: Record<number, PcscErrorKind> = {
  0x8010001d: 'no-service',
  0x80100017: 'no-service', // SCARD_E_READER_UNAVAILABLE
  0x8010002e: 'no-reader',
  0x80100009: 'unknown-reader',
  0x8010000c: 'no-card',
  0x80100069: 'removed',
  0x80100068: 'reset',
  0x8010000b: 'sharing',
  0x80100066: 'unresponsive',
  0x80100067: 'unresponsive', // unpowered
  0x8010000a: 'timeout',
};

export class PcscError extends Error {
  constructor(
    message: string,
    readonly kind: PcscErrorKind,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'PcscError';
  }

  /** From an addon error such as `SCardTransmit error: Card was removed.(0x80100069)`. */
  static from(e: unknown, context: string): PcscError {
    if (e instanceof PcscError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    const m = /\(0x([0-9a-fA-F]{8})\)/.exec(msg);
    const code = m ? Number.parseInt(m[1]!, 16) : undefined;
    const kind = (code !== undefined ? CODES[code] : undefined) ?? 'other';
    return new PcscError(`${context}: ${msg}`, kind, code);
  }
}

// --- readers and events ---------------------------------------------------------------------------

export interface ReaderInfo {
  name: string;
  /** A card is in the reader. */
  present: boolean;
  atr?: Uint8Array;
  /** Another application holds the card exclusively / shares it. */
  exclusive: boolean;
  inUse: boolean;
  /** The card does not answer the reset. */
  mute: boolean;
  /** Raw SCARD_STATE_* bits. */
  state: number;
}

export interface PcscEvents {
  'reader-added': [name: string];
  'reader-removed': [name: string];
  'card-inserted': [reader: string, atr: Uint8Array];
  'card-removed': [reader: string];
  status: [info: ReaderInfo];
  error: [error: PcscError];
}

interface ReaderEntry {
  native: NativeReader;
  info: ReaderInfo | undefined;
  firstStatus: Promise<void>;
}

/**
 * One PC/SC context: the reader list kept current (hot-plug), a status watch per reader, and
 * connections. Events are for the app's card view; the CLI uses `ready()` and `readers()`.
 */
export class PcscMonitor extends EventEmitter<PcscEvents> {
  private readonly entries = new Map<string, ReaderEntry>();
  private readonly native: NativePcsc;
  private enumerated!: Promise<void>;
  private closed = false;
  /** When a watch thread last reported (performance.now()): see close(). */
  private lastReport = 0;

  private constructor(private readonly b: Binding) {
    super();
    try {
      this.native = new b.PCSCLite();
    } catch (e) {
      const err = PcscError.from(e, 'PC/SC');
      if (err.kind === 'no-service' || err.kind === 'other') {
        throw new PcscError('no PC/SC service: pcscd is not running (start it with `pcscd` or `systemctl start pcscd.socket`)', 'no-service', err.code);
      }
      throw err;
    }
  }

  static open(): PcscMonitor {
    const m = new PcscMonitor(loadBinding());
    m.start();
    return m;
  }

  private start(): void {
    let first: (() => void) | undefined;
    let firstErr: ((e: Error) => void) | undefined;
    this.enumerated = new Promise<void>((resolve, reject) => {
      first = resolve;
      firstErr = reject;
    });
    // Swallow the rejection until someone awaits ready(): a late error must not crash the process.
    this.enumerated.catch(() => undefined);
    this.native.start((err, data) => {
      this.lastReport = performance.now();
      if (this.closed) return;
      if (err) {
        const e = PcscError.from(err, 'PC/SC reader watch');
        if (firstErr) firstErr(e);
        else this.emit('error', e);
        first = firstErr = undefined;
        return;
      }
      const names = parseReaderNames(data);
      for (const name of names) if (!this.entries.has(name)) this.addReader(name);
      for (const name of [...this.entries.keys()]) if (!names.includes(name)) this.removeReader(name);
      first?.();
      first = firstErr = undefined;
    });
  }

  private addReader(name: string): void {
    const native = new this.b.CardReader(name);
    let resolveFirst!: () => void;
    const entry: ReaderEntry = { native, info: undefined, firstStatus: new Promise<void>((r) => (resolveFirst = r)) };
    this.entries.set(name, entry);
    native.on('_end', () => {
      native.removeAllListeners();
      resolveFirst();
    });
    native.get_status((err, state, atr) => {
      this.lastReport = performance.now();
      if (this.closed) return;
      if (err) {
        this.emit('error', PcscError.from(err, `reader "${name}"`));
        resolveFirst();
        return;
      }
      const before = entry.info;
      const info = readerInfo(name, state, atr);
      entry.info = info;
      resolveFirst();
      this.emit('status', info);
      if (info.present && (!before?.present || (before.atr && info.atr && !sameBytes(before.atr, info.atr)))) this.emit('card-inserted', name, info.atr ?? new Uint8Array(0));
      else if (!info.present && before?.present) this.emit('card-removed', name);
    });
    this.emit('reader-added', name);
  }

  private removeReader(name: string): void {
    const e = this.entries.get(name);
    if (!e) return;
    this.entries.delete(name);
    if (e.info?.present) this.emit('card-removed', name);
    try {
      e.native.close();
    } catch {
      // already gone with its reader
    }
    this.emit('reader-removed', name);
  }

  /** Resolves when the reader list and each reader's state are known (or after `timeoutMs`). */
  async ready(timeoutMs = 3000): Promise<void> {
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new PcscError(`PC/SC did not list its readers within ${timeoutMs} ms`, 'timeout')), timeoutMs);
      t.unref();
    });
    await Promise.race([this.enumerated, timeout]);
    await Promise.race([Promise.all([...this.entries.values()].map((e) => e.firstStatus)), timeout]);
  }

  readers(): ReaderInfo[] {
    return [...this.entries.entries()].map(([name, e]) => e.info ?? readerInfo(name, SCARD.STATE_UNKNOWN, undefined));
  }

  /** The named reader, or the first reader holding a card. Throws PcscError naming what is missing. */
  pickReader(name?: string): ReaderInfo {
    const all = this.readers();
    if (all.length === 0) throw new PcscError('no smart-card reader found (pcscd lists none)', 'no-reader');
    if (name !== undefined) {
      const r = all.find((x) => x.name === name) ?? all.find((x) => x.name.startsWith(name));
      if (!r) throw new PcscError(`no reader named "${name}" (readers: ${all.map((x) => `"${x.name}"`).join(', ')})`, 'unknown-reader');
      if (!r.present) throw new PcscError(`no card in reader "${r.name}"`, 'no-card');
      return r;
    }
    const r = all.find((x) => x.present && !x.mute);
    if (!r) throw new PcscError(`no card in any reader (${all.map((x) => `"${x.name}"`).join(', ')})`, 'no-card');
    return r;
  }

  /** Wait until a card is in `name` (or any reader), up to `timeoutMs`. */
  waitForCard(name: string | undefined, timeoutMs: number): Promise<ReaderInfo> {
    const has = (): ReaderInfo | undefined => this.readers().find((r) => r.present && !r.mute && (name === undefined || r.name === name));
    const now = has();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('status', on);
        reject(new PcscError(`no card ${name ? `in reader "${name}"` : 'in any reader'} within ${timeoutMs} ms`, 'no-card'));
      }, timeoutMs);
      const on = (): void => {
        const r = has();
        if (!r) return;
        clearTimeout(t);
        this.off('status', on);
        resolve(r);
      };
      this.on('status', on);
    });
  }

  /**
   * Connect to the card in `reader`. Exclusive by default: no other application can send APDUs
   * between ours for as long as the connection lasts (a flash is one exclusive transaction).
   */
  connect(reader: string, opts: { exclusive?: boolean } = {}): Promise<PcscConnection> {
    const e = this.entries.get(reader);
    if (!e) return Promise.reject(new PcscError(`no reader named "${reader}"`, 'unknown-reader'));
    const share = opts.exclusive === false ? SCARD.SHARE_SHARED : SCARD.SHARE_EXCLUSIVE;
    return new Promise((resolve, reject) => {
      e.native._connect(share, SCARD.PROTOCOL_T0 | SCARD.PROTOCOL_T1, (err, protocol) => {
        if (err) {
          const pe = PcscError.from(err, `connecting to the card in "${reader}"`);
          if (pe.kind === 'sharing') reject(new PcscError(`the card in "${reader}" is in use by another application`, 'sharing', pe.code));
          else if (pe.kind === 'no-card') reject(new PcscError(`no card in reader "${reader}"`, 'no-card', pe.code));
          else reject(pe);
          return;
        }
        resolve(new PcscConnection(reader, e.native, protocol, e.info?.atr ?? new Uint8Array(0)));
      });
    });
  }

  /**
   * Stop every watch thread and release the context; the process can then exit.
   *
   * The addon cancels a watch thread with SCardCancel and then joins it. A cancel sent while the
   * thread is between two SCardGetStatusChange calls is lost, and the join then waits forever. A
   * thread re-enters its wait microseconds after it reports, so we close only once no thread has
   * reported for SETTLE_MS: by then each one is inside its wait, where the cancel reaches it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (;;) {
      const quiet = performance.now() - this.lastReport;
      if (quiet >= SETTLE_MS) break;
      await new Promise((r) => setTimeout(r, SETTLE_MS - quiet));
    }
    for (const e of this.entries.values()) {
      try {
        e.native.close();
      } catch {
        // ignore
      }
    }
    this.entries.clear();
    try {
      this.native.close();
    } catch {
      // ignore
    }
    this.removeAllListeners();
  }
}

const SETTLE_MS = 120;

/** An open connection to a card: the raw APDU transport a CardChannel runs over. */
export class PcscConnection implements ApduTransport {
  private open = true;

  constructor(
    readonly reader: string,
    private readonly native: NativeReader,
    /** SCARD_PROTOCOL_T0 (1) or T1 (2). */
    readonly protocolCode: number,
    readonly atr: Uint8Array,
  ) {}

  get protocol(): 'T=0' | 'T=1' | 'other' {
    return this.protocolCode === SCARD.PROTOCOL_T0 ? 'T=0' : this.protocolCode === SCARD.PROTOCOL_T1 ? 'T=1' : 'other';
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    if (!this.open) return Promise.reject(new PcscError('the card connection is closed', 'closed'));
    return new Promise((resolve, reject) => {
      this.native._transmit(Buffer.from(command), 4096, this.protocolCode, (err, data) => {
        if (err) {
          const pe = PcscError.from(err, `reader "${this.reader}"`);
          if (pe.kind === 'removed' || pe.kind === 'no-card') reject(new PcscError(`the card was removed from "${this.reader}"`, 'removed', pe.code));
          else reject(pe);
          return;
        }
        resolve(new Uint8Array(data));
      });
    });
  }

  /** Release the card: 'leave' it powered (default), 'reset' or 'unpower' it. */
  disconnect(disposition: 'leave' | 'reset' | 'unpower' = 'leave'): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    const d = disposition === 'reset' ? SCARD.RESET_CARD : disposition === 'unpower' ? SCARD.UNPOWER_CARD : SCARD.LEAVE_CARD;
    return new Promise((resolve) => {
      // A card already removed cannot be released cleanly: that is not worth an error.
      this.native._disconnect(d, () => resolve());
    });
  }
}

function readerInfo(name: string, state: number, atr: Buffer | undefined): ReaderInfo {
  const present = (state & SCARD.STATE_PRESENT) !== 0;
  const info: ReaderInfo = {
    name,
    present,
    exclusive: (state & SCARD.STATE_EXCLUSIVE) !== 0,
    inUse: (state & SCARD.STATE_INUSE) !== 0,
    mute: (state & SCARD.STATE_MUTE) !== 0,
    state,
  };
  if (present && atr && atr.length > 0) info.atr = new Uint8Array(atr);
  return info;
}

/** `A\0B\0\0` -> ['A', 'B']. */
export function parseReaderNames(data: Buffer | undefined): string[] {
  if (!data || data.length === 0) return [];
  return data
    .toString('utf8')
    .split('\u0000')
    .filter((s) => s.length > 0);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
