/**
 * The conformance runner: a plan's cases, one after the other, each driving the device under test
 * through the server's scripted sessions (main/server/scripted.ts) and judged by its own checks
 * and by the expert rules (main/judge) on the device's messages of its sessions.
 *
 * Waits are bounded: a device that goes quiet inside a session for `waitMs` (or whose client run
 * ended without finishing it) leaves that case inconclusive; one that does not open a session within
 * `waitMs` ends the run, that case and the rest inconclusive. A session is asked for
 * with `trigger` when the caller can start one (a virtual handset, a libdmclient run), else with
 * package #0 when the device has a notify address, else the runner says it waits.
 */
import type { DmServer } from '../../server/server.js';
import { ScriptedSessions, type DeviceScript, type DevicePackage } from '../../server/scripted.js';
import type { Credential } from '../../server/config.js';
import type { ServerEvent } from '../../server/events.js';
import { checkLoggedSession } from '../index.js';
import { CaseTools, type CaseEnv, type CaseScript, type ConformanceCase } from './dsl.js';
import { planCases, DEFAULT_PLAN } from './plans.js';
import type { CaseResult, Check, ConformanceProgress, EvidenceSession, PlanResult, Verdict } from './types.js';

export interface RunOptions {
  server: DmServer;
  /** DevId of the device under test. */
  device: string;
  plan?: string;
  /** Only these case ids (in plan order); default all. */
  cases?: readonly string[];
  /** Longest wait for the device to open a session, or to send its next message in one (default 60 s). */
  waitMs?: number;
  /** What the device presents when it authenticates (default: its registered credential, or the server's lab default). */
  clientCred?: Credential;
  /**
   * Starts a session of the device (a virtual handset, one libdmclient run); default package #0 or
   * waiting. It may settle when that client run ends, with `{ failure: 'killed by SIGSEGV' }` when
   * the run ended badly: a session it leaves unfinished then fails its case, saying so.
   */
  trigger?: () => unknown;
  onProgress?: (p: ConformanceProgress) => void;
  now?: () => number;
}

export class UnknownCaseError extends Error {}

/** The cases a run would take, checked: unknown plan or case ids throw UnknownCaseError. */
export function selectCases(plan: string, ids: readonly string[] | undefined): ConformanceCase[] {
  const all = planCases(plan);
  if (!all) throw new UnknownCaseError(`unknown plan "${plan}"`);
  if (!ids || ids.length === 0) return all;
  for (const id of ids) if (!all.some((c) => c.id === id)) throw new UnknownCaseError(`plan "${plan}" has no case "${id}"`);
  return all.filter((c) => ids.includes(c.id));
}

export async function runConformance(opts: RunOptions): Promise<PlanResult> {
  const plan = opts.plan ?? DEFAULT_PLAN;
  const cases = selectCases(plan, opts.cases);
  const now = opts.now ?? Date.now;
  const server = opts.server;
  if (ScriptedSessions.of(server).isAttached(opts.device)) throw new Error(`a conformance run is already driving device "${opts.device}" on this server`);
  const stored = await server.store.device(opts.device);
  const clientCred = opts.clientCred ?? stored?.clientCred ?? server.config.defaultClientCred;
  const env: CaseEnv = {
    devId: opts.device,
    serverId: server.config.serverId,
    clientAuth: server.config.clientAuth,
    serverAuth: server.config.serverAuth,
    ...(clientCred ? { clientCred } : {}),
    ...(server.config.serverCred ? { serverCred: server.config.serverCred } : {}),
  };
  const startedAt = now();
  const results: CaseResult[] = [];
  let gone: string | undefined;
  const emit = (p: ConformanceProgress) => opts.onProgress?.(p);
  for (const [index, c] of cases.entries()) {
    emit({ kind: 'case-start', index, total: cases.length, id: c.id, title: c.title });
    let r: CaseResult;
    if (gone) r = result(c, 'inconclusive', `not run: ${gone}`, [], [], [], [], 0);
    else {
      const na = c.needs?.(env);
      if (na) r = result(c, 'not-applicable', na, [], [], [], [], 0);
      else {
        const out = await runCase(c, env, opts, now);
        r = out.result;
        if (out.gone) gone = out.gone;
      }
    }
    results.push(r);
    emit({ kind: 'case-end', index, total: cases.length, id: c.id, verdict: r.verdict, result: r });
  }
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const done: PlanResult = {
    plan, device: opts.device, startedAt, finishedAt: now(),
    passed: count('pass'), failed: count('fail'), inconclusive: count('inconclusive'), skipped: count('not-applicable'),
    cases: results,
  };
  emit({ kind: 'done', result: done });
  return done;
}

