/**
 * Issue 15's open product bug: binary data over XML must travel as Meta Format b64 (OMA-TS-DM_TND-V1_2
 * §7.7.2: "When data has a binary form ... and the data is sent over XML, then the Meta Format MUST
 * be b64"), while WBXML keeps bin with OPAQUE bytes; the receiving side decodes the Base64 and the
 * node stays bin. Round trips between our server and our handset keep every byte, small and as
 * large objects, and the judge finds no meta.bin-xml.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeMessage, encodeMessage, type Encoding } from '../../main/protocol/codec.js';
import type { SyncML } from '../../main/protocol/model.js';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import { AAUTH_TYPE, VirtualHandset, type HandsetOptions } from '../../main/client/index.js';
import { DEVICE } from '../../main/tree/tree.js';
import type { JobSpec } from '../../main/server/types.js';
import { checkLoggedSession } from '../../main/judge/index.js';
import { createDeviceTree } from '../../main/tree/mos.js';
import { codes, runPkg } from '../helpers/dm-package.js';
import { sync } from '../helpers/sync-store.js';

const BYTES = new Uint8Array([0, 1, 2, 255, 0x3c, 0x26]);

function replaceMsg(format = 'bin'): SyncML {
  return {
    hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: '2', target: { locURI: 'IMEI:1' }, source: { locURI: 'http://s/dm' } },
    body: { commands: [{ kind: 'Replace', cmdID: '3', items: [{ target: { locURI: './Vendor/Bin' }, meta: { format, type: 'application/octet-stream' }, data: { kind: 'binary', bytes: BYTES } }] }], final: true },
  };
}

describe('the encoder', () => {
  it('writes binary data over XML as Format b64 with its Base64, and over WBXML as Format bin with OPAQUE bytes', () => {
    const xml = encodeMessage(replaceMsg(), 'xml');
    if (!xml.ok) throw new Error(xml.error.message);
    const text = new TextDecoder().decode(xml.value);
    expect(text).toContain('<Format xmlns="syncml:metinf">b64</Format>');
    expect(text).not.toMatch(/>bin</);
    expect(text).toContain(`<Data>${Buffer.from(BYTES).toString('base64')}</Data>`);
    const backXml = decodeMessage(xml.value);
    if (!backXml.ok) throw new Error(backXml.error.message);
    const item = (backXml.value.message.body.commands[0] as { items: { meta?: { format?: string }; data?: unknown }[] }).items[0]!;
    // The decoded document says what the wire said (the judge reads it so).
    expect(item.meta?.format).toBe('b64');
    expect(item.data).toEqual({ kind: 'text', text: Buffer.from(BYTES).toString('base64') });

    const wbxml = encodeMessage(replaceMsg(), 'wbxml');
    if (!wbxml.ok) throw new Error(wbxml.error.message);
    const backWbxml = decodeMessage(wbxml.value);
    if (!backWbxml.ok) throw new Error(backWbxml.error.message);
    const w = (backWbxml.value.message.body.commands[0] as { items: { meta?: { format?: string }; data?: unknown }[] }).items[0]!;
    expect(w.meta?.format).toBe('bin');
    expect(w.data).toEqual({ kind: 'binary', bytes: BYTES });
  });

  it('leaves text and b64 text alone', () => {
    const m = replaceMsg('b64');
    (m.body.commands[0] as { items: { data?: unknown }[] }).items[0]!.data = { kind: 'text', text: 'QUJD' };
    const xml = encodeMessage(m, 'xml');
    expect(xml.ok && new TextDecoder().decode(xml.value)).toContain('<Data>QUJD</Data>');
  });
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function run(encoding: Encoding, jobs: (h: VirtualHandset) => JobSpec[], o: { server?: Partial<DmServerOptions>; handset?: HandsetOptions } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-b64-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const s = await DmServer.start({
    dataDir: dir, port: 0, host: '127.0.0.1', clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' },
    serverCred: { name: 'dmw', secret: 'srvpw' }, serverAuth: 'md5', ...o.server,
  });
  cleanup.push(() => s.close());
  const type = AAUTH_TYPE.md5;
  const h = await VirtualHandset.open({
    encoding, ...o.handset,
    device: { mod: 'Lab Phone 9', accounts: [{ serverId: s.config.serverId, addr: s.url, clientCred: { type, name: 'lab', secret: 'pw' }, serverCred: { type, name: 'dmw', secret: 'srvpw' } }] },
  });
  cleanup.push(() => h.close());
  const ids: number[] = [];
  for (const spec of jobs(h)) ids.push((await s.addJob(h.devId, spec)).job.id);
  expect((await h.connect()).ok).toBe(true);
  const all = sync(s.store).jobs({ device: h.devId });
  const results = ids.map((id) => all.find((j) => j.id === id)!);
  const findings = sync(s.store).sessions({ device: h.devId }).flatMap((ss) => checkLoggedSession(sync(s.store).messages(ss.id)));
  return { h, results, findings };
}

function leaf(h: VirtualHandset, uri: string, value: Uint8Array): void {
  const r = h.tree.add(DEVICE, uri, { format: 'bin', value, createParents: true, acl: 'Add=*&Delete=*&Exec=*&Get=*&Replace=*' });
  if (!r.ok) throw new Error(r.message);
}

describe('server <-> handset round trips of binary data', () => {
  it.each(['xml', 'wbxml'] as const)('%s: a binary Replace lands as the same bytes in a bin node, and a Get gives them back; no meta.bin-xml', async (encoding) => {
    const b64 = Buffer.from(BYTES).toString('base64');
    const { h, results, findings } = await run(encoding, (hs) => {
      leaf(hs, './Vendor/Bin', new Uint8Array([9]));
      return [{ kind: 'replace', uri: './Vendor/Bin', value: b64, format: 'bin', binary: true }, { kind: 'get', uri: './Vendor/Bin' }];
    });
    expect(results[0]).toMatchObject({ status: 'done', statusCode: 200 });
    const node = h.tree.lookup('./Vendor/Bin')!;
    expect(node.format).toBe('bin');
    expect(Buffer.from(node.value as Uint8Array).equals(Buffer.from(BYTES))).toBe(true);
    // The same job result whichever encoding carried it.
    expect(results[1]!.results).toEqual([expect.objectContaining({ uri: './Vendor/Bin', format: 'bin', data: b64, encoding: 'b64' })]);
    expect(findings.filter((f) => f.rule === 'meta.bin-xml')).toEqual([]);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it.each(['xml', 'wbxml'] as const)('%s: large binary objects both ways under MaxMsgSize 4 KiB keep every byte (Size counts bytes)', async (encoding) => {
    const down = new Uint8Array(randomBytes(15_000));
    const up = new Uint8Array(randomBytes(20_000));
    const { h, results, findings } = await run(encoding, (hs) => {
      leaf(hs, './Vendor/Firmware', new Uint8Array());
      leaf(hs, './Vendor/Blob', up);
      return [{ kind: 'replace', uri: './Vendor/Firmware', value: Buffer.from(down).toString('base64'), format: 'bin', binary: true }, { kind: 'get', uri: './Vendor/Blob' }];
    }, { server: { limits: { maxMsgSize: 4096 } }, handset: { maxMsgSize: 4096 } });
    expect(results.map((r) => [r.status, r.statusCode])).toEqual([['done', 200], ['done', 200]]);
    expect(Buffer.from(h.tree.lookup('./Vendor/Firmware')!.value as Uint8Array).equals(Buffer.from(down))).toBe(true);
    expect(h.tree.lookup('./Vendor/Firmware')!.format).toBe('bin');
    expect(results[1]!.results).toHaveLength(1);
    expect(results[1]!.results[0]).toMatchObject({ format: 'bin', encoding: 'b64' });
    expect(Buffer.from(results[1]!.results[0]!.data!, 'base64').equals(Buffer.from(up))).toBe(true);
    expect(findings.filter((f) => f.rule === 'meta.bin-xml')).toEqual([]);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  });
});

describe('b64 from other peers', () => {
  // Seven bytes; their Base64 "AAEC/zwmBw==" cut where no Base64 text may end.
  const seven = new Uint8Array([0, 1, 2, 255, 0x3c, 0x26, 7]);
  const chunk = (cmdId: number, text: string, o: { size?: number; more?: boolean }) =>
    `<Replace><CmdID>${cmdId}</CmdID><Item><Target><LocURI>./Vendor/App/Blob</LocURI></Target><Meta><Format xmlns="syncml:metinf">b64</Format>${o.size !== undefined ? `<Size xmlns="syncml:metinf">${o.size}</Size>` : ''}</Meta><Data>${text}</Data>${o.more ? '<MoreData/>' : ''}</Item></Replace>`;

  function handsetTree() {
    const tree = createDeviceTree({});
    const v = tree.createNode(tree.root, 'Vendor', { acl: 'Add=*&Get=*&Replace=*' });
    const app = tree.createNode(v, 'App');
    tree.createNode(app, 'Blob', { format: 'bin', value: new Uint8Array([9]) });
    tree.createNode(app, 'Secret', { format: 'b64', value: 'QUJD' });
    return tree;
  }

  it.each([[7, 'the bytes'], [12, 'the Base64 characters']])('the handset joins a Base64 text cut mid-quantum, Size %i counting %s, into the bin node', async (size) => {
    const tree = handsetTree();
    const { reply } = await runPkg(tree, chunk(2, 'AAEC/z', { size, more: true }) + chunk(3, 'wmBw==', {}), { serverId: 'srvA' });
    expect(codes(reply)).toEqual(['Replace 2 ./Vendor/App/Blob -> 213', 'Replace 3 ./Vendor/App/Blob -> 200']);
    const node = tree.lookup('./Vendor/App/Blob')!;
    expect(node.format).toBe('bin');
    expect(Buffer.from(node.value as Uint8Array).equals(Buffer.from(seven))).toBe(true);
  });

  it('the handset refuses a wrong Size (424) and keeps a b64 node as text', async () => {
    const tree = handsetTree();
    const bad = await runPkg(tree, chunk(2, 'AAEC/z', { size: 9, more: true }) + chunk(3, 'wmBw==', {}), { serverId: 'srvA' });
    expect(codes(bad.reply)).toEqual(['Replace 2 ./Vendor/App/Blob -> 213', 'Replace 3 ./Vendor/App/Blob -> 424']);
    const b64Node = `<Replace><CmdID>2</CmdID><Item><Target><LocURI>./Vendor/App/Secret</LocURI></Target><Meta><Format xmlns="syncml:metinf">b64</Format></Meta><Data>REVG</Data></Item></Replace>`;
    await runPkg(tree, b64Node, { serverId: 'srvA' });
    expect(tree.lookup('./Vendor/App/Secret')!.value).toBe('REVG');
  });
});

describe('the server reading b64 from other peers', () => {
  it('joins a device\'s chunked b64 Replace cut mid-quantum into bin bytes (Size in Base64 characters)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-b64-srv-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const s = await DmServer.start({ dataDir: dir, port: 0, host: '127.0.0.1' });
    cleanup.push(() => s.close());
    const msg = (msgId: number, target: string, body: string, final: boolean) =>
      `<SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>7</SessionID><MsgID>${msgId}</MsgID><Target><LocURI>${target}</LocURI></Target><Source><LocURI>IMEI:B64</LocURI></Source></SyncHdr><SyncBody>${body}${final ? '<Final/>' : ''}</SyncBody></SyncML>`;
    const piece = (cmdId: number, text: string, o: { size?: number; more?: boolean }) =>
      `<Replace><CmdID>${cmdId}</CmdID><Item><Source><LocURI>./Vendor/Dump</LocURI></Source><Meta><Format xmlns='syncml:metinf'>b64</Format>${o.size ? `<Size xmlns='syncml:metinf'>${o.size}</Size>` : ''}</Meta><Data>${text}</Data>${o.more ? '<MoreData/>' : ''}</Item></Replace>`;
    const post = async (url: string, xml: string) => {
      const res = await fetch(url, { method: 'POST', body: xml, headers: { 'content-type': 'application/vnd.syncml.dm+xml' } });
      expect(res.status).toBe(200);
      const d = decodeMessage(new Uint8Array(await res.arrayBuffer()));
      if (!d.ok) throw new Error(d.error.message);
      return d.value.message;
    };
    const first = await post(s.url, msg(1, s.url, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>${piece(2, 'AAEC/z', { size: 12, more: true })}`, false));
    await post(first.hdr.respURI!, msg(2, first.hdr.respURI!, `<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>${piece(2, 'wmBw==', {})}`, true));
    expect(sync(s.store).tree('IMEI:B64').find((t) => t.uri === './Vendor/Dump')).toMatchObject({ format: 'bin', data: 'AAEC/zwmBw==', encoding: 'b64' });
  });
});
