/**
 * DM-7 registration, the pure part: what a local app asks for (an MO root, its nodes, who may manage
 * it, which Exec targets it answers) checked against the tree and the MOs other apps own, turned into
 * a plan of nodes to create. Nothing here writes: registry.ts applies the plan inside a transaction.
 *
 * Every refusal is an AppRegistryError naming the path or the input field it is about, so an app
 * (or its engineer reading the HTTP answer) knows exactly what to change.
 */
import { ACL_COMMANDS, isValidServerId, parseAcl, type AclCommand } from '../../tree/acl.js';
import { MAX_TITLE_BYTES, accessMask, type AccessName, type DmTree, type NodeSpec } from '../../tree/tree.js';
import { formatPath, utf8Length } from '../../tree/uri.js';
import { checkValue, isDmFormat, type DmFormat, type NodeValue } from '../../tree/values.js';
import type { ExecHandler } from '../../tree/processor/index.js';

/** Roots that belong to the DM client itself: no app may register in, on or above them. */
export const RESERVED_ROOTS: readonly string[] = ['./DMAcc', './DevInfo', './DevDetail', './Inbox'];

export const ACCESS_NAMES: readonly AccessName[] = ['Add', 'Delete', 'Exec', 'Get', 'Replace', 'Copy'];

export type AppErrorCode = 'bad-input' | 'reserved' | 'clash' | 'exists' | 'not-found' | 'not-owner' | 'busy' | 'no-handset';

const HTTP_STATUS: Record<AppErrorCode, number> = {
  'bad-input': 400,
  reserved: 403,
  'not-owner': 403,
  'not-found': 404,
  clash: 409,
  exists: 409,
  busy: 503,
  'no-handset': 503,
};

/** A refused DM-7 request. `path` is the tree path it is about, `field` the input field (JSON path). */
export class AppRegistryError extends Error {
  readonly httpStatus: number;
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly where: { path?: string; field?: string } = {},
  ) {
    super(message);
    this.name = 'AppRegistryError';
    this.httpStatus = HTTP_STATUS[code];
  }
}

/** A leaf value as an app gives it: numbers and booleans are written as the DM text form. */
export type AppValue = string | Uint8Array | number | boolean | null;

/** One node of an MO, relative to its root (`Download/PkgURL`). Missing interior parents are implied. */
export interface MoNodeSpec {
  path: string;
  /** Default: `chr` when a value is given, else `node`. */
  format?: DmFormat;
  value?: AppValue;
  /** Meta Type: a MIME type for leaves, an MO identifier for interior nodes. */
  type?: string;
  /** The node's own ACL; empty (the default) inherits from the MO root. */
  acl?: string;
  /** Which commands the node accepts at all (DDF AccessType); default all. */
  access?: readonly AccessName[];
  title?: string;
}

/**
 * What an app does when a server Execs one of its nodes: a handler (in-process apps), or a status the
 * client answers at once (apps over HTTP: 202 "accepted, result later", then the app reports the
 * result with a Generic Alert; 200 "done"). Either way the app hears of the Exec as a change.
 */
export type ExecBinding = ExecHandler | number;

export interface MoRegistration {
  /** Who registers (e.g. `com.example.fumo`); only this app may change, read or deregister the MO. */
  appId: string;
  /** The MO's root, e.g. `./FwUpdate/Lab`. */
  root: string;
  /** The MO identifier from its DDF (the root's Type), e.g. `urn:oma:mo:oma-fumo:1.0`. */
  type?: string;
  /** Servers (ServerIDs) that manage this MO: the root ACL grants them `rights`. */
  servers?: readonly string[];
  /** With `servers`: which commands they get. Default Add, Delete, Exec, Get, Replace. */
  rights?: readonly AclCommand[];
  /** The root's ACL as text, instead of `servers`/`rights`. */
  acl?: string;
  nodes?: readonly MoNodeSpec[];
  /** Exec targets relative to the root (`Update`; `` for the root itself). */
  exec?: Readonly<Record<string, ExecBinding>>;
  /**
   * When the root already exists and no app owns it (e.g. the tree was saved with it last time):
   * refuse (default), adopt it as it is (values kept, missing nodes created), or replace it.
   */
  existing?: 'refuse' | 'adopt' | 'replace';
}

