/**
 * The client-side command processor: a server's commands in, the client's Status/Results out, the tree
 * changed through its public (permission-checked, journalled) API as the server the package comes from.
 *
 * Pure apart from the tree and the injected handlers: no I/O, no clock of its own. The session
 * (session.ts) feeds it one server message at a time and packs its ResponseUnits into messages.
 *
 * Status rules (OMA DM 1.2 RepPro/Protocol; docs/oma-dm-notes.md §1, §4):
 *  - one Status per Item, MsgRef/CmdRef/Cmd and TargetRef/SourceRef as the item named them;
 *    Results follow their Status; no Status for a Status or a Results; NoResp suppresses the Status;
 *  - Add on an existing node 418 (missing interior parents are created); Replace/Delete/Get on a
 *    missing node 404; Copy leaf to leaf only; Get on an interior node: child names, '/'-separated;
 *    Get on ./Inbox 405 (its access type); unknown property 406; a command a property does not take 405;
 *    an unparsable ACL value 400; URI limits 414; an item without the Target it needs 400;
 *  - Atomic: all or nothing. Any member failing (>= 300, or a 1101 not confirmed) rolls the tree back:
 *    Atomic 507, members that had succeeded 216, the failing one its own code, the rest 215; Results of
 *    a rolled-back Atomic are dropped. An Atomic whose response cannot fit one message: 517, rolled back.
 *    Atomic inside Atomic: 500 (DM forbids nesting).
 *  - Sequence: 200; after a 1101 "no" (or 214/408...) the rest is bypassed (215);
 *  - UI alert cancelled (214): processing of the package stops, everything not yet executed 215;
 *  - large objects: a chunk (MoreData) 213; the last chunk applies the command, 424 if the total does
 *    not match Meta Size; a new command before the last chunk: Alert 1225 and the object is dropped;
 *    Meta Size above our MaxObjSize 416, data beyond it 413.
 */
import type { Alert, Command, Container, Exec, Item, ItemCommand, ItemData, Meta, Results, Status } from '../../protocol/model.js';
import { serializeXml } from '../../protocol/xml/serialize.js';
import { fromBase64 } from '../../protocol/binary.js';
import { b64ItemBytes, sizeMatches } from '../../protocol/b64-transport.js';
import { DEVICE, type DmTree, type Principal } from '../tree.js';
import type { TreeResult } from '../status.js';
import { ddfAccessFor, ddfBind, ddfCheck, type DdfCommand } from '../ddf.js';
import { exportTnds, importTnds, isTndsType, tndsElement, tndsFromItemData, TNDS_FLAGS, TNDS_XML_TYPE, type TndsFlag } from '../tnds.js';
import { valueSize } from '../values.js';
import { UI_ALERT_KIND, defaultResponder, parseUiOptions, type UiAlert, type UiAlertCode } from './alerts.js';
import type {
  ExecOutcome,
  IncomingObject,
  ProcessContext,
  ProcessEvent,
  ProcessOutput,
  ProcessorOptions,
  ProcessorState,
  ResponseUnit,
} from './types.js';

/** What running one command gives its container. */
interface Outcome {
  units: ResponseUnit[];
  /** Some status of this command (or a member) is an error: an enclosing Atomic fails. */
  failed: boolean;
  /** A 1101 was not confirmed: the enclosing Atomic fails / Sequence bypasses the rest. */
  unconfirmed: boolean;
  /** The user cancelled a UI alert (214): stop the whole package. */
  cancelled: boolean;
}

const EMPTY: Outcome = { units: [], failed: false, unconfirmed: false, cancelled: false };

interface Scope {
  inAtomic: boolean;
  container?: 'Atomic' | 'Sequence';
}

export function isErrorStatus(code: number): boolean {
  return code >= 300;
}

function metaOf(cmd: { meta?: Meta }, item: Item): Meta {
  return { ...cmd.meta, ...item.meta };
}

function statusCmd(msgRef: string, cmdRef: string, cmd: string, code: number, target?: string, source?: string, items: Item[] = []): Status {
  return {
    kind: 'Status',
    cmdID: '',
    msgRef,
    cmdRef,
    cmd,
    targetRefs: target === undefined ? [] : [target],
    sourceRefs: source === undefined ? [] : [source],
    data: String(code),
    items,
  };
}

function textData(text: string): ItemData {
  return { kind: 'text', text };
}

/** Item data as the tree takes a value, for a node of `format`. */
function itemValue(item: Item, format: string | undefined): string | Uint8Array | null | undefined {
  const d = item.data;
  if (d === undefined) return undefined;
  switch (d.kind) {
    case 'text':
      if (format === 'bin') return fromBase64(d.text) ?? new TextEncoder().encode(d.text);
      return d.text;
    case 'binary':
      return d.bytes;
    case 'xml':
      // XML carried as markup (Format xml): the value is its text
      return d.elements.map((e) => serializeXml({ info: { wbxmlVersion: 2, publicId: 0, rootNamespaceUri: '' }, root: e }, { pretty: false, declaration: false })).join('');
  }
}

function dataOfValue(v: string | Uint8Array | null): ItemData {
  if (v === null) return textData('');
  return typeof v === 'string' ? textData(v) : { kind: 'binary', bytes: v };
}

