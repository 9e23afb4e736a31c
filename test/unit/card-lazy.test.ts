/**
 * The pcsclite addon loads only when a command talks to a reader: `dmw codec`, `dmw bootstrap`, and
 * importing the card CLI module itself never map pcsclite.node into the process. Checked in a
 * fresh Node process through the list of loaded shared objects; the positive control proves the
 * check can see the addon when it is loaded.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/tools.js';

function probe(script: string): { pcsc: boolean; out: string } {
  const code = `
    const { main } = await import(${JSON.stringify(join(REPO_ROOT, 'main/cli/main.ts'))});
    const out = [];
    const w = process.stdout.write.bind(process.stdout);
    process.stdout.write = (c) => (out.push(String(c)), true);
    ${script}
    process.stdout.write = w;
    const so = process.report.getReport().sharedObjects;
    console.log(JSON.stringify({ pcsc: so.some((s) => /pcsclite\\.node$/.test(s)), out: out.join('').slice(0, 200) }));
  `;
  const r = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(r.trim().split('\n').pop()!) as { pcsc: boolean; out: string };
}

describe('native addon loading', () => {
  it('dmw codec, dmw bootstrap and the card CLI module do not load pcsclite', () => {
    const r = probe(`
      await main(['codec', 'decode', 'test/fixtures/corpus/client-pkg1.xml']);
      await main(['bootstrap', 'build', 'test/fixtures/bootstrap/lab-profile.json', '--xml']);
      await import(${JSON.stringify(join(REPO_ROOT, 'main/cli/card.ts'))});
      await import(${JSON.stringify(join(REPO_ROOT, 'native/pcsc/virtual/index.ts'))});
    `);
    expect(r.out).toContain('<SyncML');
    expect(r.pcsc).toBe(false);
  }, 30_000);

  it('positive control: loading the binding maps pcsclite.node', () => {
    const r = probe(`
      const { loadBinding } = await import(${JSON.stringify(join(REPO_ROOT, 'native/pcsc/pcsc.ts'))});
      loadBinding();
    `);
    expect(r.pcsc).toBe(true);
  }, 30_000);
});
