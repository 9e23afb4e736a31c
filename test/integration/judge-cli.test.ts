/**
 * `dmw session check ID --data DIR [--json]` and the findings in `dmw session show`, on a data folder
 * holding a clean session and a broken one (the catalogue's examples, logged as a server logs them).
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ServerStore } from '../../main/store/server-store.js';
import { RULES } from '../../main/judge/catalogue.js';
import { cmd, exampleInput, item, opening, type Example } from '../../main/judge/example-kit.js';
import { dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp } = dmwLab('dmw-cli-judge-');
const rule = (id: string) => RULES.find((r) => r.id === id)!;

function folder(...sessions: Example[]): string {
  const data = tmp();
  const store = ServerStore.open(data);
  try {
    for (const ex of sessions) {
      const id = store.createSession({ device: 'IMEI:493005100592800', dmSessionId: '1', encoding: 'xml' }, Date.now());
      exampleInput(ex).forEach((m, i) => store.addMessage({ sessionId: id, direction: m.direction, at: Date.now(), bytes: m.bytes!, seq: i + 1 }));
      store.endSession(id, 'done', 'completed', Date.now());
    }
  } finally {
    store.close();
  }
  return data;
}

describe('dmw session check', () => {
  // A fresh folder per test: the lab helper removes its folders after each one.
  const twoSessions = () => folder(rule('status.missing').good, rule('status.missing').bad);

  it('--json: exactly {"session":ID,"findings":[...]}; exit 0 without an error finding', () => {
    const data = twoSessions();
    const r = dmw(['session', 'check', '1', '--data', data, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe('{"session":1,"findings":[]}\n');
  });

  it('--json: each finding has severity, rule, clause, msg, path, text in that order; exit 1 with an error finding', () => {
    const r = dmw(['session', 'check', '2', '--data', twoSessions(), '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out) as { session: number; findings: Record<string, unknown>[] };
    expect(Object.keys(out)).toEqual(['session', 'findings']);
    expect(out.session).toBe(2);
    expect(out.findings).toEqual([{ severity: 'error', rule: 'status.missing', clause: rule('status.missing').clause, msg: 3, path: 'SyncML/SyncBody', text: 'no Status for Get (CmdID 4) of message 2' }]);
    expect(Object.keys(out.findings[0]!)).toEqual(['severity', 'rule', 'clause', 'msg', 'path', 'text']);
  });

  it('text: one line per finding and a count; warnings alone exit 0', () => {
    const r = dmw(['session', 'check', '2', '--data', twoSessions()]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`#3 error status.missing (${rule('status.missing').clause}) SyncML/SyncBody: no Status for Get (CmdID 4) of message 2\nsession 2: 3 message(s), 1 error(s), 0 warning(s), 0 note(s)\n`);
    const warned = folder(rule('hdr.msgid-sequence').bad);
    const w = dmw(['session', 'check', '1', '--data', warned]);
    expect(w.code).toBe(0);
    expect(w.out).toMatch(/^#2 warning hdr\.msgid-sequence /);
  });

  it('dmw session show lists each message\'s findings beside it (and in --json)', () => {
    const data = twoSessions();
    const show = dmw(['session', 'show', '2', '--data', data]);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^#3 <- in .*\n! error status\.missing \(OMA-TS-DM_Protocol-V1_2 §8\.4, §8\.5; OMA-TS-DM_RepPro-V1_2 §6\.5\.1\) SyncML\/SyncBody: no Status for Get \(CmdID 4\) of message 2$/m);
    expect(show.out.match(/^! /gm)).toHaveLength(1);
    const json = JSON.parse(dmw(['session', 'show', '2', '--data', data, '--json']).out) as { findings: { rule: string; msg: number }[] };
    expect(json.findings.map((f) => [f.rule, f.msg])).toEqual([['status.missing', 3]]);
  });

  it("judges URIs against the DevDetail/URI limits the server read from the device's tree before", () => {
    const data = folder(opening(cmd('Get', 4, item({ target: './A/B/C/D' }))));
    const store = ServerStore.open(data);
    try {
      store.upsertTree('IMEI:493005100592800', [{ uri: './DevDetail/URI/MaxDepth', format: 'int', type: null, data: '3' }], Date.now());
    } finally {
      store.close();
    }
    const r = dmw(['session', 'check', '1', '--data', data, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).findings.map((f: { rule: string; msg: number }) => `${f.rule} #${f.msg}`)).toEqual(['uri.limits #2']);
  });

  it('bad input: exit 2 and one line on stderr', () => {
    const data = twoSessions();
    const cases: [string[], RegExp][] = [
      [['session', 'check', '9', '--data', data], /^dmw: no session 9 in .*\n$/],
      [['session', 'check', '1', '--data', path.join(data, 'nothing')], /^dmw: .*no DM Workbench data here.*\n$/],
      [['session', 'check', 'x', '--data', data], /^dmw: session ID must be a positive integer, got "x"\n$/],
      [['session', 'check', '1'], /^dmw: --data DIR is required\n/],
      [['session', 'check', '--data', data], /^dmw: expected one session ID\n/],
      [['session', 'check', '1', '--data', data, '--bogus'], /^dmw: Unknown option '--bogus'/],
    ];
    for (const [args, err] of cases) {
      const r = dmw(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(err);
      expect(r.out, args.join(' ')).toBe('');
    }
  });
});
