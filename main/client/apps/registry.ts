/**
 * DM-7 / DM-8 on a virtual handset: local apps register management objects in the client's tree,
 * read them back, answer a server's Exec on their nodes, and are told when a server changed them.
 *
 *   const apps = ClientAppRegistry.attach(handset);
 *   apps.register({ appId: 'com.example.fumo', root: './FwUpdate/Lab', servers: ['dmw'],
 *     nodes: [{ path: 'State', format: 'int', value: 10, access: ['Get'] }],
 *     exec: { Update: (req) => ({ status: 202 }) } }, (change) => console.log(change));
 *
 * What counts as a change: an Add, Replace, Delete, Copy or Exec a server ran with success on a
 * node inside the MO (or a Delete of one of its ancestors, which takes the whole MO). Changes are
 * reported once the server's message has been processed, so a rolled-back Atomic reports nothing
 * and the value given is the node's value after that message. Writes by the device itself
 * (the app's own setValue, bootstrap) are not changes: DM-8 is about what servers do.
 *
 * Registrations live in memory; the nodes live in the tree (saved with it). After a restart an app
 * registers again with `existing: 'adopt'` to take its MO back as the servers left it.
 */
import { DEVICE, type DmNode, type DmTree, type NodeDescription } from '../../tree/tree.js';
import { isDmFormat, type DmFormat, type NodeValue } from '../../tree/values.js';
import type { ExecOutcome, ExecRequest, ProcessEvent } from '../../tree/processor/index.js';
import type { HandsetAppHooks, SessionOutcome, VirtualHandset } from '../handset.js';
import {
  AppRegistryError, RESERVED_ROOTS, canonicalNodePath, checkAppId, isWithin, nodeValue, planRegistration,
  type AppValue, type ExecBinding, type MoRegistration,
} from './registration.js';

export type ChangeCommand = 'Add' | 'Replace' | 'Delete' | 'Copy' | 'Exec';

/** One DM-8 notification: what a server did to a node of an app's MO. */
export interface MoChange {
  /** Increases by one per change on this registry (SSE event id, long-poll cursor). */
  seq: number;
  at: string;
  appId: string;
  /** The MO's root. */
  mo: string;
  command: ChangeCommand;
  serverId: string;
  sessionId: string;
  /** The target as the tree names it (`./FwUpdate/Lab/PkgName`, or `...?prop=ACL` for a property). */
  path: string;
  /** The status the client answered (200, or 202 for an Exec accepted for later). */
  status: number;
  /** The node after the server's message (absent when it is gone, and for Exec). */
  format?: DmFormat;
  type?: string;
  /** Leaf value after the server's message; `bin` values are bytes. */
  value?: NodeValue;
  /** Replace of a property (`?prop=ACL|Name|Title`): which, and its new value. */
  property?: { name: string; value: string };
  /** Copy: where the value came from. */
  source?: string;
  /** Exec: what the server sent with it. */
  exec?: { correlator?: string; data?: string | Uint8Array; format?: string; type?: string };
  /** Delete of an ancestor: the whole MO is gone from the tree (the registration stays). */
  moDeleted?: boolean;
}

export type ChangeListener = (change: MoChange) => void;

/** A registered MO as the registry reports it. */
export interface MoInfo {
  appId: string;
  root: string;
  type: string;
  /** The root's own ACL ('' = inherited from its parent). */
  acl: string;
  /** The root is in the tree now (a server may have deleted it). */
  present: boolean;
  /** Absolute Exec targets the app answers. */
  execTargets: string[];
  registeredAt: string;
  /** Ancestors the registration created (removed again on deregistration when left empty). */
  createdParents: string[];
}

/** A Generic Alert (1226) an app sends to a server in a new client-initiated session. */
export interface AppAlert {
  serverId: string;
  /** Item Source: a node of the app's own MO (FUMO: `<x>/Update`). */
  source: string;
  /** Meta Type, e.g. `org.openmobilealliance.dm.firmwareupdate.update`. */
  type: string;
  /** Meta Format of the data; default chr. */
  format?: string;
  data?: string | number;
  /** The Correlator of the Exec this reports on. */
  correlator?: string;
  /** Meta Mark, e.g. `critical` for a failure. */
  mark?: string;
}

export interface RegistryOptions {
  reserved?: readonly string[];
  /** Changes kept for replay (SSE Last-Event-ID, long poll). Default 1000. */
  historyLimit?: number;
  now?: () => number;
}

