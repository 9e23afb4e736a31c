/**
 * PKCS#15 (ISO/IEC 7816-15) structures that a DM smart-card bootstrap needs, DER via asn1js:
 *
 *   EF(DIR)  2F00: application templates  61 { 4F AID, 50 label, 51 path }            (ISO 7816-4 §8.2.1.1)
 *   EF(ODF)  5031: PKCS15Objects CHOICE; dataObjects [7] (A7) -> Path of the EF(DODF)
 *   EF(DODF)     : PKCS15Data CHOICE; oidDO [1] (A1) = PKCS15Object {
 *                    CommonObjectAttributes SEQUENCE { label UTF8String OPT, flags BIT STRING OPT, authId OCTET STRING OPT },
 *                    CommonDataObjectAttributes SEQUENCE { applicationName UTF8String OPT, applicationOID OID OPT },
 *                    typeAttributes [1] OidDO SEQUENCE { id OBJECT IDENTIFIER, value Path SEQUENCE { path OCTET STRING,
 *                                                                        index INTEGER OPT, length [0] INTEGER OPT } } }
 *
 * Real UICCs pad these files with FF (and some with 00): reading stops at the first padding byte.
 * Some cards (and the LwM2M spec's own example) carry the OID twice wrapped (`06 06 06 04 67 2B ..`,
 * an OID whose content is itself an encoded OID); we read both forms and always write the plain one.
 * Sources: nrfconnect/sdk-nrf lib/uicc_lwm2m (pkcs15_decode.c and its test: a real UICC's ODF/DODF).
 */
import * as asn1js from 'asn1js';
import { concat, hex } from '../../native/pcsc/apdu.js';

/** The PKCS#15 application identifier (ISO 7816-15 / PKCS#15 v1.1 §5.4). */
export const PKCS15_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x00, 0x63, 0x50, 0x4b, 0x43, 0x53, 0x2d, 0x31, 0x35);
/** OMA DM bootstrap data object: {joint-iso-itu-t(2) international-organizations(23) wap(43) oma-dm(7) bootstrap(1)}. */
export const OMA_DM_BOOTSTRAP_OID = '2.23.43.7.1';
/** LwM2M bootstrap (same scheme, seen on real UICCs): only recognised, never written. */
export const LWM2M_BOOTSTRAP_OID = '2.23.43.9.1';

export const ODF_TAGS: Readonly<Record<number, string>> = {
  0: 'privateKeys',
  1: 'publicKeys',
  2: 'trustedPublicKeys',
  3: 'secretKeys',
  4: 'certificates',
  5: 'trustedCertificates',
  6: 'usefulCertificates',
  7: 'dataObjects',
  8: 'authObjects',
};

export class Pkcs15Error extends Error {
  constructor(
    message: string,
    /** Byte offset in the file where the defect is. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} at byte ${offset}`);
    this.name = 'Pkcs15Error';
  }
}

export interface Pkcs15Path {
  /** File path: a FID (2 bytes) or a path from the application (e.g. 3F00 7FFF 6431). */
  path: Uint8Array;
  index?: number;
  length?: number;
}

export interface OdfEntry {
  /** Context tag number of the PKCS15Objects choice (7 = dataObjects). */
  tag: number;
  name: string;
  path?: Pkcs15Path;
}

export interface DodfEntry {
  kind: 'opaque' | 'external' | 'oid' | 'unknown';
  label?: string;
  applicationName?: string;
  /** Dotted OID of an OidDO. */
  oid?: string;
  /** The OID was carried twice wrapped (06 06 06 04 ..). */
  oidWrappedTwice?: boolean;
  path?: Pkcs15Path;
  /** DER of the entry as found, for rewriting the DODF without touching other entries. */
  der: Uint8Array;
  offset: number;
}

export interface DirApplication {
  aid: Uint8Array;
  label?: string;
  path?: Uint8Array;
}

// -------------------------------------------------------------------------------------------------
// Reading

type Block = asn1js.AsnType;

interface Element {
  block: Block;
  offset: number;
  der: Uint8Array;
}

/** Top-level DER elements of a file, stopping at FF/00 padding (or the end). */
export function readElements(bytes: Uint8Array, what: string): Element[] {
  const out: Element[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0xff || b === 0x00) {
      // padding: everything after must be padding too, or the file is damaged
      for (let j = i; j < bytes.length; j++) {
        if (bytes[j] !== 0xff && bytes[j] !== 0x00) throw new Pkcs15Error(`${what}: data after padding`, j);
      }
      break;
    }
    const view = bytes.subarray(i);
    // asn1js converts the content of string and time types while it decodes, and throws plain errors
    // on bad content (GeneralizedTime text "A": Error; a UniversalString not a multiple of 4 bytes or a
    // BMPString of odd length: RangeError), nested or not. Bad card bytes are bad input: a Pkcs15Error
    // naming the file and the offset of the element holding them, never a raw error (found by fuzzing).
    let r: ReturnType<typeof asn1js.fromBER>;
    try {
      r = asn1js.fromBER(view);
    } catch (e) {
      throw new Pkcs15Error(`${what}: element (tag ${hex([b])}) holds content that cannot be decoded (${e instanceof Error ? e.message : String(e)})`, i);
    }
    if (r.offset === -1 || r.result.error) throw new Pkcs15Error(`${what}: not DER (${r.result.error || 'unreadable'})`, i);
    out.push({ block: r.result, offset: i, der: bytes.slice(i, i + r.offset) });
    i += r.offset;
  }
  return out;
}

