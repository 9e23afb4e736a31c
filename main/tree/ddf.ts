/**
 * DDF (Device Description Framework, OMA DM 1.2 TND §8.5/§9): the schema of a management object, read
 * from a `<MgmtTree xmlns="syncml:dmddf1.2">` whose Nodes carry DFProperties.
 *
 *   Node { NodeName (empty = a placeholder <X>), Path?, DFProperties{ AccessType{Add|Copy|Delete|Exec|Get|Replace}+,
 *          DefaultValue?, Description?, DFFormat{b64|bin|bool|chr|int|node|null|xml|date|time|float},
 *          Occurrence?{One|ZeroOrOne|ZeroOrMore|OneOrMore|ZeroOrN n|OneOrN n}, Scope?{Permanent|Dynamic},
 *          DFTitle?, DFType{MIME|DDFName}, CaseSense?{CS|CIS} }, Node* }
 *
 * The schema is typed (DdfSchema / DdfNode) so the UI can build editors from it later; here it is used
 * to check commands before they reach the tree (`ddfCheck`) and to give created nodes their access
 * types (`ddfAccessFor`).
 *
 * Binding a schema to tree nodes: a root DdfNode with a name sits at `Path/NodeName` (Path default `.`);
 * a root placeholder (an MO whose root is `<X>`, e.g. FUMO) binds to any interior node whose Type is the
 * root's DDFName (the MO identifier), which is how MOs are recognised in a real tree.
 */
import type { Element } from '../protocol/element.js';
import { parseXml } from '../protocol/xml/parse.js';
import { decodeDocument } from '../protocol/codec.js';
import { ACCESS, type AccessName, type DmTree } from './tree.js';
import { parseUri } from './uri.js';
import { DM_FORMATS, checkValue, isDmFormat, type DmFormat } from './values.js';
import { childElements as kids, failAt as fail, readDmddf, textOf as text, type DmddfError, type DmddfResult } from './dmddf-reader.js';

export type OccurrenceKind = 'One' | 'ZeroOrOne' | 'ZeroOrMore' | 'OneOrMore' | 'ZeroOrN' | 'OneOrN';

export interface DdfOccurrence {
  kind: OccurrenceKind;
  min: 0 | 1;
  /** undefined = unbounded */
  max: number | undefined;
}

export interface DdfNode {
  /** The node name; undefined for a placeholder (`<NodeName/>`, written `<X>` in the specs). */
  name: string | undefined;
  /** Absolute URI of the parent, as the DDF gives it (roots only, usually). */
  path?: string;
  access: AccessName[];
  /** The ACCESS bits of `access`. */
  accessMask: number;
  format: DmFormat;
  /** DFType: a MIME type for leaves, the MO identifier (DDFName) for interior nodes. */
  type?: { mime?: string; ddfName?: string };
  occurrence: DdfOccurrence;
  scope?: 'Permanent' | 'Dynamic';
  title?: string;
  description?: string;
  defaultValue?: string;
  /** CaseSense: CS (default) or CIS. */
  caseSensitive: boolean;
  children: DdfNode[];
  parent: DdfNode | undefined;
}

export interface DdfSchema {
  verDTD: string;
  man?: string;
  mod?: string;
  roots: DdfNode[];
}

export type DdfError = DmddfError;
export type DdfResult<T> = DmddfResult<T>;

const OCCURRENCE: Record<OccurrenceKind, (n?: number) => DdfOccurrence> = {
  One: () => ({ kind: 'One', min: 1, max: 1 }),
  ZeroOrOne: () => ({ kind: 'ZeroOrOne', min: 0, max: 1 }),
  ZeroOrMore: () => ({ kind: 'ZeroOrMore', min: 0, max: undefined }),
  OneOrMore: () => ({ kind: 'OneOrMore', min: 1, max: undefined }),
  ZeroOrN: (n) => ({ kind: 'ZeroOrN', min: 0, max: n }),
  OneOrN: (n) => ({ kind: 'OneOrN', min: 1, max: n }),
};

