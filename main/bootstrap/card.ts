/**
 * DM bootstrap on a smart card (DM-3): find the PKCS#15 application, follow EF(ODF) -> EF(DODF) ->
 * the OidDO 2.23.43.7.1 -> the EF holding the WBXML, and read it or write it.
 *
 * Writing is read-compare-write (as pySim does): the EF is read first; chunks that already hold the
 * right bytes are not written; a card already holding the same bootstrap is not written at all.
 * UPDATE BINARY carries maximal chunks (255 bytes, the short-APDU limit); the written range is read
 * back and compared; the DODF entry and the ODF pointer are written last, so a card interrupted
 * mid-write never points at half a bootstrap through a fresh entry, and the next write repairs it.
 *
 * Layout we create on a card that has none (our choice; the DM specs we could read fix no FIDs):
 *   ADF PKCS#15 (AID A000000063504B43532D3135) / EF(ODF) 5031 / EF(DODF) 6430 / bootstrap EF 6431.
 * 5031 is PKCS#15's ODF; DODF 6430 is where a real UICC keeps it (nRF UICC LwM2M test vector, whose
 * LwM2M bootstrap EF is 6432: we take 6431 so both can live side by side).
 *
 * PINs: the retry counter is read first (VERIFY without data -> 63Cx); a PIN is sent at most once
 * (never retried), and not at all when fewer than 2 tries remain, unless forced.
 */
import { ApduError, INS, SW, command, concat, describeExchange, hex, swHex } from '../../native/pcsc/apdu.js';
import type { CardChannel } from '../../native/pcsc/channel.js';
import { decodeWbxml } from '../protocol/wbxml/index.js';
import {
  OMA_DM_BOOTSTRAP_OID,
  PKCS15_AID,
  buildDodfOidEntry,
  buildOdfEntry,
  findBootstrapEntry,
  parseDir,
  parseDodf,
  parseOdf,
  readTlv,
  tlv,
  type DirApplication,
  type DodfEntry,
  type OdfEntry,
  type Pkcs15Path,
} from './pkcs15.js';

export const ODF_FID = 0x5031;
export const DEFAULT_DODF_FID = 0x6430;
export const DEFAULT_BOOTSTRAP_FID = 0x6431;
export const MAX_UPDATE_CHUNK = 255;
export const MAX_READ_CHUNK = 256;
/**
 * Largest EF we read with READ BINARY: P1-P2 carry a 15-bit offset (P1 bit 8 set means P1 names a
 * short file id instead), so offsets 0..0x7FFF, i.e. 0x8000 bytes (the size writeBootstrap creates
 * for the largest bootstrap it accepts, 0x7FFF bytes).
 */
export const MAX_EF_SIZE = 0x8000;

export type FlashPhase = 'locate' | 'pin' | 'read' | 'create' | 'resize' | 'write' | 'verify' | 'register' | 'done';

export interface FlashProgress {
  phase: FlashPhase;
  message: string;
  /** Bytes of the bootstrap handled so far in this phase, and the total. */
  done?: number;
  total?: number;
}

export interface FileInfo {
  fid?: number;
  /** Transparent EF size / linear fixed total size. */
  size?: number;
  structure: 'transparent' | 'linear-fixed' | 'df' | 'other' | 'unknown';
  recordLength?: number;
  records?: number;
  aid?: Uint8Array;
}

export interface PinStatus {
  ref: number;
  verified: boolean;
  /** Tries left (undefined when the card does not say). */
  triesLeft?: number;
  blocked: boolean;
}

export interface PinOptions {
  /** The PIN/ADM bytes as the card compares them (see pinBytes). */
  value: Uint8Array;
  /** Key reference: 01 PIN1, 0A ADM1 ... */
  ref: number;
  /** Send the PIN even with fewer than 2 tries left. */
  force?: boolean;
}

export interface WriteOptions {
  pin?: PinOptions;
  onProgress?: (p: FlashProgress) => void;
  /** Bootstrap EF to create when the card has none (default 6431). */
  bootstrapFid?: number;
  dodfFid?: number;
}

export interface WriteReport {
  fid: number;
  bytes: number;
  efSize: number;
  /** The card already held these bytes: nothing was written. */
  unchanged: boolean;
  /** UPDATE BINARY commands sent for the bootstrap data (and for clearing a longer old one). */
  updateCommands: number;
  chunksSkipped: number;
  /** Files created / resized on the way. */
  created: string[];
  resized?: { from: number; to: number };
  /** Raw exchanges with the card for the whole write (includes GET RESPONSEs). */
  exchanges: number;
  ms: number;
}

