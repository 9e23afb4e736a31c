/**
 * The message index on the server's hot path: the server hands the store the messages it already
 * decoded (the device's message; its own answer when its data survives encoding), so the index is
 * built without decoding them again, and the rows it writes equal those built by decoding the stored
 * bytes (the path of capture import, recovery and catch-up). Both encodings; text, binary, large
 * objects, Exec and Add; multi-row inserts past one statement's rows. The rows are written by the
 * deferred indexer (main/store/sqlite/deferred-index.ts), one message per batch (as the index in the
 * logging transaction wrote them) and all of a session's messages in one batch.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeMessage } from '../../main/protocol/codec.js';
import type { SyncML } from '../../main/protocol/model.js';
import { DmServer } from '../../main/server/server.js';
import { ServerStore, type NewMessage } from '../../main/store/server-store.js';
import { catchUpIndex } from '../../main/store/message-index.js';
import type { IndexLimits } from '../../main/store/sqlite/deferred-index.js';
import { factsSurviveEncoding, messageFacts, parsedMessageFacts } from '../../main/store/message-facts.js';
import { decodeMessage } from '../../main/protocol/codec.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { sessionMessages } from '../helpers/filter-fixture.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(index?: Partial<IndexLimits>): Promise<DmServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-index-live-'));
  const server = await DmServer.start({ dataDir, port: 0, host: '127.0.0.1', limits: { maxMsgSize: 4096 }, ...(index ? { store: { index } } : {}) });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  return server;
}

function decoded(bytes: Uint8Array): SyncML {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(d.error.message);
  return d.value.message;
}

/** Every index row, in a stable order, ids included (the FTS rows point at cmd_index ids). */
function indexRows(s: ServerStore): unknown {
  return {
    msg: s.db.prepare('SELECT * FROM msg_index ORDER BY message_id').all(),
    cmd: s.db.prepare('SELECT * FROM cmd_index ORDER BY id').all(),
    text: s.db.prepare('SELECT rowid, data FROM cmd_text ORDER BY rowid').all(),
  };
}

