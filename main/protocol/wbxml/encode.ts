/**
 * Document -> WBXML, matching libwbxml's `xml2wbxml -v 1.2 -n` byte for byte where the trees agree:
 * no string table (unless the public id is a literal), text as STR_I, bytes as OPAQUE, an element
 * with no children written without the content bit, and SWITCH_PAGE emitted lazily: the code page is
 * document-wide state, so it changes only right before a tag on another page, never on END
 * (a Meta's MetInf children leave the page at 1 until the next SyncML tag needs 0 again).
 */
import { fail, ok, type Result } from '../errors.js';
import { isElement, type Child, type Document, type Element } from '../element.js';
import { toCodecError } from './decode.js';
import { elementPath } from './path.js';
import { failure } from './primitives.js';
import { CHARSET, GLOBAL, PUBLIC_ID, PUBLIC_ID_LITERAL, TAG_CONTENT, TAG_TOKENS } from './tables.js';
import { ByteWriter } from '../byte-writer.js';

export interface WbxmlEncodeOptions {
  /** WBXML version byte: 1 = 1.1, 2 = 1.2 (default), 3 = 1.3. */
  version?: 1 | 2 | 3;
  /**
   * A number is written as mb_u_int32; a string as a string-table literal (public id 0, index 0).
   * Default: 0x1201 for SyncML 1.2 roots, 0x0FD3 for `SYNCML:SYNCML1.1`, 0x0FD1 for `SYNCML:SYNCML1.0`,
   * 0x1202 for a MetInf root, the literal `-//OMA//DTD-DM-DDF 1.2//EN` for a MgmtTree root.
   */
  publicId?: number | string;
  /**
   * How DM DDF (TNDS) elements inside SyncML are written: 'inline' (default) switches to code page 2;
   * 'opaque' writes each DDF subtree whose parent is not DDF as its own WBXML document (public id
   * `-//OMA//DTD-DM-DDF 1.2//EN`, its own code-page state) inside OPAQUE, as libwbxml does for
   * `<MgmtTree>` in `<Data>` (its decoder cannot read page 2 inside a SyncML 1.2 document).
   */
  ddf?: 'inline' | 'opaque';
}

/**
 * The options that reproduce a decoded document's header (version and public id as received).
 * WBXML 1.0 documents come back as 1.2: we do not write 1.0 (it has no charset field, and libwbxml's
 * own 1.0 output, which writes one anyway, is rejected by its own decoder).
 */
export function headerOptionsOf(info: Document['info']): WbxmlEncodeOptions {
  const v = info.wbxmlVersion;
  return { version: v === 1 || v === 3 ? v : 2, publicId: info.publicId };
}

export function encodeWbxml(doc: Document, opts?: WbxmlEncodeOptions): Result<Uint8Array> {
  try {
    const w = new ByteWriter(true);
    const version = opts?.version ?? 2;
    if (version !== 1 && version !== 2 && version !== 3) {
      throw failure('unsupported', `cannot write WBXML version option ${String(version)}`, undefined);
    }
    writeDocument(w, doc.root, version, opts?.publicId ?? defaultPublicId(doc), opts?.ddf === 'opaque');
    return ok(w.result());
  } catch (e) {
    return fail(toCodecError(e, false));
  }
}

export function defaultPublicId(doc: Document): number | string {
  switch (doc.root?.ns) {
    case 'metinf':
      return PUBLIC_ID.METINF_12;
    case 'dmddf':
      return PUBLIC_ID_LITERAL.DMDDF_12;
    default: {
      const uri = doc.info?.rootNamespaceUri?.toUpperCase();
      if (uri === 'SYNCML:SYNCML1.1') return PUBLIC_ID.SYNCML_11;
      if (uri === 'SYNCML:SYNCML1.0') return PUBLIC_ID.SYNCML_10;
      return PUBLIC_ID.SYNCML_12;
    }
  }
}

function writeDocument(w: ByteWriter, root: Element, version: number, publicId: number | string, ddfOpaque: boolean): void {
  w.byte(version);
  if (typeof publicId === 'number') {
    if (!Number.isInteger(publicId) || publicId < 1 || publicId > 0xffffffff) {
      throw failure('unsupported', `public id ${publicId} is not a positive 32-bit integer`, undefined);
    }
    w.mbUint(publicId);
    w.byte(CHARSET.UTF_8);
    w.byte(0); // empty string table
  } else {
    w.byte(0); // public id in the string table...
    w.byte(0); // ...at index 0
    w.byte(CHARSET.UTF_8);
    const tbl = new ByteWriter(false);
    tbl.cString(publicId, undefined, () => undefined);
    w.mbUint(tbl.pos);
    w.bytes(tbl.buf.subarray(0, tbl.pos));
  }
  writeBody(w, root, version, ddfOpaque);
}

