/**
 * The server's notifier for handsets reached by SMS: a device whose notify address is `sms:<MSISDN>`
 * (RFC 5724) gets package #0 as a WAP push through a modem (main/notify builds the PDUs, a transport
 * such as native/serial's ModemSmsTransport sends them). Other devices are left to the next notifier.
 */
import type { NotifyDevice, NotifyReport } from '../notify/notifier.js';
import type { NotificationRequest, Notifier, NotifyResult, NotifyTarget } from './notifier.js';

/** What sends package #0 to an MSISDN (main/notify's SmsWapPushNotifier). */
export interface SmsPackage0Sender {
  notify(device: NotifyDevice, pkg0: Uint8Array): Promise<NotifyReport>;
}

export class SmsNotifier implements Notifier {
  readonly name = 'sms';
  constructor(private readonly sender: SmsPackage0Sender) {}

  async notify(target: NotifyTarget, req: NotificationRequest): Promise<NotifyResult> {
    const msisdn = smsAddress(target.notifyUrl);
    if (msisdn === undefined) return { ok: false, detail: `device ${target.devId} has no sms: notify address` };
    const report = await this.sender.notify({ msisdn, devId: target.devId }, req.package0);
    return { ok: report.ok, detail: `SMS to ${msisdn}: ${report.detail}` };
  }
}

/** `sms:+491701234567` -> `+491701234567`; anything else (an http: URL, a malformed number) -> undefined. */
export function smsAddress(notifyUrl: string | undefined): string | undefined {
  return /^sms:(\+?[0-9]{3,20})$/.exec(notifyUrl?.trim() ?? '')?.[1];
}
