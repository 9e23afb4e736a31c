/**
 * Fuzz: what the smart-card side reads from a card or a file, from valid seeds (the APDUs, responses,
 * FCPs and files of a real bootstrap flash against the virtual UICC, the real-card PKCS#15 bytes of
 * sdk-nrf, the ATRs of the unit tests), mutated with a seeded mulberry32 generator:
 *  - APDUs: parseCommand / parseResponse (and their encoders), ATRs (parseAtr), BER-TLV (readTlv) and
 *    FCPs (parseFcp, the virtual card's fcpFields);
 *  - PKCS#15: EF(ODF), EF(DODF), EF(DIR) parsing and re-building;
 *  - a whole bootstrap read (Pkcs15Card over CardChannel) from a card whose files are damaged, and
 *    from a card whose answers are damaged on the way (status words, 61xx / 6Cxx, cut responses);
 *  - the virtual UICC answering damaged command APDUs, its JSON image loader, and vpcd framing.
 * Whatever arrives: no exception but the module's own (ApduError, CardError, Pkcs15Error, ImageError),
 * errors that say where (byte offset, APDU, JSON path), no allocation sized by a declared length, and
 * what parses re-encodes to the same value. Seeded: a failure names the iteration that reproduces it.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CardError, Pkcs15Card, parseFcp, pinBytes } from '../../main/bootstrap/card.js';
import { buildBootstrap } from '../../main/bootstrap/message.js';
import {
  OMA_DM_BOOTSTRAP_OID,
  PKCS15_AID,
  Pkcs15Error,
  buildDirRecord,
  buildDodfOidEntry,
  buildOdfEntry,
  decodeOid,
  encodeOid,
  parseDir,
  parseDodf,
  parseOdf,
  readTlv,
  tlv,
} from '../../main/bootstrap/pkcs15.js';
import { validateProfile } from '../../main/bootstrap/profile.js';
import { ApduError, encodeCommand, encodeResponse, fromHex, hex, parseCommand, parseResponse } from '../../native/pcsc/apdu.js';
import { parseAtr } from '../../native/pcsc/atr.js';
import { CardChannel, type ApduTransport } from '../../native/pcsc/channel.js';
import { ImageError, PIN1_REF, VirtualUicc, blankUicc, fcpFields, imageFromJson, imageToJson, makeAtr, type CardImage, type DfNode, type FileNode } from '../../native/pcsc/virtual/index.js';
import { FrameReader, frame } from '../../native/pcsc/virtual/vpcd.js';
import { int, mutateBytes, pick, prng, type Rnd, Judge } from '../helpers/fuzz.js';
import { AllocationMeter } from '../helpers/allocation-meter.js';

// ------------------------------------------------------------------------------------------ engine

const INTERESTING = [0x00, 0x01, 0x02, 0x04, 0x06, 0x1f, 0x30, 0x3f, 0x61, 0x62, 0x6c, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0x90, 0xa1, 0xa4, 0xa7, 0xb0, 0xc0, 0xff];

/** This file's byte mutation: the APDU / TLV bytes above, and shorter swaps and splices (8 / 48) than the default. */
const mutate = (src: Uint8Array, seeds: readonly Uint8Array[], rnd: Rnd, keepLength = false): Uint8Array =>
  mutateBytes(src, seeds, rnd, INTERESTING, { keepLength, maxSwap: 8, maxSplice: 48 });



// ------------------------------------------------------------------------------------------ seeds

const NRF_ODF = 'A706300404026430';
const NRF_ODF_PADDED = 'A706300404024407A506300404024404FFFFFF';
const NRF_DODF = 'A127300030110C0F4C774D324D20426F6F747374726170A110300E06060604672B0901300404026432';
const UICC_ATR = '3B9F96801FC78031E073FE211B63F100AD830F9000';

const profile = validateProfile({
  serverId: 'lab.dm',
  address: 'https://dm.lab.example/dm',
  clientCredential: { name: 'dev-0001', secret: 'client-secret', data: 'AAAAAA==' },
  serverCredential: { name: 'lab.dm', secret: 'server-secret', data: 'AAAAAA==' },
  extraNodes: [{ uri: './Vendor/Pad', format: 'chr', value: 'v'.repeat(700) }],
});
const BOOTSTRAP = buildBootstrap(profile).wbxml;

interface Recorded {
  commands: Uint8Array[];
  responses: Uint8Array[];
  image: CardImage;
}

/** A blank virtual card with a bootstrap flashed on it, and every APDU exchanged doing that and reading it back. */
async function flashedCard(protocol: 'T=0' | 'T=1'): Promise<Recorded> {
  const image = blankUicc({ protocol });
  const card = new VirtualUicc(image);
  card.powerOn();
  const rec: Recorded = { commands: [], responses: [], image };
  const t: ApduTransport = {
    async transmit(cmd) {
      const r = card.process(cmd);
      rec.commands.push(cmd.slice());
      rec.responses.push(r.slice());
      return r;
    },
  };
  await new Pkcs15Card(new CardChannel(t)).writeBootstrap(BOOTSTRAP, { pin: { value: pinBytes('1234'), ref: PIN1_REF } });
  const back = await new Pkcs15Card(new CardChannel(t)).readBootstrap();
  if (!isDeepStrictEqual(back.wbxml, BOOTSTRAP)) throw new Error('seed card does not read back');
  return rec;
}

