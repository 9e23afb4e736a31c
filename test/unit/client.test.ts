/**
 * Virtual handset pieces that need no server: DevIds, the handset's view of credentials (its Cred,
 * its check of the server's), UI alert policies, package #0 acceptance, the sim summary.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { md5Credential, basicCredential, hmacHeader, nonceBytes } from '../../main/protocol/auth.js';
import type { SyncHdr } from '../../main/protocol/model.js';
import { buildPackage0 as notifyBuildPackage0 } from '../../main/notify/package0.js';
import { buildPackage0 as serverBuildPackage0 } from '../../main/server/notifier.js';
import { imeiFromBody, findAccount } from '../../main/tree/mos.js';
import { loadTree } from '../../main/tree/persist.js';
import { DEVICE } from '../../main/tree/tree.js';
import type { UiAlert } from '../../main/tree/processor/index.js';
import {
  VirtualHandset, HandsetPool, alertResponder, checkServer, clientCred, isValidImeiDevId, randomImeiDevId, percentile, summarize,
  configureAccount, type SessionOutcome, type HandsetEvent,
} from '../../main/client/index.js';
import { readCredential } from '../../main/client/credentials.js';

const hdr = (cred?: SyncHdr['cred']): SyncHdr => ({
  verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '2', target: { locURI: 'IMEI:1' }, source: { locURI: 'http://srv/dm' }, ...(cred ? { cred } : {}),
});

describe('DevIds', () => {
  it('are IMEI: + 15 digits whose last digit is the Luhn check digit, all different', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = randomImeiDevId(taken);
      expect(id).toMatch(/^IMEI:\d{15}$/);
      expect(isValidImeiDevId(id)).toBe(true);
      expect(taken.has(id)).toBe(false);
      taken.add(id);
    }
  });

  it('Luhn: the GSMA example 49015420323751-8 passes, a changed digit fails', () => {
    expect(imeiFromBody('49015420323751')).toBe('490154203237518');
    expect(isValidImeiDevId('IMEI:490154203237518')).toBe(true);
    expect(isValidImeiDevId('IMEI:490154203237517')).toBe(false);
    expect(isValidImeiDevId('IMEI:49015420323751')).toBe(false);
    expect(isValidImeiDevId('490154203237518')).toBe(false);
  });

  it('a pool hands out no DevId twice even when random numbers repeat', () => {
    let n = 0;
    const seq = [1, 2, 3];
    const rnd = () => seq[n++ % 3]!;
    const first = randomImeiDevId(new Set(), rnd);
    expect(() => randomImeiDevId(new Set([first]), rnd)).toThrow(/unused IMEI/);
  });
});

describe('credentials', () => {
  it('our MD5 Cred is the spec vector (Bruce2 / OhBehave / nonce "Nonce")', () => {
    const c = clientCred({ type: 'md5', name: 'Bruce2', secret: 'OhBehave', nonce: Buffer.from('Nonce').toString('base64') });
    expect(c).toEqual({ meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'Zz6EivR3yeaaENcRN6lpAQ==' });
    expect(clientCred({ type: 'basic', name: 'a', secret: 'b', nonce: '' })!.data).toBe(Buffer.from('a:b').toString('base64'));
    expect(clientCred({ type: 'hmac', name: 'a', secret: 'b', nonce: '' })).toBeUndefined();
  });

  it('server basic Cred: right 212, wrong 401, missing 407, each with a basic challenge when refused', () => {
    const exp = { type: 'basic' as const, name: 'dmw', secret: 'srv', nonce: '' };
    const good = { meta: { type: 'syncml:auth-basic', format: 'b64' }, data: basicCredential('dmw', 'srv') };
    expect(checkServer(exp, hdr(good), undefined, new Uint8Array()).status).toBe(212);
    const wrong = checkServer(exp, hdr({ ...good, data: basicCredential('dmw', 'nope') }), undefined, new Uint8Array());
    expect(wrong.status).toBe(401);
    expect(wrong.chal?.meta.type).toBe('syncml:auth-basic');
    expect(checkServer(exp, hdr(), undefined, new Uint8Array()).status).toBe(407);
  });

  it('server MD5 Cred uses the nonce we gave it, and every answer challenges with a fresh one', () => {
    const nonce = Buffer.from('n1').toString('base64');
    const exp = { type: 'md5' as const, name: 'dmw', secret: 'srv', nonce };
    const cred = (n: string) => ({ meta: { type: 'syncml:auth-md5', format: 'b64' }, data: md5Credential('dmw', 'srv', nonceBytes(n)) });
    const ok = checkServer(exp, hdr(cred(nonce)), undefined, new Uint8Array(), () => 'TkVYVA==');
    expect(ok).toMatchObject({ status: 212, nextNonce: 'TkVYVA==', chal: { meta: { type: 'syncml:auth-md5', nextNonce: 'TkVYVA==' } } });
    // the digest of an older nonce (a replay) is refused
    expect(checkServer(exp, hdr(cred('')), undefined, new Uint8Array()).status).toBe(401);
    // a basic Cred when we expect MD5 is wrong, not missing
    expect(checkServer(exp, hdr({ meta: { type: 'syncml:auth-basic' }, data: basicCredential('dmw', 'srv') }), undefined, new Uint8Array()).status).toBe(401);
  });

  it('server HMAC covers the exact body bytes', () => {
    const nonce = Buffer.from('abc').toString('base64');
    const exp = { type: 'hmac' as const, name: 'dmw', secret: 'srv', nonce };
    const body = new TextEncoder().encode('<SyncML>...</SyncML>');
    const h = hmacHeader('dmw', 'srv', nonceBytes(nonce), body);
    expect(checkServer(exp, hdr(), h, body).status).toBe(200);
    const altered = body.slice();
    altered[3] = altered[3]! ^ 1;
    expect(checkServer(exp, hdr(), h, altered).status).toBe(401);
    expect(checkServer(exp, hdr(), hmacHeader('other', 'srv', nonceBytes(nonce), body), body).status).toBe(401);
    expect(checkServer(exp, hdr(), undefined, body).status).toBe(407);
  });
});

describe('UI alert policies', () => {
  const alert = (kind: UiAlert['kind'], dr?: string): UiAlert => ({
    code: ({ display: 1100, confirm: 1101, input: 1102, 'single-choice': 1103, 'multiple-choice': 1104 } as const)[kind],
    kind, options: { other: [], ...(dr !== undefined ? { dr } : {}) }, text: 'Update?', choices: ['a', 'b'], serverId: 'dmw', cmdId: '3',
  });
  it('accept takes the default response, reject says no / cancels, no-ui 406, timeout 408', async () => {
    expect(await alertResponder('accept')(alert('confirm', '1'))).toEqual({ status: 200 });
    expect(await alertResponder('accept')(alert('single-choice', '2'))).toEqual({ status: 200, data: ['2'] });
    expect(await alertResponder('reject')(alert('confirm', '1'))).toEqual({ status: 304 });
    expect(await alertResponder('reject')(alert('input', 'x'))).toEqual({ status: 214 });
    expect(await alertResponder('reject')(alert('display'))).toEqual({ status: 200 });
    expect(await alertResponder('no-ui')(alert('confirm', '1'))).toEqual({ status: 406 });
    expect(await alertResponder('timeout')(alert('confirm', '1'))).toEqual({ status: 408 });
    const mine = () => ({ status: 200, data: ['typed'] });
    expect(alertResponder(mine)).toBe(mine);
  });
});

describe('package #0 on the handset', () => {
  const account = (secret: string, data = '') => ({
    serverId: 'srvA', addr: 'http://127.0.0.1:9/dm',
    clientCred: { type: 'DIGEST', name: 'lab', secret: 'pw' },
    serverCred: { type: 'DIGEST', name: 'srvA-name', secret, data },
  });

  async function handset(secret = 'srvpw', data = '') {
    const h = await VirtualHandset.open({ device: { accounts: [account(secret, data)] }, requestTimeoutMs: 2000 });
    const events: HandsetEvent[] = [];
    h.on((e) => events.push(e));
    return { h, events };
  }

  it('accepts a digest over AAuthName/AAuthSecret/AAuthData (as our server signs) and starts a 1200 session with the SessionID in uppercase hex', async () => {
    const nonce = Buffer.from('srv-nonce').toString('base64');
    const { h, events } = await handset('srvpw', nonce);
    const pkg = serverBuildPackage0({ serverId: 'srvA', sessionId: 0x0a2f, uiMode: 1, serverCred: { name: 'srvA-name', secret: 'srvpw' }, serverNonce: nonce });
    const r = h.notify(pkg);
    expect(r).toMatchObject({ accepted: true, httpStatus: 200, serverId: 'srvA', sessionId: 'A2F' });
    const s = await r.session!;
    // nothing listens on port 9: the session fails, but it was the right session
    expect(s).toMatchObject({ ok: false, initiator: 'server', sessionId: 'A2F', serverId: 'srvA' });
    expect(events.find((e) => e.type === 'session-start')).toMatchObject({ initiator: 'server', sessionId: 'A2F' });
    h.close();
  });

  it('also accepts the spec form (digest over the ServerID) and resync nonces; refuses a wrong secret, an unknown ServerID, a stopped handset', async () => {
    const { h } = await handset('srvpw', Buffer.from('n').toString('base64'));
    h.running = true;
    const spec = notifyBuildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 0x1234, serverId: 'srvA' }, { secret: 'srvpw', nonce: nonceBytes(Buffer.from('n').toString('base64')) });
    const specR = h.notify(spec);
    expect(specR.accepted).toBe(true);
    expect(specR.matched).toMatch(/^nonce \(name srvA\)/);
    const resync = notifyBuildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 1, serverId: 'srvA' }, { secret: 'srvpw', nonce: new Uint8Array(Buffer.from('0x00000000')) });
    expect(h.notify(resync).matched).toMatch(/^resync:libdmclient/);
    const wrong = serverBuildPackage0({ serverId: 'srvA', sessionId: 1, uiMode: 0, serverCred: { name: 'srvA-name', secret: 'guess' } });
    expect(h.notify(wrong)).toMatchObject({ accepted: false, httpStatus: 401 });
    const other = serverBuildPackage0({ serverId: 'srvB', sessionId: 1, uiMode: 0, serverCred: { name: 'srvB', secret: 'srvpw' } });
    expect(h.notify(other)).toMatchObject({ accepted: false, httpStatus: 404 });
    expect(h.notify(new Uint8Array(10))).toMatchObject({ accepted: false, httpStatus: 400 });
    h.running = false;
    expect(h.notify(spec)).toMatchObject({ accepted: false, httpStatus: 503 });
    h.close();
    await Promise.allSettled([specR.session]);
  });

  it('refuses resync nonces when told to', async () => {
    const h = await VirtualHandset.open({ device: { accounts: [account('srvpw', 'bg==')] }, acceptResyncNonce: false });
    const resync = notifyBuildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 1, serverId: 'srvA' }, { secret: 'srvpw', nonce: new Uint8Array(4) });
    expect(h.notify(resync).accepted).toBe(false);
    h.close();
  });
});

describe('pool and persistence', () => {
  it('add N gives running handsets with valid DevIds and the template accounts; trees persist and come back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-pool-'));
    try {
      const pool = await HandsetPool.create({
        dir,
        template: { device: { mod: 'Lab-1' }, accounts: () => [account()], setup: (tree) => void tree.add(DEVICE, './Vendor/Mode', { format: 'chr', value: 'eco', createParents: true }) },
      });
      const added = await pool.add(3, { model: 'Lab-2' });
      expect(added).toHaveLength(3);
      const list = pool.list();
      expect(list.map((v) => v.devId).every(isValidImeiDevId)).toBe(true);
      expect(list.every((v) => v.running && v.model === 'Lab-2' && v.sessions === 0 && v.notifyUrl?.startsWith('http://127.0.0.1:'))).toBe(true);
      expect(findAccount(added[0]!.tree, 'srvA')?.serverCred?.secret).toBe('srvpw');
      // The package #0 listener: a body over its limit, or of another media type, is refused.
      const push = (body: Uint8Array, type: string) => fetch(list[0]!.notifyUrl!, { method: 'POST', headers: { 'content-type': type }, body });
      const tooBig = await push(new Uint8Array(64 * 1024 + 1), 'application/vnd.syncml.notification');
      expect([tooBig.status, await tooBig.text()]).toEqual([413, 'package #0 over 65536 bytes\n']);
      expect((await push(new Uint8Array(8), 'text/plain')).status).toBe(415);
      pool.stop(list[0]!.devId);
      expect(pool.get(list[0]!.devId)!.running).toBe(false);
      await pool.close();
      expect(existsSync(path.join(dir, `${list[0]!.devId.replace(':', '_')}.json`))).toBe(true);

      const again = await HandsetPool.create({ dir, notify: false });
      expect(again.list().map((v) => v.devId).sort()).toEqual(list.map((v) => v.devId).sort());
      expect(again.get(list[1]!.devId)!.model).toBe('Lab-2');
      expect(again.get(list[1]!.devId)!.tree.lookup('./Vendor/Mode')?.value).toBe('eco');
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    function account() {
      return { serverId: 'srvA', addr: 'http://127.0.0.1:9/dm', clientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'srvA', secret: 'srvpw' } };
    }
  });

  it('configureAccount adds or updates the account for a server (address, credentials)', async () => {
    const h = await VirtualHandset.open({});
    const p = configureAccount(h.tree, { serverId: 'dmw', url: 'http://a/dm', clientType: 'hmac', clientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 's' } });
    expect(findAccount(h.tree, 'dmw')).toMatchObject({ path: p, addr: 'http://a/dm', clientCred: { type: 'HMAC', name: 'lab', secret: 'pw' }, serverCred: { type: 'DIGEST', name: 'dmw', secret: 's' } });
    configureAccount(h.tree, { serverId: 'dmw', url: 'http://b/dm' });
    expect(findAccount(h.tree, 'dmw')).toMatchObject({ addr: 'http://b/dm', clientCred: { type: 'HMAC', secret: 'pw' } });
    expect(readCredential(h.tree, p, 'SRVCRED')).toMatchObject({ type: 'md5', name: 'dmw' });
    h.close();
  });

  it('a handset with a tree file saves it after a session, even a failed one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-handset-'));
    try {
      const file = path.join(dir, 'phone.json');
      const h = await VirtualHandset.open({ treeFile: file, device: { devId: 'IMEI:490154203237518', accounts: [{ serverId: 'x', addr: 'http://127.0.0.1:9/dm', clientCred: { name: 'a', secret: 'b' }, serverCred: { name: 'x', secret: '' } }] } });
      expect((await loadTree(file)).lookup('./DevInfo/DevId')!.value).toBe('IMEI:490154203237518');
      const r = await h.connect();
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/127\.0\.0\.1:9/);
      expect(h.lastError).toBe(r.error);
      expect(h.sessions).toBe(1);
      h.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sim summary', () => {
  it('p50 / p99 are nearest-rank over the completed sessions', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([5], 0.99)).toBe(5);
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.99)).toBe(99);
    const o = (ok: boolean, durationMs: number) => ({ ok, durationMs }) as SessionOutcome;
    expect(summarize([o(true, 10), o(true, 30), o(false, 1), o(true, 20)])).toEqual({ ok: 3, failed: 1, p50_ms: 20, p99_ms: 30 });
    expect(summarize([o(false, 1)])).toEqual({ ok: 0, failed: 1, p50_ms: null, p99_ms: null });
  });
});

describe('the app seam (main/api/handsets.ts)', () => {
  it('main/client is the handset module the backend loads: it exports createFleet with the contract types', async () => {
    const { loadHandsetModule } = await import('../../main/api/handsets.js');
    const loaded = await loadHandsetModule();
    expect(loaded.ok).toBe(true);
    expect(loaded.ok && loaded.provider.replace(/\\/g, '/')).toMatch(/main\/client\/index\.(ts|js)$/);
    // compile-time: our module satisfies the backend's HandsetModule (DmServer fits FleetServer)
    const mod: import('../../main/api/handsets.js').HandsetModule = await import('../../main/client/index.js');
    expect(typeof mod.createFleet).toBe('function');
  });
});
