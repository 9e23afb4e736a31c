/**
 * IPv4 / IPv6 and TCP headers: the TCP segment inside an IP packet, every length checked against
 * the bytes present. Fragments and non-TCP packets are null (DM runs over whole TCP segments). Pure.
 */

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

const PROTO_TCP = 6;
/** IPv6 extension headers we step over: hop-by-hop, routing, destination options. */
const IPV6_EXTENSIONS = new Set([0, 43, 60]);
const IPV6_FRAGMENT = 44;

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function ipv4Text(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6Text(b: Uint8Array, o: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(u16(b, o + i).toString(16));
  return `[${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]`;
}

function ipTcp(p: Uint8Array): { src: string; dst: string; tcp: Uint8Array } | null {
  if (p.length < 1) return null;
  const version = p[0]! >> 4;
  if (version === 4) {
    if (p.length < 20) return null;
    const ihl = (p[0]! & 0x0f) * 4;
    const total = u16(p, 2);
    if (ihl < 20 || total < ihl || total > p.length) return null;
    const frag = u16(p, 6);
    if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0 || p[9] !== PROTO_TCP) return null;
    return { src: ipv4Text(p, 12), dst: ipv4Text(p, 16), tcp: p.subarray(ihl, total) };
  }
  if (version === 6) {
    if (p.length < 40) return null;
    const end = 40 + u16(p, 4);
    if (end > p.length) return null;
    let next = p[6]!;
    let off = 40;
    for (let i = 0; i < 8 && IPV6_EXTENSIONS.has(next); i++) {
      if (off + 8 > end) return null;
      next = p[off]!;
      off += (p[off + 1]! + 1) * 8;
    }
    if (next === IPV6_FRAGMENT || next !== PROTO_TCP || off > end) return null;
    return { src: ipv6Text(p, 8), dst: ipv6Text(p, 24), tcp: p.subarray(off, end) };
  }
  return null;
}

export function tcpSegmentOfIp(p: Uint8Array): TcpSegment | null {
  const ip = ipTcp(p);
  if (!ip || ip.tcp.length < 20) return null;
  const t = ip.tcp;
  const dataOff = (t[12]! >> 4) * 4;
  if (dataOff < 20 || dataOff > t.length) return null;
  return { src: ip.src, dst: ip.dst, srcPort: u16(t, 0), dstPort: u16(t, 2), seq: u32(t, 4), ack: u32(t, 8), flags: t[13]!, payload: t.subarray(dataOff) };
}