function result(c: ConformanceCase, verdict: Verdict, detail: string, checks: Check[], sessions: EvidenceSession[], rules: string[], notRestored: string[], durationMs: number): CaseResult {
  return { id: c.id, title: c.title, clause: c.clause, group: c.group, verdict, detail, checks, sessions, rules, notRestored, durationMs };
}

/** One case: its sessions, then its verdict. `gone` says the device stopped connecting. */
async function runCase(c: ConformanceCase, env: CaseEnv, opts: RunOptions, now: () => number): Promise<{ result: CaseResult; gone?: string }> {
  const started = now();
  const waitMs = opts.waitMs ?? 60_000;
  const server = opts.server;
  const t = new CaseTools(env);
  let gen: CaseScript | undefined;
  let finished = false;
  let wantsSession = false;
  /** The case's last package ended the session itself (Alert 1223): the script resumes after it. */
  let endingSession = false;
  let scriptError: string | undefined;
  const sessions: number[] = [];
  const ended = new Map<number, { state: string; reason: string }>();
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let lastActivity = now();

  const step = (p: DevicePackage) => {
    try {
      const s = gen ? gen.next(p) : (gen = c.script(t, p)).next();
      if (s.done) {
        finished = true;
        return undefined;
      }
      if ('newSession' in s.value) {
        wantsSession = true;
        return undefined;
      }
      if (s.value.end) endingSession = true;
      return s.value;
    } catch (e) {
      scriptError = e instanceof Error ? e.message : String(e);
      finished = true;
      return undefined;
    }
  };
  const script: DeviceScript = {
    ...(c.config ? { config: c.config(env) } : {}),
    onMessage: (m) => {
      lastActivity = now();
      t.seen.push(m);
      if (!sessions.includes(m.sessionId)) sessions.push(m.sessionId);
      poke();
    },
    nextPackage: (p) => {
      lastActivity = now();
      if (finished) return undefined;
      if (wantsSession) {
        // Waiting for the next session: this one (or a stray one) just ends.
        if (!p.first) return undefined;
        wantsSession = false;
      }
      return step(p);
    },
  };
  const off = server.bus.subscribe((e: ServerEvent) => {
    if (e.type === 'session-ended' && sessions.includes(e.sessionId)) {
      ended.set(e.sessionId, { state: e.state, reason: e.reason });
      poke();
    }
    if (e.type === 'session-started' && e.device === env.devId) {
      lastActivity = now();
      poke();
    }
  });
  const detach = ScriptedSessions.of(server).attach(env.devId, script);
  let gone: string | undefined;
  let stalled: string | undefined;
  let unfinished: { state: string; reason: string } | undefined;
  try {
    for (;;) {
      // One session of the case: ask for it, wait for it to open, then to end.
      const before = sessions.length;
      let clientDone = false;
      let clientFailure: string | undefined;
      const run = await askForSession(opts, server);
      void run?.done.then((failure) => {
        clientDone = true;
        clientFailure = failure;
        poke();
      });
      const openedBy = now() + waitMs;
      while (sessions.length === before && now() < openedBy) await sleepOrWake((w) => (wake = w), openedBy - now());
      if (sessions.length === before) {
        // Refused before it authenticated (the server's own --client-auth), it has no stored session: say so.
        const refused = server.authFailures().recent.find((e) => e.devId === env.devId && Date.parse(e.at) >= started);
        gone = `the device did not open a session within ${Math.round(waitMs / 1000)} s${refused ? ` (its last attempt was refused: ${refused.reason})` : ''}`;
        break;
      }
      let id = sessions[sessions.length - 1]!;
      let exitedAt: number | undefined;
      for (;;) {
        id = sessions[sessions.length - 1]!;
        if (ended.has(id)) break;
        // A client run that ended (one libdmclient process per session) will send nothing more.
        if (clientDone) exitedAt ??= now();
        const quietUntil = exitedAt !== undefined ? Math.min(lastActivity + waitMs, exitedAt + CLIENT_EXIT_GRACE_MS) : lastActivity + waitMs;
        if (now() >= quietUntil) break;
        await sleepOrWake((w) => (wake = w), quietUntil - now());
      }
      if (!ended.has(id)) {
        // This session is over for the case; the next case asks for a new one (and the run ends
        // there if none comes).
        stalled = exitedAt !== undefined ? `the device's client ended inside session ${id} without finishing it${clientFailure ? ` (${clientFailure})` : ''}` : `the device sent nothing for ${Math.round(waitMs / 1000)} s inside session ${id}`;
        if (clientFailure) t.check(`the device's client in session ${id}`, 'runs until the session ends', clientFailure, false);
        server.abortSession(id);
        break;
      }
      const end = ended.get(id)!;
      if (endingSession) {
        endingSession = false;
        if (step({ sessionId: id, first: false, messages: [], outcomes: [] })) scriptError = 'the case gave a package after it ended its session';
      }
      if (finished) break;
      if (wantsSession && (end.state === 'done' || end.state === 'aborted')) continue;
      unfinished = end;
      break;
    }
  } finally {
    detach();
    off();
  }

  // Evidence and the judge's view of the device's messages.
  const evidence: EvidenceSession[] = [];
  const rules = new Set<string>();
  for (const id of sessions) {
    const msgs = await server.store.messages(id);
    evidence.push({ sessionId: id, messages: msgs.map((m) => ({ seq: m.seq, direction: m.direction, at: Date.parse(m.at), xml: m.decoded ?? '', size: m.bytes.length })) });
    const fromDevice = new Set(msgs.filter((m) => m.direction === 'in').map((m) => m.seq));
    for (const f of checkLoggedSession(msgs)) {
      if (f.severity === 'error' && fromDevice.has(f.msg) && !c.allowRules?.includes(f.rule)) rules.add(f.rule);
    }
  }
  const checks = t.checks;
  // A session the device ended (an abort) or the server refused (authentication) is the device's
  // answer; one that timed out or was cut says nothing about it.
  if (unfinished && !gone && !stalled && !deviceWentAway(unfinished.state)) {
    checks.push({ what: 'the session lasts until the case is done', expected: 'done', actual: `${unfinished.state}: ${unfinished.reason}`, ok: false });
  }
  const failed = checks.find((k) => !k.ok);
  const ruleList = [...rules];
  let verdict: Verdict;
  let detail: string;
  if (scriptError !== undefined) {
    verdict = failed ? 'fail' : 'inconclusive';
    detail = failed ? failedLine(failed) : `the case could not read the device's answer: ${scriptError}`;
  } else if (failed) {
    verdict = 'fail';
    detail = failedLine(failed);
  } else if (ruleList.length > 0) {
    verdict = 'fail';
    detail = `the expert checks found errors in the device's messages: ${ruleList.join(', ')}`;
  } else if (t.skipped !== undefined) {
    verdict = 'not-applicable';
    detail = t.skipped;
  } else if (gone ?? stalled) {
    verdict = 'inconclusive';
    detail = (gone ?? stalled)!;
  } else if (unfinished) {
    verdict = 'inconclusive';
    detail = `the session ended (${unfinished.state}: ${unfinished.reason}) before the case was done`;
  } else {
    verdict = 'pass';
    detail = `${checks.length} check${checks.length === 1 ? '' : 's'} passed`;
  }
  return { result: result(c, verdict, detail, checks, evidence, ruleList, t.notRestored(), now() - started), ...(gone ? { gone } : {}) };
}

