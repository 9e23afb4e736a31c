/**
 * What a request to the browser backend (`npm run serve`, ws-server.ts) must look like before anything
 * else looks at it. Pure checks, each a value with the status to answer and a one-line reason:
 *  - the request target is a path (`/...`), without empty segments, with %-escapes that decode to
 *    UTF-8 and no control characters: anything else is 400, never an exception (a `GET /%` used to
 *    throw URIError out of the request handler and take the process down);
 *  - the Host header names the loopback address or name the server is bound to, with its port: a
 *    page that reached us through another name (DNS rebinding: evil.example resolving to 127.0.0.1)
 *    gets 421, a request without Host 400.
 */

export type Checked<T> = { ok: true; value: T } | { ok: false; status: 400 | 421; reason: string };

export interface RequestTarget {
  /** The decoded path, `/` first. */
  path: string;
  query: URLSearchParams;
}

/** Longest request target taken (the UI's own are short: a file name, or /api with two parameters). */
export const MAX_TARGET_LENGTH = 4096;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function bad(reason: string): { ok: false; status: 400; reason: string } {
  return { ok: false, status: 400, reason };
}

/** Decodes %-escapes run by run, so a bad one is named by where it starts. */
function decodePath(p: string): Checked<string> {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const pct = p.indexOf('%', i);
    if (pct < 0) {
      out += p.slice(i);
      break;
    }
    out += p.slice(i, pct);
    let end = pct;
    while (end < p.length && p[end] === '%') {
      if (!/^[0-9A-Fa-f]{2}$/.test(p.slice(end + 1, end + 3))) return bad(`malformed %-escape at character ${end + 1} of the path`);
      end += 3;
    }
    try {
      out += decodeURIComponent(p.slice(pct, end));
    } catch {
      return bad(`%-escaped bytes at character ${pct + 1} of the path are not UTF-8`);
    }
    i = end;
  }
  return { ok: true, value: out };
}

/** The request target of an origin-form request (`/path?query`), checked and decoded. */
export function parseRequestTarget(raw: string | undefined): Checked<RequestTarget> {
  if (raw === undefined || raw === '') return bad('no request target');
  if (raw.length > MAX_TARGET_LENGTH) return bad(`request target of ${raw.length} characters is over the limit of ${MAX_TARGET_LENGTH}`);
  if (raw[0] !== '/') return bad('the request target must be a path starting with "/"');
  const q = raw.indexOf('?');
  const pathText = q < 0 ? raw : raw.slice(0, q);
  const empty = pathText.indexOf('//');
  if (empty >= 0) return bad(`empty path segment ("//") at character ${empty + 1}`);
  const decoded = decodePath(pathText);
  if (!decoded.ok) return decoded;
  const ctl = CONTROL.exec(decoded.value);
  if (ctl) return bad(`control character U+${ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} in the path`);
  return { ok: true, value: { path: decoded.value, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) } };
}

const LOOPBACK_NAMES: Record<string, readonly string[]> = {
  '127.0.0.1': ['127.0.0.1', 'localhost'],
  '::1': ['[::1]', 'localhost'],
  localhost: ['localhost', '127.0.0.1', '[::1]'],
};

/** `host:port` forms a browser sends for a server bound to `host` (lowercase; port 80 may be left out). */
export function hostNames(host: string, port: number): string[] {
  const names = LOOPBACK_NAMES[host.toLowerCase()] ?? [host.includes(':') ? `[${host.toLowerCase()}]` : host.toLowerCase()];
  return names.flatMap((n) => (port === 80 ? [`${n}:80`, n] : [`${n}:${port}`]));
}

/** The Host header must be one of `allowed` (from hostNames). */
export function checkHost(header: string | undefined, allowed: ReadonlySet<string>): Checked<void> {
  if (header === undefined || header.trim() === '') return bad('no Host header');
  const given = header.trim().toLowerCase();
  if (allowed.has(given)) return { ok: true, value: undefined };
  const shown = JSON.stringify(header.slice(0, 100));
  return { ok: false, status: 421, reason: `Host ${shown} is not this server (${[...allowed].join(' or ')}): a page that reached it through another name is refused` };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 421: 'Misdirected Request', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
};

/** A complete HTTP/1.1 answer for a socket that never became a response object (upgrades, parse errors). */
export function rawResponse(status: number, reason: string): string {
  const body = `${reason.replace(/[\r\n]/g, ' ')}\n`;
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
