/**
 * The message index and display filters on PostgreSQL (main/store/postgres/message-index.ts,
 * filter-sql.ts) give the same answers as on SQLite (message-index.ts, filter/query.ts), on a real
 * cluster (test/helpers/postgres.ts). One corpus is written through both stores the way the server
 * logs (createSession, addMessages per round trip, addMessage): the filter fixture's sessions, the
 * Android DM 1.2 vectors (XML and WBXML), items with LIKE wildcards, backslashes, non-ASCII text,
 * long and empty data, and a message that does not decode. Then every filter of the filter tests
 * (and their error cases) and a fuzz run on both: rows, totals, sort orders, pages, commands,
 * sessions and located errors equal.
 */
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DmServer } from '../../main/server/server.js';
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteMessageIndex } from '../../main/store/message-index-sqlite.js';
import type { DmMessageIndex, MessageQuery, SortColumn } from '../../main/store/message-index-store.js';
import { FilterError } from '../../main/store/filter/parse.js';
import { PostgresStore } from '../../main/store/postgres/postgres-store.js';
import type { NewMessage } from '../../main/store/types.js';
import { sessionMessages, type SessionSpec } from '../helpers/filter-fixture.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { VECTORS_DIR } from '../helpers/tools.js';

const run = postgresAvailable('PostgreSQL message index');
const enc = new TextEncoder();
const XML_CT = 'application/vnd.syncml.dm+xml';

/** What both stores are written through (ServerStore's methods return values, PostgresStore's promises: awaited alike). */
interface Writer {
  createSession(p: { device: string | null; dmSessionId: string | null; encoding: 'xml' | 'wbxml' | null; authType?: string }, now: number): number | Promise<number>;
  addMessages(ms: readonly (NewMessage & { seq: number })[]): number[] | Promise<number[]>;
  addMessage(m: NewMessage): number | Promise<number>;
  endSession(id: number, state: 'done', reason: string, now: number): void | Promise<void>;
}

/** The filter fixture's session, logged as logSession does (a round trip's pair, then one by one). */
async function logFixture(w: Writer, spec: SessionSpec): Promise<number> {
  const ms = sessionMessages(spec);
  const id = await w.createSession({ device: spec.devId, dmSessionId: spec.dmSessionId ?? '1', encoding: 'xml', authType: 'md5' }, ms[0]!.at);
  await w.addMessages([{ ...ms[0]!, sessionId: id, seq: 1 }, { ...ms[1]!, sessionId: id, seq: 2 }]);
  await w.addMessage({ ...ms[2]!, sessionId: id, seq: 3 });
  await w.addMessage({ ...ms[3]!, sessionId: id });
  await w.endSession(id, 'done', 'completed', ms[3]!.at);
  return id;
}

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);

/** The Android DM 1.2 server packages (XML and WBXML), logged as one session's outgoing messages, two per round trip. */
async function logVectors(w: Writer): Promise<void> {
  const files = readdirSync(VECTORS_DIR).filter((f) => /\.(xml|wbxml)$/.test(f)).sort();
  expect(files.length).toBeGreaterThan(10);
  const id = await w.createSession({ device: 'android', dmSessionId: '11', encoding: 'xml', authType: 'none' }, T0);
  const msgs = files.map((f, i) => ({
    sessionId: id, seq: i + 1, direction: (i % 3 === 2 ? 'in' : 'out') as 'in' | 'out', at: T0 + i * 7, msgId: String(i + 1),
    contentType: f.endsWith('.wbxml') ? 'application/vnd.syncml.dm+wbxml' : XML_CT, bytes: new Uint8Array(readFileSync(path.join(VECTORS_DIR, f))),
  }));
  for (let i = 0; i < msgs.length; i += 2) await w.addMessages(msgs.slice(i, i + 2));
}

