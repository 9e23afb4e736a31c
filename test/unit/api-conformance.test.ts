/**
 * The Conformance view's backend (main/api/conformance-view.ts) with a runner the test drives: one
 * run at a time (a second is refused, saying which run goes), clear refusals (no server, unknown plan
 * or case), progress and verdicts through status, a case's evidence with its diagram rows, the three
 * report formats; and the channels through the contract (dispatch validates input and output) on a
 * real Backend whose DM server runs.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { ConformanceService, type ConformanceRunner, type RunRequest } from '../../main/api/conformance-view.js';
import { dispatch } from '../../main/api/dispatch.js';
import type { PlanInfo, PlanResult } from '../../main/judge/conformance/types.js';
import type { ServerEvent } from '../../main/server/events.js';
import type { DmServer } from '../../main/server/server.js';
import { planResult } from '../helpers/conformance-fixture.js';

const PLAN: PlanInfo = {
  name: 'dm12-client',
  title: 'test plan',
  cases: planResult().cases.map(({ id, title, clause, group }) => ({ id, title, clause, group })),
};

/** A runner whose run waits until the test ends it, recording what it was asked. */
function controlledRunner() {
  const calls: RunRequest[] = [];
  let finish: ((r: PlanResult) => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const runner: ConformanceRunner = {
    plans: () => [PLAN],
    run: (req) => {
      calls.push(req);
      return new Promise<PlanResult>((res, rej) => {
        finish = res;
        fail = rej;
      });
    },
  };
  return { runner, calls, finish: (r: PlanResult) => finish!(r), fail: (e: Error) => fail!(e) };
}

/** A server whose event bus the test drives (the service follows the device's sessions on it). */
const busListeners = new Set<(e: ServerEvent) => void>();
const fakeServer = { bus: { subscribe: (fn: (e: ServerEvent) => void) => (busListeners.add(fn), () => busListeners.delete(fn)) } } as unknown as DmServer;
const serverEvent = (e: ServerEvent) => busListeners.forEach((fn) => fn(e));
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('ConformanceService', () => {
  it('runs one plan at a time and follows it through status', async () => {
    const c = controlledRunner();
    const triggers: string[] = [];
    const s = new ConformanceService({ server: () => fakeServer, runner: async () => c.runner, trigger: (d) => () => triggers.push(d), now: () => 1000 });
    expect(s.status()).toMatchObject({ state: 'idle', runId: null, cases: [] });

    const { runId } = await s.start({ device: 'IMEI:001', plan: 'dm12-client', cases: ['dm12.get.leaf', 'dm12.get.status'] });
    await settle();
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]).toMatchObject({ server: fakeServer, device: 'IMEI:001', plan: 'dm12-client', cases: ['dm12.get.leaf', 'dm12.get.status'] });
    c.calls[0]!.trigger!();
    expect(triggers).toEqual(['IMEI:001']);
    expect(s.status()).toMatchObject({ state: 'running', runId, device: 'IMEI:001', plan: 'dm12-client', total: 2, done: 0, startedAt: 1000 });

    // A second run is refused with what is going.
    await expect(s.start({ device: 'IMEI:002', plan: 'dm12-client' })).rejects.toThrow(/already going \(run 1: plan dm12-client on IMEI:001, 0 of 2 cases done\); one run at a time/);

    const p = c.calls[0]!.onProgress;
    p({ kind: 'case-start', index: 0, total: 2, id: 'dm12.get.leaf', title: 'Case dm12.get.leaf' });
    expect(s.status()).toMatchObject({ waiting: null, sessions: 0, current: { id: 'dm12.get.leaf', title: 'Case dm12.get.leaf' } });
    p({ kind: 'waiting', device: 'IMEI:001', notified: true });
    expect(s.status().waiting).toEqual({ notified: true });
    // Another device's session changes nothing; the device's own ends the wait.
    const started = (device: string): ServerEvent => ({ type: 'session-started', at: '', sessionId: 1, device, dmSessionId: '1', encoding: 'xml' });
    serverEvent(started('IMEI:999'));
    expect(s.status()).toMatchObject({ waiting: { notified: true }, sessions: 0 });
    serverEvent(started('IMEI:001'));
    expect(s.status()).toMatchObject({ waiting: null, sessions: 1 });
    const full = planResult().cases[0]!;
    p({ kind: 'case-end', index: 0, total: 2, id: 'dm12.get.leaf', verdict: 'pass', result: full });
    p({ kind: 'case-start', index: 1, total: 2, id: 'dm12.get.status', title: 'Case dm12.get.status' });
    expect(s.status()).toMatchObject({ done: 1, current: { id: 'dm12.get.status' }, cases: [{ id: 'dm12.get.leaf', verdict: 'pass', detail: 'all checks held' }] });
    // A finished case's evidence while the run goes on; an unfinished one is refused.
    expect(s.caseDetail('dm12.get.leaf').sessions[0]!.messages).toHaveLength(4);
    expect(() => s.caseDetail('dm12.get.status')).toThrow('case "dm12.get.status" has not finished in run 1');
    // Without the case's result (a runner that sends only the verdict) the row still shows.
    p({ kind: 'case-end', index: 1, total: 2, id: 'dm12.get.status', verdict: 'fail' });
    expect(s.status().cases[1]).toMatchObject({ id: 'dm12.get.status', title: 'Case dm12.get.status', verdict: 'fail' });
    expect(() => s.report('html')).toThrow('run 1 is still going: the report comes when it ends');

    const r = planResult();
    r.cases = r.cases.slice(0, 2);
    c.finish(r);
    await settle();
    const st = s.status();
    expect(st).toMatchObject({ state: 'done', done: 2, total: 2, current: null, summary: { passed: 1, failed: 1 }, error: null, finishedAt: r.finishedAt });
    expect(st.cases.map((x) => [x.id, x.verdict, x.detail])).toEqual([['dm12.get.leaf', 'pass', 'all checks held'], ['dm12.get.status', 'fail', 'why dm12.get.status is fail']]);

    const detail = s.caseDetail('dm12.get.status');
    expect(detail.checks[0]).toMatchObject({ expected: '200', actual: '500', ok: false });
    expect(detail.sessions[0]!.messages.map((m) => [m.seq, m.direction, m.msgId, m.commands, m.final])).toEqual([
      [1, 'in', '1', 'Alert 1201 · Replace', true],
      [2, 'out', '1', 'Status×2 (212, 200) · Get', true],
      [3, 'in', '2', 'Status×2 (200) · Results', true],
      [4, 'out', '2', 'Status (200)', true],
    ]);

    const html = s.report('html');
    expect(html).toMatchObject({ fileName: 'dmw-conformance-dm12-client-IMEI_001.html', mime: 'text/html' });
    expect(html.text).toContain('<!DOCTYPE html>');
    expect(s.report('junit')).toMatchObject({ fileName: 'dmw-conformance-dm12-client-IMEI_001.junit.xml', mime: 'application/xml' });
    expect(JSON.parse(s.report('json').text)).toEqual(r);

    expect(busListeners.size).toBe(0); // the run stopped following the server's events
    // The run over, the next one may start.
    await expect(s.start({ device: 'IMEI:002', plan: 'dm12-client' })).resolves.toEqual({ runId: 2 });
    expect(s.status()).toMatchObject({ state: 'running', runId: 2, device: 'IMEI:002', total: 4, cases: [] });
  });

  it('refuses clearly: no server, unknown plan, unknown case', async () => {
    const c = controlledRunner();
    let server: DmServer | undefined;
    const s = new ConformanceService({ server: () => server, runner: async () => c.runner });
    await expect(s.start({ device: 'd', plan: 'dm12-client' })).rejects.toThrow('the DM server is not running: start it (Server view)');
    server = fakeServer;
    await expect(s.start({ device: 'd', plan: 'nope' })).rejects.toThrow('no plan "nope" (plans: dm12-client)');
    await expect(s.start({ device: 'd', plan: 'dm12-client', cases: ['dm12.get.leaf', 'dm12.bogus'] })).rejects.toThrow('plan dm12-client has no case "dm12.bogus" (cases[1])');
    expect(s.status().state).toBe('idle');
    expect(() => s.report('junit')).toThrow('no conformance run yet');
  });

  it('says when the run itself broke, and frees the slot', async () => {
    const c = controlledRunner();
    const s = new ConformanceService({ server: () => fakeServer, runner: async () => c.runner });
    await s.start({ device: 'd', plan: 'dm12-client' });
    await settle();
    c.fail(new Error('the device went away'));
    await settle();
    expect(s.status()).toMatchObject({ state: 'failed', error: 'the device went away' });
    expect(() => s.report('html')).toThrow('run 1 broke off (the device went away): it has no report');
    await expect(s.start({ device: 'd', plan: 'dm12-client' })).resolves.toEqual({ runId: 2 });
  });
});

