/**
 * Every `dmw` command and subcommand takes `--help`: exit 0 and a usage line on stdout, never
 * "Unknown option '--help'". The list is not written here: the groups come from main.ts's GROUPS
 * and each group's subcommands from the table it dispatches through (runSubcommand records it), so
 * a new subcommand is walked without editing this test.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GROUPS, main } from '../../main/cli/main.js';
import { SUBCOMMANDS_SEEN, wantsHelp } from '../../main/cli/subcommands.js';
import { REPO_ROOT } from '../helpers/tools.js';

async function dmw(args: string[]) {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

describe('dmw --help everywhere', () => {
  it('every group and every subcommand prints its usage and exits 0 with --help (and -h, and after other arguments)', async () => {
    const failures: string[] = [];
    let walked = 0;
    for (const group of Object.keys(GROUPS)) {
      const g = await dmw([group, '--help']);
      if (g.code !== 0 || !/usage/i.test(g.out)) failures.push(`dmw ${group} --help: exit ${g.code} ${g.err.trim()}`);
      for (const sub of SUBCOMMANDS_SEEN.get(group) ?? []) {
        for (const args of [[group, sub, '--help'], [group, sub, '-h'], [group, sub, 'ARG', '--some-flag', '--help']]) {
          walked++;
          const r = await dmw(args);
          const line = `dmw ${args.join(' ')}`;
          if (r.code !== 0) failures.push(`${line}: exit ${r.code}: ${r.err.trim().split('\n')[0]}`);
          else if (!r.out.startsWith('usage') || !r.out.split('\n').slice(0, 3).some((l) => l.includes(`dmw ${group} ${sub}`))) failures.push(`${line}: no usage line for the subcommand: ${JSON.stringify(r.out.slice(0, 120))}`);
          else if (r.err !== '') failures.push(`${line}: wrote to stderr: ${r.err.trim()}`);
        }
      }
    }
    expect(failures).toEqual([]);
    // The walk found the groups' subcommands (not an empty loop), among them the two of issue 18.
    expect(SUBCOMMANDS_SEEN.get('tree')).toContain('init');
    expect(SUBCOMMANDS_SEEN.get('job')).toContain('add');
    expect(SUBCOMMANDS_SEEN.get('ca')).toEqual(['init', 'device', 'peer']);
    expect(walked).toBeGreaterThan(3 * 30);
  }, 60_000);

  it('the single commands (server, sim, handset) take --help anywhere on the line', async () => {
    for (const group of Object.keys(GROUPS).filter((g) => !SUBCOMMANDS_SEEN.has(g))) {
      const r = await dmw([group, '--port', '1', '--help']);
      expect(r.code, group).toBe(0);
      expect(r.out, group).toMatch(/usage/i);
    }
  });

  it('every job, session and capture subcommand that takes --data DIR names --store URL beside it (issue 16)', async () => {
    let checked = 0;
    for (const group of ['job', 'session', 'capture']) {
      const g = await dmw([group, '--help']);
      expect(g.out, group).toContain('--store URL');
      expect(g.out, group).toContain('DMW_STORE_URL');
      for (const sub of SUBCOMMANDS_SEEN.get(group) ?? []) {
        const r = await dmw([group, sub, '--help']);
        const usage = r.out.split('\n').find((l) => l.includes(`dmw ${group} ${sub}`)) ?? '';
        if (!/--data DIR/.test(usage)) continue;
        checked++;
        expect(usage, `${group} ${sub}`).toContain('--data DIR|--store URL');
      }
    }
    // job add list clear verify resend drop, session list show check export find, capture import.
    expect(checked).toBe(12);
  });

  it('a subcommand help gives its usage line, then the group notes', async () => {
    const r = await dmw(['tree', 'init', '--help']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^usage: dmw tree init /);
    expect(r.out).toContain('dmw tree run');
  });

  it('--help after `--` is a value, not a request for help', () => {
    expect(wantsHelp(['--', '--help'])).toBe(false);
    expect(wantsHelp(['x', '-h'])).toBe(true);
  });

  it('as a process: `dmw tree init --help` and `dmw job add --help` exit 0 with the usage on stdout', () => {
    const bin = path.join(REPO_ROOT, 'main/cli/bin.mjs');
    for (const args of [['tree', 'init', '--help'], ['job', 'add', '--help']]) {
      const r = spawnSync(process.execPath, [bin, ...args], { timeout: 30_000 });
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout.toString('utf8')).toMatch(new RegExp(`^usage: dmw ${args[0]} ${args[1]}`));
      expect(r.stderr.toString('utf8')).toBe('');
    }
  }, 60_000);
});
