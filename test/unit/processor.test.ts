/**
 * The command processor's status rules (docs/oma-dm-notes.md §1, §4), ACL inheritance through real
 * packages, multi-authority isolation, UI alerts, Exec, containers and bad input.
 */
import { describe, expect, it } from 'vitest';
import { readDdf } from '../../main/tree/ddf.js';
import { addDmAccount, createDeviceTree, type DmAccountSpec } from '../../main/tree/mos.js';
import { serializeTree } from '../../main/tree/persist.js';
import { scriptedResponder, type ExecHandler } from '../../main/tree/processor/index.js';
import { DEVICE, DmTree } from '../../main/tree/tree.js';
import { valueText } from '../../main/tree/values.js';
import {
  add,
  alert,
  atomic,
  bytesOf,
  codes,
  copy,
  del,
  exec,
  get,
  replace,
  resultsList,
  runPkg,
  sequence,
  statusList,
  text,
} from '../helpers/dm-package.js';

const CLOCK = () => Date.UTC(2024, 0, 15, 9, 30, 0);

function account(serverId: string): DmAccountSpec {
  return {
    serverId,
    addr: `https://${serverId}.example.com/dm`,
    clientCred: { type: 'DIGEST', name: 'IMEI:356938035643809', secret: `client-secret-of-${serverId}` },
    serverCred: { type: 'DIGEST', name: serverId, secret: `server-secret-of-${serverId}`, data: 'AAECAw==' },
  };
}

/** A handset with two management authorities and a vendor subtree both may use. */
function handset(): DmTree {
  const tree = createDeviceTree({ accounts: [account('srvA'), account('srvB')], clock: CLOCK });
  const vendor = tree.createNode(tree.root, 'Vendor', { acl: 'Add=srvA+srvB&Delete=srvA&Get=*&Replace=srvA&Exec=srvA' });
  const app = tree.createNode(vendor, 'App');
  tree.createNode(app, 'Name', { format: 'chr', value: 'demo' });
  tree.createNode(app, 'Count', { format: 'int', value: '3' });
  tree.createNode(app, 'Blob', { format: 'bin', value: new Uint8Array([0, 1, 2, 255]) });
  return tree;
}

const A = { serverId: 'srvA' };
const B = { serverId: 'srvB' };

