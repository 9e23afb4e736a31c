/**
 * `dmw serial list|watch|at|identify|apdu|console|simulate`: handsets and modems on serial ports.
 * Port faults: a port that does not exist is bad input (exit 2); a port that vanishes mid-command,
 * a modem error or a timeout exits 1 with the reason in words.
 */
import { fromHex, toHex } from '../notify/bytes.js';
import { AtChannel, AtCommandError, AtTimeoutError } from '../../native/serial/at.js';
import { attachConsole } from '../../native/serial/console.js';
import { identify, type HandsetIdentity } from '../../native/serial/identity.js';
import { openSerialLink, PortGoneError, type ByteLink, type LineSettings } from '../../native/serial/link.js';
import { listPorts, PortWatcher, type PortInfo } from '../../native/serial/ports.js';
import { AtSimTransport, SimAccessError } from '../../native/serial/sim-access.js';
import { SimulatedModem, type DeliveredPush } from '../../native/serial/simulated-modem.js';
import { validateImsi } from '../notify/ota.js';
import { CliError } from './errors.js';
import { cliArgs, inputGuard } from './notify.js';
import { runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw serial list [--json]                        serial ports with USB VID:PID, manufacturer, serial number
  dmw serial watch [--interval MS]                print ports as they are plugged in and out (Ctrl-C stops)
  dmw serial at --port P [LINE OPTIONS] CMD...    send AT commands, print the answers
  dmw serial identify --port P [LINE OPTIONS] [--json]
                                                  manufacturer, model, revision, IMEI, IMSI, ICCID
  dmw serial apdu --port P [LINE OPTIONS] [--mode auto|csim|crsm] APDUHEX...
                                                  send APDUs to the handset's SIM (AT+CSIM / AT+CRSM)
  dmw serial console --port P [--baud N] [--timestamps]
                                                  raw device log from the port (Ctrl-C stops)
  dmw serial simulate --port P [--imsi D] [--imei D] [--iccid D] [--no-echo] [--json]
                                                  a simulated handset/modem on P (the far end of a pty pair)

LINE OPTIONS: --baud N (115200) --data-bits 5..8 --parity none|even|odd --stop-bits 1|2 --rtscts
              --timeout MS (per AT command, 5000)`;

export async function serialCommand(argv: string[]): Promise<number> {
  return runSubcommand('serial', HELP, { list, watch, at, identify: identifyCmd, apdu, console: consoleCmd, simulate }, argv);
}

export const LINE_OPTIONS = {
  port: { type: 'string' },
  baud: { type: 'string' },
  'data-bits': { type: 'string' },
  parity: { type: 'string' },
  'stop-bits': { type: 'string' },
  rtscts: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

type LineValues = { port?: string; baud?: string; 'data-bits'?: string; parity?: string; 'stop-bits'?: string; rtscts?: boolean; timeout?: string };

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

export function lineSettings(v: LineValues): LineSettings {
  const s: LineSettings = {};
  if (v.baud !== undefined) s.baudRate = positiveInt('baud', v.baud);
  if (v['data-bits'] !== undefined) {
    const n = Number(v['data-bits']);
    if (![5, 6, 7, 8].includes(n)) throw new CliError(`--data-bits must be 5, 6, 7 or 8`);
    s.dataBits = n as 5 | 6 | 7 | 8;
  }
  if (v.parity !== undefined) {
    if (!['none', 'even', 'odd', 'mark', 'space'].includes(v.parity)) throw new CliError('--parity must be none, even, odd, mark or space');
    s.parity = v.parity as LineSettings['parity'];
  }
  if (v['stop-bits'] !== undefined) {
    const n = Number(v['stop-bits']);
    if (![1, 1.5, 2].includes(n)) throw new CliError('--stop-bits must be 1, 1.5 or 2');
    s.stopBits = n as 1 | 1.5 | 2;
  }
  if (v.rtscts) s.rtscts = true;
  return s;
}

export async function openLink(v: LineValues, usage: string): Promise<ByteLink> {
  if (!v.port) throw new CliError(`--port is required\nusage: ${usage}`);
  const settings = lineSettings(v);
  try {
    return await openSerialLink(v.port, settings);
  } catch (e) {
    if (e instanceof PortGoneError) throw new CliError(e.message);
    throw e;
  }
}

export async function openChannel(v: LineValues, usage: string): Promise<AtChannel> {
  const timeoutMs = v.timeout === undefined ? undefined : positiveInt('timeout', v.timeout);
  const link = await openLink(v, usage);
  return new AtChannel(link, timeoutMs === undefined ? {} : { timeoutMs });
}

/** Faults of the port or the modem, as one line and exit 1 (the input was fine, the far end was not). */
export function deviceFault(e: unknown, port: string | undefined): never {
  if (e instanceof PortGoneError) throw new CliError(`${e.message}; the command did not complete`, 1);
  if (e instanceof AtTimeoutError) throw new CliError(`${port}: ${e.message}`, 1);
  if (e instanceof SimAccessError) throw new CliError(`${port}: ${e.message}`, 1);
  if (e instanceof CliError) throw e;
  if (e instanceof AtCommandError) throw new CliError(`${port}: ${e.message}`, 1);
  throw e;
}

function describePort(p: PortInfo): string {
  const usb = p.vendorId ? `${p.vendorId}:${p.productId ?? '????'}` : '-';
  return [p.path.padEnd(16), usb.padEnd(10), p.manufacturer ?? '-', p.product ? `(${p.product})` : '', p.serialNumber ? `serial ${p.serialNumber}` : '', p.pnpId ?? ''].filter(Boolean).join('  ');
}

async function list(argv: string[]): Promise<number> {
  const { values } = cliArgs(argv, { json: { type: 'boolean' } }, 'dmw serial list [--json]', { min: 0, max: 0 });
  const l = await listPorts();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(l)}\n`);
    return 0;
  }
  if (l.note) process.stderr.write(`dmw: ${l.note}\n`);
  if (l.ports.length === 0) process.stdout.write('no serial ports found\n');
  for (const p of l.ports) process.stdout.write(`${describePort(p)}\n`);
  return 0;
}

