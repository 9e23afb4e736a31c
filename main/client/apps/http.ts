/**
 * The local DM-7/DM-8 interface for apps that are not in our process: HTTP/JSON on the loopback
 * interface only, every request carrying `Authorization: Bearer <token>` (the token is random per
 * start unless given, so another local user cannot drive the handset's apps).
 *
 *   GET    /v1/servers                          the handset's DevId and the ServerIDs it has accounts for
 *   GET    /v1/mos[?appId=A]                    registered MOs
 *   POST   /v1/mos                              register (JSON body, see RegistrationJson)       -> 201
 *   DELETE /v1/mos?appId=A&root=./X/Y           deregister (removes the subtree)
 *   GET    /v1/tree?appId=A&path=./X/Y          the subtree, pre-order, with values
 *   PUT    /v1/tree?appId=A&path=./X/Y/Leaf     {"value": ..., "format"?: ...}: the app writes its own leaf
 *   GET    /v1/changes?appId=A&after=N&waitMs=M long poll: changes after seq N (waits up to M ms for one)
 *   GET    /v1/events?appId=A[&after=N]         server-sent events, `id:` = seq (Last-Event-ID resumes)
 *   POST   /v1/alerts                           {"appId","serverId","source","type","format"?,"data"?,"correlator"?,"mark"?}
 *                                              a Generic Alert 1226 in a new session; answers with its outcome
 *
 * Bytes travel as base64: a `bin` node's value in a registration, and any value or Exec data that is
 * bytes in a change (marked `"encoding": "base64"`). Errors: `{"error":{"code","message","path"?,"field"?}}`
 * with 400 (bad input, naming the JSON field), 401, 403 (reserved root, another app's MO), 404,
 * 405, 409 (clash, exists), 413, 415, 502 (the alert's session failed), 503 (tree busy).
 */
import http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ACL_COMMANDS } from '../../tree/acl.js';
import { DM_FORMATS, type DmFormat, type NodeValue } from '../../tree/values.js';
import type { NodeDescription } from '../../tree/tree.js';
import { AppRegistryError, ACCESS_NAMES, type MoNodeSpec, type MoRegistration } from './registration.js';
import type { ClientAppRegistry, MoChange } from './registry.js';
import { mediaType, readBody } from '../../protocol/http-body.js';

export interface AppServerOptions {
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** Largest request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long a write waits for a server's Atomic to finish before answering 503. Default 2000 ms. */
  busyWaitMs?: number;
  /** Longest long poll. Default 60 s. */
  maxWaitMs?: number;
  /** SSE keep-alive comment interval. Default 15 s. */
  heartbeatMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

// --- JSON shapes at the boundary ---------------------------------------------------------------

const NodeJson = z.strictObject({
  path: z.string(),
  format: z.enum(DM_FORMATS).optional(),
  value: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  type: z.string().optional(),
  acl: z.string().optional(),
  access: z.array(z.enum(ACCESS_NAMES as [string, ...string[]])).optional(),
  title: z.string().optional(),
});

export const RegistrationJson = z.strictObject({
  appId: z.string(),
  root: z.string(),
  type: z.string().optional(),
  servers: z.array(z.string()).optional(),
  rights: z.array(z.enum(ACL_COMMANDS)).optional(),
  acl: z.string().optional(),
  nodes: z.array(NodeJson).optional(),
  /** Exec target (relative to the root) -> the status the client answers at once (202: the app reports later). */
  exec: z.record(z.string(), z.number().int()).optional(),
  existing: z.enum(['refuse', 'adopt', 'replace']).optional(),
});
export type RegistrationJson = z.infer<typeof RegistrationJson>;

const SetValueJson = z.strictObject({
  value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  format: z.enum(DM_FORMATS).optional(),
});

const AlertJson = z.strictObject({
  appId: z.string(),
  serverId: z.string(),
  source: z.string(),
  type: z.string(),
  format: z.enum(DM_FORMATS).optional(),
  data: z.union([z.string(), z.number()]).optional(),
  correlator: z.string().optional(),
  mark: z.string().optional(),
});

/** `nodes[2].format: ...` from a zod error: the field, then why. */
function zodProblem(e: z.ZodError): { field: string; message: string } {
  const i = e.issues[0]!;
  const field = i.path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? String(k) : `${acc}.${String(k)}`), '');
  return { field: field || '(body)', message: `${field || 'body'}: ${i.message}` };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(text: string, field: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0 || !B64.test(compact)) throw new AppRegistryError('bad-input', `${field}: a bin value travels as base64, and this is not base64`, { field });
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** JSON registration -> the registry's form (bin values decoded from base64). */
export function registrationFromJson(j: RegistrationJson): MoRegistration {
  const nodes: MoNodeSpec[] | undefined = j.nodes?.map((n, i) => {
    const spec: MoNodeSpec = { path: n.path };
    if (n.format !== undefined) spec.format = n.format;
    if (n.value !== undefined) spec.value = n.format === 'bin' && typeof n.value === 'string' ? base64Bytes(n.value, `nodes[${i}].value`) : n.value;
    if (n.type !== undefined) spec.type = n.type;
    if (n.acl !== undefined) spec.acl = n.acl;
    if (n.access !== undefined) spec.access = n.access as MoNodeSpec['access'];
    if (n.title !== undefined) spec.title = n.title;
    return spec;
  });
  const reg: MoRegistration = { appId: j.appId, root: j.root };
  if (j.type !== undefined) reg.type = j.type;
  if (j.servers !== undefined) reg.servers = j.servers;
  if (j.rights !== undefined) reg.rights = j.rights;
  if (j.acl !== undefined) reg.acl = j.acl;
  if (nodes !== undefined) reg.nodes = nodes;
  if (j.exec !== undefined) reg.exec = j.exec;
  if (j.existing !== undefined) reg.existing = j.existing;
  return reg;
}

