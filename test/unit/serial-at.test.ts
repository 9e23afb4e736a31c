/**
 * The AT channel, identity queries, SIM access and SMS sending, against the simulated modem over an
 * in-memory link (delivered one byte at a time, so lines and the `> ` prompt arrive split anywhere),
 * and against a scripted far end for the faults a simulator does not make on its own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { SmsWapPushNotifier } from '../../main/notify/notifier.js';
import { buildPackage0 } from '../../main/notify/package0.js';
import { buildWapPushSms } from '../../main/notify/wap-push.js';
import { AtChannel, AtTimeoutError, responsePrefix } from '../../native/serial/at.js';
import { explainFinal } from '../../native/serial/at-errors.js';
import { identify, iccidFromEf, luhnOk, parseCrsm, stripInfo } from '../../native/serial/identity.js';
import { memoryLinkPair, PortGoneError, type ByteLink } from '../../native/serial/link.js';
import { ModemSmsTransport } from '../../native/serial/modem-sms.js';
import { AtSimTransport } from '../../native/serial/sim-access.js';
import { SimulatedModem, type DeliveredPush, type SimulatedModemOptions } from '../../native/serial/simulated-modem.js';

const open: ByteLink[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

function rig(opts: SimulatedModemOptions = {}, chunk = 1, timeoutMs = 2000) {
  const [host, far] = memoryLinkPair(chunk);
  open.push(host, far);
  const modem = new SimulatedModem(far, opts);
  const at = new AtChannel(host, { timeoutMs, settleMs: 50 });
  const urcs: string[][] = [];
  at.on('urc', (l) => urcs.push(l));
  return { at, modem, host, far, urcs };
}

/** A far end that answers from a script: each received command line -> raw text to send back. */
function scripted(answer: (cmd: string, far: ByteLink) => string | undefined, timeoutMs = 300) {
  const [host, far] = memoryLinkPair(3);
  open.push(host, far);
  let buf = '';
  far.on('data', (d) => {
    buf += Buffer.from(d).toString('latin1');
    let i;
    while ((i = buf.indexOf('\r')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const a = answer(line, far);
      if (a !== undefined) void far.write(a);
    }
  });
  const at = new AtChannel(host, { timeoutMs, settleMs: 100, promptTimeoutMs: timeoutMs });
  const urcs: string[][] = [];
  at.on('urc', (l) => urcs.push(l));
  return { at, host, far, urcs };
}

describe('AT channel', () => {
  it('strips the echo of a modem that starts with echo on', async () => {
    const { at, modem } = rig();
    const r = await at.exec('AT+CGSN');
    expect(r).toMatchObject({ command: 'AT+CGSN', lines: [modem.profile.imei], final: 'OK', ok: true });
    await at.run('ATE0');
    expect((await at.exec('AT+CGMI')).lines).toEqual(['DMW']);
  });

  it('keeps an unsolicited code out of the response, even between lines and OK', async () => {
    const { at, urcs } = rig({ faults: { urcBeforeFinal: '+CMTI: "SM",3' } });
    const r = await at.exec('AT+CGMM');
    expect(r.lines).toEqual(['SimHandset-1']);
    expect(urcs).toEqual([['+CMTI: "SM",3']]);
  });

  it('keeps +CREG: as the response of AT+CREG? but as a URC otherwise; +CMT takes its PDU line', async () => {
    const { at, far, urcs } = scripted((cmd) => (cmd === 'AT+CREG?' ? '\r\n+CREG: 0,1\r\n\r\nOK\r\n' : cmd === 'AT' ? '\r\n+CREG: 1\r\n\r\nOK\r\n' : undefined));
    expect((await at.exec('AT+CREG?')).lines).toEqual(['+CREG: 0,1']);
    expect((await at.exec('AT')).lines).toEqual([]);
    await far.write('\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07\r\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(urcs).toEqual([['+CREG: 1'], ['+CMT: ,24', '07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07']]);
  });

  it('explains +CME and +CMS codes in words', async () => {
    const { at } = rig({ profile: { imsi: '' }, cmee: 1 });
    const r = await at.exec('AT+CIMI');
    expect(r.ok).toBe(false);
    expect(r.explanation).toBe('+CME ERROR: 10 (SIM not inserted)');
    await expect(at.run('AT+CIMI')).rejects.toThrow('AT+CIMI: +CME ERROR: 10 (SIM not inserted)');
    expect(explainFinal('+CMS ERROR: 38')).toBe('+CMS ERROR: 38 (network out of order)');
    expect(explainFinal('+CMS ERROR: 330')).toBe('+CMS ERROR: 330 (SMSC address unknown)');
    expect(explainFinal('+CMS ERROR: 3')).toMatch(/RP cause/);
    expect(explainFinal('+CME ERROR: SIM PIN required')).toBe('+CME ERROR: SIM PIN required');
    expect(explainFinal('ERROR')).toMatch(/AT\+CMEE=1/);
  });

  it('times out a command, drops its late answer, and carries on', async () => {
    let late = false;
    const { at, far } = scripted((cmd, f) => {
      if (cmd === 'AT+SLOW') {
        setTimeout(() => void f.write('\r\nlate line\r\n\r\nOK\r\n'), 400);
        late = true;
        return undefined;
      }
      return cmd === 'AT+CGMI' ? '\r\nACME\r\n\r\nOK\r\n' : '\r\nOK\r\n';
    });
    void far;
    const err = await at.exec('AT+SLOW').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtTimeoutError);
    expect(late).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    // The late OK lands in the stale window and must not answer this command.
    const r = await at.exec('AT+CGMI', { timeoutMs: 2000 });
    expect(r.lines).toEqual(['ACME']);
  });

  it('fails the command in flight with PortGoneError when the port vanishes', async () => {
    const { at, far } = scripted((cmd, f) => {
      if (cmd === 'AT+CGSN') setTimeout(() => void f.close(), 10);
      return undefined;
    }, 5000);
    const err = await at.exec('AT+CGSN').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortGoneError);
    expect(String(err)).toMatch(/went away/);
    await expect(at.exec('AT')).rejects.toBeInstanceOf(PortGoneError);
    void far;
  });

  it('init recovers a modem left waiting for a PDU by an interrupted run', async () => {
    const [host, far] = memoryLinkPair(5);
    open.push(host, far);
    const modem = new SimulatedModem(far, { echo: false, cmgf: 0 });
    await host.write('AT+CMGS=20\r');
    await new Promise((r) => setTimeout(r, 20));
    const at = new AtChannel(host, { timeoutMs: 1000, settleMs: 100 });
    await at.init();
    expect((await at.exec('AT+CGMI')).lines).toEqual(['DMW']);
    expect(modem.commands).toEqual(['AT+CMGS=20', 'AT', 'ATE0', 'AT+CMEE=1', 'AT+CGMI']);
  });

  it('knows which lines a command may own', () => {
    expect(responsePrefix('AT+CGSN')).toBe('+CGSN');
    expect(responsePrefix('at^iccid?')).toBe('^ICCID');
    expect(responsePrefix('ATI')).toBeUndefined();
  });
});

