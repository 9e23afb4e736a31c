/**
 * The acceptance test of the DM 2.0 interfaces, end to end with real parts only:
 *  - two `dmw server` processes on loopback, srvA and srvB, peers over DM-6 (shared token);
 *  - a virtual handset managed by srvA, with two apps on it: one in "another process" that registers
 *    its MO (./Vendor/Camera) through the handset's local HTTP app interface (ClientAppServer, DM-7),
 *    and the FUMO demo (FirmwareUpdateApp, ./FwUpdate/Lab);
 *  - srvA's operator delegates both MOs to srvB over DM-6; the handset takes srvB's account in its next
 *    session with srvA;
 *  - srvB reads the handset's tree but the device refuses it srvA's credentials (ACL); srvB's Replace
 *    of a node of the camera MO reaches the app (DM-8, its event stream) as srvB's change;
 *  - srvB Replaces the FUMO package and Execs Update with a Correlator (`dmw job add --server ...
 *    --correlator`); the app answers 202, installs, and its Generic Alert 1226 reaches srvB's DMA-DMS
 *    subscriber (SSE on /api/v1/events), srvB's session log (`dmw session show`) and srvB's Exec job.
 */
import { describe, expect, it } from 'vitest';
import { api, dmw, dmwLab, type Running } from '../helpers/dmw-servers.js';
import {
  VirtualHandset, AAUTH_TYPE, ClientAppRegistry, ClientAppServer, FirmwareUpdateApp, FUMO_STATE, FUMO_ALERT_TYPE,
} from '../../main/client/index.js';
import { findAccount } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import { appCall } from '../helpers/app-client.js';

const OPA = 'acceptance-operator-token-A';
const OPB = 'acceptance-operator-token-B';
const PEER_AB = 'acceptance-dm6-token-srvA-srvB';
const A_ARGS = ['--server-id', 'srvA', '--client-auth', 'md5', '--client-cred', 'lab:labpw', '--server-cred', 'srvA:srvApw', '--api-token', OPA];
const B_ARGS = ['--server-id', 'srvB', '--client-auth', 'md5', '--server-cred', 'srvB:srvBpw', '--api-token', OPB];
const CAMERA = 'com.example.camera';
const CORRELATOR = 'fw-2.0.0-rollout-17';

const { tmp, startServer, subscribe, cleanup } = dmwLab('dmw-dm20-');


