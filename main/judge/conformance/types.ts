/**
 * Conformance test plans: what a plan run gives back. One vocabulary for the runner (which drives a
 * device through scripted sessions), the reports (JUnit XML, self-contained HTML), `dmw conformance
 * run --json` and the UI's Conformance view. Plain data, JSON-safe.
 */

/** pass / fail / inconclusive (the device did not give enough to judge) / not-applicable (skipped). */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'not-applicable';

export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'inconclusive', 'not-applicable'];

/** A case as a plan lists it (`dmw conformance list`). */
export interface CaseInfo {
  /** Stable id within the plan, e.g. `dm12.get.leaf`. */
  id: string;
  title: string;
  /** Document and section the case checks, e.g. `OMA-TS-DM_Protocol-V1_2 §6.6.8`. */
  clause: string;
  /** Group shown in reports, e.g. `Get`, `Large objects`, `ACL`. */
  group: string;
}

export interface PlanInfo {
  name: string;
  title: string;
  cases: CaseInfo[];
}

/** One message of a case's evidence, as the server saw it (`in` = from the device). */
export interface EvidenceMessage {
  /** The message's number in its session, from 1 (as `dmw session show` numbers them). */
  seq: number;
  direction: 'in' | 'out';
  /** Milliseconds since the epoch. */
  at: number;
  /** The message as XML (WBXML decoded), for reading. */
  xml: string;
  /** Its size on the wire in bytes. */
  size: number;
}

export interface EvidenceSession {
  /** The server's stored session id (`dmw session show ID`), when it was stored. */
  sessionId: number | null;
  messages: EvidenceMessage[];
}

/** One thing the case compared: what the clause requires and what came back. */
export interface Check {
  what: string;
  expected: string;
  actual: string;
  ok: boolean;
  /** Where the actual value is: message number and element path, when there is one. */
  msg?: number;
  path?: string;
  /** The judge rule (main/judge/catalogue.ts) this check stands for, when there is one. */
  rule?: string;
}

export interface CaseResult extends CaseInfo {
  verdict: Verdict;
  /** One line: why this verdict (the first failed check, or why it was not applicable). */
  detail: string;
  checks: Check[];
  sessions: EvidenceSession[];
  /** Expert-check (main/judge) rule ids that fired on the case's sessions with error severity. */
  rules: string[];
  /** What the case changed on the device and could not put back, one line each. */
  notRestored: string[];
  durationMs: number;
}

export interface PlanResult {
  plan: string;
  device: string;
  startedAt: number;
  finishedAt: number;
  passed: number;
  failed: number;
  inconclusive: number;
  /** not-applicable and cases not run. */
  skipped: number;
  cases: CaseResult[];
}

/** What the runner says while it runs (CLI progress bar, UI progress). */
export type ConformanceProgress =
  /** `detail`: why package #0 did not go (no notify address, or the device's refusal). */
  | { kind: 'waiting'; device: string; notified: boolean; detail?: string }
  | { kind: 'case-start'; index: number; total: number; id: string; title: string }
  /** `result`: the case with its evidence, so the UI can show a finished case while the run goes on (optional). */
  | { kind: 'case-end'; index: number; total: number; id: string; verdict: Verdict; result?: CaseResult }
  | { kind: 'done'; result: PlanResult };

/** The `--json` summary line's case entry (issue 15's exact form). */
export function jsonCase(c: CaseResult): { id: string; title: string; verdict: Verdict; clause: string; detail: string } {
  return { id: c.id, title: c.title, verdict: c.verdict, clause: c.clause, detail: c.detail };
}

/** The `--json` summary line (issue 15's exact form). */
export function jsonSummary(r: PlanResult) {
  return { plan: r.plan, device: r.device, passed: r.passed, failed: r.failed, inconclusive: r.inconclusive, skipped: r.skipped, cases: r.cases.map(jsonCase) };
}
