/**
 * The virtual UICC's file system and PIN counters, its JSON image, and the whole flash logic
 * (Pkcs15Card) against it in-process: create-on-blank, read-compare-write, skip when equal,
 * repair after a mid-write removal, shorter rewrite, too small / resize, PIN rules, T=0 and T=1.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, hex } from '../../native/pcsc/apdu.js';
import { CardChannel, type ApduTransport } from '../../native/pcsc/channel.js';
import {
  ADM1_REF,
  PIN1_REF,
  VirtualUicc,
  blankUicc,
  imageFromJson,
  imageToJson,
  pinBlock,
  type CardImage,
  type DfNode,
  type EfNode,
} from '../../native/pcsc/virtual/index.js';
import { FrameReader, frame } from '../../native/pcsc/virtual/vpcd.js';
import { CardError, FlashInterruptedError, Pkcs15Card, parseFcp, pinBytes, wbxmlEnd, type FlashProgress } from '../../main/bootstrap/card.js';
import { buildBootstrap } from '../../main/bootstrap/message.js';
import { validateProfile, type BootstrapProfile } from '../../main/bootstrap/profile.js';

const profile = (over: Partial<BootstrapProfile> = {}): BootstrapProfile =>
  validateProfile({
    serverId: 'lab.dm',
    address: 'https://dm.lab.example/dm',
    clientCredential: { name: 'dev-0001', secret: 'client-secret', data: 'AAAAAA==' },
    serverCredential: { name: 'lab.dm', secret: 'server-secret', data: 'AAAAAA==' },
    ...over,
  });

/** Extra nodes to make a bootstrap of roughly `bytes` bytes. */
function sized(bytes: number, tag = 'v'): Uint8Array {
  const base = buildBootstrap(profile()).wbxml.length;
  const pad = Math.max(0, bytes - base - 40);
  const p = profile({ extraNodes: pad > 0 ? [{ uri: './Vendor/Pad', format: 'chr', value: tag.repeat(pad) }] : [] });
  return buildBootstrap(p).wbxml;
}

function powered(image: CardImage = blankUicc()): VirtualUicc {
  const c = new VirtualUicc(image);
  c.powerOn();
  return c;
}

function transport(card: VirtualUicc): ApduTransport & { failAfterUpdates?: number; updates: number } {
  const t = {
    updates: 0,
    failAfterUpdates: undefined as number | undefined,
    async transmit(cmd: Uint8Array) {
      if (cmd[1] === 0xd6) {
        if (t.failAfterUpdates !== undefined && t.updates >= t.failAfterUpdates) throw new Error('the card was removed from "test reader"');
        t.updates++;
      }
      return card.process(cmd);
    },
  };
  return t;
}

const apdu = (card: VirtualUicc, h: string): string => hex(card.process(fromHex(h)!));
const PIN = { value: pinBytes('1234'), ref: PIN1_REF };

