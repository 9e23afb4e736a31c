/**
 * The codec's front door: bytes in either encoding <-> document tree <-> typed message.
 * Everything returns a Result; nothing here throws on bad input.
 */
import { isElement, type Document, type Element } from './element.js';
import { fail, ok, type CodecError, type Result } from './errors.js';
import { decodeWbxml, encodeWbxml } from './wbxml/index.js';
import { parseXml, type XmlLimits, type XmlPositions } from './xml/parse.js';
import { serializeXml, type XmlWriteOptions } from './xml/serialize.js';
import { decodeBinaryItems } from './binary.js';
import { withB64ForXml } from './b64-transport.js';
import { restoreXmlTndsTypes, withWbxmlTndsTypes } from './tnds-embedding.js';
import { readMessage } from './message/read.js';
import { readWbxmlMessageFast } from './message/fast-read.js';
import { writeWbxmlMessageFast } from './message/fast-write.js';
import { writeMessage } from './message/write.js';
import type { SyncML } from './model.js';

export type Encoding = 'wbxml' | 'xml';

export const MEDIA_TYPES: Readonly<Record<Encoding, string>> = {
  wbxml: 'application/vnd.syncml.dm+wbxml',
  xml: 'application/vnd.syncml.dm+xml',
};

/**
 * Every media type a DM message may arrive with, and its encoding: the DM ones, and the plain SyncML
 * ones that real peers (intel/libdmclient) send. An answer goes back in the media type it came in.
 */
export const DM_MESSAGE_MEDIA_TYPES: Readonly<Record<string, Encoding>> = {
  'application/vnd.syncml.dm+wbxml': 'wbxml',
  'application/vnd.syncml.dm+xml': 'xml',
  'application/vnd.syncml+wbxml': 'wbxml',
  'application/vnd.syncml+xml': 'xml',
};

/**
 * WBXML starts with its version byte (0x00..0x03); XML with `<`, whitespace or a BOM.
 * Anything else is neither, and we say so rather than guess.
 */
