/**
 * Issue 18 point 6 (1), (2) and "Save and restart" on the backend side: the device certificate and
 * its key come as two valid PEM files (openssl reads both), a made-up DevId is refused, the Lab CA's
 * existence is announced as soon as it is created, and a restart keeps an ephemeral port.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import { pemText } from '../../main/server/ca.js';

const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('device certificate download', () => {
  it('gives a certificate and a separate key that openssl reads, and says the CA exists', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-devcert-'));
    const b = await Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'none' } });
    const statuses: boolean[] = [];
    b.onEvent((name, p) => { if (name === 'server.status') statuses.push((p as { caExists: boolean }).caExists); });
    expect(b.status().caExists).toBe(false);
    const r = await b.handlers['server.issueDeviceCertificate']({ devId: 'IMEI:356938035643809' });
    expect(statuses).toEqual([true]);
    expect(r.fileName).toBe('IMEI_356938035643809.crt.pem');
    expect(r.keyFileName).toBe('IMEI_356938035643809.key.pem');
    expect(r.certPem).not.toContain('PRIVATE KEY');
    for (const pem of [r.certPem, r.keyPem, r.caPem]) expect(pem.endsWith('-----\n')).toBe(true);
    const cert = path.join(dir, r.fileName);
    const key = path.join(dir, r.keyFileName);
    writeFileSync(cert, r.certPem);
    writeFileSync(key, r.keyPem);
    expect(openssl(['x509', '-noout', '-subject', '-in', cert])).toMatch(/CN\s*=\s*IMEI:356938035643809/);
    openssl(['pkey', '-noout', '-in', key]);
    // The key belongs to the certificate.
    expect(openssl(['pkey', '-pubout', '-in', key])).toBe(openssl(['x509', '-noout', '-pubkey', '-in', cert]));
    // Signed by the lab CA.
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, r.caPem);
    expect(openssl(['verify', '-CAfile', ca, cert])).toContain('OK');
    // Concatenated (as a chain file would be), every block still starts on its own line.
    expect(`${r.certPem}${r.caPem}`).not.toMatch(/-----END CERTIFICATE----------BEGIN/);
    await b.close();
  });

  it('refuses a DevId that no device reports, with the reason', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-devcert-'));
    const b = await Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'none' } });
    await expect(b.handlers['server.issueDeviceCertificate']({ devId: 'hello' })).rejects.toThrow(/DevId: "hello" is not a DevId/);
    await b.close();
  });

  it('pemText ends PEM with exactly one line break', () => {
    expect(pemText('-----END X-----')).toBe('-----END X-----\n');
    expect(pemText('-----END X-----\r\n\n')).toBe('-----END X-----\n');
  });
});

describe('saved settings', () => {
  it('a saved value the checks now refuse costs that value only, not every setting', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-settings-'));
    writeFileSync(path.join(dir, 'workbench.json'), JSON.stringify({ settings: { serverId: 'lab-7', publicUrl: 'dm.lab.example', stepHoldSec: -5 } }));
    const b = await Backend.create({ dataDir: dir, handsets: { ok: false, reason: 'none' } });
    expect(b.status().settings).toMatchObject({ serverId: 'lab-7', publicUrl: null, stepHoldSec: 25 });
    await b.close();
  });
});

describe('Save and restart on an ephemeral port', () => {
  it('keeps the port the server is bound to', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-port-'));
    const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, startServer: true, handsets: { ok: false, reason: 'none' } });
    const before = b.status().port;
    expect(before).toBeGreaterThan(0);
    const after = await b.handlers['server.configure']({ settings: { serverId: 'lab-2' } });
    expect(after.running).toBe(true);
    expect(after.port).toBe(before);
    expect(after.settings.port).toBe(0);
    await b.close();
  });
});
