/**
 * WBXML token tables for SyncML DM: code page 0 (SyncML), 1 (MetInf), 2 (DM DDF 1.2 / TNDS).
 *
 * Transcribed from libwbxml 0.11.8 `src/wbxml_tables.c` (`sv_syncml_syncml12_tag_table`,
 * `sv_syncml_metinf12_tag_table`, `sv_syncml_dmddf12_tag_table`) and checked token by token against
 * the installed `xml2wbxml` in test/unit/wbxml.oracle.test.ts. Where libwbxml keeps separate 1.1 and
 * 1.2 tables, the 1.1 one is a strict subset with identical values (see SYNCML12_ONLY), so one table
 * serves every version: a 1.2-only token in a 1.1 document still has exactly one meaning.
 */
import type { Namespace } from '../element.js';

/** WBXML global tokens (WBXML 1.3 §7.1). */
export const GLOBAL = {
  SWITCH_PAGE: 0x00,
  END: 0x01,
  ENTITY: 0x02,
  STR_I: 0x03,
  LITERAL: 0x04,
  EXT_I_0: 0x40,
  EXT_I_1: 0x41,
  EXT_I_2: 0x42,
  PI: 0x43,
  LITERAL_C: 0x44,
  EXT_T_0: 0x80,
  EXT_T_1: 0x81,
  EXT_T_2: 0x82,
  STR_T: 0x83,
  LITERAL_A: 0x84,
  EXT_0: 0xc0,
  EXT_1: 0xc1,
  EXT_2: 0xc2,
  OPAQUE: 0xc3,
  LITERAL_AC: 0xc4,
} as const;

/** Tag token bits: the low 6 bits are the tag identity. */
export const TAG_CONTENT = 0x40;
export const TAG_ATTRIBUTES = 0x80;
export const TAG_ID_MASK = 0x3f;

/** IANA MIB enum values for the charsets a header may name. */
export const CHARSET = { UNKNOWN: 0, US_ASCII: 3, ISO_8859_1: 4, UTF_8: 106 } as const;

/** Code page of each namespace: fixed by the SyncML DM WBXML binding, not negotiated. */
export const CODE_PAGE: Readonly<Record<Namespace, number>> = { syncml: 0, metinf: 1, dmddf: 2 };
export const PAGE_NAMESPACE: readonly Namespace[] = ['syncml', 'metinf', 'dmddf'];

/** libwbxml `sv_syncml_syncml12_tag_table`, code page 0. 0x30 is "Reserved for future use". */
const SYNCML_TAGS: ReadonlyArray<readonly [string, number]> = [
  ['Add', 0x05], ['Alert', 0x06], ['Archive', 0x07], ['Atomic', 0x08], ['Chal', 0x09], ['Cmd', 0x0a],
  ['CmdID', 0x0b], ['CmdRef', 0x0c], ['Copy', 0x0d], ['Cred', 0x0e], ['Data', 0x0f], ['Delete', 0x10],
  ['Exec', 0x11], ['Final', 0x12], ['Get', 0x13], ['Item', 0x14], ['Lang', 0x15], ['LocName', 0x16],
  ['LocURI', 0x17], ['Map', 0x18], ['MapItem', 0x19], ['Meta', 0x1a], ['MsgID', 0x1b], ['MsgRef', 0x1c],
  ['NoResp', 0x1d], ['NoResults', 0x1e], ['Put', 0x1f], ['Replace', 0x20], ['RespURI', 0x21],
  ['Results', 0x22], ['Search', 0x23], ['Sequence', 0x24], ['SessionID', 0x25], ['SftDel', 0x26],
  ['Source', 0x27], ['SourceRef', 0x28], ['Status', 0x29], ['Sync', 0x2a], ['SyncBody', 0x2b],
  ['SyncHdr', 0x2c], ['SyncML', 0x2d], ['Target', 0x2e], ['TargetRef', 0x2f], ['VerDTD', 0x31],
  ['VerProto', 0x32], ['NumberOfChanges', 0x33], ['MoreData', 0x34], ['Field', 0x35], ['Filter', 0x36],
  ['Record', 0x37], ['FilterType', 0x38], ['SourceParent', 0x39], ['TargetParent', 0x3a], ['Move', 0x3b],
  ['Correlator', 0x3c],
];

/** libwbxml `sv_syncml_metinf12_tag_table`, code page 1. */
const METINF_TAGS: ReadonlyArray<readonly [string, number]> = [
  ['Anchor', 0x05], ['EMI', 0x06], ['Format', 0x07], ['FreeID', 0x08], ['FreeMem', 0x09], ['Last', 0x0a],
  ['Mark', 0x0b], ['MaxMsgSize', 0x0c], ['Mem', 0x0d], ['MetInf', 0x0e], ['Next', 0x0f],
  ['NextNonce', 0x10], ['SharedMem', 0x11], ['Size', 0x12], ['Type', 0x13], ['Version', 0x14],
  ['MaxObjSize', 0x15], ['FieldLevel', 0x16],
];

