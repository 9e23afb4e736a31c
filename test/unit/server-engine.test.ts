/**
 * The pure session engine: package 1, job delivery and Status/Results matching, multi-message
 * packages (1222) both ways, large objects both ways, abort, and client authentication
 * (basic, MD5 with nonce rotation, HMAC, replay, throttling) and server credentials.
 */
import { describe, expect, it } from 'vitest';
import { basicCredential, hmacHeader, md5Credential, nonceBytes, AUTH_META_TYPE } from '../../main/protocol/auth.js';
import { encodeMessage } from '../../main/protocol/codec.js';
import type { Alert, Command, Container, ItemCommand, Results, Status } from '../../main/protocol/model.js';
import { buildPackage0 } from '../../main/server/notifier.js';
import { commandsOf, Harness, hdrStatus, SERVER, statusesOf } from '../helpers/engine-harness.js';

const get = (id: number, uri: string) => ({ id, spec: { kind: 'get' as const, uri } });

describe('package 1', () => {
  it('answers Alert 1201 and the DevInfo Replace, records DevInfo, and ends a session with nothing to do', () => {
    const h = new Harness();
    const out = h.send(h.pkg1());
    expect(hdrStatus(out)).toMatchObject({ data: '200', cmd: 'SyncHdr', msgRef: '1', targetRefs: [SERVER], sourceRefs: ['IMEI:001'] });
    const st = statusesOf(out).filter((s) => s.cmdRef !== '0');
    expect(st.map((s) => [s.cmd, s.cmdRef, s.data])).toEqual([['Alert', '1', '200'], ['Replace', '2', '200']]);
    expect(out.response.body.final).toBe(true);
    expect(out.response.hdr).toMatchObject({ sessionID: '1', msgID: '1', target: { locURI: 'IMEI:001' }, source: { locURI: SERVER }, respURI: `${SERVER}/s/1-ab` });
    expect(out.response.hdr.meta?.maxMsgSize).toBe(String(h.config.limits.maxMsgSize));
    expect(out.effects.devInfo).toEqual({ DevId: 'IMEI:001', Man: 'ACME', Mod: 'Rocket 3' });
    expect(out.effects.tree.map((t) => t.uri)).toContain('./DevInfo/Mod');
    expect(out.effects.closed).toEqual({ state: 'done', reason: 'completed' });
  });

  it('records client events (1224) and generic alerts (1226) and answers them 200', () => {
    const h = new Harness();
    const alert: Alert = { kind: 'Alert', cmdID: '', data: '1226', correlator: 'fw-42', items: [{ source: { locURI: './FUMO/Update' }, meta: { type: 'org.openmobilealliance.dm.firmwareupdate.devicerequest', format: 'chr' }, data: { kind: 'text', text: '200' } }] };
    const ev: Alert = { kind: 'Alert', cmdID: '', data: '1224', items: [{ meta: { type: 'com.example.boot' }, data: { kind: 'text', text: 'up' } }] };
    const out = h.send(h.pkg1([alert, ev]));
    expect(statusesOf(out).filter((s) => s.cmd === 'Alert').map((s) => s.data)).toEqual(['200', '200', '200']);
    expect(out.effects.alerts).toEqual([
      { code: '1226', correlator: 'fw-42', items: [{ source: './FUMO/Update', type: 'org.openmobilealliance.dm.firmwareupdate.devicerequest', format: 'chr', data: '200' }] },
      { code: '1224', items: [{ type: 'com.example.boot', data: 'up' }] },
    ]);
  });

  it('asks for the rest of a package 1 spread over two messages (1222) before sending commands', () => {
    const h = new Harness();
    h.jobs = [get(1, './DevInfo/Mod')];
    const first = h.send(h.message([{ kind: 'Alert', cmdID: '', data: '1201', items: [] }], { final: false }));
    expect(first.response.body.final).toBe(false);
    expect(commandsOf(first).map((c) => [c.kind, (c as Alert).data])).toEqual([['Alert', '1222']]);
    expect(first.effects.jobsSent).toEqual([]);
    const rest = h.send(h.message([{ kind: 'Replace', cmdID: '', items: [{ source: { locURI: './DevInfo/Mod' }, data: { kind: 'text', text: 'X' } }] }]));
    expect(commandsOf(rest).map((c) => c.kind)).toEqual(['Get']);
    expect(rest.response.body.final).toBe(true);
  });
});

