/**
 * The passive expert: every message of a session, sent or received, against every rule of the
 * catalogue. Pure: messages in, findings out, in message order. Safe on hostile input: a rule that
 * trips over a message it did not expect reports that as a note instead of taking the others down.
 */
import { RULE_BY_ID } from './catalogue.js';
import { CHECKS } from './rules/index.js';
import { SessionModel } from './session-model.js';
import type { Finding, JudgeMessage, JudgeOptions, Severity } from './types.js';

const RANK: Readonly<Record<Severity, number>> = { error: 0, warning: 1, note: 2 };

/** Not a rule: what a finding says when a check itself failed (a bug to report, not a verdict). */
export const CHECK_FAILED = 'judge.check-failed';

export function checkSession(messages: readonly JudgeMessage[], options: JudgeOptions = {}): Finding[] {
  const model = new SessionModel(messages, options);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const order = new Map(model.msgs.map((m) => [m.n, m.index]));
  for (const [id, check] of Object.entries(CHECKS)) {
    const rule = RULE_BY_ID.get(id);
    if (!rule) throw new Error(`check ${id} has no catalogue entry`);
    try {
      check(model, (m, path, text) => {
        const key = `${id}\u0000${m.index}\u0000${path}\u0000${text}`;
        if (seen.has(key)) return;
        seen.add(key);
        findings.push({ severity: rule.severity, rule: id, clause: rule.clause, msg: m.n, path, text });
      }, options);
    } catch (e) {
      const last = model.msgs[model.msgs.length - 1];
      findings.push({ severity: 'note', rule: CHECK_FAILED, clause: '-', msg: last?.n ?? 0, path: 'SyncML', text: `rule ${id} could not judge this session: ${(e as Error).message}` });
    }
  }
  return findings.sort((a, b) => (order.get(a.msg) ?? 0) - (order.get(b.msg) ?? 0) || RANK[a.severity] - RANK[b.severity] || a.rule.localeCompare(b.rule));
}

/** Findings counted by severity (for a session list's badge). */
export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const out: Record<Severity, number> = { error: 0, warning: 0, note: 0 };
  for (const f of findings) out[f.severity]++;
  return out;
}
