/**
 * The dm12-client plan against virtual handsets on 127.0.0.1, run in-process (runConformance on a
 * DmServer; each session the runner asks for is one handset.connect()): the clean handset passes
 * every case, each fault of main/client/faults.ts makes a case fail that names one of the fault's
 * rules, a device that stops connecting ends the run inconclusive (bounded), and the scripted
 * sessions are stored like any other (judged by `dmw session check`'s checker) and leave the
 * server's own engine and job queue to the device once the run ends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FAULTS, FAULT_NAMES, type FaultName } from '../../main/client/faults.js';
import { VirtualHandset } from '../../main/client/index.js';
import { planInfo } from '../../main/judge/conformance/plans.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { conformanceLab, type Lab } from '../helpers/conformance-lab.js';
import { sync } from '../helpers/sync-store.js';

const labs: Lab[] = [];
afterEach(async () => {
  for (const l of labs.splice(0)) await l.close();
});
async function lab(p: Parameters<typeof conformanceLab>[0] = {}): Promise<Lab> {
  const l = await conformanceLab(p);
  labs.push(l);
  return l;
}

/** The cases that exercise each fault (what its `needs` says), so a fault run stays short. */
const PROBES: Record<FaultName, string[]> = {
  'ignore-atomic-rollback': ['dm12.atomic.rollback'],
  'skip-acl': ['dm12.acl.get-denied', 'dm12.acl.replace-denied'],
  'wrong-msgref': ['dm12.get.leaf'],
  'wrong-cmdref': ['dm12.get.leaf'],
  'no-213': ['dm12.lo.size-mismatch-424'],
  'reuse-nonce': ['dm12.auth.md5-next-nonce'],
  'drop-status': ['dm12.get.leaf'],
  'wrong-status-code': ['dm12.get.missing', 'dm12.delete.missing'],
  'ok-for-failure': ['dm12.get.missing'],
  'exceed-maxmsgsize': ['dm12.maxmsg.package-in-messages'],
  'wrong-results-format': ['dm12.get.leaf'],
  'duplicate-cmdid': ['dm12.get.leaf'],
  'missing-devinfo': ['dm12.mo.devinfo-package1'],
  'bad-sessionid': ['dm12.pkg.header-sequence'],
  'msgid-not-incrementing': ['dm12.pkg.header-sequence'],
  'no-hdr-status': ['dm12.pkg.header-sequence'],
  'results-before-status': ['dm12.pkg.results-after-status'],
  'swapped-status-refs': ['dm12.pkg.status-refs'],
  'no-size-first-chunk': ['dm12.lo.client-chunks'],
  'final-with-1222': ['dm12.pkg.server-package-in-two-messages'],
};

