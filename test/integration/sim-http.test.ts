/**
 * Virtual handsets (main/client) against our DM server (main/server) over real HTTP and HTTPS:
 * every auth type in both encodings, server authentication, large objects both ways under small
 * MaxMsgSize on both sides, RespURI, package #0 through the server's HttpNotifier, two management
 * authorities on one handset, mutual TLS with the lab CA and CA pinning, persistence, the fleet
 * the app's Devices view drives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeMessage } from '../../main/protocol/codec.js';
import type { AuthType } from '../../main/protocol/auth.js';
import type { Encoding } from '../../main/protocol/codec.js';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import { LabCa } from '../../main/server/ca.js';
import { DEVICE } from '../../main/tree/tree.js';
import { findAccount, type DmAccountSpec } from '../../main/tree/mos.js';
import {
  VirtualHandset, HandsetPool, createFleet, isValidImeiDevId, AAUTH_TYPE,
  type HandsetEvent, type HandsetOptions,
} from '../../main/client/index.js';
import { sync } from '../helpers/sync-store.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-sim-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function server(opts: Partial<DmServerOptions> = {}): Promise<DmServer> {
  const s = await DmServer.start({ dataDir: tmp(), port: 0, host: '127.0.0.1', ...opts });
  cleanup.push(() => s.close());
  return s;
}

function account(s: DmServer, type: AuthType, over: Partial<DmAccountSpec> = {}): DmAccountSpec {
  return {
    serverId: s.config.serverId,
    addr: s.url,
    clientCred: { type: AAUTH_TYPE[type], name: 'lab', secret: 'pw' },
    serverCred: { type: AAUTH_TYPE[type], name: s.config.serverCred?.name ?? s.config.serverId, secret: s.config.serverCred?.secret ?? '' },
    ...over,
  };
}

async function handset(opts: HandsetOptions & { accounts: DmAccountSpec[] }): Promise<{ h: VirtualHandset; events: HandsetEvent[] }> {
  const { accounts, ...rest } = opts;
  const h = await VirtualHandset.open({ ...rest, device: { ...rest.device, accounts } });
  cleanup.push(() => h.close());
  const events: HandsetEvent[] = [];
  h.on((e) => events.push(e));
  return { h, events };
}

/** A leaf the server may read and replace. */
function vendorLeaf(h: VirtualHandset, uri: string, value: string | Uint8Array, format = 'chr'): void {
  const r = h.tree.add(DEVICE, uri, { format, value, createParents: true, acl: 'Get=*&Replace=*' });
  if (!r.ok) throw new Error(r.message);
}

const bytesOut = (events: HandsetEvent[]) => events.filter((e): e is Extract<HandsetEvent, { type: 'message' }> => e.type === 'message');

