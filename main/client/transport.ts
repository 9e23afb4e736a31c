/**
 * The handset's HTTP(S) side: one keep-alive agent per handset (its own client certificate), POST
 * a body, get status, headers and the exact response bytes back. TLS trust is pinned: the CA given
 * replaces the system roots, and optional SHA-256 pins must appear in the server's chain.
 */
import http from 'node:http';
import https from 'node:https';
import tls, { type PeerCertificate } from 'node:tls';
import { urlToHttpOptions } from 'node:url';

export interface HandsetTls {
  /** CA certificate(s), PEM, trusted for the server. Replaces the system roots: only these CAs are accepted. */
  ca?: string | string[];
  /**
   * SHA-256 fingerprints (hex, colons optional, any case) of which at least one must appear in the
   * server's verified chain (leaf or CA): pinning beyond "some certificate the CA signed".
   */
  pins?: string[];
  /** Client certificate and key, PEM (mutual TLS; the DM server checks its CN against the DevId). */
  cert?: string;
  key?: string;
  /** Default true. False accepts any server certificate (for a peer with a broken chain; say so in the log). */
  rejectUnauthorized?: boolean;
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

export interface TransportOptions {
  tls?: HandsetTls;
  /** Per request, from sending to the last byte of the answer. Default 30 s. */
  timeoutMs?: number;
  /** Largest answer read; beyond it the request fails (a server ignoring our MaxMsgSize badly). Default 16 MiB. */
  maxResponseBytes?: number;
  /** Sockets kept per origin. Default 2 (a handset has one session at a time). */
  maxSockets?: number;
}

/** Where a POST goes: the URL as node:http would take it apart, ready to be copied into a request. */
interface Target {
  secure: boolean;
  options: http.RequestOptions;
}

/** Targets remembered per transport: its server's address and the current session's RespURI. */
const TARGETS_KEPT = 8;

/**
 * Where the path of an `http(s)://host[:port]/path` URL starts, when the URL is already in the form
 * the WHATWG parser would give (lowercase scheme, a path of unreserved characters, `/` and
 * percent escapes, no `.` segments, no query, fragment or credentials); else -1.
 */
function plainPathStart(url: string): number {
  const after = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  if (after < 0) return -1;
  const slash = url.indexOf('/', after);
  if (slash < 0) return -1;
  const path = url.slice(slash);
  return /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~%-]*)+\/?$/.test(path) ? slash : -1;
}

/**
 * How long a kept-alive socket may sit idle here. With a `timeout` set, Node's agent also honours a
 * server's `Keep-Alive: timeout=N` (it closes the socket a second before the server would); without
 * one (Node 20) it ignores the hint and keeps the socket until the server's FIN is seen.
 */
const FREE_SOCKET_TIMEOUT_MS = 60_000;

/**
 * Sends of one request on reused sockets that the server had closed: each failure is one stale
 * socket gone from the agent's free list, and an agent keeps `maxSockets` of them at most.
 */
const MAX_STALE_SOCKET_RETRIES = 3;

/**
 * A reused socket must have sat idle at least this long for a reset under its request to count as
 * the server's keep-alive timeout (servers keep idle connections for seconds: Node 5 s, Apache 5 s,
 * nginx 75 s) rather than the server dropping a request it read.
 */
const STALE_SOCKET_IDLE_MS = 1000;

/** When each kept-alive socket last finished an answer. */
const idleSince = new WeakMap<object, number>();

