// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { BootstrapCheck, BootstrapPushPreview, DmwApi, FlashResult, PushPreview } from '../../main/api/contract.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { DEFAULT_PROFILE, draftToProfile, errorsByInput, flashFraction } from '../../renderer/stores/bootstrap-slice.js';
import { createAppStore, type AppStore } from '../../renderer/stores/app-store.js';
import { BootstrapView } from '../../renderer/views/BootstrapView.js';
import { SerialView } from '../../renderer/views/SerialView.js';
import { fakeApi } from '../helpers/fake-api.js';

const bootstrapPreview: BootstrapPushPreview = {
  previewId: 3, to: '+4917012', sec: 'USERNETWPIN', ref: 4, wbxmlBytes: 321, contentType: 'application/vnd.syncml.dm+wbxml',
  params: [{ name: 'SEC', value: 'USERNETWPIN' }, { name: 'MAC', value: 'ABCDEF0123' }], appId: 'x-wap-application:syncml.dm', mac: 'ABCDEF0123',
  keyDescription: 'USERNETWPIN key variant "imsi:pin": IMSI semi-octets 09 10 10 10 32 54 76 98 + ":" + PIN as ASCII', userNetwPinKey: 'imsi:pin', userPin: null,
  imsi: '001010123456789', imsiSource: 'AT+CIMI on /dev/ttyUSB0', wspHex: '01064342', parts: [{ seq: 1, total: 2, ref: 4, pduHex: '0041AA', tpduLength: 140, payloadLength: 128 }, { seq: 2, total: 2, ref: 4, pduHex: '0041BB', tpduLength: 80, payloadLength: 60 }], notes: ['USERNETWPIN key choice is unverified'],
};

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

describe('serial slice: bootstrap push', () => {
  it('previews the Bootstrap view profile with the IMSI read from the port, then sends that preview', async () => {
    const seen: unknown[] = [];
    let sent: unknown;
    const api = fakeApi({
      'serial.bootstrapPreview': (i: unknown) => { seen.push(i); return bootstrapPreview; },
      'serial.bootstrapSend': (i: unknown) => { sent = i; return { ok: true, detail: '2 SMS part(s) sent to +4917012', parts: [], transcript: [] }; },
    });
    const store = createAppStore({ api });
    store.setState({ selectedPort: '/dev/ttyUSB0' });
    store.getState().setBootstrapPushDraft({ to: ' +4917012 ', sec: 'USERNETWPIN', imsiFrom: 'port', pin: '1234', userNetwPinKey: 'imsi:pin' });
    await store.getState().previewBootstrapPush();
    expect(seen[0]).toEqual({ to: '+4917012', profile: draftToProfile(DEFAULT_PROFILE), sec: 'USERNETWPIN', imsiPort: '/dev/ttyUSB0', pin: '1234', userNetwPinKey: 'imsi:pin' });
    await store.getState().sendBootstrapPush();
    expect(sent).toEqual({ previewId: 3, port: '/dev/ttyUSB0' });
    expect(store.getState().bootstrapPushResult?.ok).toBe(true);
  });

  it('takes pasted profile JSON and a typed IMSI, and refuses JSON that does not parse without calling the backend', async () => {
    const seen: unknown[] = [];
    const api = fakeApi({ 'serial.bootstrapPreview': (i: unknown) => { seen.push(i); return { ...bootstrapPreview, sec: 'NETWPIN', userNetwPinKey: null }; } });
    const store = createAppStore({ api });
    store.getState().setBootstrapPushDraft({ to: '+4917012', sec: 'NETWPIN', source: 'json', profileJson: '{"serverId": "x"', imsi: '262011234567890' });
    await store.getState().previewBootstrapPush();
    expect(seen).toHaveLength(0);
    expect(store.getState().notices.at(-1)?.text).toContain('profile JSON');
    store.getState().setBootstrapPushDraft({ profileJson: '{"serverId": "x"}' });
    await store.getState().previewBootstrapPush();
    expect(seen[0]).toEqual({ to: '+4917012', profile: { serverId: 'x' }, sec: 'NETWPIN', imsi: '262011234567890' });
    expect(store.getState().bootstrapPushPreview?.previewId).toBe(3);
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

  it('previews a bootstrap push: content type with SEC/MAC, the key variant and the SMS PDUs', async () => {
    const api = fakeApi({
      'serial.ports': () => ({ ports: [{ path: '/dev/ttyUSB0' }], source: 'sysfs', note: null, error: null }),
      'serial.bootstrapPreview': () => bootstrapPreview,
    });
    const store = createAppStore({ api });
    mount(<SerialView />, store, api);
    await waitFor(() => expect(store.getState().selectedPort).toBe('/dev/ttyUSB0'));
    fireEvent.change(screen.getByTestId('bootstrap-push-to'), { target: { value: '+4917012' } });
    fireEvent.change(screen.getByTestId('bootstrap-push-sec'), { target: { value: 'USERNETWPIN' } });
    expect(screen.getByTestId('bootstrap-push-imsi')).toBeTruthy();
    fireEvent.change(screen.getByTestId('bootstrap-push-pin'), { target: { value: '1234' } });
    fireEvent.click(screen.getByTestId('bootstrap-push-preview'));
    await waitFor(() => expect(screen.getByTestId('bootstrap-push-ct').textContent).toBe('application/vnd.syncml.dm+wbxml; SEC=USERNETWPIN; MAC=ABCDEF0123'));
    expect(screen.getByTestId('bootstrap-push-key').textContent).toContain('imsi:pin');
    const pdus = screen.getByTestId('bootstrap-push-pdus').textContent!;
    expect(pdus).toContain('0041AA');
    expect(pdus).toContain('0041BB');
    expect((screen.getByTestId('bootstrap-push-send') as HTMLButtonElement).disabled).toBe(false);
  });

  it('says when no serial port is found', async () => {
    const api = fakeApi({ 'serial.ports': () => ({ ports: [], source: 'sysfs', note: null, error: null }) });
    const store = createAppStore({ api });
    mount(<SerialView />, store, api);
    await waitFor(() => expect(screen.getByTestId('no-ports').textContent).toContain('No serial ports'));
    await act(async () => undefined);
  });
});
