/**
 * TNDS (Tree and Description Serialization, OMA DM 1.2 TND §9): a subtree of the management tree as a
 * `<MgmtTree xmlns="syncml:dmddf1.2">` document, for `?list=TNDS`, Add/Replace with Meta Type
 * `application/vnd.syncml.dmtnds+xml`, and the engineer's export/import files.
 *
 *   MgmtTree { VerDTD, Man?, Mod?, Node+ }
 *   Node     { NodeName, Path?, RTProperties?{ACL, Format, Name, Size, Title, TStamp, Type{MIME|DDFName}, VerNo},
 *              (Value | Node*) }
 *
 * Placement: a Node with a Path goes under that Path (an absolute URI, TND §9.2.3.1.5 "continuation");
 * a top-level Node without one goes under the command's Target (the parent); a nested one under its
 * enclosing Node. Every placed node must lie at or below the Target: a TNDS item cannot reach outside
 * the URI its command names (and so outside what the ACL check on that URI covers).
 *
 * Leaf or interior: the Format property decides; without one, a Node with a Value is a `chr` leaf and a
 * Node without one is interior. `bin` values travel base64 (TNDS values are text).
 *
 * Import as a server is done through the tree's public, permission-checked operations inside one
 * transaction, so a TNDS command is all-or-nothing and can do nothing the same server could not do with
 * plain Add/Replace/Delete commands. Replace makes the subtree exactly what the document says: existing
 * nodes are kept and updated (so a permanent node stays), missing ones added, extra ones deleted.
 */
import { el, isElement, type Element } from '../protocol/element.js';
import { parseXml } from '../protocol/xml/parse.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { decodeDocument } from '../protocol/codec.js';
import { CMD } from './acl.js';
import { DmStatus, failure, success, type TreeFailure, type TreeResult } from './status.js';
import { ACCESS, DEVICE, DmTree, formatTStamp, parseTStamp, type DmNode, type Principal } from './tree.js';
import { childPath, formatPath, parseUri, utf8Length } from './uri.js';
import { isDmFormat, valueSize, valueText } from './values.js';
import { childElements as elements, failAt as fail, readDmddf, textOf, type DmddfError, type DmddfResult } from './dmddf-reader.js';

export const TNDS_XML_TYPE = 'application/vnd.syncml.dmtnds+xml';
export const TNDS_WBXML_TYPE = 'application/vnd.syncml.dmtnds+wbxml';

/** `?list=TNDS+<flag>...`: which run-time properties (and the Value) an export carries. */
export const TNDS_FLAGS = ['ACL', 'Format', 'Name', 'Size', 'Title', 'TStamp', 'Type', 'VerNo', 'Value'] as const;
export type TndsFlag = (typeof TNDS_FLAGS)[number];
/** What `dmw tree export` writes: everything but Name (NodeName already says it). */
export const TNDS_EXPORT_ALL: readonly TndsFlag[] = ['ACL', 'Format', 'Size', 'Title', 'TStamp', 'Type', 'VerNo', 'Value'];

export function isTndsType(type: string | undefined): boolean {
  const t = type?.trim().toLowerCase();
  return t === TNDS_XML_TYPE || t === TNDS_WBXML_TYPE;
}

export interface TndsProperties {
  acl?: string;
  format?: string;
  name?: string;
  size?: string;
  title?: string;
  tstamp?: string;
  type?: { mime?: string; ddfName?: string };
  verNo?: string;
}

export interface TndsNode {
  name: string;
  /** Absolute insertion point (the parent's URI), when the document gives one. */
  path?: string;
  props: TndsProperties;
  /** Present for leaves (text; base64 for `bin`). */
  value?: string;
  children: TndsNode[];
}

export interface TndsTree {
  verDTD: string;
  man?: string;
  mod?: string;
  nodes: TndsNode[];
}

export type TndsError = DmddfError;
export type TndsResult<T> = DmddfResult<T>;

// ----------------------------------------------------------------------------------------- reading

