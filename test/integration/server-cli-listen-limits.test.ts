/**
 * `dmw server --max-connections / --max-body-in-flight / --headers-timeout / --request-timeout`:
 * the listener's own bounds as flags (a real server process). A body that does not fit beside one
 * held gets HTTP 503 naming the limit; a request too slow gets HTTP 408 naming the timeouts set; a
 * value that could never work is exit 2 with one line; a larger --max-body alone still starts.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { dmw, dmwLab } from '../helpers/dmw-servers.js';
import { post } from '../helpers/hostile.js';

const { tmp, startServer } = dmwLab('dmw-cli-listen-');

/** Sends `text` on a raw connection and gives back what came until the server closed it. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(text));
    let got = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (got += d));
    c.on('error', () => undefined);
    c.on('close', () => resolve(got));
  });
}

describe('dmw server --max-body-in-flight / --max-connections', () => {
  it('holds at most --max-body-in-flight bytes of bodies: one that does not fit is refused unread (503, Retry-After, the limit named)', async () => {
    const srv = await startServer(tmp(), ['--max-body', '4000', '--max-body-in-flight', '5000']);
    // A client that declared 4,000 bytes and sent 10 holds its share.
    const slow = net.connect(srv.port, '127.0.0.1');
    slow.on('error', () => undefined);
    await new Promise<void>((r) => slow.once('connect', () => r()));
    slow.write('POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+xml\r\nContent-Length: 4000\r\n\r\n' + 'x'.repeat(10));
    try {
      await new Promise((r) => setTimeout(r, 100));
      const refused = await post(srv.dmUrl, new Uint8Array(2000).fill(0x20));
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(Buffer.from(refused.body).toString()).toBe("the server holds 4000 bytes of other requests' bodies; this one's 2000 would pass maxBodyBytesInFlight (5000): nothing of it was read, send it again in 1 s\n");
      // One that fits is read and answered as any other (here: not a SyncML message, 400).
      expect((await post(srv.dmUrl, new Uint8Array(900).fill(0x20))).status).toBe(400);
    } finally {
      slow.destroy();
    }
  });

  it('a larger --max-body alone still starts (the bodies in flight follow it)', async () => {
    const srv = await startServer(tmp(), ['--max-body', String(100 * 1024 * 1024)]);
    expect((await post(srv.dmUrl, new Uint8Array(10).fill(0x20))).status).toBe(400);
  });

  it('refuses values that could never work (exit 2, one line)', async () => {
    for (const flag of ['--max-connections', '--max-body-in-flight']) {
      const r = await dmw(['server', '--port', '0', '--data', tmp(), flag, '0']);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`dmw: ${flag} must be a positive integer, got "0"\n`);
    }
    const small = await dmw(['server', '--port', '0', '--data', tmp(), '--max-body', '2000', '--max-body-in-flight', '1000']);
    expect(small.code).toBe(2);
    expect(small.err).toBe('dmw: --max-body-in-flight (1000) must be at least --max-body (2000), or no body of the largest size could ever be read\n');
  });

  it('closes a connection beyond --max-connections as it is accepted', async () => {
    const srv = await startServer(tmp(), ['--max-connections', '1']);
    const first = net.connect(srv.port, '127.0.0.1');
    first.on('error', () => undefined);
    await new Promise<void>((r) => first.once('connect', () => r()));
    try {
      const second = net.connect(srv.port, '127.0.0.1');
      second.on('error', () => undefined);
      let got = '';
      second.on('data', (d: Buffer) => (got += d.toString()));
      await new Promise<void>((r) => second.once('close', () => r()));
      expect(got).toBe('');
    } finally {
      first.destroy();
    }
  });
});

describe('dmw server --headers-timeout / --request-timeout', () => {
  it('a request too slow gets HTTP 408 naming both as set, and its connection closed', async () => {
    const srv = await startServer(tmp(), ['--headers-timeout', '1', '--request-timeout', '2']);
    const got = await rawExchange(srv.port, 'POST /dm HTTP/1.1\r\nHost: x\r\n');
    const [head = '', body] = got.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(body).toBe('the request was not complete in time: its headers within 1 s, all of it within 2 s\n');
  });

  it('refuses timeouts that could never work (exit 2, one line naming the flag and the value, or both flags)', async () => {
    for (const [flag, bad] of [['--headers-timeout', '0'], ['--request-timeout', '1.5']] as const) {
      const r = await dmw(['server', '--port', '0', '--data', tmp(), flag, bad]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`dmw: ${flag} must be a positive integer, got "${bad}"\n`);
    }
    const both = await dmw(['server', '--port', '0', '--data', tmp(), '--headers-timeout', '60', '--request-timeout', '30']);
    expect(both.code).toBe(2);
    expect(both.err).toBe("dmw: --headers-timeout (60) must not exceed --request-timeout (30): the request's time includes its headers\n");
    const pastDefault = await dmw(['server', '--port', '0', '--data', tmp(), '--headers-timeout', '121']);
    expect(pastDefault.code).toBe(2);
    expect(pastDefault.err).toBe("dmw: --headers-timeout (121) must not exceed --request-timeout (120): the request's time includes its headers\n");
  });

  it('a shorter --request-timeout alone still starts (the headers timeout follows it down)', async () => {
    const srv = await startServer(tmp(), ['--request-timeout', '1']);
    const got = await rawExchange(srv.port, 'POST /dm HTTP/1.1\r\nHost: x\r\n');
    expect(got.split('\r\n\r\n')[1]).toBe('the request was not complete in time: its headers within 1 s, all of it within 1 s\n');
  });
});
