/**
 * The form checks the UI runs as the user types and the contract runs at the boundary (issue 18
 * points 5 and 6): DevIds for certificates, the handset count, the server settings.
 */
import { describe, expect, it } from 'vitest';
import { contract } from '../../main/api/contract.js';
import { parseInput } from '../../main/api/dispatch.js';
import { certificateDevIdProblem, handsetCountProblem, hostProblem, integerProblem, publicUrlProblem, SETTING_RANGES } from '../../main/api/form-rules.js';

describe('certificateDevIdProblem', () => {
  it('accepts the DevId forms devices report', () => {
    for (const ok of ['IMEI:356938035643809', 'MEID:A0000012345678', 'ESN:12AB34CD', 'MAC:00005E0053AF', 'MAC:00:00:5e:00:53:af', 'UUID:123e4567-e89b-12d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174000']) {
      expect(certificateDevIdProblem(ok), ok).toBeNull();
    }
  });
  it('refuses made-up ids with the reason', () => {
    expect(certificateDevIdProblem('hello')).toMatch(/"hello" is not a DevId: expected IMEI:<15 digits>/);
    expect(certificateDevIdProblem('IMEI:35693803564380')).toMatch(/15 digits/);
    expect(certificateDevIdProblem('IMEI:356938035643808')).toMatch(/last digit should be 9/);
    expect(certificateDevIdProblem('imei:356938035643809')).toMatch(/capitals: IMEI:/);
    expect(certificateDevIdProblem('FOO:1')).toMatch(/unknown DevId prefix "FOO:"/);
    expect(certificateDevIdProblem('ESN:12345')).toMatch(/8 hex/);
    expect(certificateDevIdProblem('')).toMatch(/must not be empty/);
    expect(certificateDevIdProblem('IMEI:3569380356438\u202E09')).toMatch(/U\+202E/);
  });
  it('is what the contract answers for server.issueDeviceCertificate', () => {
    const r = parseInput('server.issueDeviceCertificate', { devId: 'hello' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('server.issueDeviceCertificate: devId: "hello" is not a DevId: expected IMEI:<15 digits>, MEID:<14 hex>, ESN:<8 hex>, MAC:<12 hex>, UUID:<8-4-4-4-12 hex>');
  });
});

describe('integers as typed', () => {
  it('says why 2.5, empty, 0 and 101 are not a handset count', () => {
    expect(handsetCountProblem('2.5')).toBe('"2.5" is not a whole number (1 to 100)');
    expect(handsetCountProblem('')).toBe('required: a whole number from 1 to 100');
    expect(handsetCountProblem('0')).toBe('0 is out of range: 1 to 100');
    expect(handsetCountProblem('101')).toBe('101 is out of range: 1 to 100');
    expect(handsetCountProblem(' 3 ')).toBeNull();
  });
  it('refuses a negative step hold in the form and in the contract', () => {
    expect(integerProblem('-5', ...SETTING_RANGES.stepHoldSec)).toBe('-5 is out of range: 1 to 3600');
    const r = contract['server.configure'].input.safeParse({ settings: { stepHoldSec: -5 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('-5 is out of range: 1 to 3600');
    const c = contract['handsets.add'].input.safeParse({ count: 2.5 });
    expect(c.error?.issues[0]?.message).toBe('2.5 is not a whole number (1 to 100)');
  });
});

describe('publicUrlProblem and hostProblem', () => {
  it('accepts empty (derived) and http(s) URLs', () => {
    expect(publicUrlProblem('')).toBeNull();
    expect(publicUrlProblem('https://dm.lab.example:8443/dm')).toBeNull();
    expect(publicUrlProblem('http://192.0.2.1/')).toBeNull();
  });
  it('refuses what is not one, in words', () => {
    expect(publicUrlProblem('dm server')).toBe('a URL has no spaces');
    expect(publicUrlProblem('dm.lab.example')).toMatch(/not a URL: it needs http:\/\/ or https:\/\//);
    expect(publicUrlProblem('ftp://x/')).toBe('the scheme must be http or https, not ftp');
    expect(publicUrlProblem('https://u:p@x/')).toMatch(/no user:password/);
    expect(publicUrlProblem('https://x/#a')).toMatch(/fragment/);
    const r = contract['server.configure'].input.safeParse({ settings: { publicUrl: 'not a url' } });
    expect(r.error?.issues[0]?.message).toBe('a URL has no spaces');
    expect(contract['server.configure'].input.safeParse({ settings: { publicUrl: null } }).success).toBe(true);
  });
  it('checks the listen address', () => {
    for (const ok of ['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'dm-lab.example']) expect(hostProblem(ok), ok).toBeNull();
    expect(hostProblem('')).toMatch(/required/);
    expect(hostProblem('300.1.1.1')).toMatch(/not an IPv4/);
    expect(hostProblem('a b')).toMatch(/not a host name/);
  });
});