/** `<Format><chr/></Format>` -> 'chr'; also accepts the text form `<Format>chr</Format>` some tools write. */
function emptyElementChoice(e: Element, path: string): string {
  // The text form first: elements() refuses character data, so it never reached the text branch.
  const t = onlyText(e, path);
  if (t !== undefined && t !== '') {
    // A name, as the element form has: anything else could not be written back as <name/>.
    if (!/^[A-Za-z_][A-Za-z0-9._-]*$/.test(t)) fail(path, `${JSON.stringify(t)} is not a format name such as chr`);
    return t;
  }
  const kids = elements(e, path);
  if (kids.length === 1 && kids[0]!.children.length === 0) return kids[0]!.name;
  return fail(path, `expected one empty element such as <chr/>`);
}

/** The trimmed text of an element holding no child element; undefined when it holds one. */
function onlyText(e: Element, path: string): string | undefined {
  return e.children.some(isElement) ? undefined : textOf(e, path).trim();
}

/** Read a MgmtTree element (namespace syncml:dmddf1.2) as TNDS. */
export function parseTnds(root: Element): TndsResult<TndsTree> {
  return readDmddf(() => readMgmtTree(root));
}

function readMgmtTree(root: Element): TndsTree {
  const path = 'MgmtTree';
  if (root.name !== 'MgmtTree' || root.ns !== 'dmddf') fail(root.name, `expected <MgmtTree xmlns="syncml:dmddf1.2">, got <${root.name}>`);
  const t: TndsTree = { verDTD: '', nodes: [] };
  let sawVer = false;
  let n = 0;
  for (const c of elements(root, path)) {
    switch (c.name) {
      case 'VerDTD':
        t.verDTD = textOf(c, `${path}/VerDTD`).trim();
        sawVer = true;
        break;
      case 'Man':
        t.man = textOf(c, `${path}/Man`).trim();
        break;
      case 'Mod':
        t.mod = textOf(c, `${path}/Mod`).trim();
        break;
      case 'Node':
        t.nodes.push(readNode(c, `${path}/Node[${++n}]`));
        break;
      default:
        fail(`${path}/${c.name}`, `<${c.name}> is not allowed in a TNDS MgmtTree`);
    }
  }
  if (!sawVer) fail(path, 'MgmtTree has no VerDTD');
  if (t.nodes.length === 0) fail(path, 'MgmtTree has no Node');
  return t;
}

function readNode(e: Element, path: string): TndsNode {
  let name: string | undefined;
  const node: TndsNode = { name: '', props: {}, children: [] };
  let n = 0;
  for (const c of elements(e, path)) {
    const p = `${path}/${c.name}`;
    switch (c.name) {
      case 'NodeName':
        name = textOf(c, p).trim();
        break;
      case 'Path':
        node.path = textOf(c, p).trim();
        break;
      case 'RTProperties':
        node.props = readProps(c, p);
        break;
      case 'Value':
        node.value = textOf(c, p);
        break;
      case 'Node':
        node.children.push(readNode(c, `${path}/Node[${++n}]`));
        break;
      case 'DFProperties':
        fail(p, 'DFProperties belong in a DDF, not in a TNDS instance document');
        break;
      default:
        fail(p, `<${c.name}> is not allowed in a TNDS Node`);
    }
  }
  if (name === undefined || name === '') fail(path, 'Node has no NodeName (an instance document names every node)');
  node.name = name;
  if (node.value !== undefined && node.children.length > 0) fail(path, `Node ${name} has both a Value and child Nodes`);
  return node;
}

