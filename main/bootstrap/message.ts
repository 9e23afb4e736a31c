/**
 * Profile -> bootstrap message (DM-3 / DM-4): the DMAcc account (and connectivity refs, extra nodes)
 * as one Add (or Replace) with an Item per node, or as one TNDS document; WBXML for the card or
 * the push, XML for the engineer's preview.
 *
 * Before anything is encoded, the node list is applied to a handset tree (main/tree, with the
 * handset URI limits and the DMAcc MO rules) as the device applies a bootstrap: a profile whose
 * message a handset would refuse is refused here, naming the node.
 */
import { el, type Element } from '../protocol/element.js';
import { encodeMessage } from '../protocol/codec.js';
import type { Item, ItemCommand, SyncML } from '../protocol/model.js';
import { describeCodecError } from '../protocol/errors.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { writeMessage } from '../protocol/message/write.js';
import { DEVICE } from '../tree/tree.js';
import { MO_DMACC, createDeviceTree } from '../tree/mos.js';
import { parentPath } from '../tree/uri.js';
import { profileAccount, type BootstrapProfile, type ProfileCredential } from './profile.js';

export const WBXML_TYPE = 'application/vnd.syncml.dm+wbxml';
export const TNDS_XML_TYPE = 'application/vnd.syncml.dmtnds+xml';

/** One node the bootstrap creates or replaces. */
export interface BootstrapNode {
  uri: string;
  format: string;
  type?: string;
  /** Leaves only. */
  value?: string;
  /** Where in the profile this node comes from (for error messages). */
  field: string;
}

export class BootstrapBuildError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'BootstrapBuildError';
  }
}

/** The nodes of the profile's account, parents before children. */
export function bootstrapNodes(p: BootstrapProfile): BootstrapNode[] {
  const base = `./DMAcc/${profileAccount(p)}`;
  const out: BootstrapNode[] = [];
  const node = (rel: string, field: string, type?: string): void => {
    const n: BootstrapNode = { uri: rel ? `${base}/${rel}` : base, format: 'node', field };
    if (type) n.type = type;
    out.push(n);
  };
  const leaf = (rel: string, value: string, field: string, format = 'chr'): void => {
    out.push({ uri: `${base}/${rel}`, format, value, field });
  };
  node('', 'account', MO_DMACC);
  leaf('AppID', 'w7', 'serverId');
  leaf('ServerID', p.serverId, 'serverId');
  leaf('Name', p.name ?? p.serverId, p.name !== undefined ? 'name' : 'serverId');
  if (p.connectivity?.prefConRef !== undefined) leaf('PrefConRef', p.connectivity.prefConRef, 'connectivity.prefConRef');
  const toCon = p.connectivity?.toConRefs ?? [];
  if (toCon.length > 0) {
    node('ToConRef', 'connectivity.toConRefs');
    toCon.forEach((ref, i) => {
      node(`ToConRef/${i + 1}`, `connectivity.toConRefs[${i}]`);
      leaf(`ToConRef/${i + 1}/ConRef`, ref, `connectivity.toConRefs[${i}]`);
    });
  }
  node('AppAddr', 'address');
  node('AppAddr/1', 'address');
  leaf('AppAddr/1/Addr', p.address, 'address');
  leaf('AppAddr/1/AddrType', p.addrType ?? 'URI', p.addrType !== undefined ? 'addrType' : 'address');
  if (p.port !== undefined) {
    node('AppAddr/1/Port', 'port');
    node('AppAddr/1/Port/1', 'port');
    leaf('AppAddr/1/Port/1/PortNbr', String(p.port), 'port', 'int');
  }
  leaf('AAuthPref', p.authPref ?? p.clientCredential.type ?? 'DIGEST', p.authPref !== undefined ? 'authPref' : 'clientCredential.type');
  node('AppAuth', 'clientCredential');
  const cred = (x: string, level: 'CLCRED' | 'SRVCRED', c: ProfileCredential, field: string): void => {
    node(`AppAuth/${x}`, field);
    leaf(`AppAuth/${x}/AAuthLevel`, level, field);
    leaf(`AppAuth/${x}/AAuthType`, c.type ?? 'DIGEST', `${field}.type`);
    leaf(`AppAuth/${x}/AAuthName`, c.name, `${field}.name`);
    leaf(`AppAuth/${x}/AAuthSecret`, c.secret, `${field}.secret`);
    if (c.data !== undefined) leaf(`AppAuth/${x}/AAuthData`, c.data, `${field}.data`, 'b64');
  };
  cred('1', 'CLCRED', p.clientCredential, 'clientCredential');
  cred('2', 'SRVCRED', p.serverCredential, 'serverCredential');
  (p.extraNodes ?? []).forEach((x, i) => {
    const n: BootstrapNode = { uri: x.uri, format: x.format ?? 'chr', field: `extraNodes[${i}]` };
    if (x.type !== undefined) n.type = x.type;
    if (x.value !== undefined) n.value = x.value;
    out.push(n);
  });
  return out;
}

