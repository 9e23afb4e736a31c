/**
 * Hostile local clients against the DM server (issue 14, points 2, 3, 4 and 7b), on loopback only:
 * attackers bind other 127.x addresses (`localAddress`) so the per-address rules show, and a real
 * virtual handset (main/client) with valid credentials must get in while the attack runs.
 * - a flood of unauthenticated package 1s does not keep handsets out, and leaves nothing stored;
 * - --max-sessions holds exactly when hundreds of package 1s arrive at once;
 * - guessing with a new DevId per guess is throttled per address and per credential name, never
 *   locking out the right credential, and leaves only bounded counters (no rows);
 * - header values over their limits get HTTP 400 naming the field and its length, not echoed;
 * - a session that failed authentication is over: its later messages get HTTP 403, logged once.
 * No timed assertions: counts and states only (figures: test/bench/suites/hostile.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer, type DmServerOptions } from '../../main/server/server.js';
import { VirtualHandset, AAUTH_TYPE } from '../../main/client/index.js';
import { AUTH_META_TYPE, hmacHeader, md5Credential, nonceBytes, type AuthType } from '../../main/protocol/auth.js';
import { decodeMessage } from '../../main/protocol/codec.js';
import type { Status } from '../../main/protocol/model.js';
import { basicCred, followUp, package1, post, randomImei, storeRows, tally, type Answer } from '../helpers/hostile.js';
import { rawPost, TestClient } from '../helpers/dm-test-client.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const LAB = { name: 'lab', secret: 'labpw' };
const SRV = { name: 'dmw', secret: 'srvpw' };

async function start(o: Partial<DmServerOptions>): Promise<DmServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-hostile-'));
  const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', sweepIntervalMs: 50, ...o });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  return server;
}

/** A real handset: a virtual one from main/client with the right credentials (on 127.0.0.1). */
async function handset(s: DmServer, type: AuthType, devId?: string, secret = LAB.secret): Promise<VirtualHandset> {
  const h = await VirtualHandset.open({
    encoding: 'wbxml',
    device: {
      ...(devId ? { devId } : {}),
      accounts: [{
        serverId: s.config.serverId, addr: s.url,
        clientCred: { type: AAUTH_TYPE[type], name: LAB.name, secret },
        serverCred: { type: AAUTH_TYPE[type], name: SRV.name, secret: SRV.secret },
      }],
    },
  });
  cleanups.push(() => h.close());
  return h;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const addr = (i: number) => `127.0.${1 + (i >> 8)}.${i & 255 || 1}`;

describe('a flood of unauthenticated package 1s (point 2)', () => {
  it('does not keep a real handset out: unauthenticated sessions have their own pool, capped per address, expire in seconds, and leave nothing stored', async () => {
    // The server's clock moves only when the test says: the flood takes what it takes, and expiry is checked by advancing it.
    let clock = Date.now();
    const s = await start({
      clientAuth: 'md5', defaultClientCred: LAB, serverCred: SRV, serverAuth: 'md5', now: () => clock,
      limits: { maxSessions: 16, maxPreAuthSessions: 32, maxPreAuthSessionsPerAddress: 8, preAuthTimeoutMs: 10_000 },
    });
    // 250 package 1s without credentials, random IMEIs, at once from one address: its share is 8.
    const one = await Promise.all(Array.from({ length: 250 }, () => post(s.url, package1({ server: s.url, devId: randomImei() }), { localAddress: '127.0.0.2' })));
    expect(tally(one)).toEqual({ '200/407': 8, 503: 242 });
    expect(one.find((a) => a.status === 503)!.headers['retry-after']).toMatch(/^\d+$/);
    // 250 more from 25 addresses: the pool (32) is full, the sessions idle longest give way.
    const many = await Promise.all(Array.from({ length: 250 }, (_, i) => post(s.url, package1({ server: s.url, devId: randomImei() }), { localAddress: addr(10 + (i % 25)) })));
    expect(tally(many)['200/407']).toBe(250);
    expect(s.authFailures().sessions).toMatchObject({ preAuth: 32, authenticated: 0 });

    // A real handset meeting this server for the first time (MD5: it needs a challenge, so an unauthenticated session first).
    const h = await handset(s, 'md5');
    const r = await h.connect();
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.headerCodes.slice(0, 2)).toEqual([401, 212]);

    // Nothing of the flood is in the store: the handset's device, session and messages only.
    const rows = storeRows(sync(s.store));
    expect(rows.devices).toBe(1);
    expect(rows.sessions).toBe(1);
    expect(sync(s.store).sessions()[0]).toMatchObject({ device: h.devId, state: 'done' });
    expect(rows.messages).toBe(sync(s.store).messages(sync(s.store).sessions()[0]!.id).length);

    // Unauthenticated sessions expire in preAuthTimeoutMs; their RespURIs are unknown then (not stored either).
    clock += 10_001;
    await until('the unauthenticated sessions to expire', () => s.authFailures().sessions.preAuth === 0);
    const late = await post(many[0]!.respUri!, followUp({ server: s.url, devId: 'IMEI:LATE' }), { localAddress: addr(10) });
    expect(late.hdrCode).toBe(408);
    expect(storeRows(sync(s.store)).sessions).toBe(1);
    expect(s.authFailures().counts.busy).toBe(242);
  }, 30_000);
});

