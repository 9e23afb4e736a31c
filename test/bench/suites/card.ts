/**
 * card: what flashing a DM bootstrap costs.
 *
 *  1. APDUs (in-process virtual UICC, no timing): UPDATE BINARY commands for an N-byte bootstrap
 *     against the minimum ceil(N/255), and every exchange of a whole write (locate, PIN, compare
 *     read, writes, read-back, GET RESPONSEs), on a blank card (creates the structure), on a card
 *     holding another bootstrap (steady state) and on one holding the same bytes (nothing written).
 *  2. Time to flash 4 KB through pcscd + vpcd (our private pcscd, our virtual UICC), beside the same
 *     UPDATE BINARY sequence sent by `scriptor` (pcsc-tools) to the same card in the same run.
 *     vpcd costs tens of milliseconds per APDU whoever sends it, so the fair comparison is per APDU:
 *     target ours <= 1.2x scriptor's time per APDU, and UPDATE BINARY count == ceil(N/255).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtInt, fmtNum, fmtRatio, table, verdictWord } from '../format.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';
import { hex } from '../../../native/pcsc/apdu.js';
import { CardChannel, type ApduTransport } from '../../../native/pcsc/channel.js';
import { PIN1_REF, VirtualUicc, blankUicc, pinBlock, startEmulator } from '../../../native/pcsc/virtual/index.js';
import { Pkcs15Card, pinBytes, type WriteReport } from '../../../main/bootstrap/card.js';
import { buildBootstrap } from '../../../main/bootstrap/message.js';
import { validateProfile } from '../../../main/bootstrap/profile.js';

export const PER_APDU_TARGET = 1.2;
const SIZES = [2048, 4096, 8192, 16384];

/** A real bootstrap of about `bytes` bytes (a padding leaf grows it), `tag` makes contents differ. */
function bootstrapOf(bytes: number, tag: string): Uint8Array {
  // The ServerID (and so every account URI) differs with `tag`: two bootstraps differ in every chunk.
  const base = {
    serverId: `bench-${tag}.dm`,
    address: 'https://dm.bench.example/dm',
    clientCredential: { name: 'dev', secret: 'c', data: 'AAAAAA==' },
    serverCredential: { name: 'bench.dm', secret: 's', data: 'AAAAAA==' },
  };
  const n0 = buildBootstrap(validateProfile(base)).wbxml.length;
  let pad = Math.max(1, bytes - n0 - 30);
  for (let i = 0; i < 5; i++) {
    const w = buildBootstrap(validateProfile({ ...base, extraNodes: [{ uri: './Vendor/Pad', value: tag.repeat(pad) }] })).wbxml;
    if (w.length === bytes) return w;
    pad += bytes - w.length;
    if (pad < 1) return w;
  }
  return buildBootstrap(validateProfile({ ...base, extraNodes: [{ uri: './Vendor/Pad', value: tag.repeat(pad) }] })).wbxml;
}

interface Counted {
  report: WriteReport;
  updates: number;
  exchanges: number;
}

async function countedWrite(card: VirtualUicc, wbxml: Uint8Array): Promise<Counted> {
  let updates = 0;
  const t: ApduTransport = {
    async transmit(cmd) {
      if (cmd[1] === 0xd6) updates++;
      return card.process(cmd);
    },
  };
  const ch = new CardChannel(t);
  const report = await new Pkcs15Card(ch).writeBootstrap(wbxml, { pin: { value: pinBytes('1234'), ref: PIN1_REF } });
  return { report, updates, exchanges: ch.exchanges };
}

