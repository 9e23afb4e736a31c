/**
 * DM-6 federation on the shared PostgreSQL store (issue 16), against a real PostgreSQL
 * (test/helpers/postgres.ts, one throwaway cluster for this file, a database per case):
 *  - the federation's tables (migration 3) answer exactly as the SQLite ones for the same calls
 *    (grants merged, job owners, delegations and their settlement), ids and times included;
 *  - a job and its owner row, a delegation and its Atomic, land together or not at all;
 *  - what two instances could race on is decided once: grants made at once all count, and a
 *    delegation's Atomic settles it on one instance only;
 *  - end to end, with `dmw server --store`: server A (two instances on one database) delegates a
 *    handset to server B (on another database) over DM-6, as test/integration/server-federation.test.ts
 *    does on SQLite; what one instance of A recorded (the delegation, the grant, a peer's job) the
 *    other answers with, and B is told once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationStore } from '../../main/store/federation/federation-store.js';
import { federationStoreFor } from '../../main/store/federation/index.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { DmStore } from '../../main/store/store.js';
import { AAUTH_TYPE, VirtualHandset } from '../../main/client/index.js';
import { findAccount } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import { api, dmwLab, type Running } from '../helpers/dmw-servers.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('federation on PostgreSQL');
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

let cluster: TestPostgres;
let dbCount = 0;
const opened: { close(): Promise<void> }[] = [];
async function pgStore(url?: string): Promise<PostgresStore> {
  const s = await PostgresStore.open(url ?? (await cluster.createDatabase(`fed_${++dbCount}`)));
  opened.push(s);
  return s;
}

/** The same calls on either store; every answer, in order. */
async function scenario(store: DmStore, fed: FederationStore): Promise<unknown[]> {
  const answers: unknown[] = [];
  const note = (x: unknown) => answers.push(x);
  let t = T0;
  const now = () => (t += 1000);

  // Grants: merged subtree by subtree, first ones first; origin and creation time kept.
  note(await fed.grant('srvB', 'IMEI:1', ['./Vendor'], 'grant', now()));
  note(await fed.grant('srvB', 'IMEI:1', ['./Vendor', './Vendor/Mode', './Other'], 'delegation', now()));
  note(await fed.grant('srvB', 'IMEI:1', ['./Other', './Third'], 'grant', now()));
  note(await fed.grant('srvC', 'IMEI:1', ['./Vendor', './Vendor'], 'delegation', now()));
  // Byte order, not the database's locale: 'B' < '_' < 'a' < 'z'.
  for (const d of ['zeta', 'alpha', 'Beta', '_under']) note(await fed.grant('srvB', d, ['./X'], 'grant', now()));
  note(await fed.grants());
  note(await fed.grants({ peer: 'srvC' }));
  note(await fed.grants({ device: 'IMEI:1' }));
  note(await fed.grants({ peer: 'srvB', device: 'IMEI:1' }));
  note(await fed.grants({ peer: 'nobody' }));
  note(await fed.revoke('srvB', 'zeta'));
  note(await fed.revoke('srvB', 'zeta'));
  note(await fed.grants({ peer: 'srvB' }));

  // A peer's job and its owner, in one transaction; the operator's job has no owner row.
  const peerJob = await fed.tx(async (f, s) => {
    const job = await s.addJob('IMEI:1', { kind: 'get', uri: './Vendor/Mode' }, now());
    await f.setJobOwner(job.id, 'peer:srvB');
    return job;
  });
  note(peerJob);
  const operatorJob = await store.addJob('IMEI:1', { kind: 'get', uri: './DevInfo/Mod' }, now());
  note([await fed.jobOwner(peerJob.id), await fed.jobOwner(operatorJob.id), await fed.jobOwner(999)]);

  // Delegations: out (A side) with its Atomic, in (B side) with the device's credential.
  const out = await fed.addDelegation({ direction: 'out', device: 'IMEI:1', peer: 'srvB', subtrees: ['./Vendor'], status: 'pending', jobId: null, remoteId: null, error: null }, now());
  note(out);
  const queued = await fed.tx(async (f, s) => {
    const job = await s.addJob('IMEI:1', { kind: 'atomic', commands: [{ kind: 'add', uri: './DMAcc/srvB' }] }, now());
    return { job, delegation: await f.setDelegationJob(out.id, job.id, 41, now()) };
  });
  note(queued);
  const inbound = await fed.tx(async (f, s) => {
    await s.setDeviceCredential('IMEI:2', { name: 'dev-x', secret: 'sec' }, now());
    return f.addDelegation({ direction: 'in', device: 'IMEI:2', peer: 'srvA', subtrees: ['./Vendor'], status: 'pending', jobId: null, remoteId: 7, error: null }, now());
  });
  note(inbound);
  note((await store.device('IMEI:2'))?.clientCred);
  note(await fed.settleDelegationJob(queued.job.id, 'active', null, now()));
  note(await fed.settleDelegationJob(queued.job.id, 'failed', 'late', now())); // settled already
  note(await fed.settleDelegationJob(operatorJob.id, 'active', null, now())); // no delegation waits for it
  note(await fed.setDelegationStatus(inbound.id, 'failed', 'the device refused: 425 Permission denied', now()));
  note(await fed.setDelegationStatus(999, 'active', null, now()));
  note(await fed.delegation(out.id));
  note(await fed.delegation(999));
  note(await fed.delegations());
  note(await fed.delegations({ peer: 'srvA' }));
  note(await fed.delegations({ device: 'IMEI:1' }));
  return answers;
}

