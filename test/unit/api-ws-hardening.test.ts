/**
 * The browser backend's listener (main/api/ws-server.ts) against hostile and broken clients, over raw
 * TCP where a browser or fetch would not send such requests: malformed paths are 400 and the process
 * lives (a `GET /%` used to throw URIError out of the handler, `//` as an upgrade a TypeError), a Host
 * that is not the loopback address it bound to is 421 (DNS rebinding), a protocol violation on an open
 * WebSocket closes that socket only; and its event stream: a UI that stops reading is dropped with a
 * last message and close code 4001 while its buffer stays bounded, and `?lastEventId=` resumes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { Backend } from '../../main/api/backend.js';
import { startUiServer, WS_CLOSE_FELL_BEHIND, type UiServer } from '../../main/api/ws-server.js';
import { checkHost, hostNames, parseRequestTarget } from '../../main/api/http-guard.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A backend with no handlers whose events the test emits. */
function fakeBackend() {
  const listeners = new Set<(name: string, payload: unknown) => void>();
  const backend = {
    handlers: {} as Backend['handlers'],
    onEvent(fn: (name: string, payload: unknown) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  } as unknown as Pick<Backend, 'handlers' | 'onEvent'>;
  return { backend, emit: (name: string, payload: unknown) => { for (const fn of listeners) fn(name, payload); } };
}

async function start(events?: { backlogEvents?: number; subscriberBytes?: number }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-ui-static-'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>dmw</title>');
  const fake = fakeBackend();
  const ui = await startUiServer({ backend: fake.backend, staticDir: dir, port: 0, ...(events ? { events } : {}) });
  cleanup.push(async () => {
    await ui.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { ui, emit: fake.emit };
}

/** Sends `text` on a fresh connection and reads until the server closes it (or 10 s). */
function raw(port: number, text: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.setEncoding('latin1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to ${JSON.stringify(text.split('\r\n')[0])} within 10 s; got ${JSON.stringify(buf)}`));
    }, 10_000);
    s.on('data', (d: string) => (buf += d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      resolve({ status: m ? Number(m[1]) : 0, text: buf });
    });
  });
}

const get = (port: number, target: string, host = `127.0.0.1:${port}`) => raw(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

function upgrade(ui: UiServer, target: string, o: { host?: string; origin?: string } = {}) {
  return raw(ui.port, `GET ${target} HTTP/1.1\r\nHost: ${o.host ?? `127.0.0.1:${ui.port}`}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: ${o.origin ?? `http://127.0.0.1:${ui.port}`}\r\n\r\n`);
}

interface Client {
  ws: WebSocket;
  got: any[];
  closed: { code: number; reason: string } | undefined;
  until(what: string, pred: () => boolean, ms?: number): Promise<void>;
}

function connect(ui: UiServer, query = ''): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ui.port}/api?token=${encodeURIComponent(ui.token)}${query}`, { headers: { origin: `http://127.0.0.1:${ui.port}` } });
    const c: Client = {
      ws, got: [], closed: undefined,
      async until(what, pred, ms = 15_000) {
        const deadline = Date.now() + ms;
        while (!pred()) {
          if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; got ${JSON.stringify(c.got.map((m) => m.t)).slice(0, 300)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      },
    };
    ws.on('message', (d) => c.got.push(JSON.parse(String(d))));
    ws.on('close', (code, reason) => (c.closed = { code, reason: String(reason) }));
    ws.on('error', () => undefined);
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    cleanup.push(() => ws.terminate());
  });
}

/** One call through the real dispatch: the backend still answers. */
async function answers(ui: UiServer): Promise<void> {
  const c = await connect(ui);
  c.ws.send(JSON.stringify({ t: 'call', id: 7, channel: 'no.such.channel', input: {} }));
  await c.until('reply', () => c.got.some((m) => m.t === 'reply'));
  expect(c.got.find((m) => m.t === 'reply')).toMatchObject({ id: 7, reply: { ok: false, error: { code: 'bad-channel' } } });
  c.ws.close();
}