/** Read a DDF MgmtTree element. */
export function parseDdf(root: Element): DdfResult<DdfSchema> {
  return readDmddf(() => {
    if (root.name !== 'MgmtTree' || root.ns !== 'dmddf') fail(root.name, `expected <MgmtTree xmlns="syncml:dmddf1.2">, got <${root.name}>`);
    const schema: DdfSchema = { verDTD: '', roots: [] };
    let n = 0;
    for (const c of kids(root, 'MgmtTree')) {
      if (c.name === 'VerDTD') schema.verDTD = text(c, 'MgmtTree/VerDTD').trim();
      else if (c.name === 'Man') schema.man = text(c, 'MgmtTree/Man').trim();
      else if (c.name === 'Mod') schema.mod = text(c, 'MgmtTree/Mod').trim();
      else if (c.name === 'Node') schema.roots.push(readNode(c, `MgmtTree/Node[${++n}]`, undefined));
      else fail(`MgmtTree/${c.name}`, `<${c.name}> is not allowed in a DDF MgmtTree`);
    }
    if (schema.verDTD === '') fail('MgmtTree', 'MgmtTree has no VerDTD');
    if (schema.roots.length === 0) fail('MgmtTree', 'MgmtTree has no Node');
    return schema;
  });
}

function readNode(e: Element, path: string, parent: DdfNode | undefined): DdfNode {
  const node: DdfNode = {
    name: undefined,
    access: [],
    accessMask: 0,
    format: 'node',
    occurrence: OCCURRENCE.One(),
    caseSensitive: true,
    children: [],
    parent,
  };
  let sawName = false;
  let sawProps = false;
  let n = 0;
  for (const c of kids(e, path)) {
    const p = `${path}/${c.name}`;
    switch (c.name) {
      case 'NodeName': {
        const t = text(c, p).trim();
        node.name = t === '' ? undefined : t;
        sawName = true;
        break;
      }
      case 'Path':
        node.path = text(c, p).trim();
        break;
      case 'DFProperties':
        readProps(c, p, node);
        sawProps = true;
        break;
      case 'Node':
        node.children.push(readNode(c, `${path}/Node[${++n}]`, node));
        break;
      case 'RTProperties':
      case 'Value':
        // a DDF may describe factory values; the schema does not need them
        break;
      default:
        fail(p, `<${c.name}> is not allowed in a DDF Node`);
    }
  }
  if (!sawName) fail(path, 'Node has no NodeName');
  if (!sawProps) fail(path, `Node ${node.name ?? '<X>'} has no DFProperties`);
  if (node.format !== 'node' && node.children.length > 0) fail(path, `Node ${node.name ?? '<X>'} has format ${node.format} but child Nodes`);
  const names = new Set<string>();
  for (const k of node.children) {
    if (k.name === undefined) continue;
    if (names.has(k.name)) fail(path, `two child Nodes named ${k.name}`);
    names.add(k.name);
  }
  return node;
}

function choice(c: Element, p: string): Element {
  const k = kids(c, p);
  if (k.length !== 1) fail(p, `expected exactly one element inside <${c.name}>`);
  return k[0]!;
}