function isItemCommand(c: Command): c is ItemCommand {
  return c.kind === 'Add' || c.kind === 'Replace' || c.kind === 'Delete' || c.kind === 'Get' || c.kind === 'Copy';
}

/** The item a command answers, for done(). */
interface ItemRef {
  c: ItemCommand;
  target: string | undefined;
  source: string | undefined;
  ctx: ProcessContext;
}

function resultsOf(ctx: ProcessContext, c: ItemCommand, items: Item[]): Results {
  return { kind: 'Results', cmdID: '', msgRef: ctx.msgRef, cmdRef: c.cmdID, targetRefs: [], sourceRefs: [], items };
}

export class CommandProcessor {
  private readonly events: ProcessEvent[] = [];
  private readonly serverStatuses: Status[] = [];
  private nextMessageRequested = false;
  private sessionAborted = false;
  private outgoingObjectAborted = false;
  /** The principal of every tree call: the server, or the device itself under the skip-acl fault. */
  private readonly serverId: Principal;

  constructor(
    private readonly tree: DmTree,
    private readonly options: ProcessorOptions,
    private readonly state: ProcessorState = {},
  ) {
    this.serverId = options.faults?.skipAcl ? DEVICE : options.serverId;
  }

  /** Process one server message's commands. */
  async run(commands: readonly Command[], ctx: ProcessContext): Promise<ProcessOutput> {
    const units: ResponseUnit[] = [];
    let cancelled = false;
    for (const c of commands) {
      if (c.kind === 'Status') {
        this.serverStatuses.push(c);
        continue;
      }
      if (c.kind === 'Results') {
        // a server has nothing to send us Results for; no Status is due for a Results
        this.log({ cmd: 'Results', cmdId: c.cmdID, status: 0, message: 'Results from a server ignored' });
        continue;
      }
      if (cancelled) {
        units.push(...this.notExecuted(c, ctx, 'the user cancelled a UI alert earlier in this package'));
        continue;
      }
      // An item command with no refusal and no large object in flight is all that command() would
      // do for it, and waits for nothing: run at once, without a promise and a turn of its own.
      const o = ctx.refuseWith === undefined && this.state.incoming === undefined && isItemCommand(c)
        ? this.itemCommand(c, ctx, { inAtomic: false })
        : await this.command(c, ctx, { inAtomic: false });
      units.push(...o.units);
      if (o.cancelled) cancelled = true;
    }
    if (ctx.final && this.state.incoming !== undefined) {
      // the server closed its package with an object still open: it will never be completed
      units.push(this.dropIncoming('the server closed its package before the last chunk'));
    }
    // an object never spans packages: what is left of a refused one is forgotten with the package
    if (ctx.final) this.state.refused = undefined;
    return {
      units,
      events: this.events,
      nextMessageRequested: this.nextMessageRequested,
      sessionAborted: this.sessionAborted,
      outgoingObjectAborted: this.outgoingObjectAborted,
      serverStatuses: this.serverStatuses,
    };
  }

  private log(e: ProcessEvent): void {
    this.events.push(e);
  }

  /** Status unit unless NoResp (command's or header's) says otherwise. */
  private status(ctx: ProcessContext, c: { cmdID: string; noResp?: boolean; kind: string }, code: number, target?: string, source?: string, items?: Item[]): Status | undefined {
    if (ctx.noResp || c.noResp) return undefined;
    return statusCmd(ctx.msgRef, c.cmdID, c.kind, code, target, source, items);
  }

  private unit(...cmds: Array<Command | undefined>): ResponseUnit {
    return { commands: cmds.filter((x): x is Command => x !== undefined) };
  }

  // ------------------------------------------------------------------------------- dispatch

  private async command(c: Command, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    if (c.kind === 'Status' || c.kind === 'Results') {
      // Status/Results inside a container cannot be read by the codec; nothing to answer here
      return EMPTY;
    }
    if (ctx.refuseWith !== undefined) return this.refused(c, ctx, ctx.refuseWith);
    const pre: ResponseUnit[] = [];
    const inc = this.state.incoming;
    if (inc !== undefined && !this.continuesIncoming(c, inc)) {
      pre.push(this.dropIncoming(`${c.kind} (CmdID ${c.cmdID}) arrived before the last chunk`));
    }
    let o: Outcome;
    switch (c.kind) {
      case 'Add':
      case 'Replace':
      case 'Delete':
      case 'Get':
      case 'Copy':
        // Item commands wait for nothing: run as they are, without a promise and a turn per item.
        o = this.itemCommand(c, ctx, scope);
        break;
      case 'Exec':
        o = await this.exec(c, ctx, scope);
        break;
      case 'Alert':
        o = await this.alert(c, ctx, scope);
        break;
      case 'Atomic':
        o = await this.atomic(c, ctx, scope);
        break;
      case 'Sequence':
        o = await this.sequence(c, ctx, scope);
        break;
    }
    return pre.length === 0 ? o : { ...o, units: [...pre, ...o.units] };
  }

  private continuesIncoming(c: Command, inc: IncomingObject): boolean {
    if (c.kind !== inc.cmd) return false;
    const first = c.items[0];
    return first?.target?.locURI === inc.target;
  }

