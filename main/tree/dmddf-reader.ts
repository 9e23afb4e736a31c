/**
 * Reading `syncml:dmddf1.2` documents (TNDS and DDF share the MgmtTree vocabulary): the element
 * helpers and the error value both readers use. Errors name the element path, e.g.
 * `MgmtTree/Node[2]/RTProperties/ACL`.
 */
import { isElement, type Element } from '../protocol/element.js';

export interface DmddfError {
  message: string;
  path: string;
}

export type DmddfResult<T> = { ok: true; value: T } | { ok: false; error: DmddfError };

/** Thrown inside a reader and caught at its entry point (readDmddf): never escapes a reader. */
export class DmddfFailure extends Error {
  constructor(readonly error: DmddfError) {
    super(error.message);
  }
}

export function failAt(path: string, message: string): never {
  throw new DmddfFailure({ path, message: `${path}: ${message}` });
}

/** Runs a reader, turning its failure into a result. */
export function readDmddf<T>(read: () => T): DmddfResult<T> {
  try {
    return { ok: true, value: read() };
  } catch (e) {
    if (e instanceof DmddfFailure) return { ok: false, error: e.error };
    throw e;
  }
}

/** The child elements; whitespace between them is layout, other character data an error. */
export function childElements(e: Element, path: string): Element[] {
  const out: Element[] = [];
  for (const c of e.children) {
    if (isElement(c)) out.push(c);
    else if (typeof c === 'string' && c.trim() === '') continue;
    else failAt(path, `character data in <${e.name}>`);
  }
  return out;
}

/** The text of an element that holds text (OPAQUE read as UTF-8). */
export function textOf(e: Element, path: string): string {
  let s = '';
  for (const c of e.children) {
    if (typeof c === 'string') s += c;
    else if (c instanceof Uint8Array) s += new TextDecoder().decode(c);
    else failAt(path, `<${c.name}> inside <${e.name}>, which holds text`);
  }
  return s;
}
