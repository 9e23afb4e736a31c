/**
 * The Sessions view's content search (issue 18 point 2: "content search across sessions uses the
 * same index"): sessions.search runs a display filter over the message index and answers the
 * sessions with a matching message, newest first; a bad filter is located; a bare word in the UI's
 * box becomes a content filter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { dispatch } from '../../main/api/dispatch.js';
import { ServerStore } from '../../main/store/server-store.js';
import { asFilter } from '../../renderer/components/content-filter.js';
import { logSession } from '../helpers/filter-fixture.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function backendWith(sessions: Parameters<typeof logSession>[1][]): Promise<Backend> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-search-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = ServerStore.open(dir);
  for (const s of sessions) logSession(store, s);
  store.close();
  const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
  cleanup.push(() => b.close());
  return b;
}

describe('sessions.search', () => {
  it('answers the sessions whose messages hold the text, newest first, and honours the limit', async () => {
    const b = await backendWith([
      { devId: 'IMEI:1', greeting: 'hello lab' },
      { devId: 'IMEI:2', greeting: 'nothing here' },
      { devId: 'IMEI:3', greeting: 'hello again' },
      { devId: 'IMEI:4', greeting: 'plain', getStatus: 404 },
    ]);
    const r = await dispatch(b.handlers, 'sessions.search', { filter: 'data contains "hello"' });
    expect(r).toMatchObject({ ok: true, value: { ok: true, ids: [3, 1], truncated: false } });
    const one = await dispatch(b.handlers, 'sessions.search', { filter: 'data contains "hello"', limit: 1 });
    expect(one).toMatchObject({ ok: true, value: { ok: true, ids: [3], truncated: true } });
    const failed = await dispatch(b.handlers, 'sessions.search', { filter: 'cmd == "Get" && status == 404' });
    expect(failed).toMatchObject({ ok: true, value: { ok: true, ids: [4] } });
  });

  it('points a bad filter at its character, and refuses an empty one at the contract', async () => {
    const b = await backendWith([{ devId: 'IMEI:1' }]);
    const bad = await dispatch(b.handlers, 'sessions.search', { filter: 'dta contains "x"' });
    expect(bad).toMatchObject({ ok: true, value: { ok: false, error: { position: 0, length: 3 } } });
    expect((bad as { value: { error: { message: string } } }).value.error.message).toMatch(/data/);
    expect(await dispatch(b.handlers, 'sessions.search', { filter: '' })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });
});

describe('the content box', () => {
  it('reads a bare phrase as a content search and leaves a filter as it is', () => {
    expect(asFilter('  ')).toBe('');
    expect(asFilter('de-DE')).toBe('data contains "de-DE" || uri contains "de-DE"');
    expect(asFilter('say "hi"')).toBe('data contains "say \\"hi\\"" || uri contains "say \\"hi\\""');
    expect(asFilter('status >= 400')).toBe('status >= 400');
    expect(asFilter('uri contains "FwUpdate"')).toBe('uri contains "FwUpdate"');
  });
});
