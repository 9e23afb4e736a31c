/**
 * A virtual UICC: an ISO/IEC 7816-4 card answering APDUs from its card image, synchronously.
 *
 * Commands: SELECT (by FID, child DF, EF, parent, DF name/AID with partial match, path from MF with
 * 7FFF = current ADF, path from current DF), READ/UPDATE BINARY, READ/UPDATE RECORD, VERIFY (with
 * retry counters; no data = ask the counter), CREATE FILE, DELETE FILE, RESIZE FILE (ETSI TS 102 222
 * style, CLA 80), GET RESPONSE. In T=0 mode it answers as a T=0 card does: response data of case-4
 * commands waits behind `61xx`, and a READ BINARY asking for more than the file holds gets `6Cxx`.
 */
import { INS, SW, concat, encodeResponse, parseCommand, type CommandApdu } from '../apdu.js';
import { readTlv, tlv } from '../../../main/bootstrap/pkcs15.js';
import type { AccessRule, CardImage, CardKey, DfNode, EfNode, FileNode } from './image.js';

export interface UiccStats {
  apdus: number;
  updates: number;
}

export class VirtualUicc {
  powered = false;
  readonly stats: UiccStats = { apdus: 0, updates: 0 };
  /** Called after every command that changed the card's persistent state (to save the image). */
  onChange: (() => void) | undefined;

  private currentDf: DfNode;
  private currentEf: EfNode | undefined;
  private currentAdf: DfNode | undefined;
  private verified = new Set<number>();
  private pending: Uint8Array | undefined;

  constructor(readonly image: CardImage) {
    this.currentDf = image.mf;
  }

  get atr(): Uint8Array {
    return this.image.atr;
  }

  powerOn(): void {
    this.powered = true;
    this.resetState();
  }

  powerOff(): void {
    this.powered = false;
    this.resetState();
  }

  reset(): void {
    this.powered = true;
    this.resetState();
  }

  private resetState(): void {
    this.currentDf = this.image.mf;
    this.currentEf = undefined;
    this.currentAdf = undefined;
    this.verified.clear();
    this.pending = undefined;
  }

  /** One command APDU in, one response APDU out. */
  process(raw: Uint8Array): Uint8Array {
    this.stats.apdus++;
    const c = parseCommand(raw);
    if (typeof c === 'string') return sw(SW.WRONG_LENGTH);
    const r = this.dispatch(c);
    return encodeResponse(r);
  }

  private dispatch(c: CommandApdu): { data: Uint8Array; sw: number } {
    const t0 = this.image.protocol === 'T=0';
    if (c.ins === INS.GET_RESPONSE) {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return r(SW.CONDITIONS_NOT_SATISFIED);
      const le = c.le ?? 256;
      if (le > p.length) {
        this.pending = p;
        return r(0x6c00 | (p.length & 0xff));
      }
      if (le < p.length) {
        this.pending = p.subarray(le);
        return { data: p.slice(0, le), sw: 0x6100 | (Math.min(256, p.length - le) & 0xff) };
      }
      return { data: p, sw: SW.OK };
    }
    this.pending = undefined;
    const cla = c.cla;
    if (c.ins === INS.RESIZE_FILE) {
      if (cla !== 0x80) return r(SW.CLA_NOT_SUPPORTED);
      return this.resize(c);
    }
    if (cla !== 0x00 && cla !== 0xa0) return r(SW.CLA_NOT_SUPPORTED);
    let out: { data: Uint8Array; sw: number };
    switch (c.ins) {
      case INS.SELECT:
        out = this.select(c);
        break;
      case INS.READ_BINARY:
        out = this.readBinary(c, t0);
        break;
      case INS.UPDATE_BINARY:
        out = this.updateBinary(c);
        break;
      case INS.READ_RECORD:
        out = this.readRecord(c);
        break;
      case INS.UPDATE_RECORD:
        out = this.updateRecord(c);
        break;
      case INS.VERIFY:
        out = this.verify(c);
        break;
      case INS.CREATE_FILE:
        out = this.create(c);
        break;
      case INS.DELETE_FILE:
        out = this.deleteFile(c);
        break;
      default:
        return r(SW.INS_NOT_SUPPORTED);
    }
    // T=0: data of a case 4 command is fetched with GET RESPONSE.
    if (t0 && out.data.length > 0 && c.data.length > 0 && out.sw === SW.OK) {
      this.pending = out.data;
      return r(0x6100 | (out.data.length & 0xff));
    }
    return out;
  }