describe('identity', () => {
  it('reads manufacturer, model, revision, IMEI, IMSI, ICCID', async () => {
    const { at } = rig();
    await at.init();
    const id = await identify(at);
    expect(id).toMatchObject({ manufacturer: 'DMW', model: 'SimHandset-1', revision: 'SIM1.0.0', imei: '490154203237518', imeiLuhnOk: true, imsi: '001010123456789', iccid: '8901260123456789012', iccidSource: 'AT+CCID', errors: {} });
  });

  it('falls back to EF_ICCID over AT+CRSM and records refused queries', async () => {
    const { at } = rig({ ccid: false, faults: { silent: /^\+CGMR$/i } }, 64, 300);
    await at.init();
    const id = await identify(at);
    expect(id.iccid).toBe('8901260123456789012');
    expect(id.iccidSource).toBe('AT+CRSM=176,12258,0,0,10');
    expect(id.revision).toBeUndefined();
    expect(id.errors.revision).toMatch(/AT\+CGMR: no answer/);
  });

  it('parses the answer forms handsets use', () => {
    expect(stripInfo('+CGMI: "Quectel"', '+CGMI')).toBe('Quectel');
    expect(stripInfo('"SIMCOM"')).toBe('SIMCOM');
    expect(stripInfo('+CCID: 8944')).toBe('8944');
    expect(iccidFromEf('98101430121181157002')).toBe('89014103211118510720');
    expect(iccidFromEf('981062103254769810F2')).toBe('8901260123456789012');
    expect(parseCrsm('+CRSM: 144,0,"98101430121181157002"')).toEqual({ sw1: 144, sw2: 0, data: '98101430121181157002' });
    expect(luhnOk('490154203237518')).toBe(true);
    expect(luhnOk('490154203237519')).toBe(false);
  });
});

describe('SIM access through the handset', () => {
  const card = {
    apdus: [] as string[],
    async transmit(apdu: Uint8Array) {
      this.apdus.push(toHex(apdu));
      return toHex(apdu).startsWith('00A4') ? Uint8Array.of(0x61, 0x1c) : Uint8Array.of(0x01, 0x02, 0x90, 0x00);
    },
  };

  it('passes APDUs through AT+CSIM', async () => {
    const { at } = rig({ sim: card });
    await at.init();
    const t = await AtSimTransport.open(at);
    expect(t.mode).toBe('csim');
    expect(toHex(await t.transmit(fromHex('00A4040C0CA000000063504B43532D3135')!))).toBe('611C');
    expect(toHex(await t.transmit(fromHex('00B0000002')!))).toBe('01029000');
    expect(card.apdus.slice(-2)).toEqual(['00A4040C0CA000000063504B43532D3135', '00B0000002']);
  });

  it('falls back to AT+CRSM: SELECT remembered, READ BINARY addressed to the file', async () => {
    const { at } = rig();
    await at.init();
    const t = await AtSimTransport.open(at);
    expect(t.mode).toBe('crsm');
    expect(toHex(await t.transmit(fromHex('00A4000C022FE2')!))).toBe('9000');
    expect(toHex(await t.transmit(fromHex('00B000000A')!))).toBe('981062103254769810F29000');
    expect(toHex(await t.transmit(fromHex('00A4040C0CA000000063504B43532D3135')!))).toBe('6A81');
  });
});

