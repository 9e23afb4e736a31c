/**
 * A plan run as JUnit XML, the format CI systems read (Jenkins' JUnit plugin, GitLab's test
 * reports, GitHub actions that publish test results).
 *
 * Shape: one <testsuites> for the run, one <testsuite> per case group (so Jenkins and GitLab list
 * "Get", "Large objects", "ACL"... as suites), one <testcase> per case with classname
 * `<plan>.<group>` and name `<case id>: <title>`.
 *
 * Verdicts:
 *  - fail           -> <failure message="detail" type="fail">, the body lists every check (expected,
 *                      actual, clause): what Jenkins and GitLab show when the case is opened.
 *  - not-applicable -> <skipped message="not applicable: detail"/>.
 *  - inconclusive   -> <skipped message="inconclusive: detail">, not <error>. Both Jenkins and GitLab
 *                      count an <error> as a failed test (Jenkins marks the build unstable, GitLab's
 *                      merge request widget lists it under failed), while `dmw conformance run` exits 0
 *                      when no case failed: an inconclusive case (the device gave too little to judge,
 *                      e.g. it stopped connecting) is not a finding against the device. As skipped with
 *                      its reason it stays visible in both UIs (Jenkins: "Skipped: <message>"; GitLab:
 *                      the skipped tab), and the message says "inconclusive" so it is not mistaken for
 *                      not applicable. The suites' `skipped` counts therefore include inconclusive cases.
 *  - pass           -> an empty <testcase>.
 * Every case has a <system-out> with its verdict, clause, checks, rules and what could not be restored,
 * shown by both UIs as the case's output.
 */
import { escapeAttr, escapeText, oneLine } from './escape.js';
import type { CaseResult, Check, PlanResult } from './types.js';

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function isoTime(ms: number): string {
  // JUnit's timestamp is xs:dateTime without a zone in the old schema; CI systems read it as given.
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '');
}

function checkLine(c: Check): string {
  const where = c.msg !== undefined ? ` (message ${c.msg}${c.path ? ` ${c.path}` : ''})` : c.path ? ` (${c.path})` : '';
  return `[${c.ok ? 'ok' : 'FAIL'}] ${c.what}: expected ${c.expected}; actual ${c.actual}${where}${c.rule ? ` [rule ${c.rule}]` : ''}`;
}

/** The case in words: what the CI shows as its output. */
function caseText(c: CaseResult): string {
  const lines = [`verdict: ${c.verdict}`, `clause: ${c.clause}`, `detail: ${c.detail}`];
  if (c.checks.length > 0) lines.push('checks:', ...c.checks.map((k) => `  ${checkLine(k)}`));
  if (c.rules.length > 0) lines.push(`expert rules (error severity): ${c.rules.join(', ')}`);
  if (c.notRestored.length > 0) lines.push('not restored:', ...c.notRestored.map((x) => `  ${x}`));
  const sessions = c.sessions.map((s) => (s.sessionId === null ? `(not stored, ${s.messages.length} messages)` : `${s.sessionId} (${s.messages.length} messages)`));
  if (sessions.length > 0) lines.push(`sessions: ${sessions.join(', ')}`);
  return lines.join('\n');
}

function testcase(plan: string, c: CaseResult, indent: string): string {
  const open = `${indent}<testcase name="${escapeAttr(`${c.id}: ${c.title}`)}" classname="${escapeAttr(`${plan}.${c.group}`)}" time="${seconds(c.durationMs)}">`;
  const inner: string[] = [];
  const i2 = `${indent}  `;
  const detail = oneLine(c.detail, 1000);
  if (c.verdict === 'fail') {
    const failed = c.checks.filter((k) => !k.ok);
    const body = [`${c.clause}`, ...(failed.length > 0 ? failed : c.checks).map(checkLine)].join('\n');
    inner.push(`${i2}<failure message="${escapeAttr(detail)}" type="fail">${escapeText(body)}</failure>`);
  } else if (c.verdict === 'inconclusive') {
    inner.push(`${i2}<skipped message="${escapeAttr(`inconclusive: ${detail}`)}"/>`);
  } else if (c.verdict === 'not-applicable') {
    inner.push(`${i2}<skipped message="${escapeAttr(`not applicable: ${detail}`)}"/>`);
  }
  inner.push(`${i2}<system-out>${escapeText(caseText(c))}</system-out>`);
  return `${open}\n${inner.join('\n')}\n${indent}</testcase>`;
}

interface Counts {
  tests: number;
  failures: number;
  skipped: number;
  timeMs: number;
}

function count(cases: readonly CaseResult[]): Counts {
  const out: Counts = { tests: cases.length, failures: 0, skipped: 0, timeMs: 0 };
  for (const c of cases) {
    if (c.verdict === 'fail') out.failures++;
    else if (c.verdict !== 'pass') out.skipped++;
    out.timeMs += Math.max(0, c.durationMs);
  }
  return out;
}

/** Groups in the order their first case appears in the plan. */
function byGroup(cases: readonly CaseResult[]): [string, CaseResult[]][] {
  const groups = new Map<string, CaseResult[]>();
  for (const c of cases) {
    const g = groups.get(c.group);
    if (g) g.push(c);
    else groups.set(c.group, [c]);
  }
  return [...groups];
}

export function toJUnit(result: PlanResult): string {
  const total = count(result.cases);
  const runMs = Math.max(0, result.finishedAt - result.startedAt);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="${escapeAttr(`${result.plan} on ${result.device}`)}" tests="${total.tests}" failures="${total.failures}" errors="0" skipped="${total.skipped}" time="${seconds(runMs)}" timestamp="${isoTime(result.startedAt)}">`,
  );
  for (const [group, cases] of byGroup(result.cases)) {
    const n = count(cases);
    out.push(
      `  <testsuite name="${escapeAttr(`${result.plan}: ${group}`)}" tests="${n.tests}" failures="${n.failures}" errors="0" skipped="${n.skipped}" time="${seconds(n.timeMs)}" timestamp="${isoTime(result.startedAt)}">`,
    );
    out.push('    <properties>');
    out.push(`      <property name="plan" value="${escapeAttr(result.plan)}"/>`);
    out.push(`      <property name="device" value="${escapeAttr(result.device)}"/>`);
    out.push('    </properties>');
    for (const c of cases) out.push(testcase(result.plan, c, '    '));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
