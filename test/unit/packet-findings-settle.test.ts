/**
 * PacketFindings (main/api/packets-view.ts) answers a page only after the findings it depends on are
 * committed, whoever recorded them. CI caught the race on PostgreSQL, where a write takes a round
 * trip: the background sweep, started by the same page, emptied the list of pending writes while
 * the page waited on the judge, and the page then re-read the index before those writes committed
 * and showed 0 findings where SQLite showed 1 and 2.
 */
import { describe, expect, it } from 'vitest';
import { PacketFindings } from '../../main/api/packets-view.js';
import type { SessionFindings } from '../../main/api/findings-view.js';
import type { DmStore } from '../../main/store/store.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A store whose findings writes commit only when the test says so; reads show what is committed. */
function slowStore() {
  const committed = new Map<number, number>();
  const commits: (() => void)[] = [];
  const store = {
    unindexedCount: async () => 0,
    catchUpIndex: async () => undefined,
    queryMessages: async () => ({ total: 1, rows: [{ sessionId: 2, findings: { error: committed.get(2) ?? 0, warning: 0, note: 0 } }] }),
    judgedSessions: async (ids: readonly number[]) => ids.filter((id) => committed.has(id)),
    unjudgedSessions: async () => [{ id: 2, messages: 4 }],
    maxSessionId: async () => 2,
    activeSessionIds: async () => [],
    recordFindings: (session: number, _messages: number, findings: readonly unknown[]) => {
      const d = deferred();
      commits.push(() => {
        committed.set(session, findings.length);
        d.resolve();
      });
      return d.promise;
    },
  };
  return { store: store as unknown as DmStore, commits };
}

const judgement: SessionFindings = {
  session: 2,
  findings: [{ severity: 'error', rule: 'r', clause: 'c', msg: 1, path: '/', text: 't' }],
  counts: { error: 1, warning: 0, note: 0 },
  messages: 4,
  skipped: null,
};

describe('PacketFindings waits for findings writes it did not start', () => {
  it('a page whose session the sweep already judged waits for that write before it reads back', async () => {
    const { store, commits } = slowStore();
    let calls = 0;
    // Like FindingsCache.counts on a cache hit: the page and the sweep judge session 2 again and record nothing.
    const pf: PacketFindings = new PacketFindings({
      reader: () => store,
      writer: () => store,
      judge: async () => {
        calls++;
        // The page's judgement (the first call) is slower than the sweep's, which starts after it.
        if (calls === 1) await sleep(20);
      },
    });
    // An earlier findings call (the Sessions view) judged and recorded session 2; not committed yet.
    pf.record(judgement);
    const page = pf.query({ filter: '', offset: 0, limit: 10 } as never);
    // The write commits after the page's judge returned, and after the sweep finished its batch.
    await sleep(60);
    for (const c of commits.splice(0)) c();
    const answer = await page;
    expect(answer.ok).toBe(true);
    expect((answer as { rows: { findings: { error: number } }[] }).rows[0]!.findings.error).toBe(1);
    await pf.settled();
  });

  it('settled() resolves once every recorded write committed, and not before', async () => {
    const { store, commits } = slowStore();
    const pf = new PacketFindings({ reader: () => store, writer: () => store, judge: async () => undefined });
    pf.record(judgement);
    pf.record({ ...judgement, session: 3 });
    let done = false;
    const wait = pf.settled().then(() => (done = true));
    await sleep(5);
    expect(done).toBe(false);
    commits.shift()!();
    await sleep(5);
    expect(done).toBe(false);
    commits.shift()!();
    await wait;
    expect(done).toBe(true);
  });
});
