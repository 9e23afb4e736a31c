/** `dmw sms decode` as a lab script calls it. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../main/notify/bytes.js';
import { buildPackage0 } from '../../main/notify/package0.js';
import { buildNotificationPush, buildWapPushSms } from '../../main/notify/wap-push.js';
import { REPO_ROOT } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
function dmw(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 30_000, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('dmw sms decode', () => {
  it('decodes the published SMS-DELIVER in words', () => {
    const r = dmw(['sms', 'decode', '07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('SMS-DELIVER');
    expect(r.out).toContain('smsc:      +27381000015 (international)');
    expect(r.out).toContain('from:      27838890001 (subscriber)');
    expect(r.out).toContain('sent:      1999-03-29T15:16:59+02:00');
    expect(r.out).toContain('text:      "hellohello"');
  });

  it('shows the WAP push and package #0 inside a notification SMS, as JSON', () => {
    const pkg0 = buildPackage0({ uiMode: 'interactive', initiator: 'server', sessionId: 0xa5, serverId: 'lab' }, { secret: 'x', nonce: new Uint8Array() });
    const [p] = buildWapPushSms({ to: '+15550100', wsp: buildNotificationPush(pkg0) });
    const r = dmw(['sms', 'decode', p!.pduHex, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ type: 'SMS-SUBMIT', to: { number: '+15550100' }, udh: { ports: { destination: 2948, source: 9200 } } });
    expect(j.wapPush).toMatchObject({ contentType: 'application/vnd.syncml.notification', appId: 'x-wap-application:syncml.dm', package0: { sessionId: 'A5', serverId: 'lab', uiMode: 'interactive' } });
    expect(j.userDataHex).toBe(toHex(buildNotificationPush(pkg0)));
  });

  it('reassembles the parts of a concatenated push given together', () => {
    const parts = buildWapPushSms({ to: '+15550100', wsp: buildNotificationPush(new Uint8Array(250).fill(1)), ref: 3 });
    const one = dmw(['sms', 'decode', parts[0]!.pduHex]);
    expect(one.out).toContain('part:      1 of 2, reference 3');
    expect(one.out).toContain('1 concatenated message(s) incomplete');
    const all = dmw(['sms', 'decode', ...parts.map((p) => p.pduHex).reverse()]);
    expect(all.code).toBe(0);
    expect(all.out).toContain('WAP push (reassembled from 2 parts)');
  });

  it('refuses a broken PDU with the byte, exit 2', () => {
    const r = dmw(['sms', 'decode', '0011000B916407281553F80000AA0AE8329B']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^dmw: PDU: input ends inside user data \(9 bytes needed, 3 left\) at byte 15\n$/);
    expect(dmw(['sms', 'decode', 'xyz']).code).toBe(2);
    expect(dmw(['sms', 'decode', '00', '--smsc', 'maybe']).code).toBe(2);
  });
});
