import { useState } from 'react';
import type { FindingView, MessageDetail, MessageSummary } from '../../main/api/contract.js';
import { FindingList } from './Findings.js';
import { StatusCode } from './Badge.js';
import { HexView } from './HexView.js';
import { codeOfStatusSummary } from './status-text.js';

type Tab = 'commands' | 'xml' | 'tokens' | 'hex';

export function MessagePanel({ summary, detail, findings, onExplain }: {
  summary: MessageSummary; detail: MessageDetail | undefined;
  /** This message's expert findings (undefined: not judged yet). */
  findings?: readonly FindingView[] | undefined;
  onExplain?: (rule: string) => void;
}) {
  const [tab, setTab] = useState<Tab>('commands');
  const tabs: { id: Tab; label: string; disabled?: boolean }[] = [
    { id: 'commands', label: 'Commands' },
    { id: 'xml', label: 'XML' },
    { id: 'tokens', label: 'WBXML tokens', disabled: detail ? detail.tokens === null : true },
    { id: 'hex', label: 'Hex' },
  ];
  return (
    <section className="panel message-panel" aria-label="Message" data-testid="message-panel">
      <header className="panel-head">
        <h3>
          #{summary.seq} {summary.direction === 'in' ? 'client → server' : 'server → client'} · MsgID {summary.msgId ?? '?'} · {summary.size} bytes
          {detail?.encoding && <span className="tag">{detail.encoding}</span>}
          {summary.httpStatus !== null && <span className="tag">HTTP {summary.httpStatus}</span>}
        </h3>
        <div className="tabs" role="tablist">
          {tabs.map((t) => (
            <button key={t.id} role="tab" aria-selected={tab === t.id} className={`tab${tab === t.id ? ' active' : ''}`} disabled={t.disabled} onClick={() => setTab(t.id)}>
              {t.label}
            </button>
          ))}
        </div>
      </header>
      {(summary.error || summary.note) && (
        <div className="hint">
          {summary.error && <div className="bad">error: {summary.error}</div>}
          {summary.note && <div className="warn-text" style={{ whiteSpace: 'pre-wrap' }}>{summary.note}</div>}
        </div>
      )}
      {findings !== undefined && onExplain && <FindingList findings={findings} onExplain={onExplain} />}
      {tab === 'commands' && <CommandTable summary={summary} />}
      {tab === 'xml' && (detail ? <pre className="code-block" data-testid="xml-view">{detail.xml ?? '(not decodable)'}</pre> : <p className="muted">Loading…</p>)}
      {tab === 'tokens' && detail?.tokens && <pre className="code-block" data-testid="token-view">{detail.tokens}</pre>}
      {tab === 'hex' && (detail ? <HexView base64={detail.base64} /> : <p className="muted">Loading…</p>)}
    </section>
  );
}

/** Each command next to the Status (and Results) the peer answered it with. */
function CommandTable({ summary }: { summary: MessageSummary }) {
  return (
    <table className="grid compact" data-testid="command-table">
      <thead>
        <tr><th>CmdID</th><th>command</th><th>target / content</th><th>answer</th><th>results</th></tr>
      </thead>
      <tbody>
        {summary.commands.length === 0 && <tr><td colSpan={5} className="muted">No commands.</td></tr>}
        {summary.commands.map((c, i) => (
          <tr key={`${c.cmdId}-${i}`}>
            <td className="mono">{c.cmdId}</td>
            <td style={{ paddingLeft: 8 + c.depth * 16 }}><b>{c.kind}</b></td>
            <td className="mono wrap">{c.kind === 'Status' ? <StatusSummary summary={c.summary} /> : (c.summary || c.targets.join(', '))}</td>
            <td>
              {c.kind === 'Status' || c.kind === 'Results' ? (
                <span className="muted">→ {c.ref?.cmd ?? 'cmd'} #{c.ref?.cmdRef} of MsgID {c.ref?.msgRef}</span>
              ) : c.status ? (
                <><StatusCode code={c.status.code} /> <span className="muted">in #{c.status.seq}</span></>
              ) : (
                <span className="muted">no status logged</span>
              )}
            </td>
            <td className="mono wrap">{c.results.map((r) => r.summary).join(' | ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A Status row's "404 for Get #3": the code with its meaning from the status table, then the rest. */
function StatusSummary({ summary }: { summary: string }) {
  const code = codeOfStatusSummary(summary);
  if (code === null) return <>{summary}</>;
  return <><StatusCode code={code} />{summary.replace(/^\s*\d{3}/, '')}</>;
}
