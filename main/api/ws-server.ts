/**
 * The WebSocket transport and the static UI, for `npm run serve`: the same backend as the desktop app,
 * the UI in a browser. Binds to loopback only. Other local users can reach a loopback port, so every
 * WebSocket must present the session token printed with the URL (compared in constant time), and its
 * Origin must be this server's own, so no web page can drive the backend either. Every request is
 * checked first (http-guard.ts): a malformed path is 400 and a Host that is not the address we bound
 * to is 421 (DNS rebinding), and no request, however broken, can throw out of a handler: the DM
 * server and the virtual handsets live in this process.
 *
 * Wire format (JSON text frames): UI -> backend `{t:'call', id, channel, input}`; backend -> UI
 * `{t:'reply', id, reply: CallReply}`, `{t:'ready', lastEventId, resumed}` once on connecting, and
 * `{t:'event', id, name, payload}`. Events go through a bounded backlog (main/server/event-backlog.ts):
 * a UI that connects with `?lastEventId=N` first gets the events after N (or `{t:'gap', ...}` when the
 * backlog no longer reaches back that far), and one that stops reading gets `{t:'dropped', reason,
 * lastEventId}` and a close with code 4001 once the backlog has moved past it.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventBacklog, gapNotice, type EventSink, type EventStreamLimits, type SubscriberStats } from '../server/event-backlog.js';
import type { Backend } from './backend.js';
import { dispatch } from './dispatch.js';
import { APP_CSP } from './csp.js';
import { checkHost, hostNames, parseRequestTarget, rawResponse } from './http-guard.js';

/** Largest frame the UI may send (calls are small; job values are the big ones). */
export const MAX_CALL_BYTES = 8 * 1024 * 1024;

/** Close code of a WebSocket dropped because it fell behind (private range, RFC 6455 7.4.2). */
export const WS_CLOSE_FELL_BEHIND = 4001;

/** After the `dropped` message, how long a UI that does not read keeps its socket (and buffer). */
const DROP_GRACE_MS = 10_000;

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
  /** What the transport needs of the backend: its handlers and its events. */
  backend: Pick<Backend, 'handlers' | 'onEvent'>;
  /** renderer/dist */
  staticDir: string;
  port?: number;
  host?: string;
  token?: string;
  /** Backlog and per-UI buffer of the event stream; defaults in main/server/event-backlog.ts. */
  events?: Partial<EventStreamLimits>;
}

export interface UiServer {
  url: string;
  /** The URL with the token, to open in a browser. */
  urlWithToken: string;
  token: string;
  port: number;
  /** The event backlog and each connected UI's buffer. */
  eventStats(): { oldestId: number; newestId: number; subscribers: SubscriberStats[] };
  close(): Promise<void>;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function warn(what: string, e: unknown): void {
  process.emitWarning(`ui server: ${what}: ${e instanceof Error ? e.message : String(e)}`);
}

/** Answers on a bare socket and closes it; errors on it (the peer went away) are nobody's concern. */
function refuse(socket: Socket, status: number, reason: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawResponse(status, reason), () => socket.destroy());
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const root = path.resolve(opts.staticDir);
  let hosts = new Set<string>();
  let origins = new Set<string>();