describe('virtual UICC file system', () => {
  it('selects by FID, AID (partial), path with 7FFF, and returns FCPs', () => {
    const c = powered(blankUicc({ protocol: 'T=1' }));
    const mf = fromHex(apdu(c, '00A40004023F0000'))!;
    expect(parseFcp(mf.subarray(0, -2))).toMatchObject({ fid: 0x3f00, structure: 'df' });
    const dir = parseFcp(fromHex(apdu(c, '00A40004022F0000'))!.subarray(0, -2));
    expect(dir).toMatchObject({ fid: 0x2f00, structure: 'linear-fixed', recordLength: 32, records: 2 });
    expect(apdu(c, '00A4040C06A00000006350')).toBe('9000'); // partial AID
    const odf = parseFcp(fromHex(apdu(c, '00A40804047FFF503100'))!.subarray(0, -2));
    expect(odf).toMatchObject({ fid: 0x5031, structure: 'transparent', size: 64 });
    expect(apdu(c, '00A40804047FFF999900')).toBe('6A82');
    expect(apdu(c, '00B0000004')).toBe('FFFFFFFF9000'); // current EF unchanged by a failed SELECT
    expect(apdu(c, '00B0004001')).toBe('6B00'); // offset past the end
    expect(apdu(c, '00B0003C10').slice(-4)).toBe('6282'); // T=1: short read
  });

  it('answers as a T=0 card: 61xx for case 4, 6Cxx for a wrong Le', () => {
    const c = powered(blankUicc({ protocol: 'T=0' }));
    const r = apdu(c, '00A40804047FFF503100');
    expect(r.slice(0, 2)).toBe('61');
    const len = Number.parseInt(r.slice(2), 16);
    expect(apdu(c, `00C00000${(len + 1).toString(16).padStart(2, '0')}`)).toBe(`6C${len.toString(16).toUpperCase().padStart(2, '0')}`);
    expect(apdu(c, `00C00000${len.toString(16).padStart(2, '0')}`).slice(-4)).toBe('9000');
    expect(apdu(c, '00B0003C00')).toBe('6C04');
  });

  it('guards writes with the PIN and counts tries, never below zero', () => {
    const c = powered();
    apdu(c, '00A40804047FFF503100');
    expect(apdu(c, '00D6000001AA')).toBe('6982');
    expect(apdu(c, '00200001')).toBe('63C3'); // ask: no try spent
    expect(apdu(c, `0020000108${hex(pinBlock('9999'))}`)).toBe('63C2');
    expect(apdu(c, '00200001')).toBe('63C2');
    expect(apdu(c, `0020000108${hex(pinBlock('1234'))}`)).toBe('9000'); // right PIN resets the counter
    expect(apdu(c, '00200001')).toBe('9000'); // verified
    expect(apdu(c, '00D6000001AA')).toBe('9000');
    c.reset();
    expect(apdu(c, '00200001')).toBe('63C3');
    for (const left of ['63C2', '63C1', '63C0']) expect(apdu(c, `0020000108${hex(pinBlock('0000'))}`)).toBe(left);
    expect(apdu(c, `0020000108${hex(pinBlock('1234'))}`)).toBe('6983'); // blocked: even the right PIN
    expect(apdu(c, '00200001')).toBe('6983');
    expect(apdu(c, '00200077')).toBe('6A88');
  });

  it('creates, resizes and deletes files within its memory', () => {
    const img = blankUicc({ protocol: 'T=1' });
    img.freeMemory = 1000;
    const c = powered(img);
    apdu(c, '00A4040C0CA000000063504B43532D3135');
    expect(apdu(c, `0020000108${hex(pinBlock('1234'))}`)).toBe('9000');
    const create = (fid: string, size: number): string =>
      apdu(c, `00E000000E620C82024121 8302${fid}8002${size.toString(16).padStart(4, '0')}`.replace(/ /g, ''));
    expect(create('6431', 600)).toBe('9000');
    expect(create('6431', 10)).toBe('6A89');
    expect(create('6432', 600)).toBe('6A84');
    expect(apdu(c, '80D400000A62088302643180020400')).toBe('6A84'); // grow past free memory
    expect(apdu(c, '80D400000A62088302643180020200')).toBe('9000'); // 512
    expect(parseFcp(fromHex(apdu(c, '00A40804047FFF643100'))!.subarray(0, -2)).size).toBe(512);
    expect(apdu(c, '00E40000026431')).toBe('9000');
    expect(apdu(c, '00A40804047FFF643100')).toBe('6A82');
    expect(img.freeMemory).toBe(1000);
  });

  it('round-trips its JSON image, and names bad fields', () => {
    const img = blankUicc();
    const again = imageFromJson(JSON.parse(JSON.stringify(imageToJson(img))));
    expect(imageToJson(again)).toEqual(imageToJson(img));
    const j = imageToJson(img) as unknown as { mf: { children: { fid: string }[] }; keys: { tries: number }[] };
    j.mf.children[0]!.fid = 'XYZ';
    expect(() => imageFromJson(j)).toThrow(/\$\.mf\.children\[0\]\.fid: (not hex|must be)/);
    const k = imageToJson(img) as unknown as { keys: { tries: number }[] };
    k.keys[0]!.tries = 9;
    expect(() => imageFromJson(k)).toThrow(/\$\.keys\[0\]\.tries/);
    expect(() => imageFromJson({ format: 'x' })).toThrow(/\$\.format/);
  });

  it('frames vpcd messages and reassembles split ones', () => {
    expect(hex(frame(Uint8Array.of(1)))).toBe('000101');
    const r = new FrameReader();
    const bytes = Uint8Array.from([...frame(Uint8Array.of(4)), ...frame(fromHex('00A40000023F00')!)]);
    expect(r.push(bytes.subarray(0, 4)).map((x) => hex(x))).toEqual(['04']);
    expect(r.push(bytes.subarray(4)).map((x) => hex(x))).toEqual(['00A40000023F00']);
  });
});

