/**
 * SMS TPDUs (TS 23.040): published examples, PDUs made by an independent encoder (Gammu's
 * EncodePDU / EncodeSMS, captured as hex), WAP push splitting per the notes, and bad PDUs as values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { InvalidInput } from '../../main/notify/errors.js';
import { GSM7_BASIC_TABLE, packSeptets, septetsToText, textToSeptets, unpackSeptets } from '../../main/notify/gsm7.js';
import { Reassembler, decodeSmsPdu, encodeSubmit, parseMsisdn } from '../../main/notify/sms.js';
import { MULTI_PART_CAPACITY, SINGLE_PART_CAPACITY, buildWapPushSms, readWapPush } from '../../main/notify/wap-push.js';

function decode(hex: string, smsc: 'auto' | 'yes' | 'no' = 'auto') {
  const r = decodeSmsPdu(fromHex(hex)!, { smsc });
  if (!r.ok) throw new Error(`${r.error.message} at ${r.error.offset}`);
  return r.value;
}

describe('SMS PDUs: published and independently encoded vectors', () => {
  // The widely published SMS-SUBMIT example (dreamfabric "SMS and the PDU format"): "hellohello" to +46708251358.
  const SUBMIT = '0011000B916407281553F80000AA0AE8329BFD4697D9EC37';
  // Its SMS-DELIVER counterpart: from 27838890001 via SMSC +27381000015, 99-03-29 15:16:59 +2h.
  const DELIVER = '07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37';

  it('encodes the published SMS-SUBMIT byte for byte', () => {
    expect(toHex(encodeSubmit({ to: '+46708251358', text: 'hellohello', validityRelative: 0xaa }).pdu)).toBe(SUBMIT);
  });

  it('decodes the published SMS-SUBMIT', () => {
    const s = decode(SUBMIT);
    expect(s).toMatchObject({ type: 'SMS-SUBMIT', smsc: null, messageRef: 0, to: { number: '+46708251358', toa: 0x91 }, pid: 0, udl: 10, text: 'hellohello' });
    expect(s.validity).toEqual({ format: 'relative', hex: 'AA', description: '4 days' });
  });

  it('decodes the published SMS-DELIVER', () => {
    const s = decode(DELIVER);
    expect(s).toMatchObject({ type: 'SMS-DELIVER', smsc: { number: '+27381000015' }, from: { number: '27838890001', ton: 'subscriber' }, text: 'hellohello', timestamp: '1999-03-29T15:16:59+02:00' });
  });

  it('decodes a UCS2 SMS-SUBMIT made by Gammu', () => {
    // gammu.EncodePDU({Number: '+491701234567', Text: 'Grüße ☺', Coding: 'Unicode_No_Compression', ...})
    const s = decode('018111000C919471103254760008000E0047007200FC00DF00650020263A');
    expect(s).toMatchObject({ to: { number: '+491701234567' }, dcs: { alphabet: 'ucs2' }, text: 'Grüße ☺' });
    expect(s.smsc).toMatchObject({ number: '', toa: 0x81 });
  });

  it('decodes a concatenated 7-bit text made by Gammu (fill bit after the UDH, extension table)', () => {
    // gammu.EncodeSMS(ConcatenatedTextLong, 'x' * 150 + ' [END] {€}') -> 2 parts, reference 0x9C.
    const p1 = decode(
      '018151000781947190F9000000A00500039C0201F0783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8F076D78',
    );
    const p2 = decode('018151000781947190F9000000130500039C02028A4EE2C607DAA036E54D0A');
    expect(p1.udh?.concat).toEqual({ ref: 0x9c, total: 2, seq: 1, refBits: 8 });
    expect(p2.udh?.concat).toEqual({ ref: 0x9c, total: 2, seq: 2, refBits: 8 });
    expect(p1.text! + p2.text!).toBe('x'.repeat(150) + ' [END] {€}');
    expect(p1.validity?.description).toBe('5 minutes');
  });

  it('round-trips 7-bit text with a UDH through its own encoder', () => {
    const e = encodeSubmit({ to: '123', text: 'Hi {there} €', udh: [{ iei: 0x00, data: Uint8Array.of(1, 2, 1) }] });
    const s = decode(toHex(e.pdu));
    expect(s.text).toBe('Hi {there} €');
    expect(s.flags.udhi).toBe(true);
  });
});

describe('GSM 7-bit alphabet', () => {
  it('has 128 basic characters', () => expect(GSM7_BASIC_TABLE.length).toBe(128));
  it('packs septets as TS 23.038 shows ("hellohello" -> E8329BFD4697D9EC37)', () => {
    expect(toHex(packSeptets(textToSeptets('hellohello')!))).toBe('E8329BFD4697D9EC37');
  });
  it('refuses characters outside the alphabet', () => expect(textToSeptets('日本')).toBeUndefined());
  it('round-trips any GSM text (property)', () => {
    const chars = [...GSM7_BASIC_TABLE.filter((_, i) => i !== 0x1b), '€', '[', ']', '{', '}', '\\', '^', '~', '|'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 80 }), fc.integer({ min: 0, max: 6 }), (cs, fill) => {
        const text = cs.join('');
        const septets = textToSeptets(text)!;
        return septetsToText(unpackSeptets(packSeptets(septets, fill), septets.length, fill)) === text;
      }),
    );
  });
});

describe('WAP push over SMS', () => {
  it('puts a short push in one SMS with the 16-bit port UDH (notes: 06 05 04 0B 84 C0 02)', () => {
    const wsp = new Uint8Array(48).fill(0x5a);
    const [p, ...more] = buildWapPushSms({ to: '+491701234567', wsp, sourcePort: 0xc002 });
    expect(more).toEqual([]);
    // 00 SMSC | 41 SUBMIT+UDHI | 00 MR | 0C 91 ... DA | 00 PID | 04 DCS 8-bit | UDL | UDH | data
    expect(p!.pduHex).toBe(`0041000C91947110325476000437` + '0605040B84C002' + '5A'.repeat(48));
    expect(p!.tpduLength).toBe(p!.pduHex.length / 2 - 1);
  });

  it('fills one SMS up to 133 octets and splits at 134 into 128-octet parts (notes UDH 0B 00 03 ref total seq 05 04 0B 84 23 F0)', () => {
    expect(SINGLE_PART_CAPACITY).toBe(133);
    expect(MULTI_PART_CAPACITY).toBe(128);
    expect(buildWapPushSms({ to: '1', wsp: new Uint8Array(133) }).length).toBe(1);
    const parts = buildWapPushSms({ to: '1', wsp: new Uint8Array(134).map((_, i) => i), ref: 0x42 });
    expect(parts.map((p) => [p.seq, p.total, p.payloadLength])).toEqual([
      [1, 2, 128],
      [2, 2, 6],
    ]);
    for (const p of parts) {
      const s = decode(p.pduHex, 'yes');
      expect(toHex(fromHex(p.pduHex)!.subarray(9, 21))).toBe(`0B000342020${p.seq}05040B8423F0`);
      expect(s.udh?.ports).toEqual({ destination: 2948, source: 9200, bits: 16 });
      expect(s.dcs.alphabet).toBe('8bit');
      expect(s.udl).toBeLessThanOrEqual(140);
    }
  });

  it('reassembles parts in any order into the original push', () => {
    const wsp = new Uint8Array(700).map((_, i) => (i * 7) & 0xff);
    const parts = buildWapPushSms({ to: '+15551234', wsp, ref: 9 });
    expect(parts.length).toBe(6);
    const re = new Reassembler();
    const shuffled = [parts[3]!, parts[0]!, parts[5]!, parts[1]!, parts[4]!, parts[2]!];
    let whole: { data: Uint8Array; parts: number } | undefined;
    for (const p of shuffled) whole = re.add('+15551234', decode(p.pduHex));
    expect(whole?.parts).toBe(6);
    expect(toHex(whole!.data)).toBe(toHex(wsp));
    expect(re.openMessages).toBe(0);
  });

  it('refuses a payload that needs more than 255 parts', () => {
    expect(() => buildWapPushSms({ to: '1', wsp: new Uint8Array(128 * 255 + 1) })).toThrow(InvalidInput);
  });

  it('reads package #0 out of a reassembled notification push', () => {
    const r = readWapPush(fromHex('010603C4AF87' + '00'.repeat(16) + '02D8000000123412' + Buffer.from('com.mgmtsrv.manage').toString('hex'))!);
    expect(r.ok && r.value.package0?.serverId).toBe('com.mgmtsrv.manage');
    expect(r.ok && r.value.package0?.initiator).toBe('server');
  });
});

describe('bad input', () => {
  it('refuses numbers that are not numbers', () => {
    for (const bad of ['', '+', 'abc', '+49 170 x', '1'.repeat(21)]) expect(() => parseMsisdn(bad)).toThrow(InvalidInput);
    expect(parseMsisdn('+49 (170) 123-45')).toEqual({ digits: '4917012345', toa: 0x91 });
  });

  it('refuses 8-bit data longer than one SMS', () => {
    expect(() => encodeSubmit({ to: '1', data: new Uint8Array(141) })).toThrow(/140/);
  });

  it('reports truncated and overlong PDUs with the byte offset', () => {
    const t = decodeSmsPdu(fromHex('0011000B916407281553F80000AA0AE8329BFD4697D9EC')!, { smsc: 'yes' });
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.error).toMatchObject({ code: 'truncated', offset: 15 });
    const long = decodeSmsPdu(fromHex('0011000B916407281553F80000AA0AE8329BFD4697D9EC3700')!, { smsc: 'yes' });
    expect(!long.ok && long.error.code).toBe('trailing-data');
    const udh = decodeSmsPdu(fromHex('0041000181000403' + '0A0504')!, { smsc: 'yes' });
    expect(!udh.ok && udh.error.code).toBe('truncated');
  });

  it('reads a bare TPDU when the SMSC field is absent (auto)', () => {
    const s = decode('11000B916407281553F80000AA0AE8329BFD4697D9EC37');
    expect(s.smsc).toBeUndefined();
    expect(s.text).toBe('hellohello');
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeSmsPdu(b);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 2000 },
    );
  });
});
