/**
 * TCP reassembly: segments grouped into connections (a 4-tuple; a new SYN with another initial
 * sequence number starts a new connection on the same one), each direction's bytes put in sequence
 * order, retransmitted and overlapping bytes taken once, out-of-order segments placed where they
 * belong. A hole (bytes never captured) ends that direction's stream there, with a note. Each byte
 * range remembers the capture time of the segment that brought it. Pure.
 */
import { TCP_ACK, TCP_SYN, type TcpSegment } from './ip-tcp.js';

export const REASSEMBLY_LIMITS = {
  maxConnections: 100_000,
  /** Bytes one direction of a connection may hold; past it the stream is cut with a note. */
  maxStreamBytes: 256 * 1024 * 1024,
} as const;

export interface TimedSegment extends TcpSegment {
  tsMicros: number;
}

export interface DirectionStream {
  bytes: Uint8Array;
  /** Sorted by offset: from `offset` on, the bytes came in a segment captured at `tsMicros`. */
  times: { offset: number; tsMicros: number }[];
  /** Why the stream stops before all captured data, if it does. */
  cut: string | null;
}

export interface Connection {
  /** `client -> server` as addresses and ports; client is who sent the SYN, else who spoke first. */
  label: string;
  client: { addr: string; port: number };
  server: { addr: string; port: number };
  toServer: DirectionStream;
  toClient: DirectionStream;
  firstTs: number;
}

interface Side {
  isn: number | undefined;
  segments: { seq: number; data: Uint8Array; ts: number }[];
}

interface Building {
  a: string;
  b: string;
  /** Side of the endpoint `a` (what a sends) and of `b`. */
  sides: Map<string, Side>;
  synFrom: string | undefined;
  firstFrom: string;
  firstTs: number;
}

function endpoint(addr: string, port: number): string {
  return `${addr}:${port}`;
}

/** Signed distance from a to b in 32-bit sequence space. */
function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}

export function reassemble(segments: readonly TimedSegment[]): Connection[] {
  const open = new Map<string, Building>();
  const all: Building[] = [];
  for (const s of segments) {
    const from = endpoint(s.src, s.srcPort);
    const to = endpoint(s.dst, s.dstPort);
    const key = from < to ? `${from}|${to}` : `${to}|${from}`;
    let c = open.get(key);
    const isSyn = (s.flags & TCP_SYN) !== 0;
    const synIsn = isSyn ? s.seq + 1 : undefined;
    if (c && isSyn && (s.flags & TCP_ACK) === 0) {
      const side = c.sides.get(from)!;
      // A SYN with another initial sequence number than the one seen (or than the data seen
      // without a SYN could follow): the 4-tuple is reused by a new connection.
      const isn = synIsn! >>> 0;
      const reused = side.isn !== undefined ? side.isn !== isn : side.segments.some((d) => seqDiff(d.seq, isn) < 0 || seqDiff(d.seq, isn) > 1 << 30);
      if (reused) c = undefined;
    }
    if (!c) {
      if (all.length >= REASSEMBLY_LIMITS.maxConnections) continue;
      c = { a: from, b: to, sides: new Map([[from, { isn: undefined, segments: [] }], [to, { isn: undefined, segments: [] }]]), synFrom: undefined, firstFrom: from, firstTs: s.tsMicros };
      open.set(key, c);
      all.push(c);
    }
    const side = c.sides.get(from)!;
    if (isSyn) {
      side.isn = synIsn! >>> 0;
      if ((s.flags & TCP_ACK) === 0) c.synFrom = from;
    }
    if (s.payload.length > 0) side.segments.push({ seq: s.seq, data: s.payload, ts: s.tsMicros });
  }
  return all.map(finish);
}

function finish(c: Building): Connection {
  const clientKey = c.synFrom ?? c.firstFrom;
  const serverKey = clientKey === c.a ? c.b : c.a;
  const split = (k: string) => {
    const i = k.lastIndexOf(':');
    return { addr: k.slice(0, i), port: Number(k.slice(i + 1)) };
  };
  return {
    label: `${clientKey} -> ${serverKey}`,
    client: split(clientKey),
    server: split(serverKey),
    toServer: streamOf(c.sides.get(clientKey)!),
    toClient: streamOf(c.sides.get(serverKey)!),
    firstTs: c.firstTs,
  };
}

function streamOf(side: Side): DirectionStream {
  if (side.segments.length === 0) return { bytes: new Uint8Array(0), times: [], cut: null };
  // Without the SYN, the stream starts at the lowest sequence number seen (by 32-bit distance).
  let base = side.isn ?? side.segments[0]!.seq;
  if (side.isn === undefined) for (const s of side.segments) if (seqDiff(s.seq, base) < 0) base = s.seq;
  const placed = side.segments
    .map((s, i) => ({ rel: seqDiff(s.seq, base), data: s.data, ts: s.ts, i }))
    .sort((x, y) => x.rel - y.rel || x.i - y.i);
  const parts: Uint8Array[] = [];
  const times: DirectionStream['times'] = [];
  let next = 0;
  let cut: string | null = null;
  for (const p of placed) {
    const end = p.rel + p.data.length;
    if (end <= next) continue; // retransmission of bytes we have
    if (p.rel > next) {
      cut = `${p.rel - next} byte(s) missing from the capture at stream offset ${next}`;
      break;
    }
    const fresh = p.data.subarray(next - p.rel);
    if (next + fresh.length > REASSEMBLY_LIMITS.maxStreamBytes) {
      cut = `stream longer than ${REASSEMBLY_LIMITS.maxStreamBytes} bytes`;
      break;
    }
    times.push({ offset: next, tsMicros: p.ts });
    parts.push(fresh);
    next += fresh.length;
  }
  const bytes = new Uint8Array(next);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, times, cut };
}

/** The capture time of the segment that brought the byte at `offset`. */
export function timeAt(s: DirectionStream, offset: number): number {
  let lo = 0;
  let hi = s.times.length - 1;
  let best = s.times[0]?.tsMicros ?? 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s.times[mid]!.offset <= offset) {
      best = s.times[mid]!.tsMicros;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