describe('jobs: delivery and Status/Results matching', () => {
  it('sends queued jobs in package 2 and completes them from the statuses and results of package 3', () => {
    const h = new Harness();
    h.jobs = [get(1, './DevInfo/Mod'), { id: 2, spec: { kind: 'replace', uri: './Vendor/X', value: '5', format: 'int' } }, { id: 3, spec: { kind: 'delete', uri: './Vendor/Y' } }];
    const p2 = h.send(h.pkg1());
    const cmds = commandsOf(p2) as ItemCommand[];
    expect(cmds.map((c) => [c.kind, c.cmdID, c.items[0]!.target!.locURI])).toEqual([['Get', '4', './DevInfo/Mod'], ['Replace', '5', './Vendor/X'], ['Delete', '6', './Vendor/Y']]);
    expect(cmds[1]!.items[0]).toMatchObject({ meta: { format: 'int' }, data: { kind: 'text', text: '5' } });
    expect(p2.effects.jobsSent).toEqual([1, 2, 3]);
    expect(p2.effects.closed).toBeUndefined();

    const p3 = h.send(h.answer(p2, { code: (c) => (c.kind === 'Delete' ? 404 : 200), value: (uri) => ({ source: { locURI: uri }, meta: { format: 'chr' }, data: { kind: 'text', text: 'Rocket 3' } }) }));
    const byId = Object.fromEntries(p3.effects.jobsFinished.map((j) => [j.id, j]));
    expect(byId[1]).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', format: 'chr', data: 'Rocket 3' }] });
    expect(byId[2]).toMatchObject({ status: 'done', statusCode: 200 });
    expect(byId[3]).toMatchObject({ status: 'failed', statusCode: 404, error: 'device answered 404' });
    expect(p3.effects.tree).toContainEqual({ uri: './DevInfo/Mod', format: 'chr', type: null, data: 'Rocket 3' });
    // Nothing left: the server closes a package of statuses only, which ends the session.
    expect(commandsOf(p3)).toEqual([]);
    expect(p3.effects.closed?.state).toBe('done');
  });

  it('matches by MsgRef and CmdRef: a status for another message does not complete the job', () => {
    const h = new Harness();
    h.jobs = [get(1, './A')];
    const p2 = h.send(h.pkg1());
    const getCmd = commandsOf(p2)[0]!;
    const wrong: Status = { kind: 'Status', cmdID: '', msgRef: '99', cmdRef: getCmd.cmdID, cmd: 'Get', targetRefs: [], sourceRefs: [], data: '200', items: [] };
    const res: Results = { kind: 'Results', cmdID: '', msgRef: '99', cmdRef: getCmd.cmdID, targetRefs: [], sourceRefs: [], items: [{ source: { locURI: './A' }, data: { kind: 'text', text: 'x' } }] };
    const p3 = h.send(h.message([wrong, res]));
    expect(p3.effects.notes.join('\n')).toMatch(/Status for unknown command \(MsgRef 99/);
    expect(p3.effects.notes.join('\n')).toMatch(/Results for unknown command/);
    // The device closed its package without answering the real Get: the job fails, it is not lost.
    expect(p3.effects.jobsFinished).toEqual([expect.objectContaining({ id: 1, status: 'failed', error: 'the device closed its package without answering' })]);
  });

  it('a Results without MsgRef refers to the server message it answers', () => {
    const h = new Harness();
    h.jobs = [get(1, './A')];
    const p2 = h.send(h.pkg1());
    const msg = h.answer(p2);
    for (const c of msg.body.commands) if (c.kind === 'Results') delete c.msgRef;
    const p3 = h.send(msg);
    expect(p3.effects.jobsFinished[0]).toMatchObject({ status: 'done', results: [{ data: 'A/.' }] });
  });

  it('waits for Results that follow in a later message of the same client package', () => {
    const h = new Harness();
    h.jobs = [get(1, './A')];
    const p2 = h.send(h.pkg1());
    const full = h.answer(p2);
    const statuses = full.body.commands.filter((c) => c.kind === 'Status');
    const results = full.body.commands.filter((c) => c.kind === 'Results');
    const m3a = h.send(h.message(statuses, { final: false }));
    expect(m3a.effects.jobsFinished).toEqual([]);
    expect(commandsOf(m3a).map((c) => (c as Alert).data)).toEqual(['1222']);
    const m3b = h.send(h.message(results));
    expect(m3b.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'done' });
  });

  it('delivers Atomic and Sequence with member statuses and results', () => {
    const h = new Harness();
    h.jobs = [
      { id: 1, spec: { kind: 'atomic', commands: [{ kind: 'add', uri: './V/A', value: '1' }, { kind: 'replace', uri: './V/B', value: '2' }] } },
      { id: 2, spec: { kind: 'sequence', commands: [{ kind: 'get', uri: './V/C' }, { kind: 'exec', uri: './V/Go', data: 'now' }] } },
    ];
    const p2 = h.send(h.pkg1());
    const [atomic, seq] = commandsOf(p2) as Container[];
    expect(atomic!.kind).toBe('Atomic');
    expect(atomic!.commands.map((c) => [c.kind, c.cmdID])).toEqual([['Add', '5'], ['Replace', '6']]);
    expect(seq!.commands.map((c) => c.kind)).toEqual(['Get', 'Exec']);
    const p3 = h.send(h.answer(p2, { code: (c) => (c.kind === 'Atomic' ? 507 : c.kind === 'Replace' ? 404 : c.kind === 'Add' ? 216 : 200) }));
    const done = Object.fromEntries(p3.effects.jobsFinished.map((j) => [j.id, j]));
    expect(done[1]).toMatchObject({ status: 'failed', statusCode: 507, members: [{ cmd: 'Add', uri: './V/A', statusCode: 216 }, { cmd: 'Replace', uri: './V/B', statusCode: 404 }] });
    expect(done[2]).toMatchObject({ status: 'done', statusCode: 200, results: [{ uri: './V/C', data: 'C/V/.' }] });
  });

  it('sends UI alerts with their options and records the answer', () => {
    const h = new Harness();
    h.jobs = [{ id: 1, spec: { kind: 'alert', alert: 'single', text: 'Pick one', choices: ['red', 'green'], options: { MINDT: 10, MAXDT: 30 } } }];
    const p2 = h.send(h.pkg1());
    const a = commandsOf(p2)[0] as Alert;
    expect(a.data).toBe('1103');
    expect(a.items.map((i) => (i.data as { text: string }).text)).toEqual(['MINDT=10&MAXDT=30', 'Pick one', 'red', 'green']);
    const reply = h.answer(p2);
    (reply.body.commands.find((c) => c.kind === 'Status' && c.cmd === 'Alert') as Status).items = [{ data: { kind: 'text', text: '2' } }];
    const p3 = h.send(reply);
    expect(p3.effects.jobsFinished[0]).toMatchObject({ status: 'done', statusCode: 200 });
  });

  it('discovers a tree with ?list=Struct, and walks it with Gets when the device refuses that', () => {
    const h = new Harness();
    h.jobs = [{ id: 1, spec: { kind: 'discover', uri: './DevInfo' } }];
    const p2 = h.send(h.pkg1());
    expect((commandsOf(p2)[0] as ItemCommand).items[0]!.target!.locURI).toBe('./DevInfo?list=Struct');
    const tree: Record<string, string | undefined> = { './DevInfo': undefined, './DevInfo/Mod': 'R3', './DevInfo/Ext': undefined, './DevInfo/Ext/Color': 'red' };
    const kids = (u: string) => Object.keys(tree).filter((k) => k.startsWith(`${u}/`) && !k.slice(u.length + 1).includes('/')).map((k) => k.slice(u.length + 1));
    let p = h.send(h.answer(p2, { code: (c) => (c.kind === 'Get' ? 406 : 200) }));
    let rounds = 0;
    while (commandsOf(p).length > 0 && rounds++ < 10) {
      p = h.send(h.answer(p, {
        value: (uri) => {
          const leaf = tree[uri];
          return leaf !== undefined
            ? { source: { locURI: uri }, meta: { format: 'chr' }, data: { kind: 'text', text: leaf } }
            : { source: { locURI: uri }, meta: { format: 'node' }, data: { kind: 'text', text: kids(uri).join('/') } };
        },
      }));
    }
    const job = h.outputs.flatMap((o) => o.effects.jobsFinished).find((j) => j.id === 1)!;
    expect(job).toMatchObject({ status: 'done', statusCode: 200 });
    expect(job.results.map((r) => [r.uri, r.format, r.data])).toEqual([
      ['./DevInfo', 'node', 'Mod/Ext'], ['./DevInfo/Mod', 'chr', 'R3'], ['./DevInfo/Ext', 'node', 'Color'], ['./DevInfo/Ext/Color', 'chr', 'red'],
    ]);
    expect(job.members.map((m) => m.uri)).toEqual(['./DevInfo', './DevInfo/Mod', './DevInfo/Ext', './DevInfo/Ext/Color']);
    expect(h.outputs.at(-1)!.effects.closed?.state).toBe('done');
  });
});

