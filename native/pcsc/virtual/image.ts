/**
 * The virtual UICC's card image: its ATR, keys (PIN/ADM with retry counters) and ISO 7816-4 file
 * system, as typed objects and as the JSON file `dmw card emulate --image` loads and saves.
 *
 * JSON shape (bytes as hex strings):
 *   { "format": "dmw-virtual-uicc/1", "atr": "3B9E..", "protocol": "T=0", "freeMemory": 16384,
 *     "keys": [{ "ref": 1, "name": "PIN1", "value": "31323334FFFFFFFF", "tries": 3, "maxTries": 3 }],
 *     "mf": { "type": "df", "fid": "3F00", "access": { "create": 10, "delete": 10 }, "children": [
 *        { "type": "ef", "fid": "2F00", "structure": "linear-fixed", "recordLength": 32,
 *          "records": ["61..", ..], "access": { "read": "always", "update": 10 } },
 *        { "type": "df", "fid": "7F50", "aid": "A000000063504B43532D3135", ... } ] } }
 * An access rule is "always", "never" or the reference of the key that must have been verified.
 */
import { fromHex, hex } from '../apdu.js';
import { computeTck } from '../atr.js';
import { PKCS15_AID, buildDirRecord } from '../../../main/bootstrap/pkcs15.js';

export const IMAGE_FORMAT = 'dmw-virtual-uicc/1';

export type AccessRule = 'always' | 'never' | number;

export interface EfAccess {
  read: AccessRule;
  update: AccessRule;
}

export interface DfAccess {
  /** CREATE FILE (and RESIZE FILE) of children. */
  create: AccessRule;
  delete: AccessRule;
}

export interface EfNode {
  type: 'ef';
  fid: number;
  structure: 'transparent' | 'linear-fixed';
  /** Transparent: the file's bytes (its size is their length). Linear fixed: records back to back. */
  data: Uint8Array;
  recordLength?: number;
  sfi?: number;
  access: EfAccess;
}

export interface DfNode {
  type: 'df';
  fid: number;
  aid?: Uint8Array;
  label?: string;
  access: DfAccess;
  /** Access given to EFs created under this DF. */
  newFileAccess: EfAccess;
  children: FileNode[];
}

export type FileNode = EfNode | DfNode;

export interface CardKey {
  ref: number;
  name: string;
  value: Uint8Array;
  tries: number;
  maxTries: number;
}

export interface CardImage {
  atr: Uint8Array;
  protocol: 'T=0' | 'T=1';
  /** Bytes left for CREATE/RESIZE FILE. */
  freeMemory: number;
  /** Whether RESIZE FILE (ETSI TS 102 222) is supported. */
  resize: boolean;
  keys: CardKey[];
  mf: DfNode;
}

/** DF levels below the MF an image may hold (real UICCs use two or three). */
export const MAX_DF_DEPTH = 16;

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Our ATR: direct convention, TA1 96, T=0 offered, global T=15 with TA3, "DMWVUICC" as issuer data. */
export function makeAtr(protocol: 'T=0' | 'T=1'): Uint8Array {
  // historical: category 80, card capabilities 73 FE 21 1B (compact TLV), card issuer's data 58 "DMWVUICC"
  const hist = [0x80, 0x73, 0xfe, 0x21, 0x1b, 0x58, ...Buffer.from('DMWVUICC', 'ascii')];
  const td1 = protocol === 'T=0' ? 0x80 : 0x81; // TD2 follows; T=0 / T=1
  const body = [0x3b, 0x90 | hist.length, 0x96, td1, 0x1f, 0xc7, ...hist];
  const bytes = Uint8Array.from(body);
  return Uint8Array.of(...bytes, computeTck(bytes));
}

/** PIN as UICC PIN blocks hold it: ASCII digits padded with FF to 8 bytes (ETSI TS 102 221 §9.5.1). */
export function pinBlock(pin: string): Uint8Array {
  const out = new Uint8Array(8).fill(0xff);
  out.set(Buffer.from(pin, 'ascii').subarray(0, 8));
  return out;
}

function padded(n: number, content: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(n).fill(0xff);
  out.set(content.subarray(0, n));
  return out;
}

export const BLANK_PIN1 = '1234';
export const BLANK_ADM1 = '12345678';
export const PIN1_REF = 0x01;
export const ADM1_REF = 0x0a;

