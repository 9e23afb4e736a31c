/**
 * Faulty handsets (main/client/faults.ts) against our DM server over real HTTP on 127.0.0.1: for
 * every fault of the catalogue, a session that exercises it is judged (main/judge) from the
 * handset's own view of the wire, and the judge must report the fault's rule(s); the same session
 * with a correct handset must not. A fault no passive rule can see (skip-acl) is proved by what it
 * does to the tree instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuthType } from '../../main/protocol/auth.js';
import type { Encoding } from '../../main/protocol/codec.js';
import type { SyncML } from '../../main/protocol/model.js';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import type { JobSpec } from '../../main/server/types.js';
import { DEVICE } from '../../main/tree/tree.js';
import {
  AAUTH_TYPE, FAULTS, FAULT_NAMES, UnknownFaultError, VirtualHandset, applyOutgoingFaults, parseFaults,
  type FaultName, type HandsetEvent, type HandsetOptions, type SessionOutcome,
} from '../../main/client/index.js';
import { checkSession, RULE_BY_ID, type Finding } from '../../main/judge/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Scenario {
  auth: AuthType;
  server?: Partial<DmServerOptions>;
  handset?: HandsetOptions;
  /** Leaves put on the handset before the session, and the jobs queued for it. */
  setup: (h: VirtualHandset) => JobSpec[];
}

function leaf(h: VirtualHandset, uri: string, value: string | Uint8Array, format = 'chr', acl = 'Add=*&Delete=*&Exec=*&Get=*&Replace=*'): void {
  const r = h.tree.add(DEVICE, uri, { format, value, createParents: true, acl });
  if (!r.ok) throw new Error(r.message);
}

const SCENARIOS = {
  /** Two round trips: Gets (one of a missing node), a Delete of a missing node, an Atomic with a failing member. */
  commands: {
    auth: 'basic',
    setup: (h) => {
      leaf(h, './Vendor/A', 'a');
      return [
        { kind: 'get', uri: './DevInfo/Mod' }, { kind: 'get', uri: './Vendor/Missing' }, { kind: 'delete', uri: './Vendor/Missing2' },
        { kind: 'atomic', commands: [{ kind: 'replace', uri: './Vendor/A', value: 'z' }, { kind: 'replace', uri: './Vendor/Missing3', value: 'q' }] },
      ];
    },
  },
  /** MD5: package 1 is challenged with a new nonce. */
  md5: { auth: 'md5', setup: () => [{ kind: 'get', uri: './DevInfo/Mod' }] },
  /** A large object from the server (chunks, 213s, Alert 1222 from us while its package is open). */
  chunksIn: {
    auth: 'basic', server: { limits: { maxMsgSize: 4096 } }, handset: { maxMsgSize: 4096 },
    setup: (h) => {
      leaf(h, './Vendor/Config', 'old');
      return [{ kind: 'replace', uri: './Vendor/Config', value: randomBytes(12_000).toString('base64') }];
    },
  },
  /** A Results far larger than the server's MaxMsgSize. */
  chunksOut: {
    auth: 'basic', server: { limits: { maxMsgSize: 4096 } },
    setup: (h) => {
      leaf(h, './Vendor/Log', 'log line\n'.repeat(1500));
      return [{ kind: 'get', uri: './Vendor/Log' }];
    },
  },
  /** A Replace on a node whose ACL lets the server only read it. */
  acl: {
    auth: 'basic',
    setup: (h) => {
      leaf(h, './Vendor/Locked', 'kept', 'chr', 'Get=*');
      return [{ kind: 'replace', uri: './Vendor/Locked', value: 'changed' }];
    },
  },
} satisfies Record<string, Scenario>;
type ScenarioName = keyof typeof SCENARIOS;

/** Where each fault shows. */
const SCENARIO_OF: Record<FaultName, ScenarioName> = {
  'ignore-atomic-rollback': 'commands', 'skip-acl': 'acl', 'wrong-msgref': 'commands', 'wrong-cmdref': 'commands',
  'no-213': 'chunksIn', 'reuse-nonce': 'md5', 'drop-status': 'commands', 'wrong-status-code': 'commands',
  'ok-for-failure': 'commands', 'exceed-maxmsgsize': 'chunksOut', 'wrong-results-format': 'commands',
  'duplicate-cmdid': 'commands', 'missing-devinfo': 'commands', 'bad-sessionid': 'commands',
  'msgid-not-incrementing': 'commands', 'no-hdr-status': 'commands', 'results-before-status': 'commands',
  'swapped-status-refs': 'commands', 'no-size-first-chunk': 'chunksOut', 'final-with-1222': 'chunksIn',
};

interface Run {
  outcome: SessionOutcome;
  findings: Finding[];
  handset: VirtualHandset;
}

/** One session of a handset (with `faults`) against a fresh server, judged from the handset's view. */
async function run(name: ScenarioName, faults: FaultName[], encoding: Encoding = 'xml'): Promise<Run> {
  const sc: Scenario = SCENARIOS[name];
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-faults-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const s = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1', clientAuth: sc.auth, defaultClientCred: { name: 'lab', secret: 'pw' }, ...sc.server });
  cleanup.push(() => s.close());
  const type = AAUTH_TYPE[sc.auth];
  const h = await VirtualHandset.open({
    encoding, maxRoundTrips: 20, requestTimeoutMs: 10_000, ...sc.handset, faults,
    device: { mod: 'Lab Phone 9', accounts: [{ serverId: s.config.serverId, addr: s.url, clientCred: { type, name: 'lab', secret: 'pw' }, serverCred: { type, name: s.config.serverId, secret: '' } }] },
  });
  cleanup.push(() => h.close());
  const messages: { direction: 'in' | 'out'; bytes: Uint8Array; url: string }[] = [];
  h.on((e: HandsetEvent) => {
    if (e.type === 'message') messages.push({ direction: e.direction, bytes: e.bytes, url: e.url });
  });
  for (const spec of sc.setup(h)) await s.addJob(h.devId, spec);
  const outcome = await h.connect();
  return { outcome, findings: checkSession(messages, { side: 'client' }), handset: h };
}

