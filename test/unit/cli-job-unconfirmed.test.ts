/**
 * `dmw job` and unconfirmed jobs: `add --on-unconfirmed`, `list --status unconfirmed` (and the
 * onUnconfirmed field of `--json`), the decisions `verify|resend|drop ID` on a data folder and through
 * a running server's API (`--server`), with their errors and exit codes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../main/cli/main.js';
import { ServerStore } from '../../main/store/server-store.js';
import type { DmStore } from '../../main/store/store.js';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-cli-unconfirmed-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** `dmw ARGS` in this process (main() writes to process.stdout/stderr and returns the exit status). */
async function dmw(args: string[]) {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

/** What a session that ended without the device's Status leaves: the job went out, nothing came back. */
function lose(store: ServerStore, id: number, why = 'session timeout (no message for 300 s)'): void {
  store.tx(() => {
    const sid = store.createSession({ device: store.job(id)!.device, dmSessionId: '1', encoding: 'xml' }, Date.now());
    store.markSent([id], sid, Date.now());
    store.releaseJob(id, true, 3, why, Date.now());
  });
}

/** lose() on a running server's store (DmStore). */
async function loseIn(store: DmStore, id: number, why = 'session timeout (no message for 300 s)'): Promise<void> {
  await store.tx(async (t) => {
    const sid = await t.createSession({ device: (await t.job(id))!.device, dmSessionId: '1', encoding: 'xml' }, Date.now());
    await t.markSent([id], sid, Date.now());
    await t.releaseJob(id, true, 3, why, Date.now());
  });
}

const DEV = 'IMEI:490154203237518';

describe('dmw job on a data folder', () => {
  it('add: --on-unconfirmed is kept (--json onUnconfirmed), defaults by kind, and refused where it cannot work', async () => {
    const data = tmp();
    const replace = await dmw(['job', 'add', '--data', data, '--device', DEV, 'replace', './Lab/R', 'v', '--json']);
    expect(replace).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(replace.out)).toMatchObject({ id: 1, status: 'queued', onUnconfirmed: 'ask' });
    expect(JSON.parse((await dmw(['job', 'add', '--data', data, '--device', DEV, 'get', './DevInfo/Mod', '--json'])).out)).toMatchObject({ id: 2, onUnconfirmed: 'resend' });
    expect(JSON.parse((await dmw(['job', 'add', '--data', data, '--device', DEV, 'add', './Lab/A', 'a', '--on-unconfirmed', 'verify', '--json'])).out)).toMatchObject({ id: 3, onUnconfirmed: 'verify' });
    expect(JSON.parse((await dmw(['job', 'add', '--data', data, '--device', DEV, 'exec', './Lab/Reboot', '--on-unconfirmed', 'resend', '--json'])).out)).toMatchObject({ id: 4, command: 'exec', onUnconfirmed: 'resend' });
    expect(await dmw(['job', 'add', '--data', data, '--device', DEV, 'exec', './Lab/Reboot', '--on-unconfirmed', 'verify'])).toEqual({
      code: 2, out: '', err: 'dmw: --on-unconfirmed: verify reads the node back, which works for add, replace, delete jobs only, not exec; choose ask, resend or drop\n',
    });
    expect(await dmw(['job', 'add', '--data', data, '--device', DEV, 'get', './A', '--on-unconfirmed', 'sometimes'])).toEqual({
      code: 2, out: '', err: 'dmw: --on-unconfirmed must be one of ask, verify, resend, drop, got "sometimes"\n',
    });
    const store = ServerStore.open(data);
    expect(store.jobs().map((j) => j.onUnconfirmed)).toEqual(['ask', 'resend', 'verify', 'resend']);
    store.close();
  });

  it('list shows unconfirmed jobs (--status unconfirmed, the reason in the table); verify, resend and drop decide; a second decision exits 1', async () => {
    const data = tmp();
    await dmw(['job', 'add', '--data', data, '--device', DEV, 'replace', './Lab/R', 'v']);
    await dmw(['job', 'add', '--data', data, '--device', DEV, 'exec', './Lab/Reboot']);
    await dmw(['job', 'add', '--data', data, '--device', DEV, 'delete', './Lab/D']);
    await dmw(['job', 'add', '--data', data, '--device', DEV, 'get', './DevInfo/Mod']);
    const store = ServerStore.open(data);
    for (const id of [1, 2, 3]) lose(store, id);
    store.close();

    const list = await dmw(['job', 'list', '--data', data, '--status', 'unconfirmed', '--json']);
    expect(list.code).toBe(0);
    const jobs = JSON.parse(list.out) as Record<string, unknown>[];
    expect(jobs.map((j) => [j.id, j.status, j.onUnconfirmed])).toEqual([[1, 'unconfirmed', 'ask'], [2, 'unconfirmed', 'ask'], [3, 'unconfirmed', 'ask']]);
    expect(jobs[0]!.error).toMatch(/^sent in session 1, no Status arrived: session timeout \(no message for 300 s\); decide: verify, resend or drop$/);
    const table = (await dmw(['job', 'list', '--data', data])).out;
    expect(table).toMatch(/^2\s+IMEI:490154203237518\s+exec\s+\.\/Lab\/Reboot\s+unconfirmed\s+-\s+sent in session 2, no Status arrived: .*decide: resend or drop$/m);
    expect(table).toMatch(/^4\s+IMEI:490154203237518\s+get\s+\.\/DevInfo\/Mod\s+queued\s/m);

    expect(await dmw(['job', 'verify', '1', '--data', data])).toEqual({
      code: 0, err: '', out: `job 1 (replace ./Lab/R on ${DEV}) queued again: the node is read back first, and the command goes out only if the device does not have it yet\n`,
    });
    const resent = await dmw(['job', 'resend', '2', '--data', data, '--json']);
    expect(JSON.parse(resent.out)).toMatchObject({ id: 2, status: 'queued', onUnconfirmed: 'ask', error: null });
    expect((await dmw(['job', 'drop', '3', '--data', data])).out).toBe(`job 3 (delete ./Lab/D on ${DEV}) dropped (failed); the device may have executed it\n`);
    expect(JSON.parse((await dmw(['job', 'list', '--data', data, '--json'])).out).map((j: { status: string; verify?: boolean }) => [j.status, j.verify ?? false])).toEqual([
      ['queued', true], ['queued', false], ['failed', false], ['queued', false],
    ]);

    expect(await dmw(['job', 'drop', '1', '--data', data])).toEqual({ code: 1, out: '', err: 'dmw: job 1 is queued, not unconfirmed: verify, resend and drop are for jobs whose command went out without an answer\n' });
    expect(await dmw(['job', 'resend', '99', '--data', data])).toMatchObject({ code: 2, err: 'dmw: no job 99\n' });
    expect(await dmw(['job', 'verify', 'x1', '--data', data])).toMatchObject({ code: 2, err: expect.stringMatching(/^dmw: job ID must be a positive integer, got "x1"\nusage: dmw job verify ID --data DIR/) });
    expect(await dmw(['job', 'verify', '--data', data])).toMatchObject({ code: 2, err: expect.stringMatching(/^dmw: expected one job ID/) });
    expect(await dmw(['job', 'drop', '1', '--data', path.join(data, 'nowhere')])).toMatchObject({ code: 2, err: expect.stringMatching(/no DM Workbench data here/) });
    const s2 = ServerStore.open(data);
    lose(s2, 4); // a Get is read-only: sent again by default, never unconfirmed
    expect(s2.job(4)!.status).toBe('queued');
    const exec = s2.tx(() => s2.addJob(DEV, { kind: 'exec', uri: './Lab/Reboot' }, Date.now()));
    lose(s2, exec.id);
    s2.close();
    expect(await dmw(['job', 'verify', String(exec.id), '--data', data])).toMatchObject({ code: 2, err: expect.stringMatching(/verify reads the node back, which works for add, replace, delete only; decide resend or drop/) });
    expect((await dmw(['job', 'list', '--data', data, '--status', 'maybe'])).err).toBe('dmw: --status must be one of queued, sent, done, failed, unconfirmed\n');
  });
});

