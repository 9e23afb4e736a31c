/**
 * The whole lab loop with no hardware: a job queued on the DM server -> the server's SMS notifier ->
 * WAP push SMS through a modem on a real pty (socat) -> the simulated handset/modem at the far end ->
 * the virtual handset with that MSISDN -> a server-initiated DM session over HTTP -> the job done.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DmServer, SmsNotifier, smsAddress } from '../../main/server/index.js';
import { SmsWapPushNotifier } from '../../main/notify/notifier.js';
import { VirtualHandset, AAUTH_TYPE } from '../../main/client/index.js';
import { AtChannel } from '../../native/serial/at.js';
import { openSerialLink } from '../../native/serial/link.js';
import { ModemSmsTransport } from '../../native/serial/modem-sms.js';
import { SimulatedModem } from '../../native/serial/simulated-modem.js';
import { requireTools } from '../helpers/tools.js';
import { ptyPair } from '../helpers/pty.js';
import { sync } from '../helpers/sync-store.js';

const haveSocat = requireTools('lab loop', 'socat');
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('smsAddress', () => {
  it('takes sms: addresses only', () => {
    expect(smsAddress('sms:+491701234567')).toBe('+491701234567');
    expect(smsAddress('sms:0170')).toBe('0170');
    expect(smsAddress('http://127.0.0.1:9/notify')).toBeUndefined();
    expect(smsAddress('sms:+49 170')).toBeUndefined();
    expect(smsAddress(undefined)).toBeUndefined();
  });
});

describe.runIf(haveSocat)('lab loop: server -> SMS WAP push -> simulated modem -> virtual handset -> session', () => {
  it('a job queued with notify is delivered in a server-initiated session started by an SMS', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dmw-lab-loop-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { a, b } = await ptyPair(dir, 'tty', (kill) => cleanup.push(kill));

    // The server's modem on one end of the pair.
    const at = new AtChannel(await openSerialLink(a));
    cleanup.push(() => at.close());
    const server = await DmServer.start({
      dataDir: path.join(dir, 'server'), port: 0, host: '127.0.0.1',
      clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' }, serverCred: { name: 'dmw', secret: 'srvpw' },
      notifiers: [new SmsNotifier(new SmsWapPushNotifier(new ModemSmsTransport(at)))],
    });
    cleanup.push(() => server.close());

    // The handset: a virtual DM client whose radio is the simulated modem at the other end.
    const account = {
      serverId: server.config.serverId, addr: server.url,
      clientCred: { type: AAUTH_TYPE.md5, name: 'lab', secret: 'pw' },
      serverCred: { type: AAUTH_TYPE.md5, name: 'dmw', secret: 'srvpw' },
    };
    const handset = await VirtualHandset.open({ device: { accounts: [account] } });
    cleanup.push(() => handset.close());
    const msisdn = '+491701234567';
    const outcomes: { accepted: boolean; reason?: string }[] = [];
    const modem = await SimulatedModem.onPort(b, {
      onWapPush: (push) => {
        if (push.to === msisdn && push.content?.package0) outcomes.push(handset.notify(push.content.wsp.body));
      },
    });
    cleanup.push(() => modem.close());
    await at.init(); // ATE0 and friends, answered by the simulated modem

    // A first session so the server knows the handset (and holds the nonce the package #0 digest uses).
    expect((await handset.connect()).ok).toBe(true);
    server.setDevice(handset.devId, { notifyUrl: `sms:${msisdn}` });

    const done = server.bus.next('job-done');
    const { job, notified } = await server.addJob(handset.devId, { kind: 'get', uri: './DevInfo/Mod' }, { notify: true });
    expect(notified).toMatchObject({ ok: true });
    expect(notified?.detail).toMatch(/^SMS to \+491701234567: /);
    const d = await done;
    expect(d.job).toMatchObject({ id: job.id, status: 'done', statusCode: 200, results: [{ uri: './DevInfo/Mod', data: handset.model }] });
    expect(outcomes).toEqual([expect.objectContaining({ accepted: true })]);
    const sessions = sync(server.store).sessions({ device: handset.devId });
    expect(sessions.length).toBe(2);
  }, 60_000);
});
