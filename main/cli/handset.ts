/**
 * `dmw handset`: one long-running virtual handset (main/client) for trying local apps against a DM
 * server. It listens for package #0 (DM-1) on a loopback port, serves the DM-7/DM-8 client-app
 * interface (main/client/APPS.md) on another, and prints each session's outcome as it ends, until
 * SIGINT/SIGTERM; then it closes both listeners and saves the tree.
 */
import { CliError } from './errors.js';
import { wantsHelp } from './subcommands.js';
import { CREDENTIAL_FLAGS } from './credential-flags.js';
import { APP_FLAG, appFlag, authType, caFile, checkServerId, credentials, FAULT_FLAG, faultCatalogue, faultFlag, handsetTls, parseFlags, serverUrl, treeFile, type AppChoice } from './handset-args.js';
import { applyDmaccAcl, DMACC_ACL_FLAG, dmaccAclFlag } from './dmacc-acl.js';
import type { ClientAppRegistry } from '../client/apps/index.js';

const HELP = `usage:
  dmw handset --server URL [--tree TREE.json] [--wbxml] [--auth basic|md5|hmac] [--client-cred NAME:SECRET]
              [--server-cred NAME:SECRET] [--server-id ID] [--ca CA.pem] [--data DIR]
              [--notify-port N] [--apps-port N] [--apps-token TOKEN] [--connect] [--json]
              [--dmacc-acl ACL] [--app fumo[:ROOT]]... [--fault NAME]...
  dmw handset --fault list

Runs one virtual handset until SIGINT or SIGTERM: it takes package #0 (server-initiated sessions) at
notifyUrl and serves local apps the client-app interface (DM-7/DM-8, main/client/APPS.md) at appsUrl,
both on 127.0.0.1. When ready it prints one JSON line:
  {"devId":"IMEI:...","notifyUrl":"http://127.0.0.1:N/notify/IMEI:...","appsUrl":"http://127.0.0.1:M","appsToken":"..."}
then a line per session as it ends (notifications, apps' Generic Alerts, --connect). On a signal it
closes the listeners, lets a running session end, saves the tree and exits 0; 2 for bad arguments.

--server       the DM server URL (http:// or https://), e.g. http://127.0.0.1:8080/dm
--tree         the handset's tree file (dmw tree init): loaded, and saved after every session and at
               exit; created (new IMEI DevId) when the file does not exist yet. Default: a new tree
               in memory
--wbxml        send WBXML (default XML)
--auth         client authentication (needs --client-cred; default md5 when --client-cred is given)
--client-cred  the credentials the handset presents (the server's --client-cred)
--server-cred  the credentials the server must present, and that package #0 is verified with
               (both also as --client-cred-file FILE / --server-cred-file FILE holding NAME:SECRET,
               or $DMW_CLIENT_CRED / $DMW_SERVER_CRED, to keep secrets off the command line)
--server-id    the DMAcc ServerID (default: the tree's account for URL, its only account, the
               --server-cred name, dmw)
--ca           HTTPS: trust only this CA (PEM)
--data         HTTPS: the lab CA in DIR/ca (dmw server --tls --data DIR): trusted, and it issues
               the handset a client certificate (CN = DevId)
--notify-port  where package #0 is taken (POST /notify/<DevId>); default 0, a free port
--apps-port    the client-app interface (HTTP/JSON, bearer token); default 0, a free port
--apps-token   the token apps send (Authorization: Bearer ...), at least 16 characters; default
               32 random bytes, base64url
--connect      run one client-initiated session (Alert 1201) at start
--json         session lines as JSON too:
               {"type":"session","devId","serverId","sessionId","initiator","ok","roundTrips","durationMs","error"?}
               and {"type":"stopped","signal"} at the end; refused notifications go to stderr
--dmacc-acl    the ACL of ./DMAcc (a new tree has Get=*), e.g. 'Add=srvA&Get=*': srvA may then
               give the device another server's account (DM-6 delegation, main/server/API.md);
               saved in --tree
--app          run a demo client app in the handset (repeatable): fumo[:ROOT] is the firmware
               update app of main/client/APPS.md, its FUMO MO at ROOT (default ./FwUpdate/Lab),
               managed by the --server-id server: a Replace of ROOT/Update/PkgData and an Exec of
               ROOT/Update (--correlator) install the package, and the app reports the result
               in a Generic Alert 1226 (a new session, printed like the others)
--fault        make the handset misbehave this way (repeatable, several at once): to prove that
               the judge (dmw session check) and conformance plans catch it; --fault list shows
               the faults`;

