/**
 * Straight conversions between the two encodings, the work libwbxml's wbxml2xml / xml2wbxml do.
 * They go through the document tree only (no typed model), so a message our model would reject can
 * still be converted and looked at.
 */
import { ok, type Result } from './errors.js';
import { documentFromWbxml, wbxmlFromDocument } from './codec.js';
import { parseXml } from './xml/parse.js';
import { serializeXmlBytes } from './xml/serialize.js';
import { decodeBinaryItems } from './binary.js';
import { xmlToWbxmlFast } from './xml/stream-to-wbxml.js';
import { wbxmlToXmlFast } from './wbxml/stream-to-xml.js';

/** WBXML -> XML text as UTF-8 bytes (what wbxml2xml writes; a JS string of a large object costs a copy). */
export function wbxmlToXml(bytes: Uint8Array, opts: { pretty?: boolean } = {}): Result<Uint8Array> {
  // One streaming pass for the SyncML it understands; the tree path for the rest and every error.
  if (!opts.pretty) {
    const fast = wbxmlToXmlFast(bytes);
    if (fast !== undefined) return ok(fast);
  }
  return wbxmlToXmlByTree(bytes, opts);
}

/** The reference conversion: WBXML -> document tree -> XML bytes. The fast path must agree with it. */
export function wbxmlToXmlByTree(bytes: Uint8Array, opts: { pretty?: boolean } = {}): Result<Uint8Array> {
  // The tree lives only until it is written out, so OPAQUE data need not be copied out of `bytes`.
  const d = documentFromWbxml(bytes, { opaqueViews: true });
  if (!d.ok) return d;
  return ok(serializeXmlBytes(d.value, { pretty: opts.pretty ?? false }));
}

export function xmlToWbxml(text: string): Result<Uint8Array> {
  // One streaming pass for the SyncML it understands; the tree path for the rest and every error.
  const fast = xmlToWbxmlFast(text);
  if (fast !== undefined) return ok(fast);
  return xmlToWbxmlByTree(text);
}

/** The reference conversion: XML text -> document tree -> WBXML. The fast path must agree with it. */
export function xmlToWbxmlByTree(text: string): Result<Uint8Array> {
  const d = parseXml(text);
  if (!d.ok) return d;
  decodeBinaryItems(d.value.root);
  return wbxmlFromDocument(d.value);
}