describe('--max-sessions under concurrency (point 3)', () => {
  for (const auth of ['none', 'basic'] as const) {
    it(`client auth ${auth}: 600 package 1s at once open exactly maxSessions (64) sessions; the others get HTTP 503 + Retry-After`, async () => {
      const s = await start({ clientAuth: auth, defaultClientCred: LAB, limits: { maxSessions: 64, maxPreAuthSessions: 1000, maxPreAuthSessionsPerAddress: 1000 } });
      // No Final: each package 1 "goes on", so its session stays open (the server asks for the rest with 1222).
      const body = (i: number) => package1({ server: s.url, devId: `IMEI:C${i}`, final: false, ...(auth === 'basic' ? { cred: basicCred(LAB.name, LAB.secret) } : {}) });
      const answers = await Promise.all(Array.from({ length: 600 }, (_, i) => post(s.url, body(i), { localAddress: addr(i % 50) })));
      expect(tally(answers)).toEqual({ [auth === 'none' ? '200/200' : '200/212']: 64, 503: 536 });
      expect(answers.find((a) => a.status === 503)!.headers['retry-after']).toBe('30');
      expect(s.activeSessions()).toHaveLength(64);
      expect(sync(s.store).sessions()).toHaveLength(64); // shedding writes nothing
      expect(s.authFailures().sessions).toMatchObject({ authenticated: 64, preAuth: 0 });
    }, 60_000);
  }
});

