/**
 * What the DM listener may hold for clients that have not been admitted yet (main/server/http.ts,
 * body-budget.ts): connections open at once (maxConnections: one beyond is closed as it is accepted),
 * bytes of request bodies held at once (maxBodyBytesInFlight: a body that does not fit is answered
 * 503 + Retry-After, a declared one unread, one without Content-Length as soon as a chunk does not
 * fit; every way a request ends gives its share back), and the time a request may take
 * (headersTimeoutMs, requestTimeoutMs: 408 naming both). Without them N clients could make the
 * process hold N x maxBodyBytes before any other limit saw a message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { listen, type IncomingBody, type Listener, type ListenOptions } from '../../main/server/http.js';
import { DEFAULT_LIMITS, engineConfig } from '../../main/server/config.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Bodies {
  got: IncomingBody[];
  /** Answers wait for this while set (a request held after its body was read). */
  hold?: Promise<void>;
  /** The handler throws (a bug of ours: answered 500). */
  fail?: boolean;
}

type Limits = Pick<ListenOptions, 'maxBodyBytesInFlight' | 'maxConnections' | 'headersTimeoutMs' | 'requestTimeoutMs'>;

async function dmListener(o: Limits, bodies: Bodies = { got: [] }): Promise<Listener> {
  const l = await listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1000, now: Date.now, ...o }, {
    onBody: async (r) => {
      bodies.got.push(r);
      await bodies.hold;
      if (bodies.fail) throw new Error('handler bug (on purpose)');
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
const chunkedHead = 'POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+wbxml\r\nTransfer-Encoding: chunked\r\n\r\n';
/** One chunk of a chunked body, framed. */
const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;
const LAST_CHUNK = '0\r\n\r\n';

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

  it('a body without Content-Length takes its share as its bytes arrive: uploads that have sent little leave room for others', async () => {
    // Room for 4 bodies of the largest size. Taking maxBodyBytes up front, the first 4 of these 8
    // uploads (5 bytes each so far) took it all and the rest, and any other body, were refused.
    const l = await dmListener({ maxBodyBytesInFlight: 4000 });
    const uploads = await Promise.all(Array.from({ length: 8 }, () => connect(l.port)));
    for (const u of uploads) u.socket.write(chunkedHead + chunk('hello'));
    await until(() => l.bodyBudget.inUse === 8 * 5);
    expect(await post(l.port, 'y'.repeat(1000))).toMatchObject({ status: 200, body: 'got 1000\n' });
    for (const u of uploads) u.socket.write(chunk('x'.repeat(100)) + LAST_CHUNK);
    await until(() => uploads.every((u) => u.text().includes('got 105')));
    expect(l.bodyBudget.inUse).toBe(0);
  });

  it('a chunk that does not fit ends its body: 503 + Retry-After + Connection: close, what it took given back', async () => {
    const l = await dmListener({ maxBodyBytesInFlight: 1500 });
    const slow = await connect(l.port);
    slow.socket.write(head(800) + 'x'.repeat(100));
    await until(() => l.bodyBudget.inUse === 800);
    const chunked = await connect(l.port);
    chunked.socket.write(chunkedHead + chunk('a'.repeat(500)));
    await until(() => l.bodyBudget.inUse === 1300);
    // 1300 + 300 > 1500: refused as it arrives, not read on.
    chunked.socket.write(chunk('b'.repeat(300)));
    await chunked.closed;
    const [answerHead = '', answerBody] = chunked.text().split('\r\n\r\n');
    expect(answerHead).toMatch(/^HTTP\/1\.1 503 /);
    expect(answerHead).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(answerHead).toMatch(/\r\nconnection: close\r\n/i);
    expect(answerBody).toBe("the server holds 800 bytes of other requests' bodies; this one (no Content-Length) brought 500 and its next 300 would pass maxBodyBytesInFlight (1500): what it sent was dropped, send it again in 1 s\n");
    expect(l.bodyBudget.inUse).toBe(800);
    slow.socket.write('x'.repeat(700));
    await until(() => slow.text().includes('got 800'));
    expect(l.bodyBudget.inUse).toBe(0);
  });

  it('every way a request ends gives back exactly what it took, with or without Content-Length', async () => {
    const bodies: Bodies = { got: [] };
    const l = await dmListener({ maxBodyBytesInFlight: 1500 }, bodies);
    const sent = async (text: string, status: number) => {
      const c = await connect(l.port);
      c.socket.write(text);
      await until(() => c.text().startsWith(`HTTP/1.1 ${status} `));
      await until(() => l.bodyBudget.inUse === 0);
    };
    // Answered.
    await sent(head(3) + 'abc', 200);
    await sent(chunkedHead + chunk('abc') + chunk('de') + LAST_CHUNK, 200);
    // Over maxBodyBytes (1000): a declared one unread, a chunked one as it passes the limit.
    await sent(head(1001), 413);
    await sent(chunkedHead + chunk('a'.repeat(600)) + chunk('b'.repeat(600)), 413);
    // Refused by the budget while another body holds 800 (answered, then gives its 800 back too).
    let release!: () => void;
    bodies.hold = new Promise<void>((r) => (release = r));
    const before = bodies.got.length;
    const holder = post(l.port, 'h'.repeat(800));
    await until(() => bodies.got.length === before + 1);
    const refusedDeclared = await connect(l.port);
    refusedDeclared.socket.write(head(800) + 'x'.repeat(800));
    await until(() => refusedDeclared.text().startsWith('HTTP/1.1 503 '));
    const refusedChunked = await connect(l.port);
    refusedChunked.socket.write(chunkedHead + chunk('x'.repeat(800)));
    await until(() => refusedChunked.text().startsWith('HTTP/1.1 503 '));
    expect(l.bodyBudget.inUse).toBe(800);
    release();
    expect((await holder).status).toBe(200);
    bodies.hold = undefined;
    await until(() => l.bodyBudget.inUse === 0);
    // The client goes away mid-body.
    for (const [partial, held] of [[head(900) + 'x'.repeat(10), 900], [chunkedHead + chunk('x'.repeat(10)), 10]] as const) {
      const gone = await connect(l.port);
      gone.socket.write(partial);
      await until(() => l.bodyBudget.inUse === held);
      gone.socket.destroy();
      await until(() => l.bodyBudget.inUse === 0);
    }
    // The handler throws: answered 500.
    bodies.fail = true;
    await sent(head(3) + 'abc', 500);
    await sent(chunkedHead + chunk('abc') + LAST_CHUNK, 500);
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

describe('DM listener: time a request may take (headersTimeoutMs, requestTimeoutMs)', () => {
  it('headers or a body too slow: 408 naming the timeouts set, the connection closed, the body\'s share given back', async () => {
    const l = await dmListener({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const said = 'the request was not complete in time: its headers within 200 ms, all of it within 400 ms\n';
    const headers = await connect(l.port);
    headers.socket.write('POST /dm HTTP/1.1\r\nHost: x\r\n');
    const body = await connect(l.port);
    body.socket.write(head(10) + 'abc');
    for (const c of [headers, body]) {
      await until(() => c.socket.destroyed);
      const [answerHead = '', answerBody] = c.text().split('\r\n\r\n');
      expect(answerHead).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(answerBody).toBe(said);
    }
    await until(() => l.bodyBudget.inUse === 0);
  });

  it('defaults 30 s and 120 s; a headers timeout over the request timeout is refused naming both; a shorter request timeout alone brings the headers timeout down', async () => {
    expect(DEFAULT_LIMITS).toMatchObject({ headersTimeoutMs: 30_000, requestTimeoutMs: 120_000 });
    const h = { onBody: () => ({ status: 200, headers: {}, body: '' }), onTooLarge: () => ({ status: 413, headers: {}, body: '' }) };
    const base = { port: 0, host: '127.0.0.1', maxBodyBytes: 1000, now: Date.now };
    await expect(listen({ ...base, headersTimeoutMs: 500, requestTimeoutMs: 400 }, h))
      .rejects.toThrow("headersTimeoutMs (500) must not exceed requestTimeoutMs (400): the request's time includes its headers");
    await expect(listen({ ...base, requestTimeoutMs: 0 }, h)).rejects.toThrow('requestTimeoutMs must be a positive integer (milliseconds), got 0');
    const l = await listen({ ...base, requestTimeoutMs: 10_000 }, h);
    cleanup.push(() => l.close());
    expect([l.server.headersTimeout, l.server.requestTimeout]).toEqual([10_000, 10_000]);
    expect(engineConfig({ limits: { requestTimeoutMs: 10_000 } }).limits).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
    expect(engineConfig({ limits: { headersTimeoutMs: 5_000 } }).limits).toMatchObject({ headersTimeoutMs: 5_000, requestTimeoutMs: 120_000 });
  });
});
