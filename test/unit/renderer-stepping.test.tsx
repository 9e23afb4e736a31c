// @vitest-environment happy-dom
/**
 * The Sessions view's step control: the zustand slice follows session-held / session-released events
 * (one set per frame), and the held session shows which command goes next with Step and Resume,
 * which call jobs.step and jobs.pause.
 */
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DmwApi, QueueState, SessionDetail } from '../../main/api/contract.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore, heldSession } from '../../renderer/stores/app-store.js';
import { SessionsView } from '../../renderer/views/SessionsView.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

const DEV = 'IMEI:490154203237518';
const at = '2024-01-01T10:00:00.000Z';
const held = { sessionId: 7, since: at, releaseAt: '2024-01-01T10:00:25.000Z', next: { jobId: 12, cmd: 'Get', target: './DevInfo/Mod' }, pending: 3 };

describe('step control slice', () => {
  it('follows session-held and session-released in one update per frame', () => {
    const frames: (() => void)[] = [];
    const store = createAppStore({ api: fakeApi(), schedule: (fn) => frames.push(fn) });
    store.getState().ingest('server.event', { type: 'session-held', at, sessionId: 7, device: DEV, next: held.next, pending: 3, releaseAt: held.releaseAt });
    frames.shift()!();
    expect(heldSession(store.getState(), DEV, 7)).toEqual(held);
    expect(heldSession(store.getState(), DEV, 8)).toBeNull();
    const listener = vi.fn();
    store.subscribe(listener);
    store.getState().ingest('server.event', { type: 'session-released', at, sessionId: 7, device: DEV, by: 'step', heldMs: 1200, commands: 1 });
    store.getState().ingest('server.event', { type: 'session-held', at, sessionId: 7, device: DEV, next: { jobId: 13, cmd: 'Replace', target: './X' }, pending: 2, releaseAt: held.releaseAt });
    frames.shift()!();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(heldSession(store.getState(), DEV, 7)?.next).toEqual({ jobId: 13, cmd: 'Replace', target: './X' });
    store.getState().ingest('server.event', { type: 'session-released', at, sessionId: 7, device: DEV, by: 'resume', heldMs: 10, commands: 2 });
    frames.shift()!();
    expect(heldSession(store.getState(), DEV, 7)).toBeNull();
  });

  it('takes the held session from jobs.changed and from a Step answer', async () => {
    const frames: (() => void)[] = [];
    const after: QueueState = { device: DEV, paused: true, held: [], session: { ...held, next: { jobId: 13, cmd: 'Get', target: './DevInfo/Man' }, pending: 2 } };
    const store = createAppStore({ api: fakeApi({ 'jobs.step': () => ({ queue: after, job: null }), 'devices.list': () => [] }), schedule: (fn) => frames.push(fn) });
    store.getState().ingest('jobs.changed', { device: DEV, paused: true, held: [], session: held });
    frames.shift()!();
    expect(heldSession(store.getState(), DEV, 7)?.next?.jobId).toBe(12);
    await store.getState().stepQueue(DEV);
    expect(heldSession(store.getState(), DEV, 7)?.next?.jobId).toBe(13);
  });
});

describe('Sessions view: a held session', () => {
  const detail: SessionDetail = {
    session: { id: 7, device: DEV, dmSessionId: '1A', state: 'active', encoding: 'wbxml', authType: 'md5', startedAt: at, endedAt: null, reason: null, messageCount: 1 },
    messages: [],
    jobs: [],
  };

  function mount(api: DmwApi) {
    const store = createAppStore({ api });
    store.setState({ sessions: [detail.session], selectedSessionId: 7, sessionDetail: detail, queues: { [DEV]: { device: DEV, paused: true, held: [], session: held } } });
    render(<StoreProvider store={store} api={api}><SessionsView /></StoreProvider>);
    return store;
  }

  it('says it is held, which command goes next, and offers Step and Resume', async () => {
    const calls: string[] = [];
    const api = fakeApi({
      'jobs.queue': () => ({ device: DEV, paused: true, held: [], session: held }),
      'jobs.list': () => [],
      'devices.list': () => [],
      'jobs.step': (i: { device: string }) => {
        calls.push(`step ${i.device}`);
        return { queue: { device: DEV, paused: true, held: [], session: null }, job: null };
      },
      'jobs.pause': (i: { device: string; paused: boolean }) => {
        calls.push(`pause ${i.device} ${i.paused}`);
        return { device: DEV, paused: i.paused, held: [], session: null };
      },
    });
    const store = mount(api);
    const bar = screen.getByTestId('held-session');
    expect(bar.textContent).toContain('Next: Get ./DevInfo/Mod');
    expect(bar.textContent).toContain('job #12');
    expect(bar.textContent).toContain('3 commands waiting');
    expect(screen.getByTestId('session-debugger').querySelector('h2 [data-badge="held"]')).not.toBeNull();
    expect((screen.getByTestId('step-queue') as HTMLButtonElement).disabled).toBe(false);

    await act(async () => {
      fireEvent.click(screen.getByTestId('held-step'));
    });
    expect(calls).toContain(`step ${DEV}`);
    expect(screen.queryByTestId('held-session')).toBeNull();

    act(() => store.setState({ queues: { [DEV]: { device: DEV, paused: true, held: [], session: held } } }));
    await act(async () => {
      fireEvent.click(screen.getByTestId('held-resume'));
    });
    expect(calls).toContain(`pause ${DEV} false`);
    expect(screen.queryByTestId('held-session')).toBeNull();
  });

  it('offers to step held jobs through in one session', async () => {
    const spec = { kind: 'get' as const, uri: './DevInfo/Mod' };
    const queue: QueueState = { device: DEV, paused: true, held: [1, 2].map((heldId) => ({ heldId, device: DEV, spec, notify: true, createdAt: at })), session: null };
    const steps: unknown[] = [];
    const api = fakeApi({
      'jobs.queue': () => queue,
      'jobs.list': () => [],
      'devices.list': () => [],
      'jobs.step': (i: unknown) => {
        steps.push(i);
        return { queue: { ...queue, held: [] }, job: null };
      },
    });
    const store = createAppStore({ api });
    store.setState({ sessions: [detail.session], selectedSessionId: 7, sessionDetail: detail, queues: { [DEV]: queue } });
    render(<StoreProvider store={store} api={api}><SessionsView /></StoreProvider>);
    await act(async () => {
      fireEvent.click(screen.getByTestId('step-session'));
    });
    expect(steps).toEqual([{ device: DEV, all: true }]);
    expect(screen.queryByTestId('step-session')).toBeNull();
  });

  it('shows nothing held for a session that is not', () => {
    const api = fakeApi({ 'jobs.queue': () => ({ device: DEV, paused: false, held: [] }), 'jobs.list': () => [] });
    const store = createAppStore({ api });
    store.setState({ sessions: [detail.session], selectedSessionId: 7, sessionDetail: detail, queues: { [DEV]: { device: DEV, paused: false, held: [] } } });
    render(<StoreProvider store={store} api={api}><SessionsView /></StoreProvider>);
    expect(screen.queryByTestId('held-session')).toBeNull();
  });
});
