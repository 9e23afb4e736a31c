/**
 * A hostile DM server and a hostile notifier against real virtual handsets (main/client).
 *
 * What a real DmServer says to a handset is recorded once, through a pass-through server (package 2
 * with Get/Replace/Add/Delete/Copy/Exec/Atomic/Sequence/UI alerts 1100-1103, the 401 challenge, the
 * 1222 requests, package 4, and a Replace sent in MoreData chunks), in XML and WBXML. The hostile
 * server then replays those sessions with one answer mutated (seeded: bytes flipped, cut, repeated,
 * dropped, swapped; for both encodings also "leaf" mutations on the XML form, re-encoded with
 * main/protocol/convert.ts), or with broken HTTP framing (wrong or no Content-Type, empty body, 500,
 * 404, a RespURI pointing nowhere, a huge Content-Length cut short, a closed socket, no answer, an
 * answer trickled byte by byte). For every session:
 * - `connect()` resolves (never throws) with an outcome: ok, or failed with an error saying why;
 * - it ends (bounded by the handset's request timeout and round-trip limit);
 * - what the ACLs and access types forbid the server stays as it was: DevInfo, DevDetail, the other
 *   authority's DMAcc account, the DMAcc node itself, AppID; no secret ever goes to the server;
 * - no unhandled rejection or exception;
 * and afterwards the handset's tree, reloaded from its file, runs a clean session against a real
 * DmServer with its other (untouched) account.
 *
 * An endless body (a focused case): the handset stops reading at its limit and closes the connection,
 * counted in bytes the server could send, not in time.
 *
 * Large objects: a server that declares a huge Meta Size (or none) and keeps sending chunks is
 * refused without buffering past MaxObjSize, and nothing of the refused object is applied.
 * Package #0: mutated notifications to the handset's HTTP listener are refused with a clear reason
 * (401 for a digest that does not verify) and a valid one still starts a session.
 *
 * DMW_FUZZ_SEED=N replays or explores another seed; DMW_FUZZ_ROUNDS=K runs K times the mutations;
 * DMW_FUZZ_LOG=1 prints every session's mutation and outcome.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeMessage, encodeMessage, MEDIA_TYPES, type Encoding } from '../../main/protocol/codec.js';
import { wbxmlToXml, xmlToWbxml } from '../../main/protocol/convert.js';
import { md5Credential, nonceBytes } from '../../main/protocol/auth.js';
import type { Command, Item, ItemCommand, Status, SyncML } from '../../main/protocol/model.js';
import { DmServer, type DmServerOptions } from '../../main/server/index.js';
import { buildPackage0, PACKAGE0_MEDIA_TYPE } from '../../main/notify/package0.js';
import { addDmAccount, imeiFromBody, readAccounts, type DmAccountSpec } from '../../main/tree/mos.js';
import { DEVICE, type DmTree } from '../../main/tree/tree.js';
import { ClientSession, type AlertResponder } from '../../main/tree/processor/index.js';
import { NotificationListener, VirtualHandset, type HandsetOptions, type SessionOutcome } from '../../main/client/index.js';
import { rawPost } from '../helpers/dm-test-client.js';
import { get, pkg } from '../helpers/dm-package.js';
import { mutateMessage, mutateWbxml, mutateXml, rng, type LeafMutation, type Mutated } from '../helpers/fuzz.js';
import { sync } from '../helpers/sync-store.js';

const SEED = process.env.DMW_FUZZ_SEED ? Number(process.env.DMW_FUZZ_SEED) : undefined;
const ROUNDS = Math.max(1, Number(process.env.DMW_FUZZ_ROUNDS ?? 1));
/** Sessions per encoding (one mutated answer each), and package #0 bodies. */
const SESSIONS = 300 * ROUNDS;
const PACKAGE0S = 300 * ROUNDS;
/** The fuzzed handsets' request timeout: what a server that never answers costs. */
const TIMEOUT_MS = 500;
const MAX_ROUND_TRIPS = 40;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024; // Transport's default

// Secrets: distinctive, so a scan of everything the handset sent finds any of them.
const DMW_CLIENT = { name: 'lab', secret: 'dmw-client-secret-3K7' };
const DMW_SERVER = { name: 'dmw', secret: 'dmw-server-secret-5P2' };
const LAB2_CLIENT = { name: 'lab2-client', secret: 'lab2-client-secret-7Q9' };
const LAB2_SERVER = { name: 'lab2', secret: 'lab2-server-secret-9Z4' };
const SECRETS = [DMW_CLIENT.secret, DMW_SERVER.secret, LAB2_CLIENT.secret, LAB2_SERVER.secret];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// Unhandled rejections / exceptions anywhere in this file's process (vitest reports them too).
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'dmw-hfuzz-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function dmServer(opts: Partial<DmServerOptions>): Promise<DmServer> {
  const s = await DmServer.start({ dataDir: tmp(), port: 0, host: '127.0.0.1', ...opts });
  cleanups.push(() => s.close());
  return s;
}

/** The real server the fuzzed handsets check in with afterwards: ServerID lab2, MD5 both ways. */
function labServer(): Promise<DmServer> {
  return dmServer({ serverId: 'lab2', clientAuth: 'md5', defaultClientCred: LAB2_CLIENT, serverAuth: 'md5', serverCred: LAB2_SERVER });
}

// ------------------------------------------------------------------------------------ mutations

/**
 * Leaf mutations: values that mean something to a handset (status and alert codes, sizes, nonces
 * that are not base64, formats, TNDS, and the nodes a server must not read or change), drawn half of
 * the time (valueWeight 2 of 4), so that a message that still decodes reaches the processor.
 */