  // --- access ------------------------------------------------------------------------------------

  private allowed(rule: AccessRule): number | undefined {
    if (rule === 'always') return undefined;
    if (rule === 'never') return SW.CONDITIONS_NOT_SATISFIED;
    return this.verified.has(rule) ? undefined : SW.SECURITY_NOT_SATISFIED;
  }

  private changed(): void {
    this.stats.updates++;
    this.onChange?.();
  }

  // --- SELECT ------------------------------------------------------------------------------------

  private select(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (c.p2 !== 0x00 && c.p2 !== 0x04 && c.p2 !== 0x0c) return r(SW.WRONG_P1P2);
    let found: { node: FileNode; parent: DfNode } | undefined;
    switch (c.p1) {
      case 0x00: {
        if (c.data.length === 0) found = { node: this.image.mf, parent: this.image.mf };
        else if (c.data.length !== 2) return r(SW.WRONG_LENGTH);
        else found = this.byFid((c.data[0]! << 8) | c.data[1]!);
        break;
      }
      case 0x01:
      case 0x02: {
        if (c.data.length !== 2) return r(SW.WRONG_LENGTH);
        const fid = (c.data[0]! << 8) | c.data[1]!;
        const n = this.currentDf.children.find((k) => k.fid === fid && (c.p1 === 0x01 ? k.type === 'df' : k.type === 'ef'));
        if (n) found = { node: n, parent: this.currentDf };
        break;
      }
      case 0x03: {
        const p = this.parentOf(this.currentDf);
        if (p) found = { node: p, parent: this.parentOf(p) ?? p };
        break;
      }
      case 0x04: {
        if (c.data.length === 0) return r(SW.WRONG_LENGTH);
        const df = this.findDf(this.image.mf, (d) => d.aid !== undefined && startsWith(d.aid, c.data));
        if (df) {
          found = { node: df, parent: this.parentOf(df) ?? this.image.mf };
          this.currentAdf = df;
        }
        break;
      }
      case 0x08:
      case 0x09: {
        if (c.data.length === 0 || c.data.length % 2 !== 0) return r(SW.WRONG_LENGTH);
        let at: DfNode = c.p1 === 0x08 ? this.image.mf : this.currentDf;
        let parent = at;
        let node: FileNode = at;
        for (let i = 0; i < c.data.length; i += 2) {
          const fid = (c.data[i]! << 8) | c.data[i + 1]!;
          if (node.type !== 'df') return r(SW.FILE_NOT_FOUND);
          at = node;
          let next: FileNode | undefined;
          if (fid === 0x7fff && c.p1 === 0x08 && i === 0) next = this.currentAdf ?? this.findDf(this.image.mf, (d) => d.aid !== undefined);
          else if (fid === 0x3f00 && i === 0) next = this.image.mf;
          else next = at.children.find((k) => k.fid === fid);
          if (!next) return r(SW.FILE_NOT_FOUND);
          parent = at;
          node = next;
        }
        found = { node, parent };
        break;
      }
      default:
        return r(SW.WRONG_P1P2);
    }
    if (!found) return r(SW.FILE_NOT_FOUND);
    if (found.node.type === 'df') {
      this.currentDf = found.node;
      this.currentEf = undefined;
      if (found.node.aid) this.currentAdf = found.node;
    } else {
      this.currentDf = found.parent;
      this.currentEf = found.node;
    }
    if (c.p2 === 0x0c) return r(SW.OK);
    return { data: fcp(found.node), sw: SW.OK };
  }

  /** SELECT by FID from the current DF: MF, the current DF, its children, its parent, the parent's children. */
  private byFid(fid: number): { node: FileNode; parent: DfNode } | undefined {
    const mf = this.image.mf;
    if (fid === 0x3f00) return { node: mf, parent: mf };
    if (fid === 0x7fff && this.currentAdf) return { node: this.currentAdf, parent: this.parentOf(this.currentAdf) ?? mf };
    const cur = this.currentDf;
    if (cur.fid === fid) return { node: cur, parent: this.parentOf(cur) ?? mf };
    const child = cur.children.find((k) => k.fid === fid);
    if (child) return { node: child, parent: cur };
    const p = this.parentOf(cur);
    if (p) {
      if (p.fid === fid) return { node: p, parent: this.parentOf(p) ?? mf };
      const sib = p.children.find((k) => k.fid === fid);
      if (sib) return { node: sib, parent: p };
    }
    return undefined;
  }