describe('conformance channels on the backend (validated by the contract)', () => {
  let b: Backend;
  const c = controlledRunner();
  beforeAll(async () => {
    b = await Backend.create({
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'dmw-conformance-api-')),
      settings: { port: 0 },
      startServer: true,
      handsets: { ok: false, reason: 'none in this test' },
      conformanceRunner: async () => c.runner,
    });
  });
  afterAll(() => b?.close());

  it('lists plans, runs, reports status, a case and the reports within the contract', async () => {
    expect(await dispatch(b.handlers, 'conformance.plans', {})).toEqual({ ok: true, value: [PLAN] });
    expect(await dispatch(b.handlers, 'conformance.run', { device: 'IMEI:001', plan: 'dm12-client', cases: [] })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    expect(await dispatch(b.handlers, 'conformance.run', { device: 'IMEI:001', plan: 'dm12-client' })).toEqual({ ok: true, value: { runId: 1 } });
    await settle();
    expect(c.calls[0]!.server).toBe(b.running);
    expect(c.calls[0]!.trigger).toBeUndefined(); // no virtual handset of that id
    expect(await dispatch(b.handlers, 'conformance.run', { device: 'IMEI:001', plan: 'dm12-client' })).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining('one run at a time') } });
    expect(await dispatch(b.handlers, 'conformance.status', {})).toMatchObject({ ok: true, value: { state: 'running', total: 4 } });
    c.finish(planResult());
    await settle();
    expect(await dispatch(b.handlers, 'conformance.status', {})).toMatchObject({ ok: true, value: { state: 'done', done: 4, summary: { passed: 1, failed: 1, inconclusive: 1, skipped: 1 } } });
    expect(await dispatch(b.handlers, 'conformance.case', { id: 'dm12.get.status' })).toMatchObject({ ok: true, value: { verdict: 'fail', rules: ['status.code-valid'] } });
    for (const format of ['html', 'junit', 'json'] as const) {
      const r = await dispatch(b.handlers, 'conformance.report', { format });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
    expect(await dispatch(b.handlers, 'conformance.report', { format: 'pdf' })).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });
});
