/**
 * One case of a conformance run, opened from the Conformance view's table: its checks (expected,
 * actual, where, rule), the expert rules that fired, what could not be restored, and its evidence:
 * per session a sequence diagram (device | server lanes, one arrow per message with its MsgID and
 * commands) and the messages' XML, each collapsible. Device text is rendered as text by React.
 */
import { useState } from 'react';
import type { CaseDetailView, EvidenceMessageView } from '../../main/api/contract-conformance.js';

const W = 760;
const DEV_X = 150;
const SRV_X = 640;
const HEAD = 36;
const ROW = 36;

export function arrowLabel(m: EvidenceMessageView): string {
  const s = `#${m.seq} · MsgID ${m.msgId ?? '?'} · ${m.commands}${m.final === false ? ' (more)' : ''}`;
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

export function EvidenceDiagram({ messages, onPick, label }: { messages: EvidenceMessageView[]; onPick: (seq: number) => void; label: string }) {
  const h = HEAD + Math.max(1, messages.length) * ROW + 8;
  return (
    <svg className="conf-seq" width={W} height={h} viewBox={`0 0 ${W} ${h}`} role="img" aria-label={label} style={{ maxWidth: '100%', height: 'auto', background: '#fff', border: '1px solid var(--line)', borderRadius: 6 }}>
      <text x={DEV_X} y={16} textAnchor="middle" fontWeight={600} fontSize={12}>Device</text>
      <text x={SRV_X} y={16} textAnchor="middle" fontWeight={600} fontSize={12}>Server</text>
      <line x1={DEV_X} y1={24} x2={DEV_X} y2={h - 4} stroke="#8c959f" strokeDasharray="3 3" />
      <line x1={SRV_X} y1={24} x2={SRV_X} y2={h - 4} stroke="#8c959f" strokeDasharray="3 3" />
      {messages.map((m, i) => {
        const y = HEAD + i * ROW + 22;
        const toServer = m.direction === 'in';
        const [x1, x2] = toServer ? [DEV_X, SRV_X] : [SRV_X, DEV_X];
        const tip = toServer ? x2 - 9 : x2 + 9;
        const colour = toServer ? '#2456c8' : '#1c7c3c';
        return (
          <g key={m.seq} data-arrow={m.seq} data-direction={m.direction} onClick={() => onPick(m.seq)} style={{ cursor: 'pointer' }}>
            <title>{`${toServer ? 'device → server' : 'server → device'}: ${arrowLabel(m)} · ${m.size} bytes`}</title>
            {/* The whole row takes the click (the arrow itself is a thin line). */}
            <rect x={0} y={y - ROW / 2 - 4} width={W} height={ROW} fill="transparent" />
            <text x={6} y={y - 3} fontSize={10} fill="#59636e" fontFamily="monospace">+{m.offsetMs} ms</text>
            <text x={6} y={y + 10} fontSize={10} fill="#59636e" fontFamily="monospace">{m.size} B</text>
            <line x1={x1} y1={y} x2={tip} y2={y} stroke={colour} strokeWidth={1.6} {...(m.final === false ? { strokeDasharray: '6 4' } : {})} />
            <polygon points={`${x2},${y} ${tip},${y - 5} ${tip},${y + 5}`} fill={colour} />
            <text x={(DEV_X + SRV_X) / 2} y={y - 6} textAnchor="middle" fontSize={11.5} fontFamily="monospace">{arrowLabel(m)}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function ConformanceCaseDetail({ detail }: { detail: CaseDetailView }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="conf-case" data-testid="case-detail" style={{ padding: '8px 4px', display: 'flex', flexDirection: 'column', gap: 8 }}>
      <div>{detail.detail}</div>
      <div className="muted small">Clause: {detail.clause}</div>
      {detail.checks.length === 0 ? <div className="muted">No checks recorded.</div> : (
        <table className="grid compact" data-testid="case-checks">
          <thead><tr><th /><th>Check</th><th>Expected</th><th>Actual</th><th>Where</th></tr></thead>
          <tbody>
            {detail.checks.map((k, i) => (
              <tr key={i} data-ok={k.ok}>
                <td className={k.ok ? 'ok' : 'bad'}>{k.ok ? '✓' : '✗'}</td>
                <td>{k.what}{k.rule && <span className="muted mono small"> {k.rule}</span>}</td>
                <td className="mono">{k.expected}</td>
                <td className="mono">{k.actual}</td>
                <td className="mono small">{k.msg !== undefined ? `message ${k.msg}${k.path ? ` · ${k.path}` : ''}` : (k.path ?? '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {detail.rules.length > 0 && <div>Expert rules that fired (error): {detail.rules.map((r) => <span key={r} className="badge sev sev-error mono">{r}</span>)}</div>}
      {detail.notRestored.length > 0 && (
        <div className="warn-text">Not restored: <ul>{detail.notRestored.map((x, i) => <li key={i}>{x}</li>)}</ul></div>
      )}
      {detail.sessions.length === 0 && <div className="muted">No session: the case did not reach the device.</div>}
      {detail.sessions.map((s, k) => (
        <section key={k} aria-label={`Session ${k + 1}`} style={{ display: 'flex', flexDirection: 'column', gap: 6 }}>
          <h4 style={{ margin: '6px 0 0' }}>Session {k + 1}{s.sessionId !== null ? <span className="muted small"> · stored as {s.sessionId} (Sessions view, dmw session show {s.sessionId})</span> : <span className="muted small"> (not stored)</span>}</h4>
          <EvidenceDiagram messages={s.messages} label={`Sequence diagram of ${detail.id}, session ${k + 1}`} onPick={(seq) => setOpen(`${k}:${seq}`)} />
          {s.messages.map((m) => {
            const key = `${k}:${m.seq}`;
            return (
              <details key={key} open={open === key} data-evidence-message={m.seq} onToggle={(e) => (e.currentTarget.open ? setOpen(key) : open === key && setOpen(null))}>
                <summary className="mono small">#{m.seq} {m.direction === 'in' ? 'device → server' : 'server → device'} · MsgID {m.msgId ?? '?'} · {m.size} B · {m.commands}</summary>
                <pre className="mono small" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', maxHeight: 360, overflow: 'auto', background: '#f6f8fa', padding: 8 }}>{m.xml}</pre>
              </details>
            );
          })}
        </section>
      ))}
    </div>
  );
}
