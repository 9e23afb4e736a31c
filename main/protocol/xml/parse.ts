/**
 * XML text -> document tree.
 *
 * Security: no DTD is read, so no entity is ever declared, expanded or fetched: a reference other
 * than the five predefined entities and character references is an error. Depth, size and element
 * count are bounded while reading.
 */
import type { Document, Element, Namespace } from '../element.js';
import { CodecFailure, fail, ok, type CodecError, type Result } from '../errors.js';
import { XML_ILLEGAL, hasXmlIllegalChar } from '../binary.js';
import { flushText, isBlank, lineColumn, lookupPrefix, pathOf, publicIdFor, readLeniently, type BuilderElement } from './tree-builder.js';
import { METINF_NAMES, isDataElement, namespaceFromUri } from '../names.js';

export interface XmlLimits {
  /** Characters of input accepted (a DM message is rarely over a few MB even with large objects). */
  maxChars: number;
  maxDepth: number;
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxChars: 16 * 1024 * 1024,
  maxDepth: 64,
  maxElements: 1_000_000,
};

/** Where each element's start tag begins, for pointing at an element a later stage found wrong. */
export type XmlPositions = Map<Element, { line: number; column: number }>;

/** An open element as the scanner tracks it: the shared state plus the name its end tag must repeat. */
interface OpenElement extends BuilderElement {
  /** The name as written (with prefix), which the end tag must repeat. */
  qname: string;
}

export function parseXml(text: string, limits: Partial<XmlLimits> = {}, positions?: XmlPositions): Result<Document> {
  const lim = { ...DEFAULT_XML_LIMITS, ...limits };
  if (text.length > lim.maxChars) {
    return fail({ code: 'limit-exceeded', message: `document of ${text.length} characters exceeds the limit of ${lim.maxChars}`, offset: 0 });
  }
  return readLeniently(text, (t) => parseStrict(t, lim, positions));
}

/**
 * The scanner. A strict, non-validating XML 1.0 reader for the SyncML DM vocabulary: elements, the
 * namespace attributes, character data, entity and character references, CDATA, comments, processing
 * instructions and a DOCTYPE that is skipped (one with an internal subset is refused). It moves with
 * indexOf between markup characters so that large values cost what copying them costs; saxes, a
 * general XML parser, is its oracle in the differential tests.
 */