describe('password guessing (point 4)', () => {
  it('a new DevId per guess against the lab default: an address gets its burst of checks, then is refused unchecked; a clean address is still checked; nothing is stored; the right credential gets in throughout', async () => {
    const s = await start({
      clientAuth: 'basic', defaultClientCred: LAB, serverCred: SRV, serverAuth: 'basic',
      limits: { authFailureBurstPerAddress: 5, authFailureRefillMsPerAddress: 600_000, authFailureBurstPerCredential: 12, authFailureRefillMsPerCredential: 600_000 },
    });
    const guess = (i: number, from: string) => post(s.url, package1({ server: s.url, devId: randomImei(), sessionId: String(i), cred: basicCred(LAB.name, `guess${i}`) }), { localAddress: from });
    // 200 guesses from 127.0.0.2, 20 at a time.
    const first: Answer[] = [];
    for (let b = 0; b < 10; b++) first.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => guess(b * 20 + i, '127.0.0.2')))));
    expect(tally(first)).toEqual({ '200/401': 5, 503: 195 });
    expect(first.find((a) => a.status === 503)!.headers['retry-after']).toMatch(/^\d+$/);
    expect(s.authFailures().counts).toMatchObject({ 'auth-failed': 5, throttled: 195 });

    // The right credential, from a handset at 127.0.0.1, during the attack.
    const real = await handset(s, 'basic', 'IMEI:490154203237518');
    expect((await real.connect()).ok).toBe(true);

    // Two more attacking addresses drain the credential's bucket (12): 5 + 5 + 2 checks, then
    // "lab" is refused unchecked from every address that failed...
    for (const from of ['127.0.0.3', '127.0.0.4']) for (let i = 0; i < 10; i++) await guess(1000 + i, from);
    const again = await guess(2000, '127.0.0.4');
    expect(again.status).toBe(503);
    expect(s.authFailures().counts['auth-failed']).toBe(12);
    expect(s.authFailures().throttled.credentials).toEqual([{ credential: 'lab', tokens: 0 }]);
    // ...but not from a clean address: its guess is checked (and wrong), and a new handset there gets in.
    expect((await guess(3000, '127.0.0.5')).hdrCode).toBe(401);
    const newcomer = await handset(s, 'basic', 'IMEI:356938035643809');
    expect((await newcomer.connect()).ok).toBe(true);
    // A DevId in good standing gets in even from the address that is refused unchecked.
    const fromAttacker = await post(s.url, package1({ server: s.url, devId: real.devId, sessionId: '77', cred: basicCred(LAB.name, LAB.secret) }), { localAddress: '127.0.0.2' });
    expect(fromAttacker.hdrCode).toBe(212);

    // Failed attempts left no row: the two handsets' devices, sessions and messages only, and no
    // session for the one at 127.0.0.2 (it ended at once: nothing to do).
    expect(sync(s.store).devices().map((d) => d.devId).sort()).toEqual([real.devId, newcomer.devId].sort());
    expect(sync(s.store).sessions().every((x) => x.device === real.devId || x.device === newcomer.devId)).toBe(true);
    expect(s.authFailures().recent[0]).toMatchObject({ kind: 'auth-failed', address: '127.0.0.5', credential: 'lab' });

    // The same, for the operator, at GET /api/v1/auth-failures (a peer server may not see it).
    const token = 'operator-token-0123456789';
    const api = attachApi(s, { auth: buildAuthConfig({ apiToken: token, peers: [{ id: 'srvB', token: 'peer-token-0123456789' }], serverId: 'dmw' }) });
    cleanups.push(() => api.close());
    const apiUrl = `${s.url.replace(/\/dm$/, '')}/api/v1/auth-failures`;
    const res = await fetch(apiUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const view = await res.json() as ReturnType<DmServer['authFailures']>;
    expect(view.counts).toMatchObject({ 'auth-failed': 13, throttled: 195 + 5 + 8 + 1 });
    expect(view.recent.find((e) => e.kind === 'throttled' && e.address === '127.0.0.2')).toMatchObject({ credential: 'lab', count: 195 });
    expect(view.throttled.addresses.map((a) => a.address)).toEqual(expect.arrayContaining(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']));
    expect(view.sessions).toMatchObject({ authenticated: 0, preAuth: 13, maxSessions: 256 }); // each checked guess waits for its retry, until preAuthTimeoutMs
    expect((await fetch(apiUrl, { headers: { authorization: 'Bearer peer-token-0123456789' } })).status).toBe(403);
  }, 30_000);

  it('MD5: the handshake (no credentials, a nonce to use) is not a guess; wrong digests are, against the expected credential name', async () => {
    const s = await start({ clientAuth: 'md5', defaultClientCred: LAB, limits: { authFailureBurstPerAddress: 3, authFailureRefillMsPerAddress: 600_000 } });
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const devId = randomImei();
      const hello = await post(s.url, package1({ server: s.url, devId, sessionId: String(i) }), { localAddress: '127.0.0.2' });
      codes.push(`hello ${hello.hdrCode ?? hello.status}`); // 407: no credentials, a challenge (not a failure)
      if (hello.hdrCode !== 407) continue;
      const nonce = decodeMessage(hello.body);
      const chal = nonce.ok ? (nonce.value.message.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0') as Status).chal : undefined;
      const digest = md5Credential('lab', 'guess', nonceBytes(chal!.meta.nextNonce!));
      const guess = await post(hello.respUri!, package1({ server: s.url, devId, sessionId: String(i), msgId: '2', cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: digest } }), { localAddress: '127.0.0.2' });
      codes.push(`guess ${guess.hdrCode ?? guess.status}`);
    }
    // Three guesses checked; then the address is refused unchecked, its handshakes too.
    expect(codes).toEqual(['hello 407', 'guess 401', 'hello 407', 'guess 401', 'hello 407', 'guess 401', 'hello 503', 'hello 503']);
    expect(s.authFailures().counts).toMatchObject({ 'auth-failed': 3, throttled: 2 });
    expect(s.authFailures().recent.find((e) => e.kind === 'auth-failed')).toMatchObject({ credential: 'lab', reason: expect.stringMatching(/MD5 digest mismatch/) });
    expect(storeRows(sync(s.store))).toEqual({ devices: 0, sessions: 0, messages: 0 });
  });

  it('guesses against a real DevId lock it for the guessing address only: the device, from its own address, still gets in', async () => {
    const s = await start({ clientAuth: 'basic', defaultClientCred: LAB, serverCred: SRV, serverAuth: 'basic', limits: { maxAuthFailures: 3 } });
    const real = await handset(s, 'basic', 'IMEI:490154203237518');
    const wrong = (i: number) => post(s.url, package1({ server: s.url, devId: real.devId, sessionId: String(100 + i), cred: basicCred(LAB.name, 'nope') }), { localAddress: '127.0.0.2' });
    for (let i = 0; i < 3; i++) expect((await wrong(i)).hdrCode).toBe(401);
    const locked = await wrong(3);
    expect(locked.hdrCode).toBe(503); // the device's lockout binds the address that failed
    expect(locked.headers['retry-after']).toMatch(/^\d+$/);
    const r = await real.connect();
    expect(r.error).toBeUndefined();
    expect(r.headerCodes[0]).toBe(212);
    expect(s.authFailures().counts).toMatchObject({ 'auth-failed': 3, locked: 1 });
  }, 30_000);

  it('DevId, SessionID and CmdID over their limits get HTTP 400 naming the field and its length, never echoed; the answer stays within the MaxMsgSize announced', async () => {
    for (const clientAuth of ['none', 'md5'] as const) {
      const s = await start({ clientAuth, defaultClientCred: LAB });
      const cases: [string, Uint8Array, RegExp][] = [
        ['DevId', package1({ server: s.url, devId: `IMEI:${'1'.repeat(1_000_000)}`, maxMsgSize: 65536 }), /^SyncHdr Source LocURI \(DevId\) is 1000005 characters; the limit is 256 \(maxDevIdLength\)\n$/],
        ['SessionID', package1({ server: s.url, devId: 'IMEI:SID', sessionId: 'A'.repeat(1 << 20), maxMsgSize: 65536 }), /^SyncHdr SessionID is 1048576 characters; the limit is 64 \(maxSessionIdLength\)\n$/],
        ['CmdID', package1({ server: s.url, devId: 'IMEI:CMD', maxMsgSize: 65536, extra: [{ kind: 'Alert', cmdID: '9'.repeat(100_000), data: '1224', items: [] }] }), /^Alert CmdID is 100000 characters; the limit is 256 \(maxHeaderFieldLength\)\n$/],
      ];
      for (const [what, body, expected] of cases) {
        const a = await post(s.url, body);
        expect(a.status, `${clientAuth} ${what}`).toBe(400);
        expect(Buffer.from(a.body).toString('utf8'), `${clientAuth} ${what}`).toMatch(expected);
        expect(a.body.length).toBeLessThan(200);
      }
      // Never a device or a session named by such a value.
      expect(sync(s.store).devices()).toEqual([]);
      expect(sync(s.store).sessions().every((x) => x.device === null && x.dmSessionId === null)).toBe(true);
      if (clientAuth === 'md5') expect(storeRows(sync(s.store))).toEqual({ devices: 0, sessions: 0, messages: 0 });
      else expect(sync(s.store).sessions().map((x) => x.state)).toEqual(['rejected', 'rejected', 'rejected']); // 'none' keeps bad input, as bytes
    }
  }, 30_000);
});

