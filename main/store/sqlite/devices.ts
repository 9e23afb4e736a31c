/**
 * The devices table of the SQLite store: who was seen when, DevInfo, auth state (nonces, failures),
 * per-device credentials and notification URL.
 */
import type Database from 'better-sqlite3';
import type { Credential, DeviceAuthState, StoredDevice } from '../types.js';
import { iso } from '../../util/iso-time.js';
import type { GroupCommit } from './group-commit.js';
import { deviceFromRow, type DeviceRow } from './rows.js';
import type { Statements } from './statements.js';

/** A message's changes to its device's row (ServerStore.writeDevice). */
export interface DeviceWrite {
  lastSeen?: number;
  auth?: DeviceAuthState;
  devInfo?: Record<string, string>;
}

export class DeviceTable {
  /**
   * Device rows read while the group transaction is open, by dev_id: until its COMMIT this
   * connection holds the write lock (BEGIN IMMEDIATE), so no other process can change them, and a
   * turn reads its device once (a package 1 is checked before its transaction and touched in it).
   * A write to a device row (every one goes through deviceWrite()), a rollback and the COMMIT
   * (dropReads(), from group-commit.ts) drop them.
   */
  private readonly rows = new Map<string, DeviceRow>();

  constructor(
    private readonly db: Database.Database,
    private readonly st: Statements,
    private readonly commits: GroupCommit,
  ) {}

  /** Forgets every row read: the group's transaction ended or rolled back a savepoint. */
  dropReads(): void {
    this.rows.clear();
  }

  device(devId: string): StoredDevice | undefined {
    const row = this.deviceRow(devId);
    return row && deviceFromRow(row);
  }

  /**
   * The statement for a write to the devices table, the only way to one: it first drops the row
   * `rows` holds for `devId`, so the next read in the open group sees the write.
   */
  private deviceWrite(devId: string, text: string): Database.Statement {
    this.rows.delete(devId);
    return this.st.sql(text);
  }

  /** deviceWrite() for a text that depends on the columns written (shaped()). */
  private shapedDeviceWrite(devId: string, key: string, text: () => string): Database.Statement {
    this.rows.delete(devId);
    return this.st.shaped(key, text);
  }

  /** The device's row, read once per group transaction (`rows`). */
  private deviceRow(devId: string): DeviceRow | undefined {
    const known = this.rows.get(devId);
    // inTransaction: a transaction SQLite rolled back by itself (a failed statement) holds no lock any more.
    if (known && this.db.inTransaction) return known;
    const row = this.st.sql('SELECT * FROM devices WHERE dev_id = ?').get(devId) as DeviceRow | undefined;
    if (row && this.commits.open && this.db.inTransaction) this.rows.set(devId, row);
    return row;
  }

  devices(): StoredDevice[] {
    return (this.st.sql('SELECT * FROM devices ORDER BY last_seen DESC').all() as DeviceRow[]).map(deviceFromRow);
  }

  /** Records that the device was seen now, creating it on first sight. */
  touchDevice(devId: string, now: number): { device: StoredDevice; created: boolean } {
    const at = iso(now);
    // Seen before is the common case: one statement.
    const seen = this.deviceWrite(devId, 'UPDATE devices SET last_seen = ? WHERE dev_id = ? RETURNING *').get(at, devId) as DeviceRow | undefined;
    if (seen) return { device: deviceFromRow(seen), created: false };
    const row = this.deviceWrite(devId, 'INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) RETURNING *').get(devId, at, at) as DeviceRow;
    return { device: deviceFromRow(row), created: true };
  }

  /**
   * Merges what the device reported into its DevInfo. One statement, and no write at all when the
   * device reports what it did last time (the usual case: every session starts with DevInfo).
   */
  setDevInfo(devId: string, info: Record<string, string>): void {
    this.deviceWrite(devId, 'UPDATE devices SET dev_info = json_patch(dev_info, @info) WHERE dev_id = @devId AND json_patch(dev_info, @info) IS NOT dev_info').run({ info: JSON.stringify(info), devId });
  }

