/**
 * The server's MD5 work per message: a package 1 admitted before its whole turn runs has its
 * credentials checked once (the turn reuses the admission's outcome and its one new nonce), and the
 * MD5 user digest B64(MD5(name:password)) is remembered per credential, keyed right and bounded.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AUTH_META_TYPE, hmacMac, md5Credential, nonceBytes, USER_DIGESTS_KEPT, userDigestsKept } from '../../main/protocol/auth.js';
import { engineConfig } from '../../main/server/config.js';
import { SessionEngine, type EngineInput } from '../../main/server/engine.js';
import type { Status } from '../../main/protocol/model.js';
import type { DeviceAuthState } from '../../main/server/types.js';
import { Harness, SERVER } from '../helpers/engine-harness.js';

const CRED = { name: 'dev', secret: 'pw' };
const ISSUED = 'aXNzdWVkLW5vbmNl';

function setup() {
  const draws: string[] = [];
  const engine = new SessionEngine(engineConfig({ serverUri: SERVER, clientAuth: 'md5' }), {
    nonce: () => {
      const n = Buffer.from(`drawn-${draws.length + 1}`).toString('base64');
      draws.push(n);
      return n;
    },
  });
  const h = new Harness();
  const msg = h.pkg1([], { cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(CRED.name, CRED.secret, nonceBytes(ISSUED)) } });
  const auth: DeviceAuthState = { authFailures: [], clientNonce: ISSUED, clientNonceIssuedAt: h.now - 1000 };
  const device = { devId: h.devId, auth, clientCred: CRED };
  const input: EngineInput = { message: msg, encoding: 'xml', bytes: new Uint8Array([1, 2, 3]), transport: { tls: false }, device, queuedJobs: [], now: h.now };
  const state = engine.open({ id: 1, message: msg, encoding: 'xml', respUri: `${SERVER}/s/1-ab`, device });
  return { engine, draws, input, state, device };
}

const chalNonce = (out: ReturnType<SessionEngine['handle']>) =>
  (out.response.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0') as Status | undefined)?.chal?.meta.nextNonce;

describe('package 1: credentials checked once', () => {
  it('the whole turn after admit reuses its outcome: one digest check, one new nonce, the one the device gets', () => {
    const { engine, draws, input, state } = setup();
    expect(engine.admit(state, input)).toBeUndefined();
    const out = engine.handle(state, { ...input, queuedJobs: [{ id: 1, spec: { kind: 'get', uri: './DevInfo/Mod' } }] });
    expect(draws).toEqual([Buffer.from('drawn-1').toString('base64')]);
    expect(out.session.authenticated).toBe(true);
    expect(chalNonce(out)).toBe(draws[0]);
    expect(out.effects.deviceAuth?.clientNonce).toBe(draws[0]);
    expect(out.effects.notes).toContain('client authenticated (md5)');
  });

  it('checks again when anything the check reads differs, and uses an outcome only once', () => {
    const { engine, draws, input, state, device } = setup();
    expect(engine.admit(state, input)).toBeUndefined();
    // Another device state (a copy is another object): checked again.
    const other = { ...device, auth: { ...device.auth } };
    engine.handle(state, { ...input, device: other });
    expect(draws).toHaveLength(2);
    // The same inputs twice after one admit: the first turn takes the outcome, the second checks.
    const s2 = setup();
    expect(s2.engine.admit(s2.state, s2.input)).toBeUndefined();
    s2.engine.handle(s2.state, s2.input);
    s2.engine.handle(s2.state, s2.input);
    expect(s2.draws).toHaveLength(2);
  });

  it('a refused admission is not remembered: the turn checks again and refuses again', () => {
    const { engine, draws, input, state } = setup();
    const wrong = { ...input, message: { ...input.message, hdr: { ...input.message.hdr, cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(CRED.name, 'guess', nonceBytes(ISSUED)) } } } };
    expect(engine.admit(state, wrong)?.effects.notes.join('\n')).toMatch(/MD5 digest mismatch/);
    const out = engine.handle(state, wrong);
    expect(out.session.authenticated).toBe(false);
    expect(draws).toHaveLength(2);
  });
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
