import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { MessageSummary, SessionDetail } from '../../main/api/contract.js';
import { SESSION_STATES } from '../../main/api/contract.js';
import { Badge, StatusCode, ago, timeOf } from '../components/Badge.js';
import { DeviceSelect } from '../components/DeviceSelect.js';
import { SessionContentSearch } from '../components/SessionContentSearch.js';
import { HeldSessionBar } from '../components/HeldSession.js';
import { MessagePanel } from '../components/MessagePanel.js';
import { QueuePanel } from '../components/QueuePanel.js';
import { SequenceDiagram } from '../components/SequenceDiagram.js';
import { downloadText } from '../hooks/download.js';
import { TraceExportButtons, TraceImport } from '../components/TraceFiles.js';
import { useSessionWindows } from '../hooks/session-windows.js';
import { useApi, useApp, useAppShallow } from '../hooks/store.js';
import { filterSessions, heldSession } from '../stores/app-store.js';
import { FindingCounts, RuleExplanation } from '../components/Findings.js';
import { atLeast, findingsBySeq, sessionsWithErrors, SEVERITY_ORDER, type SeverityName } from '../stores/findings-slice.js';

/** Auth rows shown at once: a long session repeats the same Cred in every message. */
const AUTH_ROWS = 50;

export function SessionsView() {
  const { sessions, filter, selectedId, detail } = useAppShallow((s) => ({ sessions: s.sessions, filter: s.sessionFilter, selectedId: s.selectedSessionId, detail: s.sessionDetail }));
  const setFilter = useApp((s) => s.setSessionFilter);
  const select = useApp((s) => s.selectSession);
  const { errorsOnly, findingCounts } = useAppShallow((s) => ({ errorsOnly: s.errorsOnly, findingCounts: s.findingCounts }));
  const setErrorsOnly = useApp((s) => s.setErrorsOnly);
  const loadCounts = useApp((s) => s.loadFindingCounts);
  // Content search (message index): only the sessions with a matching message, when one is applied.
  const [contentHits, setContentHits] = useState<ReadonlySet<number> | null>(null);
  const filtered = useMemo(() => {
    const f = filterSessions(sessions, filter);
    return contentHits ? f.filter((s) => contentHits.has(s.id)) : f;
  }, [sessions, filter, contentHits]);
  const withErrors = useMemo(() => (errorsOnly ? sessionsWithErrors(filtered, findingCounts) : null), [errorsOnly, filtered, findingCounts]);
  const shown = withErrors ? withErrors.shown : filtered;
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: shown.length, getScrollElement: () => parent.current, estimateSize: () => 52, overscan: 10 });
  // Counts are judged on demand: for the rows on screen, or for the whole filtered list while "errors only" is on.
  const visible = v.getVirtualItems().map((it) => shown[it.index]).filter((x) => x !== undefined);
  const visibleKey = visible.map((x) => `${x.id}:${x.messageCount}`).join(',');
  // Keyed by the rows' ids and message counts, not the array (a new one every render).
  useEffect(() => {
    if (visible.length > 0) void loadCounts(visible);
  }, [visibleKey, loadCounts]);
  useEffect(() => {
    if (errorsOnly) void loadCounts(filtered);
  }, [errorsOnly, filtered, loadCounts]);

  return (
    <div className="view sessions-view">
      <header className="view-head">
        <h1>Sessions</h1>
        <span className="muted">{shown.length} of {sessions.length} · live{withErrors && withErrors.unjudged > 0 ? ` · judging ${withErrors.unjudged} session(s)…` : ''}</span>
        <TraceImport />
      </header>
      <div className="split">
        <div className="split-list">
          <div className="filters">
            <DeviceSelect value={filter.device} onChange={(device) => setFilter({ device })} allowAll />
            <label className="field inline">
              <span>State</span>
              <select value={filter.state ?? ''} onChange={(e) => setFilter({ state: e.target.value || null })} aria-label="State">
                <option value="">any</option>
                {SESSION_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
              </select>
            </label>
            <input type="search" placeholder="Search sessions" value={filter.text} onChange={(e) => setFilter({ text: e.target.value })} aria-label="Search sessions" />
            <SessionContentSearch onResult={setContentHits} />
            <label className="check">
              <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} data-testid="errors-only" />
              <span>Only sessions with errors (expert findings)</span>
            </label>
          </div>
          <div className="list-scroll" ref={parent} data-testid="session-list">
            <div style={{ height: v.getTotalSize(), position: 'relative' }}>
              {v.getVirtualItems().map((it) => {
                const s = shown[it.index]!;
                return (
                  <div
                    key={s.id}
                    className={`list-row${s.id === selectedId ? ' selected' : ''}`}
                    style={{ transform: `translateY(${it.start}px)`, height: 52 }}
                    onClick={() => void select(s.id)}
                    data-session={s.id}
                    data-state={s.state}
                    role="button"
                    tabIndex={0}
                  >
                    <div className="row between">
                      <span><b>#{s.id}</b> <span className="mono small">{s.device ?? '(unknown)'}</span></span>
                      <Badge value={s.state} title={s.reason ?? undefined} />
                    </div>
                    <div className="row between muted small">
                      <span>{timeOf(s.startedAt)} · {ago(s.startedAt)}</span>
                      <span><FindingCounts counts={findingCounts[s.id]?.counts} /> {s.messageCount} msg · {s.encoding ?? '?'}</span>
                    </div>
                  </div>
                );
              })}
            </div>
          </div>
        </div>
        <div className="split-main">
          {selectedId === null ? <p className="muted pad">Select a session to debug it.</p> : detail ? <SessionDebugger detail={detail} /> : <p className="muted pad">Loading session #{selectedId}…</p>}
        </div>
      </div>
    </div>
  );
}

