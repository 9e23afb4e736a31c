/**
 * decodeMessage's fast path (main/protocol/message/fast-read.ts: WBXML straight to the typed message,
 * no document tree) against the tree path it stands in for (decodeWbxml + TNDS retyping +
 * readMessage): on every input either the fast path gives up (undefined) or it returns a message
 * deep-equal to the tree path's, with its keys in the same order, and it never accepts what the tree
 * path refuses (so every error still comes from the tree path, offset and element path included).
 * Checked on the corpus, on the messages of a real bench session (both sides), on hand-made corner
 * cases of each rule it re-implements, and on seeded mutations of all of them.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeDocument, decodeMessage, decodeMessageByTree, encodeMessage } from '../../main/protocol/codec.js';
import { readWbxmlMessageFast } from '../../main/protocol/message/fast-read.js';
import { encodeWbxml } from '../../main/protocol/wbxml/index.js';
import { el, type Child, type Element } from '../../main/protocol/element.js';
import { mutateBytes, prng, rng } from '../helpers/fuzz.js';
import { benchSession, corpus, FIXTURES, filesUnder, hex, sameValue } from './message-fast-corpus.js';

/** '' when the fast path agrees with the tree path (or gives up); else what differs. */
function check(bytes: Uint8Array): string {
  const fast = readWbxmlMessageFast(bytes);
  if (fast === undefined) return '';
  const tree = decodeMessageByTree(bytes);
  if (!tree.ok) return `fast path accepted what the tree path refuses (${tree.error.message})`;
  return sameValue(fast, tree.value.message);
}

// ---------------------------------------------------------------------------- corner cases

const s = (name: string, children: Child[] = []): Element => el('syncml', name, children);
const m = (name: string, children: Child[] = []): Element => el('metinf', name, children);
const t = (name: string, value: string): Element => s(name, [value]);
const loc = (name: string, uri: string, extra: Child[] = []): Element => s(name, [t('LocURI', uri), ...extra]);
const HDR = s('SyncHdr', [t('VerDTD', '1.2'), t('VerProto', 'DM/1.2'), t('SessionID', '1'), t('MsgID', '1'), loc('Target', 'http://s/'), loc('Source', 'IMEI:1')]);
const msg = (body: Child[], hdr: Element = HDR): Element => s('SyncML', [hdr, s('SyncBody', body)]);
const withFinal = (...cmds: Child[]): Element => msg([...cmds, s('Final')]);
const get = (...items: Child[]): Element => s('Get', [t('CmdID', '2'), ...items]);
const itemOf = (...children: Child[]): Element => s('Item', children);
const status = (extra: Child[] = []): Element => s('Status', [t('CmdID', '1'), t('MsgRef', '1'), t('CmdRef', '0'), t('Cmd', 'SyncHdr'), t('TargetRef', 'IMEI:1'), t('SourceRef', 'http://s/'), t('Data', '200'), ...extra]);
const utf8 = (x: string): Uint8Array => new TextEncoder().encode(x);
const BIN = new Uint8Array([0, 1, 0x3c, 0x26, 0xff, 0x0d]);