describe('status rules', () => {
  it('Get on a leaf: 200, then Results with Source LocURI, Meta Format/Type and the value', async () => {
    const { reply } = await runPkg(handset(), get(2, './Vendor/App/Count'), A);
    expect(codes(reply)).toEqual(['Get 2 ./Vendor/App/Count -> 200']);
    const [r] = resultsList(reply);
    expect(r).toMatchObject({ cmdRef: '2', msgRef: '1' });
    expect(r!.items[0]).toMatchObject({ source: { locURI: './Vendor/App/Count' }, meta: { format: 'int', type: 'text/plain' } });
    expect(text(r!.items[0])).toBe('3');
    // Results come right after their Status
    const kinds = reply.body.commands.map((c) => c.kind);
    expect(kinds).toEqual(['Status', 'Status', 'Results']);
  });

  it('Get on an interior node returns the child names, /-separated, Format node', async () => {
    const { reply } = await runPkg(handset(), get(1, './Vendor/App'), A);
    const item = resultsList(reply)[0]!.items[0]!;
    expect(text(item)).toBe('Name/Count/Blob');
    expect(item.meta?.format).toBe('node');
  });

  it('Get on a bin leaf sends the bytes (base64 in XML, Format bin)', async () => {
    const { reply } = await runPkg(handset(), get(1, './Vendor/App/Blob'), A);
    const item = resultsList(reply)[0]!.items[0]!;
    expect(item.data).toEqual({ kind: 'binary', bytes: new Uint8Array([0, 1, 2, 255]) });
    expect(new TextDecoder().decode(bytesOf(reply))).toContain('<Data>AAEC/w==</Data>');
  });

  it('Get on ./Inbox is 405; Add into it works', async () => {
    const { reply } = await runPkg(handset(), get(1, './Inbox') + add(2, './Inbox/Msg', 'hello'), A);
    expect(codes(reply)).toEqual(['Get 1 ./Inbox -> 405', 'Add 2 ./Inbox/Msg -> 200']);
  });

  it('Add on an existing node is 418; Add creates missing interior parents', async () => {
    const tree = handset();
    const { reply } = await runPkg(tree, add(1, './Vendor/App/Name', 'x') + add(2, './Vendor/New/Deep/Leaf', '7', 'int'), A);
    expect(codes(reply)).toEqual(['Add 1 ./Vendor/App/Name -> 418', 'Add 2 ./Vendor/New/Deep/Leaf -> 200']);
    expect(tree.lookup('./Vendor/New/Deep')?.format).toBe('node');
    expect(tree.lookup('./Vendor/New/Deep/Leaf')?.value).toBe('7');
  });

  it('Replace on a missing node is 404; Delete and Get too', async () => {
    const { reply } = await runPkg(handset(), replace(1, './Vendor/Nope', 'x') + del(2, './Vendor/Nope') + get(3, './Vendor/Nope'), A);
    expect(codes(reply)).toEqual(['Replace 1 ./Vendor/Nope -> 404', 'Delete 2 ./Vendor/Nope -> 404', 'Get 3 ./Vendor/Nope -> 404']);
    expect(resultsList(reply)).toEqual([]);
  });

  it('Replace changes the value, format and type; a value that does not fit its format is 415', async () => {
    const tree = handset();
    const { reply } = await runPkg(tree, replace(1, './Vendor/App/Count', '42') + replace(2, './Vendor/App/Count', 'lots') + replace(3, './Vendor/App/Name', 'true', 'bool'), A);
    expect(codes(reply)).toEqual(['Replace 1 ./Vendor/App/Count -> 200', 'Replace 2 ./Vendor/App/Count -> 415', 'Replace 3 ./Vendor/App/Name -> 200']);
    expect(tree.lookup('./Vendor/App/Count')?.value).toBe('42');
    expect(tree.lookup('./Vendor/App/Name')?.format).toBe('bool');
  });

  it('Copy: leaf to leaf (new or existing target); an interior source is 405; SourceRef is sent', async () => {
    const tree = handset();
    const { reply } = await runPkg(tree, copy(1, './Vendor/App/Copy', './Vendor/App/Name') + copy(2, './Vendor/App/Count', './Vendor/App/Name') + copy(3, './Vendor/X', './Vendor/App'), A);
    expect(codes(reply)).toEqual([
      'Copy 1 ./Vendor/App/Copy <./Vendor/App/Name -> 200',
      'Copy 2 ./Vendor/App/Count <./Vendor/App/Name -> 200',
      'Copy 3 ./Vendor/X <./Vendor/App -> 405',
    ]);
    expect(tree.lookup('./Vendor/App/Count')).toMatchObject({ format: 'chr', value: 'demo' });
  });

  it('properties: Get ?prop=, unknown property 406, read-only property 405, commands not allowed on a property 405', async () => {
    const tree = handset();
    const { reply } = await runPkg(
      tree,
      get(1, './Vendor?prop=ACL') +
        get(2, './Vendor/App/Count?prop=Format') +
        get(3, './Vendor?prop=Colour') +
        replace(4, './Vendor?prop=Colour', 'red') +
        replace(5, './Vendor/App/Count?prop=Format', 'chr') +
        add(6, './Vendor/App?prop=Title', 'x') +
        del(7, './Vendor/App?prop=Title') +
        exec(8, './Vendor?prop=ACL') +
        replace(9, './Vendor/App?prop=Title', 'My app'),
      A,
    );
    expect(codes(reply)).toEqual([
      'Get 1 ./Vendor?prop=ACL -> 200',
      'Get 2 ./Vendor/App/Count?prop=Format -> 200',
      'Get 3 ./Vendor?prop=Colour -> 406',
      'Replace 4 ./Vendor?prop=Colour -> 406',
      'Replace 5 ./Vendor/App/Count?prop=Format -> 405',
      'Add 6 ./Vendor/App?prop=Title -> 405',
      'Delete 7 ./Vendor/App?prop=Title -> 405',
      'Exec 8 ./Vendor?prop=ACL -> 405',
      'Replace 9 ./Vendor/App?prop=Title -> 200',
    ]);
    const rs = resultsList(reply);
    expect(rs.map((r) => [r.cmdRef, r.items[0]!.source?.locURI, text(r.items[0])])).toEqual([
      ['1', './Vendor?prop=ACL', 'Add=srvA+srvB&Delete=srvA&Exec=srvA&Get=*&Replace=srvA'],
      ['2', './Vendor/App/Count?prop=Format', 'int'],
    ]);
    expect(tree.lookup('./Vendor/App')?.title).toBe('My app');
  });

  it('an unparsable ACL value is 400 with a message naming the position; the ACL is unchanged', async () => {
    const tree = handset();
    const r = await runPkg(tree, replace(1, './Vendor/App?prop=ACL', 'Get=*&amp;Fetch=srvA'), A);
    expect(codes(r.reply)).toEqual(['Replace 1 ./Vendor/App?prop=ACL -> 400']);
    expect(r.events.find((e) => e.cmd === 'Replace')?.message).toMatch(/at position 6: "Fetch" is not an ACL command/);
    expect(tree.lookup('./Vendor/App')?.acl.text).toBe('');
  });

  it('bad URIs are 400 and limits 414, each with a message naming the fault', async () => {
    const tree = handset(); // DevDetail/URI: MaxDepth 20, MaxTotLen 255, MaxSegLen 128
    const long = 'x'.repeat(129);
    const deep = Array.from({ length: 21 }, (_, i) => `n${i}`).join('/');
    const r = await runPkg(tree, get(1, './Vendor//App') + get(2, '/Vendor') + get(3, './Vendor/%zz') + add(4, `./Vendor/${long}`, 'v') + add(5, `./Vendor/${deep}`, 'v') + get(6, './Vendor?list=Everything'), A);
    expect(codes(r.reply).map((c) => c.replace(/ \.\/Vendor\/(x{129}|n0\S*) /, ' LONG '))).toEqual([
      'Get 1 ./Vendor//App -> 400',
      'Get 2 /Vendor -> 400',
      'Get 3 ./Vendor/%zz -> 400',
      'Add 4 LONG -> 414',
      'Add 5 LONG -> 414',
      'Get 6 ./Vendor?list=Everything -> 400',
    ]);
    const msgs = r.events.map((e) => e.message ?? '');
    expect(msgs[0]).toMatch(/empty segment/);
    expect(msgs[1]).toMatch(/cannot start with '\/'/);
    expect(msgs[3]).toMatch(/MaxSegLen is 128/);
    expect(msgs[4]).toMatch(/MaxDepth is 20/);
    expect(tree.lookup('./Vendor/n0')).toBeUndefined();
  });

  it('an item without the Target it needs is 400 (a client package replayed as a server one)', async () => {
    const r = await runPkg(handset(), '<Replace><CmdID>2</CmdID><Item><Source><LocURI>./DevInfo/Lang</LocURI></Source><Data>en</Data></Item></Replace>', A);
    expect(codes(r.reply)).toEqual(['Replace 2 <./DevInfo/Lang -> 400']);
    expect(r.events[0]!.message).toMatch(/no Target.*client's package/);
  });

  it('one Status per Item, in order, each with its TargetRef', async () => {
    const r = await runPkg(
      handset(),
      '<Get><CmdID>3</CmdID><Item><Target><LocURI>./Vendor/App/Name</LocURI></Target></Item><Item><Target><LocURI>./Vendor/Gone</LocURI></Target></Item><Item><Target><LocURI>./Vendor/App/Count</LocURI></Target></Item></Get>',
      A,
    );
    expect(codes(r.reply)).toEqual(['Get 3 ./Vendor/App/Name -> 200', 'Get 3 ./Vendor/Gone -> 404', 'Get 3 ./Vendor/App/Count -> 200']);
    expect(resultsList(r.reply).map((x) => text(x.items[0]))).toEqual(['demo', '3']);
  });

  it('NoResp: no Status for that command (its Results still go); SyncHdr NoResp: no Status at all', async () => {
    const r = await runPkg(handset(), '<Get><CmdID>1</CmdID><NoResp/><Item><Target><LocURI>./Vendor/App/Name</LocURI></Target></Item></Get>' + get(2, './Vendor/App/Count'), A);
    expect(codes(r.reply)).toEqual(['Get 2 ./Vendor/App/Count -> 200']);
    expect(resultsList(r.reply).map((x) => x.cmdRef)).toEqual(['1', '2']);
    const h = await runPkg(handset(), get(1, './Vendor/App/Name'), A, { hdrExtra: '<NoResp/>' });
    expect(h.reply.body.commands.map((c) => c.kind)).toEqual(['Results']);
  });

  it('answers the SyncHdr with a Status (TargetRef/SourceRef from the header), swaps Target/Source, MsgID + 1, Final', async () => {
    const r = await runPkg(handset(), get(1, './DevInfo/DevId'), A, { msgId: 4 });
    const h = r.reply.hdr;
    expect(h).toMatchObject({ verDTD: '1.2', verProto: 'DM/1.2', sessionID: '5', msgID: '5', target: { locURI: 'https://dm.example.com/dm' }, source: { locURI: 'IMEI:356938035643809' } });
    expect(r.reply.body.commands[0]).toMatchObject({ kind: 'Status', cmdID: '1', msgRef: '4', cmdRef: '0', cmd: 'SyncHdr', targetRefs: ['IMEI:356938035643809'], sourceRefs: ['https://dm.example.com/dm'], data: '200' });
    expect(r.reply.body.commands.map((c) => c.cmdID)).toEqual(['1', '2', '3']);
    expect(r.reply.body.final).toBe(true);
  });

  it('Statuses and Results from the server get no Status back', async () => {
    const r = await runPkg(
      handset(),
      '<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>212</Data></Status>' + get(2, './DevInfo/Mod'),
      A,
    );
    expect(codes(r.reply)).toEqual(['Get 2 ./DevInfo/Mod -> 200']);
  });

  it('unknown alert codes are 406; session alerts 200; an Alert without a code 400', async () => {
    const r = await runPkg(handset(), alert(1, 1299) + alert(2, 1201) + '<Alert><CmdID>3</CmdID></Alert>', A);
    expect(codes(r.reply)).toEqual(['Alert 1 -> 406', 'Alert 2 -> 200', 'Alert 3 -> 400']);
  });

  it('limits: an object over our MaxObjSize 413, a Title over 255 bytes 413', async () => {
    const tree = handset();
    const r = await runPkg(tree, replace(1, './Vendor/App/Name', 'y'.repeat(101)) + add(2, './Vendor/Big', 'z'.repeat(101)), { ...A, maxObjSize: 100 });
    expect(codes(r.reply)).toEqual(['Replace 1 ./Vendor/App/Name -> 413', 'Add 2 ./Vendor/Big -> 413']);
    expect(r.events[0]!.message).toMatch(/101 bytes exceed this client's MaxObjSize 100/);
    const t = await runPkg(tree, replace(1, './Vendor/App?prop=Title', 't'.repeat(256)), A);
    expect(codes(t.reply)).toEqual(['Replace 1 ./Vendor/App?prop=Title -> 413']);
    expect(t.events[0]!.message).toMatch(/256 bytes, at most 255/);
    expect(tree.lookup('./Vendor/App/Name')?.value).toBe('demo');
  });
});

describe('ACLs through the processor', () => {
  it('a node with an empty ACL inherits from the nearest ancestor with one (no per-command merge)', async () => {
    const tree = handset();
    // ./Vendor: Replace=srvA only; ./Vendor/App has no ACL; ./Vendor/App/Name gets its own Get=srvB
    tree.setProperties(tree.lookup('./Vendor/App/Name')!, { acl: 'Get=srvB' });
    const a = await runPkg(tree, replace(1, './Vendor/App/Count', '5') + get(2, './Vendor/App/Name') + get(3, './Vendor/App/Count'), A);
    expect(codes(a.reply)).toEqual(['Replace 1 ./Vendor/App/Count -> 200', 'Get 2 ./Vendor/App/Name -> 425', 'Get 3 ./Vendor/App/Count -> 200']);
    expect(a.events[1]!.message).toMatch(/srvA has no Get right on \.\/Vendor\/App\/Name \(its ACL: "Get=srvB"\)/);
    const b = await runPkg(tree, replace(1, './Vendor/App/Count', '6') + get(2, './Vendor/App/Name'), B);
    expect(codes(b.reply)).toEqual(['Replace 1 ./Vendor/App/Count -> 425', 'Get 2 ./Vendor/App/Name -> 200']);
    expect(b.events[0]!.message).toMatch(/ACL inherited from \.\/Vendor/);
  });

  it('an interior node added by a server without Replace on the parent gets Add/Delete/Replace for it', async () => {
    const tree = handset();
    const r = await runPkg(tree, add(1, './Vendor/ByB', undefined, 'node') + add(2, './Vendor/ByB/Leaf', 'v') + replace(3, './Vendor/ByB/Leaf', 'w'), B);
    expect(codes(r.reply)).toEqual(['Add 1 ./Vendor/ByB -> 200', 'Add 2 ./Vendor/ByB/Leaf -> 200', 'Replace 3 ./Vendor/ByB/Leaf -> 200']);
    expect(tree.lookup('./Vendor/ByB')?.acl.text).toBe('Add=srvB&Delete=srvB&Replace=srvB');
    // and srvA, who has Replace on ./Vendor, may change that ACL; srvB may too (Replace on the node)
    const a = await runPkg(tree, replace(1, './Vendor/ByB?prop=ACL', 'Get=*&amp;Replace=srvA'), A);
    expect(codes(a.reply)).toEqual(['Replace 1 ./Vendor/ByB?prop=ACL -> 200']);
    const b = await runPkg(tree, replace(1, './Vendor/ByB/Leaf', 'x'), B);
    expect(codes(b.reply)).toEqual(['Replace 1 ./Vendor/ByB/Leaf -> 425']);
  });
});

describe('multiple management authorities', () => {
  it("server B cannot read server A's account, secrets or subtree, by any route", async () => {
    const tree = handset();
    const r = await runPkg(
      tree,
      get(1, './DMAcc/srvA/AppAuth/1/AAuthSecret') +
        get(2, './DMAcc/srvA') +
        get(3, './DMAcc/srvA/ServerID') +
        get(4, './DMAcc?list=StructData') +
        get(5, './DMAcc?list=TNDS+Value+ACL') +
        copy(6, './Vendor/Stolen', './DMAcc/srvA/AppAuth/2/AAuthSecret') +
        replace(7, './DMAcc/srvA/AppAuth/2/AAuthSecret', 'mine') +
        replace(8, './DMAcc/srvA?prop=ACL', 'Get=*') +
        del(9, './DMAcc/srvA'),
      B,
    );
    expect(codes(r.reply)).toEqual([
      'Get 1 ./DMAcc/srvA/AppAuth/1/AAuthSecret -> 405', // no Get on a secret for anyone, whatever the ACL
      'Get 2 ./DMAcc/srvA -> 425',
      'Get 3 ./DMAcc/srvA/ServerID -> 425',
      'Get 4 ./DMAcc?list=StructData -> 200',
      'Get 5 ./DMAcc?list=TNDS+Value+ACL -> 200',
      'Copy 6 ./Vendor/Stolen <./DMAcc/srvA/AppAuth/2/AAuthSecret -> 405',
      'Replace 7 ./DMAcc/srvA/AppAuth/2/AAuthSecret -> 425',
      'Replace 8 ./DMAcc/srvA?prop=ACL -> 425',
      'Delete 9 ./DMAcc/srvA -> 425',
    ]);
    const wire = new TextDecoder().decode(bytesOf(r.reply));
    // what B learns is in the Results (the Statuses only echo the URIs B itself sent)
    const learned = JSON.stringify(resultsList(r.reply), (_k, v: unknown) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v));
    expect(learned).toContain('srvB');
    expect(learned).not.toContain('srvA');
    expect(wire).not.toContain('secret-of-srvA');
    expect(wire).not.toContain('secret-of-srvB'); // not even its own: AAuthSecret has no Get
    const list = resultsList(r.reply).find((x) => x.cmdRef === '4')!;
    expect(list.items.map((i) => i.source?.locURI)).toContain('./DMAcc/srvB/AppAuth/1/AAuthName');
    expect(list.items.some((i) => i.source?.locURI?.startsWith('./DMAcc/srvA'))).toBe(false);
    expect(tree.lookup('./Vendor/Stolen')).toBeUndefined();
    expect(valueText(tree.lookup('./DMAcc/srvA/AppAuth/2/AAuthSecret')!.value)).toBe('server-secret-of-srvA');
  });

  it('server A cannot read its own AAuthSecret (405) but may rotate it', async () => {
    const tree = handset();
    const r = await runPkg(tree, get(1, './DMAcc/srvA/AppAuth/2/AAuthSecret') + replace(2, './DMAcc/srvA/AppAuth/2/AAuthSecret', 'rotated'), A);
    expect(codes(r.reply)).toEqual(['Get 1 ./DMAcc/srvA/AppAuth/2/AAuthSecret -> 405', 'Replace 2 ./DMAcc/srvA/AppAuth/2/AAuthSecret -> 200']);
    expect(tree.lookup('./DMAcc/srvA/AppAuth/2/AAuthSecret')?.value).toBe('rotated');
  });

  it('a server with no account is just another principal: the ACLs decide', async () => {
    const r = await runPkg(handset(), get(1, './DevInfo/DevId') + get(2, './DMAcc/srvA') + add(3, './Vendor/X', '1'), { serverId: 'stranger' });
    expect(codes(r.reply)).toEqual(['Get 1 ./DevInfo/DevId -> 200', 'Get 2 ./DMAcc/srvA -> 425', 'Add 3 ./Vendor/X -> 425']);
  });

  it('an unauthenticated server gets 401 on the SyncHdr (with Chal) and nothing is executed', async () => {
    const tree = handset();
    const before = serializeTree(tree);
    const r = await runPkg(tree, replace(1, './Vendor/App/Name', 'x') + atomic(2, del(3, './Vendor/App')), {
      ...A,
      authenticate: () => ({ status: 401, chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: 'AAECAw==' } } }),
    });
    expect(r.reply.body.commands[0]).toMatchObject({ cmd: 'SyncHdr', data: '401', chal: { meta: { type: 'syncml:auth-md5', nextNonce: 'AAECAw==' } } });
    expect(codes(r.reply)).toEqual(['Replace 1 ./Vendor/App/Name -> 401', 'Atomic 2 -> 401', 'Delete 3 ./Vendor/App -> 401']);
    expect(serializeTree(tree)).toBe(before);
  });
});

