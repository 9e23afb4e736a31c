/**
 * Fuzz: the parsers of main/tree, from valid seeds (the corpus TNDS document, trees exported and
 * saved by the module itself, the DDF of the unit tests), mutated with a seeded mulberry32 generator:
 *  - DM URIs (parseUri, with random DevDetail/URI limits) and ACL text (parseAcl): character-level;
 *  - TNDS (readTnds from text, XML bytes and WBXML, then importTnds into a handset tree) and DDF
 *    (readDdf, then binding and checks against a tree): byte-level on the document, and
 *    structure-aware on its element tree (elements dropped, repeated, moved, renamed, texts replaced),
 *    since flipped XML bytes are mostly refused by the XML parser alone;
 *  - the tree file loader (deserializeTree): bytes of the file, and values of its JSON.
 * Each parser must return a value or throw only its own error, name where the input went wrong
 * (segment, position, element path, line / byte, JSON path), leave a tree it refused to change as it
 * was, and what it accepts must write back to something it reads as the same value.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { el, isElement, type Element } from '../../main/protocol/element.js';
import { encodeWbxml } from '../../main/protocol/wbxml/index.js';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { serializeXml } from '../../main/protocol/xml/serialize.js';
import { ACL_COMMANDS, aclFromEntries, isValidServerId, parseAcl } from '../../main/tree/acl.js';
import { ddfAccessFor, ddfBind, ddfCheck, ddfValidate, readDdf, type DdfNode } from '../../main/tree/ddf.js';
import { createDeviceTree } from '../../main/tree/mos.js';
import { TreeFileError, deserializeTree, serializeTree } from '../../main/tree/persist.js';
import { exportTnds, importTnds, readTnds, tndsElement, tndsToXml, TNDS_EXPORT_ALL, type TndsTree } from '../../main/tree/tnds.js';
import { ACCESS, DEVICE, type DmTree } from '../../main/tree/tree.js';
import { formatPath, nodeNameProblem, parseUri, utf8Length, type UriLimits } from '../../main/tree/uri.js';
import { DM_FORMATS, checkValue } from '../../main/tree/values.js';
import { int, mutateText, pick, prng, type Rnd, Judge } from '../helpers/fuzz.js';
import { WorkMeter } from '../helpers/work-meter.js';
import { CORPUS_DIR } from '../helpers/tools.js';
import { FUMO_LIKE, TREE_CLOCK as CLOCK, twoAuthorityTree } from '../helpers/tree-samples.js';

// ------------------------------------------------------------------------------------------ engine

/**
 * Byte mutation for the documents' bytes (flips, bytes, cuts, inserts, drops, repeats). Not the shared
 * mutateBytes: one flip at a time, inserts only interesting bytes, no swaps or splices of other seeds.
 */
function mutateBytes(src: Uint8Array, rnd: Rnd, interesting: readonly number[]): Uint8Array {
  const b = Array.from(src);
  for (let round = 1 + int(rnd, 3); round > 0; round--) {
    const at = int(rnd, b.length + 1);
    switch (int(rnd, 6)) {
      case 0:
        if (b.length) b[int(rnd, b.length)]! ^= 1 << int(rnd, 8);
        break;
      case 1:
        if (b.length) b[int(rnd, b.length)] = pick(rnd, interesting);
        break;
      case 2:
        b.length = at;
        break;
      case 3:
        b.splice(at, 0, ...Array.from({ length: 1 + int(rnd, 6) }, () => pick(rnd, interesting)));
        break;
      case 4:
        b.splice(at, 1 + int(rnd, 16));
        break;
      default: {
        const end = Math.min(b.length, at + 1 + int(rnd, 32));
        b.splice(end, 0, ...b.slice(at, end));
      }
    }
  }
  return Uint8Array.from(b);
}

function elementsOf(root: Element): Array<{ e: Element; parent: Element | undefined }> {
  const out: Array<{ e: Element; parent: Element | undefined }> = [];
  const walk = (e: Element, parent: Element | undefined): void => {
    out.push({ e, parent });
    for (const c of e.children) if (isElement(c)) walk(c, e);
  };
  walk(root, undefined);
  return out;
}

function contains(a: Element, b: Element): boolean {
  return a === b || a.children.some((c) => isElement(c) && contains(c, b));
}

/** Structure-aware mutation of a dmddf element tree (on a copy). */
function mutateElements(src: Element, rnd: Rnd, names: readonly string[], texts: readonly string[]): Element {
  const root = structuredClone(src);
  for (let round = 1 + int(rnd, 3); round > 0; round--) {
    const all = elementsOf(root);
    const { e, parent } = pick(rnd, all);
    const at = parent ? parent.children.indexOf(e) : -1;
    switch (int(rnd, 8)) {
      case 0: // drop
        if (parent) parent.children.splice(at, 1);
        break;
      case 1: // repeat
        if (parent) parent.children.splice(at, 0, structuredClone(e));
        break;
      case 2: // rename
        e.name = pick(rnd, names);
        break;
      case 3: // replace the content with a text
        e.children = [pick(rnd, texts)];
        break;
      case 4: {
        // move under another element that is not inside it
        const target = pick(rnd, all).e;
        if (parent && !contains(e, target)) {
          parent.children.splice(at, 1);
          target.children.splice(int(rnd, target.children.length + 1), 0, e);
        }
        break;
      }
      case 5: // an empty element as the content (e.g. <Format><chr/></Format>)
        e.children = [el('dmddf', pick(rnd, names))];
        break;
      case 6: // a new empty element among the children
        e.children.splice(int(rnd, e.children.length + 1), 0, el('dmddf', pick(rnd, names), rnd() < 0.5 ? [pick(rnd, texts)] : []));
        break;
      default: {
        // swap two siblings
        const kids = e.children;
        if (kids.length > 1) {
          const i = int(rnd, kids.length);
          const k = int(rnd, kids.length);
          [kids[i], kids[k]] = [kids[k]!, kids[i]!];
        }
      }
    }
  }
  return root;
}



