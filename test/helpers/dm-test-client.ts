/**
 * A scripted DM client for the server's tests: real HTTP(S), messages built and read with the codec,
 * a flat map of node values as its "tree". It is a test tool, not the product's virtual handset: it
 * does just enough DM 1.2 to drive every server path (auth retries, server-cred checks the way
 * libdmclient does them, 1222 continuation both ways, large objects both ways, abort).
 */
import https from 'node:https';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { decodeMessage, encodeMessage, MEDIA_TYPES, type Encoding } from '../../main/protocol/codec.js';
import {
  AUTH_META_TYPE, authTypeFromMeta, basicCredential, hmacHeader, md5Credential, nonceBytes, type AuthType,
} from '../../main/protocol/auth.js';
import type { Alert, Command, Item, ItemCommand, Results, Status, SyncHdr, SyncML } from '../../main/protocol/model.js';
import { itemText } from '../../main/protocol/model.js';
import { fromBase64 } from '../../main/protocol/binary.js';

export interface NodeValue {
  format: string;
  data: string | Uint8Array;
  type?: string;
}

export interface TestClientOptions {
  url: string;
  devId: string;
  encoding?: Encoding;
  /** Content-Type to send (default the DM media type of the encoding). */
  mediaType?: string;
  auth?: { type: AuthType; name: string; secret: string; nonce?: string };
  /** Check the server's SyncHdr Cred the way libdmclient does: no valid Cred, no command executed (401). */
  serverCred?: { name: string; secret: string; type: 'basic' | 'md5' | 'hmac' };
  maxMsgSize?: number;
  /** Announce large-object support (MaxObjSize) — omitted when undefined. */
  maxObjSize?: number;
  /** Send Results bigger than this in chunks (default: the server's MaxMsgSize minus room). */
  resultChunkSize?: number;
  tree?: Record<string, NodeValue>;
  /** Refuse `?list=Struct` with 406 (old clients). */
  noListStruct?: boolean;
  tls?: { ca: string; cert?: string; key?: string };
  devInfo?: Record<string, string>;
  verProto?: string;
  /** Answer for UI alerts: status code and optional text. */
  uiAnswer?: { code: number; text?: string };
  /** Called after every HTTP exchange, before the client decides its next message. */
  onExchange?: (ex: Exchange) => void;
}

export interface Exchange {
  request: SyncML;
  requestBytes: Uint8Array;
  url: string;
  httpStatus: number;
  headers: http.IncomingHttpHeaders;
  responseBytes: Uint8Array;
  response?: SyncML;
}

export interface SessionResult {
  /** The session ended the DM way (the server closed a package holding only statuses). */
  completed: boolean;
  exchanges: Exchange[];
  /** Last HTTP status seen. */
  httpStatus: number;
  /** SyncHdr status codes the server gave our messages, in order. */
  headerCodes: number[];
  /** Every command the server sent, in order. */
  serverCommands: Command[];
  error?: string;
}

