/**
 * A session's messages as the rules read them: decoded once (with the protocol codec), every
 * command with its element path, who sent what, and each Status and Results tied to the command
 * it answers by MsgRef and CmdRef (as the session view pairs them, with the paths and nesting the
 * rules need). Pure: built from the messages alone.
 */
import { decodeMessage, sniffEncoding, type Encoding } from '../protocol/codec.js';
import { describeCodecError } from '../protocol/errors.js';
import type { Command, Item, SyncML } from '../protocol/model.js';
import type { JudgeMessage, JudgeOptions, Role } from './types.js';

export interface CmdView {
  command: Command;
  /** Element path, e.g. `SyncML/SyncBody/Atomic/Replace[2]` (an index only where names repeat). */
  path: string;
  /** The Atomic or Sequence around it, if any. */
  container?: CmdView;
  msg: MsgView;
}

export interface MsgView {
  /** Place in the session, from 0. */
  index: number;
  /** Number shown to people (the log's seq, else index + 1). */
  n: number;
  from: Role;
  to: Role;
  message?: SyncML;
  size?: number;
  encoding?: Encoding;
  decodeError?: string;
  url?: string;
  /** Every command, nested ones included, in document order. */
  cmds: CmdView[];
}

/** The command (or, when `cmd` is absent, the SyncHdr) of `msg` that a Status or Results refers to. */
export interface Referent {
  msg: MsgView;
  cmd?: CmdView;
}

const DM20_CONTENT = /^application\/vnd\.oma\.dm\+json\b/i;

export const peerOf = (r: Role): Role => (r === 'client' ? 'server' : 'client');

export function alertCode(c: Command): string | undefined {
  return c.kind === 'Alert' ? c.data?.trim() : undefined;
}

export function hasAlert(m: MsgView, ...codes: string[]): boolean {
  return m.cmds.some((c) => codes.includes(alertCode(c.command) ?? ''));
}

export function isFinal(m: MsgView): boolean {
  return m.message?.body.final === true;
}

export function itemsOf(c: Command): Item[] {
  return 'items' in c ? c.items : [];
}

export function itemPath(c: CmdView, i: number): string {
  const n = itemsOf(c.command).length;
  return `${c.path}/${n > 1 ? `Item[${i + 1}]` : 'Item'}`;
}

/** MsgID and MsgRef compare as numbers when both are numbers (a peer may write `01`). */
export function sameId(a: string, b: string): boolean {
  const x = a.trim();
  const y = b.trim();
  if (x === y) return true;
  return /^\d+$/.test(x) && /^\d+$/.test(y) && Number(x) === Number(y);
}

/** Strips `./` so that `./DevInfo/Mod` and `DevInfo/Mod` compare equal, as they address one node. */
/** One key per MsgID as sameId compares them: numbers by value, other text as it is (trimmed). */
export function msgIdKey(id: string): string {
  const t = id.trim();
  return /^\d+$/.test(t) ? `n${Number(t)}` : `s${t}`;
}

/** The last entry of ascending `list` below `before`, or undefined (binary search). */
function lastBelow(list: readonly number[], before: number): number | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < before) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? list[lo - 1] : undefined;
}

