/**
 * The DM management tree (OMA DM 1.2 TND §8): nodes, properties, ACL enforcement, transactions.
 *
 * Shape, for a million nodes and microsecond Gets:
 *  - one small object per node with a fixed set of fields (no closures, no per-node Maps for leaves);
 *  - children of an interior node in a Map, created on the first child, iterated in insertion order
 *    (the order the Android DM engine lists children in);
 *  - ACLs are interned immutable objects (acl.ts), so nodes share them; an empty ACL is one object;
 *  - TStamp is kept as seconds since 2000-01-01 (a small integer for V8 until 2034).
 *
 * Every mutating operation validates everything first and writes after, and also writes an undo
 * journal, so that (a) it never half-applies even if a bug throws midway and (b) begin/commit/rollback
 * (Atomic) undo exactly, including the child order, VerNo and TStamp, so that a rolled-back tree saves
 * byte-identical to the tree before `begin()`.
 *
 * Principals: a server is named by its ServerID string and is subject to ACLs and to each node's
 * access type (the DDF AccessType: which commands a node accepts at all, e.g. no Get on AAuthSecret).
 * DEVICE is the handset itself (its UI, bootstrap, the engineer's CLI): no ACL or access-type checks.
 */
import {
  CMD,
  DEFAULT_ROOT_ACL_TEXT,
  EMPTY_ACL,
  creatorAcl,
  isValidServerId,
  parseAcl,
  withoutServer,
  type Acl,
  type AclCommand,
} from './acl.js';
import { DmStatus, failure, success, type DmErrorStatus, type TreeFailure, type TreeResult } from './status.js';
import {
  UNLIMITED,
  childPath,
  encodeSegment,
  nodeNameProblem,
  parseUri,
  utf8Length,
  type DmUri,
  type UriLimits,
} from './uri.js';
import { checkValue, isDmFormat, valueSize, type DmFormat, type NodeValue } from './values.js';

// ---------------------------------------------------------------------------------------------------
// Principals and access types

export const DEVICE: unique symbol = Symbol('DEVICE');
export type Principal = string | typeof DEVICE;

/** Access-type bits (DDF AccessType). A node refuses a command whose bit is clear with 405. */
export const ACCESS = { Add: 1, Delete: 2, Exec: 4, Get: 8, Replace: 16, Copy: 32 } as const;
export type AccessName = keyof typeof ACCESS;
export const ACCESS_ALL = 63;

/**
 * How we read the access type: Get/Replace/Exec/Copy/Delete concern the node itself; Add on an
 * interior node means "children may be added here". A node without Delete is permanent: it cannot be
 * deleted and (TND §8.3.5.1) cannot be renamed.
 */
export function accessMask(names: readonly AccessName[]): number {
  let m = 0;
  for (const n of names) m |= ACCESS[n];
  return m;
}

export function accessNames(mask: number): AccessName[] {
  return (Object.keys(ACCESS) as AccessName[]).filter((n) => (mask & ACCESS[n]) !== 0);
}

// ---------------------------------------------------------------------------------------------------
// Nodes

/** Seconds between the Unix epoch and 2000-01-01T00:00:00Z: TStamps are stored relative to it. */
const EPOCH_2000 = 946_684_800;

export class DmNode {
  name: string;
  parent: DmNode | null;
  /** Children of an interior node (insertion order); null until the first child. Always null for leaves. */
  kids: Map<string, DmNode> | null;
  acl: Acl;
  format: DmFormat;
  type: string;
  title: string;
  /** Seconds since 2000-01-01 UTC of the last change; 0 = never. */
  tstamp: number;
  verNo: number;
  access: number;
  value: NodeValue;

  constructor(
    name: string,
    parent: DmNode | null,
    format: DmFormat,
    type: string,
    acl: Acl,
    value: NodeValue,
    tstamp: number,
    access: number,
  ) {
    this.name = name;
    this.parent = parent;
    this.kids = null;
    this.acl = acl;
    this.format = format;
    this.type = type;
    this.title = '';
    this.tstamp = tstamp;
    this.verNo = 0;
    this.access = access;
    this.value = value;
  }

  get isInterior(): boolean {
    return this.format === 'node';
  }

  get childCount(): number {
    return this.kids === null ? 0 : this.kids.size;
  }

  child(name: string): DmNode | undefined {
    return this.kids === null ? undefined : this.kids.get(name);
  }

  children(): IterableIterator<DmNode> {
    return (this.kids ?? NO_KIDS).values();
  }
}

const NO_KIDS: ReadonlyMap<string, DmNode> = new Map();

/** A node as callers should see it: read-only. Mutate through DmTree only (that keeps the journal). */
export type ReadonlyDmNode = Readonly<Omit<DmNode, 'parent' | 'kids'>> & {
  readonly parent: ReadonlyDmNode | null;
  child(name: string): ReadonlyDmNode | undefined;
  children(): IterableIterator<ReadonlyDmNode>;
};