/**
 * Apply the nodes to a fresh handset tree the way the device applies a bootstrap (as the device
 * itself, Add creating missing interior parents). Throws BootstrapBuildError naming the profile field.
 * For a Replace bootstrap the account is first created so that every Replace has a node to hit.
 */
export function checkBootstrapNodes(p: BootstrapProfile, nodes: readonly BootstrapNode[]): void {
  const tree = createDeviceTree();
  const base = `./DMAcc/${profileAccount(p)}`;
  const replace = (p.operation ?? 'Add') === 'Replace';
  if (replace) {
    // The device holds an account of this name already; Replace then touches its leaves only.
    for (const n of nodes) {
      if (!n.uri.startsWith(`${base}/`) && n.uri !== base) continue;
      const r = tree.add(DEVICE, n.uri, { format: n.format, createParents: true, ...(n.format === 'node' ? {} : { value: placeholder(n.format) }) });
      if (!r.ok && r.status !== 418) throw new BootstrapBuildError(`${n.uri}: ${r.message}`, n.field);
    }
  }
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.uri)) throw new BootstrapBuildError(`${n.uri} is given twice`, n.field);
    seen.add(n.uri);
    if (n.uri.startsWith('./DMAcc/') && !n.uri.startsWith(`${base}/`) && n.uri !== base) {
      throw new BootstrapBuildError(`${n.uri} is in another DMAcc account than ${base}: one bootstrap provisions one account`, n.field);
    }
    if (replace && n.format === 'node' && (n.uri === base || n.uri.startsWith(`${base}/`))) continue;
    const spec = { format: n.format, createParents: true, ...(n.type !== undefined ? { type: n.type } : {}), ...(n.value !== undefined ? { value: n.value } : {}) };
    const r = replace && tree.lookup(n.uri) !== undefined ? tree.replace(DEVICE, n.uri, n.value ?? null, { format: n.format }) : tree.add(DEVICE, n.uri, spec);
    if (!r.ok) throw new BootstrapBuildError(`${n.uri}: ${r.message} (status ${r.status})`, n.field);
  }
  // DMAcc rules beyond the tree's: every account has ServerID, AppAddr/<x>/Addr, and both credentials.
  const acc = tree.lookup(base);
  if (!acc) throw new BootstrapBuildError(`${base} was not created`, 'account');
  const must = ['AppID', 'ServerID', 'AppAddr', 'AAuthPref', 'AppAuth'];
  for (const m of must) if (!acc.child(m)) throw new BootstrapBuildError(`${base}/${m} is missing`, 'account');
  const levels = new Set<string>();
  for (const x of acc.child('AppAuth')!.children()) {
    const v = x.child('AAuthLevel')?.value;
    if (typeof v === 'string') levels.add(v);
  }
  for (const l of ['CLCRED', 'SRVCRED']) if (!levels.has(l)) throw new BootstrapBuildError(`${base}/AppAuth has no ${l} credential`, l === 'CLCRED' ? 'clientCredential' : 'serverCredential');
}

function placeholder(format: string): string {
  return format === 'int' ? '0' : format === 'bool' ? 'false' : format === 'b64' ? '' : format === 'float' ? '0' : '';
}