function efData(image: CardImage, fid: number): Uint8Array | undefined {
  const find = (d: DfNode): FileNode | undefined => {
    for (const k of d.children) {
      if (k.fid === fid) return k;
      if (k.type === 'df') {
        const f = find(k);
        if (f) return f;
      }
    }
    return undefined;
  };
  const f = find(image.mf);
  return f?.type === 'ef' ? f.data : undefined;
}

// ------------------------------------------------------------------------------------------ checks

function checkApdus(j: Judge, i: number, b: Uint8Array, allocs: AllocationMeter): void {
  const c = j.attempt(() => allocs.run('parseCommand', b, () => parseCommand(b)));
  if ('thrown' in c) return j.unexpected('parseCommand', i, b, c.thrown);
  if (typeof c.value === 'string') {
    if (c.value.length === 0) j.report('parseCommand', i, 'empty defect description', b);
  } else {
    const again = j.attempt(() => encodeCommand(c.value as Exclude<typeof c.value, string>));
    if ('thrown' in again) j.unexpected('encodeCommand', i, b, again.thrown);
    else if (!isDeepStrictEqual(again.value, b)) j.report('parseCommand', i, `re-encodes to ${hex(again.value)}`, b);
  }
  const r = j.attempt(() => allocs.run('parseResponse', b, () => parseResponse(b)));
  if ('thrown' in r) {
    if (!(r.thrown instanceof ApduError) || b.length >= 2) j.unexpected('parseResponse', i, b, r.thrown);
  } else if (!isDeepStrictEqual(encodeResponse(r.value), b)) j.report('parseResponse', i, 'does not re-encode', b);
}

function checkAtr(j: Judge, i: number, b: Uint8Array, allocs: AllocationMeter): void {
  const r = j.attempt(() => allocs.run('parseAtr', b, () => parseAtr(b)));
  if ('thrown' in r) return j.unexpected('parseAtr', i, b, r.thrown);
  const a = r.value;
  if (a.historical.length > 15 || (b.length >= 2 && a.protocols.length === 0) || !a.problems.every((p) => typeof p === 'string' && p.length > 0)) j.report('parseAtr', i, `odd result ${JSON.stringify(a)}`, b);
  if (a.problems.length === 0 && (b.length < 2 || a.convention === 'invalid')) j.report('parseAtr', i, 'no problem reported for a bad ATR', b);
}

function checkTlv(j: Judge, i: number, b: Uint8Array, allocs: AllocationMeter): void {
  const r = j.attempt(() => allocs.run('readTlv', b, () => readTlv(b, 0)));
  if ('thrown' in r) return j.unexpected('readTlv', i, b, r.thrown);
  const t = r.value;
  if (t) {
    if (t.next > b.length || t.value.length > b.length) j.report('readTlv', i, `TLV past the input: next ${t.next}`, b);
    const again = readTlv(tlv(t.tag, t.value), 0);
    if (!again || again.tag !== t.tag || !isDeepStrictEqual(again.value, t.value)) j.report('readTlv', i, 'tlv() of what was read does not read back', b);
  }
  for (const [name, f] of [['parseFcp', (): unknown => parseFcp(b)], ['fcpFields', (): unknown => fcpFields(t ? t.value : b)]] as const) {
    const x = j.attempt(() => allocs.run(name, b, f));
    if ('thrown' in x) j.unexpected(name, i, b, x.thrown);
    else {
      const size = (x.value as { size?: number }).size;
      if (size !== undefined && !(Number.isFinite(size) && size >= 0)) j.report(name, i, `size ${size}`, b);
    }
  }
}

/*
 * No known escapes left: asn1js's plain errors on the content of string and time types (GeneralizedTime
 * text, a UniversalString not a multiple of 4 bytes, a BMPString of odd length) and children() taking an
 * OBJECT IDENTIFIER's sub-identifiers for elements (a TypeError on tagClass) were counted and tolerated
 * here; main/bootstrap/pkcs15.ts now makes the first a Pkcs15Error at the element's offset and the
 * second a parse. Any error but the module's own is a finding again.
 */

const badPkcs15 = (e: unknown): string | undefined => (e instanceof Pkcs15Error ? (e.offset !== undefined && Number.isInteger(e.offset) && e.offset >= 0 && / at byte \d+$/.test(e.message) ? undefined : `no byte offset: ${e.message}`) : 'not a Pkcs15Error');

