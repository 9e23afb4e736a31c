/**
 * The Conformance view's backend: one plan run at a time against a device, through the app's own
 * running DM server (the runner attaches its scripted sessions to it; the device keeps the server
 * URL it already has). The UI polls `conformance.status` while the run goes (a small object: the
 * verdicts so far, no evidence), opens a finished case's evidence with `conformance.case`, and
 * exports the finished run with `conformance.report`.
 *
 * The runner is a seam (ConformanceRunner): the default is main/judge/conformance/run.ts; tests plug
 * in their own, so the view's rules (one run at a time, clear refusals, progress, reports) are tested
 * without a device.
 */
import { describeSession } from '../judge/conformance/evidence.js';
import { MAX_XML_SHOWN, toHtml } from '../judge/conformance/html-report.js';
import { toJUnit } from '../judge/conformance/junit.js';
import type { CaseInfo, CaseResult, ConformanceProgress, PlanInfo, PlanResult } from '../judge/conformance/types.js';
import type { DmServer } from '../server/server.js';
import type { z } from 'zod';
import type { CaseDetailView, CaseVerdictView, ConformanceStatus, conformanceContract, ReportFormat } from './contract-conformance.js';

type Channels = typeof conformanceContract;
/** The handlers of contract-conformance.ts's channels (the same shape contract.ts's Handlers gives them). */
export type ConformanceHandlers = { [C in keyof Channels]: (input: z.output<Channels[C]['input']>) => Promise<z.output<Channels[C]['output']>> | z.output<Channels[C]['output']> };

export interface RunRequest {
  server: DmServer;
  device: string;
  plan: string;
  /** Only these cases of the plan (absent: all). */
  cases?: string[];
  /** Starts a session of the device when the app can (its virtual handsets); else the runner notifies or waits. */
  trigger?: () => unknown;
  onProgress(p: ConformanceProgress): void;
}

export interface ConformanceRunner {
  plans(): PlanInfo[];
  run(req: RunRequest): Promise<PlanResult>;
}

export interface ConformanceDeps {
  /** The app's DM server, undefined while stopped. */
  server(): DmServer | undefined;
  runner(): Promise<ConformanceRunner>;
  /** How to start a session of this device now, when the app can (a virtual handset's connect). */
  trigger?(device: string): (() => unknown) | undefined;
  now?: () => number;
}

interface Run {
  id: number;
  device: string;
  plan: string;
  startedAt: number;
  finishedAt: number | null;
  total: number;
  /** The plan's cases by id (title, clause, group). */
  info: Map<string, CaseInfo>;
  current: { id: string; title: string } | null;
  waiting: { notified: boolean } | null;
  /** Sessions the device opened during the run. */
  sessions: number;
  /** Finished cases by id, in the order they finished. */
  finished: Map<string, { verdict: CaseVerdictView; result: CaseResult | null }>;
  result: PlanResult | null;
  error: string | null;
}

function verdictView(c: CaseResult): CaseVerdictView {
  return { id: c.id, title: c.title, clause: c.clause, group: c.group, verdict: c.verdict, detail: c.detail, durationMs: c.durationMs };
}

/** A message's XML as the view shows it: whole up to the HTML report's limit, then cut saying where the rest is. */
function shownXml(xml: string, sessionId: number | null): string {
  if (xml.length <= MAX_XML_SHOWN) return xml;
  const where = sessionId !== null ? `dmw session show ${sessionId}, or the JSON report` : 'the JSON report';
  return `${xml.slice(0, MAX_XML_SHOWN)}\n… ${xml.length - MAX_XML_SHOWN} more characters not shown (${where})`;
}

