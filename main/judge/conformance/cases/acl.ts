/**
 * ACLs with several servers (TND §7.7.1): nodes whose ACL names a second management authority
 * (dmw-conformance-2, only ever in ACLs of the case's scratch nodes, removed after) refuse us with
 * 425; `+` lists and `*` grant; an empty ACL inherits its parent's.
 */
import { TND, REP, SCRATCH, SECOND_SERVER, add, addNode, del, get, replace, type ConformanceCase } from '../dsl.js';

const S2 = SECOND_SERVER;
const L = `${SCRATCH}/Leaf`;
const D = `${SCRATCH}/Dir`;
const clause = `${TND} §7.7.1 (ACL); ${REP} §10 (425)`;

type Probe = 'get' | 'replace' | 'delete' | 'add-child' | 'get-child';

const TABLE: ReadonlyArray<{ id: string; title: string; acl: (us: string) => string; on: 'leaf' | 'dir'; probe: Probe; codes: number[] }> = [
  { id: 'dm12.acl.get-denied', title: 'Get of a leaf whose ACL grants Get to another server only: 425', acl: () => `Get=${S2}&Replace=${S2}`, on: 'leaf', probe: 'get', codes: [425] },
  { id: 'dm12.acl.replace-denied', title: 'Replace of a leaf whose ACL grants Replace to another server only: 425, value kept', acl: () => `Get=*&Replace=${S2}`, on: 'leaf', probe: 'replace', codes: [425] },
  { id: 'dm12.acl.delete-denied', title: 'Delete of a leaf whose ACL grants Delete to another server only: 425, node kept', acl: () => `Get=*&Delete=${S2}`, on: 'leaf', probe: 'delete', codes: [425] },
  { id: 'dm12.acl.add-denied', title: 'Add below a node whose ACL grants Add to another server only: 425', acl: (us) => `Add=${S2}&Delete=${us}&Get=*&Replace=${us}`, on: 'dir', probe: 'add-child', codes: [425] },
  { id: 'dm12.acl.inherited', title: 'A leaf with an empty ACL inherits its parent\'s: Get refused (425) when the parent grants another server only', acl: (us) => `Add=${us}&Delete=${us}&Get=${S2}&Replace=${us}`, on: 'dir', probe: 'get-child', codes: [425] },
  { id: 'dm12.acl.plus-list', title: 'An ACL entry listing two servers with + grants both: Get 200', acl: (us) => `Get=${S2}+${us}&Replace=${us}`, on: 'leaf', probe: 'get', codes: [200] },
  { id: 'dm12.acl.star', title: 'Get=* grants every server: Get 200', acl: () => 'Get=*', on: 'leaf', probe: 'get', codes: [200] },
];

export const ACL_CASES: ConformanceCase[] = TABLE.map((k): ConformanceCase => ({
  id: k.id, title: k.title, clause, group: 'ACL',
  *script(t) {
    const us = t.env.serverId;
    const node = k.on === 'leaf' ? L : D;
    yield* t.scratch(...(k.on === 'leaf' ? [add(L, 'v')] : [addNode(D), add(`${D}/Child`, 'c')]));
    const set = yield t.pkg(replace(`${node}?prop=ACL`, k.acl(us)));
    if (!t.expectStatus(set, 0, 200, `Replace ${node}?prop=ACL (${k.acl(us)})`)) {
      yield* t.cleanup();
      return;
    }
    t.changed('acl', `the ACL of ${node} names ${S2}`);
    const target = k.on === 'leaf' ? L : `${D}/Child`;
    const probe = k.probe === 'get' || k.probe === 'get-child' ? get(target) : k.probe === 'replace' ? replace(L, 'changed') : k.probe === 'delete' ? del(L) : add(`${D}/New`, 'n');
    const r = yield t.pkg(probe, get(`${target}?prop=ACL`));
    t.expectStatus(r, 0, k.codes, `${probe.kind} ${k.probe === 'add-child' ? `${D}/New` : target} as ${us}`);
    // Put the ACL back (it inherits again) before anything else, so the scratch node can go.
    const back = yield t.pkg(replace(`${node}?prop=ACL`, ''), get(target));
    if (t.status(back, 0) === 200) t.restored('acl');
    if (k.probe === 'replace') t.expectValue(back, 1, 'v', `Get ${L} (the refused Replace changed nothing)`);
    if (k.probe === 'delete') t.expectStatus(back, 1, 200, `Get ${L} (the refused Delete removed nothing)`);
    yield* t.cleanup();
  },
}));
