/**
 * Document tree -> XML text, pretty (for engineers) or compact (for the wire).
 *
 * Namespaces are declared where they change (root, and each MetInf/DDF element under SyncML), the
 * way DM peers write them, so the output reads like a real packet.
 */
import type { Child, Document, Element, Namespace } from '../element.js';
import { NAMESPACE_URI, isElement } from '../element.js';
import { isDataElement } from '../names.js';
import { binaryAsXmlText, escapeMarkup, hasXmlIllegalChar, isPlainAscii, itemFormat } from '../binary.js';
import { ByteWriter } from '../byte-writer.js';

export interface XmlWriteOptions {
  /** Indent nested elements (default true). Character data is never re-flowed. */
  pretty?: boolean;
  /** Write the SyncML 1.2 DOCTYPE (default false: libdmclient and most servers send none). */
  doctype?: boolean;
  /** Write the `<?xml ...?>` declaration (default true). */
  declaration?: boolean;
}

const INDENT = '  ';
const utf8 = new TextDecoder();

/** The document as XML text. */
export function serializeXml(doc: Document, opts: XmlWriteOptions = {}): string {
  return utf8.decode(serializeXmlBytes(doc, opts));
}

/**
 * The document as UTF-8 XML, written straight into bytes: large values (a firmware chunk in OPAQUE)
 * are copied, not turned into a JS string and back, which is what makes big packages cheap.
 */
export function serializeXmlBytes(doc: Document, opts: XmlWriteOptions = {}): Uint8Array {
  const pretty = opts.pretty ?? true;
  const w = new ByteWriter(true);
  if (opts.declaration !== false) w.ascii(pretty ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '<?xml version="1.0" encoding="UTF-8"?>');
  if (opts.doctype && doc.root.ns === 'syncml') {
    const v = /1\.1$/.test(doc.info.rootNamespaceUri) ? '1.1' : '1.2';
    w.ascii(`<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML ${v}//EN" "http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V${v.replace('.', '_')}.dtd">`);
    if (pretty) w.byte(0x0a);
  }
  const rootUri = doc.info.rootNamespaceUri || NAMESPACE_URI[doc.root.ns];
  writeElement(w, doc.root, undefined, rootUri, pretty ? 0 : -1, false);
  if (pretty) w.byte(0x0a);
  return w.result();
}

/** `<Name`, `</Name>` and ` xmlns="..."` as bytes, made once per name: most of the output is these. */
const OPEN_TAG = new Map<string, Uint8Array>();
const CLOSE_TAG = new Map<string, Uint8Array>();
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const NS_DECL: Readonly<Record<Namespace, Uint8Array>> = {
  syncml: ascii(` xmlns="${NAMESPACE_URI.syncml}"`),
  metinf: ascii(` xmlns="${NAMESPACE_URI.metinf}"`),
  dmddf: ascii(` xmlns="${NAMESPACE_URI.dmddf}"`),
};

function tagBytes(cache: Map<string, Uint8Array>, name: string, make: (n: string) => string): Uint8Array {
  let b = cache.get(name);
  if (b === undefined) {
    b = new TextEncoder().encode(make(name));
    // Names come from documents; only a bounded set is worth remembering.
    if (cache.size < 1024) cache.set(name, b);
  }
  return b;
}

/** depth < 0 means compact output. */
function writeElement(w: ByteWriter, e: Element, parentNs: Namespace | undefined, nsUri: string | undefined, depth: number, binaryItem: boolean): void {
  const pretty = depth >= 0;
  if (pretty) w.ascii(INDENT.repeat(depth));
  w.bytes(tagBytes(OPEN_TAG, e.name, (n) => `<${n}`));
  if (nsUri !== undefined) {
    w.ascii(' xmlns="');
    w.utf8(escapeMarkup(nsUri));
    w.byte(0x22);
  } else if (e.ns !== parentNs) {
    w.bytes(NS_DECL[e.ns]);
  }
  const kids = e.children;
  if (kids.length === 0) {
    w.ascii(pretty ? '/>\n' : '/>');
    return;
  }
  w.byte(0x3e);

  let hasElements = false;
  let hasContent = false;
  for (const k of kids) {
    if (isElement(k)) hasElements = true;
    else hasContent = true;
  }
  // Text beside elements (or any content of Data) is written inline so no whitespace is invented.
  const inline = !hasElements || (hasContent && isDataElement(e.ns, e.name));
  const itemIsBinary = !inline && e.name === 'Item' && e.ns === 'syncml' && itemFormat(e) === 'bin';
  const childDepth = pretty && !inline ? depth + 1 : -1;
  if (pretty && !inline) w.byte(0x0a);
  for (const k of kids) {
    if (typeof k === 'string') w.utf8(escapeText(k));
    else if (k instanceof Uint8Array) writeBytes(w, k, binaryItem);
    else writeElement(w, k, e.ns, undefined, childDepth, itemIsBinary);
  }
  if (pretty && !inline) w.ascii(INDENT.repeat(depth));
  w.bytes(tagBytes(CLOSE_TAG, e.name, (n) => `</${n}>`));
  if (pretty) w.byte(0x0a);
}

/** OPAQUE data: copied as it is when it is plain printable ASCII (the common case), else as binary.ts says. */
function writeBytes(w: ByteWriter, bytes: Uint8Array, formatIsBin: boolean): void {
  if (!formatIsBin && isPlainAscii(bytes)) w.bytes(bytes);
  else w.utf8(binaryAsXmlText(bytes, formatIsBin));
}

/** Characters that need escaping, or that may be illegal in XML (checked precisely only when present). */
const NEEDS_CARE = /[&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

export function escapeText(s: string): string {
  if (!NEEDS_CARE.test(s)) return s;
  if (hasXmlIllegalChar(s)) return binaryAsXmlText(new TextEncoder().encode(s), false);
  return escapeMarkup(s);
}
