/**
 * ClientSession: the client side of a DM session over the command processor, one server message in,
 * one client message out, with the state a handset keeps between messages:
 *  - our MsgID counter (the first answer is the server's MsgID + 1 unless package 1 was sent by us);
 *  - the server's limits (MaxMsgSize, MaxObjSize from its SyncHdr Meta, kept until it sends new ones);
 *  - responses not yet sent: when they do not fit one message (the server's MaxMsgSize) the message
 *    goes without Final and the rest waits for the server's Alert 1222 ("next message");
 *  - a Results too big for one message goes as a large object (MoreData chunks, Meta Size first);
 *  - a large object arriving in chunks (the processor's state), and Alert 1222 from us while the
 *    server's package is still open (it sends chunks);
 *  - Final only when the server's package is closed and everything is sent.
 *
 * The session does no I/O: the virtual handset (HTTP) and `dmw tree run` drive it. Messages are the
 * typed SyncML model; `encoding` is what sizes are measured in (the wire encoding).
 */
import { encodeMessage, type Encoding } from '../../protocol/codec.js';
import type { Alert, Chal, Command, Cred, Item, ItemData, Meta, Results, Status, SyncHdr, SyncML } from '../../protocol/model.js';
import { serializeXml } from '../../protocol/xml/serialize.js';
import { DEVICE, type DmTree } from '../tree.js';
import { valueSize } from '../values.js';
import { CommandProcessor } from './processor.js';
import type { IncomingObject, ProcessContext, ProcessEvent, ProcessorOptions, ProcessorState, ResponseUnit } from './types.js';

export interface ClientSessionOptions extends ProcessorOptions {
  tree: DmTree;
  /** Our LocURI (SyncHdr Source). Default: the server's Target LocURI, else ./DevInfo/DevId. */
  clientUri?: string;
  /** The server's URI for package 1 (SyncHdr Target). Default: the account's AppAddr Addr. */
  serverUri?: string;
  /** SessionID for package 1 (a server-alerted session takes it from package 0). */
  sessionId?: string;
  /** Encoding the messages travel in; sizes (MaxMsgSize) are measured in it. Default xml. */
  encoding?: Encoding;
  /** Our MaxMsgSize, advertised in our SyncHdr Meta. */
  maxMsgSize?: number;
  /** May our Results go as large objects? Default: ./DevDetail/LrgObj of the tree, else true. */
  largeObjects?: boolean;
  /** Status for the server's SyncHdr (server authentication). Default 200. 401/407: nothing is executed. */
  authenticate?: (hdr: SyncHdr) => { status: number; chal?: Chal };
  /** Cred for our SyncHdr, given the server's last challenge (401/407 with Chal) if any. */
  credentials?: (challenge: { status: number; chal?: Chal } | undefined) => Cred | undefined;
  /** DM 1.2 by default. */
  verProto?: string;
  /**
   * Bytes to keep free under the server's MaxMsgSize (a handset that re-sends after a 401 numbers
   * the re-sent message past what it was sized with): a MaxMsgSize over four times this is heard
   * this much smaller. Default 0.
   */
  maxMsgSizeMargin?: number;
}

export interface GenericAlert {
  /** Alert code; default 1226. */
  code?: string;
  correlator?: string;
  source?: string;
  target?: string;
  format?: string;
  type?: string;
  /** e.g. FUMO's `urn:oma:at:fumo:1.0:...` goes in Meta Type; Mark e.g. `critical`. */
  mark?: string;
  data?: string;
}

interface OutgoingObject {
  /** The Results (one item) whose data is being sent in chunks. */
  results: Results;
  item: Item;
  data: string | Uint8Array;
  /** Characters (text) or bytes (binary) already sent. */
  offset: number;
  total: number;
  first: boolean;
}

const UNBOUNDED = Number.POSITIVE_INFINITY;

function positiveInt(s: string | undefined): number | undefined {
  if (s === undefined || !(allDigits(s) || /^\s*\d+\s*$/.test(s))) return undefined;
  const n = Number(s);
  return n > 0 ? n : undefined;
}

