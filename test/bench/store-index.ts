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
 *  - `log + index, decode`: store.addMessages as callers without the decoded message call it (capture
 *    import, rejections): the index decodes each message again;
 *  - `log + index, decoded given`: store.addMessages with each message's decoded form (`parsed`), as
 *    the server logs a round trip;
 *  - `facts: decode` / `facts: decoded given`: building the index's facts alone, no SQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandsetPool } from '../../main/client/index.js';
import { DmServer } from '../../main/server/server.js';
import { ServerStore, type NewMessage } from '../../main/store/server-store.js';
import * as facts from '../../main/store/message-facts.js';
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
    await pool.add(devIds.length, { devIds });
    for (let round = 0; round * devIds.length < sessions; round++) {
      server.store.tx(() => {
        for (const d of devIds) {
          server.store.addJob(d, { kind: 'get', uri: './DevInfo/Mod' }, Date.now());
          server.store.addJob(d, { kind: 'replace', uri: './Vendor/Mode', value: `mode-${round}` }, Date.now());
        }
      });
      await pool.runAll({ concurrency: devIds.length });
    }
    const rows = server.store.db.prepare('SELECT session_id, direction, at, msg_id, content_type, bytes FROM messages ORDER BY session_id, seq').all() as
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

type Variant = 'log only' | 'log + index, decode' | 'log + index, decoded given';

/** CPU ms per round trip logging `n` round trips of the corpus into a fresh folder. */
function runStore(corpus: RoundTrip[][], n: number, variant: Variant): number {
  const dir = mkdtempSync(join(tmpdir(), 'dmw-bench-index-'));
  const store = ServerStore.open(dir, { synchronous: 'NORMAL' });
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
      if (variant === 'log only') {
        store.tx(() => raw.all(
          p.sessionId, p.seq, 'in', new Date(a.at).toISOString(), null, a.msgId, a.contentType, null, Buffer.from(a.bytes), null, null, null,
          p.sessionId, p.seq + 1, 'out', new Date(b.at).toISOString(), 1, b.msgId, b.contentType, 200, Buffer.from(b.bytes), null, null, null));
      } else {
        const given = variant === 'log + index, decoded given';
        store.tx(() => store.addMessages([msg(a, p.sessionId, p.seq, given), msg(b, p.sessionId, p.seq + 1, given)]));
      }
    }
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / 1000 / n;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
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
  const variants: Variant[] = ['log only', 'log + index, decode', 'log + index, decoded given'];
  const results = new Map<string, number[]>();
  const put = (k: string, v: number) => { if (!Number.isNaN(v)) (results.get(k) ?? results.set(k, []).get(k)!).push(v); };
  runStore(corpus, Math.min(n, 500), 'log + index, decode'); // warm-up
  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) put(v, runStore(corpus, n, v));
    put('facts: decode', runFacts(corpus, n, false));
    put('facts: decoded given', runFacts(corpus, n, true));
  }
  console.log('  CPU per round trip (2 messages), median (min-max):');
  for (const [k, xs] of results) console.log(`  ${k.padEnd(28)} ${spread(xs)}`);
  console.log(`  load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