describe('dm12-client against the virtual handset', () => {
  it('the clean handset passes every case, with evidence, nothing left to restore, and sessions the judge finds clean', async () => {
    const l = await lab();
    const progress: string[] = [];
    const r = await l.run({ onProgress: (p) => progress.push(p.kind) });
    const plan = planInfo('dm12-client')!;
    expect(plan.cases.length).toBeGreaterThanOrEqual(60);
    expect(r.cases.map((c) => c.id)).toEqual(plan.cases.map((c) => c.id));
    const notPassed = r.cases.filter((c) => c.verdict !== 'pass').map((c) => `${c.id}: ${c.verdict}: ${c.detail}`);
    expect(notPassed).toEqual([]);
    expect(r).toMatchObject({ plan: 'dm12-client', passed: plan.cases.length, failed: 0, inconclusive: 0, skipped: 0 });
    expect(progress.filter((k) => k === 'case-end')).toHaveLength(plan.cases.length);
    expect(progress.at(-1)).toBe('done');
    for (const c of r.cases) {
      expect(c.notRestored, c.id).toEqual([]);
      expect(c.rules, c.id).toEqual([]);
      expect(c.checks.length, c.id).toBeGreaterThan(0);
      expect(c.sessions.length, c.id).toBeGreaterThan(0);
      for (const s of c.sessions) {
        expect(s.sessionId, c.id).toBeTypeOf('number');
        expect(s.messages[0]!.xml, c.id).toContain('<SyncML');
      }
    }
    // Scripted sessions are stored as any other: `dmw session check` judges them from the store.
    const acl = r.cases.find((c) => c.id === 'dm12.acl.get-denied')!;
    const stored = sync(l.server.store).messages(acl.sessions[0]!.sessionId!);
    expect(stored.length).toBe(acl.sessions[0]!.messages.length);
    expect(checkLoggedSession(stored).filter((f) => f.severity === 'error')).toEqual([]);
    // The ACL case's second ServerID and the scratch node are gone from the handset's tree.
    expect(l.handset.tree.lookup('./DMWConf')).toBeUndefined();
  }, 60_000);

  it('another device on the same running server keeps its own sessions and jobs while a run goes', async () => {
    const l = await lab();
    const other = await VirtualHandset.open({ device: { devId: 'IMEI:111111111111119', accounts: [{ serverId: l.server.config.serverId, addr: l.server.url, clientCred: { type: 'basic', name: 'lab', secret: 'pw' }, serverCred: { type: 'md5', name: 'dmw', secret: 'srv-secret' } }] } });
    try {
      const { job } = await l.server.addJob(other.devId, { kind: 'get', uri: './DevInfo/Mod' });
      const [r, out] = await Promise.all([l.run({ cases: ['dm12.get.leaf', 'dm12.replace.leaf', 'dm12.atomic.rollback'] }), other.connect()]);
      expect(r.passed).toBe(3);
      expect(out.ok).toBe(true);
      expect(sync(l.server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
      expect(other.tree.lookup('./DMWConf')).toBeUndefined();
    } finally {
      other.close();
    }
  });

  it('the server goes back to its own engine and job queue for the device once the run ends', async () => {
    const l = await lab();
    await l.run({ cases: ['dm12.get.leaf'] });
    const { job } = await l.server.addJob(l.handset.devId, { kind: 'get', uri: './DevInfo/Man' });
    const out = await l.handset.connect();
    expect(out.ok).toBe(true);
    expect(sync(l.server.store).job(job.id)).toMatchObject({ status: 'done', statusCode: 200 });
  });

  describe('each fault makes a case fail that names one of its rules', () => {
    it.each(FAULT_NAMES.map((f) => [f]))('%s', async (fault) => {
      const info = FAULTS.find((f) => f.name === fault)!;
      const l = await lab({ faults: [fault] });
      const r = await l.run({ cases: PROBES[fault], waitMs: 5000 });
      const failed = r.cases.filter((c) => c.verdict === 'fail');
      expect(failed.length, `${fault}: ${r.cases.map((c) => `${c.id} ${c.verdict} ${c.detail}`).join('; ')}`).toBeGreaterThan(0);
      const rules: readonly string[] = info.rules;
      if (rules.length > 0) {
        const named = failed.filter((c) => c.rules.some((x) => rules.includes(x)) || c.checks.some((k) => !k.ok && k.rule !== undefined && rules.includes(k.rule)));
        expect(named.map((c) => c.id), `${fault} should be named by ${rules.join(', ')}: ${failed.map((c) => `${c.id} rules=${c.rules.join('+')} ${c.detail}`).join('; ')}`).not.toEqual([]);
      }
    }, 20_000);
  });

  it('a device that never connects: the run ends within its wait, every case inconclusive', async () => {
    const l = await lab();
    const said: string[] = [];
    const started = Date.now();
    const r = await l.run({ cases: ['dm12.get.leaf', 'dm12.get.missing', 'dm12.add.leaf'], waitMs: 300, trigger: () => undefined, onProgress: (p) => p.kind === 'waiting' || said.push(p.kind) });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.cases.map((c) => c.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(r.cases[0]!.detail).toMatch(/did not open a session within/);
    expect(r.cases[1]!.detail).toMatch(/^not run: /);
    expect(r).toMatchObject({ passed: 0, failed: 0, inconclusive: 3 });
  });

  it('a device that stops in the middle of a session: that case (with what it could not put back) and the rest are inconclusive, no hang', async () => {
    const l = await lab();
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let sessions = 0;
    try {
      const r = await l.run({
        cases: ['dm12.get.leaf', 'dm12.get.missing', 'dm12.replace.leaf', 'dm12.add.leaf'],
        waitMs: 400,
        trigger: () => {
          sessions++;
          // The third session (dm12.replace.leaf) answers package 2 and then never sends its next message.
          return l.handset.connect(sessions === 3 ? { beforeSend: (i) => (i >= 2 ? stuck : undefined) } : {});
        },
      });
      expect(r.cases.map((c) => c.verdict)).toEqual(['pass', 'pass', 'inconclusive', 'inconclusive']);
      expect(r.cases[2]!.detail).toMatch(/sent nothing for/);
      expect(r.cases[2]!.notRestored).toEqual(['./DMWConf (added by the case) is still on the device']);
      expect(r.cases[2]!.sessions[0]!.messages.length).toBeGreaterThan(2);
      // The handset runs one session at a time: the stuck one keeps the next from opening.
      expect(r.cases[3]!.detail).toMatch(/did not open a session within/);
    } finally {
      release();
    }
  });
});
