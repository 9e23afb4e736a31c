/**
 * The Bootstrap and Serial views' channels: schemas at the boundary, profile check and XML preview,
 * PC/SC reported as unavailable (never faked) and readers with live events, a flash on the virtual
 * UICC with progress, APDU trace and read-back verification; serial identity, console and a WAP push
 * notification through the simulated modem, previewed and then sent as previewed.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import type { OpenMonitor } from '../../main/api/bootstrap-view.js';
import { contract, eventSchemas, type EventName } from '../../main/api/contract.js';
import { dispatch } from '../../main/api/dispatch.js';
import { verifyBootstrapMac } from '../../main/notify/ota.js';
import { blankUicc, VirtualUicc } from '../../native/pcsc/virtual/index.js';
import type { PcscMonitor, ReaderInfo } from '../../native/pcsc/pcsc.js';
import { memoryLinkPair, type ByteLink } from '../../native/serial/link.js';
import { SimulatedModem, type DeliveredPush } from '../../native/serial/simulated-modem.js';

const PROFILE = {
  serverId: 'lab.dm',
  address: 'https://dm.lab.example/dm',
  clientCredential: { name: 'dev-0001', secret: 'client-secret', data: 'AAAAAA==' },
  serverCredential: { name: 'lab.dm', secret: 'server-secret', data: 'AAAAAA==' },
};

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'dmw-views-'));

/** A PcscMonitor over one virtual UICC in "Test Reader 00", with insert/remove. */
class FakeMonitor extends EventEmitter {
  card: VirtualUicc | undefined;
  constructor(readonly name = 'Test Reader 00') {
    super();
  }
  info(): ReaderInfo {
    return { name: this.name, present: !!this.card, ...(this.card ? { atr: this.card.atr } : {}), exclusive: false, inUse: false, mute: false, state: 0 };
  }
  insert(): void {
    this.card = new VirtualUicc(blankUicc());
    this.card.powerOn();
    this.emit('card-inserted', this.name, this.card.atr);
  }
  remove(): void {
    this.card = undefined;
    this.emit('card-removed', this.name);
  }
  readers() {
    return [this.info()];
  }
  pickReader(name?: string) {
    if (name !== undefined && name !== this.name) throw new Error(`no reader named "${name}"`);
    if (!this.card) throw new Error(`no card in reader "${this.name}"`);
    return this.info();
  }
  async connect(reader: string) {
    const card = this.card!;
    return { reader, transmit: async (cmd: Uint8Array) => card.process(cmd), disconnect: async () => undefined };
  }
  async close() {}
}

function collect(b: Backend) {
  const events: { name: EventName; payload: unknown }[] = [];
  b.onEvent((name, payload) => {
    // Every event the backend emits must pass the contract, as the UI checks it.
    eventSchemas[name].parse(payload);
    events.push({ name, payload });
  });
  return events;
}

describe('bootstrap and serial channels: input schemas', () => {
  it('refuses bad ports, numbers and extra fields at the boundary', () => {
    expect(contract['serial.identify'].input.safeParse({ port: '/dev/ttyUSB0' }).success).toBe(true);
    expect(contract['serial.identify'].input.safeParse({ port: '' }).success).toBe(false);
    expect(contract['serial.identify'].input.safeParse({ port: 'COM3' }).success).toBe(true);
    expect(contract['serial.identify'].input.safeParse({ port: '/etc/passwd' }).success).toBe(false);
    expect(contract['serial.identify'].input.safeParse({ port: '/dev/../etc/passwd' }).success).toBe(false);
    expect(contract['serial.identify'].input.safeParse({ port: '/dev/ttyUSB0', baudRate: 12 }).success).toBe(false);
    expect(contract['serial.pushPreview'].input.safeParse({ to: '+491701234567', uiMode: 'background' }).success).toBe(true);
    expect(contract['serial.pushPreview'].input.safeParse({ to: 'call me', uiMode: 'background' }).success).toBe(false);
    expect(contract['serial.pushSend'].input.safeParse({ port: '/dev/x', to: '+49170', uiMode: 'background', ref: 1 }).success).toBe(false);
    expect(contract['bootstrap.flash'].input.safeParse({ profile: PROFILE, shell: 'rm' }).success).toBe(false);
    expect(contract['bootstrap.check'].input.safeParse({ profile: 'not an object' }).success).toBe(false);
  });
});

