/**
 * `dmw session find --data DIR 'FILTER' [--json]` (issue 18 point 2): exact JSON, the line format,
 * exit 0 / 2, the caret under a bad filter, a folder without data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../main/cli/main.js';
import { ServerStore } from '../../main/store/server-store.js';
import { logSession } from '../helpers/filter-fixture.js';
import { REPO_ROOT } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'main/cli/bin.mjs');

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

function folder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-find-'));
  const s = ServerStore.open(dir);
  logSession(s, { devId: 'IMEI:1', getStatus: 404, greeting: 'hello lab' });
  logSession(s, { devId: 'IMEI:2', greeting: 'bonjour tout le monde' });
  s.close();
  return dir;
}

describe('dmw session find', () => {
  const dir = folder();

  it('--json prints exactly [{session, msg, cmdId, cmd, uri, status}] for each matching command', async () => {
    const r = await dmw(['session', 'find', '--data', dir, 'cmd == "Get" && status >= 400', '--json']);
    expect(r).toEqual({ code: 0, err: '', out: '[{"session":1,"msg":2,"cmdId":"3","cmd":"Get","uri":"./DevInfo/Ext","status":404}]\n' });
    const all = JSON.parse((await dmw(['session', 'find', '--data', dir, 'cmd == Get', '--json'])).out) as unknown[];
    expect(all).toEqual([
      { session: 1, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 },
      { session: 2, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 200 },
    ]);
    expect((await dmw(['session', 'find', '--data', dir, 'dev == "IMEI:9"', '--json'])).out).toBe('[]\n');
  });

  it('searches content across sessions through the index (data contains), and by message fields', async () => {
    expect(JSON.parse((await dmw(['session', 'find', '--data', dir, 'data contains "tout le"', '--json'])).out)).toEqual([
      { session: 2, msg: 2, cmdId: '4', cmd: 'Replace', uri: './Vendor/Lab/Greeting', status: 200 },
    ]);
    expect(JSON.parse((await dmw(['session', 'find', '--data', dir, 'dir == in && uri == "./Vendor/Lab/Greeting"', '--json'])).out)).toEqual([
      { session: 1, msg: 3, cmdId: '3', cmd: 'Status', uri: './Vendor/Lab/Greeting', status: 200 },
      { session: 2, msg: 3, cmdId: '3', cmd: 'Status', uri: './Vendor/Lab/Greeting', status: 200 },
    ]);
  });

  it('prints one line per command: session, message, CmdID, command, URI, status', async () => {
    const r = await dmw(['session', 'find', '--data', dir, 'session == 1 && cmd == Replace']);
    expect(r.code).toBe(0);
    expect(r.out).toBe([
      'SESSION  MSG  CMDID  COMMAND  URI                    STATUS',
      '1        #1   2      Replace  ./DevInfo/Mod          -',
      '1        #2   4      Replace  ./Vendor/Lab/Greeting  200',
      '',
    ].join('\n'));
  });

  it('a bad filter exits 2 with the filter and a caret under the character', async () => {
    const r = await dmw(['session', 'find', '--data', dir, 'cmd == Get && uir == 3']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe([
      'dmw: bad filter at character 14: unknown field "uir"; did you mean "uri"?',
      '  cmd == Get && uir == 3',
      '                ^^^',
      '',
    ].join('\n'));
    const t = await dmw(['session', 'find', '--data', dir, 'size contains 3', '--json']);
    expect(t.code).toBe(2);
    expect(t.err).toContain('type mismatch');
    expect(t.err.split('\n').slice(1, 3)).toEqual(['  size contains 3', '       ^^^^^^^^']);
  });

  it('a folder without DM Workbench data, or no filter, exits 2', async () => {
    const r = await dmw(['session', 'find', '--data', path.join(dir, 'nothing-here'), 'cmd == Get']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no DM Workbench data here');
    expect((await dmw(['session', 'find', '--data', dir])).code).toBe(2);
  });

  it('as a real process: exit codes 0 and 2, the caret on stderr', () => {
    const ok = spawnSync(process.execPath, [BIN, 'session', 'find', '--data', dir, 'status == 404', '--json'], { timeout: 30_000 });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout.toString())).toEqual([
      { session: 1, msg: 2, cmdId: '3', cmd: 'Get', uri: './DevInfo/Ext', status: 404 },
      { session: 1, msg: 3, cmdId: '2', cmd: 'Status', uri: './DevInfo/Ext', status: 404 },
    ]);
    const bad = spawnSync(process.execPath, [BIN, 'session', 'find', '--data', dir, '(cmd == Get'], { timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.toString()).toBe('dmw: bad filter at character 0: unbalanced parenthesis: this "(" is never closed\n  (cmd == Get\n  ^\n');
  });
});
