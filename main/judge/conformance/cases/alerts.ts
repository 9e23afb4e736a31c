/**
 * Alerts from the server (Protocol §10 user interaction 1100-1104; RepPro §7 alert codes): what the
 * device answers, what it carries back, and how a refusal stops what follows (214, 215, 304).
 */
import type { Status } from '../../../protocol/model.js';
import { PROTO, REP, SCRATCH, add, alert, get, replace, sequence, ui, type ConformanceCase, type DevicePackage, type CaseTools } from '../dsl.js';

const UI = 'UI alerts';
const L = `${SCRATCH}/Leaf`;

/** The device's Status for our (only) Alert of the last package. */
function alertStatus(t: CaseTools, p: DevicePackage): Status | undefined {
  return t.statuses(p).find((s) => s.cmd === 'Alert');
}

const UI_CASES: ReadonlyArray<{ id: string; title: string; code: string; make: () => ReturnType<typeof ui>; codes: number[]; data?: string }> = [
  { id: 'dm12.alert.1100-display', title: 'Alert 1100 (display): 200', code: '1100', make: () => ui('display', 'DM Workbench conformance: a message to show', [], { MINDT: 1 }), codes: [200] },
  { id: 'dm12.alert.1101-confirm', title: 'Alert 1101 (confirm) with DR=1: 200 (yes) or 304 (no)', code: '1101', make: () => ui('confirm', 'Proceed?', [], { DR: 1, MAXDT: 5 }), codes: [200, 304, 406, 408] },
  { id: 'dm12.alert.1102-input', title: 'Alert 1102 (text input) with DR: 200 with the text in an Item (or 214/406/408)', code: '1102', make: () => ui('input', 'Type a word', [], { DR: 'conformance', MAXLEN: 20, IT: 'A', ET: 'T', MAXDT: 5 }), codes: [200, 214, 406, 408], data: 'an Item holding text' },
  { id: 'dm12.alert.1103-single-choice', title: 'Alert 1103 (single choice) with DR=2: 200 with one choice number (or 214/406/408)', code: '1103', make: () => ui('single', 'Pick one', ['red', 'green', 'blue'], { DR: 2, MAXDT: 5 }), codes: [200, 214, 406, 408], data: 'one Item holding a number 1..3' },
  { id: 'dm12.alert.1104-multiple-choice', title: 'Alert 1104 (multiple choice) with DR=1-3: 200 with choice numbers (or 214/406/408)', code: '1104', make: () => ui('multiple', 'Pick some', ['a', 'b', 'c'], { DR: '1-3', MAXDT: 5 }), codes: [200, 214, 406, 408], data: 'Items holding numbers 1..3' },
];

export const ALERT_CASES: ConformanceCase[] = [
  ...UI_CASES.map((k): ConformanceCase => ({
    id: k.id, title: k.title, clause: `${PROTO} §10 (user interaction); ${REP} §7 (${k.code})`, group: UI,
    *script(t) {
      const r = yield t.pkg(k.make());
      t.expectStatus(r, 0, k.codes, `Alert ${k.code}`, 'status.code-for-command');
      const st = alertStatus(t, r);
      if (k.data && t.status(r, 0) === 200) {
        const items = (st?.items ?? []).map((i) => (i.data?.kind === 'text' ? i.data.text : i.data?.kind === 'binary' ? Buffer.from(i.data.bytes).toString('utf8') : ''));
        const ok = k.code === '1102' ? items.length === 1 && items[0]!.length > 0 : items.length >= 1 && items.every((x) => /^[1-3]$/.test(x.trim())) && (k.code !== '1103' || items.length === 1);
        t.check(`Items of the Status for Alert ${k.code}`, k.data, items.length === 0 ? 'no Item' : JSON.stringify(items), ok);
      }
    },
  })),
  {
    id: 'dm12.alert.1101-no-bypasses-sequence', title: 'Sequence after a 1101 answered "no" (DR=0): 304, the rest 215 and not executed', clause: `${PROTO} §10; ${REP} §6.6.13 (Sequence), §10 (215)`, group: UI,
    *script(t) {
      yield* t.scratch(add(L, 'kept'));
      const r = yield t.pkg(sequence(ui('confirm', 'Change the value?', [], { DR: 0, MAXDT: 5 }), replace(L, 'changed')), get(L));
      const first = t.memberStatus(r, 0, 0);
      if (first === 200) t.check('Status of the 1101 in the Sequence', '304 (the Default Response is "no")', '200', false);
      else {
        t.expectMember(r, 0, 0, [304, 406, 408, 214], 'the 1101 in the Sequence');
        t.expectMember(r, 0, 1, 215, 'the Replace after the declined 1101', 'status.code-for-command');
        t.expectValue(r, 1, 'kept', `Get ${L} (the Replace was not executed)`);
      }
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.alert.display-then-commands', title: 'Alert 1100 before other commands: they run after it (200 each)', clause: `${PROTO} §10; ${REP} §6.6.2`, group: UI,
    *script(t) {
      const r = yield t.pkg(ui('display', 'Next: a Get'), get('./DevInfo/DmV'));
      t.expectStatus(r, 0, 200, 'Alert 1100');
      t.expectStatus(r, 1, 200, 'Get ./DevInfo/DmV after the Alert');
    },
  },
  {
    id: 'dm12.alert.unknown-code', title: 'Alert with a code the device does not know: an error status (not 200), the session goes on', clause: `${REP} §6.6.2, §7; ${REP} §10`, group: 'Alert',
    *script(t) {
      const r = yield t.pkg(alert('1299', [{ data: { kind: 'text', text: 'x' } }]), get('./DevInfo/DmV'));
      const code = t.status(r, 0);
      t.check('Status of Alert 1299', '4xx or 5xx', code === null ? 'no Status' : String(code), code !== null && code >= 400);
      t.expectStatus(r, 1, 200, 'Get ./DevInfo/DmV after it');
    },
  },
];
