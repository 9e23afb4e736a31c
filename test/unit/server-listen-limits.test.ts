/**
 * What the DM listener may hold for clients that have not been admitted yet (main/server/http.ts,
 * body-budget.ts): connections open at once (maxConnections: one beyond is closed as it is accepted)
 * and bytes of request bodies held at once (maxBodyBytesInFlight: a body that does not fit is
 * answered 503 + Retry-After unread, and every way a request ends gives its share back). Without
 * them N clients could make the process hold N x maxBodyBytes before any other limit saw a message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { listen, type IncomingBody, type Listener } from '../../main/server/http.js';
import { DEFAULT_LIMITS } from '../../main/server/config.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Bodies {
  got: IncomingBody[];
  /** Answers wait for this while set (a request held after its body was read). */
  hold?: Promise<void>;
}

async function dmListener(o: { maxBodyBytesInFlight?: number; maxConnections?: number }, bodies: Bodies = { got: [] }): Promise<Listener> {
  const l = await listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1000, now: Date.now, ...o }, {
    onBody: async (r) => {
      bodies.got.push(r);
      await bodies.hold;
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: `got ${r.bytes.length}\n` };
    },
    onTooLarge: () => ({ status: 413, headers: {}, body: 'too large\n' }),
  });
  cleanup.push(() => l.close());
  return l;
}

/** A raw connection: what it was sent and when the server closed it. */
function connect(port: number): Promise<{ socket: net.Socket; text: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, text: () => got, closed }));
    socket.once('error', reject);
    cleanup.push(() => socket.destroy());
  });
}

function post(port: number, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; retryAfter: string | null }> {
  return fetch(`http://127.0.0.1:${port}/dm`, { method: 'POST', body, headers: { 'content-type': 'application/vnd.syncml.dm+wbxml', ...headers } })
    .then(async (r) => ({ status: r.status, body: await r.text(), retryAfter: r.headers.get('retry-after') }));
}

const head = (n: number) => `POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nContent-Length: ${n}\r\n\r\n`;

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('DM listener: bytes of bodies held at once (maxBodyBytesInFlight)', () => {
  it('a body that does not fit beside those held is refused unread: 503, Retry-After, the limit named; it fits once they are answered', async () => {
    const bodies: Bodies = { got: [] };
    const l = await dmListener({ maxBodyBytesInFlight: 1500 }, bodies);
    // 800 bytes declared, 100 sent: the share is taken for the whole declared body.
    const slow = await connect(l.port);
    slow.socket.write(head(800) + 'x'.repeat(100));
    await new Promise((r) => setTimeout(r, 50));
    const refused = await post(l.port, 'y'.repeat(800));
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body).toBe("the server holds 800 bytes of other requests' bodies; this one's 800 would pass maxBodyBytesInFlight (1500): nothing of it was read, send it again in 1 s\n");
    expect(bodies.got).toHaveLength(0);
    // What still fits is read as usual.
    expect(await post(l.port, 'z'.repeat(700))).toMatchObject({ status: 200, body: 'got 700\n' });
    // The slow body completes and is answered: its share comes back.
    slow.socket.write('x'.repeat(700));
    await until(() => slow.text().includes('got 800'));
    expect(await post(l.port, 'y'.repeat(800))).toMatchObject({ status: 200, body: 'got 800\n' });
  });

  it('a share is held until the answer, not only while the body is read', async () => {
    let release!: () => void;
    const bodies: Bodies = { got: [], hold: new Promise<void>((r) => (release = r)) };
    const l = await dmListener({ maxBodyBytesInFlight: 1000 }, bodies);
    const first = post(l.port, 'a'.repeat(600));
    await until(() => bodies.got.length === 1);
    expect((await post(l.port, 'b'.repeat(600))).status).toBe(503);
    release();
    expect(await first).toMatchObject({ status: 200, body: 'got 600\n' });
    bodies.hold = undefined;
    expect(await post(l.port, 'b'.repeat(600))).toMatchObject({ status: 200, body: 'got 600\n' });
  });

  it('a client that breaks off mid-body gives its share back', async () => {
    const l = await dmListener({ maxBodyBytesInFlight: 1000 });
    const broken = await connect(l.port);
    broken.socket.write(head(900) + 'x'.repeat(10));
    await new Promise((r) => setTimeout(r, 50));
    expect((await post(l.port, 'y'.repeat(900))).status).toBe(503);
    broken.socket.destroy();
    await broken.closed;
    let answer = await post(l.port, 'y'.repeat(900));
    for (let i = 0; i < 50 && answer.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 20));
      answer = await post(l.port, 'y'.repeat(900));
    }
    expect(answer).toMatchObject({ status: 200, body: 'got 900\n' });
  });

  it('a body without Content-Length (chunked) takes maxBodyBytes, the most it may bring', async () => {
    const l = await dmListener({ maxBodyBytesInFlight: 1500 });
    const chunked = await connect(l.port);
    chunked.socket.write('POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    await new Promise((r) => setTimeout(r, 50));
    // 1000 held for the chunked body: 600 more does not fit, 500 does.
    expect((await post(l.port, 'y'.repeat(600))).status).toBe(503);
    expect(await post(l.port, 'y'.repeat(500))).toMatchObject({ status: 200, body: 'got 500\n' });
    chunked.socket.write('0\r\n\r\n');
    await until(() => chunked.text().includes('got 5'));
    expect(await post(l.port, 'y'.repeat(600))).toMatchObject({ status: 200 });
  });

  it('the bound must leave room for one body of the largest size, and the server has one by default', async () => {
    await expect(listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1000, maxBodyBytesInFlight: 999, now: Date.now }, {
      onBody: () => ({ status: 200, headers: {}, body: '' }),
      onTooLarge: () => ({ status: 413, headers: {}, body: '' }),
    })).rejects.toThrow('maxBodyBytesInFlight (999) must be at least maxBodyBytes (1000)');
    expect(DEFAULT_LIMITS.maxBodyBytesInFlight).toBeGreaterThanOrEqual(DEFAULT_LIMITS.maxBodyBytes);
    expect(DEFAULT_LIMITS.maxBodyBytesInFlight).toBeLessThan(Number.POSITIVE_INFINITY);
  });
});

describe('DM listener: connections open at once (maxConnections)', () => {
  it('a connection beyond the limit is closed as it is accepted; those within are served; a freed place is taken again', async () => {
    const l = await dmListener({ maxConnections: 2 });
    const a = await connect(l.port);
    const b = await connect(l.port);
    const c = await connect(l.port);
    await c.closed;
    expect(c.text()).toBe('');
    a.socket.write(head(3) + 'abc');
    await until(() => a.text().includes('got 3'));
    b.socket.write(head(2) + 'de');
    await until(() => b.text().includes('got 2'));
    a.socket.destroy();
    await a.closed;
    let served = '';
    for (let i = 0; i < 50 && !served.includes('got 1'); i++) {
      const d = await connect(l.port);
      d.socket.write(head(1) + 'f');
      await Promise.race([d.closed, new Promise((r) => setTimeout(r, 200))]);
      served = d.text();
    }
    expect(served).toContain('got 1');
    expect(DEFAULT_LIMITS.maxConnections).toBe(4096);
  });

  it('a limit that is not a positive integer is refused with its name', async () => {
    await expect(listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1000, maxConnections: 0, now: Date.now }, {
      onBody: () => ({ status: 200, headers: {}, body: '' }),
      onTooLarge: () => ({ status: 413, headers: {}, body: '' }),
    })).rejects.toThrow('maxConnections must be a positive integer, got 0');
  });
});
