/**
 * The Devices view's virtual handsets (main/api/handsets.ts loads this module and calls
 * `createFleet(ctx)`). A fleet is a HandsetPool whose handsets are set up for the workbench's own DM
 * server, whatever it currently is: before each session a handset's DMAcc account for the server's
 * ServerID is brought in line with it (address, the server's credentials, a client credential of the
 * handset's own that the server is told about), its notification URL is registered, and over HTTPS
 * it gets a client certificate from the server's lab CA (CN = DevId) and trusts only that CA.
 * Trees live in <dataDir>/handsets/ and come back after a restart.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AuthType } from '../protocol/auth.js';
import { addDmAccount, findAccount } from '../tree/mos.js';
import { DEVICE } from '../tree/tree.js';
import { AAUTH_TYPE, appAuthNode } from './credentials.js';
import type { VirtualHandset } from './handset.js';
import { HandsetPool } from './pool.js';
import type { HandsetFleet as AppHandsetFleet, VirtualHandset as AppHandsetView } from '../api/handsets.js';

/** What a fleet needs of the DM server (DmServer has it). */
export interface FleetServer {
  readonly url: string;
  readonly config: {
    serverId: string;
    clientAuth: 'none' | AuthType;
    serverAuth: 'none' | AuthType;
    serverCred?: { name: string; secret: string };
  };
  readonly ca?: { readonly certPem: string; issueDevice(devId: string): Promise<{ certPem: string; keyPem: string }> };
  setDevice(devId: string, p: { notifyUrl?: string | null; clientCred?: { name: string; secret: string } | null }): void;
}

export interface FleetContext {
  server(): FleetServer | undefined;
  dataDir: string;
}

/** What the Devices view shows of a handset: the app's seam (main/api/handsets.ts) defines it. */
export type FleetHandset = AppHandsetView;

export interface HandsetFleet extends AppHandsetFleet {
  /** The pool underneath (events with raw message bytes, sessions with options). */
  readonly pool: HandsetPool;
}

function view(h: VirtualHandset): FleetHandset {
  return { devId: h.devId, model: h.model, running: h.running, sessions: h.sessions, lastSessionAt: h.lastSessionAt, lastError: h.lastError };
}

function setLeaf(h: VirtualHandset, uri: string, value: string): void {
  const r = h.tree.replace(DEVICE, uri, value);
  if (!r.ok) throw new Error(`${uri}: ${r.message}`);
}

/** Brings the handset's account for `server` in line with it; registers the handset with the server. */
export async function prepareForServer(h: VirtualHandset, server: FleetServer): Promise<void> {
  const devId = h.devId;
  const cfg = server.config;
  const serverType: AuthType = cfg.serverAuth === 'none' ? 'md5' : cfg.serverAuth;
  const clientType: AuthType = cfg.clientAuth === 'none' ? 'md5' : cfg.clientAuth;
  let acc = findAccount(h.tree, cfg.serverId);
  if (!acc) {
    addDmAccount(h.tree, {
      serverId: cfg.serverId,
      addr: server.url,
      clientCred: { type: AAUTH_TYPE[clientType], name: devId, secret: randomBytes(12).toString('base64url') },
      serverCred: { type: AAUTH_TYPE[serverType], name: cfg.serverCred?.name ?? cfg.serverId, secret: cfg.serverCred?.secret ?? '' },
    });
    acc = findAccount(h.tree, cfg.serverId)!;
  }
  const addr = h.tree.lookup(acc.path)?.child('AppAddr')?.children().next().value?.child('Addr');
  if (addr && addr.value !== server.url) setLeaf(h, h.tree.pathOf(addr), server.url);
  const srv = appAuthNode(h.tree, acc.path, 'SRVCRED');
  if (srv) {
    const p = h.tree.pathOf(srv);
    const want = { AAuthType: AAUTH_TYPE[serverType], AAuthName: cfg.serverCred?.name ?? cfg.serverId, AAuthSecret: cfg.serverCred?.secret ?? '' };
    for (const [k, v] of Object.entries(want)) if (srv.child(k)?.value !== v) setLeaf(h, `${p}/${k}`, v);
  }
  const cl = appAuthNode(h.tree, acc.path, 'CLCRED');
  if (cl && cl.child('AAuthType')?.value !== AAUTH_TYPE[clientType]) setLeaf(h, `${h.tree.pathOf(cl)}/AAuthType`, AAUTH_TYPE[clientType]);
  const name = typeof cl?.child('AAuthName')?.value === 'string' ? (cl.child('AAuthName')!.value as string) : devId;
  const secret = typeof cl?.child('AAuthSecret')?.value === 'string' ? (cl.child('AAuthSecret')!.value as string) : '';
  server.setDevice(devId, { ...(h.notifyUrl ? { notifyUrl: h.notifyUrl } : {}), ...(cfg.clientAuth !== 'none' ? { clientCred: { name, secret } } : {}) });
  if (server.url.startsWith('https:') && server.ca) {
    const have = h.options.tls;
    if (!have || have.ca !== server.ca.certPem || !have.cert) {
      const issued = await server.ca.issueDevice(devId);
      h.setTls({ ca: server.ca.certPem, cert: issued.certPem, key: issued.keyPem });
    }
  } else if (h.options.tls) h.setTls(undefined);
  await h.save();
}

export async function createFleet(ctx: FleetContext): Promise<HandsetFleet> {
  const pool = await HandsetPool.create({
    dir: path.join(ctx.dataDir, 'handsets'),
    template: {
      encoding: 'wbxml',
      alerts: 'accept',
      // Every session (notifications included) starts from the server as it is now.
      beforeSession: async (h) => {
        const server = ctx.server();
        if (server) await prepareForServer(h, server);
      },
    },
  });

  const session = async (h: VirtualHandset): Promise<void> => {
    const server = ctx.server();
    if (!server) throw new Error('the DM server is not running');
    const r = await h.connect({ serverId: server.config.serverId });
    if (!r.ok) throw new Error(r.error);
  };
  /** "Power on": a started handset calls in once; a failure shows as the handset's lastError. */
  const callIn = (h: VirtualHandset): void => {
    if (!ctx.server()) return;
    session(h).catch((e: unknown) => {
      h.lastError = e instanceof Error ? e.message : String(e);
    });
  };
  const must = (devId: string): VirtualHandset => {
    const h = pool.get(devId);
    if (!h) throw new Error(`no virtual handset ${devId}`);
    return h;
  };

  return {
    pool,
    list: () => pool.handsets().map(view),
    async add(count, opts = {}) {
      const added = await pool.add(count, opts.model !== undefined ? { model: opts.model } : {});
      for (const h of added) callIn(h);
      return added.map(view);
    },
    async start(devId) {
      pool.start(devId);
      callIn(must(devId));
    },
    async stop(devId) {
      pool.stop(devId);
    },
    async connect(devId) {
      await session(must(devId));
    },
    onChange: (fn) => pool.onChange(fn),
    close: () => pool.close(),
  };
}
