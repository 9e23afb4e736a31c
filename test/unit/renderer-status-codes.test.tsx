// @vitest-environment happy-dom
/**
 * Status codes in the app come with their meaning from the one table (main/protocol/status-codes.ts):
 * the command table's answers and Status rows, the sequence diagram's failed statuses, and every
 * StatusCode badge (job queue, tree jobs, session jobs) with a tooltip.
 */
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DmwApi, MessageSummary } from '../../main/api/contract.js';
import { StatusCode } from '../../renderer/components/Badge.js';
import { MessagePanel } from '../../renderer/components/MessagePanel.js';
import { failedStatusText, statusesOfMessage, statusSummaryTooltip } from '../../renderer/components/status-text.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

function mount(ui: React.ReactNode, api: DmwApi = fakeApi()) {
  return render(<StoreProvider store={createAppStore({ api })} api={api}>{ui}</StoreProvider>);
}

const base = { at: 'x', offsetMs: 3, durationMs: 2, msgId: '2', size: 400, contentType: 'application/vnd.syncml.dm+xml', httpStatus: 200, final: true, error: null, note: null, auth: { cred: null, hdrStatus: null } };

const request: MessageSummary = {
  ...base, id: 1, seq: 2, direction: 'out',
  commands: [
    { cmdId: '3', kind: 'Get', targets: ['./Nope'], summary: './Nope', depth: 0, ref: null, status: { code: '404', seq: 3 }, results: [] },
    { cmdId: '4', kind: 'Replace', targets: ['./X'], summary: './X = 1', depth: 0, ref: null, status: { code: '425', seq: 3 }, results: [] },
  ],
};
const answer: MessageSummary = {
  ...base, id: 2, seq: 3, direction: 'in',
  commands: [
    { cmdId: '1', kind: 'Status', targets: [], summary: '200 for SyncHdr #0', depth: 0, ref: { msgRef: '2', cmdRef: '0', cmd: 'SyncHdr' }, status: null, results: [] },
    { cmdId: '2', kind: 'Status', targets: ['./Nope'], summary: '404 for Get #3', depth: 0, ref: { msgRef: '2', cmdRef: '3', cmd: 'Get' }, status: null, results: [] },
    { cmdId: '3', kind: 'Status', targets: ['./X'], summary: '425 for Replace #4', depth: 0, ref: { msgRef: '2', cmdRef: '4', cmd: 'Replace' }, status: null, results: [] },
  ],
};

describe('status meanings in the app', () => {
  it('the command table shows each answer and each Status row with its meaning and a tooltip', () => {
    mount(<MessagePanel summary={request} detail={undefined} />);
    const rows = screen.getByTestId('command-table').querySelectorAll('tbody tr');
    expect(rows[0]!.textContent).toContain('404 Not found');
    expect(rows[1]!.textContent).toContain('425 Permission denied');
    expect(rows[1]!.querySelector('[data-status-code="425"]')!.getAttribute('title')).toMatch(/^425 Permission denied — originator exception/);
    cleanup();
    mount(<MessagePanel summary={answer} detail={undefined} />);
    const st = screen.getByTestId('command-table').querySelectorAll('tbody tr');
    expect(st[0]!.textContent).toContain('200 OK for SyncHdr #0');
    expect(st[1]!.textContent).toContain('404 Not found for Get #3');
  });

  it('the sequence diagram names a message\'s failed statuses with their meanings', () => {
    expect(failedStatusText(statusesOfMessage(answer))).toBe('404 Not found, 425 Permission denied');
    expect(failedStatusText(statusesOfMessage(request))).toBe('');
    // (The diagram's rows are virtualized and need a layout to render: e2e covers them in Chromium.)
  });

  it('a StatusCode badge says the meaning, or that a code is not defined', () => {
    mount(<><StatusCode code={213} /><StatusCode code="599" /><StatusCode code={424} bare /></>);
    expect(screen.getByText((_, e) => e?.getAttribute('data-status-code') === '213')!.textContent).toBe('213 Chunked item accepted and buffered');
    expect(screen.getByText((_, e) => e?.getAttribute('data-status-code') === '599')!.textContent).toBe('599 (undefined code)');
    const bare = screen.getByText((_, e) => e?.getAttribute('data-status-code') === '424')!;
    expect(bare.textContent).toBe('424');
    expect(bare.getAttribute('title')).toContain('Size mismatch');
  });
});

describe('the packet list status cell', () => {
  it('names each code of the summary once with its meaning', () => {
    expect(statusSummaryTooltip('200×5 425 200×43')).toBe('200 OK\n425 Permission denied');
    expect(statusSummaryTooltip('')).toBeUndefined();
  });
});
