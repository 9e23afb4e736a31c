/**
 * The standard management objects a DM 1.2 client has (StdObj §5.3): DevInfo, DevDetail with its
 * URI limits (and the device keeping them: 414), and our own DMAcc account's structure. Only read:
 * nothing here changes the device, and no other server's account is touched.
 */
import { OBJ, PROTO, REP, TND, SCRATCH, get, type ConformanceCase, type Sub } from '../dsl.js';
import type { CaseTools } from '../dsl.js';

const MO = 'Standard MOs';
const DEVINFO = ['DevId', 'Man', 'Mod', 'DmV', 'Lang'];
const DEVDETAIL = ['DevTyp', 'OEM', 'FwV', 'SwV', 'HwV', 'LrgObj', 'URI/MaxDepth', 'URI/MaxTotLen', 'URI/MaxSegLen'];

/** A DevDetail/URI limit as a number (0 = no limit), or undefined when it cannot be read. */
function* limit(t: CaseTools, name: 'MaxDepth' | 'MaxTotLen' | 'MaxSegLen'): Sub<number | undefined> {
  const v = yield* t.read(`./DevDetail/URI/${name}`);
  const n = v?.data !== null && v?.data !== undefined && /^\d+$/.test(v.data.trim()) ? Number(v.data.trim()) : undefined;
  return n;
}

