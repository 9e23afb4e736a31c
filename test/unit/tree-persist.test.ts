import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeviceTree } from '../../main/tree/mos.js';
import { TreeFileError, deserializeTree, loadTree, loadTreeSync, saveTree, saveTreeSync, serializeTree } from '../../main/tree/persist.js';
import type { TreeResult } from '../../main/tree/status.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';

function value<T>(r: TreeResult<T>): T {
  if (!r.ok) throw new Error(`expected success, got ${r.status}: ${r.message}`);
  return r.value;
}

function fixedClock(): { now: () => number; tick: () => void } {
  let ms = Date.UTC(2024, 5, 1, 12, 0, 0);
  return { now: () => ms, tick: () => void (ms += 61_000) };
}

function sampleTree(clock: { now: () => number }): DmTree {
  const tree = createDeviceTree({
    clock: clock.now,
    accounts: [
      { serverId: 'srvA', addr: 'https://a.example.com/dm', port: 443, clientCred: { name: 'dev', secret: 'cs' }, serverCred: { name: 'srvA', secret: 'ss', data: 'AAEC' } },
      { serverId: 'srvB', clientCred: { name: 'dev', secret: 'cs' }, serverCred: { name: 'srvB', secret: 'ss' } },
    ],
  });
  const v = tree.createNode(tree.root, 'Vendor', { acl: 'Add=*&Delete=*&Get=*&Replace=srvA+srvB', title: 'Vendor settings' });
  for (const n of ['a', 'b', 'c', 'd']) tree.createNode(v, n, { format: 'int', value: String(n.charCodeAt(0)) });
  tree.createNode(v, 'Blob', { format: 'bin', value: new Uint8Array([0, 255, 10, 13]) });
  tree.createNode(v, 'Nothing', { format: 'null' });
  tree.createNode(v, 'When', { format: 'date', value: '2005-10-18' });
  return tree;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dmw-tree-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('save and load', () => {
  it('round-trips: load(save(tree)) saves to the same bytes and has the same nodes', async () => {
    const clock = fixedClock();
    const tree = sampleTree(clock);
    const file = join(dir, 'tree.json');
    await saveTree(tree, file);
    const first = readFileSync(file);
    const loaded = await loadTree(file, { clock: clock.now });
    await saveTree(loaded, file);
    expect(readFileSync(file).equals(first)).toBe(true);
    const all = (t: DmTree) => {
      const out: unknown[] = [];
      t.walk(t.root, (n) => void out.push(t.describe(n)));
      return out;
    };
    expect(all(loaded)).toEqual(all(tree));
    expect(all(loaded).length).toBeGreaterThan(60);
    const blob = value(loaded.get('srvA', './Vendor/Blob'));
    expect(blob.kind === 'leaf' && blob.value).toEqual(new Uint8Array([0, 255, 10, 13]));
    expect(loaded.limits).toEqual(tree.limits);
    // the secret access types survive the file
    expect(loaded.get('srvA', './DMAcc/srvA/AppAuth/2/AAuthSecret').status).toBe(405);
  });

  it('writes through a temporary file and leaves nothing else behind', () => {
    const tree = sampleTree(fixedClock());
    const file = join(dir, 'tree.json');
    writeFileSync(file, 'old contents');
    const n = saveTreeSync(tree, file);
    expect(readdirSync(dir)).toEqual(['tree.json']);
    expect(readFileSync(file).length).toBe(n);
    expect(loadTreeSync(file).lookup('./Vendor/When')?.value).toBe('2005-10-18');
  });

  it('refuses to save while a transaction is open', () => {
    const tree = sampleTree(fixedClock());
    tree.begin();
    expect(() => saveTreeSync(tree, join(dir, 't.json'))).toThrow(/transaction is open/);
    tree.rollback();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('a failed Atomic leaves the tree and its file byte-identical', () => {
  it('after add, replace, ACL and Title changes, rename, delete (with child order), purge: rollback restores every byte', () => {
    const clock = fixedClock();
    const tree = sampleTree(clock);
    const file = join(dir, 'device.json');
    saveTreeSync(tree, file);
    const before = readFileSync(file);
    const order = () => {
      const r = value(tree.get(DEVICE, './Vendor'));
      return r.kind === 'interior' ? r.children : [];
    };
    const orderBefore = order();

    clock.tick();
    tree.begin();
    value(tree.add('srvA', './Vendor/New/Deep', { value: 'x', createParents: true }));
    value(tree.replace('srvA', './Vendor/a', '1000'));
    value(tree.replace('srvA', './Vendor/Blob', new Uint8Array([1, 2])));
    value(tree.replace('srvA', './Vendor/b?prop=ACL', 'Delete=srvA&Get=srvA'));
    value(tree.replace('srvA', './Vendor/c?prop=Title', 'renamed soon'));
    value(tree.replace('srvA', './Vendor/c?prop=Name', 'c2'));
    value(tree.delete('srvA', './Vendor/b')); // a middle child: the order must come back too
    value(tree.delete(DEVICE, './DMAcc/srvB')); // purges srvB from ./Vendor's ACL
    value(tree.delete(DEVICE, './DevInfo/Man')); // a middle child of a parent not otherwise touched
    value(tree.copy('srvA', './Vendor/d', './Vendor/When'));
    tree.setAccess(tree.lookup('./Vendor/d')!, 0);
    expect(serializeTree(tree)).not.toBe(before.toString('utf8'));
    expect(value(tree.get(DEVICE, './Vendor?prop=ACL'))).toMatchObject({ value: 'Add=*&Delete=*&Get=*&Replace=srvA' });
    // the second half of the Atomic fails: the processor rolls everything back
    expect(tree.add('srvA', './Vendor/a', { value: '1' }).status).toBe(418);
    tree.rollback();

    expect(order()).toEqual(orderBefore);
    saveTreeSync(tree, file);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('bad tree files', () => {
  function fileError(text: string): TreeFileError {
    try {
      deserializeTree(text, '/data/device.json');
    } catch (e) {
      if (e instanceof TreeFileError) return e;
      throw e;
    }
    throw new Error('expected a TreeFileError');
  }

  const good = () => JSON.parse(serializeTree(sampleTree(fixedClock())));

  it('names the file and the JSON path of the fault', () => {
    const notJson = fileError('{"format": ');
    expect(notJson.file).toBe('/data/device.json');
    expect(notJson.jsonPath).toBe('$');
    expect(notJson.message).toMatch(/^\/data\/device\.json: \$: not JSON/);

    const doc = good();
    doc.root.children[0].children[1].format = 'string';
    const e = fileError(JSON.stringify(doc));
    expect(e.jsonPath).toBe('$.root.children[0].children[1].format');
    expect(e.message).toContain('/data/device.json: $.root.children[0].children[1].format');

    const acl = good();
    acl.root.children[2].children[0].acl = 'Get=srvA&';
    expect(fileError(JSON.stringify(acl)).jsonPath).toBe('$.root.children[2].children[0].acl');

    const dup = good();
    dup.root.children[0].children[1].name = dup.root.children[0].children[0].name;
    expect(fileError(JSON.stringify(dup))).toMatchObject({ jsonPath: '$.root.children[0].children[1].name' });

    const val = good();
    const vendor = val.root.children.find((c: { name: string }) => c.name === 'Vendor');
    const vi = val.root.children.indexOf(vendor);
    vendor.children[0].value = 'ninety-seven';
    expect(fileError(JSON.stringify(val))).toMatchObject({ jsonPath: `$.root.children[${vi}].children[0].value` });

    const ts = good();
    ts.root.tstamp = '2024-06-01T12:00:00Z';
    expect(fileError(JSON.stringify(ts))).toMatchObject({ jsonPath: '$.root.tstamp' });

    const key = good();
    key.root.children[0].colour = 'red';
    expect(fileError(JSON.stringify(key))).toMatchObject({ jsonPath: '$.root.children[0].colour' });

    const ver = good();
    ver.version = 99;
    expect(fileError(JSON.stringify(ver))).toMatchObject({ jsonPath: '$.version' });

    const root = good();
    root.root.acl = '';
    expect(fileError(JSON.stringify(root))).toMatchObject({ jsonPath: '$.root.acl' });
  });

  it('a missing file is a TreeFileError too', async () => {
    await expect(loadTree(join(dir, 'nope.json'))).rejects.toMatchObject({ name: 'TreeFileError', jsonPath: '$' });
  });
});
