/**
 * DM 2.0 binding end to end: a real node:http server calling handleDm20 on a real SQLite store
 * (SQLite in a temp folder), and the DM 2.0 client session on a real DmTree over HTTP.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDm20Session } from '../../main/client/dm20/index.js';
import { Transport } from '../../main/client/transport.js';
import { DM20_MEDIA_TYPE } from '../../main/protocol/dm20/index.js';
import { createDm20Context, handleDm20, sweepDm20, type Dm20Context } from '../../main/server/dm20/index.js';
import type { ServerEvent } from '../../main/server/events.js';
import type { IncomingBody } from '../../main/server/http.js';
import { mediaType } from '../../main/protocol/http-body.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { createDeviceTree, type DmAccountSpec } from '../../main/tree/mos.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
import { sync } from '../helpers/sync-store.js';

const DEV = 'IMEI:490154203237518';
const account = (serverId: string): DmAccountSpec => ({
  serverId, addr: 'http://127.0.0.1/dm',
  clientCred: { type: 'DIGEST', name: 'dev', secret: 'pw' }, serverCred: { type: 'DIGEST', name: serverId, secret: 'spw' },
});

interface Lab {
  dir: string;
  store: SqliteStore;
  ctx: Dm20Context;
  events: ServerEvent[];
  server: http.Server;
  url: string;
  tree: DmTree;
  transport: Transport;
  clock: { t: number };
}

let lab: Lab;

/** The mount the lead adds to DmServer, reduced to its essence: whole bodies in, handler's answer out. */
function mount(ctx: Dm20Context, basePath: string): http.Server {
  return http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const p = (req.url ?? '/').split('?')[0]!;
      if (p !== `${basePath}/v2`) {
        res.writeHead(404).end();
        return;
      }
      const body: IncomingBody = {
        method: req.method ?? 'GET', path: p, contentType: mediaType(req.headers['content-type']), host: req.headers.host, headers: req.headers,
        bytes: new Uint8Array(Buffer.concat(chunks)), remote: 'test', tls: false, receivedAt: ctx.now(),
      };
      const out = await handleDm20(ctx, body);
      const buf = typeof out.body === 'string' ? Buffer.from(out.body) : Buffer.from(out.body);
      res.writeHead(out.status, { ...out.headers, 'content-length': String(buf.length) }).end(buf);
    });
  });
}

