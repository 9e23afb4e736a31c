/**
 * Status rules: every command that needs a Status gets exactly one (per item) in the peer's answer,
 * none is sent where none belongs, and each Status points at its command correctly (MsgRef,
 * CmdRef, Cmd, TargetRef, SourceRef) with a code that means something for that command
 * (DM Protocol §6.1, §8.4, §8.5; DM RepPro §6.1.3, §6.1.5, §6.1.13, §6.1.21, §6.1.23, §6.5.1).
 */
import type { Status } from '../../protocol/model.js';
import { hasAlert, isFinal, itemsOf, normUri, type CmdView, type MsgView, type SessionModel } from '../session-model.js';
import { BODY, decoded, type Checks } from './rule.js';
import { STATUS_CODES } from '../../protocol/status-codes.js';

/** SyncML status codes: the one table (SyncML RepPro, response status codes) the UI and CLI show too. */
const KNOWN_CODES: ReadonlySet<number> = new Set(STATUS_CODES.keys());

/**
 * Codes each command may answer with: the DM RepPro §6.6 tables, plus the protocol-level ones every
 * command can meet (400 bad request, 401/407 authentication, 412 incomplete, 500 failed, 503 busy).
 */
const COMMON = [400, 401, 407, 412, 500, 503];
const CODES_FOR: Readonly<Record<string, ReadonlySet<number>>> = {
  SyncHdr: new Set([200, 212, 400, 401, 403, 404, 405, 407, 412, 413, 415, 500, 501, 503, 505, 506, 511, 513]),
  Add: new Set([...COMMON, 200, 213, 215, 216, 403, 404, 405, 406, 413, 414, 415, 418, 420, 424, 425, 510, 516]),
  Replace: new Set([...COMMON, 200, 213, 215, 216, 403, 404, 405, 406, 413, 414, 415, 418, 420, 424, 425, 510, 516]),
  Delete: new Set([...COMMON, 200, 215, 216, 403, 404, 405, 406, 414, 425, 510, 516]),
  Get: new Set([...COMMON, 200, 215, 403, 404, 405, 406, 413, 414, 415, 425]),
  Exec: new Set([...COMMON, 200, 202, 215, 216, 403, 404, 405, 406, 414, 420, 425, 510, 516]),
  Copy: new Set([...COMMON, 200, 215, 216, 403, 404, 405, 406, 414, 418, 420, 425, 510, 516]),
  Alert: new Set([...COMMON, 200, 202, 214, 215, 216, 405, 406, 408, 415, 416, 516]),
  Atomic: new Set([...COMMON, 200, 215, 406, 507, 517]),
  Sequence: new Set([...COMMON, 200, 215, 406]),
  Results: new Set([...COMMON, 213, 413, 415, 420, 424]),
};

export function code(st: Status): number | undefined {
  const t = st.data.trim();
  return /^\d{3}$/.test(t) ? Number(t) : undefined;
}

function needsStatus(c: CmdView): boolean {
  const k = c.command.kind;
  return k !== 'Status' && k !== 'Results' && !c.command.noResp;
}

/** A container refused outright: its members were never run, so they get no Status of their own. */
function refusedContainer(s: SessionModel, c: CmdView): boolean {
  for (let p = c.container; p; p = p.container) {
    for (const st of s.statusesOf(p.msg, p)) {
      const n = code(st.command as Status);
      if (n !== undefined && n >= 400 && n !== 507) return true;
    }
  }
  return false;
}

function describe(c: CmdView): string {
  return `${c.command.kind} (CmdID ${c.command.cmdID}) of message ${c.msg.n}`;
}

