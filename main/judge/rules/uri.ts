/**
 * Node addresses (DM TND §5 URI restrictions; DM StdObj §5.3.3 DevDetail/URI limits): relative to
 * the tree root, no `..`, `./` only at the start, no empty segment, no trailing `/`, and, when the
 * device told its limits (DevDetail/URI/MaxDepth, MaxTotLen, MaxSegLen), within them.
 */
import { alertCode, itemPath, itemsOf, normUri, type CmdView, type MsgView } from '../session-model.js';
import type { UriLimits } from '../types.js';
import { limitKeyOf, limitProblems, uriProblems, type UriProblemKind } from '../../tree/uri-check.js';
import { decoded, type Checks } from './rule.js';
import type { SessionModel } from '../session-model.js';

const TREE_COMMANDS = new Set(['Add', 'Replace', 'Delete', 'Get', 'Exec', 'Copy', 'Results', 'Alert']);
const NODE_ALERTS = new Set(['1224', '1225', '1226']);

interface Addressed {
  m: MsgView;
  c: CmdView;
  uri: string;
  path: string;
}

function* addresses(s: SessionModel): Generator<Addressed> {
  for (const m of decoded(s)) {
    for (const c of m.cmds) {
      if (!TREE_COMMANDS.has(c.command.kind)) continue;
      // Alerts name tree nodes only when they report on one (client event, unfinished object, Generic
      // Alert); a Next Message or session Alert may carry the parties' own addresses.
      if (c.command.kind === 'Alert' && !NODE_ALERTS.has(alertCode(c.command) ?? '')) continue;
      for (const [i, it] of itemsOf(c.command).entries()) {
        if (it.target && !(c.command.kind === 'Alert' && alertCode(c.command) !== '1225')) yield { m, c, uri: it.target.locURI, path: `${itemPath(c, i)}/Target/LocURI` };
        if (it.source) yield { m, c, uri: it.source.locURI, path: `${itemPath(c, i)}/Source/LocURI` };
      }
    }
  }
}

/** The defects of one kind in every addressed URI: the checks are tree/uri-check.ts's, shared with the UI's forms. */
function reportKind(kind: UriProblemKind): Checks[string] {
  return (s, report) => {
    for (const a of addresses(s)) for (const p of uriProblems(a.uri)) if (p.kind === kind) report(a.m, a.path, p.message);
  };
}

export const uriChecks: Checks = {
  'uri.relative': reportKind('relative'),
  'uri.dot-segments': reportKind('dot-segments'),
  'uri.empty-segment': reportKind('empty-segment'),
  'uri.trailing-slash': reportKind('trailing-slash'),

  'uri.limits': (s, report, options) => {
    const limits: UriLimits = { ...options.uriLimits };
    for (const a of addresses(s)) {
      if (a.c.command.kind === 'Results') {
        const key = limitKeyOf(normUri(a.uri));
        const item = itemsOf(a.c.command).find((i) => i.source?.locURI === a.uri);
        const v = item?.data?.kind === 'text' ? item.data.text.trim() : undefined;
        if (key && v && /^\d+$/.test(v)) limits[key] = Number(v);
        continue;
      }
      if (a.m.from !== 'server') continue;
      const why = limitProblems(a.uri, limits);
      if (why.length > 0) report(a.m, a.path, `"${a.uri}" is beyond the device's DevDetail/URI limits: ${why.join(', ')}`);
    }
  },
};
