/**
 * The server's flat cache of a device's tree (one row per URI, properties as `?prop=` rows) as a
 * hierarchy, and the rows visible for a given expansion. Building is O(n); flattening is O(visible),
 * so a 100k-node tree stays cheap to re-flatten on every expand/collapse.
 */
import type { TreeEntryView } from '../../main/api/contract.js';

export interface TreeNode {
  uri: string;
  name: string;
  depth: number;
  children: TreeNode[];
  entry: TreeEntryView | undefined;
  /** ACL as last read (`?prop=ACL`), if any. */
  acl: string | undefined;
}

export interface TreeIndex {
  root: TreeNode;
  byUri: Map<string, TreeNode>;
  size: number;
}

export function buildTreeIndex(entries: readonly TreeEntryView[]): TreeIndex {
  const root: TreeNode = { uri: '.', name: '.', depth: 0, children: [], entry: undefined, acl: undefined };
  const byUri = new Map<string, TreeNode>([['.', root]]);
  const node = (uri: string): TreeNode => {
    const hit = byUri.get(uri);
    if (hit) return hit;
    const i = uri.lastIndexOf('/');
    const parent = i > 0 ? node(uri.slice(0, i)) : root;
    const n: TreeNode = { uri, name: uri.slice(i + 1), depth: parent.depth + 1, children: [], entry: undefined, acl: undefined };
    parent.children.push(n);
    byUri.set(uri, n);
    return n;
  };
  for (const e of entries) {
    const q = e.uri.indexOf('?');
    if (q >= 0) {
      // The store files the root's properties under `./.`.
      const base = e.uri.slice(0, q);
      if (e.uri.endsWith('?prop=ACL')) node(base === './.' ? '.' : base).acl = e.data ?? '';
      continue;
    }
    node(e.uri).entry = e;
  }
  for (const n of byUri.values()) if (n.children.length > 1) n.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { root, byUri, size: byUri.size };
}

export function visibleRows(index: TreeIndex, expanded: Record<string, true>): TreeNode[] {
  const out: TreeNode[] = [];
  const stack: TreeNode[] = [index.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    if (expanded[n.uri] && n.children.length > 0) for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return out;
}

export function isInterior(n: TreeNode): boolean {
  return n.children.length > 0 || n.entry?.format === 'node';
}
