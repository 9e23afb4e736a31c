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

class Reader {
  private commandCount = 0;
  constructor(private readonly limits: MessageLimits) {}

  syncML(root: Element): SyncML {
    const path = [root.name];
    if (root.ns !== 'syncml' || root.name !== 'SyncML') this.fail('unexpected-content', `root element is <${root.name}>, expected <SyncML>`, path);
    const f = this.fields(root, path, ['SyncHdr', 'SyncBody']);
    const hdrEl = f.get('SyncHdr') ?? this.fail('missing-element', 'SyncML has no SyncHdr', path);
    const bodyEl = f.get('SyncBody') ?? this.fail('missing-element', 'SyncML has no SyncBody', path);
    return { hdr: this.syncHdr(hdrEl, [...path, 'SyncHdr']), body: this.syncBody(bodyEl, [...path, 'SyncBody']) };
  }

  header(root: Element): SyncHdr {
    const path = [root.name];
    if (root.ns !== 'syncml' || root.name !== 'SyncML') this.fail('unexpected-content', `root element is <${root.name}>, expected <SyncML>`, path);
    const hdr = root.children.find((c): c is Element => isElement(c) && c.name === 'SyncHdr');
    if (!hdr) this.fail('missing-element', 'SyncML has no SyncHdr', path);
    return this.syncHdr(hdr, [...path, 'SyncHdr']);
  }

  private syncHdr(e: Element, path: string[]): SyncHdr {
    const f = this.fields(e, path, ['VerDTD', 'VerProto', 'SessionID', 'MsgID', 'Target', 'Source', 'RespURI', 'NoResp', 'Cred', 'Meta']);
    const hdr: SyncHdr = {
      verDTD: this.requiredText(f, 'VerDTD', path),
      verProto: this.requiredText(f, 'VerProto', path),
      sessionID: this.requiredText(f, 'SessionID', path),
      msgID: this.requiredText(f, 'MsgID', path),
      target: this.location(this.required(f, 'Target', path), [...path, 'Target']),
      source: this.location(this.required(f, 'Source', path), [...path, 'Source']),
    };
    const respURI = f.get('RespURI');
    if (respURI) hdr.respURI = this.text(respURI, [...path, 'RespURI']);
    if (f.has('NoResp')) hdr.noResp = true;
    const cred = f.get('Cred');
    if (cred) hdr.cred = this.cred(cred, [...path, 'Cred']);
    const meta = f.get('Meta');
    if (meta) hdr.meta = this.meta(meta, [...path, 'Meta']);
    return hdr;
  }

