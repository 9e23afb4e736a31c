/**
 * Captures built byte by byte for the capture reader's tests, independently of main/capture/:
 * IPv4/IPv6 TCP packets, the link layers (Ethernet, SLL, SLL2, null, loop), pcap files in either
 * byte order and time resolution, and the mutation the acceptance test applies to a real tshark
 * capture (TCP data segments reordered and duplicated).
 */

export interface Seg {
  v6?: boolean;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  data?: Uint8Array | string;
}

export const SYN = 0x02;
export const ACK = 0x10;
export const PSH = 0x08;
export const FIN = 0x01;

function bytes(d: Uint8Array | string | undefined): Uint8Array {
  if (d === undefined) return new Uint8Array(0);
  return typeof d === 'string' ? new TextEncoder().encode(d) : d;
}

function addr4(s: string): number[] {
  return s.split('.').map(Number);
}

function addr6(s: string): number[] {
  // Only the forms the tests use: "fd00::1" style (one ::).
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** An IP packet (v4 or v6) carrying one TCP segment; checksums left zero (readers do not check them). */
export function ipTcp(s: Seg): Uint8Array {
  const payload = bytes(s.data);
  const tcp = new Uint8Array(20 + payload.length);
  const tv = new DataView(tcp.buffer);
  tv.setUint16(0, s.sport);
  tv.setUint16(2, s.dport);
  tv.setUint32(4, s.seq >>> 0);
  tv.setUint32(8, (s.ack ?? 0) >>> 0);
  tcp[12] = 0x50;
  tcp[13] = s.flags;
  tv.setUint16(14, 65535);
  tcp.set(payload, 20);
  if (s.v6) {
    const ip = new Uint8Array(40 + tcp.length);
    const v = new DataView(ip.buffer);
    ip[0] = 0x60;
    v.setUint16(4, tcp.length);
    ip[6] = 6;
    ip[7] = 64;
    ip.set(addr6(s.src), 8);
    ip.set(addr6(s.dst), 24);
    ip.set(tcp, 40);
    return ip;
  }
  const ip = new Uint8Array(20 + tcp.length);
  const v = new DataView(ip.buffer);
  ip[0] = 0x45;
  v.setUint16(2, ip.length);
  ip[8] = 64;
  ip[9] = 6;
  ip.set(addr4(s.src), 12);
  ip.set(addr4(s.dst), 16);
  ip.set(tcp, 20);
  return ip;
}

export type Link = 'ethernet' | 'sll' | 'sll2' | 'null' | 'loop';
export const LINK_TYPES: Record<Link, number> = { ethernet: 1, sll: 113, sll2: 276, null: 0, loop: 108 };

export function frame(link: Link, ip: Uint8Array): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  const etherType = v6 ? 0x86dd : 0x0800;
  let head: Uint8Array;
  switch (link) {
    case 'ethernet': // with an 802.1Q tag, which the reader must step over
      head = new Uint8Array([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x05, etherType >> 8, etherType & 0xff]);
      break;
    case 'sll':
      head = new Uint8Array([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, etherType >> 8, etherType & 0xff]);
      break;
    case 'sll2':
      head = new Uint8Array([etherType >> 8, etherType & 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0]);
      break;
    case 'null': // host byte order, little-endian here
      head = new Uint8Array([v6 ? 30 : 2, 0, 0, 0]);
      break;
    case 'loop':
      head = new Uint8Array([0, 0, 0, v6 ? 30 : 2]);
      break;
  }
  const out = new Uint8Array(head.length + ip.length);
  out.set(head);
  out.set(ip, head.length);
  return out;
}

