/**
 * Reference reader for the differential tests: the same document tree as main/protocol/xml/parse.ts
 * (the same tree-building rules, tree-builder.ts), but read by saxes, a general, strict XML 1.0
 * parser, instead of our own scanner. Where the two disagree on a document, one of them is wrong.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { Document, Element, Namespace } from '../../main/protocol/element.js';
import { DEFAULT_XML_LIMITS, type XmlLimits, type XmlPositions } from '../../main/protocol/xml/parse.js';
import { CodecFailure, fail, ok, type CodecError, type Result } from '../../main/protocol/errors.js';
import { METINF_NAMES, isDataElement, namespaceFromUri } from '../../main/protocol/names.js';
import { flushText, isBlank, lookupPrefix, pathOf, publicIdFor, readLeniently, type BuilderElement } from '../../main/protocol/xml/tree-builder.js';

type OpenElement = BuilderElement;

export function parseXmlWithSaxes(text: string, limits: Partial<XmlLimits> = {}, positions?: XmlPositions): Result<Document> {
  const lim = { ...DEFAULT_XML_LIMITS, ...limits };
  if (text.length > lim.maxChars) {
    return fail({ code: 'limit-exceeded', message: `document of ${text.length} characters exceeds the limit of ${lim.maxChars}`, offset: 0 });
  }
  return readLeniently(text, (t) => parseStrict(t, lim, positions));
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

