/**
 * The load-balancer configurations main/store/postgres/README.md documents (haproxy.cfg, nginx.conf
 * beside it) are checked by the real tools: `haproxy -c -f` and `nginx -t -c`. The files are used as
 * they are, with only what must exist on the machine swapped for temporary files (the lab CA file,
 * nginx's log, pid and error log paths). A copy with one mistake must fail the same check, so a
 * check that passes everything cannot hide a broken file.
 *
 * Then the README's recipe, run: the database made with the documented createuser/createdb, two
 * `dmw server --store` instances on it, HAProxy with the documented configuration in front
 * (test/helpers/haproxy.ts), handsets that reach them only through HAProxy complete their sessions
 * with messages on both instances, and one instance killed (kill -9) changes nothing for them. The
 * backup commands of the README (pg_dump, createdb, pg_restore) give a database dmw reads the same.
 *
 * .ci/run installs haproxy, nginx and libnginx-mod-stream; in CI a missing tool fails the suite,
 * elsewhere it is skipped with the reason printed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AAUTH_TYPE, VirtualHandset } from '../../main/client/index.js';
import { dmw } from '../helpers/dmw-servers.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { startFleet } from '../helpers/instances.js';
import { findPostgresBin, postgresAvailable, startPostgres } from '../helpers/postgres.js';

const DOCS = fileURLToPath(new URL('../../main/store/postgres', import.meta.url));
const HAPROXY_CFG = readFileSync(path.join(DOCS, 'haproxy.cfg'), 'utf8');
const NGINX_CONF = readFileSync(path.join(DOCS, 'nginx.conf'), 'utf8');
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** The program's path, or why the suite cannot run (CI: fails; elsewhere: SKIP printed). */
function tool(name: string, ...extra: string[]): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name}`], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  const missing = [...(found ? [] : [name]), ...extra.filter((f) => !existsSync(f))];
  if (missing.length === 0) return found;
  const why = `load-balancer configs: ${missing.join(', ')} not installed (apt-get install haproxy nginx libnginx-mod-stream, as .ci/run does)`;
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return undefined;
}

const haproxy = tool('haproxy');
const nginx = tool('nginx', STREAM_MODULE);

const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-lb-config-'));
// nginx may run its check as another user in CI: the folder must be readable and writable for it.
chmodSync(dir, 0o777);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A throwaway certificate for the file paths the configs name (only its existence and form matter). */
function certificate(): string {
  const crt = path.join(dir, 'ca.crt.pem');
  if (!existsSync(crt)) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'ca.key.pem'), '-out', crt, '-days', '1', '-subj', '/CN=dmw lab CA (test)'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.stderr}`);
  }
  return crt;
}

