/**
 * Document tree -> typed SyncML message. Children may come in any order (peers are not strict about
 * the DTD's order); unknown, repeated or missing elements are errors that name the element path.
 */
import type { Child, Element } from '../element.js';
import { isElement } from '../element.js';
import { CodecFailure, fail, ok, type CodecErrorCode, type Result } from '../errors.js';
import { decodeUtf8Strict } from '../binary.js';
import type {
  Alert, Chal, Command, Container, Cred, Exec, Item, ItemCommand, ItemData, Location, Meta, Results, Status,
  SyncBody, SyncHdr, SyncML,
} from '../model.js';

export interface MessageLimits {
  /** Commands in one message, counting nested ones. */
  maxCommands: number;
  maxItemsPerCommand: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxCommands: 100_000, maxItemsPerCommand: 100_000 };

export function readMessage(root: Element, limits: Partial<MessageLimits> = {}): Result<SyncML> {
  const reader = new Reader({ ...DEFAULT_MESSAGE_LIMITS, ...limits });
  try {
    return ok(reader.syncML(root));
  } catch (e) {
    if (e instanceof CodecFailure) return fail(e.error);
    throw e;
  }
}

/**
 * Only the SyncHdr of a message whose body may be broken: enough to answer it with a SyncHdr status
 * (a malformed package still deserves a SyncML answer, not just an HTTP error).
 */
export function readHeader(root: Element): Result<SyncHdr> {
  const reader = new Reader(DEFAULT_MESSAGE_LIMITS);
  try {
    return ok(reader.header(root));
  } catch (e) {
    if (e instanceof CodecFailure) return fail(e.error);
    throw e;
  }
}


/**
 * Where an element sits (for error messages), as a chain to its parent: built as the reader walks
 * down, one small object per step, and turned into text only when an error names it. (It was an
 * array copied at every step, on every message the server and the handsets read.)
 */
interface Path {
  readonly up: Path | undefined;
  readonly name: string;
}

function at(up: Path | undefined, name: string): Path {
  return { up, name };
}

function pathText(p: Path): string {
  const names: string[] = [];
  for (let q: Path | undefined = p; q !== undefined; q = q.up) names.push(q.name);
  return names.reverse().join('/');
}

/** The children each element may have, by name (constants: an array literal per call was an allocation per element). */
const NAMES_0 = ['SyncHdr', 'SyncBody'] as const;
const NAMES_1 = ['VerDTD', 'VerProto', 'SessionID', 'MsgID', 'Target', 'Source', 'RespURI', 'NoResp', 'Cred', 'Meta'] as const;
const NAMES_2 = ['CmdID', 'NoResp', 'Cred', 'Meta', 'Item'] as const;
const NAMES_3 = ['Item'] as const;
const NAMES_4 = ['CmdID', 'NoResp', 'Cred', 'Data', 'Correlator', 'Item'] as const;
const NAMES_5 = ['CmdID', 'NoResp', 'Cred', 'Meta', 'Correlator', 'Item'] as const;
const NAMES_6 = ['CmdID', 'MsgRef', 'CmdRef', 'Meta', 'TargetRef', 'SourceRef', 'Item'] as const;
const NAMES_7 = ['TargetRef', 'SourceRef', 'Item'] as const;
const NAMES_8 = ['CmdID', 'MsgRef', 'CmdRef', 'Cmd', 'TargetRef', 'SourceRef', 'Cred', 'Chal', 'Data', 'Item'] as const;
const NAMES_9 = ['Target', 'Source', 'Meta', 'Data', 'MoreData'] as const;
const NAMES_10 = ['LocURI', 'LocName'] as const;
const NAMES_11 = ['Meta', 'Data'] as const;
const NAMES_12 = ['Meta'] as const;
const NAMES_13 = ['Last', 'Next'] as const;
const NAMES_14 = ['SharedMem', 'FreeMem', 'FreeID'] as const;

class Reader {
  private commandCount = 0;
  constructor(private readonly limits: MessageLimits) {}

