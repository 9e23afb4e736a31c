/**
 * Expert findings for the UI and the management API: the contract channels (sessions.findings,
 * sessions.findingCounts, judge.rule) judge a session on demand and cache it until the session logs
 * another message; counts are asked for by the rows shown, so listing sessions judges none of them;
 * GET /api/v1/sessions/{id}/findings answers the JSON of `dmw session check --json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { dispatch } from '../../main/api/dispatch.js';
import type { PacketFindings } from '../../main/api/packets-view.js';
import { COUNT_SLICE_MS, FindingsCache, MAX_COUNT_BATCH, MAX_JUDGED_MESSAGES } from '../../main/api/findings-view.js';
import { RULE_BY_ID } from '../../main/judge/catalogue.js';
import { exampleInput } from '../../main/judge/example-kit.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { MAX_API_JUDGED_MESSAGES, sessionFindingsJson } from '../../main/server/api/session-findings.js';
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';

const DEV = 'IMEI:493005100592800';
const OP = 'operator-token-0123456789';
const PEER = 'peer-token-srvB-0123456789';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-findings-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Logs a catalogue example (its good or bad session) as a session of DEV; returns the session id. */
function logExample(store: ServerStore, ruleId: string, which: 'good' | 'bad', state: 'done' | 'active' = 'done'): number {
  const rule = RULE_BY_ID.get(ruleId)!;
  const id = store.createSession({ device: DEV, dmSessionId: '1', encoding: 'xml', state, reason: 'test' }, 1_700_000_000_000);
  exampleInput(rule[which]).forEach((m, i) => store.addMessage({ sessionId: id, direction: m.direction, at: 1_700_000_000_000 + i, bytes: m.bytes!, contentType: 'application/vnd.syncml.dm+xml' }));
  return id;
}

/**
 * The findings the backend judged are written to the message index through a group commit that
 * holds SQLite's write lock until the next turn of the event loop; this test's own connection
 * writes synchronously, so it waits for that commit first (another process would simply wait).
 */
async function findingsWritten(b: Backend): Promise<void> {
  await (b as unknown as { packetFindings: PacketFindings }).packetFindings.settled();
}

async function backendWith(): Promise<{ b: Backend; store: ServerStore }> {
  const dir = tempDir();
  const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
  const store = ServerStore.open(dir);
  cleanup.push(() => b.close());
  cleanup.push(() => store.close());
  return { b, store };
}

