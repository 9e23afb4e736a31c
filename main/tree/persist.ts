/**
 * Save a tree to a JSON file and load it back. The only module of main/tree that does I/O.
 *
 * File format (`"format": "dmw-tree", "version": 1`): tree options, then the root node; each node is
 * `{name, format, type?, acl?, title?, tstamp?, verNo?, access?, value?, children?}` with keys always in
 * that order and default-valued keys left out, children in tree order. The same tree therefore always
 * serialises to the same bytes, and a rolled-back Atomic leaves the file byte-identical.
 * `bin` values are `{"base64": "..."}`; other values are JSON strings.
 *
 * Writes go to a temporary file in the same directory, are flushed, then renamed over the target, so
 * a crash leaves either the old file or the new one, never half of one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseAcl } from './acl.js';
import { ACCESS, ACCESS_ALL, DmTree, accessNames, formatTStamp, parseTStamp, type AccessName, type DmNode, type TreeOptions } from './tree.js';
import { nodeNameProblem, utf8Length } from './uri.js';
import { checkValue, isDmFormat, type DmFormat, type NodeValue } from './values.js';

export const TREE_FILE_FORMAT = 'dmw-tree';
export const TREE_FILE_VERSION = 1;

/** A tree file that cannot be read: names the file and the JSON path of the fault. */
export class TreeFileError extends Error {
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly reason: string,
  ) {
    super(`${file}: ${jsonPath}: ${reason}`);
    this.name = 'TreeFileError';
  }
}

interface NodeJson {
  name: string;
  format: DmFormat;
  type?: string;
  acl?: string;
  title?: string;
  tstamp?: string;
  verNo?: number;
  access?: AccessName[];
  value?: string | { base64: string };
  children?: NodeJson[];
}

// ------------------------------------------------------------------------------------------ serialise

