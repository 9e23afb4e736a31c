/**
 * ClientSession: state across messages. MsgIDs, responses split over the server's MaxMsgSize and
 * continued on Alert 1222, large objects in (213 / 424 / 1225 / 416 / 413) and out (MoreData chunks),
 * Atomic 517, Final, session end.
 */
import { describe, expect, it } from 'vitest';
import type { Alert, Results, SyncML } from '../../main/protocol/model.js';
import { createDeviceTree } from '../../main/tree/mos.js';
import { serializeTree } from '../../main/tree/persist.js';
import { ClientSession, processPackage } from '../../main/tree/processor/index.js';
import type { DmTree } from '../../main/tree/tree.js';
import { add, atomic, bytesOf, codes, commandKinds, get, pkg, replace, resultsList, statusList, text } from '../helpers/dm-package.js';

const CLOCK = () => Date.UTC(2024, 0, 15, 9, 30, 0);

function handset(): DmTree {
  const tree = createDeviceTree({
    clock: CLOCK,
    accounts: [{ serverId: 'srvA', addr: 'https://dm.example.com/dm', clientCred: { name: 'dev', secret: 'c' }, serverCred: { name: 'srvA', secret: 's' } }],
  });
  const v = tree.createNode(tree.root, 'Vendor', { acl: 'Add=*&Delete=*&Get=*&Replace=*' });
  for (let i = 0; i < 30; i++) tree.createNode(v, `Leaf${i}`, { format: 'chr', value: `value number ${i} `.repeat(8) });
  tree.createNode(v, 'Big', { format: 'chr', value: Array.from({ length: 1000 }, (_, i) => `line ${i} <&> é\n`).join('') });
  tree.createNode(v, 'Bin', { format: 'bin', value: new Uint8Array(Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff)) });
  return tree;
}

const gets = (n: number): string => Array.from({ length: n }, (_, i) => get(i + 1, `./Vendor/Leaf${i}`)).join('');

describe('MsgID and session life', () => {
  it('package 1 is MsgID 1; each answer counts on; a closing package gets no answer', async () => {
    const tree = handset();
    const s = new ClientSession({ tree, serverId: 'srvA', sessionId: 'A7' });
    const p1 = s.start();
    expect(p1.hdr).toMatchObject({ msgID: '1', sessionID: 'A7', target: { locURI: 'https://dm.example.com/dm' } });
    expect(p1.hdr.source.locURI).toMatch(/^IMEI:\d{15}$/);
    expect(commandKinds(p1)).toEqual(['Alert(1201)', 'Replace']);
    const devInfo = p1.body.commands[1]!;
    expect(devInfo.kind === 'Replace' && devInfo.items.map((i) => i.source?.locURI)).toContain('./DevInfo/DmV');
    expect(p1.body.commands.map((c) => c.cmdID)).toEqual(['1', '2']);

    const r2 = await s.receive(pkg(get(3, './DevInfo/Mod'), { msgId: 1, sessionId: 'A7', hdrExtra: '<RespURI>https://dm.example.com/dm?s=A7</RespURI>' }));
    expect(r2!.hdr.msgID).toBe('2');
    expect(s.respURI).toBe('https://dm.example.com/dm?s=A7');
    const r3 = await s.receive(pkg(get(4, './DevInfo/Man'), { msgId: 2, sessionId: 'A7' }));
    expect(r3!.hdr.msgID).toBe('3');
    expect(r3!.body.commands[0]).toMatchObject({ cmd: 'SyncHdr', msgRef: '2' });
    const end = await s.receive(pkg('<Status><CmdID>1</CmdID><MsgRef>3</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>', { msgId: 3 }));
    expect(end).toBeNull();
    expect(s.isEnded).toBe(true);
    await expect(s.receive(pkg(get(1, '.'), { msgId: 4 }))).rejects.toThrow(/ended/);
  });

  it('Alert 1223 from the server ends the session after the answer', async () => {
    const s = new ClientSession({ tree: handset(), serverId: 'srvA' });
    const r = await s.receive(pkg('<Alert><CmdID>1</CmdID><Data>1223</Data></Alert>'));
    expect(codes(r!)).toEqual(['Alert 1 -> 200']);
    expect(s.isEnded).toBe(true);
  });

  it('queued Generic Alerts (1226) go with the next message', async () => {
    const s = new ClientSession({ tree: handset(), serverId: 'srvA' });
    s.queueGenericAlert({ correlator: 'job-1', source: './FUMO/fw', type: 'org.openmobilealliance.dm.firmwareupdate.devicerequest', format: 'int', data: '200' });
    const r = await s.receive(pkg(get(1, './DevInfo/Mod')));
    const a = r!.body.commands.find((c): c is Alert => c.kind === 'Alert')!;
    expect(a).toMatchObject({ data: '1226', correlator: 'job-1', items: [{ source: { locURI: './FUMO/fw' }, meta: { format: 'int' } }] });
  });

  it('a 401 challenge on our SyncHdr is handed to the credentials hook for the next message', async () => {
    const seen: unknown[] = [];
    const s = new ClientSession({
      tree: handset(),
      serverId: 'srvA',
      credentials: (ch) => {
        seen.push(ch);
        return ch ? { meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'ZGlnZXN0' } : undefined;
      },
    });
    await s.receive(pkg(get(1, './DevInfo/Mod')));
    const r = await s.receive(
      pkg('<Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Chal><Meta><Type xmlns="syncml:metinf">syncml:auth-md5</Type><Format xmlns="syncml:metinf">b64</Format><NextNonce xmlns="syncml:metinf">AAEC</NextNonce></Meta></Chal><Data>401</Data></Status>' + get(2, './DevInfo/Man'), { msgId: 2 }),
    );
    expect(seen[seen.length - 1]).toMatchObject({ status: 401, chal: { meta: { nextNonce: 'AAEC' } } });
    expect(r!.hdr.cred).toEqual({ meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'ZGlnZXN0' });
  });
});