describe('multi-message packages (1222)', () => {
  it('splits its package to the client MaxMsgSize and continues on Alert 1222', () => {
    const h = new Harness({ maxMsgSize: 1500 });
    h.jobs = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, spec: { kind: 'replace' as const, uri: `./Vendor/Node${i}`, value: 'v'.repeat(40) } }));
    let out = h.send(h.pkg1());
    const sizes: number[] = [out.bytes.length];
    const perMessage: number[] = [commandsOf(out).length];
    expect(out.response.body.final).toBe(false);
    let guard = 0;
    while (!out.response.body.final && guard++ < 20) {
      out = h.send(h.answer(out));
      sizes.push(out.bytes.length);
      perMessage.push(commandsOf(out).length);
      // No Final from the client while the server's package is open.
      expect(h.outputs.length).toBeGreaterThan(1);
    }
    expect(sizes.every((s) => s <= 1500)).toBe(true);
    expect(perMessage.reduce((a, b) => a + b, 0)).toBe(12);
    expect(perMessage.length).toBeGreaterThan(2);
    const last = h.send(h.answer(out));
    const finished = h.outputs.flatMap((o) => o.effects.jobsFinished);
    expect(finished.map((j) => j.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(finished.every((j) => j.status === 'done')).toBe(true);
    expect(last.effects.closed?.state).toBe('done');
  });

  it('the client message answering a non-final server message carries no Final (checked by the harness)', () => {
    const h = new Harness({ maxMsgSize: 1200 });
    h.jobs = Array.from({ length: 8 }, (_, i) => get(i + 1, `./N${i}`));
    const out = h.send(h.pkg1());
    expect(out.response.body.final).toBe(false);
    const reply = h.answer(out);
    expect(reply.body.final).toBe(false);
    expect(reply.body.commands.some((c) => c.kind === 'Alert' && c.data === '1222')).toBe(true);
  });
});

describe('large objects', () => {
  const big = 'ABCDEFGHIJ'.repeat(1000); // 10 000 bytes

  it('sends an object larger than MaxMsgSize in chunks: MoreData, Meta Size first, 213 each', () => {
    const h = new Harness({ maxMsgSize: 2000, maxObjSize: 100_000 });
    h.jobs = [{ id: 1, spec: { kind: 'replace', uri: './Big', value: big } }];
    let out = h.send(h.pkg1());
    const chunks: ItemCommand[] = [];
    for (let i = 0; i < 30; i++) {
      const c = commandsOf(out).filter((x) => x.kind === 'Replace') as ItemCommand[];
      chunks.push(...c);
      expect(out.bytes.length).toBeLessThanOrEqual(2000);
      if (out.response.body.final) break;
      out = h.send(h.answer(out, { code: () => 213 }));
    }
    expect(chunks.length).toBeGreaterThan(4);
    expect(chunks[0]!.items[0]!.meta?.size).toBe('10000');
    expect(chunks.slice(1).every((c) => c.items[0]!.meta?.size === undefined)).toBe(true);
    expect(chunks.slice(0, -1).every((c) => c.items[0]!.moreData === true)).toBe(true);
    expect(chunks.at(-1)!.items[0]!.moreData).toBeUndefined();
    expect(chunks.map((c) => (c.items[0]!.data as { text: string }).text).join('')).toBe(big);
    const done = h.send(h.answer(out));
    expect(done.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'done', statusCode: 200 });
  });

  it('does not send an object the device cannot take (no MaxObjSize, or too small)', () => {
    const h = new Harness({ maxMsgSize: 2000 });
    h.jobs = [{ id: 1, spec: { kind: 'replace', uri: './Big', value: big } }];
    const out = h.send(h.pkg1());
    expect(out.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'failed', statusCode: null, error: expect.stringMatching(/no MaxObjSize/) });
    const h2 = new Harness({ maxMsgSize: 2000, maxObjSize: 5000 });
    h2.jobs = [{ id: 1, spec: { kind: 'replace', uri: './Big', value: big } }];
    expect(h2.send(h2.pkg1()).effects.jobsFinished[0]!.error).toMatch(/exceeds the device's MaxObjSize 5000/);
  });

  it('fails the job when the device refuses a chunk', () => {
    const h = new Harness({ maxMsgSize: 2000, maxObjSize: 100_000 });
    h.jobs = [{ id: 1, spec: { kind: 'replace', uri: './Big', value: big } }];
    const out = h.send(h.pkg1());
    const next = h.send(h.answer(out, { code: () => 420 }));
    const all = [...out.effects.jobsFinished, ...next.effects.jobsFinished];
    expect(all[0]).toMatchObject({ id: 1, status: 'failed', statusCode: 420 });
  });

  it('assembles a chunked Results, answering 213 per chunk, and checks the announced size (424)', () => {
    for (const [announced, expected] of [[10000, 'done'], [9999, 'failed']] as const) {
      const h = new Harness();
      h.jobs = [get(1, './Big')];
      const p2 = h.send(h.pkg1());
      const getCmd = commandsOf(p2)[0]!;
      const pieces = [big.slice(0, 4000), big.slice(4000, 8000), big.slice(8000)];
      let out = p2;
      for (let i = 0; i < pieces.length; i++) {
        const last = i === pieces.length - 1;
        const r: Results = { kind: 'Results', cmdID: '', msgRef: p2.response.hdr.msgID, cmdRef: getCmd.cmdID, targetRefs: [], sourceRefs: [], items: [{ source: { locURI: './Big' }, meta: { format: 'chr', ...(i === 0 ? { size: String(announced) } : {}) }, data: { kind: 'text', text: pieces[i]! }, ...(last ? {} : { moreData: true }) }] };
        const cmds: Command[] = i === 0 ? [{ kind: 'Status', cmdID: '', msgRef: p2.response.hdr.msgID, cmdRef: getCmd.cmdID, cmd: 'Get', targetRefs: [], sourceRefs: [], data: '200', items: [] }, r] : [r];
        out = h.send(h.message(cmds, { final: last }));
        const resStatus = statusesOf(out).find((s) => s.cmd === 'Results');
        if (!last) {
          expect(resStatus?.data).toBe('213');
          expect(out.response.body.final).toBe(false);
          expect(commandsOf(out).map((c) => (c as Alert).data)).toEqual(['1222']);
        } else if (expected === 'failed') {
          expect(resStatus?.data).toBe('424');
        } else {
          expect(resStatus).toBeUndefined(); // no Status for a successful Results
        }
      }
      const job = out.effects.jobsFinished[0]!;
      expect(job.status).toBe(expected);
      if (expected === 'done') expect(job.results[0]!.data).toBe(big);
      else expect(job.statusCode).toBe(424);
    }
  });

  it('refuses an incoming object above the server MaxObjSize with 413', () => {
    const h = new Harness({ config: { limits: { maxObjSize: 1000 } } });
    h.jobs = [get(1, './Big')];
    const p2 = h.send(h.pkg1());
    const getCmd = commandsOf(p2)[0]!;
    const r: Results = { kind: 'Results', cmdID: '', msgRef: '1', cmdRef: getCmd.cmdID, targetRefs: [], sourceRefs: [], items: [{ source: { locURI: './Big' }, meta: { size: '50000' }, data: { kind: 'text', text: 'x'.repeat(500) }, moreData: true }] };
    const out = h.send(h.message([{ kind: 'Status', cmdID: '', msgRef: '1', cmdRef: getCmd.cmdID, cmd: 'Get', targetRefs: [], sourceRefs: [], data: '200', items: [] }, r]));
    expect(statusesOf(out).find((s) => s.cmd === 'Results')?.data).toBe('413');
    expect(out.effects.jobsFinished[0]).toMatchObject({ status: 'failed', statusCode: 413 });
  });
});

