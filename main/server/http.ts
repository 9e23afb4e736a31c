/**
 * The HTTP(S) edge: media types, bounded body reading, TLS client certificates. It knows nothing of
 * SyncML beyond the content types; DmServer gives it a handler for whole request bodies.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { DM_MESSAGE_MEDIA_TYPES } from '../protocol/codec.js';
import { mediaType, readBody, type BodyRead } from '../protocol/http-body.js';
import { isStoreUnavailable, storeUnavailable } from './unavailable.js';
import { ArrivingShare, BodyBudget } from './body-budget.js';
import { DEFAULT_LIMITS } from './config.js';

/** Every media type a DM client may POST; the answer goes back in the same one. */
export const ACCEPTED_MEDIA_TYPES: ReadonlySet<string> = new Set(Object.keys(DM_MESSAGE_MEDIA_TYPES));


export type ClientCertMode = 'off' | 'optional' | 'require';

export interface TlsOptions {
  certPem: string;
  keyPem: string;
  /** CA that issues client certificates (the lab CA). */
  caPem?: string;
  clientCerts: ClientCertMode;
}

export interface IncomingBody {
  method: string;
  path: string;
  contentType: string;
  host: string | undefined;
  headers: http.IncomingHttpHeaders;
  bytes: Uint8Array;
  remote: string;
  tls: boolean;
  clientCert?: { cn: string; authorized: boolean; fingerprint: string };
  receivedAt: number;
}

export interface OutgoingResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