describe('Bootstrap view backend', () => {
  const fake = new FakeMonitor();
  let opens = 0;
  const openPcsc: OpenMonitor = async () => {
    opens++;
    return fake as unknown as PcscMonitor;
  };
  const backend = Backend.create({ dataDir: tmp(), handsets: { ok: false, reason: 'none' }, openPcsc });
  afterAll(async () => (await backend).close());

  it('checks a profile and names every bad field', async () => {
    const b = await backend;
    const bad = await dispatch(b.handlers, 'bootstrap.check', { profile: { ...PROFILE, port: 0, clientCredential: { name: 'x' } } });
    expect(bad.ok).toBe(true);
    if (!bad.ok) return;
    const v = contract['bootstrap.check'].output.parse(bad.value);
    expect(v.ok).toBe(false);
    expect(v.xml).toBeNull();
    expect(v.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['port', 'clientCredential.secret']));
  });

  it('previews the bootstrap message as XML with its DMAcc nodes', async () => {
    const b = await backend;
    const r = await b.handlers['bootstrap.check']({ profile: PROFILE });
    expect(r.ok).toBe(true);
    expect(r.xml).toContain('<SyncML');
    expect(r.xml).toContain('lab.dm');
    expect(r.wbxmlBytes).toBeGreaterThan(50);
    expect(r.nodes.some((n) => n.uri.endsWith('/ServerID'))).toBe(true);
  });

  it('lists readers and passes insert/remove on as events', async () => {
    const b = await backend;
    const events = collect(b);
    const r0 = await b.handlers['bootstrap.readers']({});
    expect(r0).toEqual({ available: true, reason: null, readers: [expect.objectContaining({ name: 'Test Reader 00', present: false, atr: null })] });
    fake.insert();
    const ins = events.filter((e) => e.name === 'bootstrap.readers').at(-1)!.payload as { readers: { present: boolean; atr: string | null; atrText: string | null }[] };
    expect(contract['bootstrap.readers'].output.parse(ins).readers[0]).toMatchObject({ present: true });
    expect(ins.readers[0]!.atr).toMatch(/^[0-9A-F ]+$/i);
    expect(opens).toBe(1);
  });

  it('flashes the card with progress and APDU trace, and verifies the read-back', async () => {
    const b = await backend;
    const events = collect(b);
    const r = await dispatch(b.handlers, 'bootstrap.flash', { profile: PROFILE, pin: '1234' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = contract['bootstrap.flash'].output.parse(r.value);
    expect(v.error).toBeNull();
    expect(v).toMatchObject({ ok: true, reader: 'Test Reader 00', verification: { matches: true } });
    expect(v.report?.bytes).toBeGreaterThan(50);
    expect(v.trace.some((t) => t.name === 'UPDATE BINARY')).toBe(true);
    // PIN data masked in the trace.
    expect(v.trace.find((t) => t.name === 'VERIFY' && t.command.length > 14)?.command).not.toContain('31323334');
    const phases = events.filter((e) => e.name === 'bootstrap.progress').map((e) => (e.payload as { phase: string }).phase);
    expect(phases).toContain('write');
    expect(phases.at(-1)).toBe('done');
    expect(phases.filter((x) => x === 'done')).toHaveLength(1);
    expect(phases.indexOf('verify')).toBeLessThan(phases.indexOf('done'));
    expect(events.filter((e) => e.name === 'bootstrap.trace').length).toBe(v.trace.length);
  });

  it('refuses to flash an invalid profile, and says when there is no card', async () => {
    const b = await backend;
    const bad = await b.handlers['bootstrap.flash']({ profile: { ...PROFILE, serverId: '' } });
    expect(bad).toMatchObject({ ok: false, error: expect.stringContaining('serverId') });
    fake.remove();
    const none = await b.handlers['bootstrap.flash']({ profile: PROFILE });
    expect(none).toMatchObject({ ok: false, error: expect.stringContaining('no card') });
  });
});

describe('Bootstrap view without pcscd', () => {
  it('reports PC/SC as unavailable with the reason, and no readers', async () => {
    const b = await Backend.create({
      dataDir: tmp(), handsets: { ok: false, reason: 'none' },
      openPcsc: async () => { throw new Error('no PC/SC service: pcscd is not running (start it with `pcscd` or `systemctl start pcscd.socket`)'); },
    });
    const r = await b.handlers['bootstrap.readers']({});
    expect(r).toEqual({ available: false, reason: expect.stringContaining('pcscd is not running'), readers: [] });
    const f = await b.handlers['bootstrap.flash']({ profile: PROFILE });
    expect(f).toMatchObject({ ok: false, error: expect.stringContaining('pcscd') });
    await b.close();
  });
});

describe('Serial view backend', () => {
  const modems: SimulatedModem[] = [];
  const pushes: DeliveredPush[] = [];
  let lastHost: ByteLink | undefined;
  const openSerial = async (p: string): Promise<ByteLink> => {
    if (p !== '/dev/ttySIM0') throw new Error(`${p}: no such port`);
    const [host, far] = memoryLinkPair();
    const m = new SimulatedModem(far, { profile: { manufacturer: 'Quectel', model: 'EC25' } });
    m.on('notification', (x) => pushes.push(x));
    modems.push(m);
    lastHost = host;
    return host;
  };
  const backend = Backend.create({ dataDir: tmp(), handsets: { ok: false, reason: 'none' }, openSerial, settings: { serverId: 'lab-srv', serverCred: { name: 'lab-srv', secret: 'pw' } } });
  afterAll(async () => (await backend).close());

  it('lists ports (or says none) in the contract shape', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'serial.ports', {});
    expect(r.ok).toBe(true);
    if (r.ok) expect(Array.isArray(contract['serial.ports'].output.parse(r.value).ports)).toBe(true);
  });

  it('identifies the handset on a port over AT', async () => {
    const b = await backend;
    const id = await b.handlers['serial.identify']({ port: '/dev/ttySIM0' });
    expect(id).toMatchObject({ port: '/dev/ttySIM0', manufacturer: 'Quectel', model: 'EC25', imei: '490154203237518', imeiLuhnOk: true, imsi: '001010123456789' });
    const gone = await dispatch(b.handlers, 'serial.identify', { port: '/dev/ttyNONE' });
    expect(gone).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining('no such port') } });
  });

  it('runs a raw console: lines in as events, a line out', async () => {
    const b = await backend;
    const events = collect(b);
    const st = await b.handlers['serial.consoleOpen']({ port: '/dev/ttySIM0' });
    expect(st).toEqual({ port: '/dev/ttySIM0', open: true, error: null });
    await b.handlers['serial.consoleSend']({ line: 'AT+CGMI' });
    await expect.poll(() => events.filter((e) => e.name === 'serial.console').flatMap((e) => (e.payload as { lines: string[] }).lines)).toContain('OK');
    const lines = events.filter((e) => e.name === 'serial.console').flatMap((e) => (e.payload as { lines: string[] }).lines);
    expect(lines.join('\n')).toContain('Quectel');
    const busy = await dispatch(b.handlers, 'serial.identify', { port: '/dev/ttySIM0' });
    expect(busy).toMatchObject({ ok: false, error: { message: expect.stringContaining('console') } });
    expect(await b.handlers['serial.consoleClose']({})).toEqual({ port: null, open: false, error: null });
    expect(lastHost?.isOpen).toBe(false);
  });

  it('previews package #0 from the server settings and sends exactly that as a WAP push', async () => {
    const b = await backend;
    const pv = await b.handlers['serial.pushPreview']({ to: '+491701234567', uiMode: 'background', sessionId: 0x1a2b, ref: 7 });
    expect(pv).toMatchObject({ serverId: 'lab-srv', sessionIdHex: '1A2B', ref: 7, warnings: [] });
    expect(pv.wspHex.startsWith('0106')).toBe(true);
    expect(pv.wspHex.toLowerCase()).toContain(pv.package0Hex.toLowerCase());
    expect(pv.parts.length).toBeGreaterThanOrEqual(1);
    const sent = await b.handlers['serial.pushSend']({ port: '/dev/ttySIM0', to: pv.to, uiMode: 'background', sessionId: pv.sessionId, ref: pv.ref });
    expect(sent.detail).toContain('sent');
    expect(sent).toMatchObject({ ok: true, parts: [expect.objectContaining({ status: 'sent' })] });
    expect(sent.transcript.some((l) => l.includes(pv.parts[0]!.pduHex))).toBe(true);
    await expect.poll(() => pushes.length).toBe(1);
    expect(pushes[0]!.content?.package0).toMatchObject({ serverId: 'lab-srv', sessionIdHex: '1A2B', uiMode: 'background' });
  });

  it('refuses a number that is not one', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'serial.pushPreview', { to: '12ab', uiMode: 'background' });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad-input' } });
  });
});

