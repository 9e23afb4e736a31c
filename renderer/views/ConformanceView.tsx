/**
 * Conformance: pick a device and a plan (or some of its cases), run it through the app's DM server,
 * follow the progress, read the verdicts (coloured; a case opens to its checks and evidence), and
 * export the report (self-contained HTML, JUnit XML for CI, JSON). The backend owns the run (one at a
 * time); this view polls its status while it goes, so leaving the view and coming back loses nothing.
 */
import { Fragment, useCallback, useEffect, useMemo, useState } from 'react';
import type { CaseDetailView, CaseVerdictView, ConformanceStatus, ReportFormat } from '../../main/api/contract-conformance.js';
import type { PlanInfo, Verdict } from '../../main/judge/conformance/types.js';
import { ConformanceCaseDetail } from '../components/ConformanceCase.js';
import { DeviceSelect } from '../components/DeviceSelect.js';
import { downloadText } from '../hooks/download.js';
import { useApi, useApp } from '../hooks/store.js';

/** How often the status is asked for while a run goes. */
export const POLL_MS = 500;

const TONE: Record<Verdict, string> = { pass: 'ok', fail: 'bad', inconclusive: 'warn', 'not-applicable': 'quiet' };
const ROW_TINT: Partial<Record<Verdict, string>> = { fail: '#fdf0ef', inconclusive: '#fff8e1' };