/** A connection the peer closed or reset under a request (Node says 'socket hang up' with ECONNRESET). */
function isConnectionReset(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

const normalizePin = (p: string): string => p.replace(/[^0-9a-fA-F]/g, '').toUpperCase();

/** Checks the host name as usual, then the pins against every certificate of the chain. */
export function pinnedIdentityCheck(pins: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  const want = new Set(pins.map(normalizePin));
  return (host, cert) => {
    const err = tls.checkServerIdentity(host, cert);
    if (err) return err;
    const seen = new Set<string>();
    for (let c: tls.DetailedPeerCertificate | undefined = cert as tls.DetailedPeerCertificate; c && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
      seen.add(c.fingerprint256);
      if (want.has(normalizePin(c.fingerprint256))) return undefined;
    }
    return new Error(`server certificate chain of ${host} matches none of the pinned fingerprints`);
  };
}

export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly targets = new Map<string, Target>();
  /** Targets by origin (`http://host:port`), for URLs that differ from them only in a plain path. */
  private readonly origins = new Map<string, Target>();

  constructor(opts: TransportOptions = {}) {
    const maxSockets = opts.maxSockets ?? 2;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, timeout: FREE_SOCKET_TIMEOUT_MS });
    const t = opts.tls ?? {};
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      timeout: FREE_SOCKET_TIMEOUT_MS,
      ...(t.ca !== undefined ? { ca: t.ca } : {}),
      ...(t.cert !== undefined ? { cert: t.cert } : {}),
      ...(t.key !== undefined ? { key: t.key } : {}),
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      ...(t.pins && t.pins.length > 0 ? { checkServerIdentity: pinnedIdentityCheck(t.pins) } : {}),
    });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
  }

  /**
   * The URL taken apart once (every session posts to the same address, then to its RespURI a few
   * times): the options node:http would make of it with urlToHttpOptions, as it does for a URL object.
   * A URL on an origin already taken apart whose path needs no normalising (a server's RespURI:
   * a new one every session) only gets its path put in, without a URL parse.
   */
  private target(url: string): Target | Error {
    let t = this.targets.get(url);
    if (t !== undefined) return t;
    const at = plainPathStart(url);
    const origin = at < 0 ? undefined : this.origins.get(url.slice(0, at));
    if (origin !== undefined) {
      t = { secure: origin.secure, options: { ...origin.options, path: url.slice(at) } };
    } else {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return new Error(`not a URL: ${url}`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return new Error(`unsupported URL scheme ${u.protocol} (${url})`);
      // Only what node:http reads: a short object is cheaper to copy into every request.
      const { protocol, hostname, port, path, auth } = urlToHttpOptions(u);
      const options: http.RequestOptions = { protocol, hostname, path, ...(port !== undefined && port !== '' ? { port } : {}), ...(auth ? { auth } : {}) };
      t = { secure: u.protocol === 'https:', options };
      if (at > 0 && u.href === url && !auth) {
        if (this.origins.size >= TARGETS_KEPT) this.origins.clear();
        this.origins.set(url.slice(0, at), t);
      }
    }
    if (this.targets.size >= TARGETS_KEPT) this.targets.clear();
    this.targets.set(url, t);
    return t;
  }

  post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<HttpReply> {
    const target = this.target(url);
    if (target instanceof Error) return Promise.reject(target);
    return this.send(url, target, body, headers, 0);
  }

  private send(url: string, target: Target, body: Uint8Array, headers: Record<string, string>, retries: number): Promise<HttpReply> {
    const { secure } = target;
    const mod = secure ? https : http;
    return new Promise<HttpReply>((res0, rej0) => {
      let deadline: NodeJS.Timeout | undefined;
      let answered = false;
      /** How long the socket this request got had been idle (0 for a new connection). */
      let idleMs = 0;
      let socket: object | undefined;
      const resolve = (r: HttpReply) => {
        clearTimeout(deadline);
        res0(r);
      };
      const reject = (e: unknown) => {
        clearTimeout(deadline);
        // A kept-alive socket the server closed while it sat idle here (its keep-alive timeout ran
        // out, and our event loop was too busy to see the FIN before reusing the socket): the
        // server never read this request, so it is sent again on another socket, as Node's
        // documentation of `request.reusedSocket` advises. 1,000 sessions started at once lost a
        // few dozen to this ('socket hang up'; the server bench's memory part). Only after an idle
        // spell that a keep-alive timeout could end: a server that drops the connection under a
        // request on a socket it used a moment ago has read that request, and the session fails.
        if (!answered && req.reusedSocket && idleMs >= STALE_SOCKET_IDLE_MS && retries < MAX_STALE_SOCKET_RETRIES && isConnectionReset(e)) {
          this.send(url, target, body, headers, retries + 1).then(res0, rej0);
          return;
        }
        rej0(e);
      };
      const req = mod.request({
        ...target.options,
        method: 'POST',
        agent: secure ? this.httpsAgent : this.httpAgent,
        headers: { ...headers, 'content-length': String(body.length) },
      }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxResponseBytes) {
            req.destroy(new Error(`answer from ${url} is over ${this.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          if (socket) idleSince.set(socket, performance.now());
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.once('socket', (sock) => {
        socket = sock;
        const since = idleSince.get(sock);
        if (since !== undefined) idleMs = performance.now() - since;
      });
      // The limit covers the whole exchange, as documented: req.setTimeout is only an idle timer, and
      // a server that trickles a byte now and then (or a slow endless body) held the handset's
      // session forever (found by test/integration/handset-fuzz.test.ts).
      deadline = setTimeout(() => req.destroy(new Error(`no answer from ${url} within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  /** Closes the kept-alive sockets (a CLI run ends only once they are gone). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