describe('flashing a bootstrap (in-process virtual UICC)', () => {
  it('creates the PKCS#15 structure on a blank card, writes in maximal chunks, reads back', async () => {
    const card = powered();
    const t = transport(card);
    const progress: FlashProgress[] = [];
    const pc = new Pkcs15Card(new CardChannel(t), (p) => progress.push(p));
    const wbxml = sized(4096);
    const r = await pc.writeBootstrap(wbxml, { pin: PIN });
    expect(r.unchanged).toBe(false);
    const dataUpdates = Math.ceil(wbxml.length / 255);
    // ceil(N/255) for the data, plus one UPDATE each for DODF and ODF.
    expect(t.updates).toBe(dataUpdates + 2);
    expect(r.updateCommands).toBe(dataUpdates);
    expect(r.created).toEqual([`EF 6431 (${Math.ceil(wbxml.length / 256) * 256} bytes)`, 'EF(DODF) 6430 (128 bytes)']);
    expect(progress.filter((p) => p.phase === 'write').at(-1)).toMatchObject({ done: wbxml.length, total: wbxml.length });
    const back = await new Pkcs15Card(new CardChannel(transport(card))).readBootstrap();
    expect(hex(back.wbxml)).toBe(hex(wbxml));
    expect(back.location.fid).toBe(0x6431);
  });

  it('skips writing when the card already holds the same bytes', async () => {
    const card = powered();
    const wbxml = sized(1000);
    await new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(wbxml, { pin: PIN });
    const t = transport(card);
    const r = await new Pkcs15Card(new CardChannel(t)).writeBootstrap(wbxml, { pin: PIN });
    expect(r.unchanged).toBe(true);
    expect(t.updates).toBe(0);
  });

  it('writes only the chunks that differ', async () => {
    const card = powered();
    const a = sized(2000, 'a');
    await new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(a, { pin: PIN });
    const b = a.slice();
    // change one byte inside the pad value (text of the last Add): one chunk differs
    const i = b.lastIndexOf(0x61);
    b[i] = 0x62;
    const t = transport(card);
    const r = await new Pkcs15Card(new CardChannel(t)).writeBootstrap(b, { pin: PIN });
    expect(t.updates).toBe(1);
    expect(r.chunksSkipped).toBe(Math.ceil(b.length / 255) - 1);
  });

  it('clears the tail when a shorter bootstrap replaces a longer one', async () => {
    const card = powered();
    await new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(sized(3000), { pin: PIN });
    const short = sized(600);
    await new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(short, { pin: PIN });
    const app = card.image.mf.children.find((c): c is DfNode => c.type === 'df')!;
    const ef = app.children.find((c): c is EfNode => c.fid === 0x6431)!;
    expect(ef.data.subarray(short.length).every((b) => b === 0xff)).toBe(true);
    const back = await new Pkcs15Card(new CardChannel(transport(card))).readBootstrap();
    expect(hex(back.wbxml)).toBe(hex(short));
  });

  it('never reports success when the card goes away mid-write, and the next write repairs it', async () => {
    const card = powered();
    const wbxml = sized(2000);
    const t = transport(card);
    t.failAfterUpdates = 3;
    const err = await new Pkcs15Card(new CardChannel(t)).writeBootstrap(wbxml, { pin: PIN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashInterruptedError);
    const f = err as FlashInterruptedError;
    expect(f.consistentUpTo).toBe(3 * 255);
    expect(f.message).toMatch(/removed .* at offset 765: bytes 0\.\.764 of \d+ hold the new bootstrap, bytes 765\.\.\d+ do not/);
    expect(f.message).toMatch(/does NOT hold a valid bootstrap/);
    // Nothing points at the half-written EF: the DODF entry is written last.
    await expect(new Pkcs15Card(new CardChannel(transport(card))).readBootstrap()).rejects.toThrow(/holds no DM bootstrap/);
    card.reset();
    const t2 = transport(card);
    const r = await new Pkcs15Card(new CardChannel(t2)).writeBootstrap(wbxml, { pin: PIN });
    expect(r.chunksSkipped).toBe(3);
    expect(r.updateCommands).toBe(Math.ceil(wbxml.length / 255) - 3);
    expect(hex((await new Pkcs15Card(new CardChannel(transport(card))).readBootstrap()).wbxml)).toBe(hex(wbxml));
  });

  it('asks for a PIN when the card needs one, naming the APDU', async () => {
    const card = powered();
    await expect(new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(sized(300))).rejects.toThrow(/needs a PIN\/ADM \(CREATE FILE 00E0.* -> 6982/);
  });

  it('a wrong PIN says the tries left and is never retried', async () => {
    const card = powered();
    let verifies = 0;
    const t: ApduTransport = {
      async transmit(cmd) {
        if (cmd[1] === 0x20 && cmd.length > 5) verifies++;
        return card.process(cmd);
      },
    };
    const err = await new Pkcs15Card(new CardChannel(t)).writeBootstrap(sized(300), { pin: { value: pinBytes('0000'), ref: PIN1_REF } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).kind).toBe('pin-wrong');
    expect((err as CardError).triesLeft).toBe(2);
    expect((err as Error).message).toMatch(/wrong PIN for PIN\/key 01: 2 tries left; not retried/);
    expect(verifies).toBe(1);
  });

  it('refuses to send a PIN below 2 tries left unless forced, and never to a blocked one', async () => {
    const img = blankUicc();
    img.keys.find((k) => k.ref === PIN1_REF)!.tries = 1;
    const card = powered(img);
    let verifies = 0;
    const t: ApduTransport = {
      async transmit(cmd) {
        if (cmd[1] === 0x20 && cmd.length > 5) verifies++;
        return card.process(cmd);
      },
    };
    await expect(new Pkcs15Card(new CardChannel(t)).writeBootstrap(sized(300), { pin: PIN })).rejects.toThrow(/only 1 try left: refusing/);
    expect(verifies).toBe(0);
    const r = await new Pkcs15Card(new CardChannel(t)).writeBootstrap(sized(300), { pin: { ...PIN, force: true } });
    expect(r.bytes).toBeGreaterThan(0);
    expect(verifies).toBe(1);
    img.keys.find((k) => k.ref === ADM1_REF)!.tries = 0;
    card.reset();
    await expect(new Pkcs15Card(new CardChannel(t)).verifyPin({ value: pinBytes('12345678'), ref: ADM1_REF, force: true })).rejects.toThrow(/blocked .* nothing was sent/);
    expect(verifies).toBe(1);
  });

  it('resizes an EF that is too small where the card allows, and says so clearly where not', async () => {
    const small = sized(0);
    const big = sized(4000);
    const smallEf = Math.ceil(small.length / 256) * 256;
    for (const resize of [true, false]) {
      const img = blankUicc();
      img.resize = resize;
      const card = powered(img);
      await new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(small, { pin: PIN });
      const run = new Pkcs15Card(new CardChannel(transport(card))).writeBootstrap(big, { pin: PIN });
      if (resize) {
        const r = await run;
        expect(r.resized).toEqual({ from: smallEf, to: Math.ceil(big.length / 256) * 256 });
        expect(hex((await new Pkcs15Card(new CardChannel(transport(card))).readBootstrap()).wbxml)).toBe(hex(big));
      } else {
        await expect(run).rejects.toThrow(new RegExp(`EF 6431 holds ${smallEf} bytes but the bootstrap is ${big.length} bytes, and the card does not resize files`));
      }
    }
  });

  it('finds a bootstrap written by another tool under a twice-wrapped OID', async () => {
    const card = powered(blankUicc({ protocol: 'T=1' }));
    const app = card.image.mf.children.find((c): c is DfNode => c.type === 'df')!;
    const wbxml = sized(400);
    const ef = new Uint8Array(2048).fill(0xff);
    ef.set(wbxml);
    const dodf = new Uint8Array(64).fill(0xff);
    dodf.set(fromHex('A11A30003000A114301206060604672B0701300804063F007FFF6432')!);
    app.children.push({ type: 'ef', fid: 0x6432, structure: 'transparent', data: ef, access: { read: 'always', update: 1 } });
    app.children.push({ type: 'ef', fid: 0x4407, structure: 'transparent', data: dodf, access: { read: 'always', update: 1 } });
    app.children.find((c): c is EfNode => c.fid === 0x5031)!.data.set(fromHex('A706300404024407')!);
    const back = await new Pkcs15Card(new CardChannel(transport(card))).readBootstrap();
    expect(back.location.entry?.oidWrappedTwice).toBe(true);
    expect(hex(back.wbxml)).toBe(hex(wbxml));
  });

  it('wbxmlEnd finds where a WBXML document stops', () => {
    const w = sized(300);
    const padded = new Uint8Array(w.length + 20).fill(0xff);
    padded.set(w);
    expect(wbxmlEnd(padded)).toBe(w.length);
    expect(wbxmlEnd(w.subarray(0, 100))).toBe('truncated');
    expect(wbxmlEnd(new Uint8Array(10).fill(0xff))).toBeUndefined();
  });
});
