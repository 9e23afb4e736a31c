import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { serializeXml } from '../../main/protocol/xml/serialize.js';
import { decodeBinaryItems } from '../../main/protocol/binary.js';
import { readMessage } from '../../main/protocol/message/read.js';
import { writeMessage } from '../../main/protocol/message/write.js';
import { decodeMessage, encodeMessage } from '../../main/protocol/codec.js';
import { withB64ForXml } from '../../main/protocol/b64-transport.js';
import type { Command, Container, Item, Meta, Status, SyncML } from '../../main/protocol/model.js';
import { CORPUS_DIR, VECTORS_DIR } from '../helpers/tools.js';

function messageFromXml(text: string): SyncML {
  const d = parseXml(text);
  if (!d.ok) throw new Error(JSON.stringify(d.error));
  decodeBinaryItems(d.value.root);
  const m = readMessage(d.value.root);
  if (!m.ok) throw new Error(JSON.stringify(m.error));
  return m.value;
}
const corpus = (f: string) => messageFromXml(readFileSync(path.join(CORPUS_DIR, f), 'utf8'));
const viaXml = (m: SyncML) => messageFromXml(serializeXml(writeMessage(m)));

describe('typed SyncML model', () => {
  it('reads a client package 1: header, credentials, DevInfo, client event', () => {
    const m = corpus('client-pkg1.xml');
    expect(m.hdr).toMatchObject({
      verDTD: '1.2', verProto: 'DM/1.2', sessionID: '4E2', msgID: '1',
      target: { locURI: 'http://127.0.0.1:8080/dm', locName: 'lab-server' },
      source: { locURI: 'IMEI:356938035643809', locName: 'dmclient' },
      cred: { meta: { format: 'b64', type: 'syncml:auth-md5' }, data: 'Zz6EivR3yeaaENcRN6lpAQ==' },
      meta: { maxMsgSize: '16384', maxObjSize: '1048576' },
    });
    expect(m.body.commands.map((c) => c.kind)).toEqual(['Alert', 'Replace', 'Alert']);
    expect(m.body.final).toBe(true);
    const replace = m.body.commands[1]!;
    expect(replace.kind === 'Replace' && replace.items.map((i) => i.source?.locURI)).toEqual(['./DevInfo/DevId', './DevInfo/Man', './DevInfo/Mod', './DevInfo/DmV', './DevInfo/Lang']);
  });

  it('keeps every command, in order, with nested Atomic and Sequence', () => {
    const m = corpus('server-all-commands.xml');
    expect(m.body.commands.map((c) => c.kind)).toEqual(['Status', 'Status', 'Get', 'Replace', 'Add', 'Delete', 'Copy', 'Exec', 'Atomic', 'Sequence', 'Alert', 'Alert']);
    const atomic = m.body.commands[8] as Container;
    expect(atomic.commands.map((c) => c.kind)).toEqual(['Add', 'Sequence']);
    const seq = atomic.commands[1] as Container;
    expect(seq.commands.map((c) => `${c.kind}:${c.cmdID}`)).toEqual(['Replace:12', 'Atomic:13']);
    const hdrStatus = m.body.commands[0] as Status;
    expect(hdrStatus.chal?.meta).toEqual({ type: 'syncml:auth-md5', format: 'b64', nextNonce: 'ZG13LW5vbmNlLTAwMDE=' });
    expect(hdrStatus.targetRefs).toEqual(['http://127.0.0.1:8080/dm']);
    const exec = m.body.commands[7]!;
    expect(exec.kind === 'Exec' && exec.correlator).toBe('fumo-job-17');
    const replace = m.body.commands[3]!;
    expect(replace.kind === 'Replace' && replace.noResp).toBe(true);
    const alert = (m.body.commands[9] as Container).commands[0]!;
    expect(alert.kind === 'Alert' && alert.items[0]!.data).toEqual({ kind: 'text', text: 'MINDT=10&MAXDT=30&DR=1' });
  });

  it('reads Results, TargetRef lists and generic alerts', () => {
    const m = corpus('client-results.xml');
    const results = m.body.commands.find((c) => c.kind === 'Results')!;
    expect(results).toMatchObject({ msgRef: '2', cmdRef: '3', meta: { format: 'chr', type: 'text/plain' }, targetRefs: ['./DevDetail/FwV'] });
    const generic = m.body.commands.find((c) => c.kind === 'Alert')!;
    expect(generic).toMatchObject({ data: '1226', correlator: 'fumo-job-17' });
    const twoRefs = m.body.commands[m.body.commands.length - 1] as Status;
    expect(twoRefs.targetRefs).toEqual(['./Vendor/Lab/A', './Vendor/Lab/B']);
  });

  it('reads every MetInf field', () => {
    const meta = (corpus('syncml11-meta-all.xml').body.commands[1] as { meta?: Meta }).meta;
    expect(meta).toEqual({
      format: 'chr', type: 'text/plain', mark: 'high', size: '3',
      anchor: { last: '20261101T000000Z', next: '20261124T120000Z' }, version: '1.0', nextNonce: 'bm9uY2U=',
      maxObjSize: '4000', emi: ['vendor-ext-1', 'vendor-ext-2'], mem: { sharedMem: true, freeMem: '65536', freeID: '12' },
    });
  });

  it('holds large-object chunks, binary bytes and TNDS trees', () => {
    const lo = corpus('large-object.xml').body.commands[1]!;
    const chunk = (lo as { items: Item[] }).items[0]!;
    expect(chunk.moreData).toBe(true);
    expect(chunk.meta?.size).toBe('4000');
    const bin = (corpus('binary-data.xml').body.commands[0] as { items: Item[] }).items;
    expect(bin[0]!.data).toEqual({ kind: 'binary', bytes: Uint8Array.from({ length: 256 }, (_, i) => i) });
    expect(bin[1]!.data?.kind).toBe('text'); // b64 format stays text: the receiver decodes it
    const tnds = (corpus('tnds-in-data.xml').body.commands[0] as { items: Item[] }).items[0]!.data;
    expect(tnds?.kind === 'xml' && tnds.elements[0]!.name).toBe('MgmtTree');
  });

  it('reads every android-dm12 XML package', () => {
    for (const f of ['testalertconfirm.xml', 'testalertconfirmatomic.xml', 'testalertdisplay.xml', 'testalertmultiplechoice.xml', 'testalertsinglechoice.xml', 'testalerttextinput.xml', 'testexecscript.xml', 'testexecscript2.xml', 'testgetscript.xml', 'testnewdatatype.xml']) {
      const m = messageFromXml(readFileSync(path.join(VECTORS_DIR, f), 'utf8'));
      expect(m.hdr.verProto, f).toBe('DM/1.2');
      expect(viaXml(m), f).toEqual(m);
    }
  });

  it.each(['client-pkg1.xml', 'server-all-commands.xml', 'client-results.xml', 'large-object.xml', 'binary-data.xml', 'unicode-escapes.xml', 'tnds-in-data.xml', 'syncml11-meta-all.xml'])(
    'model -> XML -> model is the identity for %s', (f) => {
      const m = corpus(f);
      expect(viaXml(m)).toEqual(m);
    });

  it('names the element path of a structural error', () => {
    const bad = (body: string) => {
      const d = parseXml(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>a</LocURI></Target><Source><LocURI>b</LocURI></Source></SyncHdr><SyncBody>${body}</SyncBody></SyncML>`);
      if (!d.ok) throw new Error('fixture');
      const r = readMessage(d.value.root);
      if (r.ok) throw new Error(`accepted: ${body}`);
      return r.error;
    };
    expect(bad('<Get><Item><Target><LocURI>./a</LocURI></Target></Item></Get>')).toMatchObject({ code: 'missing-element', path: 'SyncML/SyncBody/Get' });
    expect(bad('<Get><CmdID>1</CmdID><Item><Bogus/></Item></Get>')).toMatchObject({ code: 'unknown-element', path: 'SyncML/SyncBody/Get/Item/Bogus' });
    expect(bad('<Add><CmdID>1</CmdID><Item/></Add><Add><CmdID>2</CmdID><CmdID>3</CmdID><Item/></Add>')).toMatchObject({ code: 'duplicate-element', path: 'SyncML/SyncBody/Add[2]/CmdID' });
    expect(bad('<Atomic><CmdID>1</CmdID><Status><CmdID>2</CmdID></Status></Atomic>')).toMatchObject({ code: 'unexpected-content', path: 'SyncML/SyncBody/Atomic/Status' });
    expect(bad('<Final/><Get><CmdID>1</CmdID><Item/></Get>')).toMatchObject({ code: 'unexpected-content' });
    expect(bad('<Map><CmdID>1</CmdID></Map>')).toMatchObject({ code: 'unknown-element', path: 'SyncML/SyncBody/Map' });
  });

  it('property: any message survives model -> XML -> model', () => {
    fc.assert(fc.property(arbMessage(), (m) => { expect(viaXml(m)).toEqual(m); }), { numRuns: 300 });
  });

  it('property: any message survives model -> WBXML -> model, and both encodings agree', () => {
    fc.assert(fc.property(arbMessage(), (m) => {
      const wbxml = encodeMessage(m, 'wbxml');
      if (!wbxml.ok) throw new Error(JSON.stringify(wbxml.error));
      expect(Array.from(wbxml.value.subarray(0, 5))).toEqual([0x02, 0xa4, 0x01, 0x6a, 0x00]);
      const back = decodeMessage(wbxml.value);
      if (!back.ok) throw new Error(JSON.stringify(back.error));
      expect(back.value.message).toEqual(m);
      const xml = encodeMessage(m, 'xml');
      if (!xml.ok) throw new Error(JSON.stringify(xml.error));
      const fromXml = decodeMessage(xml.value);
      // XML carries binary data as Format b64 with its Base64 text (TND §7.7.2); WBXML keeps bin as
      // opaque bytes. Decoding keeps what was on the wire, so the XML side reads back the b64 form.
      expect(fromXml.ok && fromXml.value.message).toEqual(withB64ForXml(m));
    }), { numRuns: 300 });
  });
});

// --- generators shared with the WBXML round-trip tests ------------------------------------------

const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,11}$/);
const uri = fc.array(word, { minLength: 1, maxLength: 4 }).map((s) => `./${s.join('/')}`);
const num = fc.integer({ min: 0, max: 99999 }).map(String);
/** Text without characters XML cannot carry and without leading/trailing blanks in trimmed fields. */
const dataText = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\r]/.test(s));
const meta = fc.record({ format: fc.constantFrom('chr', 'int', 'b64', 'node', 'bool', 'xml'), type: fc.constantFrom('text/plain', 'application/octet-stream'), size: num, maxObjSize: num }, { requiredKeys: [] });
const textItem = fc.record({
  target: fc.record({ locURI: uri }),
  source: fc.record({ locURI: uri, locName: word }, { requiredKeys: ['locURI'] }),
  meta,
  data: fc.oneof(dataText.map((text) => ({ kind: 'text' as const, text }))),
  moreData: fc.constant(true),
}, { requiredKeys: [] }) as fc.Arbitrary<Item>;
/** Binary data travels as a `bin` item: OPAQUE in WBXML, base64 in XML. */
const binItem = fc.record({
  target: fc.record({ locURI: uri }),
  meta: fc.record({ format: fc.constant('bin'), type: fc.constant('application/octet-stream') }),
  data: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ kind: 'binary' as const, bytes })),
}) as fc.Arbitrary<Item>;
const item = fc.oneof({ weight: 4, arbitrary: textItem }, { weight: 1, arbitrary: binItem });
const items = fc.array(item, { minLength: 1, maxLength: 3 });

const leafCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constantFrom('Add', 'Copy', 'Delete', 'Get', 'Replace'), cmdID: num, items, meta }, { requiredKeys: ['kind', 'cmdID', 'items'] }),
  fc.record({ kind: fc.constant('Alert'), cmdID: num, data: fc.constantFrom('1100', '1101', '1201', '1222', '1226'), correlator: word, items: fc.array(item, { maxLength: 3 }) }, { requiredKeys: ['kind', 'cmdID', 'items'] }),
  fc.record({ kind: fc.constant('Exec'), cmdID: num, correlator: word, items: fc.array(item, { minLength: 1, maxLength: 1 }) }, { requiredKeys: ['kind', 'cmdID', 'items'] }),
) as fc.Arbitrary<Command>;

const { command } = fc.letrec<{ command: Command }>((tie) => ({
  command: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafCommand,
    fc.record({ kind: fc.constantFrom('Atomic', 'Sequence'), cmdID: num, commands: fc.array(tie('command'), { maxLength: 3 }) }) as fc.Arbitrary<Command>,
  ),
}));

const status = fc.record({
  kind: fc.constant('Status'), cmdID: num, msgRef: num, cmdRef: num, cmd: fc.constantFrom('SyncHdr', 'Get', 'Add'),
  targetRefs: fc.array(uri, { maxLength: 2 }), sourceRefs: fc.array(uri, { maxLength: 2 }), data: fc.constantFrom('200', '212', '401', '404'), items: fc.constant([]),
  chal: fc.record({ meta: fc.record({ type: fc.constant('syncml:auth-md5'), format: fc.constant('b64'), nextNonce: word }) }),
}, { requiredKeys: ['kind', 'cmdID', 'msgRef', 'cmdRef', 'cmd', 'targetRefs', 'sourceRefs', 'data', 'items'] }) as fc.Arbitrary<Command>;

const results = fc.record({ kind: fc.constant('Results'), cmdID: num, msgRef: num, cmdRef: num, targetRefs: fc.array(uri, { maxLength: 2 }), sourceRefs: fc.constant([] as string[]), items }, { requiredKeys: ['kind', 'cmdID', 'cmdRef', 'targetRefs', 'sourceRefs', 'items'] }) as fc.Arbitrary<Command>;

export function arbMessage(): fc.Arbitrary<SyncML> {
  return fc.record({
    hdr: fc.record({
      verDTD: fc.constant('1.2'), verProto: fc.constantFrom('DM/1.2', 'DM/1.3'), sessionID: num, msgID: num,
      target: fc.record({ locURI: word, locName: word }, { requiredKeys: ['locURI'] }),
      source: fc.record({ locURI: word }),
      respURI: word,
      cred: fc.record({ meta: fc.record({ format: fc.constant('b64'), type: fc.constant('syncml:auth-basic') }), data: word }),
      meta: fc.record({ maxMsgSize: num, maxObjSize: num }),
    }, { requiredKeys: ['verDTD', 'verProto', 'sessionID', 'msgID', 'target', 'source'] }),
    body: fc.record({ commands: fc.array(fc.oneof(status, results, command), { maxLength: 6 }), final: fc.boolean() }),
  }) as fc.Arbitrary<SyncML>;
}
