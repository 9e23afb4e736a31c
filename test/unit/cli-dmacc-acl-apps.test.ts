/**
 * Issue 18 point 7 from the command line: a device made with `dmw tree init` or `dmw handset` can be
 * delegated once `--dmacc-acl` gives the delegating server Add on ./DMAcc; without it the device
 * refuses the delegation Atomic as main/server/API.md says (the Add of the account 425 Permission
 * denied, the Atomic 507 Atomic failed); and `dmw handset --app fumo` runs the FUMO demo app
 * against a real server (127.0.0.1) through a firmware update.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { DmServer } from '../../main/server/index.js';
import { delegationJob, delegationRefusal, newDeviceCredential } from '../../main/server/federation.js';
import { VirtualHandset, configureAccount } from '../../main/client/index.js';
import { loadTreeSync } from '../../main/tree/persist.js';
import type { JobRecord } from '../../main/server/types.js';
import { appFlag } from '../../main/cli/handset-args.js';
import { REPO_ROOT } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-dmacc-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function dmw(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 30_000 });
  return { code: r.status, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

async function serverA(dir: string) {
  const s = await DmServer.start({
    dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA', clientAuth: 'basic', defaultClientCred: { name: 'lab', secret: 'labpw' },
    serverCred: { name: 'srvA', secret: 'srvApw' }, serverAuth: 'basic',
  });
  cleanup.push(() => s.close());
  return s;
}

async function waitFor<T>(f: () => T | undefined | Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The delegation Atomic srvA sends for srvB, run against the handset whose tree is in `file`. */
async function delegate(file: string): Promise<JobRecord> {
  const s = await serverA(tmp());
  // The account `dmw tree init --account srvA:lab:labpw` made, pointed at this server (as `dmw handset` does).
  const tree = loadTreeSync(file);
  configureAccount(tree, { serverId: 'srvA', url: s.url, clientType: 'basic', clientCred: { name: 'lab', secret: 'labpw' }, serverType: 'basic', serverCred: { name: 'srvA', secret: 'srvApw' } });
  const h = await VirtualHandset.open({ tree, encoding: 'xml' });
  cleanup.push(() => h.close());
  const spec = delegationJob({
    delegate: { serverId: 'srvB', dmUrl: 'http://127.0.0.1:9/dm', clientAuth: 'basic', serverAuth: 'basic', serverCred: { name: 'srvB', secret: 'srvBpw' } },
    clientCred: newDeviceCredential(), subtrees: [],
  });
  const { job } = await s.addJob(h.devId, spec);
  expect((await h.connect()).ok).toBe(true);
  return (await s.store.jobs({ device: h.devId })).find((j) => j.id === job.id)!;
}

describe('dmw tree init --dmacc-acl', () => {
  it('a tree made with --dmacc-acl lets srvA delegate the device; without it the Atomic is 507 and its Add 425, as API.md says', async () => {
    const dir = tmp();
    const open = path.join(dir, 'open.json');
    const closed = path.join(dir, 'closed.json');
    const made = dmw(['tree', 'init', '-o', open, '--account', 'srvA:lab:labpw', '--dmacc-acl', 'Add=srvA&Get=*']);
    expect(made.err).toBe('');
    expect(made.code).toBe(0);
    expect(made.out).toContain('./DMAcc ACL Add=srvA&Get=*');
    expect(loadTreeSync(open).lookup('./DMAcc')!.acl.text).toBe('Add=srvA&Get=*');
    expect(dmw(['tree', 'init', '-o', closed, '--account', 'srvA:lab:labpw']).code).toBe(0);

    const ok = await delegate(open);
    expect(ok).toMatchObject({ status: 'done', statusCode: 200 });
    const refused = await delegate(closed);
    expect(refused).toMatchObject({ status: 'failed', statusCode: 507 });
    expect(refused.members[0]).toEqual({ cmd: 'Add', uri: './DMAcc/srvB', statusCode: 425 });
    expect(delegationRefusal(refused)).toBe('the device refused the delegation Atomic: 507 Atomic failed; Add ./DMAcc/srvB: 425 Permission denied');
    // The doc says the same.
    const apiMd = readFileSync(path.join(REPO_ROOT, 'main/server/API.md'), 'utf8');
    expect(apiMd).toContain('507 Atomic failed; Add ./DMAcc/srvB: 425 Permission denied');
    expect(apiMd).toContain('--dmacc-acl');
    expect(apiMd).not.toContain('Otherwise the Atomic fails (425)');
  }, 60_000);

  it('a bad ACL is refused, naming the flag and the position', () => {
    const r = dmw(['tree', 'init', '-o', path.join(tmp(), 't.json'), '--dmacc-acl', 'Add=srv A&Get=*']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dmw: --dmacc-acl: bad ACL "Add=srv A&Get=\*" at position 7: .*not allowed in a server identifier/);
    expect(dmw(['tree', 'init', '-o', path.join(tmp(), 't.json'), '--dmacc-acl', 'Write=*']).err).toMatch(/--dmacc-acl: .*"Write" is not an ACL command/);
  });
});