/** A node the plan creates, in creation order (parents first). */
export interface PlannedNode {
  segments: string[];
  path: string;
  spec: NodeSpec;
  /** The input field it comes from (`nodes[2]`), or `root` / `implied` ones. */
  field: string;
}

export interface RegistrationPlan {
  appId: string;
  root: string;
  rootSegments: string[];
  rootAcl: string;
  type: string;
  /** Missing ancestors of the root to create (interior, empty ACL), shallowest first. */
  parents: PlannedNode[];
  /** The root and its nodes, parents first. */
  nodes: PlannedNode[];
  /** Absolute canonical Exec target -> binding. */
  exec: Map<string, ExecBinding>;
  existing: 'create' | 'adopt' | 'replace';
}

/** `path` is `root` or inside it (canonical paths). */
export function isWithin(path: string, root: string): boolean {
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 0x2f /* / */) || root === '.';
}

const APP_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkAppId(appId: unknown, field = 'appId'): string {
  if (typeof appId !== 'string' || !APP_ID.test(appId)) {
    throw new AppRegistryError('bad-input', `${field} must be 1-128 characters of letters, digits and . _ : - (starting with a letter or digit), got ${JSON.stringify(appId)}`, { field });
  }
  return appId;
}

/** A node path as the tree names it; refuses queries (`?prop=`) and the root `.`. */
export function canonicalNodePath(tree: DmTree, uri: string, field: string): { path: string; segments: string[] } {
  const p = tree.parse(uri);
  if (!p.ok) throw new AppRegistryError('bad-input', `${field}: ${JSON.stringify(uri)} is not a DM path: ${p.error.message}`, { field, path: uri });
  if (p.value.query) throw new AppRegistryError('bad-input', `${field}: ${JSON.stringify(uri)} names a property or list, not a node`, { field, path: uri });
  return { path: p.value.path, segments: [...p.value.segments] };
}

/** The text the tree stores for an app's value of `format` (numbers and booleans in their DM form). */
export function nodeValue(format: DmFormat, value: AppValue | undefined, field: string, path: string): NodeValue {
  const raw = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  const v = checkValue(format, raw);
  if (typeof v === 'string') throw new AppRegistryError('bad-input', `${field}: ${path}: ${v}`, { field, path });
  return v.value;
}

function parseAclText(text: string, field: string, path: string): string {
  const a = parseAcl(text);
  if (!a.ok) throw new AppRegistryError('bad-input', `${field}: ACL ${JSON.stringify(text)} for ${path}: ${a.error.message}`, { field, path });
  return a.value.text;
}

function rootAclOf(reg: MoRegistration, root: string): string {
  if (reg.acl !== undefined && reg.servers !== undefined) {
    throw new AppRegistryError('bad-input', `give either acl or servers for ${root}, not both`, { field: 'acl', path: root });
  }
  if (reg.acl !== undefined) return parseAclText(reg.acl, 'acl', root);
  if (reg.servers === undefined || reg.servers.length === 0) {
    if (reg.rights !== undefined) throw new AppRegistryError('bad-input', `rights for ${root} need servers to grant them to`, { field: 'rights', path: root });
    return '';
  }
  reg.servers.forEach((s, i) => {
    if (!isValidServerId(s)) throw new AppRegistryError('bad-input', `servers[${i}]: ${JSON.stringify(s)} cannot be used as a ServerID in an ACL`, { field: `servers[${i}]`, path: root });
  });
  const rights = reg.rights ?? ACL_COMMANDS;
  rights.forEach((r, i) => {
    if (!(ACL_COMMANDS as readonly string[]).includes(r)) {
      throw new AppRegistryError('bad-input', `rights[${i}]: ${JSON.stringify(r)} is not one of ${ACL_COMMANDS.join(', ')}`, { field: `rights[${i}]`, path: root });
    }
  });
  const who = [...new Set(reg.servers)].join('+');
  return parseAclText([...new Set(rights)].map((r) => `${r}=${who}`).join('&'), 'servers', root);
}

function accessOf(access: readonly AccessName[] | undefined, field: string, path: string): number | undefined {
  if (access === undefined) return undefined;
  access.forEach((a, i) => {
    if (!ACCESS_NAMES.includes(a)) throw new AppRegistryError('bad-input', `${field}.access[${i}]: ${JSON.stringify(a)} is not one of ${ACCESS_NAMES.join(', ')}`, { field: `${field}.access[${i}]`, path });
  });
  return accessMask(access);
}

