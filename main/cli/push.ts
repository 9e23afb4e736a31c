/**
 * `dmw push notification|bootstrap`: WAP push over SMS through an attached modem or handset (DM-1,
 * DM-4). Both print the WSP PDU, each SMS PDU, the AT exchange and what became of every part. Input is
 * checked before the port is opened; a part is only reported sent when the modem answered +CMGS.
 */
import { sniffEncoding } from '../protocol/codec.js';
import { toHex } from '../notify/bytes.js';
import { type NotifyReport, pushWsp } from '../notify/notifier.js';
import { USERNETWPIN_KEYS, buildBootstrapPush, validateImsi, validatePin, type UserNetwPinKey } from '../notify/ota.js';
import { parsePackage0 } from '../notify/package0.js';
import { parseMsisdn } from '../notify/sms.js';
import { ConcatRefCounter, buildNotificationPush, buildWapPushSms } from '../notify/wap-push.js';
import { SEC_METHODS, decodeWspPush, type SecMethod } from '../notify/wsp.js';
import { type AtChannel } from '../../native/serial/at.js';
import { readImsi } from '../../native/serial/identity.js';
import { ModemSmsTransport } from '../../native/serial/modem-sms.js';
import { CliError } from './errors.js';
import { displayName, readInput } from './io.js';
import { cliArgs, inputGuard } from './notify.js';
import { LINE_OPTIONS, deviceFault, openChannel } from './serial.js';
import { runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw push notification --port P --to MSISDN [LINE OPTIONS] [--json] [--force] PKG0.bin
  dmw push bootstrap --port P --to MSISDN --sec NETWPIN|USERPIN|USERNETWPIN|USERPINMAC
                     [--imsi IMSI | --imsi-port P2] [--pin PIN] [--usernetwpin-key imsi+pin|imsi:pin]
                     [LINE OPTIONS] [--json] BOOTSTRAP.wbxml

NETWPIN and USERNETWPIN need the target's IMSI: --imsi, or read with AT+CIMI from --imsi-port
(default: --port, for a handset that pushes to its own number). USERPINMAC takes the first half of
the PIN (5 to 8 digits) and prints the full PIN the user must type.
Exit 0 when every part was sent, 1 when the modem refused a part or the port went away (what was
sent is still printed), 2 for bad input. A package #0 with a version other than 11 or non-zero
future bits is refused unless --force (for testing how handsets treat broken notifications).`;

export async function pushCommand(argv: string[]): Promise<number> {
  return runSubcommand('push', HELP, { notification, bootstrap }, argv);
}

const PUSH_OPTIONS = { ...LINE_OPTIONS, to: { type: 'string' }, json: { type: 'boolean' }, 'source-port': { type: 'string' } } as const;

interface Transcript {
  lines: string[];
  json: boolean;
  say(text: string): void;
}

function transcript(json: boolean): Transcript {
  const t: Transcript = {
    lines: [],
    json,
    say(text: string) {
      t.lines.push(text);
      if (!json) process.stdout.write(`${text}\n`);
    },
  };
  return t;
}

function sourcePort(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new CliError(`--source-port must be 0..65535, got "${v}"`);
  return n;
}

async function send(ch: AtChannel, to: string, wsp: Uint8Array, t: Transcript, src: number | undefined, header: Record<string, unknown>): Promise<number> {
  const refs = new ConcatRefCounter();
  const ref = refs.take();
  // The same split pushWsp will make, shown before anything goes out.
  const preview = buildWapPushSms({ to, wsp, ref, ...(src === undefined ? {} : { sourcePort: src }) });
  t.say(`SMS to ${to}: ${preview.length} part(s), 8-bit, WDP port 2948${preview.length > 1 ? `, concatenated (ref ${ref})` : ''}`);
  for (const p of preview) t.say(`part ${p.seq}/${p.total} PDU (TPDU ${p.tpduLength} octets): ${p.pduHex}`);
  ch.on('trace', (dir, text) => t.say(`${dir === 'tx' ? '>' : dir === 'rx' ? '<' : '#'} ${text}`));
  ch.on('urc', (lines) => t.say(`[unsolicited] ${lines.join(' / ')}`));
  let report: NotifyReport;
  try {
    await ch.init();
    report = await pushWsp(new ModemSmsTransport(ch), to, wsp, { refs: new ConcatRefCounter(ref), ...(src === undefined ? {} : { sourcePort: src }) });
  } catch (e) {
    deviceFault(e, ch.link.name);
  }
  for (const r of report.parts) {
    const what = r.status === 'sent' ? `sent, message reference ${r.messageRef ?? '?'}` : `${r.status}${r.error ? `: ${r.error}` : ''}`;
    t.say(`part ${r.seq}/${r.total}: ${what}`);
  }
  if (t.json) process.stdout.write(`${JSON.stringify({ ...header, ok: report.ok, to, wsp: report.wspHex, parts: report.parts, transcript: t.lines })}\n`);
  if (!report.ok) throw new CliError(`${ch.link.name}: ${report.detail}`, 1);
  return 0;
}

async function notification(argv: string[]): Promise<number> {
  const usage = 'dmw push notification --port P --to MSISDN [LINE OPTIONS] [--json] PKG0.bin';
  const { values, positionals } = cliArgs(argv, { ...PUSH_OPTIONS, force: { type: 'boolean' } }, usage, { min: 1, max: 1 });
  if (!values.to) throw new CliError(`--to is required\nusage: ${usage}`);
  if (!values.port) throw new CliError(`--port is required\nusage: ${usage}`);
  inputGuard(() => parseMsisdn(values.to!));
  const src = sourcePort(values['source-port']);
  const file = positionals[0]!;
  const pkg0 = readInput(file);
  const p = parsePackage0(pkg0);
  if (!p.ok) throw new CliError(`${displayName(file)}: not a package #0: ${p.error.message}${p.error.offset === undefined ? '' : ` at byte ${p.error.offset}`}`);
  // A file that merely has enough bytes is not a package #0: odd version or future bits say so.
  if (p.value.warnings.length && !values.force) throw new CliError(`${displayName(file)}: does not look like a package #0 (${p.value.warnings.join('; ')}); --force sends it anyway`);
  const t = transcript(values.json ?? false);
  const wsp = buildNotificationPush(pkg0);
  t.say(`package #0: server ${p.value.serverId}, session ${p.value.sessionIdHex}, ui ${p.value.uiMode}, initiator ${p.value.initiator}`);
  t.say(`WSP push (application/vnd.syncml.notification, x-wap-application:syncml.dm, ${wsp.length} bytes): ${toHex(wsp)}`);
  const ch = await openChannel(values, usage);
  try {
    return await send(ch, values.to, wsp, t, src, { kind: 'notification' });
  } finally {
    await ch.close();
  }
}

