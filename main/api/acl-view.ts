/**
 * The ACL matrix for a node of a device's tree as the server knows it (cached Get results): for every
 * management authority and every ACL command, the effective right and the node whose ACL decides.
 *
 * The server only knows what it read: node ACLs come from `?prop=ACL` Gets (stored under
 * `<uri>?prop=ACL`). The cached nodes are rebuilt into a DmTree so the tree's own rules (inheritance
 * from the nearest ancestor with a value, explain()) decide; a right that depends on an ACL never read
 * is reported as unknown (null), not guessed. Access types come from DDFs and never travel over DM, so
 * they are taken as allowing everything and the matrix says so.
 */
import { ACL_COMMANDS, parseAcl, type AclCommand } from '../tree/acl.js';
import { ACCESS_ALL, DmTree, type DmNode } from '../tree/tree.js';
import type { TreeEntry } from '../server/types.js';
import type { AclMatrix } from './contract.js';
import { checkTypedUri, uriLimitsFromEntries } from '../tree/uri-check.js';

const ACL_SUFFIX = '?prop=ACL';
const MAX_SUBTREE_ROWS = 2000;

function norm(uri: string): string {
  // The store files the root's properties under `./.` (`.?prop=ACL` made relative).
  if (uri === './.' || uri === '.' || uri === './') return '.';
  if (uri.startsWith('./')) return uri.replace(/\/+$/, '');
  return `./${uri.replace(/\/+$/, '')}`;
}

export interface CachedTree {
  tree: DmTree;
  /** ACL text per path, for nodes whose ACL was read ('' = read and empty). */
  acls: Map<string, string>;
  paths: string[];
}

export function buildCachedTree(entries: TreeEntry[]): CachedTree {
  const acls = new Map<string, string>();
  const formats = new Map<string, string | null>();
  for (const e of entries) {
    if (e.uri.endsWith(ACL_SUFFIX)) {
      acls.set(norm(e.uri.slice(0, -ACL_SUFFIX.length)), e.data ?? '');
      continue;
    }
    if (e.uri.includes('?')) continue;
    formats.set(norm(e.uri), e.format);
  }
  for (const p of acls.keys()) if (!formats.has(p)) formats.set(p, 'node');
  const rootAcl = acls.get('.');
  const rootOk = rootAcl !== undefined && rootAcl !== '' && parseAcl(rootAcl).ok;
  const tree = new DmTree(rootOk ? { rootAcl: rootAcl! } : {});
  const paths = [...formats.keys()].filter((p) => p !== '.').sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));
  for (const p of paths) ensure(tree, p, formats);
  for (const [p, text] of acls) {
    if (p === '.') continue;
    const node = tree.lookup(p);
    const parsed = parseAcl(text);
    if (node && parsed.ok) tree.setProperties(node, { acl: parsed.value });
  }
  return { tree, acls, paths: ['.', ...paths] };
}

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

/** Creates the node at `p` and any missing ancestors (a leaf becomes interior if a child shows up). */
function ensure(tree: DmTree, p: string, formats: Map<string, string | null>): DmNode | undefined {
  const found = tree.lookup(p);
  if (found) return found;
  const i = p.lastIndexOf('/');
  if (i <= 0) return undefined;
  const parentPath = p.slice(0, i);
  const parent = parentPath === '.' ? tree.root : ensure(tree, parentPath, formats);
  if (!parent) return undefined;
  if (parent.format !== 'node') parent.format = 'node';
  const name = decodeURIComponentSafe(p.slice(i + 1));
  const leaf = formats.get(p) !== 'node' && formats.get(p) !== undefined;
  try {
    return tree.createNode(parent, name, leaf ? { format: 'chr', value: '', access: ACCESS_ALL } : { format: 'node', access: ACCESS_ALL });
  } catch {
    return undefined;
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Server identifiers worth a row: every one named in a known ACL, DMAcc ServerIDs, and our own. */
export function knownServers(entries: TreeEntry[], acls: Map<string, string>, own: string): string[] {
  const ids = new Set<string>([own]);
  for (const text of acls.values()) {
    const a = parseAcl(text);
    if (!a.ok) continue;
    for (const g of Object.values(a.value.entries())) if (g !== '*' && g) for (const id of g) ids.add(id);
  }
  for (const e of entries) if (/^\.\/DMAcc\/[^/]+\/ServerID$/.test(norm(e.uri)) && e.data) ids.add(e.data);
  return [...ids].sort((a, b) => (a === own ? -1 : b === own ? 1 : a.localeCompare(b)));
}

export function aclMatrix(device: string, uri: string, entries: TreeEntry[], ownServerId: string): AclMatrix {
  const target = norm(uri);
  // `./a//b` would become Gets of `./a//b?prop=ACL` and `./a/?prop=ACL` that every device refuses.
  const problem = checkTypedUri(target, { limits: uriLimitsFromEntries(entries) });
  if (problem) throw new Error(problem);
  const { tree, acls, paths } = buildCachedTree(entries);
  const servers = knownServers(entries, acls, ownServerId);
  const cells: AclMatrix['cells'] = {};

  // Nodes from the target up to the root whose ACL we never read: the answer may hinge on them.
  const chain: string[] = [];
  for (let p = target; ; p = p.slice(0, p.lastIndexOf('/'))) {
    chain.push(p);
    if (p === '.' || p.lastIndexOf('/') <= 0) {
      if (p !== '.') chain.push('.');
      break;
    }
  }
  const unread = chain.filter((p) => !acls.has(p));

  for (const server of servers) {
    const row: Record<string, AclMatrix['cells'][string][string]> = {};
    for (const cmd of ACL_COMMANDS as readonly AclCommand[]) {
      const e = tree.explainAccess(server, cmd, target);
      if (!e.found) {
        row[cmd] = { allowed: null, fromPath: null, inherited: false, rights: null, reason: `${target} is not in the server's copy of the tree` };
        continue;
      }
      // Every node from the evaluated one up to the deciding one must have been read.
      const decidingChain = chain.slice(chain.indexOf(e.path) >= 0 ? chain.indexOf(e.path) : 0, chain.indexOf(e.fromPath) + 1);
      const missing = decidingChain.filter((p) => !acls.has(p));
      if (missing.length > 0) {
        row[cmd] = {
          allowed: null,
          fromPath: e.fromPath,
          inherited: e.inherited,
          rights: null,
          reason: `unknown: the ACL of ${missing.join(', ')} was never read (Read ACLs)`,
        };
        continue;
      }
      row[cmd] = { allowed: e.allowed, fromPath: e.fromPath, inherited: e.inherited, rights: e.rights, reason: e.reason };
    }
    cells[server] = row;
  }

  const prefix = target === '.' ? './' : `${target}/`;
  const nodes = paths
    .filter((p) => p === target || p.startsWith(prefix) || (target === '.' && p !== '.'))
    .slice(0, MAX_SUBTREE_ROWS)
    .map((p) => ({ uri: p, acl: acls.has(p) ? acls.get(p)! : null }));

  return {
    device,
    uri: target,
    ownAcl: acls.has(target) ? acls.get(target)! : null,
    servers,
    commands: [...ACL_COMMANDS],
    cells,
    nodes,
    unread,
  };
}
