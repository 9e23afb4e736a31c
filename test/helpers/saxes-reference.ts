/**
 * Reference reader for the differential tests: the same document tree as main/protocol/xml/parse.ts,
 * built on saxes (a general, strict XML 1.0 parser) instead of our own scanner. Where the two
 * disagree on a document, one of them is wrong.
 *
 * XML text -> document tree, on saxes (a strict, non-validating XML 1.0 parser).
 *
 * Security: saxes never reads a DTD's entity declarations nor fetches external entities, so an
 * entity other than the five predefined ones and character references is an error, never an
 * expansion. Depth, size and element count are bounded before anything is built.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { Child, Document, Element, Namespace } from '../../main/protocol/element.js';
import { CodecFailure, fail, ok, type CodecError, type Result } from '../../main/protocol/errors.js';
import { METINF_NAMES, TNDS_PUBLIC_ID, isDataElement, namespaceFromUri } from '../../main/protocol/names.js';

interface XmlLimits {
  /** Characters of input accepted (a DM message is rarely over a few MB even with large objects). */
  maxChars: number;
  maxDepth: number;
  maxElements: number;
}

const DEFAULT_XML_LIMITS: XmlLimits = {
  maxChars: 16 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 1_000_000,
};

interface OpenElement {
  element: Element;
  /** Text gathered since the last child element; flushed when a child opens or this closes. */
  text: string;
  /** Whether character data here is content to keep verbatim (Data, TNDS Value). */
  verbatim: boolean;
  /** Prefix -> namespace declared on this element (rare: DM peers use default namespaces). */
  prefixes?: Map<string, Namespace>;
}

/**
 * Peers such as the Android DM engine put a bare `&` in Alert option text (`MAXDT=15&DR=1`), which is
 * not well-formed XML. We accept it as a literal `&` (see parseXml) and say so in the document's warnings.
 */