/**
 * A blank UICC holding an empty PKCS#15 application, ready for a DM bootstrap:
 *   MF 3F00: EF(DIR) 2F00 (linear fixed, one application template), EF(ICCID) 2FE2;
 *   ADF PKCS#15 (FID 7F50, AID A000000063504B43532D3135): EF(ODF) 5031 (64 bytes, empty = FF),
 *   EF(TokenInfo) 5032. No DODF: writing a bootstrap creates it.
 * Keys: PIN1 (ref 01, "1234", 3 tries) guards every write in the PKCS#15 application; ADM1 (ref 0A,
 * "12345678", 10 tries) guards the MF.
 */
export function blankUicc(opts: { protocol?: 'T=0' | 'T=1'; iccid?: string } = {}): CardImage {
  const protocol = opts.protocol ?? 'T=0';
  const iccid = opts.iccid ?? '8949000000000000001';
  const dirRecLen = 32;
  const dir = new Uint8Array(dirRecLen * 2).fill(0xff);
  dir.set(buildDirRecord({ aid: PKCS15_AID, label: 'PKCS#15' }), 0);
  const app: DfNode = {
    type: 'df',
    fid: 0x7f50,
    aid: PKCS15_AID.slice(),
    label: 'PKCS#15',
    access: { create: PIN1_REF, delete: PIN1_REF },
    newFileAccess: { read: 'always', update: PIN1_REF },
    children: [
      { type: 'ef', fid: 0x5031, structure: 'transparent', data: padded(64), access: { read: 'always', update: PIN1_REF } },
      { type: 'ef', fid: 0x5032, structure: 'transparent', data: padded(64, tokenInfo()), access: { read: 'always', update: ADM1_REF } },
    ],
  };
  return {
    atr: makeAtr(protocol),
    protocol,
    freeMemory: 16 * 1024,
    resize: true,
    keys: [
      { ref: PIN1_REF, name: 'PIN1', value: pinBlock(BLANK_PIN1), tries: 3, maxTries: 3 },
      { ref: ADM1_REF, name: 'ADM1', value: Buffer.from(BLANK_ADM1, 'ascii'), tries: 10, maxTries: 10 },
    ],
    mf: {
      type: 'df',
      fid: 0x3f00,
      access: { create: ADM1_REF, delete: ADM1_REF },
      newFileAccess: { read: 'always', update: ADM1_REF },
      children: [
        { type: 'ef', fid: 0x2f00, structure: 'linear-fixed', recordLength: dirRecLen, data: dir, access: { read: 'always', update: ADM1_REF } },
        { type: 'ef', fid: 0x2fe2, structure: 'transparent', data: iccidBytes(iccid), access: { read: 'always', update: 'never' } },
        app,
      ],
    },
  };
}

/** ICCID as EF(ICCID) holds it: BCD, nibbles swapped, F-padded to 10 bytes. */
function iccidBytes(iccid: string): Uint8Array {
  const d = iccid.padEnd(20, 'F');
  const out = new Uint8Array(10);
  for (let i = 0; i < 10; i++) out[i] = Number.parseInt(d[i * 2 + 1]! + d[i * 2]!, 16);
  return out;
}

/** TokenInfo ::= SEQUENCE { version 0, serialNumber, manufacturerID, label [0], tokenflags }. */
function tokenInfo(): Uint8Array {
  const utf = (s: string): number[] => [...Buffer.from(s, 'utf8')];
  const serial = [0x04, 0x04, 0x00, 0x00, 0x00, 0x01];
  const man = [0x0c, 12, ...utf('DM Workbench')];
  const label = [0x80, 12, ...utf('DM bootstrap')];
  const flags = [0x03, 0x01, 0x00];
  const body = [0x02, 0x01, 0x00, ...serial, ...man, ...label, ...flags];
  return Uint8Array.from([0x30, body.length, ...body]);
}

// -------------------------------------------------------------------------------------------------
// JSON

interface JsonKey {
  ref: number;
  name?: string;
  value: string;
  tries: number;
  maxTries: number;
}
type JsonRule = 'always' | 'never' | number;
interface JsonEf {
  type: 'ef';
  fid: string;
  structure?: 'transparent' | 'linear-fixed';
  data?: string;
  records?: string[];
  recordLength?: number;
  sfi?: number;
  access?: { read?: JsonRule; update?: JsonRule };
}
interface JsonDf {
  type: 'df';
  fid: string;
  aid?: string;
  label?: string;
  access?: { create?: JsonRule; delete?: JsonRule };
  newFileAccess?: { read?: JsonRule; update?: JsonRule };
  children?: (JsonEf | JsonDf)[];
}
export interface CardImageJson {
  format: string;
  atr?: string;
  protocol?: 'T=0' | 'T=1';
  freeMemory?: number;
  resize?: boolean;
  keys?: JsonKey[];
  mf: JsonDf;
}