const SYNCML_TOKENS = TAG_TOKENS.syncml;
const METINF_TOKENS = TAG_TOKENS.metinf;
const DMDDF_TOKENS = TAG_TOKENS.dmddf;

/** Depth-first with an explicit stack: a caller-built tree of any depth cannot overflow the JS stack. */
function writeBody(w: ByteWriter, root: Element, version: number, ddfOpaque: boolean): void {
  // Parallel arrays rather than frame objects: no allocation per element.
  const open: Element[] = [];
  const nextChild: number[] = [];
  let page = 0;
  const path = (): string | undefined => elementPath(open);

  if (root === null || typeof root !== 'object' || !isElement(root)) {
    throw failure('unexpected-content', 'the document has no root element', undefined);
  }
  let el: Element | undefined = root;
  for (;;) {
    if (el !== undefined) {
      // Start tag of `el`, switching code page first if it lives on another one.
      // Comparisons against the interned namespace names beat a keyed property load here.
      const ns = el.ns;
      const tokens = ns === 'syncml' ? SYNCML_TOKENS : ns === 'metinf' ? METINF_TOKENS : ns === 'dmddf' ? DMDDF_TOKENS : undefined;
      if (tokens === undefined) {
        throw failure('unknown-namespace', `element ${String(el.name)} has namespace ${String(el.ns)}, which has no WBXML code page`, undefined, pathWith(open, el));
      }
      const tok = tokens.get(el.name);
      if (tok === undefined) {
        throw failure('unknown-element', `<${String(el.name)}> has no WBXML token in namespace ${el.ns}`, undefined, pathWith(open, el));
      }
      const elPage = ns === 'syncml' ? 0 : ns === 'metinf' ? 1 : 2;
      if (elPage !== page) {
        w.byte(GLOBAL.SWITCH_PAGE);
        w.byte(elPage);
        page = elPage;
      }
      const children = el.children;
      if (!Array.isArray(children)) {
        throw failure('unexpected-content', `<${el.name}> has no children array`, undefined, pathWith(open, el));
      }
      if (hasContent(children)) {
        w.byte(tok | TAG_CONTENT);
        open.push(el);
        nextChild.push(0);
      } else {
        w.byte(tok);
      }
      el = undefined;
    }
    const top = open.length - 1;
    if (top < 0) return;
    const parent = open[top]!;
    const children = parent.children;
    const i = nextChild[top]!;
    if (i >= children.length) {
      w.byte(GLOBAL.END);
      open.pop();
      nextChild.pop();
      continue;
    }
    nextChild[top] = i + 1;
    const c: Child = children[i]!;
    if (typeof c === 'string') {
      if (c.length === 0) continue; // nothing to say; hasContent() ignored it too
      w.byte(GLOBAL.STR_I);
      w.cString(c, undefined, path);
    } else if (c instanceof Uint8Array) {
      writeOpaque(w, c);
    } else if (c !== null && typeof c === 'object' && typeof c.name === 'string') {
      if (ddfOpaque && c.ns === 'dmddf' && parent.ns !== 'dmddf') {
        // libwbxml's embedding: the DDF subtree as a separate document, public id literal, own page state.
        const inner = new ByteWriter(false);
        writeDocument(inner, c, version, PUBLIC_ID_LITERAL.DMDDF_12, false);
        writeOpaque(w, inner.buf.subarray(0, inner.pos));
      } else {
        el = c;
      }
    } else {
      throw failure('unexpected-content', `a child of <${parent.name}> is neither an element, a string nor bytes`, undefined, path());
    }
  }
}

function pathWith(open: readonly Element[], el: Element): string | undefined {
  return elementPath([...open, el]);
}

function writeOpaque(w: ByteWriter, b: Uint8Array): void {
  w.byte(GLOBAL.OPAQUE);
  w.mbUint(b.length);
  w.bytes(b);
}

/** Empty strings carry nothing, so an element whose only children are '' is written like `<X/>`. */
function hasContent(children: readonly Child[]): boolean {
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (typeof c !== 'string' || c.length > 0) return true;
  }
  return false;
}
