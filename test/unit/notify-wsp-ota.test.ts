/**
 * WSP push PDUs (DM-1 notification, DM-4 bootstrap) and the OTA SEC/MAC keys: the notes' IMSI
 * semi-octet example, HMAC-SHA1 against RFC 2202, and the header layout a handset's parser expects.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { InvalidInput } from '../../main/notify/errors.js';
import { buildBootstrapPush, hmacSha1, imsiSemiOctets, secKey, userPinMacPin, validateImsi, verifyBootstrapMac } from '../../main/notify/ota.js';
import { buildNotificationPush } from '../../main/notify/wap-push.js';
import { decodeWspPush, encodeUintvar, encodeWspPush } from '../../main/notify/wsp.js';

const BODY = new Uint8Array(Buffer.from('02A4016A00' + '2D6C'.repeat(40), 'hex'));

describe('OTA keys', () => {
  it('encodes the notes IMSI example as EF_IMSI semi-octets', () => {
    expect(toHex(imsiSemiOctets('001010123456789'), ' ')).toBe('09 10 10 10 32 54 76 98');
  });

  it('pads an even-length IMSI with parity 1 and a trailing F', () => {
    // 1 + 00101012345678 + F, nibble-swapped pairwise.
    expect(toHex(imsiSemiOctets('00101012345678'), ' ')).toBe('01 10 10 10 32 54 76 F8');
  });

  it('refuses IMSIs that are not 6 to 15 digits', () => {
    for (const bad of ['', '12345', '1234567890123456', '00101A123456789', '+001010123456789']) expect(() => validateImsi(bad)).toThrow(InvalidInput);
  });

  it('HMAC-SHA1 matches RFC 2202 test case 2', () => {
    expect(toHex(hmacSha1(new Uint8Array(Buffer.from('Jefe')), new Uint8Array(Buffer.from('what do ya want for nothing?'))))).toBe('EFFCDF6AE5EB2FA2D27416D5F184DF9C259A7C79');
  });

  it('builds each SEC key as the sources describe', () => {
    expect(toHex(secKey({ sec: 'NETWPIN', imsi: '001010123456789' }).key)).toBe('0910101032547698');
    expect(Buffer.from(secKey({ sec: 'USERPIN', pin: '1234' }).key).toString()).toBe('1234');
    expect(toHex(secKey({ sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234' }).key)).toBe('091010103254769831323334');
    expect(toHex(secKey({ sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234', userNetwPinKey: 'imsi:pin' }).key)).toBe('09101010325476983A31323334');
    expect(Buffer.from(secKey({ sec: 'USERPINMAC', pin: '12345' }).key).toString()).toBe('12345');
  });

  it('refuses a missing or malformed PIN and a missing IMSI', () => {
    expect(() => secKey({ sec: 'USERPIN' })).toThrow(/pin: is required/);
    expect(() => secKey({ sec: 'USERPIN', pin: '12a4' })).toThrow(InvalidInput);
    expect(() => secKey({ sec: 'USERPIN', pin: '123' })).toThrow(InvalidInput);
    expect(() => secKey({ sec: 'NETWPIN' })).toThrow(/imsi: is required/);
    expect(() => secKey({ sec: 'USERNETWPIN', imsi: '001010123456789' })).toThrow(/pin/);
    expect(() => secKey({ sec: 'USERPINMAC', pin: '1234' })).toThrow(/5 to 8/);
  });
});

describe('WSP push', () => {
  it('wraps package #0 as 01 06 03 C4 AF 87 + package', () => {
    const pkg = new Uint8Array([1, 2, 3]);
    expect(toHex(buildNotificationPush(pkg), ' ')).toBe('01 06 03 C4 AF 87 01 02 03');
  });

  it('encodes uintvars', () => {
    expect(toHex(encodeUintvar(0))).toBe('00');
    expect(toHex(encodeUintvar(0x7f))).toBe('7F');
    expect(toHex(encodeUintvar(0x80))).toBe('8100');
    expect(toHex(encodeUintvar(0x3fff))).toBe('FF7F');
  });

  for (const [sec, code, inputs] of [
    ['NETWPIN', 0x80, { imsi: '001010123456789' }],
    ['USERPIN', 0x81, { pin: '1234' }],
    ['USERNETWPIN', 0x82, { imsi: '001010123456789', pin: '1234' }],
    ['USERPINMAC', 0x83, { pin: '12345' }],
  ] as const) {
    it(`lays out a ${sec} bootstrap push: 1F 2D C2 91 ${code.toString(16)} 92 MAC 00 AF 87 body`, () => {
      const b = buildBootstrapPush(BODY, { sec, ...inputs });
      const key = secKey({ sec, ...inputs }).key;
      const mac = createHmac('sha1', key).update(BODY).digest('hex').toUpperCase();
      expect(b.mac).toBe(mac);
      const expected = `0106` + '31' + '1F2D' + 'C2' + '91' + code.toString(16).toUpperCase() + '92' + Buffer.from(mac).toString('hex').toUpperCase() + '00' + 'AF87' + toHex(BODY);
      expect(toHex(b.wsp)).toBe(expected);
      const d = decodeWspPush(b.wsp);
      expect(d.ok).toBe(true);
      if (!d.ok) return;
      expect(d.value).toMatchObject({ contentType: 'application/vnd.syncml.dm+wbxml', contentTypeCode: 0x42, sec, mac, appId: 'x-wap-application:syncml.dm' });
      expect(toHex(d.value.body)).toBe(toHex(BODY));
    });
  }

  it('notes the unverified USERNETWPIN choice in the push it builds', () => {
    const b = buildBootstrapPush(BODY, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234' });
    expect(b.notes.join(' ')).toMatch(/unverified/);
    expect(b.keyDescription).toMatch(/imsi\+pin/);
    expect(buildBootstrapPush(BODY, { sec: 'NETWPIN', imsi: '001010123456789' }).notes).toEqual([]);
  });

  it('derives the USERPINMAC PIN as key half + hmac[i] % 10, and a handset check accepts it', () => {
    const b = buildBootstrapPush(BODY, { sec: 'USERPINMAC', pin: '24680' });
    const mac = fromHex(b.mac)!;
    const tail = Array.from(mac.subarray(0, 5), (x) => x % 10).join('');
    expect(b.userPin).toBe(`24680${tail}`);
    expect(userPinMacPin('24680', mac)).toBe(b.userPin);
    expect(verifyBootstrapMac(BODY, b.mac, { sec: 'USERPINMAC', pin: b.userPin! }).ok).toBe(true);
    const wrong = b.userPin!.slice(0, 9) + String((Number(b.userPin![9]) + 1) % 10);
    expect(verifyBootstrapMac(BODY, b.mac, { sec: 'USERPINMAC', pin: wrong }).ok).toBe(false);
  });

  it('verifies a NETWPIN MAC only with the right IMSI', () => {
    const b = buildBootstrapPush(BODY, { sec: 'NETWPIN', imsi: '001010123456789' });
    expect(verifyBootstrapMac(BODY, b.mac, { sec: 'NETWPIN', imsi: '001010123456789' }).ok).toBe(true);
    expect(verifyBootstrapMac(BODY, b.mac, { sec: 'NETWPIN', imsi: '001010123456788' }).ok).toBe(false);
    expect(verifyBootstrapMac(BODY, b.mac, { sec: 'USERNETWPIN', imsi: '001010123456789', pin: '1234', userNetwPinKey: 'imsi:pin' }).ok).toBe(false);
  });

  it('decodes short-length content types, text headers and reports broken pushes as values', () => {
    const plain = encodeWspPush({ contentType: 0x44, body: new Uint8Array([9]) });
    expect(toHex(plain)).toBe('010601C409');
    const d = decodeWspPush(plain);
    expect(d.ok && d.value.contentType).toBe('application/vnd.syncml.notification');
    const text = new Uint8Array(Buffer.concat([Buffer.from('0106', 'hex'), Buffer.from([13]), Buffer.from('text/plain\0', 'latin1'), Buffer.from('AF87', 'hex'), Buffer.from('hi')]));
    const t = decodeWspPush(text);
    expect(t.ok && t.value.contentType).toBe('text/plain');
    expect(t.ok && t.value.appId).toBe('x-wap-application:syncml.dm');
    const broken = decodeWspPush(fromHex('0106 05 1F2DC29180')!);
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.error.code).toBe('truncated');
    const notPush = decodeWspPush(fromHex('0104')!);
    expect(notPush.ok).toBe(false);
  });
});
