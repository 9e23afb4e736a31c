/**
 * Straight conversions between the two encodings, the work libwbxml's wbxml2xml / xml2wbxml do.
 * They go through the document tree only (no typed model), so a message our model would reject can
 * still be converted and looked at.
 */
import { ok, type Result } from './errors.js';
import { documentFromWbxml, wbxmlFromDocument } from './codec.js';
import { parseXml } from './xml/parse.js';
import { serializeXml } from './xml/serialize.js';
import { decodeBinaryItems } from './binary.js';

export function wbxmlToXml(bytes: Uint8Array, opts: { pretty?: boolean } = {}): Result<string> {
  const d = documentFromWbxml(bytes);
  if (!d.ok) return d;
  return ok(serializeXml(d.value, { pretty: opts.pretty ?? false }));
}

export function xmlToWbxml(text: string): Result<Uint8Array> {
  const d = parseXml(text);
  if (!d.ok) return d;
  decodeBinaryItems(d.value.root);
  return wbxmlFromDocument(d.value);
}

