/**
 * A virtual handset: a DM client on the codec and the tree engine that talks to any DM server over
 * real HTTP(S). It owns a DM tree (DevInfo, DevDetail, one DMAcc account per management authority,
 * whatever else it was given), persisted to a file so it survives restarts, and runs sessions:
 *
 *   const h = await VirtualHandset.open({ treeFile: 'phone.json', device: { accounts: [acc] } });
 *   const r = await h.connect({ serverId: 'dmw' });          // client-initiated (Alert 1201)
 *   await h.notify(package0Bytes);                            // server-initiated (Alert 1200)
 *
 * The protocol work (commands, statuses, 1222 continuation, large objects both ways, MaxMsgSize)
 * is ClientSession's (main/tree/processor); this file adds what a session needs from the outside:
 * the account (picked by ServerID), credentials and their nonces both ways, the wire encoding, the
 * HTTP exchange and RespURI, package #0, persistence and events. One session at a time per
 * handset, as on a real device: a second one (another server, a notification) waits its turn.
 */
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { decodeMessage, encodeMessage, MEDIA_TYPES, sniffEncoding, type Encoding } from '../protocol/codec.js';
import { mediaType as mediaTypeOf } from '../protocol/http-body.js';
import { describeCodecError } from '../protocol/errors.js';
import { hmacHeader, nonceBytes, type AuthType } from '../protocol/auth.js';
import type { Chal, Cred, Status, SyncML } from '../protocol/model.js';
import { parsePackage0, package0Digest, RESYNC_NONCES, type ParsedPackage0 } from '../notify/package0.js';
import { createDeviceTree, findAccount, readAccounts, type DeviceTreeOptions } from '../tree/mos.js';
import { loadTree, saveTree } from '../tree/persist.js';
import { DEVICE, type DmNode, type DmTree } from '../tree/tree.js';
import type { DmUri } from '../tree/uri.js';
import type { DdfSchema } from '../tree/ddf.js';
import {
  ClientSession, defaultResponder, noUiResponder, timeoutResponder,
  type AlertResponder, type ClientSessionOptions, type ExecHandler, type ExecOutcome, type ExecRequest, type GenericAlert, type ProcessEvent,
} from '../tree/processor/index.js';
import {
  AAUTH_TYPE, authTypeOf, checkServer, clientCred, newNonce, readCredential, storableNonce, writeCredentialLeaf,
  type AccountCredential, type AccountRef, type ServerVerdict,
} from './credentials.js';
import { HandsetEvents, iso, type HandsetEvent, type Initiator } from './events.js';
import { Transport, type HandsetTls } from './transport.js';
import { DEFAULT_DM_PROTOCOL, DM20_MEDIA_TYPE, type DmProtocol } from '../protocol/dm20/model.js';
import { dm20Url, eventFromGenericAlert, runDm20Session } from './dm20/session.js';
import { applyOutgoingFaults, parseFaults, processorFaults, withoutMaxMsgSize, type FaultName } from './faults.js';

/**
 * How UI alerts (1100-1104) are answered when nobody is at the handset:
 *  - accept: the Default Response as if the user took it (406 without one) — defaultResponder;
 *  - reject: display 200, confirm 304 "no", input and choices 214 "cancelled";
 *  - no-ui: 406 for everything but display (a headless client);
 *  - timeout: nobody answers: 408 (what the Android DM engine's own tests expect);
 *  - or any AlertResponder (a UI that asks a person).
 */
export type AlertPolicy = 'accept' | 'reject' | 'no-ui' | 'timeout' | AlertResponder;

export const rejectResponder: AlertResponder = (a) => {
  switch (a.kind) {
    case 'display':
      return { status: 200 };
    case 'confirm':
      return { status: 304 };
    default:
      return { status: 214 };
  }
};

export function alertResponder(p: AlertPolicy | undefined): AlertResponder {
  if (typeof p === 'function') return p;
  switch (p ?? 'accept') {
    case 'accept':
      return defaultResponder;
    case 'reject':
      return rejectResponder;
    case 'no-ui':
      return noUiResponder;
    case 'timeout':
      return timeoutResponder;
  }
}

/**
 * When the server's credentials are checked:
 *  - 'if-configured' (default): when the account's SRVCRED has a secret;
 *  - 'required': always (no SRVCRED secret: every command 407);
 *  - 'off': never (a server that sends no Cred, e.g. our own without --server-cred).
 */
export type ServerAuthPolicy = 'if-configured' | 'required' | 'off';