/** A handset managed by srvA; its owner lets srvA add accounts (delegate). */
async function handsetOfA(a: Running) {
  const h = await VirtualHandset.open({
    encoding: 'xml',
    device: {
      mod: 'Lab Phone 9', fwV: '1.0.0',
      accounts: [{ serverId: 'srvA', addr: a.dmUrl, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'labpw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'srvA', secret: 'srvApw' } }],
    },
  });
  cleanup.push(() => h.close());
  h.tree.setProperties(h.tree.lookup('./DMAcc')!, { acl: 'Get=*&Add=srvA' });
  return h;
}

/** An app in another process: the handset's loopback HTTP app interface, with the token it was given. */
function appClient(local: ClientAppServer) {
  const call = appCall(local);
  /** The app's change stream (GET /v1/events), parsed as it arrives. */
  const listen = async (appId: string) => {
    const ctl = new AbortController();
    cleanup.push(() => ctl.abort());
    const res = await fetch(`${local.url}/v1/events?appId=${encodeURIComponent(appId)}`, { headers: { authorization: `Bearer ${local.token}` }, signal: ctl.signal });
    expect(res.status).toBe(200);
    const changes: any[] = [];
    void (async () => {
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: change$/m.test(block) && data) changes.push(JSON.parse(data));
        }
      }
    })();
    return {
      changes,
      async until(pred: (c: any) => boolean, ms = 15_000) {
        const deadline = Date.now() + ms;
        for (;;) {
          const hit = changes.find(pred);
          if (hit) return hit;
          if (Date.now() > deadline) throw new Error(`the app heard no such change; heard ${JSON.stringify(changes.map((c) => `${c.serverId} ${c.command} ${c.path}`))}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      },
    };
  };
  return { call, listen };
}

describe('DM 2.0 interfaces: federation, client apps, FUMO', () => {
  it('A delegates a handset\'s app MO and FUMO to B (DM-6); B reads the tree but not A\'s credentials; the app hears B\'s Replace (DM-8); FUMO\'s 1226 reaches B\'s subscriber, session log and Exec job', async () => {
    const dataA = tmp();
    const dataB = tmp();
    const b = await startServer(dataB, [...B_ARGS, '--peer', `srvA,token=${PEER_AB}`]);
    const a = await startServer(dataA, [...A_ARGS, '--peer', `srvB=${b.base},token=${PEER_AB}`]);
    const sseA = subscribe(a.base, OPA);
    const sseB = subscribe(b.base, OPB);
    await sseA.until((e) => e.event === 'ready');
    await sseB.until((e) => e.event === 'ready');

    // --- the handset, its apps, and its first session with A -------------------------------------
    const h = await handsetOfA(a);
    const dev = h.devId;
    const apps = ClientAppRegistry.attach(h);
    cleanup.push(() => apps.detach());
    const local = await ClientAppServer.start(apps, { port: 0 });
    cleanup.push(() => local.close());
    const app = appClient(local);
    expect((await app.call('GET', '/v1/servers')).json).toEqual({ devId: dev, servers: [{ serverId: 'srvA', name: expect.any(String) }] });
    const reg = await app.call('POST', '/v1/mos', {
      appId: CAMERA, root: './Vendor/Camera', type: 'urn:example:mo:camera:1.0', servers: ['srvA'],
      nodes: [{ path: 'Resolution', value: '1080p' }, { path: 'Flash', format: 'bool', value: false }],
    });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const fumo = FirmwareUpdateApp.install(apps, { servers: ['srvA'], pkgVersion: '', stepMs: 30, retryDelayMs: 50 });
    cleanup.push(() => fumo.settled());
    expect(fumo.state).toBe(FUMO_STATE.IDLE);
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);

    // --- DM-6: A's operator delegates both MOs to B; the Atomic runs in the next session with A ---
    const deleg = await api(a.base, 'POST', '/api/v1/delegations', OPA, { device: dev, peer: 'srvB', subtrees: ['./Vendor/Camera', './FwUpdate/Lab'] });
    expect(deleg.status, JSON.stringify(deleg.json)).toBe(202);
    expect(deleg.json.delegation).toMatchObject({ direction: 'out', device: dev, peer: 'srvB', status: 'pending' });
    expect((await api(b.base, 'GET', `/api/v1/devices/${encodeURIComponent(dev)}`, OPB)).json).toMatchObject({ devId: dev, ownClientCred: true, delegatedFrom: ['srvA'] });
    expect((await h.connect({ serverId: 'srvA' })).ok).toBe(true);
    const atomic = await sseA.until((e) => e.event === 'job-done' && e.data.job.id === deleg.json.job.id);
    expect(atomic.data.job).toMatchObject({ status: 'done', statusCode: 200 });
    await sseA.until((e) => e.event === 'delegation' && e.data.delegation.status === 'active');
    await sseB.until((e) => e.event === 'delegation' && e.data.delegation.status === 'active');
    expect(findAccount(h.tree, 'srvB')).toMatchObject({ addr: b.dmUrl, serverCred: { name: 'srvB', secret: 'srvBpw' } });
    const shared = 'Add=srvA+srvB&Delete=srvA+srvB&Exec=srvA+srvB&Get=srvA+srvB&Replace=srvA+srvB';
    expect(h.tree.lookup('./Vendor/Camera')!.acl.text).toBe(shared);
    expect(h.tree.lookup('./FwUpdate/Lab')!.acl.text).toBe(shared);
    // the app was told that A shared its MO (the Atomic's ACL Replace, DM-8)
    const before = (await app.call('GET', `/v1/changes?appId=${CAMERA}&after=0&waitMs=0`)).json.changes;
    expect(before).toMatchObject([{ command: 'Replace', serverId: 'srvA', path: './Vendor/Camera?prop=ACL', property: { name: 'ACL', value: shared } }]);
    // the registrations survived the delegation, and the app can now name srvB
    expect((await app.call('GET', `/v1/mos?appId=${CAMERA}`)).json.mos).toMatchObject([{ appId: CAMERA, root: './Vendor/Camera' }]);
    expect((await app.call('GET', '/v1/servers')).json.servers.map((s: { serverId: string }) => s.serverId).sort()).toEqual(['srvA', 'srvB']);

    // --- B's operator queues work: read the tree, try A's credentials, write the app's MO, FUMO ---
    const camera = await app.listen(CAMERA);
    const add = async (spec: object) => {
      const r = await api(b.base, 'POST', '/api/v1/jobs', OPB, { device: dev, spec });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      return r.json.job.id as number;
    };
    const readModel = await add({ kind: 'get', uri: './DevInfo/Mod' });
    const readCamera = await add({ kind: 'get', uri: './Vendor/Camera?list=Struct' });
    const readState = await add({ kind: 'get', uri: './FwUpdate/Lab/State' });
    const readAccountA = await add({ kind: 'get', uri: './DMAcc/srvA' });
    const readNameA = await add({ kind: 'get', uri: './DMAcc/srvA/AppAuth/1/AAuthName' });
    const readSecretA = await add({ kind: 'get', uri: './DMAcc/srvA/AppAuth/1/AAuthSecret' });
    const writeResolution = await add({ kind: 'replace', uri: './Vendor/Camera/Resolution', value: '4k', format: 'chr' });
    const firmware = Buffer.from('FIRMWARE-IMAGE-2.0.0'.repeat(50));
    const writeVersion = await add({ kind: 'replace', uri: './FwUpdate/Lab/PkgVersion', value: '2.0.0' });
    const download = await add({ kind: 'replace', uri: './FwUpdate/Lab/Update/PkgData', value: firmware.toString('base64'), format: 'bin', binary: true });
    const cli = dmw(['job', 'add', '--server', b.base, '--device', dev, 'exec', './FwUpdate/Lab/Update', '--correlator', CORRELATOR], { DMW_API_TOKEN: OPB });
    expect(cli.err).toBe('');
    expect(cli.code).toBe(0);
    const m = /^job (\d+) queued for (\S+): exec \.\/FwUpdate\/Lab\/Update\n$/.exec(cli.out);
    expect(m, cli.out).not.toBeNull();
    const update = Number(m![1]);
    expect(m![2]).toBe(dev);

    // --- the handset calls B with the account A wrote -------------------------------------------
    const withB = await h.connect({ serverId: 'srvB' });
    expect(withB.error).toBeUndefined();
    expect(withB.ok).toBe(true);
    const done = async (id: number) => (await sseB.until((e) => e.event === 'job-done' && e.data.job.id === id)).data.job;
    // B reads the tree: the device's identity and the subtrees delegated to it
    expect(await done(readModel)).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', data: 'Lab Phone 9' }] });
    const struct = await done(readCamera);
    expect(struct.statusCode).toBe(200);
    expect(struct.results.map((r: { uri: string }) => r.uri)).toEqual(['./Vendor/Camera', './Vendor/Camera/Resolution', './Vendor/Camera/Flash']);
    expect(await done(readState)).toMatchObject({ statusCode: 200, results: [{ uri: './FwUpdate/Lab/State', data: String(FUMO_STATE.IDLE) }] });
    // ...but not A's account: the ACL names only srvA, and no one may Get a secret
    expect(await done(readAccountA)).toMatchObject({ status: 'failed', statusCode: 425, results: [] });
    expect(await done(readNameA)).toMatchObject({ status: 'failed', statusCode: 425, results: [] });
    expect((await done(readSecretA)).statusCode).toBe(405);
    expect(JSON.stringify(sseB.events)).not.toContain('labpw');
    expect(JSON.stringify(sseB.events)).not.toContain('srvApw');
    // B's writes
    expect(await done(writeResolution)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(await done(writeVersion)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(await done(download)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(await done(update)).toMatchObject({ status: 'done', statusCode: 202 });
    expect(h.tree.get(DEVICE, './Vendor/Camera/Resolution')).toMatchObject({ ok: true, value: { value: '4k' } });

    // --- DM-8: the camera app hears B's Replace, as B's, over its event stream -------------------
    const heard = await camera.until((c) => c.serverId === 'srvB' && c.path === './Vendor/Camera/Resolution');
    expect(heard).toMatchObject({ appId: CAMERA, mo: './Vendor/Camera', command: 'Replace', serverId: 'srvB', sessionId: withB.sessionId, status: 200, format: 'chr', value: '4k' });
    expect(camera.changes.filter((c) => c.serverId === 'srvB').map((c) => `${c.command} ${c.path}`)).toEqual(['Replace ./Vendor/Camera/Resolution']);
    // the FUMO app heard B's download and B's Exec with its Correlator
    expect(fumo.heard.filter((c) => c.serverId === 'srvB').map((c) => `${c.command} ${c.path}`)).toEqual([
      'Replace ./FwUpdate/Lab/PkgVersion', 'Replace ./FwUpdate/Lab/Update/PkgData', 'Exec ./FwUpdate/Lab/Update',
    ]);
    expect(fumo.heard.at(-1)).toMatchObject({ serverId: 'srvB', status: 202, exec: { correlator: CORRELATOR } });

    // --- FUMO installs and reports 1226 to B, the server that sent the Exec ----------------------
    await fumo.settled();
    expect(fumo.reports).toMatchObject([{ operation: 'Update', serverId: 'srvB', correlator: CORRELATOR, resultCode: 200, state: FUMO_STATE.UPDATE_SUCCESSFUL_NO_DATA, delivered: true }]);
    expect(fumo.state).toBe(FUMO_STATE.UPDATE_SUCCESSFUL_NO_DATA);
    expect(h.tree.lookup('./DevDetail/FwV')?.value).toBe('2.0.0');
    const item = { source: './FwUpdate/Lab/Update', type: FUMO_ALERT_TYPE.Update, format: 'int', data: '200' };

    // B's API subscriber gets the alert, from the report's own session
    const alert = await sseB.until((e) => e.event === 'alert' && e.data.alert.code === '1226');
    expect(alert.data).toMatchObject({ type: 'alert', device: dev, alert: { code: '1226', correlator: CORRELATOR, items: [item] } });
    const reportSession = alert.data.sessionId as number;
    // ...and the Exec job again, now carrying the report (a second job-done for the same job)
    const reported = await sseB.until((e) => e.event === 'job-done' && e.data.job.id === update && e.data.job.results.some((r: { type?: string }) => r.type === FUMO_ALERT_TYPE.Update));
    expect(reported.data.job.results).toContainEqual({ uri: './FwUpdate/Lab/Update', format: 'int', data: '200', type: FUMO_ALERT_TYPE.Update });
    const bSessions = JSON.parse(dmw(['session', 'list', '--data', dataB, '--device', dev, '--json']).out) as { id: number; state: string }[];
    expect(bSessions.map((s) => s.id).sort((x, y) => x - y)).toEqual([expect.any(Number), reportSession]);
    expect(bSessions.find((s) => s.id === reportSession)).toMatchObject({ state: 'done' });
    // ...A, which did not send the Exec, hears nothing of it
    expect(sseA.events.filter((e) => e.event === 'alert')).toEqual([]);

    // B's session log has the alert as it went over the wire
    const show = dmw(['session', 'show', String(reportSession), '--data', dataB]);
    expect(show.err).toBe('');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(new RegExp(`^session ${reportSession} {2}device ${dev.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(show.out).toContain('<Data>1226</Data>');
    expect(show.out).toContain(`<Correlator>${CORRELATOR}</Correlator>`);
    expect(show.out).toContain('<LocURI>./FwUpdate/Lab/Update</LocURI>');
    expect(show.out).toContain(FUMO_ALERT_TYPE.Update);

    // B's Exec job carries the result, over the API and in `dmw job list --server`
    const execJob = (await api(b.base, 'GET', `/api/v1/jobs/${update}`, OPB)).json;
    expect(execJob).toMatchObject({ id: update, command: 'exec', target: './FwUpdate/Lab/Update', status: 'done', statusCode: 202 });
    expect(execJob.results).toContainEqual({ uri: './FwUpdate/Lab/Update', format: 'int', data: '200', type: FUMO_ALERT_TYPE.Update });
    const listed = JSON.parse(dmw(['job', 'list', '--server', b.base, '--token', OPB, '--device', dev, '--json']).out) as { id: number; results: unknown[] }[];
    expect(listed.find((j) => j.id === update)!.results).toEqual(execJob.results);
    // A's queue never saw any of B's work
    expect((await api(a.base, 'GET', `/api/v1/jobs?device=${encodeURIComponent(dev)}`, OPA)).json.map((j: { command: string }) => j.command)).toEqual(['atomic']);
  });
});
