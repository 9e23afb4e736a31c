/**
 * The message index (store schema v3, main/store/message-index.ts): filled in the transaction that
 * logs a message (live addMessage/addMessages, imported captures), backfilled when a v2 folder made
 * by the old code is opened, findings stored when a session is judged; and the filter compiler run
 * against a real store (main/store/filter/).
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importCapture } from '../../main/capture/import.js';
import { sessionsToPcapng } from '../../main/capture/pcapng-write.js';
import { DB_FILE, SCHEMA_VERSION, ServerStore } from '../../main/store/server-store.js';
import { catchUpIndex, recordFindings, unindexedCount, unjudgedSessions } from '../../main/store/message-index.js';
import { collapseRuns, messageFacts } from '../../main/store/message-facts.js';
import { FilterError } from '../../main/store/filter/parse.js';
import { findCommands, queryMessages } from '../../main/store/filter/query.js';
import { queryPackets } from '../../main/api/packets-view.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { logSession, sessionMessages } from '../helpers/filter-fixture.js';
import { REPO_ROOT } from '../helpers/tools.js';

const open: ServerStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function fresh(): string {
  return mkdtempSync(path.join(tmpdir(), 'dmw-index-'));
}

function store(dir = fresh()): ServerStore {
  const s = ServerStore.open(dir);
  open.push(s);
  return s;
}

const ids = (s: ServerStore, filter: string) => queryMessages(s.db, { filter, offset: 0, limit: 100 }).rows.map((r) => r.id);

interface CmdRow { message_id: number; dir: string; msg_id: string; cmd_id: string; cmd: string; uri: string | null; status: number | null; data: string | null }

describe('message facts (pure)', () => {
  it('collapses runs and reads commands, URIs, codes, data and the credential type', () => {
    expect(collapseRuns(['Status', 'Status', 'Status', 'Get', 'Results'])).toBe('Status×3 Get Results');
    const [inMsg, outMsg] = sessionMessages({ devId: 'IMEI:1', greeting: 'hi there' });
    const a = messageFacts(inMsg!.bytes, inMsg!.contentType ?? null);
    expect(a).toMatchObject({ enc: 'xml', hdrMsgId: '1', cred: 'md5', decoded: true, commandSummary: 'Alert Replace', statusSummary: '', worst: null });
    expect(a.commands.map((c) => [c.cmdId, c.cmd, c.uri, c.data])).toEqual([['1', 'Alert', null, '1201'], ['2', 'Replace', './DevInfo/Mod', 'Lab Phone']]);
    const b = messageFacts(outMsg!.bytes, null);
    expect(b).toMatchObject({ commandSummary: 'Status×2 Get Replace', statusSummary: '212 200', worst: 212, cred: null });
    expect(messageFacts(new TextEncoder().encode('not a message'), 'application/vnd.syncml.dm+xml')).toMatchObject({ decoded: false, commands: [], enc: 'xml' });
    expect(messageFacts(new Uint8Array(0), null)).toMatchObject({ decoded: false, enc: '' });
  });
});

describe('the message index, filled as messages are logged', () => {
  it('live logging (addMessages and addMessage): one row per message and per command item, statuses linked to the commands they answer', () => {
    const s = store();
    const sid = logSession(s, { devId: 'IMEI:1', getStatus: 404, greeting: 'hello lab' });
    expect(unindexedCount(s.db)).toBe(0);
    const msgs = s.db.prepare('SELECT message_id, seq, dir, msg_id, size, enc, cred, ncmd, commands, status, worst FROM msg_index WHERE session_id = ? ORDER BY seq').all(sid);
    expect(msgs).toHaveLength(4);
    expect(msgs[1]).toMatchObject({ seq: 2, dir: 'out', msg_id: '1', enc: 'xml', ncmd: 4, commands: 'Status×2 Get Replace', status: '212 200', worst: 212 });
    expect(msgs[2]).toMatchObject({ seq: 3, dir: 'in', commands: 'Status×3', status: '200 404 200', worst: 404 });
    const cmds = s.db.prepare('SELECT message_id, dir, msg_id, cmd_id, cmd, uri, status, data FROM cmd_index ORDER BY id').all() as CmdRow[];
    // The Get went out in message #2 and was answered 404 in #3: the Get's row carries the 404.
    expect(cmds.find((c) => c.cmd === 'Get')).toMatchObject({ dir: 'out', msg_id: '1', cmd_id: '3', uri: './DevInfo/Ext', status: 404 });
    expect(cmds.find((c) => c.cmd === 'Replace' && c.dir === 'out')).toMatchObject({ uri: './Vendor/Lab/Greeting', status: 200, data: 'hello lab' });
    expect(cmds.find((c) => c.cmd === 'Alert')).toMatchObject({ status: 200, data: '1201' });
    expect((s.db.prepare(`SELECT COUNT(*) AS n FROM cmd_text WHERE cmd_text MATCH '"llo la"'`).get() as { n: number }).n).toBe(1);
  });

  it('a message and its index rows commit or roll back together', () => {
    const s = store();
    const sid = s.tx(() => s.createSession({ device: 'IMEI:1', dmSessionId: '1', encoding: 'xml' }, 0));
    const m = sessionMessages({ devId: 'IMEI:1' })[0]!;
    expect(() => s.tx(() => {
      s.addMessage({ ...m, sessionId: sid });
      throw new Error('boom');
    })).toThrow('boom');
    expect(s.db.prepare('SELECT (SELECT COUNT(*) FROM messages) AS m, (SELECT COUNT(*) FROM msg_index) AS i, (SELECT COUNT(*) FROM cmd_index) AS c').get()).toEqual({ m: 0, i: 0, c: 0 });
  });

  it('imported captures (store.importSessions, the dmw capture import path) are indexed like live sessions', () => {
    const logged = sessionMessages({ devId: 'IMEI:77', dmSessionId: '9', getStatus: 500, greeting: 'from the field' });
    const pcap = sessionsToPcapng([{ messages: logged.map((m, i) => ({ direction: m.direction, at: new Date(m.at).toISOString(), bytes: m.bytes, contentType: m.contentType ?? null, httpStatus: m.httpStatus ?? null, label: `#${i + 1}` })) }], { comment: 'test', application: 'test' });
    const { sessions } = importCapture(pcap);
    expect(sessions).toHaveLength(1);
    const s = store();
    const [id] = s.importSessions(sessions, 'imported from test.pcapng');
    expect(findCommands(s.db, 'cmd == Get && status == 500')).toEqual([{ session: id, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 500 }]);
    expect(ids(s, 'state == imported && data contains "the field"')).toHaveLength(1);
    expect(ids(s, 'dev == "IMEI:77"')).toHaveLength(4);
  });

  it('catchUpIndex indexes messages the index has not seen (e.g. written by other means), from the highest indexed id on', () => {
    const s = store();
    logSession(s, { devId: 'IMEI:1' });
    logSession(s, { devId: 'IMEI:2' });
    s.tx(() => s.db.exec('DELETE FROM msg_index WHERE message_id > 4; DELETE FROM cmd_index WHERE message_id > 4'));
    expect(unindexedCount(s.db)).toBe(4);
    expect(s.tx(() => catchUpIndex(s.db))).toBe(4);
    expect(unindexedCount(s.db)).toBe(0);
    expect(ids(s, 'dev == "IMEI:2"')).toEqual([5, 6, 7, 8]);
  });

  it('opening a folder indexes messages that were committed without their index rows', () => {
    const dir = fresh();
    const s = ServerStore.open(dir);
    logSession(s, { devId: 'IMEI:1', getStatus: 404 });
    s.tx(() => s.db.exec('DELETE FROM msg_index; DELETE FROM cmd_index; DELETE FROM cmd_text'));
    expect(unindexedCount(s.db)).toBe(4);
    s.close();
    const again = store(dir);
    expect(unindexedCount(again.db)).toBe(0);
    expect(findCommands(again.db, 'status == 404 && cmd == Get')).toHaveLength(1);
  });

  it('stores a session\'s findings per message, replacing an earlier judgement', () => {
    const s = store();
    const sid = logSession(s, { devId: 'IMEI:1' });
    expect(unjudgedSessions(s.db)).toEqual([{ id: sid, messages: 4 }]);
    s.tx(() => recordFindings(s.db, sid, 4, [{ msg: 2, rule: 'R1', severity: 'error' }, { msg: 2, rule: 'R2', severity: 'note' }, { msg: 3, rule: 'R2', severity: 'warning' }]));
    expect(unjudgedSessions(s.db)).toEqual([]);
    expect(ids(s, 'finding == R1')).toEqual([2]);
    expect(ids(s, 'severity == warning || severity == error')).toEqual([2, 3]);
    expect(ids(s, 'findings > 1')).toEqual([2]);
    expect(ids(s, '!finding')).toEqual([1, 4]);
    s.tx(() => recordFindings(s.db, sid, 4, [{ msg: 4, rule: 'R3', severity: 'warning' }]));
    expect(ids(s, 'finding')).toEqual([4]);
    const row = queryMessages(s.db, { filter: 'seq == 4', offset: 0, limit: 1 }).rows[0]!;
    expect(row.findings).toEqual({ error: 0, warning: 1, note: 0 });
  });
});

describe('migration from schema v2 (a folder made by the old code)', () => {
  const V2 = readFileSync(path.join(REPO_ROOT, 'test/fixtures/store/schema-v2.sql'), 'utf8');

  it('opens a v2 folder, adds the index and backfills it from the stored messages, then logs new ones into it', () => {
    const dir = fresh();
    const db = new Database(path.join(dir, DB_FILE));
    db.pragma('journal_mode = WAL');
    db.exec(V2);
    db.pragma('user_version = 2');
    const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
    db.prepare(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at) VALUES ('IMEI:old', '1', 'done', 'xml', 'md5', ?)`).run(at);
    const add = db.prepare('INSERT INTO messages (session_id, seq, direction, at, msg_id, content_type, http_status, bytes) VALUES (1, ?, ?, ?, ?, ?, ?, ?)');
    sessionMessages({ devId: 'IMEI:old', getStatus: 404, greeting: 'stored before v3' }).forEach((m, i) => add.run(i + 1, m.direction, new Date(m.at).toISOString(), m.msgId, m.contentType, m.httpStatus ?? null, Buffer.from(m.bytes)));
    db.close();

    const s = store(dir);
    expect(SCHEMA_VERSION).toBe(3);
    expect(s.db.pragma('user_version', { simple: true })).toBe(3);
    expect(unindexedCount(s.db)).toBe(0);
    expect(findCommands(s.db, 'cmd == Get')).toEqual([{ session: 1, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 }]);
    expect(ids(s, 'data contains "before v3"')).toEqual([2]);
    logSession(s, { devId: 'IMEI:new' });
    expect(ids(s, 'cmd == Get')).toEqual([2, 6]);
    expect(s.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});

describe('filters compiled to SQL, run on a real store', () => {
  const s = ServerStore.open(fresh());
  logSession(s, { devId: 'IMEI:1', getStatus: 404, greeting: 'hello lab' });
  logSession(s, { devId: 'IMEI:2', greeting: 'bonjour tout le monde', at: Date.UTC(2026, 11, 7, 9) });
  s.tx(() => s.addMessage({ sessionId: s.createSession({ device: 'IMEI:3', dmSessionId: '7', encoding: 'wbxml' }, 0), direction: 'in', at: 1000, bytes: new Uint8Array([1, 2, 3]), contentType: 'application/vnd.syncml.dm+wbxml' }));

  it('message fields, command fields, content search, regex, negation over messages without commands', () => {
    expect(ids(s, '')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(s, 'dev == "IMEI:2" && dir == out')).toEqual([6, 8]);
    expect(ids(s, 'cmd == "Get" && status == 404')).toEqual([2]);
    // Both tests hold for one and the same command: no Get was answered 200 in session 1.
    expect(ids(s, 'session == 1 && cmd == Get && status == 200')).toEqual([]);
    expect(ids(s, 'data contains "tout"')).toEqual([6]);
    expect(ids(s, 'data contains "he"')).toEqual([2]);
    expect(ids(s, 'data == "hello lab"')).toEqual([2]);
    expect(ids(s, 'data != "hello lab" && cmd == Replace && dir == out')).toEqual([6]);
    expect(ids(s, 'data matches "^b.nj"')).toEqual([6]);
    expect(ids(s, 'uri matches "(?i)devinfo/EXT$" && dir == in')).toEqual([3, 7]);
    expect(ids(s, '!(cmd == Get)')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids(s, 'enc == wbxml')).toEqual([9]);
    expect(ids(s, '!cmd')).toEqual([9]);
    expect(ids(s, 'size < 10 || worst >= 400')).toEqual([3, 9]);
    expect(ids(s, 'cred == md5 && auth == md5')).toEqual([1, 5]);
    expect(ids(s, 'msg == 2 && dir == in')).toEqual([3, 7]);
    expect(ids(s, 'commands contains "Get"')).toEqual([2, 6]);
  });

  it('values travel as parameters: quotes and SQL in a value are only text', () => {
    expect(ids(s, `dev == "x' OR 1=1 --"`)).toEqual([]);
    expect(ids(s, 'data contains "\\" OR \\""')).toEqual([]);
    expect(ids(s, `uri contains "'); DROP TABLE messages; --"`)).toEqual([]);
    expect((s.db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n).toBe(9);
  });

  it('sorts by every listed column and pages with offset/limit; total counts every match', () => {
    const page = (sort: { column: 'time' | 'session' | 'device' | 'dir' | 'msgId' | 'size' | 'enc' | 'status' | 'findings'; desc: boolean }, offset = 0, limit = 100) =>
      queryMessages(s.db, { filter: 'dir == in', offset, limit, sort });
    expect(page({ column: 'time', desc: false }).rows.map((r) => r.id)).toEqual([9, 1, 3, 5, 7]);
    expect(page({ column: 'time', desc: true }).rows.map((r) => r.id)).toEqual([7, 5, 3, 1, 9]);
    expect(page({ column: 'device', desc: true }).rows.map((r) => r.devId)).toEqual(['IMEI:3', 'IMEI:2', 'IMEI:2', 'IMEI:1', 'IMEI:1']);
    expect(page({ column: 'status', desc: true }).rows[0]!.id).toBe(3);
    expect(page({ column: 'size', desc: false }).rows[0]!.id).toBe(9);
    for (const column of ['session', 'dir', 'msgId', 'enc', 'findings'] as const) expect(page({ column, desc: false }).total).toBe(5);
    const p = page({ column: 'session', desc: false }, 1, 2);
    expect(p.total).toBe(5);
    expect(p.rows.map((r) => r.id)).toEqual([3, 5]);
    const row = queryMessages(s.db, { filter: 'seq == 2 && session == 1', offset: 0, limit: 1 }).rows[0]!;
    expect(row).toEqual({ id: 2, sessionId: 1, seq: 2, at: Date.UTC(2026, 11, 7, 8, 0, 0) + 5, devId: 'IMEI:1', dir: 'out', msgId: '1', size: row.size, enc: 'xml',
      commands: 'Status×2 Get Replace', status: '212 200', worst: 212, findings: { error: 0, warning: 0, note: 0 } });
  });

  it('a regex that would take too long over the stored data is a located error, not a hang', () => {
    expect(() => queryMessages(s.db, { filter: 'dev == "IMEI:1" || data matches "(a*)*b"', offset: 0, limit: 10 }, { regexSteps: 10 })).toThrow(FilterError);
    try {
      queryMessages(s.db, { filter: 'dev == "IMEI:1" || data matches "(a*)*b"', offset: 0, limit: 10 }, { regexSteps: 10 });
    } catch (e) {
      expect((e as FilterError).toJSON()).toMatchObject({ position: 19, length: 21, message: expect.stringContaining('too long') });
    }
    // The next query runs with a fresh budget.
    expect(ids(s, 'data matches "hel+o"')).toEqual([2]);
  });

  it('fuzz: any filter either runs or is a located FilterError (never an SQL or engine error)', () => {
    const parts = ['cmd', 'uri', 'status', 'size', 'data', 'dev', 'finding', 'severity', 'findings', 'time', 'msg', ' ', '==', '!=', '<', '>=', 'contains', 'matches', '&&', '||', '!',
      '(', ')', '"', '"x"', '"a\\"b"', '"\\u0000abc"', '"%_*"', '"NEAR(a b)"', '"a OR b"', '"^(a|b)+$"', '"[z-a]"', '404', '-1', '3.5', 'Get', './DevInfo', "'it''s'", '"\\x00"'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...parts), { maxLength: 14 }), fc.constantFrom('time', 'device', 'findings', 'status'), (xs, column) => {
      const filter = xs.join(' ');
      try {
        queryMessages(s.db, { filter, offset: 0, limit: 5, sort: { column, desc: true } });
        findCommands(s.db, filter);
      } catch (e) {
        if (!(e instanceof FilterError)) throw new Error(`${JSON.stringify(filter)}: ${(e as Error).message}`);
      }
    }), { numRuns: 1500, seed: 7 });
  });

  it('packets.query answers a bad filter with its located error, a good one with rows and the time taken', async () => {
    const store = SqliteStore.over(s);
    expect(await queryPackets(store, { filter: 'status == "404"', offset: 0, limit: 10 })).toEqual({ ok: false, error: { message: expect.stringContaining('type mismatch'), position: 10, length: 5 } });
    const r = await queryPackets(store, { filter: 'cmd == Get', offset: 0, limit: 10 });
    expect(r.ok && r.total === 2 && r.rows.map((x) => x.id)).toEqual([2, 6]);
    expect(r.ok && typeof r.tookMs === 'number').toBe(true);
  });
});

describe('the message index as store methods (DmMessageIndex) on SQLite', () => {
  it('answers as the functions do, and writes findings through the group commit without landing in another caller\'s savepoint', async () => {
    const server = store();
    logSession(server, { devId: 'IMEI:1', getStatus: 404 });
    logSession(server, { devId: 'IMEI:2' });
    const s = SqliteStore.over(server);
    expect(await s.queryMessages({ filter: 'cmd == Get && status == 404', offset: 0, limit: 10 })).toEqual(queryMessages(server.db, { filter: 'cmd == Get && status == 404', offset: 0, limit: 10 }));
    expect(await s.findCommands('cmd == Get')).toEqual(findCommands(server.db, 'cmd == Get'));
    expect(await s.sessionsMatching('cmd == Get', 1)).toEqual({ ids: [2], truncated: true });
    await expect(s.queryMessages({ filter: 'cmd ==', offset: 0, limit: 1 })).rejects.toBeInstanceOf(FilterError);
    expect(await s.unindexedCount()).toBe(0);
    // A DmStore.tx that awaits and then fails: findings recorded meanwhile are not rolled back with it.
    const failing = s.tx(async (o) => {
      await o.createSession({ device: 'IMEI:9', dmSessionId: '1', encoding: 'xml' }, 0);
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('boom');
    });
    const recorded = s.recordFindings(1, 4, [{ msg: 2, rule: 'R1', severity: 'error' }]);
    await expect(failing).rejects.toThrow('boom');
    await recorded;
    expect(await s.judgedSessions([1, 2])).toEqual([1]);
    expect((await s.queryMessages({ filter: 'finding == R1', offset: 0, limit: 5 })).rows.map((r) => r.id)).toEqual([2]);
    expect(await s.unjudgedSessions()).toEqual([{ id: 2, messages: 4 }]);
  });
});
