/**
 * Event streams with bounded subscribers (main/server/event-backlog.ts) and the management API's
 * server-sent events on them (main/server/api/sse.ts): a subscriber that never reads is dropped with
 * a last `dropped` event while what the server buffers for it stays bounded, and a client that
 * reconnects with Last-Event-ID gets exactly what it missed, or a `gap` event.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/server.js';
import { attachApi, buildAuthConfig } from '../../main/server/api/index.js';
import { EventBacklog, type BacklogEntry, type DropNotice, type EventSink } from '../../main/server/event-backlog.js';
import type { ServerEvent } from '../../main/server/events.js';
import { sseReader } from '../helpers/dmw-servers.js';

const OP = 'operator-token-0123456789';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A sink whose socket takes nothing until `flush()`. */
function stalledSink(accepts: (m: string) => boolean = () => true) {
  const pending: Array<{ e: BacklogEntry<string>; done: () => void }> = [];
  const got: number[] = [];
  let dropped: DropNotice | undefined;
  const sink: EventSink<string> = {
    accepts,
    write(e, done) {
      pending.push({ e, done });
      got.push(e.id);
      return e.bytes;
    },
    drop(n) {
      expect(dropped).toBeUndefined();
      dropped = n;
    },
    bufferedBytes: () => pending.reduce((a, p) => a + p.e.bytes, 0),
  };
  return {
    sink, got, pending,
    get dropped() {
      return dropped;
    },
    flush() {
      for (const p of pending.splice(0)) p.done();
    },
  };
}

describe('EventBacklog', () => {
  it('numbers events, keeps the last N, and starts a new subscriber live', () => {
    const b = new EventBacklog<string>({ backlogEvents: 4 }, 100);
    expect(b.newestId).toBe(99);
    for (let i = 0; i < 6; i++) expect(b.publish('t', `e${i}`)).toBe(100 + i);
    expect(b.stats()).toMatchObject({ events: 4, oldestId: 102, newestId: 105 });
    const s = stalledSink();
    const sub = b.subscribe(s.sink);
    expect(sub.resume).toEqual({ kind: 'live', after: 105 });
    sub.start();
    expect(s.got).toEqual([]);
    b.publish('t', 'e6');
    expect(s.got).toEqual([106]);
  });

  it('also bounds the backlog by bytes, but always keeps the newest event', () => {
    const b = new EventBacklog<string>({ backlogEvents: 100, backlogBytes: 10 }, 1);
    b.publish('t', '12345');
    b.publish('t', '12345');
    expect(b.stats()).toMatchObject({ events: 2, bytes: 10 });
    b.publish('t', '1');
    expect(b.stats()).toMatchObject({ events: 2, bytes: 6, oldestId: 2 });
    b.publish('t', 'x'.repeat(50));
    expect(b.stats()).toMatchObject({ events: 1, bytes: 50, oldestId: 4, newestId: 4 });
  });

  it('resumes after a Last-Event-ID with exactly the missed events (filtered), or says there is a gap', () => {
    const b = new EventBacklog<string>({ backlogEvents: 5 }, 1);
    for (const t of ['a', 'b', 'a', 'b', 'a']) b.publish(t, t);
    const s = stalledSink((m) => m === 'a');
    const sub = b.subscribe(s.sink, 2);
    expect(sub.resume).toEqual({ kind: 'resumed', after: 2 });
    sub.start();
    expect(s.got).toEqual([3, 5]);
    expect(b.resumePoint(5)).toEqual({ kind: 'resumed', after: 5 });
    b.publish('a', 'a'); // id 6: the backlog now holds 2..6
    expect(b.resumePoint(1)).toEqual({ kind: 'resumed', after: 1 });
    expect(b.resumePoint(0)).toEqual({ kind: 'gap', after: 1, lastEventId: 0, oldestId: 2 });
    expect(b.resumePoint(99)).toEqual({ kind: 'unknown', after: 6, lastEventId: 99 });
  });

  it('a subscriber that does not read gets at most subscriberBytes, then is dropped once the backlog has moved past it', () => {
    const b = new EventBacklog<string>({ backlogEvents: 8, subscriberBytes: 30 }, 1);
    const slow = stalledSink();
    const fast = stalledSink();
    const subSlow = b.subscribe(slow.sink);
    const subFast = b.subscribe(fast.sink);
    subSlow.start();
    subFast.start();
    for (let i = 1; i <= 8; i++) {
      b.publish('t', '0123456789'); // 10 bytes each
      fast.flush();
      expect(subSlow.stats().queuedBytes).toBeLessThanOrEqual(30);
    }
    expect(slow.got).toEqual([1, 2, 3]);
    expect(slow.dropped).toBeUndefined(); // event 4, the next it needs, is still kept
    b.publish('t', '0123456789'); // 9: event 1 leaves the backlog (2..9)
    expect(slow.dropped).toBeUndefined();
    b.publish('t', '0123456789'); // 10: 3..10 kept; 4 still there
    b.publish('t', '0123456789'); // 11: 4..11 kept
    expect(slow.dropped).toBeUndefined();
    b.publish('t', '0123456789'); // 12: 5..12; 4 is gone
    expect(slow.dropped).toMatchObject({ lastEventId: 3 });
    expect(slow.dropped!.reason).toMatch(/fell behind/);
    expect(b.stats().subscribers).toHaveLength(1);
    fast.flush();
    expect(fast.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Late acknowledgements of a dropped subscriber change nothing.
    slow.flush();
    b.publish('t', 'x');
    expect(slow.got).toEqual([1, 2, 3]);
  });

  it('a subscriber that catches up is handed the rest as its socket takes it', () => {
    const b = new EventBacklog<string>({ backlogEvents: 100, subscriberBytes: 20 }, 1);
    const s = stalledSink();
    b.subscribe(s.sink).start();
    for (let i = 0; i < 10; i++) b.publish('t', '0123456789');
    expect(s.got).toEqual([1, 2]);
    s.flush();
    expect(s.got).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 5; i++) s.flush();
    expect(s.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s.dropped).toBeUndefined();
  });

  it('refuses limits that are not positive integers, naming the limit', () => {
    expect(() => new EventBacklog({ subscriberBytes: 0 })).toThrow(/subscriberBytes/);
    expect(() => new EventBacklog({ backlogEvents: 1.5 })).toThrow(/backlogEvents/);
  });
});