describe('Atomic and Sequence', () => {
  it('Atomic succeeds: 200, members their own codes, Results kept, changes committed', async () => {
    const tree = handset();
    const r = await runPkg(tree, atomic(1, add(2, './Vendor/T', 'a'), replace(3, './Vendor/App/Name', 'b'), get(4, './Vendor/T')), A);
    expect(codes(r.reply)).toEqual(['Atomic 1 -> 200', 'Add 2 ./Vendor/T -> 200', 'Replace 3 ./Vendor/App/Name -> 200', 'Get 4 ./Vendor/T -> 200']);
    expect(resultsList(r.reply).map((x) => text(x.items[0]))).toEqual(['a']);
    expect(tree.lookup('./Vendor/T')?.value).toBe('a');
    expect(tree.inTransaction).toBe(false);
  });

  it('Atomic fails: rolled back byte-identically; Atomic 507, done members 216, the failing one its code, the rest 215', async () => {
    const tree = handset();
    const before = serializeTree(tree);
    const r = await runPkg(
      tree,
      atomic(1, add(2, './Vendor/T', 'a'), del(3, './Vendor/App/Count'), get(4, './Vendor/T'), replace(5, './Vendor/Missing', 'x'), add(6, './Vendor/U', 'u'), sequence(7, add(8, './Vendor/V', 'v'))),
      A,
    );
    expect(codes(r.reply)).toEqual([
      'Atomic 1 -> 507',
      'Add 2 ./Vendor/T -> 216',
      'Delete 3 ./Vendor/App/Count -> 216',
      'Get 4 ./Vendor/T -> 216',
      'Replace 5 ./Vendor/Missing -> 404',
      'Add 6 ./Vendor/U -> 215',
      'Sequence 7 -> 215',
      'Add 8 ./Vendor/V -> 215',
    ]);
    expect(resultsList(r.reply)).toEqual([]); // Results of a rolled-back Atomic are dropped
    expect(serializeTree(tree)).toBe(before);
    expect(r.events.find((e) => e.cmd === 'Atomic')?.message).toMatch(/rolled back: Replace CmdID 5 failed/);
  });

  it('Atomic inside Atomic is 500 (DM does not nest them) and fails the outer one', async () => {
    const tree = handset();
    const r = await runPkg(tree, atomic(1, add(2, './Vendor/T', 'a'), atomic(3, add(4, './Vendor/U', 'u'))), A);
    expect(codes(r.reply)).toEqual(['Atomic 1 -> 507', 'Add 2 ./Vendor/T -> 216', 'Atomic 3 -> 500', 'Add 4 ./Vendor/U -> 215']);
    expect(tree.lookup('./Vendor/T')).toBeUndefined();
  });

  it('Sequence: 200 and every member runs, failures included (by default)', async () => {
    const tree = handset();
    const r = await runPkg(tree, sequence(1, add(2, './Vendor/T', 'a'), get(3, './Vendor/Nope'), add(4, './Vendor/U', 'u')), A);
    expect(codes(r.reply)).toEqual(['Sequence 1 -> 200', 'Add 2 ./Vendor/T -> 200', 'Get 3 ./Vendor/Nope -> 404', 'Add 4 ./Vendor/U -> 200']);
    const stop = await runPkg(handset(), sequence(1, get(2, './Vendor/Nope'), add(3, './Vendor/U', 'u')), { ...A, sequenceStopsOnError: true });
    expect(codes(stop.reply)).toEqual(['Sequence 1 -> 200', 'Get 2 ./Vendor/Nope -> 404', 'Add 3 ./Vendor/U -> 215']);
  });

  it('a confirmation answered "no" bypasses the rest of its Sequence (215) but not the package', async () => {
    const tree = handset();
    const r = await runPkg(
      tree,
      sequence(1, add(2, './Vendor/T', 'a'), alert(3, 1101, '', 'Install?'), add(4, './Vendor/U', 'u')) + add(5, './Vendor/W', 'w'),
      { ...A, alert: scriptedResponder([{ status: 304 }]) },
    );
    expect(codes(r.reply)).toEqual(['Sequence 1 -> 200', 'Add 2 ./Vendor/T -> 200', 'Alert 3 -> 304', 'Add 4 ./Vendor/U -> 215', 'Add 5 ./Vendor/W -> 200']);
    expect(tree.lookup('./Vendor/T')).toBeDefined();
    expect(tree.lookup('./Vendor/U')).toBeUndefined();
  });

  it('a confirmation answered "no" inside an Atomic fails it and rolls back what ran before', async () => {
    const tree = handset();
    const before = serializeTree(tree);
    const r = await runPkg(tree, atomic(1, add(2, './Vendor/T', 'a'), alert(3, 1101, 'DR=0', 'Sure?'), add(4, './Vendor/U', 'u')), A);
    expect(codes(r.reply)).toEqual(['Atomic 1 -> 507', 'Add 2 ./Vendor/T -> 216', 'Alert 3 -> 304', 'Add 4 ./Vendor/U -> 215']);
    expect(serializeTree(tree)).toBe(before);
  });

  it('a cancelled UI alert (214) stops the package: everything after it 215', async () => {
    const tree = handset();
    const r = await runPkg(tree, add(1, './Vendor/T', 'a') + alert(2, 1102, '', 'Name?') + add(3, './Vendor/U', 'u') + sequence(4, get(5, './Vendor')), {
      ...A,
      alert: scriptedResponder([{ status: 214 }]),
    });
    expect(codes(r.reply)).toEqual(['Add 1 ./Vendor/T -> 200', 'Alert 2 -> 214', 'Add 3 ./Vendor/U -> 215', 'Sequence 4 -> 215', 'Get 5 ./Vendor -> 215']);
  });
});