function parseStrict(text: string, lim: XmlLimits, positions: XmlPositions | undefined): Result<Document> {
  const stack: OpenElement[] = [];
  let root: Element | undefined;
  let rootNamespaceUri = '';
  let elementCount = 0;
  let sawDoctype = false;
  let pos = 0;
  const n = text.length;
  const lines = positions ? new LineCounter(text) : undefined;

  const failAt = (at: number, code: CodecError['code'], message: string): never => {
    const { line, column } = lineColumn(text, at);
    throw new CodecFailure({ code, message, line, column, ...(stack.length ? { path: pathOf(stack) } : {}) });
  };

  try {
    while (pos < n) {
      const lt = text.indexOf('<', pos);
      const end = lt < 0 ? n : lt;
      if (end > pos) {
        const top = stack[stack.length - 1];
        if (top) top.text += characterData(text, pos, end, failAt);
        else if (!isBlankRange(text, pos, end)) failAt(pos, 'unexpected-content', root ? 'text after the root element' : 'text before the root element');
      }
      if (lt < 0) break;
      pos = lt;
      const c1 = text.charCodeAt(pos + 1);
      if (c1 === 0x2f /* / */) {
        // End tag
        const close = text.indexOf('>', pos + 2);
        if (close < 0) failAt(pos, 'xml-syntax', 'end tag not closed');
        const name = text.slice(pos + 2, close).trimEnd();
        const top = stack.pop();
        if (!top) failAt(pos, 'xml-syntax', `end tag </${name}> without a start tag`);
        if (name !== top!.qname) {
          stack.push(top!);
          failAt(pos, 'xml-syntax', `end tag </${name}> does not match <${top!.qname}>`);
        }
        flushText(top!, true);
        pos = close + 1;
      } else if (c1 === 0x21 /* ! */) {
        if (text.startsWith('<!--', pos)) {
          const close = text.indexOf('-->', pos + 4);
          if (close < 0) failAt(pos, 'xml-syntax', 'comment not closed');
          if (text.indexOf('--', pos + 4) < close) failAt(pos, 'xml-syntax', "'--' inside a comment");
          pos = close + 3;
        } else if (text.startsWith('<![CDATA[', pos)) {
          const top = stack[stack.length - 1];
          if (!top) failAt(pos, 'xml-syntax', 'CDATA outside the root element');
          const close = text.indexOf(']]>', pos + 9);
          if (close < 0) failAt(pos, 'xml-syntax', 'CDATA section not closed');
          const data = text.slice(pos + 9, close);
          if (hasXmlIllegalChar(data)) failAt(pos + 9 + data.search(XML_ILLEGAL), 'xml-syntax', 'character not allowed in XML');
          top!.text += normaliseNewlines(data);
          pos = close + 3;
        } else if (text.startsWith('<!DOCTYPE', pos)) {
          if (root || sawDoctype) failAt(pos, 'xml-syntax', 'DOCTYPE not allowed here');
          sawDoctype = true;
          pos = skipDoctype(text, pos, failAt);
        } else {
          failAt(pos, 'xml-syntax', 'unknown markup declaration');
        }
      } else if (c1 === 0x3f /* ? */) {
        const close = text.indexOf('?>', pos + 2);
        if (close < 0) failAt(pos, 'xml-syntax', 'processing instruction not closed');
        const targetEnd = scanName(text, pos + 2);
        const target = text.slice(pos + 2, targetEnd);
        if (targetEnd !== close && !isSpace(text.charCodeAt(targetEnd))) failAt(pos, 'xml-syntax', 'invalid processing instruction target');
        if (target.toLowerCase() === 'xml') {
          if (pos !== 0 || target !== 'xml') failAt(pos, 'xml-syntax', 'XML declaration not at the start of the document');
          if (!XML_DECLARATION.test(text.slice(0, close + 2))) failAt(pos, 'xml-syntax', 'malformed XML declaration');
        }
        if (target === '') failAt(pos, 'xml-syntax', 'processing instruction without a target');
        pos = close + 2;
      } else {
        pos = startTag(pos);
      }
    }
  } catch (e) {
    if (e instanceof CodecFailure) return fail(e.error);
    throw e;
  }
  if (stack.length > 0) {
    try {
      failAt(n, 'xml-syntax', `unclosed tag: ${stack[stack.length - 1]!.qname}`);
    } catch (e) {
      return fail((e as CodecFailure).error);
    }
  }
  if (!root) return fail({ code: 'missing-element', message: 'no root element', ...lineColumn(text, n) });
  return ok({
    info: { wbxmlVersion: 2, publicId: publicIdFor(root, rootNamespaceUri), rootNamespaceUri, ...(sawDoctype ? { hadDoctype: true } : {}) },
    root,
  });

  /** Reads `<Name attr="v" ...>` or `<Name .../>` at `at`; returns the position after it. */
  function startTag(at: number): number {
    if (root && stack.length === 0) failAt(at, 'xml-syntax', 'a second root element');
    let p = at + 1;
    const nameEnd = scanName(text, p);
    if (nameEnd === p) failAt(at, 'xml-syntax', 'invalid character after <');
    const qname = text.slice(p, nameEnd);
    p = nameEnd;
    let attrs: [string, string][] | undefined;
    let selfClosing = false;
    for (;;) {
      const ws = p;
      while (isSpace(text.charCodeAt(p))) p++;
      const c = text.charCodeAt(p);
      if (c === 0x3e /* > */) { p++; break; }
      if (c === 0x2f /* / */ && text.charCodeAt(p + 1) === 0x3e) { p += 2; selfClosing = true; break; }
      if (p >= n) failAt(at, 'xml-syntax', `start tag <${qname}> not closed`);
      if (p === ws) failAt(p, 'xml-syntax', `expected whitespace or '>' in <${qname}>`);
      const an = scanName(text, p);
      if (an === p) failAt(p, 'xml-syntax', `invalid attribute in <${qname}>`);
      const attrName = text.slice(p, an);
      p = an;
      while (isSpace(text.charCodeAt(p))) p++;
      if (text.charCodeAt(p) !== 0x3d /* = */) failAt(p, 'xml-syntax', `attribute ${attrName} without a value`);
      p++;
      while (isSpace(text.charCodeAt(p))) p++;
      const q = text.charCodeAt(p);
      if (q !== 0x22 && q !== 0x27) failAt(p, 'xml-syntax', `attribute ${attrName} value not quoted`);
      const close = text.indexOf(q === 0x22 ? '"' : "'", p + 1);
      if (close < 0) failAt(p, 'xml-syntax', `attribute ${attrName} value not closed`);
      const raw = text.slice(p + 1, close);
      if (raw.includes('<')) failAt(p, 'xml-syntax', `'<' in attribute ${attrName}`);
      if (attrs?.some(([a]) => a === attrName)) failAt(p, 'xml-syntax', `attribute ${attrName} repeated`);
      (attrs ??= []).push([attrName, raw.includes('&') ? expandReferences(raw, p + 1, failAt) : raw]);
      p = close + 1;
    }
    openElement(at, qname, attrs);
    if (selfClosing) flushText(stack.pop()!, true);
    return p;
  }

  function openElement(at: number, qname: string, attrs: [string, string][] | undefined): void {
    if (++elementCount > lim.maxElements) failAt(at, 'limit-exceeded', `more than ${lim.maxElements} elements`);
    if (stack.length >= lim.maxDepth) failAt(at, 'limit-exceeded', `nesting deeper than ${lim.maxDepth} elements`);
    const parent = stack[stack.length - 1];
    if (parent) flushText(parent, false);

    let localName = qname;
    let prefix: string | undefined;
    const colon = qname.indexOf(':');
    if (colon >= 0) {
      prefix = qname.slice(0, colon);
      localName = qname.slice(colon + 1);
    }
    let ns: Namespace | undefined = parent?.element.ns;
    let prefixes: Map<string, Namespace> | undefined;
    if (attrs) {
      for (const [name, value] of attrs) {
        if (name === 'xmlns') {
          const declared = namespaceFromUri(value);
          if (!declared) failAt(at, 'unknown-namespace', `unknown namespace "${value}" on <${qname}>`);
          ns = declared;
          if (!parent) rootNamespaceUri = value;
        } else if (name.startsWith('xmlns:')) {
          const declared = namespaceFromUri(value);
          if (!declared) failAt(at, 'unknown-namespace', `unknown namespace "${value}" for prefix ${name.slice(6)}`);
          (prefixes ??= new Map()).set(name.slice(6), declared!);
        } else {
          failAt(at, 'unexpected-content', `attribute ${name} on <${qname}> (SyncML DM elements carry no attributes)`);
        }
      }
    }
    if (prefix !== undefined) {
      ns = lookupPrefix(stack, prefixes, prefix) ?? failAt(at, 'unknown-namespace', `undeclared prefix "${prefix}" on <${qname}>`);
    }
    if (!parent && ns === undefined) {
      // Hand-written files sometimes leave out the root namespace: a root SyncML or MgmtTree is unambiguous.
      ns = localName === 'MgmtTree' ? 'dmddf' : 'syncml';
      rootNamespaceUri = ns === 'dmddf' ? 'syncml:dmddf1.2' : 'SYNCML:SYNCML1.2';
    }
    // MetInf children written without their namespace (common in the wild) belong to MetInf:
    // no SyncML element shares a name with them.
    if (ns === 'syncml' && parent?.element.name === 'Meta' && METINF_NAMES.has(localName)) ns = 'metinf';

    const element: Element = { ns: ns!, name: localName, children: [] };
    if (parent) parent.element.children.push(element);
    else root = element;
    if (positions) positions.set(element, lines!.at(at));
    const open: OpenElement = { element, qname, text: '', verbatim: isDataElement(element.ns, localName) };
    if (prefixes) open.prefixes = prefixes;
    stack.push(open);
  }
}

