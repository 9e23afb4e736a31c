/**
 * Package #0 (DM-1): the notes' spec example, the digest formula computed independently, resync
 * nonces, and malformed packages as values.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { InvalidInput } from '../../main/notify/errors.js';
import {
  RESYNC_NONCES,
  buildPackage0,
  encodeTrigger,
  parsePackage0,
  parseSessionIdHex,
  sessionIdHex,
  verifyPackage0,
  UI_MODES,
} from '../../main/notify/package0.js';

const SPEC_TRIGGER = `02D00000001234 12${Buffer.from('com.mgmtsrv.manage').toString('hex')}`.replace(/ /g, '');
const md5 = (d: Uint8Array | string) => createHash('md5').update(d).digest();

/** The notes' formula written out from scratch (not through protocol/auth.ts). */
function referenceDigest(serverId: string, secret: string, nonce: Uint8Array, trigger: Uint8Array): string {
  const user = md5(`${serverId}:${secret}`).toString('base64');
  const trig = md5(trigger).toString('base64');
  return md5(Buffer.concat([Buffer.from(`${user}:`), nonce, Buffer.from(`:${trig}`)])).toString('hex').toUpperCase();
}

describe('package #0', () => {
  it('encodes the spec example trigger byte for byte', () => {
    const t = encodeTrigger({ uiMode: 'background', initiator: 'user', sessionId: 0x1234, serverId: 'com.mgmtsrv.manage' });
    expect(toHex(t)).toBe(SPEC_TRIGGER.toUpperCase());
  });

  it('parses the spec example: version 11, background, user, session 1234, server id', () => {
    const pkg = new Uint8Array([...new Uint8Array(16).fill(0xaa), ...fromHex(SPEC_TRIGGER)!]);
    const r = parsePackage0(pkg);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ version: 11, uiMode: 'background', initiator: 'user', sessionId: 0x1234, sessionIdHex: '1234', serverId: 'com.mgmtsrv.manage', futureBits: 0, warnings: [] });
    expect(r.value.vendorData.length).toBe(0);
  });

  it('computes the digest as MD5(B64(MD5(id:pw)):nonce:B64(MD5(trigger)))', () => {
    const nonce = new Uint8Array(Buffer.from('Nonce'));
    const pkg = buildPackage0({ uiMode: 'interactive', initiator: 'server', sessionId: 0xbeef, serverId: 'srv' }, { secret: 'OhBehave', nonce });
    const trigger = pkg.subarray(16);
    expect(toHex(pkg.subarray(0, 16))).toBe(referenceDigest('srv', 'OhBehave', nonce, trigger));
    const p = parsePackage0(pkg);
    if (!p.ok) throw new Error(p.error.message);
    expect(verifyPackage0(p.value, { secret: 'OhBehave', nonce }).ok).toBe(true);
  });

  it('reports a mismatch with every input that went into the digest', () => {
    const nonce = new Uint8Array(Buffer.from('abc'));
    const pkg = buildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 1, serverId: 'srvA' }, { secret: 'right', nonce });
    const p = parsePackage0(pkg);
    if (!p.ok) throw new Error(p.error.message);
    const c = verifyPackage0(p.value, { secret: 'wrong', nonce });
    expect(c.ok).toBe(false);
    expect(c.matched).toBeUndefined();
    expect(c.inputs.serverId).toBe('srvA');
    expect(c.inputs.nonceHex).toBe('616263');
    expect(c.inputs.userDigestB64).toBe(md5('srvA:wrong').toString('base64'));
    expect(c.inputs.triggerDigestB64).toBe(md5(pkg.subarray(16)).toString('base64'));
    expect(c.receivedHex).toBe(toHex(pkg.subarray(0, 16)));
    expect(c.expectedHex).not.toBe(c.receivedHex);
  });

  it('recognises the libdmclient and Android resync nonces', () => {
    for (const [name, nonce] of Object.entries(RESYNC_NONCES)) {
      const pkg = buildPackage0({ uiMode: 'unspecified', initiator: 'server', sessionId: 7, serverId: 's' }, { secret: 'pw', nonce });
      const p = parsePackage0(pkg);
      if (!p.ok) throw new Error(p.error.message);
      const c = verifyPackage0(p.value, { secret: 'pw', nonce: new Uint8Array(Buffer.from('current')) });
      expect(c.ok).toBe(false);
      expect(c.matched).toBe(`resync:${name}`);
    }
    expect(toHex(RESYNC_NONCES.android)).toBe('00000000');
    expect(Buffer.from(RESYNC_NONCES.libdmclient).toString()).toBe('0x00000000');
  });

  it('writes the session id as uppercase hex without leading zeros', () => {
    expect(sessionIdHex(0x1234)).toBe('1234');
    expect(sessionIdHex(0x00af)).toBe('AF');
    expect(sessionIdHex(0)).toBe('0');
    expect(parseSessionIdHex('0x00ff')).toBe(255);
    expect(() => parseSessionIdHex('12345')).toThrow(InvalidInput);
    expect(() => parseSessionIdHex('xyz')).toThrow(InvalidInput);
  });

  it('refuses fields that do not fit', () => {
    const base = { uiMode: 'background' as const, initiator: 'server' as const, sessionId: 1, serverId: 's' };
    expect(() => encodeTrigger({ ...base, serverId: 'x'.repeat(256) })).toThrow(/255/);
    expect(() => encodeTrigger({ ...base, serverId: '' })).toThrow(InvalidInput);
    expect(() => encodeTrigger({ ...base, sessionId: 0x10000 })).toThrow(InvalidInput);
  });

  it('reports truncated packages as values with the byte offset', () => {
    const short = parsePackage0(new Uint8Array(23));
    expect(short.ok).toBe(false);
    if (!short.ok) expect(short.error.code).toBe('truncated');
    const pkg = buildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 1, serverId: 'longer-id' }, { secret: 'x', nonce: new Uint8Array() });
    const cut = parsePackage0(pkg.subarray(0, pkg.length - 3));
    expect(cut.ok).toBe(false);
    if (!cut.ok) expect(cut.error).toMatchObject({ code: 'truncated', offset: 24 });
  });

  it('warns on a wrong version and non-zero future bits', () => {
    const pkg = buildPackage0({ version: 12, uiMode: 'background', initiator: 'server', sessionId: 1, serverId: 's' }, { secret: 'x', nonce: new Uint8Array() });
    pkg[20] = 1;
    const r = parsePackage0(pkg);
    expect(r.ok && r.value.warnings.length).toBe(2);
  });

  it('round-trips any fields (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...UI_MODES),
        fc.constantFrom('user' as const, 'server' as const),
        fc.integer({ min: 0, max: 0xffff }),
        fc.string({ minLength: 1, maxLength: 60 }).filter((s) => Buffer.byteLength(s) <= 255 && Buffer.byteLength(s) > 0),
        fc.uint8Array({ maxLength: 20 }),
        fc.string(),
        fc.uint8Array({ maxLength: 16 }),
        (uiMode, initiator, sessionId, serverId, vendorData, secret, nonce) => {
          const pkg = buildPackage0({ uiMode, initiator, sessionId, serverId, vendorData }, { secret, nonce });
          const r = parsePackage0(pkg);
          if (!r.ok) return false;
          const v = r.value;
          return (
            v.uiMode === uiMode &&
            v.initiator === initiator &&
            v.sessionId === sessionId &&
            v.serverId === Buffer.from(serverId, 'utf8').toString('utf8') &&
            toHex(v.vendorData) === toHex(vendorData) &&
            verifyPackage0(v, { secret, nonce }).ok &&
            toHex(v.digest) === referenceDigest(v.serverId, secret, nonce, v.trigger)
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
