/**
 * WBXML codec: real vectors, hand-made trees, header variants, and one test per error the decoder
 * promises (code, offset of the offending token, element path).
 */
import { VECTORS_DIR } from '../helpers/tools.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { el, type Child, type Document, type Element } from '../../main/protocol/element.js';
import {
  decodeWbxml,
  encodeWbxml,
  formatTokenDump,
  headerOptionsOf,
  inspectWbxml,
  PUBLIC_ID,
  PUBLIC_ID_LITERAL,
  TAG_LIST,
  tagToken,
} from '../../main/protocol/wbxml/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const VECTORS = VECTORS_DIR;
const vectorFiles = readdirSync(VECTORS).filter((f) => f.endsWith('.wbxml')).sort();
const vector = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(VECTORS, f)));

const HDR12 = [0x02, 0xa4, 0x01, 0x6a, 0x00];
const bytes = (...parts: (number | string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...new TextEncoder().encode(p));
    else out.push(...p);
  }
  return new Uint8Array(out);
};
const doc = (root: Element, rootNamespaceUri = 'SYNCML:SYNCML1.2'): Document => ({
  info: { wbxmlVersion: 2, publicId: PUBLIC_ID.SYNCML_12, rootNamespaceUri },
  root,
});
const s = (name: string, children: Child[] = []): Element => el('syncml', name, children);
const m = (name: string, children: Child[] = []): Element => el('metinf', name, children);
const d = (name: string, children: Child[] = []): Element => el('dmddf', name, children);

