/**
 * The management API (main/server/api, API.md) in one process: authentication (tokens, constant-time
 * comparison, peers), request validation (every error a JSON body naming the field), the operator's
 * and a peer's scope, the event stream, and the delegation Atomic run on a real device tree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig, parsePeerSpec, publicJob, tokenEquals } from '../../main/server/api/index.js';
import { delegationJob, jobUris, normalizeDmUri, sharedAcl, withinSubtrees } from '../../main/server/federation.js';
import { specCommand } from '../../main/server/jobs.js';
import type { Command, SyncML } from '../../main/protocol/model.js';
import { createDeviceTree, findAccount } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import { processPackage } from '../../main/tree/processor/index.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { pkg, codes } from '../helpers/dm-package.js';
import { sseReader } from '../helpers/dmw-servers.js';
import { sync } from '../helpers/sync-store.js';

const OP = 'operator-token-0123456789';
const PEER = 'peer-token-srvB-0123456789';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-api-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA' });
  const api = attachApi(server, { auth: buildAuthConfig({ apiToken: OP, peers: [{ id: 'srvB', token: PEER }], serverId: 'srvA' }), maxBodyBytes: 4096 });
  cleanup.push(async () => {
    api.close();
    await server.close();
  });
  const base = `http://127.0.0.1:${server.port}`;
  const call = async (method: string, p: string, o: { token?: string | null; body?: unknown; raw?: string; type?: string; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? OP : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.raw !== undefined || o.body !== undefined) {
      body = o.raw ?? JSON.stringify(o.body);
      headers['content-type'] = o.type ?? 'application/json';
    }
    const r = await fetch(`${base}${p}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await r.text();
    return { status: r.status, headers: r.headers, json: text ? (JSON.parse(text) as any) : undefined };
  };
  return { server, api, base, call };
}

/** Reads SSE events from a stream until `until` says stop. */
function subscribe(url: string, token: string) {
  const events: { event: string; data: any }[] = [];
  const waiters: Array<() => void> = [];
  const req = http.get(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', sseReader((e) => {
      events.push(e);
      for (const w of waiters.splice(0)) w();
    }));
  });
  req.on('error', () => undefined);
  cleanup.push(() => req.destroy());
  return {
    events,
    async until(pred: (e: { event: string; data: any }) => boolean, ms = 10_000): Promise<{ event: string; data: any }> {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching event; got ${events.map((e) => e.event).join(', ')}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

describe('authentication', () => {
  it('every route but /health needs a token; a bad one is 401 naming the Authorization field', async () => {
    const { call } = await setup();
    expect(await call('GET', '/api/v1/health', { token: null })).toMatchObject({ status: 200, json: { ok: true } });
    const none = await call('GET', '/api/v1/jobs', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="dmw"');
    expect(none.json.error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
    expect(none.json.error.message).toMatch(/Authorization: Bearer/);
    const bad = await call('GET', '/api/v1/jobs', { token: 'not-the-token-at-all' });
    expect(bad.status).toBe(401);
    expect(bad.json.error).toMatchObject({ code: 'unauthorized', field: 'authorization', message: 'the bearer token in the Authorization header is not valid for this server' });
    const basic = await call('GET', '/api/v1/jobs', { token: null, headers: { authorization: 'Basic dXNlcjpwdw==' } });
    expect(basic.json.error.message).toMatch(/must be "Bearer <token>"/);
    // an unknown route is not revealed before authentication
    expect((await call('GET', '/api/v1/nothing', { token: null })).status).toBe(401);
    expect(await call('GET', '/api/v1/server')).toMatchObject({ status: 200, json: { serverId: 'srvA', principal: 'operator', apiVersion: 1 } });
    expect(await call('GET', '/api/v1/server', { token: PEER })).toMatchObject({ status: 200, json: { principal: 'peer:srvB' } });
  });

  it('compares tokens in constant time over any length, and refuses weak or shared tokens at start', () => {
    expect(tokenEquals('abc', 'abc')).toBe(true);
    expect(tokenEquals('abc', 'abcd')).toBe(false);
    expect(tokenEquals('', 'x'.repeat(1000))).toBe(false);
    expect(() => buildAuthConfig({ apiToken: 'short', peers: [], serverId: 'a' })).toThrow(/--api-token: the token must be at least 16 characters/);
    expect(() => buildAuthConfig({ apiToken: OP, peers: [{ id: 'b', token: OP }], serverId: 'a' })).toThrow(/--peer b: the same token as --api-token/);
    expect(() => buildAuthConfig({ peers: [{ id: 'a', token: PEER }], serverId: 'a' })).toThrow(/this server's own ServerID/);
    expect(() => buildAuthConfig({ peers: [{ id: 'b', url: 'http://x:1' }], serverId: 'a' })).toThrow(/give token= or cert= and key=/);
    expect(() => buildAuthConfig({ peers: [{ id: 'b', token: PEER, cert: 'c.pem' }], serverId: 'a' })).toThrow(/cert= and key= go together/);
    expect(() => buildAuthConfig({ peers: [{ id: 'b&c', token: PEER }], serverId: 'a' })).toThrow(/not a usable ServerID/);
  });

  it('parses --peer ID[=URL][,token=T][,ca=F][,cert=F,key=F]', () => {
    expect(parsePeerSpec('srvB=https://b.lab:8443,token=T0,ca=b-ca.pem')).toEqual({ id: 'srvB', url: 'https://b.lab:8443', token: 'T0', ca: 'b-ca.pem' });
    expect(parsePeerSpec('srvA,token=x=y')).toEqual({ id: 'srvA', token: 'x=y' });
    expect(parsePeerSpec('srvA')).toEqual({ id: 'srvA' });
    expect(() => parsePeerSpec('srvA,tokn=x')).toThrow(/unknown option "tokn"/);
    expect(() => parsePeerSpec('srvA,token=')).toThrow(/token= needs a value/);
  });
});

describe('request validation', () => {
  it('bad JSON, wrong media type, unknown and missing fields, bad values, too large: 4xx naming the field', async () => {
    const { call } = await setup();
    const badJson = await call('POST', '/api/v1/jobs', { raw: '{"device": "x",' });
    expect(badJson.status).toBe(400);
    expect(badJson.json.error).toMatchObject({ code: 'bad-json', field: 'body' });
    expect(badJson.json.error.message).toMatch(/^the body is not valid JSON: /);
    expect((await call('POST', '/api/v1/jobs', { raw: '' })).json.error).toMatchObject({ code: 'bad-json', field: 'body' });

    const type = await call('POST', '/api/v1/jobs', { raw: 'device=x', type: 'application/x-www-form-urlencoded' });
    expect(type.status).toBe(415);
    expect(type.json.error).toMatchObject({ code: 'unsupported-media-type', field: 'content-type' });

    const noDevice = await call('POST', '/api/v1/jobs', { body: { spec: { kind: 'get', uri: './DevInfo/Mod' } } });
    expect(noDevice.status).toBe(400);
    expect(noDevice.json.error).toMatchObject({ code: 'invalid', field: 'device' });
    expect(noDevice.json.error.message).toMatch(/^device: /);

    const badUri = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:1', spec: { kind: 'get', uri: '/abs' } } });
    expect(badUri.json.error).toMatchObject({ status: 400, field: 'spec.uri' });
    expect(badUri.json.error.message).toMatch(/not a DM URI/);

    const nested = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:1', spec: { kind: 'atomic', commands: [{ kind: 'get', uri: './A' }, { kind: 'get', uri: 5 }] } } });
    expect(nested.json.error.field).toBe('spec.commands.1.uri');

    const extra = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:1', spec: { kind: 'get', uri: './A' }, priority: 9 } });
    expect(extra.json.error).toMatchObject({ status: 400, field: 'priority' });
    expect(extra.json.error.message).toMatch(/unknown field\(s\) "priority"/);

    const notObject = await call('POST', '/api/v1/jobs', { body: [1, 2] });
    expect(notObject.json.error).toMatchObject({ status: 400, field: 'body' });

    const big = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:1', spec: { kind: 'replace', uri: './A', value: 'x'.repeat(5000) } } });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatchObject({ code: 'too-large', field: 'body' });

    const q = await call('GET', '/api/v1/jobs?status=finished');
    expect(q.json.error).toMatchObject({ status: 400, field: 'status' });
    expect((await call('GET', '/api/v1/jobs?devce=x')).json.error).toMatchObject({ status: 400, field: 'devce' });
    expect((await call('GET', '/api/v1/events?types=job-done,bogus')).json.error).toMatchObject({ status: 400, field: 'types' });
    expect((await call('GET', '/api/v1/jobs/abc')).json.error).toMatchObject({ status: 400, field: 'id' });

    const route = await call('GET', '/api/v1/nothing');
    expect(route.json.error).toMatchObject({ status: 404, code: 'not-found', field: 'path' });
    const method = await call('PUT', '/api/v1/jobs');
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST, GET, DELETE');
  });

  it('an unknown device is 404 naming the device field (the operator may still queue for one never seen)', async () => {
    const { call, server } = await setup();
    const dev = await call('GET', `/api/v1/devices/${encodeURIComponent('IMEI:nobody')}`);
    expect(dev.status).toBe(404);
    expect(dev.json.error).toMatchObject({ code: 'unknown-device', field: 'device', message: 'no device "IMEI:nobody" on this server' });
    const peer = await call('POST', '/api/v1/jobs', { token: PEER, body: { device: 'IMEI:nobody', spec: { kind: 'get', uri: './DevInfo/Mod' } } });
    expect(peer.status).toBe(404);
    expect(peer.json.error).toMatchObject({ code: 'unknown-device', field: 'device' });
    const deleg = await call('POST', '/api/v1/delegations', { body: { device: 'IMEI:nobody', peer: 'srvB', subtrees: ['./Vendor'] } });
    expect(deleg.json.error).toMatchObject({ status: 400, code: 'unknown-peer', field: 'peer' }); // srvB has no URL here
    server.setDevice('IMEI:known', { notifyUrl: null });
    const deleg2 = await call('POST', '/api/v1/delegations', { body: { device: 'IMEI:known', peer: 'srvC', subtrees: ['./Vendor'] } });
    expect(deleg2.json.error).toMatchObject({ status: 400, code: 'unknown-peer', field: 'peer' });
    const op = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:nobody', spec: { kind: 'get', uri: './DevInfo/Mod' } } });
    expect(op.status).toBe(201);
  });
});

describe('devices', () => {
  it('PUT /devices/{devId}: the operator sets where package #0 reaches a device and its own credentials (never seen is fine); peers may not; bad input names the field', async () => {
    const { call, server } = await setup();
    const at = `/api/v1/devices/${encodeURIComponent('IMEI:NEW')}`;
    const put = await call('PUT', at, { body: { notifyUrl: 'http://127.0.0.1:9/notify/IMEI%3ANEW', clientCred: { name: 'own', secret: 'own-secret-1' } } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ devId: 'IMEI:NEW', notifyUrl: 'http://127.0.0.1:9/notify/IMEI%3ANEW', ownClientCred: true });
    expect(JSON.stringify(put.json)).not.toMatch(/own-secret-1/);
    expect(sync(server.store).device('IMEI:NEW')).toMatchObject({ notifyUrl: 'http://127.0.0.1:9/notify/IMEI%3ANEW', clientCred: { name: 'own', secret: 'own-secret-1' } });
    // null goes back to the lab default; what is not given stays.
    const back = await call('PUT', at, { body: { clientCred: null } });
    expect(back.json).toMatchObject({ ownClientCred: false, notifyUrl: 'http://127.0.0.1:9/notify/IMEI%3ANEW' });
    expect((await call('PUT', at, { body: { notifyUrl: null } })).json.notifyUrl).toBeUndefined();
    const bad = await call('PUT', at, { body: { notifyUrl: 'ftp://lab/x' } });
    expect(bad.json.error).toMatchObject({ status: 400, code: 'invalid', field: 'notifyUrl', message: 'notifyUrl: must be an http:// or https:// URL' });
    expect((await call('PUT', at, { body: {} })).json.error).toMatchObject({ status: 400, code: 'invalid', message: expect.stringMatching(/give notifyUrl, clientCred or both/) });
    expect((await call('PUT', at, { body: { notifyUrl: 'http://x/', extra: 1 } })).json.error).toMatchObject({ status: 400, field: 'extra' });
    expect((await call('PUT', at, { token: PEER, body: { notifyUrl: 'http://x/' } })).json.error).toMatchObject({ status: 403, code: 'forbidden' });
    expect(sync(server.store).device('IMEI:NEW')!.notifyUrl).toBeUndefined();
  });
});

describe('jobs, results and events', () => {
  it('operator: add, list (the `dmw job list --json` shape), get; results and alerts stream over SSE', async () => {
    const { call, server, base } = await setup();
    const sse = subscribe(`${base}/api/v1/events?types=job-done,alert,session-ended`, OP);
    await sse.until((e) => e.event === 'ready');
    const add = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:API1', spec: { kind: 'get', uri: './DevInfo/Mod' } } });
    expect(add.status).toBe(201);
    expect(add.headers.get('location')).toBe(`/api/v1/jobs/${add.json.job.id}`);
    expect(add.json.job).toEqual(publicJob(sync(server.store).job(add.json.job.id)!));

    const client = new TestClient({ url: server.url, devId: 'IMEI:API1', devInfo: { Mod: 'Lab Phone 9' } });
    const r = await client.runSession({ extra: [{ kind: 'Alert', cmdID: '', data: '1226', items: [{ source: { locURI: './Vendor/Fw' }, meta: { type: 'org.example.fw', format: 'chr' }, data: { kind: 'text', text: 'ok' } }] } as Command] });
    expect(r.error).toBeUndefined();

    const done = await sse.until((e) => e.event === 'job-done');
    expect(done.data.job).toMatchObject({ id: add.json.job.id, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', data: 'Lab Phone 9' }] });
    const alert = await sse.until((e) => e.event === 'alert');
    expect(alert.data).toMatchObject({ device: 'IMEI:API1', alert: { code: '1226' } });
    await sse.until((e) => e.event === 'session-ended');
    expect(sse.events.some((e) => e.event === 'job-sent')).toBe(false); // filtered by types=

    const list = await call('GET', '/api/v1/jobs?device=IMEI%3AAPI1');
    expect(list.json).toEqual(sync(server.store).jobs({ device: 'IMEI:API1' }).map(publicJob));
    expect(await call('GET', `/api/v1/jobs/${add.json.job.id}`)).toMatchObject({ status: 200, json: done.data.job });
    expect((await call('GET', '/api/v1/jobs/999')).json.error).toMatchObject({ status: 404, code: 'unknown-job', field: 'id' });
    const devs = await call('GET', '/api/v1/devices');
    expect(devs.json).toEqual([expect.objectContaining({ devId: 'IMEI:API1', devInfo: expect.objectContaining({ Mod: 'Lab Phone 9' }), ownClientCred: false })]);
    expect(JSON.stringify(devs.json)).not.toMatch(/secret/i);
    expect(await call('DELETE', '/api/v1/jobs?device=IMEI%3AAPI1')).toMatchObject({ status: 200, json: { device: 'IMEI:API1', deleted: 1, kept: 0 } });
  });

  it('a peer sees only devices granted to it, works only inside the granted subtrees, sees only its own jobs and events', async () => {
    const { call, server, base } = await setup();
    server.setDevice('IMEI:G1', { notifyUrl: null });
    server.setDevice('IMEI:G2', { notifyUrl: null });
    expect((await call('GET', '/api/v1/devices', { token: PEER })).json).toEqual([]);
    expect((await call('POST', '/api/v1/grants', { token: PEER, body: { peer: 'srvB', device: 'IMEI:G1', subtrees: ['./Vendor'] } })).json.error).toMatchObject({ status: 403, field: 'authorization' });
    expect((await call('POST', '/api/v1/grants', { body: { peer: 'srvB', device: 'IMEI:G1', subtrees: ['./DMAcc/srvA'] } })).json.error).toMatchObject({ status: 400, field: 'subtrees.0' });
    expect(await call('POST', '/api/v1/grants', { body: { peer: 'srvB', device: 'IMEI:G1', subtrees: ['./Vendor'] } })).toMatchObject({ status: 201, json: { peer: 'srvB', device: 'IMEI:G1', subtrees: ['./Vendor'] } });

    const devs = await call('GET', '/api/v1/devices', { token: PEER });
    expect(devs.json.map((d: { devId: string }) => d.devId)).toEqual(['IMEI:G1']);
    expect((await call('GET', '/api/v1/devices/IMEI%3AG2', { token: PEER })).status).toBe(404);

    const opJob = await call('POST', '/api/v1/jobs', { body: { device: 'IMEI:G1', spec: { kind: 'get', uri: './DMAcc/srvA/AppAuth' } } });
    const sse = subscribe(`${base}/api/v1/events`, PEER);
    await sse.until((e) => e.event === 'ready');
    const ok = await call('POST', '/api/v1/jobs', { token: PEER, body: { device: 'IMEI:G1', spec: { kind: 'get', uri: './Vendor/Mode' } } });
    expect(ok.status).toBe(201);
    const outside = await call('POST', '/api/v1/jobs', { token: PEER, body: { device: 'IMEI:G1', spec: { kind: 'get', uri: './DMAcc/srvA' } } });
    expect(outside.json.error).toMatchObject({ status: 403, code: 'forbidden', field: 'spec.uri' });
    const sibling = await call('POST', '/api/v1/jobs', { token: PEER, body: { device: 'IMEI:G1', spec: { kind: 'sequence', commands: [{ kind: 'get', uri: './Vendor/A' }, { kind: 'copy', uri: './Vendor/B', source: './VendorX/C' }] } } });
    expect(sibling.json.error).toMatchObject({ status: 403, field: 'spec.commands.1.source' });
    expect((await call('POST', '/api/v1/jobs', { token: PEER, body: { device: 'IMEI:G2', spec: { kind: 'get', uri: './Vendor/A' } } })).status).toBe(404);

    const mine = await call('GET', '/api/v1/jobs', { token: PEER });
    expect(mine.json.map((j: { id: number }) => j.id)).toEqual([ok.json.job.id]);
    expect((await call('GET', `/api/v1/jobs/${opJob.json.job.id}`, { token: PEER })).status).toBe(404);
    expect((await call('DELETE', '/api/v1/jobs?device=IMEI%3AG1', { token: PEER })).status).toBe(403);

    const client = new TestClient({ url: server.url, devId: 'IMEI:G1', tree: { './Vendor/Mode': { format: 'chr', data: 'eco' }, './DMAcc/srvA/AppAuth': { format: 'node', data: '1/2' } } });
    expect((await client.runSession()).error).toBeUndefined();
    const done = await sse.until((e) => e.event === 'job-done');
    expect(done.data.job).toMatchObject({ id: ok.json.job.id, results: [{ uri: './Vendor/Mode', data: 'eco' }] });
    await new Promise((r) => setTimeout(r, 100));
    // the operator's job finished in the same session, but the peer never heard of it
    const jobEvents = sse.events.filter((e) => e.event === 'job-done' || e.event === 'job-sent');
    expect(jobEvents.map((e) => e.event)).toEqual(['job-sent', 'job-done']);
    expect(new Set(jobEvents.map((e) => e.data.job?.id ?? e.data.jobId))).toEqual(new Set([ok.json.job.id]));
    expect(sync(server.store).job(opJob.json.job.id)!.status).toBe('done');
    expect(await call('DELETE', '/api/v1/grants?peer=srvB&device=IMEI%3AG1')).toMatchObject({ status: 200 });
    expect((await call('GET', '/api/v1/devices', { token: PEER })).json).toEqual([]);
  });
});

describe('delegation', () => {
  it('subtree checks are per segment; a job\'s URIs include Copy sources', () => {
    expect(withinSubtrees('./Vendor/X?list=Struct', ['./Vendor'])).toBe(true);
    expect(withinSubtrees('Vendor', ['./Vendor/'])).toBe(true);
    expect(withinSubtrees('./VendorX', ['./Vendor'])).toBe(false);
    expect(withinSubtrees('./Vendor/../DMAcc', ['./Vendor'])).toBe(false);
    expect(normalizeDmUri('Vendor/A/')).toBe('./Vendor/A');
    expect(jobUris({ kind: 'copy', uri: './A', source: './B' }).map((u) => u.field)).toEqual(['spec.uri', 'spec.source']);
    expect(sharedAcl('srvA', 'srvB', ['Get', 'Replace'])).toBe('Get=srvA+srvB&Replace=srvA+srvB');
  });

  it('the Atomic gives the device a DMAcc 1.2 account for B that only B can use, and shares the subtree; A\'s account stays closed to B', async () => {
    const tree = createDeviceTree({ accounts: [{ serverId: 'srvA', addr: 'http://a/dm', clientCred: { name: 'lab', secret: 'labpw' }, serverCred: { name: 'srvA', secret: 'srvApw' } }] });
    tree.setProperties(tree.lookup('./DMAcc')!, { acl: 'Get=*&Add=srvA' });
    tree.createNode(tree.root, 'Vendor', { acl: 'Add=srvA&Delete=srvA&Exec=srvA&Get=srvA&Replace=srvA' });
    tree.createNode(tree.lookup('./Vendor')!, 'Mode', { format: 'chr', value: 'eco' });
    const spec = delegationJob({
      delegate: { serverId: 'srvB', dmUrl: 'http://b/dm', clientAuth: 'md5', serverAuth: 'md5', serverCred: { name: 'srvB', secret: 'srvBpw' } },
      clientCred: { name: 'dev-1', secret: 'devsecret123' },
      subtrees: [{ uri: './Vendor', acl: sharedAcl('srvA', 'srvB', ['Get', 'Replace']) }],
    });
    let n = 0;
    const number = (c: Command): Command => {
      const id = String(++n);
      return 'commands' in c ? { ...c, cmdID: id, commands: c.commands.map(number) } as Command : { ...c, cmdID: id } as Command;
    };
    const run = async (serverId: string, cmds: Command[]) => {
      const m: SyncML = pkg('');
      m.body.commands = cmds.map(number);
      return (await processPackage(tree, m, { serverId })).messages[0]!;
    };
    const reply = await run('srvA', [specCommand(spec)]);
    expect(codes(reply).filter((c) => !/-> 200$/.test(c))).toEqual([]);
    const acc = findAccount(tree, 'srvB')!;
    expect(acc).toMatchObject({ path: './DMAcc/srvB', addr: 'http://b/dm', authPref: 'DIGEST', clientCred: { type: 'DIGEST', name: 'dev-1', secret: 'devsecret123' }, serverCred: { name: 'srvB', secret: 'srvBpw' } });
    expect(tree.lookup('./DMAcc/srvB')!.acl.text).toBe('Add=srvB&Delete=srvB&Get=srvB&Replace=srvB');
    expect(tree.lookup('./Vendor')!.acl.text).toBe('Get=srvA+srvB&Replace=srvA+srvB');

    const get = (uri: string): Command => ({ kind: 'Get', cmdID: '', items: [{ target: { locURI: uri } }] });
    expect(codes(await run('srvB', [get('./Vendor/Mode'), get('./DMAcc/srvA'), get('./DMAcc/srvA/AppAuth/1/AAuthSecret'), get('./DMAcc/srvB/ServerID')]))).toEqual([
      expect.stringMatching(/Get \d+ \.\/Vendor\/Mode -> 200/),
      expect.stringMatching(/Get \d+ \.\/DMAcc\/srvA -> 425/),
      expect.stringMatching(/Get \d+ \.\/DMAcc\/srvA\/AppAuth\/1\/AAuthSecret -> 405/),
      expect.stringMatching(/Get \d+ \.\/DMAcc\/srvB\/ServerID -> 200/),
    ]);
    expect(codes(await run('srvA', [get('./DMAcc/srvB')]))).toEqual([expect.stringMatching(/-> 425$/)]);
    expect(tree.get(DEVICE, './Vendor/Mode').ok).toBe(true);
  });
});
