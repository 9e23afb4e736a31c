/**
 * Fuzz: the DM-1 / DM-4 decoders of main/notify, from valid seeds built by the module's own encoders
 * (and the published vectors of the unit tests), mutated with a seeded mulberry32 generator:
 *  - package #0 (parsePackage0, verifyPackage0),
 *  - WSP push PDUs (decodeWspPush) and reading a reassembled push (readWapPush),
 *  - SMS TPDUs (decodeSmsPdu in its three SMSC modes, decodeUdh, Reassembler),
 *  - OTA bootstrap pushes: WSP with SEC/MAC around a WBXML DM bootstrap, through the MAC check, the
 *    bootstrap decoder and the provisioned-node walk. Half of these mutate the WBXML body (bytes, or
 *    leaves of its XML form) and re-wrap it with a correct MAC, so they get past the WSP front door.
 * Every decoder must return a value (never throw), put its errors at a byte offset inside the input,
 * refuse huge declared lengths without allocating them, and what decodes must re-encode to something
 * that decodes to the same value. Seeded: a failure names the iteration that reproduces it.
 * "Not slow" and "not allocated" are counted, not timed (test/helpers/work-meter.ts: what the searching
 * built-ins look at; test/helpers/allocation-meter.ts: bytes of typed arrays made), so a loaded
 * machine changes nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BootstrapDecodeError, decodeBootstrap, provisionedNodes } from '../../main/bootstrap/diff.js';
import { buildBootstrap } from '../../main/bootstrap/message.js';
import { parseProfile } from '../../main/bootstrap/profile.js';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { DecodeFailure, InvalidInput, type NotifyError } from '../../main/notify/errors.js';
import { buildBootstrapPush, hmacSha1, secKey, userPinMacPin, validateImsi, validatePin, verifyBootstrapMac, type SecInputs } from '../../main/notify/ota.js';
import { buildPackage0, encodeTrigger, parsePackage0, parseSessionIdHex, verifyPackage0, UI_MODES, type Package0Credentials } from '../../main/notify/package0.js';
import { Reassembler, decodeSmsPdu, decodeUdh, encodeSubmit, parseMsisdn, type DecodedSms, type SubmitOptions } from '../../main/notify/sms.js';
import { buildNotificationPush, buildWapPushSms, readWapPush } from '../../main/notify/wap-push.js';
import { SEC_METHODS, decodeWspPush, encodeWspPush, type DecodedWspPush, type SecMethod } from '../../main/notify/wsp.js';
import { wbxmlToXml, xmlToWbxml } from '../../main/protocol/convert.js';
import { mutateBytes, pick, prng, type Rnd, Judge } from '../helpers/fuzz.js';
import { REPO_ROOT } from '../helpers/tools.js';
import { AllocationMeter } from '../helpers/allocation-meter.js';
import { WorkMeter } from '../helpers/work-meter.js';

// ------------------------------------------------------------------------------------------ engine



const CODES = new Set(['truncated', 'bad-hex', 'bad-value', 'unsupported', 'trailing-data']);

/** Why a NotifyError breaks the rule (code, message, and a byte offset inside the input), or undefined. */
function badNotifyError(e: NotifyError, length: number): string | undefined {
  if (!CODES.has(e.code)) return `unexpected code ${e.code}`;
  if (typeof e.message !== 'string' || e.message.length === 0) return 'empty message';
  if (typeof e.offset !== 'number' || !Number.isInteger(e.offset) || e.offset < 0 || e.offset > length) return `offset ${String(e.offset)} outside 0..${length}`;
  return undefined;
}

// ------------------------------------------------------------------------------------------ seeds

const CRED: Package0Credentials = { secret: 'srv-secret', nonce: new Uint8Array(Buffer.from('nonce-1234')) };
const SPEC_TRIGGER = `02D0000000123412${Buffer.from('com.mgmtsrv.manage').toString('hex')}`;