function readProps(e: Element, path: string, node: DdfNode): void {
  let sawFormat = false;
  let sawAccess = false;
  for (const c of kids(e, path)) {
    const p = `${path}/${c.name}`;
    switch (c.name) {
      case 'AccessType':
        for (const a of kids(c, p)) {
          // Own keys only: `in` also finds Object.prototype names (toString, __proto__...).
          if (!Object.hasOwn(ACCESS, a.name)) fail(`${p}/${a.name}`, `${a.name} is not an access type (Add, Copy, Delete, Exec, Get, Replace)`);
          const name = a.name as AccessName;
          if (!node.access.includes(name)) node.access.push(name);
          node.accessMask |= ACCESS[name];
        }
        sawAccess = true;
        break;
      case 'DefaultValue':
        node.defaultValue = text(c, p);
        break;
      case 'Description':
        node.description = text(c, p);
        break;
      case 'DFFormat': {
        const f = choice(c, p).name;
        if (!isDmFormat(f)) fail(`${p}/${f}`, `${f} is not a DM format (${DM_FORMATS.join(', ')})`);
        node.format = f;
        sawFormat = true;
        break;
      }
      case 'Occurrence': {
        const o = choice(c, p);
        const kind = o.name as OccurrenceKind;
        // Own keys only: `<__proto__/>` or `<toString/>` would otherwise be called as an occurrence.
        if (!Object.hasOwn(OCCURRENCE, kind)) fail(`${p}/${o.name}`, `${o.name} is not an occurrence (One, ZeroOrOne, ZeroOrMore, OneOrMore, ZeroOrN, OneOrN)`);
        if (kind === 'ZeroOrN' || kind === 'OneOrN') {
          const t = text(o, `${p}/${o.name}`).trim();
          if (!/^\d+$/.test(t) || Number(t) < 1) fail(`${p}/${o.name}`, `${o.name} needs a positive count, got ${JSON.stringify(t)}`);
          node.occurrence = OCCURRENCE[kind](Number(t));
        } else node.occurrence = OCCURRENCE[kind]();
        break;
      }
      case 'Scope': {
        const s = choice(c, p).name;
        if (s !== 'Permanent' && s !== 'Dynamic') fail(`${p}/${s}`, 'Scope is Permanent or Dynamic');
        node.scope = s;
        break;
      }
      case 'DFTitle':
        node.title = text(c, p);
        break;
      case 'DFType': {
        const type: { mime?: string; ddfName?: string } = {};
        for (const t of kids(c, p)) {
          if (t.name === 'MIME') type.mime = text(t, `${p}/MIME`).trim();
          else if (t.name === 'DDFName') type.ddfName = text(t, `${p}/DDFName`).trim();
          else fail(`${p}/${t.name}`, 'DFType holds MIME or DDFName');
        }
        node.type = type;
        break;
      }
      case 'CaseSense': {
        const s = choice(c, p).name;
        if (s !== 'CS' && s !== 'CIS') fail(`${p}/${s}`, 'CaseSense is CS or CIS');
        node.caseSensitive = s === 'CS';
        break;
      }
      default:
        fail(p, `<${c.name}> is not a DFProperties element`);
    }
  }
  if (!sawAccess) fail(path, 'DFProperties has no AccessType');
  if (!sawFormat) fail(path, 'DFProperties has no DFFormat');
}

/** A DDF from XML text or bytes (XML or WBXML). */
export function readDdf(input: Uint8Array | string): DdfResult<DdfSchema> {
  let root: Element;
  if (typeof input === 'string') {
    const r = parseXml(input);
    if (!r.ok) return { ok: false, error: { path: '', message: `not XML: ${r.error.message}${r.error.line ? ` at line ${r.error.line}:${r.error.column}` : ''}` } };
    root = r.value.root;
  } else {
    const r = decodeDocument(input);
    // The byte offset too (as readTnds gives it): a WBXML error has no line.
    if (!r.ok) return { ok: false, error: { path: '', message: `cannot read DDF: ${r.error.message}${r.error.line ? ` at line ${r.error.line}:${r.error.column}` : r.error.offset !== undefined ? ` at byte ${r.error.offset}` : ''}` } };
    root = r.value.document.root;
  }
  return parseDdf(root);
}

// --------------------------------------------------------------------------------------- binding

function nameMatches(d: DdfNode, name: string): boolean {
  if (d.name === undefined) return true;
  return d.caseSensitive ? d.name === name : d.name.toLowerCase() === name.toLowerCase();
}

/** The child DDF node describing `name`: a named child first, else a placeholder. */
export function ddfChild(d: DdfNode, name: string): DdfNode | undefined {
  let placeholder: DdfNode | undefined;
  for (const c of d.children) {
    if (c.name === undefined) placeholder ??= c;
    else if (nameMatches(c, name)) return c;
  }
  return placeholder;
}

