// @vitest-environment happy-dom
/**
 * Expert findings in the Sessions view: counts per session in the list (badges that say their
 * severity in words), asked for by the rows shown and again when a live session grows; "only
 * sessions with errors"; each message's mark in the sequence diagram and its findings beside it
 * (severity, rule id, clause, text, element path); the severity filter on messages; and a rule's
 * explanation (clause, text, good and bad example) on clicking its id.
 */
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DmwApi, MessageSummary, SessionDetail, SessionFindingsView, SessionSummary } from '../../main/api/contract.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { sessionsWithErrors } from '../../renderer/stores/findings-slice.js';
import { SessionsView } from '../../renderer/views/SessionsView.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

// The lists are virtualized and happy-dom lays nothing out: give scroll boxes a height so rows render.
const clientHeight = Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight');
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
  Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 800 });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(HTMLElement.prototype, 'clientHeight', clientHeight);
  else delete (HTMLElement.prototype as { clientHeight?: number }).clientHeight;
});

const DEV = 'IMEI:490154203237518';
const at = '2024-01-01T10:00:00.000Z';

function session(id: number, messageCount = 2, state = 'done'): SessionSummary {
  return { id, device: DEV, dmSessionId: '1A', state, encoding: 'xml', authType: null, startedAt: at, endedAt: at, reason: null, messageCount };
}

function message(id: number, seq: number, direction: 'in' | 'out'): MessageSummary {
  return {
    id, seq, direction, at, offsetMs: seq * 10, durationMs: null, msgId: String(seq), size: 300, contentType: 'application/vnd.syncml.dm+xml', httpStatus: null, final: true,
    error: null, note: null, commands: [{ cmdId: '1', kind: 'Alert', targets: [], summary: 'Alert 1201', depth: 0, ref: null, status: null, results: [] }], auth: { cred: null, hdrStatus: null },
  };
}

const FINDINGS: SessionFindingsView = {
  session: 7,
  messages: 2,
  skipped: null,
  counts: { error: 1, warning: 0, note: 1 },
  findings: [
    { severity: 'error', rule: 'status.missing', clause: 'OMA-TS-DM_RepPro-V1_2 §6.5.1', msg: 2, path: 'SyncML/SyncBody/Get[1]', text: 'Get 4 of message 1 has no Status' },
    { severity: 'note', rule: 'pkg1.devinfo-nodes', clause: 'OMA-TS-DM_Protocol-V1_2 §8.3', msg: 1, path: 'SyncML/SyncBody/Replace[2]', text: 'DevInfo lacks Lang' },
  ],
};

const RULE = {
  id: 'status.missing', severity: 'error' as const, clause: 'OMA-TS-DM_RepPro-V1_2 §6.5.1', text: 'Every command that needs a Status gets one',
  good: [{ from: 'client' as const, xml: '<SyncML>good</SyncML>' }], bad: [{ from: 'client' as const, xml: '<SyncML>bad one</SyncML>' }],
};

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
}

describe('findings slice', () => {
  it('asks counts only for sessions not counted at their message count, in one batch, and again when a session grows', async () => {
    const asked: number[][] = [];
    const api = fakeApi({
      'sessions.findingCounts': (i: { ids: number[] }) => {
        asked.push(i.ids);
        return Object.fromEntries(i.ids.map((id) => [String(id), { error: id === 2 ? 1 : 0, warning: 0, note: 0 }]));
      },
    });
    const store = createAppStore({ api });
    const list = [session(1), session(2), session(3)];
    await store.getState().loadFindingCounts(list);
    await store.getState().loadFindingCounts(list);
    expect(asked).toEqual([[1, 2, 3]]);
    await store.getState().loadFindingCounts([session(1), session(2, 3)]);
    expect(asked).toEqual([[1, 2, 3], [2]]);
    expect(store.getState().findingCounts[2]).toEqual({ messages: 3, counts: { error: 1, warning: 0, note: 0 } });
    expect(sessionsWithErrors([...list, session(4)], store.getState().findingCounts)).toEqual({ shown: [session(2)], unjudged: 1 }); // session 4 was never counted
  });
});

