/**
 * `dmw card readers|read|write|emulate`: DM bootstrap on SIM/UICC cards through PC/SC.
 *
 * The pcsclite addon is imported only inside the subcommands that talk to a reader, so `dmw codec`,
 * `dmw bootstrap` and `dmw card emulate` never load native code.
 *
 * Exit status: 0 success; 1 a card or reader fault (no reader, no card, card removed, read-back
 * mismatch, card refuses); 2 bad input (arguments, files, a wrong PIN).
 */
import { ApduError, hex } from '../../native/pcsc/apdu.js';
import { CardChannel, type ApduTraceEntry } from '../../native/pcsc/channel.js';
import { describeAtr, parseAtr } from '../../native/pcsc/atr.js';
import type { PcscConnection, PcscMonitor } from '../../native/pcsc/pcsc.js';
import { CardError, FlashInterruptedError, Pkcs15Card, pinBytes, type FlashProgress, type PinOptions } from '../bootstrap/card.js';
import { BootstrapDecodeError, decodeBootstrap, diffAgainstProfile, formatDiff } from '../bootstrap/diff.js';
import { encodeMessage, sniffEncoding } from '../protocol/codec.js';
import { describeCodecError } from '../protocol/errors.js';
import { serializeXml } from '../protocol/xml/serialize.js';
import { writeMessage } from '../protocol/message/write.js';
import { loadProfile } from './bootstrap.js';
import { CliError } from './errors.js';
import { displayName, readInput, writeOutput } from './io.js';
import { parseCommandArgs, runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw card readers [--json]                        readers, card presence and ATR
  dmw card read [--reader NAME] [-o OUT.wbxml] [--diff PROFILE.json] [--trace]
                                                   the card's DM bootstrap: decoded XML on stdout, or WBXML to OUT
  dmw card write [--reader NAME] BOOTSTRAP.wbxml [--pin PIN] [--pin-ref REF] [--force] [--trace]
                                                   flash a bootstrap: read-compare-write, read back, verify
  dmw card emulate [--image CARD.json] [--port 35963] [--protocol T=0|T=1]
                                                   a virtual UICC for pcscd's vpcd driver ("Virtual PCD 00 00")

Without --reader the first reader holding a card is used. --pin: digits (sent as ASCII padded with FF
to 8 bytes) or hex:HEX; --pin-ref: key reference (01 PIN1 default, 0A ADM1). The PIN's retry counter is
read first; a PIN is never retried, and not sent at all below 2 tries left unless --force.
--trace prints the APDU trace on stderr (PIN data masked). --wait S waits up to S seconds for a card.`;

export async function cardCommand(argv: string[]): Promise<number> {
  return runSubcommand('card', HELP, { readers, read, write, emulate }, argv);
}

/** Card and reader faults (not bad input) exit 1. */
function fault(message: string): CliError {
  return new CliError(message, 1);
}

async function openMonitor(): Promise<PcscMonitor> {
  // The addon loads here and only here.
  const { PcscMonitor, PcscError } = await import('../../native/pcsc/pcsc.js');
  let m: PcscMonitor | undefined;
  try {
    m = PcscMonitor.open();
    await m.ready();
    return m;
  } catch (e) {
    await m?.close();
    if (e instanceof PcscError) throw fault(e.message);
    throw e;
  }
}

function traceLine(e: ApduTraceEntry): string {
  const auto = e.auto ? ` (${e.auto})` : '';
  if (e.error) return `apdu ${e.seq}: ${e.name}${auto} > ${e.command}  !! ${e.error}\n`;
  return `apdu ${e.seq}: ${e.name}${auto} > ${e.command}  < ${e.response} ${e.meaning ?? ''} (${e.ms.toFixed(1)} ms)\n`;
}

/** Connect (exclusively) to the chosen reader's card, run `fn`, always release and close. */
async function withCard<T>(
  opts: { reader: string | undefined; trace: boolean; waitSeconds: number },
  fn: (card: Pkcs15Card, conn: PcscConnection, channel: CardChannel) => Promise<T>,
  onProgress?: (p: FlashProgress) => void,
): Promise<T> {
  const { PcscError } = await import('../../native/pcsc/pcsc.js');
  const { reader, trace } = opts;
  const monitor = await openMonitor();
  let conn: PcscConnection | undefined;
  try {
    let info;
    try {
      if (opts.waitSeconds > 0 && monitor.readers().length > 0) await monitor.waitForCard(reader !== undefined ? monitor.readers().find((r) => r.name === reader || r.name.startsWith(reader))?.name ?? reader : undefined, opts.waitSeconds * 1000);
      info = monitor.pickReader(reader);
      conn = await monitor.connect(info.name, { exclusive: true });
    } catch (e) {
      if (e instanceof PcscError) throw fault(e.message);
      throw e;
    }
    const channel = new CardChannel(conn, trace ? { onTrace: (e) => process.stderr.write(traceLine(e)) } : {});
    return await fn(new Pkcs15Card(channel, onProgress), conn, channel);
  } finally {
    await conn?.disconnect('leave').catch(() => undefined);
    await monitor.close();
  }
}

/** Turn card-side failures into one line naming the reader, the file and the APDU. */
function cardFailure(e: unknown, reader: string | undefined): never {
  const where = reader ? `reader "${reader}": ` : '';
  if (e instanceof CliError) throw e;
  if (e instanceof FlashInterruptedError) throw fault(`${where}${e.message}`);
  if (e instanceof CardError) {
    if (e.kind === 'pin-wrong' || e.kind === 'pin-refused') throw new CliError(`${where}${e.message}`, 2);
    throw fault(`${where}${e.message}`);
  }
  if (e instanceof ApduError) throw fault(`${where}${e.message}`);
  if (e instanceof Error && e.name === 'PcscError') throw fault(`${where}${e.message}`);
  if (e instanceof Error && e.name === 'Pkcs15Error') throw fault(`${where}${e.message}`);
  throw e;
}

async function readers(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 0, 'dmw card readers [--json]');
  const monitor = await openMonitor();
  try {
    const list = monitor.readers();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(list.map((r) => ({ name: r.name, card: r.present, atr: r.atr ? hex(r.atr) : null, exclusive: r.exclusive, inUse: r.inUse, mute: r.mute })))}\n`);
      return list.length === 0 ? 1 : 0;
    }
    if (list.length === 0) throw fault('no smart-card reader found (pcscd lists none)');
    for (const r of list) {
      if (!r.present) process.stdout.write(`${r.name}\tno card\n`);
      else {
        const atr = r.atr ?? new Uint8Array(0);
        const flags = [r.exclusive ? 'in exclusive use' : '', r.mute ? 'mute' : ''].filter(Boolean).join(', ');
        process.stdout.write(`${r.name}\tcard\t${hex(atr)}\t${describeAtr(parseAtr(atr))}${flags ? `\t(${flags})` : ''}\n`);
      }
    }
    return 0;
  } finally {
    await monitor.close();
  }
}

