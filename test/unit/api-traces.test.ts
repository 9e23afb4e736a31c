/**
 * The UI's portable traces (main/api/traces-view.ts) through the backend's dispatch: the export is
 * byte for byte what `dmw session export` writes (the same builder), it imports back to the same
 * messages, a bundle round-trips, a broken file answers its offset and imports nothing, credentials
 * are checked as `dmw capture import --client-cred` does, and a trace over the UI's bounds is refused
 * with its size, the limit and the CLI command.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { contract } from '../../main/api/contract.js';
import { base64Length, MAX_TRACE_UPLOAD_BYTES, type TracesExportOutput, type TracesImportOutput } from '../../main/api/contract-traces.js';
import { dispatch } from '../../main/api/dispatch.js';
import { traceHandlers } from '../../main/api/traces-view.js';
import { MAX_CALL_BYTES } from '../../main/api/ws-server.js';
import { exportSessionFile } from '../../main/cli/capture.js';
import { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { logSession } from '../helpers/filter-fixture.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-traces-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function backendWith(sessions: number): Promise<{ b: Backend; dir: string }> {
  const dir = tempDir();
  const store = ServerStore.open(dir);
  for (let i = 0; i < sessions; i++) logSession(store, { devId: `IMEI:${i + 1}`, dmSessionId: String(i + 1), getStatus: 404 });
  store.close();
  const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
  cleanup.push(() => b.close());
  return { b, dir };
}

async function call<T>(b: Backend, channel: 'traces.export' | 'traces.import', input: unknown): Promise<T> {
  const r = await dispatch(b.handlers, channel, input);
  if (!r.ok) throw new Error(`${channel}: ${r.error.code}: ${r.error.message}`);
  return contract[channel].output.parse(r.value) as T;
}

function storedMessages(b: Backend, id: number): string[] {
  const s = ServerStore.open(b.folder);
  try {
    return s.messages(id).map((m) => `${m.direction} ${m.at} ${Buffer.from(m.bytes).toString('base64')}`);
  } finally {
    s.close();
  }
}

async function cliExport(dir: string, id: number, format: 'pcapng' | 'bundle'): Promise<Buffer> {
  const out = path.join(tempDir(), `cli.${format}`);
  const store = SqliteStore.open(dir);
  try {
    await exportSessionFile(store, dir, id, format, out);
  } finally {
    await store.close();
  }
  return readFileSync(out);
}

describe('traces.export', () => {
  it('answers the bytes `dmw session export` writes: pcapng identical, the bundle identical but for its exportedAt', async () => {
    const { b, dir } = await backendWith(2);
    writeFileSync(path.join(dir, 'workbench.json'), JSON.stringify({ settings: { serverId: 'dmw', serverCred: { name: 'dmw', secret: 'srv-secret' } } }));
    const p = await call<TracesExportOutput>(b, 'traces.export', { id: 2, format: 'pcapng' });
    if (!p.ok) throw new Error(p.error.message);
    expect(p.fileName).toBe('dmw-session-2-IMEI_2.pcapng');
    expect(p.mediaType).toBe('application/x-pcapng');
    const ui = Buffer.from(p.base64, 'base64');
    expect(p.size).toBe(ui.length);
    expect(ui.equals(await cliExport(dir, 2, 'pcapng'))).toBe(true);

    const bu = await call<TracesExportOutput>(b, 'traces.export', { id: 2, format: 'bundle' });
    if (!bu.ok) throw new Error(bu.error.message);
    expect(bu.fileName).toBe('dmw-session-2-IMEI_2.bundle.json');
    const text = Buffer.from(bu.base64, 'base64').toString('utf8');
    expect(text).not.toContain('srv-secret');
    const noTime = (s: string) => s.replace(/"exportedAt": "[^"]+"/, '"exportedAt": "-"');
    expect(noTime(text)).toBe(noTime((await cliExport(dir, 2, 'bundle')).toString('utf8')));
    expect(JSON.parse(text)).toMatchObject({ format: 'dmw-session-bundle/1', settings: { serverCred: { secret: '(removed)' } }, export: { session: { id: 2 } } });
  });

  it('a session with no such id is an error naming it', async () => {
    const { b } = await backendWith(1);
    const r = await dispatch(b.handlers, 'traces.export', { id: 99, format: 'pcapng' });
    expect(r).toEqual({ ok: false, error: { code: 'failed', message: 'no session 99' } });
  });

  it('a trace over the download bound is refused with its size, the limit and the CLI command that writes it', async () => {
    const dir = tempDir();
    const store = ServerStore.open(dir);
    cleanup.push(() => store.close());
    const id = logSession(store, { devId: 'IMEI:1' });
    const dm = SqliteStore.over(store);
    const h = traceHandlers({ reader: () => dm, writer: () => dm, dataDir: () => dir, now: () => 0, limits: { download: 1000 } });
    const r = (await h['traces.export']({ id, format: 'pcapng' })) as TracesExportOutput;
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.limit).toBe(1000);
    expect(r.error.size).toBeGreaterThan(1000);
    expect(r.error.command).toBe(`dmw session export ${id} --data ${dir} --format pcapng -o dmw-session-${id}-IMEI_1.pcapng`);
    expect(r.error.message).toMatch(/^session 1 holds [\d,]+ bytes, more than the 1,000 bytes the UI downloads; write it with: dmw session export 1 /);
    // Just above what the messages hold: the built file (framing added) is what goes over.
    const payload = store.messages(id).reduce((n, m) => n + m.bytes.length, 0);
    const h2 = traceHandlers({ reader: () => dm, writer: () => dm, dataDir: () => dir, now: () => 0, limits: { download: payload } });
    const r2 = (await h2['traces.export']({ id, format: 'pcapng' })) as TracesExportOutput;
    expect(!r2.ok && r2.error.message).toMatch(/^the pcapng of session 1 is [\d,]+ bytes, more than/);
  });
});

describe('traces.import', () => {
  it('imports an exported pcapng to an imported session with the same messages, byte for byte', async () => {
    const { b } = await backendWith(1);
    const p = await call<TracesExportOutput>(b, 'traces.export', { id: 1, format: 'pcapng' });
    if (!p.ok) throw new Error(p.error.message);
    const r = await call<TracesImportOutput>(b, 'traces.import', { fileName: '/home/x/trace.pcapng', base64: p.base64 });
    expect(r).toEqual({ ok: true, kind: 'capture', sessions: [{ id: 2, device: 'IMEI:1', dmSessionId: '1', messages: 4 }], messages: 4, skipped: [], credentials: [] });
    expect(storedMessages(b, 2)).toEqual(storedMessages(b, 1));
    const listed = (await dispatch(b.handlers, 'sessions.list', {})) as { ok: true; value: { id: number; state: string; reason: string | null }[] };
    expect(listed.value.find((s) => s.id === 2)).toMatchObject({ state: 'imported', reason: 'imported from trace.pcapng' });
    // The packet list sees it like a live one.
    const q = await dispatch(b.handlers, 'packets.query', { filter: 'session == 2', offset: 0, limit: 10 });
    expect(q.ok && (q.value as { ok: boolean; total: number }).total).toBe(4);
  });

  it('imports a bundle back (the bundle keeps notes and errors too)', async () => {
    const { b } = await backendWith(1);
    const bu = await call<TracesExportOutput>(b, 'traces.export', { id: 1, format: 'bundle' });
    if (!bu.ok) throw new Error(bu.error.message);
    const r = await call<TracesImportOutput>(b, 'traces.import', { fileName: 'b.bundle.json', base64: bu.base64 });
    expect(r).toMatchObject({ ok: true, kind: 'bundle', sessions: [{ id: 2, device: 'IMEI:1', messages: 4 }], messages: 4, skipped: [] });
    expect(storedMessages(b, 2)).toEqual(storedMessages(b, 1));
  });

  it('checks credentials as --client-cred does and lists each verdict with its session and message', async () => {
    const { b } = await backendWith(1);
    const p = await call<TracesExportOutput>(b, 'traces.export', { id: 1, format: 'pcapng' });
    if (!p.ok) throw new Error(p.error.message);
    const r = await call<TracesImportOutput>(b, 'traces.import', { fileName: 't.pcapng', base64: p.base64, clientCred: { name: 'lab', secret: 'pw' } });
    // The fixture's Cred answers a nonce the capture never shows.
    expect(r.ok && r.credentials).toEqual([{ sessionId: 2, seq: 1, text: 'client MD5 credential not checked: its nonce was issued before the capture started' }]);
  });

  it('a broken capture answers the error with its file offset and imports nothing; a bad bundle says why', async () => {
    const { b } = await backendWith(1);
    // A pcap whose first record claims more bytes than the file has.
    const pcap = Buffer.alloc(24 + 16 + 4);
    pcap.writeUInt32LE(0xa1b2c3d4, 0);
    pcap.writeUInt16LE(2, 4);
    pcap.writeUInt16LE(4, 6);
    pcap.writeUInt32LE(65535, 16);
    pcap.writeUInt32LE(1, 20);
    pcap.writeUInt32LE(100, 24 + 8);
    pcap.writeUInt32LE(100, 24 + 12);
    const r = await call<TracesImportOutput>(b, 'traces.import', { fileName: 'cut.pcap', base64: pcap.toString('base64') });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.offset).toBe(24);
    expect(r.error.message).toMatch(/^cut\.pcap: broken capture at file offset 24: .+; nothing imported$/);
    const j = await call<TracesImportOutput>(b, 'traces.import', { fileName: 'x.json', base64: Buffer.from('{"format":"other"}').toString('base64') });
    expect(j).toEqual({ ok: false, error: { message: 'x.json: not a session bundle (format "other", expected dmw-session-bundle/1 or dmw-session-export/1); nothing imported', offset: null } });
    const listed = (await dispatch(b.handlers, 'sessions.list', {})) as { ok: true; value: unknown[] };
    expect(listed.value).toHaveLength(1);
  });

  it('bounds the upload: the schema refuses base64 over the bound, and a file over it is refused with the CLI command', async () => {
    // What the UI may send fits the WebSocket's frame limit with room for the call's envelope.
    expect(base64Length(MAX_TRACE_UPLOAD_BYTES) + 64 * 1024).toBeLessThan(MAX_CALL_BYTES);
    const { b, dir } = await backendWith(1);
    const over = await dispatch(b.handlers, 'traces.import', { fileName: 'big.pcap', base64: 'A'.repeat(base64Length(MAX_TRACE_UPLOAD_BYTES) + 4) });
    expect(over.ok === false && over.error.code).toBe('bad-input');
    const store = ServerStore.open(dir);
    cleanup.push(() => store.close());
    const dm = SqliteStore.over(store);
    const h = traceHandlers({ reader: () => dm, writer: () => dm, dataDir: () => dir, now: () => 0, limits: { upload: 10 } });
    const r = (await h['traces.import']({ fileName: 'big.pcap', base64: Buffer.alloc(11).toString('base64') })) as TracesImportOutput;
    expect(r).toEqual({ ok: false, error: { message: `big.pcap: 11 bytes, more than the 10 bytes the UI imports; import it with: dmw capture import big.pcap --data ${dir}; nothing imported`, offset: null } });
    await expect(async () => h['traces.import']({ fileName: 'x', base64: 'not base64!' })).rejects.toThrow(/did not arrive as base64/);
    expect(store.sessions()).toHaveLength(1);
  });
});