async function apduCounts(ctx: BenchContext): Promise<Verdict[]> {
  const { log } = ctx;
  log('  APDUs to write an N-byte bootstrap (in-process virtual UICC, T=0: SELECTs cost a GET RESPONSE each)');
  const rows: string[][] = [['N bytes', 'min UPDATE', 'UPDATE (data)', 'READ (2 x ceil(N/256))', 'fixed', 'steady: all APDUs', 'blank card: all', 'same bytes: all', 'UPDATE = min']];
  const verdicts: Verdict[] = [];
  for (const n of SIZES) {
    const a = bootstrapOf(n, 'a');
    const b = bootstrapOf(n, 'b');
    const N = a.length;
    const card = new VirtualUicc(blankUicc({ protocol: 'T=0' }));
    card.image.freeMemory = 64 * 1024;
    card.powerOn();
    const blank = await countedWrite(card, a);
    const steady = await countedWrite(card, b);
    const same = await countedWrite(card, b);
    const min = Math.ceil(N / 255);
    const pass = steady.report.updateCommands === min && blank.report.updateCommands === min && same.updates === 0;
    // The fixed part of a steady write: everything but the data UPDATEs and the two reads of N bytes.
    const reads = 2 * Math.ceil(N / 256);
    rows.push([fmtInt(N), fmtInt(min), fmtInt(steady.report.updateCommands), fmtInt(reads), fmtInt(steady.exchanges - steady.report.updateCommands - reads), fmtInt(steady.exchanges), fmtInt(blank.exchanges), fmtInt(same.exchanges), verdictWord(pass)]);
    verdicts.push({ target: `card write ${fmtInt(N)} B: UPDATE BINARY = ceil(N/255) = ${min}`, pass, detail: `${steady.report.updateCommands} UPDATE, ${steady.exchanges} APDUs in all` });
  }
  for (const line of table(rows, 'rrrrrrrrl')) log(line);
  log('  steady: the card holds another bootstrap of that size (every chunk differs); fixed = SELECT application,');
  log('  ODF and DODF (SELECT + GET RESPONSE + READ each), PIN counter + VERIFY, SELECT EF + GET RESPONSE.');
  log('  blank card: also creates EF 6431 and EF(DODF) and writes DODF and ODF. same bytes: compare read only.');
  log();
  return verdicts;
}

function timed(cmd: string, args: string[]): Promise<{ ms: number; code: number | null; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', (e) => resolve({ ms: performance.now() - t0, code: -1, out: e.message }));
    c.on('exit', (code) => resolve({ ms: performance.now() - t0, code, out }));
  });
}