  private dropIncoming(why: string): ResponseUnit {
    const inc = this.state.incoming!;
    this.state.incoming = undefined;
    this.state.refused = { cmd: inc.cmd, target: inc.target, status: 400, why: `dropped: ${why}` };
    this.log({ cmd: 'Alert', cmdId: inc.cmdId, status: 1225, target: inc.target, message: `large object for ${inc.target} dropped after ${inc.size} bytes: ${why}` });
    const alert: Alert = { kind: 'Alert', cmdID: '', data: '1225', items: [{ target: { locURI: inc.target } }] };
    return { commands: [alert] };
  }

  /** Statuses for a command that is not executed (215), recursively for containers. */
  notExecuted(c: Command, ctx: ProcessContext, why: string): ResponseUnit[] {
    return this.refused(c, ctx, DmStatus_NOT_EXECUTED, why).units;
  }

  private refused(c: Command, ctx: ProcessContext, code: number, why?: string): Outcome {
    const units: ResponseUnit[] = [];
    const message = why ?? (code === 401 || code === 407 ? 'the server is not authenticated' : undefined);
    switch (c.kind) {
      case 'Status':
      case 'Results':
        break;
      case 'Atomic':
      case 'Sequence': {
        const inner: ResponseUnit[] = [];
        for (const m of c.commands) inner.push(...this.refused(m, ctx, code, why).units);
        this.log({ cmd: c.kind, cmdId: c.cmdID, status: code, ...(message ? { message } : {}) });
        units.push({ commands: [this.status(ctx, c, code), ...inner.flatMap((u) => u.commands)].filter((x): x is Command => x !== undefined), indivisible: c.kind === 'Atomic' });
        break;
      }
      case 'Alert':
        this.log({ cmd: 'Alert', cmdId: c.cmdID, status: code, ...(message ? { message } : {}) });
        units.push(this.unit(this.status(ctx, c, code)));
        break;
      default: {
        const items = c.items.length > 0 ? c.items : [{}];
        for (const it of items) {
          const target = it.target?.locURI;
          const source = it.source?.locURI;
          this.log({ cmd: c.kind, cmdId: c.cmdID, status: code, ...(target ? { target } : {}), ...(message ? { message } : {}) });
          units.push(this.unit(this.status(ctx, c, code, target, source)));
        }
      }
    }
    return { units, failed: isErrorStatus(code), unconfirmed: false, cancelled: false };
  }

  // ------------------------------------------------------------------------------- item commands

  private itemCommand(c: ItemCommand, ctx: ProcessContext, scope: Scope): Outcome {
    const units: ResponseUnit[] = [];
    let failed = false;
    for (const item of c.items) {
      const r = this.item(c, item, ctx, scope);
      units.push(...r.units);
      if (r.failed) failed = true;
    }
    if (c.items.length === 0) {
      // the codec requires an Item; defensive
      this.log({ cmd: c.kind, cmdId: c.cmdID, status: 400, message: `${c.kind} has no Item` });
      units.push(this.unit(this.status(ctx, c, 400)));
      failed = true;
    }
    return { units, failed, unconfirmed: false, cancelled: false };
  }

  private report(c: { kind: string; cmdID: string }, code: number, target: string | undefined, message?: string, source?: string): void {
    const e: ProcessEvent = { cmd: c.kind, cmdId: c.cmdID, status: code };
    if (target !== undefined) e.target = target;
    if (source !== undefined) e.source = source;
    if (message !== undefined) e.message = message;
    this.log(e);
  }

  /** An item's answer: its event, its Status (unless NoResp) and any Results. */
  private done(it: ItemRef, code: number, message?: string, results?: Results): { units: ResponseUnit[]; failed: boolean } {
    this.report(it.c, code, it.target, message, it.source);
    return { units: [this.unit(this.status(it.ctx, it.c, code, it.target, it.source), results)], failed: isErrorStatus(code) };
  }

