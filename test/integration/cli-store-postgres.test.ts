/**
 * `dmw job|session|capture` on a shared lab server's PostgreSQL database (issue 16): `--store URL`
 * or DMW_STORE_URL instead of `--data DIR`, against a real cluster (test/helpers/postgres.ts). The
 * same data in a SQLite data folder and in the database gives the same --json output; a URL that
 * is not a PostgreSQL one, or a database that is not there, exits 2 naming the URL (never its password).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../main/cli/main.js';
import { DmServer } from '../../main/server/server.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { DmStore } from '../../main/store/store.js';
import { sessionMessages } from '../helpers/filter-fixture.js';
import { freePort, postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const run = postgresAvailable('dmw job/session --store');
const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);

/** Runs `dmw` in this process; `env` is set for the call only. */
async function dmw(args: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** What a server leaves in its store after two devices' sessions: sessions with real DM messages, jobs in several states, a tree. */
async function fillAsAServerWould(s: DmStore): Promise<void> {
  await s.touchDevice('IMEI:1', T0);
  await s.touchDevice('IMEI:2', T0 + 1);
  for (const [i, dev] of ['IMEI:1', 'IMEI:2', 'IMEI:1'].entries()) {
    const at = T0 + 1000 * (i + 1);
    const sid = await s.createSession({ device: dev, dmSessionId: String(i + 1), encoding: 'xml', authType: 'md5' }, at);
    const jobs = await s.tx(async (t) => [await t.addJob(dev, { kind: 'get', uri: './DevInfo/Ext' }, at), await t.addJob(dev, { kind: 'replace', uri: './Vendor/Lab/Greeting', value: 'hello world' }, at)]);
    await s.claimJobs(dev, sid, at + 1);
    await s.addMessages(sessionMessages({ devId: dev, dmSessionId: String(i + 1), at, getStatus: i === 1 ? 404 : 200 }).map((m, seq) => ({ ...m, sessionId: sid, seq: seq + 1 })));
    await s.finishJob({ id: jobs[0]!.id, status: i === 1 ? 'failed' : 'done', statusCode: i === 1 ? 404 : 200, results: [], members: [], error: null }, at + 30);
    if (i < 2) {
      await s.finishJob({ id: jobs[1]!.id, status: 'done', statusCode: 200, results: [], members: [], error: null }, at + 30);
      await s.endSession(sid, 'done', 'ok', at + 40);
    } else {
      // The last one was cut off: its Replace went out and never came back (unconfirmed, the operator decides).
      await s.releaseSessionJobs(sid, 'session timeout', at + 300_000, 3);
      await s.endSession(sid, 'timeout', 'no message for 300 s', at + 300_000);
    }
  }
  await s.upsertTree('IMEI:1', [{ uri: './DevInfo/Mod', format: 'chr', type: null, data: 'Lab Phone' }], T0 + 5000);
  await s.addJob('IMEI:3', { kind: 'discover', uri: '.' }, T0 + 6000);
}

describe.skipIf(!run)('dmw job and dmw session on PostgreSQL (--store URL, DMW_STORE_URL)', () => {
  let cluster: TestPostgres;
  let url: string;
  let dir: string;
  let empty: string;

  beforeAll(async () => {
    cluster = await startPostgres();
    url = await cluster.createDatabase('lab');
    empty = await cluster.createDatabase('empty');
    dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-cli-store-'));
    const pgStore = await PostgresStore.open(url);
    const sqlite = SqliteStore.open(dir);
    try {
      await fillAsAServerWould(pgStore);
      await fillAsAServerWould(sqlite);
    } finally {
      await pgStore.close();
      await sqlite.close();
    }
  }, 60_000);
  afterAll(() => {
    cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('session list and show: the same --json from --store URL, from DMW_STORE_URL and from the SQLite folder', async () => {
    const forms: [string, string[], Record<string, string | undefined>][] = [
      ['--data', ['--data', dir], { DMW_STORE_URL: undefined }],
      ['--store', ['--store', url], { DMW_STORE_URL: undefined }],
      ['DMW_STORE_URL', [], { DMW_STORE_URL: url }],
    ];
    for (const args of [['session', 'list', '--json'], ['session', 'list', '--device', 'IMEI:1', '--limit', '1', '--json'], ['session', 'show', '2', '--json'], ['session', 'show', '3', '--json'], ['session', 'list']]) {
      const outs = [];
      for (const [name, where, env] of forms) {
        const r = await dmw([...args, ...where], env);
        expect(r, `${args.join(' ')} ${name}`).toMatchObject({ code: 0, err: '' });
        outs.push(r.out);
      }
      expect(outs[1], args.join(' ')).toBe(outs[0]);
      expect(outs[2], args.join(' ')).toBe(outs[0]);
    }
    // session check: the same verdict (exit status) and findings.
    for (const id of ['1', '2', '3']) {
      const a = await dmw(['session', 'check', id, '--data', dir, '--json']);
      const c = await dmw(['session', 'check', id, '--store', url, '--json']);
      expect(c, `check ${id}`).toEqual(a);
      expect(JSON.parse(c.out)).toMatchObject({ session: Number(id) });
    }
    const list = JSON.parse((await dmw(['session', 'list', '--store', url, '--json'])).out) as { id: number; device: string; state: string; messageCount: number }[];
    expect(list.map((s) => [s.id, s.device, s.state, s.messageCount])).toEqual([[3, 'IMEI:1', 'timeout', 4], [2, 'IMEI:2', 'done', 4], [1, 'IMEI:1', 'done', 4]]);
    const show = JSON.parse((await dmw(['session', 'show', '2', '--store', url, '--json'])).out) as { messages: { statuses: { code: string }[] }[] };
    expect(show.messages[2]!.statuses.map((s) => s.code)).toContain('404');
    // --data with --store: the store is the database (the folder is for files beside it).
    expect((await dmw(['session', 'show', '3', '--store', url, '--data', path.join(dir, 'nothing-here'), '--json'])).out).toBe((await dmw(['session', 'show', '3', '--data', dir, '--json'])).out);
    expect(await dmw(['session', 'show', '9', '--store', url])).toMatchObject({ code: 2, err: `dmw: no session 9 in ${url}\n` });
  });

  it('session find: the same commands from the database\'s message index as from the folder\'s', async () => {
    for (const filter of ['cmd == "Get" && status >= 400', 'uri contains "Greeting"', 'dev == "IMEI:2" && dir == "out"', 'severity == "error"']) {
      const a = await dmw(['session', 'find', filter, '--data', dir, '--json']);
      const b = await dmw(['session', 'find', filter, '--store', url, '--json']);
      expect(a, filter).toMatchObject({ code: 0, err: '' });
      expect(b.out, filter).toBe(a.out);
    }
    const failed = JSON.parse((await dmw(['session', 'find', 'cmd == "Get" && status >= 400', '--json'], { DMW_STORE_URL: url })).out) as unknown[];
    expect(failed).toEqual([{ session: 2, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 }]);
    const bad = await dmw(['session', 'find', 'status >=', '--store', url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^dmw: bad filter at character 9/);
  });

  it('job list, add, verify and clear: the same --json on both stores', async () => {
    const strip = (text: string) => (JSON.parse(text) as Record<string, unknown>[]).map(({ createdAt, updatedAt, ...j }) => ({ ...j, times: [typeof createdAt, typeof updatedAt] }));
    for (const args of [['job', 'list', '--json'], ['job', 'list', '--status', 'unconfirmed', '--json'], ['job', 'list', '--device', 'IMEI:2', '--json'], ['job', 'list']]) {
      const a = await dmw([...args, '--data', dir]);
      const b = await dmw([...args, '--store', url]);
      const c = await dmw(args, { DMW_STORE_URL: url });
      expect(b, args.join(' ')).toMatchObject({ code: 0, err: '' });
      expect(b.out, args.join(' ')).toBe(a.out);
      expect(c.out, args.join(' ')).toBe(a.out);
    }
    const unconfirmed = JSON.parse((await dmw(['job', 'list', '--store', url, '--status', 'unconfirmed', '--json'])).out) as { id: number; target: string }[];
    expect(unconfirmed.map((j) => j.target)).toEqual(['./Vendor/Lab/Greeting']);
    const id = String(unconfirmed[0]!.id);

    // Writes: the same answers (times aside) and the same lists afterwards.
    const steps = [
      ['job', 'add', '--device', 'IMEI:2', 'replace', './Vendor/X', 'v1', '--on-unconfirmed', 'verify', '--json'],
      ['job', 'add', '--device', 'IMEI:new', 'exec', './Vendor/Run', '--correlator', 'c-1', '--json'],
      ['job', 'verify', id, '--json'],
      ['job', 'drop', id, '--json'],
      ['job', 'clear', '--device', 'IMEI:3'],
      ['job', 'list', '--json'],
    ];
    for (const args of steps) {
      const a = await dmw([...args, '--data', dir]);
      const b = await dmw([...args, '--store', url]);
      expect(b.code, args.join(' ')).toBe(a.code);
      expect(b.err, args.join(' ')).toBe(a.err);
      if (args.includes('--json')) expect(strip(b.out.startsWith('[') ? b.out : `[${b.out}]`), args.join(' ')).toEqual(strip(a.out.startsWith('[') ? a.out : `[${a.out}]`));
      else expect(b.out, args.join(' ')).toBe(a.out);
    }
    // The second decision is refused the same way: exit 1, the store's reason.
    const again = await dmw(['job', 'resend', id, '--store', url]);
    expect(again).toMatchObject({ code: 1, err: expect.stringMatching(new RegExp(`^dmw: job ${id} is queued, not unconfirmed`)) });
    expect(await dmw(['job', 'drop', '999', '--store', url])).toMatchObject({ code: 2, err: 'dmw: no job 999\n' });
    const added = JSON.parse((await dmw(['job', 'list', '--store', url, '--device', 'IMEI:new', '--json'])).out) as { command: string; status: string }[];
    expect(added).toMatchObject([{ command: 'exec', status: 'queued' }]);
  });

  it('an empty database is a store like an empty folder: job add creates the schema, job list answers', async () => {
    expect(await dmw(['job', 'list', '--store', empty])).toMatchObject({ code: 0, out: 'no jobs\n' });
    expect(await dmw(['job', 'add', '--store', empty, '--device', 'IMEI:9', 'get', './DevInfo/Mod'])).toMatchObject({ code: 0, out: 'job 1 queued for IMEI:9: get ./DevInfo/Mod\n' });
    expect(await dmw(['session', 'list', '--store', empty])).toMatchObject({ code: 0, out: 'no sessions\n' });
  });

  it('session export from the database and capture import into it round-trip a session', async () => {
    const out = path.join(dir, 'two.bundle.json');
    expect(await dmw(['session', 'export', '2', '--store', url, '--format', 'bundle', '-o', out])).toMatchObject({ code: 0, err: '' });
    const imported = await dmw(['capture', 'import', out, '--store', empty, '--json']);
    expect(imported).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(imported.out)).toMatchObject({ sessions: 1, messages: 4 });
    const shown = JSON.parse((await dmw(['session', 'list', '--store', empty, '--json'])).out) as { state: string; device: string; messageCount: number }[];
    expect(shown).toMatchObject([{ state: 'imported', device: 'IMEI:2', messageCount: 4 }]);
  });

  it('end to end: a job added with --store goes out from a dmw server on the database, and its result and session are read back with --store', async () => {
    const served = await cluster.createDatabase('served');
    const server = await DmServer.start({
      dataDir: mkdtempSync(path.join(dir, 'srv-')), storeUrl: served, port: 0, host: '127.0.0.1',
      clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'pw' },
    });
    try {
      const dev = 'IMEI:490154203237518';
      const tree = path.join(dir, 'phone.json');
      // The handset's account: client lab:pw, server dmw:pw (the device checks the server too).
      expect(await dmw(['tree', 'init', '-o', tree, '--devid', dev, '--account', 'dmw:lab:pw'])).toMatchObject({ code: 0 });
      const added = await dmw(['job', 'add', '--store', served, '--device', dev, 'get', './DevInfo/DevId', '--json']);
      expect(added).toMatchObject({ code: 0, err: '' });
      expect(JSON.parse(added.out)).toMatchObject({ status: 'queued', device: dev });
      const sim = await dmw(['sim', '--server', server.url, '--count', '1', '--tree', tree, '--json']);
      expect(sim, sim.err).toMatchObject({ code: 0 });
      const jobs = JSON.parse((await dmw(['job', 'list', '--json'], { DMW_STORE_URL: served })).out) as { status: string; results: { data: string }[] }[];
      expect(jobs, JSON.stringify(jobs)).toMatchObject([{ status: 'done', results: [{ data: dev }] }]);
      const sessions = JSON.parse((await dmw(['session', 'list', '--store', served, '--json'])).out) as { id: number; device: string; state: string; messageCount: number }[];
      expect(sessions).toMatchObject([{ device: dev, state: 'done' }]);
      const shown = await dmw(['session', 'show', String(sessions[0]!.id), '--store', served]);
      expect(shown.code).toBe(0);
      expect(shown.out).toContain('./DevInfo/DevId');
    } finally {
      await server.close();
    }
  }, 60_000);

  it('a bad URL, or a database that is not there, exits 2 naming the URL and where it came from, without its password', async () => {
    const port = await freePort();
    const cases: [string[], Record<string, string | undefined>, RegExp][] = [
      [['job', 'list', '--store', 'mysql://lab@127.0.0.1/dmw'], {}, /^dmw: --store mysql:\/\/lab@127\.0\.0\.1\/dmw: not a store URL; expected postgres:\/\/USER@HOST:PORT\/DB/],
      [['session', 'list', '--store', './dmw.sqlite'], {}, /^dmw: --store \.\/dmw\.sqlite: not a store URL/],
      [['session', 'show', '1'], { DMW_STORE_URL: 'http://db.lab:5432/dmw' }, /^dmw: DMW_STORE_URL http:\/\/db\.lab:5432\/dmw: not a store URL/],
      [['job', 'add', '--store', 'postgres://lab:s3cret@[::1/dmw', '--device', 'X', 'get', './A'], {}, /^dmw: --store postgres:\/\/lab:\*\*\*@\[::1\/dmw: not a valid URL/],
      [['capture', 'import', '/nonexistent.pcap', '--store', 'sqlite:///tmp/x'], {}, /^dmw: --store sqlite:\/\/\/tmp\/x: not a store URL/],
      [['session', 'find', 'cmd == "Get"', '--store', 'redis://127.0.0.1'], {}, /^dmw: --store redis:\/\/127\.0\.0\.1: not a store URL/],
      [['job', 'list', '--store', `postgres://lab:s3cret@127.0.0.1:${port}/dmw`], {}, new RegExp(`^dmw: --store: could not open the store at postgres://lab:\\*\\*\\*@127\\.0\\.0\\.1:${port}/dmw: `)],
    ];
    for (const [args, env, want] of cases) {
      const r = await dmw(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(want);
      expect(r.err).not.toContain('s3cret');
      expect(r.out).toBe('');
    }
    // --store and --server name two different things.
    expect(await dmw(['job', 'list', '--store', url, '--server', 'http://127.0.0.1:1'])).toMatchObject({ code: 2, err: 'dmw: give --store URL or --server URL, not both\n' });
    // An empty DMW_STORE_URL is no URL: the SQLite folder.
    expect(await dmw(['session', 'list', '--data', dir, '--json'], { DMW_STORE_URL: '' })).toMatchObject({ code: 0 });
  }, 30_000);
});
