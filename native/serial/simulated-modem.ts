/**
 * A simulated handset / modem for the far end of a socat pty pair (or an in-memory link): it answers
 * identity queries, ATE / +CMEE / +CMGF, AT+CMGS with the `> ` prompt and Ctrl-Z, decodes the PDUs,
 * reassembles concatenated messages and reports WAP push content.
 *
 * The hook for virtual handsets: `onWapPush` (option) or the 'notification' event gives the package #0
 * addressed to an MSISDN; whoever owns the virtual handset with that MSISDN starts its DM session there.
 *
 * Faults for tests: a +CMS error on part N, a part N that is received but never answered (so the test
 * can pull the port), commands that are never answered, a URC slipped in before a final result.
 */
import { EventEmitter } from 'node:events';
import { fromHex, toHex } from '../../main/notify/bytes.js';
import { decodeSmsPdu, Reassembler, type DecodedSms } from '../../main/notify/sms.js';
import { isWapPushSms, readWapPush, type WapPushContent } from '../../main/notify/wap-push.js';
import { CME_ERRORS, CMS_ERRORS } from './at-errors.js';
import { openSerialLink, type ByteLink, type LineSettings } from './link.js';
import type { ApduTransport } from './sim-access.js';

/**
 * Bounds on what the modem buffers from a sender (a real modem's buffers are finite too). Without them
 * a sender that never types CR (or Ctrl-Z) grew the buffer without bound (found by fuzzing).
 * A command line: V.250 asks for at least 40 characters; 4 KiB is far past any real command.
 */
export const MAX_COMMAND_LINE = 4096;
/** Octets of the SMSC address field before the TPDU at most: its length octet, type, 10 octets of digits. */
const MAX_SMSC_OCTETS = 12;
/** PDU text allowed after AT+CMGS=<n>: 2 hex digits per octet of SMSC field and TPDU, and some slack. */
export function maxPduText(tpduLength: number): number {
  return 2 * (tpduLength + MAX_SMSC_OCTETS + 1) + 16;
}

export interface HandsetProfile {
  manufacturer: string;
  model: string;
  revision: string;
  imei: string;
  /** Empty string: no SIM inserted (+CIMI answers +CME ERROR: 10). */
  imsi: string;
  iccid: string;
}

export const DEFAULT_PROFILE: HandsetProfile = {
  manufacturer: 'DMW',
  model: 'SimHandset-1',
  revision: 'SIM1.0.0',
  imei: '490154203237518',
  imsi: '001010123456789',
  iccid: '8901260123456789012',
};

export interface ModemFaults {
  /** Answer this 1-based CMGS part with +CMS ERROR: code (default 38, network out of order). */
  cmsErrorOnPart?: number;
  cmsErrorCode?: number;
  /** Take this part's PDU but never answer (emits 'stalled'): the test then pulls the port. */
  stallOnPart?: number;
  /** Commands (matched against the text after AT) that are never answered. */
  silent?: RegExp;
  /** A URC sent between a command's information lines and its final result. */
  urcBeforeFinal?: string;
}

export interface DeliveredPush {
  /** The destination of the SMS: the MSISDN of the handset the push is for. */
  to: string;
  parts: number;
  destinationPort: number;
  data: Uint8Array;
  content?: WapPushContent;
  error?: string;
}

export interface SimulatedModemOptions {
  profile?: Partial<HandsetProfile>;
  /** Echo at power-on (real modems start with E1). */
  echo?: boolean;
  /** Message format at power-on: 1 (text) so a sender that forgets AT+CMGF=0 is caught. */
  cmgf?: 0 | 1;
  cmee?: 0 | 1 | 2;
  /** Generic SIM access (AT+CSIM) goes to this card; without one AT+CSIM answers +CME ERROR: 4. */
  sim?: ApduTransport;
  /** AT+CCID supported (else the ICCID is only readable through AT+CRSM). */
  ccid?: boolean;
  faults?: ModemFaults;
  onWapPush?: (push: DeliveredPush) => void | Promise<void>;
}

export interface ReceivedSms {
  part: number;
  messageRef: number;
  pduHex: string;
  sms: DecodedSms;
}

export interface SimulatedModemEvents {
  command: [line: string];
  sms: [sms: ReceivedSms];
  'wap-push': [push: DeliveredPush];
  notification: [push: DeliveredPush];
  stalled: [part: number];
}

export class SimulatedModem extends EventEmitter<SimulatedModemEvents> {
  readonly profile: HandsetProfile;
  private echo: boolean;
  private cmgf: 0 | 1;
  private cmee: 0 | 1 | 2;
  private buf = '';
  /** The command line in progress passed MAX_COMMAND_LINE: it ends in ERROR at its CR. */
  private bufOverflow = false;
  /** `overflow`: more PDU text than AT+CMGS=<n> allows came; it ends in +CMS ERROR at its Ctrl-Z. */
  private pduEntry?: { length: number; text: string; overflow?: boolean };
  private mr = 0;
  private parts = 0;
  private readonly reassembler = new Reassembler();
  /** Every command line received, in order. */
  readonly commands: string[] = [];