/** Trees written to hit each rule the fast path re-implements; many are refused by readMessage on purpose. */
function cornerTrees(): Element[] {
  const md5 = s('Cred', [s('Meta', [m('Format', ['b64']), m('Type', ['syncml:auth-md5'])]), t('Data', 'aGVsbG8=')]);
  const hdrWith = (...extra: Child[]): Element => s('SyncHdr', [...HDR.children, ...extra]);
  const nest = (d: number): Element => (d === 0 ? get(itemOf(loc('Target', './a'))) : s('Sequence', [t('CmdID', String(d)), nest(d - 1)]));
  return [
    // What the bench sends: header Cred and Meta, a Status with Chal, Get and Replace, Results.
    msg([status([s('Chal', [s('Meta', [m('Format', ['b64']), m('Type', ['syncml:auth-md5']), m('NextNonce', ['AAEC'])])])]), get(itemOf(loc('Target', './DevInfo/Mod'))), s('Final')], hdrWith(md5, s('Meta', [m('MaxMsgSize', ['10000']), m('MaxObjSize', ['100000'])]))),
    withFinal(s('Replace', [t('CmdID', '3'), itemOf(loc('Target', './Vendor/Mode'), s('Meta', [m('Format', ['chr']), m('Type', ['text/plain'])]), t('Data', 'mode-1'))])),
    withFinal(s('Results', [t('CmdID', '4'), t('MsgRef', '1'), t('CmdRef', '2'), s('Meta', [m('Format', ['chr'])]), t('TargetRef', 'a'), t('TargetRef', 'b'), t('SourceRef', 'c'), itemOf(loc('Source', './DevInfo/Mod'), t('Data', 'Model')), itemOf(t('Data', ''))])),
    withFinal(s('Results', [t('CmdID', '4'), t('CmdRef', '2')])),
    // Trimming: text fields trimmed, Data not; non-ASCII whitespace too.
    withFinal(s('Alert', [t('CmdID', '  7 \n'), t('Data', '  1201 '), t('Correlator', '\u00a0c\u00a0'), s('NoResp')])),
    withFinal(status([t('Data', ' 200 '), s('Cred', [t('Data', ' x ')])])),
    // Text in pieces (STR_I runs merged), OPAQUE as text, OPAQUE that is not UTF-8, an empty piece.
    withFinal(s('Alert', [s('CmdID', ['1', '2']), s('Data', [utf8('12'), '01'])])),
    withFinal(s('Alert', [s('CmdID', [utf8('\ufeff1')]), t('Data', '1201')])),
    withFinal(s('Alert', [s('CmdID', [BIN]), t('Data', '1201')])),
    withFinal(s('Alert', [s('CmdID', ['']), s('Data')])),
    withFinal(s('Alert', [s('CmdID', [s('Data', ['1'])])])),
    // Item Data: text, bytes, empty, both, elements (embedded XML), TNDS as an embedded document.
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(loc('Target', './b'), s('Meta', [m('Format', ['bin'])]), s('Data', [BIN]))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data', [utf8('plain'), ' and ', BIN, 'text']))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data', ['  ', utf8('x')]))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data', [new Uint8Array(0)]))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data', ['  spaced  ']))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data'), s('MoreData'))])),
    withFinal(s('Replace', [t('CmdID', '1'), itemOf(s('Data', [s('CmdID', ['1'])]))])),
    withFinal(s('Add', [t('CmdID', '1'), itemOf(s('Meta', [m('Type', ['application/vnd.syncml.dmtnds+xml'])]), s('Data', [el('dmddf', 'MgmtTree', [el('dmddf', 'VerDTD', ['1.2'])])]))])),
    // Meta: MetInf wrapper (alone, or beside something), duplicates, EMI, Anchor, Mem, FieldLevel, a SyncML child.
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('MetInf', [m('Type', ['text/plain']), m('Size', ['3'])])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('MetInf', [m('Type', ['text/plain'])]), m('Size', ['3'])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('Size', ['3']), m('MetInf', [m('Type', ['text/plain'])])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('MetInf')])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('Type', ['a']), m('Type', ['b'])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('EMI', ['a']), m('Mark', ['m']), m('EMI', ['b']), m('Version', ['1']), m('FieldLevel', ['ignored'])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('Anchor', [m('Next', ['2']), m('Last', ['1'])]), m('Mem', [m('SharedMem'), m('FreeMem', ['10']), m('FreeID', ['3'])])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('Anchor', [m('Last', ['1'])])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('Mem', [m('FreeMem', ['10'])])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [s('CmdID', ['1'])])))),
    withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('NextNonce', ['n']), m('MaxMsgSize', ['1']), m('MaxObjSize', ['2']), m('Format', ['chr'])])))),
    // Whitespace and text between elements: skipped in most places, refused in SyncBody and containers.
    withFinal(get(' \n', itemOf(' ', loc('Target', './a', ['\t']), ' '), ' ')),
    msg([get(itemOf(loc('Target', './a'))), ' ', s('Final')]),
    withFinal(s('Atomic', [t('CmdID', '1'), ' ', get(itemOf(loc('Target', './a')))])),
    withFinal(get('text', itemOf(loc('Target', './a')))),
    withFinal(get(BIN, itemOf(loc('Target', './a')))),
    // Containers: NoResp and Meta in either order, repeated NoResp, nested, Results/Status inside, no CmdID.
    withFinal(s('Atomic', [s('NoResp'), t('CmdID', '1'), s('Meta', [m('Type', ['x'])]), get(itemOf(loc('Target', './a'))), s('NoResp')])),
    withFinal(s('Sequence', [s('Meta', [m('Type', ['x'])]), t('CmdID', '1'), s('NoResp'), s('Atomic', [t('CmdID', '2'), s('Exec', [t('CmdID', '3'), itemOf(loc('Target', './x'))])])])),
    withFinal(s('Sequence', [t('CmdID', '1'), status()])),
    withFinal(s('Atomic', [t('CmdID', '1'), s('Results', [t('CmdID', '2'), t('CmdRef', '1')])])),
    withFinal(s('Sequence', [t('CmdID', '1'), s('Final')])),
    withFinal(s('Sequence', [get(itemOf(loc('Target', './a')))])),
    withFinal(s('Sequence', [t('CmdID', '1'), s('Meta'), s('Meta')])),
    // The deepest LocURI at the decoder's depth limit (64, the root counting as 1), and one past it.
    withFinal(nest(58)),
    withFinal(nest(59)),
    // Commands: every kind, optional parts, missing and repeated children, unknown ones.
    withFinal(s('Exec', [t('CmdID', '1'), s('NoResp'), md5, s('Meta', [m('Type', ['t'])]), t('Correlator', 'c'), itemOf(loc('Target', './x'), s('Data', ['arg']))])),
    withFinal(s('Copy', [t('CmdID', '1'), itemOf(loc('Target', './x'), loc('Source', './y', [t('LocName', 'n')]))]), s('Delete', [t('CmdID', '2'), itemOf(loc('Target', './x'))])),
    withFinal(s('Alert', [t('CmdID', '1'), t('Data', '1226'), md5, itemOf(loc('Source', './x'), s('Meta', [m('Type', ['t'])]), t('Data', 'd'))])),
    withFinal(get()),
    withFinal(s('Exec', [t('CmdID', '1')])),
    withFinal(s('Get', [itemOf(loc('Target', './a'))])),
    withFinal(s('Get', [t('CmdID', '1'), t('CmdID', '1'), itemOf(loc('Target', './a'))])),
    withFinal(s('Get', [t('CmdID', '1'), s('NoResp'), s('NoResp'), itemOf(loc('Target', './a'))])),
    withFinal(s('Get', [t('CmdID', '1'), t('Data', 'x'), itemOf(loc('Target', './a'))])),
    withFinal(s('Alert', [t('CmdID', '1'), s('Meta')])),
    withFinal(s('Map', [t('CmdID', '1')])),
    withFinal(status([t('Cmd', 'again')])),
    withFinal(s('Status', [t('CmdID', '1'), t('MsgRef', '1'), t('CmdRef', '0'), t('Cmd', 'SyncHdr')])),
    withFinal(status([s('Chal', [])])),
    withFinal(get(itemOf(loc('Target', './a'), loc('Target', './b')))),
    withFinal(get(itemOf(s('Target', [t('LocName', 'n')])))),
    withFinal(get(itemOf(loc('Target', './a', [t('LocName', 'a'), t('LocName', 'b')])))),
    withFinal(get(itemOf(loc('Target', './a'), s('MoreData', ['x']), s('MoreData')))),
    withFinal(get(itemOf(loc('Target', './a'), s('Cred')))),
    withFinal(s('Get', [t('CmdID', '1'), s('Cred', [s('Meta')])])),
    // Final: repeated, with content, commands after it; header: missing, repeated and optional fields.
    msg([s('Final'), s('Final')]),
    msg([s('Final', [t('CmdID', 'ignored')])]),
    msg([s('Final'), get(itemOf(loc('Target', './a')))]),
    msg([]),
    msg([], hdrWith(t('RespURI', ' http://s/?s=1 '), s('NoResp'))),
    msg([], hdrWith(s('NoResp'), s('NoResp'))),
    msg([], s('SyncHdr', HDR.children.slice(1))),
    msg([], hdrWith(t('VerDTD', '1.1'))),
    msg([], hdrWith(t('CmdID', '1'))),
    s('SyncML', [HDR]),
    s('SyncML', [HDR, s('SyncBody'), s('SyncBody')]),
    s('SyncML', [s('SyncBody'), HDR]),
    s('SyncML'),
    s('SyncHdr', HDR.children),
  ];
}

