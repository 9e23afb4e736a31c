/**
 * `dmw server`, `dmw job`, `dmw session` as a lab engineer runs them: real processes on one data
 * folder. Jobs added while the server runs go out in the next session; kill -9 of the server in the
 * middle of sessions loses no committed job or message, and a restart finishes the work.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ServerStore } from '../../main/store/server-store.js';
import { dmw, dmwLab, type Running } from '../helpers/dmw-servers.js';
import { TestClient } from '../helpers/dm-test-client.js';

const { tmp, startServer } = dmwLab('dmw-cli-server-');

describe('dmw server + dmw job + dmw session', () => {
  it('completes a job added by `dmw job add` while the server runs; `dmw job list --json` has the contract shape', async () => {
    const data = tmp();
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-id', 'dmw-lab']);
    // Queued for a device the server has never seen.
    const add = dmw(['job', 'add', '--data', data, '--device', 'IMEI:CLI', 'get', './DevInfo/Mod']);
    expect(add.err).toBe('');
    expect(add.code).toBe(0);
    expect(add.out).toBe('job 1 queued for IMEI:CLI: get ./DevInfo/Mod\n');
    const add2 = dmw(['job', 'add', '--data', data, '--device', 'IMEI:CLI', 'replace', './Vendor/Mode', 'eco', '--json']);
    expect(JSON.parse(add2.out)).toMatchObject({ id: 2, device: 'IMEI:CLI', command: 'replace', target: './Vendor/Mode', status: 'queued', statusCode: null, results: [] });

    const client = new TestClient({
      url: srv.dmUrl, devId: 'IMEI:CLI', auth: { type: 'md5', name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw', type: 'md5' },
      devInfo: { Mod: 'Lab Phone 9' }, tree: { './Vendor/Mode': { format: 'chr', data: 'turbo' } },
    });
    const r = await client.runSession();
    expect(r.error).toBeUndefined();
    expect(r.completed).toBe(true);
    expect(client.tree.get('./Vendor/Mode')!.data).toBe('eco');

    const list = dmw(['job', 'list', '--data', data, '--json']);
    expect(list.code).toBe(0);
    const jobs = JSON.parse(list.out) as Record<string, unknown>[];
    expect(jobs).toHaveLength(2);
    for (const j of jobs) {
      expect(Object.keys(j)).toEqual(expect.arrayContaining(['id', 'device', 'command', 'target', 'status', 'statusCode', 'results']));
      expect(['queued', 'sent', 'done', 'failed']).toContain(j.status);
    }
    expect(jobs[0]).toMatchObject({ id: 1, device: 'IMEI:CLI', command: 'get', target: './DevInfo/Mod', status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'Lab Phone 9' }] });
    expect(jobs[1]).toMatchObject({ id: 2, status: 'done', statusCode: 200, results: [] });
    expect(JSON.parse(dmw(['job', 'list', '--data', data, '--device', 'nobody', '--json']).out)).toEqual([]);
    expect(dmw(['job', 'list', '--data', data]).out).toMatch(/^1\s+IMEI:CLI\s+get\s+\.\/DevInfo\/Mod\s+done\s+200\s+"Lab Phone 9"$/m);

    const sessions = dmw(['session', 'list', '--data', data]);
    expect(sessions.code).toBe(0);
    expect(sessions.out).toMatch(/^1\s+IMEI:CLI\s+\S+\s+\S+\s+done\s+6\s+xml\s+completed$/m);
    const show = dmw(['session', 'show', '1', '--data', data]);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^session 1 {2}device IMEI:CLI/);
    expect(show.out).toMatch(/^#1 <- in .*MsgID 1/m);
    expect(show.out).toMatch(/^#2 -> out .*HTTP 200 {2}\d+(\.\d+)? ms$/m);
    expect(show.out).toContain('note: client authentication failed (401): no nonce issued to this device yet');
    expect(show.out).toContain('<LocURI>./DevInfo/Mod</LocURI>');
    expect(show.out).toContain('<Data>Lab Phone 9</Data>');

    // The server logged the session as it went.
    await new Promise((res) => setTimeout(res, 100));
    expect(srv.output()).toMatch(/session 1 started: IMEI:CLI/);
    expect(srv.output()).toMatch(/job 1 done: get \.\/DevInfo\/Mod -> 200 "Lab Phone 9"/);
    expect(srv.output()).toMatch(/session 1 ended: done \(completed\)/);

    expect(dmw(['job', 'clear', '--data', data, '--device', 'IMEI:CLI']).out).toBe('cleared 2 job(s) of IMEI:CLI\n');
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toEqual({ code: 0, signal: null });
  });

  it('`dmw job add ... exec URI [DATA] --correlator ID` queues an Exec that carries the Correlator to the device', async () => {
    const data = tmp();
    const srv = await startServer(data, ['--client-auth', 'md5', '--client-cred', 'lab:pw', '--server-cred', 'dmw:srvpw', '--server-id', 'dmw-lab']);
    const add = dmw(['job', 'add', '--data', data, '--device', 'IMEI:FW', 'exec', './FwUpdate/Lab/Update', '--correlator', 'fw-17']);
    expect(add.err).toBe('');
    expect(add.code).toBe(0);
    expect(add.out).toBe('job 1 queued for IMEI:FW: exec ./FwUpdate/Lab/Update\n');
    const withData = dmw(['job', 'add', '--data', data, '--device', 'IMEI:FW', 'exec', './FwUpdate/Lab/Download', 'quick', '--correlator', 'fw-18', '--json']);
    expect(JSON.parse(withData.out)).toMatchObject({ id: 2, device: 'IMEI:FW', command: 'exec', target: './FwUpdate/Lab/Download', status: 'queued', results: [] });
    const plain = dmw(['job', 'add', '--data', data, '--device', 'IMEI:FW', 'exec', './FwUpdate/Lab/Update']);
    expect(plain.out).toBe('job 3 queued for IMEI:FW: exec ./FwUpdate/Lab/Update\n');
    const store = ServerStore.open(data);
    try {
      expect(store.job(1)!.spec).toEqual({ kind: 'exec', uri: './FwUpdate/Lab/Update', correlator: 'fw-17' });
      expect(store.job(2)!.spec).toEqual({ kind: 'exec', uri: './FwUpdate/Lab/Download', data: 'quick', correlator: 'fw-18' });
      expect(store.job(3)!.spec).toEqual({ kind: 'exec', uri: './FwUpdate/Lab/Update' });
    } finally {
      store.close();
    }

    const client = new TestClient({
      url: srv.dmUrl, devId: 'IMEI:FW', auth: { type: 'md5', name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw', type: 'md5' },
      tree: { './FwUpdate/Lab/Update': { format: 'node', data: '' }, './FwUpdate/Lab/Download': { format: 'node', data: '' } },
    });
    const r = await client.runSession();
    expect(r.error).toBeUndefined();
    const jobs = JSON.parse(dmw(['job', 'list', '--data', data, '--json']).out) as { id: number; status: string; statusCode: number }[];
    expect(jobs.map((j) => [j.id, j.status, j.statusCode])).toEqual([[1, 'done', 200], [2, 'done', 200], [3, 'done', 200]]);
    const show = dmw(['session', 'show', '1', '--data', data]).out;
    expect(show.match(/<Correlator>[^<]*<\/Correlator>/g)).toEqual(['<Correlator>fw-17</Correlator>', '<Correlator>fw-18</Correlator>']);

    for (const [args, err] of [
      [['get', './A', '--correlator', 'x'], 'dmw: --correlator goes with exec\n'],
      [['replace', './A', 'v', '--correlator', 'x'], 'dmw: --correlator goes with exec\n'],
      [['exec', './A', '--correlator', ''], 'dmw: --correlator must not be empty\n'],
    ] as [string[], string][]) {
      const bad = dmw(['job', 'add', '--data', data, '--device', 'IMEI:FW', ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.err, args.join(' ')).toBe(err);
    }
    const help = dmw(['job', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('dmw job add --data DIR --device DEVID exec URI [DATA] [--correlator ID]');
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses bad arguments with exit 2 and one line on stderr', () => {
    const data = tmp();
    const cases: [string[], RegExp][] = [
      [['server'], /^dmw: --port is required/],
      [['server', '--port', 'x'], /^dmw: --port must be 0\.\.65535/],
      [['server', '--port', '1', '--client-auth', 'ntlm'], /^dmw: --client-auth must be none, basic, md5 or hmac/],
      [['server', '--port', '1', '--client-cred', 'nocolon'], /^dmw: --client-cred must be NAME:SECRET/],
      [['job', 'add', '--data', data, '--device', 'd', 'frob', './A'], /^dmw: unknown job command "frob"/],
      [['job', 'add', '--data', data, 'get', './A'], /^dmw: --device DEVID is required/],
      [['job', 'add', '--data', data, '--device', 'd', 'get', '/abs'], /^dmw: "uri" is not a DM URI/],
      [['job', 'list', '--data', path.join(data, 'nothing')], /no DM Workbench data here/],
      [['session', 'show', '7', '--data', data], /no DM Workbench data here|no session 7/],
    ];
    for (const [args, err] of cases) {
      const r = dmw(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(err);
    }
  });
});

describe('kill -9', () => {
  it('loses no committed job or message when the server dies in the middle of sessions, and finishes after a restart', async () => {
    const data = tmp();
    const devices = ['IMEI:K1', 'IMEI:K2', 'IMEI:K3'];
    const cliJob = dmw(['job', 'add', '--data', data, '--device', 'IMEI:K1', 'get', './DevInfo/Mod']);
    expect(cliJob.code).toBe(0);
    const store = ServerStore.open(data);
    for (const d of devices) for (let i = 0; i < 12; i++) store.tx(() => store.addJob(d, i % 3 === 0 ? { kind: 'replace', uri: `./Vendor/N${i}`, value: `v${i}` } : { kind: 'get', uri: `./Vendor/N${i}` }, Date.now()));
    const allIds = store.jobs().map((j) => j.id);
    expect(allIds).toHaveLength(37);

    // What the devices were told: every response they received must be in the log afterwards.
    const received: { sessionUrl: string; bytes: Uint8Array; request: Uint8Array }[] = [];
    const tree = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`./Vendor/N${i}`, { format: 'chr', data: `old${i}` }]));

    const runUntilKilled = async (srv: Running, killAfter: number) => {
      let stop = false;
      let seen = 0;
      const loops = devices.map(async (devId) => {
        // Small messages: sessions take many exchanges. The kill comes right after a response that
        // keeps a session going (it carries commands), so it always lands inside an open session.
        const client = new TestClient({
          url: srv.dmUrl, devId, maxMsgSize: 1200, tree,
          onExchange: (ex) => {
            if (ex.httpStatus !== 200) return;
            received.push({ sessionUrl: ex.url, bytes: ex.responseBytes, request: ex.requestBytes });
            const open = ex.response?.body.commands.some((c) => c.kind !== 'Status');
            if (++seen >= killAfter && open && !stop) {
              stop = true;
              srv.child.kill('SIGKILL');
            }
          },
        });
        while (!stop) {
          try {
            await client.runSession();
          } catch {
            stop = true; // the server is gone
          }
        }
      });
      await Promise.all(loops);
      srv.child.kill('SIGKILL');
      expect((await srv.exited).signal).toBe('SIGKILL');
    };

    // Round 1 and 2: killed mid-way.
    await runUntilKilled(await startServer(data, []), 5);
    const afterFirst = store.jobs().length;
    expect(store.sessions().filter((s) => s.state === 'active').length).toBeGreaterThan(0); // killed mid-session
    await runUntilKilled(await startServer(data, []), 9);
    expect(afterFirst).toBe(37);

    // Nothing committed is lost: every job is still there, every response a device got is logged.
    const jobs = store.jobs();
    expect(jobs.map((j) => j.id)).toEqual(allIds);
    const outBytes = new Set<string>();
    const inBytes = new Set<string>();
    for (const s of store.sessions()) for (const m of store.messages(s.id)) (m.direction === 'out' ? outBytes : inBytes).add(Buffer.from(m.bytes).toString('base64'));
    expect(received.length).toBeGreaterThan(0);
    for (const r of received) {
      expect(outBytes.has(Buffer.from(r.bytes).toString('base64'))).toBe(true);
      expect(inBytes.has(Buffer.from(r.request).toString('base64'))).toBe(true);
    }

    // Restart: interrupted sessions are marked; Gets left on the wire go out again by themselves,
    // Replaces are unconfirmed (the device may have applied them) until the engineer decides: here
    // verify, so the server reads each node back first. Then all complete.
    const srv = await startServer(data, []);
    expect(srv.output()).toMatch(/listening on/);
    const unconfirmed = store.jobs({ status: 'unconfirmed' });
    expect(unconfirmed.filter((j) => j.command !== 'replace')).toEqual([]);
    for (const j of unconfirmed) store.decideJob(j.id, 'verify', Date.now());
    for (let round = 0; round < 5 && store.jobs().some((j) => j.status !== 'done'); round++) {
      for (const devId of devices) {
        const r = await new TestClient({ url: srv.dmUrl, devId, maxMsgSize: 1200, tree }).runSession();
        expect(r.error).toBeUndefined();
      }
    }
    const final = store.jobs();
    expect(final).toHaveLength(37);
    expect(final.filter((j) => j.status !== 'done')).toEqual([]);
    expect(final.find((j) => j.device === 'IMEI:K1' && j.target === './DevInfo/Mod')!.results[0]!.data).toBe('TC-1');
    expect(store.sessions().some((s) => s.state === 'interrupted')).toBe(true);
    store.close();
    srv.child.kill('SIGTERM');
    await srv.exited;
  });
});