  syncML(root: Element): SyncML {
    const path = at(undefined, root.name);
    if (root.ns !== 'syncml' || root.name !== 'SyncML') this.fail('unexpected-content', `root element is <${root.name}>, expected <SyncML>`, path);
    const f = this.fields(root, path, NAMES_0);
    const hdrEl = f.get('SyncHdr') ?? this.fail('missing-element', 'SyncML has no SyncHdr', path);
    const bodyEl = f.get('SyncBody') ?? this.fail('missing-element', 'SyncML has no SyncBody', path);
    return { hdr: this.syncHdr(hdrEl, at(path, 'SyncHdr')), body: this.syncBody(bodyEl, at(path, 'SyncBody')) };
  }

  header(root: Element): SyncHdr {
    const path = at(undefined, root.name);
    if (root.ns !== 'syncml' || root.name !== 'SyncML') this.fail('unexpected-content', `root element is <${root.name}>, expected <SyncML>`, path);
    const hdr = root.children.find((c): c is Element => isElement(c) && c.name === 'SyncHdr');
    if (!hdr) this.fail('missing-element', 'SyncML has no SyncHdr', path);
    return this.syncHdr(hdr, at(path, 'SyncHdr'));
  }

  private syncHdr(e: Element, path: Path): SyncHdr {
    const f = this.fields(e, path, NAMES_1);
    const hdr: SyncHdr = {
      verDTD: this.requiredText(f, 'VerDTD', path),
      verProto: this.requiredText(f, 'VerProto', path),
      sessionID: this.requiredText(f, 'SessionID', path),
      msgID: this.requiredText(f, 'MsgID', path),
      target: this.location(this.required(f, 'Target', path), at(path, 'Target')),
      source: this.location(this.required(f, 'Source', path), at(path, 'Source')),
    };
    const respURI = f.get('RespURI');
    if (respURI) hdr.respURI = this.text(respURI, at(path, 'RespURI'));
    if (f.has('NoResp')) hdr.noResp = true;
    const cred = f.get('Cred');
    if (cred) hdr.cred = this.cred(cred, at(path, 'Cred'));
    const meta = f.get('Meta');
    if (meta) hdr.meta = this.meta(meta, at(path, 'Meta'));
    return hdr;
  }

  private syncBody(e: Element, path: Path): SyncBody {
    const commands: Command[] = [];
    let final = false;
    const seen = new Map<string, number>();
    for (const c of e.children) {
      if (!isElement(c)) this.fail('unexpected-content', 'character data between commands', path);
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      const childPath = at(path, n > 1 ? `${c.name}[${n}]` : c.name);
      if (c.name === 'Final' && c.ns === 'syncml') {
        if (final) this.fail('duplicate-element', 'Final appears twice', childPath);
        final = true;
        continue;
      }
      if (final) this.fail('unexpected-content', `<${c.name}> after <Final/>`, childPath);
      commands.push(this.command(c, childPath, 'body'));
    }
    return { commands, final };
  }

  private command(e: Element, path: Path, context: 'body' | 'Atomic' | 'Sequence'): Command {
    if (++this.commandCount > this.limits.maxCommands) this.fail('limit-exceeded', `more than ${this.limits.maxCommands} commands`, path);
    if (e.ns !== 'syncml') this.fail('unknown-element', `<${e.name}> is not a SyncML command`, path);
    switch (e.name) {
      case 'Add':
      case 'Copy':
      case 'Delete':
      case 'Get':
      case 'Replace':
        return this.itemCommand(e, e.name, path);
      case 'Alert':
        return this.alert(e, path);
      case 'Exec':
        return this.exec(e, path);
      case 'Atomic':
      case 'Sequence':
        return this.container(e, e.name, path);
      case 'Results':
        if (context !== 'body') this.fail('unexpected-content', `Results inside ${context}`, path);
        return this.results(e, path);
      case 'Status':
        if (context !== 'body') this.fail('unexpected-content', `Status inside ${context}`, path);
        return this.status(e, path);
      default:
        return this.fail('unknown-element', `<${e.name}> is not a DM command`, path);
    }
  }

