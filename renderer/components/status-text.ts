/**
 * Status codes of a logged message as the views show them: each with its meaning from the one table
 * (main/protocol/status-codes.ts). The session summary carries a Status as its command row whose
 * summary starts with the code ("404 for Get #3"), so the code is read from there.
 */
import type { MessageSummary } from '../../main/api/contract.js';
import { describeStatus } from '../../main/protocol/status-codes.js';

export interface ShownStatus {
  code: number;
  /** "404 Not found" */
  text: string;
  /** What the Status answers: "Get #3", "SyncHdr #0". */
  answers: string;
}

/** The leading status code of a Status row's summary, or null. */
export function codeOfStatusSummary(summary: string): number | null {
  const m = /^\s*(\d{3})\b/.exec(summary);
  return m ? Number(m[1]) : null;
}

export function statusesOfMessage(m: MessageSummary): ShownStatus[] {
  const out: ShownStatus[] = [];
  for (const c of m.commands) {
    if (c.kind !== 'Status') continue;
    const code = codeOfStatusSummary(c.summary);
    if (code === null) continue;
    out.push({ code, text: describeStatus(code), answers: `${c.ref?.cmd ?? 'cmd'} #${c.ref?.cmdRef ?? '?'}` });
  }
  return out;
}

/** The sequence diagram's words for a message's failures: the distinct non-2xx codes with meanings. */
export function failedStatusText(statuses: readonly ShownStatus[]): string {
  const seen = new Set<number>();
  const parts: string[] = [];
  for (const s of statuses) {
    if ((s.code >= 200 && s.code < 300) || seen.has(s.code)) continue;
    seen.add(s.code);
    parts.push(s.text);
  }
  return parts.slice(0, 3).join(', ') + (parts.length > 3 ? ', …' : '');
}

/** A tooltip listing every Status of the message with its meaning. */
export function statusesTooltip(statuses: readonly ShownStatus[]): string | undefined {
  if (statuses.length === 0) return undefined;
  return statuses.map((s) => `${s.text} ← ${s.answers}`).join('\n');
}

/**
 * The packet list's status cell ("200×5 425 200×43") as a tooltip: each code once, with its
 * meaning, one per line ("200 OK\n425 Permission denied"); undefined for an empty summary.
 */
export function statusSummaryTooltip(summary: string): string | undefined {
  const codes = [...new Set([...summary.matchAll(/\b(\d{3})(?:×\d+)?\b/g)].map((m) => m[1]!))];
  return codes.length ? codes.map((c) => describeStatus(c)).join('\n') : undefined;
}