describe('dmw handset --dmacc-acl --app fumo', () => {
  it('checks --app', () => {
    expect(appFlag(['fumo'])).toEqual([{ name: 'fumo' }]);
    expect(appFlag(['fumo:./FwUpdate/X'])).toEqual([{ name: 'fumo', root: './FwUpdate/X' }]);
    expect(() => appFlag(['camera'])).toThrow('--app "camera": unknown app "camera" (known: fumo)');
    expect(() => appFlag(['fumo:FwUpdate'])).toThrow(/MO root must be a DM URI/);
    expect(() => appFlag(['fumo:./a//b'])).toThrow(/MO root must be a DM URI/);
    expect(() => appFlag(['fumo', 'fumo:./B'])).toThrow(/given twice/);
    const r = dmw(['handset', '--server', 'http://127.0.0.1:9/dm', '--app', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--app "nope": unknown app');
    expect(dmw(['handset', '--server', 'http://127.0.0.1:9/dm', '--dmacc-acl', 'Add=']).err).toContain('--dmacc-acl: bad ACL');
  });

  it('runs a firmware update through the FUMO app: 202 for the Exec, Generic Alert 1226 with 200, State 100 and the ACL saved in the tree', async () => {
    const dir = tmp();
    const s = await serverA(path.join(dir, 'srv'));
    const treeFile = path.join(dir, 'phone.json');
    const devId = 'IMEI:356938035643809';
    expect(dmw(['tree', 'init', '-o', treeFile, '--devid', devId]).code).toBe(0);
    const root = './FwUpdate/Lab';
    await s.addJob(devId, { kind: 'replace', uri: `${root}/Update/PkgData`, value: Buffer.from('firmware v2').toString('base64'), format: 'bin', binary: true });
    const { job: exec } = await s.addJob(devId, { kind: 'exec', uri: `${root}/Update`, correlator: 'fw-17' });

    const child = spawn(process.execPath, [BIN, 'handset', '--server', s.url, '--tree', treeFile, '--auth', 'basic', '--client-cred', 'lab:labpw',
      '--server-cred', 'srvA:srvApw', '--server-id', 'srvA', '--dmacc-acl', 'Add=srvA&Get=*', '--app', 'fumo', '--connect', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));

    const ready = await waitFor(() => lines.find((l) => 'appsUrl' in l), 'the ready line');
    expect(ready).toMatchObject({ devId, apps: [{ appId: 'org.dmworkbench.fumo-demo', root }] });
    // The Exec is accepted for later (202); the app's report arrives in its own session and joins the job.
    const done = await waitFor(async () => {
      const j = (await s.store.jobs({ device: devId })).find((x) => x.id === exec.id);
      return j?.results.some((r) => r.data === '200') ? j : undefined;
    }, 'the FUMO report').catch(async (e: Error) => {
      throw new Error(`${e.message}; handset said ${JSON.stringify(lines)} ${stderr}; jobs ${JSON.stringify(await s.store.jobs({ device: devId }))}`);
    });
    expect(done.statusCode).toBe(202);
    expect(done.results).toContainEqual(expect.objectContaining({ uri: `${root}/Update`, data: '200', type: 'org.openmobilealliance.dm.firmwareupdate.update' }));
    await waitFor(() => (lines.filter((l) => l.type === 'session' && l.ok === true).length >= 2 ? true : undefined), 'two sessions');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const saved = loadTreeSync(treeFile);
    expect(saved.lookup('./DMAcc')!.acl.text).toBe('Add=srvA&Get=*');
    expect(String(saved.lookup(`${root}/State`)!.value)).toBe('100');
  }, 60_000);
});