export const statusChecks: Checks = {
  'status.missing': (s, report) => {
    for (const m of decoded(s)) {
      if (m.message.hdr.noResp || hasAlert(m, '1223')) continue; // nobody answers an abort
      // Judged once the answering package is over (Final): a session still running, or cut off,
      // may yet carry (or never had the chance to carry) the Status.
      if (!s.replyClose(m)) continue;
      const window = s.replyWindow(m);
      const last = window[window.length - 1];
      if (!last || !isFinal(last) || window.some((x) => !x.message || hasAlert(x, '1223'))) continue;
      for (const c of m.cmds) {
        if (!needsStatus(c) || refusedContainer(s, c)) continue;
        if (!s.statusesOf(m, c).some((st) => st.msg.index > m.index)) report(last, BODY, `no Status for ${describe(c)}`);
      }
    }
  },

  'status.hdr-missing': (s, report) => {
    for (const m of decoded(s)) {
      if (m.message.hdr.noResp || hasAlert(m, '1223')) continue;
      const reply = s.next(m.to, m.index);
      if (!reply?.message) continue;
      if (!s.statusesOf(m).some((st) => st.msg === reply)) report(reply, BODY, `no Status for the SyncHdr of message ${m.n}`);
    }
  },

  'status.unneeded': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      const r = s.referent(c);
      const k = r?.cmd?.command.kind;
      if (k === 'Status') report(m, c.path, `a Status answers a Status (${describe(r!.cmd!)}): Status is never answered`);
      else if (k === 'Results' && code(st) === 200) report(m, c.path, `Status 200 for ${describe(r!.cmd!)}: a Results gets a Status only when it is not 200`);
    });
  },

  'status.duplicate': (s, report) => {
    const groups = new Map<string, CmdView[]>();
    forEachStatus(s, (m, _st, c) => {
      const r = s.referent(c);
      if (!r || s.refused.has(m)) return; // sent again after a 401: the first copy was never read
      const key = `${r.msg.index}:${r.cmd ? r.msg.cmds.indexOf(r.cmd) : 'hdr'}`;
      const list = groups.get(key);
      if (list) list.push(c);
      else groups.set(key, [c]);
    });
    for (const list of groups.values()) {
      const r = s.referent(list[0]!)!;
      const allowed = r.cmd ? Math.max(1, itemsOf(r.cmd.command).length) : 1;
      const seenRefs = new Set<string>();
      list.forEach((c, i) => {
        const st = c.command as Status;
        const refs = `${st.targetRefs.join('|')}>${st.sourceRefs.join('|')}`;
        const twin = refs !== '>' && seenRefs.has(refs);
        seenRefs.add(refs);
        if (i >= allowed || twin) report(c.msg, c.path, `a second Status for ${r.cmd ? describe(r.cmd) : `the SyncHdr of message ${r.msg.n}`}`);
      });
    }
  },

  'status.cmd-name': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      const zero = st.cmdRef.trim() === '0';
      if (zero !== (st.cmd === 'SyncHdr')) {
        report(m, `${c.path}/Cmd`, `Cmd ${st.cmd} with CmdRef ${st.cmdRef}: CmdRef 0 and Cmd SyncHdr go together`);
        return;
      }
      const k = s.referent(c)?.cmd?.command.kind;
      if (k && k !== st.cmd) report(m, `${c.path}/Cmd`, `Cmd says ${st.cmd}, but CmdRef ${st.cmdRef} of message ${st.msgRef} is ${/^[AEIOU]/.test(k) ? 'an' : 'a'} ${k}`);
    });
  },

  'status.msgref-unknown': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const k = c.command;
        if ((k.kind !== 'Status' && k.kind !== 'Results') || k.msgRef === undefined) continue;
        if (!s.prev(m.to, m.index)) continue; // the log holds none of the peer's messages
        if (!s.withMsgId(m.to, m.index, k.msgRef)) report(m, `${c.path}/MsgRef`, `MsgRef ${k.msgRef}: the ${m.to} sent no message with that MsgID`);
      }
    }
  },

  'status.cmdref-unknown': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const k = c.command;
        if ((k.kind !== 'Status' && k.kind !== 'Results') || k.cmdRef.trim() === '0') continue;
        const target = findRefMessage(s, m, k.msgRef);
        if (target && !s.referent(c)) report(m, `${c.path}/CmdRef`, `CmdRef ${k.cmdRef}: message ${target.n} has no command with that CmdID`);
      }
    }
  },

  'status.refs': (s, report) => {
    // A SyncHdr's Target may be the RespURI its recipient gave earlier: those seen so far, per sender.
    const given = { client: new Set<string>(), server: new Set<string>() };
    let upTo = 0;
    forEachStatus(s, (m, st, c) => {
      for (; upTo < m.index; upTo++) {
        const u = s.msgs[upTo]!.message?.hdr.respURI;
        if (u) given[s.msgs[upTo]!.from].add(u);
      }
      const r = s.referent(c);
      if (!r) return;
      let targets: string[];
      let sources: string[];
      if (!r.cmd) {
        const h = r.msg.message!.hdr;
        targets = [h.target.locURI, ...(r.msg.url ? [r.msg.url] : []), ...given[m.from]];
        sources = [h.source.locURI];
      } else {
        const items = itemsOf(r.cmd.command);
        targets = items.map((i) => i.target?.locURI).filter((u): u is string => u !== undefined);
        sources = items.map((i) => i.source?.locURI).filter((u): u is string => u !== undefined);
        if (r.cmd.command.kind === 'Results') targets = [...targets, ...sources];
      }
      const check = (refs: string[], allowed: string[], name: string) => {
        if (allowed.length === 0 && r.cmd) return;
        const norm = new Set(allowed.map(normUri));
        refs.forEach((ref, i) => {
          if (!norm.has(normUri(ref))) report(m, `${c.path}/${refs.length > 1 ? `${name}[${i + 1}]` : name}`, `${name} "${ref}" is not ${r.cmd ? `a ${name === 'TargetRef' ? 'Target' : 'Source'} of ${describe(r.cmd)}` : `the ${name === 'TargetRef' ? 'Target' : 'Source'} of message ${r.msg.n}'s SyncHdr`} (${allowed.join(', ') || 'none'})`);
        });
      };
      check(st.targetRefs, targets, 'TargetRef');
      check(st.sourceRefs, sources, 'SourceRef');
    });
  },

  'status.code-known': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      const n = code(st);
      if (n === undefined || !KNOWN_CODES.has(n)) report(m, `${c.path}/Data`, `"${st.data}" is not a SyncML status code`);
    });
  },

  'status.code-for-command': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      const n = code(st);
      if (n === undefined || !KNOWN_CODES.has(n)) return;
      const kind = s.referent(c)?.cmd?.command.kind ?? (st.cmdRef.trim() === '0' ? 'SyncHdr' : undefined);
      const allowed = kind ? CODES_FOR[kind] : undefined;
      if (allowed && !allowed.has(n)) report(m, `${c.path}/Data`, `${n} is not a status a ${kind} is answered with`);
    });
  },

  'status.code-misplaced': (s, report) => {
    forEachStatus(s, (m, st, c) => {
      const n = code(st);
      const r = s.referent(c);
      const k = r?.cmd?.command;
      const at = `${c.path}/Data`;
      if (n === 212 && st.cmdRef.trim() !== '0') report(m, at, '212 (authentication accepted) answers a SyncHdr, not a command');
      if (!r?.cmd || !k) return;
      if (n === 213 && !itemsOf(k).some((i) => i.moreData)) report(m, at, `213 (chunk buffered) for ${describe(r.cmd)}, which carries no chunk (no MoreData)`);
      if (n === 216 && !insideAtomic(r.cmd)) report(m, at, `216 (rolled back) for ${describe(r.cmd)}, which is not inside an Atomic`);
      if ((n === 507 || n === 517) && k.kind !== 'Atomic') report(m, at, `${n} is an Atomic's status, but ${describe(r.cmd)} is not an Atomic`);
    });
  },
};

function insideAtomic(c: CmdView): boolean {
  for (let p = c.container; p; p = p.container) if (p.command.kind === 'Atomic') return true;
  return false;
}

function findRefMessage(s: SessionModel, m: MsgView, msgRef: string | undefined): MsgView | undefined {
  return s.refTarget(m.to, m.index, msgRef);
}

export function forEachStatus(s: SessionModel, f: (m: MsgView, st: Status, c: CmdView) => void): void {
  for (const m of decoded(s)) for (const c of m.cmds) if (c.command.kind === 'Status') f(m, c.command, c);
}