describe("responses over the server's MaxMsgSize", () => {
  it('split over messages: no Final until the last; the rest follows each Alert 1222; every message fits', async () => {
    const tree = handset();
    const run = await processPackage(tree, pkg(gets(30), { maxMsgSize: 2000 }), { serverId: 'srvA' });
    expect(run.messages.length).toBeGreaterThan(3);
    run.messages.forEach((m, i) => {
      expect(bytesOf(m).length, `message ${i + 1} size`).toBeLessThanOrEqual(2000);
      expect(m.body.final, `message ${i + 1} Final`).toBe(i === run.messages.length - 1);
      expect(m.hdr.msgID).toBe(String(2 + i));
      expect(m.body.commands[0]).toMatchObject({ kind: 'Status', cmd: 'SyncHdr', cmdID: '1' });
      if (i > 0) expect(m.body.commands[1]).toMatchObject({ kind: 'Status', cmd: 'Alert', data: '200', msgRef: String(1 + i) }); // the 1222
    });
    // every Get answered exactly once, in order, its Results never before its Status
    const getStatuses = statusList(run.messages).filter((s) => s.cmd === 'Get');
    expect(getStatuses.map((s) => s.cmdRef)).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 1)));
    expect(resultsList(run.messages).map((r) => text(r.items[0]))).toEqual(Array.from({ length: 30 }, (_, i) => `value number ${i} `.repeat(8)));
    expect(run.warnings).toEqual([]);
  });

  it('without MaxMsgSize everything goes in one message', async () => {
    const run = await processPackage(handset(), pkg(gets(30)), { serverId: 'srvA' });
    expect(run.messages).toHaveLength(1);
  });

  it('the session holds the rest until the server asks (Alert 1222)', async () => {
    const s = new ClientSession({ tree: handset(), serverId: 'srvA' });
    const first = await s.receive(pkg(gets(30), { maxMsgSize: 2000 }));
    expect(first!.body.final).toBe(false);
    expect(s.pending).toBeGreaterThan(0);
    expect(commandKinds(first!)).not.toContain('Alert(1222)'); // the server's package is complete: it asks, not us
    const next = await s.receive(s.nextMessageRequest(first!));
    expect(next!.body.commands[1]).toMatchObject({ cmd: 'Alert', cmdRef: '2', msgRef: '2' });
  });

  it('a Results too big for one message goes as a large object: MoreData, Meta Size on the first chunk', async () => {
    const tree = handset();
    const value = tree.lookup('./Vendor/Big')!.value as string;
    const run = await processPackage(tree, pkg(get(7, './Vendor/Big') + get(8, './Vendor/Leaf1'), { maxMsgSize: 3000 }), { serverId: 'srvA' });
    expect(run.messages.length).toBeGreaterThan(5);
    const chunks = resultsList(run.messages).filter((r) => r.cmdRef === '7');
    expect(chunks.length).toBeGreaterThanOrEqual(run.messages.length - 1); // one chunk per message (Get 8 may need one more)
    // each continuation answers the server's Alert 1222 too
    run.messages.slice(1).forEach((m, i) => expect(statusList(m).filter((s) => s.cmd === 'Alert').map((s) => s.msgRef)).toEqual([String(2 + i)]));
    chunks.forEach((r, i) => {
      const item = r.items[0]!;
      expect(item.moreData ?? false, `chunk ${i + 1} MoreData`).toBe(i < chunks.length - 1);
      expect(item.meta?.size, `chunk ${i + 1} Size`).toBe(i === 0 ? String(Buffer.byteLength(value)) : undefined);
      expect(item.source?.locURI).toBe('./Vendor/Big');
    });
    expect(chunks.map((r) => text(r.items[0])).join('')).toBe(value);
    for (const m of run.messages) expect(bytesOf(m).length).toBeLessThanOrEqual(3000);
    // the Get's Status goes with the first chunk; the next Get's Results after the last chunk
    expect(codes(run.messages[0]!)).toEqual(['Get 7 ./Vendor/Big -> 200']);
    expect(resultsList(run.messages).at(-1)!.cmdRef).toBe('8');
  });

  it('binary results are chunked as bytes in WBXML', async () => {
    const tree = handset();
    const value = tree.lookup('./Vendor/Bin')!.value as Uint8Array;
    const run = await processPackage(tree, pkg(get(1, './Vendor/Bin'), { maxMsgSize: 2000 }), { serverId: 'srvA', encoding: 'wbxml' });
    const chunks = resultsList(run.messages);
    expect(chunks.length).toBeGreaterThan(3);
    const joined = Buffer.concat(chunks.map((r) => (r.items[0]!.data as { bytes: Uint8Array }).bytes));
    expect(new Uint8Array(joined)).toEqual(value);
    for (const m of run.messages) expect(bytesOf(m, 'wbxml').length).toBeLessThanOrEqual(2000);
  });

  it('an Atomic whose response cannot fit one message: 517, rolled back', async () => {
    const tree = handset();
    const before = serializeTree(tree);
    const run = await processPackage(tree, pkg(atomic(1, add(2, './Vendor/New', 'x'), ...Array.from({ length: 20 }, (_, i) => get(3 + i, `./Vendor/Leaf${i}`))), { maxMsgSize: 2500 }), { serverId: 'srvA' });
    const st = statusList(run.messages);
    expect(st[0]).toMatchObject({ cmd: 'Atomic', data: '517' });
    expect(st.slice(1).every((s) => s.data === '216')).toBe(true);
    expect(resultsList(run.messages)).toEqual([]);
    expect(serializeTree(tree)).toBe(before);
    // the same Atomic with room to spare commits
    const ok = await processPackage(tree, pkg(atomic(1, add(2, './Vendor/New', 'x'), get(3, './Vendor/Leaf0')), { maxMsgSize: 2500 }), { serverId: 'srvA' });
    expect(statusList(ok.messages)[0]).toMatchObject({ cmd: 'Atomic', data: '200' });
    expect(tree.lookup('./Vendor/New')).toBeDefined();
  });
});

