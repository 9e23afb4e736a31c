import { describe, expect, it } from 'vitest';
import { decodeLiveState, encodeLiveState, LiveStateError, type SharedLiveState } from '../../main/server/live-state-codec.js';
import type { Live } from '../../main/server/live-sessions.js';
import { Harness } from '../helpers/engine-harness.js';

/** A session in the middle of its management phase, with bytes in its outbox, pre-auth log and last answer. */
function midSession(): SharedLiveState {
  const h = new Harness();
  h.jobs = [
    { id: 7, spec: { kind: 'replace', uri: './Vendor/Blob', value: Buffer.from([0, 1, 2, 255]).toString('base64'), binary: true, format: 'bin' } },
    { id: 8, spec: { kind: 'get', uri: './DevInfo/Lang' } },
  ];
  const out = h.send(h.pkg1());
  const state = { ...out.session, incomingLo: { key: 'k', uri: './Big', received: 3, chunks: [new Uint8Array([9, 8, 7])], text: false, first: { data: { kind: 'text' as const, text: 'x' } } } };
  const live: Live = {
    id: -3, token: 'a1b2c3d4e5f60718', devId: h.devId, dmSessionId: '1', state, lastActivity: 1_700_000_000_123, logged: 2,
    device: { devId: h.devId, auth: { authFailures: [1_700_000_000_000], clientNonce: 'bm9uY2U=' }, clientCred: { name: 'u', secret: 's' } },
    seenWritten: 1_700_000_000_000, address: '127.0.0.1',
    preAuth: { startedAt: 1_700_000_000_000, messages: [{ seq: 1, direction: 'in', at: 1, msgId: '1', contentType: 'application/vnd.syncml.dm+xml', bytes: new Uint8Array([60, 83, 121, 110]), note: null }] },
  };
  return { live, lastAnswer: { requestDigest: 'ab'.repeat(32), status: 200, headers: { 'x-syncml-hmac': 'algorithm=MD5' }, body: out.bytes, inSeq: 1, outSeq: 2 } };
}

/** Through the database's json column: text and back. */
const viaJsonColumn = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('live-state codec (a live session in the shared store)', () => {
  it('round-trips a session with bytes everywhere, equal to the original, Uint8Arrays included', () => {
    const s = midSession();
    const back = decodeLiveState('tok:a1b2', viaJsonColumn(encodeLiveState(s)));
    expect(back).toEqual(s);
    expect(back.lastAnswer!.body).toBeInstanceOf(Uint8Array);
    expect(back.live.preAuth!.messages[0]!.bytes).toBeInstanceOf(Uint8Array);
    expect(back.live.state.incomingLo!.chunks[0]).toEqual(new Uint8Array([9, 8, 7]));
    // The binary job's item went into the outbox or out as a command: either way it is there and equal.
    expect(JSON.stringify(back.live.state)).toBe(JSON.stringify(s.live.state));
  });

  it('leaves out the admission slot and the parsed form of pending messages (per instance, not stored)', () => {
    const s = midSession();
    const withSlot = { ...s, live: { ...s.live, slot: { kind: 'authenticated', address: 'x' } as unknown as Live['slot'] } };
    const enc = viaJsonColumn(encodeLiveState(withSlot)) as { live: Record<string, unknown> };
    expect(enc.live.slot).toBeUndefined();
  });

  it('keeps objects that have a "$u8" or "$obj" key of their own apart from bytes', () => {
    const s = midSession();
    (s.live.state.jobs as Record<string, unknown>)['7'] = { ...(s.live.state.jobs['7'] ?? { id: 7, keys: [], results: [], members: [], sent: true, finished: false }), spec: { kind: 'get', uri: './x', $u8: 'not bytes', $obj: 1 } as never };
    const back = decodeLiveState('k', viaJsonColumn(encodeLiveState(s)));
    expect((back.live.state.jobs['7']!.spec as unknown as Record<string, unknown>).$u8).toBe('not bytes');
  });

  it('refuses corrupt rows with an error naming the session key and the path, never a crash', () => {
    const good = viaJsonColumn(encodeLiveState(midSession())) as Record<string, any>;
    const cases: [string, (r: Record<string, any>) => unknown, RegExp][] = [
      ['null row', () => null, /\$: expected an object, found null/],
      ['other format', (r) => ({ ...r, format: 2 }), /\$\.format: format 2; this dmw reads format 1/],
      ['phase', (r) => { r.live.state.phase = 'dancing'; return r; }, /\$\.live\.state\.phase: "dancing" is not pkg1, mgmt or closed/],
      ['seq counter', (r) => { r.live.logged = '2'; return r; }, /\$\.live\.logged: expected an integer, found a string/],
      ['bytes not base64', (r) => { r.lastAnswer.body = { $u8: '<<<' }; return r; }, /\$\.lastAnswer\.body: bytes must be/],
      ['bytes missing', (r) => { r.live.preAuth.messages[0].bytes = 'abc'; return r; }, /\$\.live\.preAuth\.messages\[0\]\.bytes: expected bytes/],
      ['outbox not a list', (r) => { r.live.state.outbox = {}; return r; }, /\$\.live\.state\.outbox: expected an array/],
      ['prototype key', (r) => { r.live.device = JSON.parse('{"__proto__": {"x": 1}, "devId": "d", "auth": {"authFailures": []}}'); return r; }, /\$\.live\.device\.__proto__: key not allowed/],
      ['token', (r) => { r.live.token = '../../etc'; return r; }, /\$\.live\.token: not a hex token/],
      ['device auth', (r) => { r.live.device.auth.authFailures = [1, 'x']; return r; }, /\$\.live\.device\.auth\.authFailures\[1\]: expected a number/],
    ];
    for (const [name, corrupt, message] of cases) {
      const row = corrupt(structuredClone(good));
      let err: unknown;
      try {
        decodeLiveState('tok:a1b2c3', row);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(LiveStateError);
      expect((err as Error).message, name).toMatch(/^session state "tok:a1b2c3" is unusable: /);
      expect((err as Error).message, name).toMatch(message);
    }
  });
});
