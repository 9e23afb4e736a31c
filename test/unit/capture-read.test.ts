/**
 * The capture reader (main/capture/): pcap and pcapng, each link type, IPv4 and IPv6, TCP
 * reassembly with retransmissions and out-of-order segments, HTTP/1.1 keep-alive with
 * Content-Length and chunked bodies, DM session grouping, TLS listed as skipped, credential
 * checks, and broken files (a CaptureError with the offset; nothing stored).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importCapture } from '../../main/capture/import.js';
import { CaptureError } from '../../main/capture/errors.js';
import { readCapture } from '../../main/capture/pcap-read.js';
import { sessionsToPcapng } from '../../main/capture/pcapng-write.js';
import { decodeDocument, wbxmlFromDocument } from '../../main/protocol/codec.js';
import { hmacHeader, md5Credential } from '../../main/protocol/auth.js';
import { ServerStore } from '../../main/store/server-store.js';
import { mutateBytes, prng } from '../helpers/fuzz.js';
import { ACK, conversation, frame, ipTcp, LINK_TYPES, pcapFile, pcapngFile, PSH, type Link, type Seg } from '../helpers/pcap-build.js';

const SERVER_URL = 'http://127.0.0.1:8080/dm';
const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678) * 1000;

function dmXml(o: { sid: string; msg: string; dev: string; fromClient: boolean; hdrExtra?: string; body?: string; pad?: number }): Uint8Array {
  const [target, source] = o.fromClient ? [SERVER_URL, o.dev] : [o.dev, SERVER_URL];
  const pad = o.pad ? `<Alert><CmdID>9</CmdID><Data>1226</Data><Item><Data>${'x'.repeat(o.pad)}</Data></Item></Alert>` : '';
  return new TextEncoder().encode(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>${o.sid}</SessionID><MsgID>${o.msg}</MsgID><Target><LocURI>${target}</LocURI></Target><Source><LocURI>${source}</LocURI></Source>${o.hdrExtra ?? ''}</SyncHdr><SyncBody>${o.body ?? ''}${pad}<Final/></SyncBody></SyncML>`);
}

function wbxml(xml: Uint8Array): Uint8Array {
  const d = decodeDocument(xml);
  if (!d.ok) throw new Error('test message does not decode');
  const w = wbxmlFromDocument(d.value.document);
  if (!w.ok) throw new Error('test message does not encode');
  return w.value;
}

function post(body: Uint8Array, ct = 'application/vnd.syncml.dm+xml', extra = ''): Uint8Array {
  return cat(new TextEncoder().encode(`POST /dm HTTP/1.1\r\nHost: lab\r\nContent-Type: ${ct}\r\n${extra}Content-Length: ${body.length}\r\n\r\n`), body);
}

function ok(body: Uint8Array, ct = 'application/vnd.syncml.dm+xml'): Uint8Array {
  return cat(new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Type: ${ct}\r\nContent-Length: ${body.length}\r\n\r\n`), body);
}

function chunked(head: string, body: Uint8Array, sizes: number[]): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode(`${head}\r\nTransfer-Encoding: chunked\r\n\r\n`)];
  let off = 0;
  for (const n of sizes) {
    const piece = body.subarray(off, off + n);
    off += piece.length;
    parts.push(new TextEncoder().encode(`${piece.length.toString(16)};ext=1\r\n`), piece, new TextEncoder().encode('\r\n'));
  }
  parts.push(new TextEncoder().encode('0\r\nX-Trailer: yes\r\n\r\n'));
  return cat(...parts);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function pcapOf(link: Link, segs: Seg[], o: { le?: boolean; nanos?: boolean } = {}): Uint8Array {
  return pcapFile(LINK_TYPES[link], segs.map((s, i) => ({ tsMicros: T0 + i * 1000, data: frame(link, ipTcp(s)) })), o);
}

/** One two-exchange DM session: (in, out, in, out), the second pair 2 KB so it spans segments. */
function oneSession(dev = 'IMEI:1', sid = '1A') {
  return [
    dmXml({ sid, msg: '1', dev, fromClient: true }),
    dmXml({ sid, msg: '1', dev, fromClient: false }),
    dmXml({ sid, msg: '2', dev, fromClient: true, pad: 2000 }),
    dmXml({ sid, msg: '2', dev, fromClient: false }),
  ];
}

