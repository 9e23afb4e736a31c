/**
 * The document tree both codecs meet in: XML text and WBXML bytes decode to it and encode from it.
 * It is deliberately smaller than a DOM: SyncML DM uses no attributes beyond namespace declarations,
 * so an element is a namespace, a name and ordered children.
 */

/** The code spaces SyncML DM uses. The WBXML code page of each is fixed (see wbxml/tables.ts). */
export type Namespace = 'syncml' | 'metinf' | 'dmddf';

/** Namespace URIs as written in XML. SyncML 1.1 and 1.2 differ only in the root namespace. */
export const NAMESPACE_URI: Readonly<Record<Namespace, string>> = {
  syncml: 'SYNCML:SYNCML1.2',
  metinf: 'syncml:metinf',
  dmddf: 'syncml:dmddf1.2',
};

/** A child is an element, character data (string) or WBXML OPAQUE bytes (kept byte-exact). */
export type Child = Element | string | Uint8Array;

export interface Element {
  ns: Namespace;
  name: string;
  children: Child[];
}

export function isElement(c: Child): c is Element {
  return typeof c === 'object' && !(c instanceof Uint8Array);
}

export function el(ns: Namespace, name: string, children: Child[] = []): Element {
  return { ns, name, children };
}

/** What a WBXML or XML document carries around its root element. */
export interface DocumentInfo {
  /** WBXML version byte (0x01 = 1.1, 0x02 = 1.2, 0x03 = 1.3); 0x02 when the source was XML. */
  wbxmlVersion: number;
  /** Public identifier: a well-known number (0x1201) or a literal such as `-//SYNCML//DTD SyncML 1.1//EN`. */
  publicId: number | string;
  /** The root namespace URI as found (e.g. `SYNCML:SYNCML1.1`); the tree itself says only `syncml`. */
  rootNamespaceUri: string;
  /** The XML source had a DOCTYPE (we never read it: no entity expansion). */
  hadDoctype?: boolean;
  /** Leniencies applied while reading, e.g. a bare `&` taken literally; shown to the engineer. */
  warnings?: string[];
}

export interface Document {
  info: DocumentInfo;
  root: Element;
}
