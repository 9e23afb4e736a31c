/**
 * The handset's HTTP client (main/client/transport.ts) against a server that closes a kept-alive
 * connection under the next request: what a server's keep-alive timeout does to an idle socket
 * that a busy client reuses before it has seen the FIN. The bench's 1,000 concurrent sessions lost
 * a few dozen to 'socket hang up' that way.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Transport } from '../../main/client/transport.js';

const answer = (body: string) => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n${body}`;

/** Answers the first request of every connection and drops the connection at its second. */
async function oneRequestPerConnection(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let requests = 0;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // One small POST per write here: a request is complete once its body (5 bytes) is in.
      while (buf.includes('\r\n\r\n') && buf.length >= buf.indexOf('\r\n\r\n') + 4 + 5) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4 + 5);
        requests++;
        if (requests === 1) sock.write(answer(`c${connections}`));
        else sock.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dm`,
    connections: () => connections,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe('Transport: a kept-alive socket the server closed', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });

  it('sends the request again on a new connection instead of failing with socket hang up', async () => {
    const srv = await oneRequestPerConnection();
    cleanup.push(srv.close);
    const t = new Transport({ maxSockets: 1 });
    cleanup.push(() => t.close());
    const body = new TextEncoder().encode('hello');
    const first = await t.post(srv.url, body, { 'content-type': 'text/plain' });
    expect(Buffer.from(first.body).toString()).toBe('c1');
    // The same socket, idle past a second (as an idle socket the server's keep-alive timeout
    // closes is), is reused; the server drops it under the request: a second connection answers.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await t.post(srv.url, body, { 'content-type': 'text/plain' });
    expect(second.status).toBe(200);
    expect(Buffer.from(second.body).toString()).toBe('c2');
    expect(srv.connections()).toBe(2);
  });

  it('does not send again when a socket used a moment ago is dropped under the request (the server read it)', async () => {
    const srv = await oneRequestPerConnection();
    cleanup.push(srv.close);
    const t = new Transport({ maxSockets: 1 });
    cleanup.push(() => t.close());
    const body = new TextEncoder().encode('hello');
    await t.post(srv.url, body, {});
    await expect(t.post(srv.url, body, {})).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(srv.connections()).toBe(1);
  });

  it('does not send again on a fresh connection that fails', async () => {
    // A server that accepts and drops every connection: the first send was not on a reused socket.
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(() => r(undefined))));
    const t = new Transport();
    cleanup.push(() => t.close());
    await expect(t.post(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dm`, new Uint8Array(5), {})).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(connections).toBe(1);
  });
});

describe('Transport: the path a request goes to', () => {
  it('posts to every RespURI of an origin as URL parsing would, dot segments and queries included', async () => {
    const seen: string[] = [];
    const server = (await import('node:http')).createServer((req, res) => {
      seen.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const t = new Transport();
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const path of ['/dm', '/dm/s/12-0af3', '/dm/s/13-77aa', '/dm/a/../b', '/dm/./c', '/dm/s/x?y=1', '/dm/%41b', '/']) {
        await t.post(`${origin}${path}`, new Uint8Array(1), {});
      }
      expect(seen).toEqual(['/dm', '/dm/s/12-0af3', '/dm/s/13-77aa', '/dm/b', '/dm/c', '/dm/s/x?y=1', '/dm/%41b', '/']);
    } finally {
      t.close();
      await new Promise((r) => server.close(r));
    }
  });
});