async function watch(argv: string[]): Promise<number> {
  const { values } = cliArgs(argv, { interval: { type: 'string' } }, 'dmw serial watch [--interval MS]', { min: 0, max: 0 });
  const w = new PortWatcher(undefined, values.interval ? positiveInt('interval', values.interval) : 1000);
  w.on('attach', (p) => process.stdout.write(`+ ${describePort(p)}\n`));
  w.on('detach', (p) => process.stdout.write(`- ${describePort(p)}\n`));
  w.on('error', (e) => process.stderr.write(`dmw: listing failed: ${e.message}\n`));
  for (const p of await w.start()) process.stdout.write(`  ${describePort(p)}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  w.stop();
  return 0;
}

async function at(argv: string[]): Promise<number> {
  const usage = 'dmw serial at --port P [LINE OPTIONS] CMD...';
  const { values, positionals } = cliArgs(argv, { ...LINE_OPTIONS }, usage, { min: 1, max: 64 });
  for (const c of positionals) if (!/^AT/i.test(c.trim()) || /[\r\n]/.test(c)) throw new CliError(`${JSON.stringify(c)} is not one AT command line (must start with AT)`);
  const ch = await openChannel(values, usage);
  ch.on('urc', (lines) => process.stdout.write(`[unsolicited] ${lines.join(' / ')}\n`));
  let status = 0;
  try {
    for (const c of positionals) {
      const r = await ch.exec(c.trim());
      for (const l of r.lines) process.stdout.write(`${l}\n`);
      process.stdout.write(`${r.final}\n`);
      if (!r.ok) {
        process.stderr.write(`dmw: ${c.trim()}: ${r.explanation}\n`);
        status = 1;
        break;
      }
    }
  } catch (e) {
    deviceFault(e, values.port);
  } finally {
    await ch.close();
  }
  return status;
}

function identityLines(port: string, id: HandsetIdentity): string {
  const row = (k: string, v: string | undefined) => `${k.padEnd(13)}${v ?? `(unavailable${id.errors[k] ? `: ${id.errors[k]}` : ''})`}`;
  return [
    `port:        ${port}`,
    row('manufacturer', id.manufacturer),
    row('model', id.model),
    row('revision', id.revision),
    row('imei', id.imei === undefined ? undefined : `${id.imei}${id.imeiLuhnOk === false ? ' (check digit wrong)' : ''}`),
    row('imsi', id.imsi),
    row('iccid', id.iccid === undefined ? undefined : `${id.iccid} (via ${id.iccidSource})`),
  ].join('\n');
}

async function identifyCmd(argv: string[]): Promise<number> {
  const usage = 'dmw serial identify --port P [LINE OPTIONS] [--json]';
  const { values } = cliArgs(argv, { ...LINE_OPTIONS, json: { type: 'boolean' } }, usage, { min: 0, max: 0 });
  const ch = await openChannel(values, usage);
  try {
    await ch.init();
    const id = await identify(ch);
    if (values.json) process.stdout.write(`${JSON.stringify({ port: values.port, ...id })}\n`);
    else process.stdout.write(`${identityLines(values.port!, id)}\n`);
    return 0;
  } catch (e) {
    deviceFault(e, values.port);
  } finally {
    await ch.close();
  }
}

async function apdu(argv: string[]): Promise<number> {
  const usage = 'dmw serial apdu --port P [LINE OPTIONS] [--mode auto|csim|crsm] APDUHEX...';
  const { values, positionals } = cliArgs(argv, { ...LINE_OPTIONS, mode: { type: 'string' } }, usage, { min: 1, max: 64 });
  const apdus = positionals.map((h) => {
    const b = fromHex(h);
    if (!b || b.length < 4) throw new CliError(`"${h}" is not an APDU (hex, at least 4 bytes)`);
    return b;
  });
  const mode = values.mode ?? 'auto';
  if (!['auto', 'csim', 'crsm'].includes(mode)) throw new CliError('--mode must be auto, csim or crsm');
  const ch = await openChannel(values, usage);
  try {
    await ch.init();
    const t = mode === 'auto' ? await AtSimTransport.open(ch) : new AtSimTransport(ch, mode as 'csim' | 'crsm');
    process.stdout.write(`# SIM access through AT+${t.mode.toUpperCase()}\n`);
    for (const a of apdus) {
      const r = await t.transmit(a);
      process.stdout.write(`> ${toHex(a, ' ')}\n< ${toHex(r, ' ')}\n`);
    }
    return 0;
  } catch (e) {
    deviceFault(e, values.port);
  } finally {
    await ch.close();
  }
}

