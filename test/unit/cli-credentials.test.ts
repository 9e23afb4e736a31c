/**
 * Secrets off the command line: `--client-cred` / `--server-cred` of `dmw server`, `dmw sim` and
 * `dmw handset` also as a file (`--client-cred-file FILE`, one line NAME:SECRET; a warning when other
 * users may read it) or from the environment (DMW_CLIENT_CRED, DMW_SERVER_CRED), so that no secret
 * shows in `ps` or /proc/PID/cmdline.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readCredential, readSecretFile } from '../../main/cli/credential-flags.js';
import { credentials } from '../../main/cli/handset-args.js';
import { dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp, startServer } = dmwLab('dmw-cred-');

function secretFile(text: string, mode = 0o600): string {
  const f = path.join(tmp(), 'cred');
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}

describe('readCredential', () => {
  it('takes the flag, else its file form, else the environment; the flag and the file together are an error', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const f = secretFile('lab:from-file\n');
    expect(readCredential({ 'client-cred': 'lab:inline' }, 'client-cred', { DMW_CLIENT_CRED: 'lab:env' }, warn)).toEqual({ name: 'lab', secret: 'inline' });
    expect(readCredential({ 'client-cred-file': f }, 'client-cred', { DMW_CLIENT_CRED: 'lab:env' }, warn)).toEqual({ name: 'lab', secret: 'from-file' });
    expect(readCredential({}, 'client-cred', { DMW_CLIENT_CRED: 'lab:env:with:colons' }, warn)).toEqual({ name: 'lab', secret: 'env:with:colons' });
    expect(readCredential({}, 'server-cred', { DMW_SERVER_CRED: 'dmw:srv' }, warn)).toEqual({ name: 'dmw', secret: 'srv' });
    expect(readCredential({}, 'client-cred', { DMW_SERVER_CRED: 'dmw:srv', DMW_CLIENT_CRED: '' }, warn)).toBeUndefined();
    expect(() => readCredential({ 'client-cred': 'a:b', 'client-cred-file': f }, 'client-cred', {}, warn)).toThrow('give --client-cred or --client-cred-file, not both');
    expect(warnings).toEqual([]);
  });

  it('names where a bad value came from', () => {
    const warn = () => undefined;
    expect(() => readCredential({ 'server-cred': 'nocolon' }, 'server-cred', {}, warn)).toThrow('--server-cred must be NAME:SECRET');
    const bad = secretFile(':secret\n');
    expect(() => readCredential({ 'client-cred-file': bad }, 'client-cred', {}, warn)).toThrow(`--client-cred-file ${bad} must be NAME:SECRET`);
    const two = secretFile('a:b\nc:d\n');
    expect(() => readCredential({ 'client-cred-file': two }, 'client-cred', {}, warn)).toThrow(`--client-cred-file ${two}: must hold one line`);
    const missing = path.join(tmp(), 'nope');
    expect(() => readCredential({ 'client-cred-file': missing }, 'client-cred', {}, warn)).toThrow(`--client-cred-file ${missing}: no such file`);
    expect(() => readCredential({}, 'client-cred', { DMW_CLIENT_CRED: 'nocolon' }, warn)).toThrow('DMW_CLIENT_CRED must be NAME:SECRET');
    expect(() => credentials({}, 'md5', {})).toThrow(/--auth md5 needs --client-cred NAME:SECRET \(or --client-cred-file FILE, or \$DMW_CLIENT_CRED\)/);
  });

  it.skipIf(process.platform === 'win32')('warns (and still reads) when other users can read the file', () => {
    const warnings: string[] = [];
    const f = secretFile('lab:pw\n', 0o644);
    expect(readCredential({ 'client-cred-file': f }, 'client-cred', {}, (m) => warnings.push(m))).toEqual({ name: 'lab', secret: 'pw' });
    expect(warnings).toEqual([`--client-cred-file ${f} can be read by other users (mode 0644); chmod 600 ${f}`]);
    const g = secretFile('token-0123456789abcdef\n', 0o640);
    const w2: string[] = [];
    expect(readSecretFile('--api-token-file', g, (m) => w2.push(m))).toBe('token-0123456789abcdef');
    expect(w2[0]).toMatch(/mode 0640/);
  });
});

describe('dmw server, dmw sim: credentials from files and the environment', () => {
  it('a session authenticates both ways with every secret given as a file or in the environment, and no secret is on a command line', async () => {
    const data = tmp();
    const serverCredFile = secretFile('dmw:srv-secret-7\n');
    // The server's lab default client credential from the environment, its own from a file.
    process.env.DMW_CLIENT_CRED = 'lab:client-secret-3';
    let srv;
    try {
      srv = await startServer(data, ['--client-auth', 'md5', '--server-cred-file', serverCredFile]);
    } finally {
      delete process.env.DMW_CLIENT_CRED;
    }
    expect(srv.output()).toMatch(/server cred dmw/);
    expect(srv.output()).not.toMatch(/warning/);
    const cmdline = `/proc/${srv.child.pid}/cmdline`;
    if (existsSync(cmdline)) expect(readFileSync(cmdline, 'utf8')).not.toMatch(/secret/);

    const clientCredFile = secretFile('lab:client-secret-3\n');
    const files = dmw(['sim', '--server', srv.dmUrl, '--count', '1', '--auth', 'md5', '--client-cred-file', clientCredFile, '--server-cred-file', serverCredFile, '--json']);
    expect(files.err).toBe('');
    expect(JSON.parse(files.out.trim().split('\n').at(-1)!)).toMatchObject({ ok: 1, failed: 0 });
    const env = dmw(['sim', '--server', srv.dmUrl, '--count', '1', '--json'], { DMW_CLIENT_CRED: 'lab:client-secret-3', DMW_SERVER_CRED: 'dmw:srv-secret-7' });
    expect(JSON.parse(env.out.trim().split('\n').at(-1)!)).toMatchObject({ ok: 1, failed: 0 });
    // They are really used: a wrong client secret in the file is refused by the server.
    const wrong = dmw(['sim', '--server', srv.dmUrl, '--count', '1', '--client-cred-file', secretFile('lab:not-it\n'), '--json']);
    expect(JSON.parse(wrong.out.trim().split('\n').at(-1)!)).toMatchObject({ ok: 0, failed: 1 });
  }, 60_000);

  it('bad forms exit 2 with one line naming the flag', () => {
    const both = dmw(['server', '--port', '0', '--client-cred', 'a:b', '--client-cred-file', secretFile('a:b')]);
    expect(both.code).toBe(2);
    expect(both.err).toBe('dmw: give --client-cred or --client-cred-file, not both\n');
    const env = dmw(['sim', '--server', 'http://127.0.0.1:9/dm', '--count', '1'], { DMW_SERVER_CRED: 'nocolon' });
    expect(env.code).toBe(2);
    expect(env.err).toBe('dmw: DMW_SERVER_CRED must be NAME:SECRET\n');
    const missing = dmw(['handset', '--server', 'http://127.0.0.1:9/dm', '--server-cred-file', '/nonexistent/cred']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('dmw: --server-cred-file /nonexistent/cred: no such file\n');
  });
});
