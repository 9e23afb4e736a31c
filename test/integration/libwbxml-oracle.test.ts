/**
 * Conformance against libwbxml (Debian libwbxml2-utils), an encoder/decoder nobody here wrote:
 *  - what `xml2wbxml -v 1.2 -n` writes, our decoder reads as the same document;
 *  - what our encoder writes, `wbxml2xml` reads as the same document;
 *  - for documents libwbxml encodes without its own rewrites, our bytes equal its bytes.
 * "Same document" is compared in canonical form: element names, namespaces and character data as bytes.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeWbxml } from '../../main/protocol/wbxml/index.js';
import { documentFromWbxml, wbxmlFromDocument } from '../../main/protocol/codec.js';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { serializeXml } from '../../main/protocol/xml/serialize.js';
import { decodeBinaryItems } from '../../main/protocol/binary.js';
import { isElement, type Document, type Element } from '../../main/protocol/element.js';
import { canonicalTree, treeFromLibwbxmlXml } from '../helpers/canonical.js';
import { CORPUS_DIR, VECTORS_DIR, requireTools, run } from '../helpers/tools.js';

const enabled = requireTools('libwbxml oracle', 'xml2wbxml', 'wbxml2xml');
const tmp = mkdtempSync(path.join(tmpdir(), 'dmw-oracle-'));

const xmlSources = [
  ...readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(CORPUS_DIR, f)),
  ...readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(VECTORS_DIR, f)),
];
const wbxmlVectors = readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.wbxml')).map((f) => path.join(VECTORS_DIR, f));

function ours(xmlText: string): Document {
  const d = parseXml(xmlText);
  if (!d.ok) throw new Error(JSON.stringify(d.error));
  return d.value;
}

/** libwbxml cannot read a bare `&`; give it our well-formed rendering of the same document. */
function wellFormedSource(file: string): string {
  const text = readFileSync(file, 'utf8');
  const doc = ours(text);
  return doc.info.warnings ? serializeXml(doc) : text;
}

function hasAddReplaceData(e: Element): boolean {
  return e.children.some((c) => isElement(c) && (((c.name === 'Add' || c.name === 'Replace') && c.children.some((i) => isElement(i) && i.name === 'Item' && i.children.some((d) => isElement(d) && d.name === 'Data' && d.children.length > 0))) || hasAddReplaceData(c)));
}

function xml2wbxml(xmlText: string): Buffer {
  const src = path.join(tmp, 'in.xml');
  const out = path.join(tmp, 'out.wbxml');
  writeFileSync(src, xmlText);
  run('xml2wbxml', ['-v', '1.2', '-n', '-o', out, src]);
  return readFileSync(out);
}

function wbxml2xml(bytes: Uint8Array): Buffer {
  const src = path.join(tmp, 'in.wbxml');
  writeFileSync(src, bytes);
  return run('wbxml2xml', ['-m', '0', '-o', '-', src]);
}

describe.runIf(enabled)('libwbxml agrees with our codec', () => {
  it.each(xmlSources)('xml2wbxml output of %s decodes to the same document', (file) => {
    const text = wellFormedSource(file);
    const theirs = documentFromWbxml(xml2wbxml(text));
    if (!theirs.ok) throw new Error(JSON.stringify(theirs.error));
    expect(canonicalTree(theirs.value.root)).toBe(canonicalTree(ours(text).root));
  });

  it.each(xmlSources)('our WBXML for %s reads back through wbxml2xml as the same document', (file) => {
    const doc = ours(wellFormedSource(file));
    decodeBinaryItems(doc.root); // bin items become OPAQUE bytes, as on the wire
    const bytes = wbxmlFromDocument(doc);
    if (!bytes.ok) throw new Error(JSON.stringify(bytes.error));
    expect(canonicalTree(treeFromLibwbxmlXml(wbxml2xml(bytes.value)))).toBe(canonicalTree(doc.root));
  });

  it.each(wbxmlVectors)('%s: wbxml2xml and our decoder read the same document', (file) => {
    const bytes = readFileSync(file);
    const d = decodeWbxml(bytes);
    if (!d.ok) throw new Error(JSON.stringify(d.error));
    expect(canonicalTree(d.value.root)).toBe(canonicalTree(treeFromLibwbxmlXml(wbxml2xml(bytes))));
  });

  it('writes byte-identical WBXML to xml2wbxml where libwbxml applies no rewrite of its own', () => {
    const identical: string[] = [];
    for (const file of xmlSources) {
      const text = wellFormedSource(file);
      const doc = ours(text);
      // libwbxml writes CDATA, Data with surrounding blanks, and any Data of an Add/Replace Item as
      // OPAQUE (its "vObject" heuristic); those documents are compared as documents above, not as bytes.
      if (/<!\[CDATA\[|<Data>\s|\s<\/Data>/.test(text) || hasAddReplaceData(doc.root)) continue;
      const mine = wbxmlFromDocument(doc);
      if (!mine.ok) throw new Error(JSON.stringify(mine.error));
      expect(Buffer.from(mine.value).toString('hex'), file).toBe(xml2wbxml(text).toString('hex'));
      identical.push(path.basename(file));
    }
    expect(identical.sort()).toEqual(['client-results.xml', 'syncml11-meta-all.xml', 'testalertconfirm.xml', 'testalertdisplay.xml', 'testalertmultiplechoice.xml', 'testalertsinglechoice.xml', 'testalerttextinput.xml', 'testexecscript.xml', 'testexecscript2.xml', 'testgetscript.xml', 'tnds-document.xml']);
  });
});