function valueJson(v: NodeValue | string | Uint8Array): { value: string | null; encoding?: 'base64' } {
  return v instanceof Uint8Array ? { value: Buffer.from(v).toString('base64'), encoding: 'base64' } : { value: v };
}

export function changeToJson(c: MoChange): Record<string, unknown> {
  const { value, exec, ...rest } = c;
  const out: Record<string, unknown> = { ...rest };
  if ('value' in c) Object.assign(out, valueJson(value ?? null));
  if (exec) {
    const { data, ...x } = exec;
    out.exec = data === undefined ? x : { ...x, ...(data instanceof Uint8Array ? { data: Buffer.from(data).toString('base64'), dataEncoding: 'base64' } : { data }) };
  }
  return out;
}

export function nodeToJson(d: NodeDescription): Record<string, unknown> {
  const { value, ...rest } = d;
  return 'value' in d ? { ...rest, ...valueJson(value ?? null) } : rest;
}

// --- the server --------------------------------------------------------------------------------

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class ClientAppServer {
  private readonly streams = new Set<http.ServerResponse>();

  private constructor(
    private readonly server: http.Server,
    readonly registry: ClientAppRegistry,
    readonly host: string,
    readonly port: number,
    /** What apps send as `Authorization: Bearer <token>`. */
    readonly token: string,
  ) {}

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  static async start(registry: ClientAppRegistry, opts: AppServerOptions = {}): Promise<ClientAppServer> {
    const host = opts.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host)) throw new Error(`client-app interface: host ${JSON.stringify(host)} is not a loopback address (127.0.0.1, ::1, localhost); apps on other machines must not reach the handset`);
    const token = opts.token ?? randomBytes(32).toString('base64url');
    if (token.length < 16) throw new Error('client-app interface: the token must be at least 16 characters');
    let self: ClientAppServer | undefined;
    const server = http.createServer((req, res) => {
      self!.handle(req, res, opts).catch((e) => self!.fail(res, e));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    self = new ClientAppServer(server, registry, host, (server.address() as AddressInfo).port, token);
    return self;
  }

  close(): Promise<void> {
    for (const s of this.streams) s.end();
    this.streams.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private authorized(req: http.IncomingMessage): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, opts: AppServerOptions): Promise<void> {
    if (!this.authorized(req)) {
      req.resume();
      throw new HttpProblem(401, 'unauthorized', 'send Authorization: Bearer <token> (the token the handset printed when it started this interface)', { 'www-authenticate': 'Bearer realm="dmw-client-apps"' });
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = (k: string): string | undefined => url.searchParams.get(k) ?? undefined;
    const need = (k: string): string => {
      const v = q(k);
      if (v === undefined || v === '') throw new AppRegistryError('bad-input', `query parameter ${k} is required`, { field: k });
      return v;
    };
    const reg = this.registry;
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /v1/servers':
        return this.json(res, 200, { devId: reg.handset?.devId ?? null, servers: reg.handset?.accounts().map((a) => ({ serverId: a.serverId, name: a.name })) ?? [] });
      case 'GET /v1/mos':
        return this.json(res, 200, { mos: reg.list(q('appId')) });
      case 'POST /v1/mos': {
        const body = parseWith(RegistrationJson, await this.body(req, opts));
        const mo = await this.whenIdle(opts, () => reg.register(registrationFromJson(body)));
        await reg.save();
        return this.json(res, 201, { mo });
      }
      case 'DELETE /v1/mos': {
        const appId = need('appId');
        const root = need('root');
        const out = await this.whenIdle(opts, () => reg.deregister(appId, root));
        await reg.save();
        return this.json(res, 200, out);
      }
      case 'GET /v1/tree': {
        const nodes = reg.get(need('appId'), need('path'));
        return this.json(res, 200, { path: nodes[0]!.path, nodes: nodes.map(nodeToJson) });
      }
      case 'PUT /v1/tree': {
        const appId = need('appId');
        const path = need('path');
        const body = parseWith(SetValueJson, await this.body(req, opts));
        const value = body.format === 'bin' && typeof body.value === 'string' ? base64Bytes(body.value, 'value') : body.value;
        const node = await this.whenIdle(opts, () => reg.setValue(appId, path, value, body.format as DmFormat | undefined));
        return this.json(res, 200, { node: nodeToJson(node) });
      }
      case 'GET /v1/changes': {
        const after = cursor(q('after'), reg.lastSeq);
        const waitMs = Math.min(intParam(q('waitMs'), 'waitMs', 25_000), opts.maxWaitMs ?? 60_000);
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        const out = await reg.waitForChanges(after, q('appId'), waitMs, abort.signal);
        if (res.destroyed) return;
        return this.json(res, 200, { changes: out.changes.map(changeToJson), last: out.last, truncated: out.truncated });
      }
      case 'GET /v1/events':
        return this.events(req, res, q('appId'), cursor(q('after') ?? headerText(req.headers['last-event-id']), reg.lastSeq), opts);
      case 'POST /v1/alerts': {
        const body = parseWith(AlertJson, await this.body(req, opts));
        const { appId, ...alert } = body;
        const outcome = await reg.sendGenericAlert(appId, alert);
        const summary = { ok: outcome.ok, serverId: outcome.serverId, sessionId: outcome.sessionId, roundTrips: outcome.roundTrips, headerCodes: outcome.headerCodes, ...(outcome.error ? { error: outcome.error } : {}) };
        if (!outcome.ok) return this.json(res, 502, { error: { code: 'session-failed', message: `the alert did not reach ${outcome.serverId}: ${outcome.error ?? 'session failed'}` }, session: summary });
        return this.json(res, 200, summary);
      }
    }
    req.resume();
    const known = ['/v1/servers', '/v1/mos', '/v1/tree', '/v1/changes', '/v1/events', '/v1/alerts'];
    if (known.includes(url.pathname)) throw new HttpProblem(405, 'method-not-allowed', `${req.method} is not allowed on ${url.pathname}`);
    throw new HttpProblem(404, 'no-route', `no route ${url.pathname}; see main/client/APPS.md`);
  }

  private events(req: http.IncomingMessage, res: http.ServerResponse, appId: string | undefined, after: number, opts: AppServerOptions): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.streams.add(res);
    const send = (c: MoChange) => res.write(`id: ${c.seq}\nevent: change\ndata: ${JSON.stringify(changeToJson(c))}\n\n`);
    const replay = this.registry.changesSince(after, appId);
    res.write(`: dmw client-app events${appId ? ` for ${appId}` : ''}\n\n`);
    if (replay.truncated) res.write(`event: truncated\ndata: ${JSON.stringify({ after, oldestKept: replay.changes[0]?.seq ?? replay.last + 1 })}\n\n`);
    for (const c of replay.changes) send(c);
    const unsubscribe = this.registry.subscribe(send, appId);
    const beat = setInterval(() => res.write(': keep-alive\n\n'), opts.heartbeatMs ?? 15_000);
    const end = () => {
      clearInterval(beat);
      unsubscribe();
      this.streams.delete(res);
    };
    req.on('close', end);
    res.on('close', end);
  }

  /** Runs a write when no server Atomic is open, waiting up to busyWaitMs for one to finish. */
  private async whenIdle<T>(opts: AppServerOptions, fn: () => T): Promise<T> {
    const until = Date.now() + (opts.busyWaitMs ?? 2000);
    while (this.registry.tree.inTransaction && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return fn();
  }

  private async body(req: http.IncomingMessage, opts: AppServerOptions): Promise<unknown> {
    const ct = mediaType(req.headers['content-type']);
    if (ct !== 'application/json') {
      req.resume();
      throw new HttpProblem(415, 'unsupported-media-type', `send the body as application/json, not ${JSON.stringify(ct || '(none)')}`);
    }
    const limit = opts.maxBodyBytes ?? 1024 * 1024;
    const { bytes, over } = await readBody(req, limit);
    if (over) throw new HttpProblem(413, 'too-large', `the body is over ${limit} bytes`);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpProblem(400, 'bad-json', `the body is not JSON: ${(e as Error).message}`);
    }
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  }

  private fail(res: http.ServerResponse, e: unknown): void {
    if (e instanceof AppRegistryError) {
      return this.json(res, e.httpStatus, { error: { code: e.code, message: e.message, ...(e.where.path ? { path: e.where.path } : {}), ...(e.where.field ? { field: e.where.field } : {}) } });
    }
    if (e instanceof HttpProblem) return this.json(res, e.status, { error: { code: e.code, message: e.message } }, e.headers);
    // a bug answers 500 and the handset lives on
    process.emitWarning(`client-app request failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    if (!res.headersSent) this.json(res, 500, { error: { code: 'internal', message: 'internal error' } });
    else res.end();
  }
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const p = zodProblem(r.error);
    throw new AppRegistryError('bad-input', p.message, { field: p.field });
  }
  return r.data;
}

function intParam(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new AppRegistryError('bad-input', `query parameter ${name} must be a non-negative integer, got ${JSON.stringify(text)}`, { field: name });
  return Number(text);
}

/** A change cursor: `after` as given, or (none given) from now on. */
function cursor(text: string | undefined, now: number): number {
  return text === undefined ? now : intParam(text, 'after', now);
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
