import { useEffect, useState } from 'react';
import type { ServerSettings } from '../../main/api/contract.js';
import { credentialProblem, hostProblem, integerProblem, publicUrlProblem, serverIdProblem, SETTING_RANGES } from '../../main/api/form-rules.js';
import { AuthFailures } from '../components/AuthFailures.js';
import { Badge } from '../components/Badge.js';
import { Field } from '../components/Field.js';
import { useApi, useApp, useAppShallow } from '../hooks/store.js';
import { DataFolderPanel, LabCaPanel } from './server-panels.js';

/** The numeric settings, kept as typed text in the draft so "2.5", "-5" or "" can be explained. */
type NumberKey = keyof typeof SETTING_RANGES;
const NUMBER_KEYS = Object.keys(SETTING_RANGES) as NumberKey[];
type NumberText = Record<NumberKey, string>;

/**
 * The Port field shows the port the server is bound to: with the setting 0 (any free port) that
 * is the one the system chose, which is what handsets must be pointed at.
 */
function numberText(st: ServerSettings, boundPort: number | null): NumberText {
  return {
    port: String(st.port === 0 && boundPort ? boundPort : st.port),
    sessionTimeoutSec: String(st.sessionTimeoutSec),
    stepHoldSec: String(st.stepHoldSec ?? 25),
    maxMsgSize: String(st.maxMsgSize),
  };
}

export function ServerView() {
  const { server, devices } = useAppShallow((s) => ({ server: s.server, devices: s.devices }));
  const start = useApp((s) => s.startServer);
  const stop = useApp((s) => s.stopServer);
  const configure = useApp((s) => s.configureServer);
  const [draft, setDraft] = useState<ServerSettings | null>(server?.settings ?? null);
  const [nums, setNums] = useState<NumberText | null>(server ? numberText(server.settings, server.port) : null);
  const [dataDir, setDataDir] = useState(server?.dataDir ?? '');
  // Reset the draft when the saved settings change, not on every status event (the Lab CA or an
  // open session also sends one) so what the user is typing survives.
  const savedKey = server ? JSON.stringify([server.settings, server.port]) : '';
  useEffect(() => {
    if (server) {
      setDraft(server.settings);
      setNums(numberText(server.settings, server.port));
    }
  }, [savedKey]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (server) setDataDir(server.dataDir);
  }, [server?.dataDir]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!server || !draft || !nums) return <div className="view"><p className="muted pad">Loading…</p></div>;

  const set = <K extends keyof ServerSettings>(k: K, v: ServerSettings[K]) => setDraft({ ...draft, [k]: v });
  const setNum = (k: NumberKey, v: string) => setNums({ ...nums, [k]: v });
  const cred = (k: 'defaultClientCred' | 'serverCred', part: 'name' | 'secret', v: string) => {
    const cur = draft[k] ?? { name: '', secret: '' };
    const next = { ...cur, [part]: v };
    set(k, next.name === '' && next.secret === '' ? null : next);
  };
  const busyPort = !server.running && server.error && /EADDRINUSE/.test(server.error) && nums.port.trim() === String(server.settings.port)
    ? `port ${server.settings.port} is in use by another program: choose another, or 0 for any free port` : null;
  const errors = {
    ...Object.fromEntries(NUMBER_KEYS.map((k) => [k, integerProblem(nums[k], SETTING_RANGES[k][0], SETTING_RANGES[k][1])])) as Record<NumberKey, string | null>,
    host: hostProblem(draft.host),
    publicUrl: publicUrlProblem(draft.publicUrl ?? ''),
    serverId: serverIdProblem(draft.serverId),
    defaultClientCred: credentialProblem(draft.defaultClientCred?.name ?? '', draft.defaultClientCred?.secret ?? ''),
    serverCred: credentialProblem(draft.serverCred?.name ?? '', draft.serverCred?.secret ?? ''),
  };
  const invalid = Object.values(errors).filter(Boolean).length;
  const save = () => {
    if (invalid > 0) return;
    const settings: ServerSettings = { ...draft };
    for (const k of NUMBER_KEYS) settings[k] = Number(nums[k].trim());
    // The bound port shown for "any free port" is not a change: keep 0, the backend keeps the port.
    if (server.settings.port === 0 && server.port !== null && settings.port === server.port) settings.port = 0;
    void configure({ settings });
  };
  const portHint = server.settings.port === 0
    ? (server.running ? `any free port was asked for (setting 0); the system chose ${server.port}, and Save keeps it` : '0: any free port, chosen at start')
    : undefined;

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
          {server.error && <p className="bad" data-testid="server-error">{server.error}</p>}
        </section>

        <section className="panel" aria-label="Listener">
          <header className="panel-head"><h3>Listener and TLS</h3></header>
          <div className="form">
            <Field label="Port" value={nums.port} onChange={(v) => setNum('port', v)} inputMode="numeric" error={errors.port ?? busyPort} hint={portHint} testId="server-port" />
            <Field label="Address" value={draft.host} onChange={(v) => set('host', v)} error={errors.host} mono testId="server-host" />
            <Field label="Public URL" value={draft.publicUrl ?? ''} placeholder="derived from address and port" onChange={(v) => set('publicUrl', v.trim() === '' ? null : v)} error={errors.publicUrl} mono testId="server-public-url" />
            <label className="check"><input type="checkbox" checked={draft.tls} onChange={(e) => set('tls', e.target.checked)} /> HTTPS (certificate from the lab CA)</label>
            <label className="field"><span>Client certificates</span>
              <select value={draft.clientCerts} onChange={(e) => set('clientCerts', e.target.value as ServerSettings['clientCerts'])} disabled={!draft.tls}>
                <option value="off">off</option><option value="optional">optional</option><option value="require">require</option>
              </select>
            </label>
            <label className="check"><input type="checkbox" checked={draft.requireClientCert} onChange={(e) => set('requireClientCert', e.target.checked)} /> device certificate CN must equal the DevId</label>
            <Field label="Session timeout (s)" value={nums.sessionTimeoutSec} onChange={(v) => setNum('sessionTimeoutSec', v)} inputMode="numeric" error={errors.sessionTimeoutSec} testId="server-session-timeout" />
            <Field label="Step hold limit (s)" title="Longest a paused device's answer is held before it goes by itself as one Step; keep it under the device's HTTP timeout" value={nums.stepHoldSec} onChange={(v) => setNum('stepHoldSec', v)} inputMode="numeric" error={errors.stepHoldSec} testId="server-step-hold" />
            <Field label="MaxMsgSize (bytes)" value={nums.maxMsgSize} onChange={(v) => setNum('maxMsgSize', v)} inputMode="numeric" error={errors.maxMsgSize} testId="server-max-msg-size" />
          </div>
        </section>

        <section className="panel" aria-label="Accounts and credentials">
          <header className="panel-head"><h3>Accounts and credentials</h3></header>
          <div className="form">
            <Field label="ServerID" value={draft.serverId} onChange={(v) => set('serverId', v)} error={errors.serverId} mono testId="server-id" />
            <label className="field"><span>Client authentication</span>
              <select value={draft.clientAuth} onChange={(e) => set('clientAuth', e.target.value as ServerSettings['clientAuth'])}>
                <option value="none">none</option><option value="basic">basic</option><option value="md5">md5 digest</option><option value="hmac">x-syncml-hmac</option>
              </select>
            </label>
            <CredentialFields label="Lab default client credential" value={draft.defaultClientCred} error={errors.defaultClientCred} onChange={(part, v) => cred('defaultClientCred', part, v)} />
            <CredentialFields label="Server credential" value={draft.serverCred} error={errors.serverCred} onChange={(part, v) => cred('serverCred', part, v)} />
            <label className="field"><span>Server authentication</span>
              <select value={draft.serverAuth} onChange={(e) => set('serverAuth', e.target.value as ServerSettings['serverAuth'])}>
                <option value="none">none</option><option value="basic">basic</option><option value="md5">md5 digest</option><option value="hmac">x-syncml-hmac</option>
              </select>
            </label>
          </div>
          <DeviceCredentials devices={devices.map((d) => ({ devId: d.devId, own: d.hasOwnCredentials }))} />
        </section>

        <LabCaPanel caExists={server.caExists} knownDevices={devices.map((d) => d.devId)} />

        {server.running && <AuthFailures />}

        <DataFolderPanel current={server.dataDir} value={dataDir} onChange={setDataDir} />
      </div>
      <div className="row gap pad">
        <button className="primary" onClick={save} disabled={invalid > 0} data-testid="server-save">{server.running ? 'Save and restart' : server.error ? 'Save and start' : 'Save'}</button>
        <button onClick={() => { setDraft(server.settings); setNums(numberText(server.settings, server.port)); }}>Revert</button>
        {invalid > 0 && <span className="bad small" data-testid="server-form-invalid">{invalid === 1 ? '1 field needs' : `${invalid} fields need`} fixing before Save (see above)</span>}
      </div>
    </div>
  );
}

