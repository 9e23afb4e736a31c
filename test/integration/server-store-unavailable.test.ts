/**
 * The store failing in the middle of a turn (StoreUnavailableError from inside the transaction, as
 * PostgreSQL's driver throws when the database goes away mid-request): the device gets 503 with
 * Retry-After, nothing of the turn is in the store (the session row, the device row, the message,
 * the job's state all rolled back together), and the device's resend of the same message is
 * served as if the refused one had never come, numbered right after what was logged before.
 * SQLite here, with a store that fails on cue: the server path is the same for both stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { StoreUnavailableError, type DmStoreOps } from '../../main/store/store.js';
import { rawPost, TestClient, type Exchange } from '../helpers/dm-test-client.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose store throws StoreUnavailableError from addMessages inside a turn while `failing.on`. */
async function start(): Promise<{ server: DmServer; failing: { on: boolean } }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-unavail-'));
  const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1' });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  const failing = { on: false };
  const store = server.store;
  const tx = store.tx.bind(store);
  store.tx = <T>(fn: (s: DmStoreOps) => Promise<T>) => tx((s) => fn(new Proxy(s, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'addMessages' && failing.on) return () => Promise.reject(new StoreUnavailableError('the PostgreSQL store is unavailable: Connection terminated unexpectedly'));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  })));
  return { server, failing };
}

describe('the store fails inside a turn', () => {
  it("a new session's first message: 503 + Retry-After, no session, no device, the job still queued; then served normally", async () => {
    const { server, failing } = await start();
    const { job } = await server.addJob('IMEI:100', { kind: 'get', uri: './DevInfo/Mod' });
    failing.on = true;
    const r = await new TestClient({ url: server.url, devId: 'IMEI:100', devInfo: { Mod: 'Model-Z' } }).runSession();
    expect(r.completed).toBe(false);
    expect(r.exchanges[0]!.httpStatus).toBe(503);
    expect(r.exchanges[0]!.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    const s = sync(server.store);
    expect(s.sessions()).toEqual([]);
    expect(s.devices()).toEqual([]);
    expect(s.job(job.id)).toMatchObject({ status: 'queued', attempts: 0, sessionId: null });

    failing.on = false;
    const ok = await new TestClient({ url: server.url, devId: 'IMEI:100', devInfo: { Mod: 'Model-Z' } }).runSession();
    expect(ok.completed).toBe(true);
    expect(s.job(job.id)).toMatchObject({ status: 'done', attempts: 1, results: [{ data: 'Model-Z' }] });
    expect(s.sessions().map((x) => x.state)).toEqual(['done']);
  });

  it('mid-session: the refused message leaves nothing; its resend is served and logged right after the messages before it', async () => {
    const { server, failing } = await start();
    const { job } = await server.addJob('IMEI:200', { kind: 'get', uri: './DevInfo/Mod' });
    const seen: Exchange[] = [];
    const client = new TestClient({
      url: server.url, devId: 'IMEI:200', devInfo: { Mod: 'Phone-2' },
      onExchange: (ex) => {
        seen.push(ex);
        if (seen.length === 1) failing.on = true; // the store goes away after package 2 went out
      },
    });
    const r = await client.runSession();
    expect(r.completed).toBe(false);
    expect(seen.map((e) => e.httpStatus)).toEqual([200, 503]);
    expect(seen[1]!.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    const s = sync(server.store);
    const [session] = s.sessions();
    // Package 1 and our package 2 only; the job went out and waits for its answer.
    expect(s.messages(session!.id).map((m) => `${m.seq}:${m.direction}`)).toEqual(['1:in', '2:out']);
    expect(s.job(job.id)).toMatchObject({ status: 'sent', sessionId: session!.id });

    // The device sends the same message again once the store is back.
    failing.on = false;
    const again = await rawPost(seen[1]!.url, seen[1]!.requestBytes, { 'content-type': 'application/vnd.syncml.dm+xml' });
    expect(again.status).toBe(200);
    expect(s.messages(session!.id).map((m) => `${m.seq}:${m.direction}`)).toEqual(['1:in', '2:out', '3:in', '4:out']);
    expect(s.job(job.id)).toMatchObject({ status: 'done', attempts: 1, results: [{ data: 'Phone-2' }] });
  });
});
