/**
 * APDU encoding, T=0 transport rules (61xx GET RESPONSE, 6Cxx Le retry) against a scripted fake
 * transport, the trace's PIN masking, and ATR parsing.
 */
import { describe, expect, it } from 'vitest';
import { command, describeSw, encodeCommand, fromHex, hex, parseCommand, redactedHex } from '../../native/pcsc/apdu.js';
import { CardChannel, getResponseCla, withLe, type ApduTraceEntry, type ApduTransport } from '../../native/pcsc/channel.js';
import { computeTck, parseAtr } from '../../native/pcsc/atr.js';
import { makeAtr } from '../../native/pcsc/virtual/image.js';

/** A card that answers from a script: each entry is [expected command hex, response hex]. */
function scripted(script: [string, string][]): ApduTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async transmit(cmd) {
      const step = script[sent.length];
      sent.push(hex(cmd));
      if (!step) throw new Error(`unexpected command ${hex(cmd)}`);
      expect(hex(cmd)).toBe(step[0].replace(/\s/g, ''));
      return fromHex(step[1])!;
    },
  };
}

describe('APDU encoding', () => {
  it('builds the four cases and parses them back', () => {
    expect(hex(command(0x00, 0x20, 0x00, 0x01))).toBe('00200001');
    expect(hex(command(0x00, 0xb0, 0x01, 0x00, undefined, 256))).toBe('00B0010000');
    expect(hex(command(0x00, 0xd6, 0, 0, Uint8Array.of(1, 2, 3)))).toBe('00D600000301 0203'.replace(' ', ''));
    expect(hex(command(0x00, 0xa4, 4, 4, Uint8Array.of(0xa0, 0), 256))).toBe('00A4040402A00000');
    const c = parseCommand(fromHex('00A4040402A00000')!);
    expect(c).toMatchObject({ cla: 0, ins: 0xa4, p1: 4, p2: 4, le: 256 });
    expect(typeof parseCommand(fromHex('00D6000005010203')!)).toBe('string');
  });

  it('refuses data longer than a short APDU holds', () => {
    expect(() => encodeCommand({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(256) })).toThrow(/Lc 256/);
  });

  it('names status words, with tries left for 63Cx', () => {
    expect(describeSw(0x63c2)).toMatch(/2 tries left/);
    expect(describeSw(0x6982)).toMatch(/security status/);
    expect(describeSw(0x6a82)).toMatch(/not found/);
  });

  it('masks PIN data of VERIFY in traces, not other data', () => {
    expect(redactedHex(fromHex('002000010831323334FFFFFFFF')!)).toBe('0020000108****************');
    expect(redactedHex(fromHex('00D60000023132')!)).toBe('00D60000023132');
  });
});

