/**
 * Input the server refuses before any session work (unreadable, oversized, misaddressed, header
 * values over their limits), and where it goes: into the log when the store may have it (a session
 * in the store, or any input when client auth is 'none': there is no one to wait for), otherwise
 * only into the ring of refusals before authentication (pre-auth.ts), so that a stranger cannot
 * grow the store. The answer is an HTTP error, or a SyncML message holding only a SyncHdr status
 * when the header can still be read (and its values are within their limits).
 */
import { decodeDocument, encodeMessage, sniffEncoding, type Encoding } from '../protocol/codec.js';
import { describeCodecError, type CodecError } from '../protocol/errors.js';
import { readHeader } from '../protocol/message/read.js';
import type { SyncHdr, SyncML } from '../protocol/model.js';
import type { DmStore } from '../store/store.js';
import type { EngineConfig } from './config.js';
import type { ServerEvent } from './events.js';
import { checkHeaderLimits } from './header-limits.js';
import type { IncomingBody, OutgoingResponse } from './http.js';
import type { Live } from './live-sessions.js';
import type { PreAuthDesk } from './pre-auth.js';
import { sourceAddressKey } from './source-address.js';
import { iso } from '../util/iso-time.js';

export interface RejectionContext {
  store: DmStore;
  config: EngineConfig;
  desk: PreAuthDesk;
  /** The next message number of a live session (undefined: the store counts). */
  takeSeq(sessionId: number): number | undefined;
  emit(e: ServerEvent): void;
  now(): number;
}

type Received = Omit<IncomingBody, 'bytes'> & { bytes: Uint8Array };

export class Rejections {
  constructor(private readonly c: RejectionContext) {}

  /** Input that may be logged: into a session in the store, or any when client auth is 'none'. */
  keepsLog(live: Live | undefined): boolean {
    return this.c.config.clientAuth === 'none' || (live !== undefined && !live.preAuth);
  }

  /** Refused with HTTP `status`: logged (into `live`, or a rejected session of its own) when the store may have it, else counted. */
  async reject(r: Received, live: Live | undefined, status: number, reason: string, now: number, o: { devId?: string; logReason?: string; body?: string } = {}): Promise<OutgoingResponse> {
    if (this.keepsLog(live)) {
      const sessionId = await this.log(live?.id, r.bytes, r.contentType, now, status, o.logReason ?? reason);
      this.c.emit({ type: 'rejected', at: iso(now), sessionId, httpStatus: status, reason });
    } else this.count(r, status, reason, now, o.devId);
    return text(status, o.body ?? `${reason}\n`);
  }

  /** Logs bytes that could not start or join a session; returns the session they were filed under. */
  log(sessionId: number | undefined, bytes: Uint8Array, contentType: string, now: number, httpStatus: number, reason: string): Promise<number> {
    // Numbered before the transaction: anything else logged into the session meanwhile comes after.
    const seq = sessionId !== undefined ? this.c.takeSeq(sessionId) : undefined;
    return this.c.store.tx(async (s) => {
      const id = sessionId ?? await s.createSession({ device: null, dmSessionId: null, encoding: sniffEncoding(bytes) ?? null, state: 'rejected', reason }, now);
      await s.addMessage({ sessionId: id, seq, direction: 'in', at: now, bytes, contentType, httpStatus, decoded: null, error: reason, msgId: null });
      return id;
    });
  }

  /**
   * A body that is not a valid DM message. When its SyncHdr can still be read, the device gets a
   * SyncML answer (SyncHdr status 400) in its own encoding; otherwise HTTP 400.
   */
  malformed(r: IncomingBody, live: Live | undefined, error: CodecError, now: number): Promise<OutgoingResponse> {
    const reason = describeCodecError(error);
    const enc = sniffEncoding(r.bytes);
    const hdr = enc ? readHeaderOnly(r.bytes) : undefined;
    if (hdr && enc && !checkHeaderLimits({ hdr, body: { commands: [], final: true } }, this.c.config.limits)) {
      return this.syncmlError(r, hdr, enc, live, 400, `malformed message: ${reason}`, now, true);
    }
    return this.reject(r, live, 400, `malformed message: ${reason}`, now, { body: `malformed SyncML DM message: ${reason}\n` });
  }

  /** Answers with only a SyncHdr status and Final, logging both directions when the store may have them. */
  async syncmlError(r: IncomingBody, hdr: SyncHdr, encoding: Encoding, live: Live | undefined, code: number, reason: string, now: number, malformed = false): Promise<OutgoingResponse> {
    const { store, config } = this.c;
    const reply: SyncML = {
      hdr: { verDTD: hdr.verDTD, verProto: hdr.verProto, sessionID: hdr.sessionID, msgID: '1', target: { locURI: hdr.source.locURI }, source: { locURI: config.serverUri } },
      body: { commands: [{ kind: 'Status', cmdID: '1', msgRef: hdr.msgID, cmdRef: '0', cmd: 'SyncHdr', targetRefs: [hdr.target.locURI], sourceRefs: [hdr.source.locURI], data: String(code), items: [] }], final: true },
    };
    const bytes = encodeMessage(reply, encoding);
    if (!bytes.ok) return text(400, `${reason}\n`);
    const answer: OutgoingResponse = { status: 200, headers: { 'content-type': r.contentType }, body: bytes.value };
    if (!this.keepsLog(live)) {
      this.count(r, 200, `SyncHdr ${code}: ${reason}`, now, hdr.source.locURI);
      return answer;
    }
    const inSeq = live ? this.c.takeSeq(live.id) : undefined;
    const outSeq = live ? this.c.takeSeq(live.id) : undefined;
    const sessionId = await store.tx(async (s) => {
      const id = live?.id ?? await s.createSession({ device: hdr.source.locURI, dmSessionId: hdr.sessionID, encoding, state: 'rejected', reason }, now);
      await s.addMessage({ sessionId: id, seq: inSeq, direction: 'in', at: r.receivedAt, bytes: r.bytes, contentType: r.contentType, msgId: hdr.msgID, error: malformed ? reason : null, note: malformed ? null : reason });
      await s.addMessage({ sessionId: id, seq: outSeq, direction: 'out', at: this.c.now(), durationMs: this.c.now() - r.receivedAt, bytes: bytes.value, contentType: r.contentType, httpStatus: 200, msgId: '1' });
      return id;
    });
    this.c.emit({ type: 'rejected', at: iso(now), sessionId, httpStatus: 200, reason: `${code}: ${reason}` });
    return answer;
  }

  /** Counted in the ring of refusals before authentication (and announced), never stored. */
  private count(r: { remote: string }, httpStatus: number, reason: string, now: number, devId?: string): void {
    this.c.desk.note('rejected', { address: sourceAddressKey(r.remote), ...(devId !== undefined ? { devId } : {}), reason: `${httpStatus}: ${reason}`, now });
    this.c.emit({ type: 'rejected', at: iso(now), sessionId: null, httpStatus, reason });
  }
}

export function text(status: number, body: string): OutgoingResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

/** The SyncHdr of a document whose body is broken, so the answer can still be a SyncML status. */
function readHeaderOnly(bytes: Uint8Array): SyncHdr | undefined {
  const d = decodeDocument(bytes);
  if (!d.ok) return undefined;
  const h = readHeader(d.value.document.root);
  return h.ok ? h.value : undefined;
}