describe('Sessions view with findings', () => {
  const detail: SessionDetail = { session: session(7), messages: [message(70, 1, 'in'), message(71, 2, 'out')], jobs: [] };

  function mount(over: Partial<Record<keyof DmwApi, (input: never) => unknown>> = {}) {
    const calls: { channel: string; input: unknown }[] = [];
    const spy = (channel: string, fn: (i: never) => unknown) => (i: never) => {
      calls.push({ channel, input: i });
      return fn(i);
    };
    const api = fakeApi({
      'sessions.findings': spy('sessions.findings', () => FINDINGS),
      'sessions.findingCounts': spy('sessions.findingCounts', (i: { ids: number[] }) => Object.fromEntries(i.ids.map((id) => [String(id), id === 7 ? FINDINGS.counts : id === 10 ? { error: 0, warning: 0, note: 0, skipped: 'a 5000-message session: run dmw session check 10' } : { error: 0, warning: id === 8 ? 2 : 0, note: 0 }]))),
      'judge.rule': spy('judge.rule', () => RULE),
      'sessions.message': () => { throw new Error('not in this test'); },
      'jobs.queue': () => ({ device: DEV, paused: false, held: [], session: null }),
      'jobs.list': () => [],
      'devices.list': () => [],
      ...over,
    });
    const store = createAppStore({ api });
    store.setState({ sessions: [session(7), session(8), session(9), session(10)], selectedSessionId: 7, sessionDetail: detail, selectedMessageId: 71 });
    render(<StoreProvider store={store} api={api}><SessionsView /></StoreProvider>);
    return { store, calls };
  }

  it('the State filter offers every session state, imported captures included', async () => {
    mount();
    await settle();
    const options = [...screen.getByLabelText('State').querySelectorAll('option')].map((o) => o.getAttribute('value'));
    expect(options).toEqual(['', 'active', 'done', 'aborted', 'timeout', 'interrupted', 'failed', 'rejected', 'imported']);
  });

  it('shows each message\'s findings beside it: the mark in the diagram, severity, rule, clause, text and path in the message panel', async () => {
    const { calls } = mount();
    await settle();
    expect(calls.filter((c) => c.channel === 'sessions.findings')).toEqual([{ channel: 'sessions.findings', input: { id: 7 } }]);
    const diagram = screen.getByTestId('seq-scroll');
    const mark = diagram.querySelector('[data-message="71"] [data-finding-mark]')!;
    expect(mark.getAttribute('data-finding-mark')).toBe('error');
    expect(mark.getAttribute('aria-label')).toBe('1 finding, worst error');
    expect(diagram.querySelector('[data-message="70"] [data-finding-mark]')!.getAttribute('data-finding-mark')).toBe('note');

    const list = screen.getByTestId('message-findings');
    const item = list.querySelector('[data-rule="status.missing"]')!;
    expect(item.querySelector('[data-severity]')!.textContent).toContain('error');
    expect(item.textContent).toContain('OMA-TS-DM_RepPro-V1_2 §6.5.1');
    expect(item.textContent).toContain('Get 4 of message 1 has no Status');
    expect(item.textContent).toContain('SyncML/SyncBody/Get[1]');
    expect(list.querySelector('[data-rule="pkg1.devinfo-nodes"]')).toBeNull(); // message 1's, not this one's

    const summary = screen.getByTestId('findings-summary');
    expect(summary.querySelector('[data-findings="counts"]')!.getAttribute('aria-label')).toBe('findings: 1 error, 1 note');
  });

  it('filters messages by the severity of their findings', async () => {
    mount();
    await settle();
    const rows = () => [...screen.getByTestId('seq-scroll').querySelectorAll('[data-message]')].map((e) => e.getAttribute('data-message'));
    expect(rows()).toEqual(['70', '71']);
    fireEvent.change(screen.getByTestId('finding-floor'), { target: { value: 'error' } });
    expect(rows()).toEqual(['71']);
    fireEvent.change(screen.getByTestId('finding-floor'), { target: { value: 'note' } });
    expect(rows()).toEqual(['70', '71']);
    fireEvent.change(screen.getByTestId('finding-floor'), { target: { value: 'warning' } });
    expect(rows()).toEqual(['71']);
  });

  it('explains a rule on clicking its id: clause, one line, a good and a bad example; Close hides it', async () => {
    const { calls } = mount();
    await settle();
    await act(async () => {
      fireEvent.click(screen.getByTestId('message-findings').querySelector('[data-explain="status.missing"]')!);
    });
    expect(calls.filter((c) => c.channel === 'judge.rule').map((c) => c.input)).toEqual([{ id: 'status.missing' }]);
    const dialog = screen.getByRole('dialog');
    expect(dialog.getAttribute('aria-label')).toBe('Rule status.missing');
    expect(dialog.textContent).toContain('OMA-TS-DM_RepPro-V1_2 §6.5.1');
    expect(screen.getByTestId('rule-text').textContent).toBe('Every command that needs a Status gets one');
    expect(screen.getByTestId('rule-good').textContent).toContain('<SyncML>good</SyncML>');
    expect(screen.getByTestId('rule-bad').textContent).toContain('<SyncML>bad one</SyncML>');
    fireEvent.click(within(dialog).getByText('Close'));
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('counts findings per session in the list, in words as well as colour, and filters to sessions with errors', async () => {
    const { calls } = mount();
    await settle();
    const list = screen.getByTestId('session-list');
    const row = (id: number) => list.querySelector(`[data-session="${id}"]`);
    if (row(7) === null) throw new Error('the session list rendered no rows here');
    expect(calls.some((c) => c.channel === 'sessions.findingCounts')).toBe(true);
    const counts7 = row(7)!.querySelector('[data-findings="counts"]')!;
    expect(counts7.getAttribute('aria-label')).toBe('findings: 1 error, 1 note');
    expect([...counts7.querySelectorAll('[data-severity]')].map((e) => e.getAttribute('data-severity'))).toEqual(['error', 'note']);
    expect(counts7.querySelector('[data-severity="error"]')!.textContent).toContain('1 error');
    expect(row(8)!.querySelector('[data-findings="counts"]')!.getAttribute('aria-label')).toBe('findings: 2 warnings');
    expect(row(9)!.querySelector('[data-findings="none"]')!.textContent).toBe('no findings');
    const long = 'a 5000-message session: run dmw session check 10';
    expect(row(10)!.querySelector('[data-findings="skipped"]')!.getAttribute('title')).toBe(long);

    await act(async () => {
      fireEvent.click(screen.getByTestId('errors-only'));
    });
    await settle();
    expect([...list.querySelectorAll('[data-session]')].map((e) => e.getAttribute('data-session'))).toEqual(['7']);
  });
});
