/**
 * `dmw server`: the DM server in the foreground, one log line per event; `dmw ca`: the lab CA that
 * issues the server's and the devices' certificates.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCredential, type ClientAuthMode, type Credential, type ServerAuthMode } from '../server/config.js';
import type { ServerEvent } from '../server/events.js';
import type { ClientCertMode } from '../server/http.js';
import { CliError } from './errors.js';
import { parse } from './job.js';

const HELP = `usage:
  dmw server --port N [--host ADDR] [--tls [--client-certs optional|require]] [--data DIR] [--server-id ID]
             [--client-auth none|basic|md5|hmac] [--client-cred NAME:SECRET] [--server-cred NAME:SECRET]
             [--server-auth basic|md5|hmac] [--require-client-cert] [--public-url URL]
             [--session-timeout SEC] [--max-body BYTES] [--max-msg-size BYTES] [--max-obj-size BYTES]

Runs until interrupted (Ctrl-C), logging sessions and jobs. Devices POST to http(s)://HOST:PORT/dm.
--client-cred   credentials of devices the registry has none for (the lab default)
--server-cred   what the server presents to devices (libdmclient refuses commands without it)
--tls           HTTPS with a certificate from the lab CA in DIR/ca (created on first use); device
                certificates come from \`dmw ca device DEVID --data DIR\`
--data          data folder (default $DMW_DATA or ~/.dmw)`;

const CA_HELP = `usage:
  dmw ca init --data DIR                       create the lab CA (DIR/ca/ca.crt.pem)
  dmw ca device DEVID --data DIR [--out DIR]   issue a client certificate for a device (CN = DevId)`;

function dataDir(v: string | undefined): string {
  return v ?? process.env.DMW_DATA ?? path.join(os.homedir(), '.dmw');
}

function credential(flag: string, v: string | undefined): Credential | undefined {
  if (v === undefined) return undefined;
  const c = parseCredential(v);
  if (!c) throw new CliError(`${flag} must be NAME:SECRET`);
  return c;
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

export async function serverCommand(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const usage = 'dmw server --port N [options] (dmw server --help)';
  const { values, positionals } = parse(argv, {
    port: { type: 'string' }, host: { type: 'string' }, tls: { type: 'boolean' }, 'client-certs': { type: 'string' }, data: { type: 'string' },
    'server-id': { type: 'string' }, 'client-auth': { type: 'string' }, 'client-cred': { type: 'string' }, 'server-cred': { type: 'string' },
    'server-auth': { type: 'string' }, 'require-client-cert': { type: 'boolean' }, 'public-url': { type: 'string' },
    'session-timeout': { type: 'string' }, 'max-body': { type: 'string' }, 'max-msg-size': { type: 'string' }, 'max-obj-size': { type: 'string' },
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
  const defaultClientCred = credential('--client-cred', values['client-cred']);
  const serverCred = credential('--server-cred', values['server-cred']);
  if (clientAuth !== 'none' && !defaultClientCred) process.stderr.write(`dmw: warning: --client-auth ${clientAuth} without --client-cred: only devices with their own credentials can log in\n`);
  const timeout = positiveInt('--session-timeout', values['session-timeout']);
  const maxBody = positiveInt('--max-body', values['max-body']);
  const maxMsg = positiveInt('--max-msg-size', values['max-msg-size']);
  const maxObj = positiveInt('--max-obj-size', values['max-obj-size']);
  const data = dataDir(values.data);

  // Loaded here so `dmw codec ...` never pays for SQLite and the certificate library.
  const { DmServer } = await import('../server/server.js');
  let server: Awaited<ReturnType<typeof DmServer.start>>;
  try {
    server = await DmServer.start({
      dataDir: data, port, host: values.host ?? '0.0.0.0', clientAuth, serverAuth,
      ...(values['server-id'] ? { serverId: values['server-id'] } : {}),
      ...(defaultClientCred ? { defaultClientCred } : {}),
      ...(serverCred ? { serverCred } : {}),
      ...(values.tls ? { tls: { clientCerts } } : {}),
      ...(values['require-client-cert'] ? { requireClientCert: true } : {}),
      ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
      limits: {
        ...(timeout ? { sessionTimeoutMs: timeout * 1000 } : {}),
        ...(maxBody ? { maxBodyBytes: maxBody } : {}),
        ...(maxMsg ? { maxMsgSize: maxMsg } : {}),
        ...(maxObj ? { maxObjSize: maxObj } : {}),
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') throw new CliError(`port ${port} is in use`);
    if (err.code === 'EACCES') throw new CliError(`not allowed to listen on port ${port}`);
    throw new CliError(`cannot start the server: ${err.message}`);
  }
  server.bus.subscribe((e) => {
    const line = formatEvent(e);
    if (line) process.stdout.write(`${line}\n`);
  });
  if (!serverCred) process.stderr.write('dmw: note: no --server-cred: clients that authenticate the server (libdmclient) will refuse every command\n');
  const auth = clientAuth === 'none' ? 'no client auth' : `client auth ${clientAuth}`;
  process.stdout.write(`listening on ${server.url.replace(/:\d+\//, `:${server.port}/`)} (port ${server.port}, data ${data}, ${auth}${serverCred ? `, server cred ${serverCred.name}` : ''}${values.tls ? `, CA ${path.join(data, 'ca', 'ca.crt.pem')}` : ''})\n`);

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
    case 'device-seen':
      // Every message refreshes "last seen"; only a first sighting is worth a line.
      return e.firstTime ? `${t} new device ${e.device}` : '';
    case 'alert':
      return `${t} session ${e.sessionId} alert ${e.alert.code} from ${e.device}${e.alert.items[0]?.type ? ` (${e.alert.items[0].type})` : ''}`;
    case 'notified':
      return `${t} notify ${e.device}: ${e.ok ? 'sent' : 'failed'} (${e.detail})`;
    case 'rejected':
      return `${t} rejected${e.sessionId !== null ? ` (session ${e.sessionId})` : ''}: ${e.httpStatus} ${e.reason}`;
  }
}

export async function caCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${CA_HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  const { LabCa } = await import('../server/ca.js');
  if (sub === 'init') {
    const { values, positionals } = parse(rest, { data: { type: 'string' } }, 'dmw ca init --data DIR');
    if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`);
    const dir = path.join(dataDir(values.data), 'ca');
    await LabCa.loadOrCreate(dir);
    process.stdout.write(`${path.join(dir, 'ca.crt.pem')}\n`);
    return 0;
  }
  if (sub === 'device') {
    const usage = 'dmw ca device DEVID --data DIR [--out DIR]';
    const { values, positionals } = parse(rest, { data: { type: 'string' }, out: { type: 'string' } }, usage);
    if (positionals.length !== 1) throw new CliError(`expected one DEVID\nusage: ${usage}`);
    const devId = positionals[0]!;
    const data = dataDir(values.data);
    const ca = await LabCa.loadOrCreate(path.join(data, 'ca'));
    const issued = await ca.issueDevice(devId);
    const out = values.out ?? path.join(data, 'devices');
    mkdirSync(out, { recursive: true });
    const base = devId.replace(/[^A-Za-z0-9._-]/g, '_');
    const certFile = path.join(out, `${base}.crt.pem`);
    const keyFile = path.join(out, `${base}.key.pem`);
    writeFileSync(certFile, issued.certPem);
    writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
    process.stdout.write(`${certFile}\n${keyFile}\n`);
    return 0;
  }
  throw new CliError(`ca: unknown subcommand "${sub}"\n${CA_HELP}`);
}
