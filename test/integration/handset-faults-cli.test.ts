/**
 * `--fault` on `dmw sim` and `dmw handset`: the catalogue on request, unknown names refused (exit 2,
 * naming the valid ones), and faulty handsets against a `dmw server` child process whose session
 * log `dmw session check` then judges.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { FAULT_NAMES } from '../../main/client/index.js';
import { dmw as dmwSync, dmwAsync as dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp, startServer } = dmwLab('dmw-faults-cli-');

describe('dmw sim|handset --fault', () => {
  it('--fault list and --help show every fault with its clause and judge rules', () => {
    for (const cmd of ['sim', 'handset']) {
      const list = dmwSync([cmd, '--fault', 'list']);
      expect(list.code).toBe(0);
      for (const name of FAULT_NAMES) expect(list.out).toMatch(new RegExp(`^${name} +\\S.*\\[OMA-TS-DM_\\w+-V1_2 §.*; judge: .+\\]$`, 'm'));
      const help = dmwSync([cmd, '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^--fault +make /m);
      expect(help.out).toContain('no-213 ');
    }
  });

  it('an unknown fault exits 2 naming it and the valid ones, before anything runs', () => {
    for (const cmd of ['sim', 'handset']) {
      const count = cmd === 'sim' ? ['--count', '1'] : [];
      const r = dmwSync([cmd, '--server', 'http://127.0.0.1:9/dm', ...count, '--fault', 'no-213', '--fault', 'bogus']);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain('--fault: unknown fault "bogus"; valid faults: ignore-atomic-rollback, ');
      expect(r.err).toContain('final-with-1222');
    }
  });

  it('dmw sim --fault A --fault B: the server logs the faulty session and dmw session check reports both faults', async () => {
    const data = tmp();
    const devId = 'IMEI:490154203237518';
    const phone = path.join(tmp(), 'phone.json');
    expect(dmwSync(['tree', 'init', '-o', phone, '--account', 'dmw-lab:lab:pw', '--devid', devId]).code).toBe(0);
    const srv = await startServer(data, ['--client-auth', 'basic', '--client-cred', 'lab:pw', '--server-id', 'dmw-lab']);
    expect((await dmw(['job', 'add', '--data', data, '--device', devId, 'get', './DevInfo/Mod'])).code).toBe(0);
    const r = await dmw(['sim', '--server', srv.dmUrl, '--count', '1', '--auth', 'basic', '--client-cred', 'lab:pw', '--tree', phone, '--fault', 'duplicate-cmdid', '--fault', 'no-hdr-status', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    srv.child.kill('SIGTERM');
    await srv.exited;
    const sessions = JSON.parse((await dmw(['session', 'list', '--data', data, '--json'])).out) as { id: number }[];
    expect(sessions).toHaveLength(1);
    const check = await dmw(['session', 'check', String(sessions[0]!.id), '--data', data, '--json']);
    expect(check.code).toBe(1);
    const rules = (JSON.parse(check.out) as { findings: { rule: string }[] }).findings.map((f) => f.rule);
    expect(rules).toEqual(expect.arrayContaining(['cmd.cmdid-unique', 'status.hdr-missing']));
  });
});