function turnsOf(msgs: Uint8Array[]) {
  return [{ up: post(msgs[0]!), down: ok(msgs[1]!) }, { up: post(msgs[2]!), down: ok(msgs[3]!) }];
}

describe('capture import: formats and link layers', () => {
  const msgs = oneSession();
  for (const link of ['ethernet', 'sll', 'sll2', 'null', 'loop'] as const) {
    for (const v6 of [false, true]) {
      it(`reads a pcap with ${link} frames over ${v6 ? 'IPv6' : 'IPv4'}: one session, its bytes and times`, () => {
        const segs = conversation({ v6, client: v6 ? 'fd00::2' : '10.0.0.2', server: v6 ? 'fd00::1' : '10.0.0.1', cport: 40000, sport: 8080, turns: turnsOf(msgs) });
        const r = importCapture(pcapOf(link, segs));
        expect(r.skipped).toEqual([]);
        expect(r.sessions).toHaveLength(1);
        const s = r.sessions[0]!;
        expect(s).toMatchObject({ device: 'IMEI:1', dmSessionId: '1A', encoding: 'xml' });
        expect(s.messages.map((m) => m.direction)).toEqual(['in', 'out', 'in', 'out']);
        expect(s.messages.map((m) => Buffer.from(m.bytes).equals(Buffer.from(msgs[s.messages.indexOf(m)]!)))).toEqual([true, true, true, true]);
        expect(s.messages[0]!.at).toBeGreaterThanOrEqual(T0 / 1000);
        expect(s.messages[1]!.httpStatus).toBe(200);
      });
    }
  }

  it('reads big-endian nanosecond pcap the same as little-endian microsecond pcap', () => {
    const segs = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40000, sport: 8080, turns: turnsOf(msgs) });
    const a = importCapture(pcapOf('ethernet', segs));
    const b = importCapture(pcapOf('ethernet', segs, { le: false, nanos: true }));
    expect(b.sessions).toEqual(a.sessions);
  });

  it('reads big-endian pcapng with nanosecond timestamps (if_tsresol) the same as little-endian microsecond pcap', () => {
    const segs = conversation({ v6: true, client: 'fd00::2', server: 'fd00::1', cport: 40000, sport: 8080, turns: turnsOf(msgs) });
    const packets = segs.map((s, i) => ({ tsMicros: T0 + i * 1000, data: frame('sll2', ipTcp(s)) }));
    const a = importCapture(pcapFile(LINK_TYPES.sll2, packets));
    const b = importCapture(pcapngFile(LINK_TYPES.sll2, packets, { le: false, tsresol: 9 }));
    expect(a.sessions).toHaveLength(1);
    expect(b.sessions).toEqual(a.sessions);
  });

  it('reads back the pcapng it writes: one TCP stream per session, original times and bytes, DM and SyncML media types', () => {
    const big = dmXml({ sid: '7', msg: '1', dev: 'IMEI:2', fromClient: true, pad: 5000 });
    const wb = wbxml(dmXml({ sid: '7', msg: '1', dev: 'IMEI:2', fromClient: false }));
    const file = sessionsToPcapng([
      { messages: oneSession().map((b, i) => ({ direction: i % 2 ? 'out' as const : 'in' as const, at: new Date(1_700_000_000_000 + i * 10).toISOString(), bytes: b, contentType: 'application/vnd.syncml+xml', httpStatus: i % 2 ? 200 : null, label: `m${i}` })) },
      { messages: [
        { direction: 'in', at: '2026-01-01T00:00:00.123Z', bytes: big, contentType: null, httpStatus: null, label: 'big' },
        { direction: 'out', at: '2026-01-01T00:00:00.456Z', bytes: wb, contentType: null, httpStatus: 200, label: 'wbxml' },
      ] },
    ], { comment: 'test', application: 'test' });
    const r = importCapture(file);
    expect(r.skipped).toEqual([]);
    expect(r.sessions.map((s) => [s.device, s.dmSessionId, s.messages.length])).toEqual([['IMEI:1', '1A', 4], ['IMEI:2', '7', 2]]);
    expect(r.sessions[0]!.messages.map((m) => m.at)).toEqual([0, 10, 20, 30].map((d) => 1_700_000_000_000 + d));
    expect(r.sessions[0]!.messages[0]!.contentType).toBe('application/vnd.syncml+xml');
    const [m1, m2] = r.sessions[1]!.messages;
    expect(Buffer.from(m1!.bytes).equals(Buffer.from(big))).toBe(true);
    expect(m1!.at).toBe(Date.parse('2026-01-01T00:00:00.123Z'));
    expect(Buffer.from(m2!.bytes).equals(Buffer.from(wb))).toBe(true);
    expect(m2!.contentType).toBe('application/vnd.syncml.dm+wbxml');
    // Two connections, frames in time order, the SHB comment present.
    expect(readCapture(file).format).toBe('pcapng');
    expect(Buffer.from(file).includes(Buffer.from('test'))).toBe(true);
  });
});