describe('answers within the MaxMsgSize the device announced (point 4)', () => {
  it('a refused package 1 of thousands of commands gets its SyncHdr Status alone when all the statuses would not fit (HMAC header over what was sent)', async () => {
    for (const [clientAuth, encoding, n] of [['md5', 'wbxml', 3000], ['hmac', 'xml', 1000]] as const) {
      const s = await start({ clientAuth, defaultClientCred: LAB, serverCred: SRV, serverAuth: clientAuth });
      const extra = Array.from({ length: n }, (_, i) => ({ kind: 'Alert' as const, cmdID: String(i + 3), data: '1224', items: [] }));
      const body = package1({ server: s.url, devId: 'IMEI:MANY', maxMsgSize: 4096, extra, encoding });
      expect(body.length).toBeLessThan(64 * 1024);
      const a = await post(s.url, body, { encoding });
      expect(a.status).toBe(200);
      expect(a.body.length, clientAuth).toBeLessThanOrEqual(4096);
      const m = decodeMessage(a.body);
      expect(m.ok && m.value.message.body.commands.map((c) => c.kind)).toEqual(['Status']);
      expect(a.hdrCode).toBe(407);
      if (clientAuth === 'hmac') expect(a.headers['x-syncml-hmac']).toBe(hmacHeader(SRV.name, SRV.secret, new Uint8Array(), a.body));
    }
  });
});

