/**
 * The management API and unconfirmed jobs: POST /jobs takes onUnconfirmed (checked against the job's
 * kind), GET /jobs?status=unconfirmed lists them, POST /jobs/{id}/decision decides (operator only;
 * 409 when the job is not unconfirmed), and a real session that goes quiet after the server's
 * commands leaves its Replace unconfirmed, never queued again by itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig, publicJob } from '../../main/server/api/index.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { sseReader, type StreamEvent } from '../helpers/dmw-servers.js';
import { sync } from '../helpers/sync-store.js';

const OP = 'operator-token-0123456789';
const PEER = 'peer-token-srvB-0123456789';
const DEV = 'IMEI:490154203237518';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-api-unconfirmed-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA', limits: { sessionTimeoutMs: 300 }, sweepIntervalMs: 50 });
  const api = attachApi(server, { auth: buildAuthConfig({ apiToken: OP, peers: [{ id: 'srvB', token: PEER }], serverId: 'srvA' }) });
  cleanup.push(async () => {
    api.close();
    await server.close();
  });
  const base = `http://127.0.0.1:${server.port}`;
  const call = async (method: string, p: string, body?: unknown, token: string | null = OP) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${base}${p}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as any) : undefined };
  };
  /** The event stream, as a DMA-DMS subscriber reads it. */
  const subscribe = (query: string, token = OP) => {
    const events: StreamEvent[] = [];
    const req = http.get(`${base}/api/v1/events${query}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', sseReader((e) => events.push(e)));
    });
    req.on('error', () => undefined);
    cleanup.push(() => req.destroy());
    return events;
  };
  return { server, call, subscribe };
}

async function until<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A device that takes the server's commands and never answers them: the session times out. */
async function goQuiet(server: DmServer) {
  const client = new TestClient({ url: server.url, devId: DEV, tree: { './Lab/R': { format: 'chr', data: 'old' } } });
  const r = await client.runSession({ maxExchanges: 1 });
  expect(r.error).toBe('too many exchanges');
}

describe('POST /jobs onUnconfirmed', () => {
  it('is kept, defaults by kind, and is refused (400 naming onUnconfirmed) where it cannot work', async () => {
    const { call } = await setup();
    const replace = await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'replace', uri: './Lab/R', value: 'v' }, onUnconfirmed: 'verify' });
    expect(replace.status).toBe(201);
    expect(replace.json.job).toMatchObject({ status: 'queued', onUnconfirmed: 'verify' });
    expect((await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'exec', uri: './Lab/Reboot' } })).json.job.onUnconfirmed).toBe('ask');
    expect((await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'get', uri: './DevInfo/Mod' } })).json.job.onUnconfirmed).toBe('resend');
    const exec = await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'exec', uri: './Lab/Reboot' }, onUnconfirmed: 'verify' });
    expect(exec).toMatchObject({ status: 400, json: { error: { code: 'invalid', field: 'onUnconfirmed', message: expect.stringMatching(/works for add, replace, delete jobs only, not exec/) } } });
    expect((await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'get', uri: './A' }, onUnconfirmed: 'later' })).json.error).toMatchObject({ status: 400, field: 'onUnconfirmed' });
    // Refused jobs were not queued.
    expect((await call('GET', '/api/v1/jobs')).json).toHaveLength(3);
  });
});

describe('unconfirmed jobs and POST /jobs/{id}/decision', () => {
  it('a Replace whose Status never came back is unconfirmed (event, SSE, GET /jobs?status=unconfirmed), not queued again; the operator decides', async () => {
    const { server, call, subscribe } = await setup();
    const stream = subscribe('?types=job-unconfirmed');
    const peerStream = subscribe('', PEER);
    for (const st of [stream, peerStream]) await until(() => st.find((x) => x.event === 'ready'));
    const add = await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'replace', uri: './Lab/R', value: 'new' } });
    const id = add.json.job.id as number;
    const event = server.bus.next('job-unconfirmed', (e) => e.job.id === id, 10_000);
    await goQuiet(server);
    const e = await event;
    expect(e.job).toMatchObject({ id, status: 'unconfirmed', attempts: 1, error: expect.stringMatching(/^sent in session \d+, no Status arrived: session timeout \(no message for \d+ s\); decide: verify, resend or drop$/) });
    expect(sync(server.store).queuedJobSpecs(DEV)).toEqual([]);
    const streamed = await until(() => stream.find((x) => x.event === 'job-unconfirmed'));
    expect(streamed.data).toMatchObject({ type: 'job-unconfirmed', job: publicJob(e.job) });
    // A peer does not see the operator's job.
    expect(peerStream.some((x) => x.event === 'job-unconfirmed')).toBe(false);

    const listed = await call('GET', `/api/v1/jobs?status=unconfirmed&device=${encodeURIComponent(DEV)}`);
    expect(listed).toMatchObject({ status: 200, json: [publicJob(sync(server.store).job(id)!)] });
    expect(listed.json[0]).toMatchObject({ status: 'unconfirmed', onUnconfirmed: 'ask' });

    // Who may decide, and what is refused.
    expect((await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'verify' }, null)).status).toBe(401);
    expect((await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'verify' }, PEER)).json.error).toMatchObject({ status: 403, code: 'forbidden' });
    expect((await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'retry' })).json.error).toMatchObject({ status: 400, field: 'action' });
    expect((await call('POST', `/api/v1/jobs/${id}/decision`, {})).json.error).toMatchObject({ status: 400, field: 'action' });
    expect((await call('POST', '/api/v1/jobs/999/decision', { action: 'drop' })).json.error).toMatchObject({ status: 404, code: 'unknown-job', field: 'id' });
    expect((await call('POST', '/api/v1/jobs/x/decision', { action: 'drop' })).json.error).toMatchObject({ status: 400, field: 'id' });

    const decided = await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'verify' });
    expect(decided).toMatchObject({ status: 200, json: { id, status: 'queued', verify: true, error: null } });
    expect(sync(server.store).queuedJobSpecs(DEV)).toEqual([{ id, spec: { kind: 'replace', uri: './Lab/R', value: 'new' }, verify: true }]);
    const twice = await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'drop' });
    expect(twice).toMatchObject({ status: 409, json: { error: { code: 'conflict', field: 'id', message: `job ${id} is queued, not unconfirmed: verify, resend and drop are for jobs whose command went out without an answer` } } });
  });

  it('an Exec: verify is refused (400 naming action), drop fails it and tells subscribers (job-done)', async () => {
    const { server, call } = await setup();
    const id = (await call('POST', '/api/v1/jobs', { device: DEV, spec: { kind: 'exec', uri: './Lab/Reboot' } })).json.job.id as number;
    const event = server.bus.next('job-unconfirmed', (e) => e.job.id === id, 10_000);
    await goQuiet(server);
    await event;
    expect((await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'verify' })).json.error).toMatchObject({ status: 400, field: 'action', message: expect.stringMatching(/decide resend or drop/) });
    const done = server.bus.next('job-done', (e) => e.job.id === id, 5_000);
    expect(await call('POST', `/api/v1/jobs/${id}/decision`, { action: 'drop' })).toMatchObject({ status: 200, json: { id, status: 'failed', error: expect.stringMatching(/^dropped unconfirmed by decision: sent in session/) } });
    expect((await done).job.status).toBe('failed');
  });
});