  constructor(
    readonly link: ByteLink,
    private readonly options: SimulatedModemOptions = {},
  ) {
    super();
    this.profile = { ...DEFAULT_PROFILE, ...options.profile };
    this.echo = options.echo ?? true;
    this.cmgf = options.cmgf ?? 1;
    this.cmee = options.cmee ?? 0;
    link.on('data', (d) => this.onData(d));
  }

  static async onPort(path: string, options: SimulatedModemOptions = {}, line: LineSettings = {}): Promise<SimulatedModem> {
    return new SimulatedModem(await openSerialLink(path, line), options);
  }

  close(): Promise<void> {
    return this.link.close();
  }

  private send(text: string): void {
    if (this.link.isOpen) this.link.write(text).catch(() => undefined);
  }

  private reply(lines: string[], final = 'OK'): void {
    const urc = this.options.faults?.urcBeforeFinal;
    this.send(lines.map((l) => `\r\n${l}\r\n`).join('') + (urc ? `\r\n${urc}\r\n` : '') + `\r\n${final}\r\n`);
  }

  private cmeError(code: number): string {
    return this.cmee === 0 ? 'ERROR' : `+CME ERROR: ${this.cmee === 2 ? CME_ERRORS[code] : code}`;
  }

  private cmsError(code: number): string {
    return this.cmee === 0 ? 'ERROR' : `+CMS ERROR: ${this.cmee === 2 ? CMS_ERRORS[code] : code}`;
  }

  private onData(chunk: Uint8Array): void {
    const text = Buffer.from(chunk).toString('latin1');
    for (const ch of text) {
      if (this.pduEntry) {
        if (this.echo) this.send(ch);
        if (ch === '\x1a') {
          const entry = this.pduEntry;
          this.pduEntry = undefined;
          if (entry.overflow) {
            this.parts++;
            this.reply([], this.cmsError(304)); // invalid PDU mode parameter
          } else void this.onPdu(entry.length, entry.text);
        } else if (ch === '\x1b') {
          this.pduEntry = undefined;
          this.reply([]);
        } else if (ch !== '\r' && ch !== '\n' && !this.pduEntry.overflow) {
          // Past what the declared length allows, the text is dropped (not kept growing); like a real
          // modem, the entry still ends at Ctrl-Z (or ESC), with +CMS ERROR: 304, so the sender stays in step.
          if (this.pduEntry.text.length >= maxPduText(this.pduEntry.length)) {
            this.pduEntry.overflow = true;
            this.pduEntry.text = '';
          } else this.pduEntry.text += ch;
        }
        continue;
      }
      if (ch === '\r' || ch === '\n') {
        if (this.bufOverflow) {
          // V.250 §5.2.1: a command line longer than the modem takes is answered ERROR once terminated.
          this.bufOverflow = false;
          this.buf = '';
          this.reply([], 'ERROR');
          continue;
        }
        // V.250: anything before the "AT" prefix (an ESC, line noise) is ignored.
        const at = this.buf.search(/AT/i);
        const line = (at > 0 ? this.buf.slice(at) : this.buf).trim();
        this.buf = '';
        if (!line) continue;
        if (this.echo) this.send(`${line}\r`);
        void this.onCommand(line);
      } else if (this.bufOverflow) continue;
      else if (this.buf.length >= MAX_COMMAND_LINE) {
        this.bufOverflow = true;
        this.buf = '';
      } else this.buf += ch;
    }
  }

