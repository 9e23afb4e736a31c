/**
 * Property: any tree of valid SyncML / MetInf / DM DDF element names with text and OPAQUE leaves
 * survives encode -> decode unchanged (after the one normalisation WBXML imposes: adjacent strings are
 * one piece of character data and empty strings carry nothing), under every header option.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Child, type Document, type Element, type Namespace } from '../../main/protocol/element.js';
import { decodeWbxml, encodeWbxml, inspectWbxml, PUBLIC_ID_LITERAL, TAG_LIST } from '../../main/protocol/wbxml/index.js';

const NAMESPACES: Namespace[] = ['syncml', 'metinf', 'dmddf'];

/** Text WBXML can carry: no U+0000, no lone surrogates (fast-check's 'binary' unit yields whole code points). */
const text = fc
  .string({ unit: fc.oneof(fc.constant('a'), fc.constantFrom('é', 'ß', '名', '😀', '\n', '&', '<', ' '), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 12 })
  .map((t) => t.replace(/\u0000/g, ''));
const opaque = fc.uint8Array({ maxLength: 40 });

const element = (ns: Namespace, children: Child[]): fc.Arbitrary<Element> =>
  fc.constantFrom(...TAG_LIST[ns].map(([name]) => name)).map((name) => ({ ns, name, children }));

const tree = fc.letrec<{ node: Element; child: Child }>((tie) => ({
  node: fc
    .tuple(fc.constantFrom(...NAMESPACES), fc.array(tie('child'), { maxLength: 5 }))
    .chain(([ns, children]) => element(ns, children)),
  child: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, opaque, tie('node')),
})).node;

/** What the decoder gives back for a tree: adjacent strings merged, empty strings dropped. */
function normalise(e: Element): Element {
  const children: Child[] = [];
  for (const c of e.children) {
    if (typeof c === 'string') {
      if (c === '') continue;
      const last = children[children.length - 1];
      if (typeof last === 'string') children[children.length - 1] = last + c;
      else children.push(c);
    } else if (c instanceof Uint8Array) children.push(c);
    else children.push(normalise(c));
  }
  return { ns: e.ns, name: e.name, children };
}

const docOf = (root: Element): Document => ({
  info: { wbxmlVersion: 2, publicId: 0x1201, rootNamespaceUri: 'SYNCML:SYNCML1.2' },
  root,
});

describe('WBXML encode -> decode identity (fast-check)', () => {
  it('holds for arbitrary trees of valid names', () => {
    fc.assert(
      fc.property(tree, (root) => {
        const enc = encodeWbxml(docOf(root));
        expect(enc.ok).toBe(true);
        if (!enc.ok) return;
        const dec = decodeWbxml(enc.value, { maxDepth: 1000 });
        expect(dec.ok).toBe(true);
        if (!dec.ok) return;
        expect(dec.value.root).toEqual(normalise(root));
        // The inspector agrees on every byte.
        const ins = inspectWbxml(enc.value);
        expect(ins.ok).toBe(true);
        expect(ins.tokens.reduce((n, t) => n + t.length, 0)).toBe(enc.value.length);
      }),
      { numRuns: 2000, seed: 0x5eed },
    );
  });

  it('holds under every version, public id form and DDF embedding', () => {
    fc.assert(
      fc.property(
        tree,
        fc.constantFrom(1, 2, 3) as fc.Arbitrary<1 | 2 | 3>,
        fc.constantFrom<number | string>(0x1201, 0x0fd3, 0x0fd1, PUBLIC_ID_LITERAL.SYNCML_12, PUBLIC_ID_LITERAL.SYNCML_11),
        fc.constantFrom('inline', 'opaque') as fc.Arbitrary<'inline' | 'opaque'>,
        (root, version, publicId, ddf) => {
          const enc = encodeWbxml(docOf(root), { version, publicId, ddf });
          expect(enc.ok).toBe(true);
          if (!enc.ok) return;
          const dec = decodeWbxml(enc.value, { maxDepth: 1000 }, { embedded: 'expand' });
          expect(dec.ok).toBe(true);
          if (!dec.ok) return;
          expect(dec.value.info.wbxmlVersion).toBe(version);
          expect(dec.value.info.publicId).toBe(publicId);
          expect(dec.value.root).toEqual(normalise(root));
        },
      ),
      { numRuns: 1000, seed: 0xc0dec },
    );
  });
});