const rulesOf = (fs: Finding[]) => [...new Set(fs.map((f) => f.rule))].sort();

const clean = new Map<string, Promise<Run>>();
const cleanRun = (name: ScenarioName, encoding: Encoding = 'xml'): Promise<Run> => {
  let r = clean.get(`${name}/${encoding}`);
  if (!r) clean.set(`${name}/${encoding}`, (r = run(name, [], encoding)));
  return r;
};

describe('the fault catalogue', () => {
  it('has at least 12 faults with unique names, a clause each, and judge rules that exist', () => {
    expect(FAULTS.length).toBeGreaterThanOrEqual(12);
    expect(new Set(FAULT_NAMES).size).toBe(FAULTS.length);
    for (const f of FAULTS) {
      expect(f.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(f.description.length).toBeGreaterThan(10);
      expect(f.clause).toMatch(/^OMA-TS-DM_\w+-V1_2 §/);
      for (const r of f.rules) expect(RULE_BY_ID.has(r), `${f.name}: rule ${r}`).toBe(true);
    }
    expect(Object.keys(SCENARIO_OF).sort()).toEqual([...FAULT_NAMES].sort());
  });

  it('unknown names are refused, naming the valid ones; duplicates count once', async () => {
    expect(() => parseFaults(['no-213', 'nope'])).toThrow(UnknownFaultError);
    expect(() => parseFaults(['nope'])).toThrow(/unknown fault "nope"; valid faults: ignore-atomic-rollback, .*final-with-1222/);
    expect([...parseFaults(['no-213', 'no-213', 'skip-acl'])]).toEqual(['skip-acl', 'no-213']);
    await expect(VirtualHandset.open({ faults: ['bogus'] })).rejects.toThrow(/unknown fault "bogus"/);
  });

  it('no fault leaves a message untouched (the same object)', () => {
    const msg: SyncML = {
      hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '2', target: { locURI: 'http://s' }, source: { locURI: 'IMEI:1' } },
      body: { commands: [{ kind: 'Status', cmdID: '1', msgRef: '1', cmdRef: '0', cmd: 'SyncHdr', targetRefs: ['IMEI:1'], sourceRefs: ['http://s'], data: '200', items: [] }], final: true },
    };
    expect(applyOutgoingFaults(msg, new Set())).toBe(msg);
    const before = JSON.stringify(msg);
    const faulty = applyOutgoingFaults(msg, parseFaults([...FAULT_NAMES]));
    expect(faulty).not.toBe(msg);
    expect(JSON.stringify(msg)).toBe(before);
  });
});

describe('each fault is caught by the judge on a real session; a correct handset is not', () => {
  const judged = FAULTS.filter((f) => f.rules.length > 0);
  const cases = judged.flatMap((f) => (['xml', 'wbxml'] as const).map((e) => [f.name, e, f.rules.join(', ')] as const));
  it.each(cases)('%s (%s): reported as %s', async (name, encoding, _rules) => {
    const fault = FAULTS.find((f) => f.name === name)!;
    const scenario = SCENARIO_OF[name];
    const bad = await run(scenario, [name], encoding);
    const good = await cleanRun(scenario, encoding);
    expect(good.outcome.error).toBeUndefined();
    for (const r of fault.rules) {
      expect(rulesOf(bad.findings), `${name} should be reported as ${r}`).toContain(r);
      expect(rulesOf(good.findings), `a correct handset is not reported as ${r}`).not.toContain(r);
    }
  });

  it('ignore-atomic-rollback: the member that succeeded stays in the tree (a correct handset rolls it back)', async () => {
    const bad = await run('commands', ['ignore-atomic-rollback']);
    const good = await cleanRun('commands');
    expect(bad.handset.tree.lookup('./Vendor/A')!.value).toBe('z');
    expect(good.handset.tree.lookup('./Vendor/A')!.value).toBe('a');
  });

  it('skip-acl: a Replace the ACL forbids is executed and answered 200 (a correct handset answers 425); no passive rule can see it', async () => {
    const bad = await run('acl', ['skip-acl']);
    const good = await cleanRun('acl');
    expect(good.outcome.log.find((e) => e.cmd === 'Replace')?.status).toBe(425);
    expect(good.handset.tree.lookup('./Vendor/Locked')!.value).toBe('kept');
    expect(bad.outcome.log.find((e) => e.cmd === 'Replace')?.status).toBe(200);
    expect(bad.handset.tree.lookup('./Vendor/Locked')!.value).toBe('changed');
  });

  it('several faults at once: each one is reported', async () => {
    const bad = await run('commands', ['wrong-msgref', 'missing-devinfo', 'no-hdr-status']);
    expect(rulesOf(bad.findings)).toEqual(expect.arrayContaining(['status.msgref-unknown', 'pkg1.devinfo', 'status.hdr-missing']));
  });
});