async function readImsiOver(ch: AtChannel, t: Transcript): Promise<string> {
  try {
    await ch.init();
    const r = await readImsi(ch);
    if (!r.ok) throw new CliError(`${ch.link.name}: cannot read the IMSI for the NETWPIN key: ${r.error}`, 1);
    const valid = inputGuard(() => validateImsi(r.imsi));
    t.say(`IMSI ${valid} read with AT+CIMI on ${ch.link.name}`);
    return valid;
  } catch (e) {
    deviceFault(e, ch.link.name);
  }
}

async function bootstrap(argv: string[]): Promise<number> {
  const usage = 'dmw push bootstrap --port P --to MSISDN --sec NETWPIN|USERPIN|USERNETWPIN|USERPINMAC [--imsi IMSI | --imsi-port P2] [--pin PIN] [--usernetwpin-key K] BOOTSTRAP.wbxml';
  const { values, positionals } = cliArgs(
    argv,
    { ...PUSH_OPTIONS, sec: { type: 'string' }, imsi: { type: 'string' }, 'imsi-port': { type: 'string' }, pin: { type: 'string' }, 'usernetwpin-key': { type: 'string' } },
    usage,
    { min: 1, max: 1 },
  );
  if (!values.to) throw new CliError(`--to is required\nusage: ${usage}`);
  if (!values.port) throw new CliError(`--port is required\nusage: ${usage}`);
  inputGuard(() => parseMsisdn(values.to!));
  const src = sourcePort(values['source-port']);
  const sec = values.sec?.toUpperCase() as SecMethod | undefined;
  if (!sec || !SEC_METHODS.includes(sec)) throw new CliError(`--sec must be one of ${SEC_METHODS.join(', ')}${values.sec ? `, got "${values.sec}"` : ''}`);
  const needsImsi = sec === 'NETWPIN' || sec === 'USERNETWPIN';
  const needsPin = sec !== 'NETWPIN';
  if (needsPin && values.pin === undefined) throw new CliError(`--pin is required for --sec ${sec}`);
  if (!needsPin && values.pin !== undefined) throw new CliError('--pin is not used by NETWPIN (the key is the IMSI)');
  if (!needsImsi && (values.imsi !== undefined || values['imsi-port'] !== undefined)) throw new CliError(`--imsi is not used by ${sec} (the key is the PIN)`);
  if (values.imsi !== undefined && values['imsi-port'] !== undefined) throw new CliError('give --imsi or --imsi-port, not both');
  if (values.imsi !== undefined) inputGuard(() => validateImsi(values.imsi!));
  if (values.pin !== undefined && sec !== 'USERPINMAC') inputGuard(() => validatePin(values.pin!));
  const variant = (values['usernetwpin-key'] ?? 'imsi+pin') as UserNetwPinKey;
  if (!USERNETWPIN_KEYS.includes(variant)) throw new CliError(`--usernetwpin-key must be ${USERNETWPIN_KEYS.join(' or ')}`);
  if (values['usernetwpin-key'] !== undefined && sec !== 'USERNETWPIN') throw new CliError('--usernetwpin-key only applies to --sec USERNETWPIN');
  const file = positionals[0]!;
  const wbxml = readInput(file);
  if (wbxml.length === 0 || sniffEncoding(wbxml) !== 'wbxml') throw new CliError(`${displayName(file)}: not WBXML (a bootstrap travels as application/vnd.syncml.dm+wbxml)`);
  // A USERPINMAC key half is checked by the builder; catch it before the port is touched.
  if (sec === 'USERPINMAC') inputGuard(() => buildBootstrapPush(wbxml, { sec, pin: values.pin! }));

  const t = transcript(values.json ?? false);
  let imsi = values.imsi;
  const ch = await openChannel(values, usage);
  try {
    if (needsImsi && imsi === undefined) {
      if (values['imsi-port'] && values['imsi-port'] !== values.port) {
        const other = await openChannel({ ...values, port: values['imsi-port'] }, usage);
        try {
          imsi = await readImsiOver(other, t);
        } finally {
          await other.close();
        }
      } else imsi = await readImsiOver(ch, t);
    }
    const b = inputGuard(() => buildBootstrapPush(wbxml, { sec, ...(imsi ? { imsi } : {}), ...(values.pin !== undefined ? { pin: values.pin } : {}), userNetwPinKey: variant }));
    const w = decodeWspPush(b.wsp);
    t.say(`bootstrap: ${wbxml.length} bytes of WBXML, SEC=${sec}, key: ${b.keyDescription}`);
    for (const n of b.notes) t.say(`note: ${n}`);
    t.say(`MAC (HMAC-SHA1, hex): ${b.mac}`);
    if (b.userPin) t.say(`PIN the user must enter on the handset: ${b.userPin}`);
    t.say(`WSP push (${w.ok ? w.value.contentType : '?'}, x-wap-application:syncml.dm, ${b.wsp.length} bytes): ${toHex(b.wsp)}`);
    const header: Record<string, unknown> = { kind: 'bootstrap', sec, mac: b.mac, key: b.keyDescription, notes: b.notes };
    if (sec === 'USERNETWPIN') header.usernetwpinKey = variant;
    if (b.userPin) header.userPin = b.userPin;
    return await send(ch, values.to, b.wsp, t, src, header);
  } finally {
    await ch.close();
  }
}
