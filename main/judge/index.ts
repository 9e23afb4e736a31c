/**
 * The judge's front door for the CLI, the API and the UI: judge a logged session, group the
 * findings by message, count them. Everything here is pure; callers bring the messages.
 */
import type { SyncML } from '../protocol/model.js';
import { checkSession } from './checker.js';
import { uriLimitsFromEntries } from '../tree/uri-check.js';
import type { Finding, JudgeOptions, Severity, UriLimits } from './types.js';

export { checkSession, countBySeverity, CHECK_FAILED } from './checker.js';
export { RULES, RULE_BY_ID, type Rule } from './catalogue.js';
export type { Finding, JudgeMessage, JudgeOptions, Role, RuleInfo, Severity, UriLimits } from './types.js';

/** A message as a session log keeps it (the store's MessageRecord fits). */
export interface LoggedMessage {
  direction: 'in' | 'out';
  bytes: Uint8Array;
  seq: number;
  contentType?: string | null;
  /** Already decoded (e.g. by the session view's DecodeCache): not decoded again. */
  message?: SyncML;
}

/**
 * Findings for a session from a DM server's log (`in` = from the device), numbered by the log's
 * seq as `dmw session show` shows them. What the UI's Sessions view and `dmw session check` call.
 */
export function checkLoggedSession(messages: readonly LoggedMessage[], options: JudgeOptions = {}): Finding[] {
  return checkSession(messages.map((m) => ({ direction: m.direction, bytes: m.bytes, seq: m.seq, contentType: m.contentType ?? null, ...(m.message ? { message: m.message } : {}) })), options);
}

/**
 * The device's DevDetail/URI limits from what the server read of its tree before (the store's
 * tree cache), for JudgeOptions.uriLimits; values a session reads itself take over from there.
 * The same reading the UI's URI fields use (tree/uri-check.ts).
 */
export function uriLimitsFromTree(entries: readonly { uri: string; data: string | null }[]): UriLimits {
  return uriLimitsFromEntries(entries);
}

/** Findings grouped by message number, in order, for showing each message's findings beside it. */
export function findingsByMessage(findings: readonly Finding[]): Map<number, Finding[]> {
  const out = new Map<number, Finding[]>();
  for (const f of findings) {
    const list = out.get(f.msg);
    if (list) list.push(f);
    else out.set(f.msg, [f]);
  }
  return out;
}

/** `error hdr.msgid-sequence (OMA-TS-DM_RepPro-V1_2 §6.1.12) SyncML/SyncHdr/MsgID: MsgID 3 follows 1 ...` */
export function formatFinding(f: Finding): string {
  return `${f.severity} ${f.rule} (${f.clause}) ${f.path}: ${f.text}`;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === ('error' satisfies Severity));
}