export function sniffEncoding(bytes: Uint8Array): Encoding | undefined {
  const b0 = bytes[0];
  if (b0 === undefined) return undefined;
  if (b0 <= 0x03) return 'wbxml';
  if (b0 === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'xml';
  if (b0 === 0xfe || b0 === 0xff) return 'xml';
  for (let i = 0; i < bytes.length && i < 4096; i++) {
    const c = bytes[i]!;
    if (c === 0x3c) return 'xml';
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return undefined;
  }
  return undefined;
}

export interface DecodedDocument {
  encoding: Encoding;
  document: Document;
}

export function decodeDocument(bytes: Uint8Array, limits: Partial<XmlLimits> = {}): Result<DecodedDocument> {
  const encoding = sniffEncoding(bytes);
  if (encoding === undefined) {
    return fail({ code: 'bad-header', message: bytes.length === 0 ? 'empty input' : `neither WBXML nor XML (first byte 0x${bytes[0]!.toString(16).padStart(2, '0')})`, offset: 0 });
  }
  if (encoding === 'wbxml') {
    const r = documentFromWbxml(bytes);
    return r.ok ? ok({ encoding, document: r.value }) : r;
  }
  const text = decodeXmlBytes(bytes);
  if (!text.ok) return text;
  const r = parseXml(text.value, limits);
  if (!r.ok) return r;
  decodeBinaryItems(r.value.root);
  return ok({ encoding, document: r.value });
}

export interface DecodedMessage extends DecodedDocument {
  message: SyncML;
}

export function decodeMessage(bytes: Uint8Array): Result<DecodedMessage> {
  // WBXML (the handsets' and the server's every message): straight to the typed message when the
  // fast path understands the bytes; otherwise, and on every error, the tree path below answers.
  if (bytes.length > 0 && bytes[0]! <= 0x03) {
    const message = readWbxmlMessageFast(bytes);
    if (message !== undefined) return ok(new DecodedWbxmlMessage(bytes, message));
  }
  return decodeMessageByTree(bytes);
}

/** decodeMessage through the document tree: the reference the fast path is held equal to. */
export function decodeMessageByTree(bytes: Uint8Array): Result<DecodedMessage> {
  const d = decodeDocument(bytes);
  if (!d.ok) return d;
  const m = readMessage(d.value.document.root);
  return m.ok ? ok({ ...d.value, message: m.value }) : fail(locateError(bytes, m.error));
}

/**
 * What decodeMessage's tree path returns, for a message the fast path read: the document tree is
 * built only if a caller asks for it (few do: the CLI for its warnings), from the same bytes, which
 * the caller must not change afterwards (no caller does: they are a network read or a stored blob).
 * A class with the getter on its prototype: an object literal with a getter cost 2.5 us to make,
 * more than the fast path saves on a small message. So `document` is not an own property: a spread
 * or structuredClone of the result leaves it out (no caller copies the result; they read its fields).
 */
class DecodedWbxmlMessage implements DecodedMessage {
  readonly encoding = 'wbxml' as const;
  readonly #bytes: Uint8Array;
  #document: Document | undefined;
  constructor(bytes: Uint8Array, readonly message: SyncML) {
    this.#bytes = bytes;
  }
  get document(): Document {
    if (this.#document === undefined) {
      const r = documentFromWbxml(this.#bytes);
      // Cannot happen: the fast path gives up on everything the tree decoder refuses.
      if (!r.ok) throw new Error(`decodeMessage: the fast path read a message the tree decoder refuses (${r.error.message})`);
      this.#document = r.value;
    }
    return this.#document;
  }
}

/**
 * A model error knows the element path, not where that element sits in the input. Positions are not
 * kept on the fast path, so on this (rare) error path the input is read once more, recording them.
 */
export function locateError(bytes: Uint8Array, error: CodecError): CodecError {
  if (error.path === undefined || error.offset !== undefined || error.line !== undefined) return error;
  if (sniffEncoding(bytes) !== 'xml') return error;
  const text = decodeXmlBytes(bytes);
  if (!text.ok) return error;
  const positions: XmlPositions = new Map();
  const doc = parseXml(text.value, {}, positions);
  if (!doc.ok) return error;
  const at = elementAtPath(doc.value.root, error.path);
  const pos = at && positions.get(at);
  return pos ? { ...error, ...pos } : error;
}

/** Follows a path such as `SyncML/SyncBody/Add[2]/Item` (the index counts same-named siblings). */
export function elementAtPath(root: Element, path: string): Element | undefined {
  const [first, ...rest] = path.split('/');
  if (first !== root.name) return undefined;
  let at: Element = root;
  for (const seg of rest) {
    const m = /^(.*?)(?:\[(\d+)\])?$/.exec(seg)!;
    const name = m[1]!;
    let n = m[2] ? Number(m[2]) : 1;
    let next: Element | undefined;
    for (const c of at.children) {
      if (isElement(c) && c.name === name && --n === 0) { next = c; break; }
    }
    if (!next) return at;
    at = next;
  }
  return at;
}

/**
 * WBXML as DM peers built on libwbxml read and write it: TNDS travels as an embedded WBXML document
 * in OPAQUE (libwbxml cannot read DDF tokens inline in SyncML 1.2), typed `dmtnds+wbxml`.
 */
export function wbxmlFromDocument(doc: Document): Result<Uint8Array> {
  return encodeWbxml({ info: doc.info, root: withWbxmlTndsTypes(doc.root) }, { ddf: 'opaque' });
}

export function documentFromWbxml(bytes: Uint8Array, opts: { opaqueViews?: boolean } = {}): Result<Document> {
  const r = decodeWbxml(bytes, {}, { embedded: 'expand', opaqueViews: opts.opaqueViews ?? false });
  if (r.ok) restoreXmlTndsTypes(r.value.root);
  return r;
}

export function encodeDocument(doc: Document, to: Encoding, xml: XmlWriteOptions = {}): Result<Uint8Array> {
  if (to === 'wbxml') return wbxmlFromDocument(doc);
  return ok(new TextEncoder().encode(serializeXml(doc, xml)));
}

/** Over XML, binary data goes out as Format b64 (TND §7.7.2, b64-transport.ts); over WBXML as bin OPAQUE. */
export function encodeMessage(msg: SyncML, to: Encoding, xml: XmlWriteOptions = { pretty: false }): Result<Uint8Array> {
  // WBXML: straight from the typed message when the fast path can (the same bytes); else the tree.
  if (to === 'wbxml') {
    const fast = writeWbxmlMessageFast(msg);
    if (fast !== undefined) return ok(fast);
  }
  return encodeMessageByTree(msg, to, xml);
}

/** encodeMessage through the document tree: the reference the fast path is held byte-equal to. */
export function encodeMessageByTree(msg: SyncML, to: Encoding, xml: XmlWriteOptions = { pretty: false }): Result<Uint8Array> {
  return encodeDocument(writeMessage(to === 'xml' ? withB64ForXml(msg) : msg), to, xml);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');
const utf16le = new TextDecoder('utf-16le', { fatal: true });
const utf16be = new TextDecoder('utf-16be', { fatal: true });

/** XML bytes -> text per BOM / declared encoding; invalid UTF-8 is reported at its byte offset. */
export function decodeXmlBytes(bytes: Uint8Array): Result<string> {
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return guard(() => utf16be.decode(bytes.subarray(2)), 'UTF-16BE');
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return guard(() => utf16le.decode(bytes.subarray(2)), 'UTF-16LE');
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const head = latin1.decode(bytes.subarray(start, Math.min(bytes.length, start + 200)));
  const declared = /^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (declared && declared !== 'utf-8' && declared !== 'utf8') {
    if (declared === 'iso-8859-1' || declared === 'latin1' || declared === 'us-ascii' || declared === 'ascii') return ok(latin1.decode(bytes.subarray(start)));
    return fail({ code: 'unsupported', message: `XML encoding "${declared}" is not supported (UTF-8, UTF-16, ISO-8859-1)`, offset: 0 });
  }
  const body = bytes.subarray(start);
  try {
    return ok(utf8.decode(body));
  } catch {
    return fail({ code: 'bad-charset', message: 'invalid UTF-8', offset: start + firstInvalidUtf8(body) });
  }
}

function guard(f: () => string, name: string): Result<string> {
  try {
    return ok(f());
  } catch {
    return fail({ code: 'bad-charset', message: `invalid ${name}`, offset: 0 });
  }
}

/** Offset of the first byte that does not begin or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) { i++; continue; }
    else if ((c & 0xe0) === 0xc0) { n = 1; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { n = 2; min = 0x800; }
    else if ((c & 0xf8) === 0xf0 && c <= 0xf4) { n = 3; min = 0x10000; }
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += n + 1;
  }
  return b.length;
}