const fid4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

export function imageToJson(img: CardImage): CardImageJson {
  const ef = (e: EfNode): JsonEf => {
    const j: JsonEf = { type: 'ef', fid: fid4(e.fid), structure: e.structure, access: { read: e.access.read, update: e.access.update } };
    if (e.structure === 'linear-fixed') {
      const n = e.recordLength!;
      j.recordLength = n;
      j.records = [];
      for (let i = 0; i < e.data.length; i += n) j.records.push(hex(e.data.subarray(i, i + n)));
    } else j.data = hex(e.data);
    if (e.sfi !== undefined) j.sfi = e.sfi;
    return j;
  };
  const df = (d: DfNode): JsonDf => {
    const j: JsonDf = { type: 'df', fid: fid4(d.fid) };
    if (d.aid) j.aid = hex(d.aid);
    if (d.label !== undefined) j.label = d.label;
    j.access = { create: d.access.create, delete: d.access.delete };
    j.newFileAccess = { read: d.newFileAccess.read, update: d.newFileAccess.update };
    j.children = d.children.map((c) => (c.type === 'df' ? df(c) : ef(c)));
    return j;
  };
  return {
    format: IMAGE_FORMAT,
    atr: hex(img.atr),
    protocol: img.protocol,
    freeMemory: img.freeMemory,
    resize: img.resize,
    keys: img.keys.map((k) => ({ ref: k.ref, name: k.name, value: hex(k.value), tries: k.tries, maxTries: k.maxTries })),
    mf: df(img.mf),
  };
}