function mustDecode(b: Uint8Array): Document {
  const r = decodeWbxml(b);
  if (!r.ok) throw new Error(`decode failed: ${JSON.stringify(r.error)}`);
  return r.value;
}
function mustEncode(x: Document, opts?: Parameters<typeof encodeWbxml>[1]): Uint8Array {
  const r = encodeWbxml(x, opts);
  if (!r.ok) throw new Error(`encode failed: ${JSON.stringify(r.error)}`);
  return r.value;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('android-dm12 vectors', () => {
  it('are all present', () => {
    expect(vectorFiles).toEqual(['testadd.wbxml', 'testdelete.wbxml', 'testget.wbxml', 'testreplace.wbxml']);
  });

  it.each(vectorFiles)('%s decodes and re-encodes to an equal tree', (f) => {
    const b = vector(f);
    const x = mustDecode(b);
    expect(x.root).toMatchObject({ ns: 'syncml', name: 'SyncML' });
    // Default header (0x1201 / 0x0FD3) and the header as received both give back the same tree.
    for (const opts of [undefined, headerOptionsOf(x.info)]) {
      const again = mustDecode(mustEncode(x, opts));
      expect(again.root).toEqual(x.root);
    }
    expect(mustDecode(mustEncode(x, headerOptionsOf(x.info))).info).toEqual(x.info);
  });

  it('reads the literal public id (an unterminated string table) and the 1.1 root namespace', () => {
    const x = mustDecode(vector('testadd.wbxml'));
    expect(x.info).toEqual({
      wbxmlVersion: 2,
      publicId: '-//SYNCML//DTD SyncML 1.1//EN',
      rootNamespaceUri: 'SYNCML:SYNCML1.1',
    });
    expect(mustDecode(vector('testreplace.wbxml')).info.rootNamespaceUri).toBe('SYNCML:SYNCML1.2');
    // SyncML 1.1 root: default encoding uses the 1.1 numeric id.
    expect([...mustEncode(x).subarray(0, 5)]).toEqual([0x02, 0x9f, 0x53, 0x6a, 0x00]);
  });

  it('decodes testadd.wbxml to the expected SyncHdr and command structure', () => {
    const x = mustDecode(vector('testadd.wbxml'));
    const [hdr, body] = x.root.children as Element[];
    expect(hdr!.children.slice(0, 4)).toEqual([
      s('VerDTD', ['1.2']),
      s('VerProto', ['DM/1.2']),
      s('SessionID', ['30483']),
      s('MsgID', ['1']),
    ]);
    const cred = (hdr!.children as Element[]).find((c) => c.name === 'Cred')!;
    expect(cred).toEqual(
      s('Cred', [
        s('Meta', [m('Format', ['b64']), m('Type', ['syncml:auth-basic'])]),
        s('Data', ['U2N0czpTYW1wbGVDbGllbnQ=']),
      ]),
    );
    expect((body!.children as Element[]).map((c) => c.name)).toEqual(['Status', 'Status', 'Status', 'Add', 'Final']);
    // `4F 03 00 01`: Data with an empty inline string is an element with no children.
    const add = (body!.children as Element[])[3]!;
    const item = (add.children as Element[]).find((c) => c.name === 'Item')!;
    expect(item.children).toContainEqual(s('Data'));
  });

  it('uses the same bytes for the body when the header is reproduced (bar the NUL after the public id and empty strings)', () => {
    const b = vector('testget.wbxml'); // no empty STR_I in this one
    const out = mustEncode(mustDecode(b), headerOptionsOf(mustDecode(b).info));
    // The vector's string table is 29 bytes with no NUL; ours is 30 with one.
    expect(out[4]).toBe(0x1e);
    expect(hex(out.subarray(5 + 30))).toBe(hex(b.subarray(5 + 29)));
  });
});

describe('encoding', () => {
  it('writes the default header 02 A4 01 6A 00 and nothing else for an empty root', () => {
    expect([...mustEncode(doc(s('SyncML')))]).toEqual([...HDR12, 0x2d]);
  });

  it('writes text as STR_I, bytes as OPAQUE, and sets the content bit only when there are children', () => {
    const out = mustEncode(doc(s('SyncML', [s('SyncBody', [s('Status', [s('Data', ['200'])]), s('Final')])])));
    expect(hex(out)).toBe(hex(bytes(HDR12, 0x6d, 0x6b, 0x69, 0x4f, 0x03, '200', 0x00, 0x01, 0x01, 0x12, 0x01, 0x01)));
    const op = mustEncode(doc(s('SyncML', [s('Data', [new Uint8Array([0, 1, 0xff])])])));
    expect(hex(op)).toBe(hex(bytes(HDR12, 0x6d, 0x4f, 0xc3, 0x03, 0x00, 0x01, 0xff, 0x01, 0x01)));
  });

  it('switches code page lazily: only before a tag on another page, never on END', () => {
    const tree = s('SyncML', [
      s('SyncHdr', [s('Meta', [m('MaxMsgSize', ['10000'])])]),
      s('SyncBody', [s('Final')]),
    ]);
    // libwbxml's bytes for the same document (xml2wbxml -v 1.2 -n).
    const expected = bytes(HDR12, 0x6d, 0x6c, 0x5a, 0x00, 0x01, 0x4c, 0x03, '10000', 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x6b, 0x12, 0x01, 0x01);
    expect(hex(mustEncode(doc(tree)))).toBe(hex(expected));
  });

  it('encodes the literal public id form through the string table', () => {
    const out = mustEncode(doc(s('SyncML')), { publicId: PUBLIC_ID_LITERAL.SYNCML_12 });
    const lit = PUBLIC_ID_LITERAL.SYNCML_12;
    expect(hex(out)).toBe(hex(bytes(0x02, 0x00, 0x00, 0x6a, lit.length + 1, lit, 0x00, 0x2d)));
    expect(mustDecode(out).info.publicId).toBe(lit);
  });

  it('writes versions 1.1 and 1.3 and multi-byte public ids', () => {
    expect([...mustEncode(doc(s('SyncML')), { version: 1 }).subarray(0, 3)]).toEqual([0x01, 0xa4, 0x01]);
    expect([...mustEncode(doc(s('SyncML')), { version: 3 }).subarray(0, 3)]).toEqual([0x03, 0xa4, 0x01]);
    expect(mustDecode(mustEncode(doc(s('SyncML')), { version: 3 })).info.wbxmlVersion).toBe(3);
    const big = mustEncode(doc(s('SyncML')), { publicId: 0x12345678 });
    expect([...big.subarray(1, 6)]).toEqual([0x81, 0x91, 0xd1, 0xac, 0x78]);
    // The decoder refuses ids it has no tables for rather than guess.
    expect(decodeWbxml(big)).toMatchObject({ ok: false, error: { code: 'bad-header', offset: 1 } });
  });

  it('gives a MgmtTree root the DM DDF literal public id and page 2', () => {
    const out = mustEncode({ info: { wbxmlVersion: 2, publicId: 1, rootNamespaceUri: 'syncml:dmddf1.2' }, root: d('MgmtTree', [d('VerDTD', ['1.2'])]) });
    const lit = PUBLIC_ID_LITERAL.DMDDF_12;
    expect(hex(out)).toBe(hex(bytes(0x02, 0x00, 0x00, 0x6a, lit.length + 1, lit, 0x00, 0x00, 0x02, 0x60, 0x77, 0x03, '1.2', 0x00, 0x01, 0x01)));
    const back = mustDecode(out);
    expect(back.info.rootNamespaceUri).toBe('syncml:dmddf1.2');
    expect(back.root).toEqual(d('MgmtTree', [d('VerDTD', ['1.2'])]));
  });

  it('embeds DM DDF as a nested WBXML document in OPAQUE when asked (libwbxml style), and expands it back', () => {
    const tnds = d('MgmtTree', [d('VerDTD', ['1.2']), d('Node', [d('NodeName', ['a']), d('Value', ['x'])])]);
    const tree = s('SyncML', [s('SyncBody', [s('Replace', [s('CmdID', ['1']), s('Item', [s('Data', [tnds])])]), s('Final')])]);
    const inline = mustEncode(doc(tree));
    expect(mustDecode(inline).root).toEqual(tree);
    const opaque = mustEncode(doc(tree), { ddf: 'opaque' });
    const kept = mustDecode(opaque);
    const data = ((((kept.root.children[0] as Element).children[0] as Element).children[1] as Element).children[0] as Element);
    expect(data.children[0]).toBeInstanceOf(Uint8Array);
    const expanded = decodeWbxml(opaque, undefined, { embedded: 'expand' });
    expect(expanded.ok && expanded.value.root).toEqual(tree);
  });

  it('round-trips binary OPAQUE 00..FF, Unicode text, nested Atomic/Sequence and page switches', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const tree = s('SyncML', [
      s('SyncHdr', [s('VerDTD', ['1.2']), s('Meta', [m('MaxObjSize', ['65536']), m('EMI', ['x'])])]),
      s('SyncBody', [
        s('Atomic', [
          s('CmdID', ['1']),
          s('Sequence', [
            s('CmdID', ['2']),
            s('Replace', [
              s('CmdID', ['3']),
              s('Item', [
                s('Target', [s('LocURI', ['./Vendor/名前/😀'])]),
                s('Meta', [m('Format', ['bin']), m('Type', ['application/octet-stream'])]),
                s('Data', [all]),
              ]),
            ]),
            s('Add', [
              s('CmdID', ['4']),
              s('Item', [
                s('Meta', [m('Type', ['application/vnd.syncml.dmtnds+xml'])]),
                s('Data', [d('MgmtTree', [d('Node', [d('NodeName', ['ノード']), d('RTProperties', [d('Format', [d('chr')])])])])]),
              ]),
            ]),
            s('Alert', [s('CmdID', ['5']), s('Data', ['1100']), s('Item', [s('Data', ['Ünïcödé ✓ 𝄞 \u{10FFFF}'])])]),
          ]),
        ]),
        s('Final'),
      ]),
    ]);
    const out = mustEncode(doc(tree));
    expect(mustDecode(out).root).toEqual(tree);
  });

  it('fails clearly on unknown elements, with the element path', () => {
    const tree = s('SyncML', [s('SyncBody', [s('Add'), s('Add', [s('Item', [s('Bogus')])])])]);
    const r = encodeWbxml(doc(tree));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('unknown-element');
    expect(r.error.path).toBe('SyncML/SyncBody/Add[2]/Item/Bogus');
    // A MetInf name in the SyncML namespace is just as unknown.
    const r2 = encodeWbxml(doc(s('SyncML', [s('MaxMsgSize')])));
    expect(!r2.ok && r2.error.code).toBe('unknown-element');
  });

  it('refuses text WBXML strings cannot carry instead of corrupting it', () => {
    const nul = encodeWbxml(doc(s('SyncML', [s('Data', ['a\u0000b'])])));
    expect(!nul.ok && nul.error.code).toBe('bad-value');
    expect(!nul.ok && nul.error.message).toMatch(/U\+0000/);
    const lone = encodeWbxml(doc(s('SyncML', [s('Data', ['x\uD800y'])])));
    expect(!lone.ok && lone.error.code).toBe('bad-charset');
  });

  it('never throws on malformed trees', () => {
    const bad = [
      { info: {}, root: null },
      { info: {}, root: { ns: 'nope', name: 'SyncML', children: [] } },
      { info: {}, root: { ns: 'syncml', name: 'SyncML', children: [42] } },
      { info: {}, root: { ns: 'syncml', name: 'SyncML' } },
    ] as unknown as Document[];
    for (const b of bad) expect(encodeWbxml(b).ok).toBe(false);
  });

  it('encodes a 100,000-deep tree without recursion', () => {
    let node = s('Sequence');
    for (let i = 0; i < 100_000; i++) node = s('Sequence', [node]);
    const out = mustEncode(doc(s('SyncML', [node])));
    expect(out.length).toBe(5 + 1 + 100_001 + 100_001);
    // ...which the decoder refuses by its depth limit rather than by crashing.
    const r = decodeWbxml(out);
    expect(!r.ok && r.error.code).toBe('limit-exceeded');
    expect(decodeWbxml(out, { maxDepth: 200_000 }).ok).toBe(true);
  });

  it('covers every token of every page, in both directions', () => {
    for (const ns of ['syncml', 'metinf', 'dmddf'] as const) {
      for (const [name, tok] of TAG_LIST[ns]) {
        expect(tagToken(ns, name)).toBe(tok);
        const root = ns === 'dmddf' ? d('MgmtTree', [el(ns, name)]) : s('SyncML', [el(ns, name)]);
        const x = { ...doc(root), info: { ...doc(root).info, rootNamespaceUri: ns === 'dmddf' ? 'syncml:dmddf1.2' : 'SYNCML:SYNCML1.2' } };
        expect(mustDecode(mustEncode(x)).root).toEqual(root);
      }
    }
  });
});