const LEAVES: LeafMutation = { values: [
  '', '0', '-1', '1', '2', '99999999999999999999', 'x'.repeat(300), './../..', '.', ' 1 ', '<', '&amp;', '&#0;',
  '200', '212', '213', '401', '407', '500', '1100', '1101', '1102', '1104', '1222', '1223', '1225', '1226',
  '!!not base64!!', 'node', 'b64', 'bin', 'int', 'xml', 'application/vnd.syncml.dmtnds+xml',
  './DevInfo', './DevInfo/DevId', './DevInfo/Ext/New', './DevDetail/FwV', './DMAcc', './DMAcc/New', './DMAcc/lab2',
  './DMAcc/lab2/AppAuth/1/AAuthSecret', './DMAcc/lab2/AppAuth/2/AAuthData', './DMAcc/lab2/AppAddr/1/Addr', './DMAcc/lab2?prop=ACL',
  './DMAcc/dmw/AppID', './DMAcc/dmw/AppAuth/1/AAuthSecret', './DMAcc/dmw/AppAuth/2/AAuthData', './DMAcc/dmw?prop=ACL',
  './DMAcc?list=TNDS+Value+ACL', '.?list=TNDS+Value', './DevInfo?prop=ACL', './Vendor?prop=ACL', 'Replace=*&Get=*',
  'http://127.0.0.1:1/dm', 'ftp://127.0.0.1/dm',
], valueWeight: 2 };

/** A message with its RespURI (which every recorded server message has) replaced. */
function withRespUri(bytes: Uint8Array, encoding: Encoding, uri: string): Uint8Array {
  const xml = encoding === 'xml' ? Buffer.from(bytes).toString('utf8') : Buffer.from((wbxmlToXml(bytes) as { ok: true; value: Uint8Array }).value).toString('utf8');
  const changed = /<RespURI>/.test(xml)
    ? xml.replace(/<RespURI>[^<]*<\/RespURI>/, `<RespURI>${uri}</RespURI>`)
    : xml.replace('</Source>', `</Source><RespURI>${uri}</RespURI>`);
  expect(changed).not.toBe(xml);
  if (encoding === 'xml') return new Uint8Array(Buffer.from(changed, 'utf8'));
  const w = xmlToWbxml(changed);
  if (!w.ok) throw new Error(w.error.message);
  return w.value;
}

// ------------------------------------------------------------------------------------ the hostile server

interface Exchange {
  /** Requests in this session so far (0 = package 1). */
  index: number;
  body: Uint8Array;
  req: http.IncomingMessage;
  res: http.ServerResponse;
}
type Answer = (x: Exchange) => void | Promise<void>;