describe('handset <-> DmServer over HTTP', () => {
  const matrix: Array<[AuthType, Encoding]> = [['basic', 'xml'], ['basic', 'wbxml'], ['md5', 'xml'], ['md5', 'wbxml'], ['hmac', 'xml'], ['hmac', 'wbxml']];
  it.each(matrix)('%s / %s: authenticated both ways; a queued Get of ./DevInfo/Mod is done with its value in the same session', async (type, encoding) => {
    const s = await server({ clientAuth: type, defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' }, serverAuth: type });
    const { h, events } = await handset({ encoding, accounts: [account(s, type)], device: { mod: 'Lab Phone 9' } });
    const { job } = await s.addJob(h.devId, { kind: 'get', uri: './DevInfo/Mod' });
    const sessionsBefore = sync(s.store).sessions({ device: h.devId }).length;

    const r = await h.connect();
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.serverAuthRefusals).toBe(0);
    // basic: accepted at once (212); MD5/HMAC: no nonce yet, so one challenge first
    expect(r.headerCodes[0]).toBe(type === 'basic' ? 212 : 401);
    expect(r.headerCodes.slice(1)).toEqual(type === 'basic' ? [200] : type === 'md5' ? [212, 200] : [200, 200]);
    const done = sync(s.store).job(job.id)!;
    expect(done).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', data: 'Lab Phone 9' }] });
    // one server session (the 401 retry is part of it), in our encoding
    const sessions = sync(s.store).sessions({ device: h.devId });
    expect(sessions.length - sessionsBefore).toBe(1);
    expect(sessions[0]).toMatchObject({ state: 'done', encoding });
    // every message went in the chosen encoding; the HMAC header travels with each of ours and theirs
    for (const m of bytesOut(events)) {
      const d = decodeMessage(m.bytes);
      expect(d.ok && d.value.encoding).toBe(encoding);
    }
    if (type === 'hmac') for (const m of bytesOut(events)) expect(m.headers?.['x-syncml-hmac']).toMatch(/^algorithm=MD5, username="(lab|dmw)", mac=/);

    // the next session: nonces carried over (kept in the tree), no challenge needed
    const again = await h.connect();
    expect(again.ok).toBe(true);
    expect(again.headerCodes).toEqual([type === 'hmac' ? 200 : 212]);
    expect(again.serverAuthRefusals).toBe(0);
  });

  it('follows RespURI: package 1 goes to the account address, everything after to the RespURI', async () => {
    const s = await server({ clientAuth: 'none' });
    const { h, events } = await handset({ accounts: [account(s, 'md5')] });
    await s.addJob(h.devId, { kind: 'get', uri: './DevInfo/Man' });
    const r = await h.connect();
    expect(r.ok).toBe(true);
    const outs = bytesOut(events).filter((e) => e.direction === 'out');
    expect(outs.length).toBe(2);
    expect(outs[0]!.url).toBe(s.url);
    expect(outs[1]!.url).toMatch(new RegExp(`^${s.url}/s/\\d+-[0-9a-f]+$`));
  });

  it('a large object both ways under MaxMsgSize 4 KiB on each side: a Replace of 60 KB to the handset, a Get of 50 KB from it', async () => {
    const s = await server({ clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' }, limits: { maxMsgSize: 4096 } });
    const { h, events } = await handset({ encoding: 'wbxml', maxMsgSize: 4096, accounts: [account(s, 'md5')] });
    const big = randomBytes(45_000).toString('base64').slice(0, 60_000); // text, 60,000 bytes
    const firmware = new Uint8Array(randomBytes(50_000));
    vendorLeaf(h, './Vendor/Config', 'old');
    vendorLeaf(h, './Vendor/Blob', firmware, 'bin');
    const put = await s.addJob(h.devId, { kind: 'replace', uri: './Vendor/Config', value: big });
    const get = await s.addJob(h.devId, { kind: 'get', uri: './Vendor/Blob' });

    const r = await h.connect();
    expect(r.error).toBeUndefined();
    expect(h.tree.lookup('./Vendor/Config')!.value).toBe(big);
    expect(r.log.filter((e) => e.cmd === 'Replace' && e.status === 213).length).toBeGreaterThan(10);
    expect(r.log.find((e) => e.cmd === 'Replace' && e.status === 200)?.target).toBe('./Vendor/Config');
    expect(sync(s.store).job(put.job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    const got = sync(s.store).job(get.job.id)!;
    expect(got).toMatchObject({ status: 'done', statusCode: 200 });
    expect(got.results[0]!.encoding).toBe('b64');
    expect(createHash('sha256').update(Buffer.from(got.results[0]!.data!, 'base64')).digest('hex')).toBe(createHash('sha256').update(firmware).digest('hex'));
    // MaxMsgSize honoured both ways, and it took many messages
    const msgs = bytesOut(events);
    expect(msgs.length).toBeGreaterThan(30);
    for (const m of msgs) expect(m.bytes.length).toBeLessThanOrEqual(4096);
    expect(r.warnings).toEqual([]);
  });

  it('completes under small MaxMsgSizes on both sides (MD5 both ways; WBXML 500-1,400, XML 1,400-2,000): no loop, the jobs done', async () => {
    // XML with MD5 Cred and Chal in the headers needs about 1,400 bytes before any command.
    const cases: [Encoding, number][] = [...[500, 600, 700, 800, 1024, 1400].map((n) => ['wbxml', n] as [Encoding, number]), ...[1400, 1600, 2000].map((n) => ['xml', n] as [Encoding, number])];
    for (const [encoding, size] of cases) {
      const what = `${encoding} MaxMsgSize ${size}`;
      const s = await server({ clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' }, limits: { maxMsgSize: size } });
      const { h, events } = await handset({ encoding, maxMsgSize: size, accounts: [account(s, 'md5')] });
      vendorLeaf(h, './Vendor/Mode', 'off');
      vendorLeaf(h, './Vendor/Log', 'log line\n'.repeat(300));
      const jobs = [
        await s.addJob(h.devId, { kind: 'get', uri: './DevInfo/Mod' }),
        await s.addJob(h.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'on' }),
        await s.addJob(h.devId, { kind: 'get', uri: './Vendor/Log' }),
      ];
      const r = await h.connect();
      expect(r.error, what).toBeUndefined();
      expect(r.roundTrips, what).toBeLessThan(100);
      for (const { job } of jobs) expect(sync(s.store).job(job.id)?.status, `${what}: job ${job.target}`).toBe('done');
      expect(sync(s.store).job(jobs[2]!.job.id)!.results[0]!.data, what).toBe('log line\n'.repeat(300));
      expect(h.tree.lookup('./Vendor/Mode')!.value, what).toBe('on');
      for (const m of bytesOut(events)) expect(m.bytes.length, what).toBeLessThanOrEqual(size);
    }
  });

  it('refuses to act on commands when the server has no credentials (407) or the wrong ones (401), like libdmclient', async () => {
    // no --server-cred on the server: every command 407, nothing changes, the jobs fail
    const s1 = await server({ clientAuth: 'none' });
    const { h: h1 } = await handset({ accounts: [account(s1, 'md5', { serverCred: { type: 'DIGEST', name: 'dmw', secret: 'expected' } })] });
    vendorLeaf(h1, './Vendor/Mode', 'turbo');
    const j1 = await s1.addJob(h1.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'eco' });
    const r1 = await h1.connect();
    expect(h1.tree.lookup('./Vendor/Mode')!.value).toBe('turbo');
    expect(r1.serverAuthRefusals).toBeGreaterThan(0);
    expect(r1.log.every((e) => e.status === 407)).toBe(true);
    expect(sync(s1.store).job(j1.job.id)).toMatchObject({ status: 'failed', statusCode: 407 });

    // wrong secret: 401 with a challenge; the server re-sends (twice), is refused each time
    const s2 = await server({ clientAuth: 'none', serverCred: { name: 'dmw', secret: 'not-it' } });
    const { h: h2 } = await handset({ accounts: [account(s2, 'md5', { serverCred: { type: 'DIGEST', name: 'dmw', secret: 'expected' } })] });
    vendorLeaf(h2, './Vendor/Mode', 'turbo');
    const j2 = await s2.addJob(h2.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'eco' });
    const r2 = await h2.connect();
    expect(h2.tree.lookup('./Vendor/Mode')!.value).toBe('turbo');
    expect(r2.log.length).toBeGreaterThanOrEqual(3);
    expect(r2.log.every((e) => e.status === 401)).toBe(true);
    expect(sync(s2.store).job(j2.job.id)).toMatchObject({ status: 'failed', statusCode: 401 });

    // the right secret, but the server starts with basic while we want MD5: one 401 + challenge, then it switches
    const s3 = await server({ clientAuth: 'none', serverCred: { name: 'dmw', secret: 'expected' }, serverAuth: 'basic' });
    const { h: h3 } = await handset({ accounts: [account(s3, 'md5', { serverCred: { type: 'DIGEST', name: 'dmw', secret: 'expected' } })] });
    vendorLeaf(h3, './Vendor/Mode', 'turbo');
    const j3 = await s3.addJob(h3.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'eco' });
    const r3 = await h3.connect();
    expect(r3.serverAuthRefusals).toBe(1);
    expect(h3.tree.lookup('./Vendor/Mode')!.value).toBe('eco');
    expect(sync(s3.store).job(j3.job.id)).toMatchObject({ status: 'done', statusCode: 200 });
  });

  it('gives up on its own credentials after the retries: wrong client secret', async () => {
    const s = await server({ clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, limits: { maxAuthAttemptsPerSession: 10 } });
    const { h } = await handset({ maxAuthRetries: 2, accounts: [account(s, 'md5', { clientCred: { type: 'DIGEST', name: 'lab', secret: 'wrong' } })] });
    const r = await h.connect();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/refused our credentials \(401\) 3 times/);
    expect(r.headerCodes).toEqual([401, 401, 401]);
  });

  it('answers UI alerts by policy: accept takes the default, reject says no', async () => {
    const s = await server({ clientAuth: 'none' });
    const { h: yes } = await handset({ alerts: 'accept', accounts: [account(s, 'md5')] });
    const { h: no } = await handset({ alerts: 'reject', accounts: [account(s, 'md5')], device: { devId: 'IMEI:490154203237518' } });
    const a = await s.addJob(yes.devId, { kind: 'alert', alert: 'confirm', text: 'Install?', options: { DR: 1 } });
    const b = await s.addJob(no.devId, { kind: 'alert', alert: 'confirm', text: 'Install?', options: { DR: 1 } });
    expect((await yes.connect()).ok).toBe(true);
    expect((await no.connect()).ok).toBe(true);
    expect(sync(s.store).job(a.job.id)).toMatchObject({ status: 'done', statusCode: 200 });
    expect(sync(s.store).job(b.job.id)).toMatchObject({ status: 'done', statusCode: 304 });
  });

  it('two DMAcc accounts on one handset talk to two servers; each server sees only what its ACLs allow', async () => {
    const a = await server({ serverId: 'srvA', clientAuth: 'md5', defaultClientCred: { name: 'labA', secret: 'pwA' }, serverCred: { name: 'srvA', secret: 'sA' } });
    const b = await server({ serverId: 'srvB', clientAuth: 'hmac', defaultClientCred: { name: 'labB', secret: 'pwB' }, serverCred: { name: 'srvB', secret: 'sB' }, serverAuth: 'hmac' });
    const { h } = await handset({
      encoding: 'wbxml',
      accounts: [
        account(a, 'md5', { clientCred: { type: 'DIGEST', name: 'labA', secret: 'pwA' } }),
        account(b, 'hmac', { clientCred: { type: 'HMAC', name: 'labB', secret: 'pwB' } }),
      ],
    });
    const accA = findAccount(h.tree, 'srvA')!.path;
    const ja = await a.addJob(h.devId, { kind: 'get', uri: `${accA}/Name` });
    const jb = await b.addJob(h.devId, { kind: 'get', uri: `${accA}/Name` }); // another authority's account
    const jb2 = await b.addJob(h.devId, { kind: 'get', uri: './DevInfo/DevId' });
    const ra = await h.connect({ serverId: 'srvA' });
    const rb = await h.connect({ serverId: 'srvB' });
    expect([ra.ok, rb.ok]).toEqual([true, true]);
    expect(sync(a.store).job(ja.job.id)).toMatchObject({ status: 'done', results: [{ data: 'srvA' }] });
    expect(sync(b.store).job(jb.job.id)).toMatchObject({ status: 'failed', statusCode: 425 });
    expect(sync(b.store).job(jb2.job.id)).toMatchObject({ status: 'done', results: [{ data: h.devId }] });
    // each server saw one session of this handset, authenticated its own way
    expect(sync(a.store).sessions({ device: h.devId })[0]).toMatchObject({ state: 'done', authType: 'md5' });
    expect(sync(b.store).sessions({ device: h.devId })[0]).toMatchObject({ state: 'done', authType: 'hmac' });
    expect(await h.connect({ serverId: 'srvC' })).toMatchObject({ ok: false, error: 'no DMAcc account for ServerID "srvC"' });
  });

  it('keeps its tree in a file: a Replace and the nonces survive a restart', async () => {
    const s = await server({ clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' } });
    const file = path.join(tmp(), 'phone.json');
    const first = await VirtualHandset.open({ treeFile: file, device: { accounts: [account(s, 'md5')] } });
    vendorLeaf(first, './Vendor/Mode', 'turbo');
    await s.addJob(first.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'eco' });
    expect((await first.connect()).headerCodes[0]).toBe(401);
    first.close();

    const second = await VirtualHandset.open({ treeFile: file });
    cleanup.push(() => second.close());
    expect(second.devId).toBe(first.devId);
    expect(second.tree.lookup('./Vendor/Mode')!.value).toBe('eco');
    const r = await second.connect();
    expect(r).toMatchObject({ ok: true, headerCodes: [212], serverAuthRefusals: 0 });
  });
});

describe('server-initiated sessions: HttpNotifier -> package #0 endpoint', () => {
  it('a job queued with notify reaches a pool handset, which verifies the digest and calls back with Alert 1200 and the SessionID in hex', async () => {
    const s = await server({ clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' } });
    const pool = await HandsetPool.create({ template: { encoding: 'wbxml', accounts: () => [account(s, 'md5')] } });
    cleanup.push(() => pool.close());
    const [h] = await pool.add(1);
    s.setDevice(h!.devId, { notifyUrl: h!.notifyUrl! });
    // a first session, so the server holds our server nonce (the package #0 digest uses it)
    expect((await h!.connect()).ok).toBe(true);
    const events: HandsetEvent[] = [];
    pool.events.on((e) => events.push(e));

    const ended = new Promise<Extract<HandsetEvent, { type: 'session-end' }>>((resolve) => pool.events.on((e) => e.type === 'session-end' && resolve(e)));
    const done = s.bus.next('job-done');
    const { job, notified } = await s.addJob(h!.devId, { kind: 'get', uri: './DevInfo/Mod' }, { notify: true });
    expect(notified).toMatchObject({ ok: true });
    const d = await done;
    expect(d.job).toMatchObject({ id: job.id, status: 'done', results: [{ data: 'AM-X1' }] });
    const end = await ended;
    expect(end).toMatchObject({ ok: true, serverId: 'dmw' });
    const note = events.find((e) => e.type === 'notification')!;
    expect(note).toMatchObject({ accepted: true, serverId: 'dmw' });
    const start = events.find((e) => e.type === 'session-start')!;
    expect(start).toMatchObject({ initiator: 'server' });
    expect((start as { sessionId: string }).sessionId).toMatch(/^[1-9A-F][0-9A-F]{0,3}$/);
    const pkg1 = bytesOut(events).find((e) => e.direction === 'out')!;
    const m = decodeMessage(pkg1.bytes);
    expect(m.ok && m.value.message.body.commands[0]).toMatchObject({ kind: 'Alert', data: '1200' });
    expect(m.ok && m.value.message.hdr.sessionID).toBe((start as { sessionId: string }).sessionId);
    expect(sync(s.store).sessions({ device: h!.devId })[0]!.dmSessionId).toBe((start as { sessionId: string }).sessionId);
  });

  it('refuses package #0 signed with other credentials (HTTP 401 to the notifier) and starts no session', async () => {
    const s = await server({ clientAuth: 'none', serverCred: { name: 'dmw', secret: 'impostor' } });
    const pool = await HandsetPool.create({ template: { accounts: () => [account(s, 'md5', { serverCred: { type: 'DIGEST', name: 'dmw', secret: 'genuine' } })] } });
    cleanup.push(() => pool.close());
    const [h] = await pool.add(1);
    s.setDevice(h!.devId, { notifyUrl: h!.notifyUrl! });
    const r = await s.notify(h!.devId);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/HTTP 401/);
    pool.stop(h!.devId);
    expect((await s.notify(h!.devId)).detail).toMatch(/HTTP 503/);
    expect(h!.sessions).toBe(0);
  });
});

describe('HTTPS', () => {
  it('mutual TLS with the lab CA: a client certificate for the DevId; without it, or pinned to another CA, no session', async () => {
    const s = await server({ clientAuth: 'basic', defaultClientCred: { name: 'lab', secret: 'pw' }, tls: { clientCerts: 'require' }, requireClientCert: true });
    expect(s.url).toMatch(/^https:/);
    const ca = s.ca!;
    const devId = 'IMEI:490154203237518';
    const cert = await ca.issueDevice(devId);
    const caFingerprint = new (await import('node:crypto')).X509Certificate(ca.certPem).fingerprint256;

    const { h } = await handset({ tls: { ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, pins: [caFingerprint] }, device: { devId }, accounts: [account(s, 'basic')] });
    const j = await s.addJob(devId, { kind: 'get', uri: './DevInfo/Mod' });
    const r = await h.connect();
    expect(r.error).toBeUndefined();
    expect(sync(s.store).job(j.job.id)).toMatchObject({ status: 'done', results: [{ data: 'AM-X1' }] });

    // no client certificate: the TLS handshake is refused
    const { h: anon } = await handset({ tls: { ca: ca.certPem }, device: { devId }, accounts: [account(s, 'basic')] });
    expect((await anon.connect()).ok).toBe(false);
    // another device's certificate: TLS passes, the server refuses the DevId mismatch (SyncHdr 403)
    const other = await ca.issueDevice('IMEI:356938035643809');
    const { h: wrongCn } = await handset({ tls: { ca: ca.certPem, cert: other.certPem, key: other.keyPem }, device: { devId }, accounts: [account(s, 'basic')] });
    expect(await wrongCn.connect()).toMatchObject({ ok: false, error: 'the server answered our SyncHdr with 403' });
    // trusting only another CA: the server's certificate is refused
    const elsewhere = await LabCa.loadOrCreate(path.join(tmp(), 'ca'));
    const { h: pinned } = await handset({ tls: { ca: elsewhere.certPem, cert: cert.certPem, key: cert.keyPem }, device: { devId }, accounts: [account(s, 'basic')] });
    const p = await pinned.connect();
    expect(p.ok).toBe(false);
    expect(p.error).toMatch(/certificate/i);
    // the right CA but a pin that is not in the chain
    const { h: badPin } = await handset({ tls: { ca: ca.certPem, cert: cert.certPem, key: cert.keyPem, pins: ['00:11'] }, device: { devId }, accounts: [account(s, 'basic')] });
    expect((await badPin.connect()).error).toMatch(/pinned fingerprints/);
  });
});

describe('fleet (the Devices view)', () => {
  it('createFleet: add N handsets that call in to the running server (HTTPS, client certificates, own credentials), connect, stop', async () => {
    const s = await server({ clientAuth: 'md5', serverCred: { name: 'dmw', secret: 'srvpw' }, tls: { clientCerts: 'optional' }, requireClientCert: true });
    const dataDir = tmp();
    const fleet = await createFleet({ server: () => s, dataDir });
    cleanup.push(() => fleet.close());
    let changes = 0;
    fleet.onChange(() => changes++);
    const added = await fleet.add(2, { model: 'Fleet-1' });
    expect(added.map((x) => x.devId).every(isValidImeiDevId)).toBe(true);
    // they call in on their own ("power on"): wait for both sessions to end
    for (const deadline = Date.now() + 10_000; fleet.list().some((x) => x.sessions < 1) && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
    const list = fleet.list();
    expect(list.map((x) => [x.model, x.running, x.sessions, x.lastError])).toEqual([['Fleet-1', true, 1, null], ['Fleet-1', true, 1, null]]);
    const dev = sync(s.store).device(added[0]!.devId)!;
    expect(dev.notifyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/notify\//);
    expect(dev.clientCred?.name).toBe(added[0]!.devId);

    const j = await s.addJob(added[0]!.devId, { kind: 'get', uri: './DevInfo/Mod' }, { notify: true });
    expect(j.notified?.ok).toBe(true);
    await s.bus.next('job-done', (e) => e.job.id === j.job.id);
    expect(sync(s.store).job(j.job.id)).toMatchObject({ status: 'done', results: [{ data: 'Fleet-1' }] });
    await fleet.connect(added[1]!.devId);
    await fleet.stop(added[1]!.devId);
    expect(fleet.list()[1]!.running).toBe(false);
    await expect(fleet.connect(added[1]!.devId)).rejects.toThrow(/stopped/);
    expect(changes).toBeGreaterThan(4);
    await fleet.close();

    // a restart of the app: the same handsets come back from <dataDir>/handsets
    const again = await createFleet({ server: () => s, dataDir });
    cleanup.push(() => again.close());
    expect(again.list().map((x) => x.devId).sort()).toEqual(added.map((x) => x.devId).sort());
    await again.connect(added[0]!.devId);
  });

  it('after a server restart on another port, a notification still brings the handset to the new address', async () => {
    const dataDir = tmp();
    const first = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', clientAuth: 'md5', serverCred: { name: 'dmw', secret: 'srvpw' } });
    let current: DmServer = first;
    const fleet = await createFleet({ server: () => current, dataDir: tmp() });
    cleanup.push(() => fleet.close());
    const [x] = await fleet.add(1);
    await fleet.connect(x!.devId);
    await first.close();
    const second = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', clientAuth: 'md5', serverCred: { name: 'dmw', secret: 'srvpw' } });
    cleanup.push(() => second.close());
    expect(second.url).not.toBe(first.url);
    current = second;
    const j = await second.addJob(x!.devId, { kind: 'get', uri: './DevInfo/DevId' }, { notify: true });
    expect(j.notified?.ok).toBe(true);
    await second.bus.next('job-done', (e) => e.job.id === j.job.id);
    expect(sync(second.store).job(j.job.id)).toMatchObject({ status: 'done', results: [{ data: x!.devId }] });
  });
});