export interface HandsetOptions {
  /** The DM tree. Default: loaded from `treeFile` when it exists, else built from `device`. */
  tree?: DmTree;
  /** Where the tree lives: loaded at open, saved after every session (atomic rename). */
  treeFile?: string;
  /** DevInfo, DevDetail and DMAcc accounts of a new tree (createDeviceTree). */
  device?: DeviceTreeOptions;
  /** Wire encoding of our messages. Default wbxml (what handsets send). */
  encoding?: Encoding;
  /** Content-Type sent; default the DM media type of the encoding. */
  mediaType?: string;
  /** Our MaxMsgSize, advertised in every SyncHdr. Default 16384. */
  maxMsgSize?: number;
  /** Our MaxObjSize (large objects we accept); 0 = none announced. Default 4 MiB. */
  maxObjSize?: number;
  /** UI alerts. Default 'accept'. */
  alerts?: AlertPolicy;
  /** Exec targets; default none (406). */
  exec?: ExecHandler;
  schemas?: readonly DdfSchema[];
  tls?: HandsetTls;
  serverAuth?: ServerAuthPolicy;
  /** Accept package #0 signed with a resync nonce (libdmclient `0x00000000`, Android 4 zero bytes). Default true. */
  acceptResyncNonce?: boolean;
  /** 401/407 answers to our credentials tolerated per session (each re-sends with the new challenge). Default 3. */
  maxAuthRetries?: number;
  /** HTTP round trips per session before we give up. Default 1000. */
  maxRoundTrips?: number;
  requestTimeoutMs?: number;
  /**
   * Runs at the start of every session, in the handset's turn (e.g. the app's fleet brings the
   * account in line with the server as it is now: a restarted server may have a new address).
   */
  beforeSession?: (handset: VirtualHandset, opts: ConnectOptions) => void | Promise<void>;
  /** Nonces we challenge the server with (tests inject a fixed sequence). */
  nonce?: () => string;
  now?: () => number;
  /**
   * Session protocol: '1.2' (SyncML DM 1.2/1.3, the default) or '2.0' (the lab DM 2.0 JSON binding,
   * main/protocol/dm20/README.md, at the account's address + `/v2`).
   */
  protocol?: DmProtocol;
  /**
   * Fault injection (main/client/faults.ts): misbehave on purpose, to prove that checks catch it.
   * Unknown names throw UnknownFaultError at open. DM 1.2 sessions only (a DM 2.0 session ignores
   * them). Default none: a correct handset.
   */
  faults?: readonly (FaultName | string)[];
}

export interface ConnectOptions {
  /** Which management authority (DMAcc ServerID). Default: the first account. */
  serverId?: string;
  /** client: Alert 1201; server: Alert 1200 (after package #0). Default client. */
  initiator?: Initiator;
  /** SyncHdr SessionID; default a random 16-bit value in uppercase hex. */
  sessionId?: string;
  /** Send to this URL instead of the account's AppAddr Addr. */
  url?: string;
  /** Generic Alerts (1226 ...) to put in package 1. */
  genericAlerts?: GenericAlert[];
  /** This session's protocol (default the handset's `protocol`). */
  protocol?: DmProtocol;
  /**
   * Called before each message goes out (0 = package 1); a promise holds the session there. Lab
   * control ("step") and the benchmark that keeps 1,000 sessions open at once use it.
   */
  beforeSend?: (index: number, message: SyncML) => void | Promise<void>;
}

export interface SessionOutcome {
  ok: boolean;
  devId: string;
  serverId: string;
  sessionId: string;
  initiator: Initiator;
  /** HTTP exchanges: one message of ours, one answer of the server. */
  roundTrips: number;
  durationMs: number;
  error?: string;
  /** SyncHdr status codes the server gave our messages, in order. */
  headerCodes: number[];
  /** Server messages refused for missing or wrong server credentials. */
  serverAuthRefusals: number;
  /** What the handset did with the server's commands. */
  log: ProcessEvent[];
  /** Protocol oddities: size limits exceeded, interrupted objects. */
  warnings: string[];
}

export interface NotificationOutcome {
  accepted: boolean;
  reason: string;
  /** HTTP status for the notifier: 200 accepted, 400 malformed, 401 digest, 404 unknown server, 503 stopped. */
  httpStatus: number;
  serverId?: string;
  sessionId?: string;
  package0?: ParsedPackage0;
  /** Which credentials matched: the SRVCRED nonce, or a resync nonce. */
  matched?: string;
  /** The session the notification started (accepted only). */
  session?: Promise<SessionOutcome>;
}

/** The same account view readAccounts gives, without secrets (for UIs and logs). */
export interface AccountView {
  path: string;
  serverId: string;
  name: string;
  addr: string;
  clientAuth: string;
  clientName: string;
  serverAuth: string;
  serverName: string;
}

const DEFAULT_MAX_MSG = 16 * 1024;
const DEFAULT_MAX_OBJ = 4 * 1024 * 1024;
/**
 * Bytes kept free under the server's MaxMsgSize: a message re-sent after a 401 carries a larger
 * MsgID than ClientSession sized it with (it numbers from 1 and does not know about the re-send).
 */
const MSGID_MARGIN = 16;

/**
 * Local apps on the handset (DM-7/DM-8; main/client/apps attaches a ClientAppRegistry here). The
 * handset only routes: Exec on a target an app owns goes to `exec` (undefined = no app owns it, so
 * HandsetOptions.exec decides), and after each server message `serverCommands` hears what was done.
 */
