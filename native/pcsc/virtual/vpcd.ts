/**
 * The virtual card's side of vsmartcard's vpcd protocol. pcscd loads the vpcd driver, which listens
 * on a TCP port per slot (Debian's /etc/reader.conf.d/vpcd: `DEVICENAME /dev/null:0x8C7B`, i.e. port
 * 35963 for "Virtual PCD 00 00" and 35964 for "Virtual PCD 00 01"); the card is a TCP client.
 * A connected client is an inserted card; closing the connection removes it.
 *
 * Frames both ways: 2-byte big-endian length + payload. A 1-byte payload from vpcd is a control code
 * (0 power off, 1 power on, 2 reset, 4 send the ATR); anything longer is a command APDU, answered
 * with one framed response APDU. Only ATR requests and APDUs are answered.
 */
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { VirtualUicc } from './uicc.js';

export const VPCD_DEFAULT_PORT = 35963;
export const VPCD_CTRL = { OFF: 0, ON: 1, RESET: 2, ATR: 4 } as const;

export interface VpcdClientOptions {
  host?: string;
  port?: number;
  /** Delay between connection attempts while vpcd is not listening (ms, default 200). */
  retryMs?: number;
  /**
   * Called before each APDU is answered: return 'remove' to pull the card out instead (the
   * connection closes without an answer, as a card yanked from a reader), e.g. to test mid-write removal.
   */
  beforeApdu?: (apdu: Uint8Array, n: number) => 'remove' | undefined;
}

export interface VpcdEvents {
  /** The card is in the reader (connected to vpcd). */
  inserted: [];
  /** The card left the reader (connection closed by either side). */
  removed: [reason: string];
  control: [code: number];
  apdu: [command: Uint8Array, response: Uint8Array];
  error: [error: Error];
}

/** Encode one vpcd frame. */
export function frame(payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`vpcd frame of ${payload.length} bytes`);
  const out = new Uint8Array(payload.length + 2);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/** Incremental frame reader: feed bytes, get whole payloads. */
export class FrameReader {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const out: Uint8Array[] = [];
    let i = 0;
    while (joined.length - i >= 2) {
      const n = (joined[i]! << 8) | joined[i + 1]!;
      if (joined.length - i - 2 < n) break;
      out.push(joined.slice(i + 2, i + 2 + n));
      i += 2 + n;
    }
    this.buf = joined.slice(i);
    return out;
  }
}

/** The card as a vpcd client: keeps (re)connecting while inserted, answers vpcd's frames. */
export class VpcdCardClient extends EventEmitter<VpcdEvents> {
  readonly host: string;
  readonly port: number;
  private readonly retryMs: number;
  private socket: Socket | undefined;
  private wanted = false;
  private timer: NodeJS.Timeout | undefined;
  private apdus = 0;
  connected = false;

  constructor(
    readonly card: VirtualUicc,
    private readonly opts: VpcdClientOptions = {},
  ) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? VPCD_DEFAULT_PORT;
    this.retryMs = opts.retryMs ?? 200;
  }

  /** Put the card in the reader: connect now and whenever the connection is lost. */
  insert(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }

  /** Pull the card out: close the connection and stop reconnecting. */
  remove(reason = 'removed'): void {
    this.wanted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.drop(reason);
  }

  /** Resolves once connected (vpcd accepted us), or rejects after `ms`. */
  waitInserted(ms = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('inserted', ok);
        reject(new Error(`vpcd at ${this.host}:${this.port} did not accept the card within ${ms} ms (is pcscd running with the vpcd driver?)`));
      }, ms);
      const ok = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.once('inserted', ok);
    });
  }

  private connect(): void {
    if (!this.wanted || this.socket) return;
    const s = new Socket();
    this.socket = s;
    const reader = new FrameReader();
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      this.emit('inserted');
    });
    s.on('data', (chunk: Buffer) => {
      for (const payload of reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.onFrame(s, payload);
    });
    s.on('error', () => {
      // ECONNREFUSED while vpcd is not up yet, ECONNRESET when pcscd stops: 'close' follows and retries.
    });
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      if (this.connected) {
        this.connected = false;
        this.card.powerOff();
        this.emit('removed', 'connection closed');
      }
      if (this.wanted) this.timer = setTimeout(() => this.connect(), this.retryMs);
    });
    s.connect(this.port, this.host);
  }

  private drop(reason: string): void {
    const s = this.socket;
    this.socket = undefined;
    if (s) s.destroy();
    if (this.connected) {
      this.connected = false;
      this.card.powerOff();
      this.emit('removed', reason);
    }
  }

  private onFrame(s: Socket, payload: Uint8Array): void {
    if (payload.length === 1) {
      const code = payload[0]!;
      this.emit('control', code);
      if (code === VPCD_CTRL.OFF) this.card.powerOff();
      else if (code === VPCD_CTRL.ON) this.card.powerOn();
      else if (code === VPCD_CTRL.RESET) this.card.reset();
      else if (code === VPCD_CTRL.ATR) s.write(frame(this.card.atr));
      return;
    }
    if (payload.length === 0) return;
    const n = ++this.apdus;
    if (this.opts.beforeApdu?.(payload, n) === 'remove') {
      this.remove('removed by fault injection');
      return;
    }
    let response: Uint8Array;
    try {
      response = this.card.process(payload);
    } catch (e) {
      this.emit('error', e as Error);
      response = Uint8Array.of(0x6f, 0x00);
    }
    s.write(frame(response));
    this.emit('apdu', payload, response);
  }
}