function rootSegments(d: DdfNode): string[] | undefined {
  if (d.name === undefined) return undefined;
  const p = parseUri(d.path && d.path !== '' ? d.path : '.');
  if (!p.ok) return undefined;
  return [...p.value.segments, d.name];
}

export interface DdfBinding {
  schema: DdfSchema;
  /** The DDF node describing the URI. */
  node: DdfNode;
  /** Segments of the tree node the MO root is bound to. */
  rootSegments: readonly string[];
}

/**
 * The DDF node describing `segments` in `tree`, if any schema covers it. `newType` is the Type a node
 * being added will get (so that an MO root added with its MO identifier is recognised at once).
 * Returns `undefined` when no schema covers the URI, `null` when a schema covers an ancestor but
 * defines no such child (the name is not part of the MO).
 */
export function ddfBind(schemas: readonly DdfSchema[], tree: DmTree, segments: readonly string[], newType?: string): DdfBinding | null | undefined {
  // deepest binding wins: walk from the node up to the root looking for an MO root
  for (let depth = segments.length; depth >= 1; depth--) {
    const prefix = segments.slice(0, depth);
    const treeNode = tree.resolve(prefix);
    const type = treeNode?.type ?? (depth === segments.length ? newType : undefined);
    for (const schema of schemas) {
      for (const root of schema.roots) {
        let bound = false;
        if (root.name !== undefined) {
          const rs = rootSegments(root);
          bound = rs !== undefined && rs.length === depth && rs.every((s, i) => (i === depth - 1 ? nameMatches(root, prefix[i]!) : s === prefix[i]));
        } else if (root.type?.ddfName) {
          bound = type === root.type.ddfName;
        }
        if (!bound) continue;
        let d: DdfNode | undefined = root;
        for (let i = depth; i < segments.length && d !== undefined; i++) d = ddfChild(d, segments[i]!);
        return d === undefined ? null : { schema, node: d, rootSegments: prefix };
      }
    }
  }
  return undefined;
}

