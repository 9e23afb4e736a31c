/**
 * The DM server over real HTTP: both encodings and all four media types, each client auth scheme,
 * server credentials checked the libdmclient way, large objects both ways, bad input (malformed,
 * 413, 415, unknown session), timeouts, the session limit, the event bus and the HTTP notifier.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { decodeMessage } from '../../main/protocol/codec.js';
import type { ItemCommand, Status } from '../../main/protocol/model.js';
import { DmServer, type DmServerOptions } from '../../main/server/server.js';
import type { ServerEvent } from '../../main/server/events.js';
import { rawPost, TestClient, genericAlert } from '../helpers/dm-test-client.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(o: Partial<DmServerOptions> = {}): Promise<DmServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-http-'));
  const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', ...o });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  return server;
}

describe('sessions over HTTP', () => {
  for (const [encoding, mediaType] of [
    ['xml', 'application/vnd.syncml.dm+xml'],
    ['wbxml', 'application/vnd.syncml.dm+wbxml'],
    ['xml', 'application/vnd.syncml+xml'],
    ['wbxml', 'application/vnd.syncml+wbxml'],
  ] as const) {
    it(`${mediaType}: a queued Get of ./DevInfo/Mod comes back done with its value in the same session`, async () => {
      const server = await start();
      const { job } = await server.addJob('IMEI:100', { kind: 'get', uri: './DevInfo/Mod' });
      const client = new TestClient({ url: server.url, devId: 'IMEI:100', encoding, mediaType, devInfo: { Mod: 'Model-Z' } });
      const r = await client.runSession();
      expect(r.error).toBeUndefined();
      expect(r.completed).toBe(true);
      // Answered in the client's encoding and media type.
      for (const ex of r.exchanges) expect(ex.headers['content-type']).toBe(mediaType);
      expect(r.exchanges[0]!.responseBytes[0]).toBe(encoding === 'wbxml' ? 0x02 : 0x3c);
      const done = sync(server.store).job(job.id)!;
      expect(done).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'Model-Z' }] });
      const sessions = sync(server.store).sessions();
      expect(sessions).toHaveLength(1);
      expect(sessions[0]).toMatchObject({ device: 'IMEI:100', state: 'done', encoding, messageCount: 4 });
      expect(done.sessionId).toBe(sessions[0]!.id);
      // Registry: DevInfo and the cached tree.
      expect(sync(server.store).device('IMEI:100')!.devInfo).toMatchObject({ DevId: 'IMEI:100', Mod: 'Model-Z' });
      expect(sync(server.store).tree('IMEI:100').find((t) => t.uri === './DevInfo/Mod')).toMatchObject({ data: 'Model-Z' });
      // The log keeps the raw bytes and the decoded form of every message, in order.
      const log = sync(server.store).messages(sessions[0]!.id);
      expect(log.map((m) => m.direction)).toEqual(['in', 'out', 'in', 'out']);
      expect(Buffer.from(log[0]!.bytes).equals(Buffer.from(r.exchanges[0]!.requestBytes))).toBe(true);
      expect(Buffer.from(log[1]!.bytes).equals(Buffer.from(r.exchanges[0]!.responseBytes))).toBe(true);
      expect(log[1]!.decoded).toContain('<LocURI>./DevInfo/Mod</LocURI>');
      expect(log[1]!.durationMs).toBeGreaterThanOrEqual(0);
    });
  }

  it('answers a libdmclient-style package (no DOCTYPE, single quotes, application/vnd.syncml+xml) with server Cred', async () => {
    const server = await start({ serverCred: { name: 'funambol', secret: 'srvpwd' } });
    const { job } = await server.addJob('DMCtest', { kind: 'get', uri: './DevInfo/Mod' });
    const pkg1 = `<?xml version='1.0' encoding='UTF-8'?><SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>${server.url}</LocURI></Target><Source><LocURI>DMCtest</LocURI></Source><Meta><MaxMsgSize xmlns='syncml:metinf'>16384</MaxMsgSize></Meta></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Replace><CmdID>2</CmdID><Item><Source><LocURI>./DevInfo/Mod</LocURI></Source><Meta><Format xmlns='syncml:metinf'>chr</Format></Meta><Data>libdmclient</Data></Item></Replace><Final/></SyncBody></SyncML>`;
    const res = await rawPost(server.url, Buffer.from(pkg1), { 'content-type': 'application/vnd.syncml+xml' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.syncml+xml');
    const reply = decodeMessage(res.body);
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    const m = reply.value.message;
    expect(m.hdr.cred?.meta?.type).toBe('syncml:auth-md5');
    const get = m.body.commands.find((c) => c.kind === 'Get') as ItemCommand;
    expect(get.items[0]!.target!.locURI).toBe('./DevInfo/Mod');
    const pkg3 = `<?xml version='1.0' encoding='UTF-8'?><SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID><Target><LocURI>${server.url}</LocURI></Target><Source><LocURI>DMCtest</LocURI></Source></SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>212</Data></Status><Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>${get.cmdID}</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status><Results><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>${get.cmdID}</CmdRef><Item><Source><LocURI>./DevInfo/Mod</LocURI></Source><Meta><Format xmlns='syncml:metinf'>chr</Format></Meta><Data>libdmclient</Data></Item></Results><Final/></SyncBody></SyncML>`;
    const res2 = await rawPost(m.hdr.respURI!, Buffer.from(pkg3), { 'content-type': 'application/vnd.syncml+xml' });
    expect(res2.status).toBe(200);
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', results: [{ data: 'libdmclient' }] });
  });

  it('re-sends commands when the client refuses the server credentials, then completes (libdmclient check)', async () => {
    const server = await start({ serverCred: { name: 'dmw', secret: 'right' } });
    const { job } = await server.addJob('IMEI:SC', { kind: 'replace', uri: './Vendor/Flag', value: 'on' });
    // The client knows the server secret; its first challenge nonce differs from the empty one.
    const client = new TestClient({ url: server.url, devId: 'IMEI:SC', serverCred: { name: 'dmw', secret: 'right', type: 'md5' }, tree: { './Vendor/Flag': { format: 'chr', data: 'off' } } });
    client.serverNonce = Buffer.from('first').toString('base64');
    const r = await client.runSession();
    expect(r.completed).toBe(true);
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(client.tree.get('./Vendor/Flag')!.data).toBe('on');
    // The client's last challenge is kept for the next session.
    expect(sync(server.store).device('IMEI:SC')!.auth.serverNonce).toBe(client.serverNonce);
    // With the wrong server secret the device never executes anything: the job fails with 401, it is not lost.
    const bad = new TestClient({ url: server.url, devId: 'IMEI:SC2', serverCred: { name: 'dmw', secret: 'other', type: 'md5' }, tree: { './Vendor/Flag': { format: 'chr', data: 'off' } } });
    const { job: j2 } = await server.addJob('IMEI:SC2', { kind: 'replace', uri: './Vendor/Flag', value: 'on' });
    await bad.runSession();
    expect(sync(server.store).job(j2.id)).toMatchObject({ status: 'failed', statusCode: 401 });
    expect(bad.tree.get('./Vendor/Flag')!.data).toBe('off');
  });

  for (const type of ['basic', 'md5', 'hmac'] as const) {
    it(`client auth ${type}: wrong secret refused with a challenge, right one accepted; state kept per device`, async () => {
      const server = await start({ clientAuth: type, defaultClientCred: { name: 'lab', secret: 'labpw' } });
      const wrong = new TestClient({ url: server.url, devId: `IMEI:${type}`, auth: { type, name: 'lab', secret: 'nope' } });
      const r1 = await wrong.runSession();
      // The test client tries a 4th time; after maxAuthAttemptsPerSession (3) refusals the session is
      // over, so that message gets HTTP 403 instead of another SyncHdr 401 (issue 14, 7b: a client
      // without a retry limit must be stopped).
      expect(r1.error).toMatch(/^HTTP 403: the session ended because authentication failed/);
      expect(r1.headerCodes.every((c) => c === 401 || c === 407)).toBe(true);
      const res = r1.exchanges[0]!.response!;
      const hs = res.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0') as Status;
      expect(hs.chal?.meta.type).toBe({ basic: 'syncml:auth-basic', md5: 'syncml:auth-md5', hmac: 'syncml:auth-MAC' }[type]);

      const { job } = await server.addJob(`IMEI:${type}`, { kind: 'get', uri: './DevInfo/Mod' });
      const right = new TestClient({ url: server.url, devId: `IMEI:${type}`, auth: { type, name: 'lab', secret: 'labpw' } });
      const r2 = await right.runSession();
      expect(r2.error).toBeUndefined();
      expect(r2.completed).toBe(true);
      expect(sync(server.store).job(job.id)!.status).toBe('done');
      if (type === 'md5') expect(r2.headerCodes.slice(0, 2)).toEqual([401, 212]); // no nonce yet, then in
      if (type === 'hmac') expect(new Set(r2.headerCodes.slice(1))).toEqual(new Set([200]));
      if (type !== 'basic') {
        // The nonce for the next session is stored for the device, and the client uses it straight away.
        expect(sync(server.store).device(`IMEI:${type}`)!.auth.clientNonce).toBe(right.clientNonce);
        const r3 = await right.runSession();
        expect(r3.completed).toBe(true);
        expect(r3.headerCodes[0]).toBe(type === 'md5' ? 212 : 200);
      }
    });
  }

  it('per-device credentials override the lab default', async () => {
    const server = await start({ clientAuth: 'basic', defaultClientCred: { name: 'lab', secret: 'labpw' } });
    server.setDevice('IMEI:OWN', { clientCred: { name: 'own', secret: 'ownpw' } });
    expect((await new TestClient({ url: server.url, devId: 'IMEI:OWN', auth: { type: 'basic', name: 'lab', secret: 'labpw' } }).runSession()).completed).toBe(false);
    expect((await new TestClient({ url: server.url, devId: 'IMEI:OWN', auth: { type: 'basic', name: 'own', secret: 'ownpw' } }).runSession()).completed).toBe(true);
  });

  for (const encoding of ['xml', 'wbxml'] as const) {
    it(`${encoding}: large objects both ways (server Replace and client Results in chunks)`, async () => {
      const server = await start({ limits: { maxMsgSize: 4096 } });
      const blob = new Uint8Array(30_000).map((_, i) => (i * 7919) % 256);
      const { job: put } = await server.addJob('IMEI:LO', { kind: 'replace', uri: './FW/Package', value: Buffer.from(blob).toString('base64'), binary: true });
      const { job: get } = await server.addJob('IMEI:LO', { kind: 'get', uri: './Log/Big' });
      const log = 'line of log text\n'.repeat(2000); // 34 000 bytes
      const client = new TestClient({ url: server.url, devId: 'IMEI:LO', encoding, maxMsgSize: 3000, maxObjSize: 1_000_000, tree: { './FW/Package': { format: 'bin', data: new Uint8Array() }, './Log/Big': { format: 'chr', data: log } } });
      const r = await client.runSession();
      expect(r.error).toBeUndefined();
      expect(r.completed).toBe(true);
      // Server -> client: every message within the client's MaxMsgSize, the object intact.
      for (const ex of r.exchanges) expect(ex.responseBytes.length).toBeLessThanOrEqual(3000);
      expect(Buffer.from(client.tree.get('./FW/Package')!.data as Uint8Array).equals(Buffer.from(blob))).toBe(true);
      expect(sync(server.store).job(put.id)).toMatchObject({ status: 'done', statusCode: 200 });
      // Client -> server: chunks within the server's MaxMsgSize, assembled.
      for (const ex of r.exchanges) expect(ex.requestBytes.length).toBeLessThanOrEqual(4096);
      expect(sync(server.store).job(get.id)).toMatchObject({ status: 'done', results: [{ uri: './Log/Big', data: log }] });
      expect(r.exchanges.length).toBeGreaterThan(20);
    });
  }

  it('assembles a large object the client sends in its own Replace (213 per chunk, Alert 1222 between)', async () => {
    const server = await start();
    const log = 'boot log line\n'.repeat(700); // 9 800 bytes
    const msg = (msgId: number, target: string, body: string, final: boolean) =>
      `<?xml version='1.0' encoding='UTF-8'?><SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>7</SessionID><MsgID>${msgId}</MsgID><Target><LocURI>${target}</LocURI></Target><Source><LocURI>IMEI:CLO</LocURI></Source></SyncHdr><SyncBody>${body}${final ? '<Final/>' : ''}</SyncBody></SyncML>`;
    const chunk = (cmdId: number, text: string, o: { size?: number; more?: boolean }) =>
      `<Replace><CmdID>${cmdId}</CmdID><Item><Source><LocURI>./Vendor/BootLog</LocURI></Source><Meta><Format xmlns='syncml:metinf'>chr</Format>${o.size ? `<Size xmlns='syncml:metinf'>${o.size}</Size>` : ''}</Meta><Data>${text}</Data>${o.more ? '<MoreData/>' : ''}</Item></Replace>`;
    const post = async (url: string, xml: string) => {
      const res = await rawPost(url, Buffer.from(xml), { 'content-type': 'application/vnd.syncml.dm+xml' });
      expect(res.status).toBe(200);
      const d = decodeMessage(res.body);
      if (!d.ok) throw new Error(d.error.message);
      return d.value.message;
    };
    const first = await post(server.url, msg(1, server.url, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>${chunk(2, log.slice(0, 5000), { size: log.length, more: true })}`, false));
    const st1 = first.body.commands.filter((c): c is Status => c.kind === 'Status' && c.cmd === 'Replace');
    expect(st1.map((c) => [c.cmdRef, c.data])).toEqual([['2', '213']]);
    expect(first.body.commands.some((c) => c.kind === 'Alert' && c.data === '1222')).toBe(true);
    expect(first.body.final).toBe(false);
    expect(sync(server.store).tree('IMEI:CLO').find((t) => t.uri === './Vendor/BootLog')).toBeUndefined();

    const second = await post(first.hdr.respURI!, msg(2, first.hdr.respURI!, `<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>${chunk(2, log.slice(5000), {})}`, true));
    expect(second.body.commands.filter((c): c is Status => c.kind === 'Status' && c.cmd === 'Replace').map((c) => c.data)).toEqual(['200']);
    expect(sync(server.store).tree('IMEI:CLO').find((t) => t.uri === './Vendor/BootLog')).toMatchObject({ format: 'chr', data: log });
    const [session] = sync(server.store).sessions({ device: 'IMEI:CLO' });
    expect(session).toMatchObject({ state: 'done', messageCount: 4 });
  });

  it('records generic alerts and attaches them to the Exec job with the same Correlator', async () => {
    const server = await start();
    const { job } = await server.addJob('IMEI:FUMO', { kind: 'exec', uri: './FUMO/Update', correlator: 'corr-1' });
    const client = new TestClient({ url: server.url, devId: 'IMEI:FUMO', tree: { './FUMO/Update': { format: 'node', data: '' } } });
    await client.runSession();
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    const seen: ServerEvent[] = [];
    server.bus.subscribe((e) => seen.push(e));
    await client.runSession({ extra: [genericAlert('1226', { source: './FUMO/Update', type: 'org.openmobilealliance.dm.firmwareupdate.update', data: '200' }, 'corr-1')] });
    expect(sync(server.store).alerts('IMEI:FUMO')).toHaveLength(1);
    expect(sync(server.store).job(job.id)!.results).toEqual([{ uri: './FUMO/Update', format: 'chr', data: '200', type: 'org.openmobilealliance.dm.firmwareupdate.update' }]);
    expect(seen.some((e) => e.type === 'alert' && e.alert.correlator === 'corr-1')).toBe(true);
  });

  it('streams events: session started, messages, device seen, job sent and done, session ended', async () => {
    const server = await start();
    const seen: ServerEvent[] = [];
    server.bus.subscribe((e) => seen.push(e));
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    cleanups.push(() => warn.mockRestore());
    server.bus.subscribe(() => {
      throw new Error('a broken UI listener');
    });
    await server.addJob('IMEI:EV', { kind: 'get', uri: './DevInfo/Mod' });
    const r = await new TestClient({ url: server.url, devId: 'IMEI:EV' }).runSession();
    expect(r.completed).toBe(true);
    const types = seen.map((e) => e.type);
    expect(types[0]).toBe('session-started');
    expect(types).toContain('device-seen');
    expect(types.indexOf('job-sent')).toBeLessThan(types.indexOf('job-done'));
    expect(types.at(-1)).toBe('session-ended');
    expect(seen.filter((e) => e.type === 'message').map((e) => (e as { direction: string }).direction)).toEqual(['in', 'out', 'in', 'out']);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/event listener failed on session-started: a broken UI listener/));
  });
});

describe('bad input', () => {
  it('garbage gets HTTP 400 and its bytes stay in the log; the server goes on', async () => {
    const server = await start();
    const { job } = await server.addJob('IMEI:BAD', { kind: 'get', uri: './DevInfo/Mod' });
    const garbage = new Uint8Array([0x99, 0x00, 0xff, 0x13, 0x37]);
    const res = await rawPost(server.url, garbage, { 'content-type': 'application/vnd.syncml.dm+wbxml' });
    expect(res.status).toBe(400);
    expect(Buffer.from(res.body).toString()).toMatch(/malformed SyncML DM message: neither WBXML nor XML/);
    const s = sync(server.store).sessions()[0]!;
    expect(s.state).toBe('rejected');
    const logged = sync(server.store).messages(s.id)[0]!;
    expect(Array.from(logged.bytes)).toEqual(Array.from(garbage));
    expect(logged.error).toMatch(/neither WBXML nor XML/);
    // Truncated WBXML too.
    const trunc = await rawPost(server.url, new Uint8Array([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x6d, 0x6c]), { 'content-type': 'application/vnd.syncml.dm+wbxml' });
    expect(trunc.status).toBe(400);
    // Nothing crashed, no job lost: a real session still completes the job.
    expect((await new TestClient({ url: server.url, devId: 'IMEI:BAD' }).runSession()).completed).toBe(true);
    expect(sync(server.store).job(job.id)!.status).toBe('done');
  });

  it('a readable SyncHdr with a broken body gets a SyncML status 400 in the client encoding', async () => {
    const server = await start();
    const body = `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>5</SessionID><MsgID>1</MsgID><Target><LocURI>${server.url}</LocURI></Target><Source><LocURI>IMEI:HB</LocURI></Source></SyncHdr><SyncBody><Alert><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`;
    const res = await rawPost(server.url, Buffer.from(body), { 'content-type': 'application/vnd.syncml.dm+xml' });
    expect(res.status).toBe(200);
    const reply = decodeMessage(res.body);
    expect(reply.ok && reply.value.message.body.commands[0]).toMatchObject({ kind: 'Status', cmd: 'SyncHdr', cmdRef: '0', msgRef: '1', data: '400' });
    const s = sync(server.store).sessions()[0]!;
    expect(s).toMatchObject({ device: 'IMEI:HB', state: 'rejected' });
    const [inMsg, outMsg] = sync(server.store).messages(s.id);
    expect(inMsg!.error).toMatch(/Alert has no CmdID/);
    expect(Buffer.from(inMsg!.bytes).toString()).toBe(body);
    expect(outMsg!.direction).toBe('out');
  });

  it('answers 413 to a body over the limit (declared or streamed) and 415 to a wrong media type', async () => {
    const server = await start({ limits: { maxBodyBytes: 10_000 } });
    const big = new Uint8Array(50_000).fill(0x3c);
    const res = await rawPost(server.url, big, { 'content-type': 'application/vnd.syncml.dm+xml' });
    expect(res.status).toBe(413);
    // Chunked (no Content-Length): read up to the limit, then refused.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(server.url, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml', 'transfer-encoding': 'chunked' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(4000, 0x20));
      req.end();
    });
    expect(chunked).toBe(413);
    const wrongType = await rawPost(server.url, Buffer.from('<SyncML/>'), { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    const rejected = sync(server.store).sessions().filter((s) => s.state === 'rejected');
    expect(rejected).toHaveLength(3);
    expect(sync(server.store).messages(rejected.find((s) => s.reason?.includes('media type'))!.id)[0]!.bytes.length).toBe(9);
    expect((await new TestClient({ url: server.url, devId: 'IMEI:OK' }).runSession()).completed).toBe(true);
  });

  it('answers a message for an unknown session with SyncHdr 408', async () => {
    const server = await start();
    const body = `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>9</SessionID><MsgID>3</MsgID><Target><LocURI>${server.url}</LocURI></Target><Source><LocURI>IMEI:X</LocURI></Source></SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status><Final/></SyncBody></SyncML>`;
    for (const url of [`${server.url}/s/999-abcdef`, server.url]) {
      const res = await rawPost(url, Buffer.from(body), { 'content-type': 'application/vnd.syncml.dm+xml' });
      const m = decodeMessage(res.body);
      expect(m.ok && m.value.message.body.commands[0]).toMatchObject({ kind: 'Status', cmdRef: '0', data: '408' });
    }
    expect(sync(server.store).sessions().every((s) => s.state === 'rejected')).toBe(true);
    const wrongPath = await rawPost(`${server.url}/elsewhere`, Buffer.from(body), { 'content-type': 'application/vnd.syncml.dm+xml' });
    expect(wrongPath.status).toBe(404);
  });

  it('times out a silent session: its unanswered jobs go back to the queue and complete next time', async () => {
    const server = await start({ limits: { sessionTimeoutMs: 300 }, sweepIntervalMs: 50 });
    const { job } = await server.addJob('IMEI:TO', { kind: 'get', uri: './DevInfo/Mod' });
    const client = new TestClient({ url: server.url, devId: 'IMEI:TO' });
    const r = await client.runSession({ maxExchanges: 1 }); // sends package 1, never answers package 2
    expect(r.error).toBe('too many exchanges');
    expect(sync(server.store).job(job.id)!.status).toBe('sent');
    await server.bus.next('session-ended', (e) => e.state === 'timeout', 5000);
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(sync(server.store).sessions()[0]).toMatchObject({ state: 'timeout' });
    // The expired RespURI is unknown now.
    const late = await rawPost(r.exchanges[0]!.response!.hdr.respURI!, r.exchanges[0]!.requestBytes, { 'content-type': 'application/vnd.syncml.dm+xml' });
    const lateMsg = decodeMessage(late.body);
    expect(lateMsg.ok && (lateMsg.value.message.body.commands[0] as Status).data).toBe('200'); // closed session: answered, not processed
    expect((await client.runSession()).completed).toBe(true);
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('refuses sessions beyond maxSessions with 503', async () => {
    const server = await start({ limits: { maxSessions: 1 } });
    await server.addJob('IMEI:S1', { kind: 'get', uri: './A' });
    const first = await new TestClient({ url: server.url, devId: 'IMEI:S1' }).runSession({ maxExchanges: 1 });
    expect(first.httpStatus).toBe(200);
    const second = await new TestClient({ url: server.url, devId: 'IMEI:S2' }).runSession();
    expect(second.httpStatus).toBe(503);
  });
});

describe('notifier', () => {
  it('posts package #0 to a virtual handset, which then calls in (Alert 1200) and runs the job', async () => {
    const server = await start({ serverId: 'dmw-lab', serverCred: { name: 'dmw-lab', secret: 's' } });
    let received: Buffer | undefined;
    let session: Promise<unknown> | undefined;
    const handset = new TestClient({ url: server.url, devId: 'IMEI:VH', serverCred: { name: 'dmw-lab', secret: 's', type: 'md5' } });
    const listener = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received = Buffer.concat(chunks);
        res.end();
        const sid = received.readUInt16BE(16 + 5).toString(16).toUpperCase();
        session = handset.runSession({ sessionId: sid, initiator: 'server' });
      });
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => listener.close(() => r())));
    server.setDevice('IMEI:VH', { notifyUrl: `http://127.0.0.1:${(listener.address() as AddressInfo).port}/push` });
    const { job, notified } = await server.addJob('IMEI:VH', { kind: 'get', uri: './DevInfo/Man' }, { notify: true, uiMode: 2 });
    expect(notified).toMatchObject({ ok: true });
    expect(received!.subarray(16, 18).toString('hex')).toBe('02e8'); // version 11, ui 2, server initiated
    expect(received!.subarray(24).toString()).toBe('dmw-lab');
    await session;
    expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', results: [{ data: 'DMW Test' }] });
  });
});

describe('an internal error in the middle of a session', () => {
  it('ends the session failed and leaves the jobs it sent unconfirmed (not silently queued again), with their events', async () => {
    const server = await start();
    const { job } = await server.addJob('IMEI:500', { kind: 'replace', uri: './Vendor/Volume', value: '5' });
    const events: ServerEvent[] = [];
    server.bus.subscribe((e) => events.push(e));
    // The engine fails on the device's answer to the Replace (its second message).
    const handle = server.engine.handle.bind(server.engine);
    let calls = 0;
    vi.spyOn(server.engine, 'handle').mockImplementation((s, input, o) => {
      if (++calls === 2) throw new Error('injected engine failure');
      return handle(s, input, o);
    });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const r = await new TestClient({ url: server.url, devId: 'IMEI:500' }).runSession();
    warn.mockRestore();
    expect(r.error).toMatch(/500/);
    const after = sync(server.store).job(job.id)!;
    expect(after.status).toBe('unconfirmed');
    expect(after.error).toMatch(/no Status arrived: internal error: injected engine failure; decide: verify, resend or drop/);
    expect(sync(server.store).sessions()[0]).toMatchObject({ state: 'failed', reason: 'internal error: injected engine failure' });
    expect(events.some((e) => e.type === 'job-unconfirmed' && e.job.id === job.id)).toBe(true);
  });
});
