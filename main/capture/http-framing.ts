/**
 * HTTP/1.1 messages out of one direction of a reassembled TCP stream: requests or responses one
 * after another on a keep-alive connection, bodies by Content-Length or chunked transfer coding
 * (responses without either run to the end of the stream). Header blocks, chunk sizes and bodies
 * are bounded. Framing trouble stops the stream with a reason; what came before it stands. Pure.
 */

export const HTTP_LIMITS = {
  maxHeaderBytes: 64 * 1024,
  maxHeaders: 200,
  maxBodyBytes: 64 * 1024 * 1024,
  maxMessagesPerStream: 1_000_000,
} as const;

export interface HttpMessage {
  /** Request line or status line. */
  startLine: string;
  method: string | null;
  target: string | null;
  status: number | null;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Uint8Array;
  /** Stream offsets of the message's first byte and one past its last. */
  start: number;
  end: number;
}

export interface HttpParse {
  messages: HttpMessage[];
  /** Why parsing stopped before the end of the stream (null when it reached it cleanly). */
  stopped: string | null;
}

const CRLFCRLF = [13, 10, 13, 10];

function indexOfSeq(b: Uint8Array, seq: readonly number[], from: number, limit: number): number {
  const end = Math.min(b.length, limit) - seq.length;
  outer: for (let i = from; i <= end; i++) {
    for (let j = 0; j < seq.length; j++) if (b[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

const latin1 = new TextDecoder('latin1');

export function parseHttpStream(b: Uint8Array, kind: 'request' | 'response', requestMethods: readonly string[] = []): HttpParse {
  const messages: HttpMessage[] = [];
  let finals = 0;
  let off = 0;
  while (off < b.length) {
    if (messages.length >= HTTP_LIMITS.maxMessagesPerStream) return { messages, stopped: `more than ${HTTP_LIMITS.maxMessagesPerStream} messages` };
    const headEnd = indexOfSeq(b, CRLFCRLF, off, off + HTTP_LIMITS.maxHeaderBytes);
    if (headEnd < 0) {
      return { messages, stopped: b.length - off >= HTTP_LIMITS.maxHeaderBytes ? `header block at stream offset ${off} longer than ${HTTP_LIMITS.maxHeaderBytes} bytes` : `incomplete header block at stream offset ${off}` };
    }
    const lines = latin1.decode(b.subarray(off, headEnd)).split('\r\n');
    const startLine = lines[0]!;
    let method: string | null = null;
    let target: string | null = null;
    let status: number | null = null;
    if (kind === 'request') {
      const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(startLine);
      if (!m) return { messages, stopped: `not an HTTP/1.x request line at stream offset ${off}` };
      method = m[1]!;
      target = m[2]!;
    } else {
      const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(startLine);
      if (!m) return { messages, stopped: `not an HTTP/1.x status line at stream offset ${off}` };
      status = Number(m[1]);
    }
    if (lines.length - 1 > HTTP_LIMITS.maxHeaders) return { messages, stopped: `more than ${HTTP_LIMITS.maxHeaders} headers at stream offset ${off}` };
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i < 1) return { messages, stopped: `malformed header line at stream offset ${off}: ${JSON.stringify(line.slice(0, 80))}` };
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    let p = headEnd + 4;
    let body: Uint8Array;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    // Responses that never have a body (RFC 9112 6.3): 1xx, 204, 304, and answers to HEAD.
    const bodiless = status !== null && ((status >= 100 && status < 200) || status === 204 || status === 304 || requestMethods[finals] === 'HEAD');
    if (bodiless) {
      body = new Uint8Array(0);
    } else if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) {
      const r = dechunk(b, p);
      if (typeof r === 'string') return { messages, stopped: `${r} (message at stream offset ${off})` };
      body = r.body;
      p = r.end;
    } else if (cl !== undefined) {
      if (!/^\d{1,12}$/.test(cl)) return { messages, stopped: `bad Content-Length ${JSON.stringify(cl.slice(0, 40))} at stream offset ${off}` };
      const n = Number(cl);
      if (n > HTTP_LIMITS.maxBodyBytes) return { messages, stopped: `Content-Length ${n} over the limit of ${HTTP_LIMITS.maxBodyBytes} at stream offset ${off}` };
      if (p + n > b.length) return { messages, stopped: `body cut short at stream offset ${p} (${b.length - p} of ${n} bytes)` };
      body = b.subarray(p, p + n);
      p += n;
    } else if (kind === 'response') {
      // Close-delimited.
      if (b.length - p > HTTP_LIMITS.maxBodyBytes) return { messages, stopped: `close-delimited body over the limit of ${HTTP_LIMITS.maxBodyBytes} at stream offset ${p}` };
      body = b.subarray(p);
      p = b.length;
    } else {
      body = new Uint8Array(0);
    }
    messages.push({ startLine, method, target, status, headers, body, start: off, end: p });
    // Interim (1xx) responses answer no request of their own.
    if (status === null || status >= 200) finals++;
    off = p;
  }
  return { messages, stopped: null };
}

/** A chunked body from `p`: the data and the offset after the last chunk's trailers, or why not. */
export function dechunk(b: Uint8Array, p: number): { body: Uint8Array; end: number } | string {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const lineEnd = indexOfSeq(b, [13, 10], p, p + 1024);
    if (lineEnd < 0) return `chunk size line missing or too long at stream offset ${p}`;
    const sizeText = latin1.decode(b.subarray(p, lineEnd)).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return `bad chunk size ${JSON.stringify(sizeText.slice(0, 20))} at stream offset ${p}`;
    const size = parseInt(sizeText, 16);
    p = lineEnd + 2;
    if (size === 0) {
      // Trailers, then an empty line.
      for (let n = 0; ; n++) {
        const e = indexOfSeq(b, [13, 10], p, p + HTTP_LIMITS.maxHeaderBytes);
        if (e < 0 || n > HTTP_LIMITS.maxHeaders) return `chunked body's trailer section incomplete at stream offset ${p}`;
        const empty = e === p;
        p = e + 2;
        if (empty) break;
      }
      break;
    }
    total += size;
    if (total > HTTP_LIMITS.maxBodyBytes) return `chunked body over the limit of ${HTTP_LIMITS.maxBodyBytes} bytes`;
    if (p + size + 2 > b.length) return `chunk cut short at stream offset ${p}`;
    if (b[p + size] !== 13 || b[p + size + 1] !== 10) return `chunk of ${size} bytes not followed by CRLF at stream offset ${p + size}`;
    parts.push(b.subarray(p, p + size));
    p += size + 2;
  }
  const body = new Uint8Array(total);
  let o = 0;
  for (const x of parts) {
    body.set(x, o);
    o += x.length;
  }
  return { body, end: p };
}