async function throughPcscd(ctx: BenchContext): Promise<Verdict[]> {
  const { log } = ctx;
  const target = `card flash 4 KB via pcscd+vpcd: time per APDU <= ${PER_APDU_TARGET}x scriptor's`;
  const { startPcscd, runningPcscd, HarnessError } = await import('../../../native/pcsc/pcscd-harness.js');
  const other = runningPcscd();
  if (other !== undefined) {
    log(`  pcscd + vpcd: skipped, another pcscd (pid ${other}) runs; stop it to measure`);
    return [{ target, pass: undefined, detail: 'another pcscd runs' }];
  }
  let pcsc: typeof import('../../../native/pcsc/pcsc.js');
  try {
    pcsc = await import('../../../native/pcsc/pcsc.js');
    pcsc.loadBinding();
  } catch (e) {
    log(`  pcscd + vpcd: skipped, ${(e as Error).message}`);
    return [{ target, pass: undefined, detail: 'pcsclite addon missing' }];
  }
  let harness;
  try {
    harness = await startPcscd();
  } catch (e) {
    if (e instanceof HarnessError) {
      log(`  pcscd + vpcd: skipped, ${e.message}`);
      return [{ target, pass: undefined, detail: 'no pcscd/vpcd' }];
    }
    throw e;
  }
  const dir = mkdtempSync(join(tmpdir(), 'dmw-bench-card-'));
  const emu = startEmulator({ port: harness.port, image: blankUicc({ protocol: 'T=0' }) });
  emu.card.image.freeMemory = 64 * 1024;
  const monitor = pcsc.PcscMonitor.open();
  try {
    await monitor.ready();
    const reader = (await monitor.waitForCard(undefined, 10_000)).name;
    log(`  pcscd + vpcd: ${reader}, virtual UICC (T=0), ${harness.port}/tcp; 4 KB = 4096-byte bootstrap`);
    const first = bootstrapOf(4096, 'a');
    const second = bootstrapOf(4096, 'b');
    const N = second.length;
    const flash = async (wbxml: Uint8Array): Promise<{ ms: number; report: WriteReport; exchanges: number }> => {
      const conn = await monitor.connect(reader, { exclusive: true });
      try {
        const ch = new CardChannel(conn);
        const t0 = performance.now();
        const report = await new Pkcs15Card(ch).writeBootstrap(wbxml, { pin: { value: pinBytes('1234'), ref: PIN1_REF } });
        return { ms: performance.now() - t0, report, exchanges: ch.exchanges };
      } finally {
        await conn.disconnect('leave');
      }
    };
    const blank = await flash(first); // creates the structure
    const ours = await flash(second); // steady state: the measured one
    // scriptor: SELECT the application, VERIFY, SELECT the EF, then the same UPDATE BINARY chunks.
    const lines = ['00 A4 04 0C 0C A0 00 00 00 63 50 4B 43 53 2D 31 35', `00 20 00 01 08 ${hex(pinBlock('1234'), ' ')}`, '00 A4 08 0C 04 7F FF 64 31'];
    for (let off = 0; off < N; off += 255) {
      const chunk = first.subarray(off, Math.min(N, off + 255));
      lines.push(`00 D6 ${hex([off >> 8, off & 0xff], ' ')} ${hex([chunk.length])} ${hex(chunk, ' ')}`);
    }
    const script = join(dir, 'flash.scriptor');
    writeFileSync(script, `${lines.join('\n')}\n`);
    // scriptor's own start-up (connecting, no APDU) is measured apart and taken off.
    writeFileSync(join(dir, 'empty.scriptor'), '\n');
    const empty = await timed('scriptor', ['-r', reader, join(dir, 'empty.scriptor')]);
    const sc = await timed('scriptor', ['-r', reader, script]);
    const scOk = sc.code === 0 && (sc.out.match(/< 90 00/g)?.length ?? 0) === lines.length;
    const scApdus = lines.length;
    const scMs = Math.max(1, sc.ms - (empty.code === 0 ? empty.ms : 0));
    const oursPer = ours.ms / ours.exchanges;
    const scPer = scMs / scApdus;
    const ratio = oursPer / scPer;
    const rows: string[][] = [
      ['', 'APDUs', 'UPDATE', 'ms', 'ms/APDU'],
      ['ours, blank card (creates EF, DODF, ODF)', fmtInt(blank.exchanges), fmtInt(blank.report.updateCommands), fmtInt(blank.ms), fmtNum(blank.ms / blank.exchanges)],
      ['ours, steady (compare read, write, read-back)', fmtInt(ours.exchanges), fmtInt(ours.report.updateCommands), fmtInt(ours.ms), fmtNum(oursPer)],
      [`scriptor, same UPDATE sequence${scOk ? '' : ' (FAILED)'}`, fmtInt(scApdus), fmtInt(scApdus - 3), fmtInt(scMs), fmtNum(scPer)],
    ];
    for (const line of table(rows, 'lrrrr')) log(line);
    log(`  whole-flash time ours/scriptor: ${fmtRatio(ours.ms / scMs)} (ours reads N bytes twice to compare and verify); per APDU: ${fmtRatio(ratio)}`);
    log(`  scriptor start-up without APDUs: ${fmtInt(empty.ms)} ms (subtracted)`);
    if (!scOk) log(`  ! scriptor: ${sc.out.trim().split('\n').slice(-3).join(' | ')}`);
    log();
    return [
      { target, pass: scOk ? ratio <= PER_APDU_TARGET : undefined, detail: `${fmtNum(oursPer)} vs ${fmtNum(scPer)} ms/APDU (${fmtRatio(ratio)})` },
      { target: `card flash 4 KB via pcscd+vpcd: UPDATE BINARY = ceil(N/255) = ${Math.ceil(N / 255)}`, pass: ours.report.updateCommands === Math.ceil(N / 255), detail: `${ours.report.updateCommands}` },
    ];
  } finally {
    await monitor.close();
    emu.stop();
    await harness.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'card',
  description: `DM bootstrap flashing: APDUs vs ceil(N/255), 4 KB through pcscd+vpcd vs scriptor (per APDU <= ${PER_APDU_TARGET}x)`,
  async run(ctx: BenchContext): Promise<Verdict[]> {
    ctx.log('card: flashing DM bootstrap data (PKCS#15 / UICC)');
    const verdicts = await apduCounts(ctx);
    verdicts.push(...(await throughPcscd(ctx)));
    return verdicts;
  },
};
