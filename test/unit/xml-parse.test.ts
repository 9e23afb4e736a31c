import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { serializeXml } from '../../main/protocol/xml/serialize.js';
import { isElement, type Element } from '../../main/protocol/element.js';
import { canonicalTree } from '../helpers/canonical.js';
import { CORPUS_DIR, VECTORS_DIR } from '../helpers/tools.js';

const xmlFiles = [
  ...readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(CORPUS_DIR, f)),
  ...readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.xml')).map((f) => path.join(VECTORS_DIR, f)),
];

function parseOk(text: string) {
  const r = parseXml(text);
  if (!r.ok) throw new Error(`unexpected error: ${JSON.stringify(r.error)}`);
  return r.value;
}

function find(e: Element, name: string): Element | undefined {
  for (const c of e.children) {
    if (!isElement(c)) continue;
    if (c.name === name) return c;
    const f = find(c, name);
    if (f) return f;
  }
  return undefined;
}

const MIN = (body: string, q = '"') =>
  `<SyncML xmlns=${q}SYNCML:SYNCML1.2${q}><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody>${body}</SyncBody></SyncML>`;

describe('XML reader', () => {
  it.each(xmlFiles)('reads %s and re-reads its own output identically', (file) => {
    const doc = parseOk(readFileSync(file, 'utf8'));
    const again = parseOk(serializeXml(doc));
    expect(canonicalTree(again.root)).toBe(canonicalTree(doc.root));
    const compact = parseOk(serializeXml(doc, { pretty: false }));
    expect(canonicalTree(compact.root)).toBe(canonicalTree(doc.root));
  });

  it('accepts single and double quotes, with or without declaration and DOCTYPE', () => {
    const a = parseOk(MIN('<Final/>', "'"));
    const b = parseOk(`<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V1_2.dtd">\n${MIN('<Final/>')}`);
    expect(canonicalTree(a.root)).toBe(canonicalTree(b.root));
    expect(b.info.hadDoctype).toBe(true);
    expect(a.info.rootNamespaceUri).toBe('SYNCML:SYNCML1.2');
  });

  it('keeps Data text verbatim, merges CDATA, expands predefined and numeric entities, trims other text', () => {
    const doc = parseOk(MIN('<Alert><CmdID> 7 </CmdID><Item><Data>  a &lt;&amp;&gt; <![CDATA[<x>&]]>&#65;&#x42; </Data></Item></Alert>'));
    expect(find(doc.root, 'CmdID')!.children).toEqual(['7']);
    expect(find(doc.root, 'Data')!.children).toEqual(['  a <&> <x>&AB ']);
  });

  it('places MetInf children written without their namespace in MetInf', () => {
    const doc = parseOk(MIN('<Get><CmdID>1</CmdID><Meta><Format>chr</Format><Type>text/plain</Type></Meta><Item><Target><LocURI>./a</LocURI></Target></Item></Get>'));
    expect(find(doc.root, 'Format')!.ns).toBe('metinf');
    expect(find(doc.root, 'Type')!.ns).toBe('metinf');
  });

  it('reads prefixed namespaces', () => {
    const doc = parseOk(MIN('<Get xmlns:m="syncml:metinf"><CmdID>1</CmdID><Meta><m:Format>chr</m:Format></Meta><Item><Target><LocURI>./a</LocURI></Target></Item></Get>'));
    expect(find(doc.root, 'Format')!.ns).toBe('metinf');
  });

  it('takes a bare & as a literal & (Android engine packages) and says so', () => {
    const doc = parseOk(readFileSync(path.join(VECTORS_DIR, 'testalertconfirm.xml'), 'utf8'));
    const datas: string[] = [];
    const walk = (e: Element) => e.children.forEach((c) => { if (isElement(c)) { if (c.name === 'Data' && typeof c.children[0] === 'string') datas.push(c.children[0]); walk(c); } });
    walk(doc.root);
    expect(datas).toContain('MAXDT=15&DR=1');
    expect(doc.info.warnings?.[0]).toMatch(/bare '&'.*line 24:/);
  });

  it('refuses entities declared in a DTD and never expands them', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE SyncML [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${MIN('<Alert><CmdID>1</CmdID><Data>&b;</Data></Alert>')}`;
    const r = parseXml(bomb);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('xml-entity');
  });

  it('never reads external entities', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE SyncML [<!ENTITY x SYSTEM "file:///etc/hostname">]>${MIN('<Alert><CmdID>1</CmdID><Data>&x;</Data></Alert>')}`;
    const r = parseXml(xxe);
    expect(r.ok).toBe(false);
    const xxe2 = MIN('<Alert><CmdID>1</CmdID><Data>&x;</Data></Alert>');
    const r2 = parseXml(xxe2);
    expect(r2.ok).toBe(false);
    if (!r2.ok) {
      expect(r2.error.code).toBe('xml-entity');
      expect(r2.error.line).toBe(1);
      expect(r2.error.path).toBe('SyncML/SyncBody/Alert/Data');
    }
  });

  it('reports malformed XML with line and column', () => {
    const r = parseXml('<SyncML xmlns="SYNCML:SYNCML1.2">\n  <SyncHdr>\n  </SyncBody>\n</SyncML>');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('xml-syntax');
      expect(r.error.line).toBe(3);
      expect(r.error.column).toBeGreaterThan(1);
    }
  });

  it('bounds depth, size and element count', () => {
    const deep = `${'<Atomic>'.repeat(100_000)}${'</Atomic>'.repeat(100_000)}`;
    const r = parseXml(MIN(deep));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('limit-exceeded');
    const big = parseXml(MIN('<Final/>'), { maxChars: 20 });
    expect(big.ok).toBe(false);
    const many = parseXml(MIN('<Final/>'.repeat(50)), { maxElements: 10 });
    expect(many.ok).toBe(false);
  });

  it('rejects unknown namespaces and attributes', () => {
    const ns = parseXml('<SyncML xmlns="urn:other"><SyncHdr/></SyncML>');
    expect(ns.ok || ns.error.code).toBe('unknown-namespace');
    const attr = parseXml(MIN('<Final x="1"/>'));
    expect(attr.ok || attr.error.code).toBe('unexpected-content');
  });

  it('turns no input, text only or trailing garbage into errors', () => {
    for (const bad of ['', 'hello', MIN('<Final/>') + '<extra/>', '<SyncML']) {
      const r = parseXml(bad);
      expect(r.ok, bad).toBe(false);
    }
  });
});