export interface BootstrapLocation {
  application: Uint8Array;
  /** The application has an EF(ODF). */
  odfPresent: boolean;
  odf: OdfEntry[];
  dodfFid?: number;
  dodf: DodfEntry[];
  entry?: DodfEntry;
  /** FID of the bootstrap EF, when an entry points at one. */
  fid?: number;
}

/** Card-level failure that is not a status word: a PIN rule, a layout problem, a size limit. */
export class CardError extends Error {
  constructor(
    message: string,
    readonly kind: 'pin-wrong' | 'pin-blocked' | 'pin-refused' | 'pin-unknown' | 'pin-needed' | 'no-application' | 'no-bootstrap' | 'too-small' | 'layout' | 'verify-mismatch',
    readonly triesLeft?: number,
  ) {
    super(message);
    this.name = 'CardError';
  }
}

/** The card went away (or the transport failed) in the middle of writing. */
export class FlashInterruptedError extends Error {
  constructor(
    message: string,
    /** Bytes [0, consistentUpTo) of the EF hold the new bootstrap. */
    readonly consistentUpTo: number,
    readonly total: number,
    readonly fid: number,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'FlashInterruptedError';
  }
}

/** PIN text -> bytes: `hex:3132..` / `0x3132..` as given, digits as ASCII padded with FF to 8 bytes. */
export function pinBytes(text: string): Uint8Array {
  const m = /^(?:hex:|0x)([0-9a-fA-F]+)$/.exec(text);
  if (m) {
    if (m[1]!.length % 2 !== 0) throw new CardError('a hex PIN needs an even number of digits', 'pin-refused');
    return Uint8Array.from(Buffer.from(m[1]!, 'hex'));
  }
  if (text.length === 0 || text.length > 8 || !/^[\x20-\x7e]+$/.test(text)) throw new CardError('a PIN is 1..8 printable characters (or hex:..)', 'pin-refused');
  const out = new Uint8Array(8).fill(0xff);
  out.set(Buffer.from(text, 'ascii'));
  return out;
}

const fidHex = (fid: number): string => fid.toString(16).toUpperCase().padStart(4, '0');

export function parseFcp(data: Uint8Array): FileInfo {
  const info: FileInfo = { structure: 'unknown' };
  const outer = readTlv(data, 0);
  if (!outer || (outer.tag !== 0x62 && outer.tag !== 0x6f)) return info;
  let i = 0;
  const v = outer.value;
  while (i < v.length) {
    const t = readTlv(v, i);
    if (!t) break;
    const b = t.value;
    if (t.tag === 0x82 && b.length >= 1) {
      const d = b[0]!;
      if ((d & 0x38) === 0x38) info.structure = 'df';
      else if ((d & 0x07) === 0x01) info.structure = 'transparent';
      else if ((d & 0x07) === 0x02) {
        info.structure = 'linear-fixed';
        if (b.length >= 4) info.recordLength = (b[2]! << 8) | b[3]!;
        if (b.length >= 5) info.records = b[4]!;
      } else info.structure = 'other';
    } else if (t.tag === 0x83 && b.length === 2) info.fid = (b[0]! << 8) | b[1]!;
    else if (t.tag === 0x84) info.aid = b.slice();
    else if (t.tag === 0x80 && b.length >= 1) {
      let n = 0;
      for (const x of b) n = n * 256 + x;
      info.size = n;
    } else if (t.tag === 0x81 && b.length >= 1 && info.size === undefined) {
      let n = 0;
      for (const x of b) n = n * 256 + x;
      info.size = n;
    }
    i = t.next;
  }
  if (info.structure === 'linear-fixed' && info.size === undefined && info.recordLength && info.records) info.size = info.recordLength * info.records;
  return info;
}

/**
 * The FCP is the card's word, and the size it declares drives an allocation and the offsets of READ
 * BINARY (or the Le and record numbers of READ RECORD). Found by fuzzing: FCP `62 09 82 02 41 21 80
 * 03 02 00 00` (128 KiB) was allocated whole, offsets from 0x8000 went out with P1 bit 8 set (a read
 * by short file id: another file), and past 0xFFFF the encoder threw RangeError "P1 256 is not a
 * byte". A size no READ BINARY can reach is a layout error naming the file and the FCP, before any read.
 */