export function VerdictBadge({ verdict }: { verdict: Verdict }) {
  return <span className={`badge tone-${TONE[verdict]}`} data-verdict-badge={verdict} style={{ fontWeight: 600 }}>{verdict === 'not-applicable' ? 'not applicable' : verdict}</span>;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function CasePicker({ plan, chosen, setChosen }: { plan: PlanInfo; chosen: Set<string>; setChosen: (s: Set<string>) => void }) {
  const [filter, setFilter] = useState('');
  const f = filter.trim().toLowerCase();
  const shown = plan.cases.filter((c) => !f || `${c.id} ${c.title} ${c.group} ${c.clause}`.toLowerCase().includes(f));
  const groups = [...new Set(shown.map((c) => c.group))];
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  return (
    <div className="panel" data-testid="case-picker">
      <div className="row gap wrap">
        <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="filter cases (id, title, group, clause)" aria-label="Filter cases" />
        <button onClick={() => setChosen(new Set([...chosen, ...shown.map((c) => c.id)]))}>Select shown</button>
        <button onClick={() => setChosen(new Set())}>Select none</button>
        <span className="muted small">{chosen.size} of {plan.cases.length} chosen</span>
      </div>
      <div style={{ maxHeight: 260, overflow: 'auto' }}>
        {groups.map((g) => (
          <fieldset key={g} style={{ border: 'none', margin: 0, padding: '2px 0' }}>
            <legend className="small muted">{g}</legend>
            {shown.filter((c) => c.group === g).map((c) => (
              <label key={c.id} className="row gap small" title={c.clause}>
                <input type="checkbox" checked={chosen.has(c.id)} onChange={() => toggle(c.id)} data-case-choice={c.id} />
                <span className="mono">{c.id}</span> <span>{c.title}</span>
              </label>
            ))}
          </fieldset>
        ))}
      </div>
    </div>
  );
}

function Progress({ st }: { st: ConformanceStatus }) {
  if (st.state !== 'running') return null;
  return (
    <div className="panel" data-testid="conformance-progress" aria-live="polite">
      <div className="row gap">
        <progress value={st.done} max={Math.max(1, st.total)} style={{ flex: 1 }} />
        <span className="mono small">{st.done} / {st.total}</span>
        <span className="muted small">{st.sessions} session{st.sessions === 1 ? '' : 's'}</span>
      </div>
      <div className="small">
        {st.waiting
          ? st.waiting.notified ? 'Waiting for the device: package #0 sent, the device should open a session.' : 'Waiting for the device to open a session (it has no notification address: start a session on the device).'
          : st.current ? <>Running <span className="mono">{st.current.id}</span> {st.current.title}</> : 'Starting…'}
      </div>
    </div>
  );
}

function Summary({ st }: { st: ConformanceStatus }) {
  const s = st.summary;
  if (!s) return null;
  return (
    <div className="row gap wrap" data-testid="conformance-summary">
      <strong>{st.plan}</strong> on <span className="mono">{st.device}</span>:
      <span><VerdictBadge verdict="pass" /> {s.passed}</span>
      <span><VerdictBadge verdict="fail" /> {s.failed}</span>
      <span><VerdictBadge verdict="inconclusive" /> {s.inconclusive}</span>
      <span><VerdictBadge verdict="not-applicable" /> {s.skipped} skipped</span>
      {st.startedAt !== null && st.finishedAt !== null && <span className="muted small">in {((st.finishedAt - st.startedAt) / 1000).toFixed(1)} s</span>}
    </div>
  );
}

function CasesTable({ cases, openId, onOpen, detail, detailError }: {
  cases: CaseVerdictView[]; openId: string | null; onOpen: (id: string | null) => void; detail: CaseDetailView | null; detailError: string | null;
}) {
  return (
    <table className="grid" data-testid="conformance-results">
      <thead><tr><th>#</th><th>Case</th><th>Title</th><th>Group</th><th>Verdict</th><th>Detail</th></tr></thead>
      <tbody>
        {cases.map((c, i) => (
          <Fragment key={c.id}>
            <tr data-case={c.id} data-verdict={c.verdict} className={openId === c.id ? 'selected' : undefined} style={{ background: openId === c.id ? undefined : ROW_TINT[c.verdict] }}
              onClick={() => onOpen(openId === c.id ? null : c.id)} aria-expanded={openId === c.id} tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && onOpen(openId === c.id ? null : c.id)}>
              <td className="muted">{i + 1}</td>
              <td className="mono small">{openId === c.id ? '▾' : '▸'} {c.id}</td>
              <td>{c.title}</td>
              <td className="small">{c.group}</td>
              <td><VerdictBadge verdict={c.verdict} /></td>
              <td className="small">{c.detail}</td>
            </tr>
            {openId === c.id && (
              <tr><td colSpan={6}>
                {detailError ? <div className="muted">{detailError}</div> : detail?.id === c.id ? <ConformanceCaseDetail detail={detail} /> : <div className="muted">Loading…</div>}
              </td></tr>
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

export function ConformanceView() {
  const api = useApi();
  const serverRunning = useApp((s) => s.server?.running ?? false);
  const [device, setDevice] = useState<string | null>(null);
  const [plans, setPlans] = useState<PlanInfo[] | null>(null);
  const [planName, setPlanName] = useState<string | null>(null);
  const [mode, setMode] = useState<'all' | 'some'>('all');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [st, setSt] = useState<ConformanceStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [openId, setOpenId] = useState<string | null>(null);
  const [detail, setDetail] = useState<CaseDetailView | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setSt(await api['conformance.status']({}));
    } catch (e) {
      setError(message(e));
    }
  }, [api]);

  useEffect(() => {
    void (async () => {
      try {
        const p = await api['conformance.plans']({});
        setPlans(p);
        setPlanName((cur) => cur ?? p[0]?.name ?? null);
      } catch (e) {
        setPlans([]);
        setError(message(e));
      }
    })();
    void refresh();
  }, [api, refresh]);

  const running = st?.state === 'running';
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(t);
  }, [running, refresh]);

  // The open case's evidence: asked for when opened, and again when its run changes.
  const openVerdict = st?.cases.find((c) => c.id === openId)?.verdict;
  useEffect(() => {
    setDetail(null);
    setDetailError(null);
    if (!openId || !openVerdict) return;
    let live = true;
    api['conformance.case']({ id: openId }).then((d) => live && setDetail(d), (e: unknown) => live && setDetailError(message(e)));
    return () => {
      live = false;
    };
  }, [api, openId, openVerdict, st?.runId, st?.state]);

  const plan = useMemo(() => plans?.find((p) => p.name === planName) ?? null, [plans, planName]);
  const why = !serverRunning ? 'Start the DM server first (Server view).' : !device ? 'Choose a device.' : !plan ? 'No plan.' : mode === 'some' && chosen.size === 0 ? 'Choose at least one case.' : running ? 'A run is going.' : null;

  const run = async () => {
    if (!device || !plan) return;
    setError(null);
    setOpenId(null);
    try {
      const cases = mode === 'some' ? plan.cases.map((c) => c.id).filter((id) => chosen.has(id)) : undefined;
      await api['conformance.run']({ device, plan: plan.name, ...(cases ? { cases } : {}) });
    } catch (e) {
      setError(message(e));
    }
    await refresh();
  };

  const exportAs = async (format: ReportFormat) => {
    try {
      const r = await api['conformance.report']({ format });
      downloadText(r.fileName, r.text, r.mime);
    } catch (e) {
      setError(message(e));
    }
  };

  return (
    <div className="view conformance-view" data-testid="conformance-view">
      <header className="view-head">
        <h1>Conformance</h1>
        <DeviceSelect value={device} onChange={setDevice} />
        <label className="field inline">
          <span>Plan</span>
          <select value={planName ?? ''} onChange={(e) => { setPlanName(e.target.value || null); setChosen(new Set()); }} aria-label="Plan">
            {(plans ?? []).map((p) => <option key={p.name} value={p.name}>{p.name} ({p.cases.length} cases)</option>)}
          </select>
        </label>
        <label className="row gap small"><input type="radio" name="conf-mode" checked={mode === 'all'} onChange={() => setMode('all')} /> all cases</label>
        <label className="row gap small"><input type="radio" name="conf-mode" checked={mode === 'some'} onChange={() => setMode('some')} data-testid="choose-cases" /> some cases</label>
        <button className="primary" onClick={() => void run()} disabled={why !== null} title={why ?? undefined} data-testid="conformance-run">Run</button>
        {why && !running && <span className="muted small">{why}</span>}
      </header>
      <div className="pad" style={{ display: 'flex', flexDirection: 'column', gap: 10 }}>
        {plan && <div className="muted small">{plan.title}</div>}
        {mode === 'some' && plan && <CasePicker plan={plan} chosen={chosen} setChosen={setChosen} />}
        {error && <div className="bad" role="alert" data-testid="conformance-error">{error}</div>}
        {st?.state === 'failed' && <div className="bad" role="alert">Run {st.runId} broke off: {st.error}</div>}
        {st && <Progress st={st} />}
        {st && st.state !== 'idle' && (
          <section className="panel" aria-label="Report">
            <header className="panel-head">
              <h3>Run {st.runId}: <span className="mono">{st.plan}</span> on <span className="mono">{st.device}</span>{running ? ' (running)' : ''}</h3>
              <div className="row gap">
                <button onClick={() => void exportAs('html')} disabled={st.state !== 'done'} data-testid="export-html">Export HTML</button>
                <button onClick={() => void exportAs('junit')} disabled={st.state !== 'done'} data-testid="export-junit">Export JUnit</button>
                <button onClick={() => void exportAs('json')} disabled={st.state !== 'done'} data-testid="export-json">Export JSON</button>
              </div>
            </header>
            <Summary st={st} />
            {st.cases.length === 0 ? <div className="muted">No case has finished yet.</div> : <CasesTable cases={st.cases} openId={openId} onOpen={setOpenId} detail={detail} detailError={detailError} />}
          </section>
        )}
        {st?.state === 'idle' && <p className="muted">No run yet. A run drives the device through the app's DM server with scripted sessions; each case gives a verdict with its evidence.</p>}
      </div>
    </div>
  );
}
