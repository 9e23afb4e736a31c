/**
 * A plan run as one self-contained HTML file, for people: the summary, a table of cases and their
 * verdicts, then each case with its checks (expected, actual, where), the expert rules that fired,
 * what could not be restored, and the evidence: per session a sequence diagram (inline SVG) and the
 * messages (XML, collapsible).
 *
 * Self-contained and inert: inline CSS only, no script, no external URL; expanding and collapsing is
 * <details>, which needs no script. A Content-Security-Policy meta allows nothing but the inline
 * style, so even a mistake in escaping could not run anything. Every string that can come from the
 * device (details, checks, messages) is escaped (escape.ts).
 */
import { escapeAttr, escapeText } from './escape.js';
import { describeSession } from './evidence.js';
import { sequenceSvg } from './sequence-svg.js';
import type { CaseResult, Check, EvidenceMessage, EvidenceSession, PlanResult, Verdict } from './types.js';

/** Longest message XML shown whole; the rest is named, not shown (a large object can be megabytes). */
export const MAX_XML_SHOWN = 256 * 1024;

const VERDICT_LABEL: Record<Verdict, string> = { pass: 'pass', fail: 'FAIL', inconclusive: 'inconclusive', 'not-applicable': 'not applicable' };

const CSS = `
:root { --pass:#1a7f37; --fail:#cf222e; --inc:#9a6700; --na:#6e7781; --line:#d0d7de; --bg2:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1200px; padding: 24px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 16px 0 6px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow: auto; max-height: 480px; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
.v { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff; font-weight: 600; font-size: 12px; white-space: nowrap; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); } .v-inconclusive { background: var(--inc); } .v-not-applicable { background: var(--na); }
tr.r-fail td { background: #ffebe9; } tr.r-inconclusive td { background: #fff8c5; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
.summary dt { color: #59636e; } .summary dd { margin: 0; }
.counts span { margin-right: 14px; }
.banner { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 10px 0; color: #fff; }
.banner.fail { background: var(--fail); } .banner.pass { background: var(--pass); }
.case { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; }
.case > summary { padding: 8px 12px; cursor: pointer; background: var(--bg2); border-radius: 6px; }
.case > .body { padding: 4px 14px 12px; }
.ok { color: var(--pass); font-weight: 600; } .bad { color: var(--fail); font-weight: 600; }
.muted { color: #59636e; }
.msg > summary { cursor: pointer; padding: 2px 0; }
svg.seq { display: block; max-width: 100%; height: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
svg.seq .lane { font: 600 13px system-ui, sans-serif; fill: #1f2328; }
svg.seq .lifeline { stroke: #8c959f; stroke-width: 1; stroke-dasharray: 3 3; }
svg.seq .t { font: 10.5px ui-monospace, monospace; fill: #59636e; }
svg.seq .l { font: 12px ui-monospace, monospace; fill: #1f2328; }
svg.seq g.in line { stroke: #0969da; stroke-width: 1.6; } svg.seq g.in polygon { fill: #0969da; }
svg.seq g.out line { stroke: #1a7f37; stroke-width: 1.6; } svg.seq g.out polygon { fill: #1a7f37; }
ul.plain { margin: 4px 0; padding-left: 20px; }
@media print { details { display: block; } details > *:not(summary) { display: block !important; } }
`;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function verdictBadge(v: Verdict): string {
  return `<span class="v v-${v}">${VERDICT_LABEL[v]}</span>`;
}

function caseAnchor(index: number): string {
  return `case-${index + 1}`;
}

function summary(r: PlanResult): string {
  const notRestored = r.cases.flatMap((c) => c.notRestored.map((x) => ({ id: c.id, x })));
  const banner = r.failed > 0
    ? `<div class="banner fail">${r.failed} of ${r.cases.length} cases failed</div>`
    : `<div class="banner pass">No case failed${r.inconclusive > 0 ? ` (${r.inconclusive} inconclusive)` : ''}</div>`;
  return [
    `<h1>Conformance report: ${escapeText(r.plan)}</h1>`,
    `<div class="muted">DM Workbench conformance report</div>`,
    banner,
    '<dl class="summary">',
    `<dt>Plan</dt><dd><code>${escapeText(r.plan)}</code></dd>`,
    `<dt>Device</dt><dd><code>${escapeText(r.device)}</code></dd>`,
    `<dt>Started</dt><dd>${iso(r.startedAt)}</dd>`,
    `<dt>Finished</dt><dd>${iso(r.finishedAt)} (${duration(r.finishedAt - r.startedAt)})</dd>`,
    `<dt>Verdicts</dt><dd class="counts" data-counts>`
      + `<span>${verdictBadge('pass')} ${r.passed}</span><span>${verdictBadge('fail')} ${r.failed}</span>`
      + `<span>${verdictBadge('inconclusive')} ${r.inconclusive}</span><span>${verdictBadge('not-applicable')} ${r.skipped} skipped</span></dd>`,
    '</dl>',
    notRestored.length > 0
      ? `<h3>Not restored on the device</h3><ul class="plain">${notRestored.map((n) => `<li><code>${escapeText(n.id)}</code>: ${escapeText(n.x)}</li>`).join('')}</ul>`
      : '',
  ].join('\n');
}