// One cluster for the file (clusters take seconds to start).
beforeAll(async () => {
  if (run) cluster = await startPostgres();
});
afterAll(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
  cluster?.stop();
});

describe.skipIf(!run)('DM-6 federation on PostgreSQL', () => {

  it('answers every federation call exactly as the SQLite tables do', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-fed-sqlite-'));
    const sqlite = SqliteStore.open(dir, { synchronous: 'NORMAL' });
    try {
      const pg = await pgStore();
      const fedSqlite = federationStoreFor(sqlite);
      const fedPg = federationStoreFor(pg);
      expect([fedSqlite.kind, fedPg.kind]).toEqual(['sqlite', 'postgres']);
      const fromSqlite = await scenario(sqlite, fedSqlite);
      const fromPostgres = await scenario(pg, fedPg);
      expect(fromPostgres.length).toBeGreaterThan(25);
      for (let i = 0; i < fromSqlite.length; i++) expect([i, fromPostgres[i]]).toEqual([i, fromSqlite[i]]);
      expect(fromPostgres.length).toBe(fromSqlite.length);
    } finally {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls back a job with its owner row, and a delegation with its Atomic', async () => {
    for (const open of [async () => pgStore(), async () => SqliteStore.open(mkdtempSync(path.join(os.tmpdir(), 'dmw-fed-sqlite-')), { synchronous: 'NORMAL' })]) {
      const store = await open();
      const fed = federationStoreFor(store);
      let jobId = 0;
      await expect(fed.tx(async (f, s) => {
        jobId = (await s.addJob('IMEI:1', { kind: 'get', uri: './A' }, T0)).id;
        await f.setJobOwner(jobId, 'peer:srvB');
        await f.addDelegation({ direction: 'out', device: 'IMEI:1', peer: 'srvB', subtrees: ['./A'], status: 'pending', jobId, remoteId: null, error: null }, T0);
        await f.grant('srvB', 'IMEI:1', ['./A'], 'delegation', T0);
        throw new Error('the peer went away');
      })).rejects.toThrow('the peer went away');
      expect(jobId).toBeGreaterThan(0);
      expect([await store.job(jobId), await fed.jobOwner(jobId), await fed.delegations(), await fed.grants()], store.kind).toEqual([undefined, undefined, [], []]);
      if (store.kind === 'sqlite') await store.close();
    }
  });

  it('counts every grant two instances make at once, and settles a delegation on one instance only', async () => {
    const url = await cluster.createDatabase(`fed_${++dbCount}`);
    const a = federationStoreFor(await pgStore(url));
    const b = federationStoreFor(await pgStore(url));
    const N = 40;
    await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? a : b).grant('srvB', 'IMEI:farm', [`./S${i}`], 'grant', T0 + i)));
    const [g] = await a.grants({ peer: 'srvB', device: 'IMEI:farm' });
    expect(new Set(g!.subtrees)).toEqual(new Set(Array.from({ length: N }, (_, i) => `./S${i}`)));
    expect(g!.subtrees).toHaveLength(N);

    const job = await (await pgStore(url)).addJob('IMEI:farm', { kind: 'atomic', commands: [{ kind: 'add', uri: './DMAcc/srvB' }] }, T0);
    const d = await a.addDelegation({ direction: 'out', device: 'IMEI:farm', peer: 'srvB', subtrees: ['./Vendor'], status: 'pending', jobId: job.id, remoteId: 3, error: null }, T0);
    const settled = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).settleDelegationJob(job.id, 'active', null, T0 + 10 + i)));
    expect(settled.filter((x) => x !== undefined)).toEqual([expect.objectContaining({ id: d.id, status: 'active' })]);
    expect(await b.delegation(d.id)).toMatchObject({ status: 'active', error: null });
  });
});

const OPA = 'line-of-business-token-A';
const OPB = 'line-of-business-token-B';
const PEER_AB = 'dm6-shared-token-srvA-srvB';
const A_ARGS = ['--server-id', 'srvA', '--client-auth', 'md5', '--client-cred', 'lab:labpw', '--server-cred', 'srvA:srvApw', '--api-token', OPA];
const B_ARGS = ['--server-id', 'srvB', '--client-auth', 'md5', '--server-cred', 'srvB:srvBpw', '--api-token', OPB];
const { tmp, startServer, subscribe, cleanup } = dmwLab('dmw-fed-pg-');

