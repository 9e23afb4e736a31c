/**
 * A byte link: what the AT channel, the console and the simulated modem run over. A serial port
 * (serialport addon, loaded lazily so pure commands never touch the native module) or an in-memory
 * pair for tests.
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants } from 'node:fs';

export interface ByteLinkEvents {
  data: [chunk: Uint8Array];
  /** The link is gone; `error` set when it vanished (unplugged, pty closed) rather than closed by us. */
  close: [error?: Error];
}

export interface ByteLink extends EventEmitter<ByteLinkEvents> {
  readonly name: string;
  readonly isOpen: boolean;
  write(data: Uint8Array | string): Promise<void>;
  close(): Promise<void>;
}

/** The port disappeared (USB unplugged, pty peer closed) or was never there. */
export class PortGoneError extends Error {
  constructor(
    readonly port: string,
    detail: string,
    /** The bytes had reached the OS when it failed (the drain did not finish): they may still arrive. */
    readonly afterWrite = false,
  ) {
    super(`${port}: ${detail}`);
  }
}

export interface LineSettings {
  baudRate?: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits?: 1 | 1.5 | 2;
  /** RTS/CTS hardware flow control (most USB modems want it off, some UART modules need it). */
  rtscts?: boolean;
}

export const DEFAULT_LINE: Required<LineSettings> = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false };

const toBuffer = (d: Uint8Array | string) => (typeof d === 'string' ? Buffer.from(d, 'latin1') : Buffer.from(d.buffer, d.byteOffset, d.byteLength));

class SerialLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private closedByUs = false;
  private gone = false;
  constructor(
    readonly name: string,
    private readonly port: import('serialport').SerialPort,
  ) {
    super();
    port.on('data', (d: Buffer) => this.emit('data', new Uint8Array(d)));
    port.on('error', () => {
      // Reported through 'close' (the addon closes the port after a fatal error); nothing else to do.
    });
    port.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (this.gone) return;
      this.gone = true;
      this.emit('close', this.closedByUs ? undefined : new PortGoneError(this.name, `port went away (${err?.message ?? 'closed'})`));
    });
  }

  get isOpen(): boolean {
    return !this.gone && this.port.isOpen;
  }

  write(data: Uint8Array | string): Promise<void> {
    if (!this.isOpen) return Promise.reject(new PortGoneError(this.name, 'port is closed'));
    return new Promise((resolve, reject) => {
      this.port.write(toBuffer(data), (err) => {
        if (err) return reject(new PortGoneError(this.name, `write failed (${err.message})`));
        this.port.drain((e) => (e ? reject(new PortGoneError(this.name, `port went away while sending (${e.message})`, true)) : resolve()));
      });
    });
  }

  close(): Promise<void> {
    this.closedByUs = true;
    if (this.gone || !this.port.isOpen) {
      this.gone = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

/** Opens a serial device with its line settings; a missing device is a PortGoneError naming it. */
export async function openSerialLink(path: string, settings: LineSettings = {}): Promise<ByteLink> {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PortGoneError(path, code === 'ENOENT' ? 'no such port' : code === 'EACCES' ? 'permission denied (are you in the dialout group?)' : `cannot open (${code})`);
  }
  const { SerialPort } = await import('serialport');
  const s = { ...DEFAULT_LINE, ...settings };
  const port = new SerialPort({ path, baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits, rtscts: s.rtscts, autoOpen: false, lock: true });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new PortGoneError(path, `cannot open (${err.message})`)) : resolve())));
  return new SerialLink(path, port);
}

class MemoryEnd extends EventEmitter<ByteLinkEvents> implements ByteLink {
  peer?: MemoryEnd;
  private open = true;
  constructor(
    readonly name: string,
    private readonly chunk: number,
  ) {
    super();
  }
  get isOpen(): boolean {
    return this.open;
  }
  write(data: Uint8Array | string): Promise<void> {
    if (!this.open) return Promise.reject(new PortGoneError(this.name, 'port is closed'));
    const bytes = new Uint8Array(toBuffer(data));
    const peer = this.peer!;
    // Delivered asynchronously and, when asked, in small pieces: real UARTs split lines anywhere.
    for (let i = 0; i < bytes.length; i += this.chunk) {
      const piece = bytes.slice(i, i + this.chunk);
      setImmediate(() => peer.open && peer.emit('data', piece));
    }
    return Promise.resolve();
  }
  /** Closing one end makes the other see the port vanish, like pulling the cable. */
  close(): Promise<void> {
    if (!this.open) return Promise.resolve();
    this.open = false;
    this.emit('close');
    const peer = this.peer!;
    setImmediate(() => {
      if (!peer.open) return;
      peer.open = false;
      peer.emit('close', new PortGoneError(peer.name, 'port went away (peer closed)'));
    });
    return Promise.resolve();
  }
}

/** Two connected in-memory ends; `chunk` bytes per delivery (1 to stress line splitting). */
export function memoryLinkPair(chunk = 4096): [ByteLink, ByteLink] {
  const a = new MemoryEnd('mem-a', chunk);
  const b = new MemoryEnd('mem-b', chunk);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
