/**
 * The test balancer (test/helpers/rr-proxy.ts) itself: with a keep-alive client (as the virtual
 * handset's transport), consecutive requests alternate between backends in request mode and stay
 * on one in connection mode; a dead backend is skipped; a backend that dies mid-answer breaks the
 * client's connection. Loopback only.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { completeAnswer, startRoundRobinProxy, type RoundRobinProxy } from '../helpers/rr-proxy.js';
import { Transport } from '../../main/client/transport.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function backend(name: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler ?? ((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`${name}:${n}`));
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  closers.push(close);
  return { port, close };
}

async function proxy(ports: number[], mode?: 'request' | 'connection'): Promise<RoundRobinProxy> {
  const p = await startRoundRobinProxy(ports, mode ? { mode } : {});
  closers.push(() => p.close());
  return p;
}

describe('round-robin proxy (test helper)', () => {
  it('request mode: one keep-alive client\'s requests alternate between backends', async () => {
    const [a, b, c] = [await backend('a'), await backend('b'), await backend('c')];
    const p = await proxy([a.port, b.port, c.port]);
    const t = new Transport();
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(Buffer.from((await t.post(p.url('/dm'), new Uint8Array(i + 1), {})).body).toString());
    t.close();
    expect(seen).toEqual(['a:1', 'b:2', 'c:3', 'a:4', 'b:5', 'c:6']);
    expect(p.stats().map((s) => s.requests)).toEqual([2, 2, 2]);
    expect(p.routed.map((r) => r.backend)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('connection mode: a keep-alive client stays on one backend (why request mode is the default)', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const p = await proxy([a.port, b.port], 'connection');
    const t = new Transport({ maxSockets: 1 });
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(Buffer.from((await t.post(p.url('/dm'), new Uint8Array(1), {})).body).toString());
    t.close();
    expect(new Set(seen).size).toBe(1);
  });

  it('skips a backend that refuses connections; 502 only when none listens', async () => {
    const a = await backend('a');
    const dead = await backend('dead');
    await dead.close();
    const p = await proxy([dead.port, a.port]);
    const t = new Transport();
    for (let i = 0; i < 3; i++) expect(Buffer.from((await t.post(p.url('/dm'), new Uint8Array(1), {})).body).toString()).toBe('a:1');
    expect(p.stats()[0]!.refused).toBeGreaterThan(0);
    await a.close();
    expect((await t.post(p.url('/dm'), new Uint8Array(1), {})).status).toBe(502);
    t.close();
  });

  it('a backend that dies before answering in full breaks the client\'s connection (the device sends again)', async () => {
    const a = await backend('a', (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const p = await proxy([a.port]);
    const t = new Transport();
    await expect(t.post(p.url('/dm'), new Uint8Array(1), {})).rejects.toThrow();
    t.close();
  });

  it('frames chunked and close-delimited answers', () => {
    const chunked = Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEXT');
    expect(completeAnswer(chunked, false)).toBe(chunked.length - 4);
    expect(completeAnswer(chunked.subarray(0, 50), false)).toBeUndefined();
    const closed = Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody');
    expect(completeAnswer(closed, false)).toBeUndefined();
    expect(completeAnswer(closed, true)).toBe(closed.length);
  });
});
