/**
 * The management API on the DM server's own listener, under /api/v1 (API.md): authentication,
 * bounded JSON bodies, routing, and every error as JSON naming the field.
 */
import type http from 'node:http';
import type { z } from 'zod';
import { ApiError } from './errors.js';
import { isStoreUnavailable, STORE_RETRY_AFTER_SEC } from '../unavailable.js';
import { invalid } from './errors.js';
import { authenticate, type ApiAuthConfig, type Principal } from './auth.js';
import { API_PREFIX } from './client.js';
import { mediaType, readBody } from '../../protocol/http-body.js';

export const DEFAULT_MAX_API_BODY = 1024 * 1024;

export interface RequestContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  principal: Principal;
  params: string[];
  query: Record<string, string>;
  /** Parses the JSON body against a schema (400/413/415 otherwise). */
  body<S extends z.ZodType>(schema: S): Promise<z.infer<S>>;
  /** Parses the query string against a schema. */
  q<S extends z.ZodType>(schema: S): z.infer<S>;
}

/** What a handler returns: a JSON answer, or 'streaming' when it answered itself (SSE). */
export type HandlerResult = { status: number; json: unknown; headers?: Record<string, string> } | 'streaming';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under /api/v1, with `:name` segments (URL-decoded into params, in order). */
  path: string;
  handler: (c: RequestContext) => Promise<HandlerResult> | HandlerResult;
}

interface CompiledRoute extends Route {
  re: RegExp;
}

function compile(r: Route): CompiledRoute {
  const re = new RegExp(`^${API_PREFIX}${r.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[a-z]+/gi, '([^/]+)')}$`);
  return { ...r, re };
}

/**
 * A body an early answer left unread (401, 404, 413, 415 ... come before it) is read and dropped
 * when it announced at most this many bytes, so the connection can serve the next request.
 */
export const MAX_DRAINED_BODY = 64 * 1024;

/**
 * Whether the connection must close after the answer: when the request's body has not been read to
 * its end and is larger than MAX_DRAINED_BODY (or of unknown length), keeping the connection would
 * mean reading, and throwing away, whatever the client still sends (50 MB without credentials, say).
 */
function mustClose(req: http.IncomingMessage): boolean {
  if (req.complete) return false;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared <= MAX_DRAINED_BODY) {
    req.resume();
    return false;
  }
  return true;
}

/** Answers with JSON (closing the connection when its body is left unread: mustClose). */
function sendJson(req: http.IncomingMessage, res: http.ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = Buffer.from(`${JSON.stringify(json)}\n`, 'utf8');
  const close = mustClose(req) ? { connection: 'close' } : {};
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(body.length), ...headers, ...close });
  res.end(body);
}

async function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  // Refused before reading: the body is left unread and the connection closed (sendJson).
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') {
    throw new ApiError(415, 'unsupported-media-type', `content-type must be application/json, got "${type || '(none)'}"`, 'content-type');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    throw new ApiError(413, 'too-large', `body of ${declared} bytes is over the limit of ${max} bytes`, 'body', undefined, { connection: 'close' });
  }
  const { bytes, over } = await readBody(req, max);
  if (over) throw new ApiError(413, 'too-large', `body is over the limit of ${max} bytes`, 'body', undefined, { connection: 'close' });
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'bad-json', 'the body is empty; send a JSON object', 'body');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'bad-json', `the body is not valid JSON: ${(e as Error).message}`, 'body');
  }
}

export interface RouterOptions {
  auth: ApiAuthConfig;
  routes: Route[];
  maxBodyBytes?: number;
}

/** The listener hook: true for every /api/ request (answered here), false for anything else. */
export function createRouter(opts: RouterOptions): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const routes = opts.routes.map(compile);
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_API_BODY;
  return (req, res) => {
    // Every DM message passes here first: a prefix check, nothing more, for those.
    const raw = req.url ?? '/';
    if (!raw.startsWith('/api') || !(raw.length === 4 || raw[4] === '/' || raw[4] === '?')) return false;
    const url = new URL(raw, 'http://x');
    handle(req, res, url).catch((e: unknown) => {
      if (e instanceof ApiError) return sendJson(req, res, e.status, e.toBody(), e.headers);
      // The database went away mid-request: its transaction rolled back, the caller tries again later.
      if (isStoreUnavailable(e)) {
        const retry = String(STORE_RETRY_AFTER_SEC);
        return sendJson(req, res, 503, new ApiError(503, 'unavailable', `the store is unavailable (${e.message}); nothing was changed, try again in ${retry} s`).toBody(), { 'retry-after': retry });
      }
      process.emitWarning(`API request failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      sendJson(req, res, 500, new ApiError(500, 'internal', 'internal error').toBody());
    });
    return true;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    // The one route without credentials: is the server up.
    if (url.pathname === `${API_PREFIX}/health`) {
      if (method !== 'GET') throw new ApiError(405, 'method-not-allowed', `${method} is not allowed here; use GET`, 'method', undefined, { allow: 'GET' });
      return sendJson(req, res, 200, { ok: true });
    }
    const principal = authenticate(req, opts.auth);
    const matching = routes.map((r) => ({ r, m: r.re.exec(url.pathname) })).filter((x) => x.m !== null);
    if (matching.length === 0) throw new ApiError(404, 'not-found', `no API route ${url.pathname} (see main/server/API.md)`, 'path');
    const hit = matching.find((x) => x.r.method === method);
    if (!hit) {
      const allow = [...new Set(matching.map((x) => x.r.method))].join(', ');
      throw new ApiError(405, 'method-not-allowed', `${method} is not allowed on ${url.pathname}; use ${allow}`, 'method', undefined, { allow });
    }
    let params: string[];
    try {
      params = hit.m!.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      throw new ApiError(400, 'invalid', `bad percent-encoding in ${url.pathname}`, 'path');
    }
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) {
      if (k in query) throw new ApiError(400, 'invalid', `query parameter "${k}" is given twice`, k);
      query[k] = v;
    }
    // A route without a body: an empty one ends at once; one that is not empty is never read (sendJson).
    if ((method === 'GET' || method === 'DELETE') && req.complete) req.resume();
    const ctx: RequestContext = {
      req, res, principal, params, query,
      async body(schema) {
        const raw = await readJson(req, max);
        const r = schema.safeParse(raw);
        if (!r.success) throw invalid(r.error, 'body');
        return r.data;
      },
      q(schema) {
        const r = schema.safeParse(query);
        if (!r.success) throw invalid(r.error, 'query');
        return r.data;
      },
    };
    const out = await hit.r.handler(ctx);
    if (out === 'streaming') return;
    sendJson(req, res, out.status, out.json, out.headers);
  }
}
