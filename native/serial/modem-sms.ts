/**
 * Sends SMS-SUBMIT PDUs through an AT modem (TS 27.005 PDU mode): AT+CMGF=0 once, then per part
 * AT+CMGS=<TPDU length>, the `> ` prompt, the PDU and Ctrl-Z, and +CMGS: <mr>. Stops at the first part
 * that fails: the rest of a concatenated message is useless without it, and is recorded `not-sent`.
 */
import type { SmsPart } from '../../main/notify/wap-push.js';
import type { SmsSendOutcome, SmsSendRecord, SmsTransport } from '../../main/notify/notifier.js';
import { AtTimeoutError, type AtChannel } from './at.js';
import { PortGoneError } from './link.js';

export class ModemSmsTransport implements SmsTransport {
  private pduModeSet = false;
  constructor(private readonly at: AtChannel) {}

  async sendParts(parts: readonly SmsPart[]): Promise<SmsSendOutcome> {
    const records: SmsSendRecord[] = parts.map((p) => ({
      seq: p.seq,
      total: p.total,
      ...(p.ref === undefined ? {} : { ref: p.ref }),
      pduHex: p.pduHex,
      tpduLength: p.tpduLength,
      status: 'not-sent',
      modemAnswer: [],
    }));
    if (!this.pduModeSet) {
      try {
        const r = await this.at.exec('AT+CMGF=0');
        if (!r.ok) return { records, error: `AT+CMGF=0 (PDU mode): ${r.explanation}` };
        this.pduModeSet = true;
      } catch (e) {
        return { records, error: describe(e, 'AT+CMGF=0') };
      }
    }
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const rec = records[i]!;
      const out = await this.at.sendPdu(part.tpduLength, part.pduHex);
      if (out.response) {
        rec.modemAnswer = [...out.response.lines, out.response.final];
        if (out.response.ok) {
          const m = out.response.lines.map((l) => /^\+CMGS:\s*(\d+)/i.exec(l)).find((x) => x);
          rec.status = 'sent';
          if (m) rec.messageRef = Number(m[1]);
          continue;
        }
        rec.status = 'failed';
        rec.error = out.response.explanation;
        return { records, error: `part ${part.seq}/${part.total}: ${out.response.explanation}` };
      }
      // No answer: a part whose PDU reached the modem may still go out, but we cannot say it did.
      rec.status = out.pduWritten ? 'unconfirmed' : 'not-sent';
      rec.error = describe(out.error, `AT+CMGS=${part.tpduLength}`);
      const how = out.pduWritten ? 'PDU handed to the modem, no confirmation' : 'not handed to the modem';
      return { records, error: `part ${part.seq}/${part.total}: ${rec.error} (${how})` };
    }
    return { records };
  }
}

function describe(e: unknown, command: string): string {
  if (e instanceof PortGoneError) return `${command}: ${e.message}`;
  if (e instanceof AtTimeoutError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
