/**
 * The UI while a shared lab server's database is away (issue 16): a call whose store throws
 * StoreUnavailableError answers `unavailable` with a Retry-After, not a generic failure; the UI's
 * client calls again after that many seconds (nothing was written), shows "database unavailable,
 * retrying" on the connection line meanwhile, and "open" again once a call gets through; past its
 * window it gives up with that error.
 */
import { describe, expect, it } from 'vitest';
import { dispatch, UI_RETRY_AFTER_SEC } from '../../main/api/dispatch.js';
import type { CallReply, ChannelName, Handlers } from '../../main/api/contract.js';
import { StoreUnavailableError } from '../../main/store/store.js';
import { ApiCallError, createClient, DATABASE_UNAVAILABLE } from '../../renderer/api/client.js';
import type { ConnectionState, Transport } from '../../renderer/api/transport.js';

const down = () => new StoreUnavailableError('the PostgreSQL store is unavailable: connect ECONNREFUSED 127.0.0.1:5432');

describe('dispatch', () => {
  it('answers unavailable with retryAfterSec when the store is away, failed for anything else', async () => {
    const handlers = {
      'sessions.list': async () => {
        throw down();
      },
      'jobs.list': () => {
        throw new Error('no such thing');
      },
    } as unknown as Handlers;
    expect(await dispatch(handlers, 'sessions.list', {})).toEqual({
      ok: false,
      error: { code: 'unavailable', message: 'database unavailable, retrying: the PostgreSQL store is unavailable: connect ECONNREFUSED 127.0.0.1:5432', retryAfterSec: UI_RETRY_AFTER_SEC },
    });
    expect(await dispatch(handlers, 'jobs.list', {})).toEqual({ ok: false, error: { code: 'failed', message: 'no such thing' } });
  });
});

/** A transport whose answers are scripted per call. */
function scripted(replies: CallReply[]): Transport & { calls: number } {
  const t = {
    kind: 'memory' as const,
    calls: 0,
    call: async (_c: ChannelName, _i: unknown) => {
      t.calls++;
      return replies.shift() ?? { ok: true, value: [] };
    },
    onEvent: () => () => undefined,
    onState: () => () => undefined,
  };
  return t;
}

const unavailable: CallReply = { ok: false, error: { code: 'unavailable', message: 'database unavailable, retrying: down', retryAfterSec: 2 } };

describe('the UI client', () => {
  it('calls again after retryAfterSec while the database is away, says so on the connection line, then open', async () => {
    const t = scripted([unavailable, unavailable, { ok: true, value: [] }]);
    const waits: number[] = [];
    const client = createClient(t, { sleep: async (ms) => void waits.push(ms) });
    const states: [ConnectionState, string | undefined][] = [];
    client.onState((s, d) => states.push([s, d]));
    await expect(client.api['sessions.list']({})).resolves.toEqual([]);
    expect(t.calls).toBe(3);
    expect(waits).toEqual([2000, 2000]);
    expect(states).toEqual([['connecting', DATABASE_UNAVAILABLE], ['open', undefined]]);
  });

  it('gives up after its window with the unavailable error; other errors are not retried', async () => {
    const t = scripted(Array.from({ length: 50 }, () => unavailable));
    const client = createClient(t, { sleep: () => new Promise((r) => setTimeout(r, 5)), retryForMs: 30 });
    const e = await client.api['sessions.list']({}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiCallError);
    expect((e as ApiCallError).error.code).toBe('unavailable');
    expect(t.calls).toBeGreaterThan(1);
    const once = scripted([{ ok: false, error: { code: 'failed', message: 'no session 9' } }]);
    await expect(createClient(once, { sleep: async () => undefined }).api['sessions.get']({ id: 9 })).rejects.toThrow('no session 9');
    expect(once.calls).toBe(1);
  });
});