function casesTable(r: PlanResult): string {
  const rows = r.cases.map((c, i) => [
    `<tr class="r-${c.verdict}" data-case="${escapeAttr(c.id)}" data-verdict="${c.verdict}">`,
    `<td>${i + 1}</td>`,
    `<td><a href="#${caseAnchor(i)}"><code>${escapeText(c.id)}</code></a></td>`,
    `<td>${escapeText(c.title)}</td>`,
    `<td>${escapeText(c.group)}</td>`,
    `<td>${verdictBadge(c.verdict)}</td>`,
    `<td>${escapeText(c.detail)}</td>`,
    `<td class="muted">${escapeText(c.clause)}</td>`,
    '</tr>',
  ].join(''));
  return [
    '<h2>Cases</h2>',
    '<table class="cases"><thead><tr><th>#</th><th>Case</th><th>Title</th><th>Group</th><th>Verdict</th><th>Detail</th><th>Clause</th></tr></thead>',
    `<tbody>${rows.join('\n')}</tbody></table>`,
  ].join('\n');
}

function checksTable(checks: readonly Check[]): string {
  if (checks.length === 0) return '<p class="muted">No checks recorded.</p>';
  const rows = checks.map((k) => {
    const where = k.msg !== undefined ? `message ${k.msg}${k.path ? ` · ${k.path}` : ''}` : (k.path ?? '');
    const rule = k.rule ? ` <code class="muted">${escapeText(k.rule)}</code>` : '';
    return `<tr><td>${k.ok ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>'}</td><td>${escapeText(k.what)}${rule}</td>`
      + `<td><code>${escapeText(k.expected)}</code></td><td><code>${escapeText(k.actual)}</code></td><td class="mono">${escapeText(where)}</td></tr>`;
  });
  return `<table class="checks"><thead><tr><th></th><th>Check</th><th>Expected</th><th>Actual</th><th>Where</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function messageBlock(m: EvidenceMessage, label: string): string {
  const shown = m.xml.length > MAX_XML_SHOWN ? m.xml.slice(0, MAX_XML_SHOWN) : m.xml;
  const cut = m.xml.length > shown.length ? `\n… ${m.xml.length - shown.length} more characters not shown` : '';
  return `<details class="msg"><summary><span class="mono">${escapeText(label)}</span></summary><pre>${escapeText(shown)}${escapeText(cut)}</pre></details>`;
}

function sessionBlock(s: EvidenceSession, index: number, c: CaseResult): string {
  const rows = describeSession(s);
  const name = s.sessionId === null ? `Session ${index + 1} (not stored)` : `Session ${index + 1} · stored as ${s.sessionId}`;
  const caption = `Sequence diagram of ${c.id}, session ${index + 1}`;
  const messages = s.messages.map((m, i) => {
    const d = rows[i]!;
    const label = `#${m.seq} ${m.direction === 'in' ? 'device → server' : 'server → device'} · MsgID ${d.msgId ?? '?'} · ${m.size} B · ${d.commands}`;
    return messageBlock(m, label);
  });
  const show = s.sessionId !== null ? ` <span class="muted">(<code>dmw session show ${s.sessionId}</code>)</span>` : '';
  return [`<h3>${escapeText(name)}${show}</h3>`, sequenceSvg(rows, caption), `<div class="messages">${messages.join('\n')}</div>`].join('\n');
}

function caseBlock(c: CaseResult, i: number): string {
  // Failed and inconclusive cases open: that is what the reader came for.
  const open = c.verdict === 'fail' || c.verdict === 'inconclusive' ? ' open' : '';
  const parts = [
    `<details class="case" id="${caseAnchor(i)}" data-case="${escapeAttr(c.id)}"${open}>`,
    `<summary>${verdictBadge(c.verdict)} <code>${escapeText(c.id)}</code> ${escapeText(c.title)} <span class="muted">· ${escapeText(c.group)} · ${duration(c.durationMs)}</span></summary>`,
    '<div class="body">',
    `<p>${escapeText(c.detail)}</p>`,
    `<p class="muted">Clause: ${escapeText(c.clause)}</p>`,
    checksTable(c.checks),
  ];
  if (c.rules.length > 0) parts.push(`<p>Expert rules that fired (error): ${c.rules.map((x) => `<code>${escapeText(x)}</code>`).join(', ')}</p>`);
  if (c.notRestored.length > 0) parts.push(`<p><b>Not restored:</b></p><ul class="plain">${c.notRestored.map((x) => `<li>${escapeText(x)}</li>`).join('')}</ul>`);
  if (c.sessions.length === 0) parts.push('<p class="muted">No session: the case did not reach the device.</p>');
  c.sessions.forEach((s, k) => parts.push(sessionBlock(s, k, c)));
  parts.push('</div>', '</details>');
  return parts.join('\n');
}

export function toHtml(result: PlanResult): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeText(`Conformance ${result.plan} · ${result.device}`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    summary(result),
    casesTable(result),
    '<h2>Evidence</h2>',
    ...result.cases.map(caseBlock),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