  private async onCommand(line: string): Promise<void> {
    this.commands.push(line);
    this.emit('command', line);
    if (!/^AT/i.test(line)) return this.reply([], 'ERROR');
    const body = line.slice(2);
    const up = body.toUpperCase();
    if (this.options.faults?.silent?.test(body)) return;
    const p = this.profile;
    let m: RegExpExecArray | null;
    if (up === '') return this.reply([]);
    if ((m = /^E([01]?)$/.exec(up))) {
      this.echo = m[1] === '1';
      return this.reply([]);
    }
    if (up === 'I') return this.reply([p.manufacturer, p.model, `Revision: ${p.revision}`]);
    if (up === '+CGMI' || up === '+GMI') return this.reply([p.manufacturer]);
    if (up === '+CGMM' || up === '+GMM') return this.reply([p.model]);
    if (up === '+CGMR' || up === '+GMR') return this.reply([p.revision]);
    if (up === '+CGSN' || up === '+GSN') return this.reply([p.imei]);
    if (up === '+CIMI') return p.imsi ? this.reply([p.imsi]) : this.reply([], this.cmeError(10));
    if (up === '+CCID') {
      if (this.options.ccid === false) return this.reply([], 'ERROR');
      return p.imsi ? this.reply([`+CCID: ${p.iccid}`]) : this.reply([], this.cmeError(10));
    }
    if ((m = /^\+CMEE=([012])$/.exec(up))) {
      this.cmee = Number(m[1]) as 0 | 1 | 2;
      return this.reply([]);
    }
    if (up === '+CMEE?') return this.reply([`+CMEE: ${this.cmee}`]);
    if ((m = /^\+CMGF=([01])$/.exec(up))) {
      this.cmgf = Number(m[1]) as 0 | 1;
      return this.reply([]);
    }
    if (up === '+CMGF?') return this.reply([`+CMGF: ${this.cmgf}`]);
    if ((m = /^\+CRSM=(\d+),(\d+)(?:,(\d+),(\d+),(\d+))?/.exec(up))) return this.crsm(Number(m[1]), Number(m[2]));
    if ((m = /^\+CSIM=(\d+),"?([0-9A-F]*)"?$/.exec(up))) return this.csim(Number(m[1]), m[2]!);
    if ((m = /^\+CMGS=(.*)$/.exec(up))) {
      if (this.cmgf !== 0) return this.reply([], this.cmsError(305)); // text mode wants "number", not a length
      const n = Number(m[1]);
      if (!Number.isInteger(n) || n < 1 || n > 255) return this.reply([], this.cmsError(304));
      this.pduEntry = { length: n, text: '' };
      return this.send('\r\n> ');
    }
    return this.reply([], 'ERROR');
  }

  private crsm(command: number, fileId: number): void {
    if (!this.profile.imsi) return this.reply([], this.cmeError(10));
    if (command !== 176) return this.reply(['+CRSM: 109,0,""']); // 6D00: instruction not supported
    if (fileId === 0x2fe2) {
      const digits = this.profile.iccid.padEnd(20, 'F');
      let ef = '';
      for (let i = 0; i < 20; i += 2) ef += digits[i + 1]! + digits[i]!;
      return this.reply([`+CRSM: 144,0,"${ef}"`]);
    }
    if (fileId === 0x6f07) {
      const d = this.profile.imsi;
      const s = (d.length % 2 ? '9' : '1') + d + (d.length % 2 ? '' : 'F');
      let ef = (s.length / 2).toString(16).padStart(2, '0').toUpperCase();
      for (let i = 0; i < s.length; i += 2) ef += s[i + 1]! + s[i]!;
      return this.reply([`+CRSM: 144,0,"${ef}"`]);
    }
    return this.reply(['+CRSM: 106,130,""']); // 6A82: file not found
  }

  private async csim(length: number, hex: string): Promise<void> {
    if (!this.options.sim) return this.reply([], this.cmeError(4));
    const apdu = fromHex(hex);
    if (!apdu || length !== hex.length) return this.reply([], this.cmeError(50));
    try {
      const rsp = toHex(await this.options.sim.transmit(apdu));
      this.reply([`+CSIM: ${rsp.length},"${rsp}"`]);
    } catch {
      this.reply([], this.cmeError(13));
    }
  }

  private async onPdu(length: number, text: string): Promise<void> {
    const part = ++this.parts;
    const f = this.options.faults ?? {};
    const bytes = fromHex(text);
    if (!bytes || bytes.length < 1) return this.reply([], this.cmsError(304));
    const tpduLength = bytes.length - 1 - bytes[0]!;
    if (tpduLength !== length) return this.reply([], this.cmsError(304));
    const d = decodeSmsPdu(bytes, { smsc: 'yes' });
    if (!d.ok || d.value.type !== 'SMS-SUBMIT') return this.reply([], this.cmsError(304));
    if (f.stallOnPart === part) {
      this.emit('stalled', part);
      return;
    }
    if (f.cmsErrorOnPart === part) return this.reply([], this.cmsError(f.cmsErrorCode ?? 38));
    this.mr = (this.mr + 1) & 0xff;
    this.reply([`+CMGS: ${this.mr}`]);
    const sms = d.value;
    this.emit('sms', { part, messageRef: this.mr, pduHex: text.toUpperCase(), sms });
    if (!isWapPushSms(sms)) return;
    const to = sms.to?.number ?? '';
    const whole = this.reassembler.add(to, sms);
    if (!whole) return;
    const push: DeliveredPush = { to, parts: whole.parts, destinationPort: sms.udh!.ports!.destination, data: whole.data };
    const w = readWapPush(whole.data);
    if (w.ok) push.content = w.value;
    else push.error = w.error;
    this.emit('wap-push', push);
    if (push.content?.package0) this.emit('notification', push);
    await this.options.onWapPush?.(push);
  }
}
