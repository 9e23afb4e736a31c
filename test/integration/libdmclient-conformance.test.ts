/**
 * The whole dm12-client plan against intel/libdmclient, a real DM 1.2 client no one here wrote
 * (test/helpers/libdmclient.ts builds it outside the repo). Its test client runs one
 * client-initiated session per process, so every session the runner asks for is one run of it
 * (and a run that crashes is reported as the case's failure). The verdicts are compared with the
 * reviewed expectation in test/fixtures/conformance/libdmclient-dm12-client.json, where every case
 * that does not pass carries its clause and a one-line explanation read from the evidence.
 *
 * The server runs without client authentication of its own (clientAuth none: the auth cases ask
 * for each scheme themselves) and presents Basic credentials, which the client requires.
 * DMW_UPDATE_CONFORMANCE_EXPECTATION=1 writes the verdicts seen into the file (explanations kept,
 * new ones marked TO REVIEW) for a person to review.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer } from '../../main/server/index.js';
import { runConformance } from '../../main/judge/conformance/run.js';
import { planInfo } from '../../main/judge/conformance/plans.js';
import type { Verdict } from '../../main/judge/conformance/types.js';
import { buildLibdmclient, libdmclientAvailable, runLibdmclientSession, type LibdmclientBuild } from '../helpers/libdmclient.js';

const enabled = libdmclientAvailable('libdmclient conformance');
const FIXTURE = path.join(__dirname, '../fixtures/conformance/libdmclient-dm12-client.json');
const CLIENT = { name: 'lab', secret: 'lab-secret-1' };
const SERVER = { name: 'dmw', secret: 'srv-secret-1' };

interface Expectation {
  plan: string;
  client: string;
  cases: Record<string, { verdict: Verdict; clause?: string; explanation?: string }>;
}

let peer: LibdmclientBuild;
const dirs: string[] = [];
beforeAll(async () => {
  if (enabled) peer = await buildLibdmclient();
}, 20 * 60_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!enabled)('dm12-client against libdmclient', () => {
  it('gives the reviewed verdict for every case; each case it does not pass is explained with its clause', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-ldmc-conf-'));
    dirs.push(dir);
    const server = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', serverId: 'dmw-lab', clientAuth: 'none', serverAuth: 'basic', defaultClientCred: CLIENT, serverCred: SERVER, store: { synchronous: 'NORMAL' } });
    const account = { serverUrl: server.url, serverId: 'dmw-lab', client: { type: 'BASIC' as const, ...CLIENT }, server: { type: 'BASIC' as const, ...SERVER } };
    let result;
    try {
      result = await runConformance({
        server, device: 'DMCtest', waitMs: 3000,
        trigger: async () => {
          const run = await runLibdmclientSession({ account, build: peer, timeoutMs: 20_000 });
          if (run.signal && !run.timedOut) return { failure: `testdmclient killed by ${run.signal}` };
          return run.timedOut ? { failure: 'testdmclient killed after 20 s' } : undefined;
        },
      });
    } finally {
      await server.close();
    }
    const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Expectation;
    if (process.env.DMW_UPDATE_CONFORMANCE_EXPECTATION) {
      const cases = Object.fromEntries(result.cases.map((c) => {
        const before = expected.cases[c.id];
        const same = before?.verdict === c.verdict;
        return [c.id, c.verdict === 'pass' ? { verdict: c.verdict } : { verdict: c.verdict, clause: same && before.clause ? before.clause : c.clause, explanation: same && before.explanation ? before.explanation : `TO REVIEW: ${c.detail}` }];
      }));
      writeFileSync(FIXTURE, `${JSON.stringify({ ...expected, cases }, null, 2)}\n`);
    }
    const ids = planInfo('dm12-client')!.cases.map((c) => c.id);
    expect(Object.keys(expected.cases), 'every case of the plan is in the reviewed expectation').toEqual(ids);
    for (const [id, e] of Object.entries(expected.cases)) {
      if (e.verdict === 'pass') continue;
      expect(e.clause, id).toMatch(/OMA-TS-DM_\w+-V1_2 §\d/);
      expect(e.explanation, id).toMatch(/^(?!TO REVIEW)\S.{20,}/);
    }
    const differ = result.cases.filter((c) => c.verdict !== expected.cases[c.id]?.verdict).map((c) => `${c.id}: ${c.verdict} (expected ${expected.cases[c.id]?.verdict}): ${c.detail}`);
    expect(differ).toEqual([]);
    // It passes something in every group it can reach, so a broken runner cannot match by failing everything.
    expect(result.passed).toBeGreaterThan(20);
  }, 5 * 60_000);
});
