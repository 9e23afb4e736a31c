import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { binaryAsXmlText, decodeBinaryItems, fromBase64, isPlainAscii } from '../../main/protocol/binary.js';
import { parseXml } from '../../main/protocol/xml/parse.js';
import { serializeXml, serializeXmlBytes } from '../../main/protocol/xml/serialize.js';

const plain = (b: Uint8Array) => b.every((c) => c >= 0x20 && c < 0x80 && c !== 0x26 && c !== 0x3c && c !== 0x3e);

describe('binary item data', () => {
  it('isPlainAscii agrees with a byte-by-byte check at every alignment and length', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
      const buf = new Uint8Array(bytes.length + shift);
      buf.set(bytes, shift);
      const view = buf.subarray(shift);
      expect(isPlainAscii(view)).toBe(plain(view));
    }), { numRuns: 2000 });
    const printable = Uint8Array.from({ length: 4096 }, (_, i) => 0x20 + (i % 0x5f));
    expect(isPlainAscii(printable)).toBe(plain(printable));
    for (const bad of [0x00, 0x09, 0x0a, 0x1f, 0x26, 0x3c, 0x3e, 0x80, 0xff]) {
      const b = new Uint8Array(printable.filter((c) => c !== 0x26 && c !== 0x3c && c !== 0x3e));
      b[1234] = bad;
      expect(isPlainAscii(b), `byte 0x${bad.toString(16)}`).toBe(false);
    }
  });

  it('shows UTF-8 as text, other bytes as base64 after a comment, bin items as base64', () => {
    expect(binaryAsXmlText(new TextEncoder().encode('a<b & ü'), false)).toBe('a&lt;b &amp; ü');
    expect(binaryAsXmlText(Uint8Array.of(0, 0xff), false)).toBe('<!-- 2 bytes of binary data, shown as base64 -->AP8=');
    expect(binaryAsXmlText(new TextEncoder().encode('abc'), true)).toBe('YWJj');
  });

  it('reads base64 strictly', () => {
    expect(fromBase64('AP8=')).toEqual(Uint8Array.of(0, 0xff));
    expect(fromBase64('AP8')).toBeUndefined();
    expect(fromBase64('not base64!')).toBeUndefined();
    expect(fromBase64('AP8=\n')).toEqual(Uint8Array.of(0, 0xff));
  });

  it('round-trips a bin item: base64 in XML, bytes in the tree, the same base64 back', () => {
    const xml = '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncBody><Replace><CmdID>1</CmdID><Item><Meta><Format xmlns="syncml:metinf">bin</Format></Meta><Data>AAEC/w==</Data></Item></Replace></SyncBody></SyncML>';
    const d = parseXml(xml);
    if (!d.ok) throw new Error('fixture');
    decodeBinaryItems(d.value.root);
    const out = serializeXml(d.value, { pretty: false, declaration: false });
    expect(out).toBe(xml);
    expect(new TextDecoder().decode(serializeXmlBytes(d.value, { pretty: false, declaration: false }))).toBe(xml);
  });
});
