/**
 * DM-6 (OMA-AD-DM 2.0 §4.3.2.5): this server and peer DM servers. What it keeps, next to the
 * server's own tables in the same SQLite file (its own tables; the store's are not touched):
 *  - grants: which devices (and which subtrees of them) a peer may manage through this server;
 *  - job owners: who submitted a job over the API (a peer sees only its own jobs and results);
 *  - delegations: a device handed from one management authority to another.
 *
 * Delegation of device D from A (this server) to peer B, the DM 1.2/1.3 way (notes §7):
 *  1. A tells B over DM-6 (POST /api/v1/peer/delegations) the device and the client credential A
 *     made for it; B registers D with that credential and answers with what the device needs to
 *     reach and trust B (ServerID, DM URL, auth types, B's server credential).
 *  2. A queues one Atomic for D: Add ./DMAcc/<B> (DMAcc 1.2 layout, as main/tree/mos.ts builds
 *     it), then set that account's ACL to B alone (A cannot read it afterwards), then each delegated
 *     subtree's ACL to A and B. A's own account keeps its ACL (B never reads it) and its secrets
 *     keep their no-Get access type. All or nothing on the device.
 *  3. When the Atomic is answered, A marks the delegation active (or failed), grants B the
 *     subtrees on A, and sends B the completion notice.
 * The device must let A add accounts: ./DMAcc's ACL must give A the Add right.
 */
import { randomBytes } from 'node:crypto';
import { describeStatus } from '../protocol/status-codes.js';
import { parseAcl, ACL_COMMANDS, type AclCommand } from '../tree/acl.js';
import { accountAcl, accountNodeName } from '../tree/mos.js';
import { ApiClient, describeApiError } from './api/client.js';
import type { PeerConfig, Principal } from './api/auth.js';
import { principalName } from './api/auth.js';
import { ApiError } from './api/errors.js';
import type { Credential, ClientAuthMode, ServerAuthMode } from './config.js';
import type { ServerEvent } from './events.js';
import type { DmServer } from './server.js';
import type { JobRecord, JobSpec, SimpleJobSpec } from './types.js';

export interface Grant {
  peer: string;
  device: string;
  subtrees: string[];
  origin: 'grant' | 'delegation';
  createdAt: string;
}

export type DelegationStatus = 'pending' | 'active' | 'failed';