/** Where two plain values first differ (for findings). */
function firstDiff(a: unknown, b: unknown, at = ''): string | undefined {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b) ? undefined : `${at || '.'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    if (d) return d;
  }
  return undefined;
}

const DMDDF_INFO = { wbxmlVersion: 2, publicId: '-//OMA//DTD-DM-DDF 1.2//EN', rootNamespaceUri: 'syncml:dmddf1.2' };
const SEED = 20260302;
/**
 * "No input makes a parser slow", counted rather than timed (a loaded machine changes nothing): the
 * most work a check may do per character or byte of its input (test/helpers/work-meter.ts: what the
 * searching built-ins look at). A check parses, writes back and reads again, a few scans each: under
 * 10 per character on the URIs, ACLs, tree files and values; the TNDS and DDF checks also search the
 * handset tree they import into or bind against, a fixed cost that shows as under 50 on their
 * smallest inputs. A search from every position to the end (parseAcl's '+' once) costs thousands per
 * character on the hostile inputs.
 */
const WORK_PER_UNIT = 100;
/** The longest fuzz loops' own timeout: only against a hang (over 10 s seen on a loaded machine). */
const HANG_GUARD_MS = 120_000;

/** A handset with a Vendor subtree of every value kind. */
function handset(): DmTree {
  const tree = twoAuthorityTree();
  const v = tree.createNode(tree.root, 'Vendor', { acl: 'Add=*&Delete=srvA&Get=*&Replace=srvA', title: 'Vendor settings' });
  const app = tree.createNode(v, 'App', { title: 'The app', type: 'urn:x-vendor:app:1.0' });
  tree.createNode(app, 'Name', { format: 'chr', value: 'demo ü' });
  tree.createNode(app, 'Blob', { format: 'bin', value: new Uint8Array([0, 1, 2, 255]) });
  tree.createNode(app, 'On', { format: 'bool', value: 'true', type: 'text/plain' });
  tree.createNode(app, 'Count', { format: 'int', value: '-42', verNo: 7 });
  tree.createNode(app, 'When', { format: 'date', value: '2005-10-18' });
  tree.createNode(app, 'Nothing', { format: 'null' });
  tree.createNode(app, 'a b%c', { format: 'float', value: '1.5e3', acl: 'Get=srvB' });
  tree.setAccess(tree.createNode(app, 'Secret', { format: 'chr', value: 's' }), ACCESS.Replace);
  return tree;
}

// ------------------------------------------------------------------------------------------ URI

const URI_SEEDS = ['.', './', './DMAcc/srvA/AppAddr/1/Addr', 'DevInfo/Mod', './Vendor/a%20b/%C3%A9', './Vendor?prop=ACL', './x?list=TNDS+ACL+Value', './a/b?list=Struct', 'Ünïcode/名前/😀', './%25/%3F/%23', './Vendor/App/a%20b%25c?prop=Title'];
const URI_TOKENS = ['/', '//', '.', '..', './', '%', '%2F', '%2f', '%2', '%C3', '%C3%A9', '%ED%A0%80', '%00', '%FF', '?', '?prop=', '?prop=ACL', '?list=', '?list=TNDS+', '+', '#', ' ', '\t', '\u0000', '\u007f', '\ud800', '\udc00', '😀', 'é', '=', '&', 'Struct', 'x'.repeat(40)];
const LIMITS: UriLimits[] = [
  { maxDepth: 0, maxTotLen: 0, maxSegLen: 0 },
  { maxDepth: 20, maxTotLen: 255, maxSegLen: 128 },
  { maxDepth: 3, maxTotLen: 24, maxSegLen: 6 },
  { maxDepth: 1, maxTotLen: 8, maxSegLen: 4 },
];
const URI_CODES = new Set(['empty', 'absolute', 'empty-segment', 'dot-segment', 'bad-escape', 'slash-in-name', 'control-char', 'bad-query', 'too-deep', 'too-long', 'segment-too-long']);

function rawSegments(uri: string): string[] {
  const q = uri.indexOf('?');
  const p = q < 0 ? uri : uri.slice(0, q);
  return (p.startsWith('./') ? p.slice(2) : p).split('/');
}

function checkUri(j: Judge, i: number, uri: string, limits: UriLimits): boolean {
  const r = j.call('parseUri', i, uri, () => parseUri(uri, limits));
  if (!r) return false;
  if (!r.ok) {
    const e = r.error;
    if (!URI_CODES.has(e.code) || (e.status !== 400 && e.status !== 414)) j.report('parseUri', i, `bad code/status ${e.code} ${e.status}`, uri);
    if (e.uri !== uri || !e.message.includes(JSON.stringify(uri))) j.report('parseUri', i, `error does not name the URI: ${e.message}`, uri);
    if (e.segmentIndex !== undefined && rawSegments(uri)[e.segmentIndex] !== e.segment) j.report('parseUri', i, `segment ${e.segmentIndex} is not ${JSON.stringify(e.segment)}`, uri);
    return false;
  }
  const u = r.value;
  for (const s of u.segments) if (nodeNameProblem(s)) j.report('parseUri', i, `accepted a bad name ${JSON.stringify(s)}`, uri);
  if (u.path !== formatPath(u.segments)) j.report('parseUri', i, `path ${u.path} is not the canonical ${formatPath(u.segments)}`, uri);
  if (limits.maxDepth > 0 && u.segments.length > limits.maxDepth) j.report('parseUri', i, 'deeper than MaxDepth', uri);
  const q = uri.indexOf('?');
  if (limits.maxTotLen > 0 && utf8Length(q < 0 ? uri : uri.slice(0, q)) > limits.maxTotLen) j.report('parseUri', i, 'longer than MaxTotLen', uri);
  if (limits.maxSegLen > 0 && u.segments.length > 0 && rawSegments(uri).some((s) => utf8Length(s) > limits.maxSegLen)) j.report('parseUri', i, 'a segment longer than MaxSegLen', uri);
  // Round trip: the canonical text (with its query) parses to the same value.
  const query = u.query === undefined ? '' : u.query.kind === 'prop' ? `?prop=${u.query.prop}` : `?list=${[u.query.list, ...u.query.flags].join('+')}`;
  const again = parseUri(u.path + query);
  if (!again.ok) j.report('parseUri', i, `canonical ${u.path + query} does not parse: ${again.error.message}`, uri);
  else if (!isDeepStrictEqual(again.value, u)) j.report('parseUri', i, `canonical ${u.path + query} parses differently`, uri);
  return true;
}

// ------------------------------------------------------------------------------------------ ACL

const ACL_SEEDS = ['Add=*&Get=*', 'Get=srvA+srvB&Replace=srvA', 'Add=a&Delete=a&Exec=b&Get=*&Replace=a+b+c', 'Get=*', '', 'Exec=com.mgmtsrv.manage', 'Replace=srvB&Get=srvA&Get=srvB+srvA', 'Delete=*+x'];
const ACL_TOKENS = ['&', '=', '+', '*', ' ', 'Add', 'Get', 'Copy', 'get', 'Replace=', '&Get=*', '\u00a0', '\u2028', '\u3000', '\ufeff', 'é', '\u0000', '&&', '==', '++', 'srv-é', 'toString', '__proto__'];
const ACL_CODES = new Set(['bad-command', 'missing-equals', 'no-server', 'bad-server-id', 'empty-entry']);
const ACL_SHAPE = /^$|^(?:Add|Delete|Exec|Get|Replace)=[^=&+]+(?:\+[^=&+]+)*(?:&(?:Add|Delete|Exec|Get|Replace)=[^=&+]+(?:\+[^=&+]+)*)*$/;

function checkAcl(j: Judge, i: number, text: string): boolean {
  const r = j.call('parseAcl', i, text, () => parseAcl(text));
  if (!r) return false;
  if (!r.ok) {
    const e = r.error;
    if (!ACL_CODES.has(e.code)) j.report('parseAcl', i, `code ${e.code}`, text);
    if (!Number.isInteger(e.position) || e.position < 0 || e.position > text.length) j.report('parseAcl', i, `position ${e.position} outside the text`, text);
    if (e.text !== text || !e.message.includes(`at position ${e.position}`)) j.report('parseAcl', i, `error does not say where: ${e.message}`, text);
    return false;
  }
  const a = r.value;
  if (!ACL_SHAPE.test(text)) j.report('parseAcl', i, 'accepted text outside the grammar', text);
  for (const c of ACL_COMMANDS) {
    const g = a.grantees(c);
    if (Array.isArray(g) && (g.length === 0 || !g.every(isValidServerId))) j.report('parseAcl', i, `${c} grants ${JSON.stringify(g)}`, text);
  }
  const again = parseAcl(a.text);
  if (!again.ok) j.report('parseAcl', i, `canonical ${JSON.stringify(a.text)} does not parse`, text);
  else if (!isDeepStrictEqual(again.value.entries(), a.entries()) || again.value.text !== a.text) j.report('parseAcl', i, 'canonical text parses differently', text);
  const fromEntries = aclFromEntries(a.entries());
  if (!fromEntries.ok || fromEntries.value.text !== a.text) j.report('parseAcl', i, 'entries do not rebuild the ACL', text);
  return true;
}

// ------------------------------------------------------------------------------------------ TNDS

const TNDS_NAMES = ['MgmtTree', 'VerDTD', 'Man', 'Mod', 'Node', 'NodeName', 'Path', 'RTProperties', 'Value', 'ACL', 'Format', 'Name', 'Size', 'Title', 'TStamp', 'VerNo', 'Type', 'MIME', 'DDFName', 'DFProperties', 'chr', 'node', 'bin', 'int', 'bool', 'null', 'b64', 'float', 'Bogus', '__proto__', 'toString', 'constructor'];
const TNDS_TEXTS = ['', ' ', '.', './', './Vendor', './Vendor/App', './DevInfo', '../x', 'a/b', '%2F', 'Get=*', 'Add=*&Get=srvB', 'Bogus=x', 'x'.repeat(300), '20240115T093000Z', '2024', '99999', '65535', '-1', 'AAEC', 'AAEC/w==', '!!!', 'true', 'chr', 'node', 'text/plain', 'urn:x-vendor:app:1.0', '名前', '1.2'];

function tndsSeeds(): string[] {
  const tree = handset();
  const seeds = [readFileSync(path.join(CORPUS_DIR, 'tnds-document.xml'), 'utf8')];
  for (const [uri, flags] of [['./Vendor', TNDS_EXPORT_ALL], ['./DMAcc/srvA', TNDS_EXPORT_ALL], ['.', ['Format', 'Value'] as const], ['./Vendor/App', ['ACL', 'Type', 'Title', 'Name']]] as const) {
    const t = exportTnds(tree, DEVICE, uri, { flags, man: 'Acme', mod: 'X1' });
    if (!t.ok) throw new Error(t.message);
    seeds.push(tndsToXml(t.value, uri !== '.'));
  }
  seeds.push(`<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>
    <Node><NodeName>New</NodeName><Path>./Vendor</Path><RTProperties><Format>node</Format><Type><DDFName>urn:x:1</DDFName></Type><Title> t </Title></RTProperties>
      <Node><NodeName>X</NodeName><RTProperties><Format><int/></Format><Type><MIME>text/plain</MIME></Type></RTProperties><Value>1</Value></Node>
      <Node><NodeName>Y</NodeName><Path>./Vendor/New</Path><Value/></Node></Node></MgmtTree>`);
  return seeds;
}

function wbxmlOf(root: Element): Uint8Array | undefined {
  const w = encodeWbxml({ info: DMDDF_INFO, root });
  return w.ok ? w.value : undefined;
}

const XML_ILLEGAL = /\\u000[0-8bcef]|\\u001[0-9a-f]|\\ud[89a-f][0-9a-f]{2}|\uFFFE|\uFFFF/i;

const POSITION = /at line \d+:\d+|at byte \d+/;

/** A dmddf reader's error must name an element path (and start with it) or a line / byte position. */
function badDmddfError(e: { path: string; message: string }): string | undefined {
  if (typeof e.message !== 'string' || e.message === '') return 'empty message';
  if (e.path !== '') return e.message.startsWith(`${e.path}: `) ? undefined : `message does not start with its path ${e.path}`;
  return POSITION.test(e.message) ? undefined : 'names neither an element path nor a position';
}

function checkTnds(j: Judge, i: number, input: string | Uint8Array, importInto: { base: string; rnd: Rnd; tried: number; accepted: number } | undefined): TndsTree | undefined {
  const r = j.call('readTnds', i, input, () => readTnds(input));
  if (!r) return undefined;
  if (!r.ok) {
    const why = badDmddfError(r.error);
    if (why) j.report('readTnds', i, `${why}: ${r.error.message}`, input);
    return undefined;
  }
  const t = r.value;
  // Round trip: written back (XML and WBXML), it reads as the same document.
  // XML 1.0 cannot carry C0 controls (other than tab / newline): the XML writer shows such text as a
  // commented base64 block, so only the WBXML form can bring it back.
  const xml = XML_ILLEGAL.test(JSON.stringify(t)) ? undefined : j.call('tndsToXml', i, input, () => tndsToXml(t));
  const again = xml === undefined ? undefined : readTnds(xml);
  if (again && !again.ok) j.report('readTnds', i, `written back, it does not read: ${again.error.message}`, input);
  else if (again && !isDeepStrictEqual(again.value, t)) j.report('readTnds', i, `written back, it reads differently: ${firstDiff(t, again.value)}`, input);
  const w = wbxmlOf(tndsElement(t));
  const fromW = w && readTnds(w);
  if (fromW && (!fromW.ok || !isDeepStrictEqual(fromW.value, t))) j.report('readTnds', i, `WBXML form reads differently: ${fromW.ok ? firstDiff(t, fromW.value) : fromW.error.message}`, input);
  if (importInto) {
    // A refused import leaves the tree as it was; an accepted one leaves a tree that saves and loads.
    const tree = deserializeTree(importInto.base, 'base', { clock: CLOCK });
    const as = importInto.rnd() < 0.5 ? DEVICE : 'srvA';
    const target = pick(importInto.rnd, ['.', './Vendor', './Vendor/App', './DMAcc']);
    const mode = importInto.rnd() < 0.5 ? 'add' : 'replace';
    const res = j.call('importTnds', i, input, () => importTnds(tree, as, target, t, mode, { keepRuntimeProperties: importInto.rnd() < 0.5 }));
    importInto.tried++;
    if (res?.ok) importInto.accepted++;
    if (res && !res.ok) {
      if (typeof res.message !== 'string' || res.message === '' || typeof res.status !== 'number') j.report('importTnds', i, 'failure without status or message', input);
      if (serializeTree(tree) !== importInto.base) j.report('importTnds', i, `refused (${res.status} ${res.message}) but changed the tree`, input);
    } else if (res) {
      const saved = serializeTree(tree);
      if (serializeTree(deserializeTree(saved, 'after')) !== saved) j.report('importTnds', i, 'imported tree does not save and load', input);
    }
  }
  return t;
}

// ------------------------------------------------------------------------------------------ DDF

const VENDOR_DDF = `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>
  <Node><NodeName>Vendor</NodeName><Path>.</Path>
    <DFProperties><AccessType><Get/><Add/></AccessType><DFFormat><node/></DFFormat><Scope><Permanent/></Scope></DFProperties>
    <Node><NodeName>App</NodeName><DFProperties><AccessType><Get/><Add/><Replace/><Copy/></AccessType><DFFormat><node/></DFFormat><Occurrence><ZeroOrN>2</ZeroOrN></Occurrence></DFProperties>
      <Node><NodeName>Count</NodeName><DFProperties><AccessType><Get/><Replace/></AccessType><DFFormat><int/></DFFormat><DefaultValue>0</DefaultValue><Occurrence><OneOrN>3</OneOrN></Occurrence><CaseSense><CS/></CaseSense></DFProperties></Node>
      <Node><NodeName/><DFProperties><AccessType><Get/><Delete/></AccessType><DFFormat><chr/></DFFormat><Occurrence><OneOrMore/></Occurrence></DFProperties><Value>x</Value></Node>
    </Node>
  </Node>