interface Pending {
  commands: Command[];
  final: boolean;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export class TestClient {
  readonly tree = new Map<string, NodeValue>();
  /** Nonce the server gave us for our MD5 / HMAC digests (base64). */
  clientNonce: string | undefined;
  /** Nonce we challenge the server with (base64); libdmclient starts from an empty one. */
  serverNonce = '';
  sessionCount = 0;
  private readonly opts: TestClientOptions;

  constructor(opts: TestClientOptions) {
    this.opts = { encoding: 'xml', maxMsgSize: 16 * 1024, ...opts };
    for (const [k, v] of Object.entries(opts.tree ?? {})) this.tree.set(k, v);
    this.clientNonce = opts.auth?.nonce;
    const info = { DevId: opts.devId, Man: 'DMW Test', Mod: 'TC-1', DmV: '1.2', Lang: 'en', ...opts.devInfo };
    for (const [k, v] of Object.entries(info)) if (!this.tree.has(`./DevInfo/${k}`)) this.tree.set(`./DevInfo/${k}`, { format: 'chr', data: v });
  }

  get encoding(): Encoding {
    return this.opts.encoding!;
  }

  /** A full session: package 1, then answer the server until it ends the session (or something breaks). */
  async runSession(p: { sessionId?: string; extra?: Command[]; abortAfter?: number; maxExchanges?: number; initiator?: 'client' | 'server' } = {}): Promise<SessionResult> {
    this.sessionCount++;
    const sessionId = p.sessionId ?? randomBytes(2).toString('hex').toUpperCase().replace(/^0+/, '') ?? '1';
    const result: SessionResult = { completed: false, exchanges: [], httpStatus: 0, headerCodes: [], serverCommands: [] };
    let url = this.opts.url;
    let msgId = 0;
    let authenticated = false;
    let serverMaxMsgSize = 1024 * 1024;
    const pkg1 = (): Command[] => [
      { kind: 'Alert', cmdID: '', data: p.initiator === 'server' ? '1200' : '1201', items: [] },
      {
        kind: 'Replace', cmdID: '', items: ['DevId', 'Man', 'Mod', 'DmV', 'Lang'].map((k) => ({
          source: { locURI: `./DevInfo/${k}` }, meta: { format: 'chr' }, data: { kind: 'text' as const, text: String(this.tree.get(`./DevInfo/${k}`)?.data ?? '') },
        })),
      },
      ...(p.extra ?? []),
    ];
    let pending: Pending = { commands: pkg1(), final: true };
    let inPkg1 = true;
    let authTries = 0;
    // Outgoing large object (Results) in progress, and incoming one (Replace/Add).
    let outLo: { results: Results; bytes: Uint8Array; text: boolean; offset: number; meta: Item['meta'] } | undefined;
    let inLo: { uri: string; declared?: number; chunks: Uint8Array[]; text: boolean; format: string } | undefined;

    for (let round = 0; round < (p.maxExchanges ?? 200); round++) {
      msgId++;
      if (p.abortAfter !== undefined && msgId > p.abortAfter) {
        pending = { commands: [...pending.commands.filter((c) => c.kind === 'Status'), { kind: 'Alert', cmdID: '', data: '1223', items: [] }], final: true };
      }
      const hdr: SyncHdr = {
        verDTD: '1.2', verProto: this.opts.verProto ?? 'DM/1.2', sessionID: sessionId, msgID: String(msgId),
        target: { locURI: this.opts.url }, source: { locURI: this.opts.devId },
        meta: { maxMsgSize: String(this.opts.maxMsgSize), ...(this.opts.maxObjSize !== undefined ? { maxObjSize: String(this.opts.maxObjSize) } : {}) },
      };
      const a = this.opts.auth;
      if (a && !authenticated && a.type !== 'hmac') {
        hdr.cred = a.type === 'basic'
          ? { meta: { type: AUTH_META_TYPE.basic, format: 'b64' }, data: basicCredential(a.name, a.secret) }
          : { meta: { type: AUTH_META_TYPE.md5, format: 'b64' }, data: md5Credential(a.name, a.secret, nonceBytes(this.clientNonce ?? '')) };
      }
      let n = 1;
      const number = (c: Command): Command => {
        const x = { ...c, cmdID: String(n++) } as Command;
        if (x.kind === 'Atomic' || x.kind === 'Sequence') x.commands = x.commands.map(number);
        return x;
      };
      const msg: SyncML = { hdr, body: { commands: pending.commands.map(number), final: pending.final } };
      const enc = encodeMessage(msg, this.encoding);
      if (!enc.ok) throw new Error(`test client cannot encode: ${enc.error.message}`);
      const headers: Record<string, string> = { 'content-type': this.opts.mediaType ?? MEDIA_TYPES[this.encoding] };
      if (a?.type === 'hmac') headers['x-syncml-hmac'] = hmacHeader(a.name, a.secret, nonceBytes(this.clientNonce ?? ''), enc.value);
      const res = await this.post(url, enc.value, headers);
      const ex: Exchange = { request: msg, requestBytes: enc.value, url, httpStatus: res.status, headers: res.headers, responseBytes: res.body };
      result.exchanges.push(ex);
      result.httpStatus = res.status;
      if (res.status !== 200) {
        this.opts.onExchange?.(ex);
        result.error = `HTTP ${res.status}: ${utf8d.decode(res.body).trim()}`;
        return result;
      }
      const dec = decodeMessage(res.body);
      if (!dec.ok) {
        result.error = `undecodable response: ${dec.error.message}`;
        return result;
      }
      const reply = dec.value.message;
      ex.response = reply;
      this.opts.onExchange?.(ex);
      if (reply.hdr.respURI) url = reply.hdr.respURI;
      const maxMsg = Number(reply.hdr.meta?.maxMsgSize);
      if (maxMsg > 0) serverMaxMsgSize = maxMsg;

      // The server's verdict on our message.
      let hdrCode = 0;
      for (const c of reply.body.commands) {
        if (c.kind !== 'Status' || c.cmdRef !== '0') continue;
        hdrCode = Number(c.data);
        result.headerCodes.push(hdrCode);
        if (c.chal?.meta.nextNonce !== undefined) this.clientNonce = c.chal.meta.nextNonce;
        if (hdrCode === 212) authenticated = true;
      }
      if (hdrCode === 401 || hdrCode === 407) {
        if (++authTries > 3 || !reply.body.commands.some((c) => c.kind === 'Status' && c.cmdRef === '0' && c.chal)) {
          result.error = `authentication refused (${hdrCode})`;
          return result;
        }
        pending = { commands: inPkg1 ? pkg1() : pending.commands, final: true };
        continue;
      }
      if (hdrCode >= 300) {
        result.error = `server answered SyncHdr ${hdrCode}`;
        return result;
      }
      inPkg1 = false;

      // Server credentials, as libdmclient checks them: each message with Cred gets a new challenge.
      let srvCode = 212;
      let chal: Status['chal'];
      const spentServerNonce = this.serverNonce;
      const sc = this.opts.serverCred;
      if (sc && sc.type !== 'hmac') {
        const cred = reply.hdr.cred;
        const ok = cred !== undefined && authTypeFromMeta(cred.meta?.type) === sc.type && cred.data === (sc.type === 'basic' ? basicCredential(sc.name, sc.secret) : md5Credential(sc.name, sc.secret, nonceBytes(this.serverNonce)));
        srvCode = ok ? 212 : cred ? 401 : 407;
        if (sc.type === 'md5') {
          this.serverNonce = randomBytes(8).toString('base64');
          chal = { meta: { type: AUTH_META_TYPE.md5, format: 'b64', nextNonce: this.serverNonce } };
        } else if (!ok) chal = { meta: { type: AUTH_META_TYPE.basic, format: 'b64' } };
      }

      const out: Command[] = [];
      const st = (c: { cmdID: string; kind: string }, code: number, extra: Partial<Status> = {}): Status => ({
        kind: 'Status', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: c.cmdID, cmd: c.kind, targetRefs: [], sourceRefs: [], data: String(code), items: [], ...extra,
      });
      out.push({ kind: 'Status', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: '0', cmd: 'SyncHdr', targetRefs: [reply.hdr.target.locURI], sourceRefs: [reply.hdr.source.locURI], data: String(srvCode), items: [], ...(chal ? { chal } : {}) });

      let serverWantsNext = false;
      let serverAborted = false;
      let mgmt = 0;
      const results: Results[] = [];
      const exec = (c: Command, inSeq: { failed: boolean } | undefined): void => {
        if (c.kind === 'Status' || c.kind === 'Results') return;
        result.serverCommands.push(c);
        mgmt++;
        if (srvCode !== 212) {
          out.push(st(c, srvCode));
          return;
        }
        switch (c.kind) {
          case 'Alert':
            if (c.data === '1222') serverWantsNext = true;
            else if (c.data === '1223') serverAborted = true;
            else if (c.data === '1225') inLo = undefined;
            if (/^110[0-4]$/.test(c.data ?? '')) {
              const ans = this.opts.uiAnswer ?? { code: 200 };
              out.push(st(c, ans.code, ans.text !== undefined ? { items: [{ data: { kind: 'text', text: ans.text } }] } : {}));
            } else out.push(st(c, 200));
            return;
          case 'Get': {
            const items: Item[] = [];
            for (const it of c.items) {
              const uri = it.target?.locURI ?? '';
              const { code, found } = this.get(uri);
              out.push(st(c, code, { targetRefs: [uri] }));
              items.push(...found);
            }
            if (items.length > 0) results.push({ kind: 'Results', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: c.cmdID, targetRefs: [], sourceRefs: [], items });
            return;
          }
          case 'Replace':
          case 'Add': {
            for (const it of c.items) {
              const uri = it.target?.locURI ?? '';
              let fmt = it.meta?.format ?? c.meta?.format ?? 'chr';
              const d = it.data;
              // Binary data over XML comes as Format b64 (TND §7.7.2): decoded, it is a bin value.
              const b64 = fmt === 'b64' && d?.kind === 'text' ? fromBase64(d.text) : undefined;
              if (b64) fmt = 'bin';
              const bytes = b64 ?? (d?.kind === 'binary' ? d.bytes : utf8.encode(d ? itemText(it) ?? '' : ''));
              const isText = !b64 && d?.kind !== 'binary';
              if (it.moreData || inLo) {
                if (!inLo) inLo = { uri, chunks: [], text: isText, format: fmt, ...(it.meta?.size ? { declared: Number(it.meta.size) } : {}) };
                inLo.chunks.push(bytes);
                if (it.moreData) {
                  out.push(st(c, 213, { targetRefs: [uri] }));
                  continue;
                }
                const all = new Uint8Array(Buffer.concat(inLo.chunks));
                const lo = inLo;
                inLo = undefined;
                if (lo.declared !== undefined && lo.declared !== all.length) {
                  out.push(st(c, 424, { targetRefs: [uri] }));
                  continue;
                }
                this.tree.set(uri, { format: lo.format, data: lo.text ? utf8d.decode(all) : all });
                out.push(st(c, 200, { targetRefs: [uri] }));
                continue;
              }
              const exists = this.tree.has(uri);
              if (c.kind === 'Add' && exists) {
                out.push(st(c, 418, { targetRefs: [uri] }));
                continue;
              }
              if (c.kind === 'Replace' && !exists && !this.hasChildren(uri)) {
                out.push(st(c, 404, { targetRefs: [uri] }));
                continue;
              }
              if (inSeq?.failed) {
                out.push(st(c, 215));
                continue;
              }
              this.tree.set(uri, { format: fmt, data: isText ? utf8d.decode(bytes) : bytes });
              out.push(st(c, 200, { targetRefs: [uri] }));
            }
            return;
          }
          case 'Delete':
            for (const it of c.items) {
              const uri = it.target?.locURI ?? '';
              const had = this.tree.delete(uri);
              out.push(st(c, had ? 200 : 404, { targetRefs: [uri] }));
            }
            return;
          case 'Copy':
            for (const it of c.items) {
              const from = this.tree.get(it.source?.locURI ?? '');
              if (from) this.tree.set(it.target?.locURI ?? '', { ...from });
              out.push(st(c, from ? 200 : 404));
            }
            return;
          case 'Exec':
            out.push(st(c, this.tree.has(c.items[0]?.target?.locURI ?? '') ? 200 : 404));
            return;
          case 'Atomic':
          case 'Sequence': {
            const at = out.length;
            out.push(st(c, 200));
            const seq = { failed: false };
            for (const m of c.commands) exec(m, seq);
            if (c.kind === 'Atomic' && out.slice(at + 1).some((s) => s.kind === 'Status' && Number(s.data) >= 300)) {
              for (const s of out.slice(at + 1)) if (s.kind === 'Status' && Number(s.data) < 300) (s as Status).data = '216';
              (out[at] as Status).data = '507';
            }
            return;
          }
        }
      };
      for (const c of reply.body.commands) {
        if (c.kind === 'Status') {
          // 213 for our chunk -> the next one goes out below; anything else ends our object.
          if (outLo && Number(c.data) !== 213 && c.cmd === 'Results') outLo = undefined;
          continue;
        }
        exec(c, undefined);
      }

      if (serverAborted) {
        result.error = 'server aborted the session (1223)';
        return result;
      }
      const sawOnlyStatuses = mgmt === 0;
      if (reply.body.final && sawOnlyStatuses && !outLo && results.length === 0 && (p.abortAfter === undefined || msgId <= p.abortAfter)) {
        result.completed = true;
        // The challenge made for this message is never sent: keep the one the server knows.
        this.serverNonce = spentServerNonce;
        return result;
      }
      if (p.abortAfter !== undefined && msgId > p.abortAfter) {
        result.error = 'client aborted';
        return result;
      }

      // Our Results: whole, or the first chunk of a large object.
      const chunkSize = this.opts.resultChunkSize ?? Math.max(256, serverMaxMsgSize - 2048);
      let nonFinal = false;
      if (outLo) {
        out.push(this.nextChunk(outLo, chunkSize));
        if (outLo.offset < outLo.bytes.length) nonFinal = true;
        else outLo = undefined;
      } else {
        for (const r of results) {
          const it = r.items[0]!;
          const d = it.data;
          const bytes = d?.kind === 'binary' ? d.bytes : utf8.encode(d ? itemText(it) ?? '' : '');
          if (r.items.length === 1 && bytes.length > chunkSize && !outLo) {
            outLo = { results: r, bytes, text: d?.kind !== 'binary', offset: 0, meta: it.meta };
            out.push(this.nextChunk(outLo, chunkSize));
            nonFinal = true;
          } else out.push(r);
        }
      }
      if (!reply.body.final && !serverWantsNext) {
        // The server's package goes on: ask for its next message.
        out.push({ kind: 'Alert', cmdID: '', data: '1222', items: [{ target: { locURI: reply.hdr.source.locURI }, source: { locURI: this.opts.devId } }] } satisfies Alert);
        pending = { commands: out, final: false };
        continue;
      }
      pending = { commands: out, final: !nonFinal };
    }
    result.error = 'too many exchanges';
    return result;
  }

  private nextChunk(lo: { results: Results; bytes: Uint8Array; text: boolean; offset: number; meta: Item['meta'] }, size: number): Results {
    let end = Math.min(lo.bytes.length, lo.offset + size);
    if (lo.text) while (end < lo.bytes.length && (lo.bytes[end]! & 0xc0) === 0x80) end--;
    const piece = lo.bytes.subarray(lo.offset, end);
    const first = lo.offset === 0;
    lo.offset = end;
    const src = lo.results.items[0]!;
    const item: Item = {
      ...src,
      meta: { ...(lo.meta ?? {}), ...(first ? { size: String(lo.bytes.length) } : {}) },
      data: lo.text ? { kind: 'text', text: utf8d.decode(piece) } : { kind: 'binary', bytes: piece },
    };
    if (end < lo.bytes.length) item.moreData = true;
    else delete item.moreData;
    return { ...lo.results, cmdID: '', items: [item] };
  }

  private hasChildren(uri: string): boolean {
    const prefix = `${uri.replace(/\/$/, '')}/`;
    for (const k of this.tree.keys()) if (k.startsWith(prefix)) return true;
    return false;
  }

  private children(uri: string): string[] {
    const base = uri === '.' ? '.' : uri.replace(/\/$/, '');
    const prefix = `${base}/`;
    const names = new Set<string>();
    for (const k of this.tree.keys()) if (k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
    return [...names].sort();
  }

  /** Get, with `?list=Struct` (whole subtree, no data) and `?prop=ACL`. */
  private get(target: string): { code: number; found: Item[] } {
    const [uri, query] = target.split('?') as [string, string | undefined];
    if (query === 'list=Struct') {
      if (this.opts.noListStruct) return { code: 406, found: [] };
      const found: Item[] = [];
      const walk = (u: string) => {
        const kids = this.children(u);
        found.push({ source: { locURI: u }, meta: { format: kids.length > 0 || !this.tree.has(u) ? 'node' : this.tree.get(u)!.format } });
        for (const k of kids) walk(u === '.' ? `./${k}` : `${u}/${k}`);
      };
      if (!this.tree.has(uri) && this.children(uri).length === 0) return { code: 404, found: [] };
      walk(uri);
      return { code: 200, found };
    }
    if (query === 'prop=ACL') return { code: 200, found: [{ source: { locURI: target }, meta: { format: 'chr' }, data: { kind: 'text', text: 'Get=*&Replace=*' } }] };
    const leaf = this.tree.get(uri);
    if (leaf) {
      const data = typeof leaf.data === 'string' ? { kind: 'text' as const, text: leaf.data } : { kind: 'binary' as const, bytes: leaf.data };
      return { code: 200, found: [{ source: { locURI: uri }, meta: { format: leaf.format, ...(leaf.type ? { type: leaf.type } : {}) }, data }] };
    }
    const kids = this.children(uri);
    if (kids.length > 0 || uri === '.') return { code: 200, found: [{ source: { locURI: uri }, meta: { format: 'node' }, data: { kind: 'text', text: kids.join('/') } }] };
    return { code: 404, found: [] };
  }

  /** One raw POST (the tests use it for malformed bodies). */
  async post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Uint8Array }> {
    return rawPost(url, body, headers, this.opts.tls);
  }
}

export function rawPost(url: string, body: Uint8Array, headers: Record<string, string>, tls?: { ca: string; cert?: string; key?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Uint8Array }> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      agent: false,
      ...(u.protocol === 'https:' && tls ? { ca: tls.ca, ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: new Uint8Array(Buffer.concat(chunks)) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('request timed out')));
    req.end(Buffer.from(body));
  });
}

/** An ItemCommand helper for tests that script extra package-1 commands. */
export function genericAlert(code: '1224' | '1226', item: { source: string; type: string; format?: string; data: string }, correlator?: string): Alert {
  const a: Alert = { kind: 'Alert', cmdID: '', data: code, items: [{ source: { locURI: item.source }, meta: { type: item.type, format: item.format ?? 'chr' }, data: { kind: 'text', text: item.data } }] };
  if (correlator) a.correlator = correlator;
  return a;
}

export type { ItemCommand };