function package0Seeds(): Uint8Array[] {
  const seeds: Uint8Array[] = [fromHex('AA'.repeat(16) + SPEC_TRIGGER)!];
  const ids = ['com.mgmtsrv.manage', 'x', 'a'.repeat(255), 'dm-server-ünï-服务'];
  const vendors = [undefined, Uint8Array.of(1, 2, 3), new Uint8Array(40).fill(0x5a)];
  let k = 0;
  for (const uiMode of UI_MODES) {
    for (const initiator of ['user', 'server'] as const) {
      const serverId = ids[k % ids.length]!;
      const vendorData = vendors[k % vendors.length];
      const sessionId = [0, 0x1234, 0xffff][k % 3]!;
      seeds.push(buildPackage0({ uiMode, initiator, sessionId, serverId, ...(vendorData ? { vendorData } : {}), ...(k === 5 ? { version: 0x3ff } : {}) }, CRED));
      k++;
    }
  }
  return seeds;
}

const BODY = new Uint8Array(Buffer.from('02A4016A00' + '2D6C'.repeat(40), 'hex'));
const SEC_INPUTS: Record<SecMethod, SecInputs> = {
  NETWPIN: { sec: 'NETWPIN', imsi: '001010123456789' },
  USERPIN: { sec: 'USERPIN', pin: '1234' },
  USERNETWPIN: { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234' },
  USERPINMAC: { sec: 'USERPINMAC', pin: '12345' },
};

function wspSeeds(pkg0: readonly Uint8Array[]): Uint8Array[] {
  const seeds: Uint8Array[] = pkg0.slice(0, 4).map((p, i) => buildNotificationPush(p, i + 1));
  for (const sec of SEC_METHODS) seeds.push(buildBootstrapPush(BODY, SEC_INPUTS[sec]).wsp);
  seeds.push(encodeWspPush({ contentType: 0x44, body: Uint8Array.of(9) }));
  seeds.push(encodeWspPush({ tid: 0x7f, contentType: 0x43, appId: 0x05, body: new Uint8Array(300).fill(0x41) }));
  seeds.push(encodeWspPush({ contentType: 0x36, security: { sec: 'USERPIN', mac: 'ABCDEF0123' }, body: BODY }));
  // Text content type and a text header (from the unit tests), a general form with Charset and a
  // text parameter, a well-known header with a short-length value, and a text-named header.
  seeds.push(new Uint8Array(Buffer.concat([Buffer.from('0106', 'hex'), Buffer.from([13]), Buffer.from('text/plain\0', 'latin1'), Buffer.from('AF87', 'hex'), Buffer.from('hi')])));
  seeds.push(new Uint8Array(Buffer.concat([Buffer.from('0206', 'hex'), Buffer.from([0x14]), Buffer.from('0CC481EA', 'hex'), Buffer.from('level\0', 'latin1'), Buffer.from('x\0', 'latin1'), Buffer.from('AF87', 'hex'), Buffer.from('B40201FF', 'hex'), Buffer.from('body')])));
  seeds.push(new Uint8Array(Buffer.concat([Buffer.from('0306', 'hex'), Buffer.from([0x11]), Buffer.from('C4', 'hex'), Buffer.from('X-Note\0', 'latin1'), Buffer.from('hello\0', 'latin1'), Buffer.from('AF', 'hex'), Buffer.from('x-app\0', 'latin1')])));
  return seeds;
}

// Published vectors and Gammu-made PDUs (test/unit/sms-pdu.test.ts).
const SMS_VECTORS = [
  '0011000B916407281553F80000AA0AE8329BFD4697D9EC37',
  '07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37',
  '018111000C919471103254760008000E0047007200FC00DF00650020263A',
  '018151000781947190F9000000130500039C02028A4EE2C607DAA036E54D0A',
  '11000B916407281553F80000AA0AE8329BFD4697D9EC37',
];

function smsSeeds(wsp: readonly Uint8Array[]): Uint8Array[] {
  const seeds = SMS_VECTORS.map((h) => fromHex(h)!);
  const opts: SubmitOptions[] = [
    { to: '+4917012345678', text: 'hello {world} €' },
    { to: '017012345678', text: 'with header', udh: [{ iei: 0x00, data: Uint8Array.of(7, 2, 1) }], validityRelative: 0xaa, statusReport: true, messageRef: 9 },
    { to: '1234', data: Uint8Array.of(0, 1, 2, 0xff), dcs: 0x04, pid: 0x41 },
    { to: '+15551234', data: new Uint8Array(Buffer.from('0041004200E9', 'hex')), dcs: 0x08 },
    { to: '5', data: new Uint8Array(120).fill(0x30), udh: [{ iei: 0x05, data: Uint8Array.of(0x0b, 0x84, 0x23, 0xf0) }] },
  ];
  for (const o of opts) seeds.push(encodeSubmit(o).pdu);
  for (const part of buildWapPushSms({ to: '+4917012345678', wsp: wsp[0]! })) seeds.push(fromHex(part.pduHex)!);
  for (const part of buildWapPushSms({ to: '+4917012345678', wsp: wsp[4]!, ref: 0x42, validityRelative: 0x10 })) seeds.push(fromHex(part.pduHex)!);
  return seeds;
}

function bootstrapBodies(): Uint8Array[] {
  const text = readFileSync(path.join(REPO_ROOT, 'test/fixtures/bootstrap/lab-profile.json'), 'utf8');
  const dmacc = buildBootstrap(parseProfile(text)).wbxml;
  const tnds = buildBootstrap(parseProfile(JSON.stringify({ ...JSON.parse(text), form: 'tnds' }))).wbxml;
  return [dmacc, tnds];
}

// ------------------------------------------------------------------------------------------ checks

function checkPackage0(j: Judge, i: number, input: Uint8Array, isSeed: boolean): boolean {
  const r = j.call('parsePackage0', i, input, () => parsePackage0(input));
  if (!r) return false;
  if (!r.ok) {
    const why = badNotifyError(r.error, input.length);
    if (why) j.report('parsePackage0', i, why, input);
    return false;
  }
  const p = r.value;
  if (p.digest.length !== 16 || !isDeepStrictEqual(p.trigger, input.subarray(16))) j.report('parsePackage0', i, 'digest/trigger do not split the input', input);
  j.call('verifyPackage0', i, input, () => verifyPackage0(p, CRED));
  // Round trip: a package with zero future bits and a server id that is whole UTF-8 re-encodes exactly.
  const idLen = input[23]!;
  const idBytes = input.subarray(24, 24 + idLen);
  const wholeUtf8 = Buffer.from(p.serverId, 'utf8').equals(Buffer.from(idBytes));
  if (p.futureBits === 0 && idLen > 0 && wholeUtf8) {
    const t = j.call('encodeTrigger', i, input, () => encodeTrigger({ version: p.version, uiMode: p.uiMode, initiator: p.initiator, sessionId: p.sessionId, serverId: p.serverId, vendorData: p.vendorData }));
    if (t && !isDeepStrictEqual(t, p.trigger)) j.report('parsePackage0', i, `re-encoded trigger differs: ${toHex(t)}`, input);
  } else if (isSeed) j.report('parsePackage0', i, 'seed does not round-trip', input);
  if (isSeed && !verifyPackage0(p, CRED).ok && i > 0) j.report('verifyPackage0', i, 'seed digest does not verify', input);
  return true;
}

/** The part of a decoded push the encoder can write back, or undefined when it uses more than that. */
function encodable(v: DecodedWspPush): Parameters<typeof encodeWspPush>[0] | undefined {
  if (v.contentTypeCode === undefined || v.contentTypeCode > 0x7f) return undefined;
  if (v.tid > 0xff) return undefined;
  const names = v.params.map((p) => p.name).join(',');
  let security: { sec: SecMethod; mac: string } | undefined;
  if (names === 'SEC,MAC') {
    if (!(SEC_METHODS as readonly string[]).includes(String(v.sec)) || !v.mac || !/^[0-9A-F]+$/.test(v.mac)) return undefined;
    security = { sec: v.sec as SecMethod, mac: v.mac };
  } else if (names !== '') return undefined;
  if (v.headers.length > 1 || (v.headers.length === 1 && (v.headers[0]!.name !== 'X-Wap-Application-Id' || v.appIdCode === undefined || v.appIdCode > 0x7f))) return undefined;
  return { tid: v.tid, contentType: v.contentTypeCode, ...(security ? { security } : {}), ...(v.appIdCode !== undefined && v.headers.length === 1 ? { appId: v.appIdCode } : {}), body: v.body };
}

function checkWsp(j: Judge, i: number, input: Uint8Array, isSeed: boolean): DecodedWspPush | undefined {
  const r = j.call('decodeWspPush', i, input, () => decodeWspPush(input));
  if (!r) return undefined;
  if (!r.ok) {
    const why = badNotifyError(r.error, input.length);
    if (why) j.report('decodeWspPush', i, why, input);
    return undefined;
  }
  const v = r.value;
  if (!isDeepStrictEqual(v.body, input.subarray(input.length - v.body.length))) j.report('decodeWspPush', i, 'body is not the tail of the input', input);
  const e = encodable(v);
  if (e) {
    const bytes = j.call('encodeWspPush', i, input, () => encodeWspPush(e));
    const again = bytes && decodeWspPush(bytes);
    if (bytes && (!again || !again.ok)) j.report('decodeWspPush', i, 're-encoded push does not decode', input);
    else if (again && again.ok && !isDeepStrictEqual(again.value, v)) j.report('decodeWspPush', i, `re-encoded push decodes differently: ${toHex(bytes!)}`, input);
    if (isSeed && bytes && !isDeepStrictEqual(bytes, input)) j.report('decodeWspPush', i, `seed re-encodes to other bytes: ${toHex(bytes)}`, input);
  } else if (isSeed && v.contentType !== 'text/plain' && v.params.length === 0 && v.headers.every((h) => h.name === 'X-Wap-Application-Id')) {
    j.report('decodeWspPush', i, 'seed not re-encodable', input);
  }
  // The SMS/CLI path: a reassembled push read with its package #0.
  const w = j.call('readWapPush', i, input, () => readWapPush(input));
  if (w && !w.ok) j.report('readWapPush', i, `failed where decodeWspPush succeeded: ${w.error}`, input);
  if (w && w.ok && w.value.package0Error !== undefined && !/ at byte \d+/.test(w.value.package0Error)) j.report('readWapPush', i, `package #0 error without a byte offset: ${w.value.package0Error}`, input);
  return v;
}

/** SubmitOptions that should encode a decoded SMS-SUBMIT again (undefined when outside the encoder). */
function submitOptions(s: DecodedSms): SubmitOptions | undefined {
  if (s.type !== 'SMS-SUBMIT' || !s.to || s.dcs.compressed) return undefined;
  if (s.validity && s.validity.format !== 'relative') return undefined;
  const o: SubmitOptions = { to: s.to.number, dcs: s.dcs.value, pid: s.pid, statusReport: s.flags.statusReport };
  if (s.messageRef !== undefined) o.messageRef = s.messageRef;
  if (s.validity) o.validityRelative = parseInt(s.validity.hex, 16);
  if (s.udh) o.udh = s.udh.elements.map((e) => ({ iei: e.iei, data: fromHex(e.dataHex)! }));
  if (s.dcs.alphabet === 'gsm7') o.text = s.text ?? '';
  else o.data = s.userData;
  return o;
}

const smsView = (s: DecodedSms) => ({
  type: s.type,
  to: s.to?.number,
  pid: s.pid,
  dcs: s.dcs.value,
  messageRef: s.messageRef,
  validity: s.validity,
  statusReport: s.flags.statusReport,
  // A UDH with no element (UDHL 00) carries nothing: the encoder writes none.
  udh: s.udh?.elements.length ? s.udh.elements : undefined,
  data: s.dcs.alphabet === 'gsm7' ? s.text : toHex(s.userData),
});

function checkSms(j: Judge, i: number, input: Uint8Array, isSeed: boolean, reassembler: Reassembler): boolean {
  let decoded = false;
  for (const smsc of ['auto', 'yes', 'no'] as const) {
    const r = j.call(`decodeSmsPdu(${smsc})`, i, input, () => decodeSmsPdu(input, { smsc }));
    if (!r) continue;
    if (!r.ok) {
      const why = badNotifyError(r.error, input.length);
      if (why) j.report(`decodeSmsPdu(${smsc})`, i, why, input);
      continue;
    }
    decoded = true;
    const s = r.value;
    if (s.udl > 160 || s.userData.length > 160) j.report(`decodeSmsPdu(${smsc})`, i, `user data of ${s.userData.length} (udl ${s.udl}) is more than one SMS`, input);
    if (smsc !== 'auto') continue;
    j.call('Reassembler.add', i, input, () => reassembler.add('+1555', s));
    const o = submitOptions(s);
    if (!o) continue;
    let enc: ReturnType<typeof encodeSubmit> | undefined;
    try {
      enc = encodeSubmit(o);
    } catch (e) {
      // Outside what the encoder writes (alphanumeric address, text outside GSM 7-bit ...): fine, unless a seed.
      if (!(e instanceof InvalidInput)) j.report('encodeSubmit', i, `threw ${String(e)}`, input);
      else if (isSeed) j.report('encodeSubmit', i, `seed does not re-encode: ${e.message}`, input);
      continue;
    }
    const again = decodeSmsPdu(s.smsc === undefined ? enc.tpdu : enc.pdu, { smsc: s.smsc === undefined ? 'no' : 'yes' });
    if (!again.ok) j.report('decodeSmsPdu', i, `re-encoded SMS does not decode: ${again.error.message}`, input);
    else if (!isDeepStrictEqual(smsView(again.value), smsView(s))) j.report('decodeSmsPdu', i, `re-encoded SMS decodes differently: ${JSON.stringify(smsView(again.value))}`, input);
    if (isSeed && s.smsc === null && !isDeepStrictEqual(enc.pdu, input) && !SMS_VECTORS.includes(toHex(input))) j.report('encodeSubmit', i, `seed re-encodes to ${toHex(enc.pdu)}`, input);
  }
  // decodeUdh is exported: alone, it may only throw its module's DecodeFailure, with an offset.
  const udh = input.subarray(0, Math.min(input.length, 24));
  try {
    decodeUdh(udh, 5);
  } catch (e) {
    if (!(e instanceof DecodeFailure)) j.report('decodeUdh', i, `threw ${String(e)}`, udh);
    else if (badNotifyError(e.error, udh.length + 5)) j.report('decodeUdh', i, badNotifyError(e.error, udh.length + 5)!, udh);
  }
  if (reassembler.openMessages > 64) j.report('Reassembler', i, `${reassembler.openMessages} open messages (limit 64)`, input);
  return decoded;
}

const POSITION = /at byte \d+|at line \d+:\d+|\(in [A-Za-z]/;

/** One OTA bootstrap push through WSP, the MAC check, the bootstrap decoder and the node walk. */
function checkOta(j: Judge, i: number, input: Uint8Array): { mac: boolean; decoded: boolean } {
  const out = { mac: false, decoded: false };
  const v = checkWsp(j, i, input, false);
  if (!v) return out;
  if (v.sec && (SEC_METHODS as readonly string[]).includes(v.sec)) {
    const inputs = SEC_INPUTS[v.sec as SecMethod];
    // USERPINMAC: the user types the PIN the push displays (key half + hmac digits of the real body).
    const full = v.sec === 'USERPINMAC' ? { ...inputs, pin: userPinMacPin('12345', hmacSha1(secKey(inputs).key, v.body)) } : inputs;
    out.mac = j.call('verifyBootstrapMac', i, input, () => verifyBootstrapMac(v.body, v.mac, full))?.ok === true;
  }
  try {
    const msg = decodeBootstrap(v.body);
    j.call('provisionedNodes', i, input, () => provisionedNodes(msg));
    out.decoded = true;
  } catch (e) {
    if (!(e instanceof BootstrapDecodeError)) j.report('decodeBootstrap', i, `threw ${String(e)}`, input);
    else if (!POSITION.test(e.message)) j.report('decodeBootstrap', i, `error names no position: ${e.message}`, input);
  }
  return out;
}

/** Leaf mutations on the XML form of a bootstrap (values the DMAcc MO cares about). */
const LEAF_VALUES = ['', '0', '-1', '65536', 'x'.repeat(300), './../..', '.', '%2F', 'chr', 'bin', 'node', '<', '&amp;', 'ÿ', 'application/vnd.syncml.dmtnds+xml'];
function mutateXmlLeaves(xml: string, rnd: Rnd): string {
  const leaves = [...xml.matchAll(/<(\w+)(?: [^>]*)?>[^<]*<\/\1>/g)];
  if (leaves.length === 0) return xml;
  const m = pick(rnd, leaves);
  const esc = (s: string) => s.replace(/&(?!amp;)/g, '&amp;').replace(/</g, '&lt;');
  const repl = [() => m[0].replace(/>[^<]*</, `>${esc(pick(rnd, LEAF_VALUES))}<`), () => '', () => m[0] + m[0]][Math.floor(rnd() * 3)]!();
  return xml.slice(0, m.index) + repl + xml.slice(m.index! + m[0].length);
}

// ------------------------------------------------------------------------------------------ tests

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x0b, 0x11, 0x12, 0x1e, 0x1f, 0x20, 0x2f, 0x40, 0x7f, 0x80, 0x81, 0x8c, 0x8f, 0x91, 0x92, 0xa0, 0xaf, 0xc4, 0xff];
const SEED = 20260301;

/** Counts a check's work and allocations per input byte, for the bounds below. */
class Meters {
  readonly work = new WorkMeter();
  readonly allocs = new AllocationMeter();
  run<T>(what: string, input: Uint8Array, f: () => T): T {
    return this.work.run(input, () => this.allocs.run(what, input, f));
  }
  expectBounded(): void {
    expect(this.work.worstPerUnit, String(this.work)).toBeLessThan(WORK_PER_BYTE);
    expect(this.allocs.worstPerByte, String(this.allocs)).toBeLessThan(ALLOCATED_PER_BYTE);
  }
}
/** The fuzz loops' own timeout: only against a hang, never a bound on speed. */
const HANG_GUARD_MS = 120_000;

/**
 * "No input makes a decoder slow": the most work (test/helpers/work-meter.ts) a check may do per
 * input byte. The decoders walk bytes in their own loops, which the meter does not see; what it sees
 * is the text they make (WSP texts, the bootstrap's XML and URIs, the SMS text) searched and matched:
 * under 2 per byte now. A search over the rest of the input per item would cost its length per byte.
 */
const WORK_PER_BYTE = 20;
/**
 * "Hostile lengths are refused without being allocated": the most bytes of typed arrays a check may
 * make per input byte (test/helpers/allocation-meter.ts). Decoding, re-encoding and reading again
 * make a few copies: about 3 per byte now; a one-byte length (package #0's server id, an SMS UDL) at
 * most 255 whatever the input. A length believed before it is checked (WSP's uintvars, up to 2^32-1)
 * costs hundreds of thousands per byte.
 */
const ALLOCATED_PER_BYTE = 16;

describe('notify fuzz', () => {
  it('package #0: 3,000 mutations of 9 seeds', () => {
    const seeds = package0Seeds();
    const j = new Judge();
    seeds.forEach((s, i) => checkPackage0(j, i, s, true));
    const rnd = prng(SEED);
    let parsed = 0;
    const m = new Meters();
    for (let i = 0; i < 3000; i++) {
      const input = mutateBytes(pick(rnd, seeds), seeds, rnd, INTERESTING);
      if (m.run('package #0', input, () => checkPackage0(j, i, input, false))) parsed++;
    }
    console.log(`notify fuzz: package #0 ${m.work}; ${m.allocs}`);
    expect(j.findings).toEqual([]);
    expect(parsed).toBeGreaterThan(600);
    m.expectBounded();
  }, HANG_GUARD_MS);

  it('WSP push: 4,000 mutations of 14 seeds, decoded pushes re-encode to the same value', () => {
    const seeds = wspSeeds(package0Seeds());
    const j = new Judge();
    seeds.forEach((s, i) => checkWsp(j, i, s, true));
    const rnd = prng(SEED + 1);
    let decoded = 0;
    const m = new Meters();
    for (let i = 0; i < 4000; i++) {
      const input = mutateBytes(pick(rnd, seeds), seeds, rnd, INTERESTING);
      if (m.run('WSP push', input, () => checkWsp(j, i, input, false))) decoded++;
    }
    console.log(`notify fuzz: WSP ${m.work}; ${m.allocs}`);
    expect(j.findings).toEqual([]);
    expect(decoded).toBeGreaterThan(800);
    m.expectBounded();
  }, HANG_GUARD_MS);

  it('SMS PDUs: 4,000 mutations of 13 seeds (half keeping the length) in the three SMSC modes; SUBMITs re-encode', () => {
    const seeds = smsSeeds(wspSeeds(package0Seeds()));
    const j = new Judge();
    const re = new Reassembler();
    seeds.forEach((s, i) => checkSms(j, i, s, true, re));
    const rnd = prng(SEED + 2);
    let decoded = 0;
    const m = new Meters();
    for (let i = 0; i < 4000; i++) {
      const input = mutateBytes(pick(rnd, seeds), seeds, rnd, INTERESTING, { keepLength: rnd() < 0.5 });
      if (m.run('SMS PDU', input, () => checkSms(j, i, input, false, re))) decoded++;
    }
    expect(j.findings).toEqual([]);
    console.log(`notify fuzz: ${decoded} of 4000 mutated SMS PDUs decoded; ${m.work}; ${m.allocs}`);
    expect(decoded).toBeGreaterThan(1000);
    m.expectBounded();
  }, HANG_GUARD_MS);

  it('OTA bootstrap pushes: 1,500 mutations of 8 seeds, half of them inside the WBXML body with a correct MAC', () => {
    const bodies = bootstrapBodies();
    const seeds: Uint8Array[] = [];
    for (const body of bodies) for (const sec of SEC_METHODS) seeds.push(buildBootstrapPush(body, SEC_INPUTS[sec]).wsp);
    const j = new Judge();
    seeds.forEach((s, i) => expect(checkOta(j, i, s)).toEqual({ mac: true, decoded: true }));
    const rnd = prng(SEED + 3);
    const outcomes = { macOk: 0, bootstrapDecoded: 0 };
    const m = new Meters();
    for (let i = 0; i < 1500; i++) {
      let input: Uint8Array;
      if (rnd() < 0.5) input = mutateBytes(pick(rnd, seeds), seeds, rnd, INTERESTING);
      else {
        const body = pick(rnd, bodies);
        let changed: Uint8Array | undefined;
        if (rnd() < 0.5) {
          const xml = wbxmlToXml(body);
          const w = xml.ok ? xmlToWbxml(mutateXmlLeaves(Buffer.from(xml.value).toString('utf8'), rnd)) : undefined;
          if (w?.ok) changed = w.value;
        }
        changed ??= mutateBytes(body, bodies, rnd, [0x00, 0x01, 0x03, 0x45, 0x46, 0x47, 0x4b, 0xc3, 0x83, 0x80]);
        input = buildBootstrapPush(changed, SEC_INPUTS[pick(rnd, SEC_METHODS)]).wsp;
      }
      const o = m.run('OTA push', input, () => checkOta(j, i, input));
      if (o.mac) outcomes.macOk++;
      if (o.decoded) outcomes.bootstrapDecoded++;
    }
    console.log(`notify fuzz: OTA outcomes ${JSON.stringify(outcomes)}; ${m.work}; ${m.allocs}`);
    expect(j.findings).toEqual([]);
    expect(outcomes.macOk).toBeGreaterThan(300);
    expect(outcomes.bootstrapDecoded).toBeGreaterThan(300);
    m.expectBounded();
  }, HANG_GUARD_MS);

  it('typed arguments (MSISDN, session id, IMSI, PIN, hex): 3,000 mutations each; only InvalidInput naming the field', () => {
    const seeds = ['+4917012345678', '017012345678', ' +49 (170) 123-45 ', '1234', '0x1234', 'af', '001010123456789', '12345', '0A0B 0C:0D', ''];
    const rnd = prng(SEED + 4);
    const findings: string[] = [];
    const tokens = [' ', '+', '-', '(', ')', '*', '#', ':', '0x', 'é', '\u0000', '9'.repeat(20), 'ff', 'G'];
    const textMutate = (t: string): string => {
      let s = t;
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const at = Math.floor(rnd() * (s.length + 1));
        s = rnd() < 0.5 ? s.slice(0, at) + pick(rnd, tokens) + s.slice(at) : s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 4));
      }
      return s;
    };
    const only = (field: string, input: string, f: () => unknown): unknown => {
      try {
        return f();
      } catch (e) {
        if (!(e instanceof InvalidInput) || e.field !== field || !e.message.startsWith(`${field}: `)) findings.push(`${field} ${JSON.stringify(input)}: ${String(e)}`);
        return undefined;
      }
    };
    for (let i = 0; i < 3000; i++) {
      const t = textMutate(pick(rnd, seeds));
      const m = only('to', t, () => parseMsisdn(t)) as { digits: string; toa: number } | undefined;
      if (m && (!/^[0-9*#]{1,20}$/.test(m.digits) || (m.toa !== 0x91 && m.toa !== 0x81))) findings.push(`to ${JSON.stringify(t)} -> ${JSON.stringify(m)}`);
      const sid = only('session', t, () => parseSessionIdHex(t)) as number | undefined;
      if (sid !== undefined && !(Number.isInteger(sid) && sid >= 0 && sid <= 0xffff)) findings.push(`session ${JSON.stringify(t)} -> ${sid}`);
      only('imsi', t, () => validateImsi(t));
      only('pin', t, () => validatePin(t));
      const h = fromHex(t);
      if (h && toHex(h) !== t.trim().replace(/^0x/i, '').replace(/[\s:]/g, '').toUpperCase()) findings.push(`hex ${JSON.stringify(t)} -> ${toHex(h)}`);
    }
    expect(findings.slice(0, 20)).toEqual([]);
  });

  it('hostile lengths are refused without being allocated', () => {
    const j = new Judge();
    const m = new Meters();
    const cases: Array<[string, string]> = [
      ['WSP headers length 2^32-1', '0106 8FFFFFFF7F C4'],
      ['WSP uintvar of 6 octets', '0106 808080808001 C4'],
      ['WSP content type general form of 2^31 bytes', '0106 07 1F 88808080 00 C4'],
      ['WSP generic value of 2^32-1 bytes', '0106 08 C4 80 1F 8FFFFFFF7F'],
      ['WSP long integer of 30 octets', '0106 04 1E 0102 03'],
      ['WSP text without its NUL', '0106 05 616263 6465'],
      ['package #0 server-id length 255, 3 bytes given', '00'.repeat(16) + '02D8000000123' + '4FF616263'],
      ['SMS UDL 255 octets', '00 41 00 01 81 F1 00 04 FF 00'],
      ['SMS UDH length 255', '00 41 00 01 81 F1 00 04 05 FF 01 02 03 04'],
      ['SMS SMSC length 255', 'FF 91 00'],
    ];
    for (const [name, h] of cases) {
      const b = fromHex(h)!;
      const wsp = j.call(name, 0, b, () => m.run(`decodeWspPush: ${name}`, b, () => decodeWspPush(b)));
      if (name.startsWith('WSP') && wsp?.ok !== false) j.report(name, 0, 'accepted', b);
      const p = j.call(name, 0, b, () => m.run(`parsePackage0: ${name}`, b, () => parsePackage0(b)));
      if (name.startsWith('package') && p?.ok !== false) j.report(name, 0, 'accepted', b);
      const s = j.call(name, 0, b, () => m.run(`decodeSmsPdu: ${name}`, b, () => decodeSmsPdu(b)));
      if (name.startsWith('SMS') && s?.ok !== false) j.report(name, 0, 'accepted', b);
      for (const r of [wsp, p, s]) if (r && !r.ok && badNotifyError(r.error, b.length)) j.report(name, 0, badNotifyError(r.error, b.length)!, b);
    }
    expect(j.findings).toEqual([]);
    console.log(`notify fuzz: hostile lengths ${m.work}; ${m.allocs}`);
    m.expectBounded();
  });

  it('regression: a reassembled push whose package #0 is broken says at which byte', () => {
    // Notification push whose package #0 says its server id has 18 bytes, and stops after 3.
    const pkg = fromHex('00'.repeat(16) + '02D800000012341263 6F6D'.replace(/ /g, ''))!;
    const r = readWapPush(buildNotificationPush(pkg));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.package0Error).toMatch(/server-id \(length 18\).* at byte 24$/);
  });
});