/** A tiny HTTP server whose every answer is whatever the test says, whatever the path. */
class HostileServer {
  answer: Answer = ({ res }) => {
    res.writeHead(503).end();
  };
  index = 0;
  /** Every body a handset sent here. */
  readonly received: Uint8Array[] = [];
  /** Failures of the test's own answers (a bug in this file, reported at the end). */
  readonly errors: unknown[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<HostileServer> {
    let self: HostileServer | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        const h = self!;
        const body = new Uint8Array(Buffer.concat(chunks));
        h.received.push(body);
        const index = h.index++;
        Promise.resolve()
          .then(() => h.answer({ index, body, req, res }))
          .catch((e: unknown) => {
            h.errors.push(e);
            res.destroy();
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new HostileServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/dm`);
    return self;
  }

  /** The next session's answers. */
  script(answer: Answer): void {
    this.answer = answer;
    this.index = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function hostileServer(): Promise<HostileServer> {
  const h = await HostileServer.start();
  cleanups.push(() => h.close());
  return h;
}

/** Forwards to a real server as if it were that server: its RespURIs then point back here (Host). */
function passThrough(target: string): Answer {
  return async ({ body, req, res }) => {
    const u = new URL(target);
    const up = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = http.request({
        hostname: u.hostname,
        port: u.port,
        path: req.url,
        method: 'POST',
        agent: false,
        headers: { host: req.headers.host ?? u.host, 'content-type': req.headers['content-type'] ?? '', 'content-length': String(body.length) },
      }, (rs) => {
        const chunks: Buffer[] = [];
        rs.on('data', (c: Buffer) => chunks.push(c));
        rs.on('end', () => resolve({ status: rs.statusCode ?? 0, headers: rs.headers, body: Buffer.concat(chunks) }));
        rs.on('error', reject);
      });
      out.on('error', reject);
      out.end(Buffer.from(body));
    });
    res.writeHead(up.status, { 'content-type': up.headers['content-type'] ?? 'application/octet-stream' }).end(up.body);
  };
}

/** Broken HTTP around an answer (or instead of it). Weights: how often each is drawn. */
const FRAMINGS = [
  ['wrong-content-type', 4], ['no-content-type', 1], ['http-500', 3], ['http-404', 2], ['empty-body', 3],
  ['respuri-nowhere', 3], ['cut-short', 3], ['socket-closed', 2], ['no-answer', 1], ['trickle', 1],
] as const;
type Framing = (typeof FRAMINGS)[number][0];
const FRAMING_WEIGHT = FRAMINGS.reduce((s, [, w]) => s + w, 0);

function pickFraming(r: (n: number) => number): Framing {
  let x = r(FRAMING_WEIGHT);
  for (const [f, w] of FRAMINGS) {
    if (x < w) return f;
    x -= w;
  }
  throw new Error('unreachable');
}

/** Answers with `body` inside broken framing `f`. */
function frame(f: Framing, body: Uint8Array, contentType: string, res: http.ServerResponse): void {
  const bytes = Buffer.from(body);
  switch (f) {
    case 'wrong-content-type':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(bytes);
      return;
    case 'no-content-type':
      res.writeHead(200).end(bytes);
      return;
    case 'http-500':
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal server error\n');
      return;
    case 'http-404':
      res.writeHead(404, { 'content-type': contentType }).end(bytes);
      return;
    case 'empty-body':
      res.writeHead(200, { 'content-type': contentType }).end();
      return;
    case 'respuri-nowhere': // the body was changed already
      res.writeHead(200, { 'content-type': contentType }).end(bytes);
      return;
    case 'cut-short':
      res.writeHead(200, { 'content-type': contentType, 'content-length': String(bytes.length + 1_000_000_000) });
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
      return;
    case 'socket-closed':
      res.destroy();
      return;
    case 'no-answer':
      return; // the socket stays open; the handset's timeout has to end it
    case 'trickle': {
      // one byte every fifth of the timeout: no idle gap ever reaches it, the whole answer never comes
      res.writeHead(200, { 'content-type': contentType, 'content-length': String(bytes.length) });
      let i = 0;
      const t = setInterval(() => {
        if (i < bytes.length) res.write(bytes.subarray(i, ++i));
      }, TIMEOUT_MS / 5);
      res.on('close', () => clearInterval(t));
      return;
    }
  }
}

/** What an outcome must say when the framing was applied (the handset got that far). */
const FRAMING_ERRORS: Partial<Record<Framing, RegExp>> = {
  'http-500': /HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/dm/,
  'http-404': /HTTP 404 from /,
  'empty-body': /undecodable answer from the server/,
  'cut-short': /^http:\/\/127\.0\.0\.1:\d+\/dm\S*: \S/,
  'socket-closed': /^http:\/\/127\.0\.0\.1:\d+\/dm\S*: \S/,
  'no-answer': new RegExp(`no answer from \\S+ within ${TIMEOUT_MS} ms`),
  trickle: new RegExp(`no answer from \\S+ within ${TIMEOUT_MS} ms`),
};

/**
 * Bytes an endless body may have had in flight when the handset stopped reading: both kernels'
 * socket buffers at their autotuning maximum (tcp_rmem, tcp_wmem), what node:http queues before
 * write() says to wait, and the block being written. The handset read more than its limit (it said
 * so) and at most this much beyond it.
 */
function inFlightBytes(block: number): number {
  const max = (f: string, fallback: number) => {
    try {
      return Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]) || fallback;
    } catch {
      return fallback;
    }
  };
  return max('/proc/sys/net/ipv4/tcp_rmem', 32 << 20) + max('/proc/sys/net/ipv4/tcp_wmem', 32 << 20) + 2 * block;
}

interface EndlessBody {
  block: number;
  /** Settles when the connection closes: bytes written, and whether this side ran out first. */
  closed: Promise<{ sent: number; ended: boolean }>;
}

/**
 * An answer that goes on and on: blocks of spaces, each written once the last one drained, until
 * the connection closes, or, for a handset that never stops reading, `cap` bytes (it then ends).
 */
function endlessBody(res: http.ServerResponse, contentType: string, cap: number): EndlessBody {
  res.writeHead(200, { 'content-type': contentType });
  const block = Buffer.alloc(1 << 20, 0x20);
  let sent = 0;
  let ended = false;
  let gone = false;
  const closed = new Promise<{ sent: number; ended: boolean }>((resolve) => res.on('close', () => {
    gone = true;
    resolve({ sent, ended });
  }));
  const pump = (): void => {
    while (!gone && sent < cap) {
      sent += block.length;
      if (!res.write(block)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!gone) {
      ended = true;
      res.end();
    }
  };
  pump();
  return { block: block.length, closed };
}

// ------------------------------------------------------------------------------------ handsets

const VENDOR_ACL = 'Add=*&Delete=*&Exec=*&Get=*&Replace=*';
const BIG_VALUE = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`).join(''); // 4,000 bytes

/** ./Vendor as new: the nodes the recorded jobs work on, open to every server. */
function resetVendor(tree: DmTree): void {
  if (tree.lookup('./Vendor')) {
    const d = tree.delete(DEVICE, './Vendor');
    if (!d.ok) throw new Error(d.message);
  }
  const add = (uri: string, spec: Parameters<DmTree['add']>[2]) => {
    const r = tree.add(DEVICE, uri, spec);
    if (!r.ok) throw new Error(`${uri}: ${r.message}`);
  };
  add('./Vendor', { format: 'node', acl: VENDOR_ACL });
  add('./Vendor/Mode', { format: 'chr', value: 'off' });
  add('./Vendor/Old', { format: 'chr', value: 'x' });
  add('./Vendor/Big', { format: 'chr', value: 'original' });
}

function dmwAccount(addr: string, serverSecret: string): DmAccountSpec {
  return {
    serverId: 'dmw',
    addr,
    clientCred: { type: 'DIGEST', ...DMW_CLIENT },
    serverCred: { type: 'DIGEST', name: DMW_SERVER.name, secret: serverSecret },
  };
}

function lab2Account(addr: string): DmAccountSpec {
  return { serverId: 'lab2', addr, clientCred: { type: 'DIGEST', ...LAB2_CLIENT }, serverCred: { type: 'DIGEST', ...LAB2_SERVER } };
}

/** The hostile server's own account as new (it may change or delete it: the ACL lets it). */
function resetDmwAccount(tree: DmTree, addr: string, serverSecret: string): void {
  if (tree.lookup('./DMAcc/dmw')) {
    const d = tree.delete(DEVICE, './DMAcc/dmw');
    if (!d.ok) throw new Error(d.message);
  }
  addDmAccount(tree, dmwAccount(addr, serverSecret));
}

/** A user who answers every UI alert: yes, typed text, the first choice. */
const answerAll: AlertResponder = (a) => {
  switch (a.kind) {
    case 'display':
    case 'confirm':
      return { status: 200 };
    case 'input':
      return { status: 200, data: ['typed'] };
    default:
      return { status: 200, data: ['1'] };
  }
};

function handsetOptions(encoding: Encoding, accounts: DmAccountSpec[], extra: Partial<HandsetOptions> = {}, devId?: string): HandsetOptions {
  let n = 0;
  return {
    encoding,
    device: { mod: 'Fuzz Phone', accounts, ...(devId !== undefined ? { devId } : {}) },
    alerts: answerAll,
    exec: (req) => ({ status: 200, results: { data: `ran ${req.path}` } }),
    nonce: () => Buffer.from(`nonce-${n++}`).toString('base64'),
    ...extra,
  };
}

async function openHandset(opts: HandsetOptions): Promise<VirtualHandset> {
  const h = await VirtualHandset.open(opts);
  cleanups.push(() => h.close());
  return h;
}

/**
 * Everything a server may not change through its commands: DevInfo and DevDetail (read-only, Get=*),
 * the other authority's account (its ACL names only lab2), ./DMAcc itself (no Add or Delete for
 * servers), the root and Inbox nodes, the account's AppID (read-only).
 */
function protectedState(tree: DmTree): string {
  const out: string[] = [];
  const line = (p: string, n: NonNullable<ReturnType<DmTree['lookup']>>) => {
    const v = n.value;
    const value = v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : `bin:${Buffer.from(v).toString('base64')}`;
    out.push(`${p} ${n.format} ${n.type} access=${n.access} acl=${n.acl.text} title=${n.title} ${value}`);
  };
  line('.', tree.root);
  for (const p of ['./DevInfo', './DevDetail', './DMAcc/lab2']) {
    const n = tree.lookup(p);
    if (!n) {
      out.push(`${p} missing`);
      continue;
    }
    tree.walk(n, (node, at) => line(at, node), p);
  }
  for (const p of ['./DMAcc', './Inbox', './DMAcc/dmw/AppID']) {
    const n = tree.lookup(p);
    if (n) line(p, n);
    else out.push(`${p} missing`);
  }
  out.push(`./DMAcc children ${[...tree.lookup('./DMAcc')!.children()].map((c) => c.name).sort().join(',')}`);
  return out.join('\n');
}

/** A promise that must settle: a hang is reported as such instead of as the test's timeout. */
async function settles<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

/** An outcome as the public API promises it. */
function expectOutcome(o: SessionOutcome, what: string, maxRoundTrips = MAX_ROUND_TRIPS): void {
  expect(typeof o.ok, what).toBe('boolean');
  if (o.ok) expect(o.error, what).toBeUndefined();
  else {
    expect(typeof o.error, what).toBe('string');
    expect(o.error!.trim().length, what).toBeGreaterThan(0);
  }
  expect(o.roundTrips, what).toBeLessThanOrEqual(maxRoundTrips);
}

// ------------------------------------------------------------------------------------ recording

interface Script {
  name: string;
  messages: Uint8Array[];
}

/** Real server answers, recorded through the pass-through (RespURIs point at `hostile`). */
async function record(encoding: Encoding, hostile: HostileServer): Promise<Script[]> {
  const rec = await dmServer({
    serverId: 'dmw', clientAuth: 'md5', defaultClientCred: DMW_CLIENT, serverAuth: 'md5', serverCred: DMW_SERVER,
    publicUrl: hostile.url, limits: { maxMsgSize: 2048 },
  });
  hostile.script(passThrough(`http://127.0.0.1:${rec.port}/dm`)); // rec.url is the public one: here
  const scripts: Script[] = [];
  const run = async (name: string, maxMsgSize: number, jobs: Parameters<DmServer['addJob']>[1][]) => {
    // a device of its own per recording: the server keeps nonces per DevId
    const devId = `IMEI:${imeiFromBody(`35693803564${String(scripts.length).padStart(3, '0')}`)}`;
    const h = await openHandset(handsetOptions(encoding, [dmwAccount(hostile.url, DMW_SERVER.secret)], { maxMsgSize }, devId));
    resetVendor(h.tree);
    const messages: Uint8Array[] = [];
    h.on((e) => {
      if (e.type === 'message' && e.direction === 'in') messages.push(e.bytes);
    });
    const ids: number[] = [];
    for (const j of jobs) ids.push((await rec.addJob(h.devId, j)).job.id);
    const o = await h.connect({ serverId: 'dmw' });
    expect(hostile.errors).toEqual([]);
    expect(o.error, `recording ${name}`).toBeUndefined();
    expect(o.serverAuthRefusals).toBe(0);
    for (const id of ids) expect(sync(rec.store).job(id)?.status, `recording ${name}: job ${id} ${sync(rec.store).job(id)?.error ?? ''}`).toBe('done');
    for (const m of messages) expect(decodeMessage(m).ok).toBe(true);
    scripts.push({ name, messages });
    h.close();
  };
  await run('commands', 16384, [
    { kind: 'get', uri: './DevInfo/Mod' },
    { kind: 'replace', uri: './Vendor/Mode', value: 'on' },
    { kind: 'add', uri: './Vendor/New', value: 'n' },
    { kind: 'delete', uri: './Vendor/Old' },
    { kind: 'copy', uri: './Vendor/Copy', source: './Vendor/Mode' },
    { kind: 'get', uri: './Vendor/Copy' },
    { kind: 'exec', uri: './Vendor/Mode', data: 'go' },
    { kind: 'atomic', commands: [{ kind: 'replace', uri: './Vendor/Mode', value: 'a' }, { kind: 'get', uri: './DevInfo/Man' }] },
    { kind: 'sequence', commands: [{ kind: 'alert', alert: 'confirm', text: 'go on?' }, { kind: 'replace', uri: './Vendor/Mode', value: 's' }] },
    { kind: 'alert', alert: 'display', text: 'hello' },
    { kind: 'alert', alert: 'input', text: 'name?' },
    { kind: 'alert', alert: 'single', text: 'pick', choices: ['a', 'b'] },
    { kind: 'read-acl', uri: './Vendor' },
    { kind: 'get', uri: './DMAcc?list=Struct' },
  ]);
  // Our answers over a small MaxMsgSize: the server's 1222 requests and package 4.
  // (XML headers alone take some 900 bytes: its limits are larger)
  const xmlExtra = encoding === 'xml' ? 1000 : 0;
  await run('split answers', 1400 + xmlExtra, [
    { kind: 'get', uri: './DevInfo' },
    { kind: 'get', uri: './DevDetail?list=Struct' },
    { kind: 'get', uri: './Vendor/Mode' },
  ]);
  // A large object in MoreData chunks.
  await run('chunks', 1400 + xmlExtra, [{ kind: 'replace', uri: './Vendor/Big', value: BIG_VALUE }, { kind: 'get', uri: './Vendor/Big' }]);
  expect(scripts.map((s) => s.messages.length).every((n) => n >= 2)).toBe(true);
  expect(scripts[2]!.messages.length).toBeGreaterThan(4);
  return scripts;
}

// ------------------------------------------------------------------------------------ the fuzz

describe('a hostile DM server against a real handset', () => {
  for (const [encoding, seed] of [['xml', SEED ?? 0x4a5e1], ['wbxml', SEED ?? 0x4a5e2]] as [Encoding, number][]) {
    it(`${encoding}: every session ends with an outcome, protected nodes and secrets stay, the tree works after (seed ${seed})`, async () => {
      const hostile = await hostileServer();
      const scripts = await record(encoding, hostile);
      const lab = await labServer();
      const dir = tmp();
      const treeFile = path.join(dir, 'phone.json');
      const h = await openHandset(handsetOptions(encoding, [dmwAccount(hostile.url, ''), lab2Account(lab.url)], {
        treeFile, requestTimeoutMs: TIMEOUT_MS, maxRoundTrips: MAX_ROUND_TRIPS, maxObjSize: 1 << 20,
      }));
      resetVendor(h.tree);
      const baseline = protectedState(h.tree);
      const contentType = MEDIA_TYPES[encoding];
      const change = encoding === 'xml' ? mutateXml : mutateWbxml;
      const r = rng(seed);
      const kinds = new Map<string, number>();
      const count = (k: string) => kinds.set(k, (kinds.get(k) ?? 0) + 1);
      let executed = 0;
      let failed = 0;

      for (let i = 0; i < SESSIONS; i++) {
        // Every fifth session the handset checks the server's credentials (the replayed Cred is stale).
        resetDmwAccount(h.tree, hostile.url, i % 5 === 4 ? DMW_SERVER.secret : '');
        resetVendor(h.tree);
        const script = scripts[r(scripts.length)]!;
        const k = r(script.messages.length);
        // Every framing once first, then one session in six.
        const framing: Framing | undefined = i < FRAMINGS.length ? FRAMINGS[i]![0] : r(6) === 0 ? pickFraming(r) : undefined;
        let body: Mutated;
        if (framing === 'respuri-nowhere') body = { bytes: withRespUri(script.messages[k]!, encoding, 'http://127.0.0.1:1/dm/s/gone'), kind: 'respuri' };
        else if (framing) body = { bytes: script.messages[k]!, kind: 'as recorded' };
        else body = change(script.messages[k]!, r, LEAVES);
        const what = `${encoding} seed ${seed} session ${i}: ${script.name} answer ${k} ${framing ?? body.kind}`;
        let applied = false;
        hostile.script(({ index, res }) => {
          if (index === k) {
            applied = true;
            if (framing) return frame(framing, body.bytes, contentType, res);
            res.writeHead(200, { 'content-type': contentType }).end(Buffer.from(body.bytes));
            return;
          }
          // before the mutation as recorded; past the end of the script its last answer (it ends the session)
          res.writeHead(200, { 'content-type': contentType }).end(Buffer.from(script.messages[Math.min(index, script.messages.length - 1)]!));
        });

        const o = await settles(h.connect({ serverId: 'dmw', sessionId: (i + 1).toString(16).toUpperCase() }), 30_000, what);
        count(framing ? `framing:${framing}` : body.kind);
        expectOutcome(o, what);
        if (applied && framing) {
          const want = FRAMING_ERRORS[framing];
          if (want) {
            expect(o.ok, what).toBe(false);
            expect(o.error, what).toMatch(want);
          }
          // (unless that answer itself ran into the timeout on a very busy machine)
          if ((framing === 'wrong-content-type' || framing === 'no-content-type') && !/ within \d+ ms$/.test(o.error ?? '')) expect(o.warnings.join('\n'), what).toMatch(/Content-Type/);
          if (framing === 'respuri-nowhere' && !o.ok) expect(o.error, what).toMatch(/^http:\/\/127\.0\.0\.1:1\/dm\/s\/gone: /);
        }
        expect(h.busy, what).toBe(false);
        expect(protectedState(h.tree), what).toBe(baseline);
        if (!o.ok) failed++;
        if (process.env.DMW_FUZZ_LOG) console.log(`${what}: ${o.ok ? 'ok' : o.error} (${o.roundTrips} round trips, ${o.log.length} events)`);
        if (o.log.some((e) => e.cmd !== 'Alert' || e.status !== 200)) executed++;
      }
      console.log(`handset fuzz ${encoding} (seed ${seed}): ${SESSIONS} sessions, ${failed} failed, ${executed} ran commands; ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`);
      // Mutations must get past the decoder, or this tests only the front door.
      expect(executed).toBeGreaterThan(SESSIONS / 3);

      // Nothing secret ever went to the server (not even in a Results of a Get, Copy or TNDS export).
      const sent = Buffer.concat(hostile.received.map((b) => Buffer.from(b)));
      for (const s of SECRETS) expect(sent.includes(s), `secret ${s} sent to the hostile server`).toBe(false);
      for (const c of [LAB2_CLIENT, LAB2_SERVER]) expect(sent.includes(Buffer.from(`${c.name}:${c.secret}`).toString('base64'))).toBe(false);
      expect(hostile.errors).toEqual([]);
      expect(unhandled).toEqual([]);

      // The tree, reloaded from its file, works: a clean session with the other authority.
      h.close();
      const again = await openHandset({ treeFile, encoding });
      expect(protectedState(again.tree)).toBe(baseline);
      expect(readAccounts(again.tree).map((a) => a.serverId).sort()).toEqual(['dmw', 'lab2']);
      const jobs = [
        await lab.addJob(again.devId, { kind: 'get', uri: './DevInfo/Mod' }),
        await lab.addJob(again.devId, { kind: 'replace', uri: './Vendor/Mode', value: 'clean' }),
      ];
      const clean = await again.connect({ serverId: 'lab2' });
      expect(clean.error).toBeUndefined();
      expect(clean.serverAuthRefusals).toBe(0);
      expect(sync(lab.store).job(jobs[0]!.job.id)).toMatchObject({ status: 'done', results: [{ data: 'Fuzz Phone' }] });
      expect(sync(lab.store).job(jobs[1]!.job.id)).toMatchObject({ status: 'done', statusCode: 200 });
      expect(again.tree.lookup('./Vendor/Mode')?.value).toBe('clean');
    }, 60_000 * ROUNDS);
  }
});

// ------------------------------------------------------------------------------------ focused cases

function serverMessage(devId: string, source: string, msgId: number, commands: Command[], final: boolean, encoding: Encoding): Buffer {
  const m: SyncML = {
    hdr: { verDTD: '1.2', verProto: 'DM/1.2', sessionID: '1', msgID: String(msgId), target: { locURI: devId }, source: { locURI: source } },
    body: { commands: commands.map((c, i) => ({ ...c, cmdID: String(i + 1) })), final },
  };
  const e = encodeMessage(m, encoding);
  if (!e.ok) throw new Error(e.error.message);
  return Buffer.from(e.value);
}

const hdrStatus = (msgRef: number, code = '200', extra: Partial<Status> = {}): Status => ({
  kind: 'Status', cmdID: '', msgRef: String(msgRef), cmdRef: '0', cmd: 'SyncHdr', targetRefs: [], sourceRefs: [], data: code, items: [], ...extra,
});

function chunk(target: string, text: string, o: { size?: string; more: boolean }): ItemCommand {
  const item: Item = { target: { locURI: target }, meta: { format: 'chr', ...(o.size !== undefined ? { size: o.size } : {}) }, data: { kind: 'text', text } };
  if (o.more) item.moreData = true;
  return { kind: 'Replace', cmdID: '', items: [item] };
}

describe('a large-object storm is refused, not buffered', () => {
  const MAX_OBJ = 64 * 1024;
  const CHUNK = 'z'.repeat(8 * 1024);
  const CHUNKS = 40; // 320 KiB, five times MaxObjSize

  /**
   * The server sends chunk after chunk of ./Vendor/Big (the first with `size`), `interleave` puts a
   * Get between the first and second chunks, then the last chunk, then a closing message.
   */
  async function storm(encoding: Encoding, first: { size?: string }, interleave = false) {
    const hostile = await hostileServer();
    const h = await openHandset(handsetOptions(encoding, [dmwAccount(hostile.url, '')], { maxObjSize: MAX_OBJ, maxRoundTrips: CHUNKS + 5, requestTimeoutMs: 5_000 }));
    resetVendor(h.tree);
    const ct = MEDIA_TYPES[encoding];
    hostile.script(({ index, res }) => {
      const msgId = index + 1;
      let cmds: Command[];
      let final = false;
      if (index === 0) cmds = [chunk('./Vendor/Big', CHUNK, { ...first, more: true })];
      else if (index < CHUNKS) {
        cmds = [chunk('./Vendor/Big', CHUNK, { more: true })];
        if (interleave && index === 1) cmds.unshift({ kind: 'Get', cmdID: '', items: [{ target: { locURI: './Vendor/Mode' } }] });
      } else if (index === CHUNKS) {
        cmds = [chunk('./Vendor/Big', 'the end', { more: false })];
        final = true;
      } else {
        cmds = [];
        final = true;
      }
      res.writeHead(200, { 'content-type': ct }).end(serverMessage(h.devId, hostile.url, msgId, [hdrStatus(index + 1), ...cmds], final, encoding));
    });
    const o = await settles(h.connect({ serverId: 'dmw' }), 30_000, 'storm');
    expectOutcome(o, 'storm', CHUNKS + 5);
    const big = o.log.filter((e) => e.target === './Vendor/Big' && e.cmd === 'Replace');
    return { h, o, big };
  }

  for (const encoding of ['xml', 'wbxml'] as Encoding[]) {
    it(`${encoding}: a huge Meta Size is 416, and every later chunk of that object is refused too; nothing is applied`, async () => {
      const { h, o, big } = await storm(encoding, { size: String(2 ** 40) });
      expect(o.error).toBeUndefined();
      expect(big.length).toBe(CHUNKS + 1);
      expect(big.map((e) => e.status)).toEqual(Array(CHUNKS + 1).fill(416));
      expect(big.slice(1).every((e) => /already refused/.test(e.message ?? ''))).toBe(true);
      expect(h.tree.lookup('./Vendor/Big')?.value).toBe('original');
    });
  }

  it('no Meta Size: chunks are buffered up to MaxObjSize, then 413, and the rest of the object is refused; nothing is applied', async () => {
    const { h, big } = await storm('wbxml', {});
    const buffered = big.filter((e) => e.status === 213);
    expect(buffered.length).toBe(MAX_OBJ / CHUNK.length);
    const sizes = buffered.map((e) => Number(/chunk buffered \((\d+)/.exec(e.message ?? '')?.[1]));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_OBJ);
    expect(big[buffered.length]!.status).toBe(413);
    expect(big.slice(buffered.length + 1).map((e) => e.status)).toEqual(Array(CHUNKS - buffered.length).fill(413));
    expect(h.tree.lookup('./Vendor/Big')?.value).toBe('original');
  });

  it('an object dropped by a command between its chunks (Alert 1225) is not completed from its remaining chunks', async () => {
    const { h, o, big } = await storm('xml', { size: String(MAX_OBJ) }, true);
    expect(o.log.find((e) => e.status === 1225)?.target).toBe('./Vendor/Big');
    expect(big[0]!.status).toBe(213);
    expect(big.slice(1).map((e) => e.status)).toEqual(Array(CHUNKS).fill(400));
    expect(h.tree.lookup('./Vendor/Big')?.value).toBe('original');
  });

  it('a new first chunk (with Meta Size) after a refused one starts a new object', async () => {
    const tree = (await openHandset(handsetOptions('xml', [dmwAccount('http://127.0.0.1:1/dm', '')]))).tree;
    resetVendor(tree);
    const s = new ClientSession({ tree, serverId: 'dmw', maxObjSize: 10 });
    const send = async (msgId: number, cmd: ItemCommand, final: boolean) => {
      const d = decodeMessage(serverMessage('IMEI:1', 'http://x', msgId, [cmd], final, 'xml'));
      if (!d.ok) throw new Error(d.error.message);
      return s.receive(d.value.message);
    };
    await send(1, chunk('./Vendor/Big', 'aaaa', { size: '100', more: true }), false); // 416
    await send(2, chunk('./Vendor/Big', 'bbbb', { more: true }), false); // the rest: refused
    await send(3, chunk('./Vendor/Big', 'cccc', { size: '6', more: true }), false); // a new object
    await send(4, chunk('./Vendor/Big', 'dd', { more: false }), true);
    expect(s.log.map((e) => e.status)).toEqual([416, 416, 213, 200]);
    expect(tree.lookup('./Vendor/Big')?.value).toBe('ccccdd');
  });
});

describe('our chunked Results under a MaxMsgSize that leaves no room for a chunk', () => {
  it('the session still ends: the rest goes over MaxMsgSize with a warning, not in empty messages forever', async () => {
    const value = 'r'.repeat(1000);
    const stuck: number[] = [];
    const forced: number[] = [];
    for (let max = 400; max <= 1400; max += 25) {
      const tree = (await openHandset(handsetOptions('xml', [dmwAccount('http://127.0.0.1:1/dm', '')]))).tree;
      resetVendor(tree);
      tree.replace(DEVICE, './Vendor/Big', value);
      const s = new ClientSession({ tree, serverId: 'dmw', clientUri: 'IMEI:1' });
      let out = await s.receive(pkg(get(1, './Vendor/Big'), { maxMsgSize: max }));
      let data = '';
      for (let n = 0; n < 300 && out; n++) {
        for (const c of out.body.commands) if (c.kind === 'Results') data += c.items.map((i) => (i.data?.kind === 'text' ? i.data.text : '')).join('');
        if (out.body.final) break;
        out = await s.receive(s.nextMessageRequest(out));
      }
      if (!out?.body.final || data !== value) stuck.push(max);
      if (s.warnings.some((w) => /^a Results chunk of \d+ bytes is sent over the server's MaxMsgSize/.test(w))) forced.push(max);
    }
    expect(stuck, 'MaxMsgSize values where the Results never completed').toEqual([]);
    expect(forced.length).toBeGreaterThan(0);
  });
});

describe('hostile HTTP: focused cases', () => {
  it('an answer trickled a byte at a time is cut off at the request timeout, not waited for forever', async () => {
    const hostile = await hostileServer();
    const h = await openHandset(handsetOptions('xml', [dmwAccount(hostile.url, '')], { requestTimeoutMs: TIMEOUT_MS }));
    hostile.script(({ res }) => frame('trickle', serverMessage(h.devId, hostile.url, 1, [hdrStatus(1)], true, 'xml'), MEDIA_TYPES.xml, res));
    const o = await settles(h.connect({ serverId: 'dmw' }), 20 * TIMEOUT_MS, 'trickle');
    expect(o.ok).toBe(false);
    expect(o.error).toMatch(new RegExp(`no answer from ${hostile.url.replace(/[.]/g, '\\.')} within ${TIMEOUT_MS} ms`));
  });

  it('an endless body is refused once the handset has read its limit: it stops reading there and closes the connection', async () => {
    const hostile = await hostileServer();
    // The request timeout is out of the way (a slow machine only makes this take longer): what is
    // bounded is bytes. The test's own timeout only guards against a hang.
    const h = await openHandset(handsetOptions('wbxml', [dmwAccount(hostile.url, '')], { requestTimeoutMs: 10 * 60_000 }));
    const cap = 8 * MAX_RESPONSE_BYTES;
    let endless: EndlessBody | undefined;
    hostile.script(({ res }) => {
      endless = endlessBody(res, MEDIA_TYPES.wbxml, cap);
    });
    const o = await h.connect({ serverId: 'dmw' });
    expect(o.ok).toBe(false);
    expect(o.error).toMatch(new RegExp(`answer from ${hostile.url.replace(/[.]/g, '\\.')} is over ${MAX_RESPONSE_BYTES} bytes`));
    const { sent, ended } = await endless!.closed;
    expect(ended, `the handset read all ${sent} bytes the server had`).toBe(false);
    const inFlight = inFlightBytes(endless!.block);
    expect(inFlight).toBeLessThan(cap - MAX_RESPONSE_BYTES);
    expect(sent).toBeGreaterThan(MAX_RESPONSE_BYTES);
    expect(sent - MAX_RESPONSE_BYTES, 'bytes sent past the limit before the handset closed').toBeLessThanOrEqual(inFlight);
  }, 120_000);

  it('a NextNonce that is not base64 is used as the text it is (not a throw out of connect)', async () => {
    const hostile = await hostileServer();
    const h = await openHandset(handsetOptions('wbxml', [dmwAccount(hostile.url, '')]));
    const nonce = 'not base64!';
    hostile.script(({ index, res }) => {
      const chal = { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: nonce } };
      const cmds = index === 0 ? [hdrStatus(1, '401', { chal })] : [hdrStatus(index + 1, '212', { chal })];
      res.writeHead(200, { 'content-type': MEDIA_TYPES.wbxml }).end(serverMessage(h.devId, hostile.url, index + 1, cmds, true, 'wbxml'));
    });
    const o = await settles(h.connect({ serverId: 'dmw' }), 10_000, 'nonce');
    expect(o.error).toBeUndefined();
    expect(o.headerCodes).toEqual([401, 212]);
    // the retry is signed with the nonce's bytes, as a server that sent this text computes it
    const retry = decodeMessage(hostile.received[1]!);
    expect(retry.ok && retry.value.message.hdr.cred?.data).toBe(md5Credential(DMW_CLIENT.name, DMW_CLIENT.secret, new Uint8Array(Buffer.from(nonce))));
    const stored = h.tree.lookup('./DMAcc/dmw/AppAuth/1/AAuthData')?.value as string;
    expect(Buffer.from(nonceBytes(stored)).toString()).toBe(nonce);
  });
});

// ------------------------------------------------------------------------------------ package #0

describe('a hostile notifier against the package #0 listener', () => {
  it(`mutated package #0 is refused with a reason, never a crash; a valid one still starts a session (seed ${SEED ?? 0x4a5e3})`, async () => {
    const seed = SEED ?? 0x4a5e3;
    const lab = await labServer();
    const h = await openHandset(handsetOptions('wbxml', [lab2Account(lab.url)], { requestTimeoutMs: 5_000 }));
    const sessions: Promise<SessionOutcome>[] = [];
    const listener = await NotificationListener.start({ onNotification: (_, o) => o.session && sessions.push(o.session) });
    cleanups.push(() => listener.close());
    const url = listener.register(h);
    const valid = (): Uint8Array => {
      const nonce = h.tree.lookup('./DMAcc/lab2/AppAuth/2/AAuthData')?.value;
      return buildPackage0({ uiMode: 'background', initiator: 'server', sessionId: 0x1234, serverId: 'lab2' }, { secret: LAB2_SERVER.secret, nonce: nonceBytes(typeof nonce === 'string' ? nonce : '') });
    };
    const good = valid();
    const r = rng(seed);
    const statuses = new Map<string, number>();
    const post = async (body: Uint8Array, kind: string, headers: Record<string, string> = { 'content-type': PACKAGE0_MEDIA_TYPE }, to = url) => {
      const res = await rawPost(to, body, headers);
      const text = Buffer.from(res.body).toString('utf8').trim();
      statuses.set(`${kind} ${res.status}`, (statuses.get(`${kind} ${res.status}`) ?? 0) + 1);
      expect([200, 400, 401, 404, 413, 415]).toContain(res.status);
      expect(text.length, `${kind}: a reason`).toBeGreaterThan(0);
      if (res.status === 200) expect(Buffer.from(body).equals(Buffer.from(good)), `${kind}: accepted only as sent`).toBe(true);
      if (res.status === 401) expect(text).toMatch(/^package #0 digest does not verify with the SRVCRED of "/);
      if (res.status === 400) expect(text).toMatch(/^(malformed package #0|package #0 version \d+ is not 11)/);
      if (res.status === 404) expect(text).toMatch(/^no (DMAcc account for ServerID "|handset IMEI:)/);
      return { status: res.status, text };
    };

    for (let i = 0; i < PACKAGE0S; i++) {
      switch (r(8)) {
        case 0: { // the digest alone: always 401, with its reason
          const b = new Uint8Array(good);
          const at = r(16);
          b[at] = b[at]! ^ (1 + r(255));
          expect((await post(b, 'digest')).status).toBe(401);
          break;
        }
        case 1: { // a wrong content type, or too big, or an unknown handset
          const f = r(3);
          if (f === 0) expect((await post(good, 'content-type', { 'content-type': 'application/octet-stream' })).status).toBe(415);
          else if (f === 1) expect((await post(new Uint8Array(70 * 1024), 'too-big')).status).toBe(413);
          else expect((await post(good, 'unknown-handset', { 'content-type': PACKAGE0_MEDIA_TYPE }, listener.urlFor('IMEI:000000000000000'))).status).toBe(404);
          break;
        }
        default: {
          const m = mutateMessage(good, r);
          await post(m.bytes, m.kind);
        }
      }
    }
    console.log(`package #0 fuzz (seed ${seed}): ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // sessions any byte-identical package started end like any other
    for (const o of await Promise.all(sessions.splice(0))) expectOutcome(o, 'notified session');

    // a valid one (with the nonce as it is now) starts a session that completes
    const job = await lab.addJob(h.devId, { kind: 'get', uri: './DevInfo/Mod' });
    const ok = await post(valid(), 'valid');
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/^accepted: session 1234 with lab2/);
    expect(sessions.length).toBe(1);
    const o = await settles(sessions[0]!, 20_000, 'notified session');
    expect(o.error).toBeUndefined();
    expect(o).toMatchObject({ ok: true, initiator: 'server', sessionId: '1234', serverAuthRefusals: 0 });
    expect(sync(lab.store).job(job.job.id)).toMatchObject({ status: 'done', results: [{ data: 'Fuzz Phone' }] });
    expect(unhandled).toEqual([]);
  });
});
