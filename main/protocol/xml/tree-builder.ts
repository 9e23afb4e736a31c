/**
 * What any XML reader of ours does once it has an event (an element opened, text, an element closed):
 * the shared rules for turning them into the document tree. The scanner in parse.ts uses them, and so
 * does the saxes-based reference reader the differential tests compare it with.
 */
import type { Child, Document, Element, Namespace } from '../element.js';
import type { Result } from '../errors.js';
import { TNDS_PUBLIC_ID } from '../names.js';

export interface BuilderElement {
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
 * not well-formed XML. We accept it as a literal `&` and say so in the document's warnings.
 */
const BARE_AMPERSAND = /&(?!(?:[A-Za-z_:][\w.:-]*|#[0-9]+|#x[0-9A-Fa-f]+);)/g;

/** Reads strictly; on a syntax error caused by a bare `&`, reads again with it taken literally. */
export function readLeniently(text: string, strict: (text: string) => Result<Document>): Result<Document> {
  const first = strict(text);
  if (first.ok || first.error.code !== 'xml-syntax') return first;
  BARE_AMPERSAND.lastIndex = 0;
  const bare = BARE_AMPERSAND.exec(text);
  if (!bare) return first;
  const second = strict(text.replace(BARE_AMPERSAND, '&amp;'));
  if (!second.ok) return first;
  const { line, column } = lineColumn(text, bare.index);
  (second.value.info.warnings ??= []).push(`bare '&' read as a literal '&' at line ${line}:${column}`);
  return second;
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Character data: inside Data (and TNDS Value) it is content and kept exactly; elsewhere it is
 * trimmed, and whitespace between elements is layout, as libwbxml treats it.
 */
export function flushText(open: BuilderElement, closing: boolean): void {
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

export function isBlank(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

export function lookupPrefix(stack: readonly BuilderElement[], own: Map<string, Namespace> | undefined, prefix: string): Namespace | undefined {
  const hit = own?.get(prefix);
  if (hit) return hit;
  for (let i = stack.length - 1; i >= 0; i--) {
    const ns = stack[i]!.prefixes?.get(prefix);
    if (ns) return ns;
  }
  return undefined;
}

export function pathOf(stack: readonly BuilderElement[]): string {
  return stack.map((o) => o.element.name).join('/');
}

/** The WBXML public id a document will carry when encoded: SyncML 1.1 keeps its own. */
export function publicIdFor(root: Element, nsUri: string): number | string {
  // TNDS has no registered numeric public id; its formal one travels as a string-table literal.
  if (root.ns === 'dmddf') return TNDS_PUBLIC_ID;
  return /1\.1$/.test(nsUri) ? 0x0fd3 : 0x1201;
}
