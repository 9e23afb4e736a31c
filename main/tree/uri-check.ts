/**
 * One check of a node URI's form (DM TND §5; DM StdObj §5.3.3 DevDetail/URI limits), shared by the
 * places a user types a URI (the Tree, ACL and job forms: the reason shows next to the field before
 * anything is sent) and by the judge's uri.* rules, which read the same defects out of a session.
 *
 * Pure and browser-safe (no Node): the renderer imports it. tree/uri.ts parses what a device receives
 * (and decodes %-escapes); this module says, in words a user can act on, why a URI would be refused.
 * Lengths are UTF-8 bytes of the path without the query, as tree/uri.ts counts them.
 */

/** The device's DevDetail/URI limits when known; absent or 0 = not known / unlimited. */
export interface UriLimits {
  maxDepth?: number;
  maxTotLen?: number;
  maxSegLen?: number;
}

/** Each kind is one judge rule (`uri.<kind>`), except `empty`, `query` and `control`, which only a form checks. */
export type UriProblemKind = 'empty' | 'relative' | 'dot-segments' | 'empty-segment' | 'trailing-slash' | 'query' | 'control' | 'limits';

export interface UriProblem {
  kind: UriProblemKind;
  message: string;
}

export interface UriCheckOptions {
  limits?: UriLimits;
  /** The field takes `?prop=<Name>` / `?list=Struct|StructData|TNDS` (a Get does; a node to add or show does not). */
  query?: boolean;
  /** Also report what the judge leaves to its own parser (empty input, `?` and control characters). */
  strict?: boolean;
}

/** The path part of a node URI: properties (`?prop=`) and lists (`?list=`) are not segments. */
export const pathPart = (u: string): string => u.trim().split('?')[0]!;

/** Segments below the root (`.` and `./` have none). */
export function uriSegments(u: string): string[] {
  const p = pathPart(u);
  const rest = p === '.' ? '' : p.startsWith('./') ? p.slice(2) : p;
  return rest === '' ? [] : rest.split('/');
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) (n += 4), i++;
    else n += 3;
  }
  return n;
}

/** `["4 segments > MaxDepth 3", ...]`: why the URI is beyond the device's limits (empty: within, or unknown). */
export function limitProblems(uri: string, limits: UriLimits): string[] {
  const segs = uriSegments(uri);
  const why: string[] = [];
  if (limits.maxDepth && segs.length > limits.maxDepth) why.push(`${segs.length} segments > MaxDepth ${limits.maxDepth}`);
  const total = utf8Length(pathPart(uri));
  if (limits.maxTotLen && total > limits.maxTotLen) why.push(`${total} bytes > MaxTotLen ${limits.maxTotLen}`);
  const longest = Math.max(0, ...segs.map(utf8Length));
  if (limits.maxSegLen && longest > limits.maxSegLen) why.push(`a ${longest}-byte segment > MaxSegLen ${limits.maxSegLen}`);
  return why;
}

const QUERY = /^(prop=[A-Za-z][A-Za-z0-9]*|list=(Struct|StructData|TNDS(\+[A-Za-z]+)*))$/;
// C0 controls and DEL cannot be part of a node name (tree/uri.ts refuses them too).
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Every defect of the URI's form, in the order a reader would fix them. */
export function uriProblems(uri: string, opts: UriCheckOptions = {}): UriProblem[] {
  const out: UriProblem[] = [];
  const u = uri.trim();
  const add = (kind: UriProblemKind, message: string) => out.push({ kind, message });
  if (u === '') {
    if (opts.strict) add('empty', 'a node URI, e.g. ./DevInfo/DevId');
    return out;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u) || u.startsWith('/')) add('relative', `"${u}" is not a URI relative to the tree root (./...)`);
  const p = pathPart(u);
  const segs = uriSegments(u);
  if (p.split('/')[0] === '..' || segs.some((x) => x === '..')) add('dot-segments', `"${u}" climbs with "..": a DM URI never does`);
  else if (segs.some((x) => x === '.')) add('dot-segments', `"${u}" has "./" other than at its start`);
  if (p.includes('//')) add('empty-segment', `"${u}" has an empty segment ("//")`);
  if (p.length > 1 && p.endsWith('/') && !p.endsWith('//')) add('trailing-slash', `"${u}" ends with "/"${p === './' ? ' (the root is ".")' : ''}`);
  if (opts.strict) {
    const q = u.indexOf('?');
    if (q >= 0) {
      const query = u.slice(q + 1);
      if (!opts.query) add('query', `"?" at character ${q + 1} is outside a query: a node name cannot hold "?" (write %3F), and this field names a node, without ?prop= or ?list=`);
      else if (!QUERY.test(query)) add('query', `"?" at character ${q + 1} is outside a query: after "?" comes prop=<Name> or list=Struct|StructData|TNDS, not "${query}" (a "?" in a node name is written %3F)`);
    }
    if (CONTROL.test(u)) add('control', `"${u.replace(CONTROL, '␀')}" holds a control character`);
  }
  const why = opts.limits ? limitProblems(u, opts.limits) : [];
  if (why.length > 0) add('limits', `"${u}" is beyond the device's DevDetail/URI limits: ${why.join(', ')}`);
  return out;
}

/** The first reason a typed URI would be refused, or null: what a form shows next to its field. */
export function checkTypedUri(uri: string, opts: Omit<UriCheckOptions, 'strict'> = {}): string | null {
  return uriProblems(uri, { ...opts, strict: true })[0]?.message ?? null;
}

/** A new child's name (the Add form): one segment, so no "/", no "." or "..", no "?". */
export function checkNodeName(name: string): string | null {
  if (name === '') return 'a node name';
  if (name === '.' || name === '..') return `"${name}" is not a node name`;
  if (name.includes('/')) return 'a node name holds no "/" (one segment; add the parent first)';
  if (name.includes('?')) return 'a node name holds no "?" (it would start a query)';
  if (CONTROL.test(name)) return 'a node name holds no control character';
  return null;
}

const LIMIT_NODES: Readonly<Record<string, keyof UriLimits>> = {
  'DevDetail/URI/MaxDepth': 'maxDepth',
  'DevDetail/URI/MaxTotLen': 'maxTotLen',
  'DevDetail/URI/MaxSegLen': 'maxSegLen',
};

/** The key a DevDetail/URI limit node fills, for a URI with or without `./`. */
export function limitKeyOf(uri: string): keyof UriLimits | undefined {
  return LIMIT_NODES[uri.trim().replace(/^\.\//, '')];
}

/** The device's DevDetail/URI limits from what the server read of its tree (0 = unlimited, so left out). */
export function uriLimitsFromEntries(entries: readonly { uri: string; data: string | null }[]): UriLimits {
  const out: UriLimits = {};
  for (const e of entries) {
    const key = limitKeyOf(e.uri);
    if (key && e.data !== null && /^\d+$/.test(e.data.trim()) && Number(e.data.trim()) > 0) out[key] = Number(e.data.trim());
  }
  return out;
}