describe('capture import: TCP reassembly and HTTP framing', () => {
  const msgs = oneSession();

  it('takes retransmitted and out-of-order segments (overlapping ones included) once, in sequence order', () => {
    const segs = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40001, sport: 8080, turns: turnsOf(msgs), mss: 64 });
    const [hs, data, fin] = [segs.slice(0, 3), segs.slice(3, -2), segs.slice(-2)];
    const mixed: Seg[] = [];
    // Reverse each run of four, send every fifth twice, and add one overlapping retransmission.
    for (let i = 0; i < data.length; i += 4) mixed.push(...data.slice(i, i + 4).reverse());
    const dups = mixed.filter((_, i) => i % 5 === 0);
    const a = data[1]!;
    const b = data[2]!;
    expect([b.src, b.seq]).toEqual([a.src, a.seq + 64]);
    const overlap: Seg = { ...a, seq: a.seq + 10, flags: ACK | PSH, data: cat((a.data as Uint8Array).subarray(10), (b.data as Uint8Array).subarray(0, 20)) };
    const file = pcapOf('ethernet', [...hs, ...mixed.slice(0, 7), overlap, ...dups, ...mixed.slice(7), ...fin]);
    const r = importCapture(file);
    expect(r.skipped).toEqual([]);
    expect(r.sessions).toHaveLength(1);
    expect(r.sessions[0]!.messages.map((m) => Buffer.from(m.bytes).toString())).toEqual(msgs.map((m) => Buffer.from(m).toString()));
  });

  it('frames keep-alive exchanges with chunked requests and responses (extensions, trailers) and Content-Length', () => {
    const [a, b, c, d] = msgs;
    const up = cat(post(a!), chunked('POST /dm?s=2 HTTP/1.1\r\nHost: lab\r\nContent-Type: application/vnd.syncml.dm+xml', c!, [7, 900, 5000]));
    const down = cat(
      new TextEncoder().encode('HTTP/1.1 100 Continue\r\n\r\n'),
      chunked('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.syncml.dm+xml; charset=utf-8', b!, [1, 2, 400]),
      ok(d!),
    );
    const segs = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40002, sport: 80, turns: [{ up, down }] });
    const r = importCapture(pcapOf('ethernet', segs));
    expect(r.skipped).toEqual([]);
    expect(r.sessions[0]!.messages.map((m) => Buffer.from(m.bytes).toString())).toEqual([a, b, c, d].map((m) => Buffer.from(m!).toString()));
  });

  it('imports the exchanges before a hole (packets cut by a small snaplen) and says where the stream stopped', () => {
    const segs = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40005, sport: 80, turns: turnsOf(msgs) });
    // The second request's first data segment captured only 60 bytes of its frame.
    const second = segs.findIndex((s) => typeof s.data !== 'string' && s.data !== undefined && Buffer.from(s.data).toString().startsWith('POST') && s.seq > 1001);
    const packets = segs.map((s, i) => {
      const f = frame('ethernet', ipTcp(s));
      return { tsMicros: T0 + i * 1000, data: i === second ? f.subarray(0, 60) : f };
    });
    const r = importCapture(pcapFile(LINK_TYPES.ethernet, packets));
    expect(r.sessions[0]!.messages.map((m) => m.direction)).toEqual(['in', 'out']);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]!.reason).toMatch(/^read 1 DM exchange\(s\), then stopped: \d+ byte\(s\) missing from the capture at stream offset \d+/);
  });

  it('lists TLS and non-DM streams as skipped, with the reason', () => {
    const tls = conversation({ client: '10.0.0.3', server: '10.0.0.1', cport: 40003, sport: 443, turns: [{ up: new Uint8Array([0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0]), down: new Uint8Array([0x16, 3, 3, 0, 2, 2, 0]) }] });
    const web = conversation({ client: '10.0.0.4', server: '10.0.0.1', cport: 40004, sport: 80, turns: [{ up: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', down: 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi' }] });
    const r = importCapture(pcapOf('ethernet', [...tls, ...web]));
    expect(r.sessions).toEqual([]);
    expect(r.skipped).toEqual([
      { stream: '10.0.0.3:40003 -> 10.0.0.1:443', reason: 'TLS: encrypted, not decodable' },
      { stream: '10.0.0.4:40004 -> 10.0.0.1:80', reason: 'no DM messages (HTTP, 1 request(s))' },
    ]);
  });

  it('groups by DevId and SessionID: two sessions on one keep-alive connection; a RespURI request on a new connection stays in its session', () => {
    const s1 = oneSession('IMEI:1', '1');
    const s2 = oneSession('IMEI:1', '2');
    const c1 = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40010, sport: 80, turns: [{ up: post(s1[0]!), down: ok(s1[1]!) }, { up: post(s2[0]!), down: ok(s2[1]!) }] });
    const c2 = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40011, sport: 80, turns: [{ up: post(s1[2]!), down: ok(s1[3]!) }, { up: post(s2[2]!, 'application/vnd.syncml.dm+xml'), down: ok(s2[3]!) }] });
    const r = importCapture(pcapOf('ethernet', [...c1, ...c2]));
    expect(r.sessions.map((s) => [s.dmSessionId, s.messages.map((m) => m.msgId).join(',')])).toEqual([['1', '1,1,2,2'], ['2', '1,1,2,2']]);
  });
});

