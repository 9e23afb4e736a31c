import { beforeEach, describe, expect, it } from 'vitest';
import { explain } from '../../main/tree/acl.js';
import { ACCESS, DEVICE, DmTree, formatTStamp, type GetResult } from '../../main/tree/tree.js';
import { isIsoDate, isIsoTime } from '../../main/tree/values.js';
import type { TreeResult } from '../../main/tree/status.js';

/** A clock the test moves by hand (ms since the Unix epoch). */
function testClock(start = Date.UTC(2024, 0, 15, 9, 30, 0)) {
  const c = { ms: start, now: () => c.ms, tick: (s = 1) => (c.ms += s * 1000) };
  return c;
}

function value<T>(r: TreeResult<T>): T {
  if (!r.ok) throw new Error(`expected success, got ${r.status}: ${r.message}`);
  return r.value;
}

function prop(tree: DmTree, uri: string): string {
  const v = value(tree.get(DEVICE, uri));
  if (v.kind !== 'property') throw new Error('not a property');
  return v.value;
}

function leafValue(r: TreeResult<GetResult>): unknown {
  const v = value(r);
  if (v.kind !== 'leaf') throw new Error(`not a leaf: ${v.kind}`);
  return v.value;
}

describe('ACL inheritance and explain()', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = new DmTree({ rootAcl: 'Add=*&Get=*' });
    const vendor = tree.createNode(tree.root, 'Vendor', { acl: 'Add=srvA&Delete=srvA&Get=srvA+srvB&Replace=srvA' });
    const cfg = tree.createNode(vendor, 'Cfg'); // empty ACL: inherits from ./Vendor
    tree.createNode(cfg, 'Level', { format: 'int', value: '3' });
    tree.createNode(vendor, 'Locked', { format: 'chr', value: 'x', acl: 'Get=srvB' });
  });

  it('a wholly empty ACL inherits from the nearest ancestor with a value', () => {
    expect(leafValue(tree.get('srvA', './Vendor/Cfg/Level'))).toBe('3');
    expect(value(tree.replace('srvA', './Vendor/Cfg/Level', '4')).path).toBe('./Vendor/Cfg/Level');
    expect(tree.replace('srvB', './Vendor/Cfg/Level', '5').status).toBe(425);
    expect(tree.get('srvC', './Vendor/Cfg/Level').status).toBe(425);
  });

  it('a non-empty ACL is the only one that counts: no per-command merge with the parent', () => {
    // ./Vendor grants srvA everything, ./Vendor/Locked only says Get=srvB
    expect(tree.get('srvA', './Vendor/Locked').status).toBe(425);
    expect(tree.replace('srvA', './Vendor/Locked', 'y').status).toBe(425);
    expect(leafValue(tree.get('srvB', './Vendor/Locked'))).toBe('x');
  });

  it('Get of ?prop=ACL gives the node\'s own (possibly empty) value, never the inherited one', () => {
    expect(prop(tree, './Vendor/Cfg/Level?prop=ACL')).toBe('');
    expect(prop(tree, './Vendor?prop=ACL')).toBe('Add=srvA&Delete=srvA&Get=srvA+srvB&Replace=srvA');
  });

  it('explain() names the ACL that decided, where it sits and whether it was inherited', () => {
    expect(explain(tree, 'srvA', 'Get', './Vendor/Cfg/Level')).toMatchObject({
      allowed: true,
      rights: 'Add=srvA&Delete=srvA&Get=srvA+srvB&Replace=srvA',
      fromPath: './Vendor',
      inherited: true,
      status: 200,
    });
    expect(explain(tree, 'srvA', 'Get', './Vendor/Locked')).toMatchObject({
      allowed: false,
      rights: 'Get=srvB',
      fromPath: './Vendor/Locked',
      inherited: false,
      status: 425,
    });
    expect(explain(tree, 'srvZ', 'Add', './Other/New')).toMatchObject({
      allowed: true,
      path: '.',
      rights: 'Add=*&Get=*',
      fromPath: '.',
      inherited: false,
    });
    expect(explain(tree, 'srvA', 'Get', './Nope')).toMatchObject({ allowed: false, found: false, status: 404 });
  });

  it('the root ACL always has a value', () => {
    expect(() => new DmTree({ rootAcl: '' })).toThrow(/root ACL must have a value/);
    expect(tree.replace(DEVICE, '.?prop=ACL', '').status).toBe(405);
    expect(prop(tree, '.?prop=ACL')).toBe('Add=*&Get=*');
    const root = new DmTree({ rootAcl: 'Add=*&Get=*&Replace=srvA' });
    // a server may not take Add=* away from the root (TND 8.3.7.1.2)
    expect(root.replace('srvA', '.?prop=ACL', 'Add=srvA&Get=*&Replace=srvA').status).toBe(405);
    expect(value(root.replace('srvA', '.?prop=ACL', 'Add=*&Get=*&Replace=srvA+srvB')).path).toBe('.');
  });
});