function checkPkcs15(j: Judge, i: number, b: Uint8Array, allocs: AllocationMeter): number {
  let parsed = 0;
  const odf = j.attempt(() => allocs.run('parseOdf', b, () => parseOdf(b)));
  if ('thrown' in odf) {
    const why = badPkcs15(odf.thrown);
    if (why) j.unexpected('parseOdf', i, b, odf.thrown);
    else if ((odf.thrown as Pkcs15Error).offset! > b.length) j.report('parseOdf', i, 'offset past the file', b);
  } else {
    parsed++;
    // Round trip: the entries with a path, built again, parse to the same entries.
    const withPath = odf.value.filter((e) => e.path && [e.path.index, e.path.length].every((n) => n === undefined || Number.isSafeInteger(n)) && e.tag < 31);
    if (withPath.length) {
      const built = Uint8Array.from(withPath.flatMap((e) => [...buildOdfEntry(e.tag, e.path!)]));
      const again = parseOdf(built);
      if (!isDeepStrictEqual(again, withPath)) j.report('parseOdf', i, `re-built entries read differently: ${hex(built)}`, b);
    }
  }
  const dodf = j.attempt(() => allocs.run('parseDodf', b, () => parseDodf(b)));
  if ('thrown' in dodf) {
    const why = badPkcs15(dodf.thrown);
    if (why) j.unexpected('parseDodf', i, b, dodf.thrown);
    else if ((dodf.thrown as Pkcs15Error).offset! > b.length) j.report('parseDodf', i, 'offset past the file', b);
  } else {
    parsed++;
    for (const e of dodf.value) {
      if (e.offset < 0 || e.offset + e.der.length > b.length || !isDeepStrictEqual(e.der, b.subarray(e.offset, e.offset + e.der.length))) j.report('parseDodf', i, 'entry DER is not the file bytes at its offset', b);
      if (e.kind !== 'oid' || !e.oid || !e.path) continue;
      const safe = e.oid.split('.').every((a) => Number.isSafeInteger(Number(a))) && [e.path.index, e.path.length].every((n) => n === undefined || Number.isSafeInteger(n));
      if (!safe) continue;
      const o = { oid: e.oid, path: e.path, ...(e.label !== undefined ? { label: e.label } : {}), ...(e.applicationName !== undefined ? { applicationName: e.applicationName } : {}) };
      const built = j.attempt(() => buildDodfOidEntry(o));
      if ('thrown' in built) {
        j.unexpected('buildDodfOidEntry', i, b, built.thrown);
        continue;
      }
      const [again] = parseDodf(built.value);
      if (!again || !isDeepStrictEqual({ oid: again.oid, path: again.path, label: again.label, app: again.applicationName }, { oid: e.oid, path: e.path, label: e.label, app: e.applicationName })) {
        j.report('parseDodf', i, `re-built OidDO reads differently: ${hex(built.value)}`, b);
      }
    }
  }
  // The second record is the first cut in half: a cut TLV is an error naming its record and offset
  // (it used to end the record silently), FF/00 padding where a TLV would start is not.
  const records = [b, b.subarray(0, b.length >> 1)];
  const dir = j.attempt(() => allocs.run('parseDir', b, () => parseDir(records)));
  if ('thrown' in dir) {
    const why = badPkcs15(dir.thrown);
    const m = why ? null : /^EF\(DIR\) record (\d+): /.exec((dir.thrown as Error).message);
    if (why) j.unexpected('parseDir', i, b, dir.thrown);
    else if (!m) j.report('parseDir', i, `error names no record: ${(dir.thrown as Error).message}`, b);
    else if ((dir.thrown as Pkcs15Error).offset! >= records[Number(m[1]) - 1]!.length) j.report('parseDir', i, 'offset past the record', b);
  }
  const oid = j.attempt(() => allocs.run('decodeOid', b, () => decodeOid(b)));
  if ('thrown' in oid) j.unexpected('decodeOid', i, b, oid.thrown);
  else if (oid.value !== undefined && oid.value.split('.').every((a) => Number.isSafeInteger(Number(a)))) {
    if (decodeOid(encodeOid(oid.value)) !== oid.value) j.report('decodeOid', i, `${oid.value} does not re-encode`, b);
  }
  return parsed;
}

/** What a bootstrap read may end with, and whether the error names where. */
function checkReadError(j: Judge, i: number, input: Uint8Array | string, e: unknown): void {
  if (e instanceof ApduError) {
    if (!/SELECT|READ BINARY|READ RECORD|GET RESPONSE|VERIFY|INS [0-9A-F]{2}/.test(e.message)) j.report('readBootstrap', i, `ApduError names no APDU: ${e.message}`, input);
  } else if (e instanceof CardError) {
    if (e.message.length === 0) j.report('readBootstrap', i, 'CardError without a message', input);
  } else if (e instanceof Pkcs15Error) {
    const why = badPkcs15(e);
    if (why) j.report('readBootstrap', i, why, input);
  } else j.unexpected('readBootstrap', i, input, e);
}

// ------------------------------------------------------------------------------------------ tests

const SEED = 20260303;
/**
 * "No allocation sized by a declared length", counted rather than timed (a loaded machine changes
 * nothing): the bytes a parse may allocate per byte of its input (test/helpers/allocation-meter.ts).
 * The parsers take views into their input or copy a part of it: 0.5 per byte at most here. A
 * length field believed before it is checked against the input (64 KiB declared in 5 bytes) costs
 * hundreds per byte or more.
 */
const ALLOCATED_PER_BYTE = 8;