export function formatTStamp(tstamp: number): string {
  if (tstamp === 0) return '';
  const iso = new Date((tstamp + EPOCH_2000) * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z';
}

/** Parse `YYYYMMDDTHHMMSSZ` back to the stored form; undefined if malformed. '' -> 0. */
export function parseTStamp(text: string): number | undefined {
  if (text === '') return 0;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (Number.isNaN(ms) || formatTStamp(ms / 1000 - EPOCH_2000) !== text) return undefined;
  const t = ms / 1000 - EPOCH_2000;
  return t > 0 ? t : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Public operation shapes

export const PROPERTIES = ['ACL', 'Format', 'Name', 'Size', 'Title', 'TStamp', 'Type', 'VerNo'] as const;
export type PropertyName = (typeof PROPERTIES)[number];
const REPLACEABLE: ReadonlySet<string> = new Set(['ACL', 'Name', 'Title']);
export const MAX_TITLE_BYTES = 255;

export type GetResult =
  | { kind: 'leaf'; path: string; format: DmFormat; type: string; value: NodeValue; size: number }
  | { kind: 'interior'; path: string; format: 'node'; type: string; /** URI-encoded child names */ children: string[] }
  | { kind: 'property'; path: string; prop: PropertyName; value: string }
  | { kind: 'list'; path: string; list: 'Struct' | 'StructData'; items: StructItem[] };

/** One node of a `?list=Struct` / `?list=StructData` answer, in pre-order. */
export interface StructItem {
  path: string;
  format: DmFormat;
  type: string;
  /** StructData only, leaves only, and only when the node's access type allows Get. */
  value?: NodeValue;
}

export interface AddSpec {
  /** Meta Format; `node` makes an interior node. Default `chr`. Unknown formats -> 415. */
  format?: string;
  /** Meta Type (MIME type, or a MO identifier URN for interior nodes). Default `text/plain` for leaves. */
  type?: string;
  value?: string | Uint8Array | null;
  /** Create missing interior parents (ACL empty, except the creator rule). Default false -> 404. */
  createParents?: boolean;
  /** Set the new node's ACL in the same step (checked as a Replace of ?prop=ACL by this principal). */
  acl?: string;
  title?: string;
}

export interface AddResult {
  path: string;
  /** Paths of every node created, implicit parents first. */
  created: string[];
}

export interface ReplaceMeta {
  format?: string;
  type?: string;
}

/** Raw builder input (DEVICE only, no permission checks): MO definitions, file loading, TNDS import. */
export interface NodeSpec {
  format?: DmFormat;
  type?: string;
  value?: string | Uint8Array | null;
  acl?: Acl | string;
  title?: string;
  access?: number;
  /** Stored TStamp (seconds since 2000); default now. */
  tstamp?: number;
  verNo?: number;
}

export interface TreeOptions {
  /** Root ACL; default `Add=*&Get=*` (TND §8.3.7.1.2). Must not be empty. */
  rootAcl?: string;
  /** URI limits (DevDetail/URI); default unlimited. */
  limits?: Partial<UriLimits>;
  /** Milliseconds since the Unix epoch; default Date.now. Tests pass a fixed clock. */
  clock?: () => number;
  /**
   * When a `./DMAcc/<X>` account (or its ServerID leaf) is deleted, remove that ServerID from every ACL
   * (TND §8.3.7.1.4), unless another account still has the same ServerID. Default true.
   */
  purgeDeletedServerIds?: boolean;
}

/** Why an access check came out as it did (see acl.ts `explain`). */
export interface AccessExplanation {
  allowed: boolean;
  /** The node the command is evaluated on (the parent for an Add of a new node). */
  path: string;
  found: boolean;
  /** The ACL text that decided ('' when nothing decided, e.g. node not found). */
  rights: string;
  /** The node whose ACL decided. */
  fromPath: string;
  /** True when `fromPath` is an ancestor of the evaluated node (the evaluated node's ACL is empty). */
  inherited: boolean;
  /** False when the node's access type refuses the command whatever the ACL says (405). */
  accessTypeAllows: boolean;
  /** The status the command would get from the tree's permission checks (200, 404, 405 or 425). */
  status: 200 | 404 | 405 | 425;
  reason: string;
}

export class TreeError extends Error {
  constructor(
    readonly status: DmErrorStatus,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------
// Journal

// Undo record kinds (plain numbers: records are allocated on every journalled write).
const U = { Fields: 0, Attached: 1, Detached: 2, Order: 3, Renamed: 4 } as const;

/** The fields of a node an undo record restores. */
type NodeFields = 'name' | 'acl' | 'format' | 'type' | 'title' | 'tstamp' | 'verNo' | 'access' | 'value';

type Undo =
  | ({ k: typeof U.Fields; node: DmNode } & Pick<DmNode, NodeFields>)
  | { k: typeof U.Attached; parent: DmNode; name: string }
  | { k: typeof U.Detached; parent: DmNode; node: DmNode }
  | { k: typeof U.Order; parent: DmNode; keys: string[] }
  | { k: typeof U.Renamed; parent: DmNode; node: DmNode; oldName: string; newName: string };

// ---------------------------------------------------------------------------------------------------
// The tree

/** URIs whose parse a tree keeps (then it starts again). */
const PARSED_KEPT = 256;

export class DmTree {
  readonly root: DmNode;
  readonly limits: UriLimits;
  readonly clock: () => number;
  readonly purgeDeletedServerIds: boolean;

  private journal: Undo[] = [];
  /** Journal length at each open begin(). */
  private marks: number[] = [];
  /** Parents whose child order is already snapshotted, per open level. */
  private ordered: (Set<DmNode> | undefined)[] = [];

  constructor(options: TreeOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.limits = { ...UNLIMITED, ...options.limits };
    this.purgeDeletedServerIds = options.purgeDeletedServerIds ?? true;
    const rootAcl = parseAcl(options.rootAcl ?? DEFAULT_ROOT_ACL_TEXT);
    if (!rootAcl.ok) throw new TreeError(400, `root ACL: ${rootAcl.error.message}`);
    if (rootAcl.value.isEmpty) throw new TreeError(405, 'the root ACL must have a value (TND 8.3.7.1.2)');
    this.root = new DmNode('.', null, 'node', '', rootAcl.value, null, this.now(), ACCESS_ALL);
  }

  /** Current time as a stored TStamp. */
  now(): number {
    const t = Math.floor(this.clock() / 1000) - EPOCH_2000;
    return t > 0 ? t : 1;
  }

  // ------------------------------------------------------------------ lookup (no permission checks)

  /**
   * The URIs this tree parsed last, with their parse (good ones only): a client's sessions name the
   * same few nodes message after message. DmUris are never changed once made.
   */
  private readonly parsed = new Map<string, ReturnType<typeof parseUri>>();

  /** Parse `uri` with this tree's limits. */
  parse(uri: string): ReturnType<typeof parseUri> {
    const hit = this.parsed.get(uri);
    if (hit !== undefined) return hit;
    const p = parseUri(uri, this.limits);
    if (p.ok) {
      if (this.parsed.size >= PARSED_KEPT) this.parsed.clear();
      this.parsed.set(uri, p);
    }
    return p;
  }

  /** The node at `uri` (string or parsed), ignoring ACLs and any query; undefined if absent or malformed. */
  lookup(uri: string | DmUri): DmNode | undefined {
    let segs: readonly string[];
    if (typeof uri === 'string') {
      const p = parseUri(uri);
      if (!p.ok) return undefined;
      segs = p.value.segments;
    } else segs = uri.segments;
    return this.resolve(segs);
  }

  resolve(segments: readonly string[]): DmNode | undefined {
    let n: DmNode | undefined = this.root;
    for (let i = 0; i < segments.length && n !== undefined; i++) n = n.kids === null ? undefined : n.kids.get(segments[i]!);
    return n;
  }

  /** Canonical path of a node in this tree. */
  pathOf(node: ReadonlyDmNode): string {
    if (node.parent === null) return '.';
    const names: string[] = [];
    for (let n: ReadonlyDmNode | null = node; n !== null && n.parent !== null; n = n.parent) names.push(encodeSegment(n.name));
    return './' + names.reverse().join('/');
  }

  /**
   * Visit `start` and its descendants in pre-order. The visitor gets the node, its canonical path and
   * its depth below `start`; returning false skips the node's children. No permission checks.
   */
  walk(start: DmNode, visit: (node: DmNode, path: string, depth: number) => boolean | void, startPath?: string): void {
    const stack: Array<[DmNode, string, number]> = [[start, startPath ?? this.pathOf(start), 0]];
    while (stack.length > 0) {
      const [n, p, d] = stack.pop()!;
      if (visit(n, p, d) === false || n.kids === null) continue;
      const kids = [...n.kids.values()];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!, childPath(p, kids[i]!.name), d + 1]);
    }
  }

  /** Number of nodes in the subtree at `start` (default: the whole tree). */
  countNodes(start: DmNode = this.root): number {
    let n = 0;
    const stack: DmNode[] = [start];
    while (stack.length > 0) {
      const x = stack.pop()!;
      n++;
      if (x.kids !== null) for (const k of x.kids.values()) stack.push(k);
    }
    return n;
  }

  /** All run-time properties of a node as strings (TNDS RTProperties), plus the value for leaves. */
  describe(node: ReadonlyDmNode): NodeDescription {
    const d: NodeDescription = {
      path: this.pathOf(node),
      name: node.name,
      format: node.format,
      type: node.type,
      acl: node.acl.text,
      title: node.title,
      tstamp: formatTStamp(node.tstamp),
      verNo: node.verNo,
      access: accessNames(node.access),
    };
    if (node.format !== 'node') {
      d.size = valueSize(node.value);
      d.value = node.value;
    }
    return d;
  }

  // ------------------------------------------------------------------ transactions

  get inTransaction(): boolean {
    return this.marks.length > 0;
  }

  get transactionDepth(): number {
    return this.marks.length;
  }

  /** Open a (nestable) transaction. Every change until commit()/rollback() can be undone exactly. */
  begin(): void {
    this.marks.push(this.journal.length);
    // The level's set is made when a child order is first saved: most transactions (a Replace of
    // one leaf) save none.
    this.ordered.push(undefined);
  }

  /** Keep the innermost transaction's changes (they become part of the enclosing one, if any). */
  commit(): void {
    if (this.marks.length === 0) throw new Error('commit() without begin()');
    this.marks.pop();
    const inner = this.ordered.pop();
    if (this.marks.length === 0) {
      this.journal.length = 0;
      return;
    }
    if (inner === undefined) return;
    const top = this.ordered.length - 1;
    const outer = this.ordered[top] ?? (this.ordered[top] = new Set());
    for (const p of inner) outer.add(p);
  }

  /** Undo every change since the innermost begin(). */
  rollback(): void {
    if (this.marks.length === 0) throw new Error('rollback() without begin()');
    const mark = this.marks.pop()!;
    this.ordered.pop();
    const j = this.journal;
    for (let i = j.length - 1; i >= mark; i--) undo(j[i]!);
    j.length = mark;
  }

  /** Run `fn` as one all-or-nothing unit: rolled back if it fails (result not ok) or throws. */
  atomically<T>(fn: () => TreeResult<T>): TreeResult<T> {
    this.begin();
    let r: TreeResult<T>;
    try {
      r = fn();
    } catch (e) {
      this.rollback();
      throw e;
    }
    if (r.ok) this.commit();
    else this.rollback();
    return r;
  }

  // ------------------------------------------------------------------ journalled primitives

  private saveFields(node: DmNode): void {
    if (this.marks.length === 0) return;
    this.journal.push({
      k: U.Fields,
      node,
      name: node.name,
      acl: node.acl,
      format: node.format,
      type: node.type,
      title: node.title,
      tstamp: node.tstamp,
      verNo: node.verNo,
      access: node.access,
      value: node.value,
    });
  }

  private saveOrder(parent: DmNode): void {
    if (this.marks.length === 0 || parent.kids === null) return;
    const top = this.ordered.length - 1;
    const level = this.ordered[top] ?? (this.ordered[top] = new Set());
    if (level.has(parent)) return;
    level.add(parent);
    this.journal.push({ k: U.Order, parent, keys: [...parent.kids.keys()] });
  }

  private attach(parent: DmNode, node: DmNode): void {
    (parent.kids ??= new Map()).set(node.name, node);
    node.parent = parent;
    if (this.marks.length > 0) this.journal.push({ k: U.Attached, parent, name: node.name });
  }

  private detach(node: DmNode): void {
    const parent = node.parent!;
    this.saveOrder(parent);
    parent.kids!.delete(node.name);
    if (this.marks.length > 0) this.journal.push({ k: U.Detached, parent, node });
    // node.parent stays set: the detached subtree is kept intact for undo and for hooks
  }

  /** Record a change to `node` itself: VerNo wraps at 16 bits, TStamp is now. */
  private touch(node: DmNode): void {
    this.saveFields(node);
    node.verNo = (node.verNo + 1) & 0xffff;
    node.tstamp = this.now();
  }

  // ------------------------------------------------------------------ builder (DEVICE, no checks)

  /**
   * Create a child of `parent` with the given properties. No permission checks, no parent VerNo bump:
   * this is how MOs are defined and files loaded. Journalled when a transaction is open.
   * Throws TreeError on an invalid name, a duplicate, a leaf parent or a value that does not fit.
   */
  createNode(parent: DmNode, name: string, spec: NodeSpec = {}): DmNode {
    if (parent.format !== 'node') throw new TreeError(405, `cannot add ${JSON.stringify(name)} under leaf ${this.pathOf(parent)}`);
    const problem = nodeNameProblem(name);
    if (problem) throw new TreeError(400, `bad node name ${JSON.stringify(name)}: ${problem.why}`);
    if (parent.kids !== null && parent.kids.has(name)) throw new TreeError(418, `${childPath(this.pathOf(parent), name)} already exists`);
    const format = spec.format ?? (spec.value === undefined ? 'node' : 'chr');
    let value: NodeValue = null;
    if (format !== 'node') {
      const v = checkValue(format, spec.value);
      if (typeof v === 'string') throw new TreeError(415, `${childPath(this.pathOf(parent), name)}: ${v}`);
      value = v.value;
    } else if (spec.value !== undefined && spec.value !== null && spec.value.length > 0) {
      throw new TreeError(415, `${childPath(this.pathOf(parent), name)}: interior nodes have no value`);
    }
    let acl: Acl = EMPTY_ACL;
    if (spec.acl !== undefined) {
      if (typeof spec.acl === 'string') {
        const a = parseAcl(spec.acl);
        if (!a.ok) throw new TreeError(400, a.error.message);
        acl = a.value;
      } else acl = spec.acl;
    }
    const type = internType(spec.type ?? (format === 'node' ? '' : 'text/plain'));
    const node = new DmNode(name, parent, format, type, acl, value, spec.tstamp ?? this.now(), spec.access ?? ACCESS_ALL);
    if (spec.title !== undefined) node.title = spec.title;
    if (spec.verNo !== undefined) node.verNo = spec.verNo & 0xffff;
    this.attach(parent, node);
    return node;
  }

  /** Set a node's access type (DEVICE: it comes from the MO's DDF). Journalled. */
  setAccess(node: DmNode, mask: number): void {
    this.saveFields(node);
    node.access = mask & ACCESS_ALL;
  }

  /** Set properties directly (DEVICE: bootstrap, TNDS import, tests). Journalled; no VerNo bump. */
  setProperties(node: DmNode, props: { acl?: Acl | string; title?: string; type?: string; tstamp?: number; verNo?: number }): void {
    let aclValue: Acl | undefined;
    if (props.acl !== undefined) {
      if (typeof props.acl === 'string') {
        const a = parseAcl(props.acl);
        if (!a.ok) throw new TreeError(400, a.error.message);
        aclValue = a.value;
      } else aclValue = props.acl;
      if (node === this.root && aclValue.isEmpty) throw new TreeError(405, 'the root ACL must have a value (TND 8.3.7.1.2)');
    }
    this.saveFields(node);
    if (aclValue !== undefined) node.acl = aclValue;
    if (props.title !== undefined) node.title = props.title;
    if (props.type !== undefined) node.type = internType(props.type);
    if (props.tstamp !== undefined) node.tstamp = props.tstamp;
    if (props.verNo !== undefined) node.verNo = props.verNo & 0xffff;
  }

  // ------------------------------------------------------------------ permission helpers

  /** The effective ACL of a node (its own, or the nearest ancestor's with a value). */
  effectiveAcl(node: DmNode): Acl {
    let n = node;
    while (n.acl.isEmpty && n.parent !== null) n = n.parent;
    return n.acl;
  }

  private aclSourceNode(node: DmNode): DmNode {
    let n = node;
    while (n.acl.isEmpty && n.parent !== null) n = n.parent;
    return n;
  }

  private may(as: Principal, cmd: number, node: DmNode): boolean {
    if (as === DEVICE) return true;
    let n = node;
    while (n.acl.isEmpty && n.parent !== null) n = n.parent;
    return n.acl.allowsIndex(cmd, as);
  }

  private denied(as: Principal, cmd: AclCommand, node: DmNode, path: string): TreeFailure {
    const src = this.aclSourceNode(node);
    const from = src === node ? 'its ACL' : `ACL inherited from ${this.pathOf(src)}`;
    return failure(
      DmStatus.PERMISSION_DENIED,
      `${String(as)} has no ${cmd} right on ${path} (${from}: ${JSON.stringify(src.acl.text)})`,
      path,
    );
  }

  /** Who may change a node's ACL (TND §8.3.7.1.3): Replace on the parent, or for interior nodes on the node. */
  private mayChangeAcl(as: Principal, node: DmNode): boolean {
    if (as === DEVICE) return true;
    if (node.parent !== null && this.may(as, CMD.Replace, node.parent)) return true;
    return (node.format === 'node' || node.parent === null) && this.may(as, CMD.Replace, node);
  }

  private parseTarget(uri: string | DmUri): TreeResult<DmUri> {
    if (typeof uri !== 'string') return success(uri);
    const p = this.parse(uri);
    return p.ok ? success(p.value) : failure(p.error.status, p.error.message, uri);
  }

  // ------------------------------------------------------------------ Get

  /** Get a node (value or child list), a property (`?prop=`), or a structure list (`?list=`). */
  get(as: Principal, uri: string | DmUri): TreeResult<GetResult> {
    const t = this.parseTarget(uri);
    if (!t.ok) return t;
    const u = t.value;
    const node = this.resolve(u.segments);
    if (node === undefined) return failure(DmStatus.NOT_FOUND, `${u.path} does not exist`, u.path);
    if (u.query?.kind === 'prop') return this.getProperty(as, node, u.path, u.query.prop);
    if (as !== DEVICE && (node.access & ACCESS.Get) === 0) {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `${u.path} does not allow Get (access type ${accessNames(node.access).join(',') || 'none'})`, u.path);
    }
    if (!this.may(as, CMD.Get, node)) return this.denied(as, 'Get', node, u.path);
    if (u.query?.kind === 'list') {
      if (u.query.list === 'TNDS') return failure(DmStatus.OPTIONAL_FEATURE_NOT_SUPPORTED, `?list=TNDS is not supported by the core tree (${u.path})`, u.path);
      return success({ kind: 'list', path: u.path, list: u.query.list, items: this.structList(as, node, u.path, u.query.list === 'StructData') });
    }
    if (node.format === 'node') {
      const children: string[] = [];
      if (node.kids !== null) for (const k of node.kids.keys()) children.push(encodeSegment(k));
      return success({ kind: 'interior', path: u.path, format: 'node', type: node.type, children });
    }
    return success({ kind: 'leaf', path: u.path, format: node.format, type: node.type, value: node.value, size: valueSize(node.value) });
  }

  /** Pre-order list of `node`'s subtree; subtrees the server may not Get are left out entirely. */
  private structList(as: Principal, node: DmNode, path: string, withData: boolean): StructItem[] {
    const items: StructItem[] = [];
    const device = as === DEVICE;
    const server = device ? '' : (as as string);
    const stack: Array<[DmNode, string, Acl]> = [[node, path, this.effectiveAcl(node)]];
    while (stack.length > 0) {
      const [n, p, eff] = stack.pop()!;
      const item: StructItem = { path: p, format: n.format, type: n.type };
      if (withData && n.format !== 'node' && (device || (n.access & ACCESS.Get) !== 0)) item.value = n.value;
      items.push(item);
      if (n.kids === null) continue;
      const kids = [...n.kids.values()];
      for (let i = kids.length - 1; i >= 0; i--) {
        const k = kids[i]!;
        const keff = k.acl.isEmpty ? eff : k.acl;
        if (!device && !keff.allowsIndex(CMD.Get, server)) continue;
        stack.push([k, childPath(p, k.name), keff]);
      }
    }
    return items;
  }

  private getProperty(as: Principal, node: DmNode, path: string, prop: string): TreeResult<GetResult> {
    if (!(PROPERTIES as readonly string[]).includes(prop)) {
      return failure(DmStatus.OPTIONAL_FEATURE_NOT_SUPPORTED, `property ${prop} is not supported (${path})`, path);
    }
    if (!this.may(as, CMD.Get, node)) return this.denied(as, 'Get', node, path);
    const p = prop as PropertyName;
    let value: string;
    switch (p) {
      case 'ACL':
        value = node.acl.text; // the node's own value, never the inherited one (TND 8.3.7.1.1)
        break;
      case 'Format':
        value = node.format;
        break;
      case 'Name':
        value = node.name;
        break;
      case 'Size':
        if (node.format === 'node') {
          return failure(DmStatus.OPTIONAL_FEATURE_NOT_SUPPORTED, `interior node ${path} has no Size property (TND 8.3.2)`, path);
        }
        // the size of a value nobody may read is itself a disclosure
        if (as !== DEVICE && (node.access & ACCESS.Get) === 0) {
          return failure(DmStatus.COMMAND_NOT_ALLOWED, `${path} does not allow Get, so neither its Size`, path);
        }
        value = String(valueSize(node.value));
        break;
      case 'Title':
        value = node.title;
        break;
      case 'TStamp':
        value = formatTStamp(node.tstamp);
        break;
      case 'Type':
        value = node.type;
        break;
      case 'VerNo':
        value = String(node.verNo);
        break;
    }
    return success({ kind: 'property', path, prop: p, value });
  }

  // ------------------------------------------------------------------ Add

  add(as: Principal, uri: string | DmUri, spec: AddSpec = {}): TreeResult<AddResult> {
    const t = this.parseTarget(uri);
    if (!t.ok) return t;
    const u = t.value;
    if (u.query) return failure(DmStatus.COMMAND_NOT_ALLOWED, `Add is not allowed on ${u.query.kind === 'prop' ? 'a property' : 'a list URI'} (${u.path}?${u.query.kind}=...)`, u.path);
    if (u.segments.length === 0) return failure(DmStatus.ALREADY_EXISTS, 'the root node always exists', '.');
    if (as !== DEVICE && !isValidServerId(as)) return failure(DmStatus.BAD_REQUEST, `server identifier ${JSON.stringify(as)} cannot be used in ACLs`);

    // deepest existing ancestor
    let anc = this.root;
    let depth = 0;
    const segs = u.segments;
    for (; depth < segs.length; depth++) {
      if (anc.format !== 'node') break;
      const next = anc.kids === null ? undefined : anc.kids.get(segs[depth]!);
      if (next === undefined) break;
      anc = next;
    }
    if (depth === segs.length) return failure(DmStatus.ALREADY_EXISTS, `${u.path} already exists`, u.path);
    const ancPath = depth === 0 ? '.' : pathPrefix(segs, depth);
    if (anc.format !== 'node') return failure(DmStatus.COMMAND_NOT_ALLOWED, `${ancPath} is a leaf: it cannot have children (adding ${u.path})`, u.path);
    const missingParents = segs.length - 1 - depth;
    if (missingParents > 0 && !spec.createParents) {
      const parent = pathPrefix(segs, segs.length - 1);
      return failure(DmStatus.NOT_FOUND, `parent ${parent} of ${u.path} does not exist`, u.path);
    }

    // the new node's format and value
    const formatName = spec.format ?? 'chr';
    if (!isDmFormat(formatName)) return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `unknown format ${JSON.stringify(formatName)} for ${u.path}`, u.path);
    const format: DmFormat = formatName;
    let value: NodeValue = null;
    if (format === 'node') {
      if (spec.value !== undefined && spec.value !== null && spec.value.length > 0) {
        return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `interior node ${u.path} cannot hold a value`, u.path);
      }
    } else {
      const v = checkValue(format, spec.value);
      if (typeof v === 'string') return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `${u.path}: ${v}`, u.path);
      value = v.value;
    }
    if (spec.title !== undefined && utf8Length(spec.title) > MAX_TITLE_BYTES) {
      return failure(DmStatus.REQUEST_ENTITY_TOO_LARGE, `Title of ${u.path} is ${utf8Length(spec.title)} bytes, at most ${MAX_TITLE_BYTES}`, u.path);
    }
    let newAcl: Acl | undefined;
    if (spec.acl !== undefined) {
      const a = parseAcl(spec.acl);
      if (!a.ok) return failure(DmStatus.BAD_REQUEST, `${u.path}: ${a.error.message}`, u.path);
      newAcl = a.value;
    }

    // permissions: Add on the existing ancestor (implicit parents inherit from it, so it decides for all)
    // (a failure names the first node that could not be added: the target, or its first missing parent)
    if (as !== DEVICE) {
      const firstNew = pathPrefix(segs, depth + 1);
      if ((anc.access & ACCESS.Add) === 0) {
        return failure(DmStatus.COMMAND_NOT_ALLOWED, `${ancPath} does not accept new children (access type ${accessNames(anc.access).join(',') || 'none'})`, firstNew);
      }
      if (!this.may(as, CMD.Add, anc)) return { ...this.denied(as, 'Add', anc, ancPath), uri: firstNew };
    }

    // ACLs the new nodes get (TND 8.3.7.1.3 creator rule), computed before any write
    const server = as === DEVICE ? undefined : as;
    const createdAcls: Acl[] = [];
    let parentEffective = this.effectiveAcl(anc);
    for (let i = depth; i < segs.length; i++) {
      const interior = i < segs.length - 1 || format === 'node';
      let a: Acl = EMPTY_ACL;
      if (server !== undefined && interior && !parentEffective.allowsIndex(CMD.Replace, server)) a = creatorAcl(server);
      createdAcls.push(a);
      if (!a.isEmpty) parentEffective = a;
    }
    if (newAcl !== undefined && server !== undefined) {
      // may this server then set the new node's ACL? Leaf: Replace on the parent; interior: on the node too.
      const ownEff = createdAcls[createdAcls.length - 1]!.isEmpty ? this.effectiveParentAclFor(anc, createdAcls) : createdAcls[createdAcls.length - 1]!;
      const parentEff = this.effectiveParentAclFor(anc, createdAcls);
      const ok = parentEff.allowsIndex(CMD.Replace, server) || (format === 'node' && ownEff.allowsIndex(CMD.Replace, server));
      if (!ok) return failure(DmStatus.PERMISSION_DENIED, `${server} may add ${u.path} but not set its ACL (needs Replace on ${pathPrefix(segs, segs.length - 1)}${format === 'node' ? ' or on the node' : ''})`, u.path);
    }

    // write
    return this.atomically(() => {
      const created: string[] = [];
      let parent = anc;
      let p = ancPath;
      const ts = this.now();
      this.touch(anc);
      for (let i = depth; i < segs.length; i++) {
        const last = i === segs.length - 1;
        const nodeFormat: DmFormat = last ? format : 'node';
        const node = new DmNode(
          segs[i]!,
          parent,
          nodeFormat,
          internType(last ? (spec.type ?? (format === 'node' ? '' : 'text/plain')) : ''),
          createdAcls[i - depth]!,
          last ? value : null,
          ts,
          ACCESS_ALL,
        );
        if (last && spec.title !== undefined) node.title = spec.title;
        if (last && newAcl !== undefined) node.acl = newAcl;
        this.attach(parent, node);
        p = childPath(p, node.name);
        created.push(p);
        parent = node;
      }
      return success({ path: u.path, created });
    });
  }

  /** Effective ACL of the parent of the last node to be created by an add (for the ACL-in-Add check). */
  private effectiveParentAclFor(anc: DmNode, createdAcls: readonly Acl[]): Acl {
    let eff = this.effectiveAcl(anc);
    for (let i = 0; i < createdAcls.length - 1; i++) if (!createdAcls[i]!.isEmpty) eff = createdAcls[i]!;
    return eff;
  }

  // ------------------------------------------------------------------ Replace

  /** Replace a leaf's value (Meta Format/Type update the node's), or a property (`?prop=ACL|Name|Title`). */
  replace(as: Principal, uri: string | DmUri, value: string | Uint8Array | null, meta: ReplaceMeta = {}): TreeResult<{ path: string }> {
    const t = this.parseTarget(uri);
    if (!t.ok) return t;
    const u = t.value;
    const node = this.resolve(u.segments);
    if (node === undefined) return failure(DmStatus.NOT_FOUND, `${u.path} does not exist`, u.path);
    if (u.query?.kind === 'list') return failure(DmStatus.COMMAND_NOT_ALLOWED, `Replace is not allowed on a list URI (${u.path})`, u.path);
    if (u.query?.kind === 'prop') return this.replaceProperty(as, node, u.path, u.query.prop, value);
    if (node.format === 'node') {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `${u.path} is an interior node: it has no value to replace`, u.path);
    }
    if (as !== DEVICE && (node.access & ACCESS.Replace) === 0) {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `${u.path} does not allow Replace (access type ${accessNames(node.access).join(',') || 'none'})`, u.path);
    }
    if (!this.may(as, CMD.Replace, node)) return this.denied(as, 'Replace', node, u.path);
    const formatName = meta.format ?? node.format;
    if (!isDmFormat(formatName)) return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `unknown format ${JSON.stringify(formatName)} for ${u.path}`, u.path);
    if (formatName === 'node') return failure(DmStatus.COMMAND_NOT_ALLOWED, `leaf ${u.path} cannot become an interior node`, u.path);
    const v = checkValue(formatName, value);
    if (typeof v === 'string') return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `${u.path}: ${v}`, u.path);
    if (this.marks.length === 0) {
      // Outside a transaction the journal entry would be dropped at once: what atomically() would
      // leave, without the entry (a nonce written per message, a server's Replace). The clock is
      // read first, so that nothing has changed should it throw (atomically() would undo).
      const tstamp = this.now();
      node.verNo = (node.verNo + 1) & 0xffff;
      node.tstamp = tstamp;
      node.value = v.value;
      node.format = formatName;
      if (meta.type !== undefined) node.type = internType(meta.type);
      return success({ path: u.path });
    }
    return this.atomically(() => {
      this.setLeaf(node, v.value, formatName, meta.type);
      return success({ path: u.path });
    });
  }

  private setLeaf(node: DmNode, value: NodeValue, format: DmFormat, type: string | undefined): void {
    this.touch(node);
    node.value = value;
    node.format = format;
    if (type !== undefined) node.type = internType(type);
  }

  private replaceProperty(as: Principal, node: DmNode, path: string, prop: string, raw: string | Uint8Array | null): TreeResult<{ path: string }> {
    if (!(PROPERTIES as readonly string[]).includes(prop)) {
      return failure(DmStatus.OPTIONAL_FEATURE_NOT_SUPPORTED, `property ${prop} is not supported (${path})`, path);
    }
    if (!REPLACEABLE.has(prop)) return failure(DmStatus.COMMAND_NOT_ALLOWED, `property ${prop} is read-only (${path}?prop=${prop})`, path);
    let text: string;
    if (raw === null) text = '';
    else if (typeof raw === 'string') text = raw;
    else {
      const v = checkValue('chr', raw);
      if (typeof v === 'string') return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `${path}?prop=${prop}: property values are UTF-8 text`, path);
      text = v.value as string;
    }
    if (prop === 'ACL') return this.replaceAcl(as, node, path, text);
    if (prop === 'Title') {
      if (!this.may(as, CMD.Replace, node)) return this.denied(as, 'Replace', node, path);
      const len = utf8Length(text);
      if (len > MAX_TITLE_BYTES) return failure(DmStatus.REQUEST_ENTITY_TOO_LARGE, `Title of ${path} is ${len} bytes, at most ${MAX_TITLE_BYTES}`, path);
      return this.atomically(() => {
        this.touch(node);
        node.title = text;
        return success({ path });
      });
    }
    return this.rename(as, node, path, text);
  }

  private replaceAcl(as: Principal, node: DmNode, path: string, text: string): TreeResult<{ path: string }> {
    const a = parseAcl(text);
    if (!a.ok) return failure(DmStatus.BAD_REQUEST, `${path}?prop=ACL: ${a.error.message}`, path);
    const next = a.value;
    if (node === this.root) {
      if (next.isEmpty) return failure(DmStatus.COMMAND_NOT_ALLOWED, 'the root ACL must have a value (TND 8.3.7.1.2)', path);
      // TND 8.3.7.1.2: the root's Add entry should stay `*` so any server can extend the tree.
      if (as !== DEVICE && node.acl.grantees('Add') === '*' && next.grantees('Add') !== '*') {
        return failure(DmStatus.COMMAND_NOT_ALLOWED, "servers may not change the root ACL's Add=* entry (TND 8.3.7.1.2)", path);
      }
    }
    if (!this.mayChangeAcl(as, node)) {
      const where = node.format === 'node' ? `${path} or its parent` : `the parent of leaf ${path}`;
      return failure(DmStatus.PERMISSION_DENIED, `${String(as)} may not change the ACL of ${path}: needs Replace on ${where} (TND 8.3.7.1.3)`, path);
    }
    return this.atomically(() => {
      this.touch(node);
      node.acl = next;
      return success({ path });
    });
  }

  private rename(as: Principal, node: DmNode, path: string, name: string): TreeResult<{ path: string }> {
    if (node.parent === null) return failure(DmStatus.COMMAND_NOT_ALLOWED, 'the root cannot be renamed', path);
    const problem = nodeNameProblem(name);
    if (problem) return failure(DmStatus.BAD_REQUEST, `cannot rename ${path} to ${JSON.stringify(name)}: ${problem.why}`, path);
    if (this.limits.maxSegLen > 0 && utf8Length(encodeSegment(name)) > this.limits.maxSegLen) {
      return failure(DmStatus.URI_TOO_LONG, `new name ${JSON.stringify(name)} is longer than MaxSegLen ${this.limits.maxSegLen}`, path);
    }
    if (as !== DEVICE && (node.access & ACCESS.Delete) === 0) {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `${path} is a permanent node: its Name cannot change (TND 8.3.5.1)`, path);
    }
    if (!this.may(as, CMD.Replace, node)) return this.denied(as, 'Replace', node, path);
    if (name === node.name) return success({ path });
    const parent = node.parent;
    const newPath = childPath(this.pathOf(parent), name);
    if (parent.kids!.has(name)) return failure(DmStatus.ALREADY_EXISTS, `cannot rename ${path}: ${newPath} already exists`, path);
    if (this.limits.maxTotLen > 0 && utf8Length(newPath) > this.limits.maxTotLen) {
      return failure(DmStatus.URI_TOO_LONG, `renaming ${path} would make ${newPath} longer than MaxTotLen ${this.limits.maxTotLen}`, path);
    }
    return this.atomically(() => {
      this.touch(node);
      this.touch(parent);
      this.saveOrder(parent);
      const oldName = node.name;
      parent.kids!.delete(oldName);
      parent.kids!.set(name, node);
      node.name = name;
      if (this.marks.length > 0) this.journal.push({ k: U.Renamed, parent, node, oldName, newName: name });
      return success({ path: newPath });
    });
  }

  // ------------------------------------------------------------------ Delete

  delete(as: Principal, uri: string | DmUri): TreeResult<{ path: string; removed: number }> {
    const t = this.parseTarget(uri);
    if (!t.ok) return t;
    const u = t.value;
    if (u.query) return failure(DmStatus.COMMAND_NOT_ALLOWED, `Delete is not allowed on ${u.query.kind === 'prop' ? 'a property' : 'a list URI'} (${u.path})`, u.path);
    if (u.segments.length === 0) return failure(DmStatus.COMMAND_NOT_ALLOWED, 'the root node cannot be deleted', '.');
    const node = this.resolve(u.segments);
    if (node === undefined) return failure(DmStatus.NOT_FOUND, `${u.path} does not exist`, u.path);
    // every node of the subtree must be deletable by this principal ("subject to access rights")
    let removed = 0;
    let refusal: TreeFailure | undefined;
    const device = as === DEVICE;
    const server = device ? '' : (as as string);
    const stack: Array<[DmNode, Acl]> = [[node, this.effectiveAcl(node)]];
    while (stack.length > 0 && refusal === undefined) {
      const [n, eff] = stack.pop()!;
      removed++;
      if (!device) {
        // The access type is the target's (a permanent node); nodes inside a deleted subtree go with it,
        // as DDF-described children of a dynamic node do. The ACL is checked on every node.
        if (n === node && (n.access & ACCESS.Delete) === 0) {
          refusal = failure(DmStatus.COMMAND_NOT_ALLOWED, `${u.path} is permanent (no Delete in its access type)`, u.path);
        } else if (!eff.allowsIndex(CMD.Delete, server)) {
          refusal = n === node ? this.denied(as, 'Delete', n, u.path) : failure(DmStatus.PERMISSION_DENIED, `${server} has no Delete right on ${this.pathOf(n)}, inside ${u.path}`, u.path);
        }
      }
      if (n.kids !== null) for (const k of n.kids.values()) stack.push([k, k.acl.isEmpty ? eff : k.acl]);
    }
    if (refusal) return refusal;
    return this.atomically(() => {
      const ids = this.purgeDeletedServerIds ? deletedServerIds(node, u.segments) : [];
      this.touch(node.parent!);
      this.detach(node);
      for (const id of ids) if (!this.accountExistsFor(id)) this.purgeServerId(id);
      return success({ path: u.path, removed });
    });
  }

  private accountExistsFor(serverId: string): boolean {
    const dmacc = this.root.child('DMAcc');
    if (dmacc === undefined || dmacc.kids === null) return false;
    for (const acc of dmacc.kids.values()) {
      const sid = acc.child('ServerID');
      if (sid !== undefined && typeof sid.value === 'string' && sid.value === serverId) return true;
    }
    return false;
  }

  /**
   * Remove `serverId` from every ACL (TND §8.3.7.1.4). A command left with no server disappears; an ACL
   * left with no command becomes empty (so it inherits); on the root such a command becomes `*`.
   * Touched nodes get a new VerNo/TStamp. Returns the number of ACLs changed. Journalled.
   */
  purgeServerId(serverId: string): number {
    let changed = 0;
    const stack: DmNode[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.acl.mentions(serverId)) {
        this.touch(n);
        n.acl = withoutServer(n.acl, serverId, n === this.root);
        changed++;
      }
      if (n.kids !== null) for (const k of n.kids.values()) stack.push(k);
    }
    return changed;
  }

  // ------------------------------------------------------------------ Copy

  /**
   * Copy a leaf's value, format and type onto `target` (DM 1.2: leaf to leaf). An existing target is
   * overwritten (needs Replace); a missing one is created (needs Add on its parent). Get on the source.
   */
  copy(as: Principal, target: string | DmUri, source: string | DmUri): TreeResult<{ path: string; created: boolean }> {
    const ts = this.parseTarget(source);
    if (!ts.ok) return ts;
    const tt = this.parseTarget(target);
    if (!tt.ok) return tt;
    const s = ts.value;
    const t = tt.value;
    if (s.query || t.query) return failure(DmStatus.COMMAND_NOT_ALLOWED, 'Copy is not allowed on property or list URIs', t.path);
    const src = this.resolve(s.segments);
    if (src === undefined) return failure(DmStatus.NOT_FOUND, `copy source ${s.path} does not exist`, s.path);
    if (src.format === 'node') return failure(DmStatus.COMMAND_NOT_ALLOWED, `copy source ${s.path} is an interior node (DM 1.2 copies leaves only)`, s.path);
    if (as !== DEVICE && (src.access & (ACCESS.Get | ACCESS.Copy)) !== (ACCESS.Get | ACCESS.Copy)) {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `copy source ${s.path} cannot be read or copied (access type ${accessNames(src.access).join(',') || 'none'})`, s.path);
    }
    if (!this.may(as, CMD.Get, src)) return this.denied(as, 'Get', src, s.path);
    const value = src.value instanceof Uint8Array ? src.value.slice() : src.value;
    const dst = this.resolve(t.segments);
    if (dst !== undefined) {
      if (dst === src) return success({ path: t.path, created: false });
      if (dst.format === 'node') return failure(DmStatus.COMMAND_NOT_ALLOWED, `copy target ${t.path} is an interior node`, t.path);
      if (as !== DEVICE && (dst.access & ACCESS.Replace) === 0) return failure(DmStatus.COMMAND_NOT_ALLOWED, `copy target ${t.path} does not allow Replace`, t.path);
      if (!this.may(as, CMD.Replace, dst)) return this.denied(as, 'Replace', dst, t.path);
      return this.atomically(() => {
        this.touch(dst);
        dst.value = value;
        dst.format = src.format;
        dst.type = src.type;
        return success({ path: t.path, created: false });
      });
    }
    if (t.segments.length === 0) return failure(DmStatus.COMMAND_NOT_ALLOWED, 'cannot copy onto the root', t.path);
    const parent = this.resolve(t.segments.slice(0, -1));
    const parentPath = pathPrefix(t.segments, t.segments.length - 1);
    if (parent === undefined) return failure(DmStatus.NOT_FOUND, `parent ${parentPath} of copy target ${t.path} does not exist`, t.path);
    if (parent.format !== 'node') return failure(DmStatus.COMMAND_NOT_ALLOWED, `${parentPath} is a leaf (copy target ${t.path})`, t.path);
    if (as !== DEVICE && (parent.access & ACCESS.Add) === 0) return failure(DmStatus.COMMAND_NOT_ALLOWED, `${parentPath} does not accept new children`, t.path);
    if (!this.may(as, CMD.Add, parent)) return this.denied(as, 'Add', parent, parentPath);
    return this.atomically(() => {
      this.touch(parent);
      const node = new DmNode(t.segments[t.segments.length - 1]!, parent, src.format, src.type, EMPTY_ACL, value, this.now(), ACCESS_ALL);
      this.attach(parent, node);
      return success({ path: t.path, created: true });
    });
  }

  // ------------------------------------------------------------------ Exec and generic checks

  /**
   * Would `command` on `uri` pass the tree's checks (existence, access type, ACL)? For Exec, which the
   * tree does not run itself: the command processor checks here, then runs the target's handler.
   */
  check(as: Principal, command: AclCommand, uri: string | DmUri): TreeResult<{ path: string; node: DmNode }> {
    const t = this.parseTarget(uri);
    if (!t.ok) return t;
    const u = t.value;
    const node = this.resolve(u.segments);
    if (node === undefined) return failure(DmStatus.NOT_FOUND, `${u.path} does not exist`, u.path);
    if (as !== DEVICE && (node.access & ACCESS[command]) === 0) {
      return failure(DmStatus.COMMAND_NOT_ALLOWED, `${u.path} does not allow ${command} (access type ${accessNames(node.access).join(',') || 'none'})`, u.path);
    }
    if (!this.may(as, CMD[command], node)) return this.denied(as, command, node, u.path);
    return success({ path: u.path, node });
  }

  /**
   * Explain an access decision: which node's ACL decides `command` by `serverId` on `uri`, and whether
   * it allows it. `uri?prop=ACL` with Replace explains an ACL change (TND §8.3.7.1.3); Add on a missing
   * node is evaluated on its deepest existing ancestor, as add() does.
   */
  explainAccess(serverId: string, command: AclCommand, uri: string): AccessExplanation {
    const p = parseUri(uri);
    const base = { path: uri, found: false, rights: '', fromPath: '', inherited: false, accessTypeAllows: false };
    if (!p.ok) return { ...base, allowed: false, status: 404, reason: p.error.message };
    const u = p.value;
    let node = this.resolve(u.segments);
    let evalPath = u.path;
    if (node === undefined && command === 'Add') {
      let anc = this.root;
      let d = 0;
      for (; d < u.segments.length - 1; d++) {
        const next = anc.child(u.segments[d]!);
        if (next === undefined || anc.format !== 'node') break;
        anc = next;
      }
      node = anc;
      evalPath = this.pathOf(anc);
    }
    if (node === undefined) return { ...base, path: u.path, allowed: false, status: 404, reason: `${u.path} does not exist` };
    const accessTypeAllows = (node.access & ACCESS[command]) !== 0;
    if (u.query?.kind === 'prop' && u.query.prop === 'ACL' && command === 'Replace') {
      const candidates: DmNode[] = [];
      if (node.format === 'node' || node.parent === null) candidates.push(node);
      if (node.parent !== null) candidates.push(node.parent);
      let decided = candidates[candidates.length - 1]!;
      for (const c of candidates) {
        if (this.may(serverId, CMD.Replace, c)) {
          decided = c;
          break;
        }
      }
      const src = this.aclSourceNode(decided);
      const allowed = src.acl.allowsIndex(CMD.Replace, serverId);
      return {
        path: evalPath,
        found: true,
        allowed,
        rights: src.acl.text,
        fromPath: this.pathOf(src),
        inherited: src !== decided,
        accessTypeAllows: true,
        status: allowed ? 200 : 425,
        reason: allowed
          ? `Replace on ${this.pathOf(decided)} lets ${serverId} change the ACL of ${u.path}`
          : `${serverId} needs Replace on ${node.format === 'node' ? `${u.path} or its parent` : `the parent of leaf ${u.path}`} to change its ACL`,
      };
    }
    const src = this.aclSourceNode(node);
    const aclAllows = src.acl.allowsIndex(CMD[command], serverId);
    const allowed = aclAllows && accessTypeAllows;
    return {
      path: evalPath,
      found: true,
      allowed,
      rights: src.acl.text,
      fromPath: this.pathOf(src),
      inherited: src !== node,
      accessTypeAllows,
      status: !accessTypeAllows ? 405 : aclAllows ? 200 : 425,
      reason: !accessTypeAllows
        ? `${evalPath} does not allow ${command} at all (access type ${accessNames(node.access).join(',') || 'none'})`
        : `${JSON.stringify(src.acl.text)} on ${this.pathOf(src)}${src !== node ? ' (inherited)' : ''} ${aclAllows ? 'grants' : 'does not grant'} ${command} to ${serverId}`,
    };
  }
}

