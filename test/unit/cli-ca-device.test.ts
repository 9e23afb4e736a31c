/**
 * `dmw ca device` makes the same DevId check as the UI's certificate form (issue 18 point 6, bug 1):
 * a CN such as "hello" matches no device, so it is refused with the reason unless --any-devid says
 * the device really reports a DevId of no standard form (libdmclient's test client: "DMCtest").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../main/cli/bin.mjs');
const data = mkdtempSync(path.join(os.tmpdir(), 'dmw-ca-device-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));

function dmw(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'ca', 'device', ...args, '--data', data], { timeout: 60_000 });
  return { status: r.status, stderr: r.stderr.toString('utf8') };
}

describe('dmw ca device DEVID', () => {
  it('refuses a DevId of no standard form with the reason, writing nothing; --any-devid issues it', () => {
    const refused = dmw('hello');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/"hello" is not a DevId: expected IMEI:/);
    expect(existsSync(path.join(data, 'devices', 'hello.crt.pem'))).toBe(false);
    expect(dmw('IMEI:356938035643800').stderr).toMatch(/check digit/);
    expect(dmw('hello', '--any-devid').status).toBe(0);
    expect(existsSync(path.join(data, 'devices', 'hello.crt.pem'))).toBe(true);
  }, 120_000);

  it('issues a certificate for an IMEI with its check digit', () => {
    expect(dmw('IMEI:356938035643809').status).toBe(0);
    expect(existsSync(path.join(data, 'devices', 'IMEI_356938035643809.crt.pem'))).toBe(true);
  }, 60_000);
});
