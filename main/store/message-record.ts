/**
 * A logged message as the stores hand it out (SQLite's and PostgreSQL's records, the views' pages):
 * its pretty XML form is derived from the bytes on first read only, so listing a 10,000-message
 * session does not pretty-print them all.
 */
import { decodeDocument } from '../protocol/codec.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import type { MessageRecord } from './types.js';

/** `fields` with a lazy `decoded`: `stored` when the row kept one, else decodedForm(fields.bytes) when first read. */
export function messageRecord(fields: Omit<MessageRecord, 'decoded'>, stored: string | null | undefined): MessageRecord {
  const m = fields as MessageRecord;
  let decoded: string | null | undefined = stored ?? undefined;
  Object.defineProperty(m, 'decoded', {
    enumerable: true,
    configurable: true,
    get: () => (decoded === undefined ? (decoded = decodedForm(fields.bytes)) : decoded),
    set: (v: string | null) => (decoded = v),
  });
  return m;
}

/** The logged message as pretty XML, or null when its bytes are not a document we can read. */
export function decodedForm(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return null;
  const d = decodeDocument(bytes);
  return d.ok ? serializeXml(d.value.document, { pretty: true }) : null;
}