function CredentialFields({ label, value, error, onChange }: { label: string; value: { name: string; secret: string } | null; error: string | null; onChange(part: 'name' | 'secret', v: string): void }) {
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <span>{label}</span>
      <span className="row gap">
        <input placeholder="name" aria-label={`${label}: name`} value={value?.name ?? ''} onChange={(e) => onChange('name', e.target.value)} aria-invalid={error ? true : undefined} />
        <input placeholder="secret" aria-label={`${label}: secret`} type="password" value={value?.secret ?? ''} onChange={(e) => onChange('secret', e.target.value)} />
      </span>
      {error && <span className="field-error" role="alert">{error}</span>}
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
  const [error, setError] = useState<string | null>(null);
  const problem = dev ? credentialProblem(name, secret) : null;
  const apply = async (clientCred: { name: string; secret: string } | null) => {
    setError(null);
    try {
      await api['devices.configure']({ devId: dev, clientCred });
      notify('info', clientCred ? `${dev} now has its own credentials` : `${dev} uses the lab default`);
      await loadDevices();
    } catch (e) {
      setError((e instanceof Error ? e.message : String(e)).replace(/^devices\.configure: /, ''));
    }
  };
  const shown = problem ?? error;
  return (
    <div className="form">
      <label className="field"><span>Per-device credentials</span>
        <select value={dev} onChange={(e) => { setDev(e.target.value); setError(null); }} aria-label="Device for credentials">
          <option value="">choose a device</option>
          {devices.map((d) => <option key={d.devId} value={d.devId}>{d.devId}{d.own ? ' (own)' : ''}</option>)}
        </select>
      </label>
      <div className={`field${shown ? ' invalid' : ''}`}>
        <span className="row gap wrap">
          <input placeholder="name" aria-label="Per-device credential: name" value={name} onChange={(e) => { setName(e.target.value); setError(null); }} disabled={!dev} />
          <input placeholder="secret" aria-label="Per-device credential: secret" type="password" value={secret} onChange={(e) => { setSecret(e.target.value); setError(null); }} disabled={!dev} />
          <button disabled={!dev || !name || problem !== null} onClick={() => void apply({ name, secret })}>Set</button>
          <button disabled={!dev} onClick={() => void apply(null)}>Use lab default</button>
        </span>
        {shown && <span className="field-error" role="alert">{shown}</span>}
      </div>
    </div>
  );
}