  /** Stores the device's auth state (nonces, failures); with `seenAt`, also when it was last seen. */
  setDeviceAuth(devId: string, auth: DeviceAuthState, seenAt?: number): void {
    if (seenAt === undefined) this.deviceWrite(devId, 'UPDATE devices SET auth = ? WHERE dev_id = ?').run(JSON.stringify(auth), devId);
    else this.deviceWrite(devId, 'UPDATE devices SET auth = ?, last_seen = ? WHERE dev_id = ?').run(JSON.stringify(auth), iso(seenAt), devId);
  }

  /**
   * touchDevice without its write for a device the store knows: its row as it would be after the
   * touch (`lastSeen` now), for a caller that writes `last_seen` with the rest of the message's
   * device changes (writeDevice: one write per message). A new device is created here (`written`).
   */
  seeDevice(devId: string, now: number): { device: StoredDevice; created: boolean; written: boolean } {
    const row = this.deviceRow(devId);
    if (row) {
      const device = deviceFromRow(row);
      device.lastSeen = iso(now);
      return { device, created: false, written: false };
    }
    const at = iso(now);
    const made = this.deviceWrite(devId, 'INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) RETURNING *').get(devId, at, at) as DeviceRow;
    return { device: deviceFromRow(made), created: true, written: true };
  }

  /**
   * What a message changed in the device's row, in one statement: `lastSeen`, `auth` (replaced),
   * `devInfo` (merged as setDevInfo does). DevInfo alone writes nothing when it is what the row holds.
   */
  writeDevice(devId: string, w: DeviceWrite): void {
    const sets: string[] = [];
    const args: unknown[] = [];
    if (w.auth !== undefined) {
      sets.push('auth = ?');
      args.push(JSON.stringify(w.auth));
    }
    if (w.lastSeen !== undefined) {
      sets.push('last_seen = ?');
      args.push(iso(w.lastSeen));
    }
    if (w.devInfo !== undefined) {
      if (sets.length === 0) {
        this.setDevInfo(devId, w.devInfo);
        return;
      }
      sets.push('dev_info = json_patch(dev_info, ?)');
      args.push(JSON.stringify(w.devInfo));
    }
    if (sets.length === 0) return;
    // One text per combination of columns (at most seven), each prepared once.
    this.shapedDeviceWrite(devId, `device/${w.auth !== undefined}/${w.lastSeen !== undefined}/${w.devInfo !== undefined}`, () => `UPDATE devices SET ${sets.join(', ')} WHERE dev_id = ?`).run(...args, devId);
  }

  /** Records that a known device was seen now (no read: the caller has its row). */
  markSeen(devId: string, now: number): void {
    this.deviceWrite(devId, 'UPDATE devices SET last_seen = ? WHERE dev_id = ?').run(iso(now), devId);
  }

  /** Per-device client credentials; undefined goes back to the lab default. Creates the device if new. */
  setDeviceCredential(devId: string, cred: Credential | undefined, now: number): void {
    this.touchDeviceQuiet(devId, now);
    this.deviceWrite(devId, 'UPDATE devices SET client_cred_name = ?, client_cred_secret = ? WHERE dev_id = ?').run(cred?.name ?? null, cred?.secret ?? null, devId);
  }

  setNotifyUrl(devId: string, url: string | undefined, now: number): void {
    this.touchDeviceQuiet(devId, now);
    this.deviceWrite(devId, 'UPDATE devices SET notify_url = ? WHERE dev_id = ?').run(url ?? null, devId);
  }

  private touchDeviceQuiet(devId: string, now: number): void {
    this.deviceWrite(devId, `INSERT INTO devices (dev_id, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT (dev_id) DO NOTHING`).run(devId, iso(now), iso(now));
  }
}
