/**
 * Standard management objects and a ready-made handset tree (OMA DM 1.2 "DM Standardized Objects").
 *
 *   ./DevInfo    urn:oma:mo:oma-dm-devinfo:1.0    DevId, Man, Mod, DmV, Lang, Bearer/, Ext/   ACL Get=*
 *   ./DevDetail  urn:oma:mo:oma-dm-devdetail:1.0  URI/{MaxDepth,MaxTotLen,MaxSegLen}, DevTyp, OEM,
 *                                                 FwV, SwV, HwV, LrgObj, Ext/                  ACL Get=*
 *   ./DMAcc      one child per management authority (urn:oma:mo:oma-dm-dmacc:1.0):
 *                <X>/AppID (w7), ServerID, Name, PrefConRef, AppAddr/<X>/{Addr, AddrType, Port/<X>/PortNbr},
 *                AAuthPref, AppAuth/<X>/{AAuthLevel, AAuthType, AAuthName, AAuthSecret, AAuthData}, Ext/
 *                each account: ACL Add=srv&Delete=srv&Get=srv&Replace=srv (its own server only)
 *   ./Inbox      Add only (Get -> 405), ACL Add=*
 *
 * Access types (405 whatever the ACL says) follow the MO DDFs: DevInfo/DevDetail are read-only and
 * permanent; AAuthSecret and AAuthData accept no Get from anyone (a server must never read a secret);
 * AppID is read-only.
 */
import { acl, isValidServerId } from './acl.js';
import { ACCESS, ACCESS_ALL, DEVICE, DmTree, TreeError, type DmNode, type NodeSpec, type TreeOptions } from './tree.js';
import type { UriLimits } from './uri.js';

export const MO_DEVINFO = 'urn:oma:mo:oma-dm-devinfo:1.0';
export const MO_DEVDETAIL = 'urn:oma:mo:oma-dm-devdetail:1.0';
export const MO_DMACC = 'urn:oma:mo:oma-dm-dmacc:1.0';

const GET = ACCESS.Get | ACCESS.Copy;
const READ_ONLY = GET; // permanent, Get only
const READ_ONLY_INTERIOR = GET;
const SECRET = ACCESS.Add | ACCESS.Delete | ACCESS.Replace; // no Get, no Copy
const DYNAMIC = ACCESS_ALL;

/** The limits the Android/Motorola DM engine publishes in DevDetail/URI (testoutput12). */
export const HANDSET_LIMITS: Readonly<UriLimits> = Object.freeze({ maxDepth: 20, maxTotLen: 255, maxSegLen: 128 });

export interface Credential {
  /** AAuthType: BASIC, DIGEST (syncml:auth-md5), HMAC (syncml:auth-MAC), ... Default DIGEST. */
  type?: string;
  name: string;
  secret: string;
  /** AAuthData: the nonce, base64 (as it travels in NextNonce). Default empty. */
  data?: string;
}

export interface DmAccountSpec {
  serverId: string;
  /** Name of the `./DMAcc/<X>` node; default derived from the ServerID. */
  nodeName?: string;
  /** Display name (DMAcc Name). Default the ServerID. */
  name?: string;
  /** Server URL (AppAddr/1/Addr). */
  addr?: string;
  /** AppAddr/1/AddrType; default URI. */
  addrType?: string;
  /** AppAddr/1/Port/1/PortNbr, when the MO should carry one. */
  port?: number;
  /** AAuthPref; default the client credential's type. */
  authPref?: string;
  prefConRef?: string;
  /** CLCRED: how the client authenticates to the server. */
  clientCred: Credential;
  /** SRVCRED: how the server authenticates to the client (and signs package #0). */
  serverCred: Credential;
}

export interface DeviceTreeOptions {
  /** DevInfo/DevId; default an `IMEI:` with 15 digits and a valid Luhn check digit. */
  devId?: string;
  man?: string;
  mod?: string;
  dmV?: string;
  lang?: string;
  /** DevInfo/Bearer children, e.g. { GSM: '' }. */
  bearers?: Record<string, string>;
  devTyp?: string;
  oem?: string;
  fwV?: string;
  swV?: string;
  hwV?: string;
  lrgObj?: boolean;
  /** URI limits published in DevDetail/URI and enforced by the tree. Default HANDSET_LIMITS. */
  limits?: Partial<UriLimits>;
  accounts?: DmAccountSpec[];
  /** Create ./Inbox (default true). */
  inbox?: boolean;
  rootAcl?: string;
  clock?: TreeOptions['clock'];
}

