/**
 * DM-1 delivery through SMS: a Notifier takes a device and its package #0 and reports what happened to
 * every SMS part. Standalone on purpose: the DM server decides where a notifier plugs in; anything that
 * can send SMS PDUs (an AT modem in native/serial, a test double) is an SmsTransport.
 */
import { toHex } from './bytes.js';
import { ConcatRefCounter, buildNotificationPush, buildWapPushSms, type SmsPart } from './wap-push.js';

export type PartStatus =
  | 'sent' // the modem answered +CMGS: <mr> and OK
  | 'failed' // the modem refused it (ERROR / +CMS ERROR)
  | 'unconfirmed' // handed to the modem, but the port went away (or timed out) before it answered
  | 'not-sent'; // never handed to the modem

export interface SmsSendRecord {
  seq: number;
  total: number;
  ref?: number;
  pduHex: string;
  tpduLength: number;
  status: PartStatus;
  /** TP-MR the modem assigned (from +CMGS: <mr>). */
  messageRef?: number;
  /** Why it failed, in words (the +CMS code explained). */
  error?: string;
  /** Lines the modem answered for this part. */
  modemAnswer: string[];
}

export interface SmsSendOutcome {
  records: SmsSendRecord[];
  /** Set when sending stopped early (modem error, port gone, timeout). */
  error?: string;
}

export interface SmsTransport {
  sendParts(parts: readonly SmsPart[]): Promise<SmsSendOutcome>;
}

export interface NotifyDevice {
  /** Where the SMS goes. */
  msisdn: string;
  devId?: string;
}

export interface NotifyReport {
  ok: boolean;
  to: string;
  wspHex: string;
  parts: SmsSendRecord[];
  detail: string;
}

/** The shape the DM server plugs notifiers in by. */
export interface Notifier<Device = NotifyDevice, Report = NotifyReport> {
  notify(device: Device, pkg0: Uint8Array): Promise<Report>;
}

export interface SmsNotifierOptions {
  refs?: ConcatRefCounter;
  sourcePort?: number;
  destinationPort?: number;
}

/** Any WSP push PDU to a number, split as needed, with a per-part record. */
export async function pushWsp(transport: SmsTransport, to: string, wsp: Uint8Array, o: SmsNotifierOptions = {}): Promise<NotifyReport> {
  const refs = o.refs ?? new ConcatRefCounter();
  const parts = buildWapPushSms({ to, wsp, ref: refs.take(), ...(o.sourcePort === undefined ? {} : { sourcePort: o.sourcePort }), ...(o.destinationPort === undefined ? {} : { destinationPort: o.destinationPort }) });
  const outcome = await transport.sendParts(parts);
  const sent = outcome.records.filter((r) => r.status === 'sent').length;
  const ok = !outcome.error && sent === parts.length;
  const detail = ok ? `${parts.length} SMS part(s) sent to ${to}` : `${sent} of ${parts.length} SMS part(s) sent to ${to}${outcome.error ? `: ${outcome.error}` : ''}`;
  return { ok, to, wspHex: toHex(wsp), parts: outcome.records, detail };
}

export class SmsWapPushNotifier implements Notifier {
  private readonly refs: ConcatRefCounter;
  constructor(
    private readonly transport: SmsTransport,
    private readonly options: SmsNotifierOptions = {},
  ) {
    this.refs = options.refs ?? new ConcatRefCounter();
  }

  notify(device: NotifyDevice, pkg0: Uint8Array): Promise<NotifyReport> {
    return pushWsp(this.transport, device.msisdn, buildNotificationPush(pkg0), { ...this.options, refs: this.refs });
  }
}