describe('UI alerts (default responder: the default response, or 406)', () => {
  it('answers each kind per its DR', async () => {
    const r = await runPkg(
      handset(),
      alert(1, 1100, 'MINDT=5', 'Hello') +
        alert(2, 1101, 'MAXDT=15&amp;DR=1', 'OK?') +
        alert(3, 1101, 'DR=0', 'OK?') +
        alert(4, 1101, '', 'OK?') +
        alert(5, 1102, 'DR=hello+andy!&amp;MAXLEN=5', 'Name?') +
        alert(6, 1103, 'DR=2', 'Pick', 'one', 'two', 'three') +
        alert(7, 1104, 'DR=1-3', 'Pick', 'one', 'two', 'three') +
        alert(8, 1103, 'DR=9', 'Pick', 'one') +
        alert(9, 1103, '', 'Pick') +
        alert(10, 1101, 'OK?'),
      A,
    );
    const st = statusList(r.reply);
    expect(st.map((s) => [s.cmdRef, s.data, s.items.map((i) => text(i))])).toEqual([
      ['1', '200', []],
      ['2', '200', []],
      ['3', '304', []],
      ['4', '406', []],
      ['5', '200', ['hello']],
      ['6', '200', ['2']],
      ['7', '200', ['1', '3']],
      ['8', '406', []],
      ['9', '400', []],
      ['10', '400', []],
    ]);
    expect(r.events.find((e) => e.cmdId === '10')?.message).toMatch(/needs an options Item and a text Item/);
  });

  it('gives the responder the parsed alert', async () => {
    const seen: unknown[] = [];
    await runPkg(handset(), alert(1, 1104, 'MINDT=2&amp;MAXDT=30&amp;DR=2&amp;X-VENDOR=1', 'Choose', 'a', 'b'), {
      ...A,
      alert: (a) => {
        seen.push(a);
        return { status: 200, data: ['1'] };
      },
    });
    expect(seen).toEqual([
      expect.objectContaining({ code: 1104, kind: 'multiple-choice', text: 'Choose', choices: ['a', 'b'], serverId: 'srvA', cmdId: '1', options: { minDT: 2, maxDT: 30, dr: '2', other: [['X-VENDOR', '1']] } }),
    ]);
  });
});