/** The position in ascending `list` of its first entry above `after` (list.length when none). */
function firstAbovePos(list: readonly number[], after: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first entry of ascending `list` above `after`, or undefined. */
function firstAbove(list: readonly number[], after: number): number | undefined {
  return list[firstAbovePos(list, after)];
}

export type AnnouncedField = 'maxMsgSize' | 'maxObjSize';

export function normUri(u: string): string {
  const t = u.trim();
  return t.startsWith('./') ? t.slice(2) : t === '.' ? '' : t;
}

function flatten(commands: Command[], parentPath: string, msg: MsgView, container: CmdView | undefined, out: CmdView[]): void {
  const totals = new Map<string, number>();
  for (const c of commands) totals.set(c.kind, (totals.get(c.kind) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const c of commands) {
    const k = (seen.get(c.kind) ?? 0) + 1;
    seen.set(c.kind, k);
    const view: CmdView = { command: c, path: `${parentPath}/${totals.get(c.kind)! > 1 ? `${c.kind}[${k}]` : c.kind}`, msg, ...(container ? { container } : {}) };
    out.push(view);
    if (c.kind === 'Atomic' || c.kind === 'Sequence') flatten(c.commands, view.path, msg, view, out);
  }
}

export class SessionModel {
  readonly msgs: MsgView[];
  /** The log starts with the device's first message, so references to earlier messages must resolve. */
  readonly complete: boolean;
  /**
   * Messages whose SyncHdr the peer answered 401 or 407: refused unread, so the sender may send what
   * they carried again with credentials (DM Protocol §9) without that being a second answer.
   */
  readonly refused: ReadonlySet<MsgView>;
  private readonly referents = new Map<CmdView, Referent | null>();
  private readonly answers = new Map<string, CmdView[]>();
  /*
   * Where each role's messages are, so that "the latest message from the peer before this one" and
   * its kin are a binary search instead of a walk back through the session: the rules ask that for
   * every message and command, and walking made a long session quadratic (4,000 messages took 12 s).
   */
  private readonly byRole: Record<Role, number[]> = { client: [], server: [] };
  private readonly decodedByRole: Record<Role, number[]> = { client: [], server: [] };
  private readonly finalsByRole: Record<Role, number[]> = { client: [], server: [] };
  /** Decoded messages by role and MsgID (msgIdKey), in order. */
  private readonly byMsgId = new Map<string, number[]>();
  /** Per role and field: for each index i, the last announcement before i (built on first ask). */
  private readonly announcements = new Map<string, ({ limit: number; at: MsgView } | undefined)[]>();

  constructor(input: readonly JudgeMessage[], options: JudgeOptions = {}) {
    const side = options.side ?? 'server';
    this.msgs = input.map((m, index) => {
      const from: Role = (m.direction === 'in') === (side === 'server') ? 'client' : 'server';
      const view: MsgView = { index, n: m.seq ?? index + 1, from, to: peerOf(from), cmds: [] };
      if (m.url !== undefined) view.url = m.url;
      if (m.bytes) {
        view.size = m.bytes.length;
        const enc = sniffEncoding(m.bytes);
        if (enc) view.encoding = enc;
      }
      // No body at all is an HTTP-level answer (413, 503 ...), not a DM message, and DM 2.0 is JSON
      // under its own rules: nothing to judge here.
      if (m.message) view.message = m.message;
      else if (m.bytes && m.bytes.length > 0 && !DM20_CONTENT.test(m.contentType ?? '')) {
        const d = decodeMessage(m.bytes);
        if (d.ok) view.message = d.value.message;
        else view.decodeError = describeCodecError(d.error);
      }
      if (view.message) flatten(view.message.body.commands, 'SyncML/SyncBody', view, undefined, view.cmds);
      return view;
    });
    for (const m of this.msgs) {
      this.byRole[m.from].push(m.index);
      if (!m.message) continue;
      this.decodedByRole[m.from].push(m.index);
      if (isFinal(m)) this.finalsByRole[m.from].push(m.index);
      const key = `${m.from}:${msgIdKey(m.message.hdr.msgID)}`;
      const list = this.byMsgId.get(key);
      if (list) list.push(m.index);
      else this.byMsgId.set(key, [m.index]);
    }
    this.complete = this.msgs[0]?.from === 'client';
    this.refused = this.findRefused();
    for (const m of this.msgs) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Status' && c.command.kind !== 'Results') continue;
        const r = this.referent(c);
        if (!r) continue;
        const key = answerKey(r);
        const list = this.answers.get(key);
        if (list) list.push(c);
        else this.answers.set(key, [c]);
      }
    }
  }

  private findRefused(): Set<MsgView> {
    const out = new Set<MsgView>();
    for (const m of this.msgs) {
      const reply = this.next(m.to, m.index);
      const st = reply?.cmds.find((c) => c.command.kind === 'Status' && c.command.cmdRef.trim() === '0' && this.referent(c)?.msg === m);
      const code = st?.command.kind === 'Status' ? st.command.data.trim() : undefined;
      if (code === '401' || code === '407') out.add(m);
    }
    return out;
  }

  private at(i: number | undefined): MsgView | undefined {
    return i === undefined ? undefined : this.msgs[i];
  }

  /** Latest message from `role` before index `before`. */
  prev(role: Role, before: number): MsgView | undefined {
    return this.at(lastBelow(this.byRole[role], before));
  }

  /** First message from `role` after index `after`. */
  next(role: Role, after: number): MsgView | undefined {
    return this.at(firstAbove(this.byRole[role], after));
  }

  /** The latest decoded message from `role` before index `before` whose MsgID is `msgId` (as sameId compares). */
  withMsgId(role: Role, before: number, msgId: string): MsgView | undefined {
    const list = this.byMsgId.get(`${role}:${msgIdKey(msgId)}`);
    return list ? this.at(lastBelow(list, before)) : undefined;
  }

  /**
   * What a MsgRef in a message at index `before` points to among `role`'s messages: the latest decoded
   * one with that MsgID, or without a MsgRef the latest decoded one.
   */
  refTarget(role: Role, before: number, msgRef: string | undefined): MsgView | undefined {
    return msgRef === undefined ? this.at(lastBelow(this.decodedByRole[role], before)) : this.withMsgId(role, before, msgRef);
  }

  /** The first message from `role` at or after index `from` that closes a package (Final). */
  finalFrom(role: Role, from: number): MsgView | undefined {
    return this.at(firstAbove(this.finalsByRole[role], from - 1));
  }

  /**
   * The peer's message that closes the package answering `m` (the first Final after it), or
   * undefined when the peer's package is not over in the log.
   */
  replyClose(m: MsgView): MsgView | undefined {
    return this.finalFrom(m.to, m.index + 1);
  }

  /**
   * The peer's messages that answer `m`: those after it up to and including the one that closes the
   * peer's package (Final). Statuses for m's commands belong in there (DM Protocol §6.1, §8.5).
   */
  replyWindow(m: MsgView): MsgView[] {
    const list = this.byRole[m.to];
    const end = this.replyClose(m)?.index ?? Infinity;
    const out: MsgView[] = [];
    for (let k = firstAbovePos(list, m.index); k < list.length && list[k]! <= end; k++) out.push(this.msgs[list[k]!]!);
    return out;
  }

  /** The MaxMsgSize or MaxObjSize `role` last announced in its SyncHdr before message `before`, with where. */
  announced(role: Role, before: number, field: AnnouncedField): { limit: number; at: MsgView } | undefined {
    const key = `${role}:${field}`;
    let table = this.announcements.get(key);
    if (!table) {
      table = new Array<{ limit: number; at: MsgView } | undefined>(this.msgs.length + 1);
      let last: { limit: number; at: MsgView } | undefined;
      for (let i = 0; i < this.msgs.length; i++) {
        table[i] = last;
        const m = this.msgs[i]!;
        if (m.from !== role) continue;
        const v = positiveSize(m.message?.hdr.meta?.[field]);
        if (v !== undefined) last = { limit: v, at: m };
      }
      table[this.msgs.length] = last;
      this.announcements.set(key, table);
    }
    return table[Math.max(0, Math.min(before, this.msgs.length))];
  }

  /** What a Status or Results refers to; undefined when the log holds no such message or command. */
  referent(answer: CmdView): Referent | undefined {
    if (this.referents.has(answer)) return this.referents.get(answer) ?? undefined;
    const c = answer.command;
    let r: Referent | undefined;
    if (c.kind === 'Status' || c.kind === 'Results') {
      const msgRef = c.msgRef;
      const target = this.refTarget(answer.msg.to, answer.msg.index, msgRef);
      if (target) {
        if (c.cmdRef.trim() === '0') r = { msg: target };
        else {
          const cmd = target.cmds.find((x) => x.command.cmdID.trim() === c.cmdRef.trim());
          if (cmd) r = { msg: target, cmd };
        }
      }
    }
    this.referents.set(answer, r ?? null);
    return r;
  }

  /** The Statuses that answer a command, or a message's SyncHdr when `cmd` is absent. */
  statusesOf(msg: MsgView, cmd?: CmdView): CmdView[] {
    return (this.answers.get(answerKey({ msg, ...(cmd ? { cmd } : {}) })) ?? []).filter((a) => a.command.kind === 'Status');
  }

  resultsOf(cmd: CmdView): CmdView[] {
    return (this.answers.get(answerKey({ msg: cmd.msg, cmd })) ?? []).filter((a) => a.command.kind === 'Results');
  }
}

function answerKey(r: Referent): string {
  return r.cmd ? `${r.msg.index}:${r.msg.cmds.indexOf(r.cmd)}` : `${r.msg.index}:hdr`;
}

/** A positive decimal byte count (as rules/rule.ts `positive`; here to keep the model free of the rules). */
function positiveSize(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}