function checkHaproxy(text: string): { ok: boolean; out: string } {
  const file = path.join(dir, `haproxy-${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(file, text.replaceAll('/etc/dmw/ca.crt.pem', certificate()));
  const r = spawnSync(haproxy!, ['-c', '-f', file], { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function checkNginx(text: string): { ok: boolean; out: string } {
  const file = path.join(dir, `nginx-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text.replaceAll('/var/log/nginx/', `${dir}/`));
  const r = spawnSync(nginx!, ['-t', '-c', file, '-e', path.join(dir, 'error.log'), '-g', `pid ${path.join(dir, 'nginx.pid')};`], { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!haproxy)('the documented HAProxy configuration (main/store/postgres/haproxy.cfg)', () => {
  it('is valid for haproxy -c, and a broken copy is not', () => {
    const good = checkHaproxy(HAPROXY_CFG);
    expect(good.out).toMatch(/Configuration file is valid/);
    expect(good.ok, good.out).toBe(true);
    const broken = checkHaproxy(HAPROXY_CFG.replace('balance roundrobin', 'balance round-robin'));
    expect(broken.ok).toBe(false);
    expect(broken.out).toMatch(/balance only supports/);
  });

  it('says what the README promises: round robin, a health check on /api/v1/health, timeouts above a DM round trip, TLS passed through', () => {
    expect(HAPROXY_CFG).toMatch(/^\s+balance roundrobin$/m);
    expect(HAPROXY_CFG).toMatch(/^\s+option httpchk GET \/api\/v1\/health$/m);
    expect(HAPROXY_CFG).toMatch(/^\s+timeout server 120s$/m);
    expect(HAPROXY_CFG).toMatch(/^\s+timeout tunnel 1h$/m);
    expect(HAPROXY_CFG).toMatch(/backend dmw_tls\n(?:.*\n)*?\s+mode tcp/);
  });
});

describe.skipIf(!nginx)('the documented nginx configuration (main/store/postgres/nginx.conf)', () => {
  it('is valid for nginx -t -c, and a broken copy is not', () => {
    const good = checkNginx(NGINX_CONF);
    expect(good.out).toMatch(/test is successful/);
    expect(good.ok, good.out).toBe(true);
    const broken = checkNginx(NGINX_CONF.replace('proxy_read_timeout 120s;', 'proxy_read_timeout 120s'));
    expect(broken.ok).toBe(false);
    expect(broken.out).toMatch(/test failed/);
  });

  it('keeps the event stream unbuffered and never retries a DM message on another instance', () => {
    expect(NGINX_CONF).toMatch(/location = \/api\/v1\/events \{[^}]*proxy_buffering off;/);
    expect(NGINX_CONF).toMatch(/proxy_next_upstream off;/);
    expect(NGINX_CONF).toMatch(/^stream \{/m);
  });
});

const pgOk = haproxy !== undefined && postgresAvailable('HAProxy in front of two instances');
const TOKEN = 'lab-operator-token-0123456789';

describe.skipIf(!pgOk)('the README recipe: documented database commands, two instances, the documented HAProxy in front', () => {
  it('serves handsets through HAProxy with messages on both instances, and goes on when one is killed', async () => {
    const cluster = await startPostgres();
    const stops: Array<() => Promise<unknown> | unknown> = [() => cluster.stop()];
    try {
      // The README's createuser/createdb (without --pwprompt: the test cluster trusts 127.0.0.1).
      const found = findPostgresBin();
      const bin = 'bin' in found ? found.bin : '';
      const superuser = decodeURIComponent(new URL(cluster.url).username);
      for (const [program, args] of [['createuser', ['dmw']], ['createdb', ['--owner', 'dmw', 'dmw']]] as const) {
        const r = spawnSync(path.join(bin, program), [...args, '-h', '127.0.0.1', '-p', String(cluster.port), '-U', superuser], { encoding: 'utf8' });
        expect(r.status, `${program}: ${r.stderr}`).toBe(0);
      }
      const fleet = await startFleet({
        storeUrl: `postgres://dmw@127.0.0.1:${cluster.port}/dmw`,
        count: 2,
        // Every device arrives from HAProxy's address (README section 3).
        args: ['--client-auth', 'md5', '--client-cred', 'lab:labpw', '--server-cred', 'dmw:srvpw', '--api-token', TOKEN, '--max-preauth-per-address', '256'],
      });
      stops.unshift(() => fleet.stopAll());
      const proxy = await startHaproxy(fleet.instances.map((i) => i.port));
      stops.unshift(() => proxy.stop());
      const base = `http://127.0.0.1:${proxy.port}`;
      const health = await fetch(`${base}/api/v1/health`);
      expect([health.status, await health.json()]).toEqual([200, { ok: true }]);

      const handsets = await Promise.all([1, 2, 3].map(async () => {
        const h = await VirtualHandset.open({
          encoding: 'xml',
          device: { accounts: [{ serverId: 'dmw', addr: proxy.url, clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'labpw' }, serverCred: { type: AAUTH_TYPE.md5, name: 'dmw', secret: 'srvpw' } }] },
        });
        stops.unshift(() => h.close());
        return h;
      }));
      const call = async (method: string, p: string, body?: unknown) => {
        const r = await fetch(`${base}${p}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
        return { status: r.status, json: (await r.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
      };
      const round = async (label: string) => {
        const jobs: number[] = [];
        for (const h of handsets) {
          const r = await call('POST', '/api/v1/jobs', { device: h.devId, spec: { kind: 'get', uri: './DevInfo/Mod' } });
          expect(r.status, JSON.stringify(r.json)).toBe(201);
          jobs.push(r.json.job.id);
        }
        const outcomes = await Promise.all(handsets.map((h) => h.connect({ serverId: 'dmw' })));
        for (const o of outcomes) expect(o.ok, `${label}: ${o.error}`).toBe(true);
        for (const id of jobs) expect((await call('GET', `/api/v1/jobs/${id}`)).json, label).toMatchObject({ status: 'done', statusCode: 200 });
      };
      await round('first contact');
      await round('second session');
      // HAProxy's log (option httplog): DM messages went to both instances.
      const served = (n: number) => proxy.output().split('\n').filter((l) => l.includes(`dmw_http/dmw${n} `) && l.includes('"POST /dm')).length;
      expect([served(1) > 0, served(2) > 0], proxy.output().slice(-3000)).toEqual([true, true]);

      // kill -9 of instance 1: HAProxy sends the next connections to instance 2 (a refused
      // connection is retried elsewhere: option redispatch), before its health check notices.
      await fleet.kill9(0);
      await round('after kill -9 of instance 1');

      // README section 4: pg_dump while an instance runs, pg_restore into a new database; dmw reads it.
      const before = dmw(['job', 'list', '--store', `postgres://dmw@127.0.0.1:${cluster.port}/dmw`, '--json']);
      expect(before.code, before.err).toBe(0);
      expect(JSON.parse(before.out)).toHaveLength(9);
      const dump = path.join(dir, 'dmw.dump');
      const pgDump = spawnSync(path.join(bin, 'pg_dump'), ['--format=custom', `--file=${dump}`, `postgres://dmw@127.0.0.1:${cluster.port}/dmw`], { encoding: 'utf8' });
      expect(pgDump.status, pgDump.stderr).toBe(0);
      const made = spawnSync(path.join(bin, 'createdb'), ['--owner', 'dmw', 'dmw_restored', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', superuser], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const restored = `postgres://dmw@127.0.0.1:${cluster.port}/dmw_restored`;
      const pgRestore = spawnSync(path.join(bin, 'pg_restore'), ['--no-owner', '--role=dmw', `--dbname=${restored}`, dump], { encoding: 'utf8' });
      expect(pgRestore.status, pgRestore.stderr).toBe(0);
      const after = dmw(['job', 'list', '--store', restored, '--json']);
      expect(after.code, after.err).toBe(0);
      expect(after.out).toBe(before.out);
    } finally {
      for (const f of stops) await f();
    }
  }, 120_000);
});