describe('the findings channels', () => {
  it('sessions.findings gives each finding with severity, rule, clause, message number, path and text, and the counts', async () => {
    const { b, store } = await backendWith();
    const bad = logExample(store, 'status.missing', 'bad');
    const good = logExample(store, 'status.missing', 'good');
    const r = await dispatch(b.handlers, 'sessions.findings', { id: bad });
    expect(r.ok).toBe(true);
    const v = (r as { ok: true; value: any }).value;
    expect(v.session).toBe(bad);
    const f = v.findings.find((x: any) => x.rule === 'status.missing');
    expect(f).toMatchObject({ severity: 'error', clause: RULE_BY_ID.get('status.missing')!.clause });
    expect(Object.keys(f)).toEqual(['severity', 'rule', 'clause', 'msg', 'path', 'text']);
    expect(f.msg).toBeGreaterThanOrEqual(1);
    expect(f.path).toMatch(/^SyncML/);
    expect(v.counts.error).toBe(v.findings.filter((x: any) => x.severity === 'error').length);
    const clean = await b.handlers['sessions.findings']({ id: good });
    expect(clean.findings.filter((x) => x.rule === 'status.missing')).toEqual([]);
  });

  it('judges a session once, and again only after it logs another message', async () => {
    const { b, store } = await backendWith();
    const id = logExample(store, 'status.missing', 'good', 'active');
    const cache = (b as unknown as { findings: FindingsCache }).findings;
    const first = await b.handlers['sessions.findings']({ id });
    await b.handlers['sessions.findings']({ id });
    await b.handlers['sessions.findingCounts']({ ids: [id] });
    expect(cache.judged).toBe(1);
    // The live session logs a message that breaks a rule: the cached findings are not served.
    await findingsWritten(b);
    store.addMessage({ sessionId: id, direction: 'in', at: 1_700_000_001_000, bytes: new TextEncoder().encode('<SyncML><not-dm/>'), contentType: 'application/vnd.syncml.dm+xml' });
    const counts = await b.handlers['sessions.findingCounts']({ ids: [id] });
    expect(cache.judged).toBe(2);
    expect(counts[id]!.error).toBeGreaterThan(first.counts.error);
    const again = await b.handlers['sessions.findings']({ id });
    expect(again.messages).toBe(first.messages + 1);
    expect(again.findings.some((x) => x.rule === 'msg.decode' && x.msg === again.messages)).toBe(true);
  });

  it('listing sessions judges none; counts judge only the sessions asked for, and a bounded batch', async () => {
    const { b, store } = await backendWith();
    const ids = [logExample(store, 'status.missing', 'bad'), logExample(store, 'status.missing', 'good'), logExample(store, 'pkg1.devinfo', 'bad')];
    const cache = (b as unknown as { findings: FindingsCache }).findings;
    expect(await b.handlers['sessions.list']({})).toHaveLength(3);
    expect(cache.judged).toBe(0);
    const counts = await b.handlers['sessions.findingCounts']({ ids: [ids[0]!, 9999] });
    expect(Object.keys(counts)).toEqual([String(ids[0])]);
    expect(counts[ids[0]!]!.error).toBeGreaterThan(0);
    expect(cache.judged).toBe(1);
    const tooMany = await dispatch(b.handlers, 'sessions.findingCounts', { ids: Array.from({ length: MAX_COUNT_BATCH + 1 }, (_, i) => i + 1) });
    expect(tooMany.ok).toBe(false);
    expect((tooMany as { ok: false; error: { code: string; message: string } }).error).toMatchObject({ code: 'bad-input' });
    expect((tooMany as { ok: false; error: { message: string } }).error.message).toContain('ids');
  });

  it('counting many sessions lets the event loop run between slices (the DM server shares the process)', async () => {
    const { b, store } = await backendWith();
    const ids = [1, 2, 3].map(() => logExample(store, 'status.missing', 'bad'));
    const cache = (b as unknown as { findings: FindingsCache }).findings;
    // A clock that says every session took longer than a slice: the count must yield to macrotasks.
    let t = 0;
    let ran = false;
    setImmediate(() => (ran = true));
    const counts = await cache.counts(ids, () => (t += COUNT_SLICE_MS));
    expect(ran).toBe(true);
    expect(Object.keys(counts)).toHaveLength(3);
    // With time to spare it finishes without leaving the microtask queue (nothing else ran).
    await findingsWritten(b);
    const fresh = [logExample(store, 'status.missing', 'bad')];
    let ranAgain = false;
    setImmediate(() => (ranAgain = true));
    await cache.counts(fresh, () => 0);
    expect(ranAgain).toBe(false);
  });

  it('a session longer than the app judges is not judged and says so (counts and findings)', async () => {
    const { b, store } = await backendWith();
    const id = logExample(store, 'status.missing', 'bad');
    const n = store.messages(id).length;
    const source = SqliteStore.over(store);
    const cache = new FindingsCache(() => source, undefined, n - 1);
    const f = await cache.findings(id);
    expect(f.findings).toEqual([]);
    expect(f.skipped).toContain(`${n} messages`);
    expect(f.skipped).toContain(`dmw session check ${id}`);
    expect((await cache.counts([id]))[id]!.skipped).toBe(f.skipped);
    expect(cache.judged).toBe(0);
    expect((await new FindingsCache(() => source, undefined, n).findings(id)).skipped).toBeNull();
    expect(MAX_JUDGED_MESSAGES).toBeGreaterThanOrEqual(500);
    // Through the contract (its output schema included).
    const r = await dispatch(b.handlers, 'sessions.findings', { id });
    expect(r).toMatchObject({ ok: true, value: { skipped: null } });
  });

  it('an unknown session is an error naming it; judge.rule explains a rule with its examples, an unknown rule is an error', async () => {
    const { b } = await backendWith();
    const missing = await dispatch(b.handlers, 'sessions.findings', { id: 4242 });
    expect(missing).toMatchObject({ ok: false, error: { message: expect.stringContaining('no session 4242') } });
    const r = await b.handlers['judge.rule']({ id: 'status.missing' });
    expect(r).toMatchObject({ id: 'status.missing', severity: 'error', clause: RULE_BY_ID.get('status.missing')!.clause, text: RULE_BY_ID.get('status.missing')!.text });
    expect(r.bad.length).toBeGreaterThan(0);
    expect(r.bad[0]!.xml).toContain('<SyncML');
    expect(r.good.map((m) => m.from)).toContain('client');
    const unknown = await dispatch(b.handlers, 'judge.rule', { id: 'no.such-rule' });
    expect(unknown).toMatchObject({ ok: false, error: { message: expect.stringContaining('no.such-rule') } });
  });
});