describe('sending SMS through the modem', () => {
  const pkg0 = buildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 0x42, serverId: 'lab-server' }, { secret: 'pw', nonce: new Uint8Array([1, 2]) });

  it('switches to PDU mode, sends each part, records +CMGS references, and the far end gets package #0', async () => {
    const pushes: DeliveredPush[] = [];
    const { at, modem } = rig({ onWapPush: (p) => void pushes.push(p) });
    const notifier = new SmsWapPushNotifier(new ModemSmsTransport(at));
    await at.init();
    const report = await notifier.notify({ msisdn: '+491701234567' }, pkg0);
    expect(report.ok).toBe(true);
    expect(report.parts).toMatchObject([{ seq: 1, total: 1, status: 'sent', messageRef: 1 }]);
    expect(modem.commands).toContain('AT+CMGF=0');
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.to).toBe('+491701234567');
    expect(pushes[0]!.content?.package0).toMatchObject({ serverId: 'lab-server', sessionIdHex: '42', uiMode: 'background' });
  });

  it('reassembles a concatenated push at the far end', async () => {
    const { at, modem } = rig({}, 256);
    const got = new Promise<DeliveredPush>((r) => modem.once('wap-push', r));
    const wsp = new Uint8Array(400).map((_, i) => i & 0xff);
    const out = await new ModemSmsTransport(at).sendParts(buildWapPushSms({ to: '+15550100', wsp, ref: 7 }));
    expect(out.error).toBeUndefined();
    expect(out.records.map((r) => [r.status, r.messageRef])).toEqual([
      ['sent', 1],
      ['sent', 2],
      ['sent', 3],
      ['sent', 4],
    ]);
    const p = await got;
    expect(p.parts).toBe(4);
    expect(toHex(p.data)).toBe(toHex(wsp));
  });

  it('stops at a part the network refuses, explains the +CMS code, marks the rest not sent', async () => {
    const { at } = rig({ cmee: 1, faults: { cmsErrorOnPart: 2, cmsErrorCode: 38 } }, 256);
    const out = await new ModemSmsTransport(at).sendParts(buildWapPushSms({ to: '+15550100', wsp: new Uint8Array(300), ref: 1 }));
    expect(out.records.map((r) => r.status)).toEqual(['sent', 'failed', 'not-sent']);
    expect(out.records[1]!.error).toBe('+CMS ERROR: 38 (network out of order)');
    expect(out.error).toMatch(/part 2\/3: \+CMS ERROR: 38 \(network out of order\)/);
  });

  it('never reports a part sent when the port vanishes after the PDU went out', async () => {
    const { at, modem, far } = rig({ faults: { stallOnPart: 2 } }, 256);
    modem.on('stalled', () => void far.close());
    const out = await new ModemSmsTransport(at).sendParts(buildWapPushSms({ to: '+15550100', wsp: new Uint8Array(300), ref: 1 }));
    expect(out.records.map((r) => r.status)).toEqual(['sent', 'unconfirmed', 'not-sent']);
    expect(out.error).toMatch(/part 2\/3: AT\+CMGS=\d+: mem-a: port went away .*PDU handed to the modem, no confirmation/);
  });

  it('cancels with ESC when the > prompt never comes, and reports the part not sent', async () => {
    const seen: string[] = [];
    const { at, far } = scripted((cmd) => {
      seen.push(cmd);
      return cmd.startsWith('AT+CMGS') ? undefined : '\r\nOK\r\n';
    });
    let raw = '';
    far.on('data', (d) => (raw += Buffer.from(d).toString('latin1')));
    const out = await new ModemSmsTransport(at).sendParts(buildWapPushSms({ to: '1', wsp: new Uint8Array(10) }));
    expect(out.records[0]!.status).toBe('not-sent');
    expect(out.error).toMatch(/waiting for the > prompt/);
    await new Promise((r) => setTimeout(r, 20));
    expect(raw.endsWith('\x1b')).toBe(true);
    expect(seen.some((l) => l.startsWith('AT+CMGS='))).toBe(true);
  });

  it('refuses to go on when the modem will not switch to PDU mode', async () => {
    const { at } = scripted((cmd) => (cmd === 'AT+CMGF=0' ? '\r\n+CMS ERROR: 303\r\n' : '\r\nOK\r\n'));
    const out = await new ModemSmsTransport(at).sendParts(buildWapPushSms({ to: '1', wsp: new Uint8Array(10) }));
    expect(out.error).toBe('AT+CMGF=0 (PDU mode): +CMS ERROR: 303 (operation not supported)');
    expect(out.records[0]!.status).toBe('not-sent');
  });

  it('catches a sender that forgets PDU mode (the simulator starts in text mode)', async () => {
    const { at } = rig({ cmee: 1 });
    const r = await at.sendPdu(10, '00' + '00'.repeat(10));
    expect(r.response?.final).toBe('+CMS ERROR: 305');
    expect(r.pduWritten).toBe(false);
  });
});