export interface ListenerHandlers {
  /** A complete request body within the limit (answered when the promise settles). */
  onBody(req: IncomingBody): OutgoingResponse | Promise<OutgoingResponse>;
  /** A body over the limit (not read to its end). */
  onTooLarge(req: Omit<IncomingBody, 'bytes'> & { declared: number | undefined; bytes: Uint8Array }): OutgoingResponse | Promise<OutgoingResponse>;
  /** Requests that are not DM messages at all (wrong method or path). */
  onOther?(req: http.IncomingMessage): OutgoingResponse | undefined;
  /**
   * Sees every request first (the management API: JSON bodies, async handlers, event streams).
   * Returns true when it took the request and will answer it itself.
   */
  onRequest?(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

export interface Listener {
  readonly server: http.Server | https.Server;
  readonly port: number;
  /** Bytes of request bodies held now, and the bound (maxBodyBytesInFlight). */
  readonly bodyBudget: { readonly inUse: number; readonly limit: number };
  close(): Promise<void>;
}

export interface ListenOptions {
  port: number;
  host: string;
  tls?: TlsOptions;
  maxBodyBytes: number;
  /** Bytes of bodies held at once (ServerLimits.maxBodyBytesInFlight); default: no bound beyond maxBodyBytes per request. */
  maxBodyBytesInFlight?: number;
  /** Connections open at once (ServerLimits.maxConnections); default: Node's (none). */
  maxConnections?: number;
  /**
   * ServerLimits.headersTimeoutMs / requestTimeoutMs (defaults there; without a headers timeout of
   * its own, a shorter request timeout brings it down too).
   */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  now: () => number;
}

/** The time a client has for a request's headers, and for all of it (answered 408 beyond). */
export interface RequestTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

interface ServeOptions {
  tls?: TlsOptions;
  maxBodyBytes: number;
  budget: BodyBudget;
  now: () => number;
}

export async function listen(opts: ListenOptions, h: ListenerHandlers): Promise<Listener> {
  const inFlight = opts.maxBodyBytesInFlight ?? Number.POSITIVE_INFINITY;
  if (!(inFlight >= opts.maxBodyBytes)) throw new RangeError(`maxBodyBytesInFlight (${String(opts.maxBodyBytesInFlight)}) must be at least maxBodyBytes (${opts.maxBodyBytes}), or no body of the largest size could ever be read`);
  if (opts.maxConnections !== undefined && !(Number.isSafeInteger(opts.maxConnections) && opts.maxConnections >= 1)) {
    throw new RangeError(`maxConnections must be a positive integer, got ${String(opts.maxConnections)}`);
  }
  const timeouts = requestTimeouts(opts);
  const budget = new BodyBudget(inFlight);
  const serveOpts: ServeOptions = { maxBodyBytes: opts.maxBodyBytes, budget, now: opts.now, ...(opts.tls ? { tls: opts.tls } : {}) };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    serve(req, res, serveOpts, h).catch((e) => {
      // The store went away (PostgreSQL down): nothing of the request was written; come back later.
      if (isStoreUnavailable(e)) {
        if (!res.headersSent) {
          const r = storeUnavailable();
          res.writeHead(r.status, r.headers);
        }
        res.end(storeUnavailable().body);
        return;
      }
      // Last line of defence: a bug answers 500, the process lives on.
      process.emitWarning(`request failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  };
  // Node looks for timed-out requests on an interval (30 s by default), so a timeout fires up to one
  // interval late: a quarter of the headers timeout keeps that within a quarter of either bound.
  const timing: http.ServerOptions = {
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(timeouts.headersTimeoutMs / 4))),
  };
  let server: http.Server | https.Server;
  if (opts.tls) {
    const t = opts.tls;
    server = https.createServer({
      ...timing,
      cert: t.certPem,
      key: t.keyPem,
      ...(t.caPem ? { ca: [t.caPem] } : {}),
      requestCert: t.clientCerts !== 'off',
      rejectUnauthorized: t.clientCerts === 'require',
    }, handler);
  } else {
    server = http.createServer(timing, handler);
  }
  // Beyond it Node closes a new connection as it accepts it: each one costs socket buffers and a
  // parser before any limit of ours could see a request on it.
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  server.on('clientError', (err: ParserError, socket: Socket) => {
    // With a listener here Node leaves the socket to us: answer if we still can, and close it either way.
    // The header limit is the process-wide one (createServer is given none; --max-http-header-size sets it).
    // Once refused, a socket's later errors (its parser repeats its error on every byte that still
    // comes, or the request timeout passes) change nothing: the refusal is on its way.
    if (refusing.has(socket)) return;
    refuseInTurn(socket, clientErrorAnswer(err, http.maxHeaderSize, timeouts));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    bodyBudget: budget,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    }),
  };
}

/** The listener's timeouts from its options and the defaults, checked: each named when it could not work. */
function requestTimeouts(opts: ListenOptions): RequestTimeouts {
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_LIMITS.requestTimeoutMs;
  const headersTimeoutMs = opts.headersTimeoutMs ?? Math.min(DEFAULT_LIMITS.headersTimeoutMs, requestTimeoutMs);
  for (const [name, ms] of [['requestTimeoutMs', requestTimeoutMs], ['headersTimeoutMs', headersTimeoutMs]] as const) {
    if (!(Number.isSafeInteger(ms) && ms >= 1)) throw new RangeError(`${name} must be a positive integer (milliseconds), got ${String(ms)}`);
  }
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new RangeError(`headersTimeoutMs (${headersTimeoutMs}) must not exceed requestTimeoutMs (${requestTimeoutMs}): the request's time includes its headers`);
  }
  return { headersTimeoutMs, requestTimeoutMs };
}

/** Sockets whose parser refusal is waiting for the answers owed before it. */
const refusing = new WeakSet<Socket>();

/**
 * Writes a parser refusal after the answers still owed on the connection, then closes it.
 *
 * Node's parser reads pipelined requests ahead: when it chokes on bytes after a request, that request
 * may still be waiting for its (async) answer. A raw answer written now would reach the client before
 * that response, or instead of it (the response then goes to an ended socket). Node gives the socket
 * the response it writes now, or will write next, as `_httpMessage` (what its own default refusal,
 * socketOnError in lib/_http_server.js, looks at; no public API says it) and hands that place to the
 * next queued response as each finishes. So the refusal waits, one response at a time, while the
 * attached response is owed to a request that arrived whole or has begun going out; then it goes
 * out after them, in order, as the client expects. An attached response whose request is neither
 * whole nor answered is the one the bad bytes belong to (its body would not parse, or came too
 * slowly): the refusal is its answer, now, and the read its handler waits on is aborted when the
 * socket closes. Waiting costs nothing on the request path: no per-request bookkeeping.
 */
function refuseInTurn(socket: Socket, answer: string): void {
  if (socket.destroyed) return;
  const owed = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (owed && (owed.req.complete || owed.headersSent)) {
    refusing.add(socket);
    // 'close' comes once it finished (after Node moved the next one in), or when the socket went.
    owed.once('close', () => refuseInTurn(socket, answer));
    return;
  }
  // From here a later error destroys the socket (a client still sending after its refusal is cut
  // off; the server allows half-open connections, so ending our side alone would not close it).
  refusing.delete(socket);
  if (socket.writable) socket.end(answer);
  else socket.destroy();
}

/** What Node's HTTP parser gives the 'clientError' listener (llhttp's code and reason, where it stopped). */
export type ParserError = Error & { code?: string; reason?: string; bytesParsed?: number };

/**
 * The raw answer to a request Node refused before it reached us: the bound it broke (header size,
 * time) or the parser's reason, and the byte where the parser stopped, as the other refusals here
 * name theirs. The statuses are Node's own defaults (431, 408, 400).
 */
export function clientErrorAnswer(err: ParserError, maxHeaderBytes: number, timeouts: RequestTimeouts = DEFAULT_LIMITS): string {
  const at = err.bytesParsed !== undefined ? ` at byte ${err.bytesParsed}` : '';
  let status = '400 Bad Request';
  let why = `bad HTTP request: ${err.reason ?? err.code ?? err.message}${at}`;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = '431 Request Header Fields Too Large';
    why = `the request's headers are over ${maxHeaderBytes} bytes (refused${at})`;
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = '408 Request Timeout';
    why = `the request was not complete in time: its headers within ${duration(timeouts.headersTimeoutMs)}, all of it within ${duration(timeouts.requestTimeoutMs)}`;
  }
  const body = `${why}\n`;
  return `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** 30000 -> `30 s`, 250 -> `250 ms`: the bounds as they were set. */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, opts: ServeOptions, h: ListenerHandlers): Promise<void> {
  const receivedAt = opts.now();
  if (h.onRequest?.(req, res)) return;
  const other = req.method !== 'POST' ? h.onOther?.(req) : undefined;
  if (other) return send(res, other);
  if (req.method !== 'POST') return send(res, { status: 405, headers: { allow: 'POST', 'content-type': 'text/plain' }, body: 'DM messages are POSTed\n' });

  const sock = req.socket as TLSSocket;
  const tls = Boolean(opts.tls);
  let clientCert: IncomingBody['clientCert'];
  if (tls && typeof sock.getPeerCertificate === 'function') {
    const c = sock.getPeerCertificate();
    if (c && Object.keys(c).length > 0) {
      const subjectCn = c.subject?.CN;
      clientCert = { cn: Array.isArray(subjectCn) ? subjectCn[0] ?? '' : subjectCn ?? '', authorized: sock.authorized, fingerprint: c.fingerprint256 ?? '' };
    }
  }
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const base: IncomingBody = {
    method: req.method,
    path: query < 0 ? url : url.slice(0, query),
    contentType: mediaType(req.headers['content-type']),
    host: req.headers.host,
    headers: req.headers,
    bytes: NO_BYTES,
    remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
    tls,
    receivedAt,
  };
  if (clientCert) base.clientCert = clientCert;

  const declaredText = req.headers['content-length'];
  const declared = declaredText !== undefined ? Number(declaredText) : undefined;
  if (declared !== undefined && declared > opts.maxBodyBytes) {
    void readBody(req, 0).catch(() => undefined); // drain (capped) so the client can read the 413
    return send(res, await h.onTooLarge({ ...base, declared, bytes: new Uint8Array() }), true);
  }
  // Its share of the bytes all bodies may hold at once, until it is answered (body-budget.ts): a
  // declared length before the body is read (one take, one give); without one, each chunk as it
  // arrives, so such a body holds what it brought, not the most it may bring.
  const arriving = declared === undefined ? new ArrivingShare(opts.budget) : undefined;
  if (declared !== undefined && !opts.budget.take(declared)) {
    void readBody(req, 0).catch(() => undefined); // drain (capped) so the client can read the 503
    return send(res, opts.budget.refusal(declared), true);
  }
  try {
    let read: BodyRead;
    try {
      read = await readBody(req, opts.maxBodyBytes, arriving?.admit);
    } catch {
      // The client broke off mid-body, or its body would not parse (answered 400 by 'clientError'):
      // nobody is left to answer, and it is no bug of ours to warn about.
      return;
    }
    if (read.refused) return send(res, arriving!.refusal(), true);
    const { bytes, over } = read;
    if (over) return send(res, await h.onTooLarge({ ...base, declared, bytes }), true);
    base.bytes = bytes;
    send(res, await h.onBody(base));
  } finally {
    opts.budget.give(arriving === undefined ? declared! : arriving.taken);
  }
}

const NO_BYTES = new Uint8Array();

function send(res: http.ServerResponse, r: OutgoingResponse, close = false): void {
  const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  const headers: Record<string, string> = {};
  for (const k in r.headers) headers[k] = r.headers[k]!;
  headers['content-length'] = String(body.length);
  if (close) headers.connection = 'close';
  res.writeHead(r.status, headers);
  res.end(body);
}