/** What describe() returns: the run-time properties as TNDS RTProperties carry them. */
export interface NodeDescription {
  path: string;
  name: string;
  format: DmFormat;
  type: string;
  acl: string;
  title: string;
  tstamp: string;
  verNo: number;
  access: AccessName[];
  size?: number;
  value?: NodeValue;
}

// ---------------------------------------------------------------------------------------------------
// helpers

function undo(r: Undo): void {
  switch (r.k) {
    case U.Fields: {
      const n = r.node;
      n.name = r.name;
      n.acl = r.acl;
      n.format = r.format;
      n.type = r.type;
      n.title = r.title;
      n.tstamp = r.tstamp;
      n.verNo = r.verNo;
      n.access = r.access;
      n.value = r.value;
      return;
    }
    case U.Attached:
      r.parent.kids!.delete(r.name);
      return;
    case U.Detached:
      (r.parent.kids ??= new Map()).set(r.node.name, r.node);
      r.node.parent = r.parent;
      return;
    case U.Order: {
      const old = r.parent.kids!;
      const m = new Map<string, DmNode>();
      for (const k of r.keys) m.set(k, old.get(k)!);
      r.parent.kids = m;
      return;
    }
    case U.Renamed:
      r.parent.kids!.delete(r.newName);
      r.parent.kids!.set(r.oldName, r.node);
      return;
  }
}