  private parentOf(n: FileNode): DfNode | undefined {
    const walk = (d: DfNode): DfNode | undefined => {
      for (const k of d.children) {
        if (k === n) return d;
        if (k.type === 'df') {
          const w = walk(k);
          if (w) return w;
        }
      }
      return undefined;
    };
    return n === this.image.mf ? undefined : walk(this.image.mf);
  }

  private findDf(d: DfNode, pred: (d: DfNode) => boolean): DfNode | undefined {
    if (pred(d)) return d;
    for (const k of d.children) {
      if (k.type !== 'df') continue;
      const f = this.findDf(k, pred);
      if (f) return f;
    }
    return undefined;
  }

  // --- binary ------------------------------------------------------------------------------------

  private transparentEf(): EfNode | number {
    const ef = this.currentEf;
    if (!ef) return SW.NO_CURRENT_EF;
    if (ef.structure !== 'transparent') return SW.FILE_INCOMPATIBLE;
    return ef;
  }

  private readBinary(c: CommandApdu, t0: boolean): { data: Uint8Array; sw: number } {
    if (c.p1 & 0x80) return r(SW.FUNCTION_NOT_SUPPORTED); // short EF identifiers: not offered
    const ef = this.transparentEf();
    if (typeof ef === 'number') return r(ef);
    const denied = this.allowed(ef.access.read);
    if (denied) return r(denied);
    const off = (c.p1 << 8) | c.p2;
    if (off >= ef.data.length) return r(SW.WRONG_P1P2_OFFSET);
    const le = c.le ?? 256;
    const avail = ef.data.length - off;
    if (le > avail) {
      if (t0) return r(0x6c00 | (avail & 0xff));
      return { data: ef.data.slice(off), sw: SW.END_OF_FILE };
    }
    return { data: ef.data.slice(off, off + le), sw: SW.OK };
  }

  private updateBinary(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (c.p1 & 0x80) return r(SW.FUNCTION_NOT_SUPPORTED);
    const ef = this.transparentEf();
    if (typeof ef === 'number') return r(ef);
    const denied = this.allowed(ef.access.update);
    if (denied) return r(denied);
    const off = (c.p1 << 8) | c.p2;
    if (c.data.length === 0) return r(SW.WRONG_LENGTH);
    if (off >= ef.data.length) return r(SW.WRONG_P1P2_OFFSET);
    if (off + c.data.length > ef.data.length) return r(SW.WRONG_LENGTH);
    ef.data.set(c.data, off);
    this.changed();
    return r(SW.OK);
  }

  // --- records -----------------------------------------------------------------------------------

  private recordEf(c: CommandApdu): { ef: EfNode; start: number } | number {
    const ef = this.currentEf;
    if (!ef) return SW.NO_CURRENT_EF;
    if (ef.structure !== 'linear-fixed') return SW.FILE_INCOMPATIBLE;
    if (c.p2 !== 0x04) return SW.WRONG_P1P2;
    const n = ef.recordLength!;
    const count = ef.data.length / n;
    if (c.p1 < 1 || c.p1 > count) return SW.RECORD_NOT_FOUND;
    return { ef, start: (c.p1 - 1) * n };
  }

  private readRecord(c: CommandApdu): { data: Uint8Array; sw: number } {
    const x = this.recordEf(c);
    if (typeof x === 'number') return r(x);
    const denied = this.allowed(x.ef.access.read);
    if (denied) return r(denied);
    const n = x.ef.recordLength!;
    if (c.le !== undefined && c.le !== 256 && c.le !== n) return r(0x6c00 | n);
    return { data: x.ef.data.slice(x.start, x.start + n), sw: SW.OK };
  }

  private updateRecord(c: CommandApdu): { data: Uint8Array; sw: number } {
    const x = this.recordEf(c);
    if (typeof x === 'number') return r(x);
    const denied = this.allowed(x.ef.access.update);
    if (denied) return r(denied);
    if (c.data.length !== x.ef.recordLength) return r(SW.WRONG_LENGTH);
    x.ef.data.set(c.data, x.start);
    this.changed();
    return r(SW.OK);
  }

  // --- VERIFY ------------------------------------------------------------------------------------

