/**
 * Telling a device to call now (DM-1): the server builds notification package #0 and hands it to a
 * Notifier. The HTTP notifier posts it to a virtual handset's URL; SMS / WAP push notifiers
 * implement the same interface later (main/notify/ will own the package #0 and push encodings).
 */
import { nonceBytes } from '../protocol/auth.js';
import type { Credential } from './config.js';
import { PACKAGE0_MEDIA_TYPE, PACKAGE0_VERSION, UI_MODES, encodeTrigger, package0Digest } from '../notify/package0.js';

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

export { PACKAGE0_MEDIA_TYPE };

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
 * Package #0 for a notification from this server (the wire format and digest: main/notify/package0.ts).
 * The digest is keyed with the server credential's name, which is the ServerID when the server
 * credential follows SRVCRED (AAuthName = ServerID).
 */
export function buildPackage0(p: Package0Params): Uint8Array {
  const trigger = encodeTrigger({ version: PACKAGE0_VERSION, uiMode: UI_MODES[p.uiMode], initiator: (p.initiator ?? 1) === 1 ? 'server' : 'user', sessionId: p.sessionId, serverId: p.serverId, ...(p.vendor ? { vendorData: p.vendor } : {}) });
  const nonce = p.serverNonce ? nonceBytes(p.serverNonce) : new Uint8Array();
  const digest = package0Digest(p.serverCred.name, { secret: p.serverCred.secret, nonce }, trigger);
  const out = new Uint8Array(digest.length + trigger.length);
  out.set(digest, 0);
  out.set(trigger, digest.length);
  return out;
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