describe("large objects the device sends in its own Replace/Add", () => {
  const log = 'L'.repeat(9000);
  const chunk = (text: string, o: { size?: number; more?: boolean; uri?: string } = {}): ItemCommand => ({
    kind: 'Replace', cmdID: '', items: [{ source: { locURI: o.uri ?? './Vendor/Log' }, meta: { format: 'chr', ...(o.size !== undefined ? { size: String(o.size) } : {}) }, data: { kind: 'text', text }, ...(o.more ? { moreData: true } : {}) }],
  });

  it('answers 213 per chunk, asks for the next message, and caches the object only when whole', () => {
    const h = new Harness();
    h.jobs = [get(1, './DevInfo/Mod')];
    const first = h.send(h.pkg1([chunk(log.slice(0, 4000), { size: log.length, more: true })], { final: false }));
    expect(statusesOf(first).filter((s) => s.cmd === 'Replace').map((s) => s.data)).toEqual(['200', '213']);
    expect(commandsOf(first).map((c) => [c.kind, (c as Alert).data])).toEqual([['Alert', '1222']]);
    expect(first.response.body.final).toBe(false);
    expect(first.effects.tree.map((t) => t.uri)).not.toContain('./Vendor/Log');
    expect(first.effects.jobsSent).toEqual([]);

    const second = h.send(h.message([chunk(log.slice(4000, 8000), { more: true })], { final: false }));
    expect(statusesOf(second).find((s) => s.cmd === 'Replace')?.data).toBe('213');

    const last = h.send(h.message([chunk(log.slice(8000))]));
    expect(statusesOf(last).find((s) => s.cmd === 'Replace')?.data).toBe('200');
    expect(last.effects.tree).toContainEqual({ uri: './Vendor/Log', format: 'chr', type: null, data: log });
    // The client's package is complete: the queued job goes out now.
    expect(commandsOf(last).map((c) => c.kind)).toEqual(['Get']);
  });

  it('drops an object whose chunks do not add up to the announced size (424)', () => {
    const h = new Harness();
    h.send(h.pkg1([chunk(log.slice(0, 4000), { size: 9999, more: true })], { final: false }));
    const last = h.send(h.message([chunk(log.slice(4000))]));
    expect(statusesOf(last).find((s) => s.cmd === 'Replace')?.data).toBe('424');
    expect(last.effects.tree.map((t) => t.uri)).not.toContain('./Vendor/Log');
    expect(last.effects.notes.join('\n')).toMatch(/large object for \.\/Vendor\/Log dropped: announced 9999 bytes, received 9000/);
  });

  it('refuses an object announced above the server MaxObjSize (413)', () => {
    const h = new Harness({ config: { limits: { maxObjSize: 1000 } } });
    const out = h.send(h.pkg1([chunk('x'.repeat(500), { size: 50_000, more: true })], { final: false }));
    expect(statusesOf(out).filter((s) => s.cmd === 'Replace').map((s) => s.data)).toEqual(['200', '413']);
    expect(out.effects.tree.map((t) => t.uri)).not.toContain('./Vendor/Log');
  });

  it('cuts an object off with Alert 1225 when a new command comes before its last chunk, or the package ends', () => {
    const h = new Harness();
    h.send(h.pkg1([chunk(log.slice(0, 4000), { size: log.length, more: true })], { final: false }));
    const cut = h.send(h.message([chunk('other', { uri: './Vendor/Other' })], { final: false }));
    const alerts = commandsOf(cut).filter((c): c is Alert => c.kind === 'Alert');
    expect(alerts.map((a) => a.data)).toEqual(['1225', '1222']);
    expect(alerts[0]!.items[0]?.target?.locURI).toBe('./Vendor/Log');
    expect(cut.effects.tree.map((t) => t.uri)).toEqual(['./Vendor/Other']);
    expect(cut.effects.notes.join('\n')).toMatch(/Vendor\/Log dropped \(Alert 1225\): the device sent Replace before the last chunk/);

    const h2 = new Harness();
    h2.send(h2.pkg1([chunk(log.slice(0, 4000), { size: log.length, more: true })], { final: false }));
    const ended = h2.send(h2.message([{ kind: 'Alert', cmdID: '', data: '1201', items: [] } as Alert]));
    expect(commandsOf(ended).filter((c): c is Alert => c.kind === 'Alert').map((a) => a.data)).toContain('1225');
    expect(ended.effects.tree.map((t) => t.uri)).not.toContain('./Vendor/Log');
  });

  it('a Results chunk sequence interrupted by another Results is cut (1225) and its Get fails', () => {
    const h = new Harness();
    h.jobs = [get(1, './Big'), get(2, './Small')];
    const p2 = h.send(h.pkg1());
    const [getBig, getSmall] = commandsOf(p2);
    const st = (c: Command): Status => ({ kind: 'Status', cmdID: '', msgRef: p2.response.hdr.msgID, cmdRef: c.cmdID, cmd: 'Get', targetRefs: [], sourceRefs: [], data: '200', items: [] });
    const res = (c: Command, uri: string, text: string, more: boolean): Results => ({ kind: 'Results', cmdID: '', msgRef: p2.response.hdr.msgID, cmdRef: c.cmdID, targetRefs: [], sourceRefs: [], items: [{ source: { locURI: uri }, meta: { format: 'chr', ...(more ? { size: '9000' } : {}) }, data: { kind: 'text', text }, ...(more ? { moreData: true } : {}) }] });
    h.send(h.message([st(getBig!), st(getSmall!), res(getBig!, './Big', log.slice(0, 4000), true)], { final: false }));
    const out = h.send(h.message([res(getSmall!, './Small', 's', false)]));
    expect(commandsOf(out).some((c) => c.kind === 'Alert' && (c as Alert).data === '1225')).toBe(true);
    const byId = Object.fromEntries(out.effects.jobsFinished.map((j) => [j.id, j]));
    expect(byId[1]).toMatchObject({ status: 'failed', statusCode: 1225 });
    expect(byId[2]).toMatchObject({ status: 'done', results: [{ data: 's' }] });
  });
});