describe('Serial view backend: OTA bootstrap push (DM-4)', () => {
  const wapPushes: DeliveredPush[] = [];
  const openSerial = async (p: string): Promise<ByteLink> => {
    if (p !== '/dev/ttySIM0') throw new Error(`${p}: no such port`);
    const [host, far] = memoryLinkPair();
    const m = new SimulatedModem(far, { profile: { manufacturer: 'Quectel', model: 'EC25' } });
    m.on('wap-push', (x) => wapPushes.push(x));
    return host;
  };
  const backend = Backend.create({ dataDir: tmp(), handsets: { ok: false, reason: 'none' }, openSerial });
  afterAll(async () => (await backend).close());

  it('previews a USERNETWPIN bootstrap with the IMSI read over AT, and sends it so the handset MAC verifies', async () => {
    const b = await backend;
    const r = await dispatch(b.handlers, 'serial.bootstrapPreview', { to: '+491701234567', profile: PROFILE, sec: 'USERNETWPIN', imsiPort: '/dev/ttySIM0', pin: '1234', ref: 5 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const pv = contract['serial.bootstrapPreview'].output.parse(r.value);
    expect(pv).toMatchObject({ sec: 'USERNETWPIN', ref: 5, imsi: '001010123456789', imsiSource: 'AT+CIMI on /dev/ttySIM0', userNetwPinKey: 'imsi+pin', userPin: null, appId: 'x-wap-application:syncml.dm' });
    expect(pv.contentType).toBe('application/vnd.syncml.dm+wbxml');
    expect(pv.params).toEqual(expect.arrayContaining([{ name: 'SEC', value: 'USERNETWPIN' }, { name: 'MAC', value: pv.mac }]));
    expect(pv.keyDescription).toContain('"imsi+pin"');
    expect(pv.parts.length).toBeGreaterThan(1);
    const sent = await b.handlers['serial.bootstrapSend']({ previewId: pv.previewId, port: '/dev/ttySIM0' });
    expect(sent).toMatchObject({ ok: true });
    for (const part of pv.parts) expect(sent.transcript.some((l) => l.includes(part.pduHex))).toBe(true);
    await expect.poll(() => wapPushes.length).toBe(1);
    const w = wapPushes[0]!.content!.wsp;
    expect(w).toMatchObject({ contentType: 'application/vnd.syncml.dm+wbxml', sec: 'USERNETWPIN', mac: pv.mac });
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234' }).ok).toBe(true);
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234', userNetwPinKey: 'imsi:pin' }).ok).toBe(false);
  });

  it('sends a NETWPIN bootstrap with a typed IMSI, and a USERPINMAC one with the PIN to type', async () => {
    const b = await backend;
    const pv = await b.handlers['serial.bootstrapPreview']({ to: '+491701234567', profile: PROFILE, sec: 'NETWPIN', imsi: '262011234567890' });
    expect(pv).toMatchObject({ imsiSource: 'typed', userNetwPinKey: null });
    const before = wapPushes.length;
    expect(await b.handlers['serial.bootstrapSend']({ previewId: pv.previewId, port: '/dev/ttySIM0' })).toMatchObject({ ok: true });
    await expect.poll(() => wapPushes.length).toBe(before + 1);
    const w = wapPushes.at(-1)!.content!.wsp;
    expect(verifyBootstrapMac(w.body, w.mac, { sec: 'NETWPIN', imsi: '262011234567890' }).ok).toBe(true);
    const mac = await b.handlers['serial.bootstrapPreview']({ to: '+491701234567', profile: PROFILE, sec: 'USERPINMAC', pin: '12345' });
    expect(mac.userPin).toMatch(/^12345\d{5}$/);
  });

  it('refuses a bad IMSI, PIN or profile, naming the field, and an unknown preview', async () => {
    const b = await backend;
    const fail = async (input: Record<string, unknown>) => {
      const r = await dispatch(b.handlers, 'serial.bootstrapPreview', { to: '+491701234567', profile: PROFILE, ...input });
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.error.message;
    };
    expect(await fail({ sec: 'NETWPIN', imsi: '12ab5' })).toMatch(/^imsi: /);
    expect(await fail({ sec: 'NETWPIN', imsi: '123' })).toMatch(/^imsi: .*6 to 15/);
    expect(await fail({ sec: 'NETWPIN' })).toMatch(/^imsi: is required/);
    expect(await fail({ sec: 'USERPIN', pin: '12' })).toMatch(/^pin: /);
    expect(await fail({ sec: 'USERPIN' })).toMatch(/^pin: is required/);
    expect(await fail({ sec: 'USERNETWPIN', imsi: '001010123456789', pin: 'abcd' })).toMatch(/^pin: /);
    expect(await fail({ sec: 'USERPINMAC', pin: '123' })).toMatch(/^pin: /);
    expect(await fail({ sec: 'USERPIN', pin: '1234', profile: { ...PROFILE, serverId: '' } })).toMatch(/^profile: .*serverId/);
    expect(await fail({ sec: 'SOMEPIN', pin: '1234' })).toContain('sec');
    const gone = await dispatch(b.handlers, 'serial.bootstrapSend', { previewId: 999, port: '/dev/ttySIM0' });
    expect(gone).toMatchObject({ ok: false, error: { message: expect.stringContaining('previewId') } });
  });
});
