/**
 * Replace, Add, Delete, Copy and Exec on the device's tree (RepPro §6.6; TND §6-7): each case works
 * in its own scratch subtree (./DMWConf, deleted after) or reads nodes it must not change.
 */
import {
  REP, TND, SCRATCH, add, addNode, binaryReplace, copy, del, exec, get, replace, itemCommand, noResp, type ConformanceCase,
} from '../dsl.js';

const L = `${SCRATCH}/Leaf`;

export const REPLACE_CASES: ConformanceCase[] = [
  {
    id: 'dm12.replace.leaf', title: 'Replace of a leaf: 200, and a Get reads the new value', clause: `${REP} §6.6.11`, group: 'Replace',
    *script(t) {
      yield* t.scratch(add(L, 'before'));
      const r = yield t.pkg(replace(L, 'after'), get(L));
      t.expectStatus(r, 0, 200, `Replace ${L}`);
      t.expectValue(r, 1, 'after', `Get ${L} after the Replace`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.replace.missing', title: 'Replace of a missing node: 404', clause: `${REP} §6.6.11, §10 (404)`, group: 'Replace',
    *script(t) {
      const r = yield t.pkg(replace('./DMWConfMissing/Leaf', 'x'));
      t.expectStatus(r, 0, 404, 'Replace ./DMWConfMissing/Leaf', 'status.code-for-command');
    },
  },
  {
    id: 'dm12.replace.read-only', title: 'Replace of a DevInfo leaf (Get only): refused (405 or 425), value kept', clause: `${TND} §6.4 (AccessType); OMA-TS-DM_StdObj-V1_2 §5.3.2`, group: 'Replace',
    *script(t) {
      const old = yield* t.read('./DevInfo/Man');
      const r = yield t.pkg(replace('./DevInfo/Man', 'DMW conformance'), get('./DevInfo/Man'));
      t.expectStatus(r, 0, [405, 425], 'Replace ./DevInfo/Man');
      if (t.status(r, 0) === 200) {
        t.changed('./DevInfo/Man', `./DevInfo/Man was replaced by the case (it was ${JSON.stringify(old?.data ?? null)})`);
        yield* t.putBack('./DevInfo/Man', old);
      }
      t.expectResult(r, 1, (v) => v.data === (old?.data ?? null), JSON.stringify(old?.data ?? null), 'Get ./DevInfo/Man after the refused Replace');
    },
  },
  {
    id: 'dm12.replace.format-int', title: 'Replace of an int leaf keeps Format int', clause: `${TND} §7.7.2; ${REP} §6.6.11`, group: 'Replace',
    *script(t) {
      yield* t.scratch(add(L, '5', 'int'));
      const r = yield t.pkg(replace(L, '7', 'int'), get(L));
      t.expectStatus(r, 0, 200, `Replace ${L} (int)`);
      t.expectResult(r, 1, (v) => v.data === '7' && v.format === 'int', '"7" Format int', `Get ${L}`, 'meta.int');
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.replace.acl-property', title: 'Replace ?prop=ACL sets a node\'s ACL; Get ?prop=ACL reads it', clause: `${TND} §7.7.1, §6.5.3`, group: 'Replace',
    *script(t) {
      yield* t.scratch(add(L, 'v'));
      const acl = `Get=*&Replace=${t.env.serverId}`;
      const r = yield t.pkg(replace(`${L}?prop=ACL`, acl), get(`${L}?prop=ACL`));
      t.expectStatus(r, 0, 200, `Replace ${L}?prop=ACL`);
      t.expectResult(r, 1, (v) => v.data !== null && v.data.split('&').sort().join('&') === acl.split('&').sort().join('&'), JSON.stringify(acl), `Get ${L}?prop=ACL`);
      // The leaf's ACL no longer grants Delete: it inherits again before the scratch node goes.
      yield* t.cleanup(replace(`${L}?prop=ACL`, ''));
    },
  },
  {
    id: 'dm12.replace.noresp', title: 'Replace with NoResp: executed, no Status for it', clause: `${REP} §6.1.10 (NoResp), §6.5.1`, group: 'Replace',
    *script(t) {
      yield* t.scratch(add(L, 'before'));
      const r = yield t.pkg(noResp(replace(L, 'quiet')), get(L));
      const st = t.statuses(r).filter((s) => s.cmd === 'Replace');
      t.check('Statuses for the Replace with NoResp', 'none', `${st.length}`, st.length === 0, 'status.unneeded');
      t.expectValue(r, 1, 'quiet', `Get ${L} after the Replace with NoResp`);
      yield* t.cleanup();
    },
  },
];

export const ADD_CASES: ConformanceCase[] = [
  {
    id: 'dm12.add.leaf', title: 'Add of a leaf: 200, and a Get reads it', clause: `${REP} §6.6.1`, group: 'Add',
    *script(t) {
      const r = yield* t.scratch(add(L, 'hello'), get(L));
      t.expectStatus(r, 0, 200, `Add ${L}`);
      t.expectValue(r, 1, 'hello', `Get ${L}`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.add.existing', title: 'Add of a node that exists: 418', clause: `${REP} §6.6.1, §10 (418)`, group: 'Add',
    *script(t) {
      yield* t.scratch(add(L, 'one'));
      const r = yield t.pkg(add(L, 'two'), get(L));
      t.expectStatus(r, 0, 418, `second Add ${L}`, 'status.code-for-command');
      t.expectValue(r, 1, 'one', `Get ${L} (the first value stays)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.add.interior', title: 'Add of an interior node (Format node): Get lists it as a node', clause: `${REP} §6.6.1; ${TND} §7.7.2`, group: 'Add',
    *script(t) {
      const r = yield* t.scratch(addNode(`${SCRATCH}/Dir`), get(`${SCRATCH}/Dir?prop=Format`));
      t.expectStatus(r, 0, 200, `Add ${SCRATCH}/Dir`);
      t.expectValue(r, 1, 'node', `Get ${SCRATCH}/Dir?prop=Format`);
      yield* t.cleanup();
    },
  },
  ...([
    ['bool', 'true', 'dm12.add.format-bool', 'Add of a bool leaf: Get gives Format bool and the value'],
    ['int', '42', 'dm12.add.format-int', 'Add of an int leaf: Get gives Format int and the value'],
    ['b64', 'aGVsbG8gd29ybGQ=', 'dm12.add.format-b64', 'Add of a b64 leaf: Get gives Format b64 and the same text'],
    ['chr', 'ünïcödé ✓', 'dm12.add.format-chr-utf8', 'Add of a chr leaf with non-ASCII text: Get gives the same text'],
  ] as const).map(([format, value, id, title]): ConformanceCase => ({
    id, title, clause: `${TND} §7.7.2 (Format); ${REP} §6.6.1`, group: 'Add',
    *script(t) {
      const r = yield* t.scratch(add(L, value, format), get(L));
      t.expectStatus(r, 0, 200, `Add ${L} (Format ${format})`);
      // b64 data may travel as WBXML opaque bytes with Format bin (RepPro §5.1.5): the text is what counts.
      const formats: string[] = format === 'b64' ? ['b64', 'bin'] : [format];
      t.expectResult(r, 1, (v) => v.data === value && formats.includes(v.format ?? 'chr'), `${JSON.stringify(value)} Format ${formats.join(' or ')}`, `Get ${L}`, format === 'chr' ? undefined : `meta.${format}`);
      yield* t.cleanup();
    },
  })),
  {
    id: 'dm12.add.binary', title: 'Add and Replace of binary data (Format bin): Get gives the same bytes', clause: `${TND} §7.7.2; ${REP} §5.1.5 (Data)`, group: 'Add',
    *script(t) {
      const bytes = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f, 10, 13]);
      const r = yield* t.scratch(add(L, '', 'bin'), binaryReplace(L, bytes), get(L));
      t.expectStatus(r, 1, 200, `Replace ${L} (bin)`);
      t.expectResult(r, 2, (v) => v.encoding === 'b64' && v.data === Buffer.from(bytes).toString('base64'), 'the 9 bytes sent', `Get ${L}`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.add.parents', title: 'Add below missing interior nodes: created with them (200)', clause: `${TND} §6.6 (Add: missing interior nodes)`, group: 'Add',
    *script(t) {
      const deep = `${SCRATCH}/A/B/Leaf`;
      const r = yield* t.scratch(add(deep, 'deep'), get(deep));
      t.expectStatus(r, 0, 200, `Add ${deep}`);
      t.expectValue(r, 1, 'deep', `Get ${deep}`);
      yield* t.cleanup();
    },
  },
];

export const DELETE_CASES: ConformanceCase[] = [
  {
    id: 'dm12.delete.leaf', title: 'Delete of a leaf: 200, then Get 404', clause: `${REP} §6.6.5`, group: 'Delete',
    *script(t) {
      yield* t.scratch(add(L, 'x'));
      const r = yield t.pkg(del(L), get(L));
      t.expectStatus(r, 0, 200, `Delete ${L}`);
      t.expectStatus(r, 1, 404, `Get ${L} after the Delete`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.delete.interior', title: 'Delete of an interior node removes its subtree', clause: `${REP} §6.6.5; ${TND} §6.6`, group: 'Delete',
    *script(t) {
      const r0 = yield* t.scratch(add(`${SCRATCH}/Dir/One`, '1'), add(`${SCRATCH}/Dir/Two`, '2'));
      t.expectStatus(r0, 1, 200, `Add ${SCRATCH}/Dir/Two`);
      const r = yield t.pkg(del(`${SCRATCH}/Dir`), get(`${SCRATCH}/Dir/One`));
      t.expectStatus(r, 0, 200, `Delete ${SCRATCH}/Dir`);
      t.expectStatus(r, 1, 404, `Get ${SCRATCH}/Dir/One after deleting its parent`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.delete.missing', title: 'Delete of a missing node: 404', clause: `${REP} §6.6.5, §10 (404)`, group: 'Delete',
    *script(t) {
      const r = yield t.pkg(del('./DMWConfMissing/Leaf'));
      t.expectStatus(r, 0, 404, 'Delete ./DMWConfMissing/Leaf', 'status.code-for-command');
    },
  },
  {
    id: 'dm12.delete.permanent', title: 'Delete of a permanent node (./DevInfo/DevId): refused, node kept', clause: `${TND} §6.4 (AccessType); OMA-TS-DM_StdObj-V1_2 §5.3.2`, group: 'Delete',
    *script(t) {
      const r = yield t.pkg(del('./DevInfo/DevId'), get('./DevInfo/DevId'));
      t.expectStatus(r, 0, [405, 425], 'Delete ./DevInfo/DevId');
      t.expectStatus(r, 1, 200, 'Get ./DevInfo/DevId after the refused Delete');
      if (t.status(r, 0) === 200) t.changed('devid', './DevInfo/DevId was deleted by the case: it cannot be put back by a server');
    },
  },
];

export const COPY_EXEC_CASES: ConformanceCase[] = [
  {
    id: 'dm12.copy.leaf', title: 'Copy of a leaf: 200 and the copy holds the value (or 406 when Copy is not supported)', clause: `${REP} §6.6.4`, group: 'Copy',
    *script(t) {
      yield* t.scratch(add(L, 'original'));
      const r = yield t.pkg(copy(`${SCRATCH}/Copy`, L), get(`${SCRATCH}/Copy`));
      t.expectStatus(r, 0, [200, 406], `Copy ${L} to ${SCRATCH}/Copy`);
      if (t.status(r, 0) === 200) t.expectValue(r, 1, 'original', `Get ${SCRATCH}/Copy`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.copy.missing-source', title: 'Copy from a missing node: 404 (or 406 when Copy is not supported)', clause: `${REP} §6.6.4, §10`, group: 'Copy',
    *script(t) {
      yield* t.scratch();
      const r = yield t.pkg(copy(`${SCRATCH}/Copy`, './DMWConfMissing/Leaf'), get(`${SCRATCH}/Copy`));
      t.expectStatus(r, 0, [404, 406], 'Copy from ./DMWConfMissing/Leaf');
      t.expectStatus(r, 1, 404, `Get ${SCRATCH}/Copy (nothing was made)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.exec.not-executable', title: 'Exec on a node that is not executable: refused (405 or 406)', clause: `${REP} §6.6.6; ${TND} §6.4 (AccessType Exec)`, group: 'Exec',
    *script(t) {
      const r = yield t.pkg(exec('./DevInfo/Mod'));
      t.expectStatus(r, 0, [405, 406, 425], 'Exec ./DevInfo/Mod');
    },
  },
  {
    id: 'dm12.exec.missing', title: 'Exec on a missing node: refused (404, or 405/406)', clause: `${REP} §6.6.6, §10`, group: 'Exec',
    *script(t) {
      const r = yield t.pkg(exec('./DMWConfMissing/Run', 'go', 'corr-1'));
      t.expectStatus(r, 0, [404, 405, 406], 'Exec ./DMWConfMissing/Run');
    },
  },
  {
    id: 'dm12.get.item-no-target', title: 'Get whose item has no Target: refused (400 or 404), the session goes on', clause: `${REP} §6.6.7 (Target required)`, group: 'Get',
    *script(t) {
      const r = yield t.pkg(itemCommand('Get', {}), get('./DevInfo/Mod'));
      t.expectStatus(r, 0, [400, 404, 406], 'Get without Target');
      t.expectStatus(r, 1, 200, 'the Get after it');
    },
  },
];
