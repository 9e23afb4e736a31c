/**
 * DM sessions out of HTTP exchanges: an exchange is DM when its request or response has a SyncML
 * media type (DM or data sync, XML or WBXML); exchanges are grouped into sessions by the DevId and
 * SessionID in their SyncHdr (so requests that followed a RespURI to another path or connection
 * stay in their session), a client MsgID 1 on a key already seen starting a new session. A request
 * that cannot be decoded joins the session whose RespURI it was sent to, else its connection's
 * current session. Pure.
 */
import { authTypeFromMeta } from '../protocol/auth.js';
import { decodeMessage, DM_MESSAGE_MEDIA_TYPES } from '../protocol/codec.js';
import type { SyncML } from '../protocol/model.js';
import type { ImportedMessage, ImportedSession } from './bundle.js';

export interface WireMessage {
  bytes: Uint8Array;
  /** A request's target (path and query, or an absolute URI); null for responses. */
  target?: string | null;
  contentType: string | null;
  httpStatus: number | null;
  headers: Map<string, string>;
  tsMicros: number;
}

export interface DmExchange {
  /** The connection it came on (label). */
  stream: string;
  request: WireMessage | null;
  response: WireMessage | null;
}

/** The media type without parameters, lower case. */
export function baseMediaType(ct: string | null | undefined): string {
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isDmMediaType(ct: string | null | undefined): boolean {
  return Object.hasOwn(DM_MESSAGE_MEDIA_TYPES, baseMediaType(ct));
}

export interface DecodedImport {
  session: ImportedSession;
  /** Per message (same order): the decoded form, for the credential check. */
  decoded: (SyncML | undefined)[];
  /** Per message: the HTTP headers it came with. */
  headers: Map<string, string>[];
}

/** Path and query of a URI or request target, the form both sides of a RespURI comparison take. */
function pathAndQuery(u: string | null | undefined): string | undefined {
  if (!u) return undefined;
  if (u.startsWith('/')) return u;
  try {
    const url = new URL(u);
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

function decode(w: WireMessage | null): SyncML | undefined {
  if (!w || w.bytes.length === 0) return undefined;
  const d = decodeMessage(w.bytes);
  return d.ok ? d.value.message : undefined;
}

function toMessage(w: WireMessage, direction: 'in' | 'out', m: SyncML | undefined, durationMs: number | null): ImportedMessage {
  return {
    direction, at: Math.floor(w.tsMicros / 1000), bytes: w.bytes, msgId: m?.hdr.msgID ?? null, contentType: w.contentType,
    httpStatus: direction === 'out' ? w.httpStatus : null, durationMs, note: null,
  };
}

export function groupDmSessions(exchanges: readonly DmExchange[]): DecodedImport[] {
  const ordered = [...exchanges].sort((a, b) => (a.request?.tsMicros ?? a.response?.tsMicros ?? 0) - (b.request?.tsMicros ?? b.response?.tsMicros ?? 0));
  const byKey = new Map<string, DecodedImport>();
  const byStream = new Map<string, DecodedImport>();
  const byRespUri = new Map<string, DecodedImport>();
  const out: DecodedImport[] = [];
  for (const x of ordered) {
    const req = decode(x.request);
    const res = decode(x.response);
    const devId = req?.hdr.source.locURI ?? res?.hdr.target.locURI;
    const sid = req?.hdr.sessionID ?? res?.hdr.sessionID;
    let s: DecodedImport | undefined;
    if (devId !== undefined && sid !== undefined) {
      const key = `${devId}\u0000${sid}`;
      s = byKey.get(key);
      if (s && req?.hdr.msgID === '1' && s.session.messages.length > 0) s = undefined;
      if (!s) {
        const cred = req?.hdr.cred?.meta?.type;
        const first = x.request ?? x.response!;
        const enc = DM_MESSAGE_MEDIA_TYPES[baseMediaType(first.contentType)] ?? null;
        s = { session: { device: devId, dmSessionId: sid, encoding: enc, authType: cred ? (authTypeFromMeta(cred) ?? cred) : null, messages: [] }, decoded: [], headers: [] };
        byKey.set(key, s);
        out.push(s);
      }
    } else {
      const viaRespUri = pathAndQuery(x.request?.target);
      s = (viaRespUri !== undefined ? byRespUri.get(viaRespUri) : undefined) ?? byStream.get(x.stream);
      if (!s) {
        s = { session: { device: null, dmSessionId: null, encoding: null, authType: null, messages: [] }, decoded: [], headers: [] };
        out.push(s);
      }
    }
    byStream.set(x.stream, s);
    const respUri = pathAndQuery(res?.hdr.respURI);
    if (respUri !== undefined) byRespUri.set(respUri, s);
    if (s.session.authType === null && req?.hdr.cred?.meta?.type) s.session.authType = authTypeFromMeta(req.hdr.cred.meta.type) ?? req.hdr.cred.meta.type;
    if (x.request && isDmMediaType(x.request.contentType)) {
      const m = toMessage(x.request, 'in', req, null);
      // Answered with something that is not a DM message (a refusal): the status goes on the request, as the server logs it.
      if (x.response && !isDmMediaType(x.response.contentType)) m.httpStatus = x.response.httpStatus;
      s.session.messages.push(m);
      s.decoded.push(req);
      s.headers.push(x.request.headers);
    }
    if (x.response && isDmMediaType(x.response.contentType)) {
      const took = x.request ? Math.max(0, (x.response.tsMicros - x.request.tsMicros) / 1000) : null;
      s.session.messages.push(toMessage(x.response, 'out', res, took));
      s.decoded.push(res);
      s.headers.push(x.response.headers);
    }
  }
  return out.filter((s) => s.session.messages.length > 0);
}