describe('large objects from the server', () => {
  const chunk = (id: number, uri: string, data: string, o: { size?: number; more?: boolean } = {}): string =>
    `<Replace><CmdID>${id}</CmdID><Item><Target><LocURI>${uri}</LocURI></Target>${o.size !== undefined ? `<Meta><Size xmlns="syncml:metinf">${o.size}</Size></Meta>` : ''}<Data>${data}</Data>${o.more ? '<MoreData/>' : ''}</Item></Replace>`;

  async function send(s: ClientSession, body: string, msgId: number, final: boolean): Promise<SyncML> {
    const r = await s.receive(pkg(body, { msgId, final }));
    return r!;
  }

  it('chunks are answered 213 (with Alert 1222, no Final); the last applies the whole value', async () => {
    const tree = handset();
    const s = new ClientSession({ tree, serverId: 'srvA' });
    const m1 = await send(s, chunk(1, './Vendor/Leaf0', 'Hello, ', { size: 18, more: true }), 1, false);
    expect(codes(m1)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 213']);
    expect(commandKinds(m1)).toContain('Alert(1222)');
    expect(m1.body.final).toBe(false);
    expect(s.incoming).toMatchObject({ target: './Vendor/Leaf0', size: 7, declaredSize: 18 });
    const m2 = await send(s, chunk(1, './Vendor/Leaf0', 'large ', { more: true }), 2, false);
    expect(codes(m2)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 213']);
    expect(tree.lookup('./Vendor/Leaf0')!.value).toBe('value number 0 '.repeat(8)); // nothing applied yet
    const m3 = await send(s, chunk(1, './Vendor/Leaf0', 'world'), 3, true);
    expect(codes(m3)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 200']);
    expect(m3.body.final).toBe(true);
    expect(commandKinds(m3)).not.toContain('Alert(1222)');
    expect(tree.lookup('./Vendor/Leaf0')!.value).toBe('Hello, large world');
    expect(s.incoming).toBeUndefined();
  });

  it('a total that does not match Meta Size is 424 and nothing is applied', async () => {
    const tree = handset();
    const s = new ClientSession({ tree, serverId: 'srvA' });
    await send(s, chunk(1, './Vendor/Leaf0', 'abc', { size: 10, more: true }), 1, false);
    const m2 = await send(s, chunk(1, './Vendor/Leaf0', 'def'), 2, true);
    expect(codes(m2)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 424']);
    expect(tree.lookup('./Vendor/Leaf0')!.value).toBe('value number 0 '.repeat(8));
  });

  it('a new command before the last chunk: Alert 1225 naming the object, which is dropped', async () => {
    const tree = handset();
    const s = new ClientSession({ tree, serverId: 'srvA' });
    await send(s, chunk(1, './Vendor/Leaf0', 'abc', { size: 6, more: true }), 1, false);
    const m2 = await send(s, get(2, './Vendor/Leaf1'), 2, true);
    const kinds = commandKinds(m2);
    expect(kinds).toEqual(['Status(SyncHdr)', 'Alert(1225)', 'Status(Get)', 'Results']);
    const a = m2.body.commands[1] as Alert;
    expect(a.items[0]!.target?.locURI).toBe('./Vendor/Leaf0');
    expect(s.incoming).toBeUndefined();
    expect(tree.lookup('./Vendor/Leaf0')!.value).toBe('value number 0 '.repeat(8));
    expect(s.log.find((e) => e.status === 1225)?.message).toMatch(/dropped after 3 bytes/);
  });

  it('Meta Size over our MaxObjSize is 416; data growing past it 413', async () => {
    const s = new ClientSession({ tree: handset(), serverId: 'srvA', maxObjSize: 8 });
    const m1 = await send(s, chunk(1, './Vendor/Leaf0', 'abc', { size: 100, more: true }), 1, false);
    expect(codes(m1)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 416']);
    expect(m1.hdr.meta).toEqual({ maxObjSize: '8' }); // we say what we take
    const s2 = new ClientSession({ tree: handset(), serverId: 'srvA', maxObjSize: 8 });
    await send(s2, chunk(1, './Vendor/Leaf0', 'abcdef', { more: true }), 1, false);
    const m2 = await send(s2, chunk(1, './Vendor/Leaf0', 'ghijkl', { more: true }), 2, false);
    expect(codes(m2)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 413']);
    expect(s2.incoming).toBeUndefined();
  });

  it('the server closing its package mid-object: Alert 1225', async () => {
    const s = new ClientSession({ tree: handset(), serverId: 'srvA' });
    const m = await send(s, chunk(1, './Vendor/Leaf0', 'abc', { size: 6, more: true }), 1, true);
    expect(commandKinds(m)).toEqual(['Status(SyncHdr)', 'Status(Replace)', 'Alert(1225)']);
  });

  it("the server's Alert 1225 stops our chunked Results", async () => {
    const tree = handset();
    const s = new ClientSession({ tree, serverId: 'srvA' });
    const first = await s.receive(pkg(get(1, './Vendor/Big'), { maxMsgSize: 3000 }));
    expect((resultsList(first!)[0] as Results).items[0]!.moreData).toBe(true);
    const r = await s.receive(pkg('<Alert><CmdID>1</CmdID><Data>1225</Data><Item><Source><LocURI>./Vendor/Big</LocURI></Source></Item></Alert>', { msgId: 2 }));
    expect(resultsList(r!)).toEqual([]);
    expect(r!.body.final).toBe(true);
    expect(s.warnings.join()).toMatch(/interrupted/);
  });
});

describe('misc', () => {
  it('a Replace whose item is too big for our MaxObjSize without chunks is 413', async () => {
    const run = await processPackage(handset(), pkg(replace(1, './Vendor/Leaf0', 'x'.repeat(50))), { serverId: 'srvA', maxObjSize: 20 });
    expect(codes(run.messages[0]!)).toEqual(['Replace 1 ./Vendor/Leaf0 -> 413']);
  });
});
