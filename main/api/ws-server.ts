/**
 * The WebSocket transport and the static UI, for `npm run serve`: the same backend as the desktop app,
 * the UI in a browser. Binds to loopback only. Other local users can reach a loopback port, so every
 * WebSocket must present the session token printed with the URL (compared in constant time), and its
 * Origin must be this server's own, so no web page can drive the backend either.
 *
 * Wire format (JSON text frames): UI -> backend `{t:'call', id, channel, input}`; backend -> UI
 * `{t:'reply', id, reply: CallReply}` and `{t:'event', name, payload}`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Backend } from './backend.js';
import { dispatch } from './dispatch.js';
import { APP_CSP } from './csp.js';


/** Largest frame the UI may send (calls are small; job values are the big ones). */
export const MAX_CALL_BYTES = 8 * 1024 * 1024;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface UiServerOptions {
  backend: Backend;
  /** renderer/dist */
  staticDir: string;
  port?: number;
  host?: string;
  token?: string;
}

export interface UiServer {
  url: string;
  /** The URL with the token, to open in a browser. */
  urlWithToken: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const root = path.resolve(opts.staticDir);
  let origins = new Set<string>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const headers: Record<string, string> = {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': rel === '/index.html' ? 'no-store' : 'max-age=3600',
    };
    if (rel.endsWith('.html')) {
      headers['content-security-policy'] = APP_CSP;
      headers['x-frame-options'] = 'DENY';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CALL_BYTES });
  const sockets = new Set<WebSocket>();

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const given = url.searchParams.get('token') ?? '';
    const origin = req.headers.origin ?? '';
    if (url.pathname !== '/api' || !sameToken(given, token) || !origins.has(origin)) {
      socket.write('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws));
  });

  wss.on('connection', (ws: WebSocket) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { t?: unknown; id?: unknown; channel?: unknown; input?: unknown };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.t !== 'call' || typeof msg.id !== 'number') return;
      const id = msg.id;
      void dispatch(opts.backend.handlers, msg.channel, msg.input).then((reply) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'reply', id, reply }));
      });
    });
  });

  const off = opts.backend.onEvent((name, payload) => {
    if (sockets.size === 0) return;
    const text = JSON.stringify({ t: 'event', name, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  origins = new Set([`http://${shown}:${port}`, ...(host === '127.0.0.1' ? [`http://localhost:${port}`] : [])]);
  const url = `http://${shown}:${port}/`;
  return {
    url,
    urlWithToken: `${url}?token=${token}`,
    token,
    port,
    async close() {
      off();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