function readProps(e: Element, path: string): TndsProperties {
  const p: TndsProperties = {};
  for (const c of elements(e, path)) {
    const cp = `${path}/${c.name}`;
    switch (c.name) {
      case 'ACL':
        p.acl = textOf(c, cp).trim();
        break;
      case 'Format':
        p.format = emptyElementChoice(c, cp);
        break;
      case 'Name':
        p.name = textOf(c, cp).trim();
        break;
      case 'Size':
        p.size = textOf(c, cp).trim();
        break;
      case 'Title':
        p.title = textOf(c, cp);
        break;
      case 'TStamp':
        p.tstamp = textOf(c, cp).trim();
        break;
      case 'VerNo':
        p.verNo = textOf(c, cp).trim();
        break;
      case 'Type': {
        const type: { mime?: string; ddfName?: string } = {};
        // `<Type>text/plain</Type>`: read before elements(), which refuses character data.
        const t = onlyText(c, cp);
        if (t !== undefined) {
          if (t) type.mime = t;
        } else {
          for (const k of elements(c, cp)) {
            if (k.name === 'MIME') type.mime = textOf(k, `${cp}/MIME`).trim();
            else if (k.name === 'DDFName') type.ddfName = textOf(k, `${cp}/DDFName`).trim();
            else fail(`${cp}/${k.name}`, 'Type holds MIME or DDFName');
          }
        }
        p.type = type;
        break;
      }
      default:
        fail(cp, `<${c.name}> is not a TNDS run-time property`);
    }
  }
  return p;
}

/**
 * TNDS from bytes or text: an XML document whose root is MgmtTree, or a WBXML one (decoded with the
 * codec). Errors name the element path or the byte/line position.
 */
export function readTnds(input: Uint8Array | string): TndsResult<TndsTree> {
  let root: Element;
  if (typeof input === 'string') {
    const r = parseXml(input);
    if (!r.ok) return { ok: false, error: { path: '', message: `not XML: ${r.error.message}${r.error.line ? ` at line ${r.error.line}:${r.error.column}` : ''}` } };
    root = r.value.root;
  } else {
    const r = decodeDocument(input);
    if (!r.ok) return { ok: false, error: { path: '', message: `cannot read TNDS: ${r.error.message}${r.error.line ? ` at line ${r.error.line}:${r.error.column}` : r.error.offset !== undefined ? ` at byte ${r.error.offset}` : ''}` } };
    root = r.value.document.root;
  }
  return parseTnds(root);
}

// ----------------------------------------------------------------------------------------- writing

const d = (name: string, children: Element['children'] = []): Element => el('dmddf', name, children);

function propsElement(p: TndsProperties): Element | undefined {
  const k: Element[] = [];
  if (p.acl !== undefined) k.push(d('ACL', p.acl === '' ? [] : [p.acl]));
  if (p.format !== undefined) k.push(d('Format', [d(p.format)]));
  if (p.name !== undefined) k.push(d('Name', [p.name]));
  if (p.size !== undefined) k.push(d('Size', [p.size]));
  if (p.title !== undefined) k.push(d('Title', p.title === '' ? [] : [p.title]));
  if (p.tstamp !== undefined) k.push(d('TStamp', p.tstamp === '' ? [] : [p.tstamp]));
  if (p.type !== undefined) {
    const t: Element[] = [];
    if (p.type.mime !== undefined) t.push(d('MIME', [p.type.mime]));
    if (p.type.ddfName !== undefined) t.push(d('DDFName', p.type.ddfName === '' ? [] : [p.type.ddfName]));
    k.push(d('Type', t));
  }
  if (p.verNo !== undefined) k.push(d('VerNo', [p.verNo]));
  return k.length > 0 ? d('RTProperties', k) : undefined;
}

function nodeElement(n: TndsNode): Element {
  const e = d('Node', [d('NodeName', [n.name])]);
  if (n.path !== undefined) e.children.push(d('Path', [n.path]));
  const props = propsElement(n.props);
  if (props) e.children.push(props);
  if (n.value !== undefined) e.children.push(d('Value', n.value === '' ? [] : [n.value]));
  for (const c of n.children) e.children.push(nodeElement(c));
  return e;
}

