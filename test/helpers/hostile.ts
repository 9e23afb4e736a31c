/**
 * A hostile local client for the DM server: package 1s with any DevId, SessionID and credentials,
 * posted from any loopback address (127.x.y.z via `localAddress`, so per-address rules can be
 * tested), many at once. Used by test/integration/server-hostile.test.ts and test/bench/suites/hostile.ts.
 */
import http from 'node:http';
import { randomInt } from 'node:crypto';
import { basicCredential, AUTH_META_TYPE } from '../../main/protocol/auth.js';
import { decodeMessage, encodeMessage, MEDIA_TYPES, type Encoding } from '../../main/protocol/codec.js';
import type { Command, Cred, Status, SyncML } from '../../main/protocol/model.js';

export interface Package1 {
  /** The server's URL (SyncHdr Target). */
  server: string;
  devId: string;
  sessionId?: string;
  msgId?: string;
  cred?: Cred;
  maxMsgSize?: number;
  encoding?: Encoding;
  /** Extra commands after Alert 1201 and the DevInfo Replace. */
  extra?: Command[];
  /** false: package 1 goes on in another message, so the session stays open (the server asks with Alert 1222). */
  final?: boolean;
}

export function package1(p: Package1): Uint8Array {
  const m: SyncML = {
    hdr: {
      verDTD: '1.2', verProto: 'DM/1.2', sessionID: p.sessionId ?? '1', msgID: p.msgId ?? '1',
      target: { locURI: p.server }, source: { locURI: p.devId },
      ...(p.cred ? { cred: p.cred } : {}),
      meta: { maxMsgSize: String(p.maxMsgSize ?? 16384) },
    },
    body: {
      commands: [
        { kind: 'Alert', cmdID: '1', data: '1201', items: [] },
        { kind: 'Replace', cmdID: '2', items: [{ source: { locURI: './DevInfo/DevId' }, meta: { format: 'chr' }, data: { kind: 'text', text: p.devId.slice(0, 64) } }] },
        ...(p.extra ?? []),
      ],
      final: p.final ?? true,
    },
  };
  const r = encodeMessage(m, p.encoding ?? 'xml');
  if (!r.ok) throw new Error(`cannot encode a package 1: ${r.error.message}`);
  return r.value;
}

/** A later message of a session: only the Status for the server's SyncHdr (not a package 1). */
export function followUp(p: { server: string; devId: string; sessionId?: string; msgId?: string; encoding?: Encoding }): Uint8Array {
  const m: SyncML = {
    hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: p.sessionId ?? '1', msgID: p.msgId ?? '2', target: { locURI: p.server }, source: { locURI: p.devId } },
    body: { commands: [{ kind: 'Status', cmdID: '1', msgRef: '1', cmdRef: '0', cmd: 'SyncHdr', targetRefs: [], sourceRefs: [], data: '200', items: [] }], final: true },
  };
  const r = encodeMessage(m, p.encoding ?? 'xml');
  if (!r.ok) throw new Error(`cannot encode a message: ${r.error.message}`);
  return r.value;
}

export const basicCred = (name: string, secret: string): Cred => ({ meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential(name, secret) });

/** A random valid-looking IMEI DevId (the flood's). */
export function randomImei(): string {
  return `IMEI:${Array.from({ length: 15 }, () => randomInt(10)).join('')}`;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
  /** The SyncHdr status code, when the answer is a SyncML message. */
  hdrCode?: number;
  respUri?: string;
  ms: number;
}

/** POSTs one DM message (its own connection) and reads the whole answer. */
export function post(url: string, body: Uint8Array, o: { localAddress?: string; encoding?: Encoding; timeoutMs?: number } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      headers: { 'content-type': MEDIA_TYPES[o.encoding ?? 'xml'], 'content-length': String(body.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = new Uint8Array(Buffer.concat(chunks));
        const a: Answer = { status: res.statusCode ?? 0, headers: res.headers, body: bytes, ms: performance.now() - started };
        if (a.status === 200) {
          const d = decodeMessage(bytes);
          if (d.ok) {
            const hs = d.value.message.body.commands.find((c): c is Status => c.kind === 'Status' && c.cmdRef === '0');
            if (hs) a.hdrCode = Number(hs.data);
            if (d.value.message.hdr.respURI) a.respUri = d.value.message.hdr.respURI;
          }
        }
        resolve(a);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error('request timed out')));
    req.end(Buffer.from(body));
  });
}

/** Counts answers by HTTP status (and SyncHdr code for 200s: "200/401"). */
export function tally(answers: Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) {
    const k = a.status === 200 && a.hdrCode !== undefined ? `200/${a.hdrCode}` : String(a.status);
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

/** Rows a flood may have left in the server's store. */
export function storeRows(store: { db: { prepare(sql: string): { get(): unknown } } }): { devices: number; sessions: number; messages: number } {
  const n = (table: string) => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  return { devices: n('devices'), sessions: n('sessions'), messages: n('messages') };
}