async function read(argv: string[]): Promise<number> {
  const usage = 'dmw card read [--reader NAME] [-o OUT.wbxml] [--diff PROFILE.json] [--trace]';
  const { values } = parseCommandArgs(argv, { reader: { type: 'string' }, output: { type: 'string', short: 'o' }, diff: { type: 'string' }, trace: { type: 'boolean' }, 'show-secrets': { type: 'boolean' }, wait: { type: 'string' } }, 0, usage);
  const profile = values.diff !== undefined ? loadProfile(values.diff) : undefined;
  let got;
  try {
    got = await withCard({ reader: values.reader, trace: values.trace ?? false, waitSeconds: waitSeconds(values.wait) }, async (card, conn) => ({ ...(await card.readBootstrap()), reader: conn.reader }));
  } catch (e) {
    cardFailure(e, values.reader);
  }
  const where = `reader "${got.reader}", EF ${got.location.fid!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (values.output !== undefined) {
    writeOutput(values.output, got.wbxml);
    if (values.output !== '-') process.stderr.write(`dmw: ${values.output}: ${got.wbxml.length} bytes from ${where}\n`);
  }
  let msg;
  try {
    msg = decodeBootstrap(got.wbxml);
  } catch (e) {
    if (e instanceof BootstrapDecodeError) throw fault(`${where}: ${e.message}`);
    throw e;
  }
  if (values.output === undefined) process.stdout.write(serializeXml(writeMessage(msg), { pretty: true }));
  if (profile) {
    const d = diffAgainstProfile(msg, profile);
    (values.output === '-' ? process.stderr : process.stdout).write(formatDiff(d, { showSecrets: values['show-secrets'] ?? false }));
    return d.length === 0 ? 0 : 1;
  }
  return 0;
}

function loadBootstrapFile(file: string): Uint8Array {
  const bytes = readInput(file);
  let msg;
  try {
    msg = decodeBootstrap(bytes);
  } catch (e) {
    if (e instanceof BootstrapDecodeError) throw new CliError(`${displayName(file)}: ${e.message}`);
    throw e;
  }
  if (sniffEncoding(bytes) === 'wbxml') return bytes;
  // An XML bootstrap is flashed as the WBXML handsets read.
  const w = encodeMessage(msg, 'wbxml');
  if (!w.ok) throw new CliError(`${displayName(file)}: cannot encode as WBXML: ${describeCodecError(w.error)}`);
  process.stderr.write(`dmw: ${displayName(file)} is XML; writing its WBXML encoding (${w.value.length} bytes)\n`);
  return w.value;
}

function waitSeconds(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new CliError(`--wait must be seconds (0..3600), got "${text}"`);
  return n;
}

function parsePinRef(text: string | undefined): number {
  if (text === undefined) return 0x01;
  const n = /^0x/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^[0-9a-fA-F]{2}$/.test(text) ? Number.parseInt(text, 16) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xff) throw new CliError(`--pin-ref must be a key reference in hex (01 PIN1, 0A ADM1), got "${text}"`);
  return n;
}

async function write(argv: string[]): Promise<number> {
  const usage = 'dmw card write [--reader NAME] BOOTSTRAP.wbxml [--pin PIN] [--pin-ref REF] [--force] [--trace]';
  const { values, positionals } = parseCommandArgs(
    argv,
    { reader: { type: 'string' }, pin: { type: 'string' }, 'pin-ref': { type: 'string' }, force: { type: 'boolean' }, trace: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, wait: { type: 'string' } },
    1,
    usage,
  );
  const file = positionals[0]!;
  const wbxml = loadBootstrapFile(file);
  let pin: PinOptions | undefined;
  if (values.pin !== undefined) {
    try {
      pin = { value: pinBytes(values.pin), ref: parsePinRef(values['pin-ref']), force: values.force ?? false };
    } catch (e) {
      if (e instanceof CardError) throw new CliError(`--pin: ${e.message}`);
      throw e;
    }
  } else if (values['pin-ref'] !== undefined) throw new CliError('--pin-ref needs --pin');
  const quiet = values.quiet ?? false;
  let lastLine = '';
  const progress = (p: FlashProgress): void => {
    if (quiet) return;
    const line = `${p.phase}: ${p.message}`;
    if (line !== lastLine) process.stderr.write(`${line}\n`);
    lastLine = line;
  };
  let result;
  try {
    result = await withCard(
      { reader: values.reader, trace: values.trace ?? false, waitSeconds: waitSeconds(values.wait) },
      async (card, conn) => ({ report: await card.writeBootstrap(wbxml, pin ? { pin, onProgress: progress } : { onProgress: progress }), reader: conn.reader }),
      progress,
    );
  } catch (e) {
    cardFailure(e, values.reader);
  }
  const r = result.report;
  const fid = r.fid.toString(16).toUpperCase().padStart(4, '0');
  if (r.unchanged) process.stdout.write(`${displayName(file)}: the card in "${result.reader}" already holds this bootstrap (${r.bytes} bytes in EF ${fid}); nothing written\n`);
  else {
    const extra = [r.created.length ? `created ${r.created.join(', ')}` : '', r.resized ? `resized EF ${fid} ${r.resized.from} -> ${r.resized.to} bytes` : '', r.chunksSkipped ? `${r.chunksSkipped} chunk(s) already equal` : '']
      .filter(Boolean)
      .join('; ');
    process.stdout.write(
      `${displayName(file)}: written and verified on "${result.reader}": ${r.bytes} bytes in EF ${fid} with ${r.updateCommands} UPDATE BINARY, ${r.exchanges} APDUs, ${(r.ms / 1000).toFixed(2)} s${extra ? `; ${extra}` : ''}\n`,
    );
  }
  return 0;
}

async function emulate(argv: string[]): Promise<number> {
  const usage = 'dmw card emulate [--image CARD.json] [--port 35963] [--protocol T=0|T=1]';
  const { values } = parseCommandArgs(argv, { image: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, protocol: { type: 'string' } }, 0, usage);
  const { startEmulator, blankUicc, VPCD_DEFAULT_PORT, ImageError } = await import('../../native/pcsc/virtual/index.js');
  const port = values.port === undefined ? VPCD_DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`--port must be 1..65535, got "${values.port}"`);
  const protocol = values.protocol ?? 'T=0';
  if (protocol !== 'T=0' && protocol !== 'T=1') throw new CliError(`--protocol must be T=0 or T=1, got "${protocol}"`);
  let emu;
  try {
    emu = startEmulator({ port, host: values.host ?? '127.0.0.1', ...(values.image ? { imageFile: values.image } : {}), image: blankUicc({ protocol }) });
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(e.message);
    throw e;
  }
  const where = `vpcd ${values.host ?? '127.0.0.1'}:${port}`;
  process.stdout.write(`virtual UICC (ATR ${hex(emu.card.atr)}) for ${where}${values.image ? `, image ${values.image}` : ', blank card (not saved)'}; Ctrl-C to stop\n`);
  emu.client.on('inserted', () => process.stdout.write(`inserted: connected to ${where}\n`));
  emu.client.on('removed', (why) => process.stdout.write(`removed: ${why}; waiting for vpcd\n`));
  let warned = false;
  const t = setTimeout(() => {
    if (!emu.client.connected && !warned) {
      warned = true;
      process.stderr.write(`dmw: nothing listens on ${where} yet: start pcscd with the vpcd driver (Debian: vsmartcard-vpcd, /etc/reader.conf.d/vpcd); still trying\n`);
    }
  }, 2000);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  clearTimeout(t);
  emu.stop();
  process.stdout.write(`stopped after ${emu.card.stats.apdus} APDUs\n`);
  return 0;
}