describe('changing ACLs (TND 8.3.7.1.3)', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = new DmTree();
    const p = tree.createNode(tree.root, 'P', { acl: 'Get=*&Replace=parentSrv' });
    tree.createNode(p, 'Leaf', { format: 'chr', value: 'v', acl: 'Get=*&Replace=leafSrv' });
    tree.createNode(p, 'Dir', { acl: 'Get=*&Replace=dirSrv' });
  });

  it('a leaf\'s ACL changes only with Replace on its parent, not on the leaf itself', () => {
    expect(value(tree.replace('leafSrv', './P/Leaf', 'w')).path).toBe('./P/Leaf'); // the value: yes
    const r = tree.replace('leafSrv', './P/Leaf?prop=ACL', 'Get=*&Replace=leafSrv+other');
    expect(r.status).toBe(425);
    expect(!r.ok && r.message).toContain('parent');
    expect(value(tree.replace('parentSrv', './P/Leaf?prop=ACL', 'Get=*')).path).toBe('./P/Leaf');
    expect(prop(tree, './P/Leaf?prop=ACL')).toBe('Get=*');
    expect(explain(tree, 'parentSrv', 'Replace', './P/Leaf?prop=ACL')).toMatchObject({ allowed: true, fromPath: './P' });
    expect(explain(tree, 'leafSrv', 'Replace', './P/Leaf?prop=ACL')).toMatchObject({ allowed: false, status: 425 });
  });

  it('an interior node\'s ACL changes with Replace on the node or on its parent', () => {
    expect(value(tree.replace('dirSrv', './P/Dir?prop=ACL', 'Get=*&Replace=dirSrv+x')).path).toBe('./P/Dir');
    expect(value(tree.replace('parentSrv', './P/Dir?prop=ACL', 'Get=*')).path).toBe('./P/Dir');
    expect(tree.replace('nobody', './P/Dir?prop=ACL', 'Get=*').status).toBe(425);
  });

  it('refuses a malformed ACL with 400 and changes nothing', () => {
    const r = tree.replace('parentSrv', './P/Leaf?prop=ACL', 'Get=*&Copy=x');
    expect(r.status).toBe(400);
    expect(!r.ok && r.message).toContain('position 6');
    expect(prop(tree, './P/Leaf?prop=ACL')).toBe('Get=*&Replace=leafSrv');
  });
});