/** libwbxml `sv_syncml_dmddf12_tag_table`, code page 2 (OMA-TS-DM_TND-V1_2_1). Names are case-sensitive: `Node` vs `node`. */
const DMDDF_TAGS: ReadonlyArray<readonly [string, number]> = [
  ['AccessType', 0x05], ['ACL', 0x06], ['Add', 0x07], ['b64', 0x08], ['bin', 0x09], ['bool', 0x0a],
  ['chr', 0x0b], ['CaseSense', 0x0c], ['CIS', 0x0d], ['Copy', 0x0e], ['CS', 0x0f], ['date', 0x10],
  ['DDFName', 0x11], ['DefaultValue', 0x12], ['Delete', 0x13], ['Description', 0x14], ['DFFormat', 0x15],
  ['DFProperties', 0x16], ['DFTitle', 0x17], ['DFType', 0x18], ['Dynamic', 0x19], ['Exec', 0x1a],
  ['float', 0x1b], ['Format', 0x1c], ['Get', 0x1d], ['int', 0x1e], ['Man', 0x1f], ['MgmtTree', 0x20],
  ['MIME', 0x21], ['Mod', 0x22], ['Name', 0x23], ['Node', 0x24], ['node', 0x25], ['NodeName', 0x26],
  ['null', 0x27], ['Occurrence', 0x28], ['One', 0x29], ['OneOrMore', 0x2a], ['OneOrN', 0x2b],
  ['Path', 0x2c], ['Permanent', 0x2d], ['Replace', 0x2e], ['RTProperties', 0x2f], ['Scope', 0x30],
  ['Size', 0x31], ['time', 0x32], ['Title', 0x33], ['TStamp', 0x34], ['Type', 0x35], ['Value', 0x36],
  ['VerDTD', 0x37], ['VerNo', 0x38], ['xml', 0x39], ['ZeroOrMore', 0x3a], ['ZeroOrN', 0x3b],
  ['ZeroOrOne', 0x3c],
];

/**
 * Names libwbxml's SyncML 1.1 tables lack (`sv_syncml_syncml11_tag_table` stops at MoreData 0x34 plus
 * SourceParent 0x39 as a Nokia extension; MetInf 1.1 has no FieldLevel). Informational: we decode and
 * encode them in any version, because their tokens mean nothing else in 1.1.
 */
export const SYNCML12_ONLY: ReadonlySet<string> = new Set([
  'syncml:Field', 'syncml:Filter', 'syncml:Record', 'syncml:FilterType', 'syncml:TargetParent',
  'syncml:Move', 'syncml:Correlator', 'metinf:FieldLevel',
]);

export const TAG_LIST: Readonly<Record<Namespace, ReadonlyArray<readonly [string, number]>>> = {
  syncml: SYNCML_TAGS,
  metinf: METINF_TAGS,
  dmddf: DMDDF_TAGS,
};

function byToken(list: ReadonlyArray<readonly [string, number]>): (string | undefined)[] {
  const a = new Array<string | undefined>(64).fill(undefined);
  for (const [name, tok] of list) a[tok] = name;
  return a;
}

/** TAG_NAMES[page][tokenId] -> element name; undefined where the page defines nothing. Dense arrays for a branch-free decode. */
export const TAG_NAMES: ReadonlyArray<ReadonlyArray<string | undefined>> = [
  byToken(SYNCML_TAGS),
  byToken(METINF_TAGS),
  byToken(DMDDF_TAGS),
];

/** TAG_TOKENS[ns].get(name) -> token id (without the content bit). */
export const TAG_TOKENS: Readonly<Record<Namespace, ReadonlyMap<string, number>>> = {
  syncml: new Map(SYNCML_TAGS),
  metinf: new Map(METINF_TAGS),
  dmddf: new Map(DMDDF_TAGS),
};

export function tagToken(ns: Namespace, name: string): number | undefined {
  return TAG_TOKENS[ns].get(name);
}

/** Well-known WBXML public identifiers (libwbxml `wbxml_tables.h`; WBXML 1.3 §7.2.1, OMNA). */
export const PUBLIC_ID = {
  UNKNOWN: 0x01,
  SYNCML_10: 0x0fd1,
  DEVINF_10: 0x0fd2,
  SYNCML_11: 0x0fd3,
  DEVINF_11: 0x0fd4,
  SYNCML_12: 0x1201,
  METINF_12: 0x1202,
  DEVINF_12: 0x1203,
} as const;

