/**
 * The DM 2.0 client: a server package run on a real device tree with the DM 1.2 processor's ACL and
 * status rules, package 1 built from the tree, and the HTTP loop against a scripted server.
 */
import { describe, expect, it } from 'vitest';
import { executeDm20Package, buildPackage1, dm20Url, runDm20Session, supportedMos, type Dm20Poster } from '../../main/client/dm20/index.js';
import { decodeClientMessage, encodeDm20, type Dm20Command, type Dm20ServerPackage } from '../../main/protocol/dm20/index.js';
import { createDeviceTree, type DmAccountSpec } from '../../main/tree/mos.js';
import { DEVICE } from '../../main/tree/tree.js';
import type { HttpReply } from '../../main/client/transport.js';

const DEV = 'IMEI:490154203237518';
const account = (serverId: string): DmAccountSpec => ({
  serverId, addr: `http://127.0.0.1/${serverId}`,
  clientCred: { type: 'DIGEST', name: 'dev', secret: 'pw' }, serverCred: { type: 'DIGEST', name: serverId, secret: 'spw' },
});
const tree = () => createDeviceTree({ devId: DEV, mod: 'AM-X1', man: 'Acme', accounts: [account('dmw'), account('other')] });
const pkg = (...CMD: Dm20Command[]): Dm20ServerPackage => ({ Ver: '2.0', SID: '1F', Pkg: 2, CMD });

