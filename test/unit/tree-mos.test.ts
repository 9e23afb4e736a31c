import { beforeEach, describe, expect, it } from 'vitest';
import { explain } from '../../main/tree/acl.js';
import { DEFAULT_DEVICE, addDmAccount, createDeviceTree, findAccount, imeiFromBody, readAccounts, type DmAccountSpec } from '../../main/tree/mos.js';
import type { TreeResult } from '../../main/tree/status.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
// The modem side's Luhn check: written apart from imeiFromBody, so it checks it rather than repeating it.
import { luhnOk } from '../../native/serial/identity.js';

function value<T>(r: TreeResult<T>): T {
  if (!r.ok) throw new Error(`expected success, got ${r.status}: ${r.message}`);
  return r.value;
}

function account(serverId: string, over: Partial<DmAccountSpec> = {}): DmAccountSpec {
  return {
    serverId,
    addr: `https://${serverId}.example.com/dm`,
    clientCred: { type: 'DIGEST', name: 'IMEI:356938035643809', secret: `client-secret-of-${serverId}`, data: 'AAECAw==' },
    serverCred: { type: 'DIGEST', name: serverId, secret: `server-secret-of-${serverId}`, data: 'BAUGBw==' },
    ...over,
  };
}

describe('a default handset tree', () => {
  it('looks like a real handset', () => {
    const tree = createDeviceTree();
    const devId = value(tree.get('any.server', './DevInfo/DevId'));
    expect(devId.kind === 'leaf' && devId.value).toMatch(/^IMEI:\d{15}$/);
    expect(luhnOk(DEFAULT_DEVICE.devId.slice(5))).toBe(true);
    expect(imeiFromBody('49015420323751')).toBe('490154203237518'); // the GSMA's sample IMEI
    for (const leaf of ['Man', 'Mod', 'DmV', 'Lang']) expect(tree.get('any.server', `./DevInfo/${leaf}`).ok, leaf).toBe(true);
    const dmv = value(tree.get('x', './DevInfo/DmV'));
    expect(dmv.kind === 'leaf' && dmv.value).toBe('1.2');
    const uri = value(tree.get('x', './DevDetail/URI?list=StructData'));
    expect(uri.kind === 'list' && uri.items.map((i) => [i.path, i.format, i.value])).toEqual([
      ['./DevDetail/URI', 'node', undefined],
      ['./DevDetail/URI/MaxDepth', 'int', '20'],
      ['./DevDetail/URI/MaxTotLen', 'int', '255'],
      ['./DevDetail/URI/MaxSegLen', 'int', '128'],
    ]);
    expect(value(tree.get('x', './DevDetail/LrgObj'))).toMatchObject({ format: 'bool', value: 'true' });
    expect(value(tree.get(DEVICE, './DevInfo?prop=Type'))).toMatchObject({ value: 'urn:oma:mo:oma-dm-devinfo:1.0' });
  });

  it('enforces the limits it publishes in DevDetail/URI', () => {
    const tree = createDeviceTree({ limits: { maxSegLen: 10 } });
    expect(value(tree.get('x', './DevDetail/URI/MaxSegLen'))).toMatchObject({ value: '10' });
    expect(tree.get('x', './DevInfo/ABCDEFGHIJ').status).toBe(404);
    expect(tree.get('x', './DevInfo/ABCDEFGHIJK').status).toBe(414);
    const deep = './' + Array.from({ length: 21 }, () => 'a').join('/');
    expect(tree.get('x', deep).status).toBe(414);
  });

  it('keeps DevInfo and DevDetail read-only and permanent for servers', () => {
    const tree = createDeviceTree();
    expect(tree.replace('x', './DevInfo/Man', 'Evil Corp').status).toBe(405);
    expect(tree.delete('x', './DevInfo').status).toBe(405);
    expect(tree.add('x', './DevInfo/New', { value: '1' }).status).toBe(405);
    expect(tree.replace('x', './DevInfo/DevId?prop=Name', 'Id').status).toBe(405);
  });

  it('Inbox takes Add only: Get on ./Inbox is 405', () => {
    const tree = createDeviceTree();
    expect(tree.get('x', './Inbox').status).toBe(405);
    expect(tree.get(DEVICE, './Inbox').ok).toBe(true);
    expect(value(tree.add('x', './Inbox/Obj', { format: 'node' })).created).toEqual(['./Inbox/Obj']);
  });
});