// --- the API's server-sent events --------------------------------------------------------------

const DEVICE = 'IMEI:356938035643809';

async function setup(events: { backlogEvents?: number; subscriberBytes?: number; backlogBytes?: number }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-sse-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'srvA' });
  const api = attachApi(server, { auth: buildAuthConfig({ apiToken: OP, peers: [], serverId: 'srvA' }), events });
  // The server's side of every API connection, to look at what it buffers.
  const serverSockets = new Set<Socket>();
  const hook = server.httpHook!;
  server.httpHook = (req, res) => {
    if (req.url?.startsWith('/api/v1/events')) serverSockets.add(req.socket);
    return hook(req, res);
  };
  cleanup.push(async () => {
    api.close();
    await server.close();
  });
  let n = 0;
  const emit = (detail: string) => {
    const e: ServerEvent = { type: 'notified', at: new Date().toISOString(), device: DEVICE, ok: true, detail: `${n++} ${detail}` };
    server.bus.emit(e);
  };
  return { server, api, serverSockets, emit, url: `http://127.0.0.1:${server.port}/api/v1/events` };
}

interface Got { id?: string; event: string; data: any }

/** Parses SSE blocks with their id line. */
function blocks(onBlock: (b: Got) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      const id = /^id: (.*)$/m.exec(block)?.[1];
      if (event && data) onBlock({ ...(id !== undefined ? { id } : {}), event, data: JSON.parse(data) });
    }
  };
}

