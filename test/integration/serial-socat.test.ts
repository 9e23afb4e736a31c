/**
 * Real ptys: socat joins two pseudo-terminals, the simulated handset/modem listens on one end, and
 * `dmw` runs as a separate process on the other, through the serialport addon, as it would against a
 * handset on /dev/ttyUSB0. Faults: a +CMS error mid-message, and socat killed while a part is in
 * flight (the port vanishes).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../main/notify/bytes.js';
import { verifyBootstrapMac } from '../../main/notify/ota.js';
import { buildPackage0 } from '../../main/notify/package0.js';
import { SimulatedModem, type DeliveredPush, type SimulatedModemOptions } from '../../native/serial/simulated-modem.js';
import { REPO_ROOT, VECTORS_DIR, requireTools } from '../helpers/tools.js';
import { ptyPair as sharedPtyPair, type PtyPair } from '../helpers/pty.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const tmp = mkdtempSync(path.join(tmpdir(), 'dmw-serial-'));
const haveSocat = requireTools('serial-socat', 'socat');

let pairNo = 0;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function ptyPair(): Promise<PtyPair> {
  return sharedPtyPair(tmp, `tty${++pairNo}`, (kill) => cleanups.push(kill));
}

async function modemOn(pair: PtyPair, opts: SimulatedModemOptions = {}): Promise<SimulatedModem> {
  const m = await SimulatedModem.onPort(pair.b, opts);
  cleanups.push(() => m.close());
  return m;
}

/** dmw as a child process, asynchronously: the simulated modem lives in this process and must keep answering. */
function dmw(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 25_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe.runIf(haveSocat)('serial handset over a socat pty pair', () => {
  it('dmw serial identify --json reads the handset identity', async () => {
    const pair = await ptyPair();
    const modem = await modemOn(pair, { profile: { imsi: '262019876543210', imei: '356938035643809', iccid: '89490200001234567895', manufacturer: 'ACME', model: 'Phone 7', revision: 'R7.1' } });
    const r = await dmw(['serial', 'identify', '--port', pair.a, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ port: pair.a, manufacturer: 'ACME', model: 'Phone 7', revision: 'R7.1', imei: '356938035643809', imeiLuhnOk: true, imsi: '262019876543210', iccid: '89490200001234567895', errors: {} });
    expect(modem.commands.slice(0, 2)).toEqual(['AT', 'ATE0']);
  });

  it('dmw serial at prints answers and explains a +CME error (exit 1)', async () => {
    const pair = await ptyPair();
    await modemOn(pair, { cmee: 1, profile: { imsi: '' } });
    const ok = await dmw(['serial', 'at', '--port', pair.a, 'AT+CGSN', 'AT+CGMI']);
    expect(ok.code).toBe(0);
    expect(ok.out).toBe('490154203237518\nOK\nDMW\nOK\n');
    const bad = await dmw(['serial', 'at', '--port', pair.a, 'AT+CIMI']);
    expect(bad.code).toBe(1);
    expect(bad.out).toBe('+CME ERROR: 10\n');
    expect(bad.err).toBe('dmw: AT+CIMI: +CME ERROR: 10 (SIM not inserted)\n');
  });

  it('dmw serial apdu reaches the SIM through AT+CSIM', async () => {
    const pair = await ptyPair();
    const seen: string[] = [];
    await modemOn(pair, { sim: { transmit: async (apdu) => (seen.push(toHex(apdu)), Uint8Array.of(0x90, 0x00)) } });
    const r = await dmw(['serial', 'apdu', '--port', pair.a, '00A4040C0CA000000063504B43532D3135']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('# SIM access through AT+CSIM');
    expect(r.out).toContain('< 90 00');
    expect(seen).toContain('00A4040C0CA000000063504B43532D3135');
  });

  it('dmw push notification: the handset receives package #0 and the hook fires', async () => {
    const pair = await ptyPair();
    const hooked: DeliveredPush[] = [];
    const modem = await modemOn(pair, { onWapPush: (p) => void hooked.push(p) });
    const notified = new Promise<DeliveredPush>((r) => modem.once('notification', r));
    const pkgFile = path.join(tmp, 'pkg0.bin');
    writeFileSync(pkgFile, buildPackage0({ uiMode: 'informative', initiator: 'server', sessionId: 0x0bad, serverId: 'dmw-lab' }, { secret: 'pw', nonce: new Uint8Array(Buffer.from('n')) }));
    const r = await dmw(['push', 'notification', '--port', pair.a, '--to', '+491701234567', pkgFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/WSP push \(application\/vnd\.syncml\.notification, x-wap-application:syncml\.dm, 37 bytes\): 010603C4AF87/);
    expect(r.out).toMatch(/part 1\/1 PDU \(TPDU \d+ octets\): 0041000C91947110325476000[0-9A-F]+/);
    expect(r.out).toContain('> AT+CMGF=0\n< OK');
    expect(r.out).toContain('< +CMGS: 1\n< OK');
    expect(r.out).toContain('part 1/1: sent, message reference 1');
    const n = await notified;
    expect(n.to).toBe('+491701234567');
    expect(n.content?.package0).toMatchObject({ serverId: 'dmw-lab', sessionIdHex: 'BAD', uiMode: 'informative', initiator: 'server' });
    expect(hooked).toHaveLength(1);
  });

  it('dmw push bootstrap: NETWPIN keyed by the IMSI read over AT, split in parts, MAC verifies at the handset', async () => {
    const pair = await ptyPair();
    const modem = await modemOn(pair, { profile: { imsi: '001010123456789' } });
    const got = new Promise<DeliveredPush>((r) => modem.once('wap-push', r));
    const wbxmlFile = path.join(VECTORS_DIR, 'testadd.wbxml');
    const wbxml = readFileSync(wbxmlFile);
    const r = await dmw(['push', 'bootstrap', '--port', pair.a, '--to', '+15550100', '--sec', 'NETWPIN', '--json', wbxmlFile]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: 'bootstrap', sec: 'NETWPIN', ok: true, key: 'IMSI semi-octets 09 10 10 10 32 54 76 98' });
    expect(j.parts.length).toBeGreaterThan(1);
    expect(j.parts.map((p: { status: string }) => p.status)).toEqual(j.parts.map(() => 'sent'));
    expect(j.parts.map((p: { messageRef: number }) => p.messageRef)).toEqual(j.parts.map((_: unknown, i: number) => i + 1));
    expect(j.transcript).toContain('IMSI 001010123456789 read with AT+CIMI on ' + pair.a);
    const p = await got;
    expect(p.parts).toBe(j.parts.length);
    const w = p.content!.wsp;
    expect(w).toMatchObject({ contentType: 'application/vnd.syncml.dm+wbxml', sec: 'NETWPIN', appId: 'x-wap-application:syncml.dm' });
    expect(Buffer.from(w.body).equals(wbxml)).toBe(true);
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'NETWPIN', imsi: '001010123456789' }).ok).toBe(true);
  });

  it('dmw push bootstrap USERNETWPIN says which key it used', async () => {
    const pair = await ptyPair();
    const modem = await modemOn(pair);
    const got = new Promise<DeliveredPush>((r) => modem.once('wap-push', r));
    const r = await dmw(['push', 'bootstrap', '--port', pair.a, '--to', '+15550100', '--sec', 'USERNETWPIN', '--imsi', '001010123456789', '--pin', '4711', '--usernetwpin-key', 'imsi:pin', path.join(VECTORS_DIR, 'testadd.wbxml')]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('USERNETWPIN key variant "imsi:pin"');
    expect(r.out).toMatch(/note: USERNETWPIN key choice is unverified/);
    const w = (await got).content!.wsp;
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '4711', userNetwPinKey: 'imsi:pin' }).ok).toBe(true);
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '4711', userNetwPinKey: 'imsi+pin' }).ok).toBe(false);
  });

  it('a +CMS error on part 2 stops the message: part 1 sent, part 2 failed in words, the rest not sent (exit 1)', async () => {
    const pair = await ptyPair();
    await modemOn(pair, { faults: { cmsErrorOnPart: 2, cmsErrorCode: 42 } });
    const r = await dmw(['push', 'bootstrap', '--port', pair.a, '--to', '+15550100', '--sec', 'USERPIN', '--pin', '1234', path.join(VECTORS_DIR, 'testadd.wbxml')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('part 1/4: sent, message reference 1');
    expect(r.out).toContain('part 2/4: failed: +CMS ERROR: 42 (congestion)');
    expect(r.out).toContain('part 3/4: not-sent');
    expect(r.err).toMatch(/^dmw: .*: 1 of 4 SMS part\(s\) sent to \+15550100: part 2\/4: \+CMS ERROR: 42 \(congestion\)\n$/);
  });

  it('the port vanishing mid-message is reported, and nothing half-sent counts as sent (exit 1)', async () => {
    const pair = await ptyPair();
    const modem = await modemOn(pair, { faults: { stallOnPart: 2 } });
    modem.on('stalled', () => pair.kill());
    const r = await dmw(['push', 'bootstrap', '--port', pair.a, '--to', '+15550100', '--sec', 'USERPIN', '--pin', '1234', path.join(VECTORS_DIR, 'testadd.wbxml')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('part 1/4: sent, message reference 1');
    expect(r.out).toMatch(/part 2\/4: unconfirmed: AT\+CMGS=\d+: .*: port went away/);
    expect(r.out).toContain('part 3/4: not-sent');
    expect(r.out).not.toMatch(/part [234]\/4: sent/);
    expect(r.err).toMatch(/1 of 4 SMS part\(s\) sent .*PDU handed to the modem, no confirmation/);
  });
});