  private key(ref: number): CardKey | undefined {
    return this.image.keys.find((k) => k.ref === ref);
  }

  private verify(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (c.p1 !== 0x00) return r(SW.WRONG_P1P2);
    const k = this.key(c.p2);
    if (!k) return r(SW.REFERENCE_NOT_FOUND);
    if (c.data.length === 0) {
      // Ask for the counter: no try is spent (ISO 7816-4 §11.5.6).
      if (this.verified.has(k.ref)) return r(SW.OK);
      if (k.tries === 0) return r(SW.AUTH_BLOCKED);
      return r(0x63c0 | k.tries);
    }
    if (k.tries === 0) return r(SW.AUTH_BLOCKED);
    if (equal(c.data, k.value)) {
      const spent = k.tries !== k.maxTries;
      k.tries = k.maxTries;
      this.verified.add(k.ref);
      if (spent) this.changed();
      return r(SW.OK);
    }
    k.tries--;
    this.verified.delete(k.ref);
    this.changed();
    return r(0x63c0 | k.tries);
  }

  // --- CREATE / DELETE / RESIZE ------------------------------------------------------------------

  private create(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (c.p1 !== 0 || c.p2 !== 0) return r(SW.WRONG_P1P2);
    const df = this.currentDf;
    const denied = this.allowed(df.access.create);
    if (denied) return r(denied);
    const t = readTlv(c.data, 0);
    if (!t || t.tag !== 0x62 || t.next !== c.data.length) return r(SW.WRONG_DATA);
    const f = fcpFields(t.value);
    if (f.fid === undefined || f.descriptor === undefined) return r(SW.WRONG_DATA);
    if (f.fid === 0x3f00 || f.fid === 0x7fff || f.fid === 0xffff) return r(SW.WRONG_DATA);
    if (df.children.some((k) => k.fid === f.fid)) return r(SW.FILE_EXISTS);
    let node: FileNode;
    if ((f.descriptor & 0x38) === 0x38) {
      if (f.aid && this.findDf(this.image.mf, (d) => d.aid !== undefined && equal(d.aid, f.aid!))) return r(SW.DF_NAME_EXISTS);
      node = { type: 'df', fid: f.fid, access: { ...df.access }, newFileAccess: { ...df.newFileAccess }, children: [] };
      if (f.aid) node.aid = f.aid;
    } else {
      const kind = f.descriptor & 0x07;
      const size = f.size ?? 0;
      if (size > this.image.freeMemory) return r(SW.NOT_ENOUGH_MEMORY);
      if (kind === 0x01) {
        if (size < 1 || size > 0x7fff) return r(SW.WRONG_DATA);
        node = { type: 'ef', fid: f.fid, structure: 'transparent', data: new Uint8Array(size).fill(0xff), access: { ...df.newFileAccess } };
      } else if (kind === 0x02) {
        const n = f.recordLength ?? 0;
        // 1..255-byte records, 1..254 of them (what the FCP can say): also bounds the allocation below
        // when the image gives the card more free memory than that.
        if (n < 1 || n > 255 || size < n || size % n !== 0 || size / n > 254) return r(SW.WRONG_DATA);
        node = { type: 'ef', fid: f.fid, structure: 'linear-fixed', recordLength: n, data: new Uint8Array(size).fill(0xff), access: { ...df.newFileAccess } };
      } else return r(SW.FUNCTION_NOT_SUPPORTED);
      this.image.freeMemory -= size;
    }
    df.children.push(node);
    // The created file becomes the current file (ISO 7816-9 §8.1).
    if (node.type === 'df') {
      this.currentDf = node;
      this.currentEf = undefined;
    } else this.currentEf = node;
    this.changed();
    return r(SW.OK);
  }

  private deleteFile(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (c.p1 !== 0 || c.p2 !== 0) return r(SW.WRONG_P1P2);
    if (c.data.length !== 2) return r(SW.WRONG_LENGTH);
    const fid = (c.data[0]! << 8) | c.data[1]!;
    const df = this.currentDf;
    const i = df.children.findIndex((k) => k.fid === fid);
    if (i < 0) return r(SW.FILE_NOT_FOUND);
    const denied = this.allowed(df.access.delete);
    if (denied) return r(denied);
    const [gone] = df.children.splice(i, 1);
    this.image.freeMemory += sizeOf(gone!);
    if (this.currentEf === gone) this.currentEf = undefined;
    this.changed();
    return r(SW.OK);
  }

