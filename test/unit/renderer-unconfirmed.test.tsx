// @vitest-environment happy-dom
/**
 * The UI's job queue and unconfirmed jobs: they are listed apart with why (which session, what
 * happened), with Verify (add, replace, delete only), Re-send and Drop; a decision goes through
 * `jobs.decide` and the job's new state shows; a job-unconfirmed event updates the list.
 */
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DmwApi, JobView } from '../../main/api/contract.js';
import { contract } from '../../main/api/contract.js';
import { CHANNELS } from '../../main/api/channels.js';
import { QueuePanel } from '../../renderer/components/QueuePanel.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore, type AppStore } from '../../renderer/stores/app-store.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

const DEV = 'IMEI:490154203237518';
const at = new Date(1_700_000_000_000).toISOString();

function job(id: number, command: string, status: JobView['status'], error: string | null = null): JobView {
  return {
    id, device: DEV, command, target: `./Lab/${id}`, status, statusCode: null, results: [], members: [], spec: { kind: command, uri: `./Lab/${id}` },
    sessionId: 12, attempts: 1, error, onUnconfirmed: 'ask', verify: false, createdAt: at, updatedAt: at,
  };
}

function mount(store: AppStore, api: DmwApi) {
  return render(<StoreProvider store={store} api={api}><QueuePanel device={DEV} /></StoreProvider>);
}

describe('unconfirmed jobs in the job queue', () => {
  it('lists them with the reason and the decisions their kind allows; Verify calls jobs.decide and shows the job queued again', async () => {
    const why = 'sent in session 12, no Status arrived: session timeout (no message for 300 s); decide: verify, resend or drop';
    const decided: unknown[] = [];
    const api = fakeApi({
      'jobs.queue': () => ({ device: DEV, paused: false, held: [], session: null }),
      'jobs.list': () => [job(1, 'replace', 'unconfirmed', why), job(2, 'exec', 'unconfirmed', why.replace('verify, ', '')), job(3, 'get', 'done')],
      'jobs.decide': (i: { id: number; action: string }) => {
        decided.push(i);
        return { ...job(i.id, 'replace', 'queued'), verify: true };
      },
      'devices.list': () => [],
    });
    const store = createAppStore({ api });
    mount(store, api);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
    const box = screen.getByTestId('unconfirmed-jobs');
    expect(box.textContent).toContain('2 commands went out without an answer');
    expect(box.querySelector('[data-unconfirmed="1"]')!.textContent).toContain(why);
    expect(screen.queryByTestId('verify-1')).toBeTruthy();
    expect(screen.queryByTestId('verify-2')).toBeNull(); // an Exec cannot be read back
    expect(screen.queryByTestId('resend-2')).toBeTruthy();
    expect(screen.getByTestId('job-list').querySelector('[data-job="1"] [data-badge]')!.textContent).toBe('unconfirmed');

    await act(async () => {
      fireEvent.click(screen.getByTestId('verify-1'));
      await new Promise((r) => setTimeout(r, 0));
    });
    expect(decided).toEqual([{ id: 1, action: 'verify' }]);
    expect(store.getState().jobs[1]).toMatchObject({ status: 'queued', verify: true });
    expect(screen.getByTestId('unconfirmed-jobs').querySelector('[data-unconfirmed="1"]')).toBeNull();
  });

  it('a job-unconfirmed event from the server puts the job in the list', async () => {
    const api = fakeApi({ 'jobs.queue': () => ({ device: DEV, paused: false, held: [], session: null }), 'jobs.list': () => [job(4, 'add', 'sent')], 'devices.list': () => [] });
    const frames: Array<() => void> = [];
    const store = createAppStore({ api, schedule: (fn) => frames.push(fn) });
    mount(store, api);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
    expect(screen.queryByTestId('unconfirmed-jobs')).toBeNull();
    act(() => {
      store.getState().ingest('server.event', { type: 'job-unconfirmed', at, job: job(4, 'add', 'unconfirmed', 'sent in session 12, no Status arrived: x') });
      for (const f of frames.splice(0)) f();
    });
    expect(screen.getByTestId('unconfirmed-jobs').textContent).toContain('One command went out without an answer');
  });

  it('the contract carries jobs.decide (channel list and schema agree)', () => {
    expect(CHANNELS).toContain('jobs.decide');
    expect(contract['jobs.decide'].input.safeParse({ id: 3, action: 'verify' }).success).toBe(true);
    expect(contract['jobs.decide'].input.safeParse({ id: 3, action: 'retry' }).success).toBe(false);
  });
});
