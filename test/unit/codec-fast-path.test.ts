/**
 * The streaming fast paths of the straight conversions (xmlToWbxml, wbxmlToXml) against the tree
 * paths they stand in for: on every input either the fast path gives up (undefined) or it returns
 * exactly the bytes the tree path returns, and it never accepts what the tree path refuses (so every
 * error still comes from the tree path, position included). Checked on the corpus, on hand-made
 * corner cases of the rules the fast paths re-implement (binary Items, trimming, references, empty
 * elements, namespaces), and on seeded mutations of all of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wbxmlToXml, wbxmlToXmlByTree, xmlToWbxml, xmlToWbxmlByTree } from '../../main/protocol/convert.js';
import { xmlToWbxmlFast } from '../../main/protocol/xml/stream-to-wbxml.js';
import { wbxmlToXmlFast } from '../../main/protocol/wbxml/stream-to-xml.js';
import { encodeWbxml } from '../../main/protocol/wbxml/index.js';
import { el, type Child } from '../../main/protocol/element.js';
import { mutateBytes, mutateLeaves, mutateText, prng, rng } from '../helpers/fuzz.js';
import { ANDROID_TESTADD, BENCH_FIXTURE_DIR, GENERATED_FIXTURES, REPO_ROOT } from '../bench/fixtures.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
const files = (dir: string, ext: string): string[] =>
  readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => path.join(dir, f));

const CORPUS_XML = [...files(path.join(FIXTURES, 'corpus'), '.xml'), ...files(BENCH_FIXTURE_DIR, '.xml'), ...files(path.join(FIXTURES, 'android-dm12'), '.xml')];
const CORPUS_WBXML = [...files(BENCH_FIXTURE_DIR, '.wbxml'), ...files(path.join(FIXTURES, 'android-dm12'), '.wbxml')];

const S = 'xmlns="SYNCML:SYNCML1.2"';
const hdr = '<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID></SyncHdr>';
const doc = (body: string, rootAttrs = S): string => `<?xml version="1.0" encoding="UTF-8"?>\n<SyncML ${rootAttrs}>${hdr}<SyncBody>${body}<Final/></SyncBody></SyncML>`;
const item = (inner: string): string => doc(`<Replace><CmdID>1</CmdID><Item>${inner}</Item></Replace>`);
const fmt = (f: string): string => `<Meta><Format xmlns="syncml:metinf">${f}</Format></Meta>`;

const LONG = 'QUJDRA=='.repeat(40);

/** XML written to hit the rules the encoder's fast path re-implements. */
const XML_CASES: string[] = [
  item(`${fmt('bin')}<Data>AAECAw==</Data>`),
  item(`${fmt(' bin ')}<Data>\n  AAEC\n  Aw==\n</Data>`),
  item(`${fmt('bin')}<Data>not base64!</Data>`),
  item(`${fmt('bin')}<Data>   </Data>`),
  item(`${fmt('bin')}<Data></Data>`),
  item(`${fmt('bin')}<Data/>`),
  item(`<Data>AAECAw==</Data>${fmt('bin')}`), // Data before the Meta that makes it binary
  item(`<Meta/>${fmt('bin')}<Data>AAECAw==</Data>`),
  item(`<Meta><Format xmlns="syncml:metinf"></Format></Meta>${fmt('bin')}<Data>AAECAw==</Data>`),
  item(`${fmt('chr')}${fmt('bin')}<Data>AAECAw==</Data>`),
  item(`<Meta><Format>bin</Format></Meta><Data>AAECAw==</Data>`), // MetInf child without its namespace
  item(`${fmt('b&#105;n')}<Data>AAECAw==</Data>`),
  item(`${fmt('bin')}<Data>AAEC&#x41;w==</Data>`),
  item(`${fmt('bin')}<Data><CmdID>1</CmdID></Data>`),
  item(`${fmt('bin')}<Data>AA<CmdID>1</CmdID></Data>`),
  doc('<Alert><CmdID>  1  </CmdID><Data>  spaced  </Data></Alert>'),
  doc('<Alert><CmdID>&#32;1</CmdID><Data>x</Data></Alert>'),
  doc('<Alert><CmdID>1&#32;</CmdID><Data>&#9;x&#10;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>line1\r\nline2\rline3&#13;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>caf\u00e9 \u6587\u5b57 \ud83d\ude00</Data></Alert>'),
  doc('<Alert><CmdID>\u00a01\u00a0</CmdID><Data>\u00a0</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>&#xE9;&#233;&#x1F600;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>]]&gt; ok</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>]]> bad</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>\u0001</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>&#1;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>&bogus;</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>a & b</Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID><Data>\t\n </Data><Data> <CmdRef>2</CmdRef> </Data></Alert>'),
  doc('<Alert><CmdID>1</CmdID>text beside<Data>x</Data>and after</Alert>'),
  doc('<Alert><CmdID></CmdID><Data>  </Data><NoResp/><NoResp></NoResp><NoResp>  </NoResp></Alert>'),
  doc('<Get><CmdID>1</CmdID><Meta><Type>text/plain</Type><MaxObjSize>9</MaxObjSize></Meta><Item><Target><LocURI>./a</LocURI></Target></Item></Get>'),
  doc('<Get><CmdID>1</CmdID><Meta><MetInf xmlns="syncml:metinf"><MaxMsgSize>1</MaxMsgSize></MetInf></Meta></Get>'),
  doc('<Get ><CmdID\n>1</CmdID ><Item\t/></Get>'),
  doc("<Get><CmdID xmlns = 'SYNCML:SYNCML1.2' >1</CmdID></Get>"),
  doc('<Get><CmdID xmlns="syncml:SYNCML1.2">1</CmdID></Get>'),
  doc('<Get><CmdID xmlns="urn:other">1</CmdID></Get>'),
  doc('<Get><CmdID a="1">1</CmdID></Get>'),
  doc('<Get><dm:CmdID xmlns:dm="SYNCML:SYNCML1.2">1</dm:CmdID></Get>'),
  doc('<Get><CmdID>1</CmdId></Get>'),
  doc('<Get><CmdID>1<!-- c --></CmdID></Get>'),
  doc('<Get><CmdID><![CDATA[1]]></CmdID></Get>'),
  doc('<Get><Unknown>1</Unknown></Get>'),
  doc('<Get><CmdID>1</CmdID></Get>', 'xmlns="SYNCML:SYNCML1.1"'),
  doc('<Get><CmdID>1</CmdID></Get>', 'xmlns="syncml:syncml1.1"'),
  doc('<Get><CmdID>1</CmdID></Get>', ''),
  // Long runs (> 256 characters) take the native path: line-wrapped, trimmed, and each thing it hands back.
  doc(`<Alert><CmdID>1</CmdID><Data>${LONG}\n${LONG}\n</Data></Alert>`),
  doc(`<Alert><CmdID>  ${LONG}\t\n</CmdID><Data>\t${LONG}\u0001</Data></Alert>`),
  doc(`<Alert><CmdID>1</CmdID><Data>${LONG}\u0000${LONG}</Data></Alert>`),
  doc(`<Alert><CmdID>1</CmdID><Data>${LONG}\u00e9\u00a0</Data><Data>${LONG}&amp;</Data><Data>${LONG}\r\n</Data><Data>${LONG}]]></Data></Alert>`),
  doc(`<Alert><CmdID>\u00a0${LONG}\u00a0</CmdID><Data>\ud83d\ude00${LONG}</Data><Data>${LONG}\ud800</Data><Data>${LONG}\ufffe</Data></Alert>`),
  // Nesting at and past the depth limit (64, the root counting as 1).
  doc(`${'<Sequence>'.repeat(61)}${'</Sequence>'.repeat(61)}`),
  doc(`${'<Sequence>'.repeat(62)}${'</Sequence>'.repeat(62)}`),
  doc(`${'<Sequence>'.repeat(70)}${'</Sequence>'.repeat(70)}`),
  `<SyncML ${S}/>`,
  `  <SyncML ${S}></SyncML>  \n`,
  `<SyncML ${S}></SyncML><SyncML ${S}></SyncML>`,
  `<SyncML ${S}></SyncML>trailing`,
  `<SyncML ${S}><SyncHdr>`,
  `<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" "x.dtd"><SyncML ${S}></SyncML>`,
  `<!DOCTYPE SyncML [<!ENTITY x "y">]><SyncML ${S}></SyncML>`,
  `<?xml version="1.0"?><?pi x?><SyncML ${S}></SyncML>`,
  ` <?xml version="1.0"?><SyncML ${S}></SyncML>`,
  `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD></MgmtTree>`,
  `<MetInf xmlns="syncml:metinf"><Size>1</Size></MetInf>`,
];