describe('Add', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = new DmTree();
    tree.createNode(tree.root, 'Shared', { acl: 'Add=*&Get=*&Replace=owner' });
    tree.createNode(tree.root, 'RO', { acl: 'Get=*' });
    tree.createNode(tree.root, 'Leaf', { format: 'chr', value: '' });
  });

  it('gives a new interior node Add/Delete/Replace for its creator when the creator lacks Replace on the parent', () => {
    value(tree.add('srvA', './Shared/A', { format: 'node' }));
    expect(prop(tree, './Shared/A?prop=ACL')).toBe('Add=srvA&Delete=srvA&Replace=srvA');
    // as the spec words it, the rule grants no Get: the creator must set Get itself
    expect(tree.get('srvA', './Shared/A').status).toBe(425);
    expect(value(tree.replace('srvA', './Shared/A?prop=ACL', 'Add=srvA&Delete=srvA&Get=srvA&Replace=srvA')).path).toBe('./Shared/A');
    expect(value(tree.get('srvA', './Shared/A')).kind).toBe('interior');
  });

  it('leaves the ACL empty (inherited) when the creator has Replace on the parent, and for leaves', () => {
    value(tree.add('owner', './Shared/O', { format: 'node' }));
    expect(prop(tree, './Shared/O?prop=ACL')).toBe('');
    value(tree.add('srvA', './Shared/L', { format: 'chr', value: 'x' }));
    expect(prop(tree, './Shared/L?prop=ACL')).toBe('');
  });

  it('creates missing parents on request: the first gets the creator ACL, the deeper ones inherit from it', () => {
    expect(tree.add('srvA', './Shared/X/Y/Z', { value: '1' }).status).toBe(404);
    expect(tree.lookup('./Shared/X')).toBeUndefined();
    const r = value(tree.add('srvA', './Shared/X/Y/Z', { value: '1', createParents: true }));
    expect(r.created).toEqual(['./Shared/X', './Shared/X/Y', './Shared/X/Y/Z']);
    expect(prop(tree, './Shared/X?prop=ACL')).toBe('Add=srvA&Delete=srvA&Replace=srvA');
    expect(prop(tree, './Shared/X/Y?prop=ACL')).toBe('');
    expect(prop(tree, './Shared/X/Y/Z?prop=Format')).toBe('chr');
    const byOwner = value(tree.add('owner', './Shared/M/N', { format: 'node', createParents: true }));
    expect(byOwner.created).toEqual(['./Shared/M', './Shared/M/N']);
    expect(prop(tree, './Shared/M?prop=ACL')).toBe('');
  });

  it('answers 418, 404, 405, 425 and 415 as the notes and spec say, changing nothing', () => {
    expect(tree.add('srvA', './Shared', { format: 'node' }).status).toBe(418);
    expect(tree.add('srvA', '.', { format: 'node' }).status).toBe(418);
    expect(tree.add('srvA', './Leaf/Child', { value: 'x' }).status).toBe(405);
    expect(tree.add('srvA', './RO/x', { value: 'x' }).status).toBe(425);
    // a refused implicit parent is named, as the RepPro asks for the Status Item
    expect(tree.add('srvA', './RO/p/q', { value: 'x', createParents: true })).toMatchObject({ status: 425, uri: './RO/p' });
    expect(tree.add('srvA', './Shared/n', { format: 'int', value: '12a' }).status).toBe(415);
    expect(tree.add('srvA', './Shared/n', { format: 'colour', value: 'red' }).status).toBe(415);
    expect(tree.add('srvA', './Shared/n?prop=Title', { value: 'x' }).status).toBe(405);
    expect(tree.add('srvA', './Shared/a//b', { value: 'x' }).status).toBe(400);
    // all-or-nothing: a bad value on the last node creates none of the parents
    expect(tree.add('srvA', './Shared/P/Q', { format: 'bool', value: 'yes', createParents: true }).status).toBe(415);
    expect(tree.lookup('./Shared/P')).toBeUndefined();
    expect(tree.add('srvA', './Shared/P/Q', { value: 'x', acl: 'Get=*&', createParents: true }).status).toBe(400);
    expect(tree.lookup('./Shared/P')).toBeUndefined();
  });

  it('sets an ACL given with the Add only if the creator could then change it (leaf: Replace on the parent)', () => {
    value(tree.add('srvA', './Shared/I', { format: 'node', acl: 'Get=srvA&Replace=srvA' })); // creator rule gives Replace
    expect(prop(tree, './Shared/I?prop=ACL')).toBe('Get=srvA&Replace=srvA');
    expect(tree.add('srvA', './Shared/L', { value: 'x', acl: 'Get=srvA' }).status).toBe(425);
    expect(tree.lookup('./Shared/L')).toBeUndefined();
    value(tree.add('owner', './Shared/L', { value: 'x', acl: 'Get=owner' }));
    expect(prop(tree, './Shared/L?prop=ACL')).toBe('Get=owner');
  });

  it('check() gives Exec the same existence, access-type and ACL answers', () => {
    tree.createNode(tree.root, 'Run', { format: 'chr', value: '', acl: 'Exec=srvA&Get=*', access: ACCESS.Exec | ACCESS.Get });
    expect(tree.check('srvA', 'Exec', './Run').ok).toBe(true);
    expect(tree.check('srvB', 'Exec', './Run').status).toBe(425);
    expect(tree.check('srvA', 'Exec', './Leaf').status).toBe(425);
    expect(tree.check('srvA', 'Replace', './Run').status).toBe(405);
    expect(tree.check('srvA', 'Exec', './Nope').status).toBe(404);
  });

  it('bumps the parent\'s VerNo and TStamp when a child is added or deleted (as the Android engine does)', () => {
    const before = Number(prop(tree, './Shared?prop=VerNo'));
    value(tree.add('srvA', './Shared/a', { value: '1' }));
    value(tree.add('srvA', './Shared/b', { value: '2' }));
    expect(Number(prop(tree, './Shared?prop=VerNo'))).toBe(before + 2);
    value(tree.delete(DEVICE, './Shared/a'));
    expect(Number(prop(tree, './Shared?prop=VerNo'))).toBe(before + 3);
    expect(prop(tree, '.?prop=VerNo')).toBe('0'); // grandchildren do not touch the root
  });
});