/** Only ASCII digits, at least one (the common form of a size; spared the regular expression). */
function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The server's MaxMsgSize as this session hears it: `margin` bytes less when it is over four
 * times the margin (as the number it reads as, then read again as a size).
 */
function heardMaxMsgSize(raw: string | undefined, margin: number): number | undefined {
  if (margin > 0 && raw !== undefined) {
    const n = Number(raw);
    if (n > margin * 4) return positiveInt(String(n - margin));
  }
  return positiveInt(raw);
}

function leafText(tree: DmTree, path: string): string | undefined {
  const r = tree.get(DEVICE, path);
  return r.ok && r.value.kind === 'leaf' && typeof r.value.value === 'string' ? r.value.value : undefined;
}

export class ClientSession {
  readonly tree: DmTree;
  readonly options: ClientSessionOptions;
  /** Every event of every message, in order (the session log). */
  readonly log: ProcessEvent[] = [];
  /** Events of the last server message processed. */
  lastEvents: ProcessEvent[] = [];
  /** Warnings (e.g. a response sent over MaxMsgSize because it could not be split). */
  readonly warnings: string[] = [];

  private readonly encoding: Encoding;
  private readonly procState: ProcessorState = {};
  private queue: ResponseUnit[] = [];
  private outgoing: OutgoingObject | undefined;
  private genericAlerts: GenericAlert[] = [];
  private nextMsgId: number | undefined;
  private serverMaxMsgSize: number | undefined;
  private serverMaxObjSize: number | undefined;
  private serverPackageOpen = false;
  private challenge: { status: number; chal?: Chal } | undefined;
  private lastServerHdr: SyncHdr | undefined;
  private ended = false;
  /** The last message built, with its encoding when it was encoded whole (encodedAsBuilt). */
  private built: { message: SyncML; bytes: Uint8Array } | undefined;

  constructor(options: ClientSessionOptions) {
    this.options = options;
    this.tree = options.tree;
    this.encoding = options.encoding ?? 'xml';
  }

  /** True once the server closed the session (its last package needed no answer, or Alert 1223). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Where the next message goes: the RespURI of the server's last SyncHdr, if it gave one. */
  get respURI(): string | undefined {
    return this.lastServerHdr?.respURI;
  }

  /** MsgID our next message will carry (undefined until we know it). */
  get msgId(): number | undefined {
    return this.nextMsgId;
  }

  /** A large object the server is still sending us (chunks buffered so far). */
  get incoming(): Readonly<IncomingObject> | undefined {
    return this.procState.incoming;
  }

  /** Responses waiting for the server's Alert 1222 (units; a chunked Results counts as one). */
  get pending(): number {
    return this.queue.length + (this.outgoing ? 1 : 0);
  }

  /** Send with the next message (e.g. a Generic Alert 1226 reporting a FUMO result). */
  queueGenericAlert(a: GenericAlert): void {
    this.genericAlerts.push(a);
  }

  // ------------------------------------------------------------------------------------ package 1

  /**
   * Package 1: Alert 1201 (client-initiated) or 1200 (server-initiated, after package 0) with the
   * DevInfo leaves as a Replace (Source LocURI per item), plus queued Generic Alerts.
   */
  start(init: { alert?: '1200' | '1201'; sessionId?: string; serverUri?: string } = {}): SyncML {
    const serverUri = init.serverUri ?? this.options.serverUri ?? this.accountAddr() ?? '';
    const sessionId = init.sessionId ?? this.options.sessionId ?? '1';
    const devId = this.options.clientUri ?? leafText(this.tree, './DevInfo/DevId') ?? 'unknown-device';
    this.nextMsgId = 1;
    const hdr: SyncHdr = {
      verDTD: '1.2',
      verProto: this.options.verProto ?? 'DM/1.2',
      sessionID: sessionId,
      msgID: String(this.nextMsgId++),
      target: { locURI: serverUri },
      source: { locURI: devId },
    };
    this.decorateHeader(hdr);
    const commands: Command[] = [{ kind: 'Alert', cmdID: '', data: init.alert ?? '1201', items: [] }];
    const devInfo = this.tree.root.child('DevInfo');
    if (devInfo !== undefined) {
      const items: Item[] = [];
      this.tree.walk(devInfo, (n, path) => {
        if (n.format === 'node') return;
        items.push({ source: { locURI: path }, data: { kind: 'text', text: typeof n.value === 'string' ? n.value : '' } });
      });
      if (items.length > 0) commands.push({ kind: 'Replace', cmdID: '', items });
    }
    commands.push(...this.takeGenericAlerts());
    numberCommands(commands);
    return { hdr, body: { commands, final: true } };
  }