function checkReadable(info: FileInfo, fcp: Uint8Array, what: string): void {
  const bad = (why: string): CardError => new CardError(`SELECT ${what}: ${why} (FCP ${hex(fcp)})`, 'layout');
  if (info.structure === 'df') return; // a DF's 80/81 is memory, never read
  if (info.structure === 'linear-fixed') {
    // READ RECORD: the record number in P1, a record of at most 256 bytes in a short Le.
    const n = info.records ?? (info.size && info.recordLength ? Math.floor(info.size / info.recordLength) : 0);
    if (info.recordLength !== undefined && (info.recordLength < 1 || info.recordLength > MAX_READ_CHUNK)) throw bad(`records of ${info.recordLength} bytes; READ RECORD reads 1..256`);
    if (n > 255) throw bad(`${n} records; READ RECORD numbers 1..255`);
    return;
  }
  if (info.size !== undefined && info.size > MAX_EF_SIZE) throw bad(`the card declares ${info.size} bytes; READ BINARY reaches offsets 0..32767 (without a short file id), so at most ${MAX_EF_SIZE} bytes`);
}

/** The FID a PKCS#15 path names (its last two bytes). */
export function pathFid(p: Pkcs15Path): number {
  const b = p.path;
  if (b.length < 2 || b.length % 2 !== 0) throw new CardError(`PKCS#15 path ${hex(b)} is not a file path`, 'layout');
  return (b[b.length - 2]! << 8) | b[b.length - 1]!;
}