describe('dmw job --server (the management API)', () => {
  it('add --on-unconfirmed, list --status unconfirmed and the decisions go through POST /jobs and POST /jobs/{id}/decision', async () => {
    const TOKEN = 'operator-token-0123456789';
    const server = await DmServer.start({ dataDir: tmp(), port: 0, host: '127.0.0.1' });
    const api = attachApi(server, { auth: buildAuthConfig({ apiToken: TOKEN, peers: [], serverId: 'dmw' }) });
    cleanup.push(async () => {
      api.close();
      await server.close();
    });
    const remote = ['--server', `http://127.0.0.1:${server.port}`, '--token', TOKEN];
    const add = await dmw(['job', 'add', ...remote, '--device', DEV, 'add', './Lab/A', 'a', '--on-unconfirmed', 'drop', '--json']);
    expect(add).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(add.out)).toMatchObject({ id: 1, onUnconfirmed: 'drop' });
    expect((await server.store.job(1))!.onUnconfirmed).toBe('drop');
    expect(await dmw(['job', 'add', ...remote, '--device', DEV, 'exec', './Lab/Reboot', '--on-unconfirmed', 'verify'])).toMatchObject({ code: 2, err: expect.stringMatching(/^dmw: --on-unconfirmed: verify reads the node back/) });

    const exec = await server.store.tx((t) => t.addJob(DEV, { kind: 'replace', uri: './Lab/R', value: 'v' }, Date.now()));
    await loseIn(server.store, exec.id);
    const list = await dmw(['job', 'list', ...remote, '--status', 'unconfirmed', '--json']);
    expect(JSON.parse(list.out).map((j: { id: number; status: string }) => [j.id, j.status])).toEqual([[exec.id, 'unconfirmed']]);
    const verify = await dmw(['job', 'verify', String(exec.id), ...remote, '--json']);
    expect(verify).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(verify.out)).toMatchObject({ id: exec.id, status: 'queued', verify: true, onUnconfirmed: 'ask' });
    expect((await server.store.queuedJobSpecs(DEV)).find((j) => j.id === exec.id)).toMatchObject({ verify: true });
    const again = await dmw(['job', 'verify', String(exec.id), ...remote]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^dmw: http:\/\/127\.0\.0\.1:\d+: .*job 2 is queued, not unconfirmed/);
    expect((await dmw(['job', 'drop', '77', ...remote])).err).toMatch(/no job 77/);
  });
});
