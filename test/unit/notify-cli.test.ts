/**
 * `dmw notify` and the bad-input side of `dmw push`, run as a user runs them: a real process, real
 * files, exit codes and stderr. (The push itself runs against the simulated modem in
 * test/integration/serial-socat.test.ts.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, VECTORS_DIR } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');
const tmp = mkdtempSync(path.join(tmpdir(), 'dmw-notify-'));

function dmw(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

const md5 = (d: Uint8Array | string) => createHash('md5').update(d).digest();

/** Many bad-input cases at once: each is its own process, so they need not wait for one another. */
function dmwAll(cases: string[][]): Promise<{ code: number | null; err: string }[]> {
  return Promise.all(
    cases.map(
      (args) =>
        new Promise<{ code: number | null; err: string }>((resolve) => {
          const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          p.stderr.on('data', (d: Buffer) => (err += d.toString()));
          p.on('close', (code) => resolve({ code, err }));
        }),
    ),
  );
}

describe('dmw notify', () => {
  const pkg = path.join(tmp, 'pkg0.bin');

  it('builds package #0 with the fields and digest asked for', () => {
    const r = dmw(['notify', 'build', '--server-id', 'com.mgmtsrv.manage', '--secret', 'srvpw', '--nonce', 'N0nce', '--session', '1234', '--ui', 'background', '--initiator', 'user', '-o', pkg]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const b = readFileSync(pkg);
    // The notes' spec example trigger, after the 16-byte digest.
    expect(b.subarray(16).toString('hex')).toBe(`02d0000000123412${Buffer.from('com.mgmtsrv.manage').toString('hex')}`);
    const user = md5('com.mgmtsrv.manage:srvpw').toString('base64');
    const expected = md5(Buffer.from(`${user}:N0nce:${md5(b.subarray(16)).toString('base64')}`));
    expect(b.subarray(0, 16).equals(expected)).toBe(true);
  });

  it('parses it back as JSON with digestOk', () => {
    const r = dmw(['notify', 'parse', pkg, '--secret', 'srvpw', '--nonce', 'N0nce', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ version: 11, uiMode: 'background', initiator: 'user', sessionId: '1234', serverId: 'com.mgmtsrv.manage', digestOk: true });
  });

  it('parses without a secret (no digestOk) in text form', () => {
    const r = dmw(['notify', 'parse', pkg]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('sessionId:  1234 (SyncHdr SessionID)');
    expect(r.out).not.toContain('digestOk');
  });

  it('reports a digest mismatch with the inputs, exit 1', () => {
    const r = dmw(['notify', 'parse', pkg, '--secret', 'wrong', '--nonce', 'N0nce', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.digestOk).toBe(false);
    expect(j.digestCheck.inputs).toMatchObject({ serverId: 'com.mgmtsrv.manage', nonceText: 'N0nce', userDigestB64: md5('com.mgmtsrv.manage:wrong').toString('base64') });
    expect(r.err).toMatch(/^dmw: .*pkg0\.bin: digest mismatch: computed [0-9A-F]{32}, package has [0-9A-F]{32}\n/);
    expect(r.err).toContain('server id "com.mgmtsrv.manage"');
    expect(r.err).toContain('nonce "N0nce" (hex 4E306E6365)');
  });

  it('takes hex and base64 nonces, and says so when the digest fits a resync nonce', () => {
    const p2 = path.join(tmp, 'resync.bin');
    expect(dmw(['notify', 'build', '--server-id', 's', '--secret', 'pw', '--nonce', 'AAAAAA==', '--nonce-encoding', 'base64', '--session', 'ff', '-o', p2]).code).toBe(0);
    expect(dmw(['notify', 'parse', p2, '--secret', 'pw', '--nonce', '00000000', '--nonce-encoding', 'hex']).code).toBe(0);
    const r = dmw(['notify', 'parse', p2, '--secret', 'pw', '--nonce', 'fresh']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('matches the android resync nonce');
  });

  it('refuses bad input with exit 2 and one line', async () => {
    const cases: [string[], RegExp][] = [
      [['notify', 'build', '--server-id', 's', '--secret', 'x', '--nonce', 'n', '--session', '12345', '-o', '-'], /--session: "12345" is not 1 to 4 hex digits/],
      [['notify', 'build', '--server-id', 's', '--secret', 'x', '--nonce', 'n', '--session', '1', '--ui', 'loud'], /--ui must be one of/],
      [['notify', 'build', '--server-id', 's', '--secret', 'x', '--nonce', 'n', '--session', '1', '--initiator', 'me'], /--initiator must be user or server/],
      [['notify', 'build', '--secret', 'x', '--nonce', 'n', '--session', '1'], /--server-id is required/],
      [['notify', 'build', '--server-id', 'x'.repeat(256), '--secret', 'x', '--nonce', 'n', '--session', '1'], /--server-id: is 256 bytes/],
      [['notify', 'parse', pkg, '--secret', 'x'], /--secret and --nonce go together/],
      [['notify', 'parse', path.join(tmp, 'missing.bin')], /missing\.bin: no such file/],
    ];
    const results = await dmwAll(cases.map(([a]) => a));
    cases.forEach(([args, msg], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.startsWith('dmw: ')).toBe(true);
    });
    const short = path.join(tmp, 'short.bin');
    writeFileSync(short, Buffer.alloc(20));
    const s = dmw(['notify', 'parse', short]);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/short\.bin: package #0 is 20 bytes, the fixed part alone is 24 at byte 20/);
  });
});

describe('dmw push: bad input is refused before the port is touched', () => {
  const pkg = path.join(tmp, 'p.bin');
  const wbxml = path.join(VECTORS_DIR, 'testadd.wbxml');
  const noPort = path.join(tmp, 'no-such-port');

  it('checks the number, the package, SEC, IMSI and PIN first (exit 2)', async () => {
    expect(dmw(['notify', 'build', '--server-id', 's', '--secret', 'x', '--nonce', 'n', '--session', '1', '-o', pkg]).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [['push', 'notification', '--port', noPort, '--to', '12ab', pkg], /--to: "12ab" is not a phone number/],
      [['push', 'notification', '--port', noPort, '--to', '+4917', wbxml], /does not look like a package #0 \(version \d+ is not 11.*--force sends it anyway/],
      [['push', 'notification', '--to', '+4917', pkg], /--port is required/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'SOMEPIN', wbxml], /--sec must be one of NETWPIN, USERPIN, USERNETWPIN, USERPINMAC/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'NETWPIN', '--imsi', '0010101234567890', wbxml], /--imsi: "0010101234567890" has 16 digits; an IMSI has 6 to 15/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'NETWPIN', '--imsi', '00101012345678x', wbxml], /--imsi: .* has characters other than digits/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'USERPIN', '--pin', '12', wbxml], /--pin: has 2 digits; use 4 to 16/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'USERPIN', '--pin', '12a45', wbxml], /--pin: must be digits only/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'USERPIN', wbxml], /--pin is required for --sec USERPIN/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'USERPINMAC', '--pin', '1234', wbxml], /USERPINMAC key half has 4 digits/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'USERNETWPIN', '--imsi', '001010123456789', '--pin', '1234', '--usernetwpin-key', 'pin+imsi', wbxml], /--usernetwpin-key must be imsi\+pin or imsi:pin/],
      [['push', 'bootstrap', '--port', noPort, '--to', '+4917', '--sec', 'NETWPIN', '--imsi', '001010123456789', pkg], /not WBXML/],
    ];
    const results = await dmwAll(cases.map(([a]) => a));
    cases.forEach(([args, msg], i) => {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(msg);
      expect(r.err.split('\n')[0]!.startsWith('dmw: ')).toBe(true);
    });
  });

  it('names a port that does not exist (exit 2)', () => {
    const r = dmw(['push', 'notification', '--port', noPort, '--to', '+4917', pkg]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`dmw: ${noPort}: no such port\n`);
  });
});
