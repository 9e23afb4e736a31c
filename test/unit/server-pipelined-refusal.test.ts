/**
 * A request Node's HTTP parser refuses behind pipelined requests still waiting for their answers
 * (main/server/http.ts, refuseInTurn): the client gets those answers whole, in order, and the raw
 * refusal after them, then the connection closes. Before, the refusal went out at once and the
 * socket was ended: the client read a 400 first and never got the answer it was owed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { listen, type Listener } from '../../main/server/http.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A DM listener whose answers wait until released; counts the parser errors it saw. */
async function heldListener(): Promise<{ l: Listener; got: string[]; release: () => void; parserErrors: () => number }> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const got: string[] = [];
  const l = await listen({ port: 0, host: '127.0.0.1', maxBodyBytes: 1000, now: Date.now }, {
    onBody: async (r) => {
      got.push(Buffer.from(r.bytes).toString());
      await held;
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: `answer to ${Buffer.from(r.bytes).toString()}\n` };
    },
    onTooLarge: () => ({ status: 413, headers: {}, body: 'too large\n' }),
  });
  let errors = 0;
  l.server.on('clientError', () => errors++);
  cleanup.push(() => l.close());
  return { l, got, release, parserErrors: () => errors };
}

const post = (body: string) => `POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+xml\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** Everything the server sent on one connection, once it closed it. */
function exchange(port: number, text: string): { received: Promise<string> } {
  const c = net.connect(port, '127.0.0.1', () => c.write(text));
  cleanup.push(() => c.destroy());
  let got = '';
  c.setEncoding('latin1');
  c.on('data', (d: string) => (got += d));
  c.on('error', () => undefined);
  return { received: new Promise((resolve) => c.on('close', () => resolve(got))) };
}

/** The responses in `text`, one after the other, each cut by its Content-Length. */
function responses(text: string): Array<{ status: number; body: string }> {
  const out: Array<{ status: number; body: string }> = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`not a response: ${JSON.stringify(rest)}`);
    const head = rest.slice(0, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    out.push({ status: Number(head.split(' ')[1]), body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('a parser refusal behind pipelined requests', () => {
  it('a valid POST still being answered, then garbage at once: its answer whole and first, the 400 after it', async () => {
    const { l, got, release, parserErrors } = await heldListener();
    const { received } = exchange(l.port, `${post('first')}HELLO /dm HTTP/1.1\r\n\r\n`);
    await until(() => got.length === 1 && parserErrors() === 1);
    release();
    expect(responses(await received)).toEqual([
      { status: 200, body: 'answer to first\n' },
      { status: 400, body: expect.stringMatching(/^bad HTTP request: Invalid method encountered at byte \d+\n$/) },
    ]);
  });

  it('two POSTs waiting, then garbage: both answers in order, then the 400', async () => {
    const { l, got, release, parserErrors } = await heldListener();
    const { received } = exchange(l.port, `${post('one')}${post('two')}\x00\x01garbage\r\n\r\n`);
    await until(() => got.length === 2 && parserErrors() === 1);
    release();
    expect(responses(await received)).toEqual([
      { status: 200, body: 'answer to one\n' },
      { status: 200, body: 'answer to two\n' },
      { status: 400, body: expect.stringMatching(/^bad HTTP request: .+ at byte \d+\n$/) },
    ]);
  });

  it('a POST waiting, then a request whose chunked body will not parse: the waiting answer, then the 400 for the broken one', async () => {
    const { l, got, release, parserErrors } = await heldListener();
    const broken = 'POST /dm HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.syncml.dm+xml\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n';
    const { received } = exchange(l.port, `${post('first')}${broken}`);
    await until(() => got.length === 1 && parserErrors() === 1);
    release();
    expect(responses(await received)).toEqual([
      { status: 200, body: 'answer to first\n' },
      { status: 400, body: expect.stringMatching(/^bad HTTP request: Invalid character in chunk size at byte \d+\n$/) },
    ]);
    await until(() => l.bodyBudget.inUse === 0);
  });

  it('a client that goes on sending after its refusal came is cut off, as when nothing was waiting', async () => {
    const { l, got, release, parserErrors } = await heldListener();
    // Node's keep-alive timer would close the idle connection after 5 s anyway; out of the way here.
    l.server.keepAliveTimeout = 60_000;
    let serverSideClosed = false;
    l.server.once('connection', (s) => s.once('close', () => (serverSideClosed = true)));
    // Half-open: it never ends its side, so only the server can close this connection.
    const c = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true });
    cleanup.push(() => c.destroy());
    let text = '';
    c.setEncoding('latin1');
    c.on('data', (d: string) => (text += d));
    c.on('error', () => undefined);
    c.write(`${post('first')}HELLO /dm HTTP/1.1\r\n\r\n`);
    await until(() => got.length === 1 && parserErrors() === 1);
    release();
    await until(() => text.includes('HTTP/1.1 400 '));
    expect(serverSideClosed).toBe(false);
    c.write('more garbage\r\n');
    await until(() => serverSideClosed);
    expect(responses(text).map((r) => r.status)).toEqual([200, 400]);
  });
});