export interface HandsetAppHooks {
  exec(req: ExecRequest): ExecOutcome | Promise<ExecOutcome> | undefined;
  serverCommands(events: readonly ProcessEvent[], session: { serverId: string; sessionId: string }): void;
}

/** The Exec handler a session gets: the apps' first, then the handset's own. */
function execRoute(apps: HandsetAppHooks | undefined, own: ExecHandler | undefined): ExecHandler | undefined {
  if (!apps) return own;
  return (req) => apps.exec(req) ?? (own ? own(req) : { status: 406, message: `nothing is bound to Exec on ${req.path} (no app owns it, no Exec handler)` });
}

function randomSessionId(): string {
  return randomInt(1, 0x10000).toString(16).toUpperCase();
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isDmMediaType(ct: string): boolean {
  if (ct === lastMediaType) return lastIsDm;
  return /^application\/vnd\.syncml(\.dm)?\+(wbxml|xml)$/.test(ct);
}

/** The last Content-Type answered and what it gave: a server answers every message with the same. */
let lastContentType: string | undefined;
let lastMediaType = '';
let lastIsDm = false;

function replyMediaType(header: string | string[] | undefined): string {
  if (typeof header === 'string' && header === lastContentType) return lastMediaType;
  const type = mediaTypeOf(header);
  if (typeof header === 'string') {
    lastContentType = header;
    lastMediaType = type;
    lastIsDm = /^application\/vnd\.syncml(\.dm)?\+(wbxml|xml)$/.test(type);
  }
  return type;
}

export class VirtualHandset {
  readonly events = new HandsetEvents();
  readonly tree: DmTree;
  readonly treeFile: string | undefined;
  readonly options: HandsetOptions;
  /** Stopped handsets refuse notifications and new sessions. */
  running = true;
  sessions = 0;
  /** When the last session ended (ISO 8601), formatted when read: sessions end far more often. */
  get lastSessionAt(): string | null {
    if (this.lastSessionMs !== undefined) {
      this.lastSessionText = iso(this.lastSessionMs);
      this.lastSessionMs = undefined;
    }
    return this.lastSessionText;
  }

  set lastSessionAt(at: string | null) {
    this.lastSessionText = at;
    this.lastSessionMs = undefined;
  }

  private lastSessionText: string | null = null;
  private lastSessionMs: number | undefined;
  lastError: string | null = null;
  /** Where package #0 reaches this handset (set by the listener that serves it). */
  notifyUrl: string | undefined;
  /** A session is running now. */
  busy = false;
  /** Local apps (main/client/apps): set with attachApps. */
  appHooks: HandsetAppHooks | undefined;

  private transport: Transport;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  /** ./DevInfo/DevId parsed once with the tree's limits (a tree keeps its limits): read at every session. */
  private readonly devIdUri: string | DmUri;
  /** Faults injected (HandsetOptions.faults); empty for a correct handset. */
  readonly faults: ReadonlySet<FaultName>;

  private constructor(tree: DmTree, options: HandsetOptions) {
    this.faults = parseFaults(options.faults ?? []);
    this.tree = tree;
    const devIdUri = tree.parse('./DevInfo/DevId');
    this.devIdUri = devIdUri.ok ? devIdUri.value : './DevInfo/DevId';
    this.treeFile = options.treeFile;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.transport = new Transport({ ...(options.tls ? { tls: options.tls } : {}), ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}) });
  }

  /**
   * A handset on `options.tree`, or the tree in `treeFile` (when the file exists), or a new tree from
   * `options.device` (saved to `treeFile` at once when one is given).
   */
  static async open(options: HandsetOptions = {}): Promise<VirtualHandset> {
    let tree = options.tree;
    let fresh = false;
    if (!tree && options.treeFile && existsSync(options.treeFile)) tree = await loadTree(options.treeFile);
    if (!tree) {
      tree = createDeviceTree(options.device ?? {});
      fresh = true;
    }
    const h = new VirtualHandset(tree, options);
    if (fresh && options.treeFile) await h.save();
    return h;
  }

  get devId(): string {
    const r = this.tree.get(DEVICE, this.devIdUri);
    return r.ok && r.value.kind === 'leaf' && typeof r.value.value === 'string' ? r.value.value : 'unknown-device';
  }

  get model(): string {
    const n = this.tree.lookup('./DevInfo/Mod');
    return typeof n?.value === 'string' ? n.value : '';
  }

  get encoding(): Encoding {
    return this.options.encoding ?? 'wbxml';
  }

  /** DMAcc accounts, secrets left out. */
  accounts(): AccountView[] {
    return readAccounts(this.tree).map((a) => ({
      path: a.path,
      serverId: a.serverId,
      name: a.name,
      addr: a.addr,
      clientAuth: a.clientCred?.type ?? '',
      clientName: a.clientCred?.name ?? '',
      serverAuth: a.serverCred?.type ?? '',
      serverName: a.serverCred?.name ?? '',
    }));
  }

  /** Lets local apps own Exec on their MOs and hear what servers do (one registry per handset; undefined detaches). */
  attachApps(hooks: HandsetAppHooks | undefined): void {
    this.appHooks = hooks;
  }

  /** Returns the unsubscribe. `wanted`: a relay, heard only while that says so (HandsetEvents.on). */
  on(listener: (e: HandsetEvent) => void, wanted?: () => boolean): () => void {
    return this.events.on(listener, wanted);
  }

  /** Saves the tree to `treeFile` (nothing without one). */
  async save(): Promise<void> {
    if (this.treeFile) await saveTree(this.tree, this.treeFile);
  }

  /** New TLS settings (CA, pins, client certificate) for the sessions that start from now on. */
  setTls(tls: HandsetTls | undefined): void {
    this.transport.close();
    (this.options as { tls?: HandsetTls }).tls = tls;
    this.transport = new Transport({ ...(tls ? { tls } : {}), ...(this.options.requestTimeoutMs ? { timeoutMs: this.options.requestTimeoutMs } : {}) });
  }

  /** Closes kept-alive connections. The tree is saved after each session already. */
  close(): void {
    this.running = false;
    this.transport.close();
  }

  // ------------------------------------------------------------------------------- sessions

  /** One DM session with a server; queued behind a session already running on this handset. */
  connect(opts: ConnectOptions = {}): Promise<SessionOutcome> {
    const run = this.queue.then(() => this.runSession(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Does anyone hear this handset's events now? Events are built only then: a pool whose own
   * listeners are gone relays nothing, and a load run pays for no timestamps, spreads or copies.
   */
  private get listened(): boolean {
    return this.events.active;
  }

  private emit(e: HandsetEvent): void {
    if (this.events.size > 0) this.events.emit(e);
  }

  private warn(serverId: string | undefined, message: string, into?: string[]): void {
    into?.push(message);
    if (this.listened) this.emit({ type: 'warning', at: iso(this.now()), devId: this.devId, ...(serverId !== undefined ? { serverId } : {}), message });
  }

  /**
   * The end of a session: state, the tree saved, the session-end event. Without a tree file
   * nothing waits: the outcome itself, not a promise of it.
   */
  private finish(run: SessionRun, error?: string): SessionOutcome | Promise<SessionOutcome> {
    const outcome = run.outcome;
    outcome.ok = error === undefined;
    if (error !== undefined) outcome.error = error;
    outcome.durationMs = this.now() - run.started;
    this.sessions++;
    this.lastSessionMs = this.now();
    this.lastError = error ?? null;
    return this.treeFile ? this.saveThenEnd(run, this.treeFile) : this.ended(run, error);
  }

  private async saveThenEnd(run: SessionRun, treeFile: string): Promise<SessionOutcome> {
    try {
      await saveTree(this.tree, treeFile);
    } catch (e) {
      this.warn(run.serverId, `could not save the tree: ${(e as Error).message}`, run.outcome.warnings);
    }
    return this.ended(run, run.outcome.error);
  }

  private ended(run: SessionRun, error: string | undefined): SessionOutcome {
    const outcome = run.outcome;
    this.busy = false;
    if (this.listened) {
      this.emit({ type: 'session-end', at: iso(this.now()), devId: run.devId, serverId: run.serverId, sessionId: run.sessionId, ok: outcome.ok, reason: error ?? 'completed', roundTrips: outcome.roundTrips, durationMs: outcome.durationMs });
    }
    return outcome;
  }

  private async runSession(opts: ConnectOptions): Promise<SessionOutcome> {
    let prepError: string | undefined;
    if (this.options.beforeSession && this.running) {
      try {
        await this.options.beforeSession(this, opts);
      } catch (e) {
        prepError = `getting ready for the session failed: ${(e as Error).message}`;
      }
    }
    const started = this.now();
    const devId = this.devId;
    const initiator = opts.initiator ?? 'client';
    const sessionId = opts.sessionId ?? randomSessionId();
    const account = sessionAccount(this.tree, opts.serverId);
    const serverId = account?.serverId ?? opts.serverId ?? '';
    const outcome: SessionOutcome = { ok: false, devId, serverId, sessionId, initiator, roundTrips: 0, durationMs: 0, headerCodes: [], serverAuthRefusals: 0, log: [], warnings: [] };
    const run: SessionRun = { outcome, started, devId, serverId, sessionId };
    this.busy = true;
    if (!this.running) return this.finish(run, 'the handset is stopped');
    if (prepError !== undefined) return this.finish(run, prepError);
    if (!account) return this.finish(run, opts.serverId !== undefined ? `no DMAcc account for ServerID "${opts.serverId}"` : 'the tree has no DMAcc account');
    let url = opts.url ?? account.addr;
    if (!url) return this.finish(run, `DMAcc account "${serverId}" has no server address (AppAddr Addr)`);
    if (this.listened) this.emit({ type: 'session-start', at: iso(started), devId, serverId, sessionId, initiator, url });
    if ((opts.protocol ?? this.options.protocol ?? DEFAULT_DM_PROTOCOL) === '2.0') return this.runDm20(opts, { serverId, url, sessionId, initiator, run });

    const tree = this.tree;
    // The account's URI, built from its node (what parsing its path gives): its credentials are
    // read and written on every message.
    const accPath: AccountRef = account.uri;
    const encoding = this.encoding;
    const mediaType = this.options.mediaType ?? MEDIA_TYPES[encoding];
    const maxMsgSize = this.options.maxMsgSize ?? DEFAULT_MAX_MSG;
    const maxObjSize = this.options.maxObjSize ?? DEFAULT_MAX_OBJ;

    // Our credentials: the type may change for the session when the server's challenge names another.
    const clcred = readCredential(tree, accPath, 'CLCRED');
    let clientType: AuthType | undefined = clcred && clcred.name !== '' ? clcred.type : undefined;
    let authenticated = false;

    // The server's credentials.
    const policy = this.options.serverAuth ?? 'if-configured';
    const srv = readCredential(tree, accPath, 'SRVCRED');
    const checkServerAuth = policy === 'required' || (policy === 'if-configured' && srv !== undefined && srv.secret !== '');
    let verdict: ServerVerdict = { status: 200, reason: 'server credentials not checked' };
    /** The server nonce our outgoing answer challenges with, stored once the server has read it. */
    let pendingServerNonce: string | undefined;

    // Methods of an object literal rather than arrow functions held in constants: under tsx (esbuild
    // keepNames) every named function made at run time also gets its name defined, ~0.5 us each.
    const auth = {
      myCred(): AccountCredential | undefined {
        const c = readCredential(tree, accPath, 'CLCRED');
        return c && clientType ? { ...c, type: clientType } : undefined;
      },
      credentials(): Cred | undefined {
        // Checked before reading the tree: once authenticated (212), no message of ours carries Cred.
        if (authenticated) return undefined;
        const c = auth.myCred();
        if (!c || c.type === 'hmac') return undefined;
        return clientCred(c);
      },
      authenticate(): { status: number; chal?: Chal } {
        return verdict.chal ? { status: verdict.status, chal: verdict.chal } : { status: verdict.status };
      },
    };

    const exec = execRoute(this.appHooks, this.options.exec);
    const sessionOptions: ClientSessionOptions = {
      tree,
      serverId,
      encoding,
      maxMsgSize,
      alert: alertResponder(this.options.alerts),
      clientUri: devId,
      serverUri: url,
      sessionId,
      authenticate: auth.authenticate,
      credentials: auth.credentials,
      // MsgIDs past a re-sent message move up by one per re-send: the server's MaxMsgSize is heard
      // MSGID_MARGIN bytes smaller (withoutMaxMsgSize, a fault, hears none).
      maxMsgSizeMargin: MSGID_MARGIN,
    };
    if (maxObjSize > 0) sessionOptions.maxObjSize = maxObjSize;
    if (exec) sessionOptions.exec = exec;
    if (this.options.schemas) sessionOptions.schemas = this.options.schemas;
    if (this.faults.size > 0) sessionOptions.faults = processorFaults(this.faults);
    const session = new ClientSession(sessionOptions);
    for (const g of opts.genericAlerts ?? []) session.queueGenericAlert(g);

    let msg: SyncML = session.start({ alert: initiator === 'server' ? '1200' : '1201', sessionId, serverUri: url });
    // MsgIDs past a re-sent message move up by one per re-send (see MSGID_MARGIN).
    let msgIdShift = 0;
    let baseMsgId = Number(msg.hdr.msgID);
    let authRetries = 0;
    const maxAuthRetries = this.options.maxAuthRetries ?? 3;
    const maxRoundTrips = this.options.maxRoundTrips ?? 1000;
    let serverMaxMsgSize: number | undefined;
    /** Our request headers; a message with an HMAC gets its own copy. */
    const baseHeaders: Record<string, string> = { 'content-type': mediaType, accept: ACCEPT };

    for (let index = 0; ; index++) {
      if (outcome.roundTrips >= maxRoundTrips) return this.finish(run, `no end after ${maxRoundTrips} round trips`);
      if (opts.beforeSend) await opts.beforeSend(index, msg);
      msg.hdr.msgID = String(baseMsgId + msgIdShift);
      // Fault injection (faults.ts): the message as a faulty handset sends it; `msg` stays as built.
      const wire = this.faults.size > 0 ? applyOutgoingFaults(msg, this.faults) : msg;
      // The session may have encoded the message whole to measure it: those are its bytes, unless a
      // re-send changed its MsgID and Cred (msgIdShift) or a beforeSend hook has had it.
      let body = msgIdShift === 0 && !opts.beforeSend ? session.encodedAsBuilt(wire) : undefined;
      if (body === undefined) {
        const enc = encodeMessage(wire, encoding);
        if (!enc.ok) return this.finish(run, `cannot encode our message: ${enc.error.message}`);
        body = enc.value;
      }
      let headers = baseHeaders;
      const me = clientType === 'hmac' ? auth.myCred() : undefined;
      if (me) headers = { ...baseHeaders, 'x-syncml-hmac': hmacHeader(me.name, me.secret, nonceBytes(me.nonce), body) };
      if (serverMaxMsgSize !== undefined && body.length > serverMaxMsgSize) {
        this.warn(serverId, `our message of ${body.length} bytes is over the server's MaxMsgSize ${serverMaxMsgSize}`, outcome.warnings);
      }
      if (this.listened) {
        this.emit({ type: 'message', at: iso(this.now()), devId, serverId, sessionId, direction: 'out', url, bytes: body, contentType: mediaType, encoding, msgId: wire.hdr.msgID, ...(headers['x-syncml-hmac'] ? { headers: { 'x-syncml-hmac': headers['x-syncml-hmac'] } } : {}) });
      }

      let reply;
      try {
        reply = await this.transport.post(url, body, headers);
      } catch (e) {
        return this.finish(run, `${url}: ${(e as Error).message.trim().split('\n')[0]}`);
      }
      outcome.roundTrips++;
      const contentType = replyMediaType(reply.headers['content-type']);
      const hmacIn = headerValue(reply.headers['x-syncml-hmac']);
      const dec = reply.status === 200 ? decodeMessage(reply.body) : undefined;
      if (this.listened) {
        this.emit({
          type: 'message', at: iso(this.now()), devId, serverId, sessionId, direction: 'in', url, bytes: reply.body, contentType,
          encoding: dec?.ok ? dec.value.encoding : sniffEncoding(reply.body), msgId: dec?.ok ? dec.value.message.hdr.msgID : undefined,
          httpStatus: reply.status, ...(hmacIn ? { headers: { 'x-syncml-hmac': hmacIn } } : {}),
        });
      }
      if (reply.status !== 200 || !dec) {
        const text = Buffer.from(reply.body.subarray(0, 200)).toString('utf8').trim().split('\n')[0] ?? '';
        const retry = headerValue(reply.headers['retry-after']);
        return this.finish(run, `HTTP ${reply.status} from ${url}${text ? `: ${text}` : ''}${retry ? ` (Retry-After ${retry})` : ''}`);
      }
      if (!isDmMediaType(contentType)) this.warn(serverId, `answer Content-Type is "${contentType}", not a DM media type`, outcome.warnings);
      if (reply.body.length > maxMsgSize) this.warn(serverId, `server message of ${reply.body.length} bytes is over our MaxMsgSize ${maxMsgSize}`, outcome.warnings);
      if (!dec.ok) return this.finish(run, `undecodable answer from the server: ${describeCodecError(dec.error)}`);
      const server = dec.value.message;
      if (server.hdr.respURI) url = server.hdr.respURI;
      const mms = Number(server.hdr.meta?.maxMsgSize);
      if (Number.isInteger(mms) && mms > 0) serverMaxMsgSize = mms;

      // The server's verdict on our message (and a new nonce for our next digest).
      let hdrStatus: Status | undefined;
      for (let i = server.body.commands.length - 1; i >= 0 && hdrStatus === undefined; i--) {
        const c = server.body.commands[i]!;
        if (c.kind === 'Status' && c.cmdRef === '0') hdrStatus = c;
      }
      const code = hdrStatus ? Number(hdrStatus.data) : undefined;
      if (code !== undefined) outcome.headerCodes.push(code);
      const chal = hdrStatus?.chal;
      if (chal && clcred) {
        const t = authTypeOf(chal.meta.type);
        if (t && t !== clientType) {
          this.warn(serverId, `the server asks for ${t} client authentication, not ${clientType ?? 'none'}`, outcome.warnings);
          clientType = t;
          writeCredentialLeaf(tree, accPath, 'CLCRED', 'AAuthType', AAUTH_TYPE[t]);
        }
        if (chal.meta.nextNonce !== undefined && !this.faults.has('reuse-nonce')) writeCredentialLeaf(tree, accPath, 'CLCRED', 'AAuthData', storableNonce(chal.meta.nextNonce));
      }
      if (code === 212) authenticated = true;
      // The server read our last answer (it did not refuse our credentials): the challenge in that
      // answer is what it signs with from now on, this message included.
      if (pendingServerNonce !== undefined && code !== 401 && code !== 407) {
        writeCredentialLeaf(tree, accPath, 'SRVCRED', 'AAuthData', pendingServerNonce);
        pendingServerNonce = undefined;
      }
      if (code === 401 || code === 407) {
        authRetries++;
        authenticated = false;
        if (!clientType || authRetries > maxAuthRetries) {
          return this.finish(run, `the server refused our credentials (${code})${clientType ? ` ${authRetries} times` : ': this account has no client credentials'}`);
        }
        // Nothing of that message was executed: the same message again, new MsgID and credentials,
        // and a Status for the challenging message's SyncHdr: "the next message containing the
        // proper credentials MUST contain a Status for the SyncHdr" (DM 1.2 protocol §9.1).
        msgIdShift++;
        const cred = auth.credentials();
        if (cred) msg.hdr.cred = cred;
        else delete msg.hdr.cred;
        msg = withChallengeStatus(msg, server);
        continue;
      }
      if (code !== undefined && (code < 200 || code >= 300)) {
        return this.finish(run, `the server answered our SyncHdr with ${code}`);
      }

      // Is the server who it says it is? (decided before any of its commands runs)
      if (checkServerAuth) {
        const expected: AccountCredential = readCredential(tree, accPath, 'SRVCRED') ?? { type: 'md5', name: '', secret: '', nonce: '' };
        verdict = checkServer(expected, server.hdr, hmacIn, reply.body, this.options.nonce ?? newNonce);
        if (verdict.status === 401 || verdict.status === 407) {
          outcome.serverAuthRefusals++;
          this.warn(serverId, `refused the server's message ${server.hdr.msgID}: ${verdict.reason} (${verdict.status})`, outcome.warnings);
        }
      }

      let next: SyncML | null;
      try {
        // Fault injection (exceed-maxmsgsize): the server's limit is not heard.
        next = await session.receive(this.faults.has('exceed-maxmsgsize') ? withoutMaxMsgSize(server) : server);
      } catch (e) {
        return this.finish(run, `processing the server's message failed: ${(e as Error).message}`);
      }
      const events = session.lastEvents;
      for (let i = 0; i < events.length; i++) outcome.log.push(events[i]!);
      if (this.appHooks && events.length > 0) this.appHooks.serverCommands(events, { serverId, sessionId });
      if (session.warnings.length > 0) for (const w of session.warnings.splice(0)) this.warn(serverId, w, outcome.warnings);
      if (session.isEnded && next !== null) {
        // Alert 1223: the server ended the session; nothing more goes to it.
        return this.finish(run, 'the server aborted the session (Alert 1223)');
      }
      if (next === null) return this.finish(run);
      if (checkServerAuth && srv) pendingServerNonce = verdict.nextNonce;
      msg = next;
      baseMsgId = Number(msg.hdr.msgID);
    }
  }

  // ------------------------------------------------------------------------------- package #0

  /**
   * A notification (package #0): checked against the SRVCRED of the account its ServerID names
   * (digest over AAuthName, AAuthSecret, AAuthData), then a server-initiated session (Alert 1200,
   * SessionID from the package in uppercase hex) is queued. Returns at once; `session` settles
   * when that session ends.
   */
  /** A session in the DM 2.0 JSON binding, reported as a DM 1.2 one is (no SyncHdr codes, no server Cred). */
  private async runDm20(opts: ConnectOptions, p: { serverId: string; url: string; sessionId: string; initiator: Initiator; run: SessionRun }): Promise<SessionOutcome> {
    const devId = this.devId;
    const serverId = p.serverId;
    const url = opts.url ?? dm20Url(p.url);
    const exec = execRoute(this.appHooks, this.options.exec);
    const r = await runDm20Session({
      tree: this.tree, serverId, url, devId, sessionId: p.sessionId, initiator: p.initiator, transport: this.transport,
      events: (opts.genericAlerts ?? []).map(eventFromGenericAlert),
      ...(exec ? { exec } : {}),
      ...(this.options.schemas ? { schemas: this.options.schemas } : {}),
      onMessage: (direction, bytes) => this.emit({ type: 'message', at: iso(this.now()), devId, serverId, sessionId: p.sessionId, direction, url, bytes, contentType: DM20_MEDIA_TYPE, encoding: undefined, msgId: undefined }),
      now: this.now,
    });
    const outcome = p.run.outcome;
    outcome.roundTrips = r.roundTrips;
    outcome.log.push(...r.log);
    outcome.warnings.push(...r.warnings);
    return this.finish(p.run, r.ok ? undefined : (r.error ?? 'the DM 2.0 session failed'));
  }

  /**
   * A notification (package #0): checked against the SRVCRED of the account its ServerID names
   * (digest over AAuthName, AAuthSecret, AAuthData), then a server-initiated session (Alert 1200,
   * SessionID from the package in uppercase hex) is queued. Returns at once; `session` settles
   * when that session ends.
   */
  notify(bytes: Uint8Array): NotificationOutcome {
    const at = iso(this.now());
    const devId = this.devId;
    const refuse = (httpStatus: number, reason: string, extra: Partial<NotificationOutcome> = {}): NotificationOutcome => {
      this.emit({ type: 'notification', at, devId, serverId: extra.serverId ?? '', sessionId: extra.sessionId, accepted: false, reason, ...(extra.package0 ? { uiMode: extra.package0.uiMode } : {}) });
      return { accepted: false, reason, httpStatus, ...extra };
    };
    const parsed = parsePackage0(bytes);
    if (!parsed.ok) return refuse(400, `malformed package #0: ${parsed.error.message}`);
    const pkg = parsed.value;
    const base = { serverId: pkg.serverId, sessionId: pkg.sessionIdHex, package0: pkg };
    if (pkg.version !== 11) return refuse(400, `package #0 version ${pkg.version} is not 11 (DM 1.2)`, base);
    if (!this.running) return refuse(503, 'the handset is stopped', base);
    const account = findAccount(this.tree, pkg.serverId);
    if (!account) return refuse(404, `no DMAcc account for ServerID "${pkg.serverId}"`, base);
    const srv = readCredential(this.tree, account.path, 'SRVCRED');
    const secret = srv?.secret ?? '';
    const nonce = nonceBytes(srv?.nonce ?? '');
    // AAuthName first: libdmclient (validate_package_0) hashes the SRVCRED name:secret, and so does
    // our server; then the ServerID of the package, the spec's "server-identifier", which
    // notify/package0.ts verifyPackage0 uses. They differ only when AAuthName is not the ServerID.
    const names = [...new Set([srv?.name ?? '', pkg.serverId].filter((n) => n !== ''))];
    const candidates: Array<[string, Uint8Array]> = [['nonce', nonce]];
    if (this.options.acceptResyncNonce ?? true) for (const [k, v] of Object.entries(RESYNC_NONCES)) candidates.push([`resync:${k}`, v]);
    let matched: string | undefined;
    for (const [label, n] of candidates) {
      for (const name of names) {
        const want = package0Digest(name, { secret, nonce: n }, pkg.trigger);
        if (Buffer.from(want).equals(Buffer.from(pkg.digest))) {
          matched = `${label} (name ${name})`;
          break;
        }
      }
      if (matched) break;
    }
    if (!matched) return refuse(401, `package #0 digest does not verify with the SRVCRED of "${pkg.serverId}"`, base);
    this.emit({ type: 'notification', at, devId, serverId: pkg.serverId, sessionId: pkg.sessionIdHex, accepted: true, reason: `digest verified with the ${matched}`, uiMode: pkg.uiMode });
    const session = this.connect({ serverId: pkg.serverId, initiator: 'server', sessionId: pkg.sessionIdHex });
    return { accepted: true, reason: `digest verified with the ${matched}`, httpStatus: 200, ...base, matched, session };
  }
}

/** One session's running state, for finish(). */
interface SessionRun {
  outcome: SessionOutcome;
  started: number;
  devId: string;
  serverId: string;
  sessionId: string;
}

const ACCEPT = `${MEDIA_TYPES.wbxml}, ${MEDIA_TYPES.xml}`;

/** What a session needs of its DMAcc account: the node's URI, its ServerID and server address. */
interface SessionAccount {
  /** The node's URI, as parsing its path gives it. */
  uri: DmUri;
  serverId: string;
  addr: string;
}

/** Each account node's URI, made once (checked against the node's name: a node can be renamed). */
const accountUris = new WeakMap<DmNode, DmUri>();

function leafString(n: DmNode | undefined): string {
  return n !== undefined && typeof n.value === 'string' ? n.value : '';
}

/**
 * The account readAccounts would give a session (the first `./DMAcc/<X>` interior node, or the
 * first whose ServerID is `serverId`), reading only the leaves a session uses: this runs at the
 * start of every session, and readAccounts copies every account with all its credentials.
 */
function sessionAccount(tree: DmTree, serverId: string | undefined): SessionAccount | undefined {
  const dmacc = tree.root.child('DMAcc');
  if (dmacc === undefined) return undefined;
  for (const acc of dmacc.children()) {
    if (acc.format !== 'node') continue;
    const sid = leafString(acc.child('ServerID'));
    if (serverId !== undefined && sid !== serverId) continue;
    let uri = accountUris.get(acc);
    if (uri === undefined || uri.segments[1] !== acc.name) accountUris.set(acc, (uri = { segments: ['DMAcc', acc.name], path: tree.pathOf(acc) }));
    return {
      uri,
      serverId: sid,
      addr: leafString(acc.child('AppAddr')?.children().next().value?.child('Addr')),
    };
  }
  return undefined;
}

/** The SyncHdr Statuses withChallengeStatus added, so that a second re-send replaces its own. */
const challengeStatuses = new WeakSet<object>();

/**
 * `msg` with a Status answering `challenger`'s SyncHdr first (replacing one a previous re-send
 * put there). Its CmdID follows the message's others: the commands already numbered keep theirs,
 * since the session waits for the server's statuses by them.
 */
function withChallengeStatus(msg: SyncML, challenger: SyncML): SyncML {
  const kept = msg.body.commands.filter((c) => !challengeStatuses.has(c));
  const ids = kept.flatMap(function ids(c): number[] {
    return [Number(c.cmdID), ...(c.kind === 'Atomic' || c.kind === 'Sequence' ? c.commands.flatMap(ids) : [])];
  }).filter(Number.isFinite);
  const st: Status = {
    kind: 'Status', cmdID: String(Math.max(0, ...ids) + 1), msgRef: challenger.hdr.msgID, cmdRef: '0', cmd: 'SyncHdr',
    targetRefs: [challenger.hdr.target.locURI], sourceRefs: [challenger.hdr.source.locURI], data: '200', items: [],
  };
  challengeStatuses.add(st);
  return { ...msg, body: { ...msg.body, commands: [st, ...kept] } };
}