describe('statuses over the device MaxMsgSize', () => {
  for (const encoding of ['xml', 'wbxml'] as const) {
    it(`${encoding}: spreads them over messages the device asks for (1222), then sends the jobs`, () => {
      const limit = encoding === 'xml' ? 1500 : 500;
      const h = new Harness({ maxMsgSize: limit, encoding });
      h.jobs = [get(1, './DevInfo/Mod')];
      const events: Alert[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'Alert', cmdID: '', data: '1224', items: [{ meta: { type: 'com.example.boot' }, data: { kind: 'text', text: String(i) } }] }));
      let out = h.send(h.pkg1(events));
      const answered: string[] = [];
      let messages = 1;
      while (!out.response.body.final) {
        expect(out.bytes.length).toBeLessThanOrEqual(limit);
        expect(commandsOf(out).filter((c) => c.kind !== 'Alert')).toEqual([]); // no job before the statuses
        expect(statusesOf(out)[0]!.cmd).toBe('SyncHdr');
        answered.push(...statusesOf(out).filter((st) => st.msgRef === '1' && st.cmd !== 'SyncHdr').map((st) => st.cmdRef));
        expect(out.effects.closed).toBeUndefined();
        out = h.send(h.message([{ kind: 'Alert', cmdID: '', data: '1222', items: [] } as Alert], { final: false }));
        messages++;
      }
      answered.push(...statusesOf(out).filter((st) => st.msgRef === '1' && st.cmd !== 'SyncHdr').map((st) => st.cmdRef));
      expect(messages).toBeGreaterThan(2);
      // Every command of package 1 answered once, in order: the Alert, the Replace and the 40 events.
      expect(answered).toEqual(Array.from({ length: 42 }, (_, i) => String(i + 1)));
      expect(commandsOf(out).map((c) => c.kind)).toEqual(['Get']);
      expect(out.effects.notes.join('\n')).not.toMatch(/exceeds the device's MaxMsgSize/);
    });
  }
});

