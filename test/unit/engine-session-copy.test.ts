/**
 * A turn never changes the session it was given (engine/session-copy.ts): it works on a copy of
 * every container it changes and shares the rest (commands, job specs, results). Here every
 * session handed to the engine is frozen, deeply (byte arrays aside), and the engine's own test
 * files run again over that: a phase that changes anything of the given session in place, a
 * shared part included, throws (ES modules are strict) and fails the scenario that does it.
 */
import { describe, expect, it } from 'vitest';
import { SessionEngine, type EngineSession } from '../../main/server/engine.js';
import { copySession } from '../../main/server/engine/session-copy.js';
import { clone } from '../../main/server/engine/helpers.js';
import { Harness } from '../helpers/engine-harness.js';

function deepFreeze<T>(v: T, seen = new Set<object>()): T {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || seen.has(v)) return v;
  seen.add(v);
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k], seen);
  return Object.freeze(v);
}

const proto = SessionEngine.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const name of ['handle', 'admit', 'handleOrHold', 'close', 'requestAbort']) {
  const original = proto[name]!;
  proto[name] = function (this: unknown, session: unknown, ...rest: unknown[]) {
    return original.call(this, deepFreeze(session), ...rest);
  };
}

describe('the copy a turn works on', () => {
  it('copies what a turn changes and shares commands, specs and results', () => {
    const h = new Harness();
    h.jobs = [{ id: 1, spec: { kind: 'get', uri: './A' } }, { id: 2, spec: { kind: 'replace', uri: './B', value: 'x' } }];
    const p2 = h.send(h.pkg1());
    const s = p2.session;
    const c = copySession(s);
    expect(c).toEqual(s);
    expect(clone(s)).toEqual(c);
    expect(c).not.toBe(s);
    expect(c.serverAuth).not.toBe(s.serverAuth);
    expect(c.sent).not.toBe(s.sent);
    for (const k of Object.keys(s.sent)) {
      expect(c.sent[k]).not.toBe(s.sent[k]);
      expect(c.sent[k]!.command).toBe(s.sent[k]!.command);
    }
    expect(c.jobs['1']).not.toBe(s.jobs['1']);
    expect(c.jobs['1']!.keys).not.toBe(s.jobs['1']!.keys);
    expect(c.jobs['1']!.spec).toBe(s.jobs['1']!.spec);
  });

  it('a session the engine answered from is deep-equal to what it was before', () => {
    const h = new Harness();
    h.jobs = [{ id: 1, spec: { kind: 'get', uri: './A' } }];
    const p2 = h.send(h.pkg1());
    const before: EngineSession = structuredClone(p2.session);
    h.send(h.answer(p2));
    expect(p2.session).toEqual(before);
  });
});

// The engine's scenarios, every session they hand to the engine frozen.
await import('./server-engine.test.js');
await import('./server-engine-verify.test.js');
await import('./server-engine-peers.test.js');