export const XML_DECLARATION = /^<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1(?:\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\3)?\s*\?>$/;


/** Character data between markup: references expanded, `]]>` refused, line ends normalised. */
function characterData(text: string, start: number, end: number, failAt: (at: number, code: CodecError['code'], m: string) => never): string {
  let s = text.slice(start, end);
  if (hasXmlIllegalChar(s)) failAt(start + s.search(XML_ILLEGAL), 'xml-syntax', 'character not allowed in XML');
  const cdataEnd = s.indexOf(']]>');
  if (cdataEnd >= 0) failAt(start + cdataEnd, 'xml-syntax', "']]>' in character data");
  if (s.includes('&')) s = expandReferences(s, start, failAt);
  return normaliseNewlines(s);
}

function normaliseNewlines(s: string): string {
  return s.includes('\r') ? s.replace(/\r\n?/g, '\n') : s;
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The five predefined entities and character references; anything else is refused, never expanded. */
function expandReferences(s: string, base: number, failAt: (at: number, code: CodecError['code'], m: string) => never): string {
  return s.replace(/&([^;&\s<]*);?/g, (m, ref: string, off: number) => {
    if (!m.endsWith(';')) return failAt(base + off, 'xml-syntax', "'&' not followed by an entity or character reference");
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      const valid = /^#(x[0-9A-Fa-f]+|[0-9]+)$/.test(ref) && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) &&
        (cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp !== 0xfffe && cp !== 0xffff));
      if (!valid) return failAt(base + off, 'xml-syntax', `invalid character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) return failAt(base + off, 'xml-entity', `undefined entity &${ref}; (entities are never expanded from a DTD)`);
    return v;
  });
}

/** Skips `<!DOCTYPE name PUBLIC "..." "...">`; an internal subset may declare entities, so it is refused. */
function skipDoctype(text: string, at: number, failAt: (at: number, code: CodecError['code'], m: string) => never): number {
  let p = at + 9;
  let quote = 0;
  for (; p < text.length; p++) {
    const c = text.charCodeAt(p);
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x5b /* [ */) failAt(at, 'xml-entity', 'DOCTYPE with an internal subset (entity declarations are not expanded)');
    else if (c === 0x3e) return p + 1;
  }
  return failAt(at, 'xml-syntax', 'DOCTYPE not closed');
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** End of an XML name starting at p (ASCII names plus any non-ASCII letter; DM names are ASCII). */
function scanName(text: string, p: number): number {
  const first = text.charCodeAt(p);
  if (!(isNameStart(first))) return p;
  p++;
  for (;;) {
    const c = text.charCodeAt(p);
    if (isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e) p++;
    else return p;
  }
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7 && c < 0xfffe);
}

function isBlankRange(t: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isSpace(t.charCodeAt(i))) return false;
  return true;
}

/** Offsets -> line:column for positions recorded in document order (amortised linear). */
class LineCounter {
  private line = 1;
  private lineStart = 0;
  private scanned = 0;
  constructor(private readonly text: string) {}
  at(offset: number): { line: number; column: number } {
    for (let i = this.text.indexOf('\n', this.scanned); i >= 0 && i < offset; i = this.text.indexOf('\n', i + 1)) {
      this.line++;
      this.lineStart = i + 1;
      this.scanned = i + 1;
    }
    return { line: this.line, column: offset - this.lineStart + 1 };
  }
}

