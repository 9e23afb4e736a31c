/**
 * Figures for `npm run bench` (test/bench/run.ts calls benchTree()). Not a unit test: timings depend on
 * the machine. Targets: build 1,000,000 nodes < 2 s; Get of a leaf with ACL check < 2 µs;
 * `?list=Struct` over 10,000 children < 10 ms; < 300 bytes of heap per node.
 */
import { DmTree } from './tree.js';

export interface TreeBenchResult {
  nodes: number;
  /** Milliseconds to build the tree of `nodes` nodes through the builder API. */
  buildMs: number;
  /** Microseconds per `get(server, uri)` of a leaf: URI parse + lookup + inherited-ACL check. */
  getLeafUs: number;
  /** Milliseconds per `get(server, './List?list=Struct')` over 10,000 children. */
  listStruct10kMs: number;
  /** Heap bytes per node of the built tree (only meaningful when gcExposed: run node with --expose-gc). */
  bytesPerNode: number;
  gcExposed: boolean;
  targets: { buildMs: number; getLeafUs: number; listStruct10kMs: number; bytesPerNode: number };
  pass: { build: boolean; getLeaf: boolean; listStruct: boolean; memory: boolean };
}

export interface TreeBenchOptions {
  /** Interior nodes under ./Bench (default 1000). */
  fanout?: number;
  /** Leaves per interior node (default 999): fanout * (leaves + 1) + 2 + list nodes ≈ 1,000,000. */
  leaves?: number;
  /** Children of ./List for the ?list=Struct figure (default 10,000). */
  listChildren?: number;
  getIterations?: number;
}

function collect(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return false;
  gc();
  gc();
  return true;
}

export function benchTree(options: TreeBenchOptions = {}): TreeBenchResult {
  const fanout = options.fanout ?? 1000;
  const leaves = options.leaves ?? 999;
  const listChildren = options.listChildren ?? 10_000;
  const getIterations = options.getIterations ?? 500_000;
  const server = 'bench.example.com';

  const gcExposed = collect();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const tree = new DmTree();
  const ts = tree.now();
  const bench = tree.createNode(tree.root, 'Bench', { format: 'node', acl: `Get=${server}&Replace=${server}`, tstamp: ts });
  for (let i = 0; i < fanout; i++) {
    const dir = tree.createNode(bench, String(i), { format: 'node', tstamp: ts });
    for (let j = 0; j < leaves; j++) tree.createNode(dir, 'n' + j, { format: 'chr', value: 'value-' + j, tstamp: ts });
  }
  const list = tree.createNode(tree.root, 'List', { format: 'node', acl: `Get=${server}`, tstamp: ts });
  for (let j = 0; j < listChildren; j++) tree.createNode(list, 'c' + j, { format: 'int', value: String(j), tstamp: ts });
  const buildMs = performance.now() - t0;
  const nodes = 3 + fanout * (leaves + 1) + listChildren;
  collect();
  const bytesPerNode = (process.memoryUsage().heapUsed - heapBefore) / nodes;

  // Get of a leaf: a spread of URIs so the lookup is not one hot path
  const uris: string[] = [];
  for (let k = 0; k < 1024; k++) uris.push(`./Bench/${(k * 7919) % fanout}/n${(k * 104729) % leaves}`);
  let sink = 0;
  for (let k = 0; k < 20_000; k++) sink += tree.get(server, uris[k & 1023]!).status; // warm-up
  const t1 = performance.now();
  for (let k = 0; k < getIterations; k++) {
    const r = tree.get(server, uris[k & 1023]!);
    sink += r.status;
  }
  const getLeafUs = ((performance.now() - t1) * 1000) / getIterations;
  if (sink !== 200 * (getIterations + 20_000)) throw new Error('bench: a Get failed');

  const runs = 20;
  tree.get(server, './List?list=Struct');
  const t2 = performance.now();
  for (let k = 0; k < runs; k++) {
    const r = tree.get(server, './List?list=Struct');
    if (!r.ok || r.value.kind !== 'list' || r.value.items.length !== listChildren + 1) throw new Error('bench: list failed');
  }
  const listStruct10kMs = (performance.now() - t2) / runs;

  const targets = { buildMs: 2000, getLeafUs: 2, listStruct10kMs: 10, bytesPerNode: 300 };
  return {
    nodes,
    buildMs,
    getLeafUs,
    listStruct10kMs,
    bytesPerNode,
    gcExposed,
    targets,
    pass: {
      build: buildMs < targets.buildMs,
      getLeaf: getLeafUs < targets.getLeafUs,
      listStruct: listStruct10kMs < targets.listStruct10kMs,
      memory: bytesPerNode < targets.bytesPerNode,
    },
  };
}
