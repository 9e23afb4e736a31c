// @vitest-environment happy-dom
/**
 * The Conformance view over a fake API: pick a device, a plan and some cases, run, follow the
 * progress (polled), read the verdicts coloured, open a case for its checks, its sequence diagram
 * (one arrow per message: MsgID and commands) and its messages, export the reports; a refused run
 * says why. A hostile message stays text.
 */
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeviceSummary, DmwApi, ServerStatus } from '../../main/api/contract.js';
import type { CaseDetailView, ConformanceStatus } from '../../main/api/contract-conformance.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { ConformanceView } from '../../renderer/views/ConformanceView.js';
import { fakeApi } from '../helpers/fake-api.js';
import { planResult } from '../helpers/conformance-fixture.js';

const downloads: { fileName: string; text: string; type: string | undefined }[] = [];
vi.mock('../../renderer/hooks/download.js', () => ({
  downloadText: (fileName: string, text: string, type?: string) => downloads.push({ fileName, text, type }),
}));

afterEach(() => {
  cleanup();
  downloads.length = 0;
});

const DEV = 'IMEI:490154203237518';
const RESULT = planResult();
const PLAN = { name: 'dm12-client', title: 'OMA DM 1.2 client', cases: RESULT.cases.map(({ id, title, clause, group }) => ({ id, title, clause, group })) };
const IDLE: ConformanceStatus = { state: 'idle', runId: null, device: null, plan: null, startedAt: null, finishedAt: null, total: 0, done: 0, current: null, waiting: null, sessions: 0, cases: [], summary: null, error: null };
const verdicts = RESULT.cases.map(({ id, title, clause, group, verdict, detail, durationMs }) => ({ id, title, clause, group, verdict, detail, durationMs }));

const HOSTILE_XML = '<SyncML><SyncBody><Replace><Data><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"></Data></Replace></SyncBody></SyncML>';
const DETAIL: CaseDetailView = {
  ...verdicts[1]!,
  checks: [{ what: 'Status code for Get', expected: '200', actual: '500', ok: false, msg: 3, path: 'SyncBody/Status[2]/Data', rule: 'status.code-valid' }],
  rules: ['status.code-valid'],
  notRestored: ['./DMWConf/x left on the device'],
  sessions: [{
    sessionId: 7,
    messages: [
      { seq: 1, direction: 'in', at: 0, size: 300, xml: HOSTILE_XML, offsetMs: 0, msgId: '1', commands: 'Alert 1201 · Replace', final: true },
      { seq: 2, direction: 'out', at: 10, size: 200, xml: '<SyncML>answer</SyncML>', offsetMs: 10, msgId: '1', commands: 'Status×2 (212, 200) · Get', final: false },
    ],
  }],
};

function setup(over: Partial<Record<keyof DmwApi, (input: never) => unknown>> = {}) {
  const api = fakeApi({ 'conformance.plans': () => [PLAN], 'conformance.status': () => IDLE, ...over });
  const store = createAppStore({ api });
  store.setState({
    server: { running: true, url: 'http://127.0.0.1:8080/dm' } as ServerStatus,
    devices: [{ devId: DEV, model: 'VH-1' } as DeviceSummary],
  });
  render(<StoreProvider store={store} api={api}><ConformanceView /></StoreProvider>);
}

