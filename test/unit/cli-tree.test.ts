/**
 * The `dmw tree` contracts, run as an engineer runs them: real processes, real files, exit codes, stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTreeSync } from '../../main/tree/persist.js';
import { DEVICE } from '../../main/tree/tree.js';
import { REPO_ROOT, VECTORS_DIR } from '../helpers/tools.js';
import { main } from '../../main/cli/main.js';
import { add, atomic, del, get, pkgXml, replace } from '../helpers/dm-package.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const tmp = mkdtempSync(path.join(tmpdir(), 'dmw-tree-'));

/** A real process: the contract as a lab script sees it (bin.mjs, tsx, exit status). */
function dmwProcess(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 30_000 });
  return { code: r.status, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

/**
 * The same entry point in this process (main() writes to process.stdout/stderr and returns the exit
 * status), so that the many cases below do not each pay for starting Node and tsx.
 */
async function dmw(args: string[]) {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

function file(name: string, content: string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, content);
  return p;
}

async function initTree(name: string): Promise<string> {
  const t = path.join(tmp, name);
  const r = await dmw(['tree', 'init', '-o', t, '--account', 'srvA:IMEI1:pw-A', '--account', 'srvB']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return t;
}

describe('dmw tree', () => {
  it('init makes a handset tree with one DMAcc account per --account (client and server credentials)', async () => {
    const t = path.join(tmp, 'init.json');
    const r = await dmw(['tree', 'init', '-o', t, '--account', 'srvA:IMEI1:pw-A', '--account', 'srvB']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/init\.json: \d+ nodes, 2 account\(s\)/);
    expect(r.out).toMatch(/\.\/DMAcc\/srvB {2}ServerID srvB {2}client srvB {2}secret \S{16}/);
    const tree = loadTreeSync(t);
    const secret = /secret (\S+)/.exec(r.out)![1]!;
    expect(tree.lookup('./DMAcc/srvA/AppAuth/1')?.child('AAuthName')?.value).toBe('IMEI1');
    expect(tree.lookup('./DMAcc/srvA/AppAuth/1/AAuthSecret')?.value).toBe('pw-A');
    expect(tree.lookup('./DMAcc/srvA/AppAuth/2/AAuthName')?.value).toBe('srvA');
    expect(tree.lookup('./DMAcc/srvA/AppAuth/2/AAuthSecret')?.value).toBe('pw-A');
    expect(tree.lookup('./DMAcc/srvB/AppAuth/1/AAuthSecret')?.value).toBe(secret);
    expect(tree.lookup('./DevInfo/DevId')?.value).toMatch(/^IMEI:\d{15}$/);
    expect(tree.lookup('./Inbox')).toBeDefined();
  });

  it('run prints the response package as XML; --write saves the changes, without it the file stays as it was', async () => {
    const t = await initTree('run.json');
    const before = readFileSync(t);
    const p = file('run.xml', pkgXml(get(1, './DevInfo/Man') + replace(2, './DMAcc/srvA/Name', 'Lab A') + get(3, './DMAcc/srvB/Name')));
    const dry = await dmw(['tree', 'run', '--tree', t, '--as', 'srvA', p]);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<SyncML xmlns="SYNCML:SYNCML1\.2">/);
    expect(dry.out).toContain('<Cmd>SyncHdr</Cmd>');
    expect(dry.out).toMatch(/<CmdRef>2<\/CmdRef>\s*<Cmd>Replace<\/Cmd>\s*<TargetRef>\.\/DMAcc\/srvA\/Name<\/TargetRef>\s*<Data>200<\/Data>/);
    expect(dry.out).toContain('<Data>Acme Mobile</Data>');
    expect(dry.err).toBe('dmw: 425 Get ./DMAcc/srvB/Name (CmdID 3): srvA has no Get right on ./DMAcc/srvB/Name (ACL inherited from ./DMAcc/srvB: "Add=srvB&Delete=srvB&Get=srvB&Replace=srvB")\n');
    expect(readFileSync(t).equals(before)).toBe(true);
    const wet = await dmw(['tree', 'run', '--tree', t, '--as', 'srvA', p, '--write']);
    expect(wet.code).toBe(0);
    expect(loadTreeSync(t).lookup('./DMAcc/srvA/Name')?.value).toBe('Lab A');
  });

  it('a failed Atomic leaves the saved tree byte-identical, even with --write', async () => {
    const t = await initTree('atomic.json');
    const before = readFileSync(t);
    const p = file('atomic.xml', pkgXml(atomic(1, replace(2, './DMAcc/srvA/Name', 'changed'), add(3, './DMAcc/srvA/Ext/New', 'x'), del(4, './DMAcc/srvA/Nope'), add(5, './DMAcc/srvA/Ext/Later', 'y'))));
    const r = dmwProcess(['tree', 'run', '--tree', t, '--as', 'srvA', p, '--write']); // the real binary
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/<Cmd>Atomic<\/Cmd>\s*<Data>507<\/Data>/);
    expect([...r.out.matchAll(/<Data>(\d{3})<\/Data>/g)].map((m) => m[1])).toEqual(['200', '507', '216', '216', '404', '215']);
    expect(r.err).toContain('dmw: 507 Atomic (CmdID 1): rolled back: Delete CmdID 4 failed');
    expect(r.err).toContain('dmw: 404 Delete ./DMAcc/srvA/Nope (CmdID 4): ./DMAcc/srvA/Nope does not exist');
    expect(readFileSync(t).equals(before)).toBe(true);
  });

  it('run takes WBXML (the Android vectors) and UI modes', async () => {
    const t = await initTree('wbxml.json');
    const r = await dmw(['tree', 'run', '--tree', t, '--as', 'srvA', path.join(VECTORS_DIR, 'testget.wbxml')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/<LocURI>\.\/DevDetail\/URI\/MaxDepth<\/LocURI>[\s\S]*<Format xmlns="syncml:metinf">int<\/Format>[\s\S]*<Data>20<\/Data>/);
    expect(r.err).toMatch(/has no DMAcc account with ServerID srvA|^$/);
    const ui = await dmw(['tree', 'run', '--tree', t, '--as', 'srvA', '--ui', 'timeout', path.join(VECTORS_DIR, 'testalertsinglechoice.xml')]);
    expect(ui.code).toBe(0);
    expect(ui.out).toMatch(/<Cmd>Alert<\/Cmd>\s*<Data>408<\/Data>\s*<Item>\s*<Data>2<\/Data>/);
    expect(ui.err).toContain("warning: bare '&'");
  });

  it('run prints every message of a response that spans several (the server\'s MaxMsgSize)', async () => {
    const t = await initTree('split.json');
    const gets = Array.from({ length: 40 }, (_, i) => get(i + 1, './DevInfo/Man')).join('');
    const r = await dmw(['tree', 'run', '--tree', t, '--as', 'srvA', file('split.xml', pkgXml(gets, { maxMsgSize: 2500 }))]);
    expect(r.code).toBe(0);
    const docs = r.out.split('<?xml').length - 1;
    expect(docs).toBeGreaterThan(2);
    expect(r.err).toContain(`the response spans ${docs} messages`);
    expect(r.out.match(/<Final\/>/g)).toHaveLength(1);
  });

  it('show prints a subtree with properties; --acl --as explains each right and where it comes from', async () => {
    const t = await initTree('show.json');
    const r = await dmw(['tree', 'show', t, './DMAcc/srvA/AppAuth/2', '--acl', '--as', 'srvA']);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\.\/DMAcc\/srvA\/AppAuth\/2 {2}format=node acl="" verNo=0/);
    expect(lines[1]).toBe('    srvA: Add,Delete,Get,Replace; denied Exec (ACL); rights from "Add=srvA&Delete=srvA&Get=srvA&Replace=srvA" on ./DMAcc/srvA (inherited); may change ACL: yes');
    const secret = lines.find((l) => l.includes('/AAuthSecret'))!;
    expect(secret).toContain('(hidden: no Get; --secrets shows it)');
    const secretRights = lines[lines.indexOf(secret) + 1]!;
    expect(secretRights).toContain('denied Exec (access type), Get (access type)');
    const b = await dmw(['tree', 'show', t, './DMAcc/srvA', '--acl', '--as', 'srvB']);
    expect(b.out.split('\n')[1]).toContain('srvB: no rights; denied Add (ACL), Delete (ACL), Exec (ACL), Get (ACL), Replace (ACL)');
    const plain = await dmw(['tree', 'show', t, './DMAcc/srvA/AppAuth/1/AAuthSecret', '--secrets']);
    expect(plain.out).toContain('= "pw-A"');
  });

  it('export writes TNDS; import adds it to another tree (and --replace makes it exact)', async () => {
    const a = await initTree('exp-a.json');
    const out = path.join(tmp, 'srvA.tnds.xml');
    const e = await dmw(['tree', 'export', a, './DMAcc/srvA', '-o', out]);
    expect(e.code).toBe(0);
    const tnds = readFileSync(out, 'utf8');
    expect(tnds).toMatch(/<MgmtTree xmlns="syncml:dmddf1\.2">\s*<VerDTD>1\.2<\/VerDTD>\s*<Node>\s*<NodeName>srvA<\/NodeName>\s*<Path>\.\/DMAcc<\/Path>/);
    const b = path.join(tmp, 'exp-b.json');
    expect((await dmw(['tree', 'init', '-o', b])).code).toBe(0);
    const i = await dmw(['tree', 'import', b, './DMAcc', out]);
    expect(i.err).toBe('');
    expect(i.out).toMatch(/: 2[0-9] node\(s\) created, 0 updated, 0 deleted under \.\/DMAcc/);
    const tb = loadTreeSync(b);
    const ta = loadTreeSync(a);
    for (const p of ['./DMAcc/srvA/AppAuth/1/AAuthSecret', './DMAcc/srvA/ServerID', './DMAcc/srvA/AppAddr/1/AddrType']) {
      expect(tb.describe(tb.lookup(p)!), p).toEqual({ ...ta.describe(ta.lookup(p)!), access: expect.any(Array) });
    }
    // importing again adds nothing: 418
    const again = await dmw(['tree', 'import', b, './DMAcc', out]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^dmw: .*srvA\.tnds\.xml: 418 .*already exists\n$/);
    const rep = await dmw(['tree', 'import', b, './DMAcc', out, '--replace']);
    expect(rep.code).toBe(0);
    expect(tb.get(DEVICE, './DMAcc/srvA').ok).toBe(true);
  });

  it('bad input: exit 2 and one line on stderr; the tree file is never touched', async () => {
    const t = await initTree('bad.json');
    const before = readFileSync(t);
    const cases: Array<[string[], RegExp]> = [
      [['tree', 'run', '--tree', t, '--as', 'srvA', path.join(tmp, 'nope.xml')], /^dmw: .*nope\.xml: no such file\n$/],
      [['tree', 'run', '--tree', t, '--as', 'srvA', file('broken.xml', '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>')], /^dmw: .*broken\.xml: .*line 1:\d+\n$/],
      [['tree', 'run', '--tree', file('notatree.json', '{"format":"x"}'), '--as', 'srvA', path.join(VECTORS_DIR, 'testget.wbxml')], /^dmw: .*notatree\.json: \$\.format: expected "dmw-tree"/],
      [['tree', 'import', t, './DMAcc', file('bad.tnds.xml', '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName/></Node></MgmtTree>')], /^dmw: .*bad\.tnds\.xml: MgmtTree\/Node\[1\]: Node has no NodeName \(an instance document names every node\)\n$/],
      [['tree', 'import', t, './Nope//x', file('ok.tnds.xml', '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>a</NodeName><Value>1</Value></Node></MgmtTree>')], /^dmw: .*ok\.tnds\.xml: 400 bad DM URI/],
      [['tree', 'export', t, './DMAcc/none', '-o', path.join(tmp, 'x.xml')], /^dmw: \.\/DMAcc\/none: 404 \.\/DMAcc\/none does not exist\n$/],
      [['tree', 'show', t, '--acl'], /^dmw: --acl needs --as SERVERID/],
      [['tree', 'frobnicate'], /^dmw: tree: unknown subcommand "frobnicate"/],
      [['tree', 'run', '--tree', t, '--as', 'srvA', '--ui', 'maybe', path.join(VECTORS_DIR, 'testget.wbxml')], /^dmw: --ui must be dr, timeout or none/],
    ];
    for (const [args, re] of cases) {
      const r = await dmw(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(re);
      expect(r.out, args.join(' ')).toBe('');
    }
    expect(readFileSync(t).equals(before)).toBe(true);
    // and as a process: exit status 2, one line
    const p = dmwProcess(['tree', 'run', '--tree', t, '--as', 'srvA', path.join(tmp, 'nope.xml')]);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/^dmw: .*nope\.xml: no such file\n$/);
  });
});