function trimPadding(b: Uint8Array): Uint8Array {
  let n = b.length;
  while (n > 0 && (b[n - 1] === 0xff || b[n - 1] === 0x00)) n--;
  return b.subarray(0, n);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class Pkcs15Card {
  private aid: Uint8Array = PKCS15_AID;

  constructor(
    readonly channel: CardChannel,
    private readonly onProgress: (p: FlashProgress) => void = () => undefined,
  ) {}

  // --- files ---------------------------------------------------------------------------------------

  /** SELECT and parse the FCP; undefined when the card answers 6A82 (not found). */
  private async select(p1: number, data: Uint8Array, what: string, toRead = true): Promise<FileInfo | undefined> {
    const cmd = command(0x00, INS.SELECT, p1, 0x04, data, 256);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.FILE_NOT_FOUND) return undefined;
    if (r.sw !== SW.OK) throw new ApduError(`SELECT ${what}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
    const info = parseFcp(r.data);
    if (toRead) checkReadable(info, r.data, what);
    return info;
  }

  /** An EF of the application (path 7FFF/FID from the MF, as on a UICC). */
  selectEf(fid: number): Promise<FileInfo | undefined> {
    return this.select(0x08, Uint8Array.of(0x7f, 0xff, fid >> 8, fid & 0xff), `EF ${fidHex(fid)}`);
  }

  async readBinary(fid: number, size: number, from = 0): Promise<Uint8Array> {
    // Backstop for callers that do not come through select(): never allocate or address past 0x7FFF.
    if (!Number.isSafeInteger(size) || size > MAX_EF_SIZE || from < 0 || from > size) throw new CardError(`EF ${fidHex(fid)}: cannot read bytes ${from}..${size - 1}; READ BINARY reaches offsets 0..32767`, 'layout');
    const out = new Uint8Array(size - from);
    for (let off = from; off < size; ) {
      const le = Math.min(MAX_READ_CHUNK, size - off);
      const cmd = command(0x00, INS.READ_BINARY, off >> 8, off & 0xff, undefined, le);
      const r = await this.channel.transmit(cmd);
      if (r.sw !== SW.OK && r.sw !== SW.END_OF_FILE) throw new ApduError(`READ BINARY of EF ${fidHex(fid)} at offset ${off}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
      if (r.data.length === 0) throw new ApduError(`READ BINARY of EF ${fidHex(fid)} at offset ${off} returned no data`, 'protocol', r.sw);
      out.set(r.data.subarray(0, size - off), off - from);
      off += r.data.length;
    }
    return out;
  }

  private async readRecords(info: FileInfo, what: string): Promise<Uint8Array[]> {
    const n = info.records ?? (info.size && info.recordLength ? Math.floor(info.size / info.recordLength) : 0);
    const out: Uint8Array[] = [];
    for (let i = 1; i <= n; i++) {
      const cmd = command(0x00, INS.READ_RECORD, i, 0x04, undefined, info.recordLength ?? 256);
      const r = await this.channel.transmit(cmd);
      if (r.sw === SW.RECORD_NOT_FOUND) break;
      if (r.sw !== SW.OK) throw new ApduError(`READ RECORD ${i} of ${what}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
      out.push(r.data);
    }
    return out;
  }

  /** Select an application EF and read it whole. */
  async readEf(fid: number): Promise<{ info: FileInfo; data: Uint8Array } | undefined> {
    const info = await this.selectEf(fid);
    if (!info) return undefined;
    if (info.structure !== 'transparent' && info.structure !== 'unknown') throw new CardError(`EF ${fidHex(fid)} is ${info.structure}, a transparent EF was expected`, 'layout');
    if (info.size === undefined) throw new CardError(`SELECT EF ${fidHex(fid)}: the card did not give the file size`, 'layout');
    return { info, data: await this.readBinary(fid, info.size) };
  }

  private async updateBinary(fid: number, off: number, chunk: Uint8Array): Promise<void> {
    const cmd = command(0x00, INS.UPDATE_BINARY, off >> 8, off & 0xff, chunk);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.OK) return;
    if (r.sw === SW.SECURITY_NOT_SATISFIED) throw new CardError(`EF ${fidHex(fid)} cannot be updated without a PIN/ADM (${describeExchange(cmd, r.sw)}); give --pin`, 'pin-needed');
    throw new ApduError(`UPDATE BINARY of EF ${fidHex(fid)} at offset ${off} (${chunk.length} bytes): ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
  }

  /** Write `data` at `from` in maximal chunks (no compare). */
  private async writeAll(fid: number, data: Uint8Array, from = 0): Promise<number> {
    let n = 0;
    for (let off = 0; off < data.length; off += MAX_UPDATE_CHUNK) {
      await this.updateBinary(fid, from + off, data.subarray(off, off + MAX_UPDATE_CHUNK));
      n++;
    }
    return n;
  }

  // --- application ---------------------------------------------------------------------------------

  /**
   * Find and select the PKCS#15 application: SELECT by its AID first (one APDU); when the card does
   * not know that AID, look in EF(DIR) for a PKCS#15 application with a longer AID and select that.
   */
  async selectApplication(): Promise<Uint8Array> {
    this.onProgress({ phase: 'locate', message: 'looking for the PKCS#15 application' });
    const byAid = async (aid: Uint8Array): Promise<boolean> => {
      const cmd = command(0x00, INS.SELECT, 0x04, 0x0c, aid);
      const r = await this.channel.transmit(cmd);
      if (r.sw === SW.OK) return true;
      if (r.sw === SW.FILE_NOT_FOUND) return false;
      throw new ApduError(`SELECT application ${hex(aid)}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
    };
    if (await byAid(PKCS15_AID)) {
      this.aid = PKCS15_AID;
      return PKCS15_AID;
    }
    const mf = await this.select(0x00, Uint8Array.of(0x3f, 0x00), 'MF 3F00', false);
    const dir = mf && (await this.select(0x00, Uint8Array.of(0x2f, 0x00), 'EF(DIR) 2F00'));
    if (dir) {
      let apps: DirApplication[] = [];
      if (dir.structure === 'linear-fixed') apps = parseDir(await this.readRecords(dir, 'EF(DIR) 2F00'));
      else if (dir.size) apps = parseDir([await this.readBinary(0x2f00, dir.size)]);
      for (const a of apps) {
        if (a.aid.length > PKCS15_AID.length && sameBytes(a.aid.subarray(0, PKCS15_AID.length), PKCS15_AID) && (await byAid(a.aid))) {
          this.aid = a.aid;
          return a.aid;
        }
      }
    }
    throw new CardError(`no PKCS#15 application on the card (SELECT ${hex(PKCS15_AID)} -> 6A82, and EF(DIR) lists none)`, 'no-application');
  }

  private async reselectApplication(): Promise<void> {
    const cmd = command(0x00, INS.SELECT, 0x04, 0x0c, this.aid);
    await this.channel.expect(cmd, `SELECT application ${hex(this.aid)}`);
  }

  /** ODF -> DODF -> bootstrap entry. Never writes. */
  async locateBootstrap(): Promise<BootstrapLocation> {
    const application = await this.selectApplication();
    const loc: BootstrapLocation = { application, odfPresent: false, odf: [], dodf: [] };
    const odf = await this.readEf(ODF_FID);
    if (!odf) return loc;
    loc.odfPresent = true;
    loc.odf = parseOdf(odf.data);
    const dataObjects = loc.odf.find((e) => e.tag === 7);
    if (!dataObjects?.path) return loc;
    loc.dodfFid = pathFid(dataObjects.path);
    const dodf = await this.readEf(loc.dodfFid);
    if (!dodf) throw new CardError(`EF(ODF) points at EF(DODF) ${fidHex(loc.dodfFid)}, which the card does not have`, 'layout');
    loc.dodf = parseDodf(dodf.data);
    const entry = findBootstrapEntry(loc.dodf);
    if (entry) {
      loc.entry = entry;
      if (!entry.path) throw new CardError(`the DM bootstrap object in EF(DODF) ${fidHex(loc.dodfFid)} has no path`, 'layout');
      loc.fid = pathFid(entry.path);
    }
    return loc;
  }

  /** The WBXML bootstrap the card holds (padding removed), with where it was found. */
  async readBootstrap(): Promise<{ wbxml: Uint8Array; location: BootstrapLocation; efSize: number }> {
    const location = await this.locateBootstrap();
    if (location.fid === undefined) {
      throw new CardError(location.dodfFid === undefined ? 'the card holds no DM bootstrap (EF(ODF) has no data objects)' : `the card holds no DM bootstrap (no OID ${OMA_DM_BOOTSTRAP_OID} in EF(DODF) ${fidHex(location.dodfFid)})`, 'no-bootstrap');
    }
    this.onProgress({ phase: 'read', message: `reading EF ${fidHex(location.fid)}` });
    const ef = await this.readEf(location.fid);
    if (!ef) throw new CardError(`EF(DODF) points at EF ${fidHex(location.fid)}, which the card does not have`, 'layout');
    const p = location.entry!.path!;
    let wbxml = ef.data;
    if (p.index !== undefined || p.length !== undefined) {
      const start = p.index ?? 0;
      const end = p.length !== undefined ? start + p.length : ef.data.length;
      // The DODF's word against the EF's: a range past its end used to come back as an empty or
      // cut bootstrap with no error.
      if (start > ef.data.length || end > ef.data.length) {
        throw new CardError(`EF(DODF) entry ${OMA_DM_BOOTSTRAP_OID} points at bytes ${start}..${end - 1} of EF ${fidHex(location.fid)}, which holds ${ef.data.length} bytes`, 'layout');
      }
      wbxml = ef.data.subarray(start, end);
    } else {
      const end = wbxmlEnd(ef.data);
      wbxml = typeof end === 'number' ? ef.data.subarray(0, end) : trimPadding(ef.data);
    }
    return { wbxml: wbxml.slice(), location, efSize: ef.info.size ?? ef.data.length };
  }

  // --- PIN -----------------------------------------------------------------------------------------

  /** Ask the retry counter: VERIFY with no data. Spends no try. */
  async pinStatus(ref: number): Promise<PinStatus> {
    const cmd = command(0x00, INS.VERIFY, 0x00, ref);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.OK) return { ref, verified: true, blocked: false };
    if ((r.sw & 0xfff0) === 0x63c0) return { ref, verified: false, triesLeft: r.sw & 0x0f, blocked: (r.sw & 0x0f) === 0 };
    if (r.sw === SW.AUTH_BLOCKED) return { ref, verified: false, triesLeft: 0, blocked: true };
    if (r.sw === SW.REFERENCE_NOT_FOUND) throw new CardError(`the card has no PIN/key with reference ${hex([ref])} (${describeExchange(cmd, r.sw)})`, 'pin-unknown');
    return { ref, verified: false, blocked: false };
  }

  /**
   * Verify a PIN once, guarding the retry counter: read it first; refuse below 2 tries left unless
   * forced; never retry. Throws CardError('pin-wrong') with the tries left on a wrong PIN.
   */
  async verifyPin(pin: PinOptions): Promise<PinStatus> {
    this.onProgress({ phase: 'pin', message: `checking the retry counter of key ${hex([pin.ref])}` });
    const st = await this.pinStatus(pin.ref);
    const name = `PIN/key ${hex([pin.ref])}`;
    if (st.verified) return st;
    if (st.blocked) throw new CardError(`${name} is blocked (0 tries left): unblock it with its PUK first; nothing was sent`, 'pin-blocked', 0);
    if (st.triesLeft === undefined && !pin.force) throw new CardError(`the card does not tell the retry counter of ${name}; refusing to risk it (use --force to try the PIN once anyway)`, 'pin-refused');
    if (st.triesLeft !== undefined && st.triesLeft < 2 && !pin.force) {
      throw new CardError(`${name} has only ${st.triesLeft} try left: refusing to risk blocking it (use --force if you are sure of the PIN)`, 'pin-refused', st.triesLeft);
    }
    this.onProgress({ phase: 'pin', message: `verifying ${name} (${st.triesLeft ?? '?'} tries left)` });
    const cmd = command(0x00, INS.VERIFY, 0x00, pin.ref, pin.value);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.OK) return { ref: pin.ref, verified: true, blocked: false, ...(st.triesLeft !== undefined ? { triesLeft: st.triesLeft } : {}) };
    if ((r.sw & 0xfff0) === 0x63c0) {
      const left = r.sw & 0x0f;
      throw new CardError(`wrong PIN for ${name}: ${left} ${left === 1 ? 'try' : 'tries'} left${left === 0 ? ' (now blocked)' : ''}; not retried`, left === 0 ? 'pin-blocked' : 'pin-wrong', left);
    }
    if (r.sw === SW.AUTH_BLOCKED) throw new CardError(`${name} is blocked`, 'pin-blocked', 0);
    throw new ApduError(`VERIFY ${name}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
  }

  // --- creating structure --------------------------------------------------------------------------

  private async createEf(fid: number, size: number, what: string): Promise<void> {
    await this.reselectApplication();
    this.onProgress({ phase: 'create', message: `creating ${what} ${fidHex(fid)} (${size} bytes)` });
    const fcp = tlv(0x62, Uint8Array.of(...tlv(0x82, Uint8Array.of(0x41, 0x21)), ...tlv(0x83, Uint8Array.of(fid >> 8, fid & 0xff)), ...tlv(0x80, Uint8Array.of(size >> 8, size & 0xff)), ...tlv(0x8a, Uint8Array.of(0x05))));
    const cmd = command(0x00, INS.CREATE_FILE, 0, 0, fcp);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.OK) return;
    if (r.sw === SW.SECURITY_NOT_SATISFIED) throw new CardError(`creating ${what} ${fidHex(fid)} needs a PIN/ADM (${describeExchange(cmd, r.sw)}); give --pin`, 'pin-needed');
    if (r.sw === SW.NOT_ENOUGH_MEMORY) throw new CardError(`the card has no room for ${what} ${fidHex(fid)} of ${size} bytes (${describeExchange(cmd, r.sw)})`, 'too-small');
    throw new ApduError(`CREATE FILE ${what} ${fidHex(fid)}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
  }

  /** RESIZE FILE (ETSI TS 102 222, CLA 80 INS D4); false when the card does not offer it. */
  private async resizeEf(fid: number, size: number): Promise<boolean> {
    await this.reselectApplication();
    const data = tlv(0x62, Uint8Array.of(...tlv(0x83, Uint8Array.of(fid >> 8, fid & 0xff)), ...tlv(0x80, Uint8Array.of(size >> 8, size & 0xff))));
    const cmd = command(0x80, INS.RESIZE_FILE, 0, 0, data);
    const r = await this.channel.transmit(cmd);
    if (r.sw === SW.OK) return true;
    if (r.sw === SW.INS_NOT_SUPPORTED || r.sw === SW.CLA_NOT_SUPPORTED || r.sw === SW.FUNCTION_NOT_SUPPORTED) return false;
    if (r.sw === SW.SECURITY_NOT_SATISFIED) throw new CardError(`resizing EF ${fidHex(fid)} needs a PIN/ADM (${describeExchange(cmd, r.sw)}); give --pin`, 'pin-needed');
    if (r.sw === SW.NOT_ENOUGH_MEMORY) return false;
    throw new ApduError(`RESIZE FILE EF ${fidHex(fid)} to ${size} bytes: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
  }

  // --- writing -------------------------------------------------------------------------------------

  async writeBootstrap(wbxml: Uint8Array, opts: WriteOptions = {}): Promise<WriteReport> {
    const t0 = performance.now();
    const ex0 = this.channel.exchanges;
    const N = wbxml.length;
    if (N === 0) throw new CardError('the bootstrap is empty', 'layout');
    if (N > 0x7fff) throw new CardError(`the bootstrap is ${N} bytes; READ/UPDATE BINARY offsets reach 32767`, 'too-small');
    const report: WriteReport = { fid: 0, bytes: N, efSize: 0, unchanged: false, updateCommands: 0, chunksSkipped: 0, created: [], exchanges: 0, ms: 0 };
    const loc = await this.locateBootstrap();
    if (opts.pin) await this.verifyPin(opts.pin);

    const fid = loc.fid ?? opts.bootstrapFid ?? DEFAULT_BOOTSTRAP_FID;
    report.fid = fid;
    let info = await this.selectEf(fid);
    const wanted = Math.max(512, Math.ceil(N / 256) * 256);
    if (!info) {
      await this.createEf(fid, wanted, 'bootstrap EF');
      report.created.push(`EF ${fidHex(fid)} (${wanted} bytes)`);
      info = await this.selectEf(fid);
      if (!info) throw new CardError(`EF ${fidHex(fid)} was created but cannot be selected`, 'layout');
    }
    if (info.structure !== 'transparent') throw new CardError(`bootstrap EF ${fidHex(fid)} is ${info.structure}, not transparent`, 'layout');
    let size = info.size ?? 0;
    if (size < N) {
      this.onProgress({ phase: 'resize', message: `EF ${fidHex(fid)} holds ${size} bytes, the bootstrap needs ${N}: resizing to ${wanted}` });
      if (!(await this.resizeEf(fid, wanted))) {
        throw new CardError(`EF ${fidHex(fid)} holds ${size} bytes but the bootstrap is ${N} bytes, and the card does not resize files (RESIZE FILE refused); use a smaller profile or a card with a larger EF`, 'too-small');
      }
      report.resized = { from: size, to: wanted };
      info = await this.selectEf(fid);
      size = info?.size ?? 0;
      if (size < N) throw new CardError(`EF ${fidHex(fid)} is still ${size} bytes after RESIZE FILE; the bootstrap needs ${N}`, 'too-small');
    }
    report.efSize = size;

    // Read what is there: the bootstrap's range, and on to the end of the old bootstrap (found by
    // decoding it) so that a longer old one is cleared, not left behind the new one.
    this.onProgress({ phase: 'read', message: `reading EF ${fidHex(fid)} to compare`, done: 0, total: N });
    let current = await this.readBinary(fid, Math.min(size, Math.ceil(N / MAX_READ_CHUNK) * MAX_READ_CHUNK));
    let oldEnd = 0;
    if (current[0] !== 0xff) {
      for (;;) {
        const end = wbxmlEnd(current);
        if (typeof end === 'number') {
          oldEnd = end;
          break;
        }
        if (end === 'truncated' && current.length < size) {
          current = concat([current, await this.readBinary(fid, Math.min(size, current.length + MAX_READ_CHUNK), current.length)]);
          continue;
        }
        // Not a bootstrap (or a broken one): read the whole EF and clear everything past ours.
        if (current.length < size) current = concat([current, await this.readBinary(fid, size, current.length)]);
        oldEnd = trimPadding(current).length;
        break;
      }
    }
    const staleEnd = Math.max(N, trimPadding(current.subarray(0, Math.max(oldEnd, N))).length);
    const dataSame = sameBytes(current.subarray(0, N), wbxml) && staleEnd === N;
    const entryOk = loc.fid === fid && loc.entry?.path?.length === undefined && loc.entry?.path?.index === undefined;

    if (!dataSame) {
      // Chunks are aligned so that a chunk equal on the card is skipped, and the first difference
      // is where a repair starts.
      let consistent = 0;
      let off = 0;
      try {
        for (; off < N; off += MAX_UPDATE_CHUNK) {
          const chunk = wbxml.subarray(off, off + MAX_UPDATE_CHUNK);
          if (sameBytes(current.subarray(off, off + chunk.length), chunk)) {
            report.chunksSkipped++;
          } else {
            await this.updateBinary(fid, off, chunk);
            report.updateCommands++;
          }
          consistent = off + chunk.length;
          this.onProgress({ phase: 'write', message: `EF ${fidHex(fid)}: ${consistent}/${N} bytes`, done: consistent, total: N });
        }
        for (let s = N; s < staleEnd; s += MAX_UPDATE_CHUNK) {
          off = s;
          await this.updateBinary(fid, s, new Uint8Array(Math.min(MAX_UPDATE_CHUNK, staleEnd - s)).fill(0xff));
          report.updateCommands++;
        }
      } catch (e) {
        // A status word is the card's answer; anything else (removed, no answer, reader gone) interrupts.
        if (e instanceof CardError || (e instanceof ApduError && e.kind !== 'short-response')) throw e;
        throw new FlashInterruptedError(
          `${(e as Error).message} during UPDATE BINARY of EF ${fidHex(fid)} at offset ${off}: bytes 0..${consistent - 1} of ${N} hold the new bootstrap, bytes ${consistent}..${N - 1} do not. ` +
            `The card does NOT hold a valid bootstrap; write again to repair it (only the differing chunks are rewritten).`,
          consistent,
          N,
          fid,
          e,
        );
      }
    } else {
      report.chunksSkipped = Math.ceil(N / MAX_UPDATE_CHUNK);
    }

    // Read back and compare (when nothing was written, the compare read was the verification).
    if (!dataSame) {
      this.onProgress({ phase: 'verify', message: `reading back EF ${fidHex(fid)}`, done: 0, total: N });
      const back = await this.readBinary(fid, staleEnd);
      const diffAt = firstDifference(back.subarray(0, N), wbxml);
      if (diffAt >= 0) throw new CardError(`read-back of EF ${fidHex(fid)} differs from the bootstrap at byte ${diffAt} (card ${hex([back[diffAt] ?? 0])}, expected ${hex([wbxml[diffAt]!])})`, 'verify-mismatch');
      if (back.subarray(N).some((b) => b !== 0xff)) throw new CardError(`read-back of EF ${fidHex(fid)}: bytes after the bootstrap are not cleared to FF`, 'verify-mismatch');
    }
    this.onProgress({ phase: 'verify', message: `EF ${fidHex(fid)} matches (${N} bytes)`, done: N, total: N });

    // Register: DODF entry and ODF pointer, last.
    if (!entryOk) await this.register(loc, fid, opts, report);
    report.unchanged = dataSame && entryOk && report.created.length === 0;
    report.exchanges = this.channel.exchanges - ex0;
    report.ms = performance.now() - t0;
    this.onProgress({ phase: 'done', message: report.unchanged ? `the card already holds this bootstrap (${N} bytes): nothing written` : `bootstrap written and verified (${N} bytes in EF ${fidHex(fid)})`, done: N, total: N });
    return report;
  }

  private async register(loc: BootstrapLocation, fid: number, opts: WriteOptions, report: WriteReport): Promise<void> {
    this.onProgress({ phase: 'register', message: 'recording the bootstrap in EF(DODF) and EF(ODF)' });
    const entry = buildDodfOidEntry({ oid: OMA_DM_BOOTSTRAP_OID, path: { path: Uint8Array.of(fid >> 8, fid & 0xff) }, applicationName: 'OMA DM Bootstrap' });
    const others = loc.dodf.filter((e) => e !== loc.entry).map((e) => e.der);
    const dodfContent = concat([...others, entry]);
    let dodfFid = loc.dodfFid;
    if (dodfFid === undefined) {
      dodfFid = opts.dodfFid ?? DEFAULT_DODF_FID;
      const existing = await this.selectEf(dodfFid);
      if (!existing) {
        const size = Math.max(128, Math.ceil(dodfContent.length / 64) * 64);
        await this.createEf(dodfFid, size, 'EF(DODF)');
        report.created.push(`EF(DODF) ${fidHex(dodfFid)} (${size} bytes)`);
      }
    }
    await this.rewriteEf(dodfFid, dodfContent, 'EF(DODF)');
    if (loc.dodfFid === undefined) {
      const odfEntries = concat([...loc.odf.filter((e) => e.tag !== 7).map((e) => buildOdfEntry(e.tag, e.path ?? { path: new Uint8Array(0) })), buildOdfEntry(7, { path: Uint8Array.of(dodfFid >> 8, dodfFid & 0xff) })]);
      if (!loc.odfPresent) {
        await this.createEf(ODF_FID, 64, 'EF(ODF)');
        report.created.push(`EF(ODF) ${fidHex(ODF_FID)} (64 bytes)`);
      }
      await this.rewriteEf(ODF_FID, odfEntries, 'EF(ODF)');
    }
  }

  /** Replace a small EF's content (padded with FF over the old content), then read it back. */
  private async rewriteEf(fid: number, content: Uint8Array, what: string): Promise<void> {
    const info = await this.selectEf(fid);
    if (!info?.size) throw new CardError(`${what} ${fidHex(fid)} cannot be selected`, 'layout');
    if (info.size < content.length) {
      if (!(await this.resizeEf(fid, Math.ceil(content.length / 64) * 64))) throw new CardError(`${what} ${fidHex(fid)} holds ${info.size} bytes, ${content.length} are needed, and the card does not resize files`, 'too-small');
      await this.selectEf(fid);
    }
    const old = await this.readBinary(fid, info.size);
    let end = old.length;
    while (end > content.length && old[end - 1] === 0xff) end--;
    const full = new Uint8Array(Math.max(end, content.length)).fill(0xff);
    full.set(content);
    if (!sameBytes(old.subarray(0, full.length), full)) await this.writeAll(fid, full);
    const back = await this.readBinary(fid, full.length);
    if (!sameBytes(back, full)) throw new CardError(`read-back of ${what} ${fidHex(fid)} differs from what was written`, 'verify-mismatch');
  }
}

/**
 * Where the WBXML document at the start of `b` ends: a number, 'truncated' when `b` stops inside
 * it, undefined when `b` does not hold one.
 */
export function wbxmlEnd(b: Uint8Array): number | 'truncated' | undefined {
  if (b.length === 0 || b[0]! > 0x03) return undefined;
  const r = decodeWbxml(b);
  if (r.ok) return b.length;
  if (r.error.code === 'trailing-data' && r.error.offset !== undefined) return r.error.offset;
  if (r.error.code === 'truncated') return 'truncated';
  return undefined;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export { swHex };