  /** RESIZE FILE: CLA 80 INS D4 00 00, data 62 { 83 FID, 80 new size } for an EF of the current DF. */
  private resize(c: CommandApdu): { data: Uint8Array; sw: number } {
    if (!this.image.resize) return r(SW.INS_NOT_SUPPORTED);
    if (c.p1 !== 0 || c.p2 !== 0) return r(SW.WRONG_P1P2);
    const t = readTlv(c.data, 0);
    if (!t || t.tag !== 0x62) return r(SW.WRONG_DATA);
    const f = fcpFields(t.value);
    if (f.fid === undefined || f.size === undefined) return r(SW.WRONG_DATA);
    const df = this.currentDf;
    const denied = this.allowed(df.access.create);
    if (denied) return r(denied);
    const ef = df.children.find((k): k is EfNode => k.fid === f.fid && k.type === 'ef');
    if (!ef) return r(SW.FILE_NOT_FOUND);
    if (ef.structure !== 'transparent') return r(SW.FILE_INCOMPATIBLE);
    if (f.size < 1 || f.size > 0x7fff) return r(SW.WRONG_DATA);
    const grow = f.size - ef.data.length;
    if (grow > this.image.freeMemory) return r(SW.NOT_ENOUGH_MEMORY);
    const data = new Uint8Array(f.size).fill(0xff);
    data.set(ef.data.subarray(0, Math.min(f.size, ef.data.length)));
    ef.data = data;
    this.image.freeMemory -= grow;
    this.changed();
    return r(SW.OK);
  }
}

function r(swv: number): { data: Uint8Array; sw: number } {
  return { data: new Uint8Array(0), sw: swv };
}

function sw(swv: number): Uint8Array {
  return Uint8Array.of(swv >> 8, swv & 0xff);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return prefix.length <= a.length && prefix.every((x, i) => x === a[i]);
}

function sizeOf(n: FileNode): number {
  return n.type === 'ef' ? n.data.length : n.children.reduce((s, k) => s + sizeOf(k), 0);
}

interface FcpFields {
  descriptor?: number;
  recordLength?: number;
  fid?: number;
  aid?: Uint8Array;
  size?: number;
}

export function fcpFields(v: Uint8Array): FcpFields {
  const f: FcpFields = {};
  let i = 0;
  while (i < v.length) {
    const t = readTlv(v, i);
    if (!t) break;
    const b = t.value;
    if (t.tag === 0x82 && b.length >= 1) {
      f.descriptor = b[0]!;
      if (b.length >= 4) f.recordLength = (b[2]! << 8) | b[3]!;
      else if (b.length === 3) f.recordLength = b[2]!;
    } else if (t.tag === 0x83 && b.length === 2) f.fid = (b[0]! << 8) | b[1]!;
    else if (t.tag === 0x84) f.aid = b.slice();
    else if ((t.tag === 0x80 || t.tag === 0x81) && b.length >= 1 && f.size === undefined) {
      let n = 0;
      for (const x of b) n = n * 256 + x;
      f.size = n;
    }
    i = t.next;
  }
  return f;
}

/** File control parameters (ETSI TS 102 221 §11.1.1.3 shape). */
export function fcp(n: FileNode): Uint8Array {
  const parts: Uint8Array[] = [];
  if (n.type === 'df') {
    parts.push(tlv(0x82, Uint8Array.of(0x78, 0x21)));
    parts.push(tlv(0x83, Uint8Array.of(n.fid >> 8, n.fid & 0xff)));
    if (n.aid) parts.push(tlv(0x84, n.aid));
    parts.push(tlv(0x8a, Uint8Array.of(0x05)));
  } else {
    const desc = n.structure === 'transparent' ? Uint8Array.of(0x41, 0x21) : Uint8Array.of(0x42, 0x21, 0x00, n.recordLength!, n.data.length / n.recordLength!);
    parts.push(tlv(0x82, desc));
    parts.push(tlv(0x83, Uint8Array.of(n.fid >> 8, n.fid & 0xff)));
    parts.push(tlv(0x8a, Uint8Array.of(0x05)));
    parts.push(tlv(0x80, Uint8Array.of(n.data.length >> 8, n.data.length & 0xff)));
    if (n.sfi !== undefined) parts.push(tlv(0x88, Uint8Array.of(n.sfi << 3)));
  }
  return tlv(0x62, concat(parts));
}
