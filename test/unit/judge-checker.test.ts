/**
 * The checker as callers use it: real DM 1.2 packages from another engine (android-dm12) judged
 * clean, either side's log giving the same verdicts, messages numbered as the log numbers them,
 * decoded messages taken as they are, and hostile input (mutated messages) never breaking a rule.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeMessage } from '../../main/protocol/codec.js';
import { RULES } from '../../main/judge/catalogue.js';
import { CHECK_FAILED, checkSession } from '../../main/judge/checker.js';
import { alert, BASIC_CRED, c, chal, cmd, exampleInput, FINAL, hdrStatus, item, meta, P2, PKG1, s, status } from '../../main/judge/example-kit.js';
import { checkLoggedSession, findingsByMessage, formatFinding, hasErrors } from '../../main/judge/index.js';
import { prng, int, mutateXml } from '../helpers/fuzz.js';
import { VECTORS_DIR } from '../helpers/tools.js';

const rule = (id: string) => RULES.find((r) => r.id === id)!;

describe('android-dm12 packages (another engine\'s DM 1.2 test traffic)', () => {
  // Server packages, except testreplace.wbxml: despite its name it is a device's package 1
  // (Alert 1201 and DevInfo, Target the server's URL).
  const files = readdirSync(VECTORS_DIR).filter((f) => /\.(xml|wbxml)$/.test(f));
  it.each(files)('%s shows no finding', (f) => {
    const bytes = new Uint8Array(readFileSync(path.join(VECTORS_DIR, f)));
    const direction = f === 'testreplace.wbxml' ? 'in' : 'out';
    expect(checkSession([{ direction, bytes }])).toEqual([]);
  });

  it('judged from the wrong side, the device package shows it (server-only alert, items without Target)', () => {
    const bytes = new Uint8Array(readFileSync(path.join(VECTORS_DIR, 'testreplace.wbxml')));
    expect(new Set(checkSession([{ direction: 'out', bytes }]).map((f) => f.rule))).toEqual(new Set(['alert.direction', 'cmd.item-target']));
  });
});

describe('what libdmclient (a real client) does and the spec allows', () => {
  it('package 1 may report interior DevInfo nodes as a Get would: Format node with the child list as Data', () => {
    const devInfo = cmd('Replace', 2, [
      item({ source: './DevInfo/Ext', meta: meta({ format: 'node' }), data: 'Intel/other' }),
      ...['DevId', 'Man', 'Mod', 'DmV', 'Lang'].map((n) => item({ source: `./DevInfo/${n}`, meta: meta({ format: 'chr', type: 'text/plain' }), data: 'x' })),
    ].join(''));
    expect(checkSession(exampleInput([c(`${alert(1, '1201')}${devInfo}${FINAL}`)]))).toEqual([]);
  });

  it('the same next-session nonce beside every 212 is no reuse; beside a 401 it is', () => {
    const md5 = (nonce: string, code: number) => `${hdrStatus(1, 1, code, chal('syncml:auth-md5', nonce))}`;
    const session = (code: number) => exampleInput([
      c(PKG1, { cred: BASIC_CRED }),
      s(`${P2()}${cmd('Get', 4, item({ target: './DevInfo/Mod' }))}${FINAL}`),
      c(`${md5('bm9uY2Ux', 212)}${status(2, 1, 4, 'Get', 404)}${FINAL}`),
      s(`${hdrStatus(1, 2, 200)}${cmd('Get', 2, item({ target: './DevInfo/Man' }))}${FINAL}`),
      c(`${md5('bm9uY2Ux', code)}${status(2, 2, 2, 'Get', 404)}${FINAL}`),
    ]);
    expect(checkSession(session(212)).filter((f) => f.rule === 'auth.nonce-repeated')).toEqual([]);
    expect(checkSession(session(401)).filter((f) => f.rule === 'auth.nonce-repeated').map((f) => f.msg)).toEqual([5]);
  });
});

describe('sessions that fail authentication', () => {
  it('a server without credentials that ends the session after a 407 repeats no request, so owes no Cred', () => {
    const refused = (last: string) => exampleInput([
      c(PKG1, { cred: BASIC_CRED }),
      s(`${P2(1, 1, 212)}${cmd('Replace', 4, item({ target: './A', data: 'x' }))}${FINAL}`),
      c(`${hdrStatus(1, 1, 407, chal('syncml:auth-basic'))}${status(2, 1, 4, 'Replace', 407)}${FINAL}`),
      s(last),
    ]);
    expect(checkSession(refused(`${hdrStatus(1, 2, 200)}${FINAL}`))).toEqual([]);
    expect(checkSession(refused(`${hdrStatus(1, 2, 200)}${cmd('Replace', 2, item({ target: './A', data: 'x' }))}${FINAL}`)).map((f) => f.rule)).toEqual(['auth.cred-after-challenge']);
  });
});

describe('a message refused with 401 mid-session and sent again', () => {
  it('does not count: the Statuses and Results sent again are no duplicates, and the answer that counts is the second', () => {
    const get = cmd('Get', 4, item({ target: './DevInfo/Mod' }));
    const answer = (hdr: string) => `${hdr}${status(2, 1, 4, 'Get', 200)}${cmd('Results', 3, `<MsgRef>1</MsgRef><CmdRef>4</CmdRef>${item({ source: './DevInfo/Mod', data: 'x' })}`)}${FINAL}`;
    const session = exampleInput([
      c(PKG1, { cred: BASIC_CRED }),
      s(`${P2()}${get}${FINAL}`),
      c(answer(hdrStatus(1, 1, 200))), // no Cred: refused
      s(`${hdrStatus(1, 2, 401, chal('syncml:auth-basic'))}${FINAL}`),
      c(answer(`${hdrStatus(1, 2, 200)}`).replace('<CmdID>1</CmdID>', '<CmdID>1</CmdID>'), { cred: BASIC_CRED }),
    ]);
    expect(checkSession(session).map((f) => f.rule)).toEqual([]);
  });
});

describe('checkSession', () => {
  const bad = exampleInput(rule('status.missing').bad);

  it('gives each finding the rule, severity, clause, message number and element path', () => {
    expect(checkSession(bad)).toEqual([{
      severity: 'error', rule: 'status.missing', clause: rule('status.missing').clause, msg: 3, path: 'SyncML/SyncBody',
      text: 'no Status for Get (CmdID 4) of message 2',
    }]);
  });

  it('numbers messages as the log does (seq), not by their place in the list', () => {
    const f = checkLoggedSession(bad.map((m, i) => ({ direction: m.direction, bytes: m.bytes!, seq: 10 + i })));
    expect(f.map((x) => x.msg)).toEqual([12]);
  });

  it("a device's log (side client: `in` came from the server) gives the same verdicts", () => {
    const flipped = bad.map((m) => ({ ...m, direction: m.direction === 'in' ? 'out' as const : 'in' as const }));
    expect(checkSession(flipped, { side: 'client' })).toEqual(checkSession(bad));
  });

  it('takes decoded messages as they are (no bytes needed), e.g. from the session view\'s cache', () => {
    const decoded = bad.map((m) => {
      const d = decodeMessage(m.bytes!);
      if (!d.ok) throw new Error(d.error.message);
      return { direction: m.direction, message: d.value.message };
    });
    expect(checkSession(decoded)).toEqual(checkSession(bad));
  });

  it('orders findings by message, errors first; groups and formats them for a message list', () => {
    const f = checkSession(exampleInput(rule('auth.nonce-repeated').bad).concat(exampleInput(rule('hdr.msgid-sequence').bad)));
    const order = f.map((x) => x.msg);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const byMsg = findingsByMessage(f);
    expect([...byMsg.values()].flat()).toEqual(f);
    expect(formatFinding(f[0]!)).toMatch(/^(error|warning|note) [a-z0-9.-]+ \(OMA-TS-DM_\w+-V1_2 §[^)]+\) SyncML\S*: ./);
    expect(hasErrors(f)).toBe(f.some((x) => x.severity === 'error'));
  });

  it('a missing Status is judged once the answering package is over, not while it may still come (live sessions)', () => {
    const opening = [c(PKG1), s(`${P2()}${cmd('Get', 4, item({ target: './A' }))}${cmd('Get', 5, item({ target: './B' }))}${FINAL}`)];
    const first = c(`${hdrStatus(1, 1, 200)}${status(2, 1, 4, 'Get', 404)}`); // no Final: the package goes on
    const next = s(`${hdrStatus(1, 2, 200)}${alert(2, '1222')}`);
    expect(checkSession(exampleInput([...opening, first])).map((f) => f.rule)).toEqual([]);
    expect(checkSession(exampleInput([...opening, first, next])).map((f) => f.rule)).toEqual([]);
    const last = c(`${hdrStatus(1, 2, 200)}${status(2, 2, 2, 'Alert', 200)}${FINAL}`);
    expect(checkSession(exampleInput([...opening, first, next, last])).map((f) => `${f.rule} #${f.msg} ${f.text}`)).toEqual(['status.missing #5 no Status for Get (CmdID 5) of message 2']);
  });

  it('an empty session, a message without a body (an HTTP-level answer) and one that is no DM message are judged, not thrown', () => {
    expect(checkSession([])).toEqual([]);
    expect(checkSession([{ direction: 'out', bytes: new Uint8Array() }, { direction: 'in' }])).toEqual([]);
    expect(checkSession([{ direction: 'in', bytes: new TextEncoder().encode('<html/>') }]).map((f) => f.rule)).toEqual(['msg.decode']);
    // A DM 2.0 session (JSON) in the same log is not judged by the DM 1.2 rules.
    const json = new TextEncoder().encode('{"Pkg":1}');
    expect(checkLoggedSession([{ direction: 'in', bytes: json, seq: 1, contentType: 'application/vnd.oma.dm+json' }])).toEqual([]);
    expect(checkLoggedSession([{ direction: 'in', bytes: json, seq: 1, contentType: 'application/vnd.syncml.dm+xml' }]).map((f) => f.rule)).toEqual(['msg.decode']);
  });

  it('survives hostile messages: 600 mutated sessions from the catalogue, no rule trips (no judge.check-failed)', () => {
    const rnd = prng(0x5eed);
    const r = (n: number) => int(rnd, n);
    const values = ['0', '1', '2', '99', '', '213', '424', '1222', '1223', '1225', 'SyncHdr', 'Status', './A/../B', '.', 'b64', 'bin', 'node', 'x'];
    const sessions = RULES.flatMap((x) => [x.good, x.bad]).map(exampleInput);
    for (let i = 0; i < 600; i++) {
      const s = sessions[r(sessions.length)]!.map((m) => ({ ...m }));
      const k = r(s.length);
      s[k] = { ...s[k]!, bytes: mutateXml(s[k]!.bytes!, r, { values, valueWeight: 4 }).bytes };
      const failed = checkSession(s).filter((f) => f.rule === CHECK_FAILED);
      expect(failed, `iteration ${i}`).toEqual([]);
    }
  });
});