describe('several management authorities (DMAcc accounts)', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = createDeviceTree({ accounts: [account('srvA'), account('srvB')] });
  });

  it('builds one DM 1.2 DMAcc subtree per server with its own ACL', () => {
    const s = value(tree.get(DEVICE, './DMAcc/srvA?list=Struct'));
    expect(s.kind === 'list' && s.items.map((i) => i.path)).toEqual([
      './DMAcc/srvA',
      './DMAcc/srvA/AppID',
      './DMAcc/srvA/ServerID',
      './DMAcc/srvA/Name',
      './DMAcc/srvA/PrefConRef',
      './DMAcc/srvA/AppAddr',
      './DMAcc/srvA/AppAddr/1',
      './DMAcc/srvA/AppAddr/1/Addr',
      './DMAcc/srvA/AppAddr/1/AddrType',
      './DMAcc/srvA/AAuthPref',
      './DMAcc/srvA/AppAuth',
      './DMAcc/srvA/AppAuth/1',
      './DMAcc/srvA/AppAuth/1/AAuthLevel',
      './DMAcc/srvA/AppAuth/1/AAuthType',
      './DMAcc/srvA/AppAuth/1/AAuthName',
      './DMAcc/srvA/AppAuth/1/AAuthSecret',
      './DMAcc/srvA/AppAuth/1/AAuthData',
      './DMAcc/srvA/AppAuth/2',
      './DMAcc/srvA/AppAuth/2/AAuthLevel',
      './DMAcc/srvA/AppAuth/2/AAuthType',
      './DMAcc/srvA/AppAuth/2/AAuthName',
      './DMAcc/srvA/AppAuth/2/AAuthSecret',
      './DMAcc/srvA/AppAuth/2/AAuthData',
      './DMAcc/srvA/Ext',
    ]);
    expect(value(tree.get(DEVICE, './DMAcc/srvA?prop=ACL'))).toMatchObject({ value: 'Add=srvA&Delete=srvA&Get=srvA&Replace=srvA' });
    expect(value(tree.get(DEVICE, './DMAcc/srvA?prop=Type'))).toMatchObject({ value: 'urn:oma:mo:oma-dm-dmacc:1.0' });
    expect(value(tree.get('srvA', './DMAcc/srvA/AppID'))).toMatchObject({ value: 'w7' });
    expect(value(tree.get('srvA', './DMAcc/srvA/AppAuth/2/AAuthLevel'))).toMatchObject({ value: 'SRVCRED' });
  });

  it('a server cannot read or change another server\'s account', () => {
    expect(tree.get('srvA', './DMAcc/srvB/Name').status).toBe(425);
    expect(tree.replace('srvA', './DMAcc/srvB/AppAddr/1/Addr', 'https://evil.example/').status).toBe(425);
    expect(tree.replace('srvA', './DMAcc/srvB?prop=ACL', 'Get=*').status).toBe(425);
    expect(tree.delete('srvA', './DMAcc/srvB').status).toBe(425);
    expect(tree.add('srvA', './DMAcc/srvB/Ext/x', { value: '1' }).status).toBe(425);
    expect(tree.copy('srvA', './DMAcc/srvA/Ext/stolen', './DMAcc/srvB/AppAuth/1/AAuthName').status).toBe(425);
    expect(tree.add('srvA', './DMAcc/srvC', { format: 'node' }).status).toBe(425); // accounts come from bootstrap
    const list = value(tree.get('srvA', './DMAcc?list=Struct'));
    expect(list.kind === 'list' && list.items.some((i) => i.path.startsWith('./DMAcc/srvB'))).toBe(false);
    expect(explain(tree, 'srvA', 'Get', './DMAcc/srvB/Name')).toMatchObject({ allowed: false, fromPath: './DMAcc/srvB', inherited: true });
    // its own account: yes
    expect(value(tree.replace('srvA', './DMAcc/srvA/AppAddr/1/Addr', 'https://a2.example.com/dm')).path).toBe('./DMAcc/srvA/AppAddr/1/Addr');
  });

  it('nobody can Get AAuthSecret or AAuthData, not even the account\'s own server (405)', () => {
    for (const leaf of ['AAuthSecret', 'AAuthData']) {
      for (const x of ['1', '2']) {
        const uri = `./DMAcc/srvA/AppAuth/${x}/${leaf}`;
        expect(tree.get('srvA', uri).status, uri).toBe(405);
        expect(tree.get('srvB', uri).status, uri).toBe(405);
        expect(tree.get('srvA', `${uri}?prop=Size`).status, uri).toBe(405);
        expect(tree.copy('srvA', './DMAcc/srvA/Ext/leak', uri).status).toBe(405);
      }
    }
    expect(explain(tree, 'srvA', 'Get', './DMAcc/srvA/AppAuth/1/AAuthSecret')).toMatchObject({ status: 405, accessTypeAllows: false });
    const data = value(tree.get('srvA', './DMAcc/srvA?list=StructData'));
    const secret = data.kind === 'list' ? data.items.find((i) => i.path.endsWith('/AppAuth/1/AAuthSecret')) : undefined;
    expect(secret).toBeDefined();
    expect(secret).not.toHaveProperty('value');
    // the owner may still replace its secret; the device (session engine) reads it
    value(tree.replace('srvA', './DMAcc/srvA/AppAuth/2/AAuthSecret', 'rotated'));
    expect(findAccount(tree, 'srvA')?.serverCred?.secret).toBe('rotated');
  });

  it('reads accounts back with their credentials for the session engine', () => {
    const accounts = readAccounts(tree);
    expect(accounts.map((a) => a.serverId)).toEqual(['srvA', 'srvB']);
    expect(accounts[1]).toMatchObject({
      path: './DMAcc/srvB',
      addr: 'https://srvB.example.com/dm',
      authPref: 'DIGEST',
      clientCred: { type: 'DIGEST', name: 'IMEI:356938035643809', secret: 'client-secret-of-srvB', data: 'AAECAw==' },
      serverCred: { type: 'DIGEST', name: 'srvB', secret: 'server-secret-of-srvB', data: 'BAUGBw==' },
    });
  });
});