describe('Conformance view', () => {
  it('runs some cases of a plan, shows progress, verdicts, a case with its evidence, and exports', async () => {
    let status: ConformanceStatus = IDLE;
    const runs: unknown[] = [];
    setup({
      'conformance.status': () => status,
      'conformance.run': (input: never) => {
        runs.push(input);
        status = { ...IDLE, state: 'running', runId: 1, device: DEV, plan: 'dm12-client', startedAt: 0, total: 2, waiting: { notified: true } };
        return { runId: 1 };
      },
      'conformance.case': ({ id }: { id: string }) => {
        if (id !== DETAIL.id) throw new Error('unexpected case');
        return DETAIL;
      },
      'conformance.report': ({ format }: { format: string }) => ({ fileName: `r.${format}`, mime: format === 'html' ? 'text/html' : 'application/xml', text: `<${format}/>` }),
    });
    await screen.findByRole('option', { name: 'dm12-client (4 cases)' });
    const runButton = screen.getByTestId('conformance-run');
    expect(runButton).toHaveProperty('disabled', true);
    expect(screen.getByText('Choose a device.')).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Device'), { target: { value: DEV } });
    fireEvent.click(screen.getByTestId('choose-cases'));
    expect(screen.getByText('Choose at least one case.')).toBeTruthy();
    // Chosen out of order: the run gets them in plan order.
    fireEvent.click(document.querySelector('[data-case-choice="dm12.get.status"]')!);
    fireEvent.click(document.querySelector('[data-case-choice="dm12.get.leaf"]')!);
    expect(screen.getByText('2 of 4 chosen')).toBeTruthy();
    expect(runButton).toHaveProperty('disabled', false);
    await act(async () => fireEvent.click(runButton));
    expect(runs).toEqual([{ device: DEV, plan: 'dm12-client', cases: ['dm12.get.leaf', 'dm12.get.status'] }]);

    // Progress: waiting for the device, then a case, polled.
    const progress = await screen.findByTestId('conformance-progress');
    expect(progress.textContent).toContain('package #0 sent');
    status = { ...status, waiting: null, sessions: 1, done: 1, current: { id: 'dm12.get.status', title: 'Case dm12.get.status' }, cases: [verdicts[0]!] };
    await waitFor(() => expect(screen.getByTestId('conformance-progress').textContent).toContain('Running dm12.get.status'), { timeout: 3000 });
    expect(within(screen.getByTestId('conformance-progress')).getByText('1 / 2')).toBeTruthy();
    expect(within(screen.getByTestId('conformance-progress')).getByText('1 session')).toBeTruthy();
    expect(screen.getByTestId('export-html')).toHaveProperty('disabled', true);

    status = { ...status, state: 'done', finishedAt: 65_000, done: 2, current: null, cases: verdicts.slice(0, 2), summary: { passed: 1, failed: 1, inconclusive: 0, skipped: 0 } };
    await waitFor(() => expect(screen.queryByTestId('conformance-progress')).toBeNull(), { timeout: 3000 });
    const table = screen.getByTestId('conformance-results');
    const rows = [...table.querySelectorAll('tr[data-case]')];
    expect(rows.map((r) => [r.getAttribute('data-case'), r.getAttribute('data-verdict')])).toEqual([['dm12.get.leaf', 'pass'], ['dm12.get.status', 'fail']]);
    expect(rows[0]!.querySelector('[data-verdict-badge]')!.className).toContain('tone-ok');
    expect(rows[1]!.querySelector('[data-verdict-badge]')!.className).toContain('tone-bad');
    expect(screen.getByTestId('conformance-summary').textContent).toContain('in 65.0 s');

    // Open the failed case: checks, rules, not restored, the diagram and the messages.
    fireEvent.click(rows[1]!);
    const detail = await screen.findByTestId('case-detail');
    const check = within(detail).getByTestId('case-checks').querySelector('tbody tr')!;
    expect([...check.querySelectorAll('td')].map((td) => td.textContent)).toEqual(['✗', 'Status code for Get status.code-valid', '200', '500', 'message 3 · SyncBody/Status[2]/Data']);
    expect(detail.textContent).toContain('./DMWConf/x left on the device');
    const arrows = [...detail.querySelectorAll('svg g[data-arrow]')];
    expect(arrows.map((g) => [g.getAttribute('data-direction'), g.querySelector('text:last-of-type')!.textContent])).toEqual([
      ['in', '#1 · MsgID 1 · Alert 1201 · Replace'],
      ['out', '#2 · MsgID 1 · Status×2 (212, 200) · Get (more)'],
    ]);
    // Clicking an arrow opens its message; the hostile XML is text, nothing of it became markup.
    fireEvent.click(arrows[0]!);
    const first = detail.querySelector('details[data-evidence-message="1"]') as HTMLDetailsElement;
    expect(first.open).toBe(true);
    expect(first.querySelector('pre')!.textContent).toBe(HOSTILE_XML);
    expect(detail.querySelectorAll('script, img')).toHaveLength(0);
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();

    // Export.
    await act(async () => fireEvent.click(screen.getByTestId('export-html')));
    await act(async () => fireEvent.click(screen.getByTestId('export-junit')));
    expect(downloads).toEqual([
      { fileName: 'r.html', text: '<html/>', type: 'text/html' },
      { fileName: 'r.junit', text: '<junit/>', type: 'application/xml' },
    ]);
  });

  it('says why a run is refused, and when the server is stopped', async () => {
    setup({ 'conformance.run': () => { throw new Error('a conformance run is already going (run 3: plan dm12-client on IMEI:1, 2 of 60 cases done); one run at a time'); } });
    await screen.findByRole('option', { name: 'dm12-client (4 cases)' });
    fireEvent.change(screen.getByLabelText('Device'), { target: { value: DEV } });
    await act(async () => fireEvent.click(screen.getByTestId('conformance-run')));
    expect((await screen.findByTestId('conformance-error')).textContent).toContain('one run at a time');
  });

  it('shows a run that broke off', async () => {
    setup({ 'conformance.status': () => ({ ...IDLE, state: 'failed', runId: 2, device: DEV, plan: 'dm12-client', error: 'the DM server stopped' }) });
    expect((await screen.findByText(/Run 2 broke off/)).textContent).toBe('Run 2 broke off: the DM server stopped');
  });
});
