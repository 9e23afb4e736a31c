/**
 * Bootstrap profiles -> DM bootstrap messages: field validation naming the field, the DMAcc node
 * list, both forms (Add items and TNDS), the tree check, WBXML round trip (and libwbxml's reading
 * of it when installed), diff, the profile store, and the `dmw bootstrap` CLI.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMessage } from '../../main/protocol/codec.js';
import { ProfileError, parseProfile, validateProfile, type BootstrapProfile } from '../../main/bootstrap/profile.js';
import { BootstrapBuildError, bootstrapNodes, buildBootstrap, buildBootstrapMessage } from '../../main/bootstrap/message.js';
import { decodeBootstrap, diffAgainstProfile, formatDiff, provisionedNodes } from '../../main/bootstrap/diff.js';
import { ProfileStore } from '../../main/bootstrap/store.js';
import { main } from '../../main/cli/main.js';
import { REPO_ROOT, haveTool, run } from '../helpers/tools.js';

const FIXTURE = join(REPO_ROOT, 'test/fixtures/bootstrap/lab-profile.json');
const lab = (): BootstrapProfile => parseProfile(readFileSync(FIXTURE, 'utf8'), 'lab-profile.json');
const minimal = (): Record<string, unknown> => ({
  serverId: 'lab.dm',
  address: 'http://127.0.0.1:8080/dm',
  clientCredential: { name: 'dev', secret: 'c' },
  serverCredential: { name: 'lab.dm', secret: 's' },
});

function fieldErrors(input: unknown): string[] {
  try {
    validateProfile(input, 'p.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return (e as ProfileError).errors.map((x) => x.field);
  }
  return [];
}

describe('profile validation', () => {
  it('accepts the lab fixture and a minimal profile', () => {
    expect(lab().serverId).toBe('com.example.dm');
    expect(fieldErrors(minimal())).toEqual([]);
  });

  it('names every bad field, not only the first', () => {
    const p = { ...minimal(), serverId: 'bad id', port: 70000, addrType: 'X25', clientCredential: { name: 'dev' }, serverCredential: 'nope' };
    expect(fieldErrors(p).sort()).toEqual(['addrType', 'clientCredential.secret', 'port', 'serverCredential', 'serverId']);
  });

  it('checks the address against its type', () => {
    expect(fieldErrors({ ...minimal(), address: 'ftp://x/dm' })).toEqual(['address']);
    expect(fieldErrors({ ...minimal(), address: 'not a uri' })).toEqual(['address']);
    expect(fieldErrors({ ...minimal(), address: '10.1.2.3', addrType: 'IPv4' })).toEqual([]);
    expect(fieldErrors({ ...minimal(), address: '10.1.2', addrType: 'IPv4' })).toEqual(['address']);
    expect(fieldErrors({ ...minimal(), address: '+3312345678', addrType: 'E164' })).toEqual([]);
  });

  it('refuses unknown fields with a suggestion, bad nonces, bad URIs and bad extra nodes', () => {
    let msg = '';
    try {
      validateProfile({ ...minimal(), adress: 'x' }, 'p.json');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('p.json: adress: unknown field (did you mean "address"?)');
    expect(fieldErrors({ ...minimal(), clientCredential: { name: 'd', secret: 's', data: 'not base64!' } })).toEqual(['clientCredential.data']);
    expect(fieldErrors({ ...minimal(), clientCredential: { name: 'd', secret: 's', type: 'MD5' } })).toEqual(['clientCredential.type']);
    expect(fieldErrors({ ...minimal(), connectivity: { prefConRef: './A//B' } })).toEqual(['connectivity.prefConRef']);
    expect(fieldErrors({ ...minimal(), account: 'a/b' })).toEqual(['account']);
    expect(fieldErrors({ ...minimal(), extraNodes: [{ uri: './X/Y', format: 'int', value: 'abc' }, { uri: '/abs' }, { uri: './Z', format: 'xyz' }] })).toEqual([
      'extraNodes[0].value',
      'extraNodes[1].uri',
      'extraNodes[2].format',
    ]);
  });

  it('reports JSON syntax errors with the file name', () => {
    expect(() => parseProfile('{ "serverId": ', 'broken.json')).toThrow(/^broken\.json: \$: not JSON/);
  });
});

describe('bootstrap message', () => {
  it('lists the DMAcc nodes, parents first', () => {
    const nodes = bootstrapNodes(lab());
    const uris = nodes.map((n) => n.uri);
    expect(uris[0]).toBe('./DMAcc/ExampleDM');
    for (const n of nodes) {
      const parent = n.uri.slice(0, n.uri.lastIndexOf('/'));
      if (n.uri.startsWith('./DMAcc/ExampleDM/')) expect(uris.indexOf(parent)).toBeLessThan(uris.indexOf(n.uri));
    }
    const v = (u: string): string | undefined => nodes.find((n) => n.uri === `./DMAcc/ExampleDM/${u}`)?.value;
    expect(v('AppID')).toBe('w7');
    expect(v('AppAddr/1/Addr')).toBe('https://dm.example.com:8443/dm');
    expect(v('AppAddr/1/Port/1/PortNbr')).toBe('8443');
    expect(v('AppAuth/1/AAuthLevel')).toBe('CLCRED');
    expect(v('AppAuth/2/AAuthLevel')).toBe('SRVCRED');
    expect(v('AppAuth/2/AAuthSecret')).toBe('server-secret-01');
    expect(v('ToConRef/1/ConRef')).toBe('./ConnMO/LabAPN');
    expect(nodes.find((n) => n.uri === './DMAcc/ExampleDM/AppAuth/1/AAuthData')?.format).toBe('b64');
  });

  it('encodes to WBXML that decodes to the same message (Add form)', () => {
    const b = buildBootstrap(lab());
    expect(Array.from(b.wbxml.subarray(0, 5))).toEqual([0x02, 0xa4, 0x01, 0x6a, 0x00]);
    const d = decodeMessage(b.wbxml);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.message.body.commands.map((c) => c.kind)).toEqual(['Add', 'Add']);
    expect(d.value.message.body.final).toBe(true);
    expect(provisionedNodes(d.value.message).length).toBe(b.nodes.length);
    expect(b.xml).toContain('<LocURI>./DMAcc/ExampleDM/AppAuth/1/AAuthName</LocURI>');
  });

  it('builds the TNDS form: one MgmtTree under ./DMAcc, readable back as the same nodes', () => {
    const p = { ...lab(), form: 'tnds' as const };
    const b = buildBootstrap(p);
    expect(b.xml).toContain('application/vnd.syncml.dmtnds+xml');
    expect(b.xml).toContain('<NodeName>ExampleDM</NodeName>');
    const msg = decodeBootstrap(b.wbxml);
    expect(diffAgainstProfile(msg, p)).toEqual([]);
  });

  it('builds a Replace bootstrap of the leaves only', () => {
    const p = { ...lab(), operation: 'Replace' as const };
    const msg = buildBootstrapMessage(p);
    expect(msg.body.commands[0]!.kind).toBe('Replace');
    const nodes = provisionedNodes(msg).filter((n) => n.command === 'Replace');
    expect(nodes.every((n) => n.format !== 'node')).toBe(true);
    expect(diffAgainstProfile(msg, p)).toEqual([]);
  });

  it('refuses what a handset tree would refuse, naming the profile field', () => {
    const tooLong = { ...lab(), extraNodes: [{ uri: `./Vendor/${'x'.repeat(100)}/${'y'.repeat(100)}/${'z'.repeat(100)}`, format: 'chr', value: 'v' }] };
    expect(() => buildBootstrapMessage(tooLong)).toThrow(BootstrapBuildError);
    expect(() => buildBootstrapMessage(tooLong)).toThrow(/^extraNodes\[0\]: .*MaxTotLen is 255/);
    const other = { ...lab(), extraNodes: [{ uri: './DMAcc/Other/ServerID', format: 'chr', value: 'x' }] };
    expect(() => buildBootstrapMessage(other)).toThrow(/extraNodes\[0\]: .*another DMAcc account/);
    const dup = { ...lab(), extraNodes: [{ uri: './DMAcc/ExampleDM/Name', format: 'chr', value: 'x' }] };
    expect(() => buildBootstrapMessage(dup)).toThrow(/extraNodes\[0\]: .*given twice/);
  });

  it('is read by libwbxml as the same document (when libwbxml2-utils is installed)', () => {
    if (!haveTool('wbxml2xml')) return;
    const dir = mkdtempSync(join(tmpdir(), 'dmw-boot-'));
    try {
      const f = join(dir, 'b.wbxml');
      writeFileSync(f, buildBootstrap(lab()).wbxml);
      const xml = run('wbxml2xml', ['-o', '-', f]).toString();
      expect(xml).toContain('./DMAcc/ExampleDM/AppAuth/2/AAuthSecret');
      expect(xml).toContain('server-secret-01');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('diff', () => {
  it('shows changed values (secrets masked), missing and extra nodes', () => {
    const onCard = buildBootstrapMessage(lab());
    const want = { ...lab(), address: 'https://other.example.com/dm', serverCredential: { ...lab().serverCredential, secret: 'new-secret' }, extraNodes: [] };
    const d = diffAgainstProfile(onCard, { ...want, port: undefined } as BootstrapProfile);
    const kinds = d.map((x) => `${x.kind} ${x.uri}`);
    expect(kinds).toContain('value ./DMAcc/ExampleDM/AppAddr/1/Addr');
    expect(kinds).toContain('value ./DMAcc/ExampleDM/AppAuth/2/AAuthSecret');
    expect(kinds).toContain('extra-on-card ./DMAcc/ExampleDM/AppAddr/1/Port/1/PortNbr');
    expect(kinds).toContain('extra-on-card ./Vendor/Lab/Mode');
    const text = formatDiff(d);
    expect(text).toContain('~ ./DMAcc/ExampleDM/AppAuth/2/AAuthSecret: card ***, profile ***');
    expect(text).not.toContain('new-secret');
    expect(formatDiff(d, { showSecrets: true })).toContain('new-secret');
    expect(formatDiff([])).toMatch(/no differences/);
  });
});

describe('profile store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dmw-profiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves (owner-only), lists, loads and deletes; refuses bad ids and bad profiles', () => {
    const store = new ProfileStore(join(dir, 'profiles'));
    const f = store.save('lab-1', lab());
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(store.list()).toEqual(['lab-1']);
    expect(store.get('lab-1')).toEqual(lab());
    expect(() => store.save('../x', lab())).toThrow(/not a profile id/);
    expect(() => store.save('bad', { ...lab(), port: -1 })).toThrow(/port/);
    expect(store.delete('lab-1')).toBe(true);
    expect(store.get('lab-1')).toBeUndefined();
  });
});

describe('dmw bootstrap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dmw-bootcli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = process.stdout.write.bind(process.stdout);
    const e = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((c: string | Uint8Array) => ((out += typeof c === 'string' ? c : Buffer.from(c).toString('latin1')), true)) as typeof process.stdout.write;
    process.stderr.write = ((c: string | Uint8Array) => ((err += typeof c === 'string' ? c : Buffer.from(c).toString()), true)) as typeof process.stderr.write;
    try {
      const code = await main(argv);
      return { code, out, err };
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
  }

  it('build -o writes the WBXML, --xml prints the preview', async () => {
    const out = join(dir, 'b.wbxml');
    const r = await cli(['bootstrap', 'build', FIXTURE, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/b\.wbxml: \d+ bytes WBXML, 30 nodes, \.\/DMAcc\/ExampleDM/);
    expect(Buffer.compare(readFileSync(out), Buffer.from(buildBootstrap(lab()).wbxml))).toBe(0);
    const x = await cli(['bootstrap', 'build', FIXTURE, '--xml']);
    expect(x.out).toContain('<SyncML xmlns="SYNCML:SYNCML1.2">');
  });

  it('bad profiles exit 2 with one line naming the file and the fields', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...minimal(), port: 0, clientCredential: { name: 'x' } }));
    const r = await cli(['bootstrap', 'build', bad, '-o', join(dir, 'x.wbxml')]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`dmw: ${bad}: port: must be an integer 1..65535, got 0; clientCredential.secret: required\n`);
    const none = await cli(['bootstrap', 'build', join(dir, 'missing.json'), '--xml']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/missing\.json: no such file/);
  });

  it('diff exits 0 when equal and 1 when not', async () => {
    const out = join(dir, 'c.wbxml');
    await cli(['bootstrap', 'build', FIXTURE, '-o', out]);
    expect((await cli(['bootstrap', 'diff', out, FIXTURE])).code).toBe(0);
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ ...JSON.parse(readFileSync(FIXTURE, 'utf8')), name: 'Renamed' }));
    const r = await cli(['bootstrap', 'diff', out, other]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('~ ./DMAcc/ExampleDM/Name: card "Example DM (lab)", profile "Renamed"');
  });
});
