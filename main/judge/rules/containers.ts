/**
 * Atomic and Sequence (DM RepPro §6.6.3, §6.6.14) and where Exec may stand (§6.6.6): what each may
 * hold, that neither is empty, and that their Statuses tell one story with their members'.
 */
import type { Container, Status } from '../../protocol/model.js';
import type { CmdView } from '../session-model.js';
import { decoded, type Checks } from './rule.js';
import { code } from './status.js';

const ATOMIC_MEMBERS = new Set(['Add', 'Alert', 'Delete', 'Copy', 'Replace']);
const SEQUENCE_MEMBERS = new Set(['Add', 'Replace', 'Delete', 'Copy', 'Get', 'Exec', 'Alert']);

function inside(c: CmdView, kind: 'Atomic' | 'Sequence'): CmdView | undefined {
  for (let p = c.container; p; p = p.container) if (p.command.kind === kind) return p;
  return undefined;
}

export const containerChecks: Checks = {
  'atomic.members': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        const a = c.container;
        if (a?.command.kind !== 'Atomic' || ATOMIC_MEMBERS.has(c.command.kind) || c.command.kind === 'Exec') continue;
        report(m, c.path, c.command.kind === 'Atomic' ? 'Atomic nested in an Atomic' : `${c.command.kind} inside an Atomic: an Atomic holds Add, Alert, Copy, Delete and Replace`);
      }
    }
  },

  'exec.in-atomic': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) if (c.command.kind === 'Exec' && inside(c, 'Atomic')) report(m, c.path, 'Exec inside an Atomic: an Exec stands in a Sequence or the SyncBody, as it cannot be rolled back');
    }
  },

  'sequence.members': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.container?.command.kind === 'Sequence' && !SEQUENCE_MEMBERS.has(c.command.kind)) report(m, c.path, `${c.command.kind} inside a Sequence: a Sequence holds Add, Alert, Copy, Delete, Exec, Get and Replace`);
      }
    }
  },

  'container.empty': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if ((c.command.kind === 'Atomic' || c.command.kind === 'Sequence') && (c.command as Container).commands.length === 0) report(m, c.path, `an empty ${c.command.kind}`);
      }
    }
  },

  'atomic.status': (s, report) => {
    for (const m of decoded(s)) {
      for (const a of m.cmds) {
        if (a.command.kind !== 'Atomic') continue;
        const st = s.statusesOf(m, a)[0];
        const n = st ? code(st.command as Status) : undefined;
        if (!st || n === undefined) continue;
        const members = m.cmds.filter((c) => c.container === a);
        const codes = members.map((c) => s.statusesOf(m, c)[0]).filter((x): x is CmdView => x !== undefined).map((x) => ({ view: x, n: code(x.command as Status) }));
        if (n === 200) {
          const bad = codes.find((x) => x.n !== undefined && x.n >= 300);
          if (bad) report(st.msg, `${st.path}/Data`, `Atomic answered 200 though a member failed (${bad.n}): a failed member makes the Atomic 507 and the others 216`);
        } else if (n === 507) {
          const kept = codes.find((x) => x.n === 200);
          if (kept) report(kept.view.msg, `${kept.view.path}/Data`, 'member of a failed Atomic (507) answered 200: it must be rolled back (216) or carry its failure');
        }
      }
    }
  },

  'sequence.status': (s, report) => {
    for (const m of decoded(s)) {
      for (const q of m.cmds) {
        if (q.command.kind !== 'Sequence') continue;
        const st = s.statusesOf(m, q)[0];
        const n = st ? code(st.command as Status) : undefined;
        if (!st || n === undefined || n === 200) continue;
        const ran = m.cmds.filter((c) => c.container === q).map((c) => s.statusesOf(m, c)[0]).find((x) => x && code(x.command as Status) !== 215);
        if (ran) report(st.msg, `${st.path}/Data`, `Sequence answered ${n} though its members ran: a Sequence that began is answered 200 (members not run get 215)`);
      }
    }
  },
};