describe('capture import: credentials', () => {
  const nonce = new Uint8Array(Buffer.from('server-nonce-1'));
  const b64 = Buffer.from(nonce).toString('base64');
  const chal = `<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><TargetRef>${SERVER_URL}</TargetRef><SourceRef>IMEI:9</SourceRef><Chal><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-md5</Type><NextNonce xmlns="syncml:metinf">${b64}</NextNonce></Meta></Chal><Data>401</Data></Status>`;
  const cred = (data: string) => `<Cred><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-md5</Type></Meta><Data>${data}</Data></Cred>`;

  function capture(secret: string) {
    const m1 = dmXml({ sid: '5', msg: '1', dev: 'IMEI:9', fromClient: true, hdrExtra: cred('AAAA') });
    const m2 = dmXml({ sid: '5', msg: '1', dev: 'IMEI:9', fromClient: false, body: chal });
    const m3 = dmXml({ sid: '5', msg: '2', dev: 'IMEI:9', fromClient: true, hdrExtra: cred(md5Credential('lab', secret, nonce)) });
    const m4 = dmXml({ sid: '5', msg: '2', dev: 'IMEI:9', fromClient: false });
    const m5 = dmXml({ sid: '5', msg: '3', dev: 'IMEI:9', fromClient: true });
    const hmac = `x-syncml-hmac: ${hmacHeader('lab', secret, nonce, m5)}\r\n`;
    return pcapOf('ethernet', conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40020, sport: 80, turns: [{ up: post(m1), down: ok(m2) }, { up: post(m3), down: ok(m4) }, { up: post(m5, undefined, hmac), down: ok(m4) }] }));
  }

  it('marks each MD5 credential and HMAC valid or not with the nonce issued in the capture, and says when the nonce came before it', () => {
    const good = importCapture(capture('pw'), { client: { name: 'lab', secret: 'pw' } }).sessions[0]!.messages;
    expect(good.map((m) => m.note)).toEqual([
      'client MD5 credential not checked: its nonce was issued before the capture started', null,
      'client MD5 credential for "lab": valid', null,
      'client HMAC for "lab": valid', null,
    ]);
    const bad = importCapture(capture('wrong'), { client: { name: 'lab', secret: 'pw' } }).sessions[0]!.messages;
    expect(bad[2]!.note).toBe('client MD5 credential for "lab": INVALID');
    expect(bad[4]!.note).toBe('client HMAC for "lab": INVALID');
    // Without credentials nothing is noted.
    expect(importCapture(capture('pw')).sessions[0]!.messages.every((m) => m.note === null)).toBe(true);
  });
});

