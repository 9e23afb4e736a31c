/**
 * Document tree -> XML text, pretty (for engineers) or compact (for the wire).
 *
 * Namespaces are declared where they change (root, and each MetInf/DDF element under SyncML), the
 * way DM peers write them, so the output reads like a real packet.
 */
import type { Child, Document, Element, Namespace } from '../element.js';
import { NAMESPACE_URI, isElement } from '../element.js';
import { isDataElement } from '../names.js';
import { binaryAsXmlText, hasXmlIllegalChar, itemFormat } from '../binary.js';

export interface XmlWriteOptions {
  /** Indent nested elements (default true). Character data is never re-flowed. */
  pretty?: boolean;
  /** Write the SyncML 1.2 DOCTYPE (default false: libdmclient and most servers send none). */
  doctype?: boolean;
  /** Write the `<?xml ...?>` declaration (default true). */
  declaration?: boolean;
}

const INDENT = '  ';

export function serializeXml(doc: Document, opts: XmlWriteOptions = {}): string {
  const pretty = opts.pretty ?? true;
  const nl = pretty ? '\n' : '';
  let out = opts.declaration === false ? '' : `<?xml version="1.0" encoding="UTF-8"?>${nl}`;
  if (opts.doctype && doc.root.ns === 'syncml') {
    const v = /1\.1$/.test(doc.info.rootNamespaceUri) ? '1.1' : '1.2';
    out += `<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML ${v}//EN" "http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V${v.replace('.', '_')}.dtd">${nl}`;
  }
  const rootUri = doc.info.rootNamespaceUri || NAMESPACE_URI[doc.root.ns];
  out += writeElement(doc.root, undefined, rootUri, pretty ? 0 : -1, false);
  return out + nl;
}

/** depth < 0 means compact output. */
function writeElement(e: Element, parentNs: Namespace | undefined, nsUri: string | undefined, depth: number, binaryItem: boolean): string {
  const pad = depth >= 0 ? INDENT.repeat(depth) : '';
  const nl = depth >= 0 ? '\n' : '';
  let open = `${pad}<${e.name}`;
  if (nsUri !== undefined) open += ` xmlns="${nsUri}"`;
  else if (e.ns !== parentNs) open += ` xmlns="${NAMESPACE_URI[e.ns]}"`;
  const kids = e.children;
  if (kids.length === 0) return `${open}/>${nl}`;

  const hasElements = kids.some(isElement);
  const verbatim = isDataElement(e.ns, e.name);
  // Text beside elements (or any content of Data) is written inline so no whitespace is invented.
  if (!hasElements || (verbatim && kids.some((k) => !isElement(k)))) {
    let body = '';
    for (const k of kids) {
      if (typeof k === 'string') body += escapeText(k);
      else if (k instanceof Uint8Array) body += binaryAsXmlText(k, binaryItem);
      else body += writeElement(k, e.ns, undefined, -1, false);
    }
    return `${open}>${body}</${e.name}>${nl}`;
  }

  const itemIsBinary = e.name === 'Item' && e.ns === 'syncml' && itemFormat(e) === 'bin';
  let out = `${open}>${nl}`;
  const childDepth = depth >= 0 ? depth + 1 : -1;
  for (const k of kids) {
    if (isElement(k)) out += writeElement(k, e.ns, undefined, childDepth, itemIsBinary);
    else if (typeof k === 'string') out += escapeText(k);
    else out += binaryAsXmlText(k, binaryItem);
  }
  return `${out}${pad}</${e.name}>${nl}`;
}

const NEEDS_ESCAPE = /[&<>\r]/;

export function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return hasXmlIllegalChar(s) ? binaryAsXmlText(new TextEncoder().encode(s), false) : s;
  if (hasXmlIllegalChar(s)) return binaryAsXmlText(new TextEncoder().encode(s), false);
  // \r is escaped so that a CR in a value survives XML line-end normalisation on the way back.
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}
