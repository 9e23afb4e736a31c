/**
 * The 503 + Retry-After answers (main/server/unavailable.ts), byte for byte, from each place that
 * gives one: the HTTP edge (a store error escaping the handler), the shared-store gate (the database
 * away while a session is looked up, a turn's lease lost) and the builders themselves. The same
 * cause says the same words wherever it is caught; the Retry-After is each caller's own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../main/store/store.js';
import { listen, type Listener } from '../../main/server/http.js';
import { LiveSessions } from '../../main/server/live-sessions.js';
import { LeaseLostError, SharedGate, type SharedSessions } from '../../main/server/shared-sessions.js';
import { jobsTaken, retryLater, STORE_RETRY_AFTER_SEC, storeUnavailable } from '../../main/server/unavailable.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const TEXT = 'text/plain; charset=utf-8';
const down = () => new StoreUnavailableError('the PostgreSQL store is unavailable: connect ECONNREFUSED 127.0.0.1:5432');

/** A gate whose shared sessions fail as `find` says (no database: the gate's refusals come before any). */
function gate(find: () => Promise<never>): SharedGate {
  const sessions = { find } as unknown as SharedSessions;
  return new SharedGate(sessions, { live: new LiveSessions(), adopt: () => ({ ok: true }), warn: () => undefined });
}

describe('503 + Retry-After answers', () => {
  it('the builders: 503, plain text, Retry-After in seconds, the reason on one line', () => {
    expect(STORE_RETRY_AFTER_SEC).toBe(5);
    expect(storeUnavailable()).toEqual({
      status: 503,
      headers: { 'content-type': TEXT, 'retry-after': '5' },
      body: 'the store is unavailable; nothing of this message was processed, send it again in 5 s\n',
    });
    expect(storeUnavailable(1)).toEqual({
      status: 503,
      headers: { 'content-type': TEXT, 'retry-after': '1' },
      body: 'the store is unavailable; nothing of this message was processed, send it again in 1 s\n',
    });
    // Jobs claimed by another instance's session: the store is fine, and the answer says what happened.
    expect(jobsTaken()).toEqual({
      status: 503,
      headers: { 'content-type': TEXT, 'retry-after': '1' },
      body: "another session claimed this device's queued jobs meanwhile; nothing of this message was processed, send it again in 1 s\n",
    });
    expect(retryLater(3, 'busy; send again in 3 s')).toEqual({ status: 503, headers: { 'content-type': TEXT, 'retry-after': '3' }, body: 'busy; send again in 3 s\n' });
  });

  it('the shared-store gate: the database away at lookup says what the turn would (Retry-After 2); a lost lease says so', async () => {
    const atLookup = await gate(() => Promise.reject(down())).handle({ bytes: new Uint8Array() }, { token: 'abc' }, () => {
      throw new Error('the handler must not run');
    });
    expect(atLookup).toEqual(storeUnavailable(2));
    expect(atLookup.body).toBe('the store is unavailable; nothing of this message was processed, send it again in 2 s\n');

    const lost = await gate(() => Promise.reject(new Error('no lookup'))).handle({ bytes: new Uint8Array() }, undefined, () => {
      throw new LeaseLostError('t:abc');
    });
    expect(lost).toEqual({
      status: 503,
      headers: { 'content-type': TEXT, 'retry-after': '2' },
      body: 'the session was taken over by another instance; nothing of this message was kept: send again in 2 s\n',
    });

    // Anything else is not an outage: it goes on up (the edge answers 500).
    await expect(gate(() => Promise.reject(new Error('no lookup'))).handle({ bytes: new Uint8Array() }, undefined, () => {
      throw new TypeError('a bug');
    })).rejects.toBeInstanceOf(TypeError);
  });

  it('the HTTP edge: a store error out of the handler goes out as the store answer, on the wire', async () => {
    const listener: Listener = await listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1024, now: Date.now }, {
      onBody: () => Promise.reject(down()),
      onTooLarge: () => ({ status: 413, headers: {}, body: '' }),
    });
    cleanup.push(() => listener.close());
    const res = await fetch(`http://127.0.0.1:${listener.port}/dm`, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+wbxml' }, body: new Uint8Array([1, 2, 3]) });
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe(TEXT);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.text()).toBe('the store is unavailable; nothing of this message was processed, send it again in 5 s\n');
  });
});
