/**
 * Port discovery without udevadm (serialport's list() would crash the process there), the sysfs
 * fallback on a fake /sys, hot-plug diffing, and the raw console.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/tools.js';
import { attachConsole } from '../../native/serial/console.js';
import { memoryLinkPair } from '../../native/serial/link.js';
import { findOnPath, listPorts, listPortsFromSysfs, PortWatcher, type PortInfo } from '../../native/serial/ports.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');

function fakeSys(): { sys: string; dev: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'dmw-sys-'));
  const sys = path.join(root, 'sys');
  const dev = path.join(root, 'dev');
  const usbDev = path.join(sys, 'devices/pci0000:00/usb1/1-2');
  const iface = path.join(usbDev, '1-2:1.0/ttyUSB0');
  mkdirSync(iface, { recursive: true });
  writeFileSync(path.join(usbDev, 'idVendor'), '12d1\n');
  writeFileSync(path.join(usbDev, 'idProduct'), '1506\n');
  writeFileSync(path.join(usbDev, 'manufacturer'), 'HUAWEI\n');
  writeFileSync(path.join(usbDev, 'product'), 'Mobile Broadband\n');
  writeFileSync(path.join(usbDev, 'serial'), 'SN123\n');
  const acmIface = path.join(sys, 'devices/pci0000:00/usb1/1-3/1-3:1.0');
  mkdirSync(acmIface, { recursive: true });
  writeFileSync(path.join(sys, 'devices/pci0000:00/usb1/1-3/idVendor'), '2C7C');
  writeFileSync(path.join(sys, 'devices/pci0000:00/usb1/1-3/idProduct'), '0125');
  const uart = path.join(sys, 'devices/platform/serial8250/tty/ttyS0');
  mkdirSync(uart, { recursive: true });
  const tty = path.join(sys, 'class/tty');
  for (const n of ['ttyUSB0', 'ttyACM0', 'ttyS0', 'ttyS1', 'tty0']) mkdirSync(path.join(tty, n), { recursive: true });
  symlinkSync(iface, path.join(tty, 'ttyUSB0/device'));
  symlinkSync(acmIface, path.join(tty, 'ttyACM0/device'));
  symlinkSync(uart, path.join(tty, 'ttyS0/device'));
  mkdirSync(path.join(dev, 'serial/by-id'), { recursive: true });
  writeFileSync(path.join(dev, 'ttyUSB0'), '');
  symlinkSync('../../ttyUSB0', path.join(dev, 'serial/by-id/usb-HUAWEI_Mobile-if00-port0'));
  return { sys, dev };
}

describe('port discovery', () => {
  it('reads USB VID/PID, manufacturer and serial number from /sys when udevadm is missing', () => {
    const { sys, dev } = fakeSys();
    const ports = listPortsFromSysfs(sys, dev);
    expect(ports).toEqual([
      { path: path.join(dev, 'ttyACM0'), vendorId: '2c7c', productId: '0125' },
      { path: path.join(dev, 'ttyS0') },
      {
        path: path.join(dev, 'ttyUSB0'),
        vendorId: '12d1',
        productId: '1506',
        manufacturer: 'HUAWEI',
        product: 'Mobile Broadband',
        serialNumber: 'SN123',
        pnpId: 'usb-HUAWEI_Mobile-if00-port0',
      },
    ]);
  });

  it('does not call serialport (which would crash) when udevadm is not on PATH', async () => {
    const l = await listPorts({ envPath: '/nonexistent' });
    expect(l.source).toBe('sysfs');
    expect(l.note).toMatch(/udevadm not found/);
    expect(findOnPath('sh', '/bin:/usr/bin')).toBeTruthy();
  });

  it('`dmw serial list` survives a PATH without udevadm and lists with it', () => {
    const without = spawnSync(process.execPath, [BIN, 'serial', 'list', '--json'], { env: { ...process.env, PATH: '/nonexistent' }, encoding: 'utf8', timeout: 30_000 });
    expect(without.stderr).toBe('');
    expect(without.status).toBe(0);
    expect(JSON.parse(without.stdout).source).toBe('sysfs');
    const text = spawnSync(process.execPath, [BIN, 'serial', 'list'], { env: { ...process.env, PATH: '/nonexistent' }, encoding: 'utf8', timeout: 30_000 });
    expect(text.status).toBe(0);
    expect(text.stderr).toMatch(/udevadm not found/);
    if (findOnPath('udevadm')) {
      const withUdev = spawnSync(process.execPath, [BIN, 'serial', 'list', '--json'], { encoding: 'utf8', timeout: 30_000 });
      expect(withUdev.status).toBe(0);
      expect(JSON.parse(withUdev.stdout).source).toBe('udevadm');
    }
  });
});

describe('hot-plug', () => {
  it('reports ports plugged in and pulled out between listings', async () => {
    const modem: PortInfo = { path: '/dev/ttyUSB0', vendorId: '12d1', productId: '1506', serialNumber: 'A' };
    const other: PortInfo = { path: '/dev/ttyACM0', vendorId: '2c7c', productId: '0125' };
    let now: PortInfo[] = [modem];
    const w = new PortWatcher(async () => now, 60_000);
    const events: string[] = [];
    w.on('attach', (p) => events.push(`+${p.path}`));
    w.on('detach', (p) => events.push(`-${p.path}`));
    expect(await w.start()).toEqual([modem]);
    now = [modem, other];
    await w.poll();
    now = [other];
    await w.poll();
    // Same path, different device (another handset on the same ttyUSB0): detach + attach.
    now = [other, { ...modem, serialNumber: 'B' }];
    await w.poll();
    w.stop();
    expect(events).toEqual(['+/dev/ttyACM0', '-/dev/ttyUSB0', '+/dev/ttyUSB0']);
  });
});

describe('raw console', () => {
  it('passes bytes through, or stamps each line with the time its first byte came', async () => {
    const [host, device] = memoryLinkPair(2);
    let out = '';
    const s = attachConsole(host, (c) => (out += typeof c === 'string' ? c : Buffer.from(c).toString('latin1')), { timestamps: true, now: () => new Date('2026-01-02T03:04:05.000Z') });
    await device.write('boot: ok\r\nmodem up\n\npartial');
    await new Promise((r) => setTimeout(r, 20));
    expect(out).toBe('[2026-01-02T03:04:05.000Z] boot: ok\r\n[2026-01-02T03:04:05.000Z] modem up\n\n[2026-01-02T03:04:05.000Z] partial');
    await device.close();
    expect(await s.done).toBeInstanceOf(Error);
  });
});
