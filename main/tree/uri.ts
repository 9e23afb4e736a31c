/**
 * DM URIs (OMA DM 1.2 TND §8.2, §8.3.3; DM 1.2 RepPro Get `?list=`).
 *
 * Rules we enforce, each with a typed error naming the URI and the segment at fault:
 *  - the root is `.`; a URI is `./A/B` or the relative form `A/B` (both are in TND §8.3.3's example);
 *    `./` alone is taken as the root because the RepPro's own MoreData example sends it;
 *  - no empty segment (so no trailing `/` and no `//`), no `.` or `..` segment after the leading `.`,
 *    no leading `/` (an absolute path is not a DM URI);
 *  - `/` can never be part of a node name (TND §8.2.2.2). Segments are percent-decoded (a peer sends
 *    UTF-8 bytes URI-encoded, as Windows' DM client documents), so `%2F` decodes to a `/` and is
 *    refused rather than silently creating a name that no URI can address;
 *  - limits are the DevDetail/URI values: MaxDepth (segments below the root), MaxTotLen (UTF-8 bytes
 *    of the path as sent, query excluded), MaxSegLen (UTF-8 bytes of one segment as sent); 0 = unlimited.
 *    Breaking a limit is 414, any other defect 400.
 *  - the query is `?prop=<Name>` or `?list=Struct|StructData|TNDS[+Flag...]`; anything else is 400.
 *    Whether a property or list form is supported is the tree's decision (406), not the parser's.
 */
import type { Result } from '../protocol/errors.js';

export interface UriLimits {
  /** Segments below the root (`./A/B` has depth 2); 0 = unlimited. */
  maxDepth: number;
  /** UTF-8 bytes of the whole path as sent, without the query; 0 = unlimited. */
  maxTotLen: number;
  /** UTF-8 bytes of one segment as sent; 0 = unlimited. */
  maxSegLen: number;
}

export const UNLIMITED: Readonly<UriLimits> = Object.freeze({ maxDepth: 0, maxTotLen: 0, maxSegLen: 0 });

export type ListMode = 'Struct' | 'StructData' | 'TNDS';

export type UriQuery =
  | { kind: 'prop'; prop: string }
  | { kind: 'list'; list: ListMode; /** `?list=TNDS+ACL+Value` -> ['ACL', 'Value'] */ flags: readonly string[] };

export interface DmUri {
  /** Decoded node names below the root; empty for the root. */
  segments: readonly string[];
  /** Canonical text of the node path: `.` or `./A/B` with names percent-encoded where needed. */
  path: string;
  query?: UriQuery;
}

export type UriErrorCode =
  | 'empty'
  | 'absolute'
  | 'empty-segment'
  | 'dot-segment'
  | 'bad-escape'
  | 'slash-in-name'
  | 'control-char'
  | 'bad-query'
  | 'too-deep'
  | 'too-long'
  | 'segment-too-long';

export interface UriError {
  status: 400 | 414;
  code: UriErrorCode;
  message: string;
  /** The URI exactly as given. */
  uri: string;
  /** The offending segment as sent, when one is at fault. */
  segment?: string;
  /** 0-based index of that segment below the root. */
  segmentIndex?: number;
}

function uriError(
  status: 400 | 414,
  code: UriErrorCode,
  uri: string,
  why: string,
  segment?: string,
  segmentIndex?: number,
): { ok: false; error: UriError } {
  const seg = segment === undefined ? '' : ` (segment ${segmentIndex! + 1} ${JSON.stringify(segment)})`;
  const error: UriError = { status, code, message: `bad DM URI ${JSON.stringify(uri)}${seg}: ${why}`, uri };
  if (segment !== undefined) {
    error.segment = segment;
    error.segmentIndex = segmentIndex;
  }
  return { ok: false, error };
}

/** UTF-8 length without allocating (URIs are short; this runs on every command). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) i++, (n += 2); // surrogate pair: 2 UTF-16 units -> 4 bytes
    else n += 2;
  }
  return n;
}

/** No UTF-16 unit takes more than 3 UTF-8 bytes (a surrogate pair, 2 units, takes 4): short strings need no count. */
function surelyWithin(s: string, maxBytes: number): boolean {
  return s.length * 3 <= maxBytes;
}

// C0 controls and DEL: never part of a node name (they cannot survive XML, and no MO uses them).
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Check a decoded node name. Returns a reason, or undefined when the name is acceptable.
 * Used for URI segments and for Replace of the Name property.
 */
export function nodeNameProblem(name: string): { code: UriErrorCode; why: string } | undefined {
  if (name.length === 0) return { code: 'empty-segment', why: 'empty node name' };
  if (name === '.' || name === '..') return { code: 'dot-segment', why: `"${name}" is not a node name` };
  if (name.includes('/')) return { code: 'slash-in-name', why: "'/' cannot be part of a node name (TND 8.2.2.2)" };
  if (CONTROL.test(name)) return { code: 'control-char', why: 'control character in node name' };
  return undefined;
}