const USAGE = 'dmw handset --server URL [options] (dmw handset --help)';

function port(flag: string, v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n > 65535) throw new CliError(`${flag} must be a port number from 0 to 65535, got "${v}"`);
  return n;
}

function listenError(flag: string, p: number, e: unknown): CliError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') return new CliError(`${flag}: port ${p} is in use`);
  if (err.code === 'EACCES') return new CliError(`${flag}: not allowed to listen on port ${p}`);
  return new CliError(`${flag}: cannot listen on port ${p}: ${err.message}`);
}

export async function handsetCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${HELP}\n\n${faultCatalogue()}\n`);
    return 0;
  }
  const values = parseFlags(argv, {
    server: { type: 'string' }, tree: { type: 'string' }, wbxml: { type: 'boolean' }, auth: { type: 'string' },
    ...CREDENTIAL_FLAGS, 'server-id': { type: 'string' },
    ca: { type: 'string' }, data: { type: 'string' }, 'notify-port': { type: 'string' }, 'apps-port': { type: 'string' },
    'apps-token': { type: 'string' }, connect: { type: 'boolean' }, json: { type: 'boolean' }, ...FAULT_FLAG,
    ...DMACC_ACL_FLAG, ...APP_FLAG,
  }, USAGE);
  const faults = faultFlag(values.fault);
  if (faults === 'list') {
    process.stdout.write(`${faultCatalogue()}\n`);
    return 0;
  }
  const url = serverUrl(values.server, USAGE);
  const server = values.server!;
  const auth = authType(values.auth);
  const { clientCred, serverCred } = credentials(values, auth);
  await checkServerId(values['server-id']);
  const notifyPort = port('--notify-port', values['notify-port']);
  const appsPort = port('--apps-port', values['apps-port']);
  const appsToken = values['apps-token'];
  if (appsToken !== undefined && (appsToken.length < 16 || /\s/.test(appsToken))) throw new CliError('--apps-token must be at least 16 characters, without spaces');
  const dmaccAcl = await dmaccAclFlag(values['dmacc-acl']);
  const appChoices = appFlag(values.app);
  const caPem = caFile(values, url);
  const loaded = await treeFile(values.tree, true);
  const tlsFor = await handsetTls(values.data, caPem);
  const json = values.json === true;

  // Loaded here so `dmw --help` never pays for the tree engine and the client.
  const { configureAccount, defaultServerId } = await import('../client/sim.js');
  const { createDeviceTree } = await import('../tree/mos.js');
  const { randomImeiDevId } = await import('../client/devid.js');
  const { VirtualHandset } = await import('../client/handset.js');
  const { NotificationListener } = await import('../client/notify-listener.js');
  const { ClientAppRegistry, ClientAppServer } = await import('../client/apps/index.js');

  const tree = loaded?.tree ?? createDeviceTree({ devId: randomImeiDevId() });
  const serverId = values['server-id'] ?? defaultServerId(loaded?.tree, server, serverCred);
  const clientType = clientCred ? auth ?? 'md5' : undefined;
  try {
    configureAccount(tree, {
      serverId, url: server,
      ...(clientType ? { clientType } : {}),
      ...(clientCred ? { clientCred } : {}),
      serverType: auth ?? 'md5',
      ...(serverCred ? { serverCred } : {}),
    });
    if (dmaccAcl !== undefined) applyDmaccAcl(tree, dmaccAcl);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot set up the handset: ${(e as Error).message}`);
  }
  const devIdLeaf = tree.lookup('./DevInfo/DevId')?.value;
  const tls = typeof tlsFor === 'function' ? await tlsFor(typeof devIdLeaf === 'string' ? devIdLeaf : '') : tlsFor;
  const handset = await VirtualHandset.open({ tree, ...(values.tree !== undefined ? { treeFile: values.tree } : {}), encoding: values.wbxml ? 'wbxml' : 'xml', ...(tls ? { tls } : {}), ...(faults.length > 0 ? { faults } : {}) });
  await handset.save(); // a new tree file exists from the start; a loaded one gets the account

  // Every session the handset runs, whoever started it, is reported as it ends.
  const initiators = new Map<string, string>();
  const out = (line: string) => process.stdout.write(`${line}\n`);
  handset.on((e) => {
    if (e.type === 'session-start') initiators.set(e.sessionId, e.initiator);
    else if (e.type === 'session-end') {
      const initiator = initiators.get(e.sessionId) ?? null;
      initiators.delete(e.sessionId);
      if (json) {
        out(JSON.stringify({ type: 'session', devId: e.devId, serverId: e.serverId, sessionId: e.sessionId, initiator, ok: e.ok, roundTrips: e.roundTrips, durationMs: e.durationMs, ...(e.ok ? {} : { error: e.reason }) }));
      } else {
        const who = initiator === 'server' ? 'server-initiated' : initiator === 'client' ? 'client-initiated' : 'session';
        out(e.ok
          ? `session ${e.sessionId} with ${e.serverId} (${who}) ok: ${e.roundTrips} round trip${e.roundTrips === 1 ? '' : 's'}, ${e.durationMs} ms`
          : `session ${e.sessionId} with ${e.serverId || '?'} (${who}) failed: ${e.reason}`);
      }
    } else if (e.type === 'notification' && !e.accepted) {
      process.stderr.write(`dmw: notification from ${e.serverId || '?'} refused: ${e.reason}\n`);
    }
  });

  const registry = ClientAppRegistry.attach(handset);
  const demoApps = await startDemoApps(registry, appChoices, serverId);
  let listener: Awaited<ReturnType<typeof NotificationListener.start>> | undefined;
  let apps: Awaited<ReturnType<typeof ClientAppServer.start>> | undefined;
  const shutdown = async () => {
    await Promise.all([listener?.close(), apps?.close()]);
    handset.close(); // refuses new sessions
    // a session already running ends (it saves the tree) before the process does
    const deadline = Date.now() + 10_000;
    while (handset.busy && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await handset.save(); // the apps' MOs (FUMO State, ...) are part of the device's tree
    for (const app of demoApps) app.close();
    registry.detach();
  };
  try {
    try {
      listener = await NotificationListener.start({ port: notifyPort });
    } catch (e) {
      throw listenError('--notify-port', notifyPort, e);
    }
    try {
      apps = await ClientAppServer.start(registry, { port: appsPort, ...(appsToken !== undefined ? { token: appsToken } : {}) });
    } catch (e) {
      throw listenError('--apps-port', appsPort, e);
    }
  } catch (e) {
    await shutdown();
    throw e;
  }
  const stopped = new Promise<string>((resolve) => {
    const stop = (sig: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  const notifyUrl = listener.register(handset);
  out(JSON.stringify({ devId: handset.devId, notifyUrl, appsUrl: apps.url, appsToken: apps.token, ...(demoApps.length > 0 ? { apps: demoApps.map((a) => ({ appId: a.appId, root: a.root })) } : {}) }));

  // The outcome is printed by the session-end listener above; what fails before a session starts, here.
  if (values.connect) void handset.connect({ serverId }).catch((e: unknown) => process.stderr.write(`dmw: --connect: ${e instanceof Error ? e.message : String(e)}\n`));

  const sig = await stopped;
  await shutdown();
  out(json ? JSON.stringify({ type: 'stopped', signal: sig }) : `${sig}: stopped; listeners closed${handset.treeFile ? `, tree saved to ${handset.treeFile}` : ''}`);
  return 0;
}

/**
 * The --app demo apps, installed on the handset's registry and managed by its server (the FUMO MO
 * of a saved tree is adopted, so State survives a restart).
 */
async function startDemoApps(registry: ClientAppRegistry, choices: readonly AppChoice[], serverId: string): Promise<{ appId: string; root: string; close(): void }[]> {
  if (choices.length === 0) return [];
  const { FirmwareUpdateApp } = await import('../client/apps/fumo.js');
  const started: { appId: string; root: string; close(): void }[] = [];
  for (const c of choices) {
    try {
      started.push(FirmwareUpdateApp.install(registry, { servers: [serverId], ...(c.root !== undefined ? { root: c.root } : {}) }));
    } catch (e) {
      for (const s of started) s.close();
      throw new CliError(`--app ${c.name}${c.root ? `:${c.root}` : ''}: ${(e as Error).message}`);
    }
  }
  return started;
}