export function tndsElement(t: TndsTree): Element {
  const root = d('MgmtTree', [d('VerDTD', [t.verDTD || '1.2'])]);
  if (t.man !== undefined) root.children.push(d('Man', [t.man]));
  if (t.mod !== undefined) root.children.push(d('Mod', [t.mod]));
  for (const n of t.nodes) root.children.push(nodeElement(n));
  return root;
}

/** The document as XML text (pretty by default), as `dmw tree export` writes it. */
export function tndsToXml(t: TndsTree, pretty = true): string {
  return serializeXml({ info: { wbxmlVersion: 2, publicId: '-//OMA//DTD-DM-DDF 1.2//EN', rootNamespaceUri: 'syncml:dmddf1.2' }, root: tndsElement(t) }, { pretty });
}

// ----------------------------------------------------------------------------------------- export

export interface TndsExportOptions {
  flags?: readonly TndsFlag[];
  man?: string;
  mod?: string;
}

/**
 * The subtree at `uri` as TNDS, as `as` may see it: the target needs Get (its ACL and access type);
 * below it, subtrees the server may not Get are left out (as `?list=Struct` does), and a leaf whose
 * access type refuses Get (AAuthSecret) is listed without its Value. DEVICE sees everything.
 */
export function exportTnds(tree: DmTree, as: Principal, uri: string, options: TndsExportOptions = {}): TreeResult<TndsTree> {
  const p = parseUri(uri, tree.limits);
  if (!p.ok) return failure(p.error.status, p.error.message, uri);
  const u = p.value;
  const checked = tree.check(as, 'Get', formatPath(u.segments));
  if (!checked.ok) return checked;
  const flags = new Set(options.flags ?? []);
  const top = checked.value.node;
  const device = as === DEVICE;
  const server = device ? '' : (as as string);
  const build = (n: DmNode, includePath: boolean): TndsNode => {
    const out: TndsNode = { name: n.name, props: {}, children: [] };
    if (includePath) out.path = n.parent === null ? '.' : tree.pathOf(n.parent);
    if (flags.has('ACL')) out.props.acl = n.acl.text;
    if (flags.has('Format')) out.props.format = n.format;
    if (flags.has('Name')) out.props.name = n.name;
    if (flags.has('Size') && n.format !== 'node') out.props.size = String(valueSize(n.value));
    if (flags.has('Title')) out.props.title = n.title;
    if (flags.has('TStamp')) out.props.tstamp = formatTStamp(n.tstamp);
    if (flags.has('Type') && (n.type !== '' || n.format !== 'node')) {
      out.props.type = n.format === 'node' ? { ddfName: n.type } : { mime: n.type };
    }
    if (flags.has('VerNo')) out.props.verNo = String(n.verNo);
    if (n.format !== 'node') {
      if (flags.has('Value') && (device || (n.access & ACCESS.Get) !== 0)) out.value = valueText(n.value);
      return out;
    }
    for (const k of n.children()) {
      if (!device && !tree.effectiveAcl(k).allowsIndex(CMD.Get, server)) continue;
      out.children.push(build(k, false));
    }
    return out;
  };
  if (top.parent === null) {
    // The root itself is not a Node in TNDS: its children are the top-level Nodes, placed at '.'.
    const nodes: TndsNode[] = [];
    for (const k of top.children()) {
      if (!device && !tree.effectiveAcl(k).allowsIndex(CMD.Get, server)) continue;
      nodes.push(build(k, true));
    }
    return success(withHeader(nodes, options));
  }
  return success(withHeader([build(top, true)], options));
}

function withHeader(nodes: TndsNode[], o: TndsExportOptions): TndsTree {
  const t: TndsTree = { verDTD: '1.2', nodes };
  if (o.man !== undefined) t.man = o.man;
  if (o.mod !== undefined) t.mod = o.mod;
  return t;
}

// ----------------------------------------------------------------------------------------- import

export type TndsImportMode = 'add' | 'replace';

export interface TndsImportOptions {
  /** DEVICE only: keep TStamp and VerNo from the document (a file import that round-trips exactly). */
  keepRuntimeProperties?: boolean;
}

