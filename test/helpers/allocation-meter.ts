/**
 * Bytes a parser allocates, counted instead of timed, so that a fuzz test's "no allocation sized by
 * a declared length" holds or fails the same on an idle and on a loaded machine: every ArrayBuffer
 * and typed array made through the globals while the measured function runs (the parser's own
 * `new Uint8Array(n)`, a library's `new ArrayBuffer(n)`, `Uint8Array.from`), a copy counted at its
 * size, a view into an existing buffer at nothing. Kept or dropped at once, an allocation counts:
 * a TLV that declares 2^31 bytes in five costs 2^31 even when the parser refuses it afterwards.
 * Node's own Buffer pool and internals (primordials) are not seen; what a parser does is.
 *
 * The globals are replaced by counting proxies only while the measured function runs (synchronously).
 */

const BYTE_ARRAYS = ['ArrayBuffer', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array'] as const;

let allocated = 0;

function counting(name: (typeof BYTE_ARRAYS)[number]): object {
  const real = globalThis[name] as unknown as new (...args: unknown[]) => ArrayBuffer | ArrayBufferView;
  const proxy: object = new Proxy(real, {
    construct(target, args, newTarget) {
      const made = Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as ArrayBuffer | ArrayBufferView;
      const view = args[0] instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && args[0] instanceof SharedArrayBuffer);
      if (!view) allocated += made.byteLength;
      return made;
    },
  });
  return proxy;
}

const REAL = BYTE_ARRAYS.map((name) => [name, globalThis[name]] as const);
const COUNTING = BYTE_ARRAYS.map((name) => [name, counting(name)] as const);

/**
 * The most bytes allocated per byte of input (`input.length` + 64, so that a fixed cost does not
 * dominate tiny inputs) over many parses, and where. A parse that throws counts what it allocated
 * before the throw.
 */
export class AllocationMeter {
  worstPerByte = 0;
  worst = '';

  run<T>(parser: string, input: Uint8Array, f: () => T): T {
    const g = globalThis as unknown as Record<string, unknown>;
    for (const [name, proxy] of COUNTING) g[name] = proxy;
    const before = allocated;
    try {
      return f();
    } finally {
      for (const [name, real] of REAL) g[name] = real;
      const perByte = (allocated - before) / (input.length + 64);
      if (perByte > this.worstPerByte) {
        this.worstPerByte = perByte;
        this.worst = `${parser} on ${Buffer.from(input.subarray(0, 60)).toString('hex')}${input.length > 60 ? `… (${input.length} bytes)` : ''}`;
      }
    }
  }

  /** For an assertion's message. */
  toString(): string {
    return `${this.worstPerByte.toFixed(1)} bytes allocated per input byte, ${this.worst}`;
  }
}
