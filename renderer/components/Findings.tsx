/**
 * Expert findings as the Sessions view shows them: severity badges that say their severity in words
 * and a shape as well as a colour (✖ error, ▲ warning, ● note), per-session counts, the findings of
 * one message (rule id, clause, text, element path), and a rule's explanation with its examples.
 */
import { useEffect, useRef } from 'react';
import type { FindingView, RuleExplanationView, SeverityCountsView } from '../../main/api/contract.js';
import { SEVERITY_ORDER, severityText, worst, type SeverityName } from '../stores/findings-slice.js';

const MARK: Record<SeverityName, string> = { error: '✖', warning: '▲', note: '●' };

export function SeverityBadge({ severity }: { severity: SeverityName }) {
  return <span className={`badge sev sev-${severity}`} data-severity={severity}><span aria-hidden="true">{MARK[severity]} </span>{severity}</span>;
}

/** A session's counts: one badge per severity present; "no findings" when clean; "…" while not judged yet; why, when it will not be. */
export function FindingCounts({ counts }: { counts: SeverityCountsView | undefined }) {
  if (!counts) return <span className="muted small" data-findings="pending" title="findings not judged yet">…</span>;
  if (counts.skipped) return <span className="muted small" data-findings="skipped" title={counts.skipped}>not judged: too long</span>;
  const present = SEVERITY_ORDER.filter((s) => counts[s] > 0);
  if (present.length === 0) return <span className="muted small" data-findings="none">no findings</span>;
  return (
    <span data-findings="counts" aria-label={`findings: ${present.map((s) => severityText(s, counts[s])).join(', ')}`}>
      {present.map((s) => (
        <span key={s} className={`badge sev sev-${s}`} data-severity={s} title={severityText(s, counts[s])}>
          <span aria-hidden="true">{MARK[s]} </span>{counts[s]}<span className="sr-only"> {s}{counts[s] === 1 ? '' : 's'}</span>
        </span>
      ))}
    </span>
  );
}

/** The mark on a message in the sequence diagram: its worst severity and how many findings. */
export function MessageFindingMark({ findings }: { findings: readonly FindingView[] | undefined }) {
  const w = findings ? worst(findings) : null;
  if (!findings || !w) return null;
  const text = `${findings.length} finding${findings.length === 1 ? '' : 's'}, worst ${w}`;
  return <span className={`sev-mark sev-${w}`} data-finding-mark={w} title={text} aria-label={text}>{MARK[w]} {findings.length}</span>;
}

/** One message's findings, beside it in the message panel; the rule id opens its explanation. */
export function FindingList({ findings, onExplain }: { findings: readonly FindingView[]; onExplain: (rule: string) => void }) {
  if (findings.length === 0) return <p className="muted small" data-testid="message-findings">No findings in this message.</p>;
  return (
    <ul className="findings" data-testid="message-findings" aria-label="Findings in this message">
      {findings.map((f, i) => (
        <li key={`${f.rule}-${f.path}-${i}`} className={`finding sev-line-${f.severity}`} data-rule={f.rule}>
          <div className="row gap wrap">
            <SeverityBadge severity={f.severity} />
            <button className="link mono" onClick={() => onExplain(f.rule)} title="explain this rule" data-explain={f.rule}>{f.rule}</button>
            <span className="muted small">{f.clause}</span>
          </div>
          <div>{f.text}</div>
          <div className="mono small muted wrap">{f.path}</div>
        </li>
      ))}
    </ul>
  );
}

/** A rule's explanation: its clause, what it requires, and a session that keeps it and one that breaks it. */
export function RuleExplanation({ rule, loading, onClose }: { rule: RuleExplanationView | null; loading: string | null; onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  const open = rule !== null || loading !== null;
  useEffect(() => {
    if (open) close.current?.focus();
  }, [open, rule?.id]);
  if (!open) return null;
  return (
    <div className="rule-overlay" onClick={onClose}>
      <section
        className="panel rule-dialog" role="dialog" aria-modal="true" aria-label={`Rule ${rule?.id ?? loading}`} data-testid="rule-explanation"
        onClick={(e) => e.stopPropagation()} onKeyDown={(e) => e.key === 'Escape' && onClose()}
      >
        <header className="panel-head">
          <h3 className="mono">{rule?.id ?? loading}</h3>
          <button ref={close} onClick={onClose}>Close</button>
        </header>
        {!rule ? <p className="muted">Loading…</p> : (
          <>
            <div className="row gap wrap"><SeverityBadge severity={rule.severity} /><span>{rule.clause}</span></div>
            <p className="hint" data-testid="rule-text">{rule.text}</p>
            <Example title="Keeps the rule" messages={rule.good} testId="rule-good" />
            <Example title="Breaks the rule" messages={rule.bad} testId="rule-bad" />
          </>
        )}
      </section>
    </div>
  );
}

function Example({ title, messages, testId }: { title: string; messages: RuleExplanationView['good']; testId: string }) {
  return (
    <details open={testId === 'rule-bad'} data-testid={testId}>
      <summary>{title} ({messages.length} message{messages.length === 1 ? '' : 's'})</summary>
      {messages.map((m, i) => (
        <div key={i}>
          <div className="small muted">#{i + 1} {m.from === 'client' ? 'client → server' : 'server → client'}</div>
          <pre className="code-block small">{m.xml}</pre>
        </div>
      ))}
    </details>
  );
}
