// @vitest-environment happy-dom
/**
 * The Sessions view's trace controls (renderer/components/TraceFiles.tsx): the import sends the
 * file's bytes and the credentials typed, shows sessions, skipped streams and credential verdicts,
 * a broken file's error with its offset, refuses a file over the UI's bound before reading it (with
 * the dmw command), and the export shows a refusal (too big) beside its buttons.
 */
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DmwApi } from '../../main/api/contract.js';
import { MAX_TRACE_UPLOAD_BYTES, type TracesImportInput, type TracesImportOutput } from '../../main/api/contract-traces.js';
import { TraceExportButtons, TraceImport } from '../../renderer/components/TraceFiles.js';
import { StoreProvider } from '../../renderer/hooks/store.js';
import { createAppStore } from '../../renderer/stores/app-store.js';
import { fakeApi } from '../helpers/fake-api.js';

afterEach(cleanup);

function mount(ui: React.ReactNode, api: DmwApi) {
  return render(<StoreProvider store={createAppStore({ api })} api={api}>{ui}</StoreProvider>);
}

function pick(file: File) {
  fireEvent.click(screen.getByTestId('import-trace-open'));
  fireEvent.change(screen.getByTestId('import-trace-file'), { target: { files: [file] } });
}

describe('TraceImport', () => {
  it('sends the bytes and credentials, then shows sessions, skipped streams and credential verdicts', async () => {
    const calls: TracesImportInput[] = [];
    const answer: TracesImportOutput = {
      ok: true, kind: 'capture', messages: 4,
      sessions: [{ id: 12, device: 'IMEI:1', dmSessionId: '5', messages: 4 }],
      skipped: [{ stream: '10.0.0.2:40000 -> 10.0.0.1:443', reason: 'TLS: encrypted, not decodable' }],
      credentials: [{ sessionId: 12, seq: 3, text: 'client MD5 credential for "lab": INVALID' }],
    };
    const api = fakeApi({
      'traces.import': (i: TracesImportInput) => { calls.push(i); return answer; },
      'sessions.list': () => [],
      'sessions.get': () => { throw new Error('not here'); },
    });
    mount(<TraceImport />, api);
    pick(new File([new Uint8Array([1, 2, 3, 250])], 'field.pcapng'));
    fireEvent.change(screen.getByTestId('import-client-name'), { target: { value: 'lab' } });
    fireEvent.change(screen.getByTestId('import-client-secret'), { target: { value: 'pw' } });
    fireEvent.click(screen.getByTestId('import-trace-submit'));
    await waitFor(() => expect(screen.getByTestId('import-trace-summary').textContent).toBe('Capture: 1 session(s), 4 message(s) imported.'));
    expect(calls).toEqual([{ fileName: 'field.pcapng', base64: 'AQID+g==', clientCred: { name: 'lab', secret: 'pw' } }]);
    expect(screen.getByTestId('import-trace-result').querySelector('[data-imported-session="12"]')).not.toBeNull();
    expect(screen.getByTestId('import-trace-skipped').textContent).toBe('10.0.0.2:40000 -> 10.0.0.1:443: TLS: encrypted, not decodable');
    const cred = screen.getByTestId('import-trace-credentials').querySelector('li')!;
    expect(cred.textContent).toBe('Session #12 message 3: client MD5 credential for "lab": INVALID');
    expect(cred.className).toBe('bad');
  });

  it('shows a broken file\'s error with its offset', async () => {
    const api = fakeApi({ 'traces.import': () => ({ ok: false, error: { message: 'cut.pcap: broken capture at file offset 24: pcap record of 100 bytes runs past the end of the file; nothing imported', offset: 24 } }) });
    mount(<TraceImport />, api);
    pick(new File([new Uint8Array(44)], 'cut.pcap'));
    fireEvent.click(screen.getByTestId('import-trace-submit'));
    const err = await screen.findByTestId('import-trace-error');
    expect(err.textContent).toMatch(/^cut\.pcap: broken capture at file offset 24: /);
    expect(err.getAttribute('data-offset')).toBe('24');
    expect(screen.queryByTestId('import-trace-result')).toBeNull();
  });

  it('refuses a file over the bound before reading it, naming the dmw command', () => {
    const calls: unknown[] = [];
    mount(<TraceImport />, fakeApi({ 'traces.import': (i: never) => calls.push(i) }));
    const big = new File([new Uint8Array(MAX_TRACE_UPLOAD_BYTES + 1)], 'big capture.pcap');
    pick(big);
    expect(screen.getByTestId('import-trace-error').textContent).toBe(`big capture.pcap: ${(MAX_TRACE_UPLOAD_BYTES + 1).toLocaleString('en-US')} bytes, more than the ${MAX_TRACE_UPLOAD_BYTES.toLocaleString('en-US')} bytes the UI imports; import it with: dmw capture import 'big capture.pcap' --data DIR`);
    expect((screen.getByTestId('import-trace-submit') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('import-trace-submit'));
    expect(calls).toEqual([]);
  });
});

describe('TraceExportButtons', () => {
  it('shows a refusal (too big) beside the buttons', async () => {
    const message = 'session 3 holds 70,000,000 bytes, more than the 67,108,864 bytes the UI downloads; write it with: dmw session export 3 --data /d --format pcapng -o dmw-session-3-x.pcapng';
    mount(<TraceExportButtons sessionId={3} />, fakeApi({ 'traces.export': () => ({ ok: false, error: { message, size: 70_000_000, limit: 67_108_864, command: 'dmw session export 3 --data /d --format pcapng -o dmw-session-3-x.pcapng' } }) }));
    fireEvent.click(screen.getByTestId('export-pcapng'));
    expect((await screen.findByTestId('trace-export-error')).textContent).toBe(message);
  });
});