function fileStem(r: PlanResult): string {
  return `dmw-conformance-${r.plan}-${r.device}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export class ConformanceService {
  private run: Run | undefined;
  private nextId = 1;
  private readonly now: () => number;

  constructor(private readonly deps: ConformanceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The run going now, for the backend (e.g. not to change the data folder under it). */
  get running(): boolean {
    return this.run !== undefined && this.run.result === null && this.run.error === null;
  }

  async plans(): Promise<PlanInfo[]> {
    return (await this.deps.runner()).plans();
  }

  /** Starts a run and returns at once; the run goes on in the background (status follows it). */
  async start(p: { device: string; plan: string; cases?: string[] | undefined }): Promise<{ runId: number }> {
    const going = this.run;
    if (going && this.running) {
      throw new Error(`a conformance run is already going (run ${going.id}: plan ${going.plan} on ${going.device}, ${going.finished.size} of ${going.total} cases done); one run at a time`);
    }
    const server = this.deps.server();
    if (!server) throw new Error('the DM server is not running: start it (Server view) so the device can reach it, then run the plan');
    const runner = await this.deps.runner();
    const plan = runner.plans().find((x) => x.name === p.plan);
    if (!plan) throw new Error(`no plan "${p.plan}" (plans: ${runner.plans().map((x) => x.name).join(', ') || 'none'})`);
    const known = new Set(plan.cases.map((c) => c.id));
    const unknown = (p.cases ?? []).filter((c) => !known.has(c));
    if (unknown.length > 0) throw new Error(`plan ${plan.name} has no case ${unknown.map((c) => `"${c}"`).join(', ')} (cases[${(p.cases ?? []).indexOf(unknown[0]!)}])`);
    const cases = p.cases ? [...new Set(p.cases)] : undefined;

    const run: Run = {
      id: this.nextId++, device: p.device, plan: plan.name, startedAt: this.now(), finishedAt: null,
      total: cases?.length ?? plan.cases.length, info: new Map(plan.cases.map((c) => [c.id, c])), current: null, waiting: null, sessions: 0, finished: new Map(), result: null, error: null,
    };
    this.run = run;
    // The device's sessions as they start: "waiting for the device" ends when it connects.
    const off = server.bus.subscribe((e) => {
      if (e.type === 'session-started' && e.device === run.device) {
        run.waiting = null;
        run.sessions++;
      }
    });
    const onProgress = (e: ConformanceProgress) => this.progress(run, e);
    const trigger = this.deps.trigger?.(p.device);
    // Not awaited: the call returns the run's id and the UI follows the run through status.
    void Promise.resolve()
      .then(() => runner.run({ server, device: p.device, plan: plan.name, ...(cases ? { cases } : {}), ...(trigger ? { trigger } : {}), onProgress }))
      .then((result) => this.finish(run, result))
      .catch((e: unknown) => {
        run.error = e instanceof Error ? e.message : String(e);
        run.finishedAt = this.now();
        run.current = null;
        run.waiting = null;
      })
      .finally(off);
    return { runId: run.id };
  }

  private progress(run: Run, e: ConformanceProgress): void {
    switch (e.kind) {
      case 'waiting':
        run.waiting = { notified: e.notified };
        break;
      case 'case-start':
        run.waiting = null;
        run.total = e.total;
        run.current = { id: e.id, title: e.title };
        break;
      case 'case-end': {
        run.total = e.total;
        if (run.current?.id === e.id) run.current = null;
        run.waiting = null;
        const result = e.result ?? null;
        // A runner that sends only the verdict: the row is the plan's case, its detail comes at the end.
        const info = run.info.get(e.id) ?? { id: e.id, title: e.id, clause: '', group: '' };
        run.finished.set(e.id, { verdict: result ? verdictView(result) : { ...info, verdict: e.verdict, detail: '', durationMs: 0 }, result });
        break;
      }
      case 'done':
        this.finish(run, e.result);
        break;
    }
  }

  private finish(run: Run, result: PlanResult): void {
    if (run.result) return;
    run.result = result;
    run.finishedAt = result.finishedAt;
    run.current = null;
    run.waiting = null;
    run.finished = new Map(result.cases.map((c) => [c.id, { verdict: verdictView(c), result: c }]));
    run.total = result.cases.length;
  }

  status(): ConformanceStatus {
    const r = this.run;
    if (!r) {
      return { state: 'idle', runId: null, device: null, plan: null, startedAt: null, finishedAt: null, total: 0, done: 0, current: null, waiting: null, sessions: 0, cases: [], summary: null, error: null };
    }
    const res = r.result;
    return {
      state: r.error !== null ? 'failed' : res ? 'done' : 'running',
      runId: r.id,
      device: r.device,
      plan: r.plan,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      total: r.total,
      done: r.finished.size,
      current: r.current,
      waiting: r.waiting,
      sessions: r.sessions,
      cases: [...r.finished.values()].map((x) => x.verdict),
      summary: res ? { passed: res.passed, failed: res.failed, inconclusive: res.inconclusive, skipped: res.skipped } : null,
      error: r.error,
    };
  }

  caseDetail(id: string): CaseDetailView {
    const r = this.run;
    if (!r) throw new Error('no conformance run yet');
    const hit = r.finished.get(id);
    if (!hit) throw new Error(`case "${id}" has not finished in run ${r.id}`);
    const c = hit.result;
    if (!c) throw new Error(`case "${id}" has finished; its evidence comes with the end of the run`);
    return {
      ...verdictView(c),
      checks: c.checks,
      rules: c.rules,
      notRestored: c.notRestored,
      sessions: c.sessions.map((s) => {
        const rows = describeSession(s);
        return { sessionId: s.sessionId, messages: s.messages.map((m, i) => ({ ...m, ...rows[i]!, xml: shownXml(m.xml, s.sessionId) })) };
      }),
    };
  }

  report(format: ReportFormat): { fileName: string; mime: string; text: string } {
    const r = this.run;
    if (!r) throw new Error('no conformance run yet: run a plan first');
    if (!r.result) throw new Error(r.error !== null ? `run ${r.id} broke off (${r.error}): it has no report` : `run ${r.id} is still going: the report comes when it ends`);
    const stem = fileStem(r.result);
    switch (format) {
      case 'html':
        return { fileName: `${stem}.html`, mime: 'text/html', text: toHtml(r.result) };
      case 'junit':
        return { fileName: `${stem}.junit.xml`, mime: 'application/xml', text: toJUnit(r.result) };
      case 'json':
        return { fileName: `${stem}.json`, mime: 'application/json', text: `${JSON.stringify(r.result, null, 2)}\n` };
    }
  }
}

/** The contract's conformance channels over one service (spread into the backend's handlers). */
export function conformanceHandlers(s: ConformanceService): ConformanceHandlers {
  return {
    'conformance.plans': () => s.plans(),
    'conformance.run': (p) => s.start(p),
    'conformance.status': () => s.status(),
    'conformance.case': ({ id }) => s.caseDetail(id),
    'conformance.report': ({ format }) => s.report(format),
  };
}
