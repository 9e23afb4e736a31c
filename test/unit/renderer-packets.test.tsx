/**
 * The packet list's state (renderer/stores/packets-slice.ts) over a faked packets.query: the first
 * page on applying a filter, a refused filter keeping the previous rows with where it failed, pages
 * fetched for the rows on screen (once), sorting by a header (the same one again flips), live rows
 * learned as the tail, and a row opening its message in the Sessions view.
 */
import { describe, expect, it } from 'vitest';
import type { PacketRow, PacketsQueryInput, PacketsQueryOutput } from '../../main/api/contract-packets.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { PACKET_PAGE, packetAt, packetTone } from '../../renderer/stores/packets-slice.js';
import { fakeApi } from '../helpers/fake-api.js';

function row(id: number, over: Partial<PacketRow> = {}): PacketRow {
  return {
    id, sessionId: 1 + Math.floor(id / 4), seq: 1 + (id % 4), at: 1_700_000_000_000 + id, devId: 'IMEI:490154203237518', dir: id % 2 ? 'out' : 'in',
    msgId: String(1 + (id % 4)), size: 300, enc: 'xml', commands: 'Status Get', status: '200', worst: 200, findings: { error: 0, warning: 0, note: 0 }, ...over,
  };
}

/** A backend with `total()` messages; filter 'bad' is refused at character 4. */
function backend(total: () => number) {
  const calls: PacketsQueryInput[] = [];
  const api = fakeApi({
    'packets.query': (q: PacketsQueryInput): PacketsQueryOutput => {
      calls.push(q);
      if (q.filter.startsWith('bad')) return { ok: false, error: { message: 'unknown field', position: 4, length: 3 } };
      const n = q.filter === 'dir == "out"' ? Math.floor(total() / 2) : total();
      const rows = [];
      for (let i = q.offset; i < Math.min(n, q.offset + q.limit); i++) rows.push(row(i));
      return { ok: true, total: n, rows, tookMs: 1 };
    },
    'sessions.get': () => new Promise(() => undefined),
    'sessions.message': () => new Promise(() => undefined),
  });
  return { store: createAppStore({ api, schedule: (fn) => fn() }), calls };
}

describe('the packet list state', () => {
  it('applies a filter; a refused one keeps the previous rows and says where', async () => {
    const { store } = backend(() => 1000);
    expect(await store.getState().applyPacketFilter('')).toBe(true);
    expect(store.getState().packetTotal).toBe(1000);
    expect(store.getState().packetPages[0]).toHaveLength(PACKET_PAGE);
    expect(await store.getState().applyPacketFilter('dir == "out"')).toBe(true);
    expect(store.getState().packetTotal).toBe(500);
    expect(await store.getState().applyPacketFilter('bad filter')).toBe(false);
    const s = store.getState();
    expect(s.packetError).toEqual({ message: 'unknown field', position: 4, length: 3, filter: 'bad filter' });
    expect(s.packetFilter).toBe('dir == "out"');
    expect(s.packetTotal).toBe(500);
    expect(await store.getState().applyPacketFilter('')).toBe(true);
    expect(store.getState().packetError).toBeNull();
  });

  it('fetches the pages of the rows on screen once each', async () => {
    const { store, calls } = backend(() => 100_000);
    await store.getState().applyPacketFilter('');
    calls.length = 0;
    await Promise.all([store.getState().ensurePackets(50_000, 50_040), store.getState().ensurePackets(50_010, 50_050)]);
    expect(calls.map((c) => c.offset)).toEqual([50_000]);
    expect(packetAt(store.getState().packetPages, 50_020)?.id).toBe(50_020);
    await store.getState().ensurePackets(50_190, 50_210);
    expect(calls.map((c) => c.offset)).toEqual([50_000, 50_200]);
  });

  it('sorts by a column, the same column again the other way, and starts over', async () => {
    const { store, calls } = backend(() => 300);
    await store.getState().applyPacketFilter('');
    await store.getState().sortPackets('size');
    expect(store.getState().packetSort).toEqual({ column: 'size', desc: false });
    await store.getState().sortPackets('size');
    expect(store.getState().packetSort).toEqual({ column: 'size', desc: true });
    expect(calls[calls.length - 1]).toMatchObject({ offset: 0, sort: { column: 'size', desc: true } });
    expect(Object.keys(store.getState().packetPages)).toEqual(['0']);
  });

  it('learns live rows as the tail (sorted by time) and extends the last page', async () => {
    let n = 10;
    const { store, calls } = backend(() => n);
    await store.getState().applyPacketFilter('');
    n = 13;
    await store.getState().refreshPacketTail();
    expect(calls[calls.length - 1]).toMatchObject({ offset: 10 });
    expect(store.getState().packetTotal).toBe(13);
    expect(store.getState().packetPages[0]!.map((r) => r.id)).toEqual([...Array(13).keys()]);
  });

  it('opens a row in the Sessions view with its message selected', async () => {
    const { store } = backend(() => 10);
    store.getState().openPacket({ id: 7, sessionId: 2 });
    const s = store.getState();
    expect(s.view).toBe('sessions');
    expect(s.selectedSessionId).toBe(2);
    expect(s.selectedMessageId).toBe(7);
  });

  it('colours failures and auth challenges', () => {
    expect(packetTone({ worst: 200, status: '200×3' })).toBeNull();
    expect(packetTone({ worst: null, status: '' })).toBeNull();
    expect(packetTone({ worst: 404, status: '200 404' })).toBe('fail');
    expect(packetTone({ worst: 401, status: '401' })).toBe('auth');
    expect(packetTone({ worst: 407, status: '200×2 407' })).toBe('auth');
  });
});
