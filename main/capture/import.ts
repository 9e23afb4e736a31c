/**
 * A capture file to DM sessions: packets -> link layer -> IP/TCP -> reassembled connections ->
 * HTTP/1.1 exchanges -> DM sessions, with the connections that could not be read listed as
 * skipped (TLS, not HTTP, framing trouble). Pure: bytes in, sessions out; a broken file is a
 * CaptureError (nothing half-read is returned).
 */
import { checkCredentials, type CredentialCheck } from './cred-check.js';
import { groupDmSessions, isDmMediaType, type DmExchange, type WireMessage } from './dm-sessions.js';
import { parseHttpStream, type HttpMessage } from './http-framing.js';
import { tcpSegmentOfIp } from './ip-tcp.js';
import { ipPayloadOfFrame } from './link.js';
import { readCapture } from './pcap-read.js';
import { reassemble, timeAt, type Connection, type DirectionStream, type TimedSegment } from './reassembly.js';
import type { ImportedSession } from './bundle.js';

export type { CredentialCheck } from './cred-check.js';

export interface SkippedStream {
  stream: string;
  reason: string;
}

const METHOD_START = /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r\n/;

function startsWithRequest(s: DirectionStream): boolean {
  return METHOD_START.test(new TextDecoder('latin1').decode(s.bytes.subarray(0, 2048)).split('\n')[0]! + '\n');
}

function isTls(s: DirectionStream): boolean {
  // A TLS record: handshake (22) or alert/application data, version 3.x.
  return s.bytes.length >= 3 && s.bytes[0]! >= 20 && s.bytes[0]! <= 23 && s.bytes[1] === 3 && s.bytes[2]! <= 4;
}

function wire(m: HttpMessage, s: DirectionStream): WireMessage {
  return { bytes: m.body, target: m.target, contentType: m.headers.get('content-type') ?? null, httpStatus: m.status, headers: m.headers, tsMicros: timeAt(s, Math.max(m.start, m.end - 1)) };
}

/** The HTTP exchanges of one connection, or why it was skipped. */
function exchangesOf(c: Connection, skipped: SkippedStream[]): DmExchange[] {
  let up = c.toServer;
  let down = c.toClient;
  let label = c.label;
  if (up.bytes.length === 0 && down.bytes.length === 0) return [];
  if (isTls(up) || isTls(down)) {
    skipped.push({ stream: label, reason: 'TLS: encrypted, not decodable' });
    return [];
  }
  if (!startsWithRequest(up) && startsWithRequest(down)) {
    // The capture missed the SYN and the server spoke first in it: swap the roles.
    [up, down] = [down, up];
    label = `${c.server.addr}:${c.server.port} -> ${c.client.addr}:${c.client.port}`;
  }
  if (!startsWithRequest(up)) {
    skipped.push({ stream: label, reason: 'not HTTP/1.x' });
    return [];
  }
  const reqs = parseHttpStream(up.bytes, 'request');
  const resps = parseHttpStream(down.bytes, 'response', reqs.messages.map((m) => m.method ?? ''));
  const finals = resps.messages.filter((m) => m.status === null || m.status >= 200);
  const out: DmExchange[] = reqs.messages.map((r, i) => ({ stream: label, request: wire(r, up), response: finals[i] ? wire(finals[i]!, down) : null }));
  const dm = out.filter((x) => isDmMediaType(x.request?.contentType) || isDmMediaType(x.response?.contentType));
  const troubles = [up.cut, down.cut, reqs.stopped && `requests: ${reqs.stopped}`, resps.stopped && `responses: ${resps.stopped}`].filter(Boolean);
  if (dm.length === 0) skipped.push({ stream: label, reason: `no DM messages (HTTP, ${reqs.messages.length} request(s))${troubles.length ? `; ${troubles.join('; ')}` : ''}` });
  else if (troubles.length > 0) skipped.push({ stream: label, reason: `read ${dm.length} DM exchange(s), then stopped: ${troubles.join('; ')}` });
  return dm;
}

export function importCapture(bytes: Uint8Array, creds: CredentialCheck = {}): { sessions: ImportedSession[]; skipped: SkippedStream[]; packets: number } {
  const { packets } = readCapture(bytes);
  const segments: TimedSegment[] = [];
  for (const p of packets) {
    const ip = ipPayloadOfFrame(p.linkType, p.data);
    const seg = ip && tcpSegmentOfIp(ip);
    if (seg) segments.push({ ...seg, tsMicros: p.tsMicros });
  }
  const skipped: SkippedStream[] = [];
  const exchanges = reassemble(segments).flatMap((c) => exchangesOf(c, skipped));
  const imports = groupDmSessions(exchanges);
  checkCredentials(imports, creds);
  return { sessions: imports.map((x) => x.session), skipped, packets: packets.length };
}