/** Parse and validate a DM URI. `limits` default to unlimited. */
export function parseUri(text: string, limits: Readonly<UriLimits> = UNLIMITED): Result<DmUri, UriError> {
  if (text.length === 0) return uriError(400, 'empty', text, 'empty URI');
  const q = text.indexOf('?');
  const pathText = q < 0 ? text : text.slice(0, q);
  let query: UriQuery | undefined;
  if (q >= 0) {
    const parsed = parseQuery(text.slice(q + 1));
    if (typeof parsed === 'string') return uriError(400, 'bad-query', text, parsed);
    query = parsed;
  }
  if (limits.maxTotLen > 0 && !surelyWithin(pathText, limits.maxTotLen)) {
    const len = utf8Length(pathText);
    if (len > limits.maxTotLen) {
      return uriError(414, 'too-long', text, `path is ${len} bytes, MaxTotLen is ${limits.maxTotLen}`);
    }
  }
  if (pathText === '.' || pathText === './') return { ok: true, value: rootUri(query) };
  if (pathText.length === 0) return uriError(400, 'empty', text, 'empty path before the query');
  if (pathText.charCodeAt(0) === 0x2f /* / */) {
    return uriError(400, 'absolute', text, "a DM URI is relative to the root '.', it cannot start with '/'");
  }
  const rest = pathText.startsWith('./') ? pathText.slice(2) : pathText;
  const raw = rest.split('/');
  if (limits.maxDepth > 0 && raw.length > limits.maxDepth) {
    return uriError(414, 'too-deep', text, `${raw.length} segments, MaxDepth is ${limits.maxDepth}`);
  }
  let canonical = true; // the input is already in canonical form, reuse it as `path`
  const plain = !NOT_PLAIN.test(rest);
  const segments: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i]!;
    if (seg.length === 0) {
      const why = i === raw.length - 1 ? "a URI cannot end with '/'" : "empty segment ('//')";
      return uriError(400, 'empty-segment', text, why, seg, i);
    }
    if (limits.maxSegLen > 0 && !surelyWithin(seg, limits.maxSegLen)) {
      const len = utf8Length(seg);
      if (len > limits.maxSegLen) {
        return uriError(414, 'segment-too-long', text, `segment is ${len} bytes, MaxSegLen is ${limits.maxSegLen}`, seg, i);
      }
    }
    if (plain && seg !== '.' && seg !== '..') {
      // Nothing to decode, refuse or escape: the name is the segment, already canonical.
      segments[i] = seg;
      continue;
    }
    let name = seg;
    if (seg.includes('%')) {
      try {
        name = decodeURIComponent(seg);
      } catch {
        return uriError(400, 'bad-escape', text, 'malformed %-escape (or escaped bytes that are not UTF-8)', seg, i);
      }
    }
    const problem = nodeNameProblem(name);
    if (problem) {
      const why = problem.code === 'dot-segment' ? `"${name}" is only allowed as the leading '.' of the URI` : problem.why;
      return uriError(400, problem.code, text, why, seg, i);
    }
    if (canonical && encodeSegment(name) !== seg) canonical = false;
    segments[i] = name;
  }
  const path = canonical ? (pathText.startsWith('./') ? pathText : './' + pathText) : formatPath(segments);
  return { ok: true, value: query ? { segments, path, query } : { segments, path } };
}

function rootUri(query: UriQuery | undefined): DmUri {
  return query ? { segments: [], path: '.', query } : { segments: [], path: '.' };
}

function parseQuery(q: string): UriQuery | string {
  const eq = q.indexOf('=');
  if (eq < 0) return `query "?${q}" is not ?prop=<Name> or ?list=<Struct|StructData|TNDS>`;
  const key = q.slice(0, eq);
  const val = q.slice(eq + 1);
  if (key === 'prop') {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(val)) return `property name ${JSON.stringify(val)} is not a name`;
    return { kind: 'prop', prop: val };
  }
  if (key === 'list') {
    const [mode, ...flags] = val.split('+');
    if (mode !== 'Struct' && mode !== 'StructData' && mode !== 'TNDS') {
      return `?list=${val}: the list forms are Struct, StructData and TNDS`;
    }
    if (mode !== 'TNDS' && flags.length > 0) return `?list=${mode} takes no '+' flags`;
    for (const f of flags) if (!/^[A-Za-z]+$/.test(f)) return `?list=TNDS flag ${JSON.stringify(f)} is not a name`;
    return { kind: 'list', list: mode, flags };
  }
  return `unknown query key "${key}" (DM URIs take ?prop= or ?list=)`;
}

// Characters escaped when a name is written into a URI: '%' (the escape itself), '?' (starts the
// query), whitespace and controls (unsafe in LocURI text). Everything else, including non-ASCII,
// stays readable: XML carries UTF-8.
const NEEDS_ESCAPE = /[%?#/\s\u0000-\u001f\u007f]/;
// A path without these (NEEDS_ESCAPE but the separator) has segments that are their own names:
// no escape to decode, no control character to refuse, nothing to escape back. Most URIs are so,
// and parseUri then skips the per-segment checks.
const NOT_PLAIN = /[%?#\s\u0000-\u001f\u007f]/;
const ESCAPE_ALL = /[%?#/\s\u0000-\u001f\u007f]/g;

export function encodeSegment(name: string): string {
  if (!NEEDS_ESCAPE.test(name)) return name;
  return name.replace(ESCAPE_ALL, (c) => {
    const b = Buffer.from(c, 'utf8');
    let out = '';
    for (const x of b) out += '%' + x.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

/** `.` for no segments, else `./a/b` with each name encoded. */
export function formatPath(segments: readonly string[]): string {
  if (segments.length === 0) return '.';
  let s = '.';
  for (const seg of segments) s += '/' + encodeSegment(seg);
  return s;
}

/** Child URI of a canonical path. */
export function childPath(parentPath: string, name: string): string {
  return parentPath + '/' + encodeSegment(name);
}

/** Parent path of a canonical path (`.` for a root child); undefined for the root itself. */
export function parentPath(path: string): string | undefined {
  if (path === '.') return undefined;
  const i = path.lastIndexOf('/');
  return i <= 1 ? '.' : path.slice(0, i);
}

/** Human-readable line for a URI error (same as `error.message`; kept for symmetry with codecs). */
export function describeUriError(e: UriError): string {
  return `${e.status} ${e.message}`;
}