export interface Delegation {
  id: number;
  /** out: this server handed the device to `peer`; in: `peer` handed it to this server. */
  direction: 'out' | 'in';
  device: string;
  peer: string;
  subtrees: string[];
  status: DelegationStatus;
  /** out: the Atomic that writes the peer's account. */
  jobId: number | null;
  /** The same delegation's id on the peer. */
  remoteId: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export type FederationEvent = { type: 'delegation'; at: string; delegation: Delegation };

/** What the delegate (B) tells the delegator (A): all the device needs to reach and trust B. */
export interface DelegateAnswer {
  delegationId: number;
  serverId: string;
  dmUrl: string;
  clientAuth: ClientAuthMode;
  serverAuth: ServerAuthMode;
  serverCred: Credential | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_grants (
  peer TEXT NOT NULL, device TEXT NOT NULL, subtrees TEXT NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (peer, device)
);
CREATE TABLE IF NOT EXISTS api_job_owners (job_id INTEGER PRIMARY KEY, principal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_delegations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, direction TEXT NOT NULL, device TEXT NOT NULL, peer TEXT NOT NULL,
  subtrees TEXT NOT NULL, status TEXT NOT NULL, job_id INTEGER, remote_id INTEGER, error TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_delegations_by_job ON api_delegations (job_id);
`;

interface DelegationRow {
  id: number; direction: string; device: string; peer: string; subtrees: string; status: string; job_id: number | null;
  remote_id: number | null; error: string | null; created_at: string; updated_at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function delegationFromRow(r: DelegationRow): Delegation {
  return {
    id: r.id, direction: r.direction as Delegation['direction'], device: r.device, peer: r.peer, subtrees: JSON.parse(r.subtrees) as string[],
    status: r.status as DelegationStatus, jobId: r.job_id, remoteId: r.remote_id, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

// --- URIs and subtrees -----------------------------------------------------------------------------

/** `Vendor/X/` and `./Vendor/X` are the same node; the query (`?list=`, `?prop=`) is dropped. */
export function normalizeDmUri(uri: string): string {
  let u = uri.split('?')[0]!;
  if (u !== '.' && !u.startsWith('./')) u = `./${u}`;
  while (u.length > 2 && u.endsWith('/')) u = u.slice(0, -1);
  return u;
}

/** True when `uri` is one of `subtrees` or below one (segment-wise: ./Vendor does not cover ./VendorX). */
export function withinSubtrees(uri: string, subtrees: readonly string[]): boolean {
  const u = normalizeDmUri(uri);
  if (u.split('/').slice(1).some((s) => s === '.' || s === '..' || s === '')) return false;
  return subtrees.some((s) => {
    const t = normalizeDmUri(s);
    return t === '.' || u === t || u.startsWith(`${t}/`);
  });
}

/** Every URI a job touches (targets and Copy sources); UI alerts touch none. */
export function jobUris(spec: JobSpec): { field: string; uri: string }[] {
  const simple = (c: SimpleJobSpec, at: string) => {
    if (c.kind === 'alert') return [];
    const out = [{ field: `${at}.uri`, uri: c.uri }];
    if (c.kind === 'copy') out.push({ field: `${at}.source`, uri: c.source });
    return out;
  };
  if (spec.kind === 'atomic' || spec.kind === 'sequence') return spec.commands.flatMap((c, i) => simple(c, `spec.commands.${i}`));
  if (spec.kind === 'discover' || spec.kind === 'read-acl') return [{ field: 'spec.uri', uri: spec.uri }];
  return simple(spec as SimpleJobSpec, 'spec');
}

/** A subtree that may be delegated: not the root, not the accounts (nobody hands over ./DMAcc). */
export function checkDelegableSubtree(uri: string): string | undefined {
  const u = normalizeDmUri(uri);
  if (u === '.') return 'the whole tree cannot be delegated';
  if (u === './DMAcc' || u.startsWith('./DMAcc/')) return 'the DM accounts cannot be delegated';
  if (u.split('/').slice(1).some((s) => s === '.' || s === '..' || s === '')) return 'not a plain DM URI';
  return undefined;
}

// --- the delegation job ------------------------------------------------------------------------

const AAUTH_TYPE_TEXT: Readonly<Record<string, string>> = { basic: 'BASIC', md5: 'DIGEST', hmac: 'HMAC', none: 'DIGEST' };

/** The ACL a delegated subtree gets by default: each right for both authorities. */
export function sharedAcl(a: string, b: string, rights: readonly AclCommand[]): string {
  return ACL_COMMANDS.filter((c) => rights.includes(c)).map((c) => `${c}=${a}+${b}`).join('&');
}

/**
 * The Atomic that gives the device a DMAcc 1.2 account for the delegate and the delegated ACLs.
 * The account's ACL goes last: once it names only the delegate, the delegator cannot add to it.
 */
export function delegationJob(p: {
  delegate: Pick<DelegateAnswer, 'serverId' | 'dmUrl' | 'clientAuth' | 'serverAuth' | 'serverCred'>;
  clientCred: Credential;
  subtrees: { uri: string; acl: string }[];
}): JobSpec {
  const b = p.delegate;
  const acc = `./DMAcc/${accountNodeName(b.serverId)}`;
  const node = (uri: string): SimpleJobSpec => ({ kind: 'add', uri });
  const leaf = (uri: string, value: string, format?: string): SimpleJobSpec => ({ kind: 'add', uri, value, ...(format ? { format } : {}) });
  const clType = AAUTH_TYPE_TEXT[b.clientAuth] ?? 'DIGEST';
  const srvType = AAUTH_TYPE_TEXT[b.serverAuth] ?? 'DIGEST';
  const cred = (x: string, level: 'CLCRED' | 'SRVCRED', type: string, c: Credential): SimpleJobSpec[] => [
    node(`${acc}/AppAuth/${x}`),
    leaf(`${acc}/AppAuth/${x}/AAuthLevel`, level),
    leaf(`${acc}/AppAuth/${x}/AAuthType`, type),
    leaf(`${acc}/AppAuth/${x}/AAuthName`, c.name),
    leaf(`${acc}/AppAuth/${x}/AAuthSecret`, c.secret),
    leaf(`${acc}/AppAuth/${x}/AAuthData`, '', 'b64'),
  ];
  const commands: SimpleJobSpec[] = [
    node(acc),
    leaf(`${acc}/AppID`, 'w7'),
    leaf(`${acc}/ServerID`, b.serverId),
    leaf(`${acc}/Name`, b.serverId),
    leaf(`${acc}/PrefConRef`, ''),
    node(`${acc}/AppAddr`),
    node(`${acc}/AppAddr/1`),
    leaf(`${acc}/AppAddr/1/Addr`, b.dmUrl),
    leaf(`${acc}/AppAddr/1/AddrType`, 'URI'),
    leaf(`${acc}/AAuthPref`, clType),
    node(`${acc}/AppAuth`),
    ...cred('1', 'CLCRED', clType, p.clientCred),
    ...cred('2', 'SRVCRED', srvType, b.serverCred ?? { name: b.serverId, secret: '' }),
    node(`${acc}/Ext`),
    ...p.subtrees.map((s): SimpleJobSpec => ({ kind: 'replace', uri: `${normalizeDmUri(s.uri)}?prop=ACL`, value: s.acl })),
    { kind: 'replace', uri: `${acc}?prop=ACL`, value: accountAcl(b.serverId) },
  ];
  return { kind: 'atomic', commands };
}

/**
 * Why the device refused the delegation Atomic, with the meanings of the codes: the Atomic's own
 * status (507 Atomic failed) and each member that failed on its own (not the 215/216 of the members
 * that were only skipped or rolled back), e.g. "Add ./DMAcc/srvB: 425 Permission denied".
 */
export function delegationRefusal(job: Pick<JobRecord, 'statusCode' | 'error' | 'members'>): string {
  const atomic = job.statusCode === null ? `no Status (${job.error ?? 'unknown'})` : describeStatus(job.statusCode);
  const members = job.members
    .filter((m) => m.statusCode !== null && m.statusCode >= 300 && m.statusCode !== 215 && m.statusCode !== 216)
    .map((m) => `${m.cmd} ${m.uri}: ${describeStatus(m.statusCode!)}`);
  return `the device refused the delegation Atomic: ${[atomic, ...members].join('; ')}`;
}

/** A client credential for the device to use with the delegate (no colon: BASIC splits on it). */
export function newDeviceCredential(): Credential {
  return { name: `dev-${randomBytes(6).toString('hex')}`, secret: randomBytes(18).toString('base64url') };
}

// --- the federation state --------------------------------------------------------------------------

export class Federation {
  private readonly listeners = new Set<(e: FederationEvent) => void>();
  private readonly offBus: () => void;

  constructor(
    readonly server: DmServer,
    readonly peers: readonly PeerConfig[],
    private readonly now: () => number = Date.now,
  ) {
    server.store.db.exec(SCHEMA);
    this.offBus = server.bus.subscribe((e) => this.onServerEvent(e));
  }

  close(): void {
    this.offBus();
    this.listeners.clear();
  }

  on(fn: (e: FederationEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(d: Delegation): void {
    const e: FederationEvent = { type: 'delegation', at: iso(this.now()), delegation: d };
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        process.emitWarning(`delegation listener failed: ${(err as Error).message}`);
      }
    }
  }

  peer(id: string): PeerConfig | undefined {
    return this.peers.find((p) => p.id === id);
  }

  private get db() {
    return this.server.store.db;
  }

  // --- grants ----------------------------------------------------------------------------------

  grant(peer: string, device: string, subtrees: string[], origin: Grant['origin']): Grant {
    const existing = this.grantFor(peer, device);
    const merged = [...new Set([...(existing?.subtrees ?? []), ...subtrees.map(normalizeDmUri)])];
    const at = iso(this.now());
    this.db.prepare(`INSERT INTO api_grants (peer, device, subtrees, origin, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (peer, device) DO UPDATE SET subtrees = excluded.subtrees`).run(peer, device, JSON.stringify(merged), origin, at);
    return this.grantFor(peer, device)!;
  }

  revoke(peer: string, device: string): boolean {
    return this.db.prepare('DELETE FROM api_grants WHERE peer = ? AND device = ?').run(peer, device).changes > 0;
  }

  grantFor(peer: string, device: string): Grant | undefined {
    return this.grants({ peer, device })[0];
  }

  grants(f: { peer?: string; device?: string } = {}): Grant[] {
    const rows = this.db.prepare('SELECT * FROM api_grants ORDER BY device, peer').all() as { peer: string; device: string; subtrees: string; origin: string; created_at: string }[];
    return rows
      .filter((r) => (f.peer === undefined || r.peer === f.peer) && (f.device === undefined || r.device === f.device))
      .map((r) => ({ peer: r.peer, device: r.device, subtrees: JSON.parse(r.subtrees) as string[], origin: r.origin as Grant['origin'], createdAt: r.created_at }));
  }

  /** May this principal see and manage this device through this server? */
  mayManage(p: Principal, device: string): boolean {
    return p.kind === 'operator' || this.grantFor(p.id, device) !== undefined;
  }

  // --- jobs ------------------------------------------------------------------------------------

  /** Queues a job and records who asked, in one transaction. */
  addJob(p: Principal, device: string, spec: JobSpec): JobRecord {
    const store = this.server.store;
    return store.tx(() => {
      const job = store.addJob(device, spec, this.now());
      if (p.kind === 'peer') this.db.prepare('INSERT INTO api_job_owners (job_id, principal) VALUES (?, ?)').run(job.id, principalName(p));
      return job;
    });
  }

  /** Jobs without an owner row were queued by the operator (CLI, app, API token). */
  ownerOf(jobId: number): string {
    const r = this.db.prepare('SELECT principal FROM api_job_owners WHERE job_id = ?').get(jobId) as { principal: string } | undefined;
    return r?.principal ?? 'operator';
  }

  maySeeJob(p: Principal, job: Pick<JobRecord, 'id'>): boolean {
    return p.kind === 'operator' || this.ownerOf(job.id) === principalName(p);
  }

  // --- delegations -----------------------------------------------------------------------------

  delegation(id: number): Delegation | undefined {
    const r = this.db.prepare('SELECT * FROM api_delegations WHERE id = ?').get(id) as DelegationRow | undefined;
    return r && delegationFromRow(r);
  }

  delegations(f: { peer?: string; device?: string } = {}): Delegation[] {
    return (this.db.prepare('SELECT * FROM api_delegations ORDER BY id').all() as DelegationRow[])
      .map(delegationFromRow)
      .filter((d) => (f.peer === undefined || d.peer === f.peer) && (f.device === undefined || d.device === f.device));
  }

  private insertDelegation(d: Omit<Delegation, 'id' | 'createdAt' | 'updatedAt'>): Delegation {
    const at = iso(this.now());
    const info = this.db.prepare(`INSERT INTO api_delegations (direction, device, peer, subtrees, status, job_id, remote_id, error, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.direction, d.device, d.peer, JSON.stringify(d.subtrees), d.status, d.jobId, d.remoteId, d.error, at, at);
    return this.delegation(Number(info.lastInsertRowid))!;
  }

  private setDelegationStatus(id: number, status: DelegationStatus, error: string | null): Delegation {
    this.db.prepare('UPDATE api_delegations SET status = ?, error = ?, updated_at = ? WHERE id = ?').run(status, error, iso(this.now()), id);
    const d = this.delegation(id)!;
    this.emit(d);
    return d;
  }

  /**
   * A side: hands `device` to `peerId`. The peer is told first (it must accept and say how the device
   * reaches it); then the Atomic is queued. Nothing is queued if the peer refuses.
   */
  async delegate(req: { device: string; peer: string; subtrees: { uri: string; acl?: string }[]; rights?: AclCommand[] }): Promise<{ delegation: Delegation; job: JobRecord }> {
    const peer = this.peer(req.peer);
    if (!peer) throw new ApiError(400, 'unknown-peer', `peer "${req.peer}" is not configured on this server (dmw server --peer ${req.peer}=URL,...)`, 'peer');
    if (!peer.url) throw new ApiError(400, 'unknown-peer', `peer "${req.peer}" has no URL: this server cannot call it`, 'peer');
    if (!this.server.store.device(req.device)) throw new ApiError(404, 'unknown-device', `no device "${req.device}" on this server: it must have had a session first`, 'device');
    const me = this.server.config.serverId;
    const rights = req.rights ?? [...ACL_COMMANDS];
    const subtrees = req.subtrees.map((s, i) => {
      const why = checkDelegableSubtree(s.uri);
      if (why) throw new ApiError(400, 'invalid', `subtrees.${i}: ${why} (${s.uri})`, `subtrees.${i}`);
      const acl = s.acl ?? sharedAcl(me, peer.id, rights);
      const parsed = parseAcl(acl);
      if (!parsed.ok) throw new ApiError(400, 'invalid', `subtrees.${i}.acl: ${parsed.error.message}`, `subtrees.${i}.acl`);
      return { uri: normalizeDmUri(s.uri), acl };
    });
    const clientCred = newDeviceCredential();
    // Recorded before the call so the id can travel; failed if the peer refuses.
    let d = this.server.store.tx(() => this.insertDelegation({ direction: 'out', device: req.device, peer: peer.id, subtrees: subtrees.map((s) => s.uri), status: 'pending', jobId: null, remoteId: null, error: null }));
    let answer: DelegateAnswer;
    try {
      const r = await this.client(peer).request('POST', '/peer/delegations', { device: req.device, delegationId: d.id, clientCred, subtrees: subtrees.map((s) => s.uri) });
      if (r.status !== 201) throw new ApiError(502, 'peer-failed', `peer ${peer.id} refused the delegation: ${describeApiError(r)}`, 'peer');
      answer = r.json as DelegateAnswer;
      if (answer?.serverId !== peer.id) throw new ApiError(502, 'peer-failed', `peer at ${peer.url} says its ServerID is "${String(answer?.serverId)}", configured as "${peer.id}"`, 'peer');
      if (typeof answer.dmUrl !== 'string' || !/^https?:\/\//.test(answer.dmUrl)) throw new ApiError(502, 'peer-failed', `peer ${peer.id} gave no usable DM URL`, 'peer');
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(502, 'peer-failed', `cannot reach peer ${peer.id} at ${peer.url}: ${(e as Error).message}`, 'peer');
      this.setDelegationStatus(d.id, 'failed', err.message);
      throw err;
    }
    const spec = delegationJob({ delegate: answer, clientCred, subtrees });
    const job = this.server.store.tx(() => {
      const j = this.server.store.addJob(req.device, spec, this.now());
      this.db.prepare('UPDATE api_delegations SET job_id = ?, remote_id = ?, updated_at = ? WHERE id = ?').run(j.id, answer.delegationId ?? null, iso(this.now()), d.id);
      return j;
    });
    d = this.delegation(d.id)!;
    this.emit(d);
    return { delegation: d, job };
  }

  /** B side: a peer hands us a device. Registers the credential the device will log in with. */
  acceptDelegation(from: string, body: { device: string; delegationId: number; clientCred: Credential; subtrees: string[] }): DelegateAnswer {
    const server = this.server;
    const d = server.store.tx(() => {
      server.store.setDeviceCredential(body.device, body.clientCred, this.now());
      return this.insertDelegation({ direction: 'in', device: body.device, peer: from, subtrees: body.subtrees.map(normalizeDmUri), status: 'pending', jobId: null, remoteId: body.delegationId, error: null });
    });
    this.emit(d);
    return {
      delegationId: d.id,
      serverId: server.config.serverId,
      dmUrl: server.url,
      clientAuth: server.config.clientAuth,
      serverAuth: server.config.serverAuth,
      serverCred: server.config.serverCred ?? null,
    };
  }

  /** B side: the delegator's completion notice. */
  delegationNotice(from: string, id: number, status: 'active' | 'failed', error: string | null): Delegation {
    const d = this.delegation(id);
    if (!d || d.direction !== 'in' || d.peer !== from) throw new ApiError(404, 'unknown-delegation', `no delegation ${id} from ${from} here`, 'id');
    return this.setDelegationStatus(id, status, error);
  }

  /** A side: the Atomic was answered. */
  private onServerEvent(e: ServerEvent): void {
    if (e.type !== 'job-done') return;
    const job = e.job;
    // Off the DM request's path: the device's answer is not held up by this.
    setImmediate(() => {
      let d: Delegation | undefined;
      try {
        const row = this.db.prepare(`SELECT * FROM api_delegations WHERE job_id = ? AND direction = 'out' AND status = 'pending'`).get(job.id) as DelegationRow | undefined;
        if (!row) return;
        const ok = job.status === 'done' && job.statusCode !== null && job.statusCode < 300;
        const error = ok ? null : delegationRefusal(job);
        d = this.setDelegationStatus(row.id, ok ? 'active' : 'failed', error);
        if (ok) this.grant(d.peer, d.device, d.subtrees, 'delegation');
      } catch (err) {
        if (this.server.store.db.open) process.emitWarning(`delegation bookkeeping failed: ${(err as Error).message}`);
        return;
      }
      const peer = this.peer(d.peer);
      if (peer?.url && d.remoteId !== null) {
        this.client(peer).request('POST', `/peer/delegations/${d.remoteId}`, { status: d.status, error: d.error }).then(
          (r) => {
            if (r.status !== 200) process.emitWarning(`peer ${peer.id} did not take the completion notice of delegation ${d!.id}: ${describeApiError(r)}`);
          },
          (err: Error) => process.emitWarning(`cannot send the completion notice of delegation ${d!.id} to ${peer.id}: ${err.message}`),
        );
      }
    });
  }

  private client(peer: PeerConfig): ApiClient {
    return new ApiClient({ url: peer.url!, ...(peer.token ? { token: peer.token } : {}), ...(peer.tls ? { tls: peer.tls } : {}), timeoutMs: 15_000 });
  }
}
