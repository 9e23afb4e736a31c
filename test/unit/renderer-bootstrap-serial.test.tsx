// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { BootstrapCheck, DmwApi, FlashResult, PushPreview } from '../../main/api/contract.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { DEFAULT_PROFILE, draftToProfile, errorsByInput, flashFraction } from '../../renderer/stores/bootstrap-slice.js';
import { createAppStore, type AppStore } from '../../renderer/stores/app-store.js';
import { BootstrapView } from '../../renderer/views/BootstrapView.js';
import { SerialView } from '../../renderer/views/SerialView.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

function mount(ui: React.ReactNode, store: AppStore, api: DmwApi) {
  return render(<StoreProvider store={store} api={api}>{ui}</StoreProvider>);
}

const okCheck: BootstrapCheck = { ok: true, errors: [], xml: '<SyncML xmlns="SYNCML:SYNCML1.2">…</SyncML>', wbxmlBytes: 321, nodes: [{ uri: './DMAcc/ExampleDM/ServerID', format: 'chr', value: 'com.example.dm' }] };
const badCheck: BootstrapCheck = { ok: false, errors: [{ field: 'port', message: 'must be an integer 1..65535, got 0' }, { field: 'clientCredential.secret', message: 'required' }], xml: null, wbxmlBytes: null, nodes: [] };

describe('bootstrap slice', () => {
  it('turns the editor fields into a profile, keeping a non-numeric port for the checker to name', () => {
    const p = draftToProfile({ ...DEFAULT_PROFILE, port: 'eighty', prefConRef: './ConnMO/APN1' });
    expect(p).toMatchObject({ serverId: 'com.example.dm', port: 'eighty', connectivity: { prefConRef: './ConnMO/APN1' }, clientCredential: { name: 'lab-device-01' } });
    expect(draftToProfile(DEFAULT_PROFILE).port).toBe(8443);
    expect(errorsByInput(badCheck)).toMatchObject({ port: expect.stringContaining('port: must be'), clientSecret: 'clientCredential.secret: required' });
  });

  it('re-checks the profile on every edit and keeps only the latest answer', async () => {
    const seen: unknown[] = [];
    const api = fakeApi({ 'bootstrap.check': (i: { profile: { port?: unknown } }) => { seen.push(i.profile.port); return i.profile.port === 0 ? badCheck : okCheck; } });
    const store = createAppStore({ api });
    store.getState().setProfileField('port', '0');
    await waitFor(() => expect(store.getState().profileCheck).toEqual(badCheck));
    store.getState().setProfileField('port', '443');
    await waitFor(() => expect(store.getState().profileCheck).toEqual(okCheck));
    expect(seen).toEqual([0, 443]);
  });

  it('follows a flash through progress and trace events, then takes the result', async () => {
    const frames: (() => void)[] = [];
    let finish!: (r: FlashResult) => void;
    const api = fakeApi({ 'bootstrap.flash': () => new Promise<FlashResult>((r) => (finish = r)) });
    const store = createAppStore({ api, schedule: (fn) => frames.push(fn) });
    const p = store.getState().flashCard({ pin: '1234', pinRef: 1 });
    expect(store.getState().flash.running).toBe(true);
    store.getState().ingest('bootstrap.progress', { flashId: 1, phase: 'write', message: 'writing', done: 100, total: 200 });
    store.getState().ingest('bootstrap.trace', { flashId: 1, seq: 1, name: 'SELECT', command: '00A4', response: '9000', sw: '9000', ms: 1 });
    store.getState().ingest('bootstrap.trace', { flashId: 1, seq: 2, name: 'UPDATE BINARY', command: '00D6', response: '9000', sw: '9000', ms: 1 });
    frames.shift()!();
    expect(store.getState().flash.trace).toHaveLength(2);
    expect(flashFraction(store.getState().flash.progress, false)).toBeCloseTo(0.525);
    const trace = store.getState().flash.trace;
    finish({ flashId: 1, ok: true, reader: 'R', error: null, report: { fid: '6431', bytes: 200, efSize: 512, unchanged: false, updateCommands: 1, chunksSkipped: 0, created: [], exchanges: 9, ms: 40 }, verification: { matches: true, differences: '' }, trace });
    await p;
    expect(store.getState().flash).toMatchObject({ running: false, result: { ok: true } });
    expect(flashFraction(store.getState().flash.progress, true)).toBe(1);
  });

  it('keeps the reader list current from events', () => {
    const frames: (() => void)[] = [];
    const store = createAppStore({ api: fakeApi(), schedule: (fn) => frames.push(fn) });
    store.getState().ingest('bootstrap.readers', { available: true, reason: null, readers: [{ name: 'R', present: true, atr: '3B 00', atrText: null, exclusive: false, inUse: false, mute: false }] });
    frames.shift()!();
    expect(store.getState().cardReaders?.readers[0]?.present).toBe(true);
  });
});