function matches(m: MessageSummary, q: string): boolean {
  if (!q) return true;
  const hay = `${m.msgId ?? ''} ${m.note ?? ''} ${m.error ?? ''} ${m.commands.map((c) => `${c.kind} ${c.summary} ${c.targets.join(' ')} ${c.status?.code ?? ''}`).join(' ')}`.toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

function SessionDebugger({ detail }: { detail: SessionDetail }) {
  const api = useApi();
  const { selectedMessageId, messageDetails, search } = useAppShallow((s) => ({ selectedMessageId: s.selectedMessageId, messageDetails: s.messageDetails, search: s.messageSearch }));
  const selectMessage = useApp((s) => s.selectMessage);
  const setSearch = useApp((s) => s.setMessageSearch);
  const abort = useApp((s) => s.abortSession);
  const notify = useApp((s) => s.notify);
  const s = detail.session;
  const held = useApp((st) => heldSession(st, s.device, s.id) !== null);
  const q = search.trim().toLowerCase();
  const { allFindings, floor, ruleExplained, ruleLoading } = useAppShallow((st) => ({ allFindings: st.sessionFindings, floor: st.findingFloor, ruleExplained: st.ruleExplained, ruleLoading: st.ruleLoading }));
  const loadFindings = useApp((st) => st.loadFindings);
  const setFloor = useApp((st) => st.setFindingFloor);
  const explain = useApp((st) => st.explainRule);
  const findings = allFindings?.session === s.id ? allFindings : null;
  const bySeq = useMemo(() => findingsBySeq(findings), [findings]);
  // Judged again (the backend's cache permitting) whenever the live session shows another message.
  useEffect(() => {
    void loadFindings(s.id);
  }, [s.id, detail.messages.length, loadFindings]);
  // A long session comes as envelopes: the windows on screen are filled in as the diagram scrolls.
  const windows = useSessionWindows(detail);
  const all = windows.messages;
  const messages = useMemo(
    () => (q === '' && floor === null ? all : all.filter((m) => matches(m, q) && (floor === null || (bySeq.get(m.seq) ?? []).some((f) => atLeast(f.severity, floor))))),
    [all, q, floor, bySeq],
  );
  const indexOf = useMemo(() => (messages === all ? null : new Map(all.map((m, i) => [m.id, i]))), [messages, all]);
  const fillRange = windows.onRange;
  const onRange = useCallback((first: number, last: number) => {
    if (!indexOf) return fillRange(first, last);
    const a = indexOf.get(messages[first]?.id ?? -1);
    const b = indexOf.get(messages[last]?.id ?? -1);
    if (a !== undefined && b !== undefined) fillRange(a, b);
  }, [indexOf, messages, fillRange]);
  const selected = all.find((m) => m.id === selectedMessageId);

  useEffect(() => {
    if (selectedMessageId === null && detail.messages.length > 0) void selectMessage(detail.messages[0]!.id);
  }, [detail.messages, selectedMessageId, selectMessage]);

  const last = detail.messages[detail.messages.length - 1];
  const totalMs = last ? last.offsetMs : 0;
  const serverMs = useMemo(() => detail.messages.reduce((n, m) => n + (m.durationMs ?? 0), 0), [detail.messages]);
  const auth = useMemo(() => all.filter((m) => m.auth.cred || (m.auth.hdrStatus && (m.auth.hdrStatus.chalType || m.auth.hdrStatus.code !== '200'))), [all]);

  const exportIt = async () => {
    try {
      const r = await api['sessions.export']({ id: s.id });
      downloadText(r.fileName, r.json);
    } catch (e) {
      notify('error', `export: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return (
    <div className="debugger" data-testid="session-debugger">
      <header className="panel-head">
        <div>
          <h2>Session #{s.id} <Badge value={s.state} />{held && <> <Badge value="held" title="the server holds its answer until Step or Resume" /></>}</h2>
          <div className="muted small">
            <span className="mono">{s.device}</span> · SessionID {s.dmSessionId} · {s.encoding} · auth {s.authType ?? '—'} · {detail.messages.length} messages · {totalMs} ms total, server {Math.round(serverMs)} ms
            {s.reason && <> · {s.reason}</>}
          </div>
        </div>
        <div className="row gap">
          {s.state === 'active' && <button onClick={() => void abort(s.id)}>Abort</button>}
          <button onClick={() => void exportIt()} data-testid="export-session">Export for bug report</button>
          <TraceExportButtons sessionId={s.id} />
        </div>
      </header>
      {s.device && s.state === 'active' && <HeldSessionBar device={s.device} sessionId={s.id} />}
      <RuleExplanation rule={ruleExplained} loading={ruleLoading} onClose={() => void explain(null)} />
      <div className="debugger-grid">
        <div className="debugger-left">
          <input type="search" placeholder="Filter messages: command, URI, status…" value={search} onChange={(e) => setSearch(e.target.value)} aria-label="Filter messages" />
          <div className="row gap wrap" data-testid="findings-summary">
            <span>Expert findings:</span>
            {findings ? <FindingCounts counts={findings.counts} /> : <span className="muted small">judging…</span>}
            {findings?.skipped && <span className="muted small" data-testid="findings-skipped">{findings.skipped}</span>}
            <label className="field inline">
              <span>Show</span>
              <select value={floor ?? ''} onChange={(e) => setFloor((e.target.value || null) as SeverityName | null)} aria-label="Show messages by finding severity" data-testid="finding-floor">
                <option value="">all messages</option>
                {SEVERITY_ORDER.map((sev) => <option key={sev} value={sev}>{sev === 'error' ? 'messages with errors' : `messages with ${sev}s or worse`}</option>)}
              </select>
            </label>
            {floor !== null && <span className="muted small">{messages.length} of {detail.messages.length} messages</span>}
          </div>
          {!windows.complete && (
            <p className="muted small" data-testid="session-windows">
              Long session: commands are read for the messages on screen ({windows.summarized} of {detail.messages.length} so far); the filter above and the auth exchange cover those. The Packets view filters the whole session (<code>session == {s.id}</code>).
            </p>
          )}
          <SequenceDiagram messages={messages} selectedId={selectedMessageId} onSelect={(id) => void selectMessage(id)} findings={bySeq} onRange={onRange} />
          <section className="panel" aria-label="Auth exchange">
            <header className="panel-head"><h3>Auth exchange</h3></header>
            {auth.length === 0 ? <p className="muted small">No credentials or challenges in this session (client auth: {s.authType ?? 'none'}).</p> : (
              <table className="grid compact">
                <thead><tr><th>#</th><th>dir</th><th>Cred</th><th>SyncHdr status</th><th>challenge</th></tr></thead>
                <tbody>
                  {auth.slice(0, AUTH_ROWS).map((m) => (
                    <tr key={m.id}>
                      <td>{m.seq}</td>
                      <td>{m.direction === 'in' ? 'client→' : '←server'}</td>
                      <td className="mono small">{m.auth.cred ? `${m.auth.cred.type ?? '?'}${m.auth.cred.name ? ` (${m.auth.cred.name})` : ''}` : '—'}</td>
                      <td><StatusCode code={m.auth.hdrStatus?.code} /></td>
                      <td className="mono small">{m.auth.hdrStatus?.chalType ? `${m.auth.hdrStatus.chalType} nonce ${m.auth.hdrStatus.nextNonce ?? ''}` : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {auth.length > AUTH_ROWS && <p className="muted small">… and {auth.length - AUTH_ROWS} more messages with credentials or challenges (filter the diagram by "Cred" or "401").</p>}
          </section>
          {detail.jobs.length > 0 && (
            <section className="panel" aria-label="Jobs in this session">
              <header className="panel-head"><h3>Jobs in this session</h3></header>
              <table className="grid compact">
                <tbody>
                  {detail.jobs.map((j) => (
                    <tr key={j.id}><td>#{j.id}</td><td>{j.command}</td><td className="mono">{j.target}</td><td><Badge value={j.status} /></td><td><StatusCode code={j.statusCode} /></td></tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
        </div>
        <div className="debugger-right">
          {selected && !windows.hasCommands(selected.id) ? <p className="muted" data-testid="message-loading">Reading message #{selected.seq}…</p> : selected ? <MessagePanel summary={selected} detail={messageDetails[selected.id]} findings={findings ? bySeq.get(selected.seq) ?? [] : undefined} onExplain={(rule) => void explain(rule)} /> : <p className="muted">Select a message.</p>}
          {s.device && <QueuePanel device={s.device} />}
        </div>
      </div>
    </div>
  );
}