  function serveStatic(req: http.IncomingMessage, res: http.ServerResponse): void {
    const h = checkHost(req.headers.host, hosts);
    const target = parseRequestTarget(req.url);
    const refused = !h.ok ? h : !target.ok ? target : undefined;
    if (refused) {
      res.writeHead(refused.status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', connection: 'close' }).end(`${refused.reason}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let rel = target.ok ? target.value.path : '/';
    if (rel === '/') rel = '/index.html';
    const file = path.resolve(root, `.${rel}`);
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
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
    else createReadStream(file).on('error', () => res.destroy()).pipe(res);
  }

  const server = http.createServer((req, res) => {
    try {
      serveStatic(req, res);
    } catch (e) {
      warn(`${req.method} failed`, e);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      else res.destroy();
    }
  });
  // A request Node cannot parse, or a connection reset mid-request: answer if we still can, never throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
    else if (err.code === 'HPE_HEADER_OVERFLOW') refuse(socket, 431, 'request headers too large');
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') refuse(socket, 408, 'request not complete in time');
    else refuse(socket, 400, `bad request (${err.code ?? 'unparsable'})`);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CALL_BYTES });
  const sockets = new Set<WebSocket>();
  const backlog = new EventBacklog<string>(opts.events);
  const off = opts.backend.onEvent((name, payload) => {
    backlog.publish(name, JSON.stringify(payload) ?? 'null');
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const h = checkHost(req.headers.host, hosts);
      if (!h.ok) return refuse(socket, h.status, h.reason);
      const target = parseRequestTarget(req.url);
      if (!target.ok) return refuse(socket, target.status, target.reason);
      const q = target.value.query;
      const origin = req.headers.origin ?? '';
      if (target.value.path !== '/api' || !sameToken(q.get('token') ?? '', token) || !origins.has(origin)) return refuse(socket, 403, 'forbidden');
      const resumeText = q.get('lastEventId');
      if (resumeText !== null && !/^\d{1,16}$/.test(resumeText)) return refuse(socket, 400, 'lastEventId must be the id of an event this backend sent (digits)');
      const lastEventId = resumeText === null ? undefined : Number(resumeText);
      wss.handleUpgrade(req, socket, head, (ws) => connected(ws, lastEventId));
    } catch (e) {
      warn('upgrade failed', e);
      socket.destroy();
    }
  });

  function connected(ws: WebSocket, lastEventId: number | undefined): void {
    sockets.add(ws);
    // A frame the protocol forbids (too large, bad UTF-8, reserved bits): ws closes the socket; the
    // error must not go unheard, or it would be thrown.
    ws.on('error', () => undefined);
    const sink: EventSink<string> = {
      accepts: () => true,
      write: (e, written) => {
        const head = `{"t":"event","id":${e.id},"name":${JSON.stringify(e.meta)},"payload":`;
        ws.send(`${head}${e.text}}`, () => written());
        return e.bytes + head.length + 1;
      },
      drop: (notice) => {
        ws.send(JSON.stringify({ t: 'dropped', ...notice }));
        ws.close(WS_CLOSE_FELL_BEHIND, 'fell behind: see the last message');
        setTimeout(() => ws.terminate(), DROP_GRACE_MS).unref();
      },
      bufferedBytes: () => ws.bufferedAmount,
    };
    const sub = backlog.subscribe(sink, lastEventId);
    ws.send(JSON.stringify({ t: 'ready', lastEventId: sub.resume.after, resumed: sub.resume.kind === 'resumed' }));
    const gap = gapNotice(sub.resume, 'refetch what the views show');
    if (gap) ws.send(JSON.stringify({ t: 'gap', lastEventId: gap.lastEventId, oldestId: gap.oldestId, message: gap.message }));
    sub.start();
    ws.on('close', () => {
      sub.close();
      sockets.delete(ws);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { t?: unknown; id?: unknown; channel?: unknown; input?: unknown };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return;
      }
      if (typeof msg !== 'object' || msg === null || msg.t !== 'call' || typeof msg.id !== 'number') return;
      const id = msg.id;
      dispatch(opts.backend.handlers, msg.channel, msg.input).then((reply) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ t: 'reply', id, reply }));
      }, (e: unknown) => warn('call failed', e));
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  server.on('error', (e) => warn('listener error', e));
  const port = (server.address() as AddressInfo).port;
  hosts = new Set(hostNames(host, port));
  origins = new Set([...hosts].map((h) => `http://${h}`));
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}/`;
  return {
    url,
    urlWithToken: `${url}?token=${token}`,
    token,
    port,
    eventStats: () => backlog.stats(),
    async close() {
      off();
      backlog.close();
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
