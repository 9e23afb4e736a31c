// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DmwApi, HandsetsStatus, MessageSummary } from '../../main/api/contract.js';
import { HexView, hexDump } from '../../renderer/components/HexView.js';
import { MessagePanel } from '../../renderer/components/MessagePanel.js';
import { ValueEditor } from '../../renderer/components/ValueEditor.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore, type AppStore } from '../../renderer/stores/app-store.js';
import { DevicesView } from '../../renderer/views/DevicesView.js';
import { App } from '../../renderer/App.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

function mount(ui: React.ReactNode, store: AppStore, api: DmwApi) {
  return render(<StoreProvider store={store} api={api}>{ui}</StoreProvider>);
}

const unavailable: HandsetsStatus = { available: false, reason: 'Virtual handsets are not part of this build yet: the virtual DM client module (main/client) is missing.', provider: null, handsets: [] };

describe('Devices view', () => {
  it('shows the virtual handset controls disabled, with the reason', () => {
    const api = fakeApi();
    const store = createAppStore({ api });
    store.setState({ handsets: unavailable });
    mount(<DevicesView />, store, api);
    expect(screen.getByTestId('handsets-reason').textContent).toContain('main/client');
    expect((screen.getByRole('button', { name: /Add 1/ }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('lists devices with their state and opens their sessions', () => {
    const api = fakeApi({ 'jobs.queue': () => ({ device: 'IMEI:490154203237518', paused: false, held: [] }), 'jobs.list': () => [] });
    const store = createAppStore({ api });
    store.setState({
      handsets: unavailable,
      devices: [{
        devId: 'IMEI:490154203237518', model: 'AM-X1', manufacturer: 'Acme Mobile', devInfo: { Mod: 'AM-X1' }, firstSeen: new Date().toISOString(), lastSeen: new Date().toISOString(),
        lastSession: { id: 4, state: 'done', startedAt: new Date().toISOString(), endedAt: null }, state: 'in-session', hasOwnCredentials: false, notifyUrl: null,
        jobs: { queued: 1, sent: 0, done: 2, failed: 0, held: 0 }, paused: false, virtual: false,
      }],
    });
    mount(<DevicesView />, store, api);
    expect(screen.getByText('AM-X1', { selector: 'td' })).toBeTruthy();
    expect(screen.getByText('in-session')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'sessions' }));
    expect(store.getState().view).toBe('sessions');
    expect(store.getState().sessionFilter.device).toBe('IMEI:490154203237518');
  });
});

describe('App navigation', () => {
  it('names the nine views and has no placeholder', () => {
    const api = fakeApi();
    const store = createAppStore({ api });
    mount(<App />, store, api);
    const names = screen.getAllByRole('button').filter((b) => b.classList.contains('nav-item')).map((b) => b.textContent);
    expect(names).toEqual(['Devices', 'Sessions', 'Packets', 'Tree', 'ACL', 'Server', 'Bootstrap', 'Serial', 'Conformance']);
    for (const v of ['sessions', 'packets', 'tree', 'acl', 'server', 'bootstrap', 'serial', 'conformance'] as const) {
      act(() => store.getState().setView(v));
      expect(document.body.textContent).not.toMatch(/coming soon|placeholder|todo/i);
    }
  });
});

describe('message panel', () => {
  const summary: MessageSummary = {
    id: 1, seq: 2, direction: 'out', at: 'x', offsetMs: 3, durationMs: 2, msgId: '1', size: 4, contentType: 'application/vnd.syncml.dm+xml', httpStatus: 200, final: true, error: null, note: null,
    auth: { cred: null, hdrStatus: null },
    commands: [
      { cmdId: '3', kind: 'Get', targets: ['./DevInfo/Mod'], summary: './DevInfo/Mod', depth: 0, ref: null, status: { code: '200', seq: 3 }, results: [{ seq: 3, summary: './DevInfo/Mod = AM-X1' }] },
      { cmdId: '4', kind: 'Replace', targets: ['./X'], summary: './X = 1', depth: 0, ref: null, status: { code: '405', seq: 3 }, results: [] },
    ],
  };

  it('puts each command next to its status and results', () => {
    const api = fakeApi();
    mount(<MessagePanel summary={summary} detail={undefined} />, createAppStore({ api }), api);
    const rows = screen.getByTestId('command-table').querySelectorAll('tbody tr');
    expect(rows[0]!.textContent).toContain('200');
    expect(rows[0]!.textContent).toContain('AM-X1');
    expect(rows[1]!.textContent).toContain('405');
  });

  it('dumps bytes as hex with offsets and ASCII', () => {
    expect(hexDump(new Uint8Array([0x02, 0xa4, 0x01, 0x6a, 0x41]))).toMatch(/^000000  02 A4 01 6A 41 +\.\.\.jA$/);
    const api = fakeApi();
    mount(<HexView base64="AqQBag==" />, createAppStore({ api }), api);
    expect(screen.getByTestId('hex-view').textContent).toContain('02 A4 01 6A');
  });
});

describe('value editor', () => {
  it('offers a boolean as a choice and flags a bad integer', () => {
    const api = fakeApi();
    const { rerender } = mount(<ValueEditor format="bool" value="true" onChange={() => undefined} />, createAppStore({ api }), api);
    expect(screen.getByRole('combobox')).toBeTruthy();
    rerender(<StoreProvider store={createAppStore({ api })} api={api}><ValueEditor format="int" value="x1" onChange={() => undefined} /></StoreProvider>);
    expect(screen.getByRole('alert').textContent).toContain('integer');
  });
});
