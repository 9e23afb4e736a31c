/**
 * Engine faults a real, independently written client (intel/libdmclient) exposed, reproduced with
 * the engine harness so they stay fixed without the peer: text Data that travels as WBXML OPAQUE,
 * and a device that keeps refusing the server's credentials. The peer itself runs against the
 * server in test/integration/libdmclient*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { itemValue, type Item } from '../../main/protocol/model.js';
import { commandsOf, Harness } from '../helpers/engine-harness.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const opaque = (uri: string, bytes: Uint8Array, format?: string): Item => ({ source: { locURI: uri }, ...(format ? { meta: { format } } : {}), data: { kind: 'binary', bytes } });

describe('Item Data that arrives as WBXML OPAQUE (libdmclient sends every leaf so)', () => {
  it('itemValue: OPAQUE bytes are text unless the Format is bin or they are not UTF-8', () => {
    expect(itemValue(opaque('./A', utf8('test model'), 'chr'))).toEqual({ kind: 'text', text: 'test model' });
    // No Format: chr is the default (representation §5.1.5).
    expect(itemValue(opaque('./A', utf8('Grüße')))).toEqual({ kind: 'text', text: 'Grüße' });
    // b64 data is its base64 text whichever way it travelled.
    expect(itemValue(opaque('./A', utf8('AAEC'), 'b64'))).toEqual({ kind: 'text', text: 'AAEC' });
    expect(itemValue(opaque('./A', utf8('abc'), 'bin'))).toEqual({ kind: 'binary', bytes: utf8('abc') });
    // A command-level Format counts when the item has none.
    expect(itemValue(opaque('./A', utf8('abc')), 'bin')?.kind).toBe('binary');
    const notUtf8 = new Uint8Array([0xff, 0xfe, 0x00]);
    expect(itemValue(opaque('./A', notUtf8, 'chr'))).toEqual({ kind: 'binary', bytes: notUtf8 });
  });

  it('a Get answered with OPAQUE chr data gives the same job result and tree value as one answered in XML text', () => {
    const results = (encoding: 'xml' | 'wbxml', data: (uri: string) => Item) => {
      const h = new Harness({ encoding });
      h.jobs = [{ id: 1, spec: { kind: 'get', uri: './DevInfo/Mod' } }];
      const p2 = h.send(h.pkg1());
      const p3 = h.send(h.answer(p2, { value: data }));
      return { job: p3.effects.jobsFinished[0], tree: p3.effects.tree };
    };
    const xml = results('xml', (uri) => ({ source: { locURI: uri }, meta: { format: 'chr' }, data: { kind: 'text', text: 'test model' } }));
    const wbxml = results('wbxml', (uri) => opaque(uri, utf8('test model'), 'chr'));
    expect(wbxml.job).toMatchObject({ status: 'done', results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'test model' }] });
    expect(wbxml.job!.results[0]!.encoding).toBeUndefined();
    expect(wbxml.job).toEqual(xml.job);
    expect(wbxml.tree).toEqual(xml.tree);
    // Real binary still comes back as base64, marked so.
    const bin = results('wbxml', (uri) => opaque(uri, new Uint8Array([0, 1, 2, 0xff]), 'bin'));
    expect(bin.job!.results[0]).toMatchObject({ data: 'AAEC/w==', encoding: 'b64' });
  });

  it("package 1's DevInfo sent as OPAQUE is recorded as text", () => {
    const h = new Harness({ encoding: 'wbxml' });
    const pkg1 = h.message([
      { kind: 'Alert', cmdID: '', data: '1201', items: [] },
      { kind: 'Replace', cmdID: '', meta: { format: 'chr' }, items: [opaque('./DevInfo/Mod', utf8('test model')), opaque('./DevInfo/Man', utf8('Intel'))] },
    ]);
    const out = h.send(pkg1);
    expect(out.effects.devInfo).toEqual({ Mod: 'test model', Man: 'Intel' });
    expect(out.effects.tree.map((e) => [e.uri, e.data, e.encoding])).toEqual([['./DevInfo/Mod', 'test model', undefined], ['./DevInfo/Man', 'Intel', undefined]]);
  });
});

describe("a device that refuses the server's credentials", () => {
  const srv = { name: 'dmw', secret: 'wrong-for-this-device' };
  const refuse = { code: () => 401, headerStatus: { data: '401', chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: Buffer.from('nonce').toString('base64') } } } };

  it('re-sends with new credentials as often as allowed, then ends the session as failed, saying why', () => {
    const h = new Harness({ config: { serverCred: srv, serverAuth: 'md5', limits: { maxServerAuthRetries: 2 } } });
    h.jobs = [{ id: 1, spec: { kind: 'get', uri: './DevInfo/Mod' } }];
    let out = h.send(h.pkg1());
    // Refused, re-sent, refused, re-sent, refused: three refusals and the server gives up.
    for (let i = 0; i < 2; i++) {
      out = h.send(h.answer(out, refuse));
      expect(commandsOf(out).map((c) => c.kind)).toEqual(['Get']);
      expect(out.effects.closed).toBeUndefined();
    }
    out = h.send(h.answer(out, refuse));
    expect(commandsOf(out)).toEqual([]);
    expect(out.effects.closed).toEqual({ state: 'failed', reason: "the device refused the server's credentials (401) 3 times in a row" });
    expect(out.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'failed', statusCode: 401 });
  });

  it('a session whose last word on our credentials was a refusal is not recorded as completed', () => {
    // Nothing to re-send: the package of statuses that would end it as done ends it as failed.
    const h = new Harness({ config: { serverCred: srv, serverAuth: 'md5' } });
    h.jobs = [{ id: 1, spec: { kind: 'alert', alert: 'display', text: 'hello' } }];
    const p2 = h.send(h.pkg1());
    const p3 = h.send(h.answer(p2, { headerStatus: refuse.headerStatus }));
    expect(p3.effects.closed).toEqual({ state: 'failed', reason: "the device refused the server's credentials (401) once" });
  });

  it('a refusal followed by acceptance ends as done', () => {
    const h = new Harness({ config: { serverCred: srv, serverAuth: 'md5' } });
    h.jobs = [{ id: 1, spec: { kind: 'get', uri: './DevInfo/Mod' } }];
    const p2 = h.send(h.pkg1());
    const p3 = h.send(h.answer(p2, refuse));
    const p4 = h.send(h.answer(p3));
    expect(p4.effects.closed).toEqual({ state: 'done', reason: 'completed' });
    expect(p4.effects.jobsFinished[0]).toMatchObject({ status: 'done' });
  });
});

describe('a client that digests with an empty nonce (libdmclient, at the start of every session)', () => {
  it('is challenged with a new nonce and is never locked out for it, however many sessions it opens', async () => {
    const { md5Credential, nonceBytes } = await import('../../main/protocol/auth.js');
    const lab = { name: 'lab', secret: 'labpw' };
    let auth = { authFailures: [] as number[] };
    for (let session = 0; session < 8; session++) {
      const h = new Harness({ config: { clientAuth: 'md5', limits: { maxAuthFailures: 3 } }, clientCred: lab, auth });
      h.now += session * 60_000;
      const cred = (nonce: Uint8Array) => ({ meta: { type: 'syncml:auth-md5', format: 'b64' }, data: md5Credential('lab', 'labpw', nonce) });
      const first = h.send(h.pkg1([], { cred: cred(new Uint8Array()) }));
      const hdr = first.response.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0');
      // After the first session the server has a nonce on file, so the empty one is wrong: 401 + Chal.
      if (session > 0) {
        expect(hdr).toMatchObject({ data: '401' });
        expect(first.effects.notes.join('\n')).toMatch(/empty nonce/);
      }
      expect(h.auth.lockedUntil).toBeUndefined();
      expect(h.auth.authFailures).toEqual([]);
      const nonce = (hdr as { chal?: { meta: { nextNonce?: string } } }).chal?.meta.nextNonce;
      if (session > 0) {
        const second = h.send(h.pkg1([], { cred: cred(nonceBytes(nonce!)) }));
        expect(second.response.body.commands.find((c) => c.kind === 'Status' && c.cmdRef === '0')).toMatchObject({ data: '212' });
      }
      auth = h.auth;
    }
  });

  it('a wrong password with an empty nonce still counts', async () => {
    const { md5Credential } = await import('../../main/protocol/auth.js');
    const h = new Harness({ config: { clientAuth: 'md5' }, clientCred: { name: 'lab', secret: 'labpw' }, auth: { authFailures: [], clientNonce: 'bm9uY2U=', clientNonceIssuedAt: 1_700_000_000_000 } });
    h.send(h.pkg1([], { cred: { meta: { type: 'syncml:auth-md5', format: 'b64' }, data: md5Credential('lab', 'guess', new Uint8Array()) } }));
    expect(h.auth.authFailures).toHaveLength(1);
  });
});