  private itemCommand(e: Element, kind: ItemCommand['kind'], path: Path): ItemCommand {
    const f = this.fields(e, path, NAMES_2, NAMES_3);
    const cmd: ItemCommand = { kind, cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 1) };
    return this.optionalParts(cmd, f, path);
  }

  private alert(e: Element, path: Path): Alert {
    const f = this.fields(e, path, NAMES_4, NAMES_3);
    const cmd: Alert = { kind: 'Alert', cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 0) };
    const data = f.get('Data');
    if (data) cmd.data = this.text(data, at(path, 'Data'));
    return this.optionalParts(cmd, f, path);
  }

  private exec(e: Element, path: Path): Exec {
    const f = this.fields(e, path, NAMES_5, NAMES_3);
    const cmd: Exec = { kind: 'Exec', cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 1) };
    return this.optionalParts(cmd, f, path);
  }

  /**
   * The optional children commands share (NoResp, Cred, Meta, Correlator). Each command's `fields`
   * call has already refused the ones it may not carry, so whatever is present here belongs.
   */
  private optionalParts<T extends { noResp?: boolean; cred?: Cred; meta?: Meta; correlator?: string }>(cmd: T, f: Fields, path: Path): T {
    if (f.has('NoResp')) cmd.noResp = true;
    const cred = f.get('Cred');
    if (cred) cmd.cred = this.cred(cred, at(path, 'Cred'));
    const meta = f.get('Meta');
    if (meta) cmd.meta = this.meta(meta, at(path, 'Meta'));
    const correlator = f.get('Correlator');
    if (correlator) cmd.correlator = this.text(correlator, at(path, 'Correlator'));
    return cmd;
  }

  private container(e: Element, kind: Container['kind'], path: Path): Container {
    const cmd: Container = { kind, cmdID: '', commands: [] };
    let cmdID: string | undefined;
    const seen = new Map<string, number>();
    for (const c of e.children) {
      if (!isElement(c)) this.fail('unexpected-content', `character data in ${kind}`, path);
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      const childPath = at(path, n > 1 ? `${c.name}[${n}]` : c.name);
      if (c.ns === 'syncml' && c.name === 'CmdID') {
        if (cmdID !== undefined) this.fail('duplicate-element', 'CmdID appears twice', childPath);
        cmdID = this.text(c, childPath);
      } else if (c.ns === 'syncml' && c.name === 'NoResp') {
        cmd.noResp = true;
      } else if (c.ns === 'syncml' && c.name === 'Meta') {
        if (cmd.meta) this.fail('duplicate-element', 'Meta appears twice', childPath);
        cmd.meta = this.meta(c, childPath);
      } else {
        cmd.commands.push(this.command(c, childPath, kind));
      }
    }
    if (cmdID === undefined) this.fail('missing-element', `${kind} has no CmdID`, path);
    cmd.cmdID = cmdID;
    return cmd;
  }

  private results(e: Element, path: Path): Results {
    const f = this.fields(e, path, NAMES_6, NAMES_7);
    const cmd: Results = {
      kind: 'Results',
      cmdID: this.requiredText(f, 'CmdID', path),
      cmdRef: this.requiredText(f, 'CmdRef', path),
      targetRefs: this.texts(f, 'TargetRef', path),
      sourceRefs: this.texts(f, 'SourceRef', path),
      items: this.items(f, path, 0),
    };
    const msgRef = f.get('MsgRef');
    if (msgRef) cmd.msgRef = this.text(msgRef, at(path, 'MsgRef'));
    const meta = f.get('Meta');
    if (meta) cmd.meta = this.meta(meta, at(path, 'Meta'));
    return cmd;
  }

  private status(e: Element, path: Path): Status {
    const f = this.fields(e, path, NAMES_8, NAMES_7);
    const cmd: Status = {
      kind: 'Status',
      cmdID: this.requiredText(f, 'CmdID', path),
      msgRef: this.requiredText(f, 'MsgRef', path),
      cmdRef: this.requiredText(f, 'CmdRef', path),
      cmd: this.requiredText(f, 'Cmd', path),
      targetRefs: this.texts(f, 'TargetRef', path),
      sourceRefs: this.texts(f, 'SourceRef', path),
      data: this.requiredText(f, 'Data', path),
      items: this.items(f, path, 0),
    };
    const cred = f.get('Cred');
    if (cred) cmd.cred = this.cred(cred, at(path, 'Cred'));
    const chal = f.get('Chal');
    if (chal) cmd.chal = this.chal(chal, at(path, 'Chal'));
    return cmd;
  }

  private items(f: Fields, path: Path, min: number): Item[] {
    const els = f.all('Item');
    if (els.length < min) this.fail('missing-element', `${path.name} has no Item`, path);
    if (els.length > this.limits.maxItemsPerCommand) this.fail('limit-exceeded', `more than ${this.limits.maxItemsPerCommand} items`, path);
    return els.map((e, i) => this.item(e, at(path, els.length > 1 ? `Item[${i + 1}]` : 'Item')));
  }

  private item(e: Element, path: Path): Item {
    const f = this.fields(e, path, NAMES_9);
    const item: Item = {};
    const target = f.get('Target');
    if (target) item.target = this.location(target, at(path, 'Target'));
    const source = f.get('Source');
    if (source) item.source = this.location(source, at(path, 'Source'));
    const meta = f.get('Meta');
    if (meta) item.meta = this.meta(meta, at(path, 'Meta'));
    const data = f.get('Data');
    if (data) item.data = this.itemData(data, at(path, 'Data'));
    if (f.has('MoreData')) item.moreData = true;
    return item;
  }

  private itemData(e: Element, path: Path): ItemData {
    const kids = e.children;
    if (kids.length === 0) return { kind: 'text', text: '' };
    if (kids.some(isElement)) {
      const elements: Element[] = [];
      for (const k of kids) {
        if (isElement(k)) elements.push(k);
        else if (typeof k === 'string' && k.trim() === '') continue;
        else this.fail('unexpected-content', 'character data beside elements in Data', path);
      }
      return { kind: 'xml', elements };
    }
    if (kids.length === 1) {
      const only = kids[0]!;
      return typeof only === 'string' ? { kind: 'text', text: only } : { kind: 'binary', bytes: only as Uint8Array };
    }
    // Text pieces and OPAQUE mixed (some encoders split long values): the bytes, in order.
    if (kids.every((k) => typeof k === 'string')) return { kind: 'text', text: (kids as string[]).join('') };
    const enc = new TextEncoder();
    const parts = kids.map((k) => (typeof k === 'string' ? enc.encode(k) : (k as Uint8Array)));
    return { kind: 'binary', bytes: new Uint8Array(Buffer.concat(parts)) };
  }

  private location(e: Element, path: Path): Location {
    const f = this.fields(e, path, NAMES_10);
    const loc: Location = { locURI: this.requiredText(f, 'LocURI', path) };
    const name = f.get('LocName');
    if (name) loc.locName = this.text(name, at(path, 'LocName'));
    return loc;
  }

  private cred(e: Element, path: Path): Cred {
    const f = this.fields(e, path, NAMES_11);
    const cred: Cred = { data: this.requiredText(f, 'Data', path) };
    const meta = f.get('Meta');
    if (meta) cred.meta = this.meta(meta, at(path, 'Meta'));
    return cred;
  }

  private chal(e: Element, path: Path): Chal {
    const f = this.fields(e, path, NAMES_12);
    return { meta: this.meta(this.required(f, 'Meta', path), at(path, 'Meta')) };
  }

  private meta(e: Element, path: Path): Meta {
    const meta: Meta = {};
    // Some encoders wrap the MetInf elements in <MetInf>; the content is the same.
    const kids = e.children.length === 1 && isElement(e.children[0]!) && (e.children[0] as Element).name === 'MetInf'
      ? (e.children[0] as Element).children
      : e.children;
    const seen = new Set<string>();
    for (const c of kids) {
      if (!isElement(c)) {
        if (typeof c === 'string' && c.trim() === '') continue;
        this.fail('unexpected-content', 'character data in Meta', path);
      }
      const p = at(path, c.name);
      if (c.ns !== 'metinf') this.fail('unknown-element', `<${c.name}> is not a MetInf element`, p);
      if (c.name !== 'EMI' && seen.has(c.name)) this.fail('duplicate-element', `${c.name} appears twice`, p);
      seen.add(c.name);
      switch (c.name) {
        case 'Format': meta.format = this.text(c, p); break;
        case 'Type': meta.type = this.text(c, p); break;
        case 'Mark': meta.mark = this.text(c, p); break;
        case 'Size': meta.size = this.text(c, p); break;
        case 'NextNonce': meta.nextNonce = this.text(c, p); break;
        case 'Version': meta.version = this.text(c, p); break;
        case 'MaxMsgSize': meta.maxMsgSize = this.text(c, p); break;
        case 'MaxObjSize': meta.maxObjSize = this.text(c, p); break;
        case 'FieldLevel': meta.fieldLevel = true; break;
        case 'EMI': (meta.emi ??= []).push(this.text(c, p)); break;
        case 'Anchor': {
          const f = this.fields(c, p, NAMES_13);
          const last = f.get('Last');
          meta.anchor = { next: this.requiredText(f, 'Next', p), ...(last ? { last: this.text(last, at(p, 'Last')) } : {}) };
          break;
        }
        case 'Mem': {
          const f = this.fields(c, p, NAMES_14);
          meta.mem = { freeMem: this.requiredText(f, 'FreeMem', p), freeID: this.requiredText(f, 'FreeID', p), ...(f.has('SharedMem') ? { sharedMem: true } : {}) };
          break;
        }
        default:
          this.fail('unknown-element', `<${c.name}> is not allowed in Meta`, p);
      }
    }
    return meta;
  }

  // --- helpers -------------------------------------------------------------------------------

  /** Index an element's children by name; `repeatable` names may occur more than once. */
  private fields(e: Element, path: Path, allowed: readonly string[], repeatable: readonly string[] = []): Fields {
    const f = new Fields(allowed);
    for (const c of e.children) {
      if (!isElement(c)) {
        if (typeof c === 'string' && c.trim() === '') continue;
        this.fail('unexpected-content', `character data in ${e.name}`, path);
      }
      const i = c.ns === e.ns ? allowed.indexOf(c.name) : -1;
      if (i < 0) this.fail('unknown-element', `<${c.name}> is not allowed in ${e.name}`, at(path, c.name));
      if (!f.add(i, c, repeatable.length > 0 && repeatable.includes(c.name))) this.fail('duplicate-element', `${c.name} appears twice in ${e.name}`, at(path, c.name));
    }
    return f;
  }

  private required(f: Fields, name: string, path: Path): Element {
    return f.get(name) ?? this.fail('missing-element', `${path.name} has no ${name}`, path);
  }

  private requiredText(f: Fields, name: string, path: Path): string {
    return this.text(this.required(f, name, path), at(path, name));
  }

  private texts(f: Fields, name: string, path: Path): string[] {
    return f.all(name).map((e) => this.text(e, at(path, name)));
  }

  /** Character data of a simple element; OPAQUE is accepted when it is UTF-8 (some encoders use it for all text). */
  private text(e: Element, path: Path): string {
    const kids: Child[] = e.children;
    if (kids.length === 1 && typeof kids[0] === 'string') return e.name === 'Data' ? kids[0] : kids[0].trim();
    let s = '';
    for (const k of kids) {
      if (typeof k === 'string') s += k;
      else if (k instanceof Uint8Array) {
        const t = decodeUtf8Strict(k);
        if (t === undefined) this.fail('bad-value', `${e.name} holds binary data that is not UTF-8 text`, path);
        s += t;
      } else this.fail('unexpected-content', `<${k.name}> inside ${e.name}, which holds text`, at(path, k.name));
    }
    return e.name === 'Data' ? s : s.trim();
  }

  private fail(code: CodecErrorCode, message: string, path: Path): never {
    throw new CodecFailure({ code, message, path: pathText(path) });
  }
}

/** An element's children by name: one slot per allowed name (a list for the repeatable ones). */
class Fields {
  private readonly slots: (Element | Element[] | undefined)[];

  constructor(private readonly names: readonly string[]) {
    this.slots = new Array<Element | Element[] | undefined>(names.length).fill(undefined);
  }

  add(i: number, e: Element, repeatable: boolean): boolean {
    const v = this.slots[i];
    if (repeatable) {
      if (Array.isArray(v)) v.push(e);
      else this.slots[i] = [e];
      return true;
    }
    if (v !== undefined) return false;
    this.slots[i] = e;
    return true;
  }
  get(name: string): Element | undefined {
    const v = this.slots[this.names.indexOf(name)];
    return v === undefined || Array.isArray(v) ? undefined : v;
  }
  has(name: string): boolean {
    return this.slots[this.names.indexOf(name)] !== undefined;
  }
  all(name: string): Element[] {
    const v = this.slots[this.names.indexOf(name)];
    return Array.isArray(v) ? v : [];
  }
}
