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

  /** Latest message from `role` before index `before`. */
  prev(role: Role, before: number): MsgView | undefined {
    for (let i = Math.min(before, this.msgs.length) - 1; i >= 0; i--) if (this.msgs[i]!.from === role) return this.msgs[i];
    return undefined;
  }

  /** First message from `role` after index `after`. */
  next(role: Role, after: number): MsgView | undefined {
    for (let i = after + 1; i < this.msgs.length; i++) if (this.msgs[i]!.from === role) return this.msgs[i];
    return undefined;
  }

  /**
   * The peer's messages that answer `m`: those after it up to and including the one that closes the
   * peer's package (Final). Statuses for m's commands belong in there (DM Protocol §6.1, §8.5).
   */
  replyWindow(m: MsgView): MsgView[] {
    const out: MsgView[] = [];
    for (let i = m.index + 1; i < this.msgs.length; i++) {
      const x = this.msgs[i]!;
      if (x.from !== m.to) continue;
      out.push(x);
      if (isFinal(x)) break;
    }
    return out;
  }

  /** What a Status or Results refers to; undefined when the log holds no such message or command. */
  referent(answer: CmdView): Referent | undefined {
    if (this.referents.has(answer)) return this.referents.get(answer) ?? undefined;
    const c = answer.command;
    let r: Referent | undefined;
    if (c.kind === 'Status' || c.kind === 'Results') {
      const msgRef = c.msgRef;
      let target: MsgView | undefined;
      for (let i = answer.msg.index - 1; i >= 0; i--) {
        const m = this.msgs[i]!;
        if (m.from !== answer.msg.to || !m.message) continue;
        if (msgRef === undefined || sameId(m.message.hdr.msgID, msgRef)) { target = m; break; }
      }
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