describe('Replace, values and formats', () => {
  let tree: DmTree;
  let clock: ReturnType<typeof testClock>;
  beforeEach(() => {
    clock = testClock();
    tree = new DmTree({ clock: clock.now, rootAcl: 'Add=*&Get=*&Replace=*&Delete=*' });
    tree.createNode(tree.root, 'N', { format: 'int', value: '7' });
    tree.createNode(tree.root, 'Dir');
  });

  it('increments VerNo (16-bit, wrapping) and sets TStamp on every change', () => {
    expect(prop(tree, './N?prop=VerNo')).toBe('0');
    expect(prop(tree, './N?prop=TStamp')).toBe('20240115T093000Z');
    clock.tick(65);
    value(tree.replace('srv', './N', '8'));
    expect(prop(tree, './N?prop=VerNo')).toBe('1');
    expect(prop(tree, './N?prop=TStamp')).toBe('20240115T093105Z');
    tree.setProperties(tree.lookup('./N')!, { verNo: 65535 });
    value(tree.replace('srv', './N', '9'));
    expect(prop(tree, './N?prop=VerNo')).toBe('0');
  });

  it('validates values by format and answers 415 for a value that does not fit', () => {
    expect(tree.replace('srv', './N', '2147483647').ok).toBe(true);
    expect(tree.replace('srv', './N', '2147483648').status).toBe(415);
    expect(tree.replace('srv', './N', '-2147483648').ok).toBe(true);
    expect(tree.replace('srv', './N', '1.5').status).toBe(415);
    expect(leafValue(tree.get('srv', './N'))).toBe('-2147483648');
    value(tree.add('srv', './B', { format: 'bool', value: 'true' }));
    expect(tree.replace('srv', './B', 'TRUE').status).toBe(415);
    value(tree.add('srv', './S', { format: 'b64', value: 'AAEC/w==' }));
    expect(tree.replace('srv', './S', 'AAEC/w=').status).toBe(415);
    expect(tree.replace('srv', './S', 'not base64!').status).toBe(415);
    value(tree.add('srv', './Nul', { format: 'null' }));
    expect(tree.replace('srv', './Nul', 'x').status).toBe(415);
  });

  it('changes format and type from the Replace meta; never turns a leaf into an interior node', () => {
    value(tree.replace('srv', './N', 'hello', { format: 'chr', type: 'text/x-note' }));
    expect(prop(tree, './N?prop=Format')).toBe('chr');
    expect(prop(tree, './N?prop=Type')).toBe('text/x-note');
    expect(tree.replace('srv', './N', '', { format: 'node' }).status).toBe(405);
    expect(tree.replace('srv', './Dir', 'x').status).toBe(405);
    expect(tree.replace('srv', './Missing', 'x').status).toBe(404);
  });

  it('stores bin values as bytes and reports their Size', () => {
    const bytes = new Uint8Array([0, 1, 2, 0xff]);
    value(tree.add('srv', './Blob', { format: 'bin', value: bytes, type: 'application/octet-stream' }));
    const got = leafValue(tree.get('srv', './Blob'));
    expect(got).toEqual(bytes);
    bytes[0] = 9; // the tree keeps its own copy
    expect(leafValue(tree.get('srv', './Blob'))).toEqual(new Uint8Array([0, 1, 2, 0xff]));
    expect(prop(tree, './Blob?prop=Size')).toBe('4');
    value(tree.replace('srv', './Blob', 'é'));
    expect(leafValue(tree.get('srv', './Blob'))).toEqual(new Uint8Array([0xc3, 0xa9]));
  });

  it('accepts the ISO 8601 date and time forms of testinput12 and refuses its negative cases', () => {
    for (const d of ['2005-10-15', '2005-10', '2005-258', '2005-W12-5', '2005-W02', '20050125', '200502', '2005016', '2005', '2005W205', '2005W15', '2005-10-18', '2005-345']) {
      expect(isIsoDate(d), d).toBe(true);
    }
    for (const d of ['2005-1-10', '2005-00-10', '2005-10-00', '2005-00-30', '2005-10-32', '2005-02-29', '2005-366', '2005-W54']) {
      expect(isIsoDate(d), d).toBe(false);
    }
    expect(isIsoDate('2004-02-29')).toBe(true);
    for (const t of ['23:15:25', '23:15', '231525', '2315', '23', '23:15:25Z', '23:15:59+01:20', '23:15:59-01:20', '11:38:58']) {
      expect(isIsoTime(t), t).toBe(true);
    }
    for (const t of ['24:03', '5:63', '23:63', '23:63:01', '23:33:30+01', '23:33:30+01:52:23', '23:33:30-01:52:23', '23:33:30+0152', '23:33:30+0152Z']) {
      expect(isIsoTime(t), t).toBe(false);
    }
  });
});

