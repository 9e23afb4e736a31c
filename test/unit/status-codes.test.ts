/**
 * The one status table (main/protocol/status-codes.ts): it lists every SyncML RepPro 1.2 code with
 * its class, and every code our DM server and our virtual handset put on the wire has a meaning
 * there (collected from real sessions over 127.0.0.1, failing commands, large objects, wrong
 * credentials and the status-changing faults included). `dmw session show` prints the meanings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import { AAUTH_TYPE, VirtualHandset, type HandsetOptions } from '../../main/client/index.js';
import { DEVICE } from '../../main/tree/tree.js';
import { DmStatus } from '../../main/tree/status.js';
import type { JobSpec } from '../../main/server/types.js';
import { decodeMessage } from '../../main/protocol/codec.js';
import { STATUS_CODES, describeStatus, statusClass, statusMeaning, statusTooltip } from '../../main/protocol/status-codes.js';
import { formatSession } from '../../main/cli/session.js';
import { statusesOf } from '../../main/cli/session-statuses.js';
import { sync } from '../helpers/sync-store.js';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('the status table', () => {
  it('has every SyncML RepPro 1.2 response code, each with a short meaning and its class', () => {
    const spec = [101, ...range(200, 216), ...range(300, 305), ...range(400, 428), ...range(500, 514), 516, 517];
    expect([...STATUS_CODES.keys()]).toEqual(spec);
    for (const code of spec) {
      const m = statusMeaning(code)!;
      expect(m.meaning.length, String(code)).toBeGreaterThan(1);
      expect(m.detail.length, String(code)).toBeGreaterThan(10);
      expect(m.cls).toBe(statusClass(code));
    }
    expect(statusMeaning(424)!.meaning).toBe('Size mismatch');
    expect(statusMeaning(425)!.meaning).toBe('Permission denied');
    expect(statusMeaning(213)!.meaning).toBe('Chunked item accepted and buffered');
    expect(statusMeaning(212)!.meaning).toBe('Authentication accepted');
    expect(statusClass(404)).toBe('originator-exception');
    expect(statusClass(507)).toBe('recipient-exception');
  });

  it('reads a code as the number or as the text of a Status Data, and says when a code is undefined', () => {
    expect(describeStatus('404')).toBe('404 Not found');
    expect(describeStatus(' 200 ')).toBe('200 OK');
    expect(statusMeaning('2x0')).toBeUndefined();
    expect(describeStatus(599)).toBe('599 (undefined status code)');
    expect(statusTooltip(599)).toContain('not a SyncML status code');
    expect(statusTooltip(425)).toMatch(/^425 Permission denied — originator exception/);
  });

  it('gives a meaning to every code the tree engine answers with', () => {
    for (const code of Object.values(DmStatus)) expect(statusMeaning(code), String(code)).toBeDefined();
  });
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Every Status code in the server's log of the handset's sessions, both directions. */
async function codesOfRun(o: { jobs: (h: VirtualHandset) => JobSpec[]; handset?: HandsetOptions; server?: Partial<DmServerOptions>; wrongSecret?: boolean }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-status-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const s = await DmServer.start({
    dataDir: dir, port: 0, host: '127.0.0.1', clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' },
    serverCred: { name: 'dmw', secret: 'srvpw' }, serverAuth: 'md5', ...o.server,
  });
  cleanup.push(() => s.close());
  const type = AAUTH_TYPE.md5;
  const h = await VirtualHandset.open({
    encoding: 'xml', ...o.handset,
    device: { mod: 'Lab Phone 9', accounts: [{ serverId: s.config.serverId, addr: s.url, clientCred: { type, name: 'lab', secret: o.wrongSecret ? 'nope' : 'pw' }, serverCred: { type, name: 'dmw', secret: 'srvpw' } }] },
  });
  cleanup.push(() => h.close());
  for (const spec of o.jobs(h)) await s.addJob(h.devId, spec);
  const outcome = await h.connect();
  // The SyncHdr codes the handset got (a refused login is not kept in the session log).
  const codes = { in: new Set<string>(), out: new Set<string>(outcome.headerCodes.map(String)) };
  // Every session of the run (a refused login may not be tied to the device).
  const sessions = sync(s.store).sessions({ limit: 100 });
  for (const ss of sessions) {
    for (const m of sync(s.store).messages(ss.id)) {
      const d = decodeMessage(m.bytes);
      if (!d.ok) continue;
      for (const c of d.value.message.body.commands) if (c.kind === 'Status') codes[m.direction].add(c.data.trim());
    }
  }
  const first = sessions[sessions.length - 1];
  return { codes, show: first ? formatSession(first, sync(s.store).messages(first.id)) : '' };
}

