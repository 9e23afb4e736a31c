/**
 * `dmw server --tls --tls-host NAME` (repeatable): the certificate the lab CA issues for the server
 * names the extra hosts too (a load balancer passing TLS through to several instances presents the
 * instances' certificate under its own name), besides the default names; the certificate the
 * server actually serves is that one.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp, startServer } = dmwLab('dmw-cli-tls-host-');

function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = s.getPeerX509Certificate();
      s.destroy();
      if (cert) resolve(cert);
      else reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

describe('dmw server --tls-host', () => {
  it('puts the extra names into the served certificate, keeping the default ones', async () => {
    const srv = await startServer(tmp(), ['--tls', '--tls-host', 'lab.example', '--tls-host', '10.9.8.7'], 'https');
    const cert = await servedCertificate(srv.port);
    const san = cert.subjectAltName ?? '';
    expect(san).toContain('DNS:lab.example');
    expect(san).toContain('IP Address:10.9.8.7');
    expect(san).toContain('DNS:localhost');
    expect(san).toContain('IP Address:127.0.0.1');
    expect(cert.checkHost('lab.example')).toBe('lab.example');
  });

  it('without --tls-host the certificate does not name it', async () => {
    const srv = await startServer(tmp(), ['--tls'], 'https');
    expect((await servedCertificate(srv.port)).subjectAltName ?? '').not.toContain('lab.example');
  });

  it('refuses --tls-host without --tls, and a name that is not one (exit 2, one line)', async () => {
    const noTls = await dmw(['server', '--port', '0', '--data', tmp(), '--tls-host', 'lab.example']);
    expect(noTls.code).toBe(2);
    expect(noTls.err).toBe('dmw: --tls-host needs --tls\n');
    const bad = await dmw(['server', '--port', '0', '--data', tmp(), '--tls', '--tls-host', 'lab example,x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('dmw: --tls-host must be a DNS name or an IP address, got "lab example,x"\n');
  });
});
