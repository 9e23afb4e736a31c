/**
 * A small JSON client for the management API: what a peer server (delegation) and `dmw job
 * --server` use. Bounded answers, a timeout, TLS with a given CA and optional client certificate.
 */
import http from 'node:http';
import https from 'node:https';

export const API_PREFIX = '/api/v1';

export interface ApiClientOptions {
  /** The server's URL; only its origin counts (the DM URL `.../dm` works as well). */
  url: string;
  token?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface ApiReply {
  status: number;
  json: unknown;
}

/** The API's error body, as a line for a log or stderr. */
export function describeApiError(r: ApiReply): string {
  const e = (r.json as { error?: { message?: string; field?: string; code?: string } } | undefined)?.error;
  if (e?.message) return `HTTP ${r.status} ${e.code ?? ''}: ${e.message}`.replace(/ :/, ':');
  return `HTTP ${r.status}`;
}

export class ApiClient {
  readonly origin: string;
  private readonly agent: http.Agent;

  constructor(private readonly opts: ApiClientOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${opts.url}: the server URL must be http(s)`);
    this.origin = u.origin;
    this.agent = u.protocol === 'https:'
      ? new https.Agent({ keepAlive: false, ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}), ...(opts.tls?.cert ? { cert: opts.tls.cert, key: opts.tls.key } : {}) })
      : new http.Agent({ keepAlive: false });
  }

  async request(method: string, path: string, body?: unknown, query?: Record<string, string | undefined>): Promise<ApiReply> {
    const u = new URL(`${API_PREFIX}${path}`, this.origin);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const lib = u.protocol === 'https:' ? https : http;
    const max = this.opts.maxResponseBytes ?? 64 * 1024 * 1024;
    return new Promise<ApiReply>((resolve, reject) => {
      const req = lib.request(u, { method, headers, agent: this.agent, timeout: this.opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            req.destroy(new Error(`answer larger than ${max} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            json = { error: { message: `not JSON: ${text.slice(0, 200)}` } };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.origin} within ${this.opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
