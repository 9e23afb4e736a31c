/**
 * The built-in lab CA: a self-signed root kept in the data folder, issuing the server's TLS
 * certificate and device (client) certificates for mutual authentication. ECDSA P-256 / SHA-256 on
 * WebCrypto through @peculiar/x509: no openssl.
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its algorithm providers through tsyringe
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 3600_000;

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

/** `CN=...` with characters that would break the DN string escaped. */
function cn(value: string): string {
  return `CN=${value.replace(/([,+"\\<>;=])/g, '\\$1')}`;
}

function serial(): string {
  // Positive 16-byte serial.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/**
 * PEM text that ends with a line break. @peculiar/x509 returns PEM without the final newline, so two
 * of them concatenated gave `-----END CERTIFICATE----------BEGIN PRIVATE KEY-----`, which openssl
 * refuses; every PEM we hand out or store goes through here.
 */
export function pemText(pem: string): string {
  const t = pem.replace(/\r\n/g, '\n').trimEnd();
  return `${t}\n`;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return pemText(x509.PemConverter.encode(der, 'PRIVATE KEY'));
}

export class LabCa {
  private constructor(
    readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
    readonly dir: string,
  ) {}

  get certPem(): string {
    return pemText(this.cert.toString('pem'));
  }

  /** Loads the CA from `dir` (ca.crt.pem / ca.key.pem), creating it on first use. */
  static async loadOrCreate(dir: string, name = 'DM Workbench Lab CA'): Promise<LabCa> {
    const certFile = path.join(dir, 'ca.crt.pem');
    const keyFile = path.join(dir, 'ca.key.pem');
    if (existsSync(certFile) && existsSync(keyFile)) {
      const cert = new x509.X509Certificate(readFileSync(certFile, 'utf8'));
      const der = x509.PemConverter.decodeFirst(readFileSync(keyFile, 'utf8'));
      const key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
      return new LabCa(cert, key as CryptoKey, dir);
    }
    mkdirSync(dir, { recursive: true });
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: cn(name),
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 10 * 365 * DAY),
      signingAlgorithm: SIGN,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    writeFileSync(keyFile, await exportKey(keys.privateKey), { mode: 0o600 });
    writeFileSync(certFile, pemText(cert.toString('pem')));
    return new LabCa(cert, keys.privateKey, dir);
  }

  /** A TLS server certificate for these host names / IP addresses. */
  async issueServer(hosts: string[], days = 825): Promise<IssuedCert> {
    const names = hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }));
    return this.issue(hosts[0] ?? 'localhost', days, [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names, false),
    ]);
  }

  /** A client certificate whose CN is the device's DevId (the server checks they match). */
  async issueDevice(devId: string, days = 825): Promise<IssuedCert> {
    return this.issue(devId, days, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false)]);
  }

  private async issue(commonName: string, days: number, extra: x509.Extension[]): Promise<IssuedCert> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: cn(commonName),
      issuer: this.cert.subject,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + days * DAY),
      signingAlgorithm: SIGN,
      publicKey: keys.publicKey,
      signingKey: this.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert),
        ...extra,
      ],
    });
    return { certPem: pemText(cert.toString('pem')), keyPem: await exportKey(keys.privateKey) };
  }

  /** The server certificate kept in the CA folder, issued on first use (and again if the hosts change). */
  async serverCertificate(hosts: string[]): Promise<IssuedCert> {
    const certFile = path.join(this.dir, 'server.crt.pem');
    const keyFile = path.join(this.dir, 'server.key.pem');
    const hostsFile = path.join(this.dir, 'server.hosts');
    const want = hosts.join(',');
    if (existsSync(certFile) && existsSync(keyFile) && existsSync(hostsFile) && readFileSync(hostsFile, 'utf8') === want) {
      return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
    }
    const issued = await this.issueServer(hosts);
    writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
    writeFileSync(certFile, issued.certPem);
    writeFileSync(hostsFile, want);
    return issued;
  }
}
