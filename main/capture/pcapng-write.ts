/**
 * Logged DM sessions as a pcapng file Wireshark and tshark open: each session one TCP connection
 * (synthetic addresses, the server on port 80 so the HTTP dissector takes it), each message one
 * HTTP/1.1 request (device -> server) or response (server -> device) with its original bytes,
 * media type and timestamp. The section header's comment says what produced the file; each
 * message's first frame carries a comment naming the session and message. Pure.
 */
import { MEDIA_TYPES, sniffEncoding } from '../protocol/codec.js';
import { TcpConversation, type TcpEndpoint } from './packet-build.js';

export interface TraceMessage {
  direction: 'in' | 'out';
  /** ISO time the message was logged. */
  at: string;
  bytes: Uint8Array;
  contentType: string | null;
  httpStatus: number | null;
  /** Shown as the first frame's comment. */
  label: string;
}

export interface TraceSession {
  messages: readonly TraceMessage[];
}

const LINKTYPE_ETHERNET = 1;
const OPT_COMMENT = 1;
const OPT_SHB_USERAPPL = 4;
/** Where the server sits in the trace: documentation addresses (RFC 5737), the HTTP port. */
const SERVER: TcpEndpoint = { ip: [192, 0, 2, 1], port: 80, mac: [0x02, 0, 0, 0, 0, 1] };
export const TRACE_DM_PATH = '/dm';

const te = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A pcapng option list: code, length, value padded to 4, then opt_endofopt. */
function options(opts: readonly [number, Uint8Array][]): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  const size = opts.reduce((n, [, v]) => n + 4 + pad4(v.length), 4);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let off = 0;
  for (const [code, v] of opts) {
    dv.setUint16(off, code, true);
    dv.setUint16(off + 2, v.length, true);
    out.set(v, off + 4);
    off += 4 + pad4(v.length);
  }
  return out; // the last 4 bytes are zero: opt_endofopt
}

/** One block: type, total length, body (already padded), total length again. */
function block(type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length;
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, len, true);
  out.set(body, 8);
  dv.setUint32(len - 4, len, true);
  return out;
}

function sectionHeader(comment: string, producer: string): Uint8Array {
  const opts = options([[OPT_COMMENT, te.encode(comment)], [OPT_SHB_USERAPPL, te.encode(producer)]]);
  const body = new Uint8Array(16 + opts.length);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, 0x1a2b3c4d, true);
  dv.setUint16(4, 1, true);
  dv.setUint16(6, 0, true);
  dv.setInt32(8, -1, true); // section length unknown (64-bit -1)
  dv.setInt32(12, -1, true);
  body.set(opts, 16);
  return block(0x0a0d0d0a, body);
}

function interfaceDescription(): Uint8Array {
  const body = new Uint8Array(8);
  const dv = new DataView(body.buffer);
  dv.setUint16(0, LINKTYPE_ETHERNET, true);
  dv.setUint32(4, 262144, true); // snaplen; timestamps in microseconds (the default if_tsresol)
  return block(1, body);
}

function enhancedPacket(frame: Uint8Array, tsMicros: number, comment?: string): Uint8Array {
  const opts = comment ? options([[OPT_COMMENT, te.encode(comment)]]) : new Uint8Array(0);
  const body = new Uint8Array(20 + pad4(frame.length) + opts.length);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, 0, true);
  dv.setUint32(4, Math.floor(tsMicros / 2 ** 32), true);
  dv.setUint32(8, tsMicros % 2 ** 32, true);
  dv.setUint32(12, frame.length, true);
  dv.setUint32(16, frame.length, true);
  body.set(frame, 20);
  body.set(opts, 20 + pad4(frame.length));
  return block(6, body);
}

const REASONS: Readonly<Record<number, string>> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

/** The media type a logged message went with, or the DM one of its encoding. */
function mediaType(m: TraceMessage): string {
  if (m.contentType) return m.contentType;
  return MEDIA_TYPES[sniffEncoding(m.bytes) ?? 'xml'];
}

export function httpBytes(m: TraceMessage): Uint8Array {
  const head = m.direction === 'in'
    ? `POST ${TRACE_DM_PATH} HTTP/1.1\r\nHost: dmw.invalid\r\nContent-Type: ${mediaType(m)}\r\nContent-Length: ${m.bytes.length}\r\n\r\n`
    : `HTTP/1.1 ${m.httpStatus ?? 200} ${REASONS[m.httpStatus ?? 200] ?? 'Status'}\r\nContent-Type: ${mediaType(m)}\r\nContent-Length: ${m.bytes.length}\r\n\r\n`;
  const h = te.encode(head);
  const out = new Uint8Array(h.length + m.bytes.length);
  out.set(h, 0);
  out.set(m.bytes, h.length);
  return out;
}

function refusal(status: number): Uint8Array {
  return te.encode(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\nContent-Length: 0\r\n\r\n`);
}

function micros(iso: string): number {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms * 1000 : 0;
}

/**
 * The pcapng file: one connection per session (client port 49152 + index, its own address),
 * frames in time order across sessions (ties keep their order).
 */
export function sessionsToPcapng(sessions: readonly TraceSession[], producer: { comment: string; application: string }): Uint8Array {
  const frames: { ts: number; n: number; block: Uint8Array }[] = [];
  sessions.forEach((s, i) => {
    const client: TcpEndpoint = { ip: [198, 51, 100, 1 + (i % 250)], port: 49152 + (i % 16000), mac: [0x02, 0, 0, 1, (i >> 8) & 0xff, i & 0xff] };
    const conv = new TcpConversation(client, SERVER, (frame, ts, comment) => frames.push({ ts, n: frames.length, block: enhancedPacket(frame, ts, comment) }));
    const first = s.messages[0];
    if (!first) return;
    conv.open(micros(first.at));
    let last = micros(first.at);
    s.messages.forEach((m, i) => {
      // Never back in time inside one connection (frames are sorted by time below).
      last = Math.max(last, micros(m.at));
      conv.send(m.direction === 'in', httpBytes(m), last, m.label);
      // A request the server refused without a DM answer (its status logged on the request):
      // the bare HTTP answer, so the trace shows the refusal and reads back the same.
      if (m.direction === 'in' && m.httpStatus !== null && s.messages[i + 1]?.direction !== 'out') conv.send(false, refusal(m.httpStatus), last);
    });
    conv.close(last);
  });
  frames.sort((x, y) => x.ts - y.ts || x.n - y.n);
  const parts = [sectionHeader(producer.comment, producer.application), interfaceDescription(), ...frames.map((f) => f.block)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