describe('GET /api/v1/sessions/{id}/findings', () => {
  async function server() {
    const dir = tempDir();
    const s = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA' });
    const api = attachApi(s, { auth: buildAuthConfig({ apiToken: OP, peers: [{ id: 'srvB', token: PEER }], serverId: 'srvA' }) });
    cleanup.push(async () => {
      api.close();
      await s.close();
    });
    const get = async (p: string, token = OP) => {
      const r = await fetch(`http://127.0.0.1:${s.port}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, json: (await r.json()) as any };
    };
    return { s, get };
  }

  it('answers the JSON of `dmw session check --json` for the operator', async () => {
    const { s, get } = await server();
    const id = logExample((s.store as SqliteStore).serverStore, 'status.missing', 'bad');
    const r = await get(`/sessions/${id}/findings`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['session', 'findings']);
    const expected = checkLoggedSession(await s.store.messages(id)).map(({ severity, rule, clause, msg, path, text }) => ({ severity, rule, clause, msg, path, text }));
    expect(expected.some((f) => f.rule === 'status.missing')).toBe(true);
    expect(r.json).toEqual({ session: id, findings: expected });
    for (const f of r.json.findings) expect(Object.keys(f)).toEqual(['severity', 'rule', 'clause', 'msg', 'path', 'text']);
  });

  it('refuses a session longer than it judges with 413, saying what to run instead', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    cleanup.push(() => store.close());
    const id = logExample(store, 'status.missing', 'bad');
    const n = store.messages(id).length;
    const dm = SqliteStore.over(store);
    await expect(sessionFindingsJson(dm, id, n - 1)).rejects.toThrow(new RegExp(`session ${id} has ${n} messages, more than the API judges \\(${n - 1}\\); run dmw session check ${id}`));
    expect((await sessionFindingsJson(dm, id, n))!.findings.length).toBeGreaterThan(0);
    expect(MAX_API_JUDGED_MESSAGES).toBe(MAX_JUDGED_MESSAGES);
  });

  it('404 for no such session, 400 naming a bad id or query, 403 for a peer', async () => {
    const { s, get } = await server();
    const id = logExample((s.store as SqliteStore).serverStore, 'status.missing', 'bad');
    expect(await get('/sessions/777/findings')).toMatchObject({ status: 404, json: { error: { code: 'not-found', field: 'id' } } });
    const bad = await get('/sessions/x1/findings');
    expect(bad).toMatchObject({ status: 400, json: { error: { field: 'id' } } });
    expect(bad.json.error.message).toContain('"x1"');
    expect(await get(`/sessions/${id}/findings?verbose=1`)).toMatchObject({ status: 400, json: { error: { field: 'verbose' } } });
    expect(await get(`/sessions/${id}/findings`, PEER)).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
  });
});
