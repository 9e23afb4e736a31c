/**
 * DM-7/DM-8 client-app registry (main/client/apps) on a real device tree: registration and its
 * refusals (reserved roots, other apps' MOs, existing nodes, bad fields named), retrieval,
 * deregistration, and the changes apps hear when real server packages run through the command
 * processor (as the handset runs them), Exec routing included.
 */
import { describe, expect, it } from 'vitest';
import { createDeviceTree, type DmAccountSpec } from '../../main/tree/mos.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
import { processPackage, type ExecRequest } from '../../main/tree/processor/index.js';
import { AppRegistryError, ClientAppRegistry, planRegistration, type MoChange, type MoRegistration } from '../../main/client/apps/index.js';
import { add, atomic, codes, copy, del, exec, pkg, replace } from '../helpers/dm-package.js';

const CLOCK = () => Date.UTC(2024, 0, 15, 9, 30, 0);

function account(serverId: string): DmAccountSpec {
  return { serverId, addr: `https://${serverId}.example.com/dm`, clientCred: { type: 'DIGEST', name: 'dev', secret: 'pw' }, serverCred: { type: 'DIGEST', name: serverId, secret: 'srvpw' } };
}

function setup(): { tree: DmTree; apps: ClientAppRegistry; heard: MoChange[] } {
  const tree = createDeviceTree({ accounts: [account('srvA'), account('srvB')], clock: CLOCK });
  const apps = new ClientAppRegistry(tree, { now: CLOCK });
  const heard: MoChange[] = [];
  apps.subscribe((c) => heard.push(c));
  return { tree, apps, heard };
}

const VENDOR: MoRegistration = {
  appId: 'com.example.vendor',
  root: './Vendor/Acme',
  type: 'urn:acme:mo:settings:1.0',
  servers: ['srvA'],
  nodes: [
    { path: 'Volume', format: 'int', value: 5 },
    { path: 'Name', value: 'lab' },
    { path: 'Net/Proxy', value: '' },
    { path: 'Blob', format: 'bin', value: new Uint8Array([1, 2, 3]) },
    { path: 'Version', value: '1.0', access: ['Get'] },
    { path: 'Reset', format: 'node', access: ['Get', 'Exec'] },
  ],
};

/** Runs a server package as the handset does: Exec through the registry, then the change hook. */
async function serverPackage(tree: DmTree, apps: ClientAppRegistry, serverId: string, body: string) {
  const run = await processPackage(tree, pkg(body), { serverId, exec: (req) => apps.exec(req) ?? { status: 406 } });
  apps.serverCommands(run.events, { serverId, sessionId: '5' });
  return run;
}

function refusal(fn: () => unknown): AppRegistryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppRegistryError) return e;
    throw e;
  }
  throw new Error('expected an AppRegistryError');
}