/** Polls `read` until `ok` holds (another instance's write, seen through the database). */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!run)('two dmw servers on PostgreSQL, A with two instances: delegation over DM-6', () => {
  it('A delegates a handset to B through one instance, the device is served by the other; both answer with the same grants, owners and delegations; B is told once', async () => {
    const urlA = await cluster.createDatabase(`srv_a_${++dbCount}`);
    const urlB = await cluster.createDatabase(`srv_b_${++dbCount}`);
    const b = await startServer(tmp(), [...B_ARGS, '--store', urlB, '--peer', `srvA,token=${PEER_AB}`]);
    const aArgs = [...A_ARGS, '--store', urlA, '--peer', `srvB=${b.base},token=${PEER_AB}`];
    const a1: Running = await startServer(tmp(), aArgs);
    const a2: Running = await startServer(tmp(), aArgs);
    const sseB = subscribe(b.base, OPB);
    await sseB.until((e) => e.event === 'ready');

    // The handset's account points at instance 2; the operator works on instance 1.
    const h = await VirtualHandset.open({
      encoding: 'xml',
      device: { mod: 'Lab Phone 9', accounts: [{ serverId: 'srvA', addr: a2.dmUrl, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'labpw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'srvA', secret: 'srvApw' } }] },
    });
    cleanup.push(() => h.close());
    h.tree.setProperties(h.tree.lookup('./DMAcc')!, { acl: 'Get=*&Add=srvA' });
    const vendor = h.tree.createNode(h.tree.root, 'Vendor', { acl: 'Add=srvA&Delete=srvA&Exec=srvA&Get=srvA&Replace=srvA' });
    h.tree.createNode(vendor, 'Mode', { format: 'chr', value: 'eco' });
    const dev = h.devId;
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);

    const deleg = await api(a1.base, 'POST', '/api/v1/delegations', OPA, { device: dev, peer: 'srvB', subtrees: ['./Vendor'] });
    expect(deleg.status, JSON.stringify(deleg.json)).toBe(202);
    expect(deleg.json.delegation).toMatchObject({ direction: 'out', device: dev, peer: 'srvB', subtrees: ['./Vendor'], status: 'pending' });
    expect((await api(a2.base, 'GET', '/api/v1/delegations', OPA)).json).toEqual([deleg.json.delegation]);
    expect((await api(b.base, 'GET', `/api/v1/devices/${encodeURIComponent(dev)}`, OPB)).json).toMatchObject({ devId: dev, ownClientCred: true, delegatedFrom: ['srvA'] });

    // Instance 2 runs the Atomic; whichever instance settles the delegation, both show it active.
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    for (const a of [a1, a2]) {
      await eventually(async () => (await api(a.base, 'GET', '/api/v1/delegations', OPA)).json[0]?.status, (s) => s === 'active', `delegation on A instance ${a.port}`);
    }
    expect(findAccount(h.tree, 'srvB')).toMatchObject({ addr: b.dmUrl, serverCred: { name: 'srvB', secret: 'srvBpw' } });
    await sseB.until((e) => e.event === 'delegation' && e.data.delegation.status === 'active');

    // The grant the settlement made, seen by the peer through either instance.
    for (const a of [a1, a2]) {
      expect((await api(a.base, 'GET', '/api/v1/devices', PEER_AB)).json).toEqual([expect.objectContaining({ devId: dev, grants: [{ peer: 'srvB', subtrees: ['./Vendor'] }] })]);
    }
    // A peer's job queued through one instance is the peer's on the other (its owner row is shared).
    const peerJob = await api(a1.base, 'POST', '/api/v1/jobs', PEER_AB, { device: dev, spec: { kind: 'get', uri: './Vendor/Mode' } });
    expect(peerJob.status, JSON.stringify(peerJob.json)).toBe(201);
    expect((await api(a2.base, 'GET', '/api/v1/jobs', PEER_AB)).json.map((j: { id: number }) => j.id)).toEqual([peerJob.json.job.id]);
    expect((await api(a2.base, 'GET', `/api/v1/jobs/${peerJob.json.job.id}`, OPA)).status).toBe(200);
    const refused = await api(a2.base, 'POST', '/api/v1/jobs', PEER_AB, { device: dev, spec: { kind: 'get', uri: './DMAcc/srvA/AppAuth' } });
    expect(refused.json.error).toMatchObject({ status: 403, field: 'spec.uri' });

    // B manages ./Vendor on the device with the account A wrote.
    const write = await api(b.base, 'POST', '/api/v1/jobs', OPB, { device: dev, spec: { kind: 'replace', uri: './Vendor/Mode', value: 'turbo' } });
    expect(write.status).toBe(201);
    expect((await h.connect({ serverId: 'srvB' })).ok).toBe(true);
    expect(h.tree.get(DEVICE, './Vendor/Mode')).toMatchObject({ ok: true, value: { value: 'turbo' } });
    expect((await sseB.until((e) => e.event === 'job-done' && e.data.job.id === write.json.job.id)).data.job).toMatchObject({ statusCode: 200 });

    // B was told once: one completion notice, whatever number of A's instances saw the Atomic's answer.
    await new Promise((r) => setTimeout(r, 500));
    expect(sseB.events.filter((e) => e.event === 'delegation' && e.data.delegation.status !== 'pending')).toHaveLength(1);
  });
});
