/**
 * `dmw server`'s limits before authentication, as flags: a real server process with
 * --max-preauth-per-address 2 gives a third unauthenticated session from one address HTTP 503,
 * while another address still gets its challenge; a bad value is exit 2.
 */
import { describe, expect, it } from 'vitest';
import { dmw, dmwLab } from '../helpers/dmw-servers.js';
import { package1, post, randomImei } from '../helpers/hostile.js';

const { tmp, startServer } = dmwLab('dmw-cli-preauth-');

describe('dmw server --max-preauth-per-address / --max-preauth-sessions / --preauth-timeout', () => {
  it('caps the sessions that have not authenticated per source address', async () => {
    const srv = await startServer(tmp(), ['--client-auth', 'md5', '--client-cred', 'lab:labpw', '--max-preauth-per-address', '2', '--preauth-timeout', '60']);
    const open = () => package1({ server: srv.dmUrl, devId: randomImei(), final: false });
    const first = await post(srv.dmUrl, open(), { localAddress: '127.0.0.2' });
    const second = await post(srv.dmUrl, open(), { localAddress: '127.0.0.2' });
    // Sessions that are still open (package 1 not final) hold their slots.
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await post(srv.dmUrl, open(), { localAddress: '127.0.0.2' });
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBeDefined();
    // Another address is not held back by this one's sessions.
    expect((await post(srv.dmUrl, open(), { localAddress: '127.0.0.3' })).status).toBe(200);
  });

  it('refuses a value that is not a positive integer (exit 2, one line)', async () => {
    for (const flag of ['--max-preauth-sessions', '--max-preauth-per-address', '--preauth-timeout']) {
      const r = await dmw(['server', '--port', '0', '--data', tmp(), flag, '0']);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`dmw: ${flag} must be a positive integer, got "0"\n`);
    }
  });
});