describe('browser backend: malformed requests', () => {
  it.each(['/%', '/%zz', '/%E0%A4%A', '//', '/%FF', '/a%00b', '/index.html%2', '//index.html', '/assets//x.js', 'index.html', '*'])(
    'GET %s is 400 and the server still serves the UI afterwards', async (target) => {
      const { ui } = await start();
      const r = await get(ui.port, target);
      expect(r.status).toBe(400);
      expect(r.text).not.toMatch(/\n\s+at /); // no stack trace
      expect((await get(ui.port, '/')).status).toBe(200);
    });

  it('`//` and a bad escape as WebSocket upgrades are 400, and the WebSocket still works', async () => {
    const { ui } = await start();
    expect((await upgrade(ui, `//?token=${ui.token}`)).status).toBe(400);
    expect((await upgrade(ui, '//')).status).toBe(400);
    expect((await upgrade(ui, `/%?token=${ui.token}`)).status).toBe(400);
    expect((await upgrade(ui, `/api?token=${ui.token}&lastEventId=x`)).status).toBe(400);
    expect((await upgrade(ui, '/api?token=wrong')).status).toBe(403);
    await answers(ui);
  });

  it('a request line Node cannot parse is 400; a frame the WebSocket protocol forbids closes that socket only', async () => {
    const { ui } = await start();
    expect((await raw(ui.port, 'BLAH\r\n\r\n')).status).toBe(400);
    expect((await raw(ui.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\nContent-Length: x\r\n\r\n`)).status).toBe(400);
    expect((await raw(ui.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`)).status).toBe(431);
    const c = await connect(ui);
    // A text frame with a reserved opcode (0x3), masked as a client's must be.
    (c.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    await c.until('closed', () => c.closed !== undefined);
    const big = await connect(ui);
    (big.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x81, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])); // a 2 GB frame
    await big.until('closed', () => big.closed !== undefined);
    await answers(ui);
  });
});

describe('browser backend: Host', () => {
  it('only the loopback address and name it bound to, with its port (DNS rebinding gets 421)', async () => {
    const { ui } = await start();
    expect((await get(ui.port, '/')).status).toBe(200);
    expect((await get(ui.port, '/', `localhost:${ui.port}`)).status).toBe(200);
    expect((await get(ui.port, '/', `LOCALHOST:${ui.port}`)).status).toBe(200);
    expect((await get(ui.port, '/', `evil.example:${ui.port}`)).status).toBe(421);
    expect((await get(ui.port, '/', 'evil.example')).status).toBe(421);
    expect((await get(ui.port, '/', `127.0.0.1:${ui.port + 1}`)).status).toBe(421);
    expect((await get(ui.port, '/', '127.0.0.1')).status).toBe(421);
    expect((await raw(ui.port, 'GET / HTTP/1.0\r\n\r\n')).status).toBe(400);
    // The upgrade too, even with the right token and an Origin that matches the Host.
    const evil = `evil.example:${ui.port}`;
    expect((await upgrade(ui, `/api?token=${ui.token}`, { host: evil, origin: `http://${evil}` })).status).toBe(421);
    await answers(ui);
  });

  it('host names and request targets, checked as values', () => {
    expect(hostNames('127.0.0.1', 4780)).toEqual(['127.0.0.1:4780', 'localhost:4780']);
    expect(hostNames('::1', 4780)).toEqual(['[::1]:4780', 'localhost:4780']);
    expect(hostNames('127.0.0.1', 80)).toEqual(['127.0.0.1:80', '127.0.0.1', 'localhost:80', 'localhost']);
    expect(checkHost('evil.example', new Set(['127.0.0.1:1']))).toMatchObject({ ok: false, status: 421 });
    expect(parseRequestTarget('/%E0%A4%A')).toEqual({ ok: false, status: 400, reason: 'malformed %-escape at character 8 of the path' });
    expect(parseRequestTarget('/a/%FF')).toEqual({ ok: false, status: 400, reason: '%-escaped bytes at character 4 of the path are not UTF-8' });
    expect(parseRequestTarget('/a//b')).toMatchObject({ ok: false, reason: 'empty path segment ("//") at character 3' });
    const ok = parseRequestTarget('/assets/%C3%A9.js?x=1');
    expect(ok.ok && ok.value.path).toBe('/assets/é.js');
    expect(ok.ok && ok.value.query.get('x')).toBe('1');
  });
});

