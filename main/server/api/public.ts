/**
 * What the outside sees of server records: the same shapes for `dmw job list --json` (the CLI
 * contract), the HTTP API and its event stream. Never a secret.
 */
import type { StoredDevice } from '../../store/types.js';
import type { JobRecord } from '../types.js';

/** The job as scripts see it (the contract of `dmw job list --json`). */
export function publicJob(j: JobRecord) {
  return {
    id: j.id, device: j.device, command: j.command, target: j.target, status: j.status, statusCode: j.statusCode,
    results: j.results.map((r) => ({ uri: r.uri, format: r.format, data: r.data, ...(r.type ? { type: r.type } : {}), ...(r.encoding ? { encoding: r.encoding } : {}) })),
    ...(j.members.length > 0 ? { members: j.members } : {}),
    error: j.error, attempts: j.attempts, sessionId: j.sessionId, createdAt: j.createdAt, updatedAt: j.updatedAt,
    // What happens when its command goes out and no Status comes back; verify: read back first next time.
    onUnconfirmed: j.onUnconfirmed, ...(j.verify ? { verify: true } : {}),
  };
}

export type PublicJob = ReturnType<typeof publicJob>;

/** A device without its credentials (whether it has its own is all that shows). */
export function publicDevice(d: StoredDevice) {
  return {
    devId: d.devId, devInfo: d.devInfo, firstSeen: d.firstSeen, lastSeen: d.lastSeen,
    ownClientCred: d.clientCred !== undefined, ...(d.notifyUrl ? { notifyUrl: d.notifyUrl } : {}),
  };
}
