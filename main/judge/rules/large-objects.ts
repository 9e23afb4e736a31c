/**
 * Large objects (DM Protocol §7): chunks carry MoreData on all but the last, Size on the first only,
 * follow each other in contiguous messages with nothing between them, and stay within the
 * recipient's MaxObjSize; the recipient answers 213 per chunk, 424 on a wrong total and Alert 1225
 * when an object is left unfinished.
 */
import type { Item, Status } from '../../protocol/model.js';
import { fromBase64 } from '../../protocol/binary.js';
import { alertCode, hasAlert, isFinal, itemPath, itemsOf, normUri, type CmdView, type MsgView, type SessionModel } from '../session-model.js';
import { BODY, decoded, positive, type Checks } from './rule.js';
import { code } from './status.js';

const DATA_COMMANDS = new Set(['Add', 'Replace', 'Results', 'Exec']);

interface Piece {
  cmd: CmdView;
  index: number;
  item: Item;
}

interface LargeObject {
  kind: string;
  uri: string;
  first: Piece;
  declared?: number;
  chunks: Piece[];
  /** Bytes as sent, and (for b64 text) as decoded: Size may count either. */
  sent: number;
  text: string;
  last?: Piece;
  /** The message after which the sender dropped it, if it did. */
  abandonedAt?: MsgView;
}

function uriOf(p: Piece): string {
  return normUri(p.item.target?.locURI ?? p.item.source?.locURI ?? '');
}

function format(p: Piece): string | undefined {
  const cm = p.cmd.command;
  return p.item.meta?.format ?? ('meta' in cm ? cm.meta?.format : undefined);
}

function bytesOf(item: Item): number {
  const d = item.data;
  if (!d) return 0;
  if (d.kind === 'text') return Buffer.byteLength(d.text, 'utf8');
  if (d.kind === 'binary') return d.bytes.length;
  return 0;
}

function pieces(m: MsgView): Piece[] {
  const out: Piece[] = [];
  for (const c of m.cmds) {
    if (!DATA_COMMANDS.has(c.command.kind)) continue;
    itemsOf(c.command).forEach((item, index) => out.push({ cmd: c, index, item }));
  }
  return out;
}

function sizeOf(p: Piece): string | undefined {
  const cm = p.cmd.command;
  return p.item.meta?.size ?? ('meta' in cm ? cm.meta?.size : undefined);
}

/** Every chunked object of the session, in order, with what became of it. */
export function largeObjects(s: SessionModel): LargeObject[] {
  const all: LargeObject[] = [];
  const open: Record<string, LargeObject | undefined> = {};
  for (const m of decoded(s)) {
    let cur = open[m.from];
    const list = pieces(m);
    let i = 0;
    if (cur) {
      const next = list[0];
      if (next && next.cmd.command.kind === cur.kind && uriOf(next) === cur.uri) {
        i = 1;
        cur.chunks.push(next);
        cur.sent += bytesOf(next.item);
        if (next.item.data?.kind === 'text') cur.text += next.item.data.text;
        if (!next.item.moreData) { cur.last = next; cur = undefined; }
      } else {
        cur.abandonedAt = m;
        cur = undefined;
      }
    }
    for (; i < list.length; i++) {
      const p = list[i]!;
      if (!p.item.moreData) continue;
      const declared = positive(sizeOf(p));
      cur = { kind: p.cmd.command.kind, uri: uriOf(p), first: p, chunks: [p], sent: bytesOf(p.item), text: p.item.data?.kind === 'text' ? p.item.data.text : '', ...(declared !== undefined ? { declared } : {}) };
      all.push(cur);
    }
    open[m.from] = cur;
  }
  return all;
}

function statusCode(s: SessionModel, p: Piece): number | undefined {
  const st = s.statusesOf(p.cmd.msg, p.cmd)[0];
  return st ? code(st.command as Status) : undefined;
}

function matches(lo: LargeObject): boolean {
  if (lo.declared === undefined) return true;
  if (lo.sent === lo.declared) return true;
  const f = format(lo.first);
  if (f === 'b64') return fromBase64(lo.text)?.length === lo.declared;
  return false;
}

function describe(lo: LargeObject): string {
  return `the large object for ${lo.uri || '(no URI)'} begun in message ${lo.first.cmd.msg.n}`;
}