describe('browser backend: the UI\'s event stream', () => {
  it('a UI that stops reading: its buffer stays bounded, then it gets a last `dropped` message and close code 4001', async () => {
    const subscriberBytes = 64 * 1024;
    const { ui, emit } = await start({ backlogEvents: 64, subscriberBytes });
    const stalled = await connect(ui);
    const reader = await connect(ui);
    await stalled.until('ready', () => stalled.got.length === 1);
    expect(stalled.got[0]).toMatchObject({ t: 'ready', resumed: false });
    (stalled.ws as unknown as { _socket: net.Socket })._socket.pause();
    const payload = { detail: 'x'.repeat(16 * 1024) };
    const events = 1200;
    const bound = subscriberBytes + 2 * (payload.detail.length + 512);
    for (let i = 0; i < events; i++) {
      emit('server.status', { n: i, ...payload });
      if (i % 50 === 49) {
        await new Promise((r) => setImmediate(r));
        for (const s of ui.eventStats().subscribers) {
          expect(s.queuedBytes).toBeLessThanOrEqual(bound);
          expect(s.bufferedBytes).toBeLessThanOrEqual(bound);
        }
        await reader.until('the reader keeps up', () => reader.got.length >= i + 1 - 64);
      }
    }
    await reader.until('every event', () => reader.got.length === events + 1);
    expect(ui.eventStats().subscribers).toHaveLength(1);
    (stalled.ws as unknown as { _socket: net.Socket })._socket.resume();
    await stalled.until('closed', () => stalled.closed !== undefined);
    expect(stalled.closed!.code).toBe(WS_CLOSE_FELL_BEHIND);
    const last = stalled.got.at(-1);
    expect(last).toMatchObject({ t: 'dropped' });
    expect(last.reason).toMatch(/fell behind/);
    const delivered = stalled.got.filter((m) => m.t === 'event');
    expect(delivered.length).toBeLessThan(events);
    expect(last.lastEventId).toBe(delivered.at(-1).id);
    await answers(ui);
  }, 60_000);

  it('?lastEventId= resumes with exactly the missed events, then live ones; too old an id gets a `gap` message', async () => {
    const { ui, emit } = await start({ backlogEvents: 10 });
    const a = await connect(ui);
    emit('server.status', { n: 1 });
    emit('server.status', { n: 2 });
    await a.until('2 events', () => a.got.length === 3);
    const last = a.got.at(-1).id as number;
    a.ws.close();
    await a.until('closed', () => a.closed !== undefined);
    emit('server.status', { n: 3 });
    emit('jobs.changed', { n: 4 });
    const b = await connect(ui, `&lastEventId=${last}`);
    await b.until('missed', () => b.got.length === 3);
    expect(b.got[0]).toEqual({ t: 'ready', lastEventId: last, resumed: true });
    expect(b.got.slice(1)).toEqual([
      { t: 'event', id: last + 1, name: 'server.status', payload: { n: 3 } },
      { t: 'event', id: last + 2, name: 'jobs.changed', payload: { n: 4 } },
    ]);
    emit('server.status', { n: 5 });
    await b.until('live', () => b.got.length === 4);
    expect(b.got[3]).toMatchObject({ id: last + 3, payload: { n: 5 } });
    for (let n = 6; n < 20; n++) emit('server.status', { n });
    const c = await connect(ui, `&lastEventId=${last}`);
    await c.until('backlog', () => c.got.filter((m) => m.t === 'event').length === 10);
    expect(c.got[1]).toMatchObject({ t: 'gap', lastEventId: last });
    expect(c.got[2]).toMatchObject({ t: 'event', payload: { n: 10 } });
  });
});