/** A path for messages: `./DMAcc/<X>/AppAddr` style. */
export function ddfPath(d: DdfNode): string {
  const names: string[] = [];
  let n: DdfNode | undefined = d;
  let top: DdfNode = d;
  for (; n !== undefined; n = n.parent) {
    names.push(n.name ?? '<X>');
    top = n;
  }
  const base = top.path && top.path !== '' ? top.path : '.';
  return `${base}/${names.reverse().join('/')}`.replace(/^\.\/\.\//, './');
}

export type DdfCommand = 'Add' | 'Copy' | 'Delete' | 'Exec' | 'Get' | 'Replace';

export interface DdfRefusal {
  status: 405 | 415 | 418;
  message: string;
}

/**
 * Would the MO schemas allow `command` on `segments`? For Add/Replace pass the format (and value) the
 * node would get. Returns undefined when allowed or when no schema covers the URI.
 *  - a name the MO does not define: 405;
 *  - AccessType without the command: 405;
 *  - a format other than DFFormat, or a value that does not fit it: 415;
 *  - Add beyond the Occurrence maximum: 418; Delete of a required (One/OneOrMore last) node: 405.
 */
export function ddfCheck(
  schemas: readonly DdfSchema[],
  tree: DmTree,
  command: DdfCommand,
  segments: readonly string[],
  spec: { format?: string; value?: string | Uint8Array | null; type?: string } = {},
): DdfRefusal | undefined {
  if (schemas.length === 0 || segments.length === 0) return undefined;
  const b = ddfBind(schemas, tree, segments, command === 'Add' ? spec.type : undefined);
  const uri = './' + segments.join('/');
  if (b === undefined) return undefined;
  if (b === null) {
    return { status: 405, message: `${uri} is not part of its management object (no such node in the DDF)` };
  }
  const d = b.node;
  if ((d.accessMask & ACCESS[command]) === 0) {
    return { status: 405, message: `the DDF allows ${d.access.join(', ') || 'nothing'} on ${ddfPath(d)}, not ${command} (${uri})` };
  }
  if (command === 'Add' || command === 'Replace') {
    const f = spec.format ?? (command === 'Add' ? d.format : undefined);
    if (f !== undefined && f !== d.format) {
      return { status: 415, message: `the DDF says ${ddfPath(d)} has format ${d.format}, not ${f} (${uri})` };
    }
    if (d.format !== 'node' && spec.value !== undefined) {
      const v = checkValue(d.format, spec.value);
      if (typeof v === 'string') return { status: 415, message: `${uri}: ${v} (DDF format ${d.format})` };
    }
  }
  if (command === 'Add' && d.occurrence.max !== undefined && segments.length > 1) {
    const parent = tree.resolve(segments.slice(0, -1));
    if (parent !== undefined) {
      let count = 0;
      for (const k of parent.children()) if (matchesSame(d, k.name)) count++;
      if (count >= d.occurrence.max) {
        return { status: 418, message: `the DDF allows at most ${d.occurrence.max} ${ddfPath(d)} (${d.occurrence.kind}); ${count} exist under ${'./' + segments.slice(0, -1).join('/')}` };
      }
    }
  }
  if (command === 'Delete' && d.occurrence.min === 1 && segments.length > 1) {
    const parent = tree.resolve(segments.slice(0, -1));
    let count = 0;
    if (parent !== undefined) for (const k of parent.children()) if (matchesSame(d, k.name)) count++;
    if (count <= 1) return { status: 405, message: `the DDF requires ${ddfPath(d)} (${d.occurrence.kind}): ${uri} cannot be deleted` };
  }
  return undefined;
}

/** Does `name` fall under DDF node `d` among its siblings (named: by name; placeholder: any unnamed sibling)? */
function matchesSame(d: DdfNode, name: string): boolean {
  if (d.name !== undefined) return nameMatches(d, name);
  const parent = d.parent;
  if (parent === undefined) return true;
  return !parent.children.some((c) => c.name !== undefined && nameMatches(c, name));
}

/** Access-type bits the tree should give a node the schemas describe (undefined: not covered). */
export function ddfAccessFor(schemas: readonly DdfSchema[], tree: DmTree, segments: readonly string[]): number | undefined {
  const b = ddfBind(schemas, tree, segments);
  return b ? b.node.accessMask : undefined;
}

export interface DdfIssue {
  path: string;
  message: string;
}

/**
 * Check an existing subtree against the schemas: names the MO does not define, formats, values, and
 * required children missing. For the CLI and the UI (the tree itself is not changed).
 */
export function ddfValidate(schemas: readonly DdfSchema[], tree: DmTree, startPath = '.'): DdfIssue[] {
  const issues: DdfIssue[] = [];
  const start = tree.lookup(startPath);
  if (start === undefined) return [{ path: startPath, message: 'does not exist' }];
  tree.walk(start, (n, path) => {
    if (n.parent === null) return;
    const segs = parseUri(path);
    if (!segs.ok) return;
    const b = ddfBind(schemas, tree, segs.value.segments);
    if (b === undefined) return;
    if (b === null) {
      issues.push({ path, message: 'not defined by its management object DDF' });
      return false;
    }
    const d = b.node;
    if (d.format !== n.format) issues.push({ path, message: `format ${n.format}, the DDF says ${d.format}` });
    else if (n.format !== 'node' && n.format !== 'null') {
      const v = checkValue(d.format, n.value);
      if (typeof v === 'string') issues.push({ path, message: v });
    }
    if (n.format === 'node') {
      for (const c of d.children) {
        if (c.occurrence.min === 0 || c.name === undefined) continue;
        if (![...n.children()].some((k) => nameMatches(c, k.name))) issues.push({ path, message: `required child ${c.name} is missing (${c.occurrence.kind})` });
      }
    }
    return true;
  });
  return issues;
}