describe('statuses over a MaxMsgSize too small to catch up', () => {
  for (const encoding of ['xml', 'wbxml'] as const) {
    it(`${encoding}: sends everything over the limit rather than carrying statuses forever`, () => {
      for (const limit of [150, 250, 350, 450, 600, 800]) {
        const h = new Harness({ maxMsgSize: limit, encoding });
        h.jobs = [get(1, './DevInfo/Mod')];
        const events: Alert[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'Alert', cmdID: '', data: '1224', items: [{ meta: { type: 'com.example.boot' }, data: { kind: 'text', text: String(i) } }] }));
        let out = h.send(h.pkg1(events));
        let exchanges = 1;
        while (!out.response.body.final && exchanges < 60) {
          out = h.send(h.message([{ kind: 'Alert', cmdID: '', data: '1222', items: [] } as Alert], { final: false }));
          exchanges++;
        }
        expect(out.response.body.final, `MaxMsgSize ${limit}: ${exchanges} exchanges`).toBe(true);
        // The Get goes out, or, when not even it fits the limit, its job fails saying so.
        const sent = commandsOf(out).map((c) => c.kind);
        if (sent.length > 0) expect(sent, `MaxMsgSize ${limit}`).toEqual(['Get']);
        else expect(out.effects.jobsFinished[0], `MaxMsgSize ${limit}`).toMatchObject({ id: 1, status: 'failed', error: expect.stringMatching(/does not fit the device's MaxMsgSize/) });
      }
    });
  }
});

describe('statuses over the device MaxMsgSize, while the device package goes on', () => {
  it('holds them while asking for the rest of package 1, and still sends the jobs once it is complete', () => {
    const h = new Harness({ maxMsgSize: 500, encoding: 'wbxml' });
    h.jobs = [get(1, './DevInfo/Mod')];
    const events: Alert[] = Array.from({ length: 30 }, (_, i) => ({ kind: 'Alert', cmdID: '', data: '1224', items: [{ meta: { type: 'com.example.boot' }, data: { kind: 'text', text: String(i) } }] }));
    const first = h.send(h.pkg1(events, { final: false }));
    expect(first.bytes.length).toBeLessThanOrEqual(500);
    expect(commandsOf(first).map((c) => (c as Alert).data)).toContain('1222');
    let out = h.send(h.message([{ kind: 'Replace', cmdID: '', items: [{ source: { locURI: './DevInfo/Lang' }, data: { kind: 'text', text: 'en' } }] }]));
    let guard = 0;
    while (!out.response.body.final && guard++ < 20) {
      expect(out.bytes.length).toBeLessThanOrEqual(500);
      out = h.send(h.message([{ kind: 'Alert', cmdID: '', data: '1222', items: [] } as Alert], { final: false }));
    }
    expect(commandsOf(out).map((c) => c.kind)).toEqual(['Get']);
    expect(out.effects.closed).toBeUndefined();
  });
});

describe('abort and close', () => {
  it('a client Alert 1223 ends the session and releases jobs that went out unanswered', () => {
    const h = new Harness();
    h.jobs = [get(1, './A'), get(2, './B')];
    h.send(h.pkg1());
    const out = h.send(h.message([{ kind: 'Alert', cmdID: '', data: '1223', items: [] }]));
    expect(out.effects.closed).toEqual({ state: 'aborted', reason: 'client sent Alert 1223' });
    expect(out.effects.jobsReleased).toEqual([{ id: 1, wasSent: true, onWire: true }, { id: 2, wasSent: true, onWire: true }]);
    expect(out.response.body.final).toBe(true);
  });

  it('a server abort answers with Alert 1223', () => {
    const h = new Harness();
    h.jobs = [get(1, './A')];
    const p2 = h.send(h.pkg1());
    h.session = h.engine.requestAbort(h.session!);
    const out = h.send(h.answer(p2));
    expect(commandsOf(out).map((c) => (c as Alert).data)).toEqual(['1223']);
    expect(out.effects.closed?.state).toBe('aborted');
  });

  it('close() from outside (timeout) releases unsent and unanswered jobs', () => {
    const h = new Harness({ maxMsgSize: 1100 });
    h.jobs = Array.from({ length: 6 }, (_, i) => get(i + 1, `./N${i}`));
    const out = h.send(h.pkg1());
    const sent = new Set(out.effects.jobsSent);
    const { effects } = h.engine.close(h.session!, 'timeout', 'no message');
    expect(effects.closed).toEqual({ state: 'timeout', reason: 'no message' });
    expect(effects.jobsReleased.map((j) => j.id).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of effects.jobsReleased) expect(r.wasSent).toBe(sent.has(r.id));
    // Those taken but never sent say so: on a shared store their claim's attempt is given back.
    expect(sent.size).toBeLessThan(6);
    for (const r of effects.jobsReleased) expect(r.onWire).toBe(sent.has(r.id));
  });
});

describe('client authentication', () => {
  const cred = { name: 'dev', secret: 'pw' };

  it('basic: missing -> 407 + Chal, wrong -> 401 + Chal, right -> 212 and the session goes on', () => {
    const h = new Harness({ config: { clientAuth: 'basic' }, clientCred: cred });
    const none = h.send(h.pkg1());
    expect(hdrStatus(none)).toMatchObject({ data: '407', chal: { meta: { type: 'syncml:auth-basic', format: 'b64' } } });
    expect(statusesOf(none).filter((s) => s.cmdRef !== '0').every((s) => s.data === '407')).toBe(true);
    const wrong = h.send(h.pkg1([], { cred: { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential('dev', 'nope') } }));
    expect(hdrStatus(wrong).data).toBe('401');
    expect(wrong.effects.notes.join()).toMatch(/wrong name or password/);
    h.jobs = [get(1, './A')];
    const right = h.send(h.pkg1([], { cred: { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential('dev', 'pw') } }));
    expect(hdrStatus(right).data).toBe('212');
    expect(commandsOf(right).map((c) => c.kind)).toEqual(['Get']);
    expect(right.effects.devInfo?.Mod).toBe('Rocket 3');
    // Later messages of an authenticated session need no credentials.
    expect(hdrStatus(h.send(h.answer(right))).data).toBe('200');
  });

  it('md5: a new nonce on every challenge and every success; a used nonce is refused (replay)', () => {
    const h = new Harness({ config: { clientAuth: 'md5' }, clientCred: cred });
    const md5 = (nonce: string) => ({ meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential('dev', 'pw', nonceBytes(nonce)) });
    const first = h.send(h.pkg1([], { cred: md5('') }));
    expect(hdrStatus(first)).toMatchObject({ data: '401', chal: { meta: { type: 'syncml:auth-md5', format: 'b64' } } });
    const n1 = hdrStatus(first).chal!.meta.nextNonce!;
    expect(h.auth.clientNonce).toBe(n1);

    const retry = h.pkg1([], { cred: md5(n1) });
    const ok = h.send(retry);
    expect(hdrStatus(ok).data).toBe('212');
    const n2 = hdrStatus(ok).chal!.meta.nextNonce!;
    expect(n2).not.toBe(n1);
    expect(h.auth.clientNonce).toBe(n2);

    // The same message again, in a new session: the nonce it was made with is spent.
    const h2 = new Harness({ config: { clientAuth: 'md5' }, clientCred: cred, auth: h.auth });
    const replay = h2.send(retry);
    expect(hdrStatus(replay).data).toBe('401');
    expect(replay.effects.notes.join()).toMatch(/MD5 digest mismatch/);
    // The rotated nonce works in the next session.
    const h3 = new Harness({ config: { clientAuth: 'md5' }, clientCred: cred, auth: h2.auth });
    expect(hdrStatus(h3.send(h3.pkg1([], { cred: md5(h2.auth.clientNonce!) }))).data).toBe('212');
  });

  it('admit (the authentication phase alone, as the server runs it before a session authenticates): `admitted` when the device authenticates, `refused` with the answer handle() gives when not; the session passed in is not changed', () => {
    const h = new Harness({ config: { clientAuth: 'md5' }, clientCred: cred });
    const md5 = (nonce: string) => ({ meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential('dev', 'pw', nonceBytes(nonce)) });
    const n1 = hdrStatus(h.send(h.pkg1([], { cred: md5('') }))).chal!.meta.nextNonce!;
    const state = h.session!;
    const input = (msg: ReturnType<Harness['pkg1']>) => ({
      message: msg, encoding: 'xml' as const, bytes: (encodeMessage(msg, 'xml') as { ok: true; value: Uint8Array }).value,
      transport: { tls: false }, device: { devId: h.devId, auth: h.auth, clientCred: cred }, queuedJobs: [get(1, './DevInfo/Mod')], now: h.now,
    });
    const right = input(h.pkg1([], { cred: md5(n1) }));
    expect(h.engine.admit(state, right)).toHaveProperty('admitted');
    expect(state.authenticated).toBe(false);
    expect(state.serverMsgId).toBe(1);
    // The whole turn afterwards still authenticates and sends the job: admit spent nothing.
    const whole = h.engine.handle(state, right);
    expect(hdrStatus(whole).data).toBe('212');
    expect(commandsOf(whole).map((c) => c.kind)).toEqual(['Get']);

    const wrong = input(h.pkg1([], { cred: md5('bm9wZQ==') }));
    const verdict = h.engine.admit(state, wrong);
    const handled = h.engine.handle(state, wrong);
    if (!('refused' in verdict)) throw new Error('admitted with a wrong digest');
    const refused = verdict.refused;
    expect(statusesOf(refused).map((st) => [st.cmd, st.data])).toEqual(statusesOf(handled).map((st) => [st.cmd, st.data]));
    expect(statusesOf(refused).map((st) => st.data)).toEqual(['401', '401', '401']);
    expect(refused.effects.notes).toEqual(handled.effects.notes);
    expect(refused.session.authenticated).toBe(false);
    expect(commandsOf(refused)).toEqual([]);
  });

  it('md5: a nonce older than nonceMaxAgeMs is refused even with the right digest', () => {
    const h = new Harness({ config: { clientAuth: 'md5', limits: { nonceMaxAgeMs: 60_000 } }, clientCred: cred, auth: { authFailures: [], clientNonce: 'b2xk', clientNonceIssuedAt: 1_700_000_000_000 - 120_000 } });
    const out = h.send(h.pkg1([], { cred: { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential('dev', 'pw', nonceBytes('b2xk')) } }));
    expect(hdrStatus(out).data).toBe('401');
    expect(out.effects.notes.join()).toMatch(/nonce expired/);
    expect(h.auth.authFailures).toEqual([]); // an expired nonce is not an attack
  });

  it('hmac: every message is checked over its exact bytes, answered 200 with a new nonce; replay and tampering fail', () => {
    const h = new Harness({ config: { clientAuth: 'hmac' }, clientCred: cred, auth: { authFailures: [], clientNonce: Buffer.from('start').toString('base64') } });
    h.jobs = [get(1, './A')];
    const sign = (msg: ReturnType<Harness['pkg1']>) => {
      const bytes = (encodeMessage(msg, 'xml') as { ok: true; value: Uint8Array }).value;
      return { bytes, hmac: hmacHeader('dev', 'pw', nonceBytes(h.auth.clientNonce!), bytes) };
    };
    const m1 = h.pkg1();
    const s1 = sign(m1);
    const out1 = h.send(m1, { hmac: s1.hmac }, s1.bytes);
    expect(hdrStatus(out1)).toMatchObject({ data: '200', chal: { meta: { type: 'syncml:auth-MAC', format: 'b64' } } });
    expect(h.auth.clientNonce).toBe(hdrStatus(out1).chal!.meta.nextNonce);

    const m2 = h.answer(out1);
    const s2 = sign(m2);
    // Tampered body (one byte changed) with the mac of the original.
    const tampered = new Uint8Array(s2.bytes);
    tampered[tampered.length - 20] = tampered[tampered.length - 20]! ^ 1;
    const bad = h.send(m2, { hmac: s2.hmac }, tampered);
    expect(hdrStatus(bad).data).toBe('401');
    // Nothing of a refused message is processed.
    expect(bad.effects.jobsFinished).toEqual([]);
    const m2b = h.answer(out1);
    const s2b = sign(m2b);
    const good = h.send(m2b, { hmac: s2b.hmac }, s2b.bytes);
    expect(hdrStatus(good).data).toBe('200');
    expect(good.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'done' });
    // Replaying an accepted message (here as the start of a new session): its nonce is spent.
    const h2 = new Harness({ config: { clientAuth: 'hmac' }, clientCred: cred, auth: h.auth });
    const replay = h2.send(m1, { hmac: s1.hmac }, s1.bytes);
    expect(hdrStatus(replay).data).toBe('401');
    expect(replay.effects.notes.join()).toMatch(/HMAC mismatch/);
  });

  it('hmac: no header -> 407 with a nonce to start from', () => {
    const h = new Harness({ config: { clientAuth: 'hmac' }, clientCred: cred });
    const out = h.send(h.pkg1());
    expect(hdrStatus(out)).toMatchObject({ data: '407', chal: { meta: { type: 'syncml:auth-MAC' } } });
    expect(hdrStatus(out).chal!.meta.nextNonce).toBeTruthy();
  });

  it('throttles a device after repeated failures, even with the right credentials, until the lockout ends', () => {
    const limits = { maxAuthFailures: 3, authFailureWindowMs: 60_000, authLockoutMs: 30_000, maxAuthAttemptsPerSession: 10 };
    let auth = { authFailures: [] as number[] } as import('../../main/server/types.js').DeviceAuthState;
    const bad = { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential('dev', 'guess') };
    const good = { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential('dev', 'pw') };
    let now = 1_700_000_000_000;
    const attempt = (c: typeof bad) => {
      const h = new Harness({ config: { clientAuth: 'basic', limits }, clientCred: cred, auth });
      h.now = now;
      const out = h.send(h.pkg1([], { cred: c }));
      auth = h.auth;
      return out;
    };
    expect(hdrStatus(attempt(bad)).data).toBe('401');
    expect(hdrStatus(attempt(bad)).data).toBe('401');
    const third = attempt(bad);
    expect(hdrStatus(third).data).toBe('401');
    expect(third.effects.closed).toEqual({ state: 'failed', reason: 'authentication failed; device throttled' });
    const locked = attempt(good);
    expect(hdrStatus(locked).data).toBe('503');
    expect(locked.headers['Retry-After']).toBe('30');
    expect(locked.effects.closed?.reason).toMatch(/throttled/);
    now += 31_000;
    expect(hdrStatus(attempt(good)).data).toBe('212');
  });

  it('ends a session after too many failed attempts in it', () => {
    const h = new Harness({ config: { clientAuth: 'basic', limits: { maxAuthAttemptsPerSession: 2 } }, clientCred: cred });
    h.send(h.pkg1());
    const out = h.send(h.pkg1());
    expect(out.effects.closed).toEqual({ state: 'failed', reason: 'authentication failed too often' });
    expect(hdrStatus(h.send(h.pkg1())).data).toBe('407'); // answered, not processed
  });

  it('requires a lab-CA client certificate naming the device when configured', () => {
    const h = new Harness({ config: { requireClientCert: true } });
    expect(hdrStatus(h.send(h.pkg1(), { clientCert: { cn: 'IMEI:001', authorized: false } })).data).toBe('403');
    const h2 = new Harness({ config: { requireClientCert: true } });
    expect(hdrStatus(h2.send(h2.pkg1(), { clientCert: { cn: 'IMEI:999', authorized: true } })).data).toBe('403');
    const h3 = new Harness({ config: { requireClientCert: true } });
    expect(hdrStatus(h3.send(h3.pkg1(), { clientCert: { cn: 'IMEI:001', authorized: true } })).data).toBe('200');
  });
});