describe('capture import: broken and hostile files', () => {
  const good = pcapOf('ethernet', conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40030, sport: 80, turns: turnsOf(oneSession()) }));
  const pcapng = sessionsToPcapng([{ messages: [{ direction: 'in', at: '2026-01-01T00:00:00Z', bytes: oneSession()[0]!, contentType: null, httpStatus: null, label: 'x' }] }], { comment: 'c', application: 'a' });

  function offsetOf(f: () => unknown): number {
    try {
      f();
    } catch (e) {
      if (e instanceof CaptureError) return e.offset;
      throw e;
    }
    throw new Error('no CaptureError');
  }

  it('names the offset of a cut-off pcap record, an oversized record length and an unknown magic', () => {
    expect(offsetOf(() => importCapture(good.subarray(0, good.length - 3)))).toBeGreaterThan(24);
    const huge = new Uint8Array(good);
    new DataView(huge.buffer).setUint32(24 + 8, 0x7fffffff, true);
    expect(offsetOf(() => importCapture(huge))).toBe(24);
    expect(offsetOf(() => importCapture(new Uint8Array([1, 2, 3, 4, 5])))).toBe(0);
  });

  it('names the offset of a pcapng block whose length runs past the file or disagrees with its trailer', () => {
    expect(offsetOf(() => importCapture(pcapng.subarray(0, pcapng.length - 8)))).toBeGreaterThan(0);
    const bad = new Uint8Array(pcapng);
    bad[bad.length - 4] = bad[bad.length - 4]! ^ 0x04; // trailing length of the last block
    expect(offsetOf(() => importCapture(bad))).toBe(bad.length - 4);
  });

  it('stores a file in one transaction: a failure in the middle leaves no session behind', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-capture-'));
    try {
      const store = ServerStore.open(dir);
      const m = { direction: 'in' as const, at: 1, bytes: new Uint8Array([1]) };
      expect(() => store.importSessions([
        { device: 'a', dmSessionId: '1', encoding: null, authType: null, messages: [m] },
        { device: 'b', dmSessionId: '2', encoding: null, authType: null, messages: [{ ...m, direction: 'sideways' as 'in' }] },
      ], 'imported from x.pcap')).toThrow();
      expect(store.sessions()).toEqual([]);
      const ids = store.importSessions([{ device: 'a', dmSessionId: '1', encoding: 'xml', authType: null, messages: [m, { ...m, direction: 'out', at: 5 }] }], 'imported from x.pcap');
      expect(store.session(ids[0]!)).toMatchObject({ state: 'imported', reason: 'imported from x.pcap', startedAt: new Date(1).toISOString(), endedAt: new Date(5).toISOString(), messageCount: 2 });
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('capture import: hostile files (fuzz)', () => {
  it('damaged pcap and pcapng files give sessions or a CaptureError with an offset inside the file, nothing else', () => {
    const msgs = oneSession();
    const seeds = [
      pcapOf('ethernet', conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40040, sport: 80, turns: turnsOf(msgs) })),
      pcapOf('sll2', conversation({ v6: true, client: 'fd00::2', server: 'fd00::1', cport: 40041, sport: 80, turns: turnsOf(msgs) }), { le: false, nanos: true }),
      sessionsToPcapng([{ messages: msgs.map((b, i) => ({ direction: i % 2 ? 'out' as const : 'in' as const, at: '2026-01-01T00:00:00Z', bytes: b, contentType: null, httpStatus: 200, label: 'x' })) }], { comment: 'c', application: 'a' }),
    ];
    const interesting = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x30];
    const rnd = prng(18_4);
    let errors = 0;
    for (let i = 0; i < 1200; i++) {
      const src = seeds[i % seeds.length]!;
      // Half of them keep every length, so the damage reaches the IP, TCP, HTTP and DM layers.
      const input = mutateBytes(src, seeds, rnd, interesting, { keepLength: i % 2 === 1 });
      try {
        importCapture(input);
      } catch (e) {
        if (!(e instanceof CaptureError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`);
        expect(e.offset).toBeGreaterThanOrEqual(0);
        expect(e.offset).toBeLessThanOrEqual(input.length);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(10);
  });
});

describe('pcapng export: refused requests', () => {
  it('writes the bare HTTP refusal after a request whose status was logged on it, and reads it back onto the request', () => {
    const [a, b] = oneSession('IMEI:5', '4');
    const file = sessionsToPcapng([{ messages: [
      { direction: 'in', at: '2026-01-01T00:00:00Z', bytes: a!, contentType: null, httpStatus: 403, label: 'refused' },
      { direction: 'in', at: '2026-01-01T00:00:01Z', bytes: a!, contentType: null, httpStatus: null, label: 'again' },
      { direction: 'out', at: '2026-01-01T00:00:02Z', bytes: b!, contentType: null, httpStatus: 200, label: 'answer' },
    ] }], { comment: 'c', application: 'a' });
    expect(Buffer.from(file).includes(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'))).toBe(true);
    const m = importCapture(file).sessions.flatMap((s) => s.messages);
    expect(m.map((x) => [x.direction, x.httpStatus])).toEqual([['in', 403], ['in', null], ['out', 200]]);
  });
});

describe('capture import: RespURI', () => {
  it('puts a request that cannot be decoded into the session whose RespURI it was sent to', () => {
    const dev = 'IMEI:7';
    const m1 = dmXml({ sid: '9', msg: '1', dev, fromClient: true });
    const withResp = new TextEncoder().encode(new TextDecoder().decode(dmXml({ sid: '9', msg: '1', dev, fromClient: false })).replace('</Source>', '</Source><RespURI>http://127.0.0.1:8080/dm?s=9</RespURI>'));
    const garbage = new TextEncoder().encode('<SyncML><not-closed');
    const other = oneSession('IMEI:8', '3');
    const c1 = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40050, sport: 8080, turns: [{ up: post(m1), down: ok(withResp) }] });
    // The other device talks on the connection the broken request later uses.
    const c2 = conversation({ client: '10.0.0.2', server: '10.0.0.1', cport: 40051, sport: 8080, turns: [{ up: post(other[0]!), down: ok(other[1]!) }, { up: cat(new TextEncoder().encode(`POST /dm?s=9 HTTP/1.1\r\nContent-Type: application/vnd.syncml.dm+xml\r\nContent-Length: ${garbage.length}\r\n\r\n`), garbage) }] });
    const r = importCapture(pcapOf('ethernet', [...c1, ...c2]));
    expect(r.sessions.map((s) => [s.device, s.messages.length])).toEqual([['IMEI:7', 3], ['IMEI:8', 2]]);
    expect(Buffer.from(r.sessions[0]!.messages[2]!.bytes).toString()).toBe('<SyncML><not-closed');
  });
});
