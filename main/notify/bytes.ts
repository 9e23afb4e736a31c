/** Hex text and a bounds-checked reader shared by the SMS, WSP and package #0 decoders. */
import { DecodeFailure, type NotifyErrorCode } from './errors.js';

export function toHex(bytes: Uint8Array, separator = ''): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && separator) s += separator;
    s += bytes[i]!.toString(16).padStart(2, '0');
  }
  return s.toUpperCase();
}

/** Hex text to bytes; spaces, colons and a leading 0x are allowed. undefined when it is not hex. */
export function fromHex(text: string): Uint8Array | undefined {
  const t = text.trim().replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return undefined;
  return new Uint8Array(Buffer.from(t, 'hex'));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/** Sequential reader that throws DecodeFailure (with the offset) instead of reading past the end. */
export class ByteReader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    /** Offset of bytes[0] in the caller's input, so errors point into what the user gave us. */
    readonly base = 0,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(code: NotifyErrorCode, message: string, at = this.pos): never {
    throw new DecodeFailure({ code, message, offset: this.base + at });
  }

  u8(what: string): number {
    if (this.pos >= this.bytes.length) this.fail('truncated', `input ends before ${what}`);
    return this.bytes[this.pos++]!;
  }

  peek(): number | undefined {
    return this.bytes[this.pos];
  }

  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length) this.fail('truncated', `input ends inside ${what} (${n} bytes needed, ${this.remaining} left)`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Uint8Array {
    const out = this.bytes.subarray(this.pos);
    this.pos = this.bytes.length;
    return out;
  }
}