/** IMEI with its Luhn check digit, from a 14-digit body. */
export function imeiFromBody(body14: string): string {
  if (!/^\d{14}$/.test(body14)) throw new Error(`IMEI body must be 14 digits, got ${JSON.stringify(body14)}`);
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    let d = body14.charCodeAt(i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body14 + String((10 - (sum % 10)) % 10);
}

/** A plausible handset: fictitious maker, real shapes (IMEI with check digit, version strings). */
export const DEFAULT_DEVICE = Object.freeze({
  devId: 'IMEI:' + imeiFromBody('35693803564380'),
  man: 'Acme Mobile',
  mod: 'AM-X1',
  dmV: '1.2',
  lang: 'en-US',
  devTyp: 'phone',
  oem: 'Acme Mobile',
  fwV: 'AMX1_FW_2.3.07',
  swV: 'AMX1_SW_4.4.2-20240115',
  hwV: 'REV-B',
  lrgObj: true,
});

function leaf(tree: DmTree, parent: DmNode, name: string, value: string, spec: NodeSpec = {}): DmNode {
  return tree.createNode(parent, name, { format: 'chr', value, access: READ_ONLY, ...spec });
}

function interior(tree: DmTree, parent: DmNode, name: string, spec: NodeSpec = {}): DmNode {
  return tree.createNode(parent, name, { format: 'node', access: READ_ONLY_INTERIOR, ...spec });
}

/** Build a handset tree: DevInfo, DevDetail, DMAcc (one account per management authority), Inbox. */
export function createDeviceTree(options: DeviceTreeOptions = {}): DmTree {
  const d = { ...DEFAULT_DEVICE, ...stripUndefined(options) };
  const limits: UriLimits = { ...HANDSET_LIMITS, ...options.limits };
  const treeOptions: TreeOptions = { limits };
  if (options.rootAcl !== undefined) treeOptions.rootAcl = options.rootAcl;
  if (options.clock !== undefined) treeOptions.clock = options.clock;
  const tree = new DmTree(treeOptions);
  const root = tree.root;

  const devInfo = interior(tree, root, 'DevInfo', { acl: 'Get=*', type: MO_DEVINFO });
  leaf(tree, devInfo, 'DevId', d.devId);
  leaf(tree, devInfo, 'Man', d.man);
  leaf(tree, devInfo, 'Mod', d.mod);
  leaf(tree, devInfo, 'DmV', d.dmV);
  leaf(tree, devInfo, 'Lang', d.lang);
  const bearer = interior(tree, devInfo, 'Bearer');
  for (const [name, value] of Object.entries(options.bearers ?? { GSM: '' })) leaf(tree, bearer, name, value);
  interior(tree, devInfo, 'Ext');

  const devDetail = interior(tree, root, 'DevDetail', { acl: 'Get=*', type: MO_DEVDETAIL });
  const uri = interior(tree, devDetail, 'URI');
  leaf(tree, uri, 'MaxDepth', String(limits.maxDepth), { format: 'int' });
  leaf(tree, uri, 'MaxTotLen', String(limits.maxTotLen), { format: 'int' });
  leaf(tree, uri, 'MaxSegLen', String(limits.maxSegLen), { format: 'int' });
  leaf(tree, devDetail, 'DevTyp', d.devTyp);
  leaf(tree, devDetail, 'OEM', d.oem);
  leaf(tree, devDetail, 'FwV', d.fwV);
  leaf(tree, devDetail, 'SwV', d.swV);
  leaf(tree, devDetail, 'HwV', d.hwV);
  leaf(tree, devDetail, 'LrgObj', d.lrgObj ? 'true' : 'false', { format: 'bool' });
  interior(tree, devDetail, 'Ext');

  // Servers see which accounts exist (Get=*) but cannot add or remove accounts: that is bootstrap's job.
  interior(tree, root, 'DMAcc', { acl: 'Get=*', access: ACCESS.Get | ACCESS.Add });
  for (const account of options.accounts ?? []) addDmAccount(tree, account);

  if (options.inbox ?? true) interior(tree, root, 'Inbox', { acl: 'Add=*', access: ACCESS.Add });
  return tree;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `./DMAcc/<X>` node name for a ServerID: the id with anything outside [A-Za-z0-9._-] replaced. */
export function accountNodeName(serverId: string): string {
  return serverId.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The ACL of a management authority's own account subtree. */
export function accountAcl(serverId: string): string {
  return `Add=${serverId}&Delete=${serverId}&Get=${serverId}&Replace=${serverId}`;
}

/**
 * Add a DM 1.2 DMAcc account (a management authority) as the device does on bootstrap.
 * Throws TreeError if ./DMAcc is missing, the ServerID is unusable in ACLs, or the node exists.
 */
export function addDmAccount(tree: DmTree, spec: DmAccountSpec): DmNode {
  if (!isValidServerId(spec.serverId)) throw new TreeError(400, `ServerID ${JSON.stringify(spec.serverId)} cannot appear in an ACL`);
  const dmacc = tree.root.child('DMAcc');
  if (dmacc === undefined) throw new TreeError(404, './DMAcc does not exist');
  const sid = spec.serverId;
  const acc = tree.createNode(dmacc, spec.nodeName ?? accountNodeName(sid), {
    format: 'node',
    type: MO_DMACC,
    acl: acl(accountAcl(sid)),
    access: DYNAMIC,
  });
  const rw = { access: DYNAMIC };
  leaf(tree, acc, 'AppID', 'w7', { access: READ_ONLY });
  leaf(tree, acc, 'ServerID', sid, rw);
  leaf(tree, acc, 'Name', spec.name ?? sid, rw);
  leaf(tree, acc, 'PrefConRef', spec.prefConRef ?? '', rw);
  const appAddr = interior(tree, acc, 'AppAddr', rw);
  const addr1 = interior(tree, appAddr, '1', rw);
  leaf(tree, addr1, 'Addr', spec.addr ?? '', rw);
  leaf(tree, addr1, 'AddrType', spec.addrType ?? 'URI', rw);
  if (spec.port !== undefined) {
    const port = interior(tree, addr1, 'Port', rw);
    const port1 = interior(tree, port, '1', rw);
    leaf(tree, port1, 'PortNbr', String(spec.port), { ...rw, format: 'int' });
  }
  leaf(tree, acc, 'AAuthPref', spec.authPref ?? spec.clientCred.type ?? 'DIGEST', rw);
  const appAuth = interior(tree, acc, 'AppAuth', rw);
  addCredential(tree, appAuth, '1', 'CLCRED', spec.clientCred);
  addCredential(tree, appAuth, '2', 'SRVCRED', spec.serverCred);
  interior(tree, acc, 'Ext', rw);
  return acc;
}

function addCredential(tree: DmTree, appAuth: DmNode, name: string, level: 'CLCRED' | 'SRVCRED', c: Credential): void {
  const rw = { access: DYNAMIC };
  const x = interior(tree, appAuth, name, rw);
  leaf(tree, x, 'AAuthLevel', level, rw);
  leaf(tree, x, 'AAuthType', c.type ?? 'DIGEST', rw);
  leaf(tree, x, 'AAuthName', c.name, rw);
  leaf(tree, x, 'AAuthSecret', c.secret, { access: SECRET });
  leaf(tree, x, 'AAuthData', c.data ?? '', { access: SECRET, format: 'b64' });
}

/** An account as the session engine needs it (read as DEVICE: secrets included). */
export interface DmAccount {
  path: string;
  serverId: string;
  name: string;
  addr: string;
  authPref: string;
  clientCred?: Required<Credential>;
  serverCred?: Required<Credential>;
}

function text(n: DmNode | undefined): string {
  return n !== undefined && typeof n.value === 'string' ? n.value : '';
}

/** Every `./DMAcc/<X>` account with its credentials (by AAuthLevel, whatever the <X> names are). */
export function readAccounts(tree: DmTree): DmAccount[] {
  const dmacc = tree.root.child('DMAcc');
  if (dmacc === undefined) return [];
  const out: DmAccount[] = [];
  for (const acc of dmacc.children()) {
    if (acc.format !== 'node') continue;
    const a: DmAccount = {
      path: tree.pathOf(acc),
      serverId: text(acc.child('ServerID')),
      name: text(acc.child('Name')),
      addr: text(acc.child('AppAddr')?.children().next().value?.child('Addr')),
      authPref: text(acc.child('AAuthPref')),
    };
    for (const x of acc.child('AppAuth')?.children() ?? []) {
      const cred: Required<Credential> = {
        type: text(x.child('AAuthType')),
        name: text(x.child('AAuthName')),
        secret: text(x.child('AAuthSecret')),
        data: text(x.child('AAuthData')),
      };
      const level = text(x.child('AAuthLevel'));
      if (level === 'CLCRED') a.clientCred = cred;
      else if (level === 'SRVCRED') a.serverCred = cred;
    }
    out.push(a);
  }
  return out;
}

/** The account of a ServerID, if any. */
export function findAccount(tree: DmTree, serverId: string): DmAccount | undefined {
  return readAccounts(tree).find((a) => a.serverId === serverId);
}