/** WBXML written to hit the rules the decoder's fast path re-implements. */
function wbxmlCases(): Uint8Array[] {
  const s = (name: string, children: Child[] = []) => el('syncml', name, children);
  const m = (name: string, children: Child[] = []) => el('metinf', name, children);
  const info = { wbxmlVersion: 2, publicId: 0x1201, rootNamespaceUri: 'SYNCML:SYNCML1.2' };
  const wrap = (...items: Child[]) => s('SyncML', [s('SyncHdr', [s('VerDTD', ['1.2'])]), s('SyncBody', [s('Replace', [s('CmdID', ['1']), ...items]), s('Final')])]);
  const bytes = new Uint8Array([0, 1, 0x3c, 0x26, 0xff, 0x0d]);
  const big = Uint8Array.from({ length: 5000 }, (_, i) => 0x41 + (i % 26));
  const trees = [
    wrap(s('Item', [s('Meta', [m('Format', ['bin'])]), s('Data', [bytes])])),
    wrap(s('Item', [s('Meta', [m('Format', [' bin '])]), s('Data', [new TextEncoder().encode('plain text')])])),
    wrap(s('Item', [s('Data', [bytes]), s('Meta', [m('Format', ['bin'])])])),
    wrap(s('Item', [s('Meta', [bytes, m('Format', ['bin'])]), s('Data', [bytes])])),
    wrap(s('Item', [s('Meta', [m('Format', [bytes, 'bin'])]), s('Data', [bytes])])),
    wrap(s('Item', [s('Meta', [m('Format', ['chr'])]), s('Meta', [m('Format', ['bin'])]), s('Data', [bytes])])),
    wrap(s('Item', [s('Meta', [m('Format', [])]), s('Meta', [m('Format', ['bin'])]), s('Data', [bytes])])),
    wrap(s('Item', [s('Meta', [m('Format', ['b', 'in'])]), s('Data', [new Uint8Array(0)])])),
    wrap(s('Item', [bytes, s('Data', [new TextEncoder().encode('a<b&c>d\r')])])),
    wrap(s('Item', [s('Data', ['a<b&c>d\r\n\t', 'caf\u00e9 \ud83d\ude00'])])),
    wrap(s('Item', [s('Data', ['\u0001'])])),
    wrap(s('Item', [s('Data', ['']), s('Target', [s('LocURI', [''])])])),
    wrap(s('Alert', [s('Data', ['x']), 'between', s('NoResp')])),
    wrap(s('Atomic', [s('Meta', [m('MetInf', [m('MaxMsgSize', ['1'])])]), s('CmdID', ['2'])])),
    wrap(s('Add', [s('Item', [s('Data', [el('dmddf', 'MgmtTree', [el('dmddf', 'VerDTD', ['1.2'])])])])])),
    // Large plain OPAQUE goes into the result directly; twice, with markup between and after.
    wrap(s('Item', [s('Data', [big])]), s('Item', [s('Data', [big.subarray(0, 4096)]), s('Meta', [m('Size', ['5000'])])]), s('Item', [s('Data', [big.subarray(0, 4095)])])),
    wrap(s('Item', [s('Meta', [m('Format', ['bin'])]), s('Data', [big])])),
  ];
  // Nesting at and past the depth limit (64, the root counting as 1).
  const nest = (d: number): Child => (d === 0 ? s('CmdID', ['1']) : s('Sequence', [nest(d - 1)]));
  trees.push(wrap(nest(59)), wrap(nest(60)), wrap(nest(70)));
  const out: Uint8Array[] = [];
  for (const t of trees) {
    for (const opts of [{}, { ddf: 'opaque' as const }, { publicId: '-//SYNCML//DTD SyncML 1.2//EN' }, { version: 1 as const, publicId: 0x0fd3 }]) {
      const r = encodeWbxml({ info, root: t }, opts);
      if (r.ok) out.push(r.value);
    }
  }
  // Tokens no encoder writes: ENTITY, STR_T, LITERAL, an attribute bit, a charset other than UTF-8.
  const head = [0x02, 0xa4, 0x01, 0x6a];
  out.push(
    Uint8Array.from([...head, 0x00, 0x6d, 0x6c, 0x71, 0x03, 0x31, 0x00, 0x02, 0x26, 0x02, 0xe9, 0x02, 0x01, 0x01, 0x01, 0x01]),
    Uint8Array.from([...head.slice(0, 3), 0x6a, 0x04, 0x61, 0x62, 0x00, 0x00, 0x6d, 0x6c, 0x71, 0x83, 0x00, 0x83, 0x02, 0x01, 0x01, 0x01]),
    Uint8Array.from([...head, 0x00, 0x6d, 0x6c, 0x44, 0x00, 0x01, 0x01, 0x01]),
    Uint8Array.from([...head, 0x00, 0xed, 0x01]),
    Uint8Array.from([0x02, 0xa4, 0x01, 0x04, 0x00, 0x6d, 0x6c, 0x71, 0x03, 0xe9, 0x00, 0x01, 0x01, 0x01]),
    Uint8Array.from([...head, 0x00, 0x6d, 0x6c, 0x71, 0x03, 0xc3, 0xa9, 0x00, 0x03, 0xff, 0x00, 0x01, 0x01, 0x01]),
    Uint8Array.from([...head, 0x00, 0x2d, 0x00]),
  );
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** '' when the fast path agrees with the tree path (or gives up); else what differs. */
function checkEncode(text: string): string {
  const fast = xmlToWbxmlFast(text);
  if (fast === undefined) return '';
  const tree = xmlToWbxmlByTree(text);
  if (!tree.ok) return `fast path accepted what the tree path refuses (${tree.error.message})`;
  return sameBytes(fast, tree.value) ? '' : `bytes differ: fast ${Buffer.from(fast).toString('hex')} tree ${Buffer.from(tree.value).toString('hex')}`;
}

function checkDecode(bytes: Uint8Array): string {
  const fast = wbxmlToXmlFast(bytes);
  if (fast === undefined) return '';
  const tree = wbxmlToXmlByTree(bytes);
  if (!tree.ok) return `fast path accepted what the tree path refuses (${tree.error.message})`;
  return sameBytes(fast, tree.value) ? '' : `XML differs:\nfast ${Buffer.from(fast).toString()}\ntree ${Buffer.from(tree.value).toString()}`;
}

const XML_TOKENS = [
  '<', '>', '/>', '</', '&', '&amp;', '&lt;', '&#13;', '&#x20;', '&#32;', '&#233;', '&#0;', '&x;', ';', ' ', '\t', '\r\n', '\r', '\n',
  '<![CDATA[x]]>', ']]>', '<!-- c -->', '<?pi x?>', '"', "'", '=', ':', 'xmlns="syncml:metinf"', 'xmlns="SYNCML:SYNCML1.1"',
  ' xmlns="syncml:dmddf1.2"', '<Meta>', '</Meta>', '<Format>bin</Format>', '<Format xmlns="syncml:metinf">bin</Format>',
  '<Data>', '</Data>', '<Data/>', '<Item>', '</Item>', '<CmdID>1</CmdID>', '<MgmtTree>', 'bin', 'AAECAw==', '\u00e9', '\u00a0',
  '\ud83d\ude00', '\u0001', '\ufffe',
];
/** Leaf values that exercise the fast paths' rules (format, base64, trimming, references, non-ASCII). */
const LEAF_VALUES = [
  'bin', ' bin ', 'b64', 'chr', 'AAECAw==', ' AAEC Aw== ', 'not base64', '', '  ', '\t\n', 'a &amp; b', '&lt;x&gt;', '&#32;x', 'x&#32;',
  '&#x41;', '&#13;', 'line\r\nline', 'caf\u00e9', '\u00a0x\u00a0', '\ud83d\ude00', ']]&gt;', '1', 'SYNCML:SYNCML1.2', './a/b?c=d',
  '<CmdID>1</CmdID>', '<Format xmlns="syncml:metinf">bin</Format>',
];
const WBXML_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x44, 0x80, 0x83, 0x84, 0xc0, 0xc3, 0xc4, 0x54, 0x5a, 0x4f, 0x47, 0x14, 0x1a, 0x0f, 0x26, 0x3c, 0x0d, 0x62, 0x69, 0x6e, 0x7f, 0xc3, 0xa9, 0xff];