export const largeObjectChecks: Checks = {
  'lo.size-first': (s, report) => {
    for (const lo of largeObjects(s)) {
      if (sizeOf(lo.first) === undefined) report(lo.first.cmd.msg, itemPath(lo.first.cmd, lo.first.index), 'first chunk of a large object without Meta Size (the total)');
    }
  },

  'lo.size-later': (s, report) => {
    for (const lo of largeObjects(s)) {
      for (const p of lo.chunks.slice(1)) if (p.item.meta?.size !== undefined) report(p.cmd.msg, `${itemPath(p.cmd, p.index)}/Meta/Size`, 'Size on a later chunk: only the first chunk carries it');
    }
  },

  'lo.size-sent': (s, report) => {
    for (const lo of largeObjects(s)) {
      if (lo.last && !matches(lo)) report(lo.last.cmd.msg, itemPath(lo.last.cmd, lo.last.index), `${describe(lo)} announced Size ${lo.declared} but its chunks hold ${lo.sent} bytes`);
    }
  },

  'lo.424': (s, report) => {
    for (const lo of largeObjects(s)) {
      if (!lo.last || lo.declared === undefined) continue;
      const n = statusCode(s, lo.last);
      if (n === undefined) continue;
      const at = lo.last.cmd;
      if (!matches(lo) && n < 300) report(s.statusesOf(at.msg, at)[0]!.msg, s.statusesOf(at.msg, at)[0]!.path, `${n} for the last chunk of ${describe(lo)}, whose size does not match its Size: the answer is 424`);
      if (matches(lo) && n === 424) report(s.statusesOf(at.msg, at)[0]!.msg, s.statusesOf(at.msg, at)[0]!.path, `424 for ${describe(lo)}, whose chunks add up to its Size ${lo.declared}`);
    }
  },

  'lo.213': (s, report) => {
    for (const lo of largeObjects(s)) {
      for (const p of lo.chunks) {
        if (!p.item.moreData) continue;
        const st = s.statusesOf(p.cmd.msg, p.cmd)[0];
        const n = st ? code(st.command as Status) : undefined;
        if (st && n !== undefined && n < 300 && n !== 213) report(st.msg, `${st.path}/Data`, `${n} for a chunk of ${describe(lo)}: each chunk but the last is answered 213`);
      }
    }
  },

  'lo.not-contiguous': (s, report) => {
    for (const lo of largeObjects(s)) {
      const m = lo.abandonedAt;
      if (!m || hasAlert(m, '1223')) continue;
      const first = pieces(m)[0];
      report(m, first ? first.cmd.path : BODY, `${describe(lo)} is not continued here: its next chunk must come first in the sender's next message`);
    }
  },

  'lo.1225': (s, report) => {
    for (const lo of largeObjects(s)) {
      const m = lo.abandonedAt;
      if (!m || hasAlert(m, '1223')) continue;
      const answer = s.next(m.to, m.index);
      if (answer?.message && !hasAlert(answer, '1225')) report(answer, BODY, `${describe(lo)} was left unfinished in message ${m.n}, and this answer has no Alert 1225`);
    }
  },

  'lo.1225-unexpected': (s, report) => {
    const abandoned = new Set(largeObjects(s).map((lo) => lo.abandonedAt).filter((m): m is MsgView => m !== undefined));
    for (const m of decoded(s)) {
      const a = m.cmds.find((c) => alertCode(c.command) === '1225');
      if (!a) continue;
      const before = s.prev(m.to, m.index);
      if (!before || !abandoned.has(before)) report(m, a.path, 'Alert 1225 (end of data not received) though no large object of the peer was left unfinished');
    }
  },

  'lo.moredata-final': (s, report) => {
    for (const m of decoded(s)) {
      if (!isFinal(m)) continue;
      for (const p of pieces(m)) if (p.item.moreData) report(m, `${itemPath(p.cmd, p.index)}/MoreData`, 'a chunk (MoreData) in a message with Final: the package cannot end inside an object');
    }
  },

  'lo.moredata-last-item': (s, report) => {
    for (const m of decoded(s)) {
      const list = pieces(m);
      list.forEach((p, i) => {
        if (!p.item.moreData) return;
        const after = m.cmds.slice(m.cmds.indexOf(p.cmd) + 1).find((c) => c.command.kind !== 'Status' && !['1222'].includes(alertCode(c.command) ?? ''));
        if (i < list.length - 1 || after) report(m, `${itemPath(p.cmd, p.index)}/MoreData`, 'a chunk that is not the last item of its message: nothing may come between the chunks of an object');
      });
    }
  },

  'lo.maxobjsize': (s, report) => {
    const objects = largeObjects(s);
    const key = (p: Piece) => `${p.cmd.msg.index}:${p.cmd.msg.cmds.indexOf(p.cmd)}:${p.index}`;
    const chunked = new Map<string, LargeObject | null>();
    for (const lo of objects) lo.chunks.forEach((p, i) => chunked.set(key(p), i === 0 ? lo : null));
    for (const m of decoded(s)) {
      for (const p of pieces(m)) {
        const lo = chunked.get(key(p));
        if (lo === null) continue; // a later chunk: its object is judged at the first
        const a = s.announced(m.to, m.index, 'maxObjSize');
        if (!a) continue;
        const size = lo ? Math.max(lo.declared ?? 0, lo.sent) : bytesOf(p.item);
        if (size > a.limit) report(m, itemPath(p.cmd, p.index), `object of ${size} bytes; the ${m.to} announced MaxObjSize ${a.limit} (message ${a.at.n})`);
      }
    }
  },
};