describe('pcsc fuzz', () => {
  it('APDUs, ATRs, TLVs and FCPs: 4,000 mutations each, from a real flash session', async () => {
    const rec = await flashedCard('T=0');
    const rec1 = await flashedCard('T=1');
    const apdus = [...rec.commands, ...rec.responses, ...rec1.commands, ...rec1.responses];
    const atrs = [makeAtr('T=0'), makeAtr('T=1'), fromHex(UICC_ATR)!, fromHex('3B00')!, fromHex('3F00')!];
    const fcps = rec.responses.filter((r) => r[0] === 0x62).map((r) => r.subarray(0, r.length - 2));
    fcps.push(tlv(0x62, Uint8Array.of(...tlv(0x82, Uint8Array.of(0x42, 0x21, 0x00, 0x20, 0x02)), ...tlv(0x83, Uint8Array.of(0x2f, 0x00)), ...tlv(0x81, Uint8Array.of(0x00, 0x40)))));
    fcps.push(tlv(0x6f, Uint8Array.of(...tlv(0x84, PKCS15_AID), ...tlv(0x9f1f, new Uint8Array(200).fill(1)))));
    expect(fcps.length).toBeGreaterThan(4);
    const j = new Judge();
    const allocs = new AllocationMeter();
    const rnd = prng(SEED);
    [...apdus].forEach((b, i) => checkApdus(j, i, b, allocs));
    atrs.forEach((b, i) => checkAtr(j, i, b, allocs));
    fcps.forEach((b, i) => checkTlv(j, i, b, allocs));
    for (let i = 0; i < 4000; i++) {
      checkApdus(j, i, mutate(pick(rnd, apdus), apdus, rnd), allocs);
      checkAtr(j, i, mutate(pick(rnd, atrs), atrs, rnd), allocs);
      checkTlv(j, i, mutate(pick(rnd, fcps), fcps, rnd, rnd() < 0.5), allocs);
    }
    // Hostile lengths: a TLV of 64 KiB, of 2^32, an FCP size of 20 bytes, a 0x82 length past the end.
    for (const h of ['62820FFFFF', '6284FFFFFFFF00', '6281', '62 16 80 14' + 'FF'.repeat(20), '1F', '1F01', '1F0181', '62 04 8082FFFF']) {
      const b = fromHex(h)!;
      checkTlv(j, -1, b, allocs);
      const t = readTlv(b, 0);
      if (t && t.next > b.length) j.report('readTlv', -1, 'value past the input', b);
    }
    expect(j.findings).toEqual([]);
    expect(allocs.worstPerByte, String(allocs)).toBeLessThan(ALLOCATED_PER_BYTE);
  });

  it('PKCS#15 files: 4,000 mutations of 10 EF(ODF) / EF(DODF) / EF(DIR) images; what parses re-builds', async () => {
    const rec = await flashedCard('T=0');
    const seeds = [
      fromHex(NRF_ODF)!,
      fromHex(NRF_ODF_PADDED)!,
      fromHex(NRF_DODF + 'FFFFFFFF')!,
      efData(rec.image, 0x5031)!,
      efData(rec.image, 0x6430)!,
      efData(rec.image, 0x2f00)!,
      buildDirRecord({ aid: PKCS15_AID, label: 'PKCS#15', path: Uint8Array.of(0x3f, 0x00, 0x7f, 0x50) }),
      buildOdfEntry(7, { path: Uint8Array.of(0x3f, 0x00, 0x64, 0x30), index: 4, length: 300 }),
      buildDodfOidEntry({ oid: OMA_DM_BOOTSTRAP_OID, path: { path: Uint8Array.of(0x64, 0x31) }, label: 'DM', applicationName: 'OMA DM Bootstrap' }),
      encodeOid('2.23.43.7.1'),
    ];
    const j = new Judge();
    const allocs = new AllocationMeter();
    seeds.forEach((b, i) => checkPkcs15(j, i, b, allocs));
    const rnd = prng(SEED + 1);
    let parsed = 0;
    for (let i = 0; i < 4000; i++) parsed += checkPkcs15(j, i, mutate(pick(rnd, seeds), seeds, rnd, rnd() < 0.5), allocs);
    // Hostile: lengths of 2^32 and past the end, indefinite lengths, a 16-byte OID arc, and one input
    // for each former escape (GeneralizedTime text, UniversalString and BMPString lengths, an OID
    // where the CommonObjectAttributes SEQUENCE belongs: see the regression test below).
    const hostile = ['3084FFFFFFFF', '308880', 'A7843FFFFFFF30', '0481FF', '30800000', 'A78000', '0680', '06', '068F' + 'FF'.repeat(16), '180141', '1C03414243', '1E0141', 'A127061F30110C0F4C774D324D20426F6F747374726170A110300E06060604672B0901300406026432'];
    for (const h of hostile) checkPkcs15(j, -1, fromHex(h)!, allocs);
    console.log(`pcsc fuzz: ${parsed} of 8000 PKCS#15 parses succeeded`);
    expect(j.findings).toEqual([]);
    expect(parsed).toBeGreaterThan(800);
    expect(allocs.worstPerByte, String(allocs)).toBeLessThan(ALLOCATED_PER_BYTE);
  });

  it('bootstrap read: 1,000 cards with damaged files and 1,000 with damaged answers (61xx, 6Cxx, cut, wrong SW)', async () => {
    const rec = await flashedCard('T=0');
    const base = imageToJson(rec.image);
    const j = new Judge();
    const rnd = prng(SEED + 2);
    const files = [0x5031, 0x6430, 0x6431, 0x2f00];
    const fileBytes = files.reduce((sum, f) => sum + efData(imageFromJson(structuredClone(base)), f)!.length, 0);
    const outcomes = { read: 0, refused: 0, maxExchanges: 0, maxBytesIn: 0 };
    for (let i = 0; i < 2000; i++) {
      const image = imageFromJson(structuredClone(base));
      let transport: ApduTransport;
      let label: string;
      if (i % 2 === 0) {
        // A damaged file: bytes of one EF changed (its size kept, as a card's EF is).
        const fid = pick(rnd, files);
        const data = efData(image, fid)!;
        const m = mutate(data, [data], rnd, true);
        data.set(m.subarray(0, data.length));
        if (fid === 0x6431 && rnd() < 0.3) data.fill(0xff, int(rnd, data.length));
        const card = new VirtualUicc(image);
        card.powerOn();
        transport = { transmit: async (cmd) => card.process(cmd) };
        label = `EF ${fid.toString(16)}`;
      } else {
        // Damaged answers: one exchange in a few has its response mutated.
        const card = new VirtualUicc(image);
        card.powerOn();
        const every = 2 + int(rnd, 10);
        let n = 0;
        transport = {
          transmit: async (cmd) => {
            const r = card.process(cmd);
            if (++n % every !== 0) return r;
            switch (int(rnd, 5)) {
              case 0:
                return Uint8Array.of(0x61, int(rnd, 256));
              case 1:
                return Uint8Array.of(0x6c, int(rnd, 256));
              case 2:
                return r.subarray(0, int(rnd, r.length));
              case 3:
                return Uint8Array.of(...r.subarray(0, r.length - 2), pick(rnd, [0x62, 0x63, 0x65, 0x67, 0x69, 0x6a, 0x6b, 0x6d, 0x6e, 0x6f, 0x90, 0x91]), int(rnd, 256));
              default:
                return mutate(r, [r], rnd);
            }
          },
        };
        label = `answers every ${every}`;
      }
      // What the card sent, counted: a read that never ends, or re-reads a file on every odd answer, shows here.
      let bytesIn = 0;
      const inner = transport;
      const channel = new CardChannel({ transmit: async (cmd) => {
        const r = await inner.transmit(cmd);
        bytesIn += r.length;
        return r;
      } });
      try {
        const back = await new Pkcs15Card(channel).readBootstrap();
        outcomes.read++;
        if (back.wbxml.length > 0x7fff) j.report('readBootstrap', i, `read ${back.wbxml.length} bytes`, label);
      } catch (e) {
        outcomes.refused++;
        checkReadError(j, i, label, e);
      }
      outcomes.maxExchanges = Math.max(outcomes.maxExchanges, channel.exchanges);
      outcomes.maxBytesIn = Math.max(outcomes.maxBytesIn, bytesIn);
    }
    console.log(`pcsc fuzz: bootstrap reads ${JSON.stringify(outcomes)}`);
    expect(j.findings).toEqual([]);
    expect(outcomes.read).toBeGreaterThan(200);
    expect(outcomes.maxExchanges).toBeLessThan(1000);
    // Bounded by count, not time: a read takes in each file about once (2,560 bytes of files; 2,631
    // taken in at most here, with FCPs and status words), never the files over again.
    expect(outcomes.maxBytesIn).toBeLessThanOrEqual(2 * fileBytes);
  }, 120_000); // only against a hang: over 20 s seen on a loaded machine

  it('virtual UICC: 5,000 damaged command APDUs; every answer has a status word, memory is conserved, the image round-trips', async () => {
    const rec = await flashedCard('T=0');
    const commands = rec.commands;
    const image = imageFromJson(imageToJson(rec.image));
    // Every key verified once, so the fuzz reaches the write paths too; the PIN stays unblocked.
    const card = new VirtualUicc(image);
    card.powerOn();
    const used = (d: DfNode): number => d.children.reduce((s, k) => s + (k.type === 'ef' ? k.data.length : used(k)), 0);
    const total = image.freeMemory + used(image.mf);
    const j = new Judge();
    const rnd = prng(SEED + 3);
    for (let i = 0; i < 5000; i++) {
      const cmd = rnd() < 0.1 ? pick(rnd, commands) : mutate(pick(rnd, commands), commands, rnd, rnd() < 0.5);
      if (cmd[1] === 0x20 && cmd.length > 5) continue; // wrong PINs would only block the key
      const r = j.attempt(() => card.process(cmd));
      if ('thrown' in r) j.unexpected('VirtualUicc.process', i, cmd, r.thrown);
      else if (r.value.length < 2 || r.value.length > 258) j.report('VirtualUicc.process', i, `answer of ${r.value.length} bytes`, cmd);
      if (image.freeMemory + used(image.mf) !== total) {
        j.report('VirtualUicc.process', i, `memory not conserved: ${image.freeMemory} free + ${used(image.mf)} used != ${total}`, cmd);
        break;
      }
      if (i % 500 === 0) card.reset();
    }
    const json = imageToJson(image);
    expect(imageToJson(imageFromJson(JSON.parse(JSON.stringify(json))))).toEqual(json);
    // No command made the card hold more than its memory: the conservation above, checked after
    // every command, is the bound (in bytes; no time bound, which a loaded machine would break).
    expect(j.findings).toEqual([]);
  });

  it('card images: 3,000 mutations of 3 JSON images; only ImageError naming a JSON path, what loads saves the same', async () => {
    const seeds = [JSON.stringify(imageToJson(blankUicc())), JSON.stringify(imageToJson(blankUicc({ protocol: 'T=1', iccid: '8901260123456789012' })), null, 1)];
    const j = new Judge();
    const rnd = prng(SEED + 4);
    const VALUES: unknown[] = [null, true, 0, -1, 1.5, 256, 1e12, 2 ** 40, '', 'x', 'ZZ', '3F00', 'FFFF', 'always', 'never', 'df', 'ef', 'linear-fixed', 'transparent', [], {}, [{}], [null], ['00'], { type: 'df' }, { type: 'ef', fid: '6F07' }, 'A0'.repeat(300)];
    let loaded = 0;
    seeds.push(JSON.stringify(imageToJson((await flashedCard('T=0')).image)));
    {
      for (let i = 0; i < 3000; i++) {
        const doc = JSON.parse(pick(rnd, seeds)) as unknown;
        const holders: Array<Record<string, unknown> | unknown[]> = [];
        const walk = (v: unknown): void => {
          if (Array.isArray(v)) (holders.push(v), v.forEach(walk));
          else if (typeof v === 'object' && v !== null) (holders.push(v as Record<string, unknown>), Object.values(v).forEach(walk));
        };
        walk(doc);
        for (let r = 1 + int(rnd, 2); r > 0; r--) {
          const h = pick(rnd, holders);
          if (Array.isArray(h)) {
            if (h.length && rnd() < 0.5) h.splice(int(rnd, h.length), 1);
            else h.splice(int(rnd, h.length + 1), 0, structuredClone(pick(rnd, VALUES)));
          } else {
            const keys = Object.keys(h);
            const k = keys.length && rnd() < 0.8 ? pick(rnd, keys) : pick(rnd, ['freeMemory', 'sfi', 'children', 'records', 'keys', 'label', 'resize']);
            if (rnd() < 0.2) delete h[k];
            else h[k] = structuredClone(pick(rnd, VALUES));
          }
        }
        const text = JSON.stringify(doc);
        const r = j.attempt(() => imageFromJson(JSON.parse(text)));
        if ('thrown' in r) {
          if (!(r.thrown instanceof ImageError)) j.unexpected('imageFromJson', i, text, r.thrown);
          else if (!/^\$[.[\w\]]*: /.test(r.thrown.message)) j.report('imageFromJson', i, `error names no JSON path: ${r.thrown.message}`, text);
          continue;
        }
        loaded++;
        const json = imageToJson(r.value);
        const again = j.attempt(() => imageToJson(imageFromJson(JSON.parse(JSON.stringify(json)))));
        if ('thrown' in again) j.report('imageFromJson', i, `saved image does not load: ${String(again.thrown)}`, text);
        else if (!isDeepStrictEqual(again.value, json)) j.report('imageFromJson', i, 'saved image loads differently', text);
        // A loaded image must also make a card that answers (a SELECT MF and a READ BINARY).
        const card = new VirtualUicc(r.value);
        card.powerOn();
        for (const h of ['00A40004023F00', '00A4000C022F00', '00B0000010', '00E000000D620B82014183026F0780020200']) {
          const a = j.attempt(() => card.process(fromHex(h)!));
          if ('thrown' in a) j.unexpected('VirtualUicc.process', i, `${h} on ${text}`, a.thrown);
        }
      }
      console.log(`pcsc fuzz: ${loaded} of 3000 mutated card images loaded`);
      expect(j.findings).toEqual([]);
      expect(loaded).toBeGreaterThan(300);
    }
  });

  it('regression: a card image with the wrong JSON types is refused naming the JSON path, not with a TypeError', () => {
    const good = imageToJson(blankUicc()) as unknown as Record<string, unknown> & { mf: Record<string, unknown> & { children: Record<string, unknown>[] } };
    const variants: Array<[(j: typeof good) => void, RegExp]> = [
      [(j) => void (j.keys = 'x'), /^\$\.keys: must be an array$/],
      [(j) => void (j.keys = [null]), /^\$\.keys\[0\]: a key is an object$/],
      [(j) => void (j.mf.children = 5 as unknown as []), /^\$\.mf\.children: must be an array$/],
      [(j) => void (j.mf.children[0]!.records = {}), /^\$\.mf\.children\[0\]\.records: must be an array$/],
      [(j) => void (j.freeMemory = -1), /^\$\.freeMemory: /],
      [(j) => void (j.mf.children[1]!.sfi = 'x'), /^\$\.mf\.children\[1\]\.sfi: /],
    ];
    for (const [change, re] of variants) {
      const j = structuredClone(good);
      change(j);
      expect(() => imageFromJson(j)).toThrow(re);
    }
    // 40 levels of DFs: refused before any walk of the tree recurses that deep.
    let deep: Record<string, unknown> = { type: 'df', fid: '7F10' };
    for (let k = 0; k < 40; k++) deep = { type: 'df', fid: '7F10', children: [deep] };
    expect(() => imageFromJson({ ...good, mf: { ...good.mf, children: [deep] } })).toThrow(ImageError);
  });

  it('regression: CREATE FILE of a linear fixed EF declaring 2 GB is refused, not allocated, whatever the free memory', () => {
    const image = blankUicc();
    image.freeMemory = 2 ** 40;
    image.mf.access.create = 'always';
    const card = new VirtualUicc(image);
    card.powerOn();
    const files = (d: DfNode): number => d.children.reduce((s, k) => s + (k.type === 'ef' ? k.data.length : files(k)), 0);
    const before = files(image.mf);
    // 62 { 82 42 21 00 10 (records of 16 bytes), 83 6F08, 80 7FFFFFF0 }
    expect(hex(card.process(fromHex('00E00000126210820442210010830 26F0880047FFFFFF0'.replace(/ /g, ''))!))).toBe('6A80');
    // Counted, not timed: the card holds not a byte more, and its free memory is untouched.
    expect(files(image.mf)).toBe(before);
    expect(image.freeMemory).toBe(2 ** 40);
    expect(hex(card.process(fromHex('00E0000012621082044221001083026F088004000000A0')!))).toBe('9000');
  });

  it('regression: asn1js errors on string / time content and an OID where a SEQUENCE belongs are Pkcs15Errors or a parse, also through readBootstrap', async () => {
    // Each of these escaped as a plain Error / RangeError / TypeError before (the former known escapes).
    for (const [h, re] of [
      ['180141', /^EF\((ODF|DODF)\): element \(tag 18\) holds content that cannot be decoded \(Wrong input string for conversion\) at byte 0$/],
      ['1C03414243', /^EF\((ODF|DODF)\): element \(tag 1C\) .*Uint32Array.* at byte 0$/],
      ['1E0141', /^EF\((ODF|DODF)\): element \(tag 1E\) .*DataView.* at byte 0$/],
      ['A706300404026430A103180141', /^EF\((ODF|DODF)\): element \(tag A1\) .* at byte 8$/], // nested, after a good entry
    ] as const) {
      for (const parse of [parseOdf, parseDodf]) {
        const e = (() => {
          try {
            parse(fromHex(h)!);
          } catch (x) {
            return x;
          }
          return undefined;
        })();
        expect(e, `${parse.name} ${h}`).toBeInstanceOf(Pkcs15Error);
        expect((e as Error).message).toMatch(re);
      }
    }
    // children() keeps only real elements: the OID's sub-identifiers are not taken for a SEQUENCE's.
    const oidFirst = fromHex('A127061F30110C0F4C774D324D20426F6F747374726170A110300E06060604672B0901300406026432')!;
    expect(parseDodf(oidFirst)).toEqual([{ kind: 'oid', der: oidFirst, offset: 0 }]);
    // Through a whole read: the damaged DODF of a flashed card is named, at the element's offset.
    for (const [dodf, want] of [
      ['180141', /^EF\(DODF\): element \(tag 18\) .* at byte 0$/],
      [hex(oidFirst), /no OID 2\.23\.43\.7\.1 in EF\(DODF\) 6430/],
    ] as const) {
      const image = (await flashedCard('T=0')).image;
      const data = efData(image, 0x6430)!;
      data.fill(0xff);
      data.set(fromHex(dodf)!);
      const card = new VirtualUicc(image);
      card.powerOn();
      const read = new Pkcs15Card(new CardChannel({ transmit: async (cmd) => card.process(cmd) })).readBootstrap();
      await expect(read).rejects.toThrow(want);
      await expect(read).rejects.toSatisfy((e) => e instanceof Pkcs15Error || e instanceof CardError);
    }
  });

  it('regression: a DODF entry whose index/length run past the end of its EF is a layout error, not an empty or cut bootstrap', async () => {
    const efSize = efData((await flashedCard('T=0')).image, 0x6431)!.length;
    for (const [index, length] of [[efSize + 1, undefined], [0, efSize + 1], [efSize - 10, 11]] as const) {
      const image = (await flashedCard('T=0')).image;
      const dodf = efData(image, 0x6430)!;
      dodf.fill(0xff);
      dodf.set(buildDodfOidEntry({ oid: OMA_DM_BOOTSTRAP_OID, path: { path: Uint8Array.of(0x3f, 0x00, 0x7f, 0xff, 0x64, 0x31), index, ...(length !== undefined ? { length } : {}) } }));
      const card = new VirtualUicc(image);
      card.powerOn();
      const read = new Pkcs15Card(new CardChannel({ transmit: async (cmd) => card.process(cmd) })).readBootstrap();
      await expect(read, `index ${index} length ${length}`).rejects.toThrow(/EF\(DODF\) entry 2\.23\.43\.7\.1 points at bytes \d+\.\.\d+ of EF 6431, which holds \d+ bytes/);
      await expect(read).rejects.toSatisfy((e) => e instanceof CardError && e.kind === 'layout');
    }
  });

  it('regression: an EF size past what READ BINARY can address is a layout error naming the file and the FCP, before any read', async () => {
    /** A card that answers every READ BINARY (Le bytes of 0x41), declaring `fcp` for EF 6431. */
    const scripted = (fcp: Uint8Array): { t: ApduTransport; reads: number[] } => {
      const reads: number[] = [];
      const t: ApduTransport = {
        async transmit(cmd) {
          if (cmd[1] === 0xa4) return Uint8Array.of(...fcp, 0x90, 0x00);
          if (cmd[1] === 0xb0) {
            reads.push((cmd[2]! << 8) | cmd[3]!);
            return Uint8Array.of(...new Uint8Array(cmd[4] || 256).fill(0x41), 0x90, 0x00);
          }
          return Uint8Array.of(0x6d, 0x00);
        },
      };
      return { t, reads };
    };
    // 62 { 82 41 21, 80 020000 }: 128 KiB. Was: allocated whole, offsets from 0x8000 sent with P1 bit 8
    // set (a short-file-id read of another file), then RangeError "P1 256 is not a byte".
    const big = scripted(fromHex('6209820241218003020000')!);
    const e = await new Pkcs15Card(new CardChannel(big.t)).readEf(0x6431).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CardError);
    expect(e).toMatchObject({ kind: 'layout' });
    expect((e as Error).message).toMatch(/^SELECT EF 6431: the card declares 131072 bytes; .*\(FCP 6209820241218003020000\)$/);
    expect(big.reads).toEqual([]);
    for (const size of ['8001', 'FFFF']) {
      const s = scripted(fromHex(`620882024121 8002${size}`.replace(/ /g, ''))!);
      await expect(new Pkcs15Card(new CardChannel(s.t)).readEf(0x6431)).rejects.toThrow(/READ BINARY reaches offsets 0\.\.32767/);
      expect(s.reads).toEqual([]);
    }
    // 0x8000 bytes is the largest EF READ BINARY reaches (offsets 0..7FFF): read whole, P1 bit 8 never set.
    const max = scripted(fromHex('62088202412180028000')!);
    const ok = await new Pkcs15Card(new CardChannel(max.t)).readEf(0x6431);
    expect(ok!.data.length).toBe(0x8000);
    expect(max.reads.every((off) => off < 0x8000)).toBe(true);
    expect(max.reads.at(-1)).toBe(0x7f00);
    // The same through a whole read of a flashed card whose bootstrap EF declares 128 KiB.
    const rec = await flashedCard('T=0');
    const card = new VirtualUicc(rec.image);
    card.powerOn();
    let readsPast = 0;
    const t: ApduTransport = {
      async transmit(cmd) {
        if (cmd[1] === 0xa4 && hex(cmd.subarray(5, 9)) === '7FFF6431') return fromHex('62098202412180030200009000')!;
        if (cmd[1] === 0xb0 && cmd[2]! >= 0x80) readsPast++;
        return card.process(cmd);
      },
    };
    await expect(new Pkcs15Card(new CardChannel(t)).readBootstrap()).rejects.toThrow(/^SELECT EF 6431: the card declares 131072 bytes.*FCP 6209820241218003020000/);
    expect(readsPast).toBe(0);
    // READ RECORD too: records of 257 bytes in EF(DIR) were a RangeError "Le 257 outside 1..256".
    const dirCard: ApduTransport = {
      async transmit(cmd) {
        if (cmd[1] === 0xa4 && cmd[2] === 0x04) return fromHex('6A82')!;
        if (cmd[1] === 0xa4) return fromHex(cmd[5] === 0x2f ? '620A8205422101010583022F009000' : '62038201389000')!;
        return fromHex('6A83')!;
      },
    };
    await expect(new Pkcs15Card(new CardChannel(dirCard)).selectApplication()).rejects.toThrow(/^SELECT EF\(DIR\) 2F00: records of 257 bytes; .*\(FCP 620A8205422101010583022F00\)$/);
  });

  it('regression: a cut EF(DIR) record is an error naming the record and the offset; FF padding is not', () => {
    const app = buildDirRecord({ aid: PKCS15_AID, label: 'PKCS#15' });
    const padded = (b: Uint8Array, n = 32): Uint8Array => Uint8Array.from({ length: n }, (_, k) => b[k] ?? 0xff);
    // Padding: an all-FF record, the FF fill after a template, an empty record are all fine.
    expect(parseDir([padded(app), new Uint8Array(32).fill(0xff), new Uint8Array(0)]).map((a) => a.label)).toEqual(['PKCS#15']);
    // Was: the cut record ended silently, with the application in it lost and no word said.
    expect(() => parseDir([new Uint8Array(32).fill(0xff), app.subarray(0, 10)])).toThrow(/^EF\(DIR\) record 2: TLV 61.* is cut short or malformed \(record of 10 bytes\) at byte 0$/);
    expect(() => parseDir([Uint8Array.of(...app, 0x61, 0x05, 0x4f, 0x01)])).toThrow(new RegExp(`^EF\\(DIR\\) record 1: .* at byte ${app.length}$`));
    // A template whose inner TLV is cut: named at its offset in the record.
    expect(() => parseDir([Uint8Array.of(0x61, 0x04, 0x4f, 0x05, 0xa0, 0x00)])).toThrow(/^EF\(DIR\) record 1: TLV 4F05A000 in the application template is cut short or malformed at byte 2$/);
  });

  it('regression: a command the card answers with no status word is named in the error', async () => {
    const channel = new CardChannel({ transmit: async () => Uint8Array.of(0x90) });
    await expect(channel.transmit(fromHex('00A4080C047FFF5031')!)).rejects.toThrow(/^SELECT 00A4080C047FFF50\.\.: no answer from the card \(response of 1 byte\(s\)/);
    const pin = new CardChannel({ transmit: async () => new Uint8Array(0) });
    await expect(pin.transmit(fromHex('0020000108313233340000FFFF')!)).rejects.toThrow(/^VERIFY 0020000108\*\*/);
  });

  it('vpcd framing: frames split anywhere come back whole, a reader never holds more than one frame', () => {
    const rnd = prng(SEED + 5);
    for (let round = 0; round < 200; round++) {
      const payloads = Array.from({ length: 1 + int(rnd, 8) }, () => Uint8Array.from({ length: int(rnd, 600) }, () => int(rnd, 256)));
      const bytes = Uint8Array.from(payloads.flatMap((p) => [...frame(p)]));
      const r = new FrameReader();
      const out: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + int(rnd, 700);
        out.push(...r.push(bytes.subarray(at, at + n)));
        at += n;
        expect((r as unknown as { buf: Uint8Array }).buf.length).toBeLessThanOrEqual(0xffff + 2 + 700);
      }
      expect(out.map((p) => hex(p))).toEqual(payloads.map((p) => hex(p)));
    }
    expect(() => frame(new Uint8Array(0x10000))).toThrow(RangeError);
  });
});
