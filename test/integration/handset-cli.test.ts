/**
 * `dmw handset` as a lab engineer runs it: a real `dmw server` child and a real long-running
 * `dmw handset` child. A local app talks to the handset over its client-app interface (DM-7/DM-8,
 * HTTP with the bearer token), the server notifies the handset (package #0) about a job on the app's
 * MO, and the app hears the change; SIGTERM stops the handset with exit 0 and the tree saved.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadTree } from '../../main/tree/persist.js';
import { api, BIN, dmw as dmwSync, dmwAsync as dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp, startServer, cleanup } = dmwLab('dmw-handset-cli-');
const API_TOKEN = 'handset-cli-operator-token';

/** `dmw handset ARGS` in the background: its stdout as lines, and how it exited. */
function startHandset(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'handset', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const lines = () => out.split('\n').filter((l) => l !== '');
  async function line(pred: (l: string) => boolean, what: string, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = lines().find(pred);
      if (hit) return hit;
      if (child.exitCode !== null) throw new Error(`dmw handset exited (${child.exitCode}) before ${what}: ${out}${err}`);
      if (Date.now() > deadline) throw new Error(`no ${what} from dmw handset: ${out}${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { child, exited, lines, line, stderr: () => err };
}

describe('dmw handset', () => {
  it('serves an app over DM-7/DM-8; a notified job on its MO reaches the app; SIGTERM exits 0 and saves the tree', async () => {
    const data = tmp();
    const phone = path.join(tmp(), 'phone.json'); // does not exist yet: the handset creates it
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-id', 'dmw-lab', '--api-token', API_TOKEN]);
    const h = startHandset([
      '--server', srv.dmUrl, '--auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-id', 'dmw-lab',
      '--tree', phone, '--apps-port', '0', '--notify-port', '0', '--connect', '--json',
    ]);
    const ready = JSON.parse(await h.line(() => true, 'ready line')) as { devId: string; notifyUrl: string; appsUrl: string; appsToken: string };
    expect(Object.keys(ready)).toEqual(['devId', 'notifyUrl', 'appsUrl', 'appsToken']);
    expect(ready.devId).toMatch(/^IMEI:\d{15}$/);
    expect(ready.notifyUrl).toBe(`${ready.notifyUrl.replace(/\/notify\/.*$/, '')}/notify/${encodeURIComponent(ready.devId)}`);
    expect(ready.notifyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/notify\//);
    expect(ready.appsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.appsToken.length).toBeGreaterThanOrEqual(16);
    expect(existsSync(phone)).toBe(true);

    // --connect: one client-initiated session at start, reported as a JSON line.
    const first = JSON.parse(await h.line((l) => l.includes('"initiator":"client"'), 'the --connect session'));
    expect(first).toMatchObject({ type: 'session', devId: ready.devId, serverId: 'dmw-lab', initiator: 'client', ok: true });
    expect(first.roundTrips).toBeGreaterThan(0);

    // The client-app interface wants the token.
    expect((await api(ready.appsUrl, 'GET', '/v1/servers', 'not-the-token-at-all')).status).toBe(401);
    expect((await api(ready.appsUrl, 'GET', '/v1/servers', '')).status).toBe(401);
    const servers = await api(ready.appsUrl, 'GET', '/v1/servers', ready.appsToken);
    expect(servers.status).toBe(200);
    expect(servers.json).toMatchObject({ devId: ready.devId, servers: [{ serverId: 'dmw-lab' }] });

    // DM-7: the app registers its MO, giving the server rights on it.
    const appId = 'com.example.app';
    const reg = await api(ready.appsUrl, 'POST', '/v1/mos', ready.appsToken, { appId, root: './Vendor/App', servers: ['dmw-lab'], nodes: [{ path: 'Mode', value: 'eco' }] });
    expect(reg.status).toBe(201);
    expect(reg.json.mo).toMatchObject({ appId, root: './Vendor/App' });

    // The server learns where package #0 reaches the handset, through the management API.
    const reach = await api(srv.base, 'PUT', `/api/v1/devices/${encodeURIComponent(ready.devId)}`, API_TOKEN, { notifyUrl: ready.notifyUrl });
    expect(reach.status).toBe(200);
    expect(reach.json).toMatchObject({ devId: ready.devId, notifyUrl: ready.notifyUrl });

    // DM-8: the app long-polls for changes while the server's job goes out.
    const changes = api(ready.appsUrl, 'GET', `/v1/changes?appId=${appId}&after=0&waitMs=20000`, ready.appsToken);
    const job = await api(srv.base, 'POST', '/api/v1/jobs', API_TOKEN, { device: ready.devId, spec: { kind: 'replace', uri: './Vendor/App/Mode', value: 'turbo' }, notify: true });
    expect(job.status).toBe(201);
    expect(job.json.notified).toMatchObject({ ok: true });

    const heard = await changes;
    expect(heard.status).toBe(200);
    expect(heard.json.changes).toHaveLength(1);
    expect(heard.json.changes[0]).toMatchObject({ appId, mo: './Vendor/App', command: 'Replace', serverId: 'dmw-lab', path: './Vendor/App/Mode', status: 200, value: 'turbo' });

    const notified = JSON.parse(await h.line((l) => l.includes('"initiator":"server"'), 'the notified session'));
    expect(notified).toMatchObject({ type: 'session', devId: ready.devId, serverId: 'dmw-lab', initiator: 'server', ok: true });
    const jobs = JSON.parse((await dmw(['job', 'list', '--data', data, '--device', ready.devId, '--json'])).out);
    expect(jobs).toEqual([expect.objectContaining({ id: job.json.job.id, command: 'replace', target: './Vendor/App/Mode', status: 'done', statusCode: 200 })]);
    // An app's Generic Alert is a client-initiated session of its own, reported as it ends.
    const alert = await api(ready.appsUrl, 'POST', '/v1/alerts', ready.appsToken, { appId, serverId: 'dmw-lab', source: './Vendor/App/Mode', type: 'com.example.app.applied', data: 'turbo' });
    expect(alert.status).toBe(200);
    expect(alert.json).toMatchObject({ ok: true, serverId: 'dmw-lab' });
    const reported = JSON.parse(await h.line((l) => l.includes(`"sessionId":"${alert.json.sessionId}"`), 'the alert session'));
    expect(reported).toMatchObject({ type: 'session', initiator: 'client', ok: true });
    // every line after the ready line is JSON
    for (const l of h.lines()) expect(() => JSON.parse(l)).not.toThrow();

    h.child.kill('SIGTERM');
    expect(await h.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(h.lines().at(-1)!)).toEqual({ type: 'stopped', signal: 'SIGTERM' });
    expect(h.stderr()).toBe('');
    const saved = await loadTree(phone);
    expect(saved.lookup('./DevInfo/DevId')!.value).toBe(ready.devId);
    expect(saved.lookup('./Vendor/App/Mode')!.value).toBe('turbo');
    expect(saved.lookup('./DMAcc')).toBeDefined();
  }, 60_000);

  it('without --json: human session lines; a given --apps-token is used; SIGINT exits 0', async () => {
    const data = tmp();
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw']);
    const token = 'a-token-of-the-lab-0123456789';
    const h = startHandset(['--server', srv.dmUrl, '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--apps-token', token, '--connect', '--wbxml']);
    const ready = JSON.parse(await h.line(() => true, 'ready line'));
    expect(ready.appsToken).toBe(token);
    expect(await h.line((l) => l.startsWith('session '), 'a session line')).toMatch(/^session [0-9A-F]+ with dmw \(client-initiated\) ok: \d+ round trips?, \d+ ms$/);
    expect((await api(ready.appsUrl, 'GET', '/v1/mos', token)).json).toEqual({ mos: [] });
    h.child.kill('SIGINT');
    expect(await h.exited).toEqual({ code: 0, signal: null });
    expect(h.lines().at(-1)).toBe('SIGINT: stopped; listeners closed');
  }, 60_000);

  it.each([
    [['--server', 'http://127.0.0.1:1/dm', '--bogus'], /--bogus/],
    [[], /--server URL is required/],
    [['--server', 'ftp://x/dm'], /--server must be an http/],
    [['--server', 'http://127.0.0.1:1/dm', '--apps-port', '70000'], /--apps-port must be a port number/],
    [['--server', 'http://127.0.0.1:1/dm', '--notify-port', 'x'], /--notify-port must be a port number/],
    [['--server', 'http://127.0.0.1:1/dm', '--apps-token', 'short'], /--apps-token must be at least 16/],
    [['--server', 'http://127.0.0.1:1/dm', '--auth', 'md5'], /--auth md5 needs --client-cred/],
    [['--server', 'http://127.0.0.1:1/dm', '--client-cred', 'nocolon'], /--client-cred must be NAME:SECRET/],
    [['--server', 'http://127.0.0.1:1/dm', '--ca', '/nonexistent.pem'], /--ca and --data are for an https/],
    [['--server', 'http://127.0.0.1:1/dm', '--tree', '/nonexistent-dir/phone.json'], /no such file/],
  ])('bad arguments %j: exit 2, one line naming the flag', (args, message) => {
    const r = dmwSync(['handset', ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('--help, and the command table lists it', () => {
    const help = dmwSync(['handset', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('dmw handset --server URL');
    expect(help.out).toContain('--apps-token');
    expect(dmwSync(['--help']).out).toMatch(/^ {2}handset /m);
  });
});