function deviceWentAway(state: string): boolean {
  return state === 'timeout' || state === 'interrupted';
}

function failedLine(k: Check): string {
  return `${k.what}: expected ${k.expected}, got ${k.actual}${k.rule ? ` [${k.rule}]` : ''}`;
}

/** After the client's run ended (trigger settled), how long its session may still take to end here. */
const CLIENT_EXIT_GRACE_MS = 500;

/** Asks the device for a session; with a trigger, resolves when that client run ends. */
async function askForSession(opts: RunOptions, server: DmServer): Promise<{ done: Promise<string | undefined> } | undefined> {
  if (opts.trigger) {
    // Not awaited: the session runs while we wait for it (a handset's connect() settles at its end).
    const done = Promise.resolve()
      .then(() => opts.trigger!())
      .then((v) => (typeof v === 'object' && v !== null && typeof (v as { failure?: unknown }).failure === 'string' ? (v as { failure: string }).failure : undefined), () => undefined);
    return { done };
  }
  const dev = await server.store.device(opts.device);
  if (dev?.notifyUrl) {
    const r = await server.notify(opts.device);
    opts.onProgress?.({ kind: 'waiting', device: opts.device, notified: r.ok, ...(r.ok ? {} : { detail: `package #0 to ${dev.notifyUrl} failed: ${r.detail}` }) });
    return undefined;
  }
  opts.onProgress?.({ kind: 'waiting', device: opts.device, notified: false, detail: 'it has no notify address' });
  return undefined;
}

function sleepOrWake(setWake: (w: () => void) => void, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(1, Math.min(ms, 1000)));
    function done() {
      clearTimeout(timer);
      resolve();
    }
    setWake(done);
  });
}
