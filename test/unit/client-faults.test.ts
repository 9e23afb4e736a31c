/**
 * The fault hooks on their own, without a server: the processor faults (ignore-atomic-rollback,
 * skip-acl) through real packages, and each outgoing fault as the rewrite it makes, on a message a
 * correct handset built. A correct processor and an empty fault set change nothing.
 */
import { describe, expect, it } from 'vitest';
import { createDeviceTree } from '../../main/tree/mos.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
import type { Command, Status, SyncML } from '../../main/protocol/model.js';
import { applyOutgoingFaults, parseFaults, processorFaults, withoutMaxMsgSize, type FaultName } from '../../main/client/faults.js';
import { atomic, codes, del, get, replace, runPkg } from '../helpers/dm-package.js';

function tree(): DmTree {
  const t = createDeviceTree({});
  const vendor = t.createNode(t.root, 'Vendor', { acl: 'Get=*&Replace=srvA' });
  t.createNode(vendor, 'A', { format: 'chr', value: 'a' });
  t.createNode(vendor, 'Locked', { format: 'chr', value: 'kept', acl: 'Get=*' });
  return t;
}

const value = (t: DmTree, uri: string) => t.lookup(uri)?.value;

describe('processor faults', () => {
  it('ignore-atomic-rollback: the Atomic with a failing member is 200 and keeps what succeeded; without it 507/216 and rolled back', async () => {
    const pkg = atomic(1, replace(2, './Vendor/A', 'z'), replace(3, './Vendor/Missing', 'q'));
    const good = tree();
    expect(codes((await runPkg(good, pkg, { serverId: 'srvA' })).reply)).toEqual(['Atomic 1 -> 507', 'Replace 2 ./Vendor/A -> 216', 'Replace 3 ./Vendor/Missing -> 404']);
    expect(value(good, './Vendor/A')).toBe('a');
    const bad = tree();
    expect(codes((await runPkg(bad, pkg, { serverId: 'srvA', faults: { ignoreAtomicRollback: true } })).reply)).toEqual(['Atomic 1 -> 200', 'Replace 2 ./Vendor/A -> 200', 'Replace 3 ./Vendor/Missing -> 404']);
    expect(value(bad, './Vendor/A')).toBe('z');
  });

  it('skip-acl: a Replace and a Delete the ACL forbids are executed; without it 425', async () => {
    const pkg = replace(1, './Vendor/Locked', 'changed') + del(2, './Vendor/A') + get(3, './Vendor/Locked');
    const good = tree();
    expect(codes((await runPkg(good, pkg, { serverId: 'srvA' })).reply)).toEqual(['Replace 1 ./Vendor/Locked -> 425', 'Delete 2 ./Vendor/A -> 425', 'Get 3 ./Vendor/Locked -> 200']);
    const bad = tree();
    expect(codes((await runPkg(bad, pkg, { serverId: 'srvA', faults: { skipAcl: true } })).reply)).toEqual(['Replace 1 ./Vendor/Locked -> 200', 'Delete 2 ./Vendor/A -> 200', 'Get 3 ./Vendor/Locked -> 200']);
    expect(value(bad, './Vendor/Locked')).toBe('changed');
    expect(bad.lookup('./Vendor/A')).toBeUndefined();
    expect(bad.get(DEVICE, './Vendor/Locked').ok).toBe(true);
  });

  it('processorFaults maps only the processor faults', () => {
    expect(processorFaults(parseFaults(['no-213']))).toBeUndefined();
    expect(processorFaults(parseFaults(['skip-acl', 'no-213', 'ignore-atomic-rollback']))).toEqual({ ignoreAtomicRollback: true, skipAcl: true });
  });
});

const st = (id: number, cmdRef: string, cmd: string, code: string, msgRef = '1', targetRefs: string[] = [], sourceRefs: string[] = []): Status =>
  ({ kind: 'Status', cmdID: String(id), msgRef, cmdRef, cmd, targetRefs, sourceRefs, data: code, items: [] });

