/**
 * PKCS#15 ODF / DODF / EF(DIR) parsing and building (asn1js), against the real UICC bytes in Nordic's
 * sdk-nrf uicc_lwm2m test (an LwM2M bootstrap, same scheme as DM's), including the twice-wrapped OID.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, hex } from '../../native/pcsc/apdu.js';
import {
  LWM2M_BOOTSTRAP_OID,
  OMA_DM_BOOTSTRAP_OID,
  PKCS15_AID,
  Pkcs15Error,
  buildDirRecord,
  buildDodfOidEntry,
  buildOdfEntry,
  decodeOid,
  encodeOid,
  findBootstrapEntry,
  parseDir,
  parseDodf,
  parseOdf,
} from '../../main/bootstrap/pkcs15.js';

// sdk-nrf tests/lib/uicc_lwm2m: READ BINARY of EF(ODF) and EF(DODF) on a real UICC.
const NRF_ODF = 'A706300404026430';
const NRF_ODF_PADDED = 'A706300404024407A506300404024404FFFFFF';
const NRF_DODF = 'A127300030110C0F4C774D324D20426F6F747374726170A110300E06060604672B0901300404026432';

describe('EF(ODF)', () => {
  it('reads the dataObjects pointer of a real card', () => {
    const odf = parseOdf(fromHex(NRF_ODF)!);
    expect(odf).toHaveLength(1);
    expect(odf[0]!.name).toBe('dataObjects');
    expect(hex(odf[0]!.path!.path)).toBe('6430');
  });

  it('reads several entries and stops at FF padding', () => {
    const odf = parseOdf(fromHex(NRF_ODF_PADDED)!);
    expect(odf.map((e) => [e.name, hex(e.path!.path)])).toEqual([
      ['dataObjects', '4407'],
      ['trustedCertificates', '4404'],
    ]);
  });

  it('builds what it reads (byte-identical to the card)', () => {
    expect(hex(buildOdfEntry(7, { path: fromHex('6430')! }))).toBe(NRF_ODF);
  });

  it('reports damage with its offset', () => {
    expect(() => parseOdf(fromHex('A7063004040264')!)).toThrow(Pkcs15Error);
    expect(() => parseOdf(fromHex('A706300404026430FF12')!)).toThrow(/data after padding at byte 9/);
    expect(parseOdf(new Uint8Array(64).fill(0xff))).toEqual([]);
  });
});

describe('EF(DODF)', () => {
  it('finds the bootstrap object through the twice-wrapped OID of a real card', () => {
    const entries = parseDodf(fromHex(`${NRF_DODF}FFFFFFFF`)!);
    expect(entries).toHaveLength(1);
    const e = entries[0]!;
    expect(e).toMatchObject({ kind: 'oid', oid: LWM2M_BOOTSTRAP_OID, oidWrappedTwice: true, applicationName: 'LwM2M Bootstrap' });
    expect(hex(e.path!.path)).toBe('6432');
    expect(findBootstrapEntry(entries, LWM2M_BOOTSTRAP_OID)).toBe(e);
    expect(findBootstrapEntry(entries)).toBeUndefined(); // not the DM OID
  });

  it('writes the DM entry with the plain OID (06 04 67 2B 07 01) and reads it back', () => {
    const der = buildDodfOidEntry({ oid: OMA_DM_BOOTSTRAP_OID, path: { path: fromHex('6431')! }, applicationName: 'OMA DM Bootstrap', label: 'DM' });
    expect(hex(der)).toContain('0604672B0701');
    const [e] = parseDodf(der);
    expect(e).toMatchObject({ kind: 'oid', oid: OMA_DM_BOOTSTRAP_OID, label: 'DM', applicationName: 'OMA DM Bootstrap' });
    expect(e!.oidWrappedTwice).toBeUndefined();
    expect(hex(e!.path!.path)).toBe('6431');
  });

  it('tolerates the DM OID twice wrapped, beside other entries', () => {
    const twice = fromHex(NRF_DODF.replace('06060604672B0901', '06060604672B0701'))!;
    const plain = buildDodfOidEntry({ oid: '1.2.3.4', path: { path: fromHex('5000')! } });
    const entries = parseDodf(Uint8Array.from([...plain, ...twice, 0xff, 0xff]));
    expect(entries.map((e) => e.oid)).toEqual(['1.2.3.4', OMA_DM_BOOTSTRAP_OID]);
    expect(hex(findBootstrapEntry(entries)!.path!.path)).toBe('6432');
    expect(findBootstrapEntry(entries)!.oidWrappedTwice).toBe(true);
  });

  it('keeps index and length of a path', () => {
    const der = buildDodfOidEntry({ oid: OMA_DM_BOOTSTRAP_OID, path: { path: fromHex('3F007FFF6431')!, index: 0, length: 300 } });
    const [e] = parseDodf(der);
    expect(e!.path).toEqual({ path: fromHex('3F007FFF6431'), index: 0, length: 300 });
  });

  it('names bad string or time content at the element, and reads an OID where a SEQUENCE belongs as no entry data', () => {
    // asn1js threw plain errors on these (GeneralizedTime "A", UniversalString of 3 bytes, BMPString of 1).
    expect(() => parseDodf(fromHex('A706300404026430180141')!)).toThrow(/^EF\(DODF\): element \(tag 18\) holds content that cannot be decoded \(.+\) at byte 8$/);
    expect(() => parseOdf(fromHex('1C03414243')!)).toThrow(Pkcs15Error);
    expect(() => parseOdf(fromHex('1E0141')!)).toThrow(Pkcs15Error);
    // An OID's sub-identifiers are no child elements (was a TypeError reading tagClass).
    expect(parseDodf(fromHex('A107060367 2B07 3000'.replace(/ /g, ''))!)).toMatchObject([{ kind: 'oid', offset: 0 }]);
  });

  it('names an OidDO without an OID', () => {
    // A1 { 30 00, 30 00, A1 { 30 { 30 04 04 02 64 31 } } }
    expect(() => parseDodf(fromHex('A10E30003000A10830063004040264 31'.replace(' ', ''))!)).toThrow(/without an OBJECT IDENTIFIER/);
  });
});

describe('OIDs', () => {
  it('encodes and decodes arcs, including multi-byte ones', () => {
    expect(hex(encodeOid('2.23.43.7.1'))).toBe('672B0701');
    expect(decodeOid(fromHex('672B0701')!)).toBe('2.23.43.7.1');
    expect(decodeOid(encodeOid('1.2.840.113549.1.1.11'))).toBe('1.2.840.113549.1.1.11');
    expect(decodeOid(fromHex('2A86')!)).toBeUndefined();
  });
});

describe('EF(DIR)', () => {
  it('reads application templates from records, skipping empty ones', () => {
    const rec = new Uint8Array(32).fill(0xff);
    rec.set(buildDirRecord({ aid: PKCS15_AID, label: 'PKCS#15' }));
    const apps = parseDir([rec, new Uint8Array(32).fill(0xff)]);
    expect(apps).toHaveLength(1);
    expect(hex(apps[0]!.aid)).toBe(hex(PKCS15_AID));
    expect(apps[0]!.label).toBe('PKCS#15');
  });

  it('names a cut record and where it is cut (it used to end the record silently)', () => {
    const rec = buildDirRecord({ aid: PKCS15_AID, label: 'PKCS#15' });
    expect(() => parseDir([new Uint8Array(8).fill(0xff), rec.subarray(0, rec.length - 1)])).toThrow(/^EF\(DIR\) record 2: .* at byte 0$/);
    expect(() => parseDir([rec.subarray(0, 6)])).toThrow(Pkcs15Error);
  });
});
