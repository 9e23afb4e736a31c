/** The preload with a fake `electron`: exactly one function per channel and the event hook, nothing else. */
import { describe, expect, it, vi } from 'vitest';
import { CHANNELS, IPC_EVENT, IPC_PREFIX } from '../../main/api/channels.js';

const exposed: Record<string, unknown> = {};
const invoked: [string, unknown][] = [];
const listeners = new Map<string, (...a: unknown[]) => void>();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) },
  ipcRenderer: {
    invoke: async (ch: string, input: unknown) => {
      invoked.push([ch, input]);
      return { ok: true, value: null };
    },
    on: (ch: string, fn: (...a: unknown[]) => void) => listeners.set(ch, fn),
    removeListener: (ch: string) => listeners.delete(ch),
  },
}));

describe('preload', () => {
  it('exposes one function per contract channel and an event subscription, nothing else', async () => {
    await import('../../preload/preload.js');
    expect(Object.keys(exposed)).toEqual(['dmw']);
    const dmw = exposed.dmw as { channels: Record<string, (i: unknown) => Promise<unknown>>; onEvent: (fn: (n: string, p: unknown) => void) => () => void };
    expect(Object.keys(dmw).sort()).toEqual(['channels', 'onEvent']);
    expect(Object.keys(dmw.channels).sort()).toEqual([...CHANNELS].sort());
    expect(Object.isFrozen(dmw.channels)).toBe(true);
    await dmw.channels['sessions.get']!({ id: 1 });
    expect(invoked).toEqual([[`${IPC_PREFIX}sessions.get`, { id: 1 }]]);

    const got: unknown[] = [];
    const off = dmw.onEvent((n, p) => got.push([n, p]));
    listeners.get(IPC_EVENT)!({}, { name: 'server.status', payload: 1 });
    expect(got).toEqual([['server.status', 1]]);
    off();
    expect(listeners.has(IPC_EVENT)).toBe(false);
  });
});