describe('codec fast paths agree with the tree paths', () => {
  const xmlSeeds = [...CORPUS_XML.map((f) => readFileSync(f, 'utf8')), ...XML_CASES];
  const wbxmlSeeds = [...CORPUS_WBXML.map((f) => new Uint8Array(readFileSync(f))), ...wbxmlCases()];
  for (const x of xmlSeeds) {
    const r = xmlToWbxmlByTree(x);
    if (r.ok) wbxmlSeeds.push(r.value);
  }

  it('the bench files take the fast paths, both directions', () => {
    for (const f of [...GENERATED_FIXTURES]) {
      expect(xmlToWbxmlFast(readFileSync(f.xmlPath, 'utf8')), f.id).toBeDefined();
      expect(wbxmlToXmlFast(new Uint8Array(readFileSync(f.wbxmlPath))), f.id).toBeDefined();
    }
    expect(wbxmlToXmlFast(new Uint8Array(readFileSync(ANDROID_TESTADD.wbxmlPath)))).toBeDefined();
    const androidXml = wbxmlToXml(new Uint8Array(readFileSync(ANDROID_TESTADD.wbxmlPath)));
    expect(androidXml.ok).toBe(true);
    // What `wbxml2xml -m 0` makes of the vector begins with a DOCTYPE; the fast path reads past it.
    const withDoctype = `<?xml version="1.0"?><!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.1//EN" "http://www.syncml.org/docs/syncml_represent_v11_20020213.dtd">${Buffer.from((androidXml as { value: Uint8Array }).value).toString().replace(/^<\?xml[^>]*>/, '')}`;
    expect(xmlToWbxmlFast(withDoctype)).toBeDefined();
  });

  it('on the corpus and the hand-made corner cases', () => {
    for (const [i, x] of xmlSeeds.entries()) expect(checkEncode(x), `XML seed ${i}: ${x.slice(0, 300)}`).toBe('');
    for (const [i, b] of wbxmlSeeds.entries()) expect(checkDecode(b), `WBXML seed ${i}: ${Buffer.from(b).toString('hex')}`).toBe('');
  });

  it('the conversions return the tree path\'s result, errors included, where the fast path gives up', () => {
    for (const x of xmlSeeds) {
      if (xmlToWbxmlFast(x) !== undefined) continue;
      expect(xmlToWbxml(x)).toEqual(xmlToWbxmlByTree(x));
    }
    for (const b of wbxmlSeeds) {
      if (wbxmlToXmlFast(b) !== undefined) continue;
      expect(wbxmlToXml(b)).toEqual(wbxmlToXmlByTree(b));
    }
  });

  it('on 10,000 mutated XML documents and 10,000 mutated WBXML documents', () => {
    const rnd = prng(20261207);
    let fastTaken = 0;
    for (let i = 0; i < 10_000; i++) {
      const src = xmlSeeds[Math.floor(rnd() * xmlSeeds.length)]!;
      const x = mutateText(src, xmlSeeds, rnd, XML_TOKENS);
      const problem = checkEncode(x);
      if (problem) expect.fail(`XML iteration ${i}: ${problem}\ninput: ${JSON.stringify(x)}`);
      if (xmlToWbxmlFast(x) !== undefined) fastTaken++;
    }
    // Most mutations break the document; some must still reach the fast path, or this proves little.
    expect(fastTaken).toBeGreaterThan(200);
    fastTaken = 0;
    for (let i = 0; i < 10_000; i++) {
      const src = wbxmlSeeds[Math.floor(rnd() * wbxmlSeeds.length)]!;
      const b = mutateBytes(src, wbxmlSeeds, rnd, WBXML_BYTES);
      const problem = checkDecode(b);
      if (problem) expect.fail(`WBXML iteration ${i}: ${problem}\ninput: ${Buffer.from(b).toString('hex')}`);
      if (wbxmlToXmlFast(b) !== undefined) fastTaken++;
    }
    expect(fastTaken).toBeGreaterThan(200);
  });

  it('on 10,000 documents with mutated leaves, as XML and as WBXML', () => {
    const r = rng(20261208);
    const leaf = { values: LEAF_VALUES, valueWeight: 6 };
    let fastXml = 0;
    let fastWbxml = 0;
    for (let i = 0; i < 10_000; i++) {
      let bytes: Uint8Array = new Uint8Array(Buffer.from(xmlSeeds[r(xmlSeeds.length)]!, 'utf8'));
      for (let k = 1 + r(3); k > 0; k--) bytes = (mutateLeaves(bytes, r, leaf) ?? { bytes }).bytes;
      const x = Buffer.from(bytes).toString('utf8');
      const problem = checkEncode(x);
      if (problem) expect.fail(`leaf iteration ${i}: ${problem}\ninput: ${JSON.stringify(x)}`);
      if (xmlToWbxmlFast(x) !== undefined) fastXml++;
      const w = xmlToWbxmlByTree(x);
      if (!w.ok) continue;
      const back = checkDecode(w.value);
      if (back) expect.fail(`leaf iteration ${i} as WBXML: ${back}\ninput: ${Buffer.from(w.value).toString('hex')}`);
      if (wbxmlToXmlFast(w.value) !== undefined) fastWbxml++;
    }
    expect(fastXml).toBeGreaterThan(5_000);
    expect(fastWbxml).toBeGreaterThan(5_000);
  });
});
