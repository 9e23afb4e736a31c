/**
 * Portable traces in the Sessions view (issue 18 point 4): export the open session as a pcapng
 * trace (Wireshark and tshark open it) or a bundle, the same files `dmw session export` writes;
 * and import a pcap/pcapng capture or a bundle, as `dmw capture import` does, with optional
 * credentials to check. The import shows what came in (sessions, messages, skipped streams with
 * their reasons, credential verdicts) or, for a broken file, the error with its file offset.
 *
 * Bytes travel base64 (contract-traces.ts). A file over the UI's bound is refused here, before
 * it is read, with the CLI command that imports it (the WebSocket would drop a bigger call).
 */
import { useState } from 'react';
import { MAX_TRACE_UPLOAD_BYTES, type TracesImportOutput } from '../../main/api/contract-traces.js';
import { downloadBase64 } from '../hooks/download.js';
import { useApi, useApp } from '../hooks/store.js';

type Format = 'pcapng' | 'bundle';

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  // In slices: String.fromCharCode(...all) overflows the call stack on a big file.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

const shellWord = (s: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** "Export pcapng" / "Export bundle" for one session; a refusal (too big) is shown beside them. */
export function TraceExportButtons({ sessionId }: { sessionId: number }) {
  const api = useApi();
  const [busy, setBusy] = useState<Format | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (format: Format) => {
    setBusy(format);
    setError(null);
    try {
      const r = await api['traces.export']({ id: sessionId, format });
      if (r.ok) downloadBase64(r.fileName, r.base64, r.mediaType);
      else setError(r.error.message);
    } catch (e) {
      setError(`export ${format}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <button onClick={() => void run('pcapng')} disabled={busy !== null} data-testid="export-pcapng" title="A pcapng trace Wireshark and tshark open (synthetic TCP/HTTP framing, original times and bytes), as dmw session export --format pcapng writes">
        {busy === 'pcapng' ? 'Exporting…' : 'Export pcapng'}
      </button>
      <button onClick={() => void run('bundle')} disabled={busy !== null} data-testid="export-bundle" title="The session, the server settings without secrets and the app version in one JSON file that Import reads back">
        {busy === 'bundle' ? 'Exporting…' : 'Export bundle'}
      </button>
      {error && <span className="bad small" role="alert" data-testid="trace-export-error">{error}</span>}
    </>
  );
}

interface CredDraft {
  name: string;
  secret: string;
}

const credOf = (c: CredDraft) => (c.name.trim() ? { name: c.name.trim(), secret: c.secret } : undefined);

/** The "Import capture…" button and its panel. */
export function TraceImport() {
  const api = useApi();
  const dataDir = useApp((s) => s.server?.dataDir ?? null);
  const loadSessions = useApp((s) => s.loadSessions);
  const selectSession = useApp((s) => s.selectSession);
  const applyPacketFilter = useApp((s) => s.applyPacketFilter);
  const packetsLoaded = useApp((s) => s.packetTotal !== null);
  const packetFilter = useApp((s) => s.packetFilter);
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [client, setClient] = useState<CredDraft>({ name: '', secret: '' });
  const [server, setServer] = useState<CredDraft>({ name: '', secret: '' });
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<TracesImportOutput | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const tooBig = file && file.size > MAX_TRACE_UPLOAD_BYTES
    ? `${file.name}: ${file.size.toLocaleString('en-US')} bytes, more than the ${MAX_TRACE_UPLOAD_BYTES.toLocaleString('en-US')} bytes the UI imports; import it with: dmw capture import ${shellWord(file.name)} --data ${shellWord(dataDir ?? 'DIR')}`
    : null;

  const submit = async () => {
    if (!file || tooBig) return;
    setBusy(true);
    setResult(null);
    setProblem(null);
    try {
      const base64 = toBase64(new Uint8Array(await file.arrayBuffer()));
      const clientCred = credOf(client);
      const serverCred = credOf(server);
      const r = await api['traces.import']({ fileName: file.name, base64, ...(clientCred ? { clientCred } : {}), ...(serverCred ? { serverCred } : {}) });
      setResult(r);
      if (r.ok && r.sessions.length > 0) {
        await loadSessions();
        // The packet list starts over so the imported messages (with their own, older times) are in it.
        if (packetsLoaded) void applyPacketFilter(packetFilter);
        void selectSession(r.sessions[0]!.id);
      }
    } catch (e) {
      setProblem(`${file.name}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div style={{ position: 'relative', marginLeft: 'auto' }}>
      <button onClick={() => setOpen(!open)} aria-expanded={open} data-testid="import-trace-open" title="Import a pcap/pcapng capture or a session bundle, as dmw capture import does">
        Import capture…
      </button>
      {open && (
        // A drop-down under the button: the session list and debugger stay where they are.
        <section className="panel trace-import" aria-label="Import a capture" data-testid="import-trace" style={{ position: 'absolute', right: 0, top: 'calc(100% + 4px)', width: 620, maxHeight: '70vh', overflow: 'auto', zIndex: 15, boxShadow: '0 6px 24px rgba(15, 23, 32, .18)' }}>
          <header className="panel-head">
            <h3>Import a capture or bundle</h3>
            <span className="muted small">pcap or pcapng (Ethernet, Linux cooked, loopback; IPv4/IPv6; HTTP/1.1), or a bundle from Export bundle; up to {MAX_TRACE_UPLOAD_BYTES / 1024 / 1024} MiB here</span>
          </header>
          <div className="row gap wrap">
            <input type="file" accept=".pcap,.pcapng,.cap,.json,application/vnd.tcpdump.pcap,application/json" aria-label="Capture or bundle file" data-testid="import-trace-file"
              onChange={(e) => { setFile(e.target.files?.[0] ?? null); setResult(null); setProblem(null); }} />
          </div>
          <div className="row gap wrap">
            <span className="small">Check credentials (optional):</span>
            <input placeholder="client name" value={client.name} onChange={(e) => setClient({ ...client, name: e.target.value })} aria-label="Client credential name" data-testid="import-client-name" />
            <input placeholder="client secret" type="password" value={client.secret} onChange={(e) => setClient({ ...client, secret: e.target.value })} aria-label="Client credential secret" data-testid="import-client-secret" />
            <input placeholder="server name" value={server.name} onChange={(e) => setServer({ ...server, name: e.target.value })} aria-label="Server credential name" data-testid="import-server-name" />
            <input placeholder="server secret" type="password" value={server.secret} onChange={(e) => setServer({ ...server, secret: e.target.value })} aria-label="Server credential secret" data-testid="import-server-secret" />
          </div>
          {tooBig && <p className="bad small" role="alert" data-testid="import-trace-error">{tooBig}</p>}
          <div className="row gap">
            <button className="primary" disabled={!file || tooBig !== null || busy} onClick={() => void submit()} data-testid="import-trace-submit">{busy ? 'Importing…' : 'Import'}</button>
          </div>
          {problem && <p className="bad small" role="alert" data-testid="import-trace-error">{problem}</p>}
          {result && !result.ok && (
            <p className="bad small" role="alert" data-testid="import-trace-error" data-offset={result.error.offset ?? undefined}>{result.error.message}</p>
          )}
          {result?.ok && <ImportResult result={result} onOpen={(id) => void selectSession(id)} />}
          <div className="row gap"><button onClick={() => setOpen(false)} data-testid="import-trace-close">Close</button></div>
        </section>
      )}
    </div>
  );
}

function ImportResult({ result, onOpen }: { result: Extract<TracesImportOutput, { ok: true }>; onOpen(id: number): void }) {
  return (
    <div data-testid="import-trace-result" className="small">
      <p className={result.sessions.length > 0 ? 'ok' : 'muted'} data-testid="import-trace-summary">
        {result.kind === 'bundle' ? 'Bundle' : 'Capture'}: {result.sessions.length} session(s), {result.messages} message(s) imported{result.sessions.length === 0 ? ' (no DM exchange found)' : ''}.
      </p>
      {result.sessions.length > 0 && (
        <ul>
          {result.sessions.map((s) => (
            <li key={s.id}>
              <a href="#" onClick={(e) => { e.preventDefault(); onOpen(s.id); }} data-imported-session={s.id}>Session #{s.id}</a>{' '}
              <span className="mono">{s.device ?? '(unknown device)'}</span> · SessionID {s.dmSessionId ?? '—'} · {s.messages} message(s)
            </li>
          ))}
        </ul>
      )}
      {result.skipped.length > 0 && (
        <>
          <p>Skipped streams:</p>
          <ul data-testid="import-trace-skipped">
            {result.skipped.map((s, i) => <li key={i}><span className="mono">{s.stream}</span>: {s.reason}</li>)}
          </ul>
        </>
      )}
      {result.credentials.length > 0 && (
        <>
          <p>Credentials checked:</p>
          <ul data-testid="import-trace-credentials">
            {result.credentials.map((c, i) => <li key={i} className={/INVALID/.test(c.text) ? 'bad' : /: valid$/.test(c.text) ? 'ok' : undefined}>Session #{c.sessionId} message {c.seq}: {c.text}</li>)}
          </ul>
        </>
      )}
    </div>
  );
}
