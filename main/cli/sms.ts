/**
 * `dmw sms decode PDUHEX...`: SMS-SUBMIT / SMS-DELIVER PDUs as captured (AT+CMGL, +CMT, a trace),
 * with the UDH, and the WAP push and package #0 inside when there is one. Several PDUs of one
 * concatenated message are put back together.
 */
import { fromHex, toHex } from '../notify/bytes.js';
import { Reassembler, decodeSmsPdu, type DecodedSms, type SmscMode } from '../notify/sms.js';
import { isWapPushSms, readWapPush, type WapPushContent } from '../notify/wap-push.js';
import { CliError } from './errors.js';
import { cliArgs } from './notify.js';
import { runSubcommand } from './subcommands.js';

const HELP = `usage:
  dmw sms decode PDUHEX... [--smsc auto|yes|no] [--json]

PDUs as AT PDU mode shows them start with the SMSC field (\`00\` = the modem's default); --smsc no
reads a bare TPDU, auto (the default) tries both. Bad PDUs exit 2 naming the byte.`;

export async function smsCommand(argv: string[]): Promise<number> {
  return runSubcommand('sms', HELP, { decode }, argv);
}

function json(sms: DecodedSms): Record<string, unknown> {
  const { userData, ...rest } = sms;
  // GSM 7-bit user data is shown as text; the unpacked septets are no use as hex.
  return sms.dcs.alphabet === 'gsm7' ? rest : { ...rest, userDataHex: toHex(userData) };
}

function pushJson(c: WapPushContent): Record<string, unknown> {
  const w = c.wsp;
  const out: Record<string, unknown> = { tid: w.tid, contentType: w.contentType, params: w.params, headers: w.headers, bodyHex: toHex(w.body) };
  if (w.appId) out.appId = w.appId;
  if (w.sec) out.sec = w.sec;
  if (w.mac) out.mac = w.mac;
  const p = c.package0;
  if (p) out.package0 = { version: p.version, uiMode: p.uiMode, initiator: p.initiator, sessionId: p.sessionIdHex, serverId: p.serverId, vendorData: toHex(p.vendorData), digest: toHex(p.digest), warnings: p.warnings };
  if (c.package0Error) out.package0Error = c.package0Error;
  return out;
}

function addr(a: { number: string; ton: string } | null | undefined): string {
  if (a === null) return '(default SMSC of the modem: 00)';
  if (!a) return '-';
  return `${a.number || '(empty)'} (${a.ton})`;
}

function text(sms: DecodedSms): string {
  const l: string[] = [sms.type];
  if (sms.smsc !== undefined) l.push(`  smsc:      ${addr(sms.smsc)}`);
  if (sms.to) l.push(`  to:        ${addr(sms.to)}`);
  if (sms.from) l.push(`  from:      ${addr(sms.from)}`);
  if (sms.messageRef !== undefined) l.push(`  TP-MR:     ${sms.messageRef}`);
  if (sms.timestamp) l.push(`  sent:      ${sms.timestamp}`);
  const flags = Object.entries(sms.flags).filter(([, v]) => v).map(([k]) => k);
  l.push(`  flags:     ${toHex(Uint8Array.of(sms.firstOctet))}${flags.length ? ` (${flags.join(', ')})` : ''}`);
  l.push(`  PID:       ${toHex(Uint8Array.of(sms.pid))}`);
  const d = sms.dcs;
  l.push(`  DCS:       ${toHex(Uint8Array.of(d.value))} (${d.alphabet === 'gsm7' ? 'GSM 7-bit' : d.alphabet === 'ucs2' ? 'UCS2' : '8-bit data'}${d.messageClass === undefined ? '' : `, class ${d.messageClass}`}${d.compressed ? ', compressed' : ''})`);
  if (sms.validity) l.push(`  validity:  ${sms.validity.hex} (${sms.validity.format}, ${sms.validity.description})`);
  l.push(`  UDL:       ${sms.udl} ${d.alphabet === 'gsm7' ? 'septets' : 'octets'}`);
  if (sms.udh) {
    for (const e of sms.udh.elements) l.push(`  UDH:       ${toHex(Uint8Array.of(e.iei))} ${e.name}: ${e.dataHex}`);
    if (sms.udh.concat) l.push(`  part:      ${sms.udh.concat.seq} of ${sms.udh.concat.total}, reference ${sms.udh.concat.ref}`);
    if (sms.udh.ports) l.push(`  ports:     destination ${sms.udh.ports.destination}, source ${sms.udh.ports.source}${sms.udh.ports.destination === 2948 ? ' (WAP push)' : ''}`);
  }
  if (sms.text !== undefined) l.push(`  text:      ${JSON.stringify(sms.text)}`);
  else l.push(`  data:      ${toHex(sms.userData, ' ')}`);
  for (const w of sms.warnings) l.push(`  warning:   ${w}`);
  return l.join('\n');
}

