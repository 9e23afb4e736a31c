/**
 * The string table cannot multiply a document's text (WbxmlLimits.maxTableTextChars). A STR_T is a
 * few bytes pointing into the table; a 1 MB input whose STR_Ts each point one byte further into one
 * 1 MB table string made decodeWbxml (and decodeMessage, the DM server's decoder of every POST)
 * build 3 GB of strings in 10 s for 3,000 references, and inspectWbxml (the Sessions view's token
 * dump, `dmw codec inspect`) ran the process out of memory. Every reference now counts against the
 * budget, cached or not, in each of the four WBXML readers, and going over it is a located
 * limit-exceeded error.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../main/protocol/codec.js';
import { wbxmlToXml } from '../../main/protocol/convert.js';
import { DEFAULT_WBXML_LIMITS } from '../../main/protocol/wbxml/limits.js';
import { decodeWbxml, inspectWbxml } from '../../main/protocol/wbxml/index.js';
import { wbxmlToXmlFast } from '../../main/protocol/wbxml/stream-to-xml.js';

function mbUint(n: number): number[] {
  const out = [n & 0x7f];
  for (n >>>= 7; n > 0; n >>>= 7) out.unshift(0x80 | (n & 0x7f));
  return out;
}
const str = (t: string) => [0x03, ...Buffer.from(t), 0x00];

/**
 * A SyncML 1.2 DM package whose Replace has `refs` Items, each Data a STR_T into one table string
 * of `tableLength` bytes: at offset 0 every time (`same`), or one byte further each time.
 */
function amplifier(tableLength: number, refs: number, same: boolean): { bytes: Uint8Array; firstRefAt: number; refBytes: number[][] } {
  const head = [0x02, 0xa4, 0x01, 0x6a, ...mbUint(tableLength)];
  const table = new Array<number>(tableLength).fill(0x41);
  table[tableLength - 1] = 0;
  // SyncML > SyncHdr (VerDTD, VerProto, SessionID, MsgID, Target/LocURI, Source/LocURI) > SyncBody > Replace > CmdID.
  const hdr = [0x6d, 0x6c, 0x71, ...str('1.2'), 1, 0x72, ...str('DM/1.2'), 1, 0x65, ...str('1'), 1, 0x5b, ...str('1'), 1, 0x6e, 0x57, ...str('http://lab'), 1, 1, 0x67, 0x57, ...str('IMEI:1'), 1, 1, 1];
  const body = [0x6b, 0x60, 0x4b, ...str('2'), 1];
  const refBytes: number[][] = [];
  for (let i = 0; i < refs; i++) refBytes.push([0x54, 0x4f, 0x83, ...mbUint(same ? 0 : i), 0x01, 0x01]);
  const tail = [0x01, 0x12, 0x01, 0x01];
  const prefix = head.length + table.length + hdr.length + body.length;
  return { bytes: new Uint8Array([...head, ...table, ...hdr, ...body, ...refBytes.flat(), ...tail]), firstRefAt: prefix, refBytes };
}

/** Offset of reference `k`'s STR_T byte (each reference is Item, Data, STR_T, offset, END, END). */
function strtOffset(a: ReturnType<typeof amplifier>, k: number): number {
  let at = a.firstRefAt;
  for (let i = 0; i < k; i++) at += a.refBytes[i]!.length;
  return at + 2;
}

describe('WBXML string-table text budget', () => {
  it('is the largest input: 16 MiB of characters', () => {
    expect(DEFAULT_WBXML_LIMITS.maxTableTextChars).toBe(16 * 1024 * 1024);
  });

  it('a package well inside the budget decodes as before (every reader)', () => {
    const a = amplifier(128, 100, false);
    const tree = decodeWbxml(a.bytes);
    expect(tree.ok).toBe(true);
    expect(inspectWbxml(a.bytes).ok).toBe(true);
    const xml = wbxmlToXml(a.bytes);
    expect(xml.ok && Buffer.from(xml.value).toString().match(/<Data>/g)?.length).toBe(100);
  });

  for (const same of [false, true]) {
    const shape = same ? 'the same table string again and again' : 'one byte further into the table each time';
    // 17 references of 1 MiB each: the 17th passes 16 MiB. The input is just over 1 MiB.
    const a = amplifier(1024 * 1024 + 1, 17, same);
    const over = strtOffset(a, 16);

    it(`refuses references to ${shape} past the budget, at the reference that passes it: decodeWbxml`, () => {
      const r = decodeWbxml(a.bytes);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toMatchObject({ code: 'limit-exceeded', offset: over, path: 'SyncML/SyncBody/Replace/Item[17]/Data' });
      expect(r.error.message).toMatch(/maxTableTextChars 16777216 at the reference to offset \d+ \(every reference counts\)/);
    });

    it(`the same for ${shape}: decodeMessage (the DM server's path, fast then tree)`, () => {
      const r = decodeMessage(a.bytes);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ code: 'limit-exceeded', offset: over });
    });

    it(`the same for ${shape}: wbxmlToXml (its fast path gives way to the tree path's error)`, () => {
      expect(wbxmlToXmlFast(a.bytes)).toBeUndefined();
      const r = wbxmlToXml(a.bytes);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ code: 'limit-exceeded', offset: over });
    });

    it(`the same for ${shape}: inspectWbxml keeps the tokens before it`, () => {
      const r = inspectWbxml(a.bytes);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toMatchObject({ code: 'limit-exceeded', offset: over });
      expect(r.tokens.filter((t) => t.kind === 'STR_T')).toHaveLength(16);
    });
  }

  it('is configurable, and counts a reference the decoder had cached', () => {
    const a = amplifier(101, 5, true);
    // 100 characters per reference: the third passes 250.
    const r = decodeWbxml(a.bytes, { maxTableTextChars: 250 });
    expect(!r.ok && r.error).toMatchObject({ code: 'limit-exceeded', offset: strtOffset(a, 2) });
    expect(decodeWbxml(a.bytes, { maxTableTextChars: 500 }).ok).toBe(true);
    const i = inspectWbxml(a.bytes, { maxTableTextChars: 250 });
    expect(!i.ok && i.error).toMatchObject({ code: 'limit-exceeded', offset: strtOffset(a, 2) });
  });
});
