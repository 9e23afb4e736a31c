/**
 * `dmw server`: the DM server in the foreground, one log line per event; `dmw ca`: the lab CA that
 * issues the server's and the devices' certificates.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS, type ClientAuthMode, type Credential, type ServerAuthMode } from '../server/config.js';
import type { ServerEvent } from '../server/events.js';
import type { ClientCertMode } from '../server/http.js';
import { CREDENTIAL_FLAGS, readCredential, readSecretFile } from './credential-flags.js';
import { CliError } from './errors.js';
import { runSubcommand, wantsHelp } from './subcommands.js';
import { parse } from './job.js';
import { checkStoreUrl, redactUrl, storeUrlOf } from './store-flag.js';

const HELP = `usage:
  dmw server --port N [--host ADDR] [--tls [--client-certs optional|require] [--tls-host NAME]...] [--data DIR] [--store URL] [--server-id ID]
             [--client-auth none|basic|md5|hmac] [--client-cred NAME:SECRET | --client-cred-file FILE]
             [--server-cred NAME:SECRET | --server-cred-file FILE]
             [--server-auth basic|md5|hmac] [--require-client-cert] [--public-url URL]
             [--session-timeout SEC] [--max-body BYTES] [--max-msg-size BYTES] [--max-obj-size BYTES]
             [--max-sessions N] [--max-preauth-sessions N] [--max-preauth-per-address N] [--preauth-timeout SEC] [--dm20]
             [--max-connections N] [--max-body-in-flight BYTES] [--headers-timeout SEC] [--request-timeout SEC]
             [--api-token TOKEN | --api-token-file FILE] [--peer ID[=URL][,token=T][,ca=F][,cert=F,key=F]]... [--peers FILE]

Runs until interrupted (Ctrl-C), logging sessions and jobs. Devices POST to http(s)://HOST:PORT/dm.
--client-cred   credentials of devices the registry has none for (the lab default)
--server-cred   what the server presents to devices (libdmclient refuses commands without it)
--client-cred-file, --server-cred-file
                the same from a file holding one line NAME:SECRET (warned about when others can
                read it); or $DMW_CLIENT_CRED / $DMW_SERVER_CRED: secrets off the command line
--tls           HTTPS with a certificate from the lab CA in DIR/ca (created on first use); device
                certificates come from \`dmw ca device DEVID --data DIR\`
--tls-host      (repeatable) one more name (DNS name or IP address) in the server certificate besides
                localhost, 127.0.0.1, ::1, this machine's hostname and --host: e.g. the load balancer's
                name when it passes TLS through to several instances (needs --tls)
--data          data folder (default $DMW_DATA or ~/.dmw): the lab CA, and the SQLite store unless --store
--store         a PostgreSQL database shared by several server instances (default $DMW_STORE_URL):
                postgres://USER@HOST:PORT/DB (or postgresql://...); while it is down the server answers
                503 with Retry-After and writes nothing, and serves again when it is back
--max-sessions  sessions open at once; a package 1 past it gets HTTP 503 + Retry-After (default 256)
--max-preauth-sessions, --max-preauth-per-address, --preauth-timeout
                sessions that have not authenticated yet (with --client-auth): kept in memory, never
                stored, in their own pool (default 256 in all, 16 per source address), dropped after
                SEC without a message (default 15); they never count against --max-sessions
--max-connections
                TCP connections open at once, devices and API alike; one beyond is closed as it is
                accepted (default 4096)
--max-body-in-flight
                bytes of request bodies held at once until answered (each counts its Content-Length,
                or without one its bytes as they arrive); a request that does not fit gets HTTP 503 +
                Retry-After (default 64 MiB, or --max-body if larger; at least --max-body)
--headers-timeout, --request-timeout
                how long a client may take to send a request's headers, and all of the request (its
                body too), before it gets HTTP 408 and its connection is closed (default 30 and 120;
                the headers timeout at most the request timeout, and without its own flag never
                longer than it)
--dm20          also serve the lab DM 2.0 JSON binding at /dm/v2 (main/protocol/dm20/README.md:
                built on assumptions; DM 1.2/1.3 at /dm stays the protocol)
--api-token     bearer token of the management API (/api/v1, main/server/API.md) for line-of-business
                scripts and \`dmw job --server\`; at least 16 characters
--peer          a peer DM server (DM-6) by its ServerID: URL = its API (to delegate devices to it),
                token = bearer token shared with it (both ways), ca/cert/key = PEM files to call it over
                HTTPS (cert/key from \`dmw ca peer OUR_ID --data ITS_DIR\`); without token= it can
                only log in with a client certificate CN=dmw-peer:ID from our lab CA (needs --tls)
--peers         the same as a JSON file: [{"id","url","token","ca","cert","key"}] (paths relative to it)`;

const CA_HELP = `usage:
  dmw ca init --data DIR                       create the lab CA (DIR/ca/ca.crt.pem)
  dmw ca device DEVID --data DIR [--out DIR] [--any-devid]
                issue a client certificate for a device (CN = DevId; --any-devid for a DevId of no standard form)
  dmw ca peer SERVERID --data DIR [--out DIR]  issue a client certificate for a peer DM server (CN = dmw-peer:SERVERID)`;

function dataDir(v: string | undefined): string {
  return v ?? process.env.DMW_DATA ?? path.join(os.homedir(), '.dmw');
}

/** --tls-host values, checked: a DNS name or an IP address each (no spaces, commas or empty names). */
function tlsHostNames(names: string[]): string[] {
  for (const n of names) {
    if (!/^[A-Za-z0-9._:*-]+$/.test(n) || n.length > 253) throw new CliError(`--tls-host must be a DNS name or an IP address, got "${n}"`);
  }
  return names;
}