export const MO_CASES: ConformanceCase[] = [
  {
    id: 'dm12.mo.devinfo', title: 'DevInfo: DevId, Man, Mod, DmV and Lang readable; DevId is the SyncHdr Source', clause: `${OBJ} §5.3.2`, group: MO,
    *script(t, first) {
      const r = yield t.pkg(...DEVINFO.map((n) => get(`./DevInfo/${n}`)));
      DEVINFO.forEach((n, i) => t.expectStatus(r, i, 200, `Get ./DevInfo/${n}`));
      t.expectResult(r, 0, (v) => v.data === first.messages[0]?.message.hdr.source.locURI, JSON.stringify(first.messages[0]?.message.hdr.source.locURI ?? ''), 'Results of ./DevInfo/DevId');
    },
  },
  {
    id: 'dm12.mo.devinfo-package1', title: 'Package 1 carries DevInfo (Replace of DevId, Man, Mod, DmV, Lang) and Alert 1200/1201', clause: `${PROTO} §8.3 (package 1)`, group: MO,
    *script(t, first) {
      const cmds = t.commands(first);
      const alert = cmds.find((c) => c.kind === 'Alert' && ['1200', '1201'].includes(c.data?.trim() ?? ''));
      t.check('Alert in package 1', '1200 or 1201', alert?.kind === 'Alert' ? (alert.data ?? '') : 'none', alert !== undefined, 'pkg1.alert');
      const sent = new Set(cmds.filter((c) => c.kind === 'Replace').flatMap((c) => ('items' in c ? c.items : [])).map((i) => (i.source?.locURI ?? i.target?.locURI ?? '').replace(/^\.\//, '')));
      const missing = DEVINFO.filter((n) => !sent.has(`DevInfo/${n}`));
      t.check('DevInfo nodes in package 1', DEVINFO.join(', '), missing.length === 0 ? 'all' : `missing ${missing.join(', ')}`, missing.length === 0, 'pkg1.devinfo');
      const hdr = first.messages[0]?.message.hdr;
      t.check('VerDTD / VerProto of package 1', '1.2 / DM/1.2', `${hdr?.verDTD} / ${hdr?.verProto}`, hdr?.verDTD === '1.2' && hdr.verProto === 'DM/1.2', 'hdr.verproto');
      t.check('MaxMsgSize in the SyncHdr of package 1', 'present', hdr?.meta?.maxMsgSize ?? 'none', hdr?.meta?.maxMsgSize !== undefined);
    },
  },
  {
    id: 'dm12.mo.devdetail', title: 'DevDetail: DevTyp, OEM, FwV, SwV, HwV, LrgObj (bool) and the URI limits (int) readable', clause: `${OBJ} §5.3.3`, group: MO,
    *script(t) {
      const r = yield t.pkg(...DEVDETAIL.map((n) => get(`./DevDetail/${n}`)));
      DEVDETAIL.forEach((n, i) => t.expectStatus(r, i, 200, `Get ./DevDetail/${n}`));
      t.expectResult(r, 5, (v) => v.format === 'bool' && (v.data === 'true' || v.data === 'false'), 'true or false, Format bool', 'Results of ./DevDetail/LrgObj', 'meta.bool');
      for (const i of [6, 7, 8]) t.expectResult(r, i, (v) => v.format === 'int' && v.data !== null && /^\d+$/.test(v.data), 'a number, Format int', `Results of ./DevDetail/${DEVDETAIL[i]}`, 'meta.int');
    },
  },
  ...([
    ['MaxSegLen', 'dm12.mo.uri-maxseglen', 'A node name longer than DevDetail/URI/MaxSegLen: 414', (n: number) => `${SCRATCH}/${'s'.repeat(n + 1)}`],
    ['MaxDepth', 'dm12.mo.uri-maxdepth', 'A URI deeper than DevDetail/URI/MaxDepth: 414', (n: number) => `./${Array.from({ length: n + 1 }, (_, i) => `d${i}`).join('/')}`],
    ['MaxTotLen', 'dm12.mo.uri-maxtotlen', 'A URI longer than DevDetail/URI/MaxTotLen: 414', (n: number) => `${SCRATCH}/${Array.from({ length: Math.ceil((n + 1) / 8) }, () => 'segment').join('/')}`.slice(0, Math.max(n + 1, 12)).replace(/\/$/, 'x')],
  ] as const).map(([name, id, title, uri]): ConformanceCase => ({
    id, title, clause: `${OBJ} §5.3.3; ${TND} §5 (URI limits); ${REP} §10 (414)`, group: MO,
    *script(t) {
      const n = yield* limit(t, name);
      if (n === undefined) return t.notApplicable(`./DevDetail/URI/${name} cannot be read`);
      if (n === 0) return t.notApplicable(`./DevDetail/URI/${name} is 0 (no limit)`);
      const u = uri(n);
      const r = yield t.pkg(get(u));
      t.expectStatus(r, 0, 414, `Get of a URI over ${name} ${n} (${u.length} characters)`, 'uri.limits');
    },
  })),
  {
    id: 'dm12.mo.dmacc', title: 'Our DMAcc account: ServerID ours, AppID w7, AppAddr and AppAuth present; its secrets not readable', clause: `${OBJ} §5.3.1 (DMAcc); ${TND} §6.4 (AccessType)`, group: MO,
    *script(t) {
      const list = yield* t.read('./DMAcc');
      const names = list?.data ? list.data.split('/').filter(Boolean) : [];
      t.check('./DMAcc children', 'at least one account', names.length ? names.join(', ') : 'none', names.length > 0);
      if (names.length === 0) return;
      // Only ServerID leaves are read to find ours; another server's account answers 425, which is right.
      const ids = yield t.pkg(...names.map((n) => get(`./DMAcc/${n}/ServerID`)));
      const i = names.findIndex((_, k) => t.results(ids, k)[0]?.data === t.env.serverId);
      if (!t.check(`the account whose ServerID is ${t.env.serverId}`, 'found', i < 0 ? 'not found' : `./DMAcc/${names[i]}`, i >= 0)) return;
      const acc = `./DMAcc/${names[i]}`;
      const r = yield t.pkg(get(acc), get(`${acc}/AppID`), get(`${acc}/AppAuth`));
      const kids = t.results(r, 0)[0]?.data?.split('/') ?? [];
      const want = ['AppID', 'ServerID', 'AppAddr', 'AppAuth'];
      t.check(`children of ${acc}`, want.join(', '), kids.join(', ') || 'none', want.every((k) => kids.includes(k)));
      t.expectValue(r, 1, 'w7', `${acc}/AppID`);
      const auths = t.results(r, 2)[0]?.data?.split('/').filter(Boolean) ?? [];
      if (auths.length === 0) return;
      const s = yield t.pkg(...auths.map((a) => get(`${acc}/AppAuth/${a}/AAuthSecret`)));
      const leaked = auths.filter((_, k) => t.status(s, k) === 200);
      t.check('Get of AAuthSecret (access type without Get)', 'refused (405/425) for every AppAuth', leaked.length === 0 ? auths.map((_, k) => String(t.status(s, k))).join(' ') : `200 for ${leaked.join(', ')}`, leaked.length === 0);
    },
  },
];
