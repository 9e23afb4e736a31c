/** A made-up plan run for the report and view tests: one case of each verdict, with evidence. */
import type { CaseResult, EvidenceMessage, PlanResult } from '../../main/judge/conformance/types.js';

const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);

export function syncml(msgId: number, body: string, final = true): string {
  return [
    '<SyncML xmlns="SYNCML:SYNCML1.2">',
    `  <SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>${msgId}</MsgID>`,
    '    <Target><LocURI>http://127.0.0.1/dm</LocURI></Target><Source><LocURI>IMEI:001</LocURI></Source></SyncHdr>',
    `  <SyncBody>${body}${final ? '<Final/>' : ''}</SyncBody>`,
    '</SyncML>',
  ].join('\n');
}

export function msg(seq: number, direction: 'in' | 'out', xml: string, atOffset = seq * 100): EvidenceMessage {
  return { seq, direction, at: T0 + atOffset, xml, size: xml.length };
}

const status = (cmdId: number, ref: number, cmd: string, code: string) =>
  `<Status><CmdID>${cmdId}</CmdID><MsgRef>1</MsgRef><CmdRef>${ref}</CmdRef><Cmd>${cmd}</Cmd><Data>${code}</Data></Status>`;

export function exchange(): EvidenceMessage[] {
  return [
    msg(1, 'in', syncml(1, '<Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Replace><CmdID>2</CmdID></Replace>')),
    msg(2, 'out', syncml(1, `${status(1, 0, 'SyncHdr', '212')}${status(2, 1, 'Alert', '200')}<Get><CmdID>3</CmdID><Item><Target><LocURI>./DevInfo/Mod</LocURI></Target></Item></Get>`)),
    msg(3, 'in', syncml(2, `${status(1, 0, 'SyncHdr', '200')}${status(2, 3, 'Get', '200')}<Results><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef></Results>`)),
    msg(4, 'out', syncml(2, status(1, 0, 'SyncHdr', '200'))),
  ];
}

export function caseResult(over: Partial<CaseResult> & Pick<CaseResult, 'id' | 'verdict'>): CaseResult {
  return {
    title: `Case ${over.id}`,
    clause: 'OMA-TS-DM_Protocol-V1_2 §6.6.8',
    group: 'Get',
    detail: over.verdict === 'pass' ? 'all checks held' : `why ${over.id} is ${over.verdict}`,
    checks: [{ what: 'Status code for Get', expected: '200', actual: over.verdict === 'fail' ? '500' : '200', ok: over.verdict !== 'fail', msg: 3, path: 'SyncBody/Status[2]/Data', ...(over.verdict === 'fail' ? { rule: 'status.code-valid' } : {}) }],
    sessions: [{ sessionId: 7, messages: exchange() }],
    rules: over.verdict === 'fail' ? ['status.code-valid'] : [],
    notRestored: [],
    durationMs: 1234,
    ...over,
  };
}

export function planResult(cases: CaseResult[] = [
  caseResult({ id: 'dm12.get.leaf', verdict: 'pass' }),
  caseResult({ id: 'dm12.get.status', verdict: 'fail', group: 'Status' }),
  caseResult({ id: 'dm12.lo.chunks', verdict: 'inconclusive', group: 'Large objects', sessions: [] }),
  caseResult({ id: 'dm12.auth.hmac', verdict: 'not-applicable', group: 'Auth', sessions: [] }),
]): PlanResult {
  const n = (v: CaseResult['verdict']) => cases.filter((c) => c.verdict === v).length;
  return {
    plan: 'dm12-client',
    device: 'IMEI:001',
    startedAt: T0,
    finishedAt: T0 + 65_000,
    passed: n('pass'),
    failed: n('fail'),
    inconclusive: n('inconclusive'),
    skipped: n('not-applicable'),
    cases,
  };
}
