/**
 * Get (RepPro §6.6.7; TND §6 properties and ?list): leaves, interior nodes, missing nodes, properties.
 */
import { REP, TND, get, type ConformanceCase } from '../dsl.js';

const G = 'Get';

/** One Get, its expected status and what its Results must show. */
const SIMPLE: ReadonlyArray<{ id: string; title: string; clause: string; uri: string; status: number; result?: [string, (d: string | null, f: string | null) => boolean]; rule?: string }> = [
  { id: 'dm12.get.leaf', title: 'Get of a leaf: 200 and Results with its value', clause: `${REP} §6.6.7`, uri: './DevInfo/Mod', status: 200, result: ['a value', (d) => d !== null && d.length > 0] },
  { id: 'dm12.get.interior', title: 'Get of an interior node: 200 and Results naming its children (Format node)', clause: `${TND} §6.5.1; ${REP} §6.6.7`, uri: './DevInfo', status: 200, result: ['Format node listing DevId', (d, f) => f === 'node' && d !== null && d.split('/').includes('DevId')] },
  { id: 'dm12.get.missing', title: 'Get of a missing node: 404 and no Results', clause: `${REP} §6.6.7, §10 (404)`, uri: './DMWConfMissing/Nothing', status: 404, rule: 'status.code-for-command' },
  { id: 'dm12.get.prop-acl', title: 'Get ?prop=ACL: 200 and the ACL text', clause: `${TND} §6.5.3, §7.7.1`, uri: './DevInfo?prop=ACL', status: 200, result: ['an ACL naming Get', (d) => d !== null && /Get=/.test(d)] },
  { id: 'dm12.get.prop-format', title: 'Get ?prop=Format of a leaf: 200 and chr', clause: `${TND} §6.5.3, §7.7.2`, uri: './DevInfo/Mod?prop=Format', status: 200, result: ['chr', (d) => d === 'chr'] },
  { id: 'dm12.get.prop-unknown', title: 'Get of an unknown property: 406 or 405', clause: `${TND} §6.5.3; ${REP} §10`, uri: './DevInfo/Mod?prop=NoSuchProperty', status: 406 },
];

export const GET_CASES: ConformanceCase[] = [
  ...SIMPLE.map((k): ConformanceCase => ({
    id: k.id, title: k.title, clause: k.clause, group: G,
    *script(t) {
      const r = yield t.pkg(get(k.uri));
      const codes = k.status === 406 ? [405, 406] : [k.status];
      t.expectStatus(r, 0, codes, `Get ${k.uri}`, k.rule);
      if (k.result) {
        const [what, ok] = k.result;
        t.expectResult(r, 0, (x) => ok(x.data, x.format), what, `Results of Get ${k.uri}`, 'results.missing');
      } else {
        const n = t.results(r, 0).length;
        t.check(`Results of Get ${k.uri}`, 'none', n === 0 ? 'none' : `${n} item(s)`, n === 0, 'results.failed-get');
      }
    },
  })),
  {
    id: 'dm12.get.two-items', title: 'Get with two items: a Status for each item', clause: `${REP} §6.6.7, §6.1.13 (one Status per item)`, group: G,
    *script(t) {
      const cmd = get('./DevInfo/Mod');
      if ('items' in cmd) cmd.items.push({ target: { locURI: './DevInfo/Man' } });
      const r = yield t.pkg(cmd);
      const st = t.statuses(r).filter((s) => s.cmd === 'Get');
      t.check('Statuses for the two-item Get', '2 (or 1 with both TargetRefs)', `${st.length}`, st.length === 2 || (st.length === 1 && st[0]!.targetRefs.length === 2));
      t.check('Results for the two-item Get', 'values of both nodes', `${t.results(r, 0).length} item(s)`, t.results(r, 0).length === 2);
    },
  },
];
