/**
 * TNDS (export, import, ?list=TNDS, Add/Replace with dmtnds+xml) and DDF (typed schema, binding,
 * validation).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ddfBind, ddfValidate, readDdf, type DdfSchema } from '../../main/tree/ddf.js';
import { createDeviceTree, MO_DMACC } from '../../main/tree/mos.js';
import { serializeTree, deserializeTree } from '../../main/tree/persist.js';
import { exportTnds, importTnds, readTnds, tndsPaths, tndsToXml, TNDS_EXPORT_ALL, type TndsTree } from '../../main/tree/tnds.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
import { CORPUS_DIR } from '../helpers/tools.js';
import { codes, get, resultsList, runPkg } from '../helpers/dm-package.js';
import type { Element } from '../../main/protocol/element.js';
import { FUMO_LIKE, TREE_CLOCK as CLOCK, twoAuthorityTree } from '../helpers/tree-samples.js';


function handset(): DmTree {
  const tree = twoAuthorityTree();
  const v = tree.createNode(tree.root, 'Vendor', { acl: 'Add=*&Delete=srvA&Get=*&Replace=srvA' });
  const app = tree.createNode(v, 'App', { title: 'The app' });
  tree.createNode(app, 'Name', { format: 'chr', value: 'demo' });
  tree.createNode(app, 'Blob', { format: 'bin', value: new Uint8Array([0, 1, 2, 255]) });
  tree.createNode(app, 'On', { format: 'bool', value: 'true', type: 'text/plain' });
  return tree;
}

function ok<T>(r: { ok: true; value: T } | { ok: false; error?: { message: string }; message?: string; status?: number }): T {
  if (!r.ok) throw new Error(`expected success: ${'error' in r && r.error ? r.error.message : `${r.status} ${r.message}`}`);
  return r.value;
}

const tndsXml = (body: string): string => `<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>${body}</MgmtTree>`;

describe('TNDS documents', () => {
  it('reads the corpus document: names, paths, properties, values', () => {
    const t = ok(readTnds(readFileSync(path.join(CORPUS_DIR, 'tnds-document.xml'), 'utf8')));
    expect(t.verDTD).toBe('1.2');
    const nodes = tndsPaths(t);
    expect([...nodes.keys()]).toEqual(['./Vendor', './Vendor/Blob']);
    expect(nodes.get('./Vendor/Blob')).toMatchObject({ props: { format: 'b64', size: '8', tstamp: '20261124T101500Z', verNo: '3' }, value: 'AAECAwQFBgc=' });
    expect(nodes.get('./Vendor')!.props).toMatchObject({ acl: 'Get=*', format: 'node' });
  });

  it('says what is wrong and where', () => {
    const cases: Array<[string, RegExp]> = [
      ['<MgmtTree xmlns="syncml:dmddf1.2"><Node><NodeName>a</NodeName></Node></MgmtTree>', /MgmtTree has no VerDTD/],
      [tndsXml('<Node><NodeName/></Node>'), /Node\[1\]: Node has no NodeName/],
      [tndsXml('<Node><NodeName>a</NodeName><Value>1</Value><Node><NodeName>b</NodeName></Node></Node>'), /both a Value and child Nodes/],
      [tndsXml('<Node><NodeName>a</NodeName><RTProperties><Colour>red</Colour></RTProperties></Node>'), /Node\[1\]\/RTProperties\/Colour: <Colour> is not a TNDS run-time property/],
      [tndsXml('<Node><NodeName>a</NodeName><DFProperties/></Node>'), /DFProperties belong in a DDF/],
      ['<SyncML xmlns="SYNCML:SYNCML1.2"/>', /expected <MgmtTree/],
      ['<MgmtTree', /not XML/],
    ];
    for (const [text, re] of cases) {
      const r = readTnds(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(re);
    }
  });
});

describe('TNDS export and import', () => {
  it('export -> delete -> import as DEVICE restores the subtree byte-identically', () => {
    // (srvB: the last child, so re-adding it restores the child order too; no other ACL names it,
    // or deleting its account would purge it from them)
    const tree = createDeviceTree({
      clock: CLOCK,
      accounts: [
        { serverId: 'srvA', clientCred: { name: 'dev', secret: 'client-secret-A' }, serverCred: { name: 'srvA', secret: 'server-secret-A' } },
        { serverId: 'srvB', clientCred: { name: 'dev', secret: 'client-secret-B' }, serverCred: { name: 'srvB', secret: 'server-secret-B' } },
      ],
    });
    const before = serializeTree(tree);
    const t = ok(exportTnds(tree, DEVICE, './DMAcc/srvB', { flags: TNDS_EXPORT_ALL }));
    expect(t.nodes[0]).toMatchObject({ name: 'srvB', path: './DMAcc', props: { type: { ddfName: MO_DMACC } } });
    // through text, as a file would go
    const text = tndsToXml(t);
    expect(text).toContain('<Value>client-secret-B</Value>'); // DEVICE sees everything
    const back = ok(readTnds(text));
    const copy = deserializeTree(before, 'copy', { clock: CLOCK });
    ok(copy.delete(DEVICE, './DMAcc/srvB'));
    ok(importTnds(copy, DEVICE, './DMAcc', back, 'add', { keepRuntimeProperties: true }));
    // access types are not part of TNDS: the imported nodes are plain; restore them to compare the rest
    for (const p of ['./DMAcc/srvB/AppID', './DMAcc/srvB/AppAuth/1/AAuthSecret', './DMAcc/srvB/AppAuth/1/AAuthData', './DMAcc/srvB/AppAuth/2/AAuthSecret', './DMAcc/srvB/AppAuth/2/AAuthData']) {
      copy.setAccess(copy.lookup(p)!, tree.lookup(p)!.access);
    }
    // the ./DMAcc parent was touched by the delete and the add: put its run-time properties back too
    copy.setProperties(copy.lookup('./DMAcc')!, { tstamp: tree.lookup('./DMAcc')!.tstamp, verNo: tree.lookup('./DMAcc')!.verNo });
    expect(serializeTree(copy)).toBe(before);
  });

  it('bin values travel base64 and come back as bytes; the root exports its children', () => {
    const tree = handset();
    const t = ok(exportTnds(tree, DEVICE, '.', { flags: ['Format', 'Value'] }));
    expect(t.nodes.map((n) => [n.name, n.path])).toEqual([['DevInfo', '.'], ['DevDetail', '.'], ['DMAcc', '.'], ['Inbox', '.'], ['Vendor', '.']]);
    const blob = tndsPaths(t).get('./Vendor/App/Blob')!;
    expect(blob).toMatchObject({ props: { format: 'bin' }, value: 'AAEC/w==' });
    const fresh = createDeviceTree({ clock: CLOCK });
    ok(importTnds(fresh, DEVICE, '.', { verDTD: '1.2', nodes: t.nodes.filter((n) => n.name === 'Vendor') }, 'add'));
    expect(fresh.lookup('./Vendor/App/Blob')!.value).toEqual(new Uint8Array([0, 1, 2, 255]));
  });

  it('export as a server: only what it may Get; secrets listed without Value', () => {
    const tree = handset();
    const t = ok(exportTnds(tree, 'srvB', './DMAcc', { flags: ['Value'] }));
    const paths = [...tndsPaths(t).keys()];
    expect(paths).toContain('./DMAcc/srvB/AppAuth/2/AAuthName');
    expect(paths.some((p) => p.startsWith('./DMAcc/srvA'))).toBe(false);
    expect(tndsPaths(t).get('./DMAcc/srvB/AppAuth/2/AAuthSecret')!.value).toBeUndefined();
    expect(exportTnds(tree, 'srvB', './DMAcc/srvA').status).toBe(425);
  });

  it('import checks every node against the server\'s rights and is all-or-nothing', () => {
    const tree = handset();
    const before = serializeTree(tree);
    const doc = ok(readTnds(tndsXml('<Node><NodeName>New</NodeName><Path>./Vendor</Path><Node><NodeName>X</NodeName><Value>1</Value></Node></Node><Node><NodeName>Evil</NodeName><Path>./DevInfo</Path><Value>x</Value></Node>')));
    const r = importTnds(tree, 'srvB', '.', doc, 'add');
    expect(r).toMatchObject({ ok: false, status: 405 });
    expect(serializeTree(tree)).toBe(before);
    // outside the target
    const r2 = importTnds(tree, 'srvA', './Vendor', ok(readTnds(tndsXml('<Node><NodeName>Evil</NodeName><Path>./DevInfo</Path><Value>x</Value></Node>'))), 'add');
    expect(r2).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/lies outside the command's target \.\/Vendor/) });
  });

  it('Replace makes the subtree exactly what the document says (kept, updated, added, deleted)', () => {
    const tree = handset();
    const doc = ok(readTnds(tndsXml(`<Node><NodeName>App</NodeName><Path>./Vendor</Path>
      <Node><NodeName>Name</NodeName><Value>renamed</Value></Node>
      <Node><NodeName>On</NodeName><RTProperties><Format><bool/></Format></RTProperties><Value>true</Value></Node>
      <Node><NodeName>Extra</NodeName><RTProperties><Format><int/></Format><Title>count</Title></RTProperties><Value>5</Value></Node>
    </Node>`)));
    const verOn = tree.lookup('./Vendor/App/On')!.verNo;
    const r = ok(importTnds(tree, 'srvA', './Vendor/App', doc, 'replace'));
    expect(r).toEqual({ created: ['./Vendor/App/Extra'], updated: ['./Vendor/App/Name'], deleted: ['./Vendor/App/Blob'] });
    expect([...tree.lookup('./Vendor/App')!.children()].map((c) => c.name)).toEqual(['Name', 'On', 'Extra']);
    expect(tree.lookup('./Vendor/App/On')!.verNo).toBe(verOn); // unchanged node untouched
    expect(tree.lookup('./Vendor/App/Extra')).toMatchObject({ format: 'int', value: '5', title: 'count' });
    // srvB may not delete under ./Vendor: the same Replace fails as a whole
    const tree2 = handset();
    const before = serializeTree(tree2);
    expect(importTnds(tree2, 'srvB', './Vendor/App', doc, 'replace')).toMatchObject({ ok: false, status: 425 });
    expect(serializeTree(tree2)).toBe(before);
  });

  it('Add refuses to overwrite a leaf (418) but merges into existing interior nodes', () => {
    const tree = handset();
    const leaf = ok(readTnds(tndsXml('<Node><NodeName>App</NodeName><Path>./Vendor</Path><Node><NodeName>Name</NodeName><Value>x</Value></Node></Node>')));
    expect(importTnds(tree, 'srvA', './Vendor', leaf, 'add')).toMatchObject({ ok: false, status: 418 });
    const merge = ok(readTnds(tndsXml('<Node><NodeName>App</NodeName><Path>./Vendor</Path><Node><NodeName>More</NodeName><Value>x</Value></Node></Node>')));
    expect(ok(importTnds(tree, 'srvA', './Vendor', merge, 'add')).created).toEqual(['./Vendor/App/More']);
  });
});

describe('TNDS through the processor', () => {
  it('?list=TNDS+flags returns a MgmtTree in the Results (Meta Format xml, Type dmtnds+xml); unknown flags 406', async () => {
    const r = await runPkg(handset(), get(1, './Vendor?list=TNDS+Format+Type+Value') + get(2, './Vendor?list=TNDS+Colour'), { serverId: 'srvA' });
    expect(codes(r.reply)).toEqual(['Get 1 ./Vendor?list=TNDS+Format+Type+Value -> 200', 'Get 2 ./Vendor?list=TNDS+Colour -> 406']);
    const item = resultsList(r.reply)[0]!.items[0]!;
    expect(item.meta).toEqual({ format: 'xml', type: 'application/vnd.syncml.dmtnds+xml' });
    const root = (item.data as { kind: 'xml'; elements: Element[] }).elements[0]!;
    const t = ok(readTnds(tndsToXml(ok(readTndsFromElement(root)))));
    expect(tndsPaths(t).get('./Vendor/App/Name')).toMatchObject({ props: { format: 'chr', type: { mime: 'text/plain' } }, value: 'demo' });
  });

  it('Add and Replace with Meta Type application/vnd.syncml.dmtnds+xml', async () => {
    const tree = handset();
    const corpus = readFileSync(path.join(CORPUS_DIR, 'tnds-in-data.xml'), 'utf8');
    const body = corpus.slice(corpus.indexOf('<Add>'), corpus.indexOf('<Final/>'));
    // the corpus Add creates ./DMAcc/lab as a bootstrap server would
    tree.setProperties(tree.lookup('./DMAcc')!, { acl: 'Get=*&Add=boot&Replace=boot' }); // Replace: to set the new account's ACL
    const r = await runPkg(tree, body, { serverId: 'boot' });
    expect(codes(r.reply), r.events[0]?.message).toEqual(['Add 2 ./DMAcc -> 200']);
    expect(tree.lookup('./DMAcc/lab')).toMatchObject({ acl: expect.objectContaining({ text: 'Get=lab&Replace=lab' }), type: MO_DMACC });
    expect(tree.lookup('./DMAcc/lab/ServerID')).toMatchObject({ value: 'lab', title: 'Server identifier' });

    const replaceBody = `<Replace><CmdID>3</CmdID><Item><Target><LocURI>./Vendor/App</LocURI></Target><Meta><Format xmlns="syncml:metinf">xml</Format><Type xmlns="syncml:metinf">application/vnd.syncml.dmtnds+xml</Type></Meta><Data>${tndsXml('<Node><NodeName>App</NodeName><Path>./Vendor</Path><Node><NodeName>Only</NodeName><Value>1</Value></Node></Node>')}</Data></Item></Replace>`;
    const r2 = await runPkg(tree, replaceBody, { serverId: 'srvA' });
    expect(codes(r2.reply)).toEqual(['Replace 3 ./Vendor/App -> 200']);
    expect([...tree.lookup('./Vendor/App')!.children()].map((c) => c.name)).toEqual(['Only']);
    const bad = await runPkg(tree, replaceBody.replace('<NodeName>Only</NodeName>', '<NodeName/>'), { serverId: 'srvA' });
    expect(codes(bad.reply)).toEqual(['Replace 3 ./Vendor/App -> 400']);
    expect(bad.events[0]!.message).toMatch(/TNDS data: .*Node has no NodeName/);
  });
});

function readTndsFromElement(e: Element): { ok: true; value: TndsTree } | { ok: false; error: { message: string } } {
  // parseTnds through the public entry: serialise and read back, as a server would
  return readTnds(new TextEncoder().encode(tndsXmlFromElement(e)));
}

function tndsXmlFromElement(e: Element): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const walk = (x: Element): string => `<${x.name}>${x.children.map((c) => (typeof c === 'string' ? esc(c) : c instanceof Uint8Array ? '' : walk(c))).join('')}</${x.name}>`;
  return walk(e).replace('<MgmtTree>', '<MgmtTree xmlns="syncml:dmddf1.2">');
}

// ------------------------------------------------------------------------------------------- DDF


describe('DDF', () => {
  const schema = (): DdfSchema => ok(readDdf(FUMO_LIKE));

  it('is a typed schema: names (placeholders), access types, formats, occurrence, scope, type, title', () => {
    const s = schema();
    expect(s).toMatchObject({ verDTD: '1.2', man: 'Acme', mod: 'X1' });
    const root = s.roots[0]!;
    expect(root).toMatchObject({ name: undefined, access: ['Get', 'Add', 'Delete'], format: 'node', occurrence: { kind: 'ZeroOrMore', min: 0, max: undefined }, scope: 'Dynamic', title: 'Firmware package', type: { ddfName: 'urn:oma:mo:oma-fumo:1.0' } });
    expect(root.children.map((c) => [c.name, c.format, c.occurrence.kind])).toEqual([['PkgName', 'chr', 'ZeroOrOne'], ['State', 'int', 'One'], ['Update', 'node', 'One']]);
    expect(root.children[1]!.description).toBe('10 idle, 20 downloading');
    expect(root.children[2]!.children[0]).toMatchObject({ name: 'PkgData', access: ['Exec', 'Replace'], caseSensitive: false });
  });

  it('binds a placeholder MO root to the nodes whose Type is its DDFName', () => {
    const tree = handset();
    const fw = tree.createNode(tree.root, 'FwUpd', { type: 'urn:oma:mo:oma-fumo:1.0' });
    tree.createNode(fw, 'State', { format: 'int', value: '10' });
    tree.createNode(fw, 'Bogus', { format: 'chr', value: 'x' });
    const upd = tree.createNode(fw, 'Update');
    tree.createNode(upd, 'pkgdata', { format: 'bin', value: new Uint8Array(0) });
    const s = schema();
    expect(ddfBind([s], tree, ['FwUpd', 'Update', 'pkgdata'])).toMatchObject({ node: { name: 'PkgData' }, rootSegments: ['FwUpd'] }); // CIS
    expect(ddfBind([s], tree, ['FwUpd', 'Bogus'])).toBeNull();
    expect(ddfBind([s], tree, ['Vendor', 'App'])).toBeUndefined();
    expect(ddfValidate([s], tree, './FwUpd')).toEqual([{ path: './FwUpd/Bogus', message: 'not defined by its management object DDF' }]);
    tree.replace(DEVICE, './FwUpd/State', 'x', { format: 'chr' });
    expect(ddfValidate([s], tree, './FwUpd').map((i) => i.message)).toContain('format chr, the DDF says int');
  });

  it('says what is wrong with a DDF and where', () => {
    const bad: Array<[string, RegExp]> = [
      [FUMO_LIKE.replace('<DFFormat><int/></DFFormat>', '<DFFormat><integer/></DFFormat>'), /Node\[1\]\/Node\[2\]\/DFProperties\/DFFormat\/integer: integer is not a DM format/],
      [FUMO_LIKE.replace('<ZeroOrMore/>', '<ZeroOrN>x</ZeroOrN>'), /ZeroOrN needs a positive count/],
      [FUMO_LIKE.replace('<Get/><Replace/>', '<Get/><Fetch/>'), /Fetch is not an access type/],
      [FUMO_LIKE.replace('<AccessType><Get/></AccessType><DFFormat><int/>', '<DFFormat><int/>'), /DFProperties has no AccessType/],
    ];
    for (const [text, re] of bad) {
      const r = readDdf(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(re);
    }
  });
});