export interface TndsImportResult {
  created: string[];
  updated: string[];
  deleted: string[];
}

/** ACLs are applied after the structure is in place, deepest first, so that a node's new ACL does not
 * lock the importing server out of adding that node's children. */
type PendingAcl = Array<{ path: string; acl: string }>;

interface Planned {
  path: string;
  segments: string[];
  node: TndsNode;
}

/**
 * Apply a TNDS document at `target` (a node URI; see the placement rules above) as `as`.
 * Add: every node described must be new, except interior nodes that already exist (descended into).
 * Replace: the subtrees described become exactly what the document says.
 * All or nothing: on any refusal the tree is rolled back and the failure names the node.
 */
export function importTnds(
  tree: DmTree,
  as: Principal,
  target: string,
  tnds: TndsTree,
  mode: TndsImportMode,
  options: TndsImportOptions = {},
): TreeResult<TndsImportResult> {
  const tp = parseUri(target, tree.limits);
  if (!tp.ok) return failure(tp.error.status, tp.error.message, target);
  if (tp.value.query) return failure(DmStatus.COMMAND_NOT_ALLOWED, `a TNDS ${mode === 'add' ? 'Add' : 'Replace'} targets a node, not ${target}`, target);
  const targetSegs = [...tp.value.segments];
  // place the top-level nodes
  const planned: Planned[] = [];
  for (const n of tnds.nodes) {
    const placed = place(tree, n, targetSegs, target);
    if (!placed.ok) return placed;
    planned.push(placed.value);
  }
  const result: TndsImportResult = { created: [], updated: [], deleted: [] };
  const acls: PendingAcl = [];
  tree.begin();
  let r: TreeFailure | undefined;
  try {
    for (const p of planned) {
      r = applyNode(tree, as, p, mode, options, result, targetSegs, target, acls);
      if (r) break;
    }
    for (let i = acls.length - 1; i >= 0 && !r; i--) {
      const { path, acl } = acls[i]!;
      const node = tree.lookup(path);
      if (node === undefined || node.acl.text === acl) continue;
      const tstamp = node.tstamp;
      const verNo = node.verNo;
      const x = tree.replace(as, `${path}?prop=ACL`, acl);
      if (!x.ok) r = { ...x, message: `TNDS: ${x.message}` };
      else if (options.keepRuntimeProperties && as === DEVICE) tree.setProperties(node, { tstamp, verNo });
      if (!r && !result.created.includes(path) && !result.updated.includes(path)) result.updated.push(path);
    }
  } catch (e) {
    tree.rollback();
    throw e;
  }
  if (r) {
    tree.rollback();
    return r;
  }
  tree.commit();
  if (mode === 'add' && result.created.length === 0) {
    return failure(DmStatus.ALREADY_EXISTS, `every node the TNDS describes under ${target} already exists`, target);
  }
  return success(result);
}

function place(tree: DmTree, n: TndsNode, parentSegs: readonly string[], target: string): TreeResult<Planned> {
  let parent = parentSegs;
  if (n.path !== undefined && n.path !== '') {
    const pp = parseUri(n.path, tree.limits);
    if (!pp.ok) return failure(pp.error.status, `TNDS Node ${n.name}: Path ${pp.error.message}`, target);
    if (pp.value.query) return failure(DmStatus.BAD_REQUEST, `TNDS Node ${n.name}: Path ${n.path} has a query`, target);
    parent = pp.value.segments;
  }
  const segments = [...parent, n.name];
  const path = formatPath(segments);
  const pr = parseUri(path, tree.limits); // name checks and the tree's URI limits
  if (!pr.ok) return failure(pr.error.status, `TNDS Node ${JSON.stringify(n.name)}: ${pr.error.message}`, target);
  return success({ path, segments, node: n });
}

function within(segs: readonly string[], targetSegs: readonly string[]): boolean {
  if (segs.length < targetSegs.length) return false;
  for (let i = 0; i < targetSegs.length; i++) if (segs[i] !== targetSegs[i]) return false;
  return true;
}

