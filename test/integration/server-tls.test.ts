/**
 * HTTPS with the built-in lab CA: the server certificate it issues verifies against the CA, device
 * certificates it issues open mutual-TLS sessions, and certificates that are missing, foreign or
 * for another device are refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LabCa } from '../../main/server/ca.js';
import { DmServer, type DmServerOptions } from '../../main/server/server.js';
import { TestClient } from '../helpers/dm-test-client.js';
import { sync } from '../helpers/sync-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-tls-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function start(o: Partial<DmServerOptions>): Promise<DmServer> {
  const server = await DmServer.start({ dataDir: tmp(), port: 0, host: '127.0.0.1', ...o });
  cleanups.push(() => server.close());
  return server;
}

describe('HTTPS and the lab CA', () => {
  it('issues a CA, a server certificate for the host names and a device certificate with the DevId as CN', async () => {
    const ca = await LabCa.loadOrCreate(path.join(tmp(), 'ca'));
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    const srv = await ca.issueServer(['localhost', '127.0.0.1']);
    const srvCert = new X509Certificate(srv.certPem);
    expect(srvCert.verify(caCert.publicKey)).toBe(true);
    expect(srvCert.checkHost('localhost')).toBe('localhost');
    expect(srvCert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const dev = await ca.issueDevice('IMEI:35-209900-176148-1');
    const devCert = new X509Certificate(dev.certPem);
    expect(devCert.subject).toBe('CN=IMEI:35-209900-176148-1');
    expect(devCert.verify(caCert.publicKey)).toBe(true);
    expect(devCert.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    // Loading again gives the same CA.
    const again = await LabCa.loadOrCreate(ca.dir);
    expect(again.certPem).toBe(ca.certPem);
  });

  it('runs a session over HTTPS with mutual authentication, XML and WBXML', async () => {
    const server = await start({ tls: { clientCerts: 'require' }, requireClientCert: true });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dm$/);
    const dev = await server.ca!.issueDevice('IMEI:TLS');
    for (const encoding of ['xml', 'wbxml'] as const) {
      const { job } = await server.addJob('IMEI:TLS', { kind: 'get', uri: './DevInfo/Mod' });
      const client = new TestClient({ url: server.url, devId: 'IMEI:TLS', encoding, tls: { ca: server.ca!.certPem, cert: dev.certPem, key: dev.keyPem } });
      const r = await client.runSession();
      expect(r.error).toBeUndefined();
      expect(r.completed).toBe(true);
      expect(r.exchanges[1]!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dm\/s\/\d+-[0-9a-f]+$/); // RespURI pins the session
      expect(sync(server.store).job(job.id)).toMatchObject({ status: 'done', results: [{ data: 'TC-1' }] });
    }
  });

  it('refuses a client without a certificate, or with one from another CA, at the TLS handshake', async () => {
    const server = await start({ tls: { clientCerts: 'require' } });
    const noCert = new TestClient({ url: server.url, devId: 'IMEI:NC', tls: { ca: server.ca!.certPem } });
    await expect(noCert.runSession()).rejects.toThrow();
    const other = await LabCa.loadOrCreate(path.join(tmp(), 'other-ca'));
    const foreign = await other.issueDevice('IMEI:NC');
    const foreignClient = new TestClient({ url: server.url, devId: 'IMEI:NC', tls: { ca: server.ca!.certPem, cert: foreign.certPem, key: foreign.keyPem } });
    await expect(foreignClient.runSession()).rejects.toThrow();
    expect(sync(server.store).sessions()).toEqual([]);
  });

  it('with optional client certificates, a device certificate must still name the device when required', async () => {
    const server = await start({ tls: { clientCerts: 'optional' }, requireClientCert: true });
    const otherDev = await server.ca!.issueDevice('IMEI:SOMEONE-ELSE');
    const r = await new TestClient({ url: server.url, devId: 'IMEI:ME', tls: { ca: server.ca!.certPem, cert: otherDev.certPem, key: otherDev.keyPem } }).runSession();
    expect(r.headerCodes).toEqual([403]);
    const none = await new TestClient({ url: server.url, devId: 'IMEI:ME', tls: { ca: server.ca!.certPem } }).runSession();
    expect(none.headerCodes).toEqual([403]);
    expect(sync(server.store).sessions().map((s) => s.reason)).toEqual(['no client certificate', 'client certificate is for "IMEI:SOMEONE-ELSE", not "IMEI:ME"']);
  });

  it('plain server authentication over HTTPS without client certificates, with MD5 client auth', async () => {
    const server = await start({ tls: { clientCerts: 'optional' }, clientAuth: 'md5', defaultClientCred: { name: 'lab', secret: 'pw' } });
    const { job } = await server.addJob('IMEI:PLAIN', { kind: 'replace', uri: './Vendor/A', value: 'B' });
    const r = await new TestClient({ url: server.url, devId: 'IMEI:PLAIN', auth: { type: 'md5', name: 'lab', secret: 'pw' }, tls: { ca: server.ca!.certPem }, tree: { './Vendor/A': { format: 'chr', data: '' } } }).runSession();
    expect(r.completed).toBe(true);
    expect(sync(server.store).job(job.id)!.status).toBe('done');
  });
});
