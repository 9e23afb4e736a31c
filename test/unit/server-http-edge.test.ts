/**
 * The DM listener's answers to requests Node's HTTP parser refuses before they reach the server
 * (main/server/http.ts): each names the bound it broke or the parser's reason, and the byte where
 * the parser stopped, with Node's own statuses (431 headers too large, 408 too slow, 400 otherwise).
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { clientErrorAnswer, listen, type Listener } from '../../main/server/http.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function dmListener(): Promise<Listener> {
  const l = await listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1024, now: Date.now }, {
    onBody: () => ({ status: 200, headers: {}, body: '' }),
    onTooLarge: () => ({ status: 413, headers: {}, body: '' }),
  });
  cleanup.push(() => l.close());
  return l;
}

/** Sends `text` as is and reads until the server closes: status line and body. */
function raw(port: number, text: string): Promise<{ status: number; body: string; head: string }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(text));
    let got = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (got += d));
    c.on('error', reject);
    c.on('close', () => {
      const [head = '', body = ''] = got.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body });
    });
  });
}

describe('requests the HTTP parser refuses', () => {
  it('headers over the limit: 431 naming the limit and where the parser stopped', async () => {
    const l = await dmListener();
    const r = await raw(l.port, `POST /dm HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.body).toMatch(new RegExp(`^the request's headers are over ${http.maxHeaderSize} bytes \\(refused at byte \\d+\\)\\n$`));
    expect(r.head).toMatch(/\r\nContent-Length: \d+\r\n/);
    expect(r.head).toContain('\r\nConnection: close');
  });

  it('a malformed request: 400 with the parser\'s reason and the byte it stopped at', async () => {
    const l = await dmListener();
    expect(await raw(l.port, 'HELLO /dm HTTP/1.1\r\n\r\n')).toMatchObject({ status: 400, body: 'bad HTTP request: Invalid method encountered at byte 2\n' });
    const chunk = await raw(l.port, 'POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    expect(chunk.status).toBe(400);
    expect(chunk.body).toMatch(/^bad HTTP request: Invalid character in chunk size at byte \d+\n$/);
  });

  it('a body broken off or unparseable is the client\'s doing: no "request failed" warning (kept for our own bugs)', async () => {
    const l = await dmListener();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    cleanup.push(() => process.off('warning', onWarning));
    const closed = new Promise<void>((resolve) => l.server.once('connection', (s) => s.once('close', () => resolve())));
    // Headers and 10 of the 100 bytes declared, then the client goes away.
    const c = net.connect(l.port, '127.0.0.1', () => {
      c.write('POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nContent-Length: 100\r\n\r\n0123456789', () => setImmediate(() => c.destroy()));
    });
    c.on('error', () => undefined);
    await closed;
    const broken = await raw(l.port, 'POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\nzz\r\n');
    expect(broken.status).toBe(400);
    // Let the rejected reads settle (their warning, if any, comes on a later tick).
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(warnings.filter((w) => w.startsWith('request failed'))).toEqual([]);
  });

  it('too slow: 408 naming both time limits (the answer Node would give, here with its bounds)', () => {
    const timeout = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    const answer = clientErrorAnswer(timeout, 16_384);
    const body = 'the request was not complete in time: its headers within 30 s, all of it within 120 s\n';
    expect(answer).toBe(`HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
});
