import { useState } from 'react';
import { Badge, ago } from '../components/Badge.js';
import { QueuePanel } from '../components/QueuePanel.js';
import { useApp, useAppShallow } from '../hooks/store.js';

export function DevicesView() {
  const { devices, selected, handsets } = useAppShallow((s) => ({ devices: s.devices, selected: s.selectedDevice, handsets: s.handsets }));
  const selectDevice = useApp((s) => s.selectDevice);
  const setView = useApp((s) => s.setView);
  const setSessionFilter = useApp((s) => s.setSessionFilter);
  const loadTree = useApp((s) => s.loadTree);
  const addHandsets = useApp((s) => s.addHandsets);
  const setRunning = useApp((s) => s.setHandsetRunning);
  const [count, setCount] = useState(1);
  const available = handsets?.available ?? false;

  return (
    <div className="view">
      <header className="view-head">
        <h1>Devices</h1>
        <span className="muted">{devices.length} seen by the server</span>
      </header>
      <div className="split">
        <div className="split-main">
          <table className="grid" data-testid="device-table">
            <thead>
              <tr><th>DevId</th><th>Model</th><th>Last session</th><th>State</th><th>Jobs q/s/d/f</th><th /></tr>
            </thead>
            <tbody>
              {devices.length === 0 && (
                <tr><td colSpan={6} className="muted">No device has called the server yet. Point a handset at the server URL (see Server), or add virtual handsets below.</td></tr>
              )}
              {devices.map((d) => (
                <tr key={d.devId} className={d.devId === selected ? 'selected' : ''} onClick={() => selectDevice(d.devId)} data-device={d.devId}>
                  <td className="mono">{d.devId}{d.virtual && <span className="tag">virtual</span>}</td>
                  <td>{d.model ?? '—'}<div className="muted small">{d.manufacturer ?? ''}</div></td>
                  <td>{d.lastSession ? <><Badge value={d.lastSession.state} /> <span className="muted">#{d.lastSession.id} · {ago(d.lastSession.startedAt)}</span></> : 'never'}</td>
                  <td><Badge value={d.state} />{d.paused && <Badge value="held" title="queue paused" />}</td>
                  <td className="mono">{d.jobs.queued}/{d.jobs.sent}/{d.jobs.done}/{d.jobs.failed}{d.jobs.held > 0 ? ` +${d.jobs.held} held` : ''}{d.jobs.unconfirmed ? <> <Badge value="unconfirmed" title="commands sent without an answer: decide in the job queue" /> {d.jobs.unconfirmed}</> : null}</td>
                  <td className="row gap">
                    <button className="link" onClick={(e) => { e.stopPropagation(); setSessionFilter({ device: d.devId }); setView('sessions'); }}>sessions</button>
                    <button className="link" onClick={(e) => { e.stopPropagation(); void loadTree(d.devId); setView('tree'); }}>tree</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>

          <section className="panel" aria-label="Virtual handsets" data-testid="handsets-panel">
            <header className="panel-head">
              <h3>Virtual handsets</h3>
              <div className="row gap">
                <input type="number" min={1} max={100} value={count} onChange={(e) => setCount(Math.max(1, Math.min(100, Number(e.target.value) || 1)))} disabled={!available} aria-label="How many handsets" className="narrow" />
                <button onClick={() => void addHandsets(count)} disabled={!available} title={handsets?.reason ?? undefined}>Add {count}</button>
              </div>
            </header>
            {!available && <p className="hint warn-text" data-testid="handsets-reason">{handsets?.reason ?? 'Checking for the virtual handset module…'}</p>}
            {available && handsets && (
              <table className="grid compact">
                <thead><tr><th>DevId</th><th>Model</th><th>State</th><th>Sessions</th><th>Last</th><th /></tr></thead>
                <tbody>
                  {handsets.handsets.map((h) => (
                    <tr key={h.devId}>
                      <td className="mono">{h.devId}</td>
                      <td>{h.model}</td>
                      <td><Badge value={h.running ? 'running' : 'stopped'} title={h.lastError ?? undefined} />{h.lastError && <span className="bad small"> {h.lastError}</span>}</td>
                      <td>{h.sessions}</td>
                      <td>{ago(h.lastSessionAt)}</td>
                      <td><button className="link" onClick={() => void setRunning(h.devId, !h.running)}>{h.running ? 'stop' : 'start'}</button></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {available && <p className="muted small">Provided by {handsets?.provider}</p>}
          </section>
        </div>
        <aside className="split-side">
          {selected ? (
            <>
              <DeviceInfo devId={selected} />
              <QueuePanel device={selected} />
            </>
          ) : (
            <p className="muted">Select a device.</p>
          )}
        </aside>
      </div>
    </div>
  );
}

function DeviceInfo({ devId }: { devId: string }) {
  const d = useApp((s) => s.devices.find((x) => x.devId === devId));
  if (!d) return null;
  return (
    <section className="panel" aria-label="Device">
      <header className="panel-head"><h3 className="mono">{d.devId}</h3></header>
      <dl className="props">
        {Object.entries(d.devInfo).map(([k, v]) => (
          <div key={k}><dt>{k}</dt><dd className="mono">{v}</dd></div>
        ))}
        <div><dt>first seen</dt><dd>{new Date(d.firstSeen).toLocaleString()}</dd></div>
        <div><dt>last seen</dt><dd>{new Date(d.lastSeen).toLocaleString()}</dd></div>
        <div><dt>credentials</dt><dd>{d.hasOwnCredentials ? 'its own' : 'lab default'}</dd></div>
        <div><dt>notification</dt><dd className="mono small">{d.notifyUrl ?? 'none (jobs wait for its next session)'}</dd></div>
      </dl>
    </section>
  );
}