describe('DM 2.0 client: executing a package on the tree', () => {
  it('GET a leaf returns its value with Format and Type', async () => {
    const r = await executeDm20Package(tree(), pkg({ CmdID: 1, Cmd: 'GET', URI: './DevInfo/Mod' }), { serverId: 'dmw' });
    expect(r.results).toEqual([{ CmdRef: 1, Status: 200, URI: './DevInfo/Mod', MOData: 'AM-X1', Format: 'chr', Type: 'text/plain' }]);
    expect(r.end).toBe(false);
  });

  it('GET an interior node returns its child names', async () => {
    const r = await executeDm20Package(tree(), pkg({ CmdID: 1, Cmd: 'GET', URI: './DMAcc' }), { serverId: 'dmw' });
    expect(r.results[0]).toMatchObject({ Status: 200, Format: 'node', MOData: 'dmw/other' });
  });

  it('PUT replaces an existing leaf and creates a missing one', async () => {
    const t = tree();
    const r = await executeDm20Package(t, pkg(
      { CmdID: 1, Cmd: 'PUT', URI: './DMAcc/dmw/Name', MOData: 'Lab server', Format: 'chr' },
      { CmdID: 2, Cmd: 'PUT', URI: './DMAcc/dmw/Ext/Note', MOData: 'hello', Format: 'chr' },
    ), { serverId: 'dmw' });
    expect(r.results).toEqual([{ CmdRef: 1, Status: 200 }, { CmdRef: 2, Status: 200 }]);
    expect(t.get(DEVICE, './DMAcc/dmw/Name')).toMatchObject({ ok: true, value: { value: 'Lab server' } });
    expect(t.get(DEVICE, './DMAcc/dmw/Ext/Note')).toMatchObject({ ok: true, value: { value: 'hello' } });
    expect(r.events.map((e) => e.cmd)).toEqual(['PUT(Replace)', 'PUT(Add)']);
  });

  it('PUT of binary data (Format bin, base64 MOData) stores the bytes; GET gives them back base64', async () => {
    const t = tree();
    const put = await executeDm20Package(t, pkg({ CmdID: 1, Cmd: 'PUT', URI: './DMAcc/dmw/Ext/Blob', MOData: 'AAEC/w==', Format: 'bin' }), { serverId: 'dmw' });
    expect(put.results).toEqual([{ CmdRef: 1, Status: 200 }]);
    const get = await executeDm20Package(t, pkg({ CmdID: 2, Cmd: 'GET', URI: './DMAcc/dmw/Ext/Blob' }), { serverId: 'dmw' });
    expect(get.results[0]).toMatchObject({ Status: 200, MOData: 'AAEC/w==', Format: 'bin' });
  });

  it('ACLs apply to the server of the package: another server\'s account is 425, a read-only leaf 405', async () => {
    const t = tree();
    const r = await executeDm20Package(t, pkg(
      { CmdID: 1, Cmd: 'GET', URI: './DMAcc/other/Name' },
      { CmdID: 2, Cmd: 'PUT', URI: './DMAcc/other/Name', MOData: 'mine now' },
      { CmdID: 3, Cmd: 'DELETE', URI: './DMAcc/other' },
      { CmdID: 4, Cmd: 'PUT', URI: './DevInfo/Mod', MOData: 'fake' },
      { CmdID: 5, Cmd: 'GET', URI: './No/Such' },
    ), { serverId: 'dmw' });
    expect(r.results.map((x) => [x.CmdRef, x.Status])).toEqual([[1, 425], [2, 425], [3, 425], [4, 405], [5, 404]]);
    expect(t.get(DEVICE, './DMAcc/other/Name')).toMatchObject({ ok: true, value: { value: 'other' } });
    expect(r.events.find((e) => e.cmdId === '1')?.message).toMatch(/other/);
  });

  it('DELETE removes a subtree it may delete', async () => {
    const t = tree();
    await executeDm20Package(t, pkg({ CmdID: 1, Cmd: 'PUT', URI: './DMAcc/dmw/Ext/Tmp', MOData: 'x' }), { serverId: 'dmw' });
    const r = await executeDm20Package(t, pkg({ CmdID: 2, Cmd: 'DELETE', URI: './DMAcc/dmw/Ext/Tmp' }), { serverId: 'dmw' });
    expect(r.results).toEqual([{ CmdRef: 2, Status: 200 }]);
    expect(t.lookup('./DMAcc/dmw/Ext/Tmp')).toBeUndefined();
  });

  it('EXEC needs the Exec right, then goes to the Exec handler; its results come back as MOData', async () => {
    const t = tree();
    const denied = await executeDm20Package(t, pkg({ CmdID: 1, Cmd: 'EXEC', URI: './DMAcc/dmw/Ext' }), { serverId: 'dmw' });
    expect(denied.results).toEqual([{ CmdRef: 1, Status: 425 }]);
    const setup = await executeDm20Package(t, pkg(
      { CmdID: 2, Cmd: 'PUT', URI: './DMAcc/dmw/Ext/Op', MOData: '' },
      { CmdID: 3, Cmd: 'PUT', URI: './DMAcc/dmw/Ext/Op?prop=ACL', MOData: 'Exec=dmw&Get=dmw&Replace=dmw' },
      { CmdID: 4, Cmd: 'EXEC', URI: './DMAcc/dmw/Ext/Op' },
    ), { serverId: 'dmw' });
    expect(setup.results).toEqual([{ CmdRef: 2, Status: 200 }, { CmdRef: 3, Status: 200 }, { CmdRef: 4, Status: 406 }]);
    const seen: string[] = [];
    const r = await executeDm20Package(t, pkg({ CmdID: 5, Cmd: 'EXEC', URI: './DMAcc/dmw/Ext/Op', MOData: 'arg', Correlator: 'c1' }), {
      serverId: 'dmw',
      exec: (req) => {
        seen.push(`${req.path} ${String(req.data)} ${req.correlator}`);
        return { status: 200, results: { data: 'ran', format: 'chr' } };
      },
    });
    expect(seen).toEqual(['./DMAcc/dmw/Ext/Op arg c1']);
    expect(r.results).toEqual([{ CmdRef: 5, Status: 200, URI: './DMAcc/dmw/Ext/Op', MOData: 'ran', Format: 'chr', Type: 'text/plain' }]);
  });

  it('commands this client does not implement answer 406; CONT 200; END stops the package', async () => {
    const r = await executeDm20Package(tree(), pkg(
      { CmdID: 1, Cmd: 'HGET', URI: './a', DataURL: 'http://repo.example/a' },
      { CmdID: 2, Cmd: 'SHOW', URL: 'http://portal.example/' },
      { CmdID: 3, Cmd: 'SUB', URI: './DevInfo' },
      { CmdID: 4, Cmd: 'CONT' },
      { CmdID: 5, Cmd: 'END' },
    ), { serverId: 'dmw' });
    expect(r.results).toEqual([{ CmdRef: 1, Status: 406 }, { CmdRef: 2, Status: 406 }, { CmdRef: 3, Status: 406 }, { CmdRef: 4, Status: 200 }]);
    expect(r.end).toBe(true);
  });
});

describe('DM 2.0 client: package 1', () => {
  it('lists the MOs of the tree and its DevInfo', () => {
    const t = tree();
    expect(supportedMos(t)).toEqual([
      { MOID: 'urn:oma:mo:oma-dm-devinfo:1.0', URI: './DevInfo' },
      { MOID: 'urn:oma:mo:oma-dm-devdetail:1.0', URI: './DevDetail' },
      { MOID: 'urn:oma:mo:oma-dm-dmacc:1.0', URI: './DMAcc/dmw' },
      { MOID: 'urn:oma:mo:oma-dm-dmacc:1.0', URI: './DMAcc/other' },
    ]);
    const p1 = buildPackage1(t, { devId: DEV, sessionId: '1F', events: [{ Type: 'urn:x', Data: 'y' }] });
    expect(p1).toMatchObject({ Ver: '2.0', SID: '1F', DevID: DEV, Pkg: 1, Init: 'client', DevInfo: { DevId: DEV, Man: 'Acme', Mod: 'AM-X1' }, Events: [{ Type: 'urn:x', Data: 'y' }] });
    expect(encodeDm20(p1).ok).toBe(true);
  });

  it('dm20Url appends /v2 to the account address', () => {
    expect(dm20Url('http://h:1/dm')).toBe('http://h:1/dm/v2');
    expect(dm20Url('http://h:1/dm/')).toBe('http://h:1/dm/v2');
  });
});