interface Registered {
  appId: string;
  root: string;
  exec: Map<string, ExecBinding>;
  createdParents: string[];
  registeredAt: string;
  onChange: ChangeListener | undefined;
}

interface PendingExec {
  cmdId: string;
  path: string;
  detail: NonNullable<MoChange['exec']>;
}

const CHANGE_COMMANDS: ReadonlySet<string> = new Set<ChangeCommand>(['Add', 'Replace', 'Delete', 'Copy', 'Exec']);

/** The command took effect: 2xx, but not 213 (a chunk buffered), 215 (not executed), 216 (rolled back). */
function applied(status: number): boolean {
  return status >= 200 && status < 300 && status !== 213 && status !== 215 && status !== 216;
}

function copyValue(v: NodeValue): NodeValue {
  return v instanceof Uint8Array ? v.slice() : v;
}

function guarded(fn: ChangeListener, c: MoChange): void {
  try {
    fn(c);
  } catch (e) {
    // an app's listener must never take a DM session down
    process.emitWarning(`client-app listener for ${c.appId} failed on ${c.command} ${c.path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export class ClientAppRegistry implements HandsetAppHooks {
  readonly tree: DmTree;
  readonly handset: VirtualHandset | undefined;
  private readonly mos = new Map<string, Registered>();
  private readonly listeners = new Set<{ fn: ChangeListener; appId: string | undefined }>();
  private readonly history: MoChange[] = [];
  private readonly historyLimit: number;
  private readonly reserved: readonly string[];
  private readonly now: () => number;
  private seq = 0;
  /** Execs run in the server message being processed; paired with its events afterwards. */
  private pendingExecs: PendingExec[] = [];

  constructor(tree: DmTree, options: RegistryOptions & { handset?: VirtualHandset } = {}) {
    this.tree = tree;
    this.handset = options.handset;
    this.historyLimit = Math.max(1, options.historyLimit ?? 1000);
    this.reserved = options.reserved ?? RESERVED_ROOTS;
    this.now = options.now ?? Date.now;
  }

  /** A registry for `handset`'s tree, hooked into its sessions (one per handset). */
  static attach(handset: VirtualHandset, options: RegistryOptions = {}): ClientAppRegistry {
    if (handset.appHooks !== undefined) throw new AppRegistryError('clash', `handset ${handset.devId} already has a client-app registry attached`);
    const r = new ClientAppRegistry(handset.tree, { ...options, handset });
    handset.attachApps(r);
    return r;
  }

  /** The registry attached to `handset`, if any. */
  static of(handset: VirtualHandset): ClientAppRegistry | undefined {
    return handset.appHooks instanceof ClientAppRegistry ? handset.appHooks : undefined;
  }

  /** Unhooks from the handset (registrations and nodes stay; Exec on them answers 406 again). */
  detach(): void {
    if (this.handset && this.handset.appHooks === this) this.handset.attachApps(undefined);
    this.listeners.clear();
  }

  /** Saves the tree now (sessions save it anyway when they end). */
  async save(): Promise<void> {
    await this.handset?.save();
  }

  // ------------------------------------------------------------------------------- DM-7

  /** Registers an MO; `onChange` hears what servers do to it. Throws AppRegistryError. */
  register(reg: MoRegistration, onChange?: ChangeListener): MoInfo {
    this.assertIdle();
    const plan = planRegistration(this.tree, reg, [...this.mos.values()], this.reserved);
    const tree = this.tree;
    const createdParents: string[] = [];
    tree.begin();
    try {
      if (plan.existing === 'replace') {
        const r = tree.delete(DEVICE, plan.root);
        if (!r.ok) throw new AppRegistryError('exists', `cannot replace ${plan.root}: ${r.message}`, { field: 'existing', path: plan.root });
      }
      for (const p of plan.parents) {
        this.createPlanned(p.segments, p.spec, p.field, p.path);
        createdParents.push(p.path);
      }
      for (const n of plan.nodes) {
        const there = tree.resolve(n.segments);
        if (there === undefined) {
          this.createPlanned(n.segments, n.spec, n.field, n.path);
          continue;
        }
        // adopting: what exists stays as the servers left it, but it must be the kind of node the app expects
        if ((there.format === 'node') !== (n.spec.format === 'node')) {
          throw new AppRegistryError('exists', `${n.field}: ${n.path} exists as ${there.format === 'node' ? 'an interior node' : `a ${there.format} leaf`}, the registration says ${n.spec.format}`, { field: n.field, path: n.path });
        }
        if (n.path === plan.root) {
          tree.setProperties(there, { ...(plan.rootAcl ? { acl: plan.rootAcl } : {}), ...(plan.type ? { type: plan.type } : {}) });
        }
      }
      tree.commit();
    } catch (e) {
      tree.rollback();
      throw e;
    }
    const mo: Registered = { appId: plan.appId, root: plan.root, exec: plan.exec, createdParents, registeredAt: new Date(this.now()).toISOString(), onChange };
    this.mos.set(plan.root, mo);
    return this.info(mo);
  }

  private createPlanned(segments: readonly string[], spec: Parameters<DmTree['createNode']>[2], field: string, path: string): DmNode {
    const parent = this.tree.resolve(segments.slice(0, -1));
    if (parent === undefined) throw new AppRegistryError('bad-input', `${field}: the parent of ${path} does not exist`, { field, path });
    try {
      return this.tree.createNode(parent, segments[segments.length - 1]!, spec);
    } catch (e) {
      throw new AppRegistryError('bad-input', `${field}: ${(e as Error).message}`, { field, path });
    }
  }

  /** Removes the MO's subtree (and the ancestors its registration created, when left empty). */
  deregister(appId: string, root: string): { root: string; removed: number } {
    const mo = this.ownedExactly(appId, root, 'root');
    this.assertIdle();
    const tree = this.tree;
    let removed = 0;
    if (tree.lookup(mo.root) !== undefined) {
      const r = tree.delete(DEVICE, mo.root);
      if (!r.ok) throw new AppRegistryError('bad-input', `cannot remove ${mo.root}: ${r.message}`, { path: mo.root });
      removed = r.value.removed;
    }
    for (const p of [...mo.createdParents].reverse()) {
      const n = tree.lookup(p);
      const usedByOther = [...this.mos.values()].some((o) => o !== mo && isWithin(o.root, p));
      if (n === undefined || n.childCount > 0 || usedByOther) break;
      const r = tree.delete(DEVICE, p);
      if (r.ok) removed += r.value.removed;
    }
    this.mos.delete(mo.root);
    return { root: mo.root, removed };
  }

  /** Registered MOs (of one app, or all). */
  list(appId?: string): MoInfo[] {
    return [...this.mos.values()].filter((m) => appId === undefined || m.appId === appId).map((m) => this.info(m));
  }

  /** The registration whose MO holds `path`. */
  ownerOf(path: string): MoInfo | undefined {
    const mo = this.findOwner(path);
    return mo ? this.info(mo) : undefined;
  }

  /** DM-7 retrieval: the subtree at `path` (inside one of the app's MOs), pre-order, values included. */
  get(appId: string, path: string): NodeDescription[] {
    const { segments, path: p } = this.ownedPath(appId, path, 'path');
    const node = this.tree.resolve(segments);
    if (node === undefined) throw new AppRegistryError('not-found', `${p} does not exist (a server may have deleted it)`, { field: 'path', path: p });
    const out: NodeDescription[] = [];
    this.tree.walk(node, (n) => {
      const d = this.tree.describe(n);
      if (d.value !== undefined) d.value = copyValue(d.value);
      out.push(d);
    }, p);
    return out;
  }

  /** The app writes a leaf of its own MO (e.g. FUMO State); not reported as a change. */
  setValue(appId: string, path: string, value: AppValue, format?: DmFormat): NodeDescription {
    const { segments, path: p } = this.ownedPath(appId, path, 'path');
    this.assertIdle();
    const node = this.tree.resolve(segments);
    if (node === undefined) throw new AppRegistryError('not-found', `${p} does not exist`, { field: 'path', path: p });
    if (node.format === 'node') throw new AppRegistryError('bad-input', `${p} is an interior node: it has no value`, { field: 'path', path: p });
    if (format !== undefined && (!isDmFormat(format) || format === 'node')) throw new AppRegistryError('bad-input', `format: ${JSON.stringify(format)} is not a leaf format`, { field: 'format', path: p });
    const v = nodeValue(format ?? node.format, value, 'value', p);
    const r = this.tree.replace(DEVICE, p, v, format !== undefined ? { format } : {});
    if (!r.ok) throw new AppRegistryError('bad-input', `value: ${r.message}`, { field: 'value', path: p });
    return this.tree.describe(node);
  }

  /** Sends a Generic Alert (1226) from the app to a server in a new client-initiated session. */
  sendGenericAlert(appId: string, alert: AppAlert): Promise<SessionOutcome> {
    const handset = this.handset;
    if (!handset) throw new AppRegistryError('no-handset', 'this registry is not attached to a handset: nothing can send the alert');
    const { path: source } = this.ownedPath(appId, alert.source, 'source');
    if (typeof alert.serverId !== 'string' || !handset.accounts().some((a) => a.serverId === alert.serverId)) {
      throw new AppRegistryError('bad-input', `serverId: the handset has no DMAcc account for ${JSON.stringify(alert.serverId)}`, { field: 'serverId' });
    }
    if (typeof alert.type !== 'string' || alert.type === '') throw new AppRegistryError('bad-input', 'type: a Generic Alert needs a Meta Type (e.g. org.openmobilealliance.dm.firmwareupdate.update)', { field: 'type' });
    if (alert.format !== undefined && !isDmFormat(alert.format)) throw new AppRegistryError('bad-input', `format: unknown format ${JSON.stringify(alert.format)}`, { field: 'format' });
    const data = alert.data === undefined ? undefined : String(alert.data);
    if (alert.format !== undefined && data !== undefined) nodeValue(alert.format as DmFormat, data, 'data', source);
    return handset.connect({
      serverId: alert.serverId,
      genericAlerts: [{
        code: '1226',
        source,
        type: alert.type,
        format: alert.format ?? 'chr',
        ...(data !== undefined ? { data } : {}),
        ...(alert.correlator !== undefined ? { correlator: alert.correlator } : {}),
        ...(alert.mark !== undefined ? { mark: alert.mark } : {}),
      }],
    });
  }

  // ------------------------------------------------------------------------------- DM-8

  /** Every change (or one app's); returns the unsubscribe function. */
  subscribe(fn: ChangeListener, appId?: string): () => void {
    const entry = { fn, appId };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Kept changes after `after` (one app's, or all); `truncated` when older ones were dropped. */
  changesSince(after: number, appId?: string): { changes: MoChange[]; last: number; truncated: boolean } {
    const oldest = this.history[0]?.seq ?? this.seq + 1;
    const changes = this.history.filter((c) => c.seq > after && (appId === undefined || c.appId === appId));
    return { changes, last: this.seq, truncated: after < oldest - 1 };
  }

  /** Long poll: the changes after `after`, waiting up to `timeoutMs` for the first one. */
  waitForChanges(after: number, appId: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<{ changes: MoChange[]; last: number; truncated: boolean }> {
    const now = this.changesSince(after, appId);
    if (now.changes.length > 0 || timeoutMs <= 0 || signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve(this.changesSince(after, appId));
      };
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.subscribe(done, appId);
      signal?.addEventListener('abort', done);
    });
  }

  // ------------------------------------------------------------------------------- handset hooks

  /** HandsetAppHooks: Exec on a node of a registered MO is the owning app's. */
  exec(req: ExecRequest): ExecOutcome | Promise<ExecOutcome> | undefined {
    const mo = this.findOwner(req.path);
    if (mo === undefined) return undefined;
    const detail: PendingExec['detail'] = {};
    if (req.correlator !== undefined) detail.correlator = req.correlator;
    if (req.data !== undefined) detail.data = req.data;
    if (req.format !== undefined) detail.format = req.format;
    if (req.type !== undefined) detail.type = req.type;
    this.pendingExecs.push({ cmdId: req.cmdId, path: req.path, detail });
    const binding = mo.exec.get(req.path);
    if (binding === undefined) return { status: 406, message: `${req.path} is in ${mo.root} (app ${mo.appId}), which has no Exec handler for it` };
    if (typeof binding === 'number') return { status: binding, message: `handed to app ${mo.appId}` };
    return binding(req);
  }

  /** HandsetAppHooks: after each server message, tell the apps what changed in their MOs. */
  serverCommands(events: readonly ProcessEvent[], session: { serverId: string; sessionId: string }): void {
    const execs = this.pendingExecs.splice(0);
    if (this.mos.size === 0) return;
    const at = new Date(this.now()).toISOString();
    for (const e of events) {
      if (!CHANGE_COMMANDS.has(e.cmd) || e.target === undefined || !applied(e.status)) continue;
      const p = this.tree.parse(e.target);
      if (!p.ok) continue;
      const command = e.cmd as ChangeCommand;
      const path = p.value.path;
      const query = p.value.query;
      const affected = [...this.mos.values()].filter((mo) => isWithin(path, mo.root) || (command === 'Delete' && !query && isWithin(mo.root, path)));
      if (affected.length === 0) continue;
      const base: Omit<MoChange, 'seq' | 'appId' | 'mo'> = { at, command, serverId: session.serverId, sessionId: session.sessionId, path, status: e.status };
      if (query?.kind === 'prop') {
        base.path = `${path}?prop=${query.prop}`;
        const g = this.tree.get(DEVICE, p.value);
        if (g.ok && g.value.kind === 'property') base.property = { name: g.value.prop, value: g.value.value };
      } else if (command !== 'Delete' && command !== 'Exec') {
        const node = this.tree.resolve(p.value.segments);
        if (node !== undefined) {
          base.format = node.format;
          base.type = node.type;
          if (node.format !== 'node') base.value = copyValue(node.value);
        }
      }
      if (command === 'Copy' && e.source !== undefined) {
        const s = this.tree.parse(e.source);
        base.source = s.ok ? s.value.path : e.source;
      }
      if (command === 'Exec') {
        const x = execs.find((x) => x.cmdId === e.cmdId && x.path === path);
        if (x) base.exec = x.detail;
      }
      for (const mo of affected) {
        const change: MoChange = { seq: ++this.seq, appId: mo.appId, mo: mo.root, ...base };
        if (command === 'Delete' && !query && isWithin(mo.root, path)) change.moDeleted = true;
        this.record(change, mo);
      }
    }
  }

  private record(change: MoChange, mo: Registered): void {
    this.history.push(change);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    if (mo.onChange) guarded(mo.onChange, change);
    for (const l of [...this.listeners]) if (l.appId === undefined || l.appId === change.appId) guarded(l.fn, change);
  }

  // ------------------------------------------------------------------------------- helpers

  private info(m: Registered): MoInfo {
    const node = this.tree.lookup(m.root);
    return {
      appId: m.appId,
      root: m.root,
      type: node?.type ?? '',
      acl: node?.acl.text ?? '',
      present: node !== undefined,
      execTargets: [...m.exec.keys()],
      registeredAt: m.registeredAt,
      createdParents: [...m.createdParents],
    };
  }

  private findOwner(path: string): Registered | undefined {
    for (const mo of this.mos.values()) if (isWithin(path, mo.root)) return mo;
    return undefined;
  }

  /** `path` parsed, and inside an MO that `appId` registered. */
  private ownedPath(appId: string, path: string, field: string): { path: string; segments: string[] } {
    checkAppId(appId);
    if (typeof path !== 'string') throw new AppRegistryError('bad-input', `${field} must be a DM path`, { field });
    const p = canonicalNodePath(this.tree, path, field);
    const mo = this.findOwner(p.path);
    if (mo === undefined) throw new AppRegistryError('not-found', `${field}: no app has registered an MO at or above ${p.path}`, { field, path: p.path });
    if (mo.appId !== appId) throw new AppRegistryError('not-owner', `${field}: ${p.path} is in ${mo.root}, which app ${mo.appId} owns, not ${appId}`, { field, path: p.path });
    return p;
  }

  private ownedExactly(appId: string, root: string, field: string): Registered {
    checkAppId(appId);
    if (typeof root !== 'string') throw new AppRegistryError('bad-input', `${field} must be a DM path`, { field });
    const { path } = canonicalNodePath(this.tree, root, field);
    const mo = this.mos.get(path);
    if (mo === undefined) {
      const mine = this.list(appId).map((m) => m.root);
      throw new AppRegistryError('not-found', `${field}: no MO is registered at ${path}${mine.length ? ` (app ${appId} has ${mine.join(', ')})` : ''}`, { field, path });
    }
    if (mo.appId !== appId) throw new AppRegistryError('not-owner', `${field}: ${path} is registered by app ${mo.appId}, not ${appId}`, { field, path });
    return mo;
  }

  /**
   * Apps may not write while a server's Atomic is open (an app awaited inside an Exec handler):
   * the tree journals every write then, and a rollback would take the app's nodes with it.
   */
  private assertIdle(): void {
    if (this.tree.inTransaction) throw new AppRegistryError('busy', 'the DM tree is inside an Atomic of a running server session; try again in a moment');
  }
}