describe('decoding', () => {
  const body = (...b: (number | string | number[])[]): Uint8Array => bytes(HDR12, ...b);

  it('accepts WBXML 1.0 (no charset field), 1.1, 1.2 and 1.3', () => {
    expect(mustDecode(bytes(0x00, 0xa4, 0x01, 0x00, 0x2d)).info.wbxmlVersion).toBe(0);
    for (const v of [1, 2, 3]) expect(mustDecode(bytes(v, 0xa4, 0x01, 0x6a, 0x00, 0x2d)).info.wbxmlVersion).toBe(v);
    const r = decodeWbxml(bytes(0x04, 0xa4, 0x01, 0x6a, 0x00, 0x2d));
    expect(!r.ok && r.error).toMatchObject({ code: 'bad-header', offset: 0 });
  });

  it('maps public ids to root namespaces', () => {
    const ns = (pid: number[]): string => mustDecode(bytes(0x02, pid, 0x6a, 0x00, 0x2d)).info.rootNamespaceUri;
    expect(ns([0x9f, 0x53])).toBe('SYNCML:SYNCML1.1');
    expect(ns([0x9f, 0x51])).toBe('SYNCML:SYNCML1.0');
    expect(ns([0xa4, 0x01])).toBe('SYNCML:SYNCML1.2');
    expect(ns([0x01])).toBe('SYNCML:SYNCML1.2'); // "unknown" public id
    const devinf = decodeWbxml(bytes(0x02, 0xa4, 0x03, 0x6a, 0x00, 0x2d));
    expect(!devinf.ok && devinf.error).toMatchObject({ code: 'bad-header', offset: 1 });
    const wml = decodeWbxml(bytes(0x02, 0x04, 0x6a, 0x00, 0x2d));
    expect(!wml.ok && wml.error.code).toBe('bad-header');
    const spaced = '-//OMA//DTD DM DDF 1.2//EN';
    const ddf = mustDecode(bytes(0x02, 0x00, 0x00, 0x6a, spaced.length + 1, spaced, 0x00, 0x00, 0x02, 0x20));
    expect(ddf.info).toEqual({ wbxmlVersion: 2, publicId: spaced, rootNamespaceUri: 'syncml:dmddf1.2' });
    expect(ddf.root).toEqual(d('MgmtTree'));
  });

  it('reads charsets UTF-8, unknown (as UTF-8), US-ASCII and ISO-8859-1, and refuses others', () => {
    const with_ = (cs: number[], text: number[]): ReturnType<typeof decodeWbxml> =>
      decodeWbxml(bytes(0x02, 0xa4, 0x01, cs, 0x00, 0x4f, 0x03, text, 0x00, 0x01));
    const text = (r: ReturnType<typeof decodeWbxml>): unknown => (r.ok ? r.value.root.children[0] : r.error.code);
    expect(text(with_([0x6a], [0xc3, 0xa9]))).toBe('é');
    expect(text(with_([0x00], [0xc3, 0xa9]))).toBe('é');
    expect(text(with_([0x04], [0xe9]))).toBe('é');
    expect(text(with_([0x03], [0x41]))).toBe('A');
    expect(text(with_([0x03], [0xe9]))).toBe('bad-charset');
    expect(text(with_([0x6a], [0xe9]))).toBe('bad-charset');
    expect(text(with_([0x83, 0x7f], [0x41]))).toBe('bad-header'); // UTF-16 (1015)
  });

  it('merges STR_I, STR_T and ENTITY into one string and reads LITERAL tags', () => {
    // String table: "Lo" NUL "Data" NUL
    const b = bytes(0x02, 0xa4, 0x01, 0x6a, 0x08, 'Lo', 0x00, 'Data', 0x00,
      0x6d, 0x44, 0x03, 0x03, 'He', 0x00, 0x02, 0xff, 0x7f, 0x83, 0x00, 0x02, 0x81, 0x69, 0x01, 0x01);
    expect(mustDecode(b).root).toEqual(s('SyncML', [s('Data', ['He\u3fffLoé'])]));
  });

  it('reads OPAQUE as an exact copy of the bytes', () => {
    const b = body(0x6d, 0x4f, 0xc3, 0x81, 0x00, new Array(128).fill(7), 0x01, 0x01);
    const x = mustDecode(b);
    const data = (x.root.children[0] as Element).children[0] as Uint8Array;
    expect(data).toBeInstanceOf(Uint8Array);
    expect(data.length).toBe(128);
    expect(data.buffer).not.toBe(b.buffer);
  });

  it.each([
    ['empty input', new Uint8Array(0), 'truncated', 0, undefined],
    ['truncated public id', bytes(0x02, 0xa4), 'truncated', 1, undefined],
    ['string table past the end', bytes(0x02, 0xa4, 0x01, 0x6a, 0x05, 0x41), 'truncated', 4, undefined],
    ['public id index outside the table', bytes(0x02, 0x00, 0x05, 0x6a, 0x02, 0x41, 0x00, 0x2d), 'bad-string-table-ref', 1, undefined],
    ['mb_u_int32 over 32 bits', bytes(0x02, 0xff, 0xff, 0xff, 0xff, 0x7f), 'bad-mb-uint', 1, undefined],
    ['unterminated STR_I', bytes(HDR12, 0x6d, 0x6b, 0x4f, 0x03, 0x41), 'truncated', 8, 'SyncML/SyncBody/Data'],
    ['undefined token', bytes(HDR12, 0x6d, 0x6b, 0x7f), 'bad-token', 7, 'SyncML/SyncBody'],
    ['undefined code page', bytes(HDR12, 0x6d, 0x00, 0x07, 0x45), 'bad-token', 8, 'SyncML'],
    ['attribute bit', bytes(HDR12, 0x6d, 0xed), 'unsupported', 6, 'SyncML'],
    ['LITERAL_A', bytes(HDR12, 0x6d, 0x84, 0x00), 'unsupported', 6, 'SyncML'],
    ['EXT_I_0', bytes(HDR12, 0x6d, 0x40, 0x41, 0x00), 'unsupported', 6, 'SyncML'],
    ['EXT_T_1', bytes(HDR12, 0x6d, 0x81, 0x00), 'unsupported', 6, 'SyncML'],
    ['EXT_2', bytes(HDR12, 0x6d, 0xc2), 'unsupported', 6, 'SyncML'],
    ['PI', bytes(HDR12, 0x6d, 0x43), 'unsupported', 6, 'SyncML'],
    ['STR_T outside the table', bytes(HDR12, 0x6d, 0x83, 0x05, 0x01), 'bad-string-table-ref', 6, 'SyncML'],
    ['OPAQUE past the end', bytes(HDR12, 0x6d, 0xc3, 0x10, 0x00), 'truncated', 6, 'SyncML'],
    ['ENTITY not a scalar value', bytes(HDR12, 0x6d, 0x02, 0x83, 0xb0, 0x00, 0x01), 'bad-charset', 6, 'SyncML'],
    ['text before the root', bytes(HDR12, 0x03, 0x41, 0x00, 0x2d), 'unexpected-content', 5, undefined],
    ['END with nothing open', bytes(HDR12, 0x01), 'bad-token', 5, undefined],
    ['bytes after the root', bytes(HDR12, 0x2d, 0x00), 'trailing-data', 6, undefined],
    ['second root', bytes(HDR12, 0x6d, 0x01, 0x2d), 'trailing-data', 7, undefined],
    ['unclosed element', bytes(HDR12, 0x6d, 0x6b, 0x69), 'truncated', 7, 'SyncML/SyncBody/Status'],
    ['header only', bytes(HDR12), 'truncated', 5, undefined],
    ['LITERAL name that is not an XML name', bytes(0x02, 0xa4, 0x01, 0x6a, 0x03, '<a', 0x00, 0x6d, 0x04, 0x00, 0x01), 'bad-value', 9, 'SyncML'],
  ] as const)('%s -> %s at byte %i', (_what, input, code, offset, where) => {
    const r = decodeWbxml(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.offset).toBe(offset);
    expect(r.error.path).toBe(where);
    expect(r.error.message).toMatch(/\S/);
    // The inspector stops at the same byte.
    const i = inspectWbxml(input);
    expect(i.ok).toBe(false);
    if (!i.ok && code !== 'truncated') expect(i.error.offset).toBe(offset);
  });

  it('names repeated siblings in error paths: Add[2]', () => {
    const b = bytes(HDR12, 0x6d, 0x6b, 0x45, 0x01, 0x45, 0x54, 0x3f);
    const r = decodeWbxml(b);
    expect(!r.ok && r.error).toMatchObject({ code: 'bad-token', offset: 11, path: 'SyncML/SyncBody/Add[2]/Item' });
  });

  it('applies configurable limits', () => {
    const b = vector('testadd.wbxml');
    expect(decodeWbxml(b, { maxBytes: 100 })).toMatchObject({ ok: false, error: { code: 'limit-exceeded', offset: 0 } });
    expect(decodeWbxml(b, { maxElements: 10 })).toMatchObject({ ok: false, error: { code: 'limit-exceeded' } });
    expect(decodeWbxml(b, { maxDepth: 3 })).toMatchObject({ ok: false, error: { code: 'limit-exceeded', path: 'SyncML/SyncHdr/Target' } });
    expect(decodeWbxml(b, { maxDepth: 5 })).toMatchObject({ ok: false, error: { path: 'SyncML/SyncBody/Add/Item/Target' } });
    expect(decodeWbxml(b, { maxDepth: 6 }).ok).toBe(true);
  });

  it('turns 100,000 nested open tags into a depth error', () => {
    const deep = new Uint8Array(5 + 100_000).fill(0x64); // Sequence with content, over and over
    deep.set(HDR12);
    const r = decodeWbxml(deep);
    expect(!r.ok && r.error.code).toBe('limit-exceeded');
    const unlimited = decodeWbxml(deep, { maxDepth: Infinity });
    expect(!unlimited.ok && unlimited.error).toMatchObject({ code: 'truncated', offset: 100_004 });
  });
});

