/**
 * The load-balancer configurations main/store/postgres/README.md documents (haproxy.cfg, nginx.conf
 * beside it) are checked by the real tools: `haproxy -c -f` and `nginx -t -c`. The files are used as
 * they are, with only what must exist on the machine swapped for temporary files (the lab CA file,
 * nginx's log, pid and error log paths). A copy with one mistake must fail the same check, so a
 * check that passes everything cannot hide a broken file.
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
