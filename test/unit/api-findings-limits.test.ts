/**
 * The findings cache reads a device's URI limits from its three DevDetail/URI nodes, not its whole
 * cached tree: with 100k cached nodes every findings ask (the Sessions view asks for the rows it
 * shows) took 1.3 s, and opening a 10k-message session waited behind it. A session too long to be
 * judged reads no tree at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FindingsCache, type FindingsSource } from '../../main/api/findings-view.js';
import { RULE_BY_ID } from '../../main/judge/catalogue.js';
import { exampleInput } from '../../main/judge/example-kit.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';

const DEV = 'IMEI:493005100592800';
const cleanup: Array<() => unknown> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f();
});

function storeWithTree(): ServerStore {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-limits-'));
  const store = ServerStore.open(dir);
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => store.close());
  store.touchDevice(DEV, 1_700_000_000_000);
  const entries = [
    { uri: './DevDetail/URI/MaxSegLen', format: 'int', type: null, data: '4' },
    { uri: './DevDetail/URI/MaxDepth', format: 'int', type: null, data: '3' },
    ...Array.from({ length: 500 }, (_, i) => ({ uri: `./Big/N${i}`, format: 'chr', type: 'text/plain', data: `v${i}` })),
  ];
  store.upsertTree(DEV, entries, 1_700_000_000_000);
  return store;
}

/** The store (DmStore over SQLite) as the cache's source, recording which tree nodes it is asked for. */
function counting(store: ServerStore): { source: FindingsSource; asked: () => string[][] } {
  const dm = SqliteStore.over(store);
  const asked: string[][] = [];
  const source: FindingsSource = {
    session: (id) => dm.session(id),
    messages: (id) => dm.messages(id),
    treeValues: (device, uris) => {
      asked.push([...uris]);
      return dm.treeValues(device, uris);
    },
  };
  return { source, asked: () => asked };
}

const LIMIT_NODES = ['./DevDetail/URI/MaxDepth', './DevDetail/URI/MaxTotLen', './DevDetail/URI/MaxSegLen'];

function logExample(store: ServerStore, ruleId: string): number {
  const rule = RULE_BY_ID.get(ruleId)!;
  const id = store.createSession({ device: DEV, dmSessionId: '1', encoding: 'xml', state: 'done', reason: 'test' }, 1_700_000_000_000);
  exampleInput(rule.bad).forEach((m, i) => store.addMessage({ sessionId: id, direction: m.direction, at: 1_700_000_000_000 + i, bytes: m.bytes!, contentType: 'application/vnd.syncml.dm+xml' }));
  return id;
}

describe('URI limits for the findings', () => {
  it('come from the DevDetail/URI nodes alone, and judge as the whole tree would', async () => {
    const store = storeWithTree();
    const id = logExample(store, 'uri.limits');
    const { source, asked } = counting(store);
    const cache = new FindingsCache(() => source);
    const f = await cache.findings(id);
    await cache.counts([id]);
    expect(asked().length).toBeGreaterThan(0);
    for (const uris of asked()) expect(uris).toEqual(LIMIT_NODES);
    const expected = checkLoggedSession(store.messages(id), { uriLimits: { maxSegLen: 4, maxDepth: 3 } }).map(({ severity, rule, clause, msg, path, text }) => ({ severity, rule, clause, msg, path, text }));
    expect(f.findings).toEqual(expected);
    expect(f.findings.some((x) => x.rule === 'uri.limits')).toBe(true);
  });

  it('are not read for a session too long to be judged', async () => {
    const store = storeWithTree();
    const id = logExample(store, 'uri.limits');
    const { source, asked } = counting(store);
    const cache = new FindingsCache(() => source, undefined, 1);
    const f = await cache.findings(id);
    await cache.counts([id]);
    expect(f.skipped).toMatch(/longer than the app judges/);
    expect(asked()).toEqual([]);
  });
});