function cornerCases(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const info = { wbxmlVersion: 2, publicId: 0x1201, rootNamespaceUri: 'SYNCML:SYNCML1.2' };
  for (const root of cornerTrees()) {
    for (const opts of [{}, { ddf: 'opaque' as const }, { publicId: '-//SYNCML//DTD SyncML 1.2//EN' }, { version: 1 as const, publicId: 0x0fd3 }]) {
      const r = encodeWbxml({ info, root }, opts);
      if (r.ok) out.push(r.value);
    }
  }
  // An empty inline string is no child: before a Meta's MetInf element, it leaves the MetInf its only child.
  const wrapped = encodeWbxml({ info, root: withFinal(get(itemOf(loc('Target', './a'), s('Meta', [m('MetInf', [m('Type', ['t'])])])))) });
  const h = wrapped.ok ? hex(wrapped.value) : '';
  if (!h.includes('5a00014e')) throw new Error('Meta > SWITCH_PAGE 1 > MetInf not found in the encoded corner case');
  for (const text of ['0300', '032000']) out.push(new Uint8Array(Buffer.from(h.replace('5a00014e', `5a${text}00014e`), 'hex')));
  // Tokens no encoder writes. Header: WBXML 1.2, SyncML 1.2, UTF-8, no string table; then SyncML > SyncHdr.
  const head = [0x02, 0xa4, 0x01, 0x6a, 0x00];
  const hdr = [0x6d, 0x6c, 0x71, 0x03, 0x31, 0x2e, 0x32, 0x00, 0x01, 0x72, 0x03, 0x44, 0x4d, 0x2f, 0x31, 0x2e, 0x32, 0x00, 0x01,
    0x65, 0x03, 0x31, 0x00, 0x01, 0x5b, 0x03, 0x31, 0x00, 0x01, 0x6e, 0x57, 0x03, 0x73, 0x00, 0x01, 0x01, 0x67, 0x57, 0x03, 0x64, 0x00, 0x01, 0x01, 0x01];
  const body = [0x6b, 0x12, 0x01, 0x01];
  const ok = [...head, ...hdr, ...body];
  out.push(
    Uint8Array.from(ok),
    // SWITCH_PAGE before the root, and to page 0 between elements.
    Uint8Array.from([...head, 0x00, 0x00, ...hdr, 0x00, 0x00, ...body]),
    // ENTITY and STR_T in the MsgID; a string table.
    Uint8Array.from([0x02, 0xa4, 0x01, 0x6a, 0x03, 0x37, 0x00, 0x00, 0x6d, 0x6c, 0x71, 0x03, 0x31, 0x2e, 0x32, 0x00, 0x01, 0x72, 0x03, 0x44, 0x4d, 0x00, 0x01,
      0x65, 0x83, 0x00, 0x02, 0x38, 0x01, 0x5b, 0x83, 0x01, 0x01, 0x6e, 0x57, 0x03, 0x73, 0x00, 0x01, 0x01, 0x67, 0x57, 0x03, 0x64, 0x00, 0x01, 0x01, 0x01, ...body]),
    Uint8Array.from([0x02, 0xa4, 0x01, 0x6a, 0x01, 0x37, 0x6d, 0x6c, 0x71, 0x83, 0x00, 0x01, 0x01, 0x01]), // STR_T past the table
    Uint8Array.from([...head, 0x6d, 0x6c, 0x71, 0x02, 0x00, 0x01]), // ENTITY 0
    Uint8Array.from([...head, 0x03, 0x00, ...hdr, ...body]), // text before the root
    Uint8Array.from([...head, ...hdr, ...body, 0x00]), // trailing data
    Uint8Array.from([...head, ...hdr, 0x6b, 0x04, 0x00, 0x01, 0x01]), // LITERAL
    Uint8Array.from([...head, ...hdr, 0x6b, 0xd2, 0x01, 0x01, 0x01]), // attribute bit
    Uint8Array.from([...head, ...hdr, 0x6b, 0x40, 0x01, 0x01]), // EXT_I_0
    Uint8Array.from([...head, ...hdr, 0x6b, 0x00, 0x05, 0x52, 0x01, 0x01]), // undefined code page
    Uint8Array.from([...head, ...hdr, 0x6b, 0x00, 0x02, 0x60, 0x01, 0x01, 0x01]), // a DM DDF tag
    Uint8Array.from([...head, ...hdr, 0x6b, 0x52, 0x03, 0x78, 0x00, 0x01, 0x01, 0x01]), // Final with content
    Uint8Array.from([0x02, 0xa4, 0x01, 0x04, 0x00, ...hdr.slice(0, 4), 0xe9, ...hdr.slice(4), ...body]), // US-ASCII charset, byte 0xe9
    Uint8Array.from([0x02, 0xa4, 0x01, 0x04, 0x00, ...hdr, ...body]), // US-ASCII charset
    Uint8Array.from([0x02, 0xa4, 0x01, 0x03, 0x00, ...hdr, ...body]), // ISO-8859-1... as MIB 3 (US-ASCII)
    Uint8Array.from([0x02, 0xa4, 0x01, 0x6a, 0x00, ...hdr.slice(0, 4), 0xc3, 0x28, ...hdr.slice(4), ...body]), // invalid UTF-8
    Uint8Array.from([0x03, 0xa4, 0x01, 0x6a, 0x00, ...hdr, ...body]), // WBXML 1.3
    Uint8Array.from([0x01, 0x01, 0x6a, 0x00, ...hdr, ...body]), // public id "unknown"
    Uint8Array.from([0x02, 0x9f, 0x53, 0x6a, 0x00, ...hdr, ...body]), // SyncML 1.1
    Uint8Array.from([0x02, 0xa4, 0x03, 0x6a, 0x00, ...hdr, ...body]), // DevInf
  );
  return out;
}

