/**
 * Real `dmw` processes for integration tests: the CLI run to completion, `dmw server` started on a
 * free loopback port (waiting for its "listening on" line), JSON calls to its management API
 * (main/server/API.md) and a DMA-DMS subscriber on its event stream. Whatever is started or created
 * is undone after each test (dmwLab registers the afterEach).
 */
import { afterEach } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './tools.js';

export const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');

/** Runs `dmw ARGS` to completion. */
export function dmw(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 30_000, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * Runs `dmw ARGS` without blocking this process: needed while a `dmw server` child of this process
 * is busy, since its output pipe is read here and would fill up during a spawnSync.
 */
export function dmwAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

export interface Running {
  child: ChildProcess;
  port: number;
  dmUrl: string;
  base: string;
  output: () => string;
  /** Settles when the process has exited (tests that stop or kill it look at how). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export type Tls = { ca?: string; cert?: string; key?: string; token?: string };

/** One JSON call; `auth` is a bearer token, or TLS material (a client certificate, and/or a token). */
export function api(base: string, method: string, p: string, auth: string | Tls, body?: unknown): Promise<{ status: number; json: any }> {
  const u = new URL(p, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  const { token, ...tls } = typeof auth === 'string' ? { token: auth } : auth;
  if (token) headers.authorization = `Bearer ${token}`;
  if (payload) headers['content-type'] = 'application/json';
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // A new connection per call: Node's global agent keeps idle sockets for 5 s, as long as the
    // server does, so a call that reused one at that moment met the server closing it (socket hang up).
    const req = lib.request(u, { method, headers, agent: false, ...tls }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (t += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: t ? JSON.parse(t) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export type StreamEvent = { event: string; data: any };

/** Server-sent events from text chunks as they arrive: each complete `event:`/`data:` block, its data JSON-parsed. */
export function sseReader(onEvent: (e: StreamEvent) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (ev && data) onEvent({ event: ev, data: JSON.parse(data) });
    }
  };
}

/**
 * Process-starting helpers for one test file. Whatever they start or create, and whatever the test
 * pushes onto `cleanup`, is undone after each test, newest first.
 */
export function dmwLab(prefix = 'dmw-') {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  function tmp(): string {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    cleanup.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }

  /** `dmw server --port 0 --host 127.0.0.1 --data DATA ARGS`, once it listens. */
  async function startServer(data: string, args: string[], scheme = 'http'): Promise<Running> {
    const child = spawn(process.execPath, [BIN, 'server', '--port', '0', '--host', '127.0.0.1', '--data', data, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!/listening on /.test(out)) {
      if (child.exitCode !== null) throw new Error(`dmw server exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`dmw server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const port = Number(/\(port (\d+),/.exec(out)![1]);
    return { child, port, dmUrl: `${scheme}://127.0.0.1:${port}/dm`, base: `${scheme}://127.0.0.1:${port}`, output: () => out, exited };
  }

  /** A DMA-DMS subscriber: the server's event stream (`/api/v1/events`), parsed. */
  function subscribe(base: string, token: string, query = '') {
    const events: StreamEvent[] = [];
    const req = http.get(`${base}/api/v1/events${query}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', sseReader((e) => events.push(e)));
    });
    req.on('error', () => undefined);
    cleanup.push(() => req.destroy());
    return {
      events,
      async until(pred: (e: StreamEvent) => boolean, ms = 15_000) {
        const deadline = Date.now() + ms;
        for (;;) {
          const hit = events.find(pred);
          if (hit) return hit;
          if (Date.now() > deadline) throw new Error(`no matching event; got ${JSON.stringify(events.map((e) => e.event))}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
    };
  }

  return { tmp, startServer, subscribe, cleanup };
}