function pushText(c: WapPushContent, parts: number): string {
  const w = c.wsp;
  const l = [`WAP push${parts > 1 ? ` (reassembled from ${parts} parts)` : ''}`, `  content:   ${w.contentType}`];
  for (const p of w.params) l.push(`  param:     ${p.name}=${p.value}`);
  for (const h of w.headers) l.push(`  header:    ${h.name}: ${h.value}`);
  l.push(`  body:      ${w.body.length} bytes: ${toHex(w.body, ' ')}`);
  const p = c.package0;
  if (p) {
    l.push('package #0');
    l.push(`  version:   ${p.version}`, `  uiMode:    ${p.uiMode}`, `  initiator: ${p.initiator}`, `  sessionId: ${p.sessionIdHex}`, `  serverId:  ${p.serverId}`, `  digest:    ${toHex(p.digest)}`);
    for (const x of p.warnings) l.push(`  warning:   ${x}`);
  }
  if (c.package0Error) l.push(`package #0: cannot parse: ${c.package0Error}`);
  return l.join('\n');
}

function decode(argv: string[]): number {
  const usage = 'dmw sms decode PDUHEX... [--smsc auto|yes|no] [--json]';
  const { values, positionals } = cliArgs(argv, { smsc: { type: 'string' }, json: { type: 'boolean' } }, usage, { min: 1, max: 255 });
  const smsc = (values.smsc ?? 'auto') as SmscMode;
  if (!['auto', 'yes', 'no'].includes(smsc)) throw new CliError(`--smsc must be auto, yes or no\nusage: ${usage}`);
  const decoded: DecodedSms[] = positionals.map((h, i) => {
    const name = positionals.length > 1 ? `PDU ${i + 1}` : 'PDU';
    const bytes = fromHex(h);
    if (!bytes || bytes.length === 0) throw new CliError(`${name}: not hex (${h.length > 40 ? `${h.slice(0, 40)}...` : h})`);
    const r = decodeSmsPdu(bytes, { smsc });
    if (!r.ok) throw new CliError(`${name}: ${r.error.message}${r.error.offset === undefined ? '' : ` at byte ${r.error.offset}`}`);
    return r.value;
  });
  const re = new Reassembler();
  const pushes: { parts: number; content?: WapPushContent; error?: string }[] = [];
  for (const s of decoded) {
    if (!isWapPushSms(s)) continue;
    const whole = re.add(s.to?.number ?? s.from?.number ?? '', s);
    if (!whole) continue;
    const w = readWapPush(whole.data);
    pushes.push(w.ok ? { parts: whole.parts, content: w.value } : { parts: whole.parts, error: w.error });
  }
  const incomplete = re.openMessages;
  if (values.json) {
    const messages = decoded.map(json);
    const wap = pushes.map((p) => (p.content ? { parts: p.parts, ...pushJson(p.content) } : p));
    const out = positionals.length === 1 ? { ...messages[0], ...(wap[0] ? { wapPush: wap[0] } : {}) } : { messages, wapPush: wap, incompleteMessages: incomplete };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  }
  process.stdout.write(`${decoded.map(text).join('\n\n')}\n`);
  for (const p of pushes) process.stdout.write(`\n${p.content ? pushText(p.content, p.parts) : `WAP push: cannot decode: ${p.error}`}\n`);
  if (incomplete) process.stdout.write(`\n${incomplete} concatenated message(s) incomplete: give all parts to see the WAP push\n`);
  return 0;
}
