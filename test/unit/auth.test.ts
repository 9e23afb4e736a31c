import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { basicCredential, hmacHeader, hmacMac, md5Credential, nonceBytes, parseBasicCredential, parseHmacHeader } from '../../main/protocol/auth.js';

describe('SyncML DM credentials', () => {
  it('matches the DM Security spec MD5 vector (Bruce2 / OhBehave / Nonce)', () => {
    expect(md5Credential('Bruce2', 'OhBehave', new TextEncoder().encode('Nonce'))).toBe('Zz6EivR3yeaaENcRN6lpAQ==');
  });

  it('builds and parses basic credentials (the android-dm12 vectors carry Scts:SampleClient)', () => {
    expect(basicCredential('Scts', 'SampleClient')).toBe('U2N0czpTYW1wbGVDbGllbnQ=');
    expect(parseBasicCredential('U2N0czpTYW1wbGVDbGllbnQ=')).toEqual({ name: 'Scts', password: 'SampleClient' });
    expect(parseBasicCredential('bm9jb2xvbg==')).toBeUndefined();
  });

  it('computes the HMAC over the exact body bytes, as an independent MD5 composition does', () => {
    const body = new Uint8Array([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x6d]);
    const nonce = new Uint8Array([1, 2, 3, 4]);
    const md5b64 = (b: Buffer) => createHash('md5').update(b).digest('base64');
    const expected = md5b64(Buffer.concat([Buffer.from(`${md5b64(Buffer.from('dev:secret'))}:`), Buffer.from(nonce), Buffer.from(`:${md5b64(Buffer.from(body))}`)]));
    expect(hmacMac('dev', 'secret', nonce, body)).toBe(expected);
    const header = hmacHeader('dev', 'secret', nonce, body);
    expect(parseHmacHeader(header)).toEqual({ algorithm: 'MD5', username: 'dev', mac: expected });
    expect(parseHmacHeader('username=dev,mac=abc,algorithm=MD5')).toEqual({ algorithm: 'MD5', username: 'dev', mac: 'abc' });
    expect(parseHmacHeader('algorithm=MD5')).toBeUndefined();
    expect(hmacMac('dev', 'secret', nonce, new Uint8Array([...body, 0]))).not.toBe(expected);
  });

  it('decodes base64 nonces and keeps raw ones raw', () => {
    expect(Array.from(nonceBytes('AAAAAA=='))).toEqual([0, 0, 0, 0]);
    expect(new TextDecoder().decode(nonceBytes('0x00000000'))).toBe('0x00000000');
  });
});