function intended(n: TndsNode): { format: string; interior: boolean } {
  const f = n.props.format ?? (n.value !== undefined ? 'chr' : 'node');
  return { format: f, interior: f === 'node' };
}

function applyNode(
  tree: DmTree,
  as: Principal,
  p: Planned,
  mode: TndsImportMode,
  options: TndsImportOptions,
  out: TndsImportResult,
  targetSegs: readonly string[],
  target: string,
  acls: PendingAcl,
): TreeFailure | undefined {
  const n = p.node;
  if (!within(p.segments, targetSegs)) {
    return failure(DmStatus.BAD_REQUEST, `TNDS Node ${p.path} lies outside the command's target ${target}`, target);
  }
  const { format, interior } = intended(n);
  if (!isDmFormat(format)) return failure(DmStatus.UNSUPPORTED_MEDIA_TYPE, `TNDS Node ${p.path}: unknown format ${JSON.stringify(format)}`, p.path);
  if (!interior && n.children.length > 0) return failure(DmStatus.BAD_REQUEST, `TNDS Node ${p.path} has format ${format} but child Nodes`, p.path);
  if (interior && n.value !== undefined && n.value !== '') return failure(DmStatus.BAD_REQUEST, `TNDS Node ${p.path} is interior but has a Value`, p.path);
  if (n.props.title !== undefined && utf8Length(n.props.title) > 255) return failure(DmStatus.REQUEST_ENTITY_TOO_LARGE, `TNDS Node ${p.path}: Title longer than 255 bytes`, p.path);
  let existing = tree.resolve(p.segments);
  const type = n.props.type?.mime ?? n.props.type?.ddfName;
  const value = nodeValue(format, n.value);

  if (existing !== undefined && (mode === 'replace' ? existing.isInterior !== interior : !(existing.isInterior && interior))) {
    if (mode === 'add') return failure(DmStatus.ALREADY_EXISTS, `${p.path} already exists`, p.path);
    // replace with a different kind of node: delete, then add afresh
    const del = tree.delete(as, p.path);
    if (!del.ok) return del;
    out.deleted.push(p.path);
    existing = undefined;
  }

  if (existing === undefined) {
    const spec: Parameters<DmTree['add']>[2] = { format, createParents: true };
    if (type !== undefined) spec.type = type;
    if (!interior) spec.value = value;
    if (n.props.title !== undefined && n.props.title !== '') spec.title = n.props.title;
    const r = tree.add(as, p.path, spec);
    if (!r.ok) return { ...r, message: `TNDS: ${r.message}` };
    out.created.push(...r.value.created);
  } else {
    // update in place
    if (!interior) {
      const cur = existing;
      const changed = cur.format !== format || (type !== undefined && cur.type !== type) || valueText(cur.value) !== valueText(nodeValueForCompare(format, value));
      if (changed) {
        const meta: { format: string; type?: string } = { format };
        if (type !== undefined) meta.type = type;
        const r = tree.replace(as, p.path, value, meta);
        if (!r.ok) return { ...r, message: `TNDS: ${r.message}` };
        out.updated.push(p.path);
      }
    } else if (type !== undefined && existing.type !== type) {
      if (as !== DEVICE) return failure(DmStatus.COMMAND_NOT_ALLOWED, `TNDS: the Type of interior node ${p.path} is ${JSON.stringify(existing.type)} and cannot be changed to ${JSON.stringify(type)}`, p.path);
      tree.setProperties(existing, { type });
      out.updated.push(p.path);
    }
    if (n.props.title !== undefined && existing.title !== n.props.title) {
      const r = tree.replace(as, `${p.path}?prop=Title`, n.props.title);
      if (!r.ok) return { ...r, message: `TNDS: ${r.message}` };
      if (!out.updated.includes(p.path)) out.updated.push(p.path);
    }
  }
  if (n.props.acl !== undefined) acls.push({ path: p.path, acl: n.props.acl });
  const node = tree.resolve(p.segments)!;
  if (options.keepRuntimeProperties && as === DEVICE) {
    const props: { tstamp?: number; verNo?: number } = {};
    if (n.props.tstamp !== undefined) {
      const t = parseTStamp(n.props.tstamp);
      if (t === undefined) return failure(DmStatus.BAD_REQUEST, `TNDS Node ${p.path}: TStamp ${JSON.stringify(n.props.tstamp)} is not like 20240115T093000Z`, p.path);
      props.tstamp = t;
    }
    if (n.props.verNo !== undefined) {
      const v = Number(n.props.verNo);
      if (!/^\d+$/.test(n.props.verNo) || v > 0xffff) return failure(DmStatus.BAD_REQUEST, `TNDS Node ${p.path}: VerNo ${JSON.stringify(n.props.verNo)} is not 0..65535`, p.path);
      props.verNo = v;
    }
    tree.setProperties(node, props);
  }
  if (!interior) return undefined;

  // children
  const wanted = new Set<string>();
  const kids: Planned[] = [];
  for (const c of n.children) {
    const placed = place(tree, c, p.segments, target);
    if (!placed.ok) return placed;
    kids.push(placed.value);
    if (c.path === undefined || c.path === '') wanted.add(c.name);
  }
  if (mode === 'replace') {
    for (const k of [...node.children()]) {
      if (wanted.has(k.name)) continue;
      const kp = childPath(p.path, k.name);
      const r = tree.delete(as, kp);
      if (!r.ok) return { ...r, message: `TNDS Replace would remove ${kp}: ${r.message}` };
      out.deleted.push(kp);
    }
  }
  for (const k of kids) {
    const r = applyNode(tree, as, k, mode, options, out, targetSegs, target, acls);
    if (r) return r;
  }
  // keep runtime properties of the interior node after its children changed it
  if (options.keepRuntimeProperties && as === DEVICE && (n.props.tstamp !== undefined || n.props.verNo !== undefined)) {
    const props: { tstamp?: number; verNo?: number } = {};
    if (n.props.tstamp !== undefined) props.tstamp = parseTStamp(n.props.tstamp)!;
    if (n.props.verNo !== undefined) props.verNo = Number(n.props.verNo);
    tree.setProperties(node, props);
  }
  return undefined;
}