  private syncBody(e: Element, path: string[]): SyncBody {
    const commands: Command[] = [];
    let final = false;
    const seen = new Map<string, number>();
    for (const c of e.children) {
      if (!isElement(c)) this.fail('unexpected-content', 'character data between commands', path);
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      const childPath = [...path, n > 1 ? `${c.name}[${n}]` : c.name];
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

  private command(e: Element, path: string[], context: 'body' | 'Atomic' | 'Sequence'): Command {
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

  private itemCommand(e: Element, kind: ItemCommand['kind'], path: string[]): ItemCommand {
    const f = this.fields(e, path, ['CmdID', 'NoResp', 'Cred', 'Meta', 'Item'], ['Item']);
    const cmd: ItemCommand = { kind, cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 1) };
    return this.optionalParts(cmd, f, path);
  }

  private alert(e: Element, path: string[]): Alert {
    const f = this.fields(e, path, ['CmdID', 'NoResp', 'Cred', 'Data', 'Correlator', 'Item'], ['Item']);
    const cmd: Alert = { kind: 'Alert', cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 0) };
    const data = f.get('Data');
    if (data) cmd.data = this.text(data, [...path, 'Data']);
    return this.optionalParts(cmd, f, path);
  }

  private exec(e: Element, path: string[]): Exec {
    const f = this.fields(e, path, ['CmdID', 'NoResp', 'Cred', 'Meta', 'Correlator', 'Item'], ['Item']);
    const cmd: Exec = { kind: 'Exec', cmdID: this.requiredText(f, 'CmdID', path), items: this.items(f, path, 1) };
    return this.optionalParts(cmd, f, path);
  }

  /**
   * The optional children commands share (NoResp, Cred, Meta, Correlator). Each command's `fields`
   * call has already refused the ones it may not carry, so whatever is present here belongs.
   */
  private optionalParts<T extends { noResp?: boolean; cred?: Cred; meta?: Meta; correlator?: string }>(cmd: T, f: Fields, path: string[]): T {
    if (f.has('NoResp')) cmd.noResp = true;
    const cred = f.get('Cred');
    if (cred) cmd.cred = this.cred(cred, [...path, 'Cred']);
    const meta = f.get('Meta');
    if (meta) cmd.meta = this.meta(meta, [...path, 'Meta']);
    const correlator = f.get('Correlator');
    if (correlator) cmd.correlator = this.text(correlator, [...path, 'Correlator']);
    return cmd;
  }

  private container(e: Element, kind: Container['kind'], path: string[]): Container {
    const cmd: Container = { kind, cmdID: '', commands: [] };
    let cmdID: string | undefined;
    const seen = new Map<string, number>();
    for (const c of e.children) {
      if (!isElement(c)) this.fail('unexpected-content', `character data in ${kind}`, path);
      const n = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, n);
      const childPath = [...path, n > 1 ? `${c.name}[${n}]` : c.name];
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

  private results(e: Element, path: string[]): Results {
    const f = this.fields(e, path, ['CmdID', 'MsgRef', 'CmdRef', 'Meta', 'TargetRef', 'SourceRef', 'Item'], ['TargetRef', 'SourceRef', 'Item']);
    const cmd: Results = {
      kind: 'Results',
      cmdID: this.requiredText(f, 'CmdID', path),
      cmdRef: this.requiredText(f, 'CmdRef', path),
      targetRefs: this.texts(f, 'TargetRef', path),
      sourceRefs: this.texts(f, 'SourceRef', path),
      items: this.items(f, path, 0),
    };
    const msgRef = f.get('MsgRef');
    if (msgRef) cmd.msgRef = this.text(msgRef, [...path, 'MsgRef']);
    const meta = f.get('Meta');
    if (meta) cmd.meta = this.meta(meta, [...path, 'Meta']);
    return cmd;
  }

  private status(e: Element, path: string[]): Status {
    const f = this.fields(e, path, ['CmdID', 'MsgRef', 'CmdRef', 'Cmd', 'TargetRef', 'SourceRef', 'Cred', 'Chal', 'Data', 'Item'], ['TargetRef', 'SourceRef', 'Item']);
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
    if (cred) cmd.cred = this.cred(cred, [...path, 'Cred']);
    const chal = f.get('Chal');
    if (chal) cmd.chal = this.chal(chal, [...path, 'Chal']);
    return cmd;
  }

  private items(f: Fields, path: string[], min: number): Item[] {
    const els = f.all('Item');
    if (els.length < min) this.fail('missing-element', `${path[path.length - 1]} has no Item`, path);
    if (els.length > this.limits.maxItemsPerCommand) this.fail('limit-exceeded', `more than ${this.limits.maxItemsPerCommand} items`, path);
    return els.map((e, i) => this.item(e, [...path, els.length > 1 ? `Item[${i + 1}]` : 'Item']));
  }

  private item(e: Element, path: string[]): Item {
    const f = this.fields(e, path, ['Target', 'Source', 'Meta', 'Data', 'MoreData']);
    const item: Item = {};
    const target = f.get('Target');
    if (target) item.target = this.location(target, [...path, 'Target']);
    const source = f.get('Source');
    if (source) item.source = this.location(source, [...path, 'Source']);
    const meta = f.get('Meta');
    if (meta) item.meta = this.meta(meta, [...path, 'Meta']);
    const data = f.get('Data');
    if (data) item.data = this.itemData(data, [...path, 'Data']);
    if (f.has('MoreData')) item.moreData = true;
    return item;
  }

  private itemData(e: Element, path: string[]): ItemData {
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

  private location(e: Element, path: string[]): Location {
    const f = this.fields(e, path, ['LocURI', 'LocName']);
    const loc: Location = { locURI: this.requiredText(f, 'LocURI', path) };
    const name = f.get('LocName');
    if (name) loc.locName = this.text(name, [...path, 'LocName']);
    return loc;
  }

  private cred(e: Element, path: string[]): Cred {
    const f = this.fields(e, path, ['Meta', 'Data']);
    const cred: Cred = { data: this.requiredText(f, 'Data', path) };
    const meta = f.get('Meta');
    if (meta) cred.meta = this.meta(meta, [...path, 'Meta']);
    return cred;
  }

  private chal(e: Element, path: string[]): Chal {
    const f = this.fields(e, path, ['Meta']);
    return { meta: this.meta(this.required(f, 'Meta', path), [...path, 'Meta']) };
  }

  private meta(e: Element, path: string[]): Meta {
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
      const p = [...path, c.name];
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
          const f = this.fields(c, p, ['Last', 'Next']);
          const last = f.get('Last');
          meta.anchor = { next: this.requiredText(f, 'Next', p), ...(last ? { last: this.text(last, [...p, 'Last']) } : {}) };
          break;
        }
        case 'Mem': {
          const f = this.fields(c, p, ['SharedMem', 'FreeMem', 'FreeID']);
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
  private fields(e: Element, path: string[], allowed: string[], repeatable: string[] = []): Fields {
    const f = new Fields();
    for (const c of e.children) {
      if (!isElement(c)) {
        if (typeof c === 'string' && c.trim() === '') continue;
        this.fail('unexpected-content', `character data in ${e.name}`, path);
      }
      if (c.ns !== e.ns || !allowed.includes(c.name)) {
        this.fail('unknown-element', `<${c.name}> is not allowed in ${e.name}`, [...path, c.name]);
      }
      if (!f.add(c, repeatable.includes(c.name))) this.fail('duplicate-element', `${c.name} appears twice in ${e.name}`, [...path, c.name]);
    }
    return f;
  }

  private required(f: Fields, name: string, path: string[]): Element {
    return f.get(name) ?? this.fail('missing-element', `${path[path.length - 1]} has no ${name}`, path);
  }

  private requiredText(f: Fields, name: string, path: string[]): string {
    return this.text(this.required(f, name, path), [...path, name]);
  }

  private texts(f: Fields, name: string, path: string[]): string[] {
    return f.all(name).map((e) => this.text(e, [...path, name]));
  }

  /** Character data of a simple element; OPAQUE is accepted when it is UTF-8 (some encoders use it for all text). */
  private text(e: Element, path: string[]): string {
    const kids: Child[] = e.children;
    if (kids.length === 1 && typeof kids[0] === 'string') return e.name === 'Data' ? kids[0] : kids[0].trim();
    let s = '';
    for (const k of kids) {
      if (typeof k === 'string') s += k;
      else if (k instanceof Uint8Array) {
        const t = decodeUtf8Strict(k);
        if (t === undefined) this.fail('bad-value', `${e.name} holds binary data that is not UTF-8 text`, path);
        s += t;
      } else this.fail('unexpected-content', `<${k.name}> inside ${e.name}, which holds text`, [...path, k.name]);
    }
    return e.name === 'Data' ? s : s.trim();
  }

  private fail(code: CodecErrorCode, message: string, path: string[]): never {
    throw new CodecFailure({ code, message, path: path.join('/') });
  }
}

class Fields {
  private readonly single = new Map<string, Element>();
  private readonly multi = new Map<string, Element[]>();

  add(e: Element, repeatable: boolean): boolean {
    if (repeatable) {
      const list = this.multi.get(e.name);
      if (list) list.push(e);
      else this.multi.set(e.name, [e]);
      return true;
    }
    if (this.single.has(e.name)) return false;
    this.single.set(e.name, e);
    return true;
  }
  get(name: string): Element | undefined {
    return this.single.get(name);
  }
  has(name: string): boolean {
    return this.single.has(name) || this.multi.has(name);
  }
  all(name: string): Element[] {
    return this.multi.get(name) ?? [];
  }
}
