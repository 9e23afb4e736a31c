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
import { DmServer } from '../../main/server/server.js';
import { rawPost, TestClient } from '../helpers/dm-test-client.js';
import { mutateWbxml, mutateXml, rng, type LeafMutation } from '../helpers/fuzz.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Leaf mutations: values that mean something to a DM server; a value replaced, a leaf dropped or repeated equally often. */
const LEAVES: LeafMutation = {
  values: ['', '0', '-1', '1', '2', '99999999999999999999', 'x'.repeat(300), './../..', '.', 'IMEI:FZ9', '1222', '1223', '1225', '213', '<', '&amp;', '&#0;', ' 1 '],
  valueWeight: 1,
};

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
      const change = (src: Uint8Array) => (encoding === 'xml' ? mutateXml : mutateWbxml)(src, r, LEAVES).bytes;
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
      for (let i = 0; i < 150 * ROUNDS; i++) await post(server.url, change(pkg1));
      // Package 3, mutated, into a live session that has a Get and a Replace out.
      for (let i = 0; i < 90 * ROUNDS; i++) {
        const devId = devices[i % devices.length]!;
        await queue(devId);
        const open = await client(devId).runSession({ sessionId: 'F00D', maxExchanges: 1 });
        const respUri = open.exchanges[0]?.response?.hdr.respURI;
        expect(respUri, `package 2 for ${devId}`).toBeDefined();
        await post(respUri!, change(pkg3));
      }
      // Some mutations must get through the parser, or this tests only the front door.
      console.log(`fuzz ${encoding}: HTTP statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
      expect(statuses.get(200) ?? 0).toBeGreaterThan(60);

      // Every body is in the log, byte for byte.
      const logged = new Set<string>();
      for (const s of sync(server.store).sessions({ limit: 100_000 })) for (const m of sync(server.store).messages(s.id)) if (m.direction === 'in') logged.add(key(m.bytes));
      const missing = posted.filter((b) => !logged.has(key(b)));
      expect(missing.length, 'posted bodies missing from the log').toBe(0);

      // The broken sessions time out; clean sessions then settle every job.
      const deadline = Date.now() + 10_000;
      while (server.activeSessions().length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(server.activeSessions()).toEqual([]);
      // A Replace that went out in a broken session and got no Status is unconfirmed, never re-sent by
      // itself (main/server/unconfirmed.ts): the engineer decides to re-send it.
      for (const j of sync(server.store).jobs({ status: 'unconfirmed' })) sync(server.store).decideJob(j.id, 'resend', Date.now());
      for (const devId of devices) {
        for (let i = 0; i < 3 && sync(server.store).queuedJobs(devId).length > 0; i++) expect((await client(devId).runSession()).completed).toBe(true);
      }
      const jobs = jobIds.map((id) => sync(server.store).job(id));
      expect(jobs.filter((j) => j === undefined)).toEqual([]);
      const unsettled = jobs.filter((j) => j!.status !== 'done' && !(j!.status === 'failed' && j!.error));
      expect(unsettled.map((j) => `${j!.id} ${j!.status} ${j!.error ?? ''}`)).toEqual([]);
    }, 120_000 * ROUNDS);
  }
});
