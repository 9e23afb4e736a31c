/**
 * DM-6 and DMA-DMS between two real `dmw server` processes: server A manages a virtual handset and
 * delegates it to server B over DM-6; the handset takes B's account in its next session with A and
 * then calls B, which manages the delegated subtree but is refused A's account by the device's ACLs.
 * Results and alerts reach line-of-business subscribers over server-sent events; `dmw job --server`
 * prints what `dmw job --data` prints. Then the same delegation with A authenticating to B by a
 * lab-CA client certificate over HTTPS.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { api, dmw, dmwLab, type Running } from '../helpers/dmw-servers.js';
import { VirtualHandset, AAUTH_TYPE } from '../../main/client/index.js';
import { findAccount } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';

const OPA = 'line-of-business-token-A';
const OPB = 'line-of-business-token-B';
const PEER_AB = 'dm6-shared-token-srvA-srvB';
const { tmp, startServer, subscribe, cleanup } = dmwLab('dmw-fed-');


/** A handset managed by srvA, whose owner lets srvA add accounts (delegate) and gave it ./Vendor. */
async function handsetOfA(a: Running) {
  const h = await VirtualHandset.open({
    encoding: 'xml',
    device: { mod: 'Lab Phone 9', accounts: [{ serverId: 'srvA', addr: a.dmUrl, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'labpw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'srvA', secret: 'srvApw' } }] },
  });
  cleanup.push(() => h.close());
  h.tree.setProperties(h.tree.lookup('./DMAcc')!, { acl: 'Get=*&Add=srvA' });
  const vendor = h.tree.createNode(h.tree.root, 'Vendor', { acl: 'Add=srvA&Delete=srvA&Exec=srvA&Get=srvA&Replace=srvA' });
  h.tree.createNode(vendor, 'Mode', { format: 'chr', value: 'eco' });
  return h;
}

const A_ARGS = ['--server-id', 'srvA', '--client-auth', 'md5', '--client-cred', 'lab:labpw', '--server-cred', 'srvA:srvApw', '--api-token', OPA];
const B_ARGS = ['--server-id', 'srvB', '--client-auth', 'md5', '--server-cred', 'srvB:srvBpw', '--api-token', OPB];

describe('two dmw servers: delegation over DM-6, jobs and events over DMA-DMS', () => {
  it('A delegates a handset to B; B manages ./Vendor but the device refuses it A\'s account; subscribers get results and alerts', async () => {
    const dataA = tmp();
    const dataB = tmp();
    const b = await startServer(dataB, [...B_ARGS, '--peer', `srvA,token=${PEER_AB}`]);
    const a = await startServer(dataA, [...A_ARGS, '--peer', `srvB=${b.base},token=${PEER_AB}`]);
    expect(a.output()).toMatch(/^api: \/api\/v1 on the same port; operator token, peer srvB \(http:\/\/127\.0\.0\.1:\d+\)$/m);
    const sseA = subscribe(a.base, OPA);
    const sseB = subscribe(b.base, OPB);
    await sseA.until((e) => e.event === 'ready');
    await sseB.until((e) => e.event === 'ready');

    const h = await handsetOfA(a);
    const dev = h.devId;
    const devPath = `/api/v1/devices/${encodeURIComponent(dev)}`;
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);

    // The operator of A delegates ./Vendor to B. B is told over DM-6 and registers the device.
    const deleg = await api(a.base, 'POST', '/api/v1/delegations', OPA, { device: dev, peer: 'srvB', subtrees: ['./Vendor'] });
    expect(deleg.status).toBe(202);
    expect(deleg.json.delegation).toMatchObject({ direction: 'out', device: dev, peer: 'srvB', subtrees: ['./Vendor'], status: 'pending' });
    expect(deleg.json.job).toMatchObject({ device: dev, command: 'atomic', status: 'queued' });
    expect(JSON.stringify(deleg.json)).not.toContain('srvBpw');
    const onB = await api(b.base, 'GET', devPath, OPB);
    expect(onB.json).toMatchObject({ devId: dev, ownClientCred: true, delegatedFrom: ['srvA'] });
    expect((await api(b.base, 'GET', '/api/v1/delegations', OPB)).json).toEqual([expect.objectContaining({ direction: 'in', peer: 'srvA', device: dev, status: 'pending', remoteId: deleg.json.delegation.id })]);

    // Next session with A: the device gets B's account (DMAcc 1.2) and the shared ACL.
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    const delegDone = await sseA.until((e) => e.event === 'job-done' && e.data.job.id === deleg.json.job.id);
    expect(delegDone.data.job).toMatchObject({ status: 'done', statusCode: 200 });
    await sseA.until((e) => e.event === 'delegation' && e.data.delegation.status === 'active');
    await sseB.until((e) => e.event === 'delegation' && e.data.delegation.status === 'active'); // the completion notice
    const acc = findAccount(h.tree, 'srvB')!;
    expect(acc).toMatchObject({ addr: b.dmUrl, serverCred: { name: 'srvB', secret: 'srvBpw' } });
    expect(h.tree.lookup(acc.path)!.acl.text).toBe('Add=srvB&Delete=srvB&Get=srvB&Replace=srvB');
    expect(h.tree.lookup('./Vendor')!.acl.text).toBe('Add=srvA+srvB&Delete=srvA+srvB&Exec=srvA+srvB&Get=srvA+srvB&Replace=srvA+srvB');

    // DM-6 the other way: B, as A's peer, lists the devices it may manage through A.
    const mayManage = await api(a.base, 'GET', '/api/v1/devices', PEER_AB);
    expect(mayManage.json).toEqual([expect.objectContaining({ devId: dev, grants: [{ peer: 'srvB', subtrees: ['./Vendor'] }] })]);
    const viaA = await api(a.base, 'POST', '/api/v1/jobs', PEER_AB, { device: dev, spec: { kind: 'get', uri: './DMAcc/srvA/AppAuth' } });
    expect(viaA.json.error).toMatchObject({ status: 403, field: 'spec.uri' });

    // B's line of business queues work for the device, over the API and with `dmw job add --server`.
    const add = async (spec: object) => {
      const r = await api(b.base, 'POST', '/api/v1/jobs', OPB, { device: dev, spec });
      expect(r.status).toBe(201);
      return r.json.job.id as number;
    };
    const readMode = await add({ kind: 'get', uri: './Vendor/Mode' });
    const writeMode = await add({ kind: 'replace', uri: './Vendor/Mode', value: 'turbo' });
    const readSecret = await add({ kind: 'get', uri: './DMAcc/srvA/AppAuth/1/AAuthSecret' });
    const readAccount = await add({ kind: 'get', uri: './DMAcc/srvA' });
    const cli = dmw(['job', 'add', '--server', b.base, '--device', dev, 'get', './DevInfo/Mod']);
    expect(cli.code, cli.err).toBe(2);
    expect(cli.err).toBe('dmw: --server needs a token: --token TOKEN or DMW_API_TOKEN\n');
    const cliAdd = dmw(['job', 'add', '--server', b.dmUrl, '--device', dev, 'get', './DevInfo/Mod'], { DMW_API_TOKEN: OPB });
    expect(cliAdd.err).toBe('');
    expect(cliAdd.out).toBe(`job 5 queued for ${dev}: get ./DevInfo/Mod\n`);
    const badToken = dmw(['job', 'list', '--server', b.base, '--token', 'wrong-token-wrong-token']);
    expect(badToken.code).toBe(2);
    expect(badToken.err).toMatch(/^dmw: http:\/\/127\.0\.0\.1:\d+: HTTP 401 unauthorized: the bearer token in the Authorization header is not valid for this server\n$/);

    // The device calls B (with the account A wrote) and raises an alert on the way.
    const r = await h.connect({ serverId: 'srvB', genericAlerts: [{ source: './Vendor/Mode', type: 'org.example.mode.changed', format: 'chr', data: 'eco' }] });
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(h.tree.get(DEVICE, './Vendor/Mode')).toMatchObject({ ok: true, value: { value: 'turbo' } });

    const done = async (id: number) => (await sseB.until((e) => e.event === 'job-done' && e.data.job.id === id)).data.job;
    expect(await done(readMode)).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './Vendor/Mode', data: 'eco' }] });
    expect(await done(writeMode)).toMatchObject({ statusCode: 200 });
    expect((await done(readSecret)).statusCode).toBe(405); // AAuthSecret: no Get for anyone
    expect((await done(readAccount)).statusCode).toBe(425); // A's account: ACL names only srvA
    expect(await done(5)).toMatchObject({ statusCode: 200, results: [{ data: 'Lab Phone 9' }] });
    const alert = await sseB.until((e) => e.event === 'alert');
    expect(alert.data).toMatchObject({ device: dev, alert: { code: '1226', items: [{ source: './Vendor/Mode', type: 'org.example.mode.changed', data: 'eco' }] } });
    expect(JSON.stringify(sseB.events)).not.toContain('labpw');

    // `dmw job list --server` prints exactly what `--data` prints, JSON and table.
    const remote = dmw(['job', 'list', '--server', b.base, '--token', OPB, '--json']);
    const local = dmw(['job', 'list', '--data', dataB, '--json']);
    expect(remote.err).toBe('');
    expect(remote.out).toBe(local.out);
    expect(JSON.parse(remote.out)).toHaveLength(5);
    expect(dmw(['job', 'list', '--server', b.base, '--token', OPB, '--device', dev]).out).toBe(dmw(['job', 'list', '--data', dataB, '--device', dev]).out);
    expect(dmw(['job', 'list', '--server', b.base, '--token', OPB, '--status', 'queued', '--json']).out).toBe('[]\n');

    // A cannot read the account it wrote for B.
    const aReadsB = await api(a.base, 'POST', '/api/v1/jobs', OPA, { device: dev, spec: { kind: 'get', uri: acc.path } });
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    expect((await sseA.until((e) => e.event === 'job-done' && e.data.job.id === aReadsB.json.job.id)).data.job.statusCode).toBe(425);

    expect(dmw(['job', 'clear', '--server', b.base, '--token', OPB, '--device', dev]).out).toBe(`cleared 5 job(s) of ${dev}\n`);
    expect(dmw(['job', 'list', '--data', dataB, '--json']).out).toBe('[]\n');
  });

  it('mutual TLS: A authenticates to B with a client certificate from B\'s lab CA; a device certificate is no peer', async () => {
    const dataA = tmp();
    const dataB = tmp();
    const issued = dmw(['ca', 'peer', 'srvA', '--data', dataB, '--out', path.join(dataA, 'peer-certs')]);
    expect(issued.code, issued.err).toBe(0);
    const [certFile, keyFile] = issued.out.trim().split('\n');
    expect(certFile).toMatch(/peer-srvA\.crt\.pem$/);
    // B trusts peer srvA by certificate only (no token).
    const b = await startServer(dataB, [...B_ARGS, '--tls', '--peer', 'srvA'], 'https');
    const caB = path.join(dataB, 'ca', 'ca.crt.pem');
    const a = await startServer(dataA, [...A_ARGS, '--peer', `srvB=${b.base},ca=${caB},cert=${certFile},key=${keyFile}`]);
    const tls = { ca: readFileSync(caB, 'utf8'), cert: readFileSync(certFile!, 'utf8'), key: readFileSync(keyFile!, 'utf8') };

    expect(await api(b.base, 'GET', '/api/v1/server', tls)).toMatchObject({ status: 200, json: { serverId: 'srvB', principal: 'peer:srvA' } });
    const noCert = await api(b.base, 'GET', '/api/v1/server', { ca: tls.ca });
    expect(noCert.status).toBe(401);
    expect(noCert.json.error.field).toBe('authorization');
    const device = dmw(['ca', 'device', 'IMEI:356938035643809', '--data', dataB, '--out', path.join(dataB, 'devs')]);
    const [dCert, dKey] = device.out.trim().split('\n');
    const asDevice = await api(b.base, 'GET', '/api/v1/server', { ca: tls.ca, cert: readFileSync(dCert!, 'utf8'), key: readFileSync(dKey!, 'utf8') });
    expect(asDevice.status).toBe(401);
    expect(asDevice.json.error).toMatchObject({ field: 'client-certificate' });
    expect(asDevice.json.error.message).toMatch(/CN "IMEI:356938035643809" is not a peer certificate/);
    // The peer certificate is not the operator: operator routes stay closed.
    expect((await api(b.base, 'DELETE', '/api/v1/jobs?device=x', tls)).status).toBe(403);

    const h = await handsetOfA(a);
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    const deleg = await api(a.base, 'POST', '/api/v1/delegations', OPA, { device: h.devId, peer: 'srvB', subtrees: ['./Vendor'], rights: ['Get'] });
    expect(deleg.status, JSON.stringify(deleg.json)).toBe(202);
    const operatorB = { ca: tls.ca, token: OPB };
    const list = await api(b.base, 'GET', '/api/v1/delegations', operatorB);
    expect(list.json).toEqual([expect.objectContaining({ direction: 'in', peer: 'srvA', device: h.devId, subtrees: ['./Vendor'], status: 'pending' })]);
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    expect(findAccount(h.tree, 'srvB')).toMatchObject({ addr: b.dmUrl });
    expect(h.tree.lookup('./Vendor')!.acl.text).toBe('Get=srvA+srvB');
    // The completion notice goes to B over the same mutual TLS.
    const deadline = Date.now() + 10_000;
    while ((await api(b.base, 'GET', '/api/v1/delegations', operatorB)).json[0].status !== 'active') {
      if (Date.now() > deadline) throw new Error(`no completion notice; A said: ${a.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