describe('server credentials', () => {
  const srv = { name: 'dmw', secret: 'srvpw' };

  it('puts an MD5 Cred in every SyncHdr, digests with the nonce the client last gave, and re-sends commands the client refused', () => {
    const h = new Harness({ config: { serverCred: srv, serverAuth: 'md5' } });
    h.jobs = [get(1, './DevInfo/Mod')];
    const p2 = h.send(h.pkg1());
    // No nonce from this client yet: an empty one (what libdmclient starts from).
    expect(p2.response.hdr.cred).toEqual({ meta: { type: 'syncml:auth-md5', format: 'b64' }, data: md5Credential('dmw', 'srvpw', new Uint8Array()) });
    // libdmclient style: refuses (401) every command, and challenges with a new nonce.
    const n = Buffer.from('client-nonce').toString('base64');
    const refused = h.send(h.answer(p2, { code: () => 401, headerStatus: { data: '401', chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: n } } } }));
    expect(refused.effects.notes.join()).toMatch(/refused the server's credentials/);
    expect(h.auth.serverNonce).toBe(n);
    expect(refused.response.hdr.cred!.data).toBe(md5Credential('dmw', 'srvpw', nonceBytes(n)));
    expect(commandsOf(refused).map((c) => c.kind)).toEqual(['Get']);
    expect(refused.effects.jobsFinished).toEqual([]);
    const done = h.send(h.answer(refused));
    expect(done.effects.jobsFinished[0]).toMatchObject({ id: 1, status: 'done', statusCode: 200 });
  });

  it('switches to basic or HMAC when the client challenges for it', () => {
    const h = new Harness({ config: { serverCred: srv } });
    h.jobs = [get(1, './A'), get(2, './B')];
    const p2 = h.send(h.pkg1());
    const p3 = h.send(h.answer(p2, { headerStatus: { data: '212', chal: { meta: { type: 'syncml:auth-basic', format: 'b64' } } } }));
    expect(p3.response.hdr.cred).toEqual({ meta: { type: 'syncml:auth-basic', format: 'b64' }, data: basicCredential('dmw', 'srvpw') });
    const h2 = new Harness({ config: { serverCred: srv } });
    h2.jobs = [get(1, './A')];
    const q2 = h2.send(h2.pkg1());
    const q3 = h2.send(h2.answer(q2, { headerStatus: { data: '212', chal: { meta: { type: 'syncml:auth-MAC', format: 'b64', nextNonce: 'bm4=' } } } }));
    expect(q3.response.hdr.cred).toBeUndefined();
    expect(q3.headers['x-syncml-hmac']).toBe(hmacHeader('dmw', 'srvpw', nonceBytes('bm4='), q3.bytes));
  });
});

describe('package #0', () => {
  it('lays out the trigger as the spec example and digests it the HMAC way', () => {
    const p0 = buildPackage0({ serverId: 'com.mgmtsrv.manage', sessionId: 0x1234, uiMode: 1, initiator: 0, serverCred: { name: 'com.mgmtsrv.manage', secret: 'pw' } });
    expect(Buffer.from(p0.subarray(16)).toString('hex')).toBe(`02d00000001234${(18).toString(16).padStart(2, '0')}${Buffer.from('com.mgmtsrv.manage').toString('hex')}`);
    expect(p0.length).toBe(24 + 18);
    const digest = Buffer.from(hmacHeader('com.mgmtsrv.manage', 'pw', new Uint8Array(), p0.subarray(16)).split('mac=')[1]!, 'base64');
    expect(Buffer.from(p0.subarray(0, 16)).equals(digest)).toBe(true);
  });
});
