/**
 * Node addresses (DM TND §5 URI restrictions; DM StdObj §5.3.3 DevDetail/URI limits): relative to
 * the tree root, no `..`, `./` only at the start, no empty segment, no trailing `/`, and, when the
 * device told its limits (DevDetail/URI/MaxDepth, MaxTotLen, MaxSegLen), within them.
 */
import { alertCode, itemPath, itemsOf, normUri, type CmdView, type MsgView } from '../session-model.js';
import type { UriLimits } from '../types.js';
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

/** The path part of a node URI: properties (`?prop=`) and lists (`?list=`) are not segments. */
const pathPart = (u: string): string => u.trim().split('?')[0]!;

function segments(u: string): string[] {
  const p = pathPart(u);
  const rest = p === '.' ? '' : p.startsWith('./') ? p.slice(2) : p;
  return rest === '' ? [] : rest.split('/');
}

const LIMIT_NODES: Readonly<Record<string, keyof UriLimits>> = {
  'DevDetail/URI/MaxDepth': 'maxDepth',
  'DevDetail/URI/MaxTotLen': 'maxTotLen',
  'DevDetail/URI/MaxSegLen': 'maxSegLen',
};

export const uriChecks: Checks = {
  'uri.relative': (s, report) => {
    for (const a of addresses(s)) {
      const u = a.uri.trim();
      if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u) || u.startsWith('/')) report(a.m, a.path, `"${u}" is not a URI relative to the tree root (./...)`);
    }
  },

  'uri.dot-segments': (s, report) => {
    for (const a of addresses(s)) {
      const segs = segments(a.uri);
      const first = pathPart(a.uri).split('/')[0];
      if (first === '..' || segs.some((x) => x === '..')) report(a.m, a.path, `"${a.uri}" climbs with "..": a DM URI never does`);
      else if (segs.some((x) => x === '.')) report(a.m, a.path, `"${a.uri}" has "./" other than at its start`);
    }
  },

  'uri.empty-segment': (s, report) => {
    for (const a of addresses(s)) if (pathPart(a.uri).includes('//')) report(a.m, a.path, `"${a.uri}" has an empty segment ("//")`);
  },

  'uri.trailing-slash': (s, report) => {
    for (const a of addresses(s)) {
      const p = pathPart(a.uri);
      if (p.length > 1 && p.endsWith('/') && !p.endsWith('//')) report(a.m, a.path, `"${a.uri}" ends with "/"${p === './' ? ' (the root is ".")' : ''}`);
    }
  },

  'uri.limits': (s, report, options) => {
    const limits: UriLimits = { ...options.uriLimits };
    for (const a of addresses(s)) {
      if (a.c.command.kind === 'Results') {
        const key = LIMIT_NODES[normUri(a.uri)];
        const item = itemsOf(a.c.command).find((i) => i.source?.locURI === a.uri);
        const v = item?.data?.kind === 'text' ? item.data.text.trim() : undefined;
        if (key && v && /^\d+$/.test(v)) limits[key] = Number(v);
        continue;
      }
      if (a.m.from !== 'server') continue;
      const segs = segments(a.uri);
      const why: string[] = [];
      if (limits.maxDepth && segs.length > limits.maxDepth) why.push(`${segs.length} segments > MaxDepth ${limits.maxDepth}`);
      if (limits.maxTotLen && a.uri.trim().length > limits.maxTotLen) why.push(`${a.uri.trim().length} characters > MaxTotLen ${limits.maxTotLen}`);
      const longest = Math.max(0, ...segs.map((x) => x.length));
      if (limits.maxSegLen && longest > limits.maxSegLen) why.push(`a ${longest}-character segment > MaxSegLen ${limits.maxSegLen}`);
      if (why.length > 0) report(a.m, a.path, `"${a.uri}" is beyond the device's DevDetail/URI limits: ${why.join(', ')}`);
    }
  },
};
