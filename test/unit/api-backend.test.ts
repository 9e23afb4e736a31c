/**
 * The UI backend over a real DM server with the test-only handsets (real DM over HTTP): holds and
 * steps, the session view's Status pairing, tree snapshots and diff, the ACL matrix, the WebSocket
 * transport's token and origin checks.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Backend } from '../../main/api/backend.js';
import { dispatch } from '../../main/api/dispatch.js';
import { loadHandsetModule } from '../../main/api/handsets.js';
import { startUiServer, type UiServer } from '../../main/api/ws-server.js';

const FLEET = path.resolve('test/e2e/support/test-handsets.ts');

describe('UI backend over a real DM server', () => {
  let b: Backend;
  let dev: string;
  beforeAll(async () => {
    b = await Backend.create({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-backend-')), settings: { port: 0 }, startServer: true, handsetModule: FLEET });
    const st = await b.handlers['handsets.add']({ count: 1 });
    dev = st.handsets[0]!.devId;
    await b.handsetFleet!.connect(dev);
  });
  afterAll(() => b.close());

  it('lists the handset as a device with its model and last session', async () => {
    const list = await b.handlers['devices.list']({});
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ devId: dev, virtual: true, state: 'idle', lastSession: { state: 'done' } });
    expect(dev).toMatch(/^IMEI:\d{15}$/);
  });

  it('holds jobs while paused and sends one per step', async () => {
    await b.handlers['jobs.pause']({ device: dev, paused: true });
    const a = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'discover', uri: '.' }, notify: false });
    const c = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DevInfo/Mod' }, notify: false });
    expect(a.job).toBeNull();
    expect(c.held?.heldId).toBeGreaterThan(a.held!.heldId);
    expect((await b.handlers['jobs.queue']({ device: dev })).held).toHaveLength(2);
    expect(await b.running!.store.queuedJobs(dev)).toHaveLength(0);

    const s1 = await b.handlers['jobs.step']({ device: dev });
    expect(s1.job?.command).toBe('discover');
    expect(s1.queue.held).toHaveLength(1);
    const done = b.running!.bus.next('job-done', (e) => e.job.id === s1.job!.id);
    await b.handsetFleet!.connect(dev);
    expect((await done).job.status).toBe('done');
    expect(await b.running!.store.queuedJobs(dev)).toHaveLength(0);

    const s2 = await b.handlers['jobs.step']({ device: dev });
    expect(s2.job?.target).toBe('./DevInfo/Mod');
    await b.handlers['jobs.pause']({ device: dev, paused: false });
    await b.handsetFleet!.connect(dev);
    expect((await b.running!.store.job(s2.job!.id))?.status).toBe('done');
  });

  it('pairs each server command with the Status and Results the device sent', async () => {
    const sessions = await b.handlers['sessions.list']({ device: dev });
    const withGet = sessions.find((s) => s.messageCount >= 4)!;
    const d = await b.handlers['sessions.get']({ id: withGet.id });
    const get = d.messages.flatMap((m) => m.commands).find((c) => c.kind === 'Get');
    expect(get?.status?.code).toBe('200');
    expect(get?.results.length).toBeGreaterThan(0);
    expect(d.messages[0]!.direction).toBe('in');
    expect(d.messages[0]!.commands.map((c) => c.kind)).toContain('Alert');
    const m = await b.handlers['sessions.message']({ id: d.messages[1]!.id });
    expect(m.xml).toContain('<SyncML');
    expect(Buffer.from(m.base64, 'base64').length).toBe(d.messages[1]!.size);
    const ex = await b.handlers['sessions.export']({ id: withGet.id });
    const doc = JSON.parse(ex.json) as { format: string; messages: unknown[]; device: Record<string, unknown> };
    expect(doc.format).toBe('dmw-session-export/1');
    expect(doc.messages).toHaveLength(d.messages.length);
    expect(doc.device).not.toHaveProperty('clientCred');
  });

  it('diffs the tree against the previous snapshot', async () => {
    const t = await b.handlers['tree.get']({ device: dev });
    expect(t.entries.some((e) => e.uri === './DevInfo/Mod' && e.data)).toBe(true);
    const r = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'replace', uri: './DMAcc/dmw/Name', value: 'renamed', format: 'chr' }, notify: false });
    await b.handsetFleet!.connect(dev);
    expect((await b.running!.store.job(r.job!.id))?.status).toBe('done');
    const g = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'get', uri: './DMAcc/dmw/Name' }, notify: false });
    await b.handsetFleet!.connect(dev);
    expect((await b.running!.store.job(g.job!.id))?.results[0]?.data).toBe('renamed');
    const diff = await b.handlers['tree.diff']({ device: dev });
    expect(diff.previousAt).not.toBeNull();
    expect([...diff.added, ...diff.changed].map((c) => c.uri)).toContain('./DMAcc/dmw/Name');
  });

  it('explains ACLs with the deciding ancestor, and says unknown for unread ones', async () => {
    const before = await b.handlers['acl.matrix']({ device: dev, uri: './DMAcc/dmw/Name' });
    expect(before.cells.dmw!.Replace!.allowed).toBeNull();
    const j1 = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'read-acl', uri: '.' }, notify: false });
    const j2 = await b.handlers['jobs.add']({ device: dev, spec: { kind: 'sequence', commands: ['./DMAcc', './DMAcc/dmw', './DMAcc/dmw/Name'].map((u) => ({ kind: 'get' as const, uri: `${u}?prop=ACL` })) }, notify: false });
    await b.handsetFleet!.connect(dev);
    expect([(await b.running!.store.job(j1.job!.id))?.status, (await b.running!.store.job(j2.job!.id))?.status]).toEqual(['done', 'done']);
    const m = await b.handlers['acl.matrix']({ device: dev, uri: './DMAcc/dmw/Name' });
    expect(m.unread).toEqual([]);
    expect(m.cells.dmw!.Replace).toMatchObject({ allowed: true, fromPath: './DMAcc/dmw', inherited: true });
    expect(m.cells.dmw!.Exec).toMatchObject({ allowed: false, fromPath: './DMAcc/dmw' });
    const root = await b.handlers['acl.matrix']({ device: dev, uri: '.' });
    expect(root.ownAcl).toBe('Add=*&Get=*');
    expect(root.cells.dmw!.Get!.allowed).toBe(true);
  });
});

describe('server settings', () => {
  it('restarts a running server with new settings and keeps them for the next start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-settings-'));
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, startServer: true, handsets: { ok: false, reason: 'none' } });
    const seen: string[] = [];
    b.onEvent((name) => seen.push(name));
    const st = await b.handlers['server.configure']({ settings: { serverId: 'lab-srv', clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' } } });
    expect(st).toMatchObject({ running: true, settings: { serverId: 'lab-srv', clientAuth: 'md5' } });
    expect(b.running!.config.serverId).toBe('lab-srv');
    expect(seen).toContain('server.status');
    const stopped = await b.handlers['server.stop']({});
    expect(stopped.running).toBe(false);
    await b.close();
    const again = await Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'none' } });
    expect(again.status().settings).toMatchObject({ serverId: 'lab-srv', clientAuth: 'md5', port: 0, defaultClientCred: { name: 'lab', secret: 'pw' } });
    const ca = await again.handlers['server.caCertificate']({});
    expect(ca.pem).toContain('BEGIN CERTIFICATE');
    const dev = await again.handlers['server.issueDeviceCertificate']({ devId: 'IMEI:356938035643809' });
    expect(dev.keyPem).toContain('PRIVATE KEY');
    expect(again.status().caExists).toBe(true);
    await again.close();
  });
});

describe('handset module loading', () => {
  it('names main/client as missing when there is no module, instead of faking handsets', async () => {
    const r = await loadHandsetModule();
    if (r.ok) expect(r.provider).toMatch(/client/);
    else expect(r.reason).toMatch(/main\/client/);
  });

  it('refuses a module without createFleet', async () => {
    const r = await loadHandsetModule(path.resolve('main/api/channels.ts'));
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('createFleet') });
  });
});

describe('WebSocket transport', () => {
  let b: Backend;
  let ui: UiServer;
  beforeAll(async () => {
    b = await Backend.create({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-ws-')), handsets: { ok: false, reason: 'none' } });
    ui = await startUiServer({ backend: b, staticDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-static-')), port: 0 });
  });
  afterAll(async () => {
    await ui.close();
    await b.close();
  });

  const open = (token: string, origin: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ui.port}/api?token=${encodeURIComponent(token)}`, { headers: { origin } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });

  it('binds to loopback and refuses a wrong token or a foreign origin', async () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await expect(open('nope', `http://127.0.0.1:${ui.port}`)).rejects.toThrow(/403/);
    await expect(open(ui.token, 'http://evil.example')).rejects.toThrow(/403/);
  });

  it('carries calls and replies, and validates input on the backend', async () => {
    const ws = await open(ui.token, `http://127.0.0.1:${ui.port}`);
    const call = (id: number, channel: string, input: unknown) => new Promise<unknown>((resolve) => {
      const on = (data: WebSocket.RawData) => {
        const m = JSON.parse(String(data)) as { t: string; id: number; reply: unknown };
        if (m.t === 'reply' && m.id === id) {
          ws.off('message', on);
          resolve(m.reply);
        }
      };
      ws.on('message', on);
      ws.send(JSON.stringify({ t: 'call', id, channel, input }));
    });
    expect(await call(1, 'server.status', {})).toMatchObject({ ok: true, value: { running: false } });
    expect(await call(2, 'jobs.add', { device: 'x', spec: { kind: 'rm -rf' } })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    ws.close();
  });

  it('sends the UI with a strict CSP', async () => {
    const res = await fetch(`${ui.url}index.html`);
    expect(res.status).toBe(404); // empty static folder here; headers checked on a real file below
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-static2-'));
    (await import('node:fs')).writeFileSync(path.join(dir, 'index.html'), '<!doctype html>');
    const ui2 = await startUiServer({ backend: b, staticDir: dir, port: 0 });
    const r2 = await fetch(ui2.url);
    expect(r2.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${ui2.url}..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    await ui2.close();
  });
});
