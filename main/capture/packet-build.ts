/**
 * Synthetic but valid Ethernet/IPv4/TCP frames, for traces written from the session log: correct
 * lengths and checksums, so Wireshark and tshark show no framing errors. Pure functions.
 */

export interface TcpEndpoint {
  /** IPv4 address as 4 bytes. */
  ip: readonly [number, number, number, number];
  port: number;
  mac: readonly [number, number, number, number, number, number];
}

export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** Largest TCP payload per frame: a 1500-byte Ethernet MTU less the IPv4 and TCP headers. */
export const MSS = 1460;

/** The Internet checksum (RFC 1071) over `parts`, with `initial` already summed in. */
function checksum(parts: readonly Uint8Array[], initial = 0): number {
  let sum = initial;
  let odd: number | undefined;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      if (odd === undefined) odd = p[i]!;
      else {
        sum += (odd << 8) | p[i]!;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One Ethernet II frame carrying an IPv4 TCP segment from `src` to `dst`. */
export function tcpFrame(src: TcpEndpoint, dst: TcpEndpoint, seq: number, ack: number, flags: number, payload: Uint8Array, ipId: number): Uint8Array {
  const tcpLen = 20 + payload.length;
  const ipLen = 20 + tcpLen;
  const frame = new Uint8Array(14 + ipLen);
  const v = new DataView(frame.buffer);
  frame.set(dst.mac, 0);
  frame.set(src.mac, 6);
  v.setUint16(12, 0x0800);
  // IPv4 header
  const ip = 14;
  frame[ip] = 0x45;
  v.setUint16(ip + 2, ipLen);
  v.setUint16(ip + 4, ipId & 0xffff);
  v.setUint16(ip + 6, 0x4000); // don't fragment
  frame[ip + 8] = 64;
  frame[ip + 9] = 6;
  frame.set(src.ip, ip + 12);
  frame.set(dst.ip, ip + 16);
  v.setUint16(ip + 10, checksum([frame.subarray(ip, ip + 20)]));
  // TCP header
  const t = ip + 20;
  v.setUint16(t, src.port);
  v.setUint16(t + 2, dst.port);
  v.setUint32(t + 4, seq >>> 0);
  v.setUint32(t + 8, ack >>> 0);
  frame[t + 12] = 5 << 4;
  frame[t + 13] = flags;
  v.setUint16(t + 14, 65535);
  frame.set(payload, t + 20);
  const pseudo = new Uint8Array(12);
  pseudo.set(src.ip, 0);
  pseudo.set(dst.ip, 4);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, tcpLen);
  v.setUint16(t + 16, checksum([pseudo, frame.subarray(t)]));
  return frame;
}

/**
 * Both directions of one TCP connection as frames: the handshake, data split at the MSS with the
 * other side's ACK, and the closing FINs. `ts` is the time each frame gets (microseconds).
 */
export class TcpConversation {
  private seqA = 1000;
  private seqB = 5000;
  private ipId = 1;
  constructor(
    private readonly a: TcpEndpoint,
    private readonly b: TcpEndpoint,
    private readonly emit: (frame: Uint8Array, tsMicros: number, comment?: string) => void,
  ) {}

  open(ts: number): void {
    this.frame(true, TCP_FLAG.SYN, new Uint8Array(0), ts, 0);
    this.seqA += 1;
    this.frame(false, TCP_FLAG.SYN | TCP_FLAG.ACK, new Uint8Array(0), ts);
    this.seqB += 1;
    this.frame(true, TCP_FLAG.ACK, new Uint8Array(0), ts);
  }

  /** Data from a (the client) when `fromA`, else from b; the comment goes on its first frame. */
  send(fromA: boolean, data: Uint8Array, ts: number, comment?: string): void {
    for (let off = 0; off < data.length || (off === 0 && data.length === 0); off += MSS) {
      const piece = data.subarray(off, Math.min(off + MSS, data.length));
      const last = off + MSS >= data.length;
      this.frame(fromA, TCP_FLAG.ACK | (last ? TCP_FLAG.PSH : 0), piece, ts, undefined, off === 0 ? comment : undefined);
      if (fromA) this.seqA += piece.length;
      else this.seqB += piece.length;
      if (data.length === 0) break;
    }
  }

  close(ts: number): void {
    this.frame(true, TCP_FLAG.FIN | TCP_FLAG.ACK, new Uint8Array(0), ts);
    this.seqA += 1;
    this.frame(false, TCP_FLAG.FIN | TCP_FLAG.ACK, new Uint8Array(0), ts);
    this.seqB += 1;
    this.frame(true, TCP_FLAG.ACK, new Uint8Array(0), ts);
  }

  private frame(fromA: boolean, flags: number, payload: Uint8Array, ts: number, ackOverride?: number, comment?: string): void {
    const [src, dst] = fromA ? [this.a, this.b] : [this.b, this.a];
    const seq = fromA ? this.seqA : this.seqB;
    const ack = ackOverride ?? (fromA ? this.seqB : this.seqA);
    this.emit(tcpFrame(src, dst, seq, ack, flags, payload, this.ipId++), ts, comment);
  }
}