  private accountAddr(): string | undefined {
    const dmacc = this.tree.root.child('DMAcc');
    for (const acc of dmacc?.children() ?? []) {
      const sid = acc.child('ServerID');
      if (sid?.value !== this.options.serverId) continue;
      for (const a of acc.child('AppAddr')?.children() ?? []) {
        const addr = a.child('Addr')?.value;
        if (typeof addr === 'string' && addr !== '') return addr;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------ receive

  /**
   * Process one server message; returns the client's next message, or null when none is due (the
   * server's package closed the session: Final, no commands, nothing left to send).
   */
  async receive(msg: SyncML): Promise<SyncML | null> {
    if (this.ended) throw new Error('the DM session has ended');
    const h = msg.hdr;
    this.lastServerHdr = h;
    const mms = heardMaxMsgSize(h.meta?.maxMsgSize, this.options.maxMsgSizeMargin ?? 0);
    if (mms !== undefined) this.serverMaxMsgSize = mms;
    const mos = positiveInt(h.meta?.maxObjSize);
    if (mos !== undefined) this.serverMaxObjSize = mos;
    if (this.nextMsgId === undefined) {
      const n = Number.parseInt(h.msgID, 10);
      this.nextMsgId = Number.isFinite(n) ? n + 1 : 1;
    }

    const cmds = msg.body.commands;
    const actionable = cmds.filter((c) => c.kind !== 'Status' && c.kind !== 'Results');
    // "Next message" (Alert 1222 and nothing else): the server wants more of our package. It says
    // nothing about its own package, which it closed earlier (some servers add a Final anyway).
    const isNextRequest = actionable.length > 0 && actionable.every((c) => c.kind === 'Alert' && c.data?.trim() === '1222');
    if (msg.body.final) this.serverPackageOpen = false;
    else if (!isNextRequest) this.serverPackageOpen = true;

    const auth = this.options.authenticate?.(h) ?? { status: 200 };
    const refuse = auth.status === 401 || auth.status === 407 ? auth.status : undefined;
    const ctx: ProcessContext = { msgRef: h.msgID, final: msg.body.final };
    if (h.noResp) ctx.noResp = true;
    if (refuse !== undefined) ctx.refuseWith = refuse;
    if (this.serverMaxMsgSize !== undefined) {
      // (Assigned, not written as a property: a function so made gets no name defined at run time.)
      const hdrForSizing = this.responseHeader(h);
      ctx.fitsInOneMessage = (c: Command[]) => this.fitsAlone(hdrForSizing, c);
    }
    const processor = new CommandProcessor(this.tree, this.options, this.procState);
    const out = await processor.run(cmds, ctx);
    this.lastEvents = out.events;
    this.log.push(...out.events);
    for (const s of out.serverStatuses) {
      if (s.cmd === 'SyncHdr' && s.cmdRef === '0') {
        const code = Number(s.data);
        this.challenge = code === 401 || code === 407 ? { status: code, ...(s.chal ? { chal: s.chal } : {}) } : undefined;
      }
    }
    if (out.outgoingObjectAborted && this.outgoing) {
      this.warnings.push(`the server interrupted our chunked Results for ${this.outgoing.item.source?.locURI ?? '?'} (Alert 1225)`);
      this.outgoing = undefined;
    }
    // A "next message" request is answered at once (its Status first); anything else queues behind
    // what earlier messages still owe.
    let immediate: Command[] = [];
    if (isNextRequest) immediate = out.units.flatMap((u) => u.commands);
    else this.queue.push(...out.units);
    if (out.sessionAborted) this.ended = true;

    const needsAnswer = actionable.length > 0 || !msg.body.final || this.queue.length > 0 || this.outgoing !== undefined || this.genericAlerts.length > 0 || immediate.length > 0;
    if (!needsAnswer) {
      this.ended = true;
      return null;
    }
    let hdrStatus: Status | undefined;
    if (!h.noResp) {
      hdrStatus = {
        kind: 'Status',
        cmdID: '',
        msgRef: h.msgID,
        cmdRef: '0',
        cmd: 'SyncHdr',
        targetRefs: [h.target.locURI],
        sourceRefs: [h.source.locURI],
        data: String(auth.status),
        items: [],
        ...(auth.chal ? { chal: auth.chal } : {}),
      };
    }
    return this.buildMessage(h, hdrStatus, immediate);
  }

  /**
   * What the server sends to ask for our next message (SyncHdr Status + Alert 1222, no Final), for
   * dry-runs that have no server: `dmw tree run` prints a whole multi-message response this way.
   */
  nextMessageRequest(lastClientMessage: SyncML): SyncML {
    const server = this.lastServerHdr;
    const h = lastClientMessage.hdr;
    const msgID = String(Number.parseInt(server?.msgID ?? '0', 10) + 1);
    return {
      hdr: {
        verDTD: h.verDTD,
        verProto: h.verProto,
        sessionID: h.sessionID,
        msgID,
        target: { ...h.source },
        source: { ...h.target },
        ...(server?.meta ? { meta: server.meta } : {}),
      },
      body: {
        commands: [
          { kind: 'Status', cmdID: '1', msgRef: h.msgID, cmdRef: '0', cmd: 'SyncHdr', targetRefs: [h.target.locURI], sourceRefs: [h.source.locURI], data: '200', items: [] },
          { kind: 'Alert', cmdID: '2', data: '1222', items: [] },
        ],
        final: false,
      },
    };
  }

  // ------------------------------------------------------------------------------------ building

  private responseHeader(server: SyncHdr): SyncHdr {
    const hdr: SyncHdr = {
      verDTD: server.verDTD,
      verProto: server.verProto,
      sessionID: server.sessionID,
      msgID: String(this.nextMsgId ?? 1),
      target: { ...server.source },
      source: this.options.clientUri !== undefined ? { locURI: this.options.clientUri } : { ...server.target },
    };
    this.decorateHeader(hdr);
    return hdr;
  }

  private decorateHeader(hdr: SyncHdr): void {
    const meta: Meta = {};
    if (this.options.maxMsgSize) meta.maxMsgSize = String(this.options.maxMsgSize);
    if (this.options.maxObjSize) meta.maxObjSize = String(this.options.maxObjSize);
    if (meta.maxMsgSize !== undefined || meta.maxObjSize !== undefined) hdr.meta = meta;
    const cred = this.options.credentials?.(this.challenge);
    if (cred) hdr.cred = cred;
  }

  private takeGenericAlerts(): Alert[] {
    const out = this.genericAlerts.map((g): Alert => {
      const item: Item = {};
      if (g.source !== undefined) item.source = { locURI: g.source };
      if (g.target !== undefined) item.target = { locURI: g.target };
      const meta: Meta = {};
      if (g.type !== undefined) meta.type = g.type;
      if (g.format !== undefined) meta.format = g.format;
      if (g.mark !== undefined) meta.mark = g.mark;
      if (Object.keys(meta).length > 0) item.meta = meta;
      if (g.data !== undefined) item.data = { kind: 'text', text: g.data };
      const a: Alert = { kind: 'Alert', cmdID: '', data: g.code ?? '1226', items: [item] };
      if (g.correlator !== undefined) a.correlator = g.correlator;
      return a;
    });
    this.genericAlerts = [];
    return out;
  }

  private size(hdr: SyncHdr, commands: Command[]): number {
    const r = encodeMessage({ hdr, body: { commands, final: true } }, this.encoding);
    if (!r.ok) throw new Error(`internal: cannot encode a response: ${r.error.message}`);
    return r.value.length;
  }

  /**
   * Does everything still owed (the queue, no chunked Results in progress) fit this message, next to
   * the commands already in it and the trailer? This is the packing loop's question for the common
   * case, answered with one encode instead of one per unit: encoded sizes add up command by command
   * (WBXML has no string table here, and a code page switch is paid by the next tag on page 0, which
   * is the next command or Final either way; XML declares namespaces per element), so the size of
   * the whole message is exactly the loop's base plus the sum of its per-unit marginals. The trailer
   * is numbered from 900 as the loop's base is. Returns the encoding when it fits; undefined when it
   * does not, or when unsure (an encode failure): the loop then decides, and reports, as before.
   */
  private encodeWhole(hdr: SyncHdr, placed: readonly Command[], firstId: number, trailer: readonly Command[], max: number): { bytes: Uint8Array; commands: Command[] } | undefined {
    if (this.outgoing !== undefined) return undefined;
    const all: Command[] = placed.slice();
    let id = firstId;
    for (const unit of this.queue) for (const c of unit.commands) all.push(withIds(c, id++));
    for (let i = 0; i < trailer.length; i++) all.push(withIds(trailer[i]!, 900 + i));
    const r = encodeMessage({ hdr, body: { commands: all, final: true } }, this.encoding);
    return r.ok && r.value.length <= max ? { bytes: r.value, commands: all } : undefined;
  }

  /**
   * The wire bytes of `message` if it is the message this session last built and it was encoded
   * whole then (measured against the server's MaxMsgSize): a caller that has not changed it since
   * can send these instead of encoding it again.
   */
  encodedAsBuilt(message: SyncML): Uint8Array | undefined {
    return this.built !== undefined && this.built.message === message ? this.built.bytes : undefined;
  }

  /** Does a block of commands fit in one message next to the SyncHdr Status? (Atomic / 517) */
  private fitsAlone(hdr: SyncHdr, commands: Command[]): boolean {
    const max = this.serverMaxMsgSize;
    if (max === undefined) return true;
    const probe: Status = { kind: 'Status', cmdID: '1', msgRef: '1', cmdRef: '0', cmd: 'SyncHdr', targetRefs: [hdr.source.locURI], sourceRefs: [hdr.target.locURI], data: '200', items: [] };
    const cmds = [probe, ...commands.map((c, i) => withIds(c, i + 2))];
    return this.size(hdr, cmds) <= max;
  }

  private buildMessage(server: SyncHdr, hdrStatus: Status | undefined, immediate: Command[]): SyncML {
    this.built = undefined;
    const hdr = this.responseHeader(server);
    this.nextMsgId = (this.nextMsgId ?? 1) + 1;
    let cmds: Command[] = [];
    let id = 1;
    if (hdrStatus) cmds.push(withIds(hdrStatus, id++));
    for (const c of immediate) cmds.push(withIds(c, id++));
    const trailer: Command[] = [];
    if (this.serverPackageOpen) trailer.push({ kind: 'Alert', cmdID: '', data: '1222', items: [] });
    if (this.genericAlerts.length > 0) trailer.push(...this.takeGenericAlerts());

    const max = this.serverMaxMsgSize;
    const whole = max === undefined ? undefined : this.encodeWhole(hdr, cmds, id, trailer, max);
    if (whole !== undefined) {
      this.queue = [];
      if (trailer.length === 0) {
        // Without a trailer (numbered from 900 when measured) the message measured is this one,
        // final and numbered alike: byte for byte what encoding it again would give, and its
        // commands are the ones measured.
        const message: SyncML = { hdr, body: { commands: whole.commands, final: !this.serverPackageOpen } };
        this.built = { message, bytes: whole.bytes };
        return message;
      }
      const placed = whole.commands.length - trailer.length;
      cmds = whole.commands.slice(0, placed);
      id = placed + 1;
      for (const t of trailer) cmds.push(withIds(t, id++));
      return { hdr, body: { commands: cmds, final: !this.serverPackageOpen } };
    }
    const push = (c: Command): void => {
      cmds.push(withIds(c, id++));
    };
    let budget = UNBOUNDED;
    let base = 0;
    if (max !== undefined) {
      base = this.size(hdr, [...cmds, ...trailer.map((t, i) => withIds(t, 900 + i))]);
      budget = max - base;
    }
    const fullBudget = budget;
    const empty = max === undefined ? 0 : this.size(hdr, []);
    const marginal = (c: Command[]): number => (max === undefined ? 0 : this.size(hdr, c) - empty);
    let stop = false;
    let placed = 0;

    // a chunked Results in progress goes first: nothing may come between its chunks
    if (this.outgoing) {
      let r = this.placeChunk(hdr, id, budget, marginal);
      if (r === undefined) {
        // Not one byte of it fits even here, first in a message: it never will, and waiting sent
        // messages with nothing in them until the round-trip limit (found by
        // test/integration/handset-fuzz.test.ts). The rest goes now, over MaxMsgSize, and we say so,
        // as for any other unit too big for every message.
        r = this.placeChunk(hdr, id, UNBOUNDED, marginal)!;
        this.warnings.push(`a Results chunk of ${r.used + base} bytes is sent over the server's MaxMsgSize ${max}`);
      }
      push(r.command);
      budget -= r.used;
      placed++;
      if (this.outgoing) stop = true;
    }

    while (!stop && this.queue.length > 0) {
      const unit = this.queue[0]!;
      const numbered = unit.commands.map((c, i) => withIds(c, id + i));
      const s = marginal(numbered);
      if (s <= budget) {
        for (const c of unit.commands) push(c);
        budget -= s;
        placed++;
        this.queue.shift();
        continue;
      }
      // does not fit: if it would fit an empty message, it waits for the next one (a Status stays
      // with its Results); only a unit too big for any message is split or chunked
      if (placed > 0 && s <= fullBudget) break;
      if (unit.indivisible) {
        if (placed === 0) {
          this.warnings.push(`an Atomic response of ${s + base} bytes is sent over the server's MaxMsgSize ${max}`);
          for (const c of unit.commands) push(c);
          this.queue.shift();
        }
        break;
      }
      // take the leading commands that fit, then split or chunk a Results
      const taken: Command[] = [];
      let i = 0;
      for (; i < unit.commands.length; i++) {
        const c = unit.commands[i]!;
        const cs = marginal([withIds(c, id + taken.length)]);
        if (cs <= budget) {
          taken.push(c);
          budget -= cs;
          continue;
        }
        break;
      }
      for (const c of taken) push(c);
      if (taken.length > 0) placed++;
      const rest = unit.commands.slice(i);
      const head = rest[0];
      if (head !== undefined && head.kind === 'Results') {
        const split = this.splitResults(hdr, head, id, budget, marginal);
        if (split.command) {
          push(split.command);
          budget -= split.used;
          placed++;
        }
        const remaining: Command[] = [];
        if (split.rest) remaining.push(split.rest);
        remaining.push(...rest.slice(1));
        this.queue[0] = { commands: remaining };
        if (remaining.length === 0) this.queue.shift();
        if (!split.command && placed === 0 && split.rest) {
          // not even one item or chunk fits an empty message: send it anyway, and say so
          this.warnings.push(`a Results of ${marginal([withIds(split.rest, id)]) + base} bytes is sent over the server's MaxMsgSize ${max}`);
          push(split.rest);
          this.queue[0] = { commands: rest.slice(1) };
          if (rest.length === 1) this.queue.shift();
        }
      } else {
        this.queue[0] = { commands: rest };
        if (placed === 0 && head !== undefined) {
          this.warnings.push(`a ${head.kind} is sent over the server's MaxMsgSize ${max}`);
          push(head);
          this.queue[0] = { commands: rest.slice(1) };
          if (rest.length === 1) this.queue.shift();
        }
      }
      break;
    }
    for (const t of trailer) push(t);
    const final = !this.serverPackageOpen && this.queue.length === 0 && this.outgoing === undefined;
    return { hdr, body: { commands: cmds, final } };
  }

  /**
   * Fit a Results that does not fit as it is: first as many whole items as fit (the rest stays queued
   * as another Results), else the first item's data as the first chunk of a large object.
   */
  private splitResults(
    hdr: SyncHdr,
    r: Results,
    id: number,
    budget: number,
    marginal: (c: Command[]) => number,
  ): { command?: Command; used: number; rest?: Results } {
    let k = 0;
    let used = 0;
    for (let n = 1; n <= r.items.length; n++) {
      const s = marginal([withIds({ ...r, items: r.items.slice(0, n) }, id)]);
      if (s > budget) break;
      k = n;
      used = s;
    }
    if (k > 0) {
      const rest = k < r.items.length ? { ...r, items: r.items.slice(k) } : undefined;
      return { command: { ...r, items: r.items.slice(0, k) }, used, ...(rest ? { rest } : {}) };
    }
    // the first item alone is too big: a large object?
    const first = r.items[0]!;
    const data = chunkableData(first.data);
    const allowed = this.options.largeObjects ?? leafText(this.tree, './DevDetail/LrgObj') !== 'false';
    if (data === undefined || !allowed) return { used: 0, rest: r };
    const total = typeof data === 'string' ? valueSize(data) : data.byteLength;
    if (this.serverMaxObjSize !== undefined && total > this.serverMaxObjSize) {
      this.warnings.push(`a Results of ${total} bytes exceeds the server's MaxObjSize ${this.serverMaxObjSize}`);
    }
    this.outgoing = { results: { ...r, items: [first] }, item: first, data, offset: 0, total, first: true };
    const placed = this.placeChunk(hdr, id, budget, marginal);
    const rest = r.items.length > 1 ? { ...r, items: r.items.slice(1) } : undefined;
    if (placed === undefined) {
      // not even one byte fits here: the chunk starts in the next message
      return { used: 0, ...(rest ? { rest } : {}) };
    }
    return { command: placed.command, used: placed.used, ...(rest ? { rest } : {}) };
  }

  /** The next chunk of the outgoing large object that fits `budget`; clears `outgoing` after the last. */
  private placeChunk(hdr: SyncHdr, id: number, budget: number, marginal: (c: Command[]) => number): { command: Command; used: number } | undefined {
    const o = this.outgoing!;
    const len = typeof o.data === 'string' ? o.data.length : o.data.byteLength;
    const make = (end: number, more: boolean): Results => {
      const piece = typeof o.data === 'string' ? o.data.slice(o.offset, end) : o.data.subarray(o.offset, end);
      const meta: Meta = { ...o.item.meta };
      delete meta.size;
      if (o.first) meta.size = String(o.total);
      const item: Item = { ...o.item, meta, data: typeof piece === 'string' ? { kind: 'text', text: piece } : { kind: 'binary', bytes: piece } };
      if (more) item.moreData = true;
      else delete item.moreData;
      return withIds({ ...o.results, items: [item] }, id) as Results;
    };
    const whole = make(len, false);
    const ws = marginal([whole]);
    if (ws <= budget) {
      this.outgoing = undefined;
      return { command: whole, used: ws };
    }
    // binary search the longest piece that fits
    let lo = 0;
    let hi = len - o.offset - 1;
    let best: { command: Results; used: number; end: number } | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let end = o.offset + mid;
      if (typeof o.data === 'string' && end > o.offset && isHighSurrogate(o.data.charCodeAt(end - 1))) end--;
      if (end <= o.offset) {
        lo = mid + 1;
        continue;
      }
      const c = make(end, true);
      const s = marginal([c]);
      if (s <= budget) {
        best = { command: c, used: s, end };
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best === undefined) return undefined;
    o.offset = best.end;
    o.first = false;
    return { command: best.command, used: best.used };
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function chunkableData(d: ItemData | undefined): string | Uint8Array | undefined {
  if (d === undefined) return undefined;
  if (d.kind === 'text') return d.text;
  if (d.kind === 'binary') return d.bytes;
  // TNDS and other XML: chunked as its text
  return d.elements.map((e) => serializeXml({ info: { wbxmlVersion: 2, publicId: 0, rootNamespaceUri: '' }, root: e }, { pretty: false, declaration: false })).join('');
}

/** A copy of a command with CmdID `id` (containers are never in a client's response). */
function withIds(c: Command, id: number): Command {
  return { ...c, cmdID: String(id) };
}

function numberCommands(cmds: Command[]): void {
  cmds.forEach((c, i) => {
    c.cmdID = String(i + 1);
  });
}

