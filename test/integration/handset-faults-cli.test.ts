/**
 * `--fault` on `dmw sim` and `dmw handset`: the catalogue on request, unknown names refused (exit 2,
 * naming the valid ones), and faulty handsets against a `dmw server` child process whose session
 * log `dmw session check` then judges.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { FAULT_NAMES } from '../../main/client/index.js';
import { BIN, dmw as dmwSync, dmwAsync as dmw, dmwLab } from '../helpers/dmw-servers.js';

const { tmp, startServer, cleanup } = dmwLab('dmw-faults-cli-');

/** The findings' rule ids of the one session in `data` (the server stopped first). */
async function sessionRules(data: string): Promise<string[]> {
  const sessions = JSON.parse((await dmw(['session', 'list', '--data', data, '--json'])).out) as { id: number }[];
  expect(sessions).toHaveLength(1);
  const check = await dmw(['session', 'check', String(sessions[0]!.id), '--data', data, '--json']);
  expect(check.code).toBe(1);
  return (JSON.parse(check.out) as { findings: { rule: string }[] }).findings.map((f) => f.rule);
}

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
    const dm20 = dmwSync(['sim', '--server', 'http://127.0.0.1:9/dm', '--count', '1', '--protocol', '2.0', '--fault', 'no-213']);
    expect(dm20.code).toBe(2);
    expect(dm20.err).toContain('--fault is for DM 1.2 sessions');
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
    expect(await sessionRules(data)).toEqual(expect.arrayContaining(['cmd.cmdid-unique', 'status.hdr-missing']));
  }, 60_000);

  it('dmw handset --fault missing-devinfo --connect: its session is judged pkg1.devinfo', async () => {
    const data = tmp();
    const srv = await startServer(data, ['--client-auth', 'basic', '--client-cred', 'lab:pw']);
    const child = spawn(process.execPath, [BIN, 'handset', '--server', srv.dmUrl, '--auth', 'basic', '--client-cred', 'lab:pw', '--fault', 'missing-devinfo', '--connect', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!/"type":"session"/.test(out)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no session line from dmw handset: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    srv.child.kill('SIGTERM');
    await srv.exited;
    expect(await sessionRules(data)).toContain('pkg1.devinfo');
  }, 60_000);
});