function pathPrefix(segments: readonly string[], n: number): string {
  if (n === 0) return '.';
  let s = '.';
  for (let i = 0; i < n; i++) s += '/' + encodeSegment(segments[i]!);
  return s;
}

const types = new Map<string, string>([['', ''], ['text/plain', 'text/plain']]);
/** Share Type strings across nodes (a million `text/plain` leaves hold one string). */
function internType(t: string): string {
  const hit = types.get(t);
  if (hit !== undefined) return hit;
  if (types.size < 10_000) types.set(t, t);
  return t;
}

/** ServerIDs of the DMAcc accounts inside a subtree about to be deleted (`./DMAcc/<X>/ServerID`). */
function deletedServerIds(node: DmNode, segments: readonly string[]): string[] {
  if (segments[0] !== 'DMAcc') return [];
  const ids: string[] = [];
  const take = (leaf: DmNode | undefined): void => {
    if (leaf !== undefined && leaf.format !== 'node' && typeof leaf.value === 'string' && leaf.value !== '') ids.push(leaf.value);
  };
  if (segments.length === 1) {
    for (const acc of node.children()) take(acc.child('ServerID'));
  } else if (segments.length === 2) {
    take(node.child('ServerID'));
  } else if (segments.length === 3 && segments[2] === 'ServerID') {
    take(node);
  }
  return ids;
}