describe('registration', () => {
  it('creates the MO: Type on the root, the root ACL for the chosen servers, nodes with formats, values and access types', () => {
    const { tree, apps } = setup();
    const mo = apps.register(VENDOR);
    expect(mo).toMatchObject({ appId: 'com.example.vendor', root: './Vendor/Acme', type: 'urn:acme:mo:settings:1.0', present: true, createdParents: ['./Vendor'] });
    expect(mo.acl).toBe('Add=srvA&Delete=srvA&Exec=srvA&Get=srvA&Replace=srvA');
    expect(tree.lookup('./Vendor/Acme/Volume')).toMatchObject({ format: 'int', value: '5' });
    expect(tree.lookup('./Vendor/Acme/Net')?.format).toBe('node');
    expect(tree.lookup('./Vendor/Acme/Blob')?.value).toEqual(new Uint8Array([1, 2, 3]));
    // what a server may do follows from the ACL and access types
    expect(tree.explainAccess('srvA', 'Replace', './Vendor/Acme/Name').allowed).toBe(true);
    expect(tree.explainAccess('srvB', 'Get', './Vendor/Acme/Name').allowed).toBe(false);
    expect(tree.explainAccess('srvA', 'Replace', './Vendor/Acme/Version').status).toBe(405);

    const nodes = apps.get('com.example.vendor', './Vendor/Acme');
    expect(nodes.map((n) => n.path)).toEqual([
      './Vendor/Acme', './Vendor/Acme/Volume', './Vendor/Acme/Name', './Vendor/Acme/Net', './Vendor/Acme/Net/Proxy',
      './Vendor/Acme/Blob', './Vendor/Acme/Version', './Vendor/Acme/Reset',
    ]);
    expect(apps.get('com.example.vendor', './Vendor/Acme/Name')).toMatchObject([{ path: './Vendor/Acme/Name', format: 'chr', value: 'lab' }]);
  });

  it('refuses the DM client\'s own roots, in, on or above them, naming the path', () => {
    const { tree, apps } = setup();
    for (const root of ['./DMAcc/mine', './DevInfo', './DevDetail/Ext/X', './Inbox']) {
      const e = refusal(() => apps.register({ ...VENDOR, root }));
      expect(e.code).toBe('reserved');
      expect(e.httpStatus).toBe(403);
      expect(e.message).toContain(root);
      expect(e.where.path).toBe(root);
    }
    expect(refusal(() => apps.register({ ...VENDOR, root: '.' })).message).toContain('tree root');
    expect(refusal(() => apps.register({ ...VENDOR, root: './A//B' })).where.field).toBe('root');
    // nothing was written
    expect(tree.lookup('./DMAcc/mine')).toBeUndefined();
  });

  it('refuses an MO that overlaps one another app owns, naming it and its owner', () => {
    const { apps } = setup();
    apps.register(VENDOR);
    const inside = refusal(() => apps.register({ appId: 'com.example.other', root: './Vendor/Acme/Net' }));
    expect(inside).toMatchObject({ code: 'clash', httpStatus: 409 });
    expect(inside.message).toBe('./Vendor/Acme/Net is inside ./Vendor/Acme, registered by app com.example.vendor');
    expect(refusal(() => apps.register({ appId: 'com.example.other', root: './Vendor' })).message).toBe('./Vendor contains ./Vendor/Acme, registered by app com.example.vendor');
    expect(refusal(() => apps.register({ ...VENDOR })).message).toBe('./Vendor/Acme is already registered by app com.example.vendor');
    // a sibling is fine, and shares the parent the first registration created
    expect(apps.register({ appId: 'com.example.other', root: './Vendor/Other' }).createdParents).toEqual([]);
  });

  it('an existing root no app owns: refused by default, adopted as the servers left it, or replaced', () => {
    const { tree, apps } = setup();
    const first = apps.register(VENDOR);
    tree.replace(DEVICE, './Vendor/Acme/Name', 'set-by-server');
    apps.deregister('com.example.vendor', first.root);
    // as after a restart: the nodes are in the saved tree, nobody owns them
    tree.add(DEVICE, './Vendor/Acme/Name', { value: 'kept', createParents: true });
    const e = refusal(() => apps.register(VENDOR));
    expect(e).toMatchObject({ code: 'exists', httpStatus: 409 });
    expect(e.message).toContain('./Vendor/Acme already exists');
    apps.register({ ...VENDOR, existing: 'adopt' });
    expect(tree.lookup('./Vendor/Acme/Name')?.value).toBe('kept');
    expect(tree.lookup('./Vendor/Acme/Volume')?.value).toBe('5');
    expect(tree.lookup('./Vendor/Acme')?.type).toBe('urn:acme:mo:settings:1.0');
    apps.deregister('com.example.vendor', './Vendor/Acme');
    tree.add(DEVICE, './Vendor/Acme/Stale', { value: 'x', createParents: true });
    apps.register({ ...VENDOR, existing: 'replace' });
    expect(tree.lookup('./Vendor/Acme/Stale')).toBeUndefined();
    expect(tree.lookup('./Vendor/Acme/Name')?.value).toBe('lab');
  });

  it('names the field and the path of every bad input, and writes nothing', () => {
    const { tree } = setup();
    const bad = (over: Partial<MoRegistration>) => refusal(() => planRegistration(tree, { ...VENDOR, ...over }, []));
    expect(bad({ nodes: [{ path: 'Volume', format: 'int', value: 'loud' }] })).toMatchObject({
      code: 'bad-input', where: { field: 'nodes[0].value', path: './Vendor/Acme/Volume' },
      message: 'nodes[0].value: ./Vendor/Acme/Volume: int must be a decimal integer, got "loud"',
    });
    expect(bad({ nodes: [{ path: 'A', value: 'x', acl: 'Get=' }] }).where.field).toBe('nodes[0].acl');
    expect(bad({ nodes: [{ path: 'A', value: 'x', access: ['Fly' as 'Get'] }] }).where.field).toBe('nodes[0].access[0]');
    expect(bad({ nodes: [{ path: 'A', value: 'x' }, { path: 'A', value: 'y' }] }).message).toBe('nodes[1]: ./Vendor/Acme/A is listed twice');
    expect(bad({ nodes: [{ path: 'A', value: 'x' }, { path: 'A/B', value: 'y' }] }).message).toBe('nodes[1]: ./Vendor/Acme/A/B would be a child of ./Vendor/Acme/A, which nodes[0] makes a leaf');
    expect(bad({ nodes: [{ path: './Abs' }] }).where.field).toBe('nodes[0].path');
    expect(bad({ nodes: [{ path: 'N', format: 'node', value: 'v' }] }).where.field).toBe('nodes[0].value');
    expect(bad({ nodes: [{ path: 'F', format: 'rainbow' as 'chr', value: 'v' }] }).where.field).toBe('nodes[0].format');
    expect(bad({ servers: ['ok', 'no spaces'] }).where.field).toBe('servers[1]');
    expect(bad({ servers: ['srvA'], acl: 'Get=*' }).where.field).toBe('acl');
    expect(bad({ appId: '' }).where.field).toBe('appId');
    expect(bad({ exec: { Nowhere: 7 } }).where.field).toBe('exec["Nowhere"]');
    expect(bad({ existing: 'merge' as 'adopt' }).where.field).toBe('existing');
    expect(bad({ nodes: [{ path: 'T', value: 'v', title: 'x'.repeat(256) }] }).where.field).toBe('nodes[0].title');
    expect(tree.lookup('./Vendor')).toBeUndefined();
  });

  it('an error half-way leaves the tree as it was (the registration is one transaction)', () => {
    const { tree, apps } = setup();
    tree.add(DEVICE, './Vendor/Acme/Net', { value: 'a leaf', createParents: true });
    const before = tree.countNodes();
    // adopting: Net turns out to be a leaf only after A has been created
    const e = refusal(() => apps.register({ ...VENDOR, existing: 'adopt', nodes: [{ path: 'A', value: 'x' }, { path: 'Net/Proxy', value: 'y' }] }));
    expect(e).toMatchObject({ code: 'exists', message: 'nodes[1] (implied): ./Vendor/Acme/Net exists as a chr leaf, the registration says node' });
    expect(tree.countNodes()).toBe(before);
    expect(tree.lookup('./Vendor/Acme/A')).toBeUndefined();
    expect(apps.list()).toEqual([]);
  });

  it('deregistration removes the subtree and the parents it created once empty; only the owner may', () => {
    const { tree, apps } = setup();
    apps.register(VENDOR);
    apps.register({ appId: 'com.example.other', root: './Vendor/Other', nodes: [{ path: 'X', value: '1' }] });
    expect(refusal(() => apps.deregister('com.example.other', './Vendor/Acme'))).toMatchObject({ code: 'not-owner', message: 'root: ./Vendor/Acme is registered by app com.example.vendor, not com.example.other' });
    expect(refusal(() => apps.deregister('com.example.vendor', './Vendor/Nope'))).toMatchObject({ code: 'not-found', httpStatus: 404 });
    expect(apps.deregister('com.example.vendor', './Vendor/Acme')).toEqual({ root: './Vendor/Acme', removed: 8 });
    expect(tree.lookup('./Vendor/Acme')).toBeUndefined();
    expect(tree.lookup('./Vendor/Other/X')).toBeDefined(); // ./Vendor still holds another MO
    apps.deregister('com.example.other', './Vendor/Other');
    // ./Vendor was created by the first registration, which is gone: it stays (not ours to prune)
    expect(apps.list()).toEqual([]);
  });

  it('retrieval and local writes are limited to the app\'s own MOs; local writes are not changes', () => {
    const { apps, heard } = setup();
    apps.register(VENDOR);
    apps.register({ appId: 'com.example.other', root: './Other' });
    expect(refusal(() => apps.get('com.example.other', './Vendor/Acme/Name'))).toMatchObject({ code: 'not-owner', message: 'path: ./Vendor/Acme/Name is in ./Vendor/Acme, which app com.example.vendor owns, not com.example.other' });
    expect(refusal(() => apps.get('com.example.vendor', './DMAcc'))).toMatchObject({ code: 'not-found' });
    expect(apps.setValue('com.example.vendor', './Vendor/Acme/Volume', 7)).toMatchObject({ value: '7', format: 'int' });
    expect(refusal(() => apps.setValue('com.example.vendor', './Vendor/Acme/Volume', 'x')).where).toEqual({ field: 'value', path: './Vendor/Acme/Volume' });
    expect(refusal(() => apps.setValue('com.example.vendor', './Vendor/Acme/Net', 'x')).message).toContain('interior node');
    expect(heard).toEqual([]);
  });

  it('writes wait for a server Atomic: an open transaction makes them busy (503), not journalled', () => {
    const { tree, apps } = setup();
    apps.register(VENDOR);
    tree.begin();
    expect(refusal(() => apps.register({ appId: 'x', root: './X' }))).toMatchObject({ code: 'busy', httpStatus: 503 });
    expect(refusal(() => apps.setValue('com.example.vendor', './Vendor/Acme/Name', 'y')).code).toBe('busy');
    tree.rollback();
  });
});

