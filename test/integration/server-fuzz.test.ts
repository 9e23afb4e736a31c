/**
 * Bad input at scale: real client messages (package 1, and package 3 with Status and Results),
 * mutated at random with a fixed seed (bytes flipped, cut short, slices repeated, dropped or
 * swapped), posted to a running server over HTTP, in XML and WBXML. Whatever arrives:
 * - the answer is never a 5xx, and a 200 carries a SyncML message we can decode;
 * - every body is in the session log, byte for byte;
 * - the server goes on: once the broken sessions time out, every job queued during the run ends
 *   done (or failed with a reason) through clean sessions; none is lost or left 'sent'.
 *
 * DMW_FUZZ_SEED=N replays or explores another seed; DMW_FUZZ_ROUNDS=K runs K times the mutations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeMessage, MEDIA_TYPES, type Encoding } from '../../main/protocol/codec.js';
import { wbxmlToXml, xmlToWbxml } from '../../main/protocol/convert.js';
import { DmServer } from '../../main/server/server.js';
import { rawPost, TestClient } from '../helpers/dm-test-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** mulberry32: a small seeded generator, so a failure replays exactly. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function mutate(src: Uint8Array, r: (n: number) => number): Uint8Array {
  const b = Array.from(src);
  const at = () => r(b.length + 1);
  switch (r(6)) {
    case 0: // flip a few bytes
      for (let i = 1 + r(4); i > 0; i--) b[r(b.length)] = r(256);
      break;
    case 1: // cut short
      b.length = r(b.length);
      break;
    case 2: { // repeat a slice
      const s = at();
      const e = Math.min(b.length, s + 1 + r(40));
      b.splice(at(), 0, ...b.slice(s, e));
      break;
    }
    case 3: // drop a slice
      b.splice(at(), 1 + r(20));
      break;
    case 4: { // swap two slices
      const i = r(b.length);
      const j = r(b.length);
      const n = 1 + r(12);
      const x = b.slice(i, i + n);
      const y = b.slice(j, j + n);
      b.splice(i, x.length, ...y);
      b.splice(j, y.length, ...x);
      break;
    }
    default: // a byte that often means something: a WBXML END, string start, or '<'
      b.splice(at(), 0, [0x01, 0x03, 0x00, 0x3c, 0xc3][r(5)]!);
  }
  return new Uint8Array(b);
}

/** Values that mean something to a DM server, for XML leaves. */
const LEAF_VALUES = ['', '0', '-1', '1', '2', '99999999999999999999', 'x'.repeat(300), './../..', '.', 'IMEI:FZ9', '1222', '1223', '1225', '213', '<', '&amp;', '&#0;', ' 1 '];

/**
 * XML is mostly refused at the parser when its bytes are flipped, so half of its mutations work on
 * the document's leaves instead: a value replaced, an element dropped or repeated.
 */
function mutateXml(src: Uint8Array, r: (n: number) => number): Uint8Array {
  if (r(2) === 0) return mutate(src, r);
  return mutateLeaves(src, r) ?? mutate(src, r);
}

function mutateLeaves(src: Uint8Array, r: (n: number) => number): Uint8Array | undefined {
  const text = Buffer.from(src).toString('utf8');
  const leaves = [...text.matchAll(/<(\w+)(?: [^>]*)?>[^<]*<\/\1>|<(\w+)\/>/g)];
  if (leaves.length === 0) return undefined;
  const m = leaves[r(leaves.length)]!;
  const [whole] = m;
  const start = m.index!;
  const name = m[1] ?? m[2]!;
  let repl: string;
  switch (r(3)) {
    case 0:
      repl = m[1] ? whole.replace(/>[^<]*</, `>${LEAF_VALUES[r(LEAF_VALUES.length)]}<`) : `<${name}>${LEAF_VALUES[r(LEAF_VALUES.length)]}</${name}>`;
      break;
    case 1:
      repl = '';
      break;
    default:
      repl = whole + whole;
  }
  return new Uint8Array(Buffer.from(text.slice(0, start) + repl + text.slice(start + whole.length), 'utf8'));
}

/** The same for WBXML: half byte-level, half the leaf mutations on its XML form, encoded back. */
function mutateWbxml(src: Uint8Array, r: (n: number) => number): Uint8Array {
  if (r(2) === 0) return mutate(src, r);
  const xml = wbxmlToXml(src);
  if (!xml.ok) throw new Error(`seed message does not decode: ${xml.error.message}`);
  for (let tries = 0; tries < 5; tries++) {
    const leafy = mutateLeaves(xml.value, r);
    const changed = leafy && xmlToWbxml(Buffer.from(leafy).toString('utf8'));
    if (changed?.ok) return changed.value;
  }
  return mutate(src, r);
}