/**
 * The names of the server certificate with --tls-host: the ones DmServer puts in by default
 * (its defaultHosts: localhost, loopback addresses, hostname, a non-wildcard --host) and the extra
 * ones, because DmServer's tls.hosts replaces its defaults rather than adding to them.
 */
function certificateHosts(host: string, extra: string[]): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', '::1', os.hostname()]);
  if (host !== '0.0.0.0' && host !== '::') hosts.add(host);
  for (const h of extra) hosts.add(h);
  return [...hosts];
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

export async function serverCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const usage = 'dmw server --port N [options] (dmw server --help)';
  const { values, positionals } = parse(argv, {
    port: { type: 'string' }, host: { type: 'string' }, tls: { type: 'boolean' }, 'client-certs': { type: 'string' }, 'tls-host': { type: 'string', multiple: true }, data: { type: 'string' }, store: { type: 'string' },
    'server-id': { type: 'string' }, 'client-auth': { type: 'string' }, ...CREDENTIAL_FLAGS,
    'server-auth': { type: 'string' }, 'require-client-cert': { type: 'boolean' }, 'public-url': { type: 'string' },
    'session-timeout': { type: 'string' }, 'max-body': { type: 'string' }, 'max-msg-size': { type: 'string' }, 'max-obj-size': { type: 'string' },
    'max-sessions': { type: 'string' }, dm20: { type: 'boolean' }, 'max-connections': { type: 'string' }, 'max-body-in-flight': { type: 'string' },
    'headers-timeout': { type: 'string' }, 'request-timeout': { type: 'string' },
    'max-preauth-sessions': { type: 'string' }, 'max-preauth-per-address': { type: 'string' }, 'preauth-timeout': { type: 'string' },
    'api-token': { type: 'string' }, 'api-token-file': { type: 'string' }, peer: { type: 'string', multiple: true }, peers: { type: 'string' },
  }, usage);
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"\nusage: ${usage}`);
  if (values.port === undefined) throw new CliError(`--port is required\nusage: ${usage}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be 0..65535, got "${values.port}"`);
  const clientAuth = (values['client-auth'] ?? 'none') as ClientAuthMode;
  if (!['none', 'basic', 'md5', 'hmac'].includes(clientAuth)) throw new CliError('--client-auth must be none, basic, md5 or hmac');
  const serverAuth = (values['server-auth'] ?? 'md5') as ServerAuthMode;
  if (!['basic', 'md5', 'hmac'].includes(serverAuth)) throw new CliError('--server-auth must be basic, md5 or hmac');
  const clientCerts = (values['client-certs'] ?? 'optional') as ClientCertMode;
  if (!['optional', 'require'].includes(clientCerts)) throw new CliError('--client-certs must be optional or require');
  if ((values['client-certs'] || values['require-client-cert']) && !values.tls) throw new CliError('client certificates need --tls');
  const tlsHosts = tlsHostNames(values['tls-host'] ?? []);
  if (tlsHosts.length > 0 && !values.tls) throw new CliError('--tls-host needs --tls');
  const defaultClientCred: Credential | undefined = readCredential(values, 'client-cred');
  const serverCred: Credential | undefined = readCredential(values, 'server-cred');
  if (clientAuth !== 'none' && !defaultClientCred) process.stderr.write(`dmw: warning: --client-auth ${clientAuth} without --client-cred: only devices with their own credentials can log in\n`);
  const timeout = positiveInt('--session-timeout', values['session-timeout']);
  const maxBody = positiveInt('--max-body', values['max-body']);
  const maxMsg = positiveInt('--max-msg-size', values['max-msg-size']);
  const maxObj = positiveInt('--max-obj-size', values['max-obj-size']);
  const maxSessions = positiveInt('--max-sessions', values['max-sessions']);
  const maxPreAuthSessions = positiveInt('--max-preauth-sessions', values['max-preauth-sessions']);
  const maxPreAuthSessionsPerAddress = positiveInt('--max-preauth-per-address', values['max-preauth-per-address']);
  const preAuthTimeout = positiveInt('--preauth-timeout', values['preauth-timeout']);
  const maxConnections = positiveInt('--max-connections', values['max-connections']);
  const maxBodyInFlight = positiveInt('--max-body-in-flight', values['max-body-in-flight']);
  if (maxBodyInFlight !== undefined && maxBodyInFlight < (maxBody ?? DEFAULT_LIMITS.maxBodyBytes)) {
    throw new CliError(`--max-body-in-flight (${maxBodyInFlight}) must be at least --max-body (${maxBody ?? DEFAULT_LIMITS.maxBodyBytes}), or no body of the largest size could ever be read`);
  }
  const headersTimeout = positiveInt('--headers-timeout', values['headers-timeout']);
  const requestTimeout = positiveInt('--request-timeout', values['request-timeout']);
  // Only a headers timeout given here can pass the request timeout: the default one follows a shorter request timeout down (config.ts).
  const requestTimeoutSec = requestTimeout ?? DEFAULT_LIMITS.requestTimeoutMs / 1000;
  if (headersTimeout !== undefined && headersTimeout > requestTimeoutSec) {
    throw new CliError(`--headers-timeout (${headersTimeout}) must not exceed --request-timeout (${requestTimeoutSec}): the request's time includes its headers`);
  }
  const data = dataDir(values.data);
  const store = storeUrlOf(values);
  if (store) checkStoreUrl(store);
  const apiAuth = await apiAuthConfig(values, values['server-id'] ?? 'dmw');

  // Loaded here so `dmw codec ...` never pays for SQLite and the certificate library.
  const { DmServer } = await import('../server/server.js');
  let server: Awaited<ReturnType<typeof DmServer.start>>;
  try {
    server = await DmServer.start({
      dataDir: data, port, host: values.host ?? '0.0.0.0', clientAuth, serverAuth,
      ...(store ? { storeUrl: store.url } : {}),
      ...(values['server-id'] ? { serverId: values['server-id'] } : {}),
      ...(defaultClientCred ? { defaultClientCred } : {}),
      ...(serverCred ? { serverCred } : {}),
      ...(values.tls ? { tls: { clientCerts, ...(tlsHosts.length > 0 ? { hosts: certificateHosts(values.host ?? '0.0.0.0', tlsHosts) } : {}) } } : {}),
      ...(values['require-client-cert'] ? { requireClientCert: true } : {}),
      ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
      ...(values.dm20 ? { dm20: true } : {}),
      limits: {
        ...(maxSessions ? { maxSessions } : {}),
        ...(maxPreAuthSessions ? { maxPreAuthSessions } : {}),
        ...(maxPreAuthSessionsPerAddress ? { maxPreAuthSessionsPerAddress } : {}),
        ...(preAuthTimeout ? { preAuthTimeoutMs: preAuthTimeout * 1000 } : {}),
        ...(timeout ? { sessionTimeoutMs: timeout * 1000 } : {}),
        ...(maxBody ? { maxBodyBytes: maxBody } : {}),
        ...(maxMsg ? { maxMsgSize: maxMsg } : {}),
        ...(maxObj ? { maxObjSize: maxObj } : {}),
        ...(maxConnections ? { maxConnections } : {}),
        ...(maxBodyInFlight ? { maxBodyBytesInFlight: maxBodyInFlight } : {}),
        ...(headersTimeout ? { headersTimeoutMs: headersTimeout * 1000 } : {}),
        ...(requestTimeout ? { requestTimeoutMs: requestTimeout * 1000 } : {}),
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new CliError(`port ${port} is in use`);
    if (err.code === 'EACCES') throw new CliError(`not allowed to listen on port ${port}`);
    throw new CliError(`cannot start the server: ${store ? `${store.from}: ${redactUrl(err.message)}` : err.message}`);
  }
  const { attachApi } = await import('../server/api/index.js');
  attachApi(server, { auth: apiAuth });
  server.bus.subscribe((e) => {
    const line = formatEvent(e);
    if (line) process.stdout.write(`${line}\n`);
  });
  if (!serverCred) process.stderr.write('dmw: note: no --server-cred: clients that authenticate the server (libdmclient) will refuse every command\n');
  const auth = clientAuth === 'none' ? 'no client auth' : `client auth ${clientAuth}`;
  const apiWho = [...(apiAuth.apiToken ? ['operator token'] : []), ...apiAuth.peers.map((p) => `peer ${p.id}${p.url ? ` (${p.url})` : ''}`)];
  process.stdout.write(`api: /api/v1 on the same port; ${apiWho.length > 0 ? apiWho.join(', ') : 'no token and no peers: every call is refused (--api-token)'}\n`);
  process.stdout.write(`listening on ${server.url.replace(/:\d+\//, `:${server.port}/`)} (port ${server.port}, data ${data}${store ? `, store ${redactUrl(store.url)}` : ''}, ${auth}${serverCred ? `, server cred ${serverCred.name}` : ''}${values.tls ? `, CA ${path.join(data, 'ca', 'ca.crt.pem')}` : ''})\n`);

  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stdout.write(`${sig}: stopping; open sessions end and their jobs go back to the queue\n`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      server.close().then(resolve, resolve);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  return 0;
}

/** --api-token(-file), --peer, --peers -> the API's principals; every mistake named. */
async function apiAuthConfig(values: { 'api-token'?: string; 'api-token-file'?: string; peer?: string[]; peers?: string }, serverId: string) {
  const { buildAuthConfig, parsePeerSpec, PeersFileSchema } = await import('../server/api/auth.js');
  if (values['api-token'] !== undefined && values['api-token-file'] !== undefined) throw new CliError('give --api-token or --api-token-file, not both');
  let apiToken = values['api-token'];
  if (values['api-token-file'] !== undefined) apiToken = readSecretFile('--api-token-file', values['api-token-file']).trim();
  try {
    const peers = (values.peer ?? []).map(parsePeerSpec);
    let baseDir: string | undefined;
    if (values.peers !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(values.peers, 'utf8'));
      } catch (e) {
        throw new Error(`--peers ${values.peers}: ${(e as Error).message}`);
      }
      const r = PeersFileSchema.safeParse(raw);
      if (!r.success) {
        const i = r.error.issues[0]!;
        throw new Error(`--peers ${values.peers}: [${i.path.join('.')}] ${i.message}`);
      }
      baseDir = path.dirname(path.resolve(values.peers));
      // Files named in the peers file are relative to it; those of --peer to the working directory.
      peers.push(...r.data.map((p) => ({ ...p, ...Object.fromEntries((['ca', 'cert', 'key'] as const).filter((k) => p[k]).map((k) => [k, path.resolve(baseDir!, p[k]!)])) })));
    }
    return buildAuthConfig({ ...(apiToken !== undefined ? { apiToken } : {}), peers, serverId });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

function short(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n - 3)}...` : s;
}

export function formatEvent(e: ServerEvent): string {
  const t = e.at.slice(11, 23);
  switch (e.type) {
    case 'session-started':
      return `${t} session ${e.sessionId} started: ${e.device} (SessionID ${e.dmSessionId}, ${e.encoding})`;
    case 'message':
      return `${t} session ${e.sessionId} ${e.direction === 'in' ? '<-' : '->'} MsgID ${e.msgId ?? '?'} (${e.bytes} bytes)`;
    case 'session-ended':
      return `${t} session ${e.sessionId} ended: ${e.state} (${e.reason})`;
    case 'job-sent':
      return `${t} job ${e.jobId} sent to ${e.device} in session ${e.sessionId}`;
    case 'job-done': {
      const j = e.job;
      const res = j.results.length === 1 && j.results[0]!.data !== null ? ` ${JSON.stringify(short(j.results[0]!.data))}` : j.results.length > 1 ? ` (${j.results.length} results)` : '';
      return `${t} job ${j.id} ${j.status}: ${j.command} ${j.target} -> ${j.statusCode ?? '-'}${res}${j.error ? ` (${j.error})` : ''}`;
    }
    case 'job-unconfirmed':
      return `${t} job ${e.job.id} unconfirmed: ${e.job.command} ${e.job.target} (${e.job.error ?? 'no Status arrived'})`;
    case 'device-seen':
      // Every message refreshes "last seen"; only a first sighting is worth a line.
      return e.firstTime ? `${t} new device ${e.device}` : '';
    case 'alert':
      return `${t} session ${e.sessionId} alert ${e.alert.code} from ${e.device}${e.alert.items[0]?.type ? ` (${e.alert.items[0].type})` : ''}`;
    case 'notified':
      return `${t} notify ${e.device}: ${e.ok ? 'sent' : 'failed'} (${e.detail})`;
    case 'rejected':
      return `${t} rejected${e.sessionId !== null ? ` (session ${e.sessionId})` : ''}: ${e.httpStatus} ${e.reason}`;
    case 'session-held':
      return `${t} session ${e.sessionId} held by the step control${e.next ? `: next ${e.next.cmd} ${e.next.target} (job ${e.next.jobId}), ${e.pending} waiting` : ''}`;
    case 'session-released':
      return `${t} session ${e.sessionId} released by ${e.by} after ${(e.heldMs / 1000).toFixed(1)} s (${e.commands} command(s))`;
  }
}

export async function caCommand(argv: string[]): Promise<number> {
  return runSubcommand('ca', CA_HELP, { init: caInit, device: caDevice, peer: caPeer }, argv);
}

async function caInit(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' } }, 'dmw ca init --data DIR');
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`);
  const { LabCa } = await import('../server/ca.js');
  const dir = path.join(dataDir(values.data), 'ca');
  await LabCa.loadOrCreate(dir);
  process.stdout.write(`${path.join(dir, 'ca.crt.pem')}\n`);
  return 0;
}

