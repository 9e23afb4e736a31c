/**
 * The server's MD5 work per message: a package 1 admitted before its whole turn runs has its
 * credentials checked once (SessionEngine.admit hands its verdict to the turn in the turn's input,
 * and the turn takes its outcome and its one new nonce while it holds for what the check read), and
 * the MD5 user digest B64(MD5(name:password)) is remembered per credential, keyed right and bounded.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_META_TYPE, hmacMac, md5Credential, nonceBytes, USER_DIGESTS_KEPT, userDigestsKept } from '../../main/protocol/auth.js';
import { engineConfig } from '../../main/server/config.js';
import { SessionEngine, type Admitted, type EngineInput, type EngineOutput } from '../../main/server/engine.js';
import { DmServer } from '../../main/server/server.js';
import type { Status } from '../../main/protocol/model.js';
import type { DeviceAuthState } from '../../main/server/types.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { benchHandsets, BENCH_CLIENT, BENCH_SERVER, queueBenchJobs } from '../bench/suites/server.js';
import { Harness, SERVER } from '../helpers/engine-harness.js';

const CRED = { name: 'dev', secret: 'pw' };
const ISSUED = 'aXNzdWVkLW5vbmNl';

function counting() {
  const draws: string[] = [];
  return {
    draws,
    nonces: {
      nonce: () => {
        const n = Buffer.from(`drawn-${draws.length + 1}`).toString('base64');
        draws.push(n);
        return n;
      },
    },
  };
}

function setup() {
  const { draws, nonces } = counting();
  const engine = new SessionEngine(engineConfig({ serverUri: SERVER, clientAuth: 'md5' }), nonces);
  const h = new Harness();
  const msg = h.pkg1([], { cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(CRED.name, CRED.secret, nonceBytes(ISSUED)) } });
  const auth: DeviceAuthState = { authFailures: [], clientNonce: ISSUED, clientNonceIssuedAt: h.now - 1000 };
  const device = { devId: h.devId, auth, clientCred: CRED };
  const input: EngineInput = { message: msg, encoding: 'xml', bytes: new Uint8Array([1, 2, 3]), transport: { tls: false }, device, queuedJobs: [], now: h.now };
  const state = engine.open({ id: 1, message: msg, encoding: 'xml', respUri: `${SERVER}/s/1-ab`, device });
  return { engine, draws, input, state, device, h };
}

function admitted(engine: SessionEngine, state: ReturnType<typeof setup>['state'], input: EngineInput): Admitted {
  const v = engine.admit(state, input);
  if (!('admitted' in v)) throw new Error(`refused: ${v.refused.effects.notes.join('; ')}`);
  return v.admitted;
}

const hdrStatusOf = (out: EngineOutput) => out.response.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0') as Status | undefined;
const chalNonce = (out: EngineOutput) => hdrStatusOf(out)?.chal?.meta.nextNonce;
const GET = { id: 1, spec: { kind: 'get' as const, uri: './DevInfo/Mod' } };

describe('package 1: credentials checked once, the admission handed to the turn', () => {
  it('the whole turn given the admission takes its outcome: one digest check, one new nonce, the one the device gets', () => {
    const { engine, draws, input, state } = setup();
    const a = admitted(engine, state, input);
    expect(a.outcome?.ok).toBe(true);
    const out = engine.handle(state, { ...input, queuedJobs: [GET], admitted: a });
    expect(draws).toEqual([Buffer.from('drawn-1').toString('base64')]);
    expect(out.session.authenticated).toBe(true);
    expect(hdrStatusOf(out)?.data).toBe('212');
    expect(chalNonce(out)).toBe(draws[0]);
    expect(out.effects.deviceAuth?.clientNonce).toBe(draws[0]);
    expect(out.effects.notes).toContain('client authenticated (md5)');
  });

  it('a held turn (the step control) takes it as well', () => {
    const { engine, draws, input, state } = setup();
    const a = admitted(engine, state, input);
    const r = engine.handleOrHold(state, { ...input, queuedJobs: [GET], admitted: a });
    if (!('held' in r)) throw new Error('not held');
    expect(draws).toHaveLength(1);
    expect(r.held.effects.deviceAuth?.clientNonce).toBe(draws[0]);
    expect(chalNonce(engine.release(r.held))).toBe(draws[0]);
  });

  it('the engine keeps nothing between calls: a turn without the admission checks for itself, the same admission twice gives the same answer', () => {
    const { engine, draws, input, state } = setup();
    const a = admitted(engine, state, input);
    engine.handle(state, input);
    expect(draws).toHaveLength(2);
    const one = engine.handle(state, { ...input, admitted: a });
    const two = engine.handle(state, { ...input, admitted: a });
    expect(draws).toHaveLength(2);
    expect(chalNonce(one)).toBe(draws[0]);
    expect(chalNonce(two)).toBe(draws[0]);
  });

  it("checks again when the device's auth state is another object: after another session committed a new nonce, the digest made with the spent one is refused", () => {
    const { engine, draws, input, state, device, h } = setup();
    const a = admitted(engine, state, input);
    // Another session of the device was given a new nonce between the admission and this turn.
    const moved: DeviceAuthState = { authFailures: [], clientNonce: Buffer.from('elsewhere').toString('base64'), clientNonceIssuedAt: h.now };
    const out = engine.handle(state, { ...input, device: { ...device, auth: moved }, admitted: a });
    expect(hdrStatusOf(out)?.data).toBe('401');
    expect(out.session.authenticated).toBe(false);
    expect(out.effects.notes.join('\n')).toMatch(/MD5 digest mismatch/);
    expect(draws).toHaveLength(2);
    // A copy of the very same state is another object too: checked again (and passes).
    const copy = engine.handle(state, { ...input, device: { ...device, auth: { ...device.auth } }, admitted: a });
    expect(copy.session.authenticated).toBe(true);
    expect(draws).toHaveLength(3);
    expect(chalNonce(copy)).toBe(draws[2]);
  });

  it('checks again for another message, another credential to present or another engine configuration', () => {
    const { engine, draws, input, state, device } = setup();
    const a = admitted(engine, state, input);
    engine.handle(state, { ...input, message: { ...input.message }, admitted: a });
    expect(draws).toHaveLength(2);
    // What the device must present changed (a script gives it its own credential): refused against that one.
    const other = engine.handle(state, { ...input, device: { ...device, clientCred: { name: 'dev', secret: 'another' } }, admitted: a });
    expect(hdrStatusOf(other)?.data).toBe('401');
    expect(draws).toHaveLength(3);
    // Another engine (another configuration) checks by its own rules.
    const second = counting();
    const engine2 = new SessionEngine(engineConfig({ serverUri: SERVER, clientAuth: 'md5' }), second.nonces);
    engine2.handle(state, { ...input, admitted: a });
    expect(second.draws).toHaveLength(1);
    expect(draws).toHaveLength(3);
  });

  it('a refused admission hands nothing over: the turn checks again and refuses again', () => {
    const { engine, draws, input, state } = setup();
    const wrong = { ...input, message: { ...input.message, hdr: { ...input.message.hdr, cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(CRED.name, 'guess', nonceBytes(ISSUED)) } } } };
    const v = engine.admit(state, wrong);
    if (!('refused' in v)) throw new Error('admitted with a wrong digest');
    expect(v.refused.effects.notes.join('\n')).toMatch(/MD5 digest mismatch/);
    const out = engine.handle(state, wrong);
    expect(out.session.authenticated).toBe(false);
    expect(draws).toHaveLength(2);
  });
});

describe('package 1 through the server: one nonce per authenticated session', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("the admission before the session enters the store is the turn's: each later session draws one nonce, the one its device authenticates with next", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-auth-once-'));
    dirs.push(dataDir);
    const { draws, nonces } = counting();
    const server = await DmServer.start({ port: 0, host: '127.0.0.1', dataDir, clientAuth: 'md5', defaultClientCred: BENCH_CLIENT, serverCred: BENCH_SERVER, serverAuth: 'md5', nonces });
    const devId = 'IMEI:356980000000002';
    const pool = await benchHandsets(server.url, [devId]);
    try {
      if (!(server.store instanceof SqliteStore)) throw new Error('SQLite store expected');
      const store = server.store.serverStore;
      // The first session meets a device without a nonce: challenged first (a draw of its own).
      queueBenchJobs(store, [devId], 0);
      expect((await pool.runAll({ concurrency: 1 }))[0]).toMatchObject({ ok: true });
      for (let round = 1; round <= 3; round++) {
        const before = draws.length;
        queueBenchJobs(store, [devId], round);
        const [outcome] = await pool.runAll({ concurrency: 1 });
        expect(outcome).toMatchObject({ ok: true });
        expect(draws.length - before).toBe(1);
        expect((await server.store.device(devId))?.auth.clientNonce).toBe(draws[draws.length - 1]);
      }
    } finally {
      await pool.close();
      await server.close();
    }
  }, 30_000);
});

describe('MD5 user digest, remembered per credential', () => {
  const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');
  const independent = (name: string, secret: string, nonce: Uint8Array) => md5b64(Buffer.concat([Buffer.from(`${md5b64(`${name}:${secret}`)}:`), Buffer.from(nonce)]));
  const nonce = new Uint8Array([9, 8, 7, 6, 5]);

  it('a changed secret or name gives the digest of the new credential, not a remembered one', () => {
    expect(md5Credential('alice', 'one', nonce)).toBe(independent('alice', 'one', nonce));
    expect(md5Credential('alice', 'two', nonce)).toBe(independent('alice', 'two', nonce));
    expect(md5Credential('alicf', 'two', nonce)).toBe(independent('alicf', 'two', nonce));
    expect(md5Credential('alice', 'one', nonce)).toBe(independent('alice', 'one', nonce));
    expect(md5Credential('alice', 'two', nonce)).not.toBe(md5Credential('alice', 'one', nonce));
    // The digest covers "name:secret" as one text (DM Security): the split does not matter to it.
    expect(md5Credential('a:b', 'c', nonce)).toBe(independent('a', 'b:c', nonce));
    // Non-ASCII names and secrets are digested as UTF-8.
    expect(md5Credential('jürgen', 'pässwörd', nonce)).toBe(independent('jürgen', 'pässwörd', nonce));
    // The HMAC's digest uses the same remembered part.
    const body = new Uint8Array([1, 2, 3]);
    expect(hmacMac('alice', 'two', nonce, body)).toBe(md5b64(Buffer.concat([Buffer.from(`${md5b64('alice:two')}:`), Buffer.from(nonce), Buffer.from(`:${md5b64(Buffer.from(body))}`)])));
  });

  it('stays bounded under a flood of names, and a forgotten credential is digested again correctly', () => {
    for (let i = 0; i < USER_DIGESTS_KEPT * 2 + 7; i++) md5Credential(`flood-${i}`, 'x', nonce);
    expect(userDigestsKept()).toBeLessThanOrEqual(USER_DIGESTS_KEPT);
    expect(md5Credential('flood-0', 'x', nonce)).toBe(independent('flood-0', 'x', nonce));
    expect(md5Credential('flood-0', 'x', new Uint8Array())).toBe(independent('flood-0', 'x', new Uint8Array()));
  });
});

describe('nonceBytes', () => {
  const reference = (text: string) => {
    const t = text.trim();
    return t.length > 0 && t.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : Buffer.from(t, 'utf8');
  };

  it('gives the bytes a NextNonce stands for: base64 decoded, anything else as its UTF-8 text, in bytes of its own', () => {
    const texts = ['AAECAwQFBgcICQoLDA0ODw==', 'YWI=', 'YWJj', ' YWJj ', '', '0x00000000', 'héllo wörld', 'a===', '====', 'YW J j'];
    for (let i = 0; i < 300; i++) texts.push(createHash('md5').update(String(i)).digest().subarray(0, i % 17).toString('base64'));
    for (const t of texts) {
      const got = nonceBytes(t);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got).equals(reference(t))).toBe(true);
      expect(got.buffer.byteLength).toBe(got.length);
    }
  });
});