export interface OwnedRoot {
  appId: string;
  root: string;
}

/**
 * Checks a registration against the tree, the reserved roots and the MOs others own; returns the
 * nodes to create. Throws AppRegistryError naming the path and field of the first problem.
 */
export function planRegistration(tree: DmTree, reg: MoRegistration, owned: readonly OwnedRoot[], reserved: readonly string[] = RESERVED_ROOTS): RegistrationPlan {
  const appId = checkAppId(reg.appId);
  if (typeof reg.root !== 'string') throw new AppRegistryError('bad-input', 'root must be a DM path such as ./FwUpdate/Lab', { field: 'root' });
  const { path: root, segments: rootSegments } = canonicalNodePath(tree, reg.root, 'root');
  if (rootSegments.length === 0) throw new AppRegistryError('bad-input', 'root: an app cannot register the tree root "."', { field: 'root', path: root });

  for (const r of reserved) {
    if (isWithin(root, r) || isWithin(r, root)) {
      throw new AppRegistryError('reserved', `${root} ${root === r ? 'is' : isWithin(root, r) ? 'is inside' : 'contains'} ${r}, which belongs to the DM client itself`, { field: 'root', path: root });
    }
  }
  for (const o of owned) {
    if (isWithin(root, o.root) || isWithin(o.root, root)) {
      const how = root === o.root ? 'is already registered' : isWithin(root, o.root) ? `is inside ${o.root}, registered` : `contains ${o.root}, registered`;
      throw new AppRegistryError('clash', `${root} ${how} by app ${o.appId}`, { field: 'root', path: root });
    }
  }

  const rootAcl = rootAclOf(reg, root);
  const type = reg.type ?? '';
  if (typeof type !== 'string') throw new AppRegistryError('bad-input', 'type must be a string (the MO identifier)', { field: 'type', path: root });

  // Ancestors: existing ones must be interior; missing ones are created as plain interior nodes.
  const parents: PlannedNode[] = [];
  let anc = tree.root;
  let missing = false;
  for (let i = 0; i < rootSegments.length - 1; i++) {
    const segs = rootSegments.slice(0, i + 1);
    const next = missing ? undefined : anc.child(rootSegments[i]!);
    if (next === undefined) {
      missing = true;
      parents.push({ segments: segs, path: formatPath(segs), spec: { format: 'node' }, field: 'root' });
      continue;
    }
    if (next.format !== 'node') throw new AppRegistryError('bad-input', `cannot register ${root}: ${formatPath(segs)} is a leaf`, { field: 'root', path: formatPath(segs) });
    anc = next;
  }
  const existingRoot = missing ? undefined : anc.child(rootSegments[rootSegments.length - 1]!);
  const mode = reg.existing ?? 'refuse';
  if (!['refuse', 'adopt', 'replace'].includes(mode)) {
    throw new AppRegistryError('bad-input', `existing must be refuse, adopt or replace, got ${JSON.stringify(mode)}`, { field: 'existing', path: root });
  }
  if (existingRoot !== undefined && mode === 'refuse') {
    throw new AppRegistryError('exists', `${root} already exists in the tree and no app owns it; register with existing "adopt" (keep it) or "replace" (start afresh)`, { field: 'root', path: root });
  }
  if (existingRoot !== undefined && existingRoot.format !== 'node') {
    throw new AppRegistryError('exists', `${root} already exists as a leaf; an MO root is an interior node`, { field: 'root', path: root });
  }

  const rootNode: PlannedNode = { segments: rootSegments, path: root, spec: { format: 'node', type, ...(rootAcl ? { acl: rootAcl } : {}) }, field: 'root' };
  const nodes: PlannedNode[] = [rootNode];
  const byPath = new Map<string, PlannedNode>([[root, rootNode]]);
  const explicit = new Set<string>();
  (reg.nodes ?? []).forEach((n, i) => {
    const field = `nodes[${i}]`;
    if (typeof n?.path !== 'string' || n.path === '' || n.path.startsWith('.') || n.path.startsWith('/')) {
      throw new AppRegistryError('bad-input', `${field}.path must be a path relative to the MO root (e.g. "Download/PkgURL"), got ${JSON.stringify(n?.path)}`, { field: `${field}.path`, path: root });
    }
    const { path, segments } = canonicalNodePath(tree, `${root}/${n.path}`, `${field}.path`);
    if (!isWithin(path, root) || path === root) throw new AppRegistryError('bad-input', `${field}.path ${JSON.stringify(n.path)} is not below ${root}`, { field: `${field}.path`, path });
    if (explicit.has(path)) throw new AppRegistryError('bad-input', `${field}: ${path} is listed twice`, { field: `${field}.path`, path });
    explicit.add(path);
    const formatName = n.format ?? (n.value === undefined ? 'node' : 'chr');
    if (!isDmFormat(formatName)) throw new AppRegistryError('bad-input', `${field}.format: unknown format ${JSON.stringify(formatName)} for ${path}`, { field: `${field}.format`, path });
    const spec: NodeSpec = { format: formatName };
    if (formatName === 'node') {
      if (n.value !== undefined && n.value !== null && n.value !== '') throw new AppRegistryError('bad-input', `${field}.value: ${path} is an interior node (format node) and cannot hold a value`, { field: `${field}.value`, path });
    } else {
      spec.value = nodeValue(formatName, n.value, `${field}.value`, path);
    }
    if (n.type !== undefined) spec.type = n.type;
    if (n.acl !== undefined) spec.acl = parseAclText(n.acl, `${field}.acl`, path);
    const access = accessOf(n.access, field, path);
    if (access !== undefined) spec.access = access;
    if (n.title !== undefined) {
      if (typeof n.title !== 'string' || utf8Length(n.title) > MAX_TITLE_BYTES) throw new AppRegistryError('bad-input', `${field}.title: a Title is text of at most ${MAX_TITLE_BYTES} bytes (${path})`, { field: `${field}.title`, path });
      spec.title = n.title;
    }
    // Implied interior parents between the root and this node.
    for (let d = rootSegments.length + 1; d < segments.length; d++) {
      const segs = segments.slice(0, d);
      const p = formatPath(segs);
      const known = byPath.get(p);
      if (known === undefined) {
        const implied: PlannedNode = { segments: segs, path: p, spec: { format: 'node' }, field: `${field} (implied)` };
        byPath.set(p, implied);
        nodes.push(implied);
      } else if (known.spec.format !== 'node') {
        throw new AppRegistryError('bad-input', `${field}: ${path} would be a child of ${p}, which ${known.field} makes a leaf`, { field: `${field}.path`, path });
      }
    }
    const prior = byPath.get(path);
    if (prior !== undefined) {
      // listed after a child implied it: the explicit spec wins, in the implied node's place
      if (formatName !== 'node') throw new AppRegistryError('bad-input', `${field}: ${path} has children listed before it, so it must be an interior node (format node)`, { field: `${field}.format`, path });
      prior.spec = spec;
      prior.field = field;
      return;
    }
    const planned: PlannedNode = { segments, path, spec, field };
    byPath.set(path, planned);
    nodes.push(planned);
  });

  const exec = new Map<string, ExecBinding>();
  for (const [rel, binding] of Object.entries(reg.exec ?? {})) {
    const field = `exec[${JSON.stringify(rel)}]`;
    const target = rel === '' ? { path: root } : canonicalNodePath(tree, `${root}/${rel}`, field);
    if (!isWithin(target.path, root)) throw new AppRegistryError('bad-input', `${field}: ${target.path} is not inside ${root}`, { field, path: target.path });
    if (typeof binding === 'number') {
      if (!Number.isInteger(binding) || binding < 200 || binding > 599) throw new AppRegistryError('bad-input', `${field}: the status to answer must be a DM status code such as 200 or 202, got ${binding}`, { field, path: target.path });
    } else if (typeof binding !== 'function') {
      throw new AppRegistryError('bad-input', `${field}: must be a status code (or, in-process, a handler function)`, { field, path: target.path });
    }
    exec.set(target.path, binding);
  }

  return {
    appId,
    root,
    rootSegments,
    rootAcl,
    type,
    parents,
    nodes,
    exec,
    existing: existingRoot === undefined ? 'create' : mode === 'adopt' ? 'adopt' : 'replace',
  };
}