describe('the message index built from what the server decoded', () => {
  const batching = { 'one message per batch': { batchMessages: 1 }, 'the whole session in one batch': { batchMessages: 10_000, delayMs: 60_000 } };
  for (const encoding of ['xml', 'wbxml'] as const) for (const [how, index] of Object.entries(batching)) {
    it(`${encoding}, ${how}: the rows written while the server logs equal the rows built by decoding the stored bytes`, async () => {
      const server = await start(index);
      const given: { direction: string; parsed: boolean }[] = [];
      const addMessages = ServerStore.prototype.addMessages;
      vi.spyOn(ServerStore.prototype, 'addMessages').mockImplementation(function (this: ServerStore, ms: readonly (NewMessage & { seq: number })[]) {
        for (const m of ms) given.push({ direction: m.direction, parsed: m.parsed !== undefined });
        return addMessages.call(this, ms);
      });
      const blob = new Uint8Array(9000).map((_, i) => (i * 7919) % 256);
      await server.addJob('IMEI:IX', { kind: 'get', uri: './DevInfo/Mod' });
      await server.addJob('IMEI:IX', { kind: 'replace', uri: './Vendor/Flag', value: 'on and off' });
      await server.addJob('IMEI:IX', { kind: 'replace', uri: './Vendor/Pad', value: '  padded  ' });
      await server.addJob('IMEI:IX', { kind: 'replace', uri: './FW/Package', value: Buffer.from(blob).toString('base64'), binary: true });
      await server.addJob('IMEI:IX', { kind: 'get', uri: './Log/Big' });
      await server.addJob('IMEI:IX', { kind: 'get', uri: './Nope' });
      const client = new TestClient({
        url: server.url, devId: 'IMEI:IX', encoding, maxMsgSize: 3000, maxObjSize: 1_000_000, devInfo: { Mod: 'Model-Q' },
        tree: { './Vendor/Flag': { format: 'chr', data: 'x' }, './Vendor/Pad': { format: 'chr', data: 'x' }, './FW/Package': { format: 'bin', data: new Uint8Array() }, './Log/Big': { format: 'chr', data: 'log line\n'.repeat(900) } },
      });
      const r = await client.runSession();
      expect(r.error).toBeUndefined();
      expect(r.completed).toBe(true);
      // The device's messages reached the store decoded (no second decode for the index).
      const ins = given.filter((g) => g.direction === 'in');
      expect(ins.length).toBeGreaterThan(3);
      expect(ins.every((g) => g.parsed)).toBe(true);
      // ...and some of our answers too (those whose data is plain text), not the ones with binary data.
      expect(given.some((g) => g.direction === 'out' && g.parsed)).toBe(true);
      expect(given.some((g) => g.direction === 'out' && !g.parsed)).toBe(true);
      await sync(server.store).flush();
      // Deferred: the batch (or the last of them) is written now, before this read.
      await sync(server.store).indexing.indexReady();
      const queue = sync(server.store).indexing.queue();
      // Indexed from the decoded forms the server handed over (held in the queue), not decoded again.
      expect(queue.stats.fromHeld).toBeGreaterThan(3);
      if (index.batchMessages > 1) expect(queue.stats.batches).toBe(1);
      expect(queue.heldCount).toEqual({ messages: 0, bytes: 0 });
      const live = indexRows(sync(server.store));
      expect((live as { text: unknown[] }).text.length).toBeGreaterThan(5);
      sync(server.store).tx(() => sync(server.store).db.exec('DELETE FROM msg_index; DELETE FROM cmd_index; DELETE FROM cmd_text'));
      sync(server.store).tx(() => catchUpIndex(sync(server.store).db));
      expect(indexRows(sync(server.store))).toEqual(live);
    });
  }

  it('a message of many commands (more rows than one INSERT takes): every item indexed, FTS rows on the ids of the items with data', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-index-many-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const s = ServerStore.open(dir);
    cleanups.push(() => s.close());
    const items = Array.from({ length: 75 }, (_, i) => ({ target: { locURI: `./Vendor/N${i}` }, ...(i % 3 === 0 ? {} : { data: { kind: 'text' as const, text: i % 3 === 1 ? `value ${i}` : '' } }) }));
    const msg: SyncML = {
      hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '2', target: { locURI: 'IMEI:M' }, source: { locURI: 'https://dm/' } },
      body: { commands: [{ kind: 'Replace', cmdID: '2', items }, ...Array.from({ length: 40 }, (_, i) => ({ kind: 'Get' as const, cmdID: String(3 + i), items: [{ target: { locURI: `./G${i}` } }] }))], final: true },
    } as unknown as SyncML;
    const enc = encodeMessage(msg, 'xml');
    if (!enc.ok) throw new Error(enc.error.message);
    const sid = s.tx(() => s.createSession({ device: 'IMEI:M', dmSessionId: '1', encoding: 'xml' }, 0));
    s.tx(() => s.addMessages([{ sessionId: sid, seq: 1, direction: 'out', at: 0, msgId: '2', contentType: 'application/vnd.syncml.dm+xml', bytes: enc.value, parsed: msg }]));
    const cmds = s.db.prepare('SELECT id, cmd, uri, data FROM cmd_index ORDER BY id').all() as { id: number; cmd: string; uri: string; data: string | null }[];
    expect(cmds).toHaveLength(115);
    expect(cmds.slice(0, 75).map((c) => c.uri)).toEqual(items.map((it) => it.target.locURI));
    const text = s.db.prepare('SELECT rowid AS id, data FROM cmd_text ORDER BY rowid').all() as { id: number; data: string }[];
    expect(text).toEqual(cmds.filter((c) => c.data !== null && c.data !== '').map((c) => ({ id: c.id, data: c.data })));
    expect(text).toHaveLength(25);
    expect((s.db.prepare(`SELECT rowid FROM cmd_text WHERE cmd_text MATCH '"value 73"'`).all() as { rowid: number }[]).map((x) => x.rowid)).toEqual([cmds[73]!.id]);
  });

  it('inside the group commit, a request that throws after logging leaves neither message nor index rows; messages that take the ids it gave back are indexed as stored', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-index-group-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // No batch before a read asks for one.
    const s = ServerStore.open(dir, { synchronous: 'NORMAL', index: { batchMessages: 1000, delayMs: 60_000 } });
    cleanups.push(() => s.close());
    const sid = s.tx(() => s.createSession({ device: 'IMEI:G', dmSessionId: '1', encoding: 'xml' }, 0));
    const [m1, m2, m3, m4] = sessionMessages({ devId: 'IMEI:G', greeting: 'first' }).map((m) => ({ ...m, parsed: decoded(m.bytes) }));
    const other = sessionMessages({ devId: 'IMEI:G', greeting: 'second' });
    const kept = s.group(() => s.addMessages([{ ...m1!, sessionId: sid, seq: 1 }]));
    const undone = s.group(() => {
      s.addMessages([{ ...m2!, sessionId: sid, seq: 2 }, { ...m3!, sessionId: sid, seq: 3 }]);
      throw new Error('the engine failed after logging');
    });
    await expect(undone).rejects.toThrow('the engine failed');
    await kept;
    expect(s.db.prepare('SELECT (SELECT COUNT(*) FROM messages) AS m, (SELECT COUNT(*) FROM msg_index) AS i').get()).toEqual({ m: 1, i: 0 });
    // Ids 2 and 3 came back with the rollback, and other messages (without decoded forms) take them:
    // the queue's forms held under those ids are the rolled-back messages', and must not be used.
    await s.group(() => s.addMessages([{ ...other[1]!, sessionId: sid, seq: 2 }, { ...m4!, sessionId: sid, seq: 3, parsed: undefined }]));
    expect(s.db.prepare('SELECT id FROM messages ORDER BY id').all()).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    await s.indexing.indexReady();
    expect(s.indexing.queue().stats).toMatchObject({ indexed: 3, fromHeld: 1, batches: 1 });
    const rows = indexRows(s);
    s.tx(() => s.db.exec('DELETE FROM msg_index; DELETE FROM cmd_index; DELETE FROM cmd_text'));
    s.tx(() => catchUpIndex(s.db));
    expect(indexRows(s)).toEqual(rows);
    expect((rows as { msg: { commands: string }[] }).msg.map((r) => r.commands)).toEqual(['Alert Replace', 'Status×2 Get Replace', 'Status']);
  });

  it('facts from the decoded message equal facts from the bytes; binary data is left to a decode', () => {
    const msg = {
      hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '3', target: { locURI: 'IMEI:F' }, source: { locURI: 'https://dm/' } },
      body: { commands: [{ kind: 'Replace', cmdID: '2', items: [{ target: { locURI: './A' }, data: { kind: 'text', text: 'abc def' } }] }], final: true },
    } as unknown as SyncML;
    for (const to of ['xml', 'wbxml'] as const) {
      const bytes = encodeMessage(msg, to);
      if (!bytes.ok) throw new Error(bytes.error.message);
      const decoded = decodeMessage(bytes.value);
      if (!decoded.ok) throw new Error(decoded.error.message);
      expect(parsedMessageFacts(decoded.value.message, bytes.value, null)).toEqual(messageFacts(bytes.value, null));
      expect(parsedMessageFacts(msg, bytes.value, null)).toEqual(messageFacts(bytes.value, null));
    }
    expect(factsSurviveEncoding(msg)).toBe(true);
    const binary = structuredClone(msg) as unknown as { body: { commands: { items: { data: unknown }[] }[] } };
    binary.body.commands[0]!.items[0]!.data = { kind: 'binary', bytes: new Uint8Array([1, 2, 3]) };
    expect(factsSurviveEncoding(binary as unknown as SyncML)).toBe(false);
  });
});
