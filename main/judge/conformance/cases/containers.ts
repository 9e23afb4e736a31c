/**
 * Atomic and Sequence (RepPro §6.6.3, §6.6.13): all or nothing, rollback statuses (507/516, 216,
 * 215), order, no nesting of Atomic.
 */
import { REP, SCRATCH, add, atomic, get, replace, sequence, type ConformanceCase } from '../dsl.js';

const A = `${SCRATCH}/A`;
const B = `${SCRATCH}/B`;
const MISSING = `${SCRATCH}/Missing/Leaf`;

export const CONTAINER_CASES: ConformanceCase[] = [
  {
    id: 'dm12.atomic.success', title: 'Atomic whose members succeed: 200 for it and each member', clause: `${REP} §6.6.3`, group: 'Atomic',
    *script(t) {
      const r = yield* t.scratch(atomic(add(A, 'a'), add(B, 'b')), get(B));
      t.expectStatus(r, 0, 200, 'Atomic', 'atomic.status');
      t.expectMember(r, 0, 0, 200, `Add ${A} in the Atomic`);
      t.expectMember(r, 0, 1, 200, `Add ${B} in the Atomic`);
      t.expectValue(r, 1, 'b', `Get ${B}`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.atomic.rollback', title: 'Atomic with a failing member: 507 (or 516), the one that had succeeded 216 and rolled back', clause: `${REP} §6.6.3, §10 (507, 516, 216)`, group: 'Atomic',
    *script(t) {
      yield* t.scratch(add(A, 'before'));
      const r = yield t.pkg(atomic(replace(A, 'after'), replace(MISSING, 'x')), get(A));
      t.expectStatus(r, 0, [507, 516], 'the Atomic with a failing member', 'atomic.status');
      t.expectMember(r, 0, 0, 216, `Replace ${A} (succeeded, then rolled back)`, 'atomic.status');
      t.expectMember(r, 0, 1, 404, `Replace ${MISSING} (the failing member)`);
      t.expectValue(r, 1, 'before', `Get ${A} after the rollback`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.atomic.not-executed-215', title: 'Atomic: members after the failing one are not executed (215, or 216 when rolled back)', clause: `${REP} §6.6.3, §10 (215)`, group: 'Atomic',
    *script(t) {
      yield* t.scratch();
      const r = yield t.pkg(atomic(replace(MISSING, 'x'), add(B, 'b')), get(B));
      t.expectStatus(r, 0, [507, 516], 'the Atomic', 'atomic.status');
      t.expectMember(r, 0, 1, [215, 216], `Add ${B} after the failing member`, 'atomic.status');
      t.expectStatus(r, 1, 404, `Get ${B} (nothing of the Atomic stays)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.atomic.nested', title: 'Atomic inside an Atomic (forbidden): refused, nothing applied', clause: `${REP} §6.6.3 (Atomic may not be nested)`, group: 'Atomic',
    *script(t) {
      yield* t.scratch();
      const r = yield t.pkg(atomic(atomic(add(A, 'a'))), get(A));
      const code = t.status(r, 0);
      t.check('Status of the outer Atomic', 'an error (4xx/5xx)', code === null ? 'no Status' : String(code), code !== null && code >= 400);
      t.expectStatus(r, 1, 404, `Get ${A} (the nested Add was not applied)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.sequence.order', title: 'Sequence runs its members in order: Add, Replace, then Get reads the Replace', clause: `${REP} §6.6.13`, group: 'Sequence',
    *script(t) {
      const r = yield* t.scratch(sequence(add(A, 'one'), replace(A, 'two')), get(A));
      t.expectStatus(r, 0, 200, 'Sequence', 'sequence.status');
      t.expectMember(r, 0, 0, 200, `Add ${A}`);
      t.expectMember(r, 0, 1, 200, `Replace ${A}`);
      t.expectValue(r, 1, 'two', `Get ${A} after the Sequence`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.sequence.member-fails', title: 'Sequence with a failing member: the failure has its code, the others still run', clause: `${REP} §6.6.13`, group: 'Sequence',
    *script(t) {
      const r = yield* t.scratch(sequence(replace(MISSING, 'x'), add(B, 'b')), get(B));
      t.expectStatus(r, 0, 200, 'Sequence', 'sequence.status');
      t.expectMember(r, 0, 0, 404, `Replace ${MISSING}`);
      t.expectMember(r, 0, 1, 200, `Add ${B} after the failure`);
      t.expectValue(r, 1, 'b', `Get ${B}`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.sequence.get-results', title: 'Get inside a Sequence: Results for it', clause: `${REP} §6.6.13, §6.6.12`, group: 'Sequence',
    *script(t) {
      const r = yield t.pkg(sequence(get('./DevInfo/Lang')));
      t.expectStatus(r, 0, 200, 'Sequence');
      t.expectMember(r, 0, 0, 200, 'Get ./DevInfo/Lang in the Sequence');
      t.expectResult(r, 0, (v) => v.data !== null, 'a value', 'Results of the Get in the Sequence', 'results.missing');
    },
  },
];