/**
 * Formal public identifiers as they appear in a DOCTYPE or a WBXML string-table literal. DM DDF has
 * no numeric id; libwbxml writes `-//OMA//DTD-DM-DDF 1.2//EN` (with hyphens, as in the OMA DTD), so
 * the encoder uses that form; the decoder also accepts the spaced spelling `-//OMA//DTD DM DDF 1.2//EN`.
 */
export const PUBLIC_ID_LITERAL = {
  SYNCML_10: '-//SYNCML//DTD SyncML 1.0//EN',
  SYNCML_11: '-//SYNCML//DTD SyncML 1.1//EN',
  SYNCML_12: '-//SYNCML//DTD SyncML 1.2//EN',
  METINF_10: '-//SYNCML//DTD MetInf 1.0//EN',
  METINF_11: '-//SYNCML//DTD MetInf 1.1//EN',
  METINF_12: '-//SYNCML//DTD MetInf 1.2//EN',
  DEVINF_10: '-//SYNCML//DTD DevInf 1.0//EN',
  DEVINF_11: '-//SYNCML//DTD DevInf 1.1//EN',
  DEVINF_12: '-//SYNCML//DTD DevInf 1.2//EN',
  DMDDF_12: '-//OMA//DTD-DM-DDF 1.2//EN',
} as const;

/** What a public id tells us: which language, and for SyncML which root namespace URI. */
export interface PublicIdInfo {
  family: 'syncml' | 'metinf' | 'dmddf' | 'devinf' | 'unknown';
  /** SyncML version the id names (`1.2` where the id does not say). */
  version: '1.0' | '1.1' | '1.2';
}

const NUMERIC_IDS = new Map<number, PublicIdInfo>([
  [PUBLIC_ID.UNKNOWN, { family: 'unknown', version: '1.2' }],
  [PUBLIC_ID.SYNCML_10, { family: 'syncml', version: '1.0' }],
  [PUBLIC_ID.SYNCML_11, { family: 'syncml', version: '1.1' }],
  [PUBLIC_ID.SYNCML_12, { family: 'syncml', version: '1.2' }],
  [PUBLIC_ID.METINF_12, { family: 'metinf', version: '1.2' }],
  [PUBLIC_ID.DEVINF_10, { family: 'devinf', version: '1.0' }],
  [PUBLIC_ID.DEVINF_11, { family: 'devinf', version: '1.1' }],
  [PUBLIC_ID.DEVINF_12, { family: 'devinf', version: '1.2' }],
]);

/** Literal ids keyed by a normalised spelling: peers vary case, spacing and `DTD-DM-DDF` vs `DTD DM DDF`. */
const normaliseLiteral = (s: string): string => s.trim().toUpperCase().replace(/[\s-]+/g, ' ');
const LITERAL_IDS = new Map<string, PublicIdInfo>([
  [normaliseLiteral(PUBLIC_ID_LITERAL.SYNCML_10), { family: 'syncml', version: '1.0' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.SYNCML_11), { family: 'syncml', version: '1.1' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.SYNCML_12), { family: 'syncml', version: '1.2' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.METINF_10), { family: 'metinf', version: '1.0' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.METINF_11), { family: 'metinf', version: '1.1' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.METINF_12), { family: 'metinf', version: '1.2' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.DEVINF_10), { family: 'devinf', version: '1.0' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.DEVINF_11), { family: 'devinf', version: '1.1' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.DEVINF_12), { family: 'devinf', version: '1.2' }],
  [normaliseLiteral(PUBLIC_ID_LITERAL.DMDDF_12), { family: 'dmddf', version: '1.2' }],
]);

/** Exact spellings first: they are what peers send, and the normalising regex costs more than a small decode. */
const EXACT_LITERAL_IDS = new Map<string, PublicIdInfo>(
  Object.values(PUBLIC_ID_LITERAL).map((lit) => [lit, LITERAL_IDS.get(normaliseLiteral(lit))!]),
);

/** undefined: an id we do not know (the decoder refuses it rather than guess at its tables). */
export function describePublicId(id: number | string): PublicIdInfo | undefined {
  if (typeof id === 'number') return NUMERIC_IDS.get(id);
  return EXACT_LITERAL_IDS.get(id) ?? LITERAL_IDS.get(normaliseLiteral(id));
}

/** Root namespace URI for SyncML documents of each version (libwbxml `sv_syncml_syncml1x_ns_table`). */
export const SYNCML_NAMESPACE_URI = {
  '1.0': 'SYNCML:SYNCML1.0',
  '1.1': 'SYNCML:SYNCML1.1',
  '1.2': 'SYNCML:SYNCML1.2',
} as const;