function children(b: Block): Block[] {
  const v = (b as asn1js.Constructed).valueBlock as { value?: unknown };
  // Only real elements: an OBJECT IDENTIFIER's valueBlock.value is an array too, of its sub-identifiers
  // (no idBlock), and a card with an OID where a SEQUENCE belongs made isTag() throw a TypeError.
  return Array.isArray(v.value) ? (v.value as unknown[]).filter((k): k is Block => k instanceof asn1js.BaseBlock) : [];
}

function isTag(b: Block, tagClass: number, tagNumber: number): boolean {
  return b.idBlock.tagClass === tagClass && b.idBlock.tagNumber === tagNumber;
}
const UNIVERSAL = 1;
const CONTEXT = 3;

/** Content octets of a primitive element (valueBeforeDecode minus its header). */
function content(b: Block): Uint8Array {
  const all = b.valueBeforeDecodeView;
  return all.subarray(headerLength(all));
}

function headerLength(der: Uint8Array): number {
  let i = 1;
  if ((der[0]! & 0x1f) === 0x1f) while (der[i++]! & 0x80);
  const l = der[i]!;
  return i + 1 + (l & 0x80 ? l & 0x7f : 0);
}

function utf8(b: Block): string {
  return new TextDecoder().decode(content(b));
}

function integer(b: Block): number {
  const c = content(b);
  let n = 0;
  for (const x of c) n = n * 256 + x;
  return n;
}

/** Dotted OID from content octets; undefined when malformed. */
export function decodeOid(c: Uint8Array): string | undefined {
  if (c.length === 0) return undefined;
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (!(c[i]! & 0x80)) {
      arcs.push(v);
      v = 0;
    } else if (i === c.length - 1) return undefined;
  }
  const first = arcs.shift()!;
  const a = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [a, first - a * 40, ...arcs].join('.');
}

export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isInteger(a) || a < 0)) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  const push = (n: number): void => {
    const tmp = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) tmp.unshift((n & 0x7f) | 0x80);
    out.push(...tmp);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Uint8Array.from(out);
}

/** OID of an element, unwrapping the twice-wrapped form. */
function readOid(b: Block): { oid: string; twice: boolean } | undefined {
  const c = content(b);
  if (c.length >= 3 && c[0] === 0x06 && c[1] === c.length - 2) {
    const inner = decodeOid(c.subarray(2));
    if (inner) return { oid: inner, twice: true };
  }
  const oid = decodeOid(c);
  return oid ? { oid, twice: false } : undefined;
}