async function consoleCmd(argv: string[]): Promise<number> {
  const usage = 'dmw serial console --port P [--baud N] [--timestamps]';
  const { values } = cliArgs(argv, { ...LINE_OPTIONS, timestamps: { type: 'boolean' } }, usage, { min: 0, max: 0 });
  const link = await openLink(values, usage);
  const session = attachConsole(link, (c) => process.stdout.write(c), { timestamps: values.timestamps ?? false });
  const stop = () => void session.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const err = await session.done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (err) throw new CliError(err.message, 1);
  return 0;
}

function pushSummary(p: DeliveredPush): Record<string, unknown> {
  const w = p.content?.wsp;
  const out: Record<string, unknown> = { to: p.to, parts: p.parts, port: p.destinationPort, bytes: p.data.length };
  if (p.error) out.error = p.error;
  if (w) {
    out.contentType = w.contentType;
    if (w.appId) out.appId = w.appId;
    if (w.sec) out.sec = w.sec;
    if (w.mac) out.mac = w.mac;
    out.bodyHex = toHex(w.body);
  }
  const n = p.content?.package0;
  if (n) out.package0 = { version: n.version, uiMode: n.uiMode, initiator: n.initiator, sessionId: n.sessionIdHex, serverId: n.serverId };
  return out;
}

async function simulate(argv: string[]): Promise<number> {
  const usage = 'dmw serial simulate --port P [--imsi D] [--imei D] [--iccid D] [--no-echo] [--json]';
  const { values } = cliArgs(
    argv,
    { ...LINE_OPTIONS, imsi: { type: 'string' }, imei: { type: 'string' }, iccid: { type: 'string' }, 'no-echo': { type: 'boolean' }, json: { type: 'boolean' } },
    usage,
    { min: 0, max: 0 },
  );
  const profile: Record<string, string> = {};
  if (values.imsi !== undefined) profile.imsi = inputGuard(() => validateImsi(values.imsi!));
  if (values.imei !== undefined) {
    if (!/^\d{14,16}$/.test(values.imei)) throw new CliError('--imei must be 14 to 16 digits');
    profile.imei = values.imei;
  }
  if (values.iccid !== undefined) {
    if (!/^\d{18,20}$/.test(values.iccid)) throw new CliError('--iccid must be 18 to 20 digits');
    profile.iccid = values.iccid;
  }
  const link = await openLink(values, usage);
  const modem = new SimulatedModem(link, { profile, echo: !values['no-echo'] });
  const emit = (event: string, data: Record<string, unknown>) => {
    if (values.json) process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
    else process.stdout.write(`${event}: ${Object.entries(data).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}\n`);
  };
  modem.on('command', (line) => emit('command', { line }));
  modem.on('sms', (s) => emit('sms', { part: s.part, messageRef: s.messageRef, to: s.sms.to?.number, pdu: s.pduHex }));
  modem.on('wap-push', (p) => emit('wap-push', pushSummary(p)));
  emit('ready', { port: values.port, imsi: modem.profile.imsi, imei: modem.profile.imei });
  const done = new Promise<Error | undefined>((resolve) => {
    link.once('close', (e) => resolve(e));
    const stop = () => void modem.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const err = await done;
  if (err) throw new CliError(err.message, 1);
  return 0;
}