describe('Exec', () => {
  it('runs the injected handler after the ACL check; Results follow the Status', async () => {
    const calls: string[] = [];
    const handler: ExecHandler = (req) => {
      calls.push(`${req.path} ${String(req.data)} ${req.serverId} ${req.inAtomic} ${req.correlator}`);
      return { status: 200, results: { data: 'done' } };
    };
    const r = await runPkg(
      handset(),
      '<Exec><CmdID>1</CmdID><Correlator>abc</Correlator><Item><Target><LocURI>./Vendor/App</LocURI></Target><Data>go</Data></Item></Exec>' + atomic(2, exec(3, './Vendor/App', 'again')),
      { ...A, exec: handler },
    );
    expect(codes(r.reply)).toEqual(['Exec 1 ./Vendor/App -> 200', 'Atomic 2 -> 200', 'Exec 3 ./Vendor/App -> 200']);
    expect(calls).toEqual(['./Vendor/App go srvA false abc', './Vendor/App again srvA true undefined']);
    expect(resultsList(r.reply)[0]!.items[0]).toMatchObject({ source: { locURI: './Vendor/App' }, meta: { format: 'chr', type: 'text/plain' } });
  });

  it('refuses before the handler: 425 (ACL), 404, 405 (access type); no handler 406; a throwing handler 500', async () => {
    let called = 0;
    const boom: ExecHandler = (req) => {
      called++;
      if (req.path === './Vendor/App') throw new Error('kaboom');
      return { status: 202 };
    };
    const tree = handset();
    const b = await runPkg(tree, exec(1, './Vendor/App') + exec(2, './Vendor/None') + exec(3, './DevInfo/DevId'), { ...B, exec: boom });
    expect(codes(b.reply)).toEqual(['Exec 1 ./Vendor/App -> 425', 'Exec 2 ./Vendor/None -> 404', 'Exec 3 ./DevInfo/DevId -> 405']);
    expect(called).toBe(0);
    const a = await runPkg(tree, exec(1, './Vendor/App'), { ...A, exec: boom });
    expect(codes(a.reply)).toEqual(['Exec 1 ./Vendor/App -> 500']);
    expect(a.events[0]!.message).toMatch(/kaboom/);
    const none = await runPkg(tree, exec(1, './Vendor/App'), A);
    expect(codes(none.reply)).toEqual(['Exec 1 ./Vendor/App -> 406']);
  });
});

