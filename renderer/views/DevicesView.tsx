import { useMemo, useState } from 'react';
import type { DeviceSummary } from '../../main/api/contract.js';
import { handsetCountProblem, MAX_HANDSETS_PER_ADD } from '../../main/api/form-rules.js';
import { Badge, ago } from '../components/Badge.js';
import { Field } from '../components/Field.js';
import { QueuePanel } from '../components/QueuePanel.js';
import { useApp, useAppShallow } from '../hooks/store.js';

type SortColumn = 'devId' | 'model' | 'lastSession' | 'state' | 'jobs';
interface Sort { column: SortColumn; desc: boolean }

const COLUMNS: { id: SortColumn; label: string }[] = [
  { id: 'devId', label: 'DevId' },
  { id: 'model', label: 'Model' },
  { id: 'lastSession', label: 'Last session' },
  { id: 'state', label: 'State' },
  { id: 'jobs', label: 'Jobs q/s/d/f' },
];

const sortKey: Record<SortColumn, (d: DeviceSummary) => string | number> = {
  devId: (d) => d.devId,
  model: (d) => `${d.model ?? ''}\u0000${d.manufacturer ?? ''}`,
  lastSession: (d) => d.lastSession?.id ?? -1,
  state: (d) => `${d.state}${d.paused ? ' held' : ''}`,
  jobs: (d) => d.jobs.queued,
};

/**
 * The device list in the order the user chose (default: by DevId), ties broken by DevId. The
 * backend sends devices newest-seen first, which re-sorted the rows under the mouse at every
 * session; here rows only move when the chosen column's value changes.
 */
export function sortDevices(devices: DeviceSummary[], sort: Sort): DeviceSummary[] {
  const key = sortKey[sort.column];
  const dir = sort.desc ? -1 : 1;
  return [...devices].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = typeof ka === 'number' && typeof kb === 'number' ? ka - kb : String(ka).localeCompare(String(kb));
    return c !== 0 ? c * dir : a.devId < b.devId ? -1 : a.devId > b.devId ? 1 : 0;
  });
}

export function DevicesView() {
  const { devices, selected, handsets } = useAppShallow((s) => ({ devices: s.devices, selected: s.selectedDevice, handsets: s.handsets }));
  const selectDevice = useApp((s) => s.selectDevice);
  const setView = useApp((s) => s.setView);
  const setSessionFilter = useApp((s) => s.setSessionFilter);
  const loadTree = useApp((s) => s.loadTree);
  const addHandsets = useApp((s) => s.addHandsets);
  const setRunning = useApp((s) => s.setHandsetRunning);
  const selectSession = useApp((s) => s.selectSession);
  const openSessionId = useApp((s) => s.selectedSessionId);
  const openSessionDevice = useApp((s) => s.sessionDetail?.session.device ?? s.sessions.find((x) => x.id === s.selectedSessionId)?.device ?? null);
  const [count, setCount] = useState('1');
  const [sort, setSort] = useState<Sort>({ column: 'devId', desc: false });
  const sorted = useMemo(() => sortDevices(devices, sort), [devices, sort]);
  const available = handsets?.available ?? false;
  const countProblem = handsetCountProblem(count);
  const sortBy = (column: SortColumn) => setSort((s) => ({ column, desc: s.column === column ? !s.desc : false }));
  /** The device's sessions, with its own latest session in the detail pane (never another device's). */
  const showSessions = (d: DeviceSummary) => {
    setSessionFilter({ device: d.devId });
    if (openSessionId === null || openSessionDevice !== d.devId) void selectSession(d.lastSession?.id ?? null);
    setView('sessions');
  };

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
              <tr>
                {COLUMNS.map((c) => (
                  <th key={c.id} aria-sort={sort.column === c.id ? (sort.desc ? 'descending' : 'ascending') : undefined} data-column={c.id}>
                    <button className="sort" onClick={() => sortBy(c.id)} title={`Sort by ${c.label}`}>
                      {c.label}{sort.column === c.id ? (sort.desc ? ' ▼' : ' ▲') : ''}
                    </button>
                  </th>
                ))}
                <th />
              </tr>
            </thead>
            <tbody>
              {devices.length === 0 && (
                <tr><td colSpan={6} className="muted">No device has called the server yet. Point a handset at the server URL (see Server), or add virtual handsets below.</td></tr>
              )}
              {sorted.map((d) => (
                <tr key={d.devId} className={d.devId === selected ? 'selected' : ''} onClick={() => selectDevice(d.devId)} data-device={d.devId}>
                  <td className="mono">{d.devId}{d.virtual && <span className="tag">virtual</span>}</td>
                  <td>{d.model ?? '—'}<div className="muted small">{d.manufacturer ?? ''}</div></td>
                  <td>{d.lastSession ? <><Badge value={d.lastSession.state} /> <span className="muted">#{d.lastSession.id} · {ago(d.lastSession.startedAt)}</span></> : 'never'}</td>
                  <td><Badge value={d.state} />{d.paused && <Badge value="held" title="queue paused" />}</td>
                  <td className="mono">{d.jobs.queued}/{d.jobs.sent}/{d.jobs.done}/{d.jobs.failed}{d.jobs.held > 0 ? ` +${d.jobs.held} held` : ''}{d.jobs.unconfirmed ? <> <Badge value="unconfirmed" title="commands sent without an answer: decide in the job queue" /> {d.jobs.unconfirmed}</> : null}</td>
                  <td className="row gap">
                    <button className="link" onClick={(e) => { e.stopPropagation(); showSessions(d); }}>sessions</button>
                    <button className="link" onClick={(e) => { e.stopPropagation(); void loadTree(d.devId); setView('tree'); }}>tree</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>

          <section className="panel" aria-label="Virtual handsets" data-testid="handsets-panel">
            <header className="panel-head">
              <h3>Virtual handsets</h3>
              <Field label="How many handsets" className="inline narrow-input" value={count} onChange={setCount} validate={handsetCountProblem} inputMode="numeric" disabled={!available} testId="handset-count" hint={`1 to ${MAX_HANDSETS_PER_ADD}`}>
                <button onClick={() => void addHandsets(Number(count.trim()))} disabled={!available || countProblem !== null} title={handsets?.reason ?? undefined} data-testid="add-handsets">
                  {countProblem ? 'Add' : `Add ${Number(count.trim())}`}
                </button>
              </Field>
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
