/**
 * What the message index costs the server's hot path (a diagnostic; never a unit test):
 *
 *   node --expose-gc --import tsx test/bench/store-index.ts [--roundtrips N] [--reps R]
 *
 * The corpus is real: a DM server and virtual handsets in this process (WBXML, MD5 both ways, a Get
 * and a Replace job per session, as `npm run bench -- server` runs them) fill a data folder; its
 * messages are then logged again, round trip by round trip (the device's message and the answer in
 * one addMessages, one transaction each, as the server's group commit does when it is not busy),
 * into fresh folders, each corpus session replayed as a new session. Per variant, CPU
 * (process.cpuUsage) per round trip, median and range of R alternating repetitions:
 *
 *  - `log only`: the messages INSERT alone (the store before the index), same SQL, same transaction;
 *  - `log + index v1 (b5a9ae7)`: the index as first written (a copy of its code below): one
 *    statement per row, each message decoded again;
 *  - `log + index, decode`: the same INSERT, then indexMessages as callers without the decoded message
 *    (capture import, rejections) reach it: the index decodes each message again;
 *  - `log + index, decoded given`: the same with each message's decoded form (`parsed`), as the server
 *    hands it over;
 *  - `store.group + addMessages, given`: the server's whole call, in its group commit (one group per
 *    round trip: the figure includes the event-loop turn and COMMIT of the group), with the store's
 *    default deferred index (main/store/sqlite/deferred-index.ts);
 *  - `group: log only`: the messages INSERT alone in a group per round trip (the floor of the next ones);
 *  - `group: index in the transaction`: the same group per round trip running the messages INSERT and
 *    indexMessages in it, as addMessages did before the deferred index (the server's path until then);
 *  - `group: index deferred, batch N`: addMessages in the group, the index rows written by the deferred
 *    indexer once N messages wait (no timer), its last batch included in the time;
 *  - `facts: decode` / `facts: decoded given`: building the index's facts alone, no SQL.
 *
 * `--only REGEX` runs the variants whose name matches (the facts too when it matches "facts").
 */
import type Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandsetPool } from '../../main/client/index.js';
import { DmServer } from '../../main/server/server.js';
import { ServerStore, type NewMessage } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import * as facts from '../../main/store/message-facts.js';
import { indexMessages, type LoggedMessage } from '../../main/store/message-index.js';
import type { IndexLimits } from '../../main/store/sqlite/deferred-index.js';
import { decodeMessage } from '../../main/protocol/codec.js';
import type { SyncML } from '../../main/protocol/model.js';
import { DEVICE } from '../../main/tree/tree.js';

const CLIENT = { name: 'lab', secret: 'pw' };
const SERVER = { name: 'dmw', secret: 'srvpw' };

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

interface CorpusMessage { direction: 'in' | 'out'; at: number; msgId: string | null; contentType: string | null; bytes: Uint8Array; parsed: SyncML }
type RoundTrip = [CorpusMessage, CorpusMessage];