describe('a session that failed authentication is over (point 7b)', () => {
  it('its later messages, to its RespURI or with its DevId and SessionID at the base URL, get HTTP 403; counted once in the ring, never stored', async () => {
    const s = await start({ clientAuth: 'basic', defaultClientCred: LAB });
    const msg = (n: number) => package1({ server: s.url, devId: 'IMEI:LOOP', sessionId: '5', msgId: String(n), cred: basicCred(LAB.name, 'wrong') });
    const first = await post(s.url, msg(1));
    expect(first.hdrCode).toBe(401);
    expect((await post(first.respUri!, msg(2))).hdrCode).toBe(401);
    expect((await post(first.respUri!, msg(3))).hdrCode).toBe(401); // maxAuthAttemptsPerSession: the session ends
    // A client without a retry limit (libdmclient) keeps going: every later message is refused at the HTTP level.
    const loop: Answer[] = [];
    for (let n = 4; n < 54; n++) loop.push(await post(first.respUri!, msg(n)));
    loop.push(await post(s.url, msg(54)));
    expect(tally(loop)).toEqual({ 403: 51 });
    expect(Buffer.from(loop[0]!.body).toString()).toMatch(/authentication failed too often/);
    // From another address, the same DevId and SessionID at the base URL are not refused for it (anyone can name them).
    expect((await post(s.url, msg(1), { localAddress: '127.0.0.9' })).hdrCode).toBe(401);
    const over = s.authFailures().recent.filter((e) => e.kind === 'session-over');
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({ devId: 'IMEI:LOOP', count: 51 });
    expect(storeRows(sync(s.store))).toEqual({ devices: 0, sessions: 0, messages: 0 });
  });

  it('a stored session (client auth none, wrong client certificate) logs the first refused message once and counts the rest', async () => {
    const s = await start({ tls: { clientCerts: 'optional' }, requireClientCert: true });
    const ca = s.ca!.certPem;
    const c = new TestClient({ url: s.url, devId: 'IMEI:NOCERT', tls: { ca } });
    const r = await c.runSession({ sessionId: '9' });
    expect(r.headerCodes).toEqual([403]);
    const respUri = r.exchanges[0]!.response!.hdr.respURI!;
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await rawPost(respUri, r.exchanges[0]!.requestBytes, { 'content-type': 'application/vnd.syncml.dm+xml' }, { ca })).status);
    expect(new Set(statuses)).toEqual(new Set([403]));
    const [session] = sync(s.store).sessions();
    expect(session).toMatchObject({ device: 'IMEI:NOCERT', state: 'failed', reason: 'no client certificate' });
    const log = sync(s.store).messages(session!.id);
    expect(log.map((m) => m.httpStatus ?? m.direction)).toEqual(['in', 200, 403]);
    expect(log[2]!.error).toMatch(/later messages are refused: this one is logged, the next ones only counted/);
    expect(s.authFailures().recent.find((e) => e.kind === 'session-over')).toMatchObject({ count: 20 });
  });
});