describe('DDF-checked commands', () => {
  const ddf = readDdf(`<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>
    <Node><NodeName>Vendor</NodeName><Path>.</Path>
      <DFProperties><AccessType><Get/><Add/></AccessType><DFFormat><node/></DFFormat><Occurrence><One/></Occurrence><Scope><Permanent/></Scope></DFProperties>
      <Node><NodeName/>
        <DFProperties><AccessType><Add/><Delete/><Get/><Replace/></AccessType><DFFormat><node/></DFFormat><Occurrence><ZeroOrN>3</ZeroOrN></Occurrence></DFProperties>
        <Node><NodeName>Name</NodeName><DFProperties><AccessType><Add/><Get/><Replace/></AccessType><DFFormat><chr/></DFFormat><Occurrence><One/></Occurrence></DFProperties></Node>
        <Node><NodeName>Count</NodeName><DFProperties><AccessType><Add/><Get/><Replace/></AccessType><DFFormat><int/></DFFormat><Occurrence><ZeroOrOne/></Occurrence></DFProperties></Node>
        <Node><NodeName>Blob</NodeName><DFProperties><AccessType><Add/><Get/></AccessType><DFFormat><bin/></DFFormat><Occurrence><ZeroOrOne/></Occurrence></DFProperties></Node>
      </Node>
    </Node></MgmtTree>`);
  if (!ddf.ok) throw new Error(ddf.error.message);
  const schemas = [ddf.value];

  it('refuses names, formats, values and commands the MO does not allow; defaults the format and access type', async () => {
    const tree = handset();
    const r = await runPkg(
      tree,
      add(1, './Vendor/App/Colour', 'red') +
        add(2, './Vendor/Two/Count', '5') +
        replace(3, './Vendor/App/Count', 'x') +
        replace(4, './Vendor/App/Count', '1', 'chr') +
        replace(5, './Vendor/App/Blob', 'AAAA', 'bin') +
        del(6, './Vendor/App/Name') +
        add(7, './Vendor/Three', undefined, 'node') +
        add(8, './Vendor/Four', undefined, 'node') +
        add(9, './Vendor/Five', undefined, 'node'),
      { ...A, schemas },
    );
    expect(codes(r.reply)).toEqual([
      'Add 1 ./Vendor/App/Colour -> 405',
      'Add 2 ./Vendor/Two/Count -> 200',
      'Replace 3 ./Vendor/App/Count -> 415',
      'Replace 4 ./Vendor/App/Count -> 415',
      'Replace 5 ./Vendor/App/Blob -> 405',
      'Delete 6 ./Vendor/App/Name -> 405',
      'Add 7 ./Vendor/Three -> 200', // App, Two and now Three: ZeroOrN 3 is full
      'Add 8 ./Vendor/Four -> 418',
      'Add 9 ./Vendor/Five -> 418',
    ]);
    expect(tree.lookup('./Vendor/Two/Count')).toMatchObject({ format: 'int', value: '5' });
    // created nodes take the DDF access types: Count has no Delete, Two has no Exec
    expect(tree.lookup('./Vendor/Two/Count')!.access).toBe(8 | 1 | 16);
    expect(r.events[0]!.message).toMatch(/not part of its management object/);
    expect(r.events.find((e) => e.cmdId === '8')!.message).toMatch(/at most 3/);
  });
});

describe('the tree is never left half-changed', () => {
  it('a refused command changes nothing; a DEVICE view still sees consistent data', async () => {
    const tree = handset();
    const before = serializeTree(tree);
    await runPkg(tree, add(1, './DevInfo/New', 'x') + replace(2, './DevInfo/DevId', 'x') + del(3, './DevDetail') + replace(4, './?prop=ACL', 'Get=*'), A);
    expect(serializeTree(tree)).toBe(before);
    expect(tree.get(DEVICE, './DevInfo').ok).toBe(true);
  });
});