async function caDevice(argv: string[]): Promise<number> {
  const usage = 'dmw ca device DEVID --data DIR [--out DIR] [--any-devid]';
  const { values, positionals } = parse(argv, { data: { type: 'string' }, out: { type: 'string' }, 'any-devid': { type: 'boolean' } }, usage);
  if (positionals.length !== 1) throw new CliError(`expected one DEVID\nusage: ${usage}`);
  const { LabCa } = await import('../server/ca.js');
  const devId = positionals[0]!;
  // The same check the UI's certificate form makes: a CN that is not a DevId would never match a device.
  const { certificateDevIdProblem } = await import('../api/form-rules.js');
  const problem = certificateDevIdProblem(devId);
  // --any-devid: a device that reports a vendor-specific DevId (libdmclient's test client says "DMCtest").
  if (problem && !values['any-devid']) throw new CliError(`DEVID: ${problem} (--any-devid issues it anyway)\nusage: ${usage}`);
  const data = dataDir(values.data);
  const ca = await LabCa.loadOrCreate(path.join(data, 'ca'));
  const issued = await ca.issueDevice(devId);
  writeIssued(values.out ?? path.join(data, 'devices'), fileSafe(devId), issued);
  return 0;
}

async function caPeer(argv: string[]): Promise<number> {
  // A DM-6 peer logs in to our API with this certificate; the CN prefix keeps it apart from devices.
  const usage = 'dmw ca peer SERVERID --data DIR [--out DIR]';
  const { values, positionals } = parse(argv, { data: { type: 'string' }, out: { type: 'string' } }, usage);
  if (positionals.length !== 1) throw new CliError(`expected one SERVERID\nusage: ${usage}`);
  const { LabCa } = await import('../server/ca.js');
  const { PEER_CN_PREFIX } = await import('../server/api/auth.js');
  const peerId = positionals[0]!;
  const data = dataDir(values.data);
  const ca = await LabCa.loadOrCreate(path.join(data, 'ca'));
  const issued = await ca.issueDevice(`${PEER_CN_PREFIX}${peerId}`);
  writeIssued(values.out ?? path.join(data, 'peers'), `peer-${fileSafe(peerId)}`, issued);
  return 0;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Writes an issued certificate and its key (owner-only) as OUT/BASE.crt.pem and .key.pem, and prints both paths. */
function writeIssued(out: string, base: string, issued: { certPem: string; keyPem: string }): void {
  mkdirSync(out, { recursive: true });
  const certFile = path.join(out, `${base}.crt.pem`);
  const keyFile = path.join(out, `${base}.key.pem`);
  writeFileSync(certFile, issued.certPem);
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  process.stdout.write(`${certFile}\n${keyFile}\n`);
}
