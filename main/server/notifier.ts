/**
 * Telling a device to call now (DM-1): the server builds notification package #0 and hands it to a
 * Notifier. The HTTP notifier posts it to a virtual handset's URL; SMS / WAP push notifiers
 * implement the same interface later (main/notify/ will own the package #0 and push encodings).
 */
import { hmacMac, nonceBytes } from '../protocol/auth.js';
import type { Credential } from './config.js';

export type UiMode = 0 | 1 | 2 | 3;

export interface NotificationRequest {
  devId: string;
  serverId: string;
  /** 16-bit session id; the device puts it in SyncHdr SessionID as uppercase hex. */
  sessionId: number;
  uiMode: UiMode;
  /** The encoded package #0. */
  package0: Uint8Array;
}

export interface NotifyTarget {
  devId: string;
  /** Where the device listens (HTTP notifier); other notifiers use their own addressing. */
  notifyUrl?: string;
}

export interface NotifyResult {
  ok: boolean;
  detail: string;
}

export interface Notifier {
  readonly name: string;
  notify(target: NotifyTarget, req: NotificationRequest): Promise<NotifyResult>;
}

export const PACKAGE0_MEDIA_TYPE = 'application/vnd.syncml.notification';

export interface Package0Params {
  serverId: string;
  sessionId: number;
  uiMode: UiMode;
  /** 1 = server initiated (the usual case). */
  initiator?: 0 | 1;
  /** Server credentials (SRVCRED: AAuthName is the ServerID, AAuthSecret) and nonce (base64, AAuthData). */
  serverCred: Credential;
  serverNonce?: string;
  vendor?: Uint8Array;
}

/**
 * Package #0: digest(16) | version 10 bits (11 = 1.2) | ui-mode 2 | initiator 1 | future 27 |
 * session id 16 | server-id length 8 | server-id | vendor data.
 * digest = MD5(B64(MD5(serverid:password)) ":" nonce ":" B64(MD5(trigger))), the HMAC construction.
 */
export function buildPackage0(p: Package0Params): Uint8Array {
  const id = Buffer.from(p.serverId, 'utf8');
  if (id.length > 255) throw new Error('server id longer than 255 bytes');
  if (!Number.isInteger(p.sessionId) || p.sessionId < 0 || p.sessionId > 0xffff) throw new Error('session id must fit 16 bits');
  const trigger = Buffer.alloc(8 + id.length + (p.vendor?.length ?? 0));
  const version = 11;
  // 40 bits: version(10) ui(2) initiator(1) future(27).
  const hi = (version << 6) | (p.uiMode << 4) | ((p.initiator ?? 1) << 3);
  trigger[0] = hi >> 8;
  trigger[1] = hi & 0xff;
  trigger.writeUInt16BE(p.sessionId, 5);
  trigger[7] = id.length;
  id.copy(trigger, 8);
  if (p.vendor) Buffer.from(p.vendor).copy(trigger, 8 + id.length);
  const nonce = p.serverNonce ? nonceBytes(p.serverNonce) : new Uint8Array();
  const digest = Buffer.from(hmacMac(p.serverCred.name, p.serverCred.secret, nonce, trigger), 'base64');
  return new Uint8Array(Buffer.concat([digest, trigger]));
}

/** Posts package #0 to the device's notify URL (virtual handsets listen on HTTP). */
export class HttpNotifier implements Notifier {
  readonly name = 'http';
  constructor(private readonly timeoutMs = 5000) {}

  async notify(target: NotifyTarget, req: NotificationRequest): Promise<NotifyResult> {
    if (!target.notifyUrl) return { ok: false, detail: `device ${target.devId} has no notify URL` };
    try {
      const res = await fetch(target.notifyUrl, {
        method: 'POST',
        headers: { 'content-type': PACKAGE0_MEDIA_TYPE },
        body: req.package0,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? { ok: true, detail: `HTTP ${res.status} from ${target.notifyUrl}` } : { ok: false, detail: `HTTP ${res.status} from ${target.notifyUrl}` };
    } catch (e) {
      return { ok: false, detail: `${target.notifyUrl}: ${(e as Error).message}` };
    }
  }
}