describe('properties (TND 8.3)', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = new DmTree({ clock: testClock().now, rootAcl: 'Add=*&Get=*&Replace=*&Delete=*' });
    const d = tree.createNode(tree.root, 'Dir', { type: 'urn:x-acme:mo:thing:1.0' });
    tree.createNode(d, 'Name', { format: 'chr', value: 'Grüße' });
    tree.createNode(d, 'Other', { format: 'chr', value: '' });
    tree.createNode(tree.root, 'Perm', { access: ACCESS.Get | ACCESS.Replace });
  });

  it('answers every supported property', () => {
    expect(prop(tree, './Dir/Name?prop=Format')).toBe('chr');
    expect(prop(tree, './Dir/Name?prop=Type')).toBe('text/plain');
    expect(prop(tree, './Dir?prop=Type')).toBe('urn:x-acme:mo:thing:1.0');
    expect(prop(tree, './Dir/Name?prop=Name')).toBe('Name');
    expect(prop(tree, './Dir/Name?prop=Size')).toBe('7'); // UTF-8 bytes, not characters
    expect(prop(tree, './Dir/Name?prop=Title')).toBe('');
    expect(prop(tree, './Dir/Name?prop=VerNo')).toBe('0');
    expect(prop(tree, './Dir/Name?prop=TStamp')).toBe(formatTStamp(tree.lookup('./Dir/Name')!.tstamp));
  });

  it('406 for an unknown property and for Size of an interior node; 405 for commands a property does not take', () => {
    expect(tree.get(DEVICE, './Dir/Name?prop=Colour').status).toBe(406);
    expect(tree.replace(DEVICE, './Dir/Name?prop=Colour', 'red').status).toBe(406);
    expect(tree.get(DEVICE, './Dir?prop=Size').status).toBe(406);
    for (const p of ['Format', 'Size', 'TStamp', 'Type', 'VerNo']) {
      expect(tree.replace('srv', `./Dir/Name?prop=${p}`, 'x').status, p).toBe(405);
    }
    expect(tree.add('srv', './Dir/Name?prop=ACL', { value: 'Get=*' }).status).toBe(405);
    expect(tree.delete('srv', './Dir/Name?prop=Title').status).toBe(405);
  });

  it('Title holds up to 255 bytes', () => {
    value(tree.replace('srv', './Dir?prop=Title', 'x'.repeat(255)));
    expect(prop(tree, './Dir?prop=Title')).toHaveLength(255);
    expect(tree.replace('srv', './Dir?prop=Title', 'é'.repeat(128)).status).toBe(413); // 256 bytes
    expect(prop(tree, './Dir?prop=Title')).toHaveLength(255);
    expect(prop(tree, './Dir?prop=VerNo')).toBe('1');
  });

  it('Replace of Name renames the node (418 on collision, 400 on a bad name, 405 for root and permanent nodes)', () => {
    const r = value(tree.replace('srv', './Dir/Name?prop=Name', 'Label'));
    expect(r.path).toBe('./Dir/Label');
    expect(tree.get('srv', './Dir/Name').status).toBe(404);
    expect(leafValue(tree.get('srv', './Dir/Label'))).toBe('Grüße');
    expect(prop(tree, './Dir/Label?prop=VerNo')).toBe('1');
    const kids = value(tree.get('srv', './Dir'));
    expect(kids.kind === 'interior' && kids.children).toEqual(['Other', 'Label']);
    expect(tree.replace('srv', './Dir/Label?prop=Name', 'Other').status).toBe(418);
    expect(tree.replace('srv', './Dir/Label?prop=Name', 'a/b').status).toBe(400);
    expect(tree.replace('srv', './Dir/Label?prop=Name', '..').status).toBe(400);
    expect(tree.replace('srv', '.?prop=Name', 'root').status).toBe(405);
    expect(tree.replace('srv', './Perm?prop=Name', 'Moved').status).toBe(405);
  });
});