const BARE_AMPERSAND = /&(?!(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/g;

/** Where each element's start tag ends, for pointing at an element a later stage found wrong. */
type XmlPositions = Map<Element, { line: number; column: number }>;

export function parseXmlWithSaxes(text: string, limits: Partial<XmlLimits> = {}, positions?: XmlPositions): Result<Document> {
  const lim = { ...DEFAULT_XML_LIMITS, ...limits };
  if (text.length > lim.maxChars) {
    return fail({ code: 'limit-exceeded', message: `document of ${text.length} characters exceeds the limit of ${lim.maxChars}`, offset: 0 });
  }
  const first = parseStrict(text, lim, positions);
  if (first.ok || first.error.code !== 'xml-syntax') return first;
  BARE_AMPERSAND.lastIndex = 0;
  const bare = BARE_AMPERSAND.exec(text);
  if (!bare) return first;
  const second = parseStrict(text.replace(BARE_AMPERSAND, '&amp;'), lim, positions);
  if (!second.ok) return first;
  const { line, column } = lineColumn(text, bare.index);
  (second.value.info.warnings ??= []).push(`bare '&' read as a literal '&' at line ${line}:${column}`);
  return second;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function parseStrict(text: string, lim: XmlLimits, positions: XmlPositions | undefined): Result<Document> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: OpenElement[] = [];
  let root: Element | undefined;
  let rootNamespaceUri = '';
  let elementCount = 0;
  let sawDoctype = false;

  const failHere = (code: CodecError['code'], message: string): never => {
    throw new CodecFailure({ code, message, line: parser.line, column: parser.column + 1, path: pathOf(stack) });
  };

  parser.on('error', (err) => {
    // saxes prefixes messages with "line:col: "; the position goes into our own fields instead.
    const message = err.message.replace(/^(?:[^:]*:)?\d+:\d+:\s*/, '');
    const code = /undefined entity/i.test(message) ? 'xml-entity' : 'xml-syntax';
    throw new CodecFailure({ code, message, line: parser.line, column: parser.column + 1, path: pathOf(stack) });
  });

  parser.on('doctype', (doctype) => {
    sawDoctype = true;
    // An internal subset can declare entities; we never expand them, so refuse the document
    // rather than silently leaving references unexpanded.
    if (doctype.replace(/"[^"]*"|'[^']*'/g, '').includes('[')) failHere('xml-entity', 'DOCTYPE with an internal subset (entity declarations are not expanded)');
  });

  parser.on('opentag', (tag: SaxesTagPlain) => {
    if (++elementCount > lim.maxElements) failHere('limit-exceeded', `more than ${lim.maxElements} elements`);
    if (stack.length >= lim.maxDepth) failHere('limit-exceeded', `nesting deeper than ${lim.maxDepth} elements`);
    const parent = stack[stack.length - 1];
    if (parent) flushText(parent, false);

    let localName = tag.name;
    let prefix: string | undefined;
    const colon = localName.indexOf(':');
    if (colon >= 0) {
      prefix = localName.slice(0, colon);
      localName = localName.slice(colon + 1);
    }

    let ns: Namespace | undefined = parent?.element.ns;
    let prefixes: Map<string, Namespace> | undefined;
    for (const [name, value] of Object.entries(tag.attributes)) {
      if (name === 'xmlns') {
        const declared = namespaceFromUri(value);
        if (!declared) failHere('unknown-namespace', `unknown namespace "${value}" on <${tag.name}>`);
        ns = declared;
        if (!parent) rootNamespaceUri = value;
      } else if (name.startsWith('xmlns:')) {
        const declared = namespaceFromUri(value);
        if (!declared) failHere('unknown-namespace', `unknown namespace "${value}" for prefix ${name.slice(6)}`);
        (prefixes ??= new Map()).set(name.slice(6), declared as Namespace);
      } else {
        failHere('unexpected-content', `attribute ${name} on <${tag.name}> (SyncML DM elements carry no attributes)`);
      }
    }
    if (prefix !== undefined) {
      ns = lookupPrefix(stack, prefixes, prefix) ?? failHere('unknown-namespace', `undeclared prefix "${prefix}" on <${tag.name}>`);
    }
    if (!parent && ns === undefined) {
      // libdmclient and others omit nothing here, but hand-written files sometimes do: a root
      // SyncML or MgmtTree without xmlns is unambiguous.
      ns = localName === 'MgmtTree' ? 'dmddf' : 'syncml';
      rootNamespaceUri = ns === 'dmddf' ? 'syncml:dmddf1.2' : 'SYNCML:SYNCML1.2';
    }
    // MetInf children written without their namespace (common in the wild) belong to MetInf:
    // no SyncML element shares a name with them.
    if (ns === 'syncml' && parent?.element.name === 'Meta' && METINF_NAMES.has(localName)) ns = 'metinf';

    const element: Element = { ns: ns as Namespace, name: localName, children: [] };
    if (parent) parent.element.children.push(element);
    else root = element;
    positions?.set(element, { line: parser.line, column: parser.column + 1 });
    stack.push({ element, text: '', verbatim: isDataElement(element.ns, localName), ...(prefixes ? { prefixes } : {}) });
  });

  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
    else if (!isBlank(t)) failHere('unexpected-content', 'text outside the root element');
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });

  parser.on('closetag', () => {
    const top = stack.pop();
    if (top) flushText(top, true);
  });

  try {
    parser.write(text).close();
  } catch (e) {
    if (e instanceof CodecFailure) return fail(e.error);
    return fail({ code: 'xml-syntax', message: e instanceof Error ? e.message : String(e), line: parser.line, column: parser.column + 1 });
  }
  if (!root) return fail({ code: 'missing-element', message: 'no root element', line: parser.line, column: parser.column + 1 });
  return ok({
    info: { wbxmlVersion: 2, publicId: publicIdFor(root, rootNamespaceUri), rootNamespaceUri, ...(sawDoctype ? { hadDoctype: true } : {}) },
    root,
  });
}

/**
 * Character data: inside Data (and TNDS Value) it is content and kept exactly; elsewhere it is
 * trimmed, and whitespace between elements is layout, as libwbxml treats it.
 */
function flushText(open: OpenElement, closing: boolean): void {
  const t = open.text;
  if (t === '') return;
  open.text = '';
  const children: Child[] = open.element.children;
  if (open.verbatim) {
    // In Data holding elements (TNDS), whitespace around them is layout too.
    if (isBlank(t) && (children.length > 0 || !closing)) return;
    const last = children[children.length - 1];
    if (typeof last === 'string') children[children.length - 1] = last + t;
    else children.push(t);
    return;
  }
  const trimmed = t.trim();
  if (trimmed !== '') children.push(trimmed);
}

function isBlank(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

function lookupPrefix(stack: OpenElement[], own: Map<string, Namespace> | undefined, prefix: string): Namespace | undefined {
  const hit = own?.get(prefix);
  if (hit) return hit;
  for (let i = stack.length - 1; i >= 0; i--) {
    const ns = stack[i]!.prefixes?.get(prefix);
    if (ns) return ns;
  }
  return undefined;
}

function pathOf(stack: OpenElement[]): string {
  return stack.map((o) => o.element.name).join('/');
}

/** The WBXML public id a document will carry when encoded: SyncML 1.1 keeps its own. */
function publicIdFor(root: Element, nsUri: string): number | string {
  // TNDS has no registered numeric public id; its formal one travels as a string-table literal.
  if (root.ns === 'dmddf') return TNDS_PUBLIC_ID;
  return /1\.1$/.test(nsUri) ? 0x0fd3 : 0x1201;
}
