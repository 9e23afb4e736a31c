/**
 * `dmw conformance list|run` as a lab runs it: the command starts its own DM server on --port,
 * sends package #0 to the device's notify address (a virtual handset here, in this process, whose
 * listener the data folder knows), and ends with the exact one-line --json summary; exit 0 when
 * no case failed, 1 when one did, 2 on bad input naming the flag.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NotificationListener, VirtualHandset } from '../../main/client/index.js';
import { ServerStore } from '../../main/store/server-store.js';
import { planInfo } from '../../main/judge/conformance/plans.js';
import { dmw, dmwAsync } from '../helpers/dmw-servers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** `dmw ARGS` through the CLI's main() in this process, its output captured. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../../main/cli/main.js');
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A data folder, a free port, and a handset that answers package #0 from the server on it. */
async function setup(faults: string[] = [], register = true) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-conf-cli-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const handset = await VirtualHandset.open({
    faults,
    device: { devId: 'IMEI:490154203237518', accounts: [{ serverId: 'dmw', addr: `http://127.0.0.1:${port}/dm`, clientCred: { type: 'basic', name: 'lab', secret: 'pw' }, serverCred: { type: 'md5', name: 'dmw', secret: 'srv' } }] },
  });
  const listener = await NotificationListener.start();
  cleanup.push(() => listener.close(), () => handset.close());
  const url = listener.register(handset);
  if (register) {
    const store = ServerStore.open(dir);
    store.tx(() => store.setNotifyUrl(handset.devId, url, Date.now()));
    store.close();
  }
  return { dir, port, handset, url };
}