describe('Get, ?list=Struct and Delete', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = new DmTree({ rootAcl: 'Add=*&Get=*' });
    const a = tree.createNode(tree.root, 'A', { acl: 'Get=srv&Delete=srv&Replace=srv&Add=srv' });
    tree.createNode(a, 'x', { format: 'int', value: '1' });
    const hidden = tree.createNode(a, 'Hidden', { acl: 'Get=other&Delete=srv' });
    tree.createNode(hidden, 'h', { format: 'chr', value: 'secret' });
    const b = tree.createNode(a, 'B');
    tree.createNode(b, 'y', { format: 'chr', value: 'why', access: ACCESS.Delete | ACCESS.Replace });
    tree.createNode(a, 'My Node', { format: 'chr', value: 'sp' });
  });

  it('Get of an interior node lists its children (URI-encoded) in tree order', () => {
    const r = value(tree.get('srv', './A'));
    expect(r).toEqual({ kind: 'interior', path: './A', format: 'node', type: '', children: ['x', 'Hidden', 'B', 'My%20Node'] });
    expect(leafValue(tree.get('srv', './A/My%20Node'))).toBe('sp');
    expect(tree.get('srv', './A/nothing').status).toBe(404);
  });

  it('?list=Struct walks pre-order and leaves out subtrees the server may not Get; StructData adds readable values', () => {
    const s = value(tree.get('srv', './A?list=Struct'));
    expect(s.kind === 'list' && s.items.map((i) => i.path)).toEqual(['./A', './A/x', './A/B', './A/B/y', './A/My%20Node']);
    expect(s.kind === 'list' && s.items.every((i) => !('value' in i))).toBe(true);
    const d = value(tree.get('srv', './A?list=StructData'));
    expect(d.kind === 'list' && d.items.map((i) => [i.path, i.value])).toEqual([
      ['./A', undefined],
      ['./A/x', '1'],
      ['./A/B', undefined],
      ['./A/B/y', undefined], // no Get in its access type: listed, value withheld
      ['./A/My%20Node', 'sp'],
    ]);
    expect(tree.get('srv', './A?list=TNDS').status).toBe(406);
    expect(tree.get('other', './A?list=Struct').status).toBe(425);
  });

  it('Delete removes the subtree only if every node in it grants Delete', () => {
    value(tree.replace(DEVICE, './A/Hidden/h?prop=ACL', 'Get=other'));
    const refused = tree.delete('srv', './A/Hidden');
    expect(refused.status).toBe(425);
    expect(!refused.ok && refused.message).toContain('./A/Hidden/h');
    expect(tree.lookup('./A/Hidden/h')).toBeDefined();
    expect(value(tree.delete('srv', './A/B')).removed).toBe(2);
    expect(tree.lookup('./A/B')).toBeUndefined();
    expect(tree.delete('srv', './A/B').status).toBe(404);
    expect(tree.delete(DEVICE, '.').status).toBe(405);
    expect(tree.delete('nobody', './A/x').status).toBe(425);
  });

  it('Copy: Get on the source, Replace on an existing target or Add on the new target\'s parent; leaves only', () => {
    value(tree.copy('srv', './A/x2', './A/x'));
    expect(leafValue(tree.get('srv', './A/x2'))).toBe('1');
    expect(prop(tree, './A/x2?prop=Format')).toBe('int');
    value(tree.copy('srv', './A/x2', './A/My%20Node'));
    expect(leafValue(tree.get('srv', './A/x2'))).toBe('sp');
    expect(tree.copy('srv', './A/c', './A/B').status).toBe(405); // interior source
    expect(tree.copy('srv', './A/c', './A/Hidden/h').status).toBe(425); // no Get on the source
    expect(tree.copy('srv', './A/c', './A/B/y').status).toBe(405); // access type: no Get/Copy
    expect(tree.copy('nobody', './A/c', './A/x').status).toBe(425);
    expect(tree.copy('srv', './Z/c', './A/x').status).toBe(404);
  });
});