describe('changes servers make (DM-8)', () => {
  it('Replace, Add, Copy, Delete and a property change by a server reach the owning app with ServerID, path and new value', async () => {
    const { tree, apps, heard } = setup();
    const own: MoChange[] = [];
    apps.register(VENDOR, (c) => own.push(c));
    const run = await serverPackage(tree, apps, 'srvA', [
      replace(2, './Vendor/Acme/Volume', '9', 'int'),
      add(3, './Vendor/Acme/Net/Port', '8080', 'int'),
      copy(4, './Vendor/Acme/Net/Proxy', './Vendor/Acme/Name'),
      del(5, './Vendor/Acme/Net/Port'),
      replace(6, './Vendor/Acme/Name?prop=Title', 'Device name'),
      replace(7, './DevInfo/Lang', 'fr'), // not an app's: nobody hears it (and it is refused anyway)
    ].join(''));
    expect(codes(run.messages).slice(0, 5)).toEqual([
      'Replace 2 ./Vendor/Acme/Volume -> 200', 'Add 3 ./Vendor/Acme/Net/Port -> 200', 'Copy 4 ./Vendor/Acme/Net/Proxy <./Vendor/Acme/Name -> 200',
      'Delete 5 ./Vendor/Acme/Net/Port -> 200', 'Replace 6 ./Vendor/Acme/Name?prop=Title -> 200',
    ]);
    expect(own).toEqual(heard);
    expect(heard.map((c) => [c.seq, c.command, c.path])).toEqual([
      [1, 'Replace', './Vendor/Acme/Volume'], [2, 'Add', './Vendor/Acme/Net/Port'], [3, 'Copy', './Vendor/Acme/Net/Proxy'],
      [4, 'Delete', './Vendor/Acme/Net/Port'], [5, 'Replace', './Vendor/Acme/Name?prop=Title'],
    ]);
    expect(heard[0]).toMatchObject({ appId: 'com.example.vendor', mo: './Vendor/Acme', serverId: 'srvA', sessionId: '5', status: 200, format: 'int', value: '9', at: '2024-01-15T09:30:00.000Z' });
    // the value is the one after the whole message: Port was deleted later in it
    expect(heard[1]).not.toHaveProperty('value');
    expect(heard[2]).toMatchObject({ source: './Vendor/Acme/Name', value: 'lab', format: 'chr' });
    expect(heard[3]).not.toHaveProperty('moDeleted');
    expect(heard[4]).toMatchObject({ property: { name: 'Title', value: 'Device name' } });
  });

  it('nothing is heard for refused commands, for a rolled-back Atomic, or for another server\'s denied attempt', async () => {
    const { tree, apps, heard } = setup();
    apps.register(VENDOR);
    await serverPackage(tree, apps, 'srvB', replace(2, './Vendor/Acme/Name', 'intruder'));
    await serverPackage(tree, apps, 'srvA', replace(2, './Vendor/Acme/Version', '2.0') + atomic(3, replace(4, './Vendor/Acme/Name', 'a'), replace(5, './Vendor/Acme/Missing', 'b')));
    expect(tree.lookup('./Vendor/Acme/Name')?.value).toBe('lab');
    expect(heard).toEqual([]);
  });

  it('a Delete of an ancestor takes the whole MO: the app hears it with moDeleted, the registration stays', async () => {
    const { tree, apps, heard } = setup();
    apps.register({ ...VENDOR, servers: undefined, acl: 'Get=*&Delete=srvA' });
    tree.setProperties(tree.lookup('./Vendor')!, { acl: 'Delete=srvA&Get=*' });
    await serverPackage(tree, apps, 'srvA', del(2, './Vendor'));
    expect(heard).toMatchObject([{ command: 'Delete', path: './Vendor', mo: './Vendor/Acme', moDeleted: true }]);
    expect(apps.list()).toMatchObject([{ root: './Vendor/Acme', present: false }]);
  });

  it('Exec on an app\'s node runs its handler (with the server, Correlator and data) and is heard; unbound targets answer 406', async () => {
    const { tree, apps, heard } = setup();
    const calls: ExecRequest[] = [];
    apps.register({ ...VENDOR, exec: { Reset: (req) => (calls.push(req), { status: 202 }), '': 200 } });
    const body = `<Exec><CmdID>2</CmdID><Correlator>job-42</Correlator><Item><Target><LocURI>./Vendor/Acme/Reset</LocURI></Target><Data>factory</Data></Item></Exec>`
      + exec(3, './Vendor/Acme') + exec(4, './Vendor/Acme/Net') + exec(5, './DevInfo');
    const run = await serverPackage(tree, apps, 'srvA', body);
    expect(codes(run.messages)).toEqual(['Exec 2 ./Vendor/Acme/Reset -> 202', 'Exec 3 ./Vendor/Acme -> 200', 'Exec 4 ./Vendor/Acme/Net -> 406', 'Exec 5 ./DevInfo -> 405']);
    expect(calls).toMatchObject([{ path: './Vendor/Acme/Reset', serverId: 'srvA', correlator: 'job-42', data: 'factory' }]);
    expect(run.events.find((e) => e.cmdId === '4')?.message).toBe('./Vendor/Acme/Net is in ./Vendor/Acme (app com.example.vendor), which has no Exec handler for it');
    expect(heard).toMatchObject([
      { command: 'Exec', path: './Vendor/Acme/Reset', status: 202, exec: { correlator: 'job-42', data: 'factory' } },
      { command: 'Exec', path: './Vendor/Acme', status: 200 },
    ]);
    expect(heard[1]!.exec).toEqual({});
  });

  it('keeps a bounded history for replay, reports truncation, and long polls wake on a change or time out', async () => {
    const tree = createDeviceTree({ accounts: [account('srvA')], clock: CLOCK });
    const apps = new ClientAppRegistry(tree, { historyLimit: 2 });
    apps.register(VENDOR);
    apps.register({ appId: 'com.example.other', root: './Other', servers: ['srvA'], nodes: [{ path: 'X', value: '0' }] });
    const waiting = apps.waitForChanges(0, 'com.example.other', 5000);
    await serverPackage(tree, apps, 'srvA', replace(2, './Vendor/Acme/Name', 'a') + replace(3, './Vendor/Acme/Name', 'b') + replace(4, './Other/X', '1'));
    expect((await waiting).changes.map((c) => c.path)).toEqual(['./Other/X']);
    expect(apps.changesSince(0)).toMatchObject({ last: 3, truncated: true, changes: [{ seq: 2 }, { seq: 3 }] });
    expect(apps.changesSince(1).truncated).toBe(false);
    const t0 = Date.now();
    expect(await apps.waitForChanges(3, undefined, 30)).toMatchObject({ changes: [], last: 3 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('a listener that throws does not stop the others or the session', async () => {
    const { tree, apps, heard } = setup();
    apps.register(VENDOR, () => {
      throw new Error('app bug');
    });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const run = await serverPackage(tree, apps, 'srvA', replace(2, './Vendor/Acme/Name', 'x'));
      expect(codes(run.messages)).toEqual(['Replace 2 ./Vendor/Acme/Name -> 200']);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(heard).toHaveLength(1);
    expect(warnings.some((w) => w.includes('app bug'))).toBe(true);
  });
});