/** A pcap file: `le` byte order, `nanos` resolution; packets at `tsMicros`. */
export function pcapFile(linkType: number, packets: readonly { tsMicros: number; data: Uint8Array }[], o: { le?: boolean; nanos?: boolean } = {}): Uint8Array {
  const le = o.le ?? true;
  const size = 24 + packets.reduce((n, p) => n + 16 + p.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, o.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  v.setUint16(4, 2, le);
  v.setUint16(6, 4, le);
  v.setUint32(16, 262144, le);
  v.setUint32(20, linkType, le);
  let off = 24;
  for (const p of packets) {
    v.setUint32(off, Math.floor(p.tsMicros / 1e6), le);
    v.setUint32(off + 4, o.nanos ? (p.tsMicros % 1e6) * 1000 : p.tsMicros % 1e6, le);
    v.setUint32(off + 8, p.data.length, le);
    v.setUint32(off + 12, p.data.length, le);
    out.set(p.data, off + 16);
    off += 16 + p.data.length;
  }
  return out;
}

/** A full HTTP/1.1 conversation's segments: handshake, then each chunk of `up`/`down` in turn. */
export function conversation(o: { v6?: boolean; client: string; server: string; cport: number; sport: number; turns: { up?: Uint8Array | string; down?: Uint8Array | string }[]; mss?: number }): Seg[] {
  const segs: Seg[] = [];
  let cs = 1000;
  let ss = 900_000;
  const c = { v6: o.v6, src: o.client, dst: o.server, sport: o.cport, dport: o.sport };
  const s = { v6: o.v6, src: o.server, dst: o.client, sport: o.sport, dport: o.cport };
  segs.push({ ...c, seq: cs++, flags: SYN }, { ...s, seq: ss++, ack: cs, flags: SYN | ACK }, { ...c, seq: cs, ack: ss, flags: ACK });
  const mss = o.mss ?? 100;
  const send = (from: 'c' | 's', d: Uint8Array) => {
    for (let i = 0; i < d.length; i += mss) {
      const piece = d.subarray(i, i + mss);
      if (from === 'c') {
        segs.push({ ...c, seq: cs, ack: ss, flags: ACK | PSH, data: piece });
        cs += piece.length;
      } else {
        segs.push({ ...s, seq: ss, ack: cs, flags: ACK | PSH, data: piece });
        ss += piece.length;
      }
    }
  };
  for (const t of o.turns) {
    if (t.up !== undefined) send('c', bytes(t.up));
    if (t.down !== undefined) send('s', bytes(t.down));
  }
  segs.push({ ...c, seq: cs, ack: ss, flags: FIN | ACK }, { ...s, seq: ss, ack: cs + 1, flags: FIN | ACK });
  return segs;
}

/**
 * A pcapng capture (little-endian, as tshark writes it on this machine) with its TCP data
 * segments mutated: each adjacent pair of data-carrying packets swapped (out of order) and every
 * third one sent again two packets later (a retransmission). Ethernet frames (Linux `lo`) only.
 */
export function reorderAndDuplicateTcp(pcapng: Uint8Array): { file: Uint8Array; swapped: number; duplicated: number } {
  const v = new DataView(pcapng.buffer, pcapng.byteOffset, pcapng.byteLength);
  const blocks: Uint8Array[] = [];
  for (let off = 0; off < pcapng.length;) {
    const len = v.getUint32(off + 4, true);
    if (len < 12 || off + len > pcapng.length) throw new Error(`pcapng block at ${off}: bad length ${len}`);
    blocks.push(pcapng.subarray(off, off + len));
    off += len;
  }
  const hasTcpData = (b: Uint8Array) => {
    if (new DataView(b.buffer, b.byteOffset).getUint32(0, true) !== 6) return false;
    const f = b.subarray(28);
    if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6) return false;
    const ihl = (f[14]! & 0x0f) * 4;
    const total = (f[16]! << 8) | f[17]!;
    const tcpHead = (f[14 + ihl + 12]! >> 4) * 4;
    return total - ihl - tcpHead > 0;
  };
  const data = blocks.map((b, i) => (hasTcpData(b) ? i : -1)).filter((i) => i >= 0);
  let swapped = 0;
  for (let k = 0; k + 1 < data.length; k += 2) {
    const [i, j] = [data[k]!, data[k + 1]!];
    [blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!];
    swapped++;
  }
  const out: Uint8Array[] = [];
  let duplicated = 0;
  const dupAt = new Map<number, Uint8Array[]>();
  data.forEach((idx, k) => {
    if (k % 3 === 0) {
      const at = Math.min(idx + 2, blocks.length - 1);
      dupAt.set(at, [...(dupAt.get(at) ?? []), blocks[idx]!]);
      duplicated++;
    }
  });
  blocks.forEach((b, i) => {
    out.push(b);
    for (const d of dupAt.get(i) ?? []) out.push(d);
  });
  const file = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of out) {
    file.set(b, o);
    o += b.length;
  }
  return { file, swapped, duplicated };
}

/** A pcapng file in either byte order, one interface with `tsresol` (if_tsresol, default 6 = microseconds). */
export function pcapngFile(linkType: number, packets: readonly { tsMicros: number; data: Uint8Array }[], o: { le?: boolean; tsresol?: number } = {}): Uint8Array {
  const le = o.le ?? true;
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array) => {
    const b = new Uint8Array(12 + body.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, type, le);
    v.setUint32(4, b.length, le);
    b.set(body, 8);
    v.setUint32(b.length - 4, b.length, le);
    blocks.push(b);
  };
  const shb = new Uint8Array(16);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, 0x1a2b3c4d, le);
  sv.setUint16(4, 1, le);
  sv.setInt32(8, -1, le);
  sv.setInt32(12, -1, le);
  block(0x0a0d0d0a, shb);
  const resol = o.tsresol ?? 6;
  const idb = new Uint8Array(8 + 8 + 4);
  const iv = new DataView(idb.buffer);
  iv.setUint16(0, linkType, le);
  iv.setUint32(4, 65535, le);
  iv.setUint16(8, 9, le); // if_tsresol
  iv.setUint16(10, 1, le);
  idb[12] = resol;
  block(1, idb);
  for (const p of packets) {
    const ts = (BigInt(p.tsMicros) * 10n ** BigInt(resol)) / 1_000_000n;
    const body = new Uint8Array(20 + ((p.data.length + 3) & ~3));
    const v = new DataView(body.buffer);
    v.setUint32(4, Number(ts >> 32n), le);
    v.setUint32(8, Number(ts & 0xffffffffn), le);
    v.setUint32(12, p.data.length, le);
    v.setUint32(16, p.data.length, le);
    body.set(p.data, 20);
    block(6, body);
  }
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
