/**
 * readBody (main/protocol/http-body.ts), which every listener of ours reads request bodies with:
 * the same bytes whatever the chunking, a body of one chunk taken as it is (no copy), the result a
 * plain Uint8Array owning its memory, and the limit refusing as soon as it is passed, keeping exactly
 * `max` bytes and never waiting for (or keeping) the rest.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { readBody } from '../../main/protocol/http-body.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Bytes that differ from their neighbours, so a piece out of place or repeated shows. */
function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

/** A request body stream fed chunk by chunk (readBody only listens to data, end and error). */
function fakeRequest(): { req: http.IncomingMessage; stream: PassThrough; chunksSeen: () => number } {
  const stream = new PassThrough();
  let seen = 0;
  stream.on('data', () => seen++);
  return { req: stream as unknown as http.IncomingMessage, stream, chunksSeen: () => seen };
}

/** Owns its ArrayBuffer from offset 0 and is no Buffer: as the reader has always returned it. */
function expectOwnPlainArray(bytes: Uint8Array): void {
  expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  expect(bytes.byteOffset).toBe(0);
  expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
}

describe('readBody', () => {
  it('a body of one chunk and the same body in uneven chunks come out byte-equal', async () => {
    const body = pattern(3000);

    const one = fakeRequest();
    const chunk = Buffer.alloc(body.length); // a buffer of its own, as Node's HTTP parser hands over
    chunk.set(body);
    const single = readBody(one.req, 10_000);
    one.stream.end(chunk);

    const many = fakeRequest();
    const multi = readBody(many.req, 10_000);
    const cuts = [0, 1, 2, 700, 701, 2048, 2999, 3000];
    for (let i = 1; i < cuts.length; i++) many.stream.write(Buffer.from(body.subarray(cuts[i - 1], cuts[i])));
    many.stream.end();

    const a = await single;
    const b = await multi;
    expect(many.chunksSeen()).toBe(cuts.length - 1);
    expect(a.over).toBe(false);
    expect(b.over).toBe(false);
    expect(Buffer.from(a.bytes).equals(Buffer.from(body))).toBe(true);
    expect(Buffer.from(b.bytes).equals(Buffer.from(body))).toBe(true);
    expectOwnPlainArray(a.bytes);
    expectOwnPlainArray(b.bytes);
    // The single chunk is used as it is: its memory, not a copy.
    expect(a.bytes.buffer).toBe(chunk.buffer);
  });

  it('a chunk that shares its memory (a pooled Buffer) is copied, so the result still owns all of its buffer', async () => {
    const { req, stream } = fakeRequest();
    const pooled = Buffer.from('<SyncML/>'); // a slice of Node's 8 KiB pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const read = readBody(req, 100);
    stream.end(pooled);
    const { bytes, over } = await read;
    expect(over).toBe(false);
    expect(Buffer.from(bytes).toString()).toBe('<SyncML/>');
    expectOwnPlainArray(bytes);
  });

  it('an empty body is an empty array', async () => {
    const { req, stream } = fakeRequest();
    const read = readBody(req, 100);
    stream.end();
    const { bytes, over } = await read;
    expect(over).toBe(false);
    expect(bytes.byteLength).toBe(0);
  });

  it('over the limit: answers at once with exactly max bytes, without waiting for the rest, and keeps none of it', async () => {
    const body = pattern(5000);
    const { req, stream, chunksSeen } = fakeRequest();
    const read = readBody(req, 1000);
    stream.write(Buffer.from(body.subarray(0, 600)));
    stream.write(Buffer.from(body.subarray(600, 1300))); // passes the limit; the body goes on, no end yet
    const { bytes, over } = await read;
    expect(over).toBe(true);
    expect(chunksSeen()).toBe(2);
    expect(Buffer.from(bytes).equals(Buffer.from(body.subarray(0, 1000)))).toBe(true);
    expectOwnPlainArray(bytes);
    // The rest is drained (so the client can read the 413), not kept: the answer does not change.
    stream.write(Buffer.from(body.subarray(1300)));
    stream.end();
    await new Promise((r) => stream.once('end', r));
    expect(chunksSeen()).toBe(3);
    expect(bytes.byteLength).toBe(1000);
  });

  it('over the limit in its first chunk, and with a limit of 0 (the declared-length refusal): nothing past max', async () => {
    for (const max of [0, 10]) {
      const { req, stream } = fakeRequest();
      const read = readBody(req, max);
      stream.write(Buffer.from(pattern(64)));
      const { bytes, over } = await read;
      expect(over).toBe(true);
      expect(Buffer.from(bytes).equals(Buffer.from(pattern(64).subarray(0, max)))).toBe(true);
      stream.end();
    }
  });

  it('an error before the end rejects with it; after the limit it is ignored (the answer is out)', async () => {
    const early = fakeRequest();
    const read = readBody(early.req, 100);
    early.stream.write(Buffer.from('abc'));
    early.stream.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await expect(read).rejects.toMatchObject({ message: 'aborted', code: 'ECONNRESET' });

    const late = fakeRequest();
    const refused = readBody(late.req, 2);
    late.stream.write(Buffer.from('abcdef'));
    await expect(refused).resolves.toMatchObject({ over: true });
    late.stream.destroy(new Error('aborted'));
  });

  it('over real HTTP: a body in several chunks and in one read byte-equal; a body over the limit is refused before it ends', async () => {
    const body = pattern(20_000);
    const MAX = 8_000;
    type Seen = { bytes: Uint8Array; over: boolean; chunks: number; ended: boolean };
    const results: Seen[] = [];
    let chunkArrived: (() => void) | undefined;
    const server = http.createServer((req, res) => {
      let chunks = 0;
      let ended = false;
      req.on('data', () => {
        chunks++;
        chunkArrived?.();
      });
      req.on('end', () => (ended = true));
      void readBody(req, MAX).then(({ bytes, over }) => {
        results.push({ bytes, over, chunks, ended });
        res.writeHead(over ? 413 : 200, { connection: 'close' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as AddressInfo).port;

    let cutOff: (() => void) | undefined;
    /** Posts `pieces` one after the other, each once the server has read the one before (so they stay separate chunks). */
    const post = async (pieces: Uint8Array[], end: boolean): Promise<number> => {
      const answered = new Promise<number>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        void (async () => {
          for (const p of pieces) {
            const arrived = new Promise<void>((r) => (chunkArrived = r));
            req.write(p);
            await arrived;
          }
          if (end) req.end();
          else cutOff = () => req.destroy();
        })();
      });
      return answered;
    };

    const small = body.subarray(0, 6_000);
    expect(await post([small.subarray(0, 1), small.subarray(1, 2_500), small.subarray(2_500)], true)).toBe(200);
    expect(await post([small], true)).toBe(200);
    const [multi, single] = results;
    expect(multi!.chunks).toBeGreaterThanOrEqual(3);
    expect(single!.chunks).toBe(1);
    expect(Buffer.from(multi!.bytes).equals(Buffer.from(small))).toBe(true);
    expect(Buffer.from(single!.bytes).equals(Buffer.from(small))).toBe(true);
    expectOwnPlainArray(multi!.bytes);
    expectOwnPlainArray(single!.bytes);

    // 5,000 + 5,000 bytes against 8,000, and the body never ends: 413 all the same, with the first 8,000 bytes.
    expect(await post([body.subarray(0, 5_000), body.subarray(5_000, 10_000)], false)).toBe(413);
    cutOff?.();
    const refused = results[2]!;
    expect(refused.over).toBe(true);
    expect(refused.ended).toBe(false);
    expect(Buffer.from(refused.bytes).equals(Buffer.from(body.subarray(0, MAX)))).toBe(true);
  });
});
