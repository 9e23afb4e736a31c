/**
 * HAProxy with the documented configuration (main/store/postgres/haproxy.cfg) in front of dmw
 * instances on 127.0.0.1, for the lab-server test and the PostgreSQL bench. The file is used as it
 * is, except what names the machine: its plain-HTTP frontend binds a free loopback port, its backend
 * lists the given instances instead of the 10.0.0.x examples, and the TLS passthrough part (for
 * instances started with --tls) is left out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './postgres.js';

export const DOCUMENTED_HAPROXY_CFG = fileURLToPath(new URL('../../main/store/postgres/haproxy.cfg', import.meta.url));

/** The haproxy program, or undefined when it is not installed. */
export function haproxyBin(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v haproxy || ls /usr/sbin/haproxy'], { encoding: 'utf8' });
  return r.stdout.trim().split('\n')[0] || undefined;
}

/** The documented file for these instance ports, listening on 127.0.0.1:listenPort. */
export function haproxyConfigFor(backendPorts: readonly number[], listenPort: number, opts: { quiet?: boolean; healthPath?: string } = {}): string {
  const doc = readFileSync(DOCUMENTED_HAPROXY_CFG, 'utf8');
  const tls = doc.indexOf('\nfrontend dm_tls');
  if (tls < 0) throw new Error(`${DOCUMENTED_HAPROXY_CFG}: no "frontend dm_tls" section`);
  let cfg = doc.slice(0, tls + 1);
  const bind = /^(\s+)bind :8080$/m;
  if (!bind.test(cfg)) throw new Error(`${DOCUMENTED_HAPROXY_CFG}: no "bind :8080" in frontend dm_http`);
  cfg = cfg.replace(bind, `$1bind 127.0.0.1:${listenPort}`);
  const servers = /^(\s+)server dmw\d+ \S+\n/gm;
  const indent = /^(\s+)server dmw1 /m.exec(cfg)?.[1];
  if (indent === undefined) throw new Error(`${DOCUMENTED_HAPROXY_CFG}: no "server dmw1" line in backend dmw_http`);
  cfg = cfg.replace(servers, '');
  cfg = `${cfg.trimEnd()}\n${backendPorts.map((p, i) => `${indent}server dmw${i + 1} 127.0.0.1:${p}`).join('\n')}\n`;
  // The bench: no log line per request (it would be HAProxy's CPU, not the balancing's).
  if (opts.quiet) cfg = cfg.replace(/^\s+log stdout .*\n/m, '').replace(/^\s+option httplog\n/m, '');
  // The bench's server children have no management API (its /api/v1/health): their DM path answers a GET.
  if (opts.healthPath) cfg = cfg.replace('option httpchk GET /api/v1/health', `option httpchk GET ${opts.healthPath}`);
  return cfg;
}

export interface RunningHaproxy {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts HAProxy in the foreground with haproxyConfigFor(); resolves once it accepts connections. */
export async function startHaproxy(backendPorts: readonly number[], opts: { quiet?: boolean; basePath?: string; healthPath?: string } = {}): Promise<RunningHaproxy> {
  const bin = haproxyBin();
  if (!bin) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-haproxy-'));
  const port = await freePort();
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfigFor(backendPorts, port, opts));
  const child = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-200_000)));
  child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-200_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`haproxy exited ${child.exitCode}:\n${out}`);
    }
    if (await canConnect(port)) break;
    if (i > 100) {
      await stop();
      throw new Error(`haproxy did not listen on 127.0.0.1:${port} within 10 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `http://127.0.0.1:${port}${opts.basePath ?? '/dm'}`, port, pid: child.pid!, child, output: () => out, stop };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
