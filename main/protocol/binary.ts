/**
 * Binary item data across the two encodings.
 *
 * WBXML carries binary as OPAQUE bytes; XML cannot carry raw bytes at all. Our rule, applied the same
 * way in both directions so nothing is lost:
 *  - an Item whose Meta Format is `bin` has base64 text in XML and OPAQUE bytes in WBXML;
 *  - other OPAQUE data that is well-formed UTF-8 is shown as text (libwbxml does the same);
 *  - other OPAQUE data (not text) is shown as base64 after a comment saying so.
 */
import { isAscii } from 'node:buffer';
import { isElement, type Element } from './element.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Characters XML 1.0 cannot carry even as character references. */
export const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Anything that might be illegal: a cheap first test, since almost no text has any of these. */
const MAYBE_XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

export function hasXmlIllegalChar(s: string): boolean {
  return MAYBE_XML_ILLEGAL.test(s) && XML_ILLEGAL.test(s);
}

export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** Strict base64 (whitespace allowed, as line-wrapped payloads have it); undefined if not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/**
 * True when every byte is printable ASCII other than & < > (tabs and newlines excluded too, to keep
 * the test simple): such bytes are valid UTF-8 XML text as they are. Large objects (firmware chunks)
 * pass through here, so it is native scans where there are any: memchr for the markup characters,
 * Node's SIMD isAscii for the top bit, and then, four words a round, the one test left, for bytes
 * below 0x20.
 */
export function isPlainAscii(b: Uint8Array): boolean {
  const n = b.length;
  const view = Buffer.from(b.buffer, b.byteOffset, n);
  if (view.indexOf(0x26) >= 0 || view.indexOf(0x3c) >= 0 || view.indexOf(0x3e) >= 0) return false;
  if (!isAscii(view)) return false;
  let i = 0;
  const head = (4 - (b.byteOffset & 3)) & 3;
  for (; i < head && i < n; i++) if (!plainByte(b[i]!)) return false;
  const words = (n - i) >>> 2;
  if (words > 0) {
    const u32 = new Uint32Array(b.buffer, b.byteOffset + i, words);
    // Every byte is below 0x80, so x - 0x20202020 sets a top bit only where some byte is below 0x20
    // (a borrow moves up from such a byte, never from a larger one).
    const quads = words & ~3;
    let k = 0;
    for (; k < quads; k += 4) {
      if ((((u32[k]! - 0x20202020) | (u32[k + 1]! - 0x20202020) | (u32[k + 2]! - 0x20202020) | (u32[k + 3]! - 0x20202020)) & 0x80808080) !== 0) return false;
    }
    for (; k < words; k++) if (((u32[k]! - 0x20202020) & 0x80808080) !== 0) return false;
    i += words * 4;
  }
  for (; i < n; i++) if (!plainByte(b[i]!)) return false;
  return true;
}

function plainByte(c: number): boolean {
  return c >= 0x20 && c < 0x80 && c !== 0x26 && c !== 0x3c && c !== 0x3e;
}

const MARKUP = /[&<>\r]/;

/** Escapes what XML text cannot hold literally; \r so that it survives XML line-end normalisation. */
export function escapeMarkup(s: string): string {
  if (!MARKUP.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

export function binaryAsXmlText(bytes: Uint8Array, formatIsBin: boolean): string {
  if (formatIsBin) return toBase64(bytes);
  const text = decodeUtf8Strict(bytes);
  if (text !== undefined && !hasXmlIllegalChar(text)) return escapeMarkup(text);
  return `<!-- ${bytes.length} bytes of binary data, shown as base64 -->${toBase64(bytes)}`;
}

/**
 * After reading XML: turn the base64 text of `bin` Items into bytes, so that encoding to WBXML writes
 * OPAQUE and the typed model holds the real bytes. Text that is not base64 is left as it is.
 */
export function decodeBinaryItems(root: Element): void {
  const stack: Element[] = [root];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.name === 'Item' && e.ns === 'syncml' && itemFormat(e) === 'bin') {
      for (const c of e.children) {
        if (!isElement(c) || c.name !== 'Data') continue;
        if (c.children.length === 1 && typeof c.children[0] === 'string') {
          const bytes = fromBase64(c.children[0]);
          if (bytes) c.children[0] = bytes;
        }
      }
      continue;
    }
    for (const c of e.children) if (isElement(c)) stack.push(c);
  }
}

/** The Format an Item's own Meta declares, if any. */
export function itemFormat(item: Element): string | undefined {
  for (const c of item.children) {
    if (!isElement(c) || c.name !== 'Meta') continue;
    for (const m of c.children) {
      if (isElement(m) && m.name === 'Format' && typeof m.children[0] === 'string') return m.children[0].trim();
    }
  }
  return undefined;
}
