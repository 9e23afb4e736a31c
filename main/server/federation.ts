/**
 * DM-6 (OMA-AD-DM 2.0 §4.3.2.5): this server and peer DM servers. What it keeps, in tables of its own
 * beside the store's (main/store/federation/: in the SQLite file, or in the shared PostgreSQL
 * database, where every instance sees the same grants, owners and delegations):
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
import { StoreEventBus } from './store-events.js';
import type { DmServer } from './server.js';
import type { JobRecord, JobSpec, SimpleJobSpec, UnconfirmedPolicy } from './types.js';
import { federationStoreFor } from '../store/federation/index.js';
import type { Delegation, DelegationStatus, FederationStore, Grant } from '../store/federation/federation-store.js';
import { iso } from '../util/iso-time.js';

export type { Delegation, DelegationStatus, Grant } from '../store/federation/federation-store.js';

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
  private closed = false;
  /** Where grants, job owners and delegations live: beside the server's store, on the same kind. */
  readonly store: FederationStore;

  constructor(
    readonly server: DmServer,
    readonly peers: readonly PeerConfig[],
    private readonly now: () => number = Date.now,
  ) {
    this.store = federationStoreFor(server.store);
    this.offBus = server.bus.subscribe((e) => this.onServerEvent(e));
  }

  close(): void {
    this.closed = true;
    this.offBus();
    this.listeners.clear();
  }

  on(fn: (e: FederationEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(d: Delegation): void {
    const e: FederationEvent = { type: 'delegation', at: iso(this.now()), delegation: d };
    // On a shared store the server's bus goes through the database: every instance's subscribers
    // (their event streams, api/sse.ts, which also listens to the bus) get the event from there,
    // once, whichever instance settled the delegation. Not here as well: that would be twice.
    if (this.server.bus instanceof StoreEventBus) {
      this.server.bus.emit(e as unknown as ServerEvent);
      return;
    }
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

  // --- grants ----------------------------------------------------------------------------------

  grant(peer: string, device: string, subtrees: string[], origin: Grant['origin']): Promise<Grant> {
    return this.store.grant(peer, device, subtrees.map(normalizeDmUri), origin, this.now());
  }

  revoke(peer: string, device: string): Promise<boolean> {
    return this.store.revoke(peer, device);
  }

  async grantFor(peer: string, device: string): Promise<Grant | undefined> {
    return (await this.store.grants({ peer, device }))[0];
  }

  grants(f: { peer?: string; device?: string } = {}): Promise<Grant[]> {
    return this.store.grants(f);
  }

  /** May this principal see and manage this device through this server? */
  async mayManage(p: Principal, device: string): Promise<boolean> {
    return p.kind === 'operator' || (await this.grantFor(p.id, device)) !== undefined;
  }

  // --- jobs ------------------------------------------------------------------------------------

  /** Queues a job and records who asked, in one transaction. */
  addJob(p: Principal, device: string, spec: JobSpec, opts: { onUnconfirmed?: UnconfirmedPolicy } = {}): Promise<JobRecord> {
    return this.store.tx(async (f, s) => {
      const job = await s.addJob(device, spec, this.now(), opts);
      if (p.kind === 'peer') await f.setJobOwner(job.id, principalName(p));
      return job;
    });
  }

  /** Jobs without an owner row were queued by the operator (CLI, app, API token). */
  async ownerOf(jobId: number): Promise<string> {
    return (await this.store.jobOwner(jobId)) ?? 'operator';
  }

  async maySeeJob(p: Principal, job: Pick<JobRecord, 'id'>): Promise<boolean> {
    return p.kind === 'operator' || (await this.ownerOf(job.id)) === principalName(p);
  }

  /**
   * Who besides the operator may see a streamed event (api/sse.ts asks once per event): a job's
   * owner (`peer:ID`, or `operator`), or the peers granted the device.
   */
  async audience(m: { jobId?: number; device: string | null }): Promise<{ owner?: string; managers?: string[] }> {
    if (m.jobId !== undefined) return { owner: await this.ownerOf(m.jobId) };
    if (m.device === null) return {};
    return { managers: (await this.grants({ device: m.device })).map((g) => g.peer) };
  }

  // --- delegations -----------------------------------------------------------------------------

  delegation(id: number): Promise<Delegation | undefined> {
    return this.store.delegation(id);
  }

  delegations(f: { peer?: string; device?: string } = {}): Promise<Delegation[]> {
    return this.store.delegations(f);
  }

  private async setDelegationStatus(id: number, status: DelegationStatus, error: string | null): Promise<Delegation> {
    const d = (await this.store.setDelegationStatus(id, status, error, this.now()))!;
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
    if (!(await this.server.store.device(req.device))) throw new ApiError(404, 'unknown-device', `no device "${req.device}" on this server: it must have had a session first`, 'device');
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
    const pending = await this.store.addDelegation({ direction: 'out', device: req.device, peer: peer.id, subtrees: subtrees.map((s) => s.uri), status: 'pending', jobId: null, remoteId: null, error: null }, this.now());
    let answer: DelegateAnswer;
    try {
      const r = await this.client(peer).request('POST', '/peer/delegations', { device: req.device, delegationId: pending.id, clientCred, subtrees: subtrees.map((s) => s.uri) });
      if (r.status !== 201) throw new ApiError(502, 'peer-failed', `peer ${peer.id} refused the delegation: ${describeApiError(r)}`, 'peer');
      answer = r.json as DelegateAnswer;
      if (answer?.serverId !== peer.id) throw new ApiError(502, 'peer-failed', `peer at ${peer.url} says its ServerID is "${String(answer?.serverId)}", configured as "${peer.id}"`, 'peer');
      if (typeof answer.dmUrl !== 'string' || !/^https?:\/\//.test(answer.dmUrl)) throw new ApiError(502, 'peer-failed', `peer ${peer.id} gave no usable DM URL`, 'peer');
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(502, 'peer-failed', `cannot reach peer ${peer.id} at ${peer.url}: ${(e as Error).message}`, 'peer');
      await this.setDelegationStatus(pending.id, 'failed', err.message);
      throw err;
    }
    const spec = delegationJob({ delegate: answer, clientCred, subtrees });
    const { job, delegation } = await this.store.tx(async (f, s) => {
      const j = await s.addJob(req.device, spec, this.now());
      return { job: j, delegation: (await f.setDelegationJob(pending.id, j.id, answer.delegationId ?? null, this.now()))! };
    });
    this.emit(delegation);
    return { delegation, job };
  }

  /** B side: a peer hands us a device. Registers the credential the device will log in with. */
  async acceptDelegation(from: string, body: { device: string; delegationId: number; clientCred: Credential; subtrees: string[] }): Promise<DelegateAnswer> {
    const server = this.server;
    const d = await this.store.tx(async (f, s) => {
      await s.setDeviceCredential(body.device, body.clientCred, this.now());
      return f.addDelegation({ direction: 'in', device: body.device, peer: from, subtrees: body.subtrees.map(normalizeDmUri), status: 'pending', jobId: null, remoteId: body.delegationId, error: null }, this.now());
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
  async delegationNotice(from: string, id: number, status: 'active' | 'failed', error: string | null): Promise<Delegation> {
    const d = await this.delegation(id);
    if (!d || d.direction !== 'in' || d.peer !== from) throw new ApiError(404, 'unknown-delegation', `no delegation ${id} from ${from} here`, 'id');
    return this.setDelegationStatus(id, status, error);
  }

  /** A side: the Atomic was answered. */
  private onServerEvent(e: ServerEvent): void {
    if (e.type !== 'job-done') return;
    const job = e.job;
    // Off the DM request's path: the device's answer is not held up by this.
    setImmediate(() => void this.settleDelegation(job));
  }

  private async settleDelegation(job: JobRecord): Promise<void> {
    let d: Delegation | undefined;
    try {
      const ok = job.status === 'done' && job.statusCode !== null && job.statusCode < 300;
      const error = ok ? null : delegationRefusal(job);
      // Settled and granted together; once only, whichever instance saw the answer.
      d = await this.store.tx(async (f) => {
        const settled = await f.settleDelegationJob(job.id, ok ? 'active' : 'failed', error, this.now());
        if (settled && ok) await f.grant(settled.peer, settled.device, settled.subtrees.map(normalizeDmUri), 'delegation', this.now());
        return settled;
      });
    } catch (err) {
      if (!this.closed) process.emitWarning(`delegation bookkeeping failed: ${(err as Error).message}`);
      return;
    }
    if (!d) return;
    this.emit(d);
    const settled = d;
    const peer = this.peer(settled.peer);
    if (peer?.url && settled.remoteId !== null) {
      this.client(peer).request('POST', `/peer/delegations/${settled.remoteId}`, { status: settled.status, error: settled.error }).then(
        (r) => {
          if (r.status !== 200) process.emitWarning(`peer ${peer.id} did not take the completion notice of delegation ${settled.id}: ${describeApiError(r)}`);
        },
        (err: Error) => process.emitWarning(`cannot send the completion notice of delegation ${settled.id} to ${peer.id}: ${err.message}`),
      );
    }
  }

  private client(peer: PeerConfig): ApiClient {
    return new ApiClient({ url: peer.url!, ...(peer.token ? { token: peer.token } : {}), ...(peer.tls ? { tls: peer.tls } : {}), timeoutMs: 15_000 });
  }
}