</MgmtTree>`;
const DDF_NAMES = ['MgmtTree', 'VerDTD', 'Node', 'NodeName', 'Path', 'DFProperties', 'AccessType', 'DefaultValue', 'Description', 'DFFormat', 'Occurrence', 'Scope', 'DFTitle', 'DFType', 'CaseSense', 'MIME', 'DDFName', 'RTProperties', 'Value', 'Add', 'Copy', 'Delete', 'Exec', 'Get', 'Replace', 'One', 'ZeroOrOne', 'ZeroOrMore', 'OneOrMore', 'ZeroOrN', 'OneOrN', 'Permanent', 'Dynamic', 'CS', 'CIS', 'chr', 'node', 'int', 'bin', 'Fetch', 'Bogus', '__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const DDF_TEXTS = ['', ' ', '0', '1', '2', '-1', 'x', '99999999999999999999', '.', './Vendor', 'Vendor', 'urn:oma:mo:oma-fumo:1.0', 'text/plain', 'a/b', '名前'];
const OCCURRENCE_KINDS = new Set(['One', 'ZeroOrOne', 'ZeroOrMore', 'OneOrMore', 'ZeroOrN', 'OneOrN']);

function ddfNodes(roots: readonly DdfNode[]): DdfNode[] {
  const out: DdfNode[] = [];
  const walk = (n: DdfNode): void => {
    out.push(n);
    n.children.forEach(walk);
  };
  roots.forEach(walk);
  return out;
}

function checkDdf(j: Judge, i: number, input: string | Uint8Array, tree: DmTree): boolean {
  const r = j.call('readDdf', i, input, () => readDdf(input));
  if (!r) return false;
  if (!r.ok) {
    const why = badDmddfError(r.error);
    if (why) j.report('readDdf', i, `${why}: ${r.error.message}`, input);
    return false;
  }
  const s = r.value;
  for (const n of ddfNodes(s.roots)) {
    if (!n.access.every((a) => Object.hasOwn(ACCESS, a))) j.report('readDdf', i, `access ${JSON.stringify(n.access)} holds a name that is not an access type`, input);
    if (n.accessMask !== n.access.reduce((m, a) => m | (ACCESS[a] ?? 0), 0)) j.report('readDdf', i, `access mask ${n.accessMask} is not that of ${JSON.stringify(n.access)}`, input);
    if (typeof n.occurrence !== 'object' || n.occurrence === null || !OCCURRENCE_KINDS.has(n.occurrence.kind)) j.report('readDdf', i, `occurrence ${JSON.stringify(n.occurrence)}`, input);
    else if (n.occurrence.max !== undefined && !(Number.isInteger(n.occurrence.max) && n.occurrence.max >= 1)) j.report('readDdf', i, `occurrence max ${n.occurrence.max}`, input);
    if (!(DM_FORMATS as readonly string[]).includes(n.format)) j.report('readDdf', i, `format ${n.format}`, input);
  }
  // The schema in use: binding and checks against a tree never throw.
  for (const segs of [['FwUpd', 'State'], ['FwUpd', 'Update', 'pkgdata'], ['Vendor', 'App', 'Count'], ['Vendor', 'App', 'zz'], ['Vendor'], ['DMAcc', 'srvA']]) {
    j.call('ddfBind', i, input, () => ddfBind([s], tree, segs));
    j.call('ddfAccessFor', i, input, () => ddfAccessFor([s], tree, segs));
    for (const cmd of ['Add', 'Delete', 'Replace', 'Get'] as const) j.call('ddfCheck', i, input, () => ddfCheck([s], tree, cmd, segs, { format: 'int', value: '12' }));
  }
  j.call('ddfValidate', i, input, () => ddfValidate([s], tree, '.'));
  return true;
}

// ------------------------------------------------------------------------------------------ tree files

const JSON_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 65536, Number.MAX_SAFE_INTEGER + 2, '', 'x', '.', '..', 'a/b', '\u0000', 'toString', '__proto__', 'constructor', [], {}, ['Get'], ['toString'], ['Get', 'Get'], { base64: '!!' }, { base64: 'AAE=' }, { base64: 'AAE' }, 'Add=*', 'Get=', 'Get=*&', '20240115T093000Z', '2024-01-15', 'node', 'chr', 'bin', 'int', 'x'.repeat(300)];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container in a JSON value, with the JSON path ($.a.b[2]) that leads to it. */
function containers(v: Json, at = '$', out: Array<{ at: string; c: Json[] | { [k: string]: Json } }> = []): typeof out {
  if (Array.isArray(v)) {
    out.push({ at, c: v });
    v.forEach((x, i) => containers(x, `${at}[${i}]`, out));
  } else if (typeof v === 'object' && v !== null) {
    out.push({ at, c: v });
    for (const [k, x] of Object.entries(v)) containers(x, `${at}.${k}`, out);
  }
  return out;
}

function mutateJson(text: string, rnd: Rnd): string {
  const doc = JSON.parse(text) as Json;
  for (let round = 1 + int(rnd, 2); round > 0; round--) {
    const { c } = pick(rnd, containers(doc));
    if (Array.isArray(c)) {
      if (c.length === 0) {
        c.push(structuredClone(pick(rnd, JSON_VALUES)) as Json);
        continue;
      }
      const k = int(rnd, c.length);
      switch (int(rnd, 4)) {
        case 0:
          c.splice(k, 1);
          break;
        case 1:
          c.splice(k, 0, structuredClone(c[k]!)); // a duplicate child name, most of the time
          break;
        case 2:
          c[k] = structuredClone(pick(rnd, JSON_VALUES)) as Json;
          break;
        default:
          c.reverse();
      }
    } else {
      const keys = Object.keys(c);
      const k = keys.length ? pick(rnd, keys) : 'name';
      switch (int(rnd, 4)) {
        case 0:
          delete c[k];
          break;
        case 1:
          c[pick(rnd, ['extra', 'children', 'value', 'acl', 'access', 'tstamp', 'verNo', 'title', 'type'])] = structuredClone(pick(rnd, JSON_VALUES)) as Json;
          break;
        default:
          c[k] = structuredClone(pick(rnd, JSON_VALUES)) as Json;
      }
    }
  }
  return JSON.stringify(doc, null, int(rnd, 2));
}

/**
 * Does the JSON path of an error lead into the document? Every step but the last must exist (the
 * last may name what is missing). Keys are matched against the document's own keys, since a key may
 * itself hold '.' or '['.
 */
function pathResolves(text: string, jsonPath: string): boolean {
  let at: unknown;
  try {
    at = JSON.parse(text);
  } catch {
    return jsonPath === '$';
  }
  if (!jsonPath.startsWith('$')) return false;
  let rest = jsonPath.slice(1);
  while (rest !== '') {
    if (typeof at !== 'object' || at === null) return false;
    const index = /^\[(\d+)\]/.exec(rest);
    let next: unknown;
    let step: number;
    if (index) {
      next = (at as unknown[])[Number(index[1])];
      step = index[0].length;
    } else if (rest.startsWith('.')) {
      const keys = Object.keys(at).filter((k) => rest.startsWith(`.${k}`) && /^(?:$|[.[])/.test(rest.slice(k.length + 1)));
      const k = keys.sort((a, b) => b.length - a.length)[0];
      if (k === undefined) return true; // the last step: a key that is missing
      next = (at as Record<string, unknown>)[k];
      step = k.length + 1;
    } else return false;
    rest = rest.slice(step);
    if (next === undefined) return rest === '';
    at = next;
  }
  return true;
}

/**
 * A tree file's nodes with every default made explicit, for comparing what was loaded with what gets
 * saved: keys left out take their default, access lists are sets, bin values their bytes, the ACL
 * its canonical text. Refused values never get here.
 */
function normalTree(text: string): unknown {
  const doc = JSON.parse(text) as { limits: Record<string, unknown>; purgeDeletedServerIds: unknown; root: Record<string, unknown> };
  const node = (n: Record<string, unknown>): unknown => {
    const format = n.format as string;
    const acl = parseAcl((n.acl as string | undefined) ?? '');
    const access = n.access === undefined ? Object.keys(ACCESS) : [...new Set(n.access as string[])];
    let value: unknown;
    if (format === 'bin') value = Buffer.from((n.value as { base64: string }).base64, 'base64').toString('hex');
    else if (format !== 'node' && format !== 'null') value = n.value;
    return {
      name: n.name,
      format,
      type: n.type ?? (format === 'node' ? '' : 'text/plain'),
      acl: acl.ok ? acl.value.text : `unparsable ${String(n.acl)}`,
      title: n.title ?? '',
      tstamp: n.tstamp === '' ? undefined : n.tstamp,
      verNo: n.verNo ?? 0,
      access: access.sort(),
      value,
      children: ((n.children as Record<string, unknown>[] | undefined) ?? []).map(node),
    };
  };
  // (Other keys beside the three limits, and beside the document's own, are ignored by the loader.)
  const { maxDepth, maxTotLen, maxSegLen } = doc.limits;
  return { limits: { maxDepth, maxTotLen, maxSegLen }, purge: doc.purgeDeletedServerIds, root: node(doc.root) };
}

function checkTreeFile(j: Judge, i: number, text: string, isSeed: boolean): boolean {
  try {
    const tree = deserializeTree(text, 'fuzz.json', { clock: CLOCK });
    const saved = serializeTree(tree);
    if (isSeed && saved !== text) j.report('deserializeTree', i, 'seed saves to other text', text);
    const diff = firstDiff(normalTree(text), normalTree(saved));
    if (diff) j.report('deserializeTree', i, `loaded, then saved, a value changed: ${diff}`, text);
    const again = serializeTree(deserializeTree(saved, 'again.json', { clock: CLOCK }));
    if (again !== saved) j.report('deserializeTree', i, 'loaded tree saves to text that loads differently', text);
    return true;
  } catch (e) {
    if (!(e instanceof TreeFileError)) j.report('deserializeTree', i, `threw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, text);
    else {
      if (e.file !== 'fuzz.json' || !e.jsonPath.startsWith('$') || e.message !== `fuzz.json: ${e.jsonPath}: ${e.reason}`) j.report('deserializeTree', i, `error does not name file and JSON path: ${e.message}`, text);
      else if (!pathResolves(text, e.jsonPath)) j.report('deserializeTree', i, `JSON path ${e.jsonPath} leads nowhere`, text);
      if (isSeed) j.report('deserializeTree', i, `seed refused: ${e.message}`, text);
    }
    return false;
  }
}

