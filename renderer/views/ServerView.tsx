import { useEffect, useState } from 'react';
import type { ServerSettings } from '../../main/api/contract.js';
import { AuthFailures } from '../components/AuthFailures.js';
import { Badge } from '../components/Badge.js';
import { downloadText } from '../hooks/download.js';
import { useApi, useApp, useAppShallow } from '../hooks/store.js';

export function ServerView() {
  const { server, devices } = useAppShallow((s) => ({ server: s.server, devices: s.devices }));
  const start = useApp((s) => s.startServer);
  const stop = useApp((s) => s.stopServer);
  const configure = useApp((s) => s.configureServer);
  const notify = useApp((s) => s.notify);
  const api = useApi();
  const [draft, setDraft] = useState<ServerSettings | null>(server?.settings ?? null);
  const [dataDir, setDataDir] = useState(server?.dataDir ?? '');
  const [certDev, setCertDev] = useState('');
  useEffect(() => {
    if (server) {
      setDraft(server.settings);
      setDataDir(server.dataDir);
    }
  }, [server?.settings, server?.dataDir]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!server || !draft) return <div className="view"><p className="muted pad">Loading…</p></div>;

  const set = <K extends keyof ServerSettings>(k: K, v: ServerSettings[K]) => setDraft({ ...draft, [k]: v });
  const cred = (k: 'defaultClientCred' | 'serverCred', part: 'name' | 'secret', v: string) => {
    const cur = draft[k] ?? { name: '', secret: '' };
    const next = { ...cur, [part]: v };
    set(k, next.name === '' && next.secret === '' ? null : next);
  };
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      notify('error', `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return (
    <div className="view server-view">
      <header className="view-head">
        <h1>Server</h1>
        <Badge value={server.running ? 'running' : 'stopped'} />
        {server.running ? <button onClick={() => void stop()} data-testid="server-stop">Stop</button> : <button onClick={() => void start()} data-testid="server-start">Start</button>}
      </header>
      <div className="cols">
        <section className="panel" aria-label="Status">
          <header className="panel-head"><h3>Status</h3></header>
          <dl className="props">
            <div><dt>devices POST to</dt><dd className="mono" data-testid="server-url">{server.url ?? '—'}</dd></div>
            <div><dt>started</dt><dd>{server.startedAt ? new Date(server.startedAt).toLocaleString() : '—'}</dd></div>
            <div><dt>open sessions</dt><dd>{server.activeSessions}</dd></div>
            <div><dt>data folder</dt><dd className="mono">{server.dataDir}</dd></div>
          </dl>
          {server.error && <p className="bad">{server.error}</p>}
        </section>

        <section className="panel" aria-label="Listener">
          <header className="panel-head"><h3>Listener and TLS</h3></header>
          <div className="form">
            <label className="field"><span>Port</span><input type="number" min={0} max={65535} value={draft.port} onChange={(e) => set('port', Number(e.target.value))} /></label>
            <label className="field"><span>Address</span><input value={draft.host} onChange={(e) => set('host', e.target.value)} className="mono" /></label>
            <label className="field"><span>Public URL</span><input value={draft.publicUrl ?? ''} placeholder="derived from address and port" onChange={(e) => set('publicUrl', e.target.value || null)} className="mono" /></label>
            <label className="check"><input type="checkbox" checked={draft.tls} onChange={(e) => set('tls', e.target.checked)} /> HTTPS (certificate from the lab CA)</label>
            <label className="field"><span>Client certificates</span>
              <select value={draft.clientCerts} onChange={(e) => set('clientCerts', e.target.value as ServerSettings['clientCerts'])} disabled={!draft.tls}>
                <option value="off">off</option><option value="optional">optional</option><option value="require">require</option>
              </select>
            </label>
            <label className="check"><input type="checkbox" checked={draft.requireClientCert} onChange={(e) => set('requireClientCert', e.target.checked)} /> device certificate CN must equal the DevId</label>
            <label className="field"><span>Session timeout (s)</span><input type="number" min={1} value={draft.sessionTimeoutSec} onChange={(e) => set('sessionTimeoutSec', Number(e.target.value))} /></label>
            <label className="field" title="Longest a paused device's answer is held before it goes by itself as one Step; keep it under the device's HTTP timeout"><span>Step hold limit (s)</span><input type="number" min={1} max={3600} value={draft.stepHoldSec ?? 25} onChange={(e) => set('stepHoldSec', Number(e.target.value))} /></label>
            <label className="field"><span>MaxMsgSize (bytes)</span><input type="number" min={512} value={draft.maxMsgSize} onChange={(e) => set('maxMsgSize', Number(e.target.value))} /></label>
          </div>
        </section>

        <section className="panel" aria-label="Accounts and credentials">
          <header className="panel-head"><h3>Accounts and credentials</h3></header>
          <div className="form">
            <label className="field"><span>ServerID</span><input value={draft.serverId} onChange={(e) => set('serverId', e.target.value)} className="mono" /></label>
            <label className="field"><span>Client authentication</span>
              <select value={draft.clientAuth} onChange={(e) => set('clientAuth', e.target.value as ServerSettings['clientAuth'])}>
                <option value="none">none</option><option value="basic">basic</option><option value="md5">md5 digest</option><option value="hmac">x-syncml-hmac</option>
              </select>
            </label>
            <label className="field"><span>Lab default client credential</span>
              <span className="row gap"><input placeholder="name" value={draft.defaultClientCred?.name ?? ''} onChange={(e) => cred('defaultClientCred', 'name', e.target.value)} /><input placeholder="secret" type="password" value={draft.defaultClientCred?.secret ?? ''} onChange={(e) => cred('defaultClientCred', 'secret', e.target.value)} /></span>
            </label>
            <label className="field"><span>Server credential</span>
              <span className="row gap"><input placeholder="name" value={draft.serverCred?.name ?? ''} onChange={(e) => cred('serverCred', 'name', e.target.value)} /><input placeholder="secret" type="password" value={draft.serverCred?.secret ?? ''} onChange={(e) => cred('serverCred', 'secret', e.target.value)} /></span>
            </label>
            <label className="field"><span>Server authentication</span>
              <select value={draft.serverAuth} onChange={(e) => set('serverAuth', e.target.value as ServerSettings['serverAuth'])}>
                <option value="none">none</option><option value="basic">basic</option><option value="md5">md5 digest</option><option value="hmac">x-syncml-hmac</option>
              </select>
            </label>
          </div>
          <DeviceCredentials devices={devices.map((d) => ({ devId: d.devId, own: d.hasOwnCredentials }))} />
        </section>

        <section className="panel" aria-label="Lab CA">
          <header className="panel-head"><h3>Lab CA</h3></header>
          <p className="muted small">{server.caExists ? 'The lab CA is in the data folder (ca/).' : 'No lab CA yet: it is created on first use.'} Install the CA certificate on handsets that must trust the server's HTTPS certificate.</p>
          <div className="row gap wrap">
            <button onClick={() => void guard('CA certificate', async () => { const r = await api['server.caCertificate']({}); downloadText(r.fileName, r.pem, 'application/x-pem-file'); })} data-testid="download-ca">Download CA certificate</button>
            <input placeholder="DevId, e.g. IMEI:35…" value={certDev} onChange={(e) => setCertDev(e.target.value)} aria-label="DevId for a certificate" className="mono" />
            <button disabled={certDev.trim() === ''} onClick={() => void guard('device certificate', async () => { const r = await api['server.issueDeviceCertificate']({ devId: certDev.trim() }); downloadText(r.fileName, `${r.certPem}${r.keyPem}${r.caPem}`, 'application/x-pem-file'); })}>
              Issue device certificate
            </button>
          </div>
        </section>

        {server.running && <AuthFailures />}

        <section className="panel" aria-label="Data folder">
          <header className="panel-head"><h3>Data folder</h3></header>
          <p className="muted small">Devices, jobs, sessions with every message, the discovered trees, the lab CA and these settings live here (SQLite, shared with the dmw command).</p>
          <div className="row gap">
            <input value={dataDir} onChange={(e) => setDataDir(e.target.value)} className="mono grow" aria-label="Data folder" />
            <button disabled={dataDir === server.dataDir || dataDir.trim() === ''} onClick={() => void configure({ dataDir: dataDir.trim() })}>Switch folder</button>
          </div>
        </section>
      </div>
      <div className="row gap pad">
        <button className="primary" onClick={() => void configure({ settings: draft })} data-testid="server-save">{server.running ? 'Save and restart' : 'Save'}</button>
        <button onClick={() => setDraft(server.settings)}>Revert</button>
      </div>
    </div>
  );
}

function DeviceCredentials({ devices }: { devices: { devId: string; own: boolean }[] }) {
  const api = useApi();
  const notify = useApp((s) => s.notify);
  const loadDevices = useApp((s) => s.loadDevices);
  const [dev, setDev] = useState('');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const apply = async (clientCred: { name: string; secret: string } | null) => {
    try {
      await api['devices.configure']({ devId: dev, clientCred });
      notify('info', clientCred ? `${dev} now has its own credentials` : `${dev} uses the lab default`);
      await loadDevices();
    } catch (e) {
      notify('error', `credentials: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return (
    <div className="form">
      <label className="field"><span>Per-device credentials</span>
        <select value={dev} onChange={(e) => setDev(e.target.value)} aria-label="Device for credentials">
          <option value="">choose a device</option>
          {devices.map((d) => <option key={d.devId} value={d.devId}>{d.devId}{d.own ? ' (own)' : ''}</option>)}
        </select>
      </label>
      <span className="row gap">
        <input placeholder="name" value={name} onChange={(e) => setName(e.target.value)} disabled={!dev} />
        <input placeholder="secret" type="password" value={secret} onChange={(e) => setSecret(e.target.value)} disabled={!dev} />
        <button disabled={!dev || !name} onClick={() => void apply({ name, secret })}>Set</button>
        <button disabled={!dev} onClick={() => void apply(null)}>Use lab default</button>
      </span>
    </div>
  );
}
