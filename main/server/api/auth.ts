/**
 * Who is calling the management API. Two kinds of principal:
 *  - the operator (DMA-DMS, OMA-AD-DM 2.0 B.2.3): line-of-business scripts with `--api-token`;
 *    everything on this server;
 *  - a peer DM server (DM-6, 4.3.2.5), by its ServerID: a bearer token shared with that peer, or a
 *    client certificate from this server's lab CA whose CN is `dmw-peer:<ServerID>`
 *    (`dmw ca peer ID`); only the devices and subtrees granted or delegated to it.
 * Tokens are compared in constant time (SHA-256 of both sides, timingSafeEqual), and every
 * configured token is compared, so neither the length nor which token matched leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { isValidServerId } from '../../tree/acl.js';
import { ApiError } from './errors.js';

export type Principal = { kind: 'operator' } | { kind: 'peer'; id: string };

/** CN prefix of a peer's client certificate, so a device certificate (CN = DevId) is never a peer. */
export const PEER_CN_PREFIX = 'dmw-peer:';
/** Shortest token accepted: a guessable token is no authentication. */
export const MIN_TOKEN_LENGTH = 16;

/** A DM server this one trusts (DM-6). PEMs are loaded, not paths. */
export interface PeerConfig {
  /** The peer's ServerID: its name in device ACLs and in `./DMAcc/<X>/ServerID`. */
  id: string;
  /** Base URL of the peer's API (we call it when delegating); absent = it only calls us. */
  url?: string;
  /** Shared bearer token, both directions. */
  token?: string;
  /** How we call the peer over HTTPS: its CA, and our client certificate from the peer's lab CA. */
  tls?: { ca?: string; cert?: string; key?: string };
}

export interface ApiAuthConfig {
  /** Operator (line-of-business) token. */
  apiToken?: string;
  peers: PeerConfig[];
}