/** A scripted server: answers each POST with the next reply and records what the client sent. */
function scripted(replies: (HttpReply | ((sent: unknown) => HttpReply))[]): Dm20Poster & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    post(_url, body) {
      const m = decodeClientMessage(body);
      if (!m.ok) throw new Error(`client sent an invalid package: ${m.error.message} at ${m.error.path}`);
      sent.push(m.value);
      const next = replies.shift();
      if (!next) return Promise.reject(new Error('script exhausted'));
      return Promise.resolve(typeof next === 'function' ? next(m.value) : next);
    },
  };
}
const json = (p: unknown, status = 200, ct = 'application/vnd.oma.dm+json'): HttpReply => ({ status, headers: { 'content-type': ct }, body: new TextEncoder().encode(JSON.stringify(p)) });

describe('DM 2.0 client: the session loop', () => {
  it('package 1 -> commands -> results -> END', async () => {
    const server = scripted([json(pkg({ CmdID: 1, Cmd: 'GET', URI: './DevInfo/Mod' })), json(pkg({ CmdID: 2, Cmd: 'END' }))]);
    const out = await runDm20Session({ tree: tree(), serverId: 'dmw', url: 'http://x/dm/v2', sessionId: '1F', transport: server });
    expect(out).toMatchObject({ ok: true, protocol: '2.0', devId: DEV, sessionId: '1F', roundTrips: 2 });
    expect(server.sent).toHaveLength(2);
    expect(server.sent[0]).toMatchObject({ Pkg: 1, SID: '1F', DevID: DEV });
    expect(server.sent[1]).toEqual({ Ver: '2.0', SID: '1F', DevID: DEV, Pkg: 3, Results: [{ CmdRef: 1, Status: 200, URI: './DevInfo/Mod', MOData: 'AM-X1', Format: 'chr', Type: 'text/plain' }] });
    expect(out.log.map((e) => e.cmd)).toEqual(['GET(Get)', 'END']);
  });

  it.each([
    ['an HTTP error', json('x', 500, 'text/plain'), /HTTP 500/],
    ['a wrong media type', json(pkg({ CmdID: 1, Cmd: 'END' }), 200, 'text/html'), /media type "text\/html"/],
    ['a malformed package', json({ Ver: '2.0', SID: '1F', Pkg: 2, CMD: [{ CmdID: 1, Cmd: 'GET' }] }), /\$\.CMD\[0\]\.URI/],
    ['another session', json({ ...pkg({ CmdID: 1, Cmd: 'END' }), SID: '2A' }), /session 2A, not 1F/],
  ])('fails clearly on %s', async (_n, reply, why) => {
    const out = await runDm20Session({ tree: tree(), serverId: 'dmw', url: 'http://x/dm/v2', sessionId: '1F', transport: scripted([reply]) });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(why);
  });

  it('gives up after maxRoundTrips without END', async () => {
    const cont = () => json(pkg({ CmdID: 1, Cmd: 'CONT' }));
    const out = await runDm20Session({ tree: tree(), serverId: 'dmw', url: 'http://x/dm/v2', sessionId: '1F', transport: scripted([cont, cont, cont]), maxRoundTrips: 3 });
    expect(out).toMatchObject({ ok: false, roundTrips: 3, error: 'no END after 3 round trips' });
  });

  it('reports a transport failure', async () => {
    const out = await runDm20Session({ tree: tree(), serverId: 'dmw', url: 'http://x/dm/v2', transport: scripted([]) });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/script exhausted/);
  });
});

describe('DM 2.0 client: generic alerts as events', () => {
  it('maps the DM 1.2 GenericAlert fields', async () => {
    const { eventFromGenericAlert } = await import('../../main/client/dm20/index.js');
    expect(eventFromGenericAlert({ type: 'urn:oma:at:fumo:1.0:status', source: './FUMO', format: 'int', data: '200', correlator: 'c1' }))
      .toEqual({ Type: 'urn:oma:at:fumo:1.0:status', Source: './FUMO', Format: 'int', Data: '200', Correlator: 'c1' });
    expect(eventFromGenericAlert({ code: '1224', data: 'x' })).toEqual({ Type: 'alert:1224', Data: 'x' });
  });
});
