import { useCallback, useEffect, useState } from 'react';
import type { AuthFailures as AuthFailuresData } from '../../main/api/contract.js';
import { useApi } from '../hooks/store.js';
import { Badge, ago, timeOf } from './Badge.js';

/** How often the panel asks again while it is shown (the ring is small; a poll is cheaper than an event per refusal). */
const REFRESH_MS = 5000;

const KIND_LABEL: Record<AuthFailuresData['recent'][number]['kind'], string> = {
  'auth-failed': 'wrong credentials',
  throttled: 'refused unchecked',
  locked: 'device locked',
  refused: 'certificate refused',
  'session-over': 'after failing',
  busy: 'no room',
  rejected: 'bad input',
};

/**
 * What the DM server refused before devices authenticated (main/server/README.md, "Limits before
 * authentication"): session pools, throttled addresses and credential names, and the recent
 * refusals, a run of the same one folded into a row with its count.
 */
export function AuthFailures() {
  const api = useApi();
  const [data, setData] = useState<AuthFailuresData | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setData(await api['server.authFailures']({}));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load]);

  return (
    <section className="panel" aria-label="Authentication failures">
      <header className="panel-head">
        <h3>Before authentication</h3>
        <button onClick={() => void load()}>Refresh</button>
      </header>
      {error && <p className="bad">{error}</p>}
      {data === undefined && !error && <p className="muted small">Loading…</p>}
      {data === null && <p className="muted small">The server is stopped.</p>}
      {data && (
        <>
          <dl className="props">
            <div><dt>sessions</dt><dd data-testid="auth-pools">{data.sessions.authenticated} of {data.sessions.maxSessions} authenticated; {data.sessions.preAuth} of {data.sessions.maxPreAuthSessions} waiting to authenticate ({data.sessions.maxPreAuthSessionsPerAddress} per address)</dd></div>
            <div><dt>refused</dt><dd data-testid="auth-counts">{Object.entries(data.counts).filter(([, n]) => n > 0).map(([k, n]) => `${KIND_LABEL[k as keyof typeof KIND_LABEL] ?? k}: ${n}`).join(', ') || 'nothing yet'}</dd></div>
            <div><dt>throttled</dt><dd data-testid="auth-throttled">{[
              ...data.throttled.addresses.filter((a) => a.tokens < 1).map((a) => `address ${a.address}`),
              ...data.throttled.credentials.filter((c) => c.tokens < 1).map((c) => `credential "${c.credential}" (for addresses that failed)`),
            ].join(', ') || 'nothing'}</dd></div>
          </dl>
          {data.recent.length === 0 ? <p className="muted small">No refusals since the server started.</p> : (
            <table className="grid compact" data-testid="auth-recent">
              <thead><tr><th>last</th><th>what</th><th>from</th><th>DevId</th><th>credential</th><th>times</th><th>why</th></tr></thead>
              <tbody>
                {data.recent.map((e, i) => (
                  <tr key={`${e.firstAt}-${i}`}>
                    <td title={`first ${timeOf(e.firstAt)}`}>{ago(e.at)}</td>
                    <td><Badge value={KIND_LABEL[e.kind]} /></td>
                    <td className="mono">{e.address}</td>
                    <td className="mono">{e.devId ?? '—'}</td>
                    <td className="mono">{e.credential ?? '—'}</td>
                    <td>{e.count}</td>
                    <td className="small">{e.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