// ---------------------------------------------------------------------------------- tests

const WBXML_BYTES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x40, 0x43, 0x44, 0x80, 0x83, 0x84, 0xc0, 0xc3, 0xc4, 0x54, 0x5a, 0x4f, 0x47, 0x14, 0x1a, 0x0f, 0x0b, 0x1d, 0x12, 0x52, 0x4e, 0x26, 0x3c, 0x0d, 0x20, 0x62, 0x69, 0x6e, 0x7f, 0xc3, 0xa9, 0xff];

describe('decodeMessage: the WBXML fast path agrees with the tree path', () => {
  let session: { in: Uint8Array[]; out: Uint8Array[] };
  let seeds: Uint8Array[];
  beforeAll(async () => {
    session = await benchSession();
    seeds = [...corpus(), ...cornerCases(), ...session.in, ...session.out];
  }, 60_000);

  it('the bench session\'s messages, both sides, take the fast path and equal the tree path', () => {
    // 3 sessions: 401 + challenge, then 2 packages each way; the server's answers and the handset's.
    expect(session.out.length).toBeGreaterThanOrEqual(6);
    expect(session.in.length).toBe(session.out.length);
    let fast = 0;
    for (const [i, b] of [...session.out, ...session.in].entries()) {
      expect(check(b), `bench message ${i}: ${hex(b)}`).toBe('');
      if (readWbxmlMessageFast(b) !== undefined) fast++;
    }
    expect(fast).toBe(session.out.length + session.in.length);
  });

  it('the corpus: the repo\'s WBXML files and vectors, the XML fixtures encoded', () => {
    const all = corpus();
    expect(all.length).toBeGreaterThan(30);
    let fast = 0;
    for (const [i, b] of all.entries()) {
      expect(check(b), `corpus ${i}: ${hex(b).slice(0, 400)}`).toBe('');
      if (readWbxmlMessageFast(b) !== undefined) fast++;
    }
    // TNDS documents go to the tree path; the plain SyncML messages do not.
    expect(fast).toBeGreaterThan(all.length / 2);
    for (const f of [...filesUnder(path.join(FIXTURES, 'android-dm12'), '.wbxml'), ...filesUnder(path.join(FIXTURES, 'bench'), '.wbxml')]) {
      expect(readWbxmlMessageFast(new Uint8Array(readFileSync(f))), f).toBeDefined();
    }
  });

  it('corner cases of each rule, taken or given up', () => {
    const cases = cornerCases();
    let fast = 0;
    for (const [i, b] of cases.entries()) {
      expect(check(b), `corner case ${i}: ${hex(b)}`).toBe('');
      if (readWbxmlMessageFast(b) !== undefined) fast++;
    }
    expect(fast).toBeGreaterThan(40);
  });

  it('gives up only where it must: every corner case the tree path reads is taken, except embedded XML and TNDS', () => {
    const declined: string[] = [];
    for (const b of cornerCases()) {
      const tree = decodeMessageByTree(b);
      if (!tree.ok || readWbxmlMessageFast(b) !== undefined) continue;
      const xmlData = tree.value.message.body.commands.some((c) => 'items' in c && c.items.some((i) => i.data?.kind === 'xml'));
      if (!xmlData) declined.push(hex(b));
    }
    expect(declined).toEqual([]);
  });

  it('decodeMessage answers as the tree path does, errors included, document tree and all', () => {
    let fast = 0;
    for (const b of [...cornerCases(), ...session.in, ...session.out]) {
      const a = decodeMessage(b);
      const tree = decodeMessageByTree(b);
      if (!a.ok || !tree.ok) {
        expect(a).toEqual(tree);
        continue;
      }
      if (readWbxmlMessageFast(b) !== undefined) fast++;
      expect(a.value.encoding).toBe(tree.value.encoding);
      expect(sameValue(a.value.message, tree.value.message)).toBe('');
      // The document tree, built on demand, is the tree path's, and stays the same object.
      expect(isDeepStrictEqual(a.value.document, tree.value.document)).toBe(true);
      expect(a.value.document).toBe(a.value.document);
    }
    expect(fast).toBeGreaterThan(40);
    // XML goes the tree path, unchanged.
    const first = decodeMessageByTree(session.out[0]!);
    if (!first.ok) throw new Error(first.error.message);
    const xml = encodeMessage(first.value.message, 'xml');
    if (!xml.ok) throw new Error(xml.error.message);
    expect(decodeMessage(xml.value)).toEqual(decodeMessageByTree(xml.value));
  });

  it('on 30,000 mutated documents: equal, or the fast path gives up', () => {
    const rnd = prng(20261207);
    let fastTaken = 0;
    for (let i = 0; i < 30_000; i++) {
      const src = seeds[Math.floor(rnd() * seeds.length)]!;
      const b = mutateBytes(src, seeds, rnd, WBXML_BYTES);
      const problem = check(b);
      if (problem) expect.fail(`iteration ${i}: ${problem}\ninput: ${hex(b)}`);
      if (readWbxmlMessageFast(b) !== undefined) fastTaken++;
    }
    // Most mutations break the message; many must still reach the fast path, or this proves little
    // (1,070 today; the bound leaves room for seeds that change with the bench session's messages).
    console.log(`fast path taken by ${fastTaken} of 30,000 mutated documents`);
    expect(fastTaken).toBeGreaterThan(800);
  }, 180_000);

  it('on 10,000 re-encoded trees with a child dropped, repeated or moved: equal, or the fast path gives up', () => {
    const r = rng(20261209);
    const trees = [...cornerTrees()];
    for (const b of [...session.in, ...session.out]) {
      const d = decodeDocument(b);
      if (d.ok) trees.push(d.value.document.root);
    }
    const info = { wbxmlVersion: 2, publicId: 0x1201, rootNamespaceUri: 'SYNCML:SYNCML1.2' };
    let fastTaken = 0;
    for (let i = 0; i < 10_000; i++) {
      const root = structuredClone(trees[r(trees.length)]!);
      for (let k = 1 + r(2); k > 0; k--) mutateTree(root, r);
      const w = encodeWbxml({ info, root });
      if (!w.ok) continue;
      const problem = check(w.value);
      if (problem) expect.fail(`tree iteration ${i}: ${problem}\ninput: ${hex(w.value)}`);
      if (readWbxmlMessageFast(w.value) !== undefined) fastTaken++;
    }
    expect(fastTaken).toBeGreaterThan(2_000);
  }, 180_000);
});

/** One structural change somewhere in the tree: a child dropped, duplicated, moved first, or replaced by text. */
function mutateTree(root: Element, r: (n: number) => number): void {
  const all: Element[] = [];
  const walk = (e: Element): void => {
    all.push(e);
    for (const c of e.children) if (typeof c === 'object' && !(c instanceof Uint8Array)) walk(c);
  };
  walk(root);
  const e = all[r(all.length)]!;
  if (e.children.length === 0) {
    e.children.push([' ', 'x', '', BIN, s('NoResp')][r(5)]!);
    return;
  }
  const i = r(e.children.length);
  const c = e.children[i]!;
  switch (r(5)) {
    case 0: e.children.splice(i, 1); break;
    case 1: e.children.splice(i, 0, structuredClone(c)); break;
    case 2: e.children.splice(i, 1); e.children.unshift(c); break;
    case 3: e.children[i] = [' ', '  x  ', utf8('t'), BIN][r(4)]!; break;
    default: e.children.splice(i, 0, [' ', '\u00a0', m('Type', ['t']), s('Final')][r(4)]!);
  }
}