/** An answer a correct handset builds: SyncHdr Status, a Get's Status and Results, a 213, a 404, Alert 1222. */
function answer(): SyncML {
  const commands: Command[] = [
    st(1, '0', 'SyncHdr', '200', '1', ['IMEI:1'], ['http://s/dm']),
    st(2, '4', 'Get', '200', '1', ['./DevInfo/Mod']),
    { kind: 'Results', cmdID: '3', msgRef: '1', cmdRef: '4', targetRefs: [], sourceRefs: [], items: [{ source: { locURI: './DevInfo/Mod' }, meta: { format: 'chr' }, data: { kind: 'text', text: 'Phone' } }] },
    st(4, '5', 'Replace', '213', '1', ['./Vendor/Big']),
    st(5, '6', 'Delete', '404', '1', ['./Vendor/Gone']),
    { kind: 'Results', cmdID: '6', msgRef: '1', cmdRef: '7', targetRefs: [], sourceRefs: [], items: [{ source: { locURI: './Vendor/Log' }, meta: { format: 'chr', size: '9000' }, data: { kind: 'text', text: 'x' }, moreData: true }] },
    { kind: 'Alert', cmdID: '7', data: '1222', items: [] },
  ];
  return { hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1F', msgID: '2', target: { locURI: 'http://s/dm' }, source: { locURI: 'IMEI:1' } }, body: { commands, final: false } };
}

const apply = (f: FaultName, m = answer()) => applyOutgoingFaults(m, parseFaults([f]));
const statuses = (m: SyncML) => m.body.commands.filter((c): c is Status => c.kind === 'Status');

describe('outgoing faults', () => {
  it('each rewrites what it names, leaves the message it was given as it was', () => {
    const m = answer();
    const before = JSON.stringify(m);
    expect(statuses(apply('wrong-msgref', m)).map((s) => s.msgRef)).toEqual(['1', '1001', '1001', '1001']);
    expect(statuses(apply('wrong-cmdref', m)).map((s) => s.cmdRef)).toEqual(['0', '1004', '1005', '1006']);
    expect(statuses(apply('no-213', m)).map((s) => s.data)).toEqual(['200', '200', '200', '404']);
    expect(statuses(apply('wrong-status-code', m)).map((s) => s.data)).toEqual(['200', '200', '213', '410']);
    expect(statuses(apply('ok-for-failure', m)).map((s) => s.data)).toEqual(['200', '200', '213', '200']);
    expect(statuses(apply('drop-status', m)).map((s) => s.cmdRef)).toEqual(['0', '4', '5']);
    expect(statuses(apply('no-hdr-status', m)).map((s) => s.cmdRef)).toEqual(['4', '5', '6']);
    expect(apply('results-before-status', m).body.commands.slice(1, 3).map((c) => c.kind)).toEqual(['Results', 'Status']);
    expect(statuses(apply('swapped-status-refs', m))[0]).toMatchObject({ targetRefs: ['http://s/dm'], sourceRefs: ['IMEI:1'] });
    expect(apply('wrong-results-format', m).body.commands.filter((c) => c.kind === 'Results').map((c) => c.kind === 'Results' && c.items[0]!.meta?.format)).toEqual(['int', 'int']);
    expect((apply('no-size-first-chunk', m).body.commands[5] as { items: { meta?: { size?: string } }[] }).items[0]!.meta).toEqual({ format: 'chr' });
    expect(apply('duplicate-cmdid', m).body.commands.slice(0, 2).map((c) => c.cmdID)).toEqual(['1', '1']);
    expect(apply('final-with-1222', m).body.final).toBe(true);
    expect(apply('msgid-not-incrementing', m).hdr.msgID).toBe('1');
    expect(apply('bad-sessionid', m).hdr.sessionID).toBe('1F0');
    expect(JSON.stringify(m)).toBe(before);
  });

  it('missing-devinfo and bad-sessionid tell package 1 (Alert 1201) from the rest', () => {
    const pkg1: SyncML = { ...answer(), body: { commands: [{ kind: 'Alert', cmdID: '1', data: '1201', items: [] }, { kind: 'Replace', cmdID: '2', items: [{ source: { locURI: './DevInfo/DevId' }, data: { kind: 'text', text: 'IMEI:1' } }] }], final: true } };
    expect(apply('missing-devinfo', pkg1).body.commands.map((c) => c.kind)).toEqual(['Alert']);
    expect(apply('bad-sessionid', pkg1)).toBe(pkg1);
    expect(apply('missing-devinfo')).toEqual(answer());
  });

  it('faults that act elsewhere leave an outgoing message alone; exceed-maxmsgsize hides the server MaxMsgSize', () => {
    const m = answer();
    for (const f of ['reuse-nonce', 'exceed-maxmsgsize', 'skip-acl', 'ignore-atomic-rollback'] as const) expect(apply(f, m)).toBe(m);
    const server: SyncML = { ...m, hdr: { ...m.hdr, meta: { maxMsgSize: '4096', maxObjSize: '100000' } } };
    expect(withoutMaxMsgSize(server).hdr.meta).toEqual({ maxObjSize: '100000' });
    expect(server.hdr.meta?.maxMsgSize).toBe('4096');
    expect(withoutMaxMsgSize(m)).toBe(m);
  });
});