beforeEach(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-dm20-'));
  const store = SqliteStore.open(dir);
  const events: ServerEvent[] = [];
  const clock = { t: 1_700_000_000_000 };
  const ctx = createDm20Context({ store, emit: (e) => events.push(e), now: () => clock.t });
  const server = mount(ctx, '/dm');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dm/v2`;
  const tree = createDeviceTree({ devId: DEV, mod: 'AM-X1', man: 'Acme', accounts: [account('dmw'), account('other')] });
  lab = { dir, store, ctx, events, server, url, tree, transport: new Transport(), clock };
});

afterEach(async () => {
  lab.transport.close();
  await new Promise<void>((r) => lab.server.close(() => r()));
  await lab.store.close();
  rmSync(lab.dir, { recursive: true, force: true });
});

const session = () => runDm20Session({ tree: lab.tree, serverId: 'dmw', url: lab.url, transport: lab.transport, sessionId: '1F' });
const T = () => lab.clock.t;

describe('DM 2.0 binding over HTTP', () => {
  it('a queued Get of ./DevInfo/Mod comes back done with the value', async () => {
    const job = sync(lab.store).addJob(DEV, { kind: 'get', uri: './DevInfo/Mod' }, T());
    const out = await session();
    expect(out).toMatchObject({ ok: true, roundTrips: 2 });
    expect(sync(lab.store).job(job.id)).toMatchObject({
      status: 'done', statusCode: 200, attempts: 1, error: null,
      results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'AM-X1', type: 'text/plain' }],
    });
    // Device, DevInfo, discovered tree and the session with every package logged.
    expect(sync(lab.store).device(DEV)?.devInfo).toMatchObject({ DevId: DEV, Man: 'Acme', Mod: 'AM-X1' });
    expect(sync(lab.store).tree(DEV).map((e) => e.uri)).toEqual(expect.arrayContaining(['./DevInfo', './DMAcc/dmw', './DevInfo/Mod']));
    const [s] = sync(lab.store).sessions({ device: DEV });
    expect(s).toMatchObject({ state: 'done', reason: 'completed', dmSessionId: '1F', messageCount: 4 });
    const msgs = sync(lab.store).messages(s!.id);
    expect(msgs.map((m) => `${m.direction}:${m.msgId}`)).toEqual(['in:pkg1', 'out:pkg2', 'in:pkg3', 'out:pkg2']);
    expect(msgs[1]!.contentType).toBe(DM20_MEDIA_TYPE);
    expect(JSON.parse(new TextDecoder().decode(msgs[1]!.bytes))).toEqual({ Ver: '2.0', SID: '1F', Pkg: 2, CMD: [{ CmdID: 1, Cmd: 'GET', URI: './DevInfo/Mod' }] });
    expect(msgs[2]!.decoded).toContain('"MOData": "AM-X1"');
    expect(lab.events.map((e) => e.type)).toEqual(expect.arrayContaining(['session-started', 'job-sent', 'job-done', 'session-ended']));
    expect(lab.events.at(-1)?.type).toBe('session-ended');
  });

  it('a Replace changes the tree', async () => {
    const job = sync(lab.store).addJob(DEV, { kind: 'replace', uri: './DMAcc/dmw/Name', value: 'Lab DM server' }, T());
    const out = await session();
    expect(out.ok).toBe(true);
    expect(sync(lab.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(lab.tree.get(DEVICE, './DMAcc/dmw/Name')).toMatchObject({ ok: true, value: { value: 'Lab DM server' } });
  });

  it('ACL refusal maps to 425 (permission denied) and leaves the tree alone', async () => {
    const get = sync(lab.store).addJob(DEV, { kind: 'get', uri: './DMAcc/other/Name' }, T());
    const put = sync(lab.store).addJob(DEV, { kind: 'replace', uri: './DMAcc/other/Name', value: 'taken over' }, T());
    const ro = sync(lab.store).addJob(DEV, { kind: 'replace', uri: './DevInfo/Mod', value: 'fake' }, T());
    const out = await session();
    expect(out.ok).toBe(true);
    expect(sync(lab.store).job(get.id)).toMatchObject({ status: 'failed', statusCode: 425, error: 'device answered 425' });
    expect(sync(lab.store).job(put.id)).toMatchObject({ status: 'failed', statusCode: 425 });
    expect(sync(lab.store).job(ro.id)).toMatchObject({ status: 'failed', statusCode: 405 });
    expect(lab.tree.get(DEVICE, './DMAcc/other/Name')).toMatchObject({ ok: true, value: { value: 'other' } });
    expect(out.log.find((e) => e.status === 425)?.message).toMatch(/dmw has no Get right/);
  });

  it('add, sequence, delete and read-acl in one session; atomic refused without a round trip', async () => {
    const add = sync(lab.store).addJob(DEV, { kind: 'add', uri: './DMAcc/dmw/Ext/Vendor' }, T());
    const seq = sync(lab.store).addJob(DEV, { kind: 'sequence', commands: [{ kind: 'add', uri: './DMAcc/dmw/Ext/Vendor/A', value: '1' }, { kind: 'get', uri: './DMAcc/dmw/Ext/Vendor/A' }] }, T());
    const acl = sync(lab.store).addJob(DEV, { kind: 'read-acl', uri: './DMAcc/dmw' }, T());
    const atomic = sync(lab.store).addJob(DEV, { kind: 'atomic', commands: [{ kind: 'delete', uri: './DMAcc/dmw/Ext/Vendor' }] }, T());
    const out = await session();
    expect(out.ok).toBe(true);
    expect(sync(lab.store).job(add.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(sync(lab.store).job(seq.id)).toMatchObject({ status: 'done', statusCode: 200, members: [{ cmd: 'PUT', statusCode: 200 }, { cmd: 'GET', statusCode: 200 }], results: [{ data: '1' }] });
    expect(sync(lab.store).job(acl.id)).toMatchObject({ status: 'done', results: [{ data: 'Add=dmw&Delete=dmw&Get=dmw&Replace=dmw' }] });
    expect(sync(lab.store).job(atomic.id)).toMatchObject({ status: 'failed', statusCode: null, attempts: 0, error: expect.stringMatching(/Atomic has no DM 2.0 counterpart/) });
    expect(lab.tree.lookup('./DMAcc/dmw/Ext/Vendor/A')?.value).toBe('1');
  });

  it('refuses what is not a DM 2.0 package, and logs it', async () => {
    const post = (body: string, ct: string) => lab.transport.post(lab.url, new TextEncoder().encode(body), { 'content-type': ct });
    const bad = await post(JSON.stringify({ Ver: '2.0', SID: '1', DevID: DEV, Pkg: 3, Results: [{ CmdRef: 1, Status: 'ok' }] }), DM20_MEDIA_TYPE);
    expect(bad.status).toBe(400);
    expect(new TextDecoder().decode(bad.body)).toMatch(/at \$\.Results\[0\]\.Status/);
    const wrongType = await post('<SyncML/>', 'application/vnd.syncml.dm+xml');
    expect(wrongType.status).toBe(415);
    const orphan = await post(JSON.stringify({ Ver: '2.0', SID: '9', DevID: DEV, Pkg: 3, Results: [] }), DM20_MEDIA_TYPE);
    expect(orphan.status).toBe(404);
    const rejected = sync(lab.store).sessions().filter((s) => s.state === 'rejected');
    expect(rejected).toHaveLength(3);
    expect(sync(lab.store).messages(rejected.at(-1)!.id)[0]!.error).toMatch(/malformed DM 2.0 package/);
  });

  it('a session that goes quiet times out and its sent job goes back to the queue', async () => {
    const job = sync(lab.store).addJob(DEV, { kind: 'get', uri: './DevInfo/Mod' }, T());
    const pkg1 = { Ver: '2.0', SID: '2A', DevID: DEV, Pkg: 1 };
    const r = await lab.transport.post(lab.url, new TextEncoder().encode(JSON.stringify(pkg1)), { 'content-type': DM20_MEDIA_TYPE });
    expect(r.status).toBe(200);
    expect(sync(lab.store).job(job.id)).toMatchObject({ status: 'sent', attempts: 1 });
    lab.clock.t += lab.ctx.limits.sessionTimeoutMs + 1;
    await sweepDm20(lab.ctx);
    expect(sync(lab.store).job(job.id)).toMatchObject({ status: 'queued' });
    expect(sync(lab.store).sessions({ device: DEV })[0]).toMatchObject({ state: 'timeout' });
    // The next session picks it up again.
    const out = await session();
    expect(out.ok).toBe(true);
    expect(sync(lab.store).job(job.id)).toMatchObject({ status: 'done', attempts: 2, results: [{ data: 'AM-X1' }] });
  });
});