describe('transactions', () => {
  it('rollback undoes the innermost level only; commit folds into the enclosing one', () => {
    const tree = new DmTree({ rootAcl: 'Add=*&Get=*&Replace=*&Delete=*' });
    tree.begin();
    value(tree.add('s', './one', { value: '1' }));
    tree.begin();
    value(tree.add('s', './two', { value: '2' }));
    tree.rollback();
    expect(tree.lookup('./two')).toBeUndefined();
    tree.begin();
    value(tree.add('s', './three', { value: '3' }));
    tree.commit();
    expect(tree.lookup('./three')).toBeDefined();
    tree.rollback();
    expect(tree.lookup('./one')).toBeUndefined();
    expect(tree.lookup('./three')).toBeUndefined();
    expect(tree.inTransaction).toBe(false);
    expect(() => tree.commit()).toThrow();
  });

  it('rollback puts deleted and renamed children back in their original order', () => {
    const tree = new DmTree({ rootAcl: 'Add=*&Get=*&Replace=*&Delete=*' });
    const p = tree.createNode(tree.root, 'P');
    for (const n of ['a', 'b', 'c', 'd']) tree.createNode(p, n, { format: 'chr', value: n });
    const names = () => [...p.children()].map((c) => c.name);
    tree.begin();
    value(tree.delete('s', './P/b'));
    value(tree.add('s', './P/b', { value: 'new b' }));
    value(tree.replace('s', './P/a?prop=Name', 'a2'));
    expect(names()).toEqual(['c', 'd', 'b', 'a2']);
    tree.rollback();
    expect(names()).toEqual(['a', 'b', 'c', 'd']);
    expect(leafValue(tree.get('s', './P/b'))).toBe('b');
  });

  it('atomically() rolls back everything when one step fails', () => {
    const tree = new DmTree({ rootAcl: 'Add=*&Get=*&Replace=*&Delete=*' });
    tree.createNode(tree.root, 'keep', { format: 'chr', value: 'k' });
    const r = tree.atomically(() => {
      value(tree.add('s', './a', { value: '1' }));
      value(tree.replace('s', './keep', 'changed'));
      return tree.add('s', './keep', { value: 'dup' }); // 418
    });
    expect(r.status).toBe(418);
    expect(tree.lookup('./a')).toBeUndefined();
    expect(leafValue(tree.get('s', './keep'))).toBe('k');
    expect(prop(tree, './keep?prop=VerNo')).toBe('0');
  });
});
