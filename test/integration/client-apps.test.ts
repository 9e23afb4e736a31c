/**
 * DM-7/DM-8 end to end: a real DmServer (main/server) on a temp data folder, a VirtualHandset talking
 * to it over HTTP with MD5 both ways, and apps on the handset:
 *  - an app in "another process" registers its MO through the loopback HTTP interface, the server
 *    Replaces one of its nodes in a session, and the app hears it (long poll and SSE) with the
 *    server's ServerID, the path and the new value;
 *  - the FUMO demo: the server Replaces Update/PkgData and Execs Update with a Correlator; the app
 *    answers 202, installs, and reports Generic Alert 1226 in a new session, which the server stores
 *    and attaches to the Exec job by Correlator, and logs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/index.js';
import {
  VirtualHandset, AAUTH_TYPE, ClientAppRegistry, ClientAppServer, FirmwareUpdateApp, FUMO_STATE,
  type HandsetEvent,
} from '../../main/client/index.js';
import { appCall } from '../helpers/app-client.js';
import { sync } from '../helpers/sync-store.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-apps-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function lab(): Promise<{ server: DmServer; handset: VirtualHandset; apps: ClientAppRegistry; sessions: Array<Extract<HandsetEvent, { type: 'session-end' }>> }> {
  const server = await DmServer.start({
    dataDir: tmp(), port: 0, host: '127.0.0.1',
    clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' }, serverAuth: 'md5',
  });
  cleanup.push(() => server.close());
  const handset = await VirtualHandset.open({
    treeFile: path.join(tmp(), 'phone.json'),
    device: {
      fwV: '1.0.0',
      accounts: [{
        serverId: server.config.serverId,
        addr: server.url,
        clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' },
        serverCred: { type: AAUTH_TYPE.md5, name: 'dmw', secret: 'srvpw' },
      }],
    },
  });
  cleanup.push(() => handset.close());
  const apps = ClientAppRegistry.attach(handset);
  cleanup.push(() => apps.detach());
  const sessions: Array<Extract<HandsetEvent, { type: 'session-end' }>> = [];
  handset.on((e) => {
    if (e.type === 'session-end') sessions.push(e);
  });
  return { server, handset, apps, sessions };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('client apps (DM-7/DM-8) on a virtual handset against our DM server', () => {
  it('an app registers over the local HTTP interface; a server Replace of its node reaches it with ServerID, path and value', async () => {
    const { server, handset, apps } = await lab();
    const local = await ClientAppServer.start(apps);
    cleanup.push(() => local.close());
    const api = appCall(local);
    const serverId = server.config.serverId;
    expect((await api('GET', '/v1/servers')).json).toEqual({ devId: handset.devId, servers: [{ serverId, name: expect.any(String) }] });
    const reg = await api('POST', '/v1/mos', {
      appId: 'com.example.camera',
      root: './Vendor/Camera',
      type: 'urn:example:mo:camera:1.0',
      servers: [serverId],
      nodes: [{ path: 'Resolution', value: '1080p' }, { path: 'Flash', format: 'bool', value: false }],
    });
    expect(reg.status).toBe(201);

    // the app listens both ways an app in another process can: long poll and SSE
    const polled = api('GET', '/v1/changes?appId=com.example.camera&waitMs=15000');
    const ctl = new AbortController();
    cleanup.push(() => ctl.abort());
    const sse = await fetch(`${local.url}/v1/events?appId=com.example.camera`, { headers: { authorization: `Bearer ${local.token}` }, signal: ctl.signal });
    const reader = sse.body!.getReader();
    let sseText = '';

    const { job } = await server.addJob(handset.devId, { kind: 'replace', uri: './Vendor/Camera/Resolution', value: '4k', format: 'chr' });
    const { job: flashJob } = await server.addJob(handset.devId, { kind: 'replace', uri: './Vendor/Camera/Flash', value: 'true', format: 'bool' });
    const outcome = await handset.connect();
    expect(outcome.error).toBeUndefined();
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(sync(server.store).job(flashJob.id)).toMatchObject({ status: 'done', statusCode: 200 });

    const changes = (await polled).json.changes;
    expect(changes).toMatchObject([
      { appId: 'com.example.camera', mo: './Vendor/Camera', command: 'Replace', serverId, sessionId: outcome.sessionId, path: './Vendor/Camera/Resolution', value: '4k', format: 'chr', status: 200 },
    ]);
    while (!sseText.includes('./Vendor/Camera/Flash')) sseText += new TextDecoder().decode((await reader.read()).value);
    expect(sseText).toContain('"path":"./Vendor/Camera/Resolution"');
    expect(sseText).toMatch(/"path":"\.\/Vendor\/Camera\/Flash","status":200,"format":"bool","type":"text\/plain","value":"true"/);

    // the app reads back what the server left, and the tree on disk has it
    const tree = await api('GET', `/v1/tree?appId=com.example.camera&path=${encodeURIComponent('./Vendor/Camera')}`);
    expect(tree.json.nodes.map((n: { path: string; value?: string }) => [n.path, n.value])).toEqual([
      ['./Vendor/Camera', undefined], ['./Vendor/Camera/Resolution', '4k'], ['./Vendor/Camera/Flash', 'true'],
    ]);
    const reopened = await VirtualHandset.open({ treeFile: handset.treeFile! });
    expect(reopened.tree.lookup('./Vendor/Camera/Resolution')?.value).toBe('4k');
  });

  it('an app over HTTP: the client answers its Exec with 202, the app hears the Correlator and reports 1226 through POST /v1/alerts', async () => {
    const { server, handset, apps } = await lab();
    const local = await ClientAppServer.start(apps);
    cleanup.push(() => local.close());
    const api = appCall(local);
    const serverId = server.config.serverId;
    await api('POST', '/v1/mos', { appId: 'com.example.diag', root: './Diag', servers: [serverId], nodes: [{ path: 'Run', format: 'node', access: ['Get', 'Exec'] }], exec: { Run: 202 } });
    const { job } = await server.addJob(handset.devId, { kind: 'exec', uri: './Diag/Run', data: 'battery', correlator: 'diag-9' });
    const polled = api('GET', '/v1/changes?appId=com.example.diag&after=0&waitMs=15000');
    await handset.connect();
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 202 });
    const [heard] = (await polled).json.changes;
    expect(heard).toMatchObject({ command: 'Exec', path: './Diag/Run', serverId, status: 202, exec: { correlator: 'diag-9', data: 'battery' } });

    const sent = await api('POST', '/v1/alerts', { appId: 'com.example.diag', serverId: heard.serverId, source: './Diag/Run', type: 'com.example.diag.result', format: 'int', data: 200, correlator: heard.exec.correlator });
    expect(sent).toMatchObject({ status: 200, json: { ok: true, serverId } });
    expect(sync(server.store).job(job.id)!.results).toContainEqual({ uri: './Diag/Run', format: 'int', data: '200', type: 'com.example.diag.result' });
    // an app may only speak for its own MO
    const foreign = await api('POST', '/v1/alerts', { appId: 'com.example.diag', serverId, source: './DevInfo/Mod', type: 't' });
    expect(foreign).toMatchObject({ status: 404, json: { error: { code: 'not-found', field: 'source' } } });
  });

  it('FUMO: Replace PkgData and Exec Update (Correlator) -> 202, install, Generic Alert 1226 in a new session, attached to the Exec job', async () => {
    const { server, handset, apps, sessions } = await lab();
    const serverId = server.config.serverId;
    const fumo = FirmwareUpdateApp.install(apps, { servers: [serverId], pkgVersion: '', stepMs: 30, retryDelayMs: 50 });
    cleanup.push(() => fumo.settled());
    expect(fumo.state).toBe(FUMO_STATE.IDLE);
    const devId = handset.devId;

    const firmware = Buffer.from('FIRMWARE-IMAGE-2.0.0'.repeat(50));
    const { job: version } = await server.addJob(devId, { kind: 'replace', uri: './FwUpdate/Lab/PkgVersion', value: '2.0.0' });
    const { job: download } = await server.addJob(devId, { kind: 'replace', uri: './FwUpdate/Lab/Update/PkgData', value: firmware.toString('base64'), binary: true });
    const { job: update } = await server.addJob(devId, { kind: 'exec', uri: './FwUpdate/Lab/Update', correlator: 'fw-2.0.0-rollout-17' });

    const first = await handset.connect();
    expect(first.error).toBeUndefined();
    expect(first.log.filter((e) => e.cmd !== 'Alert').map((e) => `${e.cmd} ${e.target} ${e.status}`)).toEqual([
      'Replace ./FwUpdate/Lab/PkgVersion 200', 'Replace ./FwUpdate/Lab/Update/PkgData 200', 'Exec ./FwUpdate/Lab/Update 202',
    ]);
    expect(sync(server.store).job(version.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(sync(server.store).job(download.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(sync(server.store).job(update.id)).toMatchObject({ status: 'done', statusCode: 202 });
    // the app heard the download (DM-8) and the Exec with its Correlator
    expect(fumo.heard.map((c) => `${c.command} ${c.path}`)).toEqual(['Replace ./FwUpdate/Lab/PkgVersion', 'Replace ./FwUpdate/Lab/Update/PkgData', 'Exec ./FwUpdate/Lab/Update']);
    expect(fumo.heard[1]!.value).toEqual(new Uint8Array(firmware));
    expect(fumo.heard[2]).toMatchObject({ serverId, status: 202, exec: { correlator: 'fw-2.0.0-rollout-17' } });

    // the install runs after the session, then the report goes out in a session of its own
    await fumo.settled();
    expect(fumo.reports).toMatchObject([{ operation: 'Update', serverId, correlator: 'fw-2.0.0-rollout-17', resultCode: 200, state: FUMO_STATE.UPDATE_SUCCESSFUL_NO_DATA, attempts: 1, delivered: true }]);
    const reportSession = fumo.reports[0]!.session!;
    expect(reportSession.sessionId).not.toBe(first.sessionId);
    expect(sessions.map((s) => [s.sessionId, s.ok])).toEqual([[first.sessionId, true], [reportSession.sessionId, true]]);
    expect(fumo.state).toBe(FUMO_STATE.UPDATE_SUCCESSFUL_NO_DATA);
    expect(handset.tree.lookup('./FwUpdate/Lab/Update/PkgData')?.value).toEqual(new Uint8Array(0));
    expect(handset.tree.lookup('./DevDetail/FwV')?.value).toBe('2.0.0');

    // the server has the alert, attached to the Exec job by Correlator
    const alerts = await until('the 1226 alert in the store', () => {
      const a = sync(server.store).alerts(devId).filter((x) => x.code === '1226');
      return a.length > 0 ? a : undefined;
    });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      code: '1226',
      correlator: 'fw-2.0.0-rollout-17',
      items: [{ source: './FwUpdate/Lab/Update', type: 'org.openmobilealliance.dm.firmwareupdate.update', format: 'int', data: '200' }],
    });
    const execJob = sync(server.store).job(update.id)!;
    expect(execJob.results).toContainEqual({ uri: './FwUpdate/Lab/Update', format: 'int', data: '200', type: 'org.openmobilealliance.dm.firmwareupdate.update' });
    // ...and the session log of that second session has the alert as it went over the wire
    const logged = sync(server.store).sessions({ device: devId }).find((s) => s.id === alerts[0]!.sessionId)!;
    expect(logged).toMatchObject({ state: 'done' });
    const inbound = sync(server.store).messages(logged.id).filter((m) => m.direction === 'in');
    const withAlert = inbound.find((m) => m.decoded?.includes('<Data>1226</Data>'));
    expect(withAlert?.decoded).toContain('<Correlator>fw-2.0.0-rollout-17</Correlator>');
    expect(withAlert?.decoded).toContain('org.openmobilealliance.dm.firmwareupdate.update');
    expect(withAlert?.decoded).toContain('<LocURI>./FwUpdate/Lab/Update</LocURI>');
  });

  it('FUMO: Exec Update with no package reports 410 (Mark critical) and State 80; no Correlator is invented', async () => {
    const { server, handset, apps } = await lab();
    const fumo = FirmwareUpdateApp.install(apps, { servers: [server.config.serverId], stepMs: 10 });
    cleanup.push(() => fumo.settled());
    const { job } = await server.addJob(handset.devId, { kind: 'exec', uri: './FwUpdate/Lab/Update' });
    await handset.connect();
    expect(sync(server.store).job(job.id)).toMatchObject({ statusCode: 202 });
    await fumo.settled();
    expect(fumo.reports).toMatchObject([{ resultCode: 410, state: FUMO_STATE.UPDATE_FAILED_NO_DATA, delivered: true }]);
    const alert = await until('the alert', () => sync(server.store).alerts(handset.devId).find((a) => a.code === '1226'));
    expect(alert.correlator).toBeUndefined();
    expect(alert.items[0]).toMatchObject({ data: '410', format: 'int' });
    const log = sync(server.store).messages(alert.sessionId!).find((m) => m.direction === 'in' && m.decoded?.includes('1226'))!;
    expect(log.decoded).toContain('<Mark xmlns="syncml:metinf">critical</Mark>');
    // without a Correlator the store cannot tie it to the job: the job keeps only its Exec status
    expect(sync(server.store).job(job.id)!.results).toEqual([]);
  });

  it('a server without rights on the MO cannot Exec it (425), and nothing reaches the app', async () => {
    const { server, handset, apps } = await lab();
    const fumo = FirmwareUpdateApp.install(apps, { servers: ['someone-else'], stepMs: 10 });
    const { job } = await server.addJob(handset.devId, { kind: 'exec', uri: './FwUpdate/Lab/Update', correlator: 'c1' });
    await handset.connect();
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'failed', statusCode: 425 });
    expect(fumo.heard).toEqual([]);
    expect(fumo.reports).toEqual([]);
  });
});