/** Parse a card image; errors name the JSON path of the bad field. */
export function imageFromJson(j: unknown): CardImage {
  const fail = (at: string, why: string): never => {
    throw new ImageError(`${at}: ${why}`);
  };
  if (typeof j !== 'object' || j === null) fail('$', 'a card image is a JSON object');
  const o = j as Partial<CardImageJson>;
  if (o.format !== IMAGE_FORMAT) fail('$.format', `must be "${IMAGE_FORMAT}"`);
  const bytes = (at: string, v: unknown): Uint8Array => {
    if (typeof v !== 'string') fail(at, 'must be a hex string');
    return fromHex(v as string) ?? fail(at, 'not hex');
  };
  const fidOf = (at: string, v: unknown): number => {
    const b = bytes(at, v);
    if (b.length !== 2) fail(at, 'a file id is 2 bytes (4 hex digits)');
    return (b[0]! << 8) | b[1]!;
  };
  const rule = (at: string, v: unknown, dflt: AccessRule): AccessRule => {
    if (v === undefined) return dflt;
    if (v === 'always' || v === 'never') return v;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xff) return v;
    return fail(at, 'an access rule is "always", "never" or a key reference 0..255');
  };
  // A value that is not the array / object / type the image needs is named, not run into (a
  // TypeError from `.map` or `.ref` would say nothing about where the file is wrong).
  const list = (at: string, v: unknown): unknown[] => {
    if (v === undefined) return [];
    return Array.isArray(v) ? v : fail(at, 'must be an array');
  };
  const protocol = o.protocol ?? 'T=0';
  if (protocol !== 'T=0' && protocol !== 'T=1') fail('$.protocol', 'must be "T=0" or "T=1"');
  const node = (at: string, n: unknown, depth: number): FileNode => {
    if (typeof n !== 'object' || n === null) return fail(at, 'a file is an object');
    // Bounded: every walk of the card's file tree recurses once per DF level.
    if (depth > MAX_DF_DEPTH) return fail(at, `DFs nested deeper than ${MAX_DF_DEPTH} levels`);
    const f = n as JsonEf | JsonDf;
    if (f.type === 'df') {
      const d: DfNode = {
        type: 'df',
        fid: fidOf(`${at}.fid`, f.fid),
        access: { create: rule(`${at}.access.create`, f.access?.create, 'never'), delete: rule(`${at}.access.delete`, f.access?.delete, 'never') },
        newFileAccess: { read: rule(`${at}.newFileAccess.read`, f.newFileAccess?.read, 'always'), update: rule(`${at}.newFileAccess.update`, f.newFileAccess?.update, 'never') },
        children: list(`${at}.children`, f.children).map((c, i) => node(`${at}.children[${i}]`, c, depth + 1)),
      };
      if (f.aid !== undefined) d.aid = bytes(`${at}.aid`, f.aid);
      if (f.label !== undefined) d.label = typeof f.label === 'string' ? f.label : fail(`${at}.label`, 'must be a string');
      const seen = new Set<number>();
      d.children.forEach((c, i) => {
        if (seen.has(c.fid)) fail(`${at}.children[${i}].fid`, `duplicate file id ${fid4(c.fid)}`);
        seen.add(c.fid);
      });
      return d;
    }
    if (f.type !== 'ef') return fail(`${at}.type`, 'must be "ef" or "df"');
    const structure = f.structure ?? 'transparent';
    const e: EfNode = {
      type: 'ef',
      fid: fidOf(`${at}.fid`, f.fid),
      structure,
      data: new Uint8Array(0),
      access: { read: rule(`${at}.access.read`, f.access?.read, 'always'), update: rule(`${at}.access.update`, f.access?.update, 'never') },
    };
    if (structure === 'linear-fixed') {
      const n = f.recordLength;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 255) fail(`${at}.recordLength`, 'must be 1..255');
      const recList = list(`${at}.records`, f.records);
      // The FCP gives the record count in one byte (ISO 7816-4: records 1..254).
      if (recList.length > 254) fail(`${at}.records`, `${recList.length} records; a linear fixed EF has at most 254`);
      const recs = recList.map((r, i) => {
        const b = bytes(`${at}.records[${i}]`, r);
        if (b.length !== n) fail(`${at}.records[${i}]`, `is ${b.length} bytes, recordLength is ${n}`);
        return b;
      });
      e.recordLength = n;
      e.data = new Uint8Array(recs.length * n!);
      recs.forEach((r, i) => e.data.set(r, i * n!));
    } else if (structure === 'transparent') {
      e.data = bytes(`${at}.data`, f.data ?? '');
    } else fail(`${at}.structure`, 'must be "transparent" or "linear-fixed"');
    if (f.sfi !== undefined) {
      // A short EF identifier has 5 bits (the FCP writes it shifted left by 3).
      if (typeof f.sfi !== 'number' || !Number.isInteger(f.sfi) || f.sfi < 1 || f.sfi > 30) fail(`${at}.sfi`, 'must be 1..30');
      e.sfi = f.sfi;
    }
    return e;
  };
  const mf = node('$.mf', o.mf, 0);
  if (mf.type !== 'df' || mf.fid !== 0x3f00) fail('$.mf', 'the MF is a DF with file id 3F00');
  if (o.freeMemory !== undefined && (typeof o.freeMemory !== 'number' || !Number.isSafeInteger(o.freeMemory) || o.freeMemory < 0)) fail('$.freeMemory', 'must be a non-negative integer');
  if (o.resize !== undefined && typeof o.resize !== 'boolean') fail('$.resize', 'must be true or false');
  const keys = (list('$.keys', o.keys) as JsonKey[]).map((k, i) => {
    const at = `$.keys[${i}]`;
    if (typeof k !== 'object' || k === null) fail(at, 'a key is an object');
    if (k.name !== undefined && typeof k.name !== 'string') fail(`${at}.name`, 'must be a string');
    if (!Number.isInteger(k.ref) || k.ref < 0 || k.ref > 0xff) fail(`${at}.ref`, 'must be 0..255');
    if (!Number.isInteger(k.maxTries) || k.maxTries < 1 || k.maxTries > 15) fail(`${at}.maxTries`, 'must be 1..15');
    if (!Number.isInteger(k.tries) || k.tries < 0 || k.tries > k.maxTries) fail(`${at}.tries`, 'must be 0..maxTries');
    return { ref: k.ref, name: k.name ?? `key ${k.ref}`, value: bytes(`${at}.value`, k.value), tries: k.tries, maxTries: k.maxTries };
  });
  return {
    atr: o.atr !== undefined ? bytes('$.atr', o.atr) : makeAtr(protocol),
    protocol,
    freeMemory: typeof o.freeMemory === 'number' ? o.freeMemory : 16 * 1024,
    resize: o.resize ?? true,
    keys,
    mf: mf as DfNode,
  };
}