async function makeCorpus(sessions: number): Promise<RoundTrip[][]> {
  const dir = mkdtempSync(join(tmpdir(), 'dmw-bench-index-corpus-'));
  try {
    const server = await DmServer.start({
      port: 0, host: '127.0.0.1', dataDir: dir, clientAuth: 'md5', defaultClientCred: CLIENT, serverCred: SERVER, serverAuth: 'md5',
      store: { synchronous: 'NORMAL' },
    });
    const pool = await HandsetPool.create({
      notify: false,
      template: {
        encoding: 'wbxml',
        accounts: () => [{ serverId: 'dmw', addr: server.url, clientCred: { type: 'DIGEST', ...CLIENT }, serverCred: { type: 'DIGEST', ...SERVER } }],
        setup: (tree) => {
          const r = tree.add(DEVICE, './Vendor/Mode', { format: 'chr', value: 'turbo', createParents: true, acl: 'Get=*&Replace=*' });
          if (!r.ok) throw new Error(r.message);
        },
      },
    });
    const devIds = Array.from({ length: 8 }, (_, i) => `IMEI:3569800000000${String(i).padStart(2, '0')}`);
    if (!(server.store instanceof SqliteStore)) throw new Error('the store-index bench needs the SQLite store');
    const store = server.store.serverStore;
    await pool.add(devIds.length, { devIds });
    for (let round = 0; round * devIds.length < sessions; round++) {
      // Between rounds, no session in flight: the sync ServerStore under the server's DmStore is safe to write.
      store.tx(() => {
        for (const d of devIds) {
          store.addJob(d, { kind: 'get', uri: './DevInfo/Mod' }, Date.now());
          store.addJob(d, { kind: 'replace', uri: './Vendor/Mode', value: `mode-${round}` }, Date.now());
        }
      });
      await pool.runAll({ concurrency: devIds.length });
    }
    const rows = store.db.prepare('SELECT session_id, direction, at, msg_id, content_type, bytes FROM messages ORDER BY session_id, seq').all() as
      { session_id: number; direction: 'in' | 'out'; at: string; msg_id: string | null; content_type: string | null; bytes: Buffer }[];
    await pool.close();
    await server.close();
    const bySession = new Map<number, CorpusMessage[]>();
    for (const r of rows) {
      const bytes = new Uint8Array(r.bytes);
      const d = decodeMessage(bytes);
      if (!d.ok) throw new Error(`corpus message does not decode: ${d.error.message}`);
      let list = bySession.get(r.session_id);
      if (!list) bySession.set(r.session_id, (list = []));
      list.push({ direction: r.direction, at: Date.parse(r.at), msgId: r.msg_id, contentType: r.content_type, bytes, parsed: d.value.message });
    }
    const out: RoundTrip[][] = [];
    for (const list of bySession.values()) {
      const trips: RoundTrip[] = [];
      for (let i = 0; i + 1 < list.length; i += 2) {
        if (list[i]!.direction !== 'in' || list[i + 1]!.direction !== 'out') throw new Error('corpus session is not in/out pairs');
        trips.push([list[i]!, list[i + 1]!]);
      }
      out.push(trips);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Batch sizes of the deferred variants. */
const DEFERRED_BATCHES = [1, 8, 32, 64, 128, 512] as const;
type Deferred = `group: index deferred, batch ${(typeof DEFERRED_BATCHES)[number]}`;
type Variant = 'log only' | 'log + index v1 (b5a9ae7)' | 'log + index, decode' | 'log + index, decoded given' | 'store.group + addMessages, given'
  | 'group: log only' | 'group: index in the transaction' | Deferred;

function deferredBatch(v: Variant): number | undefined {
  const m = /^group: index deferred, batch (\d+)$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/**
 * The index as commit b5a9ae7 wrote it (one INSERT per row, a decode per message), kept here so both
 * run in one process, alternating, on the same corpus: runs in separate processes moved by more
 * than the difference on this shared machine.
 */
function indexV1(db: Database.Database, m: { id: number; sessionId: number; seq: number; direction: 'in' | 'out'; atMs: number; msgId: string | null; contentType: string | null; bytes: Uint8Array }): void {
  const prep = (text: string) => {
    let st = v1Statements.get(text);
    if (!st) v1Statements.set(text, (st = db.prepare(text)));
    return st;
  };
  const f = facts.messageFacts(m.bytes, m.contentType);
  const msgId = f.hdrMsgId ?? m.msgId;
  prep(`INSERT INTO msg_index (message_id, session_id, seq, at_ms, dir, msg_id, size, enc, cred, decoded, ncmd, commands, status, worst)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(m.id, m.sessionId, m.seq, Math.round(m.atMs), m.direction, m.msgId ?? f.hdrMsgId, m.bytes.length, f.enc, f.cred, f.decoded ? 1 : 0, f.commands.length, f.commandSummary, f.statusSummary, f.worst);
  if (f.commands.length === 0) return;
  const insert = prep(`INSERT INTO cmd_index (message_id, session_id, dir, msg_id, pos, item, cmd_id, cmd, uri, status, msg_ref, cmd_ref, data)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const text = prep('INSERT INTO cmd_text (rowid, data) VALUES (?, ?)');
  const peer = m.direction === 'in' ? 'out' : 'in';
  for (const c of f.commands) {
    const row = insert.run(m.id, m.sessionId, m.direction, msgId, c.pos, c.item, c.cmdId, c.cmd, c.uri, c.status, c.msgRef, c.cmdRef,
      c.data === null ? null : c.data.slice(0, facts.DATA_EXCERPT));
    if (c.data !== null && c.data.length > 0) text.run(row.lastInsertRowid, c.data);
    if (c.cmd === 'Status' && c.status !== null && c.msgRef !== null && c.cmdRef !== null && c.cmdRef !== '0') {
      prep(`UPDATE cmd_index SET status = ? WHERE session_id = ? AND dir = ? AND msg_id = ? AND cmd_id = ? AND cmd != 'Status'`)
        .run(c.status, m.sessionId, peer, c.msgRef, c.cmdRef);
    }
  }
}
const v1Statements = new Map<string, Database.Statement>();

/** CPU ms per round trip logging `n` round trips of the corpus into a fresh folder. */
async function runStore(corpus: RoundTrip[][], n: number, variant: Variant): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dmw-bench-index-'));
  const batch = deferredBatch(variant);
  const index: Partial<IndexLimits> | undefined = batch === undefined ? undefined : { batchMessages: batch, delayMs: 3_600_000 };
  const store = ServerStore.open(dir, { synchronous: 'NORMAL', ...(index ? { index } : {}) });
  try {
    const raw = store.db.prepare(`INSERT INTO messages (session_id, seq, direction, at, duration_ms, msg_id, content_type, http_status, bytes, decoded, error, note)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`);
    // Sessions first, untimed (the server creates one per device session, not per round trip).
    const plan: { sessionId: number; seq: number; trip: RoundTrip }[] = [];
    store.tx(() => {
      for (let s = 0; plan.length < n; s++) {
        const trips = corpus[s % corpus.length]!;
        const sessionId = store.createSession({ device: 'IMEI:1', dmSessionId: String(s), encoding: 'wbxml', authType: 'md5' }, Date.now());
        trips.forEach((trip, i) => plan.length < n && plan.push({ sessionId, seq: 2 * i + 1, trip }));
      }
    });
    const msg = (m: CorpusMessage, sessionId: number, seq: number, withParsed: boolean): NewMessage & { seq: number } =>
      ({ sessionId, seq, direction: m.direction, at: m.at, msgId: m.msgId, contentType: m.contentType, bytes: m.bytes, httpStatus: m.direction === 'out' ? 200 : null, ...(withParsed ? { parsed: m.parsed } : {}) });
    global.gc?.();
    const t0 = process.cpuUsage();
    for (const p of plan) {
      const [a, b] = p.trip;
      if (variant === 'store.group + addMessages, given' || batch !== undefined) {
        await store.group(() => store.addMessages([msg(a, p.sessionId, p.seq, true), msg(b, p.sessionId, p.seq + 1, true)]));
        continue;
      }
      if (variant === 'group: log only') {
        await store.group(() => raw.all(...rawValues(a, b, p.sessionId, p.seq)));
        continue;
      }
      if (variant === 'group: index in the transaction') {
        await store.group(() => {
          const ids = raw.all(...rawValues(a, b, p.sessionId, p.seq)) as { id: number }[];
          indexMessages(store.db, [
            { id: ids[0]!.id, sessionId: p.sessionId, seq: p.seq, direction: 'in', atMs: a.at, msgId: a.msgId, contentType: a.contentType, bytes: a.bytes, parsed: a.parsed },
            { id: ids[1]!.id, sessionId: p.sessionId, seq: p.seq + 1, direction: 'out', atMs: b.at, msgId: b.msgId, contentType: b.contentType, bytes: b.bytes, parsed: b.parsed },
          ]);
        });
        continue;
      }
      store.tx(() => {
        const ids = raw.all(...rawValues(a, b, p.sessionId, p.seq)) as { id: number }[];
        if (variant === 'log only') return;
        const logged: LoggedMessage[] = [
          { id: ids[0]!.id, sessionId: p.sessionId, seq: p.seq, direction: 'in', atMs: a.at, msgId: a.msgId, contentType: a.contentType, bytes: a.bytes },
          { id: ids[1]!.id, sessionId: p.sessionId, seq: p.seq + 1, direction: 'out', atMs: b.at, msgId: b.msgId, contentType: b.contentType, bytes: b.bytes },
        ];
        if (variant === 'log + index v1 (b5a9ae7)') for (const m of logged) indexV1(store.db, m);
        else if (variant === 'log + index, decode') indexMessages(store.db, logged);
        else indexMessages(store.db, [{ ...logged[0]!, parsed: a.parsed }, { ...logged[1]!, parsed: b.parsed }]);
      });
    }
    // What the deferred indexer still holds is part of the cost (the server writes it within a batch's delay).
    await store.indexing.indexReady();
    const d = process.cpuUsage(t0);
    if (store.indexing.queue().stats.indexed > 0 && store.indexing.queue().stats.indexed !== 2 * n) throw new Error(`${variant}: indexed ${store.indexing.queue().stats.indexed} of ${2 * n}`);
    return (d.user + d.system) / 1000 / n;
  } finally {
    v1Statements.clear();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The two-row messages INSERT's values for a round trip. */
function rawValues(a: CorpusMessage, b: CorpusMessage, sessionId: number, seq: number): unknown[] {
  return [
    sessionId, seq, 'in', new Date(a.at).toISOString(), null, a.msgId, a.contentType, null, Buffer.from(a.bytes), null, null, null,
    sessionId, seq + 1, 'out', new Date(b.at).toISOString(), 1, b.msgId, b.contentType, 200, Buffer.from(b.bytes), null, null, null,
  ];
}

/** CPU ms per round trip building both messages' facts, `n` round trips. */
function runFacts(corpus: RoundTrip[][], n: number, given: boolean): number {
  const flat = corpus.flat();
  const fromParsed = (facts as unknown as { parsedMessageFacts?: (m: SyncML, bytes: Uint8Array, ct: string | null) => unknown }).parsedMessageFacts;
  if (given && !fromParsed) return Number.NaN;
  global.gc?.();
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    for (const m of flat[i % flat.length]!) {
      if (given) fromParsed!(m.parsed, m.bytes, m.contentType);
      else facts.messageFacts(m.bytes, m.contentType);
    }
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000 / n;
}

function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `${med.toFixed(3)} ms (${s[0]!.toFixed(3)}-${s[s.length - 1]!.toFixed(3)})`;
}

async function main(): Promise<void> {
  const n = arg('--roundtrips', 3000);
  const reps = arg('--reps', 5);
  const corpus = await makeCorpus(32);
  const msgs = corpus.flat(2);
  const avg = msgs.reduce((s, m) => s + m.bytes.length, 0) / msgs.length;
  console.log(`store-index: corpus ${corpus.length} sessions, ${msgs.length} messages (~${Math.round(avg)} B, WBXML); ${n} round trips per run, ${reps} alternating runs; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt < 0 ? undefined : new RegExp(process.argv[onlyAt + 1]!);
  const variants = ([
    'log only', 'log + index v1 (b5a9ae7)', 'log + index, decode', 'log + index, decoded given', 'store.group + addMessages, given',
    'group: log only', 'group: index in the transaction', ...DEFERRED_BATCHES.map((b): Deferred => `group: index deferred, batch ${b}`),
  ] as Variant[]).filter((v) => !only || only.test(v));
  const facts = !only || only.test('facts');
  const results = new Map<string, number[]>();
  const put = (k: string, v: number) => { if (!Number.isNaN(v)) (results.get(k) ?? results.set(k, []).get(k)!).push(v); };
  await runStore(corpus, Math.min(n, 500), 'store.group + addMessages, given'); // warm-up
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) put(v, await runStore(corpus, n, v));
    if (!facts) continue;
    put('facts: decode', runFacts(corpus, n, false));
    put('facts: decoded given', runFacts(corpus, n, true));
  }
  console.log('  CPU per round trip (2 messages), median (min-max):');
  for (const [k, xs] of results) console.log(`  ${k.padEnd(36)} ${spread(xs)}`);
  console.log(`  load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
