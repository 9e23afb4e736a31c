/**
 * The SQLite store keeps the device rows it read while the group transaction is open (the write
 * lock is ours, so nobody else changes them) and must drop one whenever it writes that row. Every
 * public writer of the devices table is checked here: the write is visible to the next read in the
 * same open group. And every statement text that writes the table goes through the one helper that
 * drops the row (deviceWrite / shapedDeviceWrite), so a new writer cannot forget it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerStore } from '../../main/store/sqlite/server-store.js';
import type { StoredDevice } from '../../main/store/types.js';

const dirs: string[] = [];
function open(): ServerStore {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-devw-'));
  dirs.push(d);
  return ServerStore.open(d, { synchronous: 'NORMAL' });
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = 1_700_000_000_000;
const at = (ms: number) => new Date(ms).toISOString();
const AUTH = { authFailures: [], serverNonce: 'bm9uY2U=' };

/** Each public writer of the devices table, and what the next read must show of its write. */
const WRITERS: [string, (s: ServerStore, dev: string) => void, (d: StoredDevice | undefined) => void][] = [
  ['touchDevice', (s, dev) => s.touchDevice(dev, T + 1), (d) => expect(d?.lastSeen).toBe(at(T + 1))],
  ['setDevInfo', (s, dev) => s.setDevInfo(dev, { Mod: 'X1' }), (d) => expect(d?.devInfo.Mod).toBe('X1')],
  ['setDeviceAuth', (s, dev) => s.setDeviceAuth(dev, AUTH), (d) => expect(d?.auth.serverNonce).toBe(AUTH.serverNonce)],
  ['setDeviceAuth with seenAt', (s, dev) => s.setDeviceAuth(dev, AUTH, T + 2), (d) => expect([d?.auth.serverNonce, d?.lastSeen]).toEqual([AUTH.serverNonce, at(T + 2)])],
  ['writeDevice lastSeen', (s, dev) => s.writeDevice(dev, { lastSeen: T + 3 }), (d) => expect(d?.lastSeen).toBe(at(T + 3))],
  ['writeDevice auth', (s, dev) => s.writeDevice(dev, { auth: AUTH }), (d) => expect(d?.auth.serverNonce).toBe(AUTH.serverNonce)],
  ['writeDevice devInfo', (s, dev) => s.writeDevice(dev, { devInfo: { Man: 'Y' } }), (d) => expect(d?.devInfo.Man).toBe('Y')],
  ['writeDevice all', (s, dev) => s.writeDevice(dev, { lastSeen: T + 4, auth: AUTH, devInfo: { Man: 'Z' } }),
    (d) => expect([d?.lastSeen, d?.auth.serverNonce, d?.devInfo.Man]).toEqual([at(T + 4), AUTH.serverNonce, 'Z'])],
  ['markSeen', (s, dev) => s.markSeen(dev, T + 5), (d) => expect(d?.lastSeen).toBe(at(T + 5))],
  ['setDeviceCredential', (s, dev) => s.setDeviceCredential(dev, { name: 'n', secret: 's' }, T + 6), (d) => expect(d?.clientCred).toEqual({ name: 'n', secret: 's' })],
  ['setNotifyUrl', (s, dev) => s.setNotifyUrl(dev, 'http://h/p', T + 7), (d) => expect(d?.notifyUrl).toBe('http://h/p')],
];

describe('device writes and the rows read in the open group (SQLite store)', () => {
  for (const [name, write, check] of WRITERS) {
    it(`${name}: the next read in the same open group sees the write`, async () => {
      const s = open();
      try {
        s.touchDevice('d1', T);
        await s.group(() => {
          // Read first, so the group holds the row; then write it and read again.
          expect(s.device('d1')?.lastSeen).toBe(at(T));
          expect(s.seeDevice('d1', T).created).toBe(false);
          write(s, 'd1');
          check(s.device('d1'));
        });
        check(s.device('d1'));
      } finally {
        s.close();
      }
    });
  }

  it('seeDevice creating a device: the next read in the same open group finds it', async () => {
    const s = open();
    try {
      await s.group(() => {
        expect(s.device('d2')).toBeUndefined();
        expect(s.seeDevice('d2', T)).toMatchObject({ created: true, written: true });
        expect(s.device('d2')?.firstSeen).toBe(at(T));
        expect(s.seeDevice('d2', T + 1)).toMatchObject({ created: false, written: false });
      });
    } finally {
      s.close();
    }
  });

  it('every statement that writes the devices table is built through deviceWrite or shapedDeviceWrite', () => {
    const dir = path.join(__dirname, '../../main/store/sqlite');
    const writes = /\b(INSERT(\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+devices\b/;
    const found: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      readFileSync(path.join(dir, f), 'utf8').split('\n').forEach((line, i) => {
        if (writes.test(line) && !/\b(deviceWrite|shapedDeviceWrite)\(/.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