function readPath(b: Block): Pkcs15Path | undefined {
  if (!isTag(b, UNIVERSAL, 16)) return undefined;
  const p: Partial<Pkcs15Path> = {};
  for (const k of children(b)) {
    if (isTag(k, UNIVERSAL, 4)) p.path = content(k).slice();
    else if (isTag(k, UNIVERSAL, 2)) p.index = integer(k);
    else if (isTag(k, CONTEXT, 0)) p.length = integer(k);
  }
  return p.path ? (p as Pkcs15Path) : undefined;
}

export function parseOdf(bytes: Uint8Array): OdfEntry[] {
  return readElements(bytes, 'EF(ODF)').map(({ block, offset }) => {
    if (block.idBlock.tagClass !== CONTEXT) throw new Pkcs15Error(`EF(ODF): entry is not a context-tagged PKCS15Objects choice (tag ${hex([block.valueBeforeDecodeView[0]!])})`, offset);
    const tag = block.idBlock.tagNumber;
    const e: OdfEntry = { tag, name: ODF_TAGS[tag] ?? `[${tag}]` };
    const inner = children(block)[0];
    const path = inner && readPath(inner);
    if (path) e.path = path;
    return e;
  });
}

export function parseDodf(bytes: Uint8Array): DodfEntry[] {
  return readElements(bytes, 'EF(DODF)').map(({ block, offset, der }) => {
    const entry: DodfEntry = { kind: 'unknown', der, offset };
    if (isTag(block, UNIVERSAL, 16)) entry.kind = 'opaque';
    else if (isTag(block, CONTEXT, 0)) entry.kind = 'external';
    else if (isTag(block, CONTEXT, 1)) entry.kind = 'oid';
    else return entry;
    const [common, commonData, ...rest] = children(block);
    for (const k of common ? children(common) : []) if (isTag(k, UNIVERSAL, 12)) entry.label = utf8(k);
    for (const k of commonData ? children(commonData) : []) if (isTag(k, UNIVERSAL, 12)) entry.applicationName = utf8(k);
    const typeAttrs = rest.find((k) => isTag(k, CONTEXT, 1));
    const attrs = typeAttrs ? children(typeAttrs)[0] : undefined;
    if (!attrs) return entry;
    if (entry.kind === 'oid') {
      const [id, value] = children(attrs);
      if (!id || !isTag(id, UNIVERSAL, 6)) throw new Pkcs15Error('EF(DODF): OidDO without an OBJECT IDENTIFIER', offset);
      const oid = readOid(id);
      if (!oid) throw new Pkcs15Error('EF(DODF): malformed OBJECT IDENTIFIER in OidDO', offset);
      entry.oid = oid.oid;
      if (oid.twice) entry.oidWrappedTwice = true;
      const path = value && readPath(value);
      if (path) entry.path = path;
    } else {
      const path = readPath(attrs);
      if (path) entry.path = path;
    }
    return entry;
  });
}

/** EF(DIR) records (or a transparent EF(DIR)'s content): the applications on the card. */
export function parseDir(records: readonly Uint8Array[]): DirApplication[] {
  const apps: DirApplication[] = [];
  for (const [r, rec] of records.entries()) {
    let i = 0;
    // FF / 00 where a TLV would start is padding (an empty record, or the fill after the last template).
    while (i < rec.length && rec[i] !== 0xff && rec[i] !== 0x00) {
      const t = readTlv(rec, i);
      // A TLV cut short (or with a length form we do not read) used to end the record silently, and
      // with it any application after it: say which record and where.
      if (!t) throw new Pkcs15Error(`EF(DIR) record ${r + 1}: TLV ${hex(rec.subarray(i, i + 4))} is cut short or malformed (record of ${rec.length} bytes)`, i);
      if (t.tag === 0x61) {
        const app: Partial<DirApplication> = {};
        let j = 0;
        const base = t.next - t.value.length;
        while (j < t.value.length && t.value[j] !== 0xff && t.value[j] !== 0x00) {
          const u = readTlv(t.value, j);
          if (!u) throw new Pkcs15Error(`EF(DIR) record ${r + 1}: TLV ${hex(t.value.subarray(j, j + 4))} in the application template is cut short or malformed`, base + j);
          if (u.tag === 0x4f) app.aid = u.value.slice();
          else if (u.tag === 0x50) app.label = new TextDecoder().decode(u.value);
          else if (u.tag === 0x51) app.path = u.value.slice();
          j = u.next;
        }
        if (app.aid) apps.push(app as DirApplication);
      }
      i = t.next;
    }
  }
  return apps;
}