describe('CardChannel T=0 handling', () => {
  it('fetches 61xx with GET RESPONSE, concatenating chained answers', async () => {
    const t = scripted([
      ['00A4040C02A000 ', '6110'],
      ['00C0000010', '000102030405060708090A0B0C0D0E0F6104'],
      ['00C0000004', '101112139000'],
    ]);
    const ch = new CardChannel(t);
    const r = await ch.transmit(fromHex('00A4040C02A000')!);
    expect(r.sw).toBe(0x9000);
    expect(hex(r.data)).toBe('000102030405060708090A0B0C0D0E0F10111213');
    expect(ch.exchanges).toBe(3);
  });

  it('resends with the Le that 6Cxx names, once', async () => {
    const t = scripted([
      ['00B0000000', '6C20'],
      ['00B0000020', `${'AB'.repeat(32)}9000`],
    ]);
    const r = await new CardChannel(t).transmit(fromHex('00B0000000')!);
    expect(r.data.length).toBe(32);
    expect(r.sw).toBe(0x9000);
  });

  it('fails (does not loop) when the card keeps answering 6Cxx', async () => {
    const t = scripted([
      ['00B0000000', '6C20'],
      ['00B0000020', '6C10'],
    ]);
    await expect(new CardChannel(t).transmit(fromHex('00B0000000')!)).rejects.toThrow(/asked twice/);
  });

  it('bounds GET RESPONSE chains', async () => {
    const t: ApduTransport = { transmit: async () => fromHex('00 6101')! };
    await expect(new CardChannel(t, { maxGetResponses: 5 }).transmit(fromHex('00A4000C023F00')!)).rejects.toThrow(/more than 5 GET RESPONSE/);
  });

  it('uses the ISO class for GET RESPONSE after a proprietary class', () => {
    expect(getResponseCla(0x00)).toBe(0x00);
    expect(getResponseCla(0xa0)).toBe(0xa0);
    expect(getResponseCla(0x80)).toBe(0x00);
    expect(getResponseCla(0x81)).toBe(0x01);
  });

  it('withLe adds or replaces Le for every case', () => {
    expect(hex(withLe(fromHex('00B00000')!, 0x20))).toBe('00B0000020');
    expect(hex(withLe(fromHex('00B0000000')!, 0x20))).toBe('00B0000020');
    expect(hex(withLe(fromHex('00A4040C02A000')!, 0x10))).toBe('00A4040C02A00010');
    expect(hex(withLe(fromHex('00A4040C02A00000')!, 0x10))).toBe('00A4040C02A00010');
  });

  it('traces every exchange, marking automatic ones, with transport errors', async () => {
    const entries: ApduTraceEntry[] = [];
    let n = 0;
    const t: ApduTransport = {
      async transmit() {
        n++;
        if (n === 1) return fromHex('6102')!;
        if (n === 2) return fromHex('01029000')!;
        throw new Error('the card was removed');
      },
    };
    const ch = new CardChannel(t, { onTrace: (e) => entries.push(e) });
    await ch.transmit(fromHex('0020000108 3132333400000000'.replace(' ', ''))!);
    await expect(ch.transmit(fromHex('00B0000010')!)).rejects.toThrow(/removed/);
    expect(entries.map((e) => [e.name, e.auto, e.sw, e.error])).toEqual([
      ['VERIFY', undefined, '6102', undefined],
      ['GET RESPONSE', 'get-response', '9000', undefined],
      ['READ BINARY', undefined, undefined, 'the card was removed'],
    ]);
    expect(entries[0]!.command).not.toContain('31323334');
  });
});

describe('ATR', () => {
  it('parses a UICC-shaped ATR (T=0 offered, global T=15 bytes)', () => {
    const a = parseAtr(fromHex('3B9F96801FC78031E073FE211B63F100AD830F9000')!);
    // This ATR's TCK is not ours to fix: we report it, we do not reject the card.
    expect(a.convention).toBe('direct');
    expect(a.protocols).toEqual([0]);
    expect(a.fiDi).toEqual({ fi: 512, di: 32, fMax: 5 });
    expect(a.historical.length).toBe(15);
  });

  it('parses our virtual card ATR with a valid TCK, for both protocols', () => {
    for (const p of ['T=0', 'T=1'] as const) {
      const a = parseAtr(makeAtr(p));
      expect(a.problems).toEqual([]);
      expect(a.tck?.valid).toBe(true);
      expect(a.protocols).toEqual([p === 'T=0' ? 0 : 1]);
      expect(Buffer.from(a.historical).toString('latin1')).toContain('DMWVUICC');
    }
  });

  it('reports a wrong TCK and truncation', () => {
    const good = makeAtr('T=0');
    const bad = good.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(parseAtr(bad).problems.join()).toMatch(/TCK/);
    expect(parseAtr(good.subarray(0, 5)).problems.join()).toMatch(/historical|interface/);
    expect(parseAtr(Uint8Array.of(0x12, 0x00)).convention).toBe('invalid');
    expect(computeTck(good.subarray(0, good.length - 1))).toBe(good[good.length - 1]);
  });
});
