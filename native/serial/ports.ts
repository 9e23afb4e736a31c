/**
 * Serial port discovery and hot-plug. On Linux serialport's list() runs `udevadm info -e` and, when
 * udevadm is missing, the spawn error is unhandled and kills the process; so we only call it when
 * udevadm is on PATH, and otherwise read the same facts from /sys ourselves.
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface PortInfo {
  path: string;
  /** USB vendor / product id, 4 lowercase hex digits. */
  vendorId?: string;
  productId?: string;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  /** /dev/serial/by-id name when udev made one. */
  pnpId?: string;
}

export interface PortListing {
  ports: PortInfo[];
  /** Where the facts came from: `udevadm` (through serialport) or `sysfs` (fallback). */
  source: 'udevadm' | 'sysfs' | 'serialport';
  note?: string;
}

export function findOnPath(exe: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, exe);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const readAttr = (dir: string, name: string): string | undefined => {
  try {
    const v = readFileSync(path.join(dir, name), 'utf8').trim();
    return v || undefined;
  } catch {
    return undefined;
  }
};

/** The same listing serialport gives, from /sys/class/tty: ports with a device behind them. */
export function listPortsFromSysfs(sysRoot = '/sys', devRoot = '/dev'): PortInfo[] {
  const ttyDir = path.join(sysRoot, 'class/tty');
  let names: string[];
  try {
    names = readdirSync(ttyDir);
  } catch {
    return [];
  }
  const byId = new Map<string, string>();
  try {
    for (const n of readdirSync(path.join(devRoot, 'serial/by-id'))) {
      try {
        byId.set(path.basename(realpathSync(path.join(devRoot, 'serial/by-id', n))), n);
      } catch {
        // dangling link
      }
    }
  } catch {
    // no udev-made links
  }
  const out: PortInfo[] = [];
  for (const name of names.sort()) {
    if (!/^(ttyS|ttyUSB|ttyACM|ttyAMA|ttyWCH|ttyXRUSB|ttyMFD|ttyO|rfcomm)/.test(name)) continue;
    const dev = path.join(ttyDir, name, 'device');
    if (!existsSync(dev)) continue;
    const info: PortInfo = { path: path.join(devRoot, name) };
    // Walk up from the interface to the USB device, which has idVendor / idProduct.
    let dir: string;
    try {
      dir = realpathSync(dev);
    } catch {
      continue;
    }
    for (let i = 0; i < 6 && dir !== path.dirname(dir); i++, dir = path.dirname(dir)) {
      const vid = readAttr(dir, 'idVendor');
      if (vid) {
        info.vendorId = vid.toLowerCase();
        const pid = readAttr(dir, 'idProduct');
        if (pid) info.productId = pid.toLowerCase();
        const man = readAttr(dir, 'manufacturer');
        if (man) info.manufacturer = man;
        const prod = readAttr(dir, 'product');
        if (prod) info.product = prod;
        const serial = readAttr(dir, 'serial');
        if (serial) info.serialNumber = serial;
        break;
      }
    }
    const id = byId.get(name);
    if (id) info.pnpId = id;
    // Legacy 8250 ports without hardware answer but have no USB facts; keep them like serialport does.
    out.push(info);
  }
  return out;
}

export async function listPorts(opts: { envPath?: string } = {}): Promise<PortListing> {
  if (process.platform === 'linux' && !findOnPath('udevadm', opts.envPath)) {
    return { ports: listPortsFromSysfs(), source: 'sysfs', note: 'udevadm not found: read /sys directly (install udev for by-id names)' };
  }
  const { SerialPort } = await import('serialport');
  const list = await SerialPort.list();
  const ports = list.map((p) => {
    const info: PortInfo = { path: p.path };
    if (p.vendorId) info.vendorId = p.vendorId.toLowerCase();
    if (p.productId) info.productId = p.productId.toLowerCase();
    if (p.manufacturer) info.manufacturer = p.manufacturer;
    if (p.serialNumber) info.serialNumber = p.serialNumber;
    if (p.pnpId) info.pnpId = p.pnpId;
    return info;
  });
  return { ports, source: process.platform === 'linux' ? 'udevadm' : 'serialport' };
}

const portKey = (p: PortInfo) => `${p.path}|${p.vendorId ?? ''}:${p.productId ?? ''}|${p.serialNumber ?? ''}`;

export interface PortWatcherEvents {
  attach: [port: PortInfo];
  detach: [port: PortInfo];
  error: [error: Error];
}

/**
 * Hot-plug by polling the listing (serialport has no arrival events): a changed set of ports emits
 * attach / detach. The first listing is the baseline and emits nothing.
 */
export class PortWatcher extends EventEmitter<PortWatcherEvents> {
  private known?: Map<string, PortInfo>;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly lister: () => Promise<PortInfo[]> = async () => (await listPorts()).ports,
    private readonly intervalMs = 1000,
  ) {
    super();
  }

  async start(): Promise<PortInfo[]> {
    const first = await this.lister();
    this.known = new Map(first.map((p) => [portKey(p), p]));
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    return first;
  }

  /** One comparison now (tests call it directly instead of waiting for the timer). */
  async poll(): Promise<void> {
    if (this.busy || !this.known) return;
    this.busy = true;
    try {
      const now = new Map((await this.lister()).map((p) => [portKey(p), p]));
      for (const [k, p] of this.known) if (!now.has(k)) this.emit('detach', p);
      for (const [k, p] of now) if (!this.known.has(k)) this.emit('attach', p);
      this.known = now;
    } catch (e) {
      if (this.listenerCount('error')) this.emit('error', e as Error);
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
