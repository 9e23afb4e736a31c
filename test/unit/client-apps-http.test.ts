/**
 * The loopback HTTP/JSON interface of the client-app registry (main/client/apps/http.ts) over real
 * HTTP: the bearer token, register / get / write / deregister, errors that name the JSON field or
 * the path, long poll and server-sent events fed by real server packages through the processor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDeviceTree } from '../../main/tree/mos.js';
import type { DmTree } from '../../main/tree/tree.js';
import { processPackage } from '../../main/tree/processor/index.js';
import { ClientAppRegistry, ClientAppServer } from '../../main/client/apps/index.js';
import { pkg, replace } from '../helpers/dm-package.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function start(): Promise<{ tree: DmTree; apps: ClientAppRegistry; srv: ClientAppServer; call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }> }> {
  const tree = createDeviceTree({ accounts: [{ serverId: 'srvA', addr: 'http://127.0.0.1:1/dm', clientCred: { type: 'DIGEST', name: 'd', secret: 'p' }, serverCred: { type: 'DIGEST', name: 'srvA', secret: 's' } }] });
  const apps = new ClientAppRegistry(tree);
  const srv = await ClientAppServer.start(apps, { heartbeatMs: 50 });
  cleanup.push(() => srv.close());
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${srv.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  return { tree, apps, srv, call };
}

const REG = {
  appId: 'com.example.fw',
  root: './FwUpdate/Lab',
  type: 'urn:oma:mo:oma-fumo:1.0',
  servers: ['srvA'],
  nodes: [
    { path: 'PkgName', value: 'base' },
    { path: 'State', format: 'int', value: 10, access: ['Get'] },
    { path: 'Update/PkgData', format: 'bin', value: 'AAEC' },
  ],
  exec: { Update: 202 },
};

async function serverReplace(tree: DmTree, apps: ClientAppRegistry, uri: string, value: string): Promise<void> {
  const run = await processPackage(tree, pkg(replace(2, uri, value)), { serverId: 'srvA', exec: (r) => apps.exec(r) ?? { status: 406 } });
  apps.serverCommands(run.events, { serverId: 'srvA', sessionId: '7' });
}

describe('client-app HTTP interface', () => {
  it('listens on 127.0.0.1 only, with a random token; no token or a wrong one is 401', async () => {
    const { srv, call } = await start();
    expect(srv.host).toBe('127.0.0.1');
    expect(srv.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${srv.url}/v1/mos`)).status).toBe(401);
    const wrong = await call('GET', '/v1/mos', undefined, { authorization: `Bearer ${'x'.repeat(43)}` });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('unauthorized');
    await expect(ClientAppServer.start(new ClientAppRegistry(createDeviceTree()), { host: '0.0.0.0' })).rejects.toThrow(/not a loopback address/);
  });

  it('register, list, get (bin as base64), write a leaf, deregister', async () => {
    const { tree, call } = await start();
    const reg = await call('POST', '/v1/mos', REG);
    expect(reg.status).toBe(201);
    expect(reg.json.mo).toMatchObject({ appId: 'com.example.fw', root: './FwUpdate/Lab', acl: 'Add=srvA&Delete=srvA&Exec=srvA&Get=srvA&Replace=srvA', execTargets: ['./FwUpdate/Lab/Update'] });
    expect(tree.lookup('./FwUpdate/Lab/Update/PkgData')?.value).toEqual(new Uint8Array([0, 1, 2]));
    expect((await call('GET', '/v1/mos?appId=com.example.fw')).json.mos).toHaveLength(1);
    expect((await call('GET', '/v1/mos?appId=someone.else')).json.mos).toEqual([]);

    const got = await call('GET', `/v1/tree?appId=com.example.fw&path=${encodeURIComponent('./FwUpdate/Lab')}`);
    expect(got.status).toBe(200);
    expect(got.json.nodes.map((n: { path: string }) => n.path)).toEqual(['./FwUpdate/Lab', './FwUpdate/Lab/PkgName', './FwUpdate/Lab/State', './FwUpdate/Lab/Update', './FwUpdate/Lab/Update/PkgData']);
    expect(got.json.nodes[4]).toMatchObject({ format: 'bin', value: 'AAEC', encoding: 'base64' });
    expect(got.json.nodes[2]).toMatchObject({ format: 'int', value: '10', access: ['Get'] });

    const put = await call('PUT', `/v1/tree?appId=com.example.fw&path=${encodeURIComponent('./FwUpdate/Lab/State')}`, { value: 40 });
    expect(put).toMatchObject({ status: 200, json: { node: { path: './FwUpdate/Lab/State', value: '40' } } });

    const del = await call('DELETE', `/v1/mos?appId=com.example.fw&root=${encodeURIComponent('./FwUpdate/Lab')}`);
    expect(del).toMatchObject({ status: 200, json: { root: './FwUpdate/Lab', removed: 6 } }); // 5 nodes, and ./FwUpdate the registration created
    expect(tree.lookup('./FwUpdate')).toBeUndefined();
  });

  it('errors are JSON naming the field or the path, with the right HTTP status', async () => {
    const { call } = await start();
    const badFormat = await call('POST', '/v1/mos', { ...REG, nodes: [{ path: 'X', format: 'text' }] });
    expect(badFormat.status).toBe(400);
    expect(badFormat.json.error).toMatchObject({ code: 'bad-input', field: 'nodes[0].format' });
    expect(badFormat.json.error.message).toMatch(/^nodes\[0\]\.format: /);
    const unknownField = await call('POST', '/v1/mos', { ...REG, colour: 'red' });
    expect(unknownField.json.error).toMatchObject({ code: 'bad-input' });
    expect(unknownField.json.error.message).toContain('colour');
    const badB64 = await call('POST', '/v1/mos', { ...REG, nodes: [{ path: 'B', format: 'bin', value: 'not base64!' }] });
    expect(badB64.json.error).toMatchObject({ field: 'nodes[0].value' });
    const badInt = await call('POST', '/v1/mos', { ...REG, nodes: [{ path: 'State', format: 'int', value: 'ten' }] });
    expect(badInt.json.error).toEqual({ code: 'bad-input', field: 'nodes[0].value', path: './FwUpdate/Lab/State', message: 'nodes[0].value: ./FwUpdate/Lab/State: int must be a decimal integer, got "ten"' });
    const reserved = await call('POST', '/v1/mos', { ...REG, root: './DMAcc/evil' });
    expect(reserved).toMatchObject({ status: 403, json: { error: { code: 'reserved', path: './DMAcc/evil' } } });
    expect((await call('POST', '/v1/mos', REG)).status).toBe(201);
    const clash = await call('POST', '/v1/mos', { ...REG, appId: 'com.example.other', root: './FwUpdate/Lab/Ext' });
    expect(clash).toMatchObject({ status: 409, json: { error: { code: 'clash', message: './FwUpdate/Lab/Ext is inside ./FwUpdate/Lab, registered by app com.example.fw' } } });
    const notOwner = await call('GET', `/v1/tree?appId=com.example.other&path=${encodeURIComponent('./FwUpdate/Lab')}`);
    expect(notOwner).toMatchObject({ status: 403, json: { error: { code: 'not-owner' } } });
    expect((await call('GET', '/v1/tree?appId=com.example.fw')).json.error).toMatchObject({ field: 'path', message: 'query parameter path is required' });
    expect((await call('POST', '/v1/mos', 'appId=x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/v1/mos', '{oops')).json.error.code).toBe('bad-json');
    const huge = await call('POST', '/v1/mos', JSON.stringify({ ...REG, pad: 'x'.repeat(1024 * 1024) }));
    expect(huge).toMatchObject({ status: 413, json: { error: { code: 'too-large', message: 'the body is over 1048576 bytes' } } });
    expect((await call('PATCH', '/v1/mos')).status).toBe(405);
    expect((await call('GET', '/v2/anything')).status).toBe(404);
    const alert = await call('POST', '/v1/alerts', { appId: 'com.example.fw', serverId: 'srvA', source: './FwUpdate/Lab/Update', type: 't' });
    expect(alert).toMatchObject({ status: 503, json: { error: { code: 'no-handset' } } });
  });

  it('long poll: waits for the next change to the app\'s MO and returns it as JSON', async () => {
    const { tree, apps, call } = await start();
    await call('POST', '/v1/mos', REG);
    const polled = call('GET', '/v1/changes?appId=com.example.fw&after=0&waitMs=5000');
    await new Promise((r) => setTimeout(r, 50));
    await serverReplace(tree, apps, './FwUpdate/Lab/PkgName', 'v2.0');
    const r = await polled;
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ last: 1, truncated: false, changes: [{ seq: 1, appId: 'com.example.fw', command: 'Replace', serverId: 'srvA', path: './FwUpdate/Lab/PkgName', value: 'v2.0', sessionId: '7' }] });
    // nothing newer: an immediate empty answer with waitMs=0
    expect((await call('GET', '/v1/changes?appId=com.example.fw&after=1&waitMs=0')).json.changes).toEqual([]);
  });

  it('server-sent events: replay after Last-Event-ID, then live changes; bytes as base64', async () => {
    const { tree, apps, srv, call } = await start();
    await call('POST', '/v1/mos', REG);
    await serverReplace(tree, apps, './FwUpdate/Lab/PkgName', 'first');
    const ctl = new AbortController();
    const res = await fetch(`${srv.url}/v1/events?appId=com.example.fw`, { headers: { authorization: `Bearer ${srv.token}`, 'last-event-id': '0' }, signal: ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pred: () => boolean) => {
      while (!pred()) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await until(() => text.includes('id: 1'));
    const run = await processPackage(tree, pkg(`<Replace><CmdID>2</CmdID><Item><Target><LocURI>./FwUpdate/Lab/Update/PkgData</LocURI></Target><Meta><Format xmlns="syncml:metinf">bin</Format></Meta><Data>AQID</Data></Item></Replace>`), { serverId: 'srvA' });
    apps.serverCommands(run.events, { serverId: 'srvA', sessionId: '8' });
    await until(() => text.includes('id: 2') && text.endsWith('\n\n'));
    await until(() => text.includes(': keep-alive'));
    ctl.abort();
    const events = text.split('\n\n').filter((b) => b.startsWith('id:')).map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)));
    expect(events).toMatchObject([
      { seq: 1, path: './FwUpdate/Lab/PkgName', value: 'first' },
      { seq: 2, path: './FwUpdate/Lab/Update/PkgData', format: 'bin', value: 'AQID', encoding: 'base64', sessionId: '8' },
    ]);
  });
});