function nodeValue(format: string, v: string | undefined): string | Uint8Array | null {
  if (format === 'node') return null;
  if (format === 'bin') return new Uint8Array(Buffer.from(v ?? '', 'base64'));
  if (format === 'null') return null;
  return v ?? '';
}

function nodeValueForCompare(format: string, v: string | Uint8Array | null): string | Uint8Array | null {
  return format === 'null' ? null : v;
}

/** The TNDS document for the value of a Replace/Add item's Data, whichever way it travelled. */
export function tndsFromItemData(data: { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array } | { kind: 'xml'; elements: Element[] }): TndsResult<TndsTree> {
  if (data.kind === 'xml') {
    const roots = data.elements.filter((e) => e.name === 'MgmtTree');
    if (roots.length !== 1 || data.elements.length !== 1) return { ok: false, error: { path: 'Data', message: 'Data holds no single MgmtTree element' } };
    return parseTnds(roots[0]!);
  }
  return readTnds(data.kind === 'text' ? data.text : data.bytes);
}

/** Convenience for tests and the CLI: a TNDS document's nodes as `path -> TndsNode`, pre-order. */
export function tndsPaths(t: TndsTree, target = '.'): Map<string, TndsNode> {
  const out = new Map<string, TndsNode>();
  const walk = (n: TndsNode, parent: string): void => {
    const base = n.path !== undefined && n.path !== '' ? n.path : parent;
    const p = childPath(base === './' ? '.' : base, n.name);
    out.set(p, n);
    for (const c of n.children) walk(c, p);
  };
  for (const n of t.nodes) walk(n, target);
  return out;
}