/** Simple BER-TLV (1-2 byte tag, definite length) as FCPs and EF(DIR) use. */
export interface Tlv {
  tag: number;
  value: Uint8Array;
  next: number;
}

export function readTlv(b: Uint8Array, i: number): Tlv | undefined {
  if (i >= b.length) return undefined;
  let tag = b[i++]!;
  if ((tag & 0x1f) === 0x1f) {
    if (i >= b.length) return undefined;
    tag = (tag << 8) | b[i++]!;
  }
  if (i >= b.length) return undefined;
  let len = b[i++]!;
  if (len === 0x81) len = b[i++] ?? -1;
  else if (len === 0x82) {
    len = ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
    i += 2;
  } else if (len > 0x82) return undefined;
  if (len < 0 || i + len > b.length) return undefined;
  return { tag, value: b.subarray(i, i + len), next: i + len };
}

export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const t = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const l = value.length < 0x80 ? [value.length] : value.length <= 0xff ? [0x81, value.length] : [0x82, value.length >> 8, value.length & 0xff];
  const out = new Uint8Array(t.length + l.length + value.length);
  out.set(t, 0);
  out.set(l, t.length);
  out.set(value, t.length + l.length);
  return out;
}

// -------------------------------------------------------------------------------------------------
// Writing (asn1js builds the DER)

function der(b: asn1js.AsnType): Uint8Array {
  return new Uint8Array(b.toBER());
}

function pathBlock(p: Pkcs15Path): asn1js.Sequence {
  const value: asn1js.AsnType[] = [new asn1js.OctetString({ valueHex: p.path })];
  if (p.index !== undefined) value.push(new asn1js.Integer({ value: p.index }));
  if (p.length !== undefined) {
    // [0] IMPLICIT INTEGER
    const n = new asn1js.Integer({ value: p.length });
    const c = content(asn1js.fromBER(der(n)).result);
    value.push(new asn1js.Primitive({ idBlock: { tagClass: CONTEXT, tagNumber: 0 }, valueHex: c }));
  }
  return new asn1js.Sequence({ value });
}

export function buildOdfEntry(tag: number, path: Pkcs15Path): Uint8Array {
  return der(new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber: tag }, value: [pathBlock(path)] }));
}

export interface OidDataObject {
  oid: string;
  path: Pkcs15Path;
  label?: string;
  applicationName?: string;
}

export function buildDodfOidEntry(o: OidDataObject): Uint8Array {
  const common: asn1js.AsnType[] = o.label !== undefined ? [new asn1js.Utf8String({ value: o.label })] : [];
  const commonData: asn1js.AsnType[] = o.applicationName !== undefined ? [new asn1js.Utf8String({ value: o.applicationName })] : [];
  const oidDo = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: o.oid }), pathBlock(o.path)] });
  return der(
    new asn1js.Constructed({
      idBlock: { tagClass: CONTEXT, tagNumber: 1 },
      value: [
        new asn1js.Sequence({ value: common }),
        new asn1js.Sequence({ value: commonData }),
        new asn1js.Constructed({ idBlock: { tagClass: CONTEXT, tagNumber: 1 }, value: [oidDo] }),
      ],
    }),
  );
}

export function buildDirRecord(app: DirApplication): Uint8Array {
  const parts = [tlv(0x4f, app.aid)];
  if (app.label !== undefined) parts.push(tlv(0x50, new TextEncoder().encode(app.label)));
  if (app.path !== undefined) parts.push(tlv(0x51, app.path));
  return tlv(0x61, concat(parts));
}

/** The DM bootstrap entry of a DODF, if any (first match; the OID may be twice wrapped). */
export function findBootstrapEntry(entries: readonly DodfEntry[], oid = OMA_DM_BOOTSTRAP_OID): DodfEntry | undefined {
  return entries.find((e) => e.kind === 'oid' && e.oid === oid);
}