export function principalName(p: Principal): string {
  return p.kind === 'operator' ? 'operator' : `peer:${p.id}`;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two secrets of any length. */
export function tokenEquals(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Bearer realm="dmw"' };

function unauthorized(message: string, field: string): ApiError {
  return new ApiError(401, 'unauthorized', message, field, undefined, UNAUTHORIZED_HEADERS);
}

/** The caller of one request, or a 401 naming what was wrong. */
export function authenticate(req: http.IncomingMessage, cfg: ApiAuthConfig): Principal {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(header);
    if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"', 'authorization');
    const token = m[1]!;
    let found: Principal | undefined;
    // Every token is compared: no early exit.
    const operator = cfg.apiToken !== undefined && tokenEquals(token, cfg.apiToken);
    if (operator) found = { kind: 'operator' };
    for (const p of cfg.peers) {
      const ok = p.token !== undefined && tokenEquals(token, p.token);
      if (ok && !found) found = { kind: 'peer', id: p.id };
    }
    if (found) return found;
    if (cfg.apiToken === undefined && cfg.peers.every((p) => p.token === undefined)) {
      throw unauthorized('this server accepts no bearer token (start it with --api-token or a --peer with token=)', 'authorization');
    }
    throw unauthorized('the bearer token in the Authorization header is not valid for this server', 'authorization');
  }
  const sock = req.socket as Partial<TLSSocket>;
  const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
  if (cert && Object.keys(cert).length > 0) {
    const cnRaw = cert.subject?.CN;
    const cn = Array.isArray(cnRaw) ? cnRaw[0] ?? '' : cnRaw ?? '';
    if (!sock.authorized) throw unauthorized(`client certificate "${cn}" is not from this server's lab CA (${String(sock.authorizationError ?? 'unverified')})`, 'client-certificate');
    if (!cn.startsWith(PEER_CN_PREFIX)) throw unauthorized(`client certificate CN "${cn}" is not a peer certificate (CN must be ${PEER_CN_PREFIX}<ServerID>, from \`dmw ca peer\`)`, 'client-certificate');
    const id = cn.slice(PEER_CN_PREFIX.length);
    if (!cfg.peers.some((p) => p.id === id)) throw unauthorized(`client certificate names peer "${id}", which this server does not trust (--peer ${id})`, 'client-certificate');
    return { kind: 'peer', id };
  }
  throw unauthorized('no credentials: send "Authorization: Bearer <token>" (or, over HTTPS, a peer client certificate)', 'authorization');
}

// --- configuration (`dmw server --api-token --peer --peers`) ------------------------------------

const PeerFileEntry = z.object({
  id: z.string().min(1).max(256),
  url: z.string().url().optional(),
  token: z.string().optional(),
  /** File names, relative to the peers file. */
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
}).strict();
export const PeersFileSchema = z.array(PeerFileEntry);

type PeerFiles = { id: string; url?: string; token?: string; ca?: string; cert?: string; key?: string };

/**
 * `ID[=URL][,token=T][,ca=FILE][,cert=FILE,key=FILE]` (the `--peer` flag). A URL holding a comma
 * cannot be written here; use `--peers FILE`.
 */
export function parsePeerSpec(text: string): PeerFiles {
  const [head, ...opts] = text.split(',');
  const eq = head!.indexOf('=');
  const id = (eq < 0 ? head! : head!.slice(0, eq)).trim();
  const url = eq < 0 ? undefined : head!.slice(eq + 1).trim();
  const out: PeerFiles = { id, ...(url ? { url } : {}) };
  for (const o of opts) {
    const i = o.indexOf('=');
    const k = i < 0 ? o : o.slice(0, i);
    const v = i < 0 ? '' : o.slice(i + 1);
    if (!['token', 'ca', 'cert', 'key'].includes(k)) throw new Error(`--peer ${id}: unknown option "${k}" (token=, ca=, cert=, key=)`);
    if (v === '') throw new Error(`--peer ${id}: ${k}= needs a value`);
    (out as Record<string, string>)[k] = v;
  }
  return out;
}

/** Checks and loads peers and tokens; throws with the flag and the reason. */
export function buildAuthConfig(p: { apiToken?: string; peers: PeerFiles[]; serverId: string; baseDir?: string }): ApiAuthConfig {
  const tokens = new Map<string, string>();
  const checkToken = (what: string, t: string) => {
    if (t.length < MIN_TOKEN_LENGTH) throw new Error(`${what}: the token must be at least ${MIN_TOKEN_LENGTH} characters`);
    if (!/^[\x21-\x7e]+$/.test(t)) throw new Error(`${what}: the token must be printable ASCII without spaces`);
    const other = tokens.get(t);
    if (other) throw new Error(`${what}: the same token as ${other}; every principal needs its own`);
    tokens.set(t, what);
  };
  if (p.apiToken !== undefined) checkToken('--api-token', p.apiToken);
  const seen = new Set<string>();
  const read = (f: string) => readFileSync(p.baseDir && !f.startsWith('/') ? `${p.baseDir}/${f}` : f, 'utf8');
  const peers = p.peers.map((x): PeerConfig => {
    const what = `--peer ${x.id}`;
    if (!isValidServerId(x.id)) throw new Error(`${what}: not a usable ServerID (it must be able to appear in an ACL)`);
    if (x.id === p.serverId) throw new Error(`${what}: that is this server's own ServerID`);
    if (seen.has(x.id)) throw new Error(`${what}: given twice`);
    seen.add(x.id);
    if (x.url !== undefined) {
      let u: URL;
      try {
        u = new URL(x.url);
      } catch {
        throw new Error(`${what}: "${x.url}" is not a URL`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what}: the URL must be http(s)`);
      if (x.token === undefined && x.cert === undefined) throw new Error(`${what}: to call it, give token= or cert= and key=`);
    }
    if (x.token !== undefined) checkToken(what, x.token);
    if ((x.cert === undefined) !== (x.key === undefined)) throw new Error(`${what}: cert= and key= go together`);
    const tls = {
      ...(x.ca ? { ca: read(x.ca) } : {}),
      ...(x.cert ? { cert: read(x.cert) } : {}),
      ...(x.key ? { key: read(x.key) } : {}),
    };
    return { id: x.id, ...(x.url ? { url: x.url } : {}), ...(x.token ? { token: x.token } : {}), ...(Object.keys(tls).length > 0 ? { tls } : {}) };
  });
  return { ...(p.apiToken !== undefined ? { apiToken: p.apiToken } : {}), peers };
}