  private item(c: ItemCommand, item: Item, ctx: ProcessContext, scope: Scope): { units: ResponseUnit[]; failed: boolean } {
    const target = item.target?.locURI;
    const source = item.source?.locURI;
    // One object, not a `done` closure per item: under tsx (esbuild keepNames) a named function made
    // at run time also gets its name defined, ~0.5 us each.
    const it: ItemRef = { c, target, source, ctx };
    if (c.kind === 'Copy') {
      if (target === undefined || source === undefined) return this.done(it, 400, 'Copy needs an Item with both Target and Source');
    } else if (target === undefined) {
      return this.done(it, 400, `${c.kind} item has no Target LocURI${source !== undefined ? ` (it names a Source, ${source}: is this a client's package?)` : ''}`);
    }
    const meta = metaOf(c, item);
    switch (c.kind) {
      case 'Get':
        return this.get(c, target!, ctx, it);
      case 'Delete': {
        const refusal = this.ddf('Delete', target!);
        if (refusal) return this.done(it, refusal.status, refusal.message);
        const r = this.tree.delete(this.serverId, target!);
        return r.ok ? this.done(it, 200, `deleted ${r.value.removed} node(s)`) : this.done(it, r.status, r.message);
      }
      case 'Copy': {
        const refusal = this.ddf('Copy', source!);
        if (refusal) return this.done(it, refusal.status, refusal.message);
        const r = this.tree.copy(this.serverId, target!, source!);
        return r.ok ? this.done(it, 200) : this.done(it, r.status, r.message);
      }
      case 'Add':
      case 'Replace':
        return this.write(c, item, target!, meta, ctx, scope, it);
    }
  }

  private ddf(cmd: DdfCommand, uri: string, spec?: { format?: string; value?: string | Uint8Array | null; type?: string }) {
    const schemas = this.options.schemas;
    if (!schemas || schemas.length === 0) return undefined;
    const p = this.tree.parse(uri);
    if (!p.ok || p.value.query) return undefined; // the tree answers those
    return ddfCheck(schemas, this.tree, cmd, p.value.segments, spec);
  }

  /** Add creates missing interior parents: each must be allowed by the MO schema too. */
  private ddfImplicitParents(target: string) {
    const schemas = this.options.schemas;
    if (!schemas || schemas.length === 0) return undefined;
    const p = this.tree.parse(target);
    if (!p.ok || p.value.query) return undefined;
    const segs = p.value.segments;
    for (let i = 1; i < segs.length; i++) {
      const prefix = segs.slice(0, i);
      if (this.tree.resolve(prefix) !== undefined) continue;
      const r = ddfCheck(schemas, this.tree, 'Add', prefix, { format: 'node' });
      if (r) return r;
    }
    return undefined;
  }

  private get(
    c: ItemCommand,
    target: string,
    ctx: ProcessContext,
    it: ItemRef,
  ): { units: ResponseUnit[]; failed: boolean } {
    const p = this.tree.parse(target);
    if (!p.ok) return this.done(it, p.error.status, p.error.message);
    const u = p.value;
    const refusal = u.query ? undefined : this.ddf('Get', target);
    if (refusal) return this.done(it, refusal.status, refusal.message);
    if (u.query?.kind === 'list' && u.query.list === 'TNDS') {
      const bad = u.query.flags.filter((f) => !(TNDS_FLAGS as readonly string[]).includes(f));
      if (bad.length > 0) return this.done(it, 406, `?list=TNDS flag(s) ${bad.join(', ')} not supported (${TNDS_FLAGS.join(', ')})`);
      const r = exportTnds(this.tree, this.serverId, u.path, { flags: u.query.flags as TndsFlag[] });
      if (!r.ok) return this.done(it, r.status, r.message);
      return this.done(it, 200, undefined, resultsOf(ctx, c, [{ source: { locURI: target }, meta: { format: 'xml', type: TNDS_XML_TYPE }, data: { kind: 'xml', elements: [tndsElement(r.value)] } }]));
    }
    const r = this.tree.get(this.serverId, u);
    if (!r.ok) return this.done(it, r.status, r.message);
    const v = r.value;
    switch (v.kind) {
      case 'leaf':
        return this.done(it, 200, undefined, resultsOf(ctx, c, [{ source: { locURI: target }, meta: { format: v.format, type: v.type }, data: dataOfValue(v.value) }]));
      case 'interior': {
        const meta: Meta = { format: 'node' };
        if (v.type !== '') meta.type = v.type;
        return this.done(it, 200, undefined, resultsOf(ctx, c, [{ source: { locURI: target }, meta, data: textData(v.children.join('/')) }]));
      }
      case 'property':
        return this.done(it, 200, undefined, resultsOf(ctx, c, [{ source: { locURI: target }, meta: { format: 'chr', type: 'text/plain' }, data: textData(v.value) }]));
      case 'list': {
        const items: Item[] = v.items.map((i) => {
          const meta: Meta = { format: i.format };
          if (i.type !== '') meta.type = i.type;
          const it: Item = { source: { locURI: i.path }, meta };
          if (v.list === 'StructData' && i.format !== 'node' && i.value !== undefined) it.data = dataOfValue(i.value);
          return it;
        });
        return this.done(it, 200, undefined, resultsOf(ctx, c, items));
      }
    }
  }

  private write(
    c: ItemCommand,
    item: Item,
    target: string,
    meta: Meta,
    ctx: ProcessContext,
    scope: Scope,
    it: ItemRef,
  ): { units: ResponseUnit[]; failed: boolean } {
    const kind = c.kind as 'Add' | 'Replace';
    // TNDS: the Data is a MgmtTree describing the subtree
    if (isTndsType(meta.type) && item.data !== undefined) {
      const t = tndsFromItemData(item.data);
      if (!t.ok) return this.done(it, 400, `TNDS data: ${t.error.message}`);
      const r = importTnds(this.tree, this.serverId, target, t.value, kind === 'Add' ? 'add' : 'replace');
      if (!r.ok) return this.done(it, r.status, r.message);
      const v = r.value;
      return this.done(it, 200, `TNDS ${kind}: ${v.created.length} created, ${v.updated.length} updated, ${v.deleted.length} deleted`);
    }

    // large objects
    const inc = this.state.incoming;
    const continuing = inc !== undefined && inc.cmd === kind && inc.target === target;
    const refused = this.state.refused;
    if (!continuing && refused !== undefined && refused.cmd === kind && refused.target === target) {
      if (meta.size === undefined) {
        // The rest of an object refused or dropped earlier (no Meta Size: not a new first chunk).
        // Taken as a new object, its chunks were buffered again and its last chunk applied the tail
        // alone as the whole value (found by test/integration/handset-fuzz.test.ts).
        if (!item.moreData) this.state.refused = undefined;
        return this.done(it, refused.status, `${target}: the rest of a large object already refused (${refused.why})`);
      }
      this.state.refused = undefined; // a new first chunk: a new object
    }
    if (item.moreData || continuing) {
      const chunk = this.chunk(c, item, target, meta, ctx, scope);
      if (chunk.kind === 'status') return this.done(it, chunk.code, chunk.message);
      // last chunk: apply with the assembled value
      return this.applyWrite(kind, target, chunk.format, chunk.type, chunk.value, it);
    }

    let format = meta.format;
    let value = itemValue(item, format);
    // Binary data over XML arrives as Format b64: decoded, it is the bin node's value (TND §7.7.2).
    // (The cheap test first: the lookup parses the target.)
    const b64 = format?.trim() === 'b64' && this.binaryTarget(target) ? b64ItemBytes(item, format) : undefined;
    if (b64 !== undefined) {
      format = 'bin';
      value = b64;
    }
    const max = this.options.maxObjSize;
    if (max && value != null && (typeof value === 'string' ? valueSize(value) : value.byteLength) > max) {
      return this.done(it, 413, `${target}: ${typeof value === 'string' ? valueSize(value) : value.byteLength} bytes exceed this client's MaxObjSize ${max}`);
    }
    if (kind === 'Add' && format === 'node') value = null;
    return this.applyWrite(kind, target, format, meta.type, value, it);
  }

  private applyWrite(
    kind: 'Add' | 'Replace',
    target: string,
    format: string | undefined,
    type: string | undefined,
    value: string | Uint8Array | null | undefined,
    it: ItemRef,
  ): { units: ResponseUnit[]; failed: boolean } {
    const spec: { format?: string; value?: string | Uint8Array | null; type?: string } = {};
    if (format !== undefined) spec.format = format;
    if (value !== undefined) spec.value = value;
    if (type !== undefined) spec.type = type;
    const refusal = this.ddf(kind, target, spec) ?? (kind === 'Add' ? this.ddfImplicitParents(target) : undefined);
    if (refusal) return this.done(it, refusal.status, refusal.message);
    if (kind === 'Replace') {
      const m: { format?: string; type?: string } = {};
      if (format !== undefined) m.format = format;
      if (type !== undefined) m.type = type;
      const r = this.tree.replace(this.serverId, target, value ?? null, m);
      return r.ok ? this.done(it, 200) : this.done(it, r.status, r.message);
    }
    // Add: the DDF (if any) gives the default format and the created nodes' access types
    const schemas = this.options.schemas ?? [];
    const addSpec: Parameters<DmTree['add']>[2] = { createParents: true };
    let ddfFormat: string | undefined;
    let ddfType: string | undefined;
    if (schemas.length > 0) {
      const p = this.tree.parse(target);
      if (p.ok && !p.value.query) {
        const b = ddfBind(schemas, this.tree, p.value.segments, type);
        if (b) {
          ddfFormat = b.node.format;
          ddfType = b.node.type?.mime ?? b.node.type?.ddfName;
        }
      }
    }
    addSpec.format = format ?? ddfFormat ?? 'chr';
    if (addSpec.format === 'node') value = null;
    const t = type ?? (ddfType !== '' ? ddfType : undefined);
    if (t !== undefined) addSpec.type = t;
    if (value !== undefined) addSpec.value = value;
    this.tree.begin();
    let r: TreeResult<{ path: string; created: string[] }>;
    try {
      r = this.tree.add(this.serverId, target, addSpec);
      if (r.ok && schemas.length > 0) {
        for (const created of r.value.created) {
          const cp = this.tree.parse(created);
          if (!cp.ok) continue;
          const mask = ddfAccessFor(schemas, this.tree, cp.value.segments);
          const node = this.tree.resolve(cp.value.segments);
          if (mask !== undefined && node !== undefined) this.tree.setAccess(node, mask);
        }
      }
    } catch (e) {
      this.tree.rollback();
      throw e;
    }
    if (r.ok) this.tree.commit();
    else this.tree.rollback();
    return r.ok ? this.done(it, 200, r.value.created.length > 1 ? `created ${r.value.created.join(', ')}` : undefined) : this.done(it, r.status, r.message);
  }

  /** Buffer one chunk of a large object; on the last chunk return the whole value. */
  private chunk(
    c: ItemCommand,
    item: Item,
    target: string,
    meta: Meta,
    ctx: ProcessContext,
    scope: Scope,
  ): { kind: 'status'; code: number; message: string } | { kind: 'value'; value: string | Uint8Array; format?: string; type?: string } {
    const kind = c.kind as 'Add' | 'Replace';
    const max = this.options.maxObjSize;
    let inc = this.state.incoming;
    /** A refusal; with more chunks to come, they are refused too (see write). */
    const refuse = (code: number, message: string): { kind: 'status'; code: number; message: string } => {
      if (item.moreData) this.state.refused = { cmd: kind, target, status: code, why: message };
      return { kind: 'status', code, message };
    };
    if (scope.inAtomic && item.moreData) {
      if (inc) this.state.incoming = undefined;
      return refuse(400, `${target}: a chunked object cannot be part of an Atomic (the Atomic must fit one message)`);
    }
    if (inc === undefined) {
      let declared: number | undefined;
      if (meta.size !== undefined) {
        declared = Number(meta.size);
        if (!/^\d+$/.test(meta.size.trim())) return refuse(400, `${target}: Meta Size ${JSON.stringify(meta.size)} is not a byte count`);
        if (max && declared > max) return refuse(416, `${target}: Meta Size ${declared} exceeds this client's MaxObjSize ${max}`);
      }
      inc = { cmd: kind, target, parts: [], size: 0, cmdId: c.cmdID, msgRef: ctx.msgRef };
      if (declared !== undefined) inc.declaredSize = declared;
      if (meta.format !== undefined) inc.format = meta.format;
      if (meta.type !== undefined) inc.type = meta.type;
      if (meta.format?.trim() === 'b64' && this.binaryTarget(target)) inc.b64 = { texts: [], encodedSize: 0, eachDecodes: true };
      this.state.incoming = inc;
    }
    const v = itemValue(item, inc.format);
    let piece = v == null ? '' : v;
    if (inc.b64 && typeof piece === 'string') {
      // Our peers encode each chunk on its own; a peer that cut one Base64 text is decoded whole at the end.
      inc.b64.texts.push(piece);
      inc.b64.encodedSize += piece.length;
      const bytes = fromBase64(piece);
      if (bytes === undefined) inc.b64.eachDecodes = false;
      else piece = bytes;
    }
    inc.parts.push(piece);
    inc.size += typeof piece === 'string' ? valueSize(piece) : piece.byteLength;
    if (max && inc.size > max) {
      this.state.incoming = undefined;
      return refuse(413, `${target}: large object grew to ${inc.size} bytes, beyond this client's MaxObjSize ${max}`);
    }
    if (item.moreData) return { kind: 'status', code: 213, message: `chunk buffered (${inc.size}${inc.declaredSize !== undefined ? ` of ${inc.declaredSize}` : ''} bytes)` };
    // the last chunk
    this.state.incoming = undefined;
    if (inc.b64) return this.b64Object(inc, target);
    if (inc.declaredSize !== undefined && inc.size !== inc.declaredSize) {
      return { kind: 'status', code: 424, message: `${target}: received ${inc.size} bytes, Meta Size said ${inc.declaredSize}` };
    }
    const value = inc.parts.every((p) => typeof p === 'string')
      ? (inc.parts as string[]).join('')
      : new Uint8Array(Buffer.concat(inc.parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
    const out: { kind: 'value'; value: string | Uint8Array; format?: string; type?: string } = { kind: 'value', value };
    if (inc.format !== undefined) out.format = inc.format;
    if (inc.type !== undefined) out.type = inc.type;
    return out;
  }

  /** The last chunk of binary data sent as b64: the bytes, checked against Size (bytes or Base64 characters). */
  private b64Object(inc: IncomingObject, target: string): { kind: 'status'; code: number; message: string } | { kind: 'value'; value: Uint8Array; format: string; type?: string } {
    const b = inc.b64!;
    const bytes = b.eachDecodes ? new Uint8Array(Buffer.concat(inc.parts as Uint8Array[])) : fromBase64(b.texts.join(''));
    if (bytes === undefined) return { kind: 'status', code: 400, message: `${target}: Format b64 but the chunks together are not base64` };
    if (inc.declaredSize !== undefined && !sizeMatches(inc.declaredSize, bytes.byteLength, b.encodedSize)) {
      return { kind: 'status', code: 424, message: `${target}: received ${bytes.byteLength} bytes (${b.encodedSize} Base64 characters), Meta Size said ${inc.declaredSize}` };
    }
    return { kind: 'value', value: bytes, format: 'bin', ...(inc.type !== undefined ? { type: inc.type } : {}) };
  }

  /** The target is a leaf of Format bin: Format b64 data for it is binary data in transport encoding. */
  private binaryTarget(target: string): boolean {
    return this.tree.lookup(target)?.format === 'bin';
  }

  // ------------------------------------------------------------------------------- Exec

  private async exec(c: Exec, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    const units: ResponseUnit[] = [];
    let failed = false;
    for (const item of c.items) {
      const target = item.target?.locURI;
      const finish = (code: number, message?: string, results?: Results): void => {
        this.report(c, code, target, message);
        units.push(this.unit(this.status(ctx, c, code, target), results));
        if (isErrorStatus(code)) failed = true;
      };
      if (target === undefined) {
        finish(400, 'Exec item has no Target LocURI');
        continue;
      }
      const p = this.tree.parse(target);
      if (!p.ok) {
        finish(p.error.status, p.error.message);
        continue;
      }
      if (p.value.query) {
        finish(405, `Exec is not allowed on ${p.value.query.kind === 'prop' ? 'a property' : 'a list URI'} (${target})`);
        continue;
      }
      const chk = this.tree.check(this.serverId, 'Exec', p.value);
      if (!chk.ok) {
        finish(chk.status, chk.message);
        continue;
      }
      const refusal = this.ddf('Exec', target);
      if (refusal) {
        finish(refusal.status, refusal.message);
        continue;
      }
      const handler = this.options.exec;
      if (handler === undefined) {
        finish(406, `nothing is bound to Exec on ${p.value.path} (no Exec handler)`);
        continue;
      }
      const meta = metaOf(c, item);
      const data = itemValue(item, meta.format);
      let out: ExecOutcome;
      try {
        out = await handler({
          path: p.value.path,
          uri: p.value,
          ...(data != null ? { data } : {}),
          ...(meta.format !== undefined ? { format: meta.format } : {}),
          ...(meta.type !== undefined ? { type: meta.type } : {}),
          ...(c.correlator !== undefined ? { correlator: c.correlator } : {}),
          serverId: this.options.serverId,
          tree: this.tree,
          inAtomic: scope.inAtomic,
          cmdId: c.cmdID,
        });
      } catch (e) {
        finish(500, `Exec handler for ${p.value.path} failed: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      let results: Results | undefined;
      if (out.results && !isErrorStatus(out.status)) {
        const r = out.results;
        const rmeta: Meta = { format: r.format ?? (typeof r.data === 'string' ? 'chr' : 'bin'), type: r.type ?? (typeof r.data === 'string' ? 'text/plain' : 'application/octet-stream') };
        results = {
          kind: 'Results',
          cmdID: '',
          msgRef: ctx.msgRef,
          cmdRef: c.cmdID,
          targetRefs: [],
          sourceRefs: [],
          items: [{ source: { locURI: r.source ?? target }, meta: rmeta, data: dataOfValue(r.data) }],
        };
      }
      finish(out.status, out.message, results);
    }
    return { units, failed, unconfirmed: false, cancelled: false };
  }

  // ------------------------------------------------------------------------------- Alert

  private async alert(c: Alert, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    const code = c.data === undefined ? NaN : Number(c.data.trim());
    const simple = (status: number, message?: string): Outcome => {
      this.report(c, status, undefined, message ?? `Alert ${c.data ?? '(no code)'}`);
      return { units: [this.unit(this.status(ctx, c, status))], failed: isErrorStatus(status), unconfirmed: false, cancelled: false };
    };
    if (!Number.isInteger(code)) return simple(400, 'Alert has no numeric alert code in Data');
    if (code >= 1100 && code <= 1104) return this.uiAlert(c, code as UiAlertCode, ctx, scope);
    switch (code) {
      case 1222:
        this.nextMessageRequested = true;
        return simple(200, 'the server asks for the next message (1222)');
      case 1223:
        this.sessionAborted = true;
        return simple(200, 'the server aborts the session (1223)');
      case 1225:
        this.outgoingObjectAborted = true;
        return simple(200, 'the server did not receive the end of our chunked object (1225)');
      case 1200:
      case 1201:
      case 1224:
      case 1226:
        return simple(200, `Alert ${code} is a client's alert; acknowledged`);
      default:
        return simple(406, `Alert ${code} is not supported by this client`);
    }
  }

  private async uiAlert(c: Alert, code: UiAlertCode, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    const kind = UI_ALERT_KIND[code];
    const bad = (message: string): Outcome => {
      this.report(c, 400, undefined, message);
      return { units: [this.unit(this.status(ctx, c, 400))], failed: true, unconfirmed: kind === 'confirm', cancelled: false };
    };
    const texts = c.items.map((i) => (i.data === undefined ? '' : i.data.kind === 'text' ? i.data.text : i.data.kind === 'binary' ? new TextDecoder().decode(i.data.bytes) : ''));
    if (c.items.length < 2) return bad(`UI alert ${code} needs an options Item and a text Item, got ${c.items.length} Item(s)`);
    const choices = texts.slice(2);
    if ((kind === 'single-choice' || kind === 'multiple-choice') && choices.length === 0) return bad(`choice alert ${code} offers no choices (Items 3..)`);
    const ui: UiAlert = {
      code,
      kind,
      options: parseUiOptions(texts[0]!),
      text: texts[1]!,
      choices,
      serverId: this.options.serverId,
      cmdId: c.cmdID,
    };
    if (scope.container) ui.container = scope.container;
    const responder = this.options.alert ?? defaultResponder;
    let answer;
    try {
      answer = await responder(ui);
    } catch (e) {
      answer = { status: 500 };
      this.report(c, 500, undefined, `UI responder failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const items: Item[] = (answer.data ?? []).map((d) => ({ data: textData(d) }));
    this.report(c, answer.status, undefined, `UI ${kind} alert ${JSON.stringify(ui.text)} answered ${answer.status}${answer.data?.length ? ` [${answer.data.join(', ')}]` : ''}`);
    return {
      units: [this.unit(this.status(ctx, c, answer.status, undefined, undefined, items))],
      failed: isErrorStatus(answer.status),
      unconfirmed: kind === 'confirm' && answer.status !== 200,
      cancelled: answer.status === 214,
    };
  }

  // ------------------------------------------------------------------------------- containers

  private async sequence(c: Container, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    const units: ResponseUnit[] = [this.unit(this.status(ctx, c, 200))];
    let bypass: string | undefined;
    let failed = false;
    let unconfirmed = false;
    let cancelled = false;
    for (const m of c.commands) {
      if (bypass !== undefined) {
        units.push(...this.refused(m, ctx, DmStatus_NOT_EXECUTED, bypass).units);
        continue;
      }
      const o = await this.command(m, ctx, { inAtomic: scope.inAtomic, container: 'Sequence' });
      units.push(...o.units);
      if (o.failed) failed = true;
      if (o.cancelled) {
        cancelled = true;
        bypass = 'the user cancelled a UI alert';
      } else if (o.unconfirmed) {
        unconfirmed = true;
        bypass = 'a confirmation alert earlier in the Sequence was not confirmed';
      } else if (o.failed && this.options.sequenceStopsOnError) {
        bypass = 'an earlier member of the Sequence failed';
      }
    }
    this.report(c, 200, undefined, bypass ? `members after the stop: 215 (${bypass})` : undefined);
    return { units, failed, unconfirmed, cancelled };
  }

  private async atomic(c: Container, ctx: ProcessContext, scope: Scope): Promise<Outcome> {
    if (scope.inAtomic) {
      const inner = c.commands.flatMap((m) => this.refused(m, ctx, DmStatus_NOT_EXECUTED, 'inside a nested Atomic').units);
      this.report(c, 500, undefined, 'Atomic inside Atomic: DM 1.2 does not allow nesting');
      return { units: [{ commands: [this.status(ctx, c, 500), ...inner.flatMap((u) => u.commands)].filter((x): x is Command => x !== undefined) }], failed: true, unconfirmed: false, cancelled: false };
    }
    const eventsBefore = this.events.length;
    this.tree.begin();
    const members: ResponseUnit[][] = [];
    let failedWhy: string | undefined;
    let cancelled = false;
    try {
      for (const m of c.commands) {
        if (failedWhy !== undefined) {
          members.push(this.refused(m, ctx, DmStatus_NOT_EXECUTED, `the Atomic already failed (${failedWhy})`).units);
          continue;
        }
        const o = await this.command(m, ctx, { inAtomic: true, container: 'Atomic' });
        members.push(o.units);
        if (o.cancelled) cancelled = true;
        if (o.failed || o.unconfirmed || o.cancelled) failedWhy = `${m.kind} CmdID ${m.cmdID} failed`;
      }
    } catch (e) {
      this.tree.rollback();
      throw e;
    }
    const block = (code: number, rolledBack: boolean): Command[] => {
      const out: Command[] = [];
      const st = this.status(ctx, c, code);
      if (st) out.push(st);
      for (const unitList of members) {
        for (const u of unitList) {
          for (const cmd of u.commands) {
            if (!rolledBack) out.push(cmd);
            else if (cmd.kind === 'Status') {
              const code = Number(cmd.data);
              out.push(wasExecutedOk(code) ? { ...cmd, data: '216' } : cmd);
            } else if (cmd.kind === 'Alert') out.push(cmd); // e.g. 1225 for a dropped object
            // Results of a rolled-back Atomic are dropped
          }
        }
      }
      return out;
    };
    if (failedWhy !== undefined && this.options.faults?.ignoreAtomicRollback) {
      // Fault injection (ignore-atomic-rollback): what succeeded stays, and the Atomic says 200.
      this.tree.commit();
      this.report(c, 200, undefined, `fault ignore-atomic-rollback: not rolled back though ${failedWhy}`);
      return { units: [{ commands: block(200, false), indivisible: true }], failed: false, unconfirmed: false, cancelled };
    }
    if (failedWhy === undefined) {
      const ok = block(200, false);
      if (ctx.fitsInOneMessage === undefined || ctx.fitsInOneMessage(ok)) {
        this.tree.commit();
        this.report(c, 200, undefined);
        return { units: [{ commands: ok, indivisible: true }], failed: false, unconfirmed: false, cancelled };
      }
      this.tree.rollback();
      this.markRolledBack(eventsBefore);
      this.report(c, 517, undefined, 'the Atomic\'s response does not fit into one message (MaxMsgSize): rolled back');
      return { units: [{ commands: block(517, true), indivisible: true }], failed: true, unconfirmed: false, cancelled };
    }
    this.tree.rollback();
    this.markRolledBack(eventsBefore);
    this.report(c, 507, undefined, `rolled back: ${failedWhy}`);
    return { units: [{ commands: block(507, true), indivisible: true }], failed: true, unconfirmed: false, cancelled };
  }

  /** Events of commands inside a rolled-back Atomic: their successes became 216. */
  private markRolledBack(from: number): void {
    for (let i = from; i < this.events.length; i++) {
      const e = this.events[i]!;
      if (wasExecutedOk(e.status)) {
        e.message = `rolled back (was ${e.status}${e.message ? `: ${e.message}` : ''})`;
        e.status = 216;
      }
    }
  }
}

const DmStatus_NOT_EXECUTED = 215;

/** A member status that a rollback turns into 216: it succeeded (2xx) and was executed (not 215). */
function wasExecutedOk(code: number): boolean {
  return code >= 200 && code < 300 && code !== 215 && code !== 216;
}