// ------------------------------------------------------------------------------------------ tests

describe('tree fuzz', () => {
  it('URIs: 4,000 mutations of 11 seeds under 4 sets of limits; accepted URIs re-parse from their canonical path', () => {
    const j = new Judge();
    URI_SEEDS.forEach((u, i) => expect(checkUri(j, i, u, LIMITS[0]!)).toBe(true));
    const rnd = prng(SEED);
    let ok = 0;
    const w = new WorkMeter();
    for (let i = 0; i < 4000; i++) {
      const uri = mutateText(pick(rnd, URI_SEEDS), URI_SEEDS, rnd, URI_TOKENS);
      const limits = pick(rnd, LIMITS);
      if (w.run(uri, () => checkUri(j, i, uri, limits))) ok++;
    }
    // Hostile: 100k segments, a 1 MB segment, 100k escapes.
    const huge = ['./' + 'a/'.repeat(100_000) + 'b', './' + 'x'.repeat(1_000_000), './' + '%41'.repeat(100_000), './' + '%'.repeat(100_000)];
    huge.forEach((u, k) => {
      w.run(u, () => checkUri(j, -1 - k, u, LIMITS[0]!));
      w.run(u, () => checkUri(j, -1 - k, u, LIMITS[1]!));
    });
    expect(j.findings).toEqual([]);
    expect(ok).toBeGreaterThan(1000);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  });

  it('ACLs: 4,000 mutations of 8 seeds; accepted ACLs re-parse from their canonical text', () => {
    const j = new Judge();
    ACL_SEEDS.forEach((a, i) => expect(checkAcl(j, i, a)).toBe(true));
    const rnd = prng(SEED + 1);
    let ok = 0;
    const w = new WorkMeter();
    for (let i = 0; i < 4000; i++) {
      const text = mutateText(pick(rnd, ACL_SEEDS), ACL_SEEDS, rnd, ACL_TOKENS);
      if (w.run(text, () => checkAcl(j, i, text))) ok++;
    }
    const hostile = [
      'Get=' + 'a+'.repeat(100_000) + 'b',
      'Get=*&'.repeat(100_000) + 'Get=*',
      // Regression: these two were quadratic (a '+' searched to the end of the text for every
      // identifier; duplicates found with Array.includes); both are linear now.
      'Get=' + Array.from({ length: 50_000 }, (_, k) => `s${k}`).join('+'),
      'Get=*&'.repeat(100_000) + 'Replace=' + Array.from({ length: 20_000 }, (_, k) => `s${k % 7_000}`).join('+'),
    ];
    hostile.forEach((text, k) => w.run(text, () => checkAcl(j, -1 - k, text)));
    expect(j.findings).toEqual([]);
    expect(ok).toBeGreaterThan(600);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  });

  it('TNDS: 2,400 mutations of 6 seeds (text, XML bytes, WBXML, element trees); what reads is imported into a handset', () => {
    const seeds = tndsSeeds();
    const roots = seeds.map((s) => {
      const d = parseXml(s);
      if (!d.ok) throw new Error(d.error.message);
      return d.value.root;
    });
    const wbxml = roots.map((r) => wbxmlOf(r)!);
    const base = serializeTree(handset());
    const j = new Judge();
    const rnd = prng(SEED + 2);
    const importInto = { base, rnd, tried: 0, accepted: 0 };
    seeds.forEach((s, i) => expect(readTnds(s), `seed ${i}`).toMatchObject({ ok: true }));
    wbxml.forEach((w, i) => expect(readTnds(w), `WBXML seed ${i}`).toMatchObject({ ok: true }));
    seeds.forEach((s, i) => expect(checkTnds(j, i, s, importInto)).toBeDefined());
    wbxml.forEach((b, i) => expect(checkTnds(j, i, b, undefined)).toBeDefined());
    const w = new WorkMeter();
    let read = 0;
    for (let i = 0; i < 2400; i++) {
      let input: string | Uint8Array;
      // Half of them structure-aware (elements), the rest on the text, the XML bytes and the WBXML bytes.
      switch (i % 6) {
        case 0:
          input = mutateText(pick(rnd, seeds), seeds, rnd, ['<', '>', '</Node>', '<Node>', '<NodeName>', '&amp;', '&#0;', ']]>', '<![CDATA[', '"', '\u0000', 'é']);
          break;
        case 1:
          input = mutateBytes(new TextEncoder().encode(pick(rnd, seeds)), rnd, [0x00, 0x3c, 0x3e, 0x2f, 0x26, 0xc3, 0xff, 0x0a]);
          break;
        case 2:
          input = mutateBytes(pick(rnd, wbxml), rnd, [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x44, 0x45, 0x80, 0x83, 0xc3, 0xff]);
          break;
        default: {
          const root = mutateElements(pick(rnd, roots), rnd, TNDS_NAMES, TNDS_TEXTS);
          input = rnd() < 0.8 ? serializeXml({ info: DMDDF_INFO, root }) : (wbxmlOf(root) ?? serializeXml({ info: DMDDF_INFO, root }));
        }
      }
      const doc = input;
      if (w.run(doc, () => checkTnds(j, i, doc, importInto))) read++;
    }
    console.log(`tree fuzz: ${read} of 2400 mutated TNDS documents read; ${importInto.accepted} of ${importInto.tried} imports accepted`);
    expect(j.findings).toEqual([]);
    expect(read).toBeGreaterThan(150);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  }, HANG_GUARD_MS);

  it('DDF: 2,000 mutations of 2 seeds (text, WBXML, element trees), then bound and checked against a tree', () => {
    const seeds = [FUMO_LIKE, VENDOR_DDF];
    const roots = seeds.map((s) => {
      const d = parseXml(s);
      if (!d.ok) throw new Error(d.error.message);
      return d.value.root;
    });
    const wbxml = roots.map((r) => wbxmlOf(r)!);
    const tree = handset();
    const fw = tree.createNode(tree.root, 'FwUpd', { type: 'urn:oma:mo:oma-fumo:1.0' });
    tree.createNode(fw, 'State', { format: 'int', value: '10' });
    tree.createNode(tree.createNode(fw, 'Update'), 'pkgdata', { format: 'bin', value: new Uint8Array(0) });
    const j = new Judge();
    seeds.forEach((s, i) => expect(checkDdf(j, i, s, tree)).toBe(true));
    wbxml.forEach((w, i) => expect(checkDdf(j, i, w, tree)).toBe(true));
    const rnd = prng(SEED + 3);
    const w = new WorkMeter();
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      let input: string | Uint8Array;
      const k = int(rnd, 2);
      switch (i % 3) {
        case 0:
          input = mutateText(seeds[k]!, seeds, rnd, ['<', '>', '</Node>', '<Node>', '<Get/>', '<__proto__/>', '<toString/>', '&amp;', 'é']);
          break;
        case 1:
          input = mutateBytes(wbxml[k]!, rnd, [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x44, 0x45, 0x80, 0x83, 0xc3, 0xff]);
          break;
        default: {
          const root = mutateElements(roots[k]!, rnd, DDF_NAMES, DDF_TEXTS);
          input = rnd() < 0.8 ? serializeXml({ info: DMDDF_INFO, root }) : (wbxmlOf(root) ?? serializeXml({ info: DMDDF_INFO, root }));
        }
      }
      const doc = input;
      if (w.run(doc, () => checkDdf(j, i, doc, tree))) read++;
    }
    console.log(`tree fuzz: ${read} of 2000 mutated DDFs read`);
    expect(j.findings).toEqual([]);
    expect(read).toBeGreaterThan(200);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  });

  it('tree files: 3,000 mutations of 3 saved trees (bytes of the file, values of its JSON); loaded trees save and load the same', () => {
    const plain = createDeviceTree({ clock: CLOCK });
    const limited = createDeviceTree({ clock: CLOCK, limits: { maxDepth: 0, maxTotLen: 0, maxSegLen: 0 } });
    const seeds = [serializeTree(handset()), serializeTree(plain), serializeTree(limited)];
    const j = new Judge();
    seeds.forEach((s, i) => expect(checkTreeFile(j, i, s, true)).toBe(true));
    const rnd = prng(SEED + 4);
    const w = new WorkMeter();
    let loaded = 0;
    for (let i = 0; i < 3000; i++) {
      const seed = pick(rnd, seeds);
      const input = i % 3 === 0 ? new TextDecoder().decode(mutateBytes(new TextEncoder().encode(seed), rnd, [0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2e, 0x2f, 0x5c, 0x00])) : mutateJson(seed, rnd);
      if (w.run(input, () => checkTreeFile(j, i, input, false))) loaded++;
    }
    console.log(`tree fuzz: ${loaded} of 3000 mutated tree files loaded`);
    expect(j.findings).toEqual([]);
    expect(loaded).toBeGreaterThan(300);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  }, HANG_GUARD_MS);

  it('node values: 3,000 mutated values per format; accepted ones are kept exactly and fit their format', () => {
    const seeds = ['2005-10-15', '20050125', '2005-W12-5', '2005258', '12:30:00Z', '1230+01:00', '23:59:59.5', '-42', '+2147483647', '1.5e3', '-1.2345e-03', 'true', 'false', 'AAEC/w==', 'x y', ''];
    const j = new Judge();
    const rnd = prng(SEED + 5);
    const w = new WorkMeter();
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const text = mutateText(pick(rnd, seeds), seeds, rnd, ['0', '9', '-', '+', ':', 'W', 'Z', 'e', '.', '=', ' ', '\n', '٣', '99999999999']);
      for (const format of DM_FORMATS) {
        const r = w.run(text, () => j.call('checkValue', i, text, () => checkValue(format, text)));
        if (r === undefined || typeof r === 'string') continue;
        accepted++;
        const v = r.value;
        if (format === 'bin' ? !(v instanceof Uint8Array) || Buffer.from(v).toString('utf8') !== text : format === 'null' ? v !== null : v !== text) j.report('checkValue', i, `${format}: stored ${JSON.stringify(v)}`, text);
        if (format === 'int' && !(/^[+-]?\d+$/.test(text) && Math.abs(Number(text)) <= 2 ** 31)) j.report('checkValue', i, 'int accepted', text);
        if (format === 'bool' && text !== 'true' && text !== 'false') j.report('checkValue', i, 'bool accepted', text);
        if (format === 'float' && !Number.isFinite(Number(text)) && !/^[+-]?\d+(\.\d+)?[eE][+-]?\d+$/.test(text)) j.report('checkValue', i, 'float accepted', text);
      }
    }
    expect(j.findings).toEqual([]);
    expect(accepted).toBeGreaterThan(3000);
    expect(w.worstPerUnit, String(w)).toBeLessThan(WORK_PER_UNIT);
  });

  it('regression: prototype names are not access types or occurrences (DDF, tree file)', () => {
    const ddf = (props: string) => `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>A</NodeName><DFProperties>${props}<DFFormat><chr/></DFFormat></DFProperties></Node></MgmtTree>`;
    for (const name of ['__proto__', 'toString', 'constructor', 'hasOwnProperty', '__defineGetter__']) {
      const occ = readDdf(ddf(`<AccessType><Get/></AccessType><Occurrence><${name}/></Occurrence>`));
      expect(occ).toMatchObject({ ok: false, error: { path: `MgmtTree/Node[1]/DFProperties/Occurrence/${name}` } });
      const acc = readDdf(ddf(`<AccessType><${name}/></AccessType>`));
      expect(acc).toMatchObject({ ok: false, error: { path: `MgmtTree/Node[1]/DFProperties/AccessType/${name}` } });
    }
    const doc = JSON.parse(serializeTree(createDeviceTree({ clock: CLOCK })));
    doc.root.children[0].access = ['Get', 'toString'];
    expect(() => deserializeTree(JSON.stringify(doc), 't.json')).toThrow(/^t\.json: \$\.root\.children\[0\]\.access\[1\]: expected one of/);
  });

  it('regression: the text forms <Format>int</Format> and <Type>text/plain</Type> are read (they were always refused)', () => {
    const doc = (props: string) => `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>a</NodeName><RTProperties>${props}</RTProperties><Value>1</Value></Node></MgmtTree>`;
    const r = readTnds(doc('<Format> int </Format><Type>text/plain</Type>'));
    expect(r).toMatchObject({ ok: true, value: { nodes: [{ props: { format: 'int', type: { mime: 'text/plain' } } }] } });
    // Written back, the element forms: the same document.
    if (r.ok) expect(readTnds(tndsToXml(r.value))).toEqual(r);
    // A text that is no format name is refused where it is (it could not be written back as <name/>).
    expect(readTnds(doc('<Format>a b</Format>'))).toMatchObject({ ok: false, error: { path: 'MgmtTree/Node[1]/RTProperties/Format' } });
  });

  it('regression: a DDF in WBXML that does not decode says at which byte', () => {
    const d = parseXml(FUMO_LIKE);
    if (!d.ok) throw new Error(d.error.message);
    const r = readDdf(wbxmlOf(d.value.root)!.subarray(0, 30));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/^cannot read DDF: .* at byte \d+$/);
  });

  it('regression: a tree file nested deeper than saveTree can write back is refused, naming where', () => {
    const depth = 3000;
    const open = '{"name":"n","format":"node","children":[';
    const text = `{"format":"dmw-tree","version":1,"limits":{"maxDepth":0,"maxTotLen":0,"maxSegLen":0},"purgeDeletedServerIds":true,"root":{"name":".","format":"node","acl":"Add=*&Get=*","children":[${open.repeat(depth)}{"name":"n","format":"node"}${']}'.repeat(depth)}]}}`;
    let err: unknown;
    try {
      serializeTree(deserializeTree(text, 'deep.json'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TreeFileError);
    expect((err as TreeFileError).jsonPath).toMatch(/^\$\.root(\.children\[0\]){1000}\.children$/);
    // A deep tree within the bound still loads and saves back to the same text.
    const ok = `{"format":"dmw-tree","version":1,"limits":{"maxDepth":0,"maxTotLen":0,"maxSegLen":0},"purgeDeletedServerIds":true,"root":{"name":".","format":"node","acl":"Add=*&Get=*","children":[${open.repeat(999)}{"name":"n","format":"node"}${']}'.repeat(999)}]}}`;
    const saved = serializeTree(deserializeTree(ok, 'ok.json'));
    expect(serializeTree(deserializeTree(saved, 'ok.json'))).toBe(saved);
  });
});
