/** A finished Add/Replace goes into the server's copy of the tree (issue 18 point 6: Add shown only after Discover). */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deletedUris, writtenEntries } from '../../main/api/tree-writes.js';
import { ServerStore } from '../../main/store/server-store.js';

const job = (spec: unknown, statusCode: number | null, extra: Partial<{ status: 'done' | 'failed'; members: { cmd: string; uri: string; statusCode: number | null }[] }> = {}) => ({
  status: extra.status ?? ('done' as const), statusCode, spec, members: extra.members ?? [],
});

describe('writtenEntries', () => {
  it('takes the node and value of an Add or Replace answered 2xx', () => {
    expect(writtenEntries(job({ kind: 'add', uri: './Vendor/X', value: '7', format: 'int' }, 200))).toEqual([{ uri: './Vendor/X', format: 'int', type: null, data: '7' }]);
    expect(writtenEntries(job({ kind: 'add', uri: './Vendor/Dir', format: 'node' }, 200))).toEqual([{ uri: './Vendor/Dir', format: 'node', type: null, data: null }]);
    expect(writtenEntries(job({ kind: 'replace', uri: './Vendor/B', value: 'AAEC', format: 'bin', binary: true }, 200))).toEqual([{ uri: './Vendor/B', format: 'bin', type: null, data: 'AAEC', encoding: 'b64' }]);
  });

  it('takes nothing for a failure, a property, or a read', () => {
    expect(writtenEntries(job({ kind: 'add', uri: './Vendor/X', value: '7' }, 418))).toEqual([]);
    expect(writtenEntries(job({ kind: 'add', uri: './Vendor/X', value: '7' }, 200, { status: 'failed' }))).toEqual([]);
    expect(writtenEntries(job({ kind: 'replace', uri: './Vendor?prop=ACL', value: 'Get=*' }, 200))).toEqual([]);
    expect(writtenEntries(job({ kind: 'get', uri: './Vendor/X' }, 200))).toEqual([]);
  });

  it('takes the members of a Sequence that succeeded, and all of an Atomic that did', () => {
    const commands = [{ kind: 'add', uri: './A', format: 'node' }, { kind: 'add', uri: './A/b', value: 'x' }];
    expect(writtenEntries(job({ kind: 'sequence', commands }, 200, { members: [{ cmd: 'Add', uri: './A', statusCode: 200 }, { cmd: 'Add', uri: './A/b', statusCode: 405 }] })).map((e) => e.uri)).toEqual(['./A']);
    expect(writtenEntries(job({ kind: 'atomic', commands }, 200)).map((e) => e.uri)).toEqual(['./A', './A/b']);
    expect(writtenEntries(job({ kind: 'atomic', commands }, 507))).toEqual([]);
  });
});

describe('deletedUris and the store copy', () => {
  it('takes a Delete answered 2xx (and Delete members that succeeded), nothing for a failure', () => {
    expect(deletedUris(job({ kind: 'delete', uri: './Vendor/X' }, 200))).toEqual(['./Vendor/X']);
    expect(deletedUris(job({ kind: 'delete', uri: './Vendor/X' }, 404))).toEqual([]);
    expect(deletedUris(job({ kind: 'delete', uri: './Vendor/X' }, 200, { status: 'failed' }))).toEqual([]);
    const commands = [{ kind: 'delete', uri: './A' }, { kind: 'delete', uri: './B' }];
    expect(deletedUris(job({ kind: 'sequence', commands }, 200, { members: [{ cmd: 'Delete', uri: './A', statusCode: 200 }, { cmd: 'Delete', uri: './B', statusCode: 404 }] }))).toEqual(['./A']);
    expect(deletedUris(job({ kind: 'atomic', commands }, 507))).toEqual([]);
  });

  it('removes the node and its subtree from the server copy, not a sibling that shares its prefix', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-tree-del-'));
    const store = ServerStore.open(dir);
    try {
      const e = (uri: string) => ({ uri, format: 'chr', type: null, data: 'v' });
      store.upsertTree('IMEI:1', [e('./A'), e('./A/b'), e('./A/b/c'), e('./AB'), e('./Z')], 0);
      store.upsertTree('IMEI:2', [e('./A')], 0);
      store.removeTree('IMEI:1', './A');
      expect(store.tree('IMEI:1').map((t) => t.uri)).toEqual(['./AB', './Z']);
      expect(store.tree('IMEI:2').map((t) => t.uri)).toEqual(['./A']);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
