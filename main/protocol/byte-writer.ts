/**
 * A growable byte buffer for the encoders (WBXML, and XML written as UTF-8). One scratch buffer is reused across calls (encoding is
 * synchronous, so it is never shared by two encodings at once) and the result is copied out, which
 * is cheaper than growing a fresh buffer per message.
 */
import { failure } from './wbxml/primitives.js';

const encoder = new TextEncoder();
/** Above this many UTF-16 units a string is encoded natively rather than in the ASCII loop. */
const LONG_STRING = 64;
/** Keep at most this much scratch between calls, so one huge message does not pin memory for ever. */
const MAX_RETAINED = 1 << 20;
let scratch: Uint8Array | undefined;

const NodeBuffer = (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer;

/**
 * Uninitialised bytes (they are overwritten at once): zero-filling a 200 KB result costs as much as
 * copying it. Small ones come from Buffer's pool. Returned as a plain Uint8Array view so callers (and
 * deep-equality in tests) never see a Buffer.
 */
export function allocBytes(n: number): Uint8Array {
  if (NodeBuffer === undefined) return new Uint8Array(n);
  const b = NodeBuffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A copy that outlives the buffer it came from (a network read, a decoder input). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = allocBytes(src.length);
  out.set(src);
  return out;
}

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  private readonly shared: boolean;

  /** `shared`: borrow the module scratch buffer (top-level encodings only; nested ones get their own). */
  constructor(shared: boolean) {
    this.shared = shared;
    this.buf = shared ? (scratch ??= new Uint8Array(4096)) : new Uint8Array(1024);
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    if (this.shared && size <= MAX_RETAINED) scratch = next;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** mb_u_int32: 7 bits a byte, most significant first, high bit set on all but the last. */
  mbUint(v: number): void {
    this.ensure(5);
    if (v < 0x80) {
      this.buf[this.pos++] = v;
      return;
    }
    // Division, not shifts: values up to 2^32 - 1 would go negative under `>>`.
    const digits: number[] = [];
    for (let t = v; t > 0; t = Math.floor(t / 128)) digits.push(t % 128);
    for (let i = digits.length - 1; i >= 0; i--) this.buf[this.pos++] = i > 0 ? digits[i]! | 0x80 : digits[i]!;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    if (n < 32) {
      // Tags and short values: a loop beats TypedArray#set's per-call cost at these sizes.
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = b[i]!;
      this.pos = p;
      return;
    }
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  /**
   * UTF-8 bytes of `s` followed by NUL (an inline or string-table string). Throws CodecFailure for
   * text WBXML strings cannot carry: U+0000 (it would end the string) and lone surrogates (they would
   * silently become U+FFFD and the text would not round-trip).
   */
  cString(s: string, tokenOffset: number | undefined, path: () => string | undefined): void {
    const n = s.length;
    if (n > LONG_STRING) {
      // Long values (large objects, base64): native checks and encodeInto beat a JS loop by far.
      this.checkEncodable(s, tokenOffset, path);
      this.ensure(n * 3 + 1);
      this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
      this.buf[this.pos++] = 0;
      return;
    }
    this.ensure(n + 1);
    const buf = this.buf;
    let p = this.pos;
    let i = 0;
    // ASCII fast path: most DM text (URIs, numbers, base64) never leaves it.
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c === 0 || c >= 0x80) break;
      buf[p++] = c;
    }
    if (i < n) {
      const rest = i === 0 ? s : s.slice(i);
      this.checkEncodable(rest, tokenOffset, path);
      this.pos = p;
      this.ensure(rest.length * 3 + 1);
      const r = encoder.encodeInto(rest, this.buf.subarray(this.pos));
      p = this.pos + r.written;
    }
    this.buf[p++] = 0;
    this.pos = p;
  }

  /** A string known to be ASCII (element names, fixed markup). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any well-formed string as UTF-8, without a terminator. */
  utf8(s: string): void {
    if (s.length <= LONG_STRING) {
      let i = 0;
      const n = s.length;
      this.ensure(n);
      const buf = this.buf;
      let p = this.pos;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      this.pos = p;
      if (i === n) return;
      s = s.slice(i);
    }
    this.ensure(s.length * 3);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  private checkEncodable(s: string, tokenOffset: number | undefined, path: () => string | undefined): void {
    if (s.indexOf('\u0000') >= 0) {
      throw failure('bad-value', 'text contains U+0000, which a WBXML inline string cannot carry (use OPAQUE bytes)', tokenOffset, path());
    }
    if (!isWellFormed(s)) {
      throw failure('bad-charset', 'text contains a lone surrogate, which UTF-8 cannot encode', tokenOffset, path());
    }
  }

  /**
   * The encoded bytes, copied out of the (possibly shared) buffer. Under Node small results come from
   * Buffer's allocation pool (a fresh ArrayBuffer costs more than encoding a DM package), so the
   * returned view may share its ArrayBuffer: copy it before transferring `.buffer` to a worker.
   */
  result(): Uint8Array {
    const n = this.pos;
    const out = allocBytes(n);
    out.set(this.buf.subarray(0, n));
    return out;
  }
}

// String.prototype.isWellFormed is ES2024 (Node 20 has it); the project targets ES2023 typings.
const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
function isWellFormed(s: string): boolean {
  if (nativeWellFormed) return nativeWellFormed.call(s);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