describe('deleting a ServerID purges it from every ACL (TND 8.3.7.1.4)', () => {
  let tree: DmTree;
  beforeEach(() => {
    tree = createDeviceTree({ accounts: [account('srvA'), account('srvB')], rootAcl: 'Add=*&Get=*&Replace=srvB' });
    const v = tree.createNode(tree.root, 'Vendor', { acl: 'Get=srvA+srvB&Replace=srvB' });
    tree.createNode(v, 'OnlyB', { format: 'chr', value: '', acl: 'Get=srvB&Replace=srvB' });
  });

  it('on deleting the account: commands left empty disappear, empty ACLs inherit, the root keeps a value', () => {
    value(tree.delete(DEVICE, './DMAcc/srvB'));
    expect(value(tree.get(DEVICE, './Vendor?prop=ACL'))).toMatchObject({ value: 'Get=srvA' });
    expect(value(tree.get(DEVICE, './Vendor/OnlyB?prop=ACL'))).toMatchObject({ value: '' });
    expect(value(tree.get(DEVICE, '.?prop=ACL'))).toMatchObject({ value: 'Add=*&Get=*&Replace=*' });
    expect(value(tree.get('srvA', './Vendor/OnlyB'))).toMatchObject({ kind: 'leaf' }); // now inherits Get=srvA
  });

  it('also when only the ServerID leaf is deleted, and not while another account keeps the same ServerID', () => {
    addDmAccount(tree, account('srvB', { nodeName: 'srvB-backup' }));
    value(tree.delete(DEVICE, './DMAcc/srvB'));
    expect(value(tree.get(DEVICE, './Vendor?prop=ACL'))).toMatchObject({ value: 'Get=srvA+srvB&Replace=srvB' });
    value(tree.delete(DEVICE, './DMAcc/srvB-backup/ServerID'));
    expect(value(tree.get(DEVICE, './Vendor?prop=ACL'))).toMatchObject({ value: 'Get=srvA' });
  });

  it('explicit purge returns how many ACLs changed', () => {
    expect(tree.purgeServerId('srvA')).toBe(2); // ./DMAcc/srvA and ./Vendor
    expect(value(tree.get(DEVICE, './DMAcc/srvA?prop=ACL'))).toMatchObject({ value: '' });
  });
});
