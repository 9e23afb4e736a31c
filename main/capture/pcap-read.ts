/**
 * Packets out of a pcap or pcapng file: link type, timestamp (microseconds since the epoch), the
 * captured bytes and the file offset of the record. Every length in the file is checked against
 * the bytes that are there and against named limits before it is used; a file that breaks one is
 * a CaptureError with the offset of the record at fault. Pure.
 */
import { CaptureError } from './errors.js';

export interface RawPacket {
  linkType: number;
  tsMicros: number;
  data: Uint8Array;
  /** File offset of the packet's record (block). */
  offset: number;
}

export const CAPTURE_LIMITS = {
  /** Largest captured packet (pcap's usual snaplen ceiling). */
  maxPacketBytes: 256 * 1024,
  /** Largest pcapng block of any kind. */
  maxBlockBytes: 16 * 1024 * 1024,
  maxPackets: 10_000_000,
  maxInterfaces: 1024,
} as const;

export type CaptureFormat = 'pcap' | 'pcapng';

export function captureFormat(b: Uint8Array): CaptureFormat | undefined {
  if (b.length < 4) return undefined;
  const be = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  if (be === 0x0a0d0d0a) return 'pcapng';
  if ([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(be)) return 'pcap';
  return undefined;
}

export function readCapture(b: Uint8Array): { format: CaptureFormat; packets: RawPacket[] } {
  const format = captureFormat(b);
  if (format === 'pcap') return { format, packets: readPcap(b) };
  if (format === 'pcapng') return { format, packets: readPcapng(b) };
  throw new CaptureError('not a pcap or pcapng file (unknown magic number)', 0);
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readPcap(b: Uint8Array): RawPacket[] {
  if (b.length < 24) throw new CaptureError(`pcap file header needs 24 bytes, the file has ${b.length}`, 0);
  const dv = view(b);
  const magicLe = dv.getUint32(0, true);
  const le = magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d;
  const nanos = magicLe === 0xa1b23c4d || dv.getUint32(0, false) === 0xa1b23c4d;
  // The upper bits of the link-type field may carry FCS information (pcap-savefile(5)).
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const packets: RawPacket[] = [];
  let off = 24;
  while (off < b.length) {
    if (off + 16 > b.length) throw new CaptureError(`pcap record header cut short (${b.length - off} of 16 bytes)`, off);
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    if (incl > CAPTURE_LIMITS.maxPacketBytes) throw new CaptureError(`pcap record length ${incl} over the limit of ${CAPTURE_LIMITS.maxPacketBytes}`, off);
    if (off + 16 + incl > b.length) throw new CaptureError(`pcap record of ${incl} bytes runs past the end of the file`, off);
    if (packets.length >= CAPTURE_LIMITS.maxPackets) throw new CaptureError(`more than ${CAPTURE_LIMITS.maxPackets} packets`, off);
    packets.push({ linkType, tsMicros: sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac), data: b.subarray(off + 16, off + 16 + incl), offset: off });
    off += 16 + incl;
  }
  return packets;
}

interface Iface {
  linkType: number;
  /** Timestamp units per second. */
  unitsPerSec: bigint;
}

/** if_tsresol: top bit clear, a power of 10; set, a power of 2 (pcapng spec, 4.2). */
function tsUnits(resol: number): bigint {
  const exp = BigInt(resol & 0x7f);
  if (exp > 60n) return 1_000_000n;
  return resol & 0x80 ? 1n << exp : 10n ** exp;
}

function ifaceOptions(body: Uint8Array, le: boolean, blockOff: number): bigint {
  const dv = view(body);
  let units = 1_000_000n;
  let o = 8;
  while (o + 4 <= body.length) {
    const code = dv.getUint16(o, le);
    const len = dv.getUint16(o + 2, le);
    if (code === 0) break;
    if (o + 4 + len > body.length) throw new CaptureError(`interface option ${code} of ${len} bytes runs past its block`, blockOff);
    if (code === 9 && len >= 1) units = tsUnits(body[o + 4]!);
    o += 4 + ((len + 3) & ~3);
  }
  return units;
}

function readPcapng(b: Uint8Array): RawPacket[] {
  const dv = view(b);
  const packets: RawPacket[] = [];
  let le = true;
  let ifaces: Iface[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 12 > b.length) throw new CaptureError(`pcapng block header cut short (${b.length - off} of 12 bytes)`, off);
    const rawType = dv.getUint32(off, true);
    if (rawType === 0x0a0d0d0a) {
      const bom = dv.getUint32(off + 8, true);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new CaptureError(`section header byte-order magic 0x${bom.toString(16)} is neither order of 0x1a2b3c4d`, off + 8);
      ifaces = [];
    } else if (off === 0) {
      throw new CaptureError('a pcapng file starts with a section header block', 0);
    }
    const type = dv.getUint32(off, le);
    const len = dv.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0) throw new CaptureError(`block length ${len} is not a multiple of 4 of at least 12`, off + 4);
    if (len > CAPTURE_LIMITS.maxBlockBytes) throw new CaptureError(`block length ${len} over the limit of ${CAPTURE_LIMITS.maxBlockBytes}`, off + 4);
    if (off + len > b.length) throw new CaptureError(`block of ${len} bytes runs past the end of the file`, off);
    if (dv.getUint32(off + len - 4, le) !== len) throw new CaptureError(`block's trailing length ${dv.getUint32(off + len - 4, le)} differs from its leading length ${len}`, off + len - 4);
    const body = b.subarray(off + 8, off + len - 4);
    const bv = view(body);
    if (type === 1) {
      if (body.length < 8) throw new CaptureError('interface description block shorter than 20 bytes', off);
      if (ifaces.length >= CAPTURE_LIMITS.maxInterfaces) throw new CaptureError(`more than ${CAPTURE_LIMITS.maxInterfaces} interfaces`, off);
      ifaces.push({ linkType: bv.getUint16(0, le), unitsPerSec: ifaceOptions(body, le, off) });
    } else if (type === 6 || type === 2) {
      // Enhanced packet block, or the obsolete packet block (16-bit interface id, 16-bit drops).
      if (body.length < 20) throw new CaptureError('packet block shorter than 32 bytes', off);
      const ifId = type === 6 ? bv.getUint32(0, le) : bv.getUint16(0, le);
      const iface = ifaces[ifId];
      if (!iface) throw new CaptureError(`packet block names interface ${ifId}, but the section describes ${ifaces.length}`, off + 8);
      const ts = (BigInt(bv.getUint32(4, le)) << 32n) | BigInt(bv.getUint32(8, le));
      const capLen = bv.getUint32(12, le);
      if (capLen > CAPTURE_LIMITS.maxPacketBytes) throw new CaptureError(`captured length ${capLen} over the limit of ${CAPTURE_LIMITS.maxPacketBytes}`, off + 20);
      if (20 + capLen > body.length) throw new CaptureError(`captured length ${capLen} runs past its block`, off + 20);
      pushPacket(packets, { linkType: iface.linkType, tsMicros: Number((ts * 1_000_000n) / iface.unitsPerSec), data: body.subarray(20, 20 + capLen), offset: off });
    } else if (type === 3) {
      // Simple packet block: interface 0, no timestamp.
      const iface = ifaces[0];
      if (!iface) throw new CaptureError('simple packet block before any interface description', off);
      if (body.length < 4) throw new CaptureError('simple packet block shorter than 16 bytes', off);
      const capLen = Math.min(bv.getUint32(0, le), body.length - 4);
      if (capLen > CAPTURE_LIMITS.maxPacketBytes) throw new CaptureError(`packet length ${capLen} over the limit of ${CAPTURE_LIMITS.maxPacketBytes}`, off + 8);
      pushPacket(packets, { linkType: iface.linkType, tsMicros: 0, data: body.subarray(4, 4 + capLen), offset: off });
    }
    // Other blocks (name resolution, statistics, custom, decryption secrets) carry no packets.
    off += len;
  }
  return packets;
}

function pushPacket(packets: RawPacket[], p: RawPacket): void {
  if (packets.length >= CAPTURE_LIMITS.maxPackets) throw new CaptureError(`more than ${CAPTURE_LIMITS.maxPackets} packets`, p.offset);
  packets.push(p);
}