describe('serial slice', () => {
  it('selects the first port, and collects console lines until the port closes', async () => {
    const frames: (() => void)[] = [];
    const api = fakeApi({
      'serial.ports': () => ({ ports: [{ path: '/dev/ttyUSB0' }, { path: '/dev/ttyUSB1' }], source: 'sysfs', note: null, error: null }),
      'serial.consoleOpen': (i: { port: string }) => ({ port: i.port, open: true, error: null }),
    });
    const store = createAppStore({ api, schedule: (fn) => frames.push(fn) });
    await store.getState().loadPorts();
    expect(store.getState().selectedPort).toBe('/dev/ttyUSB0');
    await store.getState().openConsole();
    store.getState().ingest('serial.console', { port: '/dev/ttyUSB0', lines: ['boot', 'ready'], closed: null });
    store.getState().ingest('serial.console', { port: '/dev/ttyUSB0', lines: [], closed: '/dev/ttyUSB0: device unplugged' });
    frames.shift()!();
    expect(store.getState().consoleLines).toEqual(['boot', 'ready']);
    expect(store.getState().consoleState).toEqual({ port: null, open: false, error: '/dev/ttyUSB0: device unplugged' });
  });

  it('sends exactly the previewed push (session id and reference)', async () => {
    const preview: PushPreview = { to: '+4917012', serverId: 'dmw', sessionId: 77, sessionIdHex: '4D', uiMode: 'background', ref: 9, package0Hex: 'aa', wspHex: '0106aa', parts: [{ seq: 1, total: 1, pduHex: '00', tpduLength: 30, payloadLength: 20 }], warnings: [] };
    let sent: unknown;
    const api = fakeApi({
      'serial.pushPreview': () => preview,
      'serial.pushSend': (i: unknown) => { sent = i; return { ok: true, detail: '1 SMS part(s) sent to +4917012', parts: [], transcript: [] }; },
    });
    const store = createAppStore({ api });
    store.setState({ selectedPort: '/dev/ttyUSB0' });
    store.getState().setPushDraft({ to: '+4917012', uiMode: 'background' });
    await store.getState().previewPush();
    await store.getState().sendPush();
    expect(sent).toEqual({ port: '/dev/ttyUSB0', to: '+4917012', sessionId: 77, uiMode: 'background', ref: 9 });
    expect(store.getState().pushResult?.ok).toBe(true);
  });
});

describe('Bootstrap and Serial views', () => {
  it('shows field errors by field and says plainly when pcscd is not running', async () => {
    const api = fakeApi({ 'bootstrap.check': () => badCheck, 'bootstrap.readers': () => ({ available: false, reason: 'no PC/SC service: pcscd is not running', readers: [] }) });
    const store = createAppStore({ api });
    mount(<BootstrapView />, store, api);
    await waitFor(() => expect(screen.getByTestId('error-port').textContent).toContain('port: must be an integer'));
    expect(screen.getByTestId('error-clientSecret').textContent).toContain('required');
    await waitFor(() => expect(screen.getByTestId('pcsc-unavailable').textContent).toContain('pcscd is not running'));
    expect((screen.getByTestId('flash-card') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.queryByTestId('reader-table')).toBeNull();
  });

  it('shows the XML preview of a valid profile', async () => {
    const api = fakeApi({ 'bootstrap.check': () => okCheck, 'bootstrap.readers': () => ({ available: true, reason: null, readers: [] }) });
    const store = createAppStore({ api });
    mount(<BootstrapView />, store, api);
    await waitFor(() => expect(screen.getByTestId('bootstrap-xml').textContent).toContain('<SyncML'));
    await waitFor(() => expect(screen.getByTestId('no-readers')).toBeTruthy());
  });

  it('says when no serial port is found', async () => {
    const api = fakeApi({ 'serial.ports': () => ({ ports: [], source: 'sysfs', note: null, error: null }) });
    const store = createAppStore({ api });
    mount(<SerialView />, store, api);
    await waitFor(() => expect(screen.getByTestId('no-ports').textContent).toContain('No serial ports'));
    await act(async () => undefined);
  });
});
