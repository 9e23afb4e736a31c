/**
 * Results rules: a Results answers a Get, follows that Get's Status, comes for every successful Get
 * and for no failed one, names the node it reads (Source) and says what its data is (Meta) when
 * that is not plain text (DM Protocol §8.5; DM RepPro §6.6.7, §6.6.12).
 */
import type { Results, Status } from '../../protocol/model.js';
import { isFinal, itemPath, type CmdView } from '../session-model.js';
import { decoded, type Checks } from './rule.js';
import { code } from './status.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isText(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Position of a command in session order, to compare "before" across and inside messages. */
const order = (c: CmdView): number => c.msg.index * 1_000_000 + c.msg.cmds.indexOf(c);

export const resultsChecks: Checks = {
  'results.for-get': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        const r = s.referent(c)?.cmd;
        if (r && r.command.kind !== 'Get') report(m, `${c.path}/CmdRef`, `Results refers to ${r.command.kind} (CmdID ${r.command.cmdID}) of message ${r.msg.n}; only a Get has Results`);
      }
    }
  },

  'results.missing': (s, report) => {
    for (const m of decoded(s)) {
      for (const g of m.cmds) {
        if (g.command.kind !== 'Get' || s.resultsOf(g).length > 0) continue;
        const ok = s.statusesOf(m, g).find((st) => code(st.command as Status) === 200);
        if (!ok) continue;
        // The answering package must be over (its Final sent) before we can say Results never came.
        const closed = s.finalFrom(ok.msg.from, ok.msg.index) !== undefined;
        if (closed) report(ok.msg, ok.path, `Get (CmdID ${g.command.cmdID}) of message ${m.n} succeeded (200) but no Results came back`);
      }
    }
  },

  'results.order': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        const r = s.referent(c);
        if (!r?.cmd) continue;
        const statuses = s.statusesOf(r.msg, r.cmd);
        if (statuses.length > 0 && statuses.every((st) => order(st) > order(c))) {
          report(m, c.path, `Results for ${r.cmd.command.kind} (CmdID ${r.cmd.command.cmdID}) comes before that command's Status`);
        }
      }
    }
  },

  'results.failed-get': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        const r = s.referent(c);
        if (!r?.cmd) continue;
        const failed = s.statusesOf(r.msg, r.cmd).map((st) => code(st.command as Status)).find((n) => n !== undefined && n >= 300);
        if (failed !== undefined) report(m, c.path, `Results for a ${r.cmd.command.kind} (CmdID ${r.cmd.command.cmdID}) whose Status is ${failed}`);
      }
    }
  },

  'results.source': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        c.command.items.forEach((it, i) => {
          if (!it.source?.locURI.trim()) report(m, itemPath(c, i), 'Results item has no Source LocURI naming the node it reads');
        });
      }
    }
  },

  'results.meta': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        const res = c.command as Results;
        res.items.forEach((it, i) => {
          const format = it.meta?.format ?? res.meta?.format;
          if (format === undefined && it.data?.kind === 'binary' && !isText(it.data.bytes)) {
            report(m, itemPath(c, i), `binary data (${it.data.bytes.length} bytes) with no Meta Format: the default chr would call it text`);
          }
        });
      }
    }
  },

  'results.tnds-meta': (s, report) => {
    for (const m of decoded(s)) {
      for (const c of m.cmds) {
        if (c.command.kind !== 'Results') continue;
        const res = c.command as Results;
        res.items.forEach((it, i) => {
          if (it.data?.kind !== 'xml') return;
          const format = it.meta?.format ?? res.meta?.format;
          const type = it.meta?.type ?? res.meta?.type;
          if (format?.trim() !== 'xml' || !type) report(m, itemPath(c, i), `a TNDS tree in Data with ${format ? `Format ${format}` : 'no Format'}${type ? '' : ' and no Type'}: it is Format xml, Type application/vnd.syncml.dmtnds+xml`);
        });
      }
    }
  },
};