function nodeJson(n: DmNode): NodeJson {
  const o: NodeJson = { name: n.name, format: n.format };
  const defaultType = n.format === 'node' ? '' : 'text/plain';
  if (n.type !== defaultType) o.type = n.type;
  if (!n.acl.isEmpty) o.acl = n.acl.text;
  if (n.title !== '') o.title = n.title;
  if (n.tstamp !== 0) o.tstamp = formatTStamp(n.tstamp);
  if (n.verNo !== 0) o.verNo = n.verNo;
  if (n.access !== ACCESS_ALL) o.access = accessNames(n.access);
  const v = n.value;
  if (n.format !== 'node' && n.format !== 'null') {
    o.value = v instanceof Uint8Array ? { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : (v ?? '');
  }
  if (n.kids !== null && n.kids.size > 0) {
    const children: NodeJson[] = [];
    for (const k of n.kids.values()) children.push(nodeJson(k));
    o.children = children;
  }
  return o;
}

/** The file text for a tree (pure; saveTree writes it). */
export function serializeTree(tree: DmTree): string {
  const doc = {
    format: TREE_FILE_FORMAT,
    version: TREE_FILE_VERSION,
    limits: { maxDepth: tree.limits.maxDepth, maxTotLen: tree.limits.maxTotLen, maxSegLen: tree.limits.maxSegLen },
    purgeDeletedServerIds: tree.purgeDeletedServerIds,
    root: nodeJson(tree.root),
  };
  return JSON.stringify(doc, null, 1) + '\n';
}

// ------------------------------------------------------------------------------------------ parse

type Fail = (jsonPath: string, reason: string) => never;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Deepest node a file may hold. serializeTree (and JSON.stringify under it) recurse once per level and
 * overflow the stack somewhere past 2,000 levels: a deeper file would load, then fail every save.
 */
export const MAX_FILE_DEPTH = 1000;

const NODE_KEYS: ReadonlySet<string> = new Set(['name', 'format', 'type', 'acl', 'title', 'tstamp', 'verNo', 'access', 'value', 'children']);

/** Build a tree from file text. `file` names the source in errors. */
export function deserializeTree(text: string, file = '<memory>', options: Pick<TreeOptions, 'clock'> = {}): DmTree {
  const fail: Fail = (jsonPath, reason) => {
    throw new TreeFileError(file, jsonPath, reason);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail('$', `not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) fail('$', 'expected an object');
  if (doc.format !== TREE_FILE_FORMAT) fail('$.format', `expected "${TREE_FILE_FORMAT}", got ${JSON.stringify(doc.format)}`);
  if (doc.version !== TREE_FILE_VERSION) fail('$.version', `unsupported version ${JSON.stringify(doc.version)} (this build reads ${TREE_FILE_VERSION})`);
  const limits = doc.limits;
  if (!isObject(limits)) fail('$.limits', 'expected an object');
  for (const k of ['maxDepth', 'maxTotLen', 'maxSegLen'] as const) {
    const v = limits[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`$.limits.${k}`, 'expected a non-negative integer');
  }
  if (typeof doc.purgeDeletedServerIds !== 'boolean') fail('$.purgeDeletedServerIds', 'expected true or false');
  const rootJson = doc.root;
  if (!isObject(rootJson)) fail('$.root', 'expected a node object');
  for (const k of Object.keys(rootJson)) if (!NODE_KEYS.has(k)) fail(`$.root.${k}`, 'unknown key');
  if (rootJson.name !== '.') fail('$.root.name', 'the root is named "."');
  if (rootJson.format !== 'node') fail('$.root.format', 'the root is an interior node ("node")');
  if (typeof rootJson.acl !== 'string' || rootJson.acl === '') fail('$.root.acl', 'the root ACL must have a value');
  const rootAcl = parseAcl(rootJson.acl);
  if (!rootAcl.ok) fail('$.root.acl', rootAcl.error.message);

  const treeOptions: TreeOptions = {
    rootAcl: rootJson.acl,
    limits: { maxDepth: limits.maxDepth as number, maxTotLen: limits.maxTotLen as number, maxSegLen: limits.maxSegLen as number },
    purgeDeletedServerIds: doc.purgeDeletedServerIds,
  };
  if (options.clock) treeOptions.clock = options.clock;
  const tree = new DmTree(treeOptions);
  const rootProps = readProps(rootJson, '$.root', fail);
  tree.setProperties(tree.root, { title: rootProps.title, type: rootProps.type ?? '', tstamp: rootProps.tstamp, verNo: rootProps.verNo });
  tree.setAccess(tree.root, rootProps.access);

  // iterative: a deep file must not overflow the stack
  const stack: Array<[DmNode, Record<string, unknown>, string, number]> = [[tree.root, rootJson, '$.root', 0]];
  while (stack.length > 0) {
    const [parent, pj, ppath, depth] = stack.pop()!;
    const children = pj.children;
    if (children === undefined) continue;
    if (!Array.isArray(children)) fail(`${ppath}.children`, 'expected an array');
    if (parent.format !== 'node') fail(`${ppath}.children`, 'a leaf cannot have children');
    if (children.length > 0 && depth >= MAX_FILE_DEPTH) fail(`${ppath}.children`, `nodes nested deeper than ${MAX_FILE_DEPTH} levels (a tree this deep cannot be saved back)`);
    const seen = new Set<string>();
    for (let i = 0; i < children.length; i++) {
      const cpath = `${ppath}.children[${i}]`;
      const cj = children[i] as unknown;
      if (!isObject(cj)) fail(cpath, 'expected a node object');
      for (const k of Object.keys(cj)) if (!NODE_KEYS.has(k)) fail(`${cpath}.${k}`, 'unknown key');
      if (typeof cj.name !== 'string') fail(`${cpath}.name`, 'expected a string');
      const problem = nodeNameProblem(cj.name);
      if (problem) fail(`${cpath}.name`, problem.why);
      if (seen.has(cj.name)) fail(`${cpath}.name`, `duplicate child name ${JSON.stringify(cj.name)}`);
      seen.add(cj.name);
      if (typeof cj.format !== 'string' || !isDmFormat(cj.format)) fail(`${cpath}.format`, `expected a DM format, got ${JSON.stringify(cj.format)}`);
      const format = cj.format;
      const props = readProps(cj, cpath, fail);
      let value: NodeValue = null;
      if (format === 'node') {
        if (cj.value !== undefined) fail(`${cpath}.value`, 'an interior node has no value');
      } else if (format !== 'null' || cj.value !== undefined) {
        let raw: string | Uint8Array;
        if (format === 'bin') {
          if (!isObject(cj.value) || typeof cj.value.base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(cj.value.base64) || cj.value.base64.length % 4 !== 0) {
            fail(`${cpath}.value`, 'a bin value is {"base64": "<base64>"}');
          }
          raw = new Uint8Array(Buffer.from(cj.value.base64, 'base64'));
        } else {
          if (typeof cj.value !== 'string') fail(`${cpath}.value`, 'expected a string');
          raw = cj.value;
        }
        const v = checkValue(format, raw);
        if (typeof v === 'string') fail(`${cpath}.value`, v);
        value = v.value;
      }
      const node = tree.createNode(parent, cj.name, {
        format,
        type: props.type ?? (format === 'node' ? '' : 'text/plain'),
        value,
        acl: props.acl,
        title: props.title,
        access: props.access,
        tstamp: props.tstamp,
        verNo: props.verNo,
      });
      stack.push([node, cj, cpath, depth + 1]);
    }
  }
  return tree;
}

function readProps(
  j: Record<string, unknown>,
  path: string,
  fail: Fail,
): { type?: string; acl: string; title: string; tstamp: number; verNo: number; access: number } {
  const out = { acl: '', title: '', tstamp: 0, verNo: 0, access: ACCESS_ALL } as {
    type?: string;
    acl: string;
    title: string;
    tstamp: number;
    verNo: number;
    access: number;
  };
  if (j.type !== undefined) {
    if (typeof j.type !== 'string') fail(`${path}.type`, 'expected a string');
    out.type = j.type;
  }
  if (j.acl !== undefined) {
    if (typeof j.acl !== 'string') fail(`${path}.acl`, 'expected a string');
    const a = parseAcl(j.acl);
    if (!a.ok) fail(`${path}.acl`, a.error.message);
    out.acl = j.acl;
  }
  if (j.title !== undefined) {
    if (typeof j.title !== 'string') fail(`${path}.title`, 'expected a string');
    if (utf8Length(j.title) > 255) fail(`${path}.title`, 'longer than 255 bytes');
    out.title = j.title;
  }
  if (j.tstamp !== undefined) {
    const t = typeof j.tstamp === 'string' ? parseTStamp(j.tstamp) : undefined;
    if (t === undefined) fail(`${path}.tstamp`, 'expected an ISO 8601 basic UTC time like 20240115T093000Z');
    out.tstamp = t;
  }
  if (j.verNo !== undefined) {
    if (typeof j.verNo !== 'number' || !Number.isInteger(j.verNo) || j.verNo < 0 || j.verNo > 0xffff) fail(`${path}.verNo`, 'expected an integer 0..65535');
    out.verNo = j.verNo;
  }
  if (j.access !== undefined) {
    if (!Array.isArray(j.access)) fail(`${path}.access`, 'expected an array of command names');
    let m = 0;
    j.access.forEach((a: unknown, i: number) => {
      // Own keys only: `in` would take "toString" or "__proto__" for an access type.
      if (typeof a !== 'string' || !Object.hasOwn(ACCESS, a)) fail(`${path}.access[${i}]`, `expected one of ${Object.keys(ACCESS).join(', ')}`);
      m |= ACCESS[a as AccessName];
    });
    out.access = m;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ I/O

function tempName(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
}

function refuseOpenTransaction(tree: DmTree, file: string): void {
  // Saving mid-Atomic would persist changes that may still be rolled back.
  if (tree.inTransaction) throw new TreeFileError(file, '$', 'refusing to save while a transaction is open (commit or roll back first)');
}

/** Save atomically (temp file + fsync + rename). Returns the number of bytes written. */
export async function saveTree(tree: DmTree, file: string): Promise<number> {
  refuseOpenTransaction(tree, file);
  const data = Buffer.from(serializeTree(tree), 'utf8');
  const tmp = tempName(file);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(file));
  return data.length;
}

export function saveTreeSync(tree: DmTree, file: string): number {
  refuseOpenTransaction(tree, file);
  const data = Buffer.from(serializeTree(tree), 'utf8');
  const tmp = tempName(file);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  try {
    const d = openSync(dirname(file), 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    /* directory fsync is best effort (not supported everywhere) */
  }
  return data.length;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* best effort */
  }
}

export async function loadTree(file: string, options: Pick<TreeOptions, 'clock'> = {}): Promise<DmTree> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new TreeFileError(file, '$', `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return deserializeTree(text, file, options);
}

export function loadTreeSync(file: string, options: Pick<TreeOptions, 'clock'> = {}): DmTree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TreeFileError(file, '$', `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return deserializeTree(text, file, options);
}