/** Items whose text tests LIKE's wildcards and escape, byte order, the excerpt and the trigram bounds. */
async function logOddData(w: Writer): Promise<void> {
  const id = await w.createSession({ device: 'IMEI:ödd', dmSessionId: 'x', encoding: 'xml' }, T0 + 1000);
  const values = ['50%_off', 'C:\\path\\to', 'Ünïcödé × ü', 'x'.repeat(150) + 'tail-marker' + 'y'.repeat(100), 'ab', '', 'Zebra', 'zebra', '%', '_'];
  const items = values.map((v, i) => `<Replace><CmdID>${i + 1}</CmdID><Item><Target><LocURI>./Vendor/Odd/N${i}</LocURI></Target><Data>${v}</Data></Item></Replace>`).join('');
  const bytes = enc.encode(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>x</SessionID><MsgID>1</MsgID>`
    + `<Target><LocURI>IMEI:ödd</LocURI></Target><Source><LocURI>http://127.0.0.1/dm</LocURI></Source></SyncHdr><SyncBody>${items}<Final/></SyncBody></SyncML>`);
  await w.addMessages([{ sessionId: id, seq: 1, direction: 'out', at: T0 + 1000, msgId: null, contentType: XML_CT, bytes }]);
  const id2 = await w.createSession({ device: null, dmSessionId: null, encoding: 'wbxml' }, 0);
  await w.addMessage({ sessionId: id2, direction: 'in', at: 1000, bytes: new Uint8Array([1, 2, 3]), contentType: 'application/vnd.syncml.dm+wbxml' });
}

async function writeCorpus(w: Writer): Promise<void> {
  await logFixture(w, { devId: 'IMEI:1', getStatus: 404, greeting: 'hello lab' });
  await logFixture(w, { devId: 'IMEI:2', greeting: 'bonjour tout le monde', at: Date.UTC(2026, 11, 7, 9) });
  await logVectors(w);
  await logOddData(w);
  await logFixture(w, { devId: 'IMEI:77', dmSessionId: '9', getStatus: 500, greeting: 'from the field', at: Date.UTC(2026, 11, 7, 7) });
}

/** Every filter of test/unit/message-index.test.ts and filter-parse.test.ts (good and bad), and more over the corpus. */
const FILTERS = [
  '', '   ', 'dev == "IMEI:2" && dir == out', 'cmd == "Get" && status == 404', 'session == 1 && cmd == Get && status == 200', 'data contains "tout"',
  'data contains "he"', 'data == "hello lab"', 'data != "hello lab" && cmd == Replace && dir == out', 'data matches "^b.nj"', 'uri matches "(?i)devinfo/EXT$" && dir == in',
  '!(cmd == Get)', 'enc == wbxml', '!cmd', 'size < 10 || worst >= 400', 'cred == md5 && auth == md5', 'msg == 2 && dir == in', 'commands contains "Get"',
  `dev == "x' OR 1=1 --"`, 'data contains "\\" OR \\""', `uri contains "'); DROP TABLE messages; --"`, 'state == imported && data contains "the field"', 'dev == "IMEI:77"',
  'cmd == Get && status == 500', 'status == 404 && cmd == Get', 'cmd == Get', 'data contains "before v3"', 'finding == R1', 'severity == warning || severity == error',
  'findings > 1', '!finding', 'finding', 'seq == 4', 'status == "404"', 'data matches "hel+o"',
  'cmd == "Get" && status == 404', 'dev == IMEI:1 or not dir == in and size >= 10', '!(cmd == Get || cmd == Replace) && uri contains "./DevInfo"', 'size gt 3 AND size le 9',
  'msg == 2 && msgid != "3"', 'uri == ./DevInfo/Mod', 'time > -5', String.raw`data == "a\"b\\c\n\t\x41\u00e9\u{1F600}"`, String.raw`data contains 'it\'s'`,
  String.raw`data matches "\d+\.\d"`,
  // filter-parse.test.ts's errors
  "data contains 'abc\\'", '&& cmd == Get', '((cmd == Get) && dir == in', '()', '(cmd == Get dir == in)', '(cmd == Get', '== 3', 'cmd = Get', 'cmd == "Get', 'cmd == && dir == in',
  'cmd == Get $', 'cmd == Get & dir == in', 'cmd == Get &&', 'cmd == Get ||  || dir == in', 'cmd == Get)', 'cmd ==', 'cmd > 3', 'data == "\\x4g"', 'sevrity == error', 'size > big',
  'size contains 3', 'status == 200 && uir contains "x"', 'status == 404x', 'status matches "4.."', 'uri == dev', 'zzzzzz', 'data matches "[z-a]"', `data matches "${'a'.repeat(300)}"`,
  'data matches "(a"', 'uri matches "a{2,1}"',
  // the corpus's odd data: wildcards, escapes, case, byte order, the excerpt, short and empty values
  'data contains "%"', 'data contains "_"', 'data contains "50%_"', 'data contains "%_o"', 'data contains "\\\\path"', 'data contains "C:\\\\"', 'data contains "ödé ×"',
  'data contains "ü"', 'data contains "tail-marker"', 'data == "ab"', 'data == ""', 'data != ""', 'data contains ""', 'data == "Zebra"', 'data contains "zeb"', 'data contains "Zeb"',
  'data matches "(?i)zebra"', 'data matches "^$"', 'data matches "tail-m"', `data == "${'x'.repeat(150)}tail-marker${'y'.repeat(100)}"`, 'data == "%"', 'data == "_"', 'dev contains "ö"',
  'dev', '!dev', 'sessionid == x', 'sessionid', 'uri matches "^\\./Vendor/Odd/N[0-4]$"', 'cmd matches "^(Exec|Alert)$"', 'data contains "Testing"', 'cmd == Exec', 'cmd == Sequence',
  'cmd == Atomic || cmd == Sequence', 'uri contains "DevDetail"', 'enc == wbxml && cmd == Add', 'data matches "\\d{4}"', 'msgid matches "^1"', 'commands matches "×"',
  'commands contains "Status×"', '!(dev == android) && !(data contains "a")', 'worst', '!worst', 'cred', 'cred == basic', 'findings', 'findings == 0', 'rule matches "^R"',
  'severity', 'time >= 1796630400000 && time < 1796634000000', 'size > 3.5', 'seq >= 1e1', 'status', '!status', 'status != 200', 'auth == none', 'state == done',
  // regexes with a required literal (PostgreSQL reads only the texts holding it): wildcards and escapes in it, non-ASCII, anchors
  'data matches "hello l"', 'data matches "50%_o"', 'data matches "C:\\\\pa"', 'data matches "ödé ×"', 'data matches "^Testing C"', 'data matches "tail-marker$"',
  'data matches "(?i)TESTING"', 'data matches "Lab Ph.ne"', 'data matches "x{150}tail"', 'data matches "1101|tout"',
];

const SORTS: (SortColumn | undefined)[] = [undefined, 'time', 'session', 'device', 'dir', 'msgId', 'size', 'enc', 'status', 'findings'];

/** An answer or its located error, as a value to compare. */
async function outcome<T>(p: () => Promise<T>): Promise<T | { error: ReturnType<FilterError['toJSON']> }> {
  try {
    return await p();
  } catch (e) {
    if (e instanceof FilterError) return { error: e.toJSON() };
    throw e;
  }
}

describe.skipIf(!run)('the message index and display filters on PostgreSQL, against SQLite', () => {
  let cluster: TestPostgres;
  let pgStore: PostgresStore;
  let sqlite: ServerStore;
  let lite: DmMessageIndex;

  beforeAll(async () => {
    cluster = await startPostgres();
    // A database whose own collation is not byte order (ICU en-US: "a" < "B" < "b"), as a lab's
    // server may well have: sort orders must still be SQLite's.
    const admin = new pg.Client({ connectionString: cluster.urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE icu_en TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    } finally {
      await admin.end();
    }
    pgStore = await PostgresStore.open(cluster.urlFor('icu_en'));
    sqlite = ServerStore.open(mkdtempSync(path.join(tmpdir(), 'dmw-pgindex-')));
    lite = new SqliteMessageIndex(sqlite);
    await writeCorpus(sqlite);
    await writeCorpus(pgStore);
  }, 60_000);
  afterAll(async () => {
    sqlite?.close();
    await pgStore?.close();
    cluster?.stop();
  });

  const both = async <T>(f: (s: DmMessageIndex) => Promise<T>) => [await outcome(() => f(lite)), await outcome(() => f(pgStore))] as const;

  it('writes the same index rows (message and command rows, statuses linked to the commands they answer)', async () => {
    const msgCols = 'message_id, session_id, seq, at_ms, dir, msg_id, size, enc, cred, ncmd, commands, status, worst, f_error, f_warning, f_note';
    const cmdCols = 'message_id, session_id, dir, msg_id, pos, item, cmd_id, cmd, uri, status, msg_ref, cmd_ref, data';
    const liteMsgs = sqlite.db.prepare(`SELECT ${msgCols}, decoded != 0 AS decoded FROM msg_index ORDER BY message_id`).all().map((r) => ({ ...(r as object), decoded: Boolean((r as { decoded: number }).decoded) }));
    const pgMsgs = (await pgStore.pool.query(`SELECT ${msgCols}, decoded FROM msg_index ORDER BY message_id`)).rows;
    expect(pgMsgs.length).toBeGreaterThan(25);
    expect(pgMsgs).toEqual(liteMsgs);
    const liteCmds = sqlite.db.prepare(`SELECT ${cmdCols} FROM cmd_index ORDER BY message_id, pos, item`).all();
    const pgCmds = (await pgStore.pool.query(`SELECT ${cmdCols} FROM cmd_index ORDER BY message_id, pos, item`)).rows;
    expect(pgCmds.length).toBeGreaterThan(60);
    expect(pgCmds).toEqual(liteCmds);
    // The item text for content search: SQLite's FTS rows are PostgreSQL's non-NULL data_text, item for item.
    const liteText = sqlite.db.prepare('SELECT c.message_id, c.pos, c.item, t.data FROM cmd_text t JOIN cmd_index c ON c.id = t.rowid ORDER BY 1, 2, 3').all();
    const pgText = (await pgStore.pool.query('SELECT message_id, pos, item, data_text AS data FROM cmd_index WHERE data_text IS NOT NULL ORDER BY 1, 2, 3')).rows;
    expect(pgText).toEqual(liteText);
    expect(await pgStore.unindexedCount()).toBe(0);
  });

  it('every filter of the filter tests: same rows, totals, sort orders, pages, sessions and commands, or the same located error', async () => {
    let errors = 0;
    let nonEmpty = 0;
    for (const filter of FILTERS) {
      for (const column of SORTS) {
        for (const desc of column ? [false, true] : [false]) {
          const q: MessageQuery = { filter, offset: 0, limit: 500, ...(column ? { sort: { column, desc } } : {}) };
          const [a, b] = await both((s) => s.queryMessages(q));
          expect(b, `${filter} sorted by ${column} ${desc ? 'desc' : 'asc'}`).toEqual(a);
          if ('error' in a) break;
          if (a.total > 0) nonEmpty++;
          // Pages: a window in the middle and one past the end (the total still counts every match).
          for (const [offset, limit] of [[1, 3], [a.total, 5]] as const) {
            const [pa, pb] = await both((s) => s.queryMessages({ ...q, offset, limit }));
            expect(pb, `${filter} page ${offset}+${limit} by ${column}`).toEqual(pa);
          }
        }
      }
      const [ca, cb] = await both((s) => s.findCommands(filter));
      expect(cb, `commands of ${filter}`).toEqual(ca);
      if ('error' in ca) errors++;
      for (const limit of [1, 100]) {
        const [sa, sb] = await both((s) => s.sessionsMatching(filter, limit));
        expect(sb, `sessions of ${filter}`).toEqual(sa);
      }
    }
    // The list is meant to exercise both answers and errors.
    expect(errors).toBeGreaterThan(25);
    expect(nonEmpty).toBeGreaterThan(60);
  }, 120_000);

  it('a regex over its step budget is the same located error on both; the next query has a fresh budget', async () => {
    const filter = 'dev == "IMEI:1" || data matches "(a*)*b"';
    const [a, b] = await both((s) => s.queryMessages({ filter, offset: 0, limit: 10 }, { regexSteps: 10 }));
    expect(a).toEqual({ error: { position: 19, length: 21, message: expect.stringContaining('too long') } });
    expect(b).toEqual(a);
    for (const f of ['uri matches "(x+x+)+y"', 'finding matches "(a|aa)*c"']) {
      const [fa, fb] = await both((s) => s.findCommands(f, { regexSteps: 5 }));
      expect(fb, f).toEqual(fa);
    }
    const [c, d] = await both((s) => s.queryMessages({ filter: 'data matches "hel+o"', offset: 0, limit: 10 }));
    expect(d).toEqual(c);
    expect('rows' in d && d.rows.map((r) => r.id)).toContain(2);
  });

  it('fuzz: any filter gives the same answer or the same located error on both stores', async () => {
    const parts = ['cmd', 'uri', 'status', 'size', 'data', 'dev', 'finding', 'severity', 'findings', 'time', 'msg', ' ', '==', '!=', '<', '>=', 'contains', 'matches', '&&', '||', '!',
      '(', ')', '"', '"x"', '"a\\"b"', '"\\u0000abc"', '"%_*"', '"NEAR(a b)"', '"a OR b"', '"^(a|b)+$"', '"[z-a]"', '404', '-1', '3.5', 'Get', './DevInfo', "'it''s'", '"\\x00"',
      '"e"', '"Lab"', 'Replace', '200', '"^\\./"'];
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...parts), { maxLength: 12 }), fc.constantFrom<SortColumn>('time', 'device', 'findings', 'status', 'msgId'),
      fc.boolean(), async (xs, column, desc) => {
        const filter = xs.join(' ');
        const [a, b] = await both((s) => s.queryMessages({ filter, offset: 0, limit: 7, sort: { column, desc } }));
        expect(b, filter).toEqual(a);
        const [ca, cb] = await both((s) => s.findCommands(filter));
        expect(cb, filter).toEqual(ca);
      }), { numRuns: 400, seed: 7 });
  }, 120_000);

  it('findings: recorded, replaced, counted per message, judged sessions and the filters over them the same on both', async () => {
    expect(await pgStore.unjudgedSessions()).toEqual(await lite.unjudgedSessions());
    expect((await pgStore.unjudgedSessions()).map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const s of [lite, pgStore] as DmMessageIndex[]) {
      await s.recordFindings(1, 4, [{ msg: 2, rule: 'R1', severity: 'error' }, { msg: 2, rule: 'R2', severity: 'note' }, { msg: 3, rule: 'R2', severity: 'warning' }, { msg: 99, rule: 'R9', severity: 'error' }]);
      await s.recordFindings(3, 10, [{ msg: 1, rule: 'tnd.x', severity: 'warning' }]);
      await s.recordFindings(6, 4, [{ msg: 4, rule: 'R3', severity: 'warning' }, { msg: 4, rule: 'R3', severity: 'warning' }]);
      await s.recordFindings(6, 4, [{ msg: 4, rule: 'R3', severity: 'note' }]);
    }
    const [ua, ub] = await both((s) => s.unjudgedSessions());
    expect(ub).toEqual(ua);
    expect(ub).toEqual([{ id: 2, messages: 4 }, { id: 3, messages: 14 }, { id: 4, messages: 1 }, { id: 5, messages: 1 }]);
    const [na, nb] = await both((s) => s.unjudgedSessions({ afterId: 4, alsoIds: [2] }));
    expect(nb).toEqual(na);
    // Sessions 3-5 never ended (active): a sweep looks at them again.
    expect(nb).toEqual([{ id: 2, messages: 4 }, { id: 3, messages: 14 }, { id: 4, messages: 1 }, { id: 5, messages: 1 }]);
    const [ja, jb] = await both((s) => s.judgedSessions([6, 1, 2, 3, 42]));
    expect(jb).toEqual(ja);
    expect(jb).toEqual([1, 6]);
    expect(await pgStore.judgedSessions([])).toEqual([]);
    for (const filter of ['finding == R1', 'severity == warning || severity == error', 'findings > 1', '!finding', 'finding', 'rule matches "^R"', 'severity == note', 'finding == R3 && dir == out']) {
      for (const column of ['findings', 'time'] as const) {
        const [a, b] = await both((s) => s.queryMessages({ filter, offset: 0, limit: 100, sort: { column, desc: true } }));
        expect(b, filter).toEqual(a);
      }
    }
    const [r] = await both((s) => s.queryMessages({ filter: 'finding == R1', offset: 0, limit: 5 }));
    expect('rows' in r && r.rows.map((x) => [x.id, x.findings])).toEqual([[2, { error: 1, warning: 0, note: 1 }]]);
  });

  it('catchUpIndex indexes messages without index rows, the same rows as when they were logged', async () => {
    const rows = async () => (await pgStore.pool.query('SELECT message_id, at_ms, commands, status, worst FROM msg_index ORDER BY message_id')).rows;
    const cmds = async () => (await pgStore.pool.query('SELECT message_id, pos, item, cmd, uri, status, data, data_text FROM cmd_index ORDER BY message_id, pos, item')).rows;
    const [before, beforeCmds] = [await rows(), await cmds()];
    const top = before[before.length - 1]!.message_id as number;
    // The last five messages lost their index rows (as if written by other means).
    await pgStore.pool.query('DELETE FROM msg_index WHERE message_id > $1', [top - 5]);
    await pgStore.pool.query('DELETE FROM cmd_index WHERE message_id > $1', [top - 5]);
    expect(await pgStore.unindexedCount()).toBe(5);
    expect(await pgStore.catchUpIndex()).toBe(5);
    expect(await pgStore.unindexedCount()).toBe(0);
    expect(await rows()).toEqual(before);
    expect(await cmds()).toEqual(beforeCmds);
    const [a, b] = await both((s) => s.findCommands('dev == "IMEI:77" || session == 3'));
    expect(b).toEqual(a);
  });

  it('a database migrated from version 1 with messages in it gets them indexed when the store opens', async () => {
    const url = await cluster.createDatabase('from_v1');
    const { migrate } = await import('../../main/store/postgres/migrations.js');
    const pool = new pg.Pool({ connectionString: url });
    try {
      await migrate(pool, { upTo: 1 });
      await pool.query(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at) VALUES ('IMEI:old', '1', 'done', 'xml', 'md5', now())`);
      const ms = sessionMessages({ devId: 'IMEI:old', getStatus: 404, greeting: 'stored before v2' });
      for (const [i, m] of ms.entries()) {
        await pool.query('INSERT INTO messages (session_id, seq, direction, at, msg_id, content_type, bytes) VALUES (1, $1, $2, $3, $4, $5, $6)',
          [i + 1, m.direction, new Date(m.at).toISOString(), m.msgId, m.contentType, Buffer.from(m.bytes)]);
      }
    } finally {
      await pool.end();
    }
    const s = await PostgresStore.open(url);
    try {
      expect(s.migration?.applied[0]).toBe(2);
      // Indexed while opening; the backfill mark is gone, so the count is the cheap one again.
      expect(await s.unindexedCount()).toBe(0);
      expect((await s.pool.query('SELECT count(*) AS n FROM msg_index_backfill')).rows[0].n).toBe(0);
      expect(await s.findCommands('cmd == Get')).toEqual([{ session: 1, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 }]);
      expect((await s.queryMessages({ filter: 'data contains "before v2"', offset: 0, limit: 5 })).rows.map((r) => r.id)).toEqual([2]);
    } finally {
      await s.close();
    }
  });

  it('a message and its index rows commit or roll back together', async () => {
    const n = async () => (await pgStore.pool.query('SELECT (SELECT count(*) FROM messages) AS m, (SELECT count(*) FROM msg_index) AS i, (SELECT count(*) FROM cmd_index) AS c')).rows[0];
    const was = await n();
    const m = sessionMessages({ devId: 'IMEI:1' })[0]!;
    await expect(pgStore.tx(async (s) => {
      await s.addMessages([{ ...m, sessionId: 1, seq: 90 }]);
      await s.addMessage({ ...m, sessionId: 1 });
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await n()).toEqual(was);
  });

  it('a live server on PostgreSQL indexes what it decoded: the rows equal those built again from the stored bytes (XML and WBXML)', async () => {
    for (const encoding of ['xml', 'wbxml'] as const) {
      const url = await cluster.createDatabase(`live_${encoding}`);
      const dataDir = mkdtempSync(path.join(tmpdir(), 'dmw-pgindex-live-'));
      const server = await DmServer.start({ dataDir, storeUrl: url, port: 0, host: '127.0.0.1', limits: { maxMsgSize: 4096 } });
      try {
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
      } finally {
        await server.close();
      }
      const s = await PostgresStore.open(url);
      try {
        const snapshot = async () => ({
          msg: (await s.pool.query('SELECT * FROM msg_index ORDER BY message_id')).rows,
          cmd: (await s.pool.query('SELECT message_id, session_id, dir, msg_id, pos, item, cmd_id, cmd, uri, status, msg_ref, cmd_ref, data, data_text FROM cmd_index ORDER BY message_id, pos, item')).rows,
        });
        const live = await snapshot();
        expect(live.msg.length).toBeGreaterThan(6);
        expect(live.cmd.filter((c) => c.cmd === 'Get' && c.status === 404)).toHaveLength(1);
        expect(live.cmd.filter((c) => c.data_text !== null).length).toBeGreaterThan(5);
        // Everything indexed again from the stored bytes (the catch-up path, which decodes).
        await s.pool.query('DELETE FROM msg_index; DELETE FROM cmd_index; INSERT INTO msg_index_backfill (up_to) VALUES (0)');
        expect(await s.unindexedCount()).toBe(live.msg.length);
        expect(await s.catchUpIndex()).toBe(live.msg.length);
        expect(await snapshot()).toEqual(live);
        expect(await s.findCommands('cmd == Get && status == 404')).toEqual([expect.objectContaining({ uri: './Nope', status: 404 })]);
      } finally {
        await s.close();
      }
    }
  }, 60_000);
});
