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

  constructor(opts: TransportOptions = {}) {
    const maxSockets = opts.maxSockets ?? 2;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    const t = opts.tls ?? {};
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
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
   */
  private target(url: string): Target | Error {
    let t = this.targets.get(url);
    if (t !== undefined) return t;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return new Error(`not a URL: ${url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return new Error(`unsupported URL scheme ${u.protocol} (${url})`);
    t = { secure: u.protocol === 'https:', options: urlToHttpOptions(u) };
    if (this.targets.size >= TARGETS_KEPT) this.targets.clear();
    this.targets.set(url, t);
    return t;
  }

  post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<HttpReply> {
    const target = this.target(url);
    if (target instanceof Error) return Promise.reject(target);
    const { secure } = target;
    const mod = secure ? https : http;
    return new Promise<HttpReply>((res0, rej0) => {
      let deadline: NodeJS.Timeout | undefined;
      const resolve = (r: HttpReply) => {
        clearTimeout(deadline);
        res0(r);
      };
      const reject = (e: unknown) => {
        clearTimeout(deadline);
        rej0(e);
      };
      const req = mod.request({
        ...target.options,
        method: 'POST',
        agent: secure ? this.httpsAgent : this.httpAgent,
        headers: { ...headers, 'content-length': String(body.length) },
      }, (res) => {
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }));
        res.on('error', reject);
      });
      req.on('error', reject);
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