describe('inspect', () => {
  it('lists header fields and every token of a vector', () => {
    const b = vector('testadd.wbxml');
    const r = inspectWbxml(b);
    expect(r.ok).toBe(true);
    expect(r.tokens.slice(0, 4).map((t) => t.kind)).toEqual(['VERSION', 'PUBLIC_ID', 'CHARSET', 'STRING_TABLE']);
    const tags = r.tokens.filter((t) => t.kind === 'TAG');
    const ends = r.tokens.filter((t) => t.kind === 'END');
    expect(tags.filter((t) => t.hasContent).length).toBe(ends.length);
    // Tokens tile the input: each starts where the previous ended.
    let at = 0;
    for (const t of r.tokens) {
      expect(t.offset).toBe(at);
      at += t.length;
    }
    expect(at).toBe(b.length);
    const dump = formatTokenDump(r.tokens);
    expect(dump.endsWith('\n')).toBe(true);
    expect(dump.trimEnd().split('\n').length).toBe(r.tokens.length);
    expect(dump).toContain('0x00A4    164  p1  47  TAG                  <Format> metinf');
    expect(dump).toMatch(/SWITCH_PAGE {2}-> page 1 \(metinf\)/);
    expect(dump).toContain('"syncml:auth-basic" (17 bytes)');
    expect(dump).toContain('PUBLIC_ID    "-//SYNCML//DTD SyncML 1.1//EN" (string table @0)');
  });

  it('shows OPAQUE and long text as escaped, truncated previews with their lengths', () => {
    const long = 'x'.repeat(100);
    const out = mustEncode(doc(s('SyncML', [s('Data', [new Uint8Array([0, 0x41, 0x0a, 0xff])]), s('LocURI', [`"${long}\n`])])));
    const dump = formatTokenDump(inspectWbxml(out).tokens);
    expect(dump).toContain('[4 bytes] "\\x00A\\x0A\\xFF"');
    expect(dump).toMatch(/"\\"x{38}…" \(102 bytes\)/);
  });

  it('returns the tokens read before a fault together with the fault', () => {
    const b = vector('testadd.wbxml').subarray(0, 200);
    const r = inspectWbxml(b);
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 'truncated', offset: 196 });
    expect(r.tokens.at(-1)).toMatchObject({ kind: 'TAG', name: 'Data', offset: 195 });
    const dump = formatTokenDump(r.tokens, r.error);
    expect(dump.trimEnd().split('\n').at(-1)).toBe('!! truncated: input ends inside an inline string (no NUL terminator) at byte 196 (0xC4)');
  });
});
