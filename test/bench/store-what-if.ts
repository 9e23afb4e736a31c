/**
 * A diagnostic for the server benchmark, never the product: `npm run bench -- server --what-if
 * no-store-writes` runs the DM server with its store's per-session writes left out, to show the
 * ceiling of the throughput ratio if durable persistence cost nothing.
 *
 * What stays real: the reads a session needs (the device row at its first message, the queued
 * jobs at every message), the engine, the codec, authentication and HTTP. What is left out: the
 * group transaction and its COMMIT and fsync, the message log, job state (kept in memory so a sent
 * job is not sent again), last seen, DevInfo and the tree cache. Device auth state (nonces) is kept
 * in memory, so MD5 in both directions still works from session to session.
 */
import type { ServerStore } from '../../main/store/server-store.js';
import type { DeviceAuthState, JobRecord, JobSpec } from '../../main/server/types.js';

type StoreClass = typeof ServerStore;

export function withoutStoreWrites(Store: StoreClass): void {
  const proto = Store.prototype as unknown as Record<string, unknown>;
  const touchDevice = Store.prototype.touchDevice;
  const seeDevice = Store.prototype.seeDevice;
  const device = Store.prototype.device;
  const auths = new Map<string, DeviceAuthState>();
  /** Per device, the newest job id that went out: the queue read skips it and everything older. */
  const sentUpTo = new Map<string, number>();
  const deviceOfJob = new Map<number, string>();
  let sessionId = 1_000_000;
  let messageId = 10_000_000;

  proto.group = function group<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  };
  // The server's path (DmStore.tx over SQLite): no savepoint, no group transaction, no COMMIT or
  // fsync either. One callback at a time, in call order, as the real one runs them.
  let queue: Promise<unknown> = Promise.resolve();
  proto.groupAsync = function groupAsync<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };
  proto.touchDevice = function (this: ServerStore, devId: string, now: number) {
    const r = touchDevice.call(this, devId, now);
    const auth = auths.get(devId);
    if (auth) r.device.auth = auth;
    return r;
  };
  // The server's one device write per message (seeDevice, then writeDevice with the changes).
  proto.seeDevice = function (this: ServerStore, devId: string, now: number) {
    const r = seeDevice.call(this, devId, now);
    const auth = auths.get(devId);
    if (auth) r.device.auth = auth;
    return r;
  };
  proto.writeDevice = (devId: string, w: { auth?: DeviceAuthState }) => {
    if (w.auth !== undefined) auths.set(devId, w.auth);
  };
  // Sessions before authentication read the device row with device() (server.ts), not touchDevice().
  proto.device = function (this: ServerStore, devId: string) {
    const d = device.call(this, devId);
    const auth = auths.get(devId);
    if (d && auth) d.auth = auth;
    return d;
  };
  proto.setDeviceAuth = (devId: string, auth: DeviceAuthState) => void auths.set(devId, auth);
  proto.queuedJobSpecs = function (this: ServerStore, devId: string): { id: number; spec: JobSpec }[] {
    // Through the store's statement cache, as the real read does.
    const sql = (this as unknown as { sql(text: string): { all(...a: unknown[]): unknown[] } }).sql.bind(this);
    const rows = sql(`SELECT id, spec FROM jobs WHERE device = ? AND status = 'queued' AND id > ? ORDER BY id`)
      .all(devId, sentUpTo.get(devId) ?? 0) as { id: number; spec: string }[];
    for (const r of rows) deviceOfJob.set(r.id, devId);
    return rows.map((r) => ({ id: r.id, spec: JSON.parse(r.spec) as JobSpec }));
  };
  proto.markSent = (ids: number[]) => {
    for (const id of ids) {
      const devId = deviceOfJob.get(id);
      if (devId !== undefined) sentUpTo.set(devId, Math.max(sentUpTo.get(devId) ?? 0, id));
    }
  };
  proto.finishJob = (o: { id: number; status: 'done' | 'failed' }) => ({ id: o.id, status: o.status }) as JobRecord;
  // A turn's jobs sent and settled in one call (effects.ts): as markSent and finishJob above.
  proto.updateTurnJobs = function (this: ServerStore, sent: { ids: readonly number[] } | undefined, finished: readonly { id: number; status: 'done' | 'failed' }[]) {
    if (sent) (proto.markSent as (ids: readonly number[]) => void)(sent.ids);
    return finished.map((o) => ({ id: o.id, status: o.status }) as JobRecord);
  };
  proto.createSession = () => ++sessionId;
  proto.addMessages = (ms: unknown[]) => ms.map(() => ++messageId);
  for (const name of ['markSeen', 'setDevInfo', 'upsertTree', 'endSession']) proto[name] = () => undefined;
}