function leaf(h: VirtualHandset, uri: string, value: string | Uint8Array, format = 'chr', acl = 'Add=*&Delete=*&Exec=*&Get=*&Replace=*'): void {
  const r = h.tree.add(DEVICE, uri, { format, value, createParents: true, acl });
  if (!r.ok) throw new Error(r.message);
}

const undefinedCodes = (codes: Set<string>) => [...codes].filter((c) => statusMeaning(c) === undefined);

describe('codes on the wire', () => {
  it('every Status the server and the handset send has a meaning (failing commands, ACL refusal, Atomic, large objects)', async () => {
    const { codes, show } = await codesOfRun({
      server: { limits: { maxMsgSize: 4096 } },
      handset: { maxMsgSize: 4096 },
      jobs: (h) => {
        leaf(h, './Vendor/A', 'a');
        leaf(h, './Vendor/Locked', 'x', 'chr', 'Get=nobody');
        leaf(h, './Vendor/Blob', new Uint8Array(randomBytes(12_000)), 'bin');
        return [
          { kind: 'get', uri: './Nope' }, { kind: 'add', uri: './Vendor/A', value: 'again' }, { kind: 'replace', uri: './DevInfo/DevId', value: 'x' },
          { kind: 'get', uri: './Vendor/Locked' }, { kind: 'delete', uri: './DevInfo' }, { kind: 'exec', uri: './Vendor/A', data: 'go' },
          { kind: 'atomic', commands: [{ kind: 'replace', uri: './Vendor/A', value: 'z' }, { kind: 'replace', uri: './Vendor/Missing', value: 'q' }] },
          { kind: 'replace', uri: './Vendor/A', value: randomBytes(10_000).toString('base64') }, { kind: 'get', uri: './Vendor/Blob' },
          { kind: 'alert', alert: 'confirm', text: 'OK?' },
        ];
      },
    });
    expect(undefinedCodes(codes.in)).toEqual([]);
    expect(undefinedCodes(codes.out)).toEqual([]);
    // The run did reach the interesting paths: errors, ACL, chunks, Atomic.
    for (const c of ['200', '404', '418', '425', '213', '507']) expect([...codes.in, ...codes.out]).toContain(c);
    // dmw session show: each Status with its meaning.
    expect(show).toMatch(/^status 404 Not found {2}<- Get #\d+ of MsgID \d+ {2}\.\/Nope$/m);
    expect(show).toMatch(/^status 425 Permission denied {2}<- Get #\d+/m);
    expect(show).toMatch(/^status 200 OK {2}<- SyncHdr of MsgID 1/m);
  });

  it('wrong credentials and the status-changing faults still give codes with meanings', async () => {
    const bad = await codesOfRun({ wrongSecret: true, jobs: () => [] });
    expect([...bad.codes.out]).toContain('401');
    expect(undefinedCodes(bad.codes.out)).toEqual([]);
    const faulty = await codesOfRun({
      handset: { faults: ['wrong-status-code', 'ok-for-failure', 'no-213'] },
      jobs: () => [{ kind: 'get', uri: './Nope' }, { kind: 'replace', uri: './DevInfo/DevId', value: 'x' }],
    });
    expect(undefinedCodes(faulty.codes.in)).toEqual([]);
    expect(undefinedCodes(faulty.codes.out)).toEqual([]);
  });

  it('session show lists a message that does not decode without statuses', () => {
    expect(statusesOf(new Uint8Array([1, 2, 3]))).toEqual([]);
    expect(statusesOf(new Uint8Array())).toEqual([]);
  });
});
