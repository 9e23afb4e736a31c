/**
 * Two panels of the Server view with their own small forms: the Lab CA (CA certificate, device
 * certificates) and the data folder. Their errors are shown next to their fields, not as toasts.
 */
import { useState } from 'react';
import { certificateDevIdProblem } from '../../main/api/form-rules.js';
import { Field } from '../components/Field.js';
import { downloadText } from '../hooks/download.js';
import { useApi, useApp } from '../hooks/store.js';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

interface Issued {
  devId: string;
  fileName: string;
  keyFileName: string;
  certPem: string;
  keyPem: string;
}

/**
 * The device certificate and its private key are two downloads (two clicks): a certificate may be
 * copied anywhere, the key is unencrypted and must only go to the handset. Two PEM files rather
 * than a PKCS#12: they are what openssl, curl and the server's own TLS settings take as they are,
 * and a PKCS#12 would need a passphrase typed here and passed around anyway.
 */
export function LabCaPanel({ caExists, knownDevices }: { caExists: boolean; knownDevices: string[] }) {
  const api = useApi();
  const loadServer = useApp((s) => s.loadServer);
  const [devId, setDevId] = useState('');
  const [issued, setIssued] = useState<Issued | null>(null);
  const [caError, setCaError] = useState<string | null>(null);
  const [issueError, setIssueError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = devId.trim();
  const problem = id === '' ? null : certificateDevIdProblem(id);

  const downloadCa = async () => {
    setCaError(null);
    try {
      const r = await api['server.caCertificate']({});
      downloadText(r.fileName, r.pem, 'application/x-pem-file');
    } catch (e) {
      setCaError(message(e));
    }
    await loadServer();
  };
  const issue = async () => {
    if (id === '' || problem) return;
    setIssueError(null);
    setBusy(true);
    try {
      const r = await api['server.issueDeviceCertificate']({ devId: id });
      setIssued({ devId: id, fileName: r.fileName, keyFileName: r.keyFileName, certPem: r.certPem, keyPem: r.keyPem });
    } catch (e) {
      setIssueError(message(e).replace(/^server\.issueDeviceCertificate: devId: /, ''));
    } finally {
      setBusy(false);
    }
    await loadServer();
  };

  return (
    <section className="panel" aria-label="Lab CA" data-testid="lab-ca">
      <header className="panel-head"><h3>Lab CA</h3></header>
      <p className="muted small" data-testid="lab-ca-state">
        {caExists ? 'The lab CA is in the data folder (ca/).' : 'No lab CA yet: it is created on first use.'} Install the CA certificate on handsets that must trust the server's HTTPS certificate.
      </p>
      <div className="row gap wrap">
        <button onClick={() => void downloadCa()} data-testid="download-ca">Download CA certificate</button>
        {caError && <span className="bad small" role="alert">{caError}</span>}
      </div>
      <div className="form">
        <Field
          label="DevId for a device certificate"
          value={devId}
          onChange={(v) => { setDevId(v); setIssueError(null); }}
          validate={() => problem}
          error={issueError}
          placeholder="IMEI:35…, MEID:…, ESN:…, MAC:…, UUID:…"
          hint="The certificate's CN is this DevId; the server compares it with the DevId the device sends."
          list="lab-ca-devices"
          mono
          testId="cert-devid"
        >
          <button disabled={id === '' || problem !== null || busy} onClick={() => void issue()} data-testid="issue-cert">Issue device certificate</button>
        </Field>
        <datalist id="lab-ca-devices">{knownDevices.map((d) => <option key={d} value={d} />)}</datalist>
      </div>
      {issued && (
        <div className="panel" data-testid="issued-cert">
          <p className="small">Certificate for <span className="mono">{issued.devId}</span> issued by the lab CA.</p>
          <div className="row gap wrap">
            <button onClick={() => downloadText(issued.fileName, issued.certPem, 'application/x-pem-file')} data-testid="download-device-cert">Certificate ({issued.fileName})</button>
            <button onClick={() => downloadText(issued.keyFileName, issued.keyPem, 'application/x-pem-file')} data-testid="download-device-key">Private key ({issued.keyFileName})</button>
          </div>
          <p className="muted small">The private key is not encrypted: copy it to the handset only, and delete the download afterwards.</p>
        </div>
      )}
    </section>
  );
}

export function DataFolderPanel({ current, value, onChange }: { current: string; value: string; onChange(v: string): void }) {
  const api = useApi();
  const refreshAll = useApp((s) => s.refreshAll);
  const notify = useApp((s) => s.notify);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const switchFolder = async () => {
    setError(null);
    setBusy(true);
    try {
      await api['server.configure']({ dataDir: value.trim() });
      notify('info', `Data folder: ${value.trim()}`);
    } catch (e) {
      setError(message(e).replace(/^server\.configure: /, ''));
    } finally {
      setBusy(false);
    }
    await refreshAll();
  };
  return (
    <section className="panel" aria-label="Data folder">
      <header className="panel-head"><h3>Data folder</h3></header>
      <p className="muted small">Devices, jobs, sessions with every message, the discovered trees, the lab CA and these settings live here (SQLite, shared with the dmw command).</p>
      <Field
        label="Data folder"
        value={value}
        onChange={(v) => { onChange(v); setError(null); }}
        validate={(v) => (v.trim() === '' ? 'required: a folder path' : null)}
        error={error}
        mono
        testId="data-folder"
      >
        <button disabled={busy || value === current || value.trim() === ''} onClick={() => void switchFolder()}>Switch folder</button>
      </Field>
    </section>
  );
}
