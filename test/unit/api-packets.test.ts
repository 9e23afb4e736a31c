/**
 * The packet list's channels (packets.query, packets.fields) through the backend's dispatch, findings
 * per message from the judge kept in the index, and GET /api/v1/packets on the DM server's listener.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { contract } from '../../main/api/contract.js';
import { dispatch } from '../../main/api/dispatch.js';
import { RULE_BY_ID } from '../../main/judge/catalogue.js';
import { exampleInput } from '../../main/judge/example-kit.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { logSession } from '../helpers/filter-fixture.js';

const OP = 'operator-token-0123456789';
const PEER = 'peer-token-srvB-0123456789';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-packets-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A catalogue rule's bad example logged as a session (it has findings of that rule). */
function logBadExample(store: ServerStore, ruleId: string): number {
  const rule = RULE_BY_ID.get(ruleId)!;
  const id = store.createSession({ device: 'IMEI:493005100592800', dmSessionId: '1', encoding: 'xml', state: 'done', reason: 'test' }, 1_700_000_000_000);
  exampleInput(rule.bad).forEach((m, i) => store.addMessage({ sessionId: id, direction: m.direction, at: 1_700_000_000_000 + i, bytes: m.bytes!, contentType: 'application/vnd.syncml.dm+xml' }));
  return id;
}

describe('packets.query and packets.fields', () => {
  it('answers rows that pass the contract, a located error for a bad filter, and the field list', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    logSession(store, { devId: 'IMEI:1', getStatus: 404 });
    logSession(store, { devId: 'IMEI:2' });
    store.close();
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
    cleanup.push(() => b.close());

    const r = await dispatch(b.handlers, 'packets.query', { filter: 'cmd == "Get"', offset: 0, limit: 10, sort: { column: 'status', desc: true } });
    expect(r.ok).toBe(true);
    const v = contract['packets.query'].output.parse((r as { ok: true; value: unknown }).value);
    expect(v.ok && v.total).toBe(2);
    expect(v.ok && v.rows.map((x) => [x.sessionId, x.seq, x.devId, x.dir, x.commands, x.status, x.worst])).toEqual([
      // Equal worst codes: the tie goes by message id, in the same direction.
      [2, 2, 'IMEI:2', 'out', 'Status×2 Get Replace', '212 200', 212],
      [1, 2, 'IMEI:1', 'out', 'Status×2 Get Replace', '212 200', 212],
    ]);
    const bad = await dispatch(b.handlers, 'packets.query', { filter: 'size contains 3', offset: 0, limit: 10 });
    expect(bad).toEqual({ ok: true, value: { ok: false, error: { message: expect.stringContaining('type mismatch'), position: 5, length: 8 } } });
    expect((await dispatch(b.handlers, 'packets.query', { filter: '', offset: 0, limit: 0 })).ok).toBe(false);
    const f = await dispatch(b.handlers, 'packets.fields', {});
    expect(f.ok && (f.value as { fields: { name: string }[] }).fields.map((x) => x.name)).toEqual(expect.arrayContaining(['dev', 'cmd', 'uri', 'status', 'data', 'finding', 'severity']));
  });

  it('findings per message: the shown rows\' sessions are judged and stored, then finding and severity filter on them', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    const id = logBadExample(store, 'status.missing');
    const expected = checkLoggedSession(store.messages(id)).filter((x) => x.rule === 'status.missing');
    store.close();
    expect(expected.length).toBeGreaterThan(0);
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
    cleanup.push(() => b.close());

    const all = await b.handlers['packets.query']({ filter: '', offset: 0, limit: 100 });
    expect(all.ok).toBe(true);
    if (!all.ok) return;
    const withError = all.rows.filter((x) => x.findings.error > 0).map((x) => x.seq);
    expect(withError).toEqual(expect.arrayContaining([...new Set(expected.map((x) => x.msg))]));
    const byRule = await b.handlers['packets.query']({ filter: 'finding == "status.missing" && severity == error', offset: 0, limit: 100 });
    expect(byRule.ok && byRule.rows.map((x) => x.seq)).toEqual([...new Set(expected.map((x) => x.msg))].sort((a, c) => a - c));
    const sorted = await b.handlers['packets.query']({ filter: '', offset: 0, limit: 1, sort: { column: 'findings', desc: true } });
    expect(sorted.ok && sorted.rows[0]!.findings.error).toBeGreaterThan(0);
  });
});

