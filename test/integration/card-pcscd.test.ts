/**
 * DM bootstrap cards end to end through the real PC/SC stack: our pcscd (with Debian's vpcd driver)
 * serves "Virtual PCD 00 00", whose card is our virtual UICC; `dmw card ...` talks to it through
 * libpcsclite and the pcsclite addon. opensc-tool is the independent oracle (reader list, ATR, and
 * raw APDUs reading what we wrote).
 *
 * One file on purpose: only one pcscd can run on a machine, and vitest runs files in parallel.
 * vpcd costs ~45 ms per APDU (it sends length and payload in two writes, and delayed ACKs stall the
 * second), so the flashes here are few and small.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError, runningPcscd, startPcscd, type PcscdHarness } from '../../native/pcsc/pcscd-harness.js';
import { blankUicc, loadImageFile, startEmulator, VirtualUicc, VpcdCardClient, type Emulator } from '../../native/pcsc/virtual/index.js';
import { hex } from '../../native/pcsc/apdu.js';
import { PcscMonitor } from '../../native/pcsc/pcsc.js';
import { buildBootstrap } from '../../main/bootstrap/message.js';
import { parseProfile } from '../../main/bootstrap/profile.js';
import { REPO_ROOT, requireTools } from '../helpers/tools.js';

const PROFILE = join(REPO_ROOT, 'test/fixtures/bootstrap/lab-profile.json');
const BIN = join(REPO_ROOT, 'main/cli/bin.mjs');

let enabled = requireTools('card integration (pcscd + vpcd)', 'pcscd', 'opensc-tool');
if (enabled && runningPcscd() !== undefined) {
  const why = `card integration: another pcscd (pid ${runningPcscd()}) is running; stop it to run these tests`;
  if (process.env.CI) throw new Error(why);
  console.warn(`SKIP ${why}`);
  enabled = false;
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** `dmw ...` as a child process, asynchronously: the in-process virtual card must keep answering meanwhile. */
function dmw(args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  if (process.env.DMW_IT_DEBUG) console.log(`${new Date().toISOString()} dmw ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`dmw ${args.join(' ')} timed out\n${out}\n${err}`));
    }, opts.timeoutMs ?? 30_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

function tool(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

let monitor: PcscMonitor | undefined;
/** The monitor's card events, as the app's card view receives them. */
const events: string[] = [];

/** Wait until the first reader shows (or no longer shows) a card: vpcd polls card presence. */
async function waitForCard(present = true, ms = 10_000): Promise<void> {
  const m = monitor!;
  const end = Date.now() + ms;
  while (m.readers()[0]?.present !== present) {
    if (Date.now() > end) throw new Error(`reader never showed card=${present}: ${JSON.stringify(m.readers())}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe.runIf(enabled)('DM bootstrap cards through pcscd + vpcd', () => {
  let pcscd: PcscdHarness;
  let dir: string;
  let emu: Emulator | undefined;
  const stopEmu = async (): Promise<void> => {
    emu?.stop();
    emu = undefined;
    await waitForCard(false);
  };

  let withoutService: Run;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dmw-card-it-'));
    withoutService = await dmw(['card', 'readers']);
    try {
      pcscd = await startPcscd();
    } catch (e) {
      if (e instanceof HarnessError) throw new Error(`cannot start pcscd with vpcd: ${e.message}`);
      throw e;
    }
    monitor = PcscMonitor.open();
    monitor.on('card-inserted', (r, atr) => events.push(`inserted ${r} ${hex(atr)}`));
    monitor.on('card-removed', (r) => events.push(`removed ${r}`));
    await monitor.ready();
  }, 20_000);

  afterAll(async () => {
    await monitor?.close();
    emu?.stop();
    await pcscd?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(runningPcscd()).toBeUndefined();
  });

  it('without pcscd: says so (exit 1), does not hang', () => {
    expect(withoutService.code).toBe(1);
    expect(withoutService.err).toMatch(/^dmw: no PC\/SC service: pcscd is not running/);
  });

  it('without a card: readers are listed (as opensc-tool lists them), read and write say "no card"', async () => {
    const r = await dmw(['card', 'readers']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Virtual PCD 00 00\tno card');
    const o = await tool('opensc-tool', ['-l']);
    expect(o.out).toContain('Virtual PCD 00 00');
    const rd = await dmw(['card', 'read']);
    expect(rd.code).toBe(1);
    expect(rd.err).toMatch(/^dmw: no card in any reader \("Virtual PCD 00 00", "Virtual PCD 00 01"\)\n$/);
    const wr = await dmw(['card', 'write', '--reader', 'Virtual PCD 00 01', PROFILE]);
    expect(wr.code).toBe(2); // a profile is not a bootstrap: bad input, before any card access
    expect(wr.err).toMatch(/lab-profile\.json: not a DM bootstrap message/);
  }, 60_000);

  it('flashes a bootstrap: PIN rules, write, verified read-back, skip when equal, diff', async () => {
    emu = startEmulator({ port: pcscd.port, image: blankUicc({ protocol: 'T=0' }) });
    await waitForCard(true);
    const atr = await tool('opensc-tool', ['-r', '0', '-a']);
    expect(atr.out.replace(/:/g, '').trim().toUpperCase()).toBe(hex(emu.card.atr));
    const ro = await dmw(['card', 'readers']);
    expect(ro.out).toMatch(new RegExp(`Virtual PCD 00 00\\tcard\\t${hex(emu.card.atr)}\\tprotocols T=0`));

    const wbxml = join(dir, 'lab.wbxml');
    expect((await dmw(['bootstrap', 'build', PROFILE, '-o', wbxml])).code).toBe(0);

    const noPin = await dmw(['card', 'write', wbxml, '-q']);
    expect(noPin.code).toBe(1);
    expect(noPin.err).toMatch(/^dmw: creating bootstrap EF 6431 needs a PIN\/ADM \(CREATE FILE 00E0.*-> 6982 .*\); give --pin\n$/);

    const wrong = await dmw(['card', 'write', wbxml, '--pin', '0000', '-q', '--trace']);
    expect(wrong.code).toBe(2);
    expect(wrong.err.split('\n').at(-2)).toBe('dmw: wrong PIN for PIN/key 01: 2 tries left; not retried');
    // The trace shows the VERIFY, never the PIN: the counter query, then one masked attempt.
    expect(wrong.err).toContain('VERIFY > 00200001  < 63C3');
    expect(wrong.err).toContain('VERIFY > 0020000108****************  < 63C2');
    expect(wrong.err).not.toContain('30303030');
    expect(wrong.err.match(/VERIFY > 0020000108/g)).toHaveLength(1);

    const ok = await dmw(['card', 'write', wbxml, '--pin', '1234']);
    expect(ok.code).toBe(0);
    const n = readFileSync(wbxml).length;
    expect(ok.out).toMatch(new RegExp(`written and verified on "Virtual PCD 00 00": ${n} bytes in EF 6431 with ${Math.ceil(n / 255)} UPDATE BINARY`));
    expect(ok.err).toMatch(/write: EF 6431: 255\/\d+ bytes/);
    expect(ok.err).toMatch(/verify: EF 6431 matches/);
    expect(emu.card.image.keys.find((k) => k.ref === 1)!.tries).toBe(3); // the right PIN restored the counter

    // Independent reader: opensc-tool sends raw APDUs and finds the WBXML header in EF 6431.
    const raw = await tool('opensc-tool', ['-r', '0', '-s', '00 A4 04 0C 0C A0 00 00 00 63 50 4B 43 53 2D 31 35', '-s', '00 A4 08 0C 04 7F FF 64 31', '-s', '00 B0 00 00 08']);
    expect(raw.out.replace(/\s+/g, ' ')).toMatch(/02 A4 01 6A 00 6D 6C 71/);

    const same = await dmw(['card', 'write', wbxml, '--pin', '1234', '-q']);
    expect(same.code).toBe(0);
    expect(same.out).toMatch(/already holds this bootstrap .* nothing written/);

    const read = await dmw(['card', 'read', '--diff', PROFILE]);
    expect(read.code).toBe(0);
    expect(read.out).toContain('<LocURI>./DMAcc/ExampleDM/AppAddr/1/Addr</LocURI>');
    expect(read.out).toContain('no differences');
    const out = join(dir, 'back.wbxml');
    expect((await dmw(['card', 'read', '-o', out])).code).toBe(0);
    expect(hex(readFileSync(out))).toBe(hex(readFileSync(wbxml)));
    const atrHex = hex(emu.card.atr);
    await stopEmu();
    expect(events).toEqual([`inserted Virtual PCD 00 00 ${atrHex}`, 'removed Virtual PCD 00 00']);
  }, 60_000);

  it('a card pulled mid-write: never success, says which bytes; the next write repairs it', async () => {
    const card = new VirtualUicc(blankUicc({ protocol: 'T=1' }));
    let updates = 0;
    const pull = new VpcdCardClient(card, {
      port: pcscd.port,
      beforeApdu: (apdu) => (apdu[1] === 0xd6 && ++updates === 3 ? 'remove' : undefined),
    });
    pull.insert();
    await waitForCard(true);
    const wbxml = join(dir, 'lab.wbxml');
    const r = await dmw(['card', 'write', wbxml, '--pin', '1234', '-q']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    // pcscd reports the pulled card either as an error or as an empty answer: both must read as an interruption.
    expect(r.err).toMatch(/^dmw: .*(removed|no answer).* during UPDATE BINARY of EF 6431 at offset 510: bytes 0\.\.509 of \d+ hold the new bootstrap, bytes 510\.\.\d+ do not\. The card does NOT hold a valid bootstrap; write again/);
    await waitForCard(false);
    // Back in the reader (same card, state kept): the repair rewrites only what differs.
    const back = new VpcdCardClient(card, { port: pcscd.port });
    back.insert();
    await waitForCard(true);
    const fix = await dmw(['card', 'write', wbxml, '--pin', '1234', '-q']);
    expect(fix.code).toBe(0);
    expect(fix.out).toMatch(/2 chunk\(s\) already equal/);
    const read = await dmw(['card', 'read', '-o', join(dir, 'fixed.wbxml')]);
    expect(read.code).toBe(0);
    expect(hex(readFileSync(join(dir, 'fixed.wbxml')))).toBe(hex(readFileSync(wbxml)));
    back.remove();
    await waitForCard(false);
  }, 60_000);

  it('dmw card emulate: a card image saved on every change and loaded again', async () => {
    const image = join(dir, 'card.json');
    const start = (): Promise<{ stop: () => Promise<Run> }> =>
      new Promise((resolve, reject) => {
        const c = spawn(process.execPath, [BIN, 'card', 'emulate', '--image', image, '--port', String(pcscd.port)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const t = setTimeout(() => reject(new Error(`emulate did not connect: ${out} ${err}`)), 15_000);
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('inserted:')) {
            clearTimeout(t);
            resolve({
              stop: () =>
                new Promise((res) => {
                  c.on('exit', (code) => res({ code, out, err }));
                  c.kill('SIGTERM');
                }),
            });
          }
        });
      });
    const first = await start();
    await waitForCard(true);
    const tnds = join(dir, 'tnds.json');
    writeFileSync(tnds, JSON.stringify({ ...JSON.parse(readFileSync(PROFILE, 'utf8')), form: 'tnds', extraNodes: [] }));
    const wbxml = join(dir, 'tnds.wbxml');
    expect((await dmw(['bootstrap', 'build', tnds, '-o', wbxml])).code).toBe(0);
    expect((await dmw(['card', 'write', wbxml, '--pin', '1234', '-q'])).code).toBe(0);
    const s1 = await first.stop();
    expect(s1.code).toBe(0);
    expect(s1.out).toMatch(/stopped after \d+ APDUs/);
    await waitForCard(false);
    expect(existsSync(image)).toBe(true);
    const img = loadImageFile(image);
    expect(JSON.stringify(img.mf)).toContain('"fid":25649'); // EF 6431 created on the image

    const second = await start();
    await waitForCard(true);
    const read = await dmw(['card', 'read', '--diff', tnds]);
    expect(read.code).toBe(0);
    expect(read.out).toContain('application/vnd.syncml.dmtnds+xml');
    expect(read.out).toContain('no differences');
    expect((await second.stop()).code).toBe(0);
    await waitForCard(false);
    const expected = buildBootstrap(parseProfile(readFileSync(tnds, 'utf8'))).wbxml;
    expect(hex(readFileSync(wbxml))).toBe(hex(expected));
  }, 60_000);
});
