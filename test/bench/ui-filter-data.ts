/**
 * Data and timing for the ui suite's "a filter over 100k stored messages (< 1 s)" (issue 18,
 * Performance). For the suite (`npm run bench -- ui`, test/bench/suites/):
 *
 *   import { fillStore, timeFilter, TYPICAL_FILTERS } from '../ui-filter-data.js';
 *   const store = fillStore(dir, 100_000);             // ServerStore with 100k messages, indexed as logged
 *   for (const f of TYPICAL_FILTERS) {
 *     const r = timeFilter(store, f);                 // { filter, ms, total, rows } — one packets.query, first page of 200
 *   }
 *   store.close();
 *
 * fillStore logs 25,000 four-message sessions (test/helpers/filter-fixture.ts) over 500 devices, one
 * in 25 with a Get answered 404, greetings that vary, through ServerStore.addMessages/addMessage, so
 * the message index is filled exactly as the live server fills it. It takes a while (every message
 * is decoded once to be indexed: about a minute for 100k on a busy 2-core machine); fill once per
 * run, or once across runs in a cache folder (fillStore reuses a folder it filled). timeFilter measures what the packet list's
 * packets.query costs in the backend: the filter parsed, compiled, counted and the page read.
 */
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { queryPackets } from '../../main/api/packets-view.js';
import type { PacketsQueryInput } from '../../main/api/contract-packets.js';
import { sessionMessages } from '../helpers/filter-fixture.js';

/** Filters a user types into the packet list's filter bar: message fields, command fields, content search. */
export const TYPICAL_FILTERS: readonly string[] = [
  '',
  'status >= 400',
  'cmd == "Get" && status == 404',
  'dev == "IMEI:100000000000042"',
  'data contains "greeting 1234"',
  'uri contains "Vendor" && dir == "out"',
  'size > 500 || enc == "wbxml"',
];

const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);

/**
 * A store in `dir` holding `n` messages (rounded up to whole four-message sessions). A folder that a
 * previous fillStore(dir, n) filled is reused as it is (pass a cache folder, e.g.
 * path.join(BENCH_CACHE_DIR, 'ui-filter-100k'), to fill once across runs).
 */
export function fillStore(dir: string, n: number): ServerStore {
  const store = ServerStore.open(dir, { synchronous: 'NORMAL' });
  const sessions = Math.ceil(n / 4);
  const have = (store.db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n;
  if (have === sessions) return store;
  if (have !== 0) {
    store.close();
    throw new Error(`${dir}: holds ${have} sessions, not the ${sessions} of fillStore(dir, ${n}); use an empty folder`);
  }
  const perTx = 500;
  for (let first = 0; first < sessions; first += perTx) {
    store.tx(() => {
      for (let k = first; k < Math.min(sessions, first + perTx); k++) {
        const devId = `IMEI:${100000000000000 + (k % 500)}`;
        const ms = sessionMessages({ devId, dmSessionId: String(k + 1), greeting: `greeting ${k}`, getStatus: k % 25 === 0 ? 404 : 200, at: T0 + k * 1000 });
        const id = store.createSession({ device: devId, dmSessionId: String(k + 1), encoding: 'xml', authType: 'md5' }, ms[0]!.at);
        store.addMessages(ms.map((m, i) => ({ ...m, sessionId: id, seq: i + 1 })));
        store.endSession(id, 'done', 'completed', ms[3]!.at);
      }
    });
  }
  return store;
}

export interface FilterTiming {
  filter: string;
  /** Wall time of one packets.query (parse, compile, count, first page). */
  ms: number;
  total: number;
  rows: number;
}

/** One packets.query as the packet list sends it (first page, `limit` rows, optional sort), timed. */
export async function timeFilter(store: ServerStore, filter: string, opts: { limit?: number; sort?: PacketsQueryInput['sort'] } = {}): Promise<FilterTiming> {
  const t0 = performance.now();
  const r = await queryPackets(SqliteStore.over(store), { filter, offset: 0, limit: opts.limit ?? 200, ...(opts.sort ? { sort: opts.sort } : {}) });
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`filter ${JSON.stringify(filter)} refused: ${r.error.message} at ${r.error.position}`);
  return { filter, ms, total: r.total, rows: r.rows.length };
}