describe('findings of sessions not shown', () => {
  it('are judged in the background after a query, so a finding filter reaches every session', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    const first = logBadExample(store, 'status.missing');
    const second = logBadExample(store, 'status.missing');
    store.close();
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
    cleanup.push(() => b.close());
    // One row shown: only its session is judged before the answer.
    const shown = await b.handlers['packets.query']({ filter: '', offset: 0, limit: 1 });
    expect(shown.ok && shown.rows[0]!.sessionId).toBe(first);
    let sessions: number[] = [];
    for (let i = 0; i < 100 && !sessions.includes(second); i++) {
      await new Promise((r) => setTimeout(r, 20));
      const r = await b.handlers['packets.query']({ filter: 'finding == "status.missing"', offset: 0, limit: 100 });
      sessions = r.ok ? [...new Set(r.rows.map((x) => x.sessionId))] : [];
    }
    expect(sessions).toEqual([first, second]);
  });
});

describe('a page of many sessions', () => {
  it('is answered with the judge\'s bounded batches (2,000 rows of 500 sessions)', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    store.tx(() => {
      for (let k = 0; k < 500; k++) logSession(store, { devId: `IMEI:${k}` });
    });
    store.close();
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
    cleanup.push(() => b.close());
    const r = await dispatch(b.handlers, 'packets.query', { filter: '', offset: 0, limit: 2000 });
    // The whole reply on failure: under a loaded machine this once came back not ok, reason unknown.
    expect(r.ok ? (r.value as { ok: boolean; total: number; rows: unknown[] }).rows.length : r).toBe(2000);
  });
});

describe('findings while the DM server runs in the backend', () => {
  it('are written through the server\'s group commit and filter like the others', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    const id = logBadExample(store, 'status.missing');
    store.close();
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
    cleanup.push(() => b.close());
    expect((await b.handlers['server.start']({})).running).toBe(true);
    const all = await b.handlers['packets.query']({ filter: '', offset: 0, limit: 100 });
    expect(all.ok && all.rows.some((x) => x.findings.error > 0)).toBe(true);
    await new Promise((r) => setImmediate(r));
    const byRule = await b.handlers['packets.query']({ filter: 'finding == "status.missing"', offset: 0, limit: 100 });
    expect(byRule.ok && [...new Set(byRule.rows.map((x) => x.sessionId))]).toEqual([id]);
    await b.handlers['server.stop']({});
  });
});

describe('GET /api/v1/packets', () => {
  it('filters over HTTP: rows, paging, sort; a bad filter is 400 on field filter with its position; operator only', async () => {
    const dir = tempDir();
    const s = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA' });
    const api = attachApi(s, { auth: buildAuthConfig({ apiToken: OP, peers: [{ id: 'srvB', token: PEER }], serverId: 'srvA' }) });
    cleanup.push(async () => {
      api.close();
      await s.close();
    });
    const raw = (s.store as SqliteStore).serverStore;
    logSession(raw, { devId: 'IMEI:1', getStatus: 404 });
    logSession(raw, { devId: 'IMEI:2' });
    const get = async (q: string, token = OP) => {
      const r = await fetch(`http://127.0.0.1:${s.port}/api/v1/packets${q}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: (await r.json()) as any };
    };
    const ok = await get(`?filter=${encodeURIComponent('status == 404')}`);
    expect(ok.status).toBe(200);
    expect(ok.body.total).toBe(2);
    expect(ok.body.rows.map((x: any) => [x.sessionId, x.seq])).toEqual([[1, 2], [1, 3]]);
    const page = await get('?limit=2&offset=1&sort=time&desc=true');
    expect(page.body.total).toBe(8);
    // Both sessions have the same times: 8 and 4 at +25 ms, then 7 and 3 at +20 ms (ties by id, descending).
    expect(page.body.rows.map((x: any) => x.id)).toEqual([4, 7]);
    const bad = await get(`?filter=${encodeURIComponent('cmd == Get && uir == 3')}`);
    expect(bad).toEqual({ status: 400, body: { error: { status: 400, code: 'invalid', field: 'filter', position: 14, length: 3, message: expect.stringContaining('unknown field "uir"') } } });
    expect((await get('?limit=5000')).status).toBe(400);
    expect((await get('', PEER)).status).toBe(403);
  });
});