function open(url: string, o: { lastEventId?: string; stalled?: boolean } = {}) {
  const got: Got[] = [];
  let ended = false;
  let status = 0;
  let response: http.IncomingMessage | undefined;
  const headers: Record<string, string> = { authorization: `Bearer ${OP}`, accept: 'text/event-stream' };
  if (o.lastEventId !== undefined) headers['last-event-id'] = o.lastEventId;
  const req = http.get(url, { headers }, (res) => {
    status = res.statusCode ?? 0;
    response = res;
    res.setEncoding('utf8');
    res.on('data', blocks((b) => got.push(b)));
    res.on('end', () => (ended = true));
    res.on('close', () => (ended = true));
    if (o.stalled) {
      res.pause();
      res.socket.pause();
    }
  });
  req.on('error', () => (ended = true));
  cleanup.push(() => req.destroy());
  const until = async (what: string, pred: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; got ${JSON.stringify(got.map((g) => g.event))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    got, until, req,
    get ended() {
      return ended;
    },
    get status() {
      return status;
    },
    resume() {
      response!.socket.resume();
      response!.resume();
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GET /api/v1/events', () => {
  it('subscribers that never read: what the server buffers for each stays bounded, and each is dropped with a last `dropped` event', async () => {
    const subscriberBytes = 64 * 1024;
    const { api, serverSockets, emit, url } = await setup({ backlogEvents: 64, subscriberBytes });
    const stalled = [open(url, { stalled: true }), open(url, { stalled: true }), open(url, { stalled: true })];
    const reader = open(url);
    await reader.until('4 subscribers', () => api.events.stats().subscribers.length === 4 && reader.got.length === 1);
    await stalled[2]!.until('headers', () => stalled.every((s) => s.status === 200));
    const payload = 'x'.repeat(16 * 1024);
    const events = 1200; // 19 MB per subscriber: far more than the kernel's socket buffers hold
    const bound = subscriberBytes + 2 * (payload.length + 512);
    let maxBuffered = 0;
    for (let i = 0; i < events; i++) {
      emit(payload);
      if (i % 50 === 49) {
        await tick();
        for (const sock of serverSockets) maxBuffered = Math.max(maxBuffered, sock.writableLength);
        for (const s of api.events.stats().subscribers) expect(s.queuedBytes).toBeLessThanOrEqual(bound);
        await reader.until('the reader keeps up', () => reader.got.length >= i + 1 - 64);
      }
    }
    expect(maxBuffered).toBeLessThanOrEqual(bound);
    // The one that reads is still there and got everything, in order.
    await reader.until('every event', () => reader.got.length === events + 1);
    expect(api.events.stats().subscribers).toHaveLength(1);
    const ids = reader.got.slice(1).map((g) => Number(g.id));
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    // The stalled ones, once they read again, find the reason as the last event, and the stream ends.
    for (const s of stalled) {
      s.resume();
      await s.until('end', () => s.ended);
      const last = s.got.at(-1)!;
      expect(last.event).toBe('dropped');
      expect(last.id).toBeUndefined();
      expect(last.data.reason).toMatch(/fell behind/);
      const delivered = s.got.filter((g) => g.event === 'notified');
      expect(delivered.length).toBeLessThan(events);
      expect(last.data.lastEventId).toBe(Number(delivered.at(-1)!.id));
    }
  }, 60_000);

  it('a client that reconnects with Last-Event-ID gets exactly the events it missed, then live ones; too old an id gets a `gap` event', async () => {
    const { emit, url } = await setup({ backlogEvents: 20 });
    const first = open(url);
    await first.until('ready', () => first.got.length === 1);
    expect(first.got[0]!.event).toBe('ready');
    for (let i = 0; i < 3; i++) emit('before');
    await first.until('3 events', () => first.got.length === 4);
    const last = first.got.at(-1)!.id!;
    first.req.destroy();
    await first.until('closed', () => first.ended);
    for (let i = 0; i < 5; i++) emit('missed');

    const again = open(url, { lastEventId: last });
    await again.until('5 missed', () => again.got.filter((g) => g.event === 'notified').length === 5);
    expect(again.got[0]).toMatchObject({ event: 'ready', id: last, data: { lastEventId: Number(last), resumed: true } });
    const missed = again.got.filter((g) => g.event === 'notified');
    expect(missed.map((g) => Number(g.id))).toEqual([1, 2, 3, 4, 5].map((k) => Number(last) + k));
    expect(missed.map((g) => g.data.detail)).toEqual(['3 missed', '4 missed', '5 missed', '6 missed', '7 missed']);
    emit('live');
    await again.until('live', () => again.got.at(-1)!.data.detail === '8 live');
    expect(again.got.some((g) => g.event === 'gap')).toBe(false);

    // 30 more: the backlog of 20 no longer reaches back to `last`.
    for (let i = 0; i < 30; i++) emit('later');
    const late = open(url, { lastEventId: last });
    await late.until('backlog', () => late.got.filter((g) => g.event === 'notified').length === 20);
    expect(late.got[1]!.event).toBe('gap');
    expect(late.got[1]!.data).toMatchObject({ lastEventId: Number(last) });
    expect(late.got[1]!.data.message).toMatch(/no longer kept/);
    expect(late.got.filter((g) => g.event === 'notified')[0]!.data.detail).toBe('19 later');

    const bad = open(url, { lastEventId: 'abc' });
    await bad.until('answer', () => bad.status !== 0);
    expect(bad.status).toBe(400);
  });
});
