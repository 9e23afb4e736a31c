/**
 * The floor of issue 17's server target: the least any DM server must do per round trip of the
 * server bench's sessions (WBXML, MD5 both ways, a Get and a Replace job, durability FULL), to
 * learn whether "<= 4x a bare node:http request" is reachable by any design here, or only by ours
 * being leaner. A diagnostic, not the product: `npm run bench -- server --what-if floor`.
 *
 * What it does, and why each part is unavoidable:
 *  - node:http, the body read whole (bounded);
 *  - the message decoded (our fast WBXML reader) and the answer encoded (our writer);
 *  - package 1's MD5 digest checked against the nonce issued last, a new nonce issued; our own
 *    Cred on every answer, made with the nonce the device gave us;
 *  - durability: the request and the answer logged, the device's nonces, the jobs sent and settled,
 *    the session's row, all committed and the WAL fsynced before the answer goes (group commit:
 *    one COMMIT per event-loop turn, one fsync in flight), in the product's schema.
 * With `index`, the message index too (the product's indexMessages, in batches of 64 messages
 * off the answer's path, as the product's deferred index does): a feature of the product, not of
 * the protocol, measured apart (`--what-if floor+index`).
 * What it leaves out, although the product does it: the tree cache, events,
 * admission and pre-authentication limits, throttling, step control, every check of what the
 * device said beyond what this session needs. Devices and sessions live in memory (one process
 * owns the store). It serves the bench's handsets and nothing else: anything unexpected is a 400.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, openSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { md5Credential, nonceBytes } from '../../main/protocol/auth.js';
import { decodeMessage, encodeMessage } from '../../main/protocol/codec.js';
import { indexMessages, type LoggedMessage } from '../../main/store/message-index.js';
import type { Command, Item, Status, SyncML } from '../../main/protocol/model.js';
import { DB_FILE, ServerStore } from '../../main/store/sqlite/server-store.js';

const MAX_BODY = 64 * 1024;
const MD5 = { format: 'b64', type: 'syncml:auth-md5' };
const WBXML = 'application/vnd.syncml.dm+wbxml';

interface Account { name: string; secret: string }
interface Device { clientNonce: string | undefined; serverNonce: string }
interface Job { id: number; spec: { kind: string; uri: string; value?: string } }
interface Session { id: number; token: string; devId: string; msgNo: number; jobs: Job[]; cmdOfJob: Map<string, number>; results: Map<number, string> }

export interface FloorServer { url: string; close(): Promise<void> }

export async function startFloorServer(o: { dataDir: string; host?: string; defaultClientCred: Account; serverCred: Account; index?: boolean }): Promise<FloorServer> {
  ServerStore.open(o.dataDir).close(); // the product's schema, so the bench queues its jobs as usual
  const file = path.join(o.dataDir, DB_FILE);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  const st = {
    queued: db.prepare(`SELECT id, spec FROM jobs WHERE device = ? AND status = 'queued' ORDER BY id`),
    session: db.prepare(`INSERT INTO sessions (device, dm_session_id, state, encoding, auth_type, started_at) VALUES (?, ?, 'active', 'wbxml', 'md5', ?)`),
    endSession: db.prepare(`UPDATE sessions SET state = 'completed', reason = 'done', ended_at = ? WHERE id = ?`),
    device: db.prepare(`UPDATE devices SET auth = ?, last_seen = ? WHERE dev_id = ?`),
    sent: db.prepare(`UPDATE jobs SET status = 'sent', session_id = ?, attempts = attempts + 1, updated_at = ? WHERE id IN (?, ?) AND status = 'queued'`),
    done: db.prepare(`UPDATE jobs SET status = 'done', status_code = 200, results = CASE id WHEN ? THEN ? ELSE '[]' END, updated_at = ? WHERE id IN (?, ?)`),
    log: db.prepare(`INSERT INTO messages (session_id, seq, direction, at, msg_id, content_type, http_status, bytes) VALUES (?, ?, 'in', ?, ?, '${WBXML}', NULL, ?), (?, ?, 'out', ?, ?, '${WBXML}', 200, ?) RETURNING id`),
  };
  const walFd = openSync(`${file}-wal`, 'r+');

  // Group commit: the first write of an event-loop turn opens the transaction, the turn's end
  // commits it, one fsync of the WAL at a time covers every commit before it.
  let open = false;
  let syncing = false;
  let waiting: (() => void)[] = [];
  let unsynced: (() => void)[] = [];
  const commit = (): void => {
    if (!open || syncing) return; // while an fsync runs, the group stays open and commits after it
    db.exec('COMMIT');
    open = false;
    unsynced = unsynced.concat(waiting);
    waiting = [];
    sync();
  };
  const sync = (): void => {
    if (unsynced.length === 0) return;
    const done = unsynced;
    unsynced = [];
    syncing = true;
    fsync(walFd, (err) => {
      syncing = false;
      if (err) throw err;
      for (const f of done) f();
      commit();
    });
  };
  const durably = (write: () => void): Promise<void> => {
    if (!open) {
      db.exec('BEGIN IMMEDIATE');
      open = true;
      setImmediate(commit);
    }
    write();
    return new Promise((resolve) => waiting.push(resolve));
  };

  // The message index, in batches written in the next event-loop turn (in the open group if there
  // is one: the write lock is ours), as the product's deferred index does.
  let toIndex: LoggedMessage[] = [];
  let indexSoon = false;
  const logged = (sessionId: number, seq: number, at: number, msgId: string, ids: { id: number }[], msgs: [Uint8Array, SyncML, Uint8Array, SyncML]): void => {
    if (!o.index) return;
    toIndex.push(
      { id: ids[0]!.id, sessionId, seq, direction: 'in', atMs: at, msgId, contentType: WBXML, bytes: msgs[0], parsed: msgs[1] },
      { id: ids[1]!.id, sessionId, seq: seq + 1, direction: 'out', atMs: at, msgId, contentType: WBXML, bytes: msgs[2], parsed: msgs[3] },
    );
    if (toIndex.length < 64 || indexSoon) return;
    indexSoon = true;
    setImmediate(() => {
      indexSoon = false;
      const batch = toIndex;
      toIndex = [];
      if (open) indexMessages(db, batch);
      else db.transaction(() => indexMessages(db, batch)).immediate();
    });
  };

  const devices = new Map<string, Device>();
  const sessions = new Map<string, Session>();
  let base = '';
  const nonce = (): string => randomBytes(16).toString('base64');
  const authJson = (d: Device): string => JSON.stringify({ authFailures: [], clientNonce: d.clientNonce, serverNonce: d.serverNonce });

  const answer = (req: SyncML, s: Session | undefined, commands: Command[]): SyncML => {
    const d = devices.get(req.hdr.source.locURI)!;
    return {
      hdr: {
        verDTD: '1.2', verProto: 'DM/1.2', sessionID: req.hdr.sessionID, msgID: req.hdr.msgID, target: { locURI: req.hdr.source.locURI }, source: { locURI: req.hdr.target.locURI },
        ...(s ? { respURI: `${base}/dm/s/${s.token}` } : {}),
        cred: { meta: MD5, data: md5Credential(o.serverCred.name, o.serverCred.secret, nonceBytes(d.serverNonce)) },
        meta: { maxMsgSize: '1048576', maxObjSize: '67108864' },
      },
      body: { commands, final: true },
    };
  };
  const statusOf = (req: SyncML, cmdID: number, cmdRef: string, cmd: string, code: string, extra: Partial<Status> = {}): Status => ({
    kind: 'Status', cmdID: String(cmdID), msgRef: req.hdr.msgID, cmdRef, cmd, targetRefs: [], sourceRefs: [], data: code, items: [], ...extra,
  });

  /** Package 1: the device's digest, the session, its jobs. */
  const open1 = async (req: SyncML, bytes: Uint8Array, at: number): Promise<Uint8Array> => {
    const devId = req.hdr.source.locURI;
    let d = devices.get(devId);
    if (!d) devices.set(devId, (d = { clientNonce: undefined, serverNonce: '' }));
    const issued = d.clientNonce ?? '';
    const ok = req.hdr.cred?.data === md5Credential(o.defaultClientCred.name, o.defaultClientCred.secret, nonceBytes(issued));
    d.clientNonce = nonce();
    const hdrStatus = statusOf(req, 1, '0', 'SyncHdr', ok ? '212' : '401', {
      targetRefs: [req.hdr.target.locURI], sourceRefs: [devId], chal: { meta: { ...MD5, nextNonce: d.clientNonce } },
    });
    if (!ok) {
      const out = encodeMessage(answer(req, undefined, [hdrStatus]), 'wbxml');
      if (!out.ok) throw new Error(out.error.message);
      await durably(() => st.device.run(authJson(d), new Date(at).toISOString(), devId));
      return out.value;
    }
    const token = randomBytes(8).toString('hex');
    const s: Session = { id: 0, token, devId, msgNo: 0, jobs: [], cmdOfJob: new Map(), results: new Map() };
    const commands: Command[] = [hdrStatus];
    let cmdID = 2;
    for (const c of req.body.commands) commands.push(statusOf(req, cmdID++, c.cmdID, c.kind, '200'));
    const when = new Date(at).toISOString();
    let reply!: Uint8Array;
    await durably(() => {
      s.id = Number(st.session.run(devId, req.hdr.sessionID, when).lastInsertRowid);
      s.jobs = (st.queued.all(devId) as { id: number; spec: string }[]).map((r) => ({ id: r.id, spec: JSON.parse(r.spec) as Job['spec'] }));
      if (s.jobs.length !== 2) throw new Error(`the floor serves the bench's sessions only: ${s.jobs.length} jobs queued for ${devId}`);
      for (const j of s.jobs) {
        const id = String(cmdID++);
        s.cmdOfJob.set(id, j.id);
        const item: Item = j.spec.kind === 'get' ? { target: { locURI: j.spec.uri } } : { target: { locURI: j.spec.uri }, meta: { format: 'chr' }, data: { kind: 'text', text: j.spec.value ?? '' } };
        commands.push({ kind: j.spec.kind === 'get' ? 'Get' : 'Replace', cmdID: id, items: [item] });
      }
      const response = answer(req, s, commands);
      const out = encodeMessage(response, 'wbxml');
      if (!out.ok) throw new Error(out.error.message);
      reply = out.value;
      st.sent.run(s.id, when, s.jobs[0]!.id, s.jobs[1]!.id);
      st.device.run(authJson(d), when, devId);
      const ids = st.log.all(s.id, 1, when, req.hdr.msgID, bytes, s.id, 2, new Date(Date.now()).toISOString(), req.hdr.msgID, reply) as { id: number }[];
      logged(s.id, 1, at, req.hdr.msgID, ids, [bytes, req, reply, response]);
    });
    s.msgNo = 2;
    sessions.set(token, s);
    return reply;
  };

  /** Package 3: the device's statuses and results settle the jobs; our nonce for next time; the end. */
  const close3 = async (s: Session, req: SyncML, bytes: Uint8Array, at: number): Promise<Uint8Array> => {
    const d = devices.get(s.devId)!;
    for (const c of req.body.commands) {
      if (c.kind === 'Status' && c.cmdRef === '0' && c.chal?.meta.nextNonce !== undefined) d.serverNonce = c.chal.meta.nextNonce;
      else if (c.kind === 'Results') {
        const job = s.cmdOfJob.get(c.cmdRef);
        const data = c.items[0]?.data;
        if (job !== undefined) s.results.set(job, JSON.stringify([{ uri: c.items[0]?.source?.locURI, data: data?.kind === 'text' ? data.text : '' }]));
      }
    }
    const response = answer(req, s, [statusOf(req, 1, '0', 'SyncHdr', '200', { targetRefs: [req.hdr.target.locURI], sourceRefs: [s.devId] })]);
    const out = encodeMessage(response, 'wbxml');
    if (!out.ok) throw new Error(out.error.message);
    const when = new Date(at).toISOString();
    const [a, b] = s.jobs as [Job, Job];
    await durably(() => {
      st.done.run(a.id, s.results.get(a.id) ?? '[]', when, a.id, b.id);
      st.device.run(authJson(d), when, s.devId);
      const ids = st.log.all(s.id, s.msgNo + 1, when, req.hdr.msgID, bytes, s.id, s.msgNo + 2, new Date(Date.now()).toISOString(), req.hdr.msgID, out.value) as { id: number }[];
      logged(s.id, s.msgNo + 1, at, req.hdr.msgID, ids, [bytes, req, out.value, response]);
      st.endSession.run(when, s.id);
    });
    sessions.delete(s.token);
    return out.value;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const at = Date.now();
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const fail = (why: string) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`${why}\n`);
      };
      const decoded = decodeMessage(bytes);
      if (!decoded.ok) return fail(decoded.error.message);
      const msg = decoded.value.message;
      const token = req.url?.startsWith('/dm/s/') ? req.url.slice(6) : undefined;
      const s = token === undefined ? undefined : sessions.get(token);
      if (token !== undefined && !s) return fail(`no session ${token}`);
      (s ? close3(s, msg, bytes, at) : open1(msg, bytes, at)).then((body) => {
        res.writeHead(200, { 'content-type': WBXML, 'content-length': String(body.length) });
        res.end(body);
      }, (e: Error) => fail(e.message));
    });
  });
  await new Promise<void>((r) => server.listen(0, o.host ?? '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/dm`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => {
        if (open) commit();
        if (toIndex.length > 0) db.transaction(() => indexMessages(db, toIndex)).immediate();
        db.close();
        closeSync(walFd);
        resolve();
      });
      server.closeAllConnections();
    }),
  };
}