describe('dmw conformance list', () => {
  it('lists the plan: id, group, clause and title; --json is the plan', () => {
    const plan = planInfo('dm12-client')!;
    const r = dmw(['conformance', 'list']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^dm12-client: .*\(\d+ cases\)\nID +GROUP +CLAUSE +TITLE\n/);
    const get = plan.cases.find((c) => c.id === 'dm12.get.leaf')!;
    expect(r.out).toContain(get.group);
    expect(r.out).toMatch(new RegExp(`dm12\\.get\\.leaf +Get +${get.clause.replace(/[.§()]/g, '\\$&')} +${get.title}`));
    const j = dmw(['conformance', 'list', '--plan', 'dm12-client', '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toEqual(plan);
    expect(plan.cases.length).toBeGreaterThanOrEqual(60);
  });

  it('bad input: exit 2 naming the flag', async () => {
    const r = await inProcess(['conformance', 'list', '--plan', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--plan: unknown plan "nope"/);
  });
});

describe('dmw conformance run', () => {
  it('drives a notified handset through the cases and ends with the exact --json line (exit 0); reports written', async () => {
    const { dir, port, handset } = await setup();
    const junit = path.join(dir, 'report.xml');
    const html = path.join(dir, 'report.html');
    const r = await dmwAsync(['conformance', 'run', '--device', handset.devId, '--port', String(port), '--host', '127.0.0.1', '--data', dir,
      '--client-cred', 'lab:pw', '--server-cred', 'dmw:srv', '--case', 'dm12.get.leaf', '--case', 'dm12.auth.client-md5', '--wait', '20', '--json', '--junit', junit, '--html', html]);
    expect(r.err).toMatch(/sent package #0 to IMEI:490154203237518/);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!);
    expect(Object.keys(last)).toEqual(['plan', 'device', 'passed', 'failed', 'inconclusive', 'skipped', 'cases']);
    expect(last).toMatchObject({ plan: 'dm12-client', device: handset.devId, passed: 2, failed: 0, inconclusive: 0, skipped: 0 });
    expect(last.cases.map((c: Record<string, unknown>) => Object.keys(c))).toEqual([['id', 'title', 'verdict', 'clause', 'detail'], ['id', 'title', 'verdict', 'clause', 'detail']]);
    expect(last.cases.map((c: { id: string; verdict: string }) => `${c.id} ${c.verdict}`)).toEqual(['dm12.get.leaf pass', 'dm12.auth.client-md5 pass']);
    expect(lines.at(-1)).toBe(JSON.stringify(last));
    expect(r.err).toMatch(/dm12-client on IMEI:490154203237518: 2 cases, 2 passed, 0 failed, 0 inconclusive, 0 not applicable/);
    expect(readFileSync(junit, 'utf8')).toContain('<testsuite');
    expect(readFileSync(html, 'utf8')).toMatch(/^<!DOCTYPE html>/i);
    // The sessions are in the data folder for `dmw session show/check`.
    const store = ServerStore.open(dir);
    const ids = store.sessions({ device: handset.devId }).map((x) => x.id);
    store.close();
    expect(ids.length).toBeGreaterThanOrEqual(2);
    for (const id of ids) {
      const check = await inProcess(['session', 'check', String(id), '--data', dir, '--json']);
      expect(check.code, check.out + check.err).toBe(0);
      expect(JSON.parse(check.out)).toMatchObject({ session: id });
    }
  }, 60_000);

  it('--notify URL: a device the data folder knows no notify address of is asked for each session (dmw handset prints it)', async () => {
    const { dir, port, handset, url } = await setup([], false);
    const r = await dmwAsync(['conformance', 'run', '--device', handset.devId, '--port', String(port), '--host', '127.0.0.1', '--data', dir,
      '--server-cred', 'dmw:srv', '--case', 'dm12.get.leaf', '--case', 'dm12.replace.leaf', '--wait', '20', '--notify', url]);
    expect(r.err).toMatch(/sent package #0 to IMEI:490154203237518/);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/2 cases, 2 passed, 0 failed/);
    const bad = await inProcess(['conformance', 'run', '--device', handset.devId, '--port', String(port), '--notify', 'ftp://x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--notify must be an http:\/\/ or https:\/\/ URL/);
  }, 60_000);

  it('a failing case: exit 1, the summary says so', async () => {
    const { dir, port, handset } = await setup(['wrong-status-code']);
    const r = await dmwAsync(['conformance', 'run', '--device', handset.devId, '--port', String(port), '--host', '127.0.0.1', '--data', dir, '--server-cred', 'dmw:srv', '--case', 'dm12.get.missing', '--wait', '20']);
    expect(r.code, r.err + r.out).toBe(1);
    expect(r.out).toMatch(/^FAIL  dm12\.get\.missing  Status of Get \.\/DMWConfMissing\/Nothing: expected 404, got 410/m);
    expect(r.out).toMatch(/1 cases?, 0 passed, 1 failed/);
  }, 60_000);

  it('a device that does not connect: inconclusive within --wait, exit 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-conf-cli-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const r = await dmwAsync(['conformance', 'run', '--device', 'IMEI:000000000000000', '--port', String(port), '--host', '127.0.0.1', '--data', dir, '--case', 'dm12.get.leaf', '--case', 'dm12.get.missing', '--wait', '0.5', '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/waiting for IMEI:000000000000000 to connect for dm12\.get\.leaf \(it has no notify address: start its DM session, or give --notify URL\)/);
    const last = JSON.parse(r.out.trimEnd().split('\n').at(-1)!);
    expect(last).toMatchObject({ passed: 0, failed: 0, inconclusive: 2, skipped: 0 });
  }, 60_000);

  it.each([
    [['--port', '0'], /--device DEVID is required/],
    [['--device', 'X'], /--port N is required/],
    [['--device', 'X', '--port', '70000'], /--port must be 0\.\.65535/],
    [['--device', 'X', '--port', '0', '--client-auth', 'none'], /--client-auth must be basic, md5 or hmac/],
    [['--device', 'X', '--port', '0', '--wait', '0'], /--wait must be a number of seconds/],
    [['--device', 'X', '--port', '0', '--case', 'dm12.nope'], /--case: plan "dm12-client" has no case "dm12\.nope"/],
    [['--device', 'X', '--port', '0', '--client-cred', 'nocolon'], /--client-cred/],
    [['--device', 'X', '--port', '0', '--bogus'], /bogus/],
  ])('bad input %j: exit 2 naming the flag', async (args, message) => {
    // In this process (the same main() as bin.mjs; a process per case cost a second each).
    const r = await inProcess(['conformance', 'run', ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--help: the usage, exit 0', async () => {
    const r = await inProcess(['conformance', 'run', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dmw conformance run --device DEVID --port N');
  });
});