/** The bootstrap as a typed SyncML message (no response expected, so Final and no Status). */
export function buildBootstrapMessage(p: BootstrapProfile, opts: { check?: boolean } = {}): SyncML {
  const nodes = bootstrapNodes(p);
  if (opts.check !== false) checkBootstrapNodes(p, nodes);
  const op = p.operation ?? 'Add';
  const replace = op === 'Replace';
  const base = `./DMAcc/${profileAccount(p)}`;
  let cmdId = 0;
  const commands: ItemCommand[] = [];
  if ((p.form ?? 'dmacc') === 'tnds') {
    const accountNodes = nodes.filter((n) => n.uri === base || n.uri.startsWith(`${base}/`));
    commands.push({
      kind: op,
      cmdID: String(++cmdId),
      items: [
        {
          target: { locURI: parentPath(base)! },
          meta: { format: 'xml', type: TNDS_XML_TYPE },
          data: { kind: 'xml', elements: [tndsTree(accountNodes, base, p.dmVersion)] },
        },
      ],
    });
    const rest = nodes.filter((n) => !accountNodes.includes(n));
    if (rest.length > 0) commands.push({ kind: 'Add', cmdID: String(++cmdId), items: rest.map(item) });
  } else {
    const items = replace ? nodes.filter((n) => n.format !== 'node' || !(n.uri === base || n.uri.startsWith(`${base}/`))) : nodes;
    const accountItems = items.filter((n) => n.uri === base || n.uri.startsWith(`${base}/`));
    const extra = items.filter((n) => !accountItems.includes(n));
    commands.push({ kind: op, cmdID: String(++cmdId), items: accountItems.map(item) });
    if (extra.length > 0) commands.push({ kind: 'Add', cmdID: String(++cmdId), items: extra.map(item) });
  }
  return {
    hdr: {
      verDTD: '1.2',
      verProto: `DM/${p.dmVersion ?? '1.2'}`,
      sessionID: '0',
      msgID: '1',
      target: { locURI: p.target ?? '*' },
      source: { locURI: p.serverId },
    },
    body: { commands, final: true },
  };
}

function item(n: BootstrapNode): Item {
  const i: Item = { target: { locURI: n.uri }, meta: { format: n.format } };
  if (n.type !== undefined) i.meta!.type = n.type;
  if (n.value !== undefined) i.data = { kind: 'text', text: n.value };
  return i;
}

/** MgmtTree { VerDTD, Node(account) { ... } } with the nodes nested by URI. */
function tndsTree(nodes: readonly BootstrapNode[], base: string, dmVersion: string | undefined): Element {
  const d = (name: string, children: (Element | string)[] = []): Element => el('dmddf', name, children);
  const byUri = new Map<string, Element>();
  const root = d('MgmtTree', [d('VerDTD', [dmVersion === '1.3' ? '1.3' : '1.2'])]);
  for (const n of nodes) {
    const name = n.uri.slice(n.uri.lastIndexOf('/') + 1);
    const props: Element[] = [d('Format', [d(n.format)])];
    if (n.type !== undefined) props.push(d('Type', [n.format === 'node' ? d('DDFName', [n.type]) : d('MIME', [n.type])]));
    const e = d('Node', [d('NodeName', [name]), d('RTProperties', props)]);
    if (n.value !== undefined) e.children.push(d('Value', n.value === '' ? [] : [n.value]));
    byUri.set(n.uri, e);
    const parent = n.uri === base ? undefined : byUri.get(parentPath(n.uri)!);
    (parent ?? root).children.push(e);
  }
  return root;
}

export interface BuiltBootstrap {
  message: SyncML;
  wbxml: Uint8Array;
  /** Pretty XML preview (secrets included: it is what goes on the card). */
  xml: string;
  nodes: BootstrapNode[];
}

export function buildBootstrap(p: BootstrapProfile): BuiltBootstrap {
  const message = buildBootstrapMessage(p);
  const w = encodeMessage(message, 'wbxml');
  if (!w.ok) throw new BootstrapBuildError(`WBXML encoding failed: ${describeCodecError(w.error)}`);
  return { message, wbxml: w.value, xml: serializeXml(writeMessage(message), { pretty: true }), nodes: bootstrapNodes(p) };
}