const key = (b: Uint8Array) => Buffer.from(b).toString('base64');

const SEED = process.env.DMW_FUZZ_SEED ? Number(process.env.DMW_FUZZ_SEED) : undefined;
const ROUNDS = Math.max(1, Number(process.env.DMW_FUZZ_ROUNDS ?? 1));

describe('mutated client messages over HTTP', () => {
  for (const [encoding, seed] of [['xml', SEED ?? 0x5eed1], ['wbxml', SEED ?? 0x5eed2]] as [Encoding, number][]) {
    it(`${encoding}: never a 5xx, every body logged, and no job lost (seed ${seed})`, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-fuzz-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', limits: { sessionTimeoutMs: 400, maxJobAttempts: 100 }, sweepIntervalMs: 50 });
      cleanups.push(() => server.close());
      const r = rng(seed);
      const change = encoding === 'xml' ? mutateXml : mutateWbxml;
      const devices = ['IMEI:FZ0', 'IMEI:FZ1', 'IMEI:FZ2'];
      const jobIds: number[] = [];
      const queue = async (devId: string) => {
        jobIds.push((await server.addJob(devId, { kind: 'get', uri: './DevInfo/Mod' })).job.id);
        jobIds.push((await server.addJob(devId, { kind: 'replace', uri: './Vendor/Mode', value: `v${jobIds.length}` })).job.id);
      };
      const tree = { './Vendor/Mode': { format: 'chr', data: 'off' } };
      const client = (devId: string) => new TestClient({ url: server.url, devId, encoding, tree });

      // Seeds: a clean session's package 1 and package 3.
      await queue(devices[0]!);
      const clean = await client(devices[0]!).runSession({ sessionId: 'F00D' });
      expect(clean.completed).toBe(true);
      const [pkg1, pkg3] = [clean.exchanges[0]!.requestBytes, clean.exchanges[1]!.requestBytes];

      const posted: Uint8Array[] = [];
      const statuses = new Map<number, number>();
      const post = async (url: string, body: Uint8Array) => {
        posted.push(body);
        const res = await rawPost(url, body, { 'content-type': MEDIA_TYPES[encoding] });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `answer to mutation #${posted.length}`).toBeLessThan(500);
        if (res.status === 200) expect(decodeMessage(res.body).ok, `SyncML answer to mutation #${posted.length}`).toBe(true);
      };

      // Package 1, mutated, to the server's URL.
      for (let i = 0; i < 150 * ROUNDS; i++) await post(server.url, change(pkg1, r));
      // Package 3, mutated, into a live session that has a Get and a Replace out.
      for (let i = 0; i < 90 * ROUNDS; i++) {
        const devId = devices[i % devices.length]!;
        await queue(devId);
        const open = await client(devId).runSession({ sessionId: 'F00D', maxExchanges: 1 });
        const respUri = open.exchanges[0]?.response?.hdr.respURI;
        expect(respUri, `package 2 for ${devId}`).toBeDefined();
        await post(respUri!, change(pkg3, r));
      }
      // Some mutations must get through the parser, or this tests only the front door.
      console.log(`fuzz ${encoding}: HTTP statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(statuses.get(200) ?? 0).toBeGreaterThan(60);

      // Every body is in the log, byte for byte.
      const logged = new Set<string>();
      for (const s of server.store.sessions({ limit: 100_000 })) for (const m of server.store.messages(s.id)) if (m.direction === 'in') logged.add(key(m.bytes));
      const missing = posted.filter((b) => !logged.has(key(b)));
      expect(missing.length, 'posted bodies missing from the log').toBe(0);

      // The broken sessions time out; clean sessions then settle every job.
      const deadline = Date.now() + 10_000;
      while (server.activeSessions().length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(server.activeSessions()).toEqual([]);
      for (const devId of devices) {
        for (let i = 0; i < 3 && server.store.queuedJobs(devId).length > 0; i++) expect((await client(devId).runSession()).completed).toBe(true);
      }
      const jobs = jobIds.map((id) => server.store.job(id));
      expect(jobs.filter((j) => j === undefined)).toEqual([]);
      const unsettled = jobs.filter((j) => j!.status !== 'done' && !(j!.status === 'failed' && j!.error));
      expect(unsettled.map((j) => `${j!.id} ${j!.status} ${j!.error ?? ''}`)).toEqual([]);
    }, 120_000 * ROUNDS);
  }
});
