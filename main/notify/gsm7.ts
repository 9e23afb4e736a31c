/**
 * GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and septet packing
 * (TS 23.040 §9.2.3.24: with a UDH, the text starts on the next septet boundary after fill bits).
 */

// 128 characters, index = septet value. 0x1B is the escape to the extension table.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const EXTENSION: Readonly<Record<number, string>> = {
  0x0a: '\f',
  0x14: '^',
  0x28: '{',
  0x29: '}',
  0x2f: '\\',
  0x3c: '[',
  0x3d: '~',
  0x3e: ']',
  0x40: '|',
  0x65: '€',
};

export const GSM7_BASIC_TABLE: readonly string[] = Array.from(BASIC);
const TO_SEPTET = new Map<string, number[]>();
GSM7_BASIC_TABLE.forEach((c, i) => {
  if (i !== 0x1b) TO_SEPTET.set(c, [i]);
});
for (const [k, c] of Object.entries(EXTENSION)) TO_SEPTET.set(c, [0x1b, Number(k)]);

/** Septets for a text, or undefined when a character is not in the GSM alphabet. */
export function textToSeptets(text: string): number[] | undefined {
  const out: number[] = [];
  for (const c of text) {
    const s = TO_SEPTET.get(c);
    if (!s) return undefined;
    out.push(...s);
  }
  return out;
}

export function septetsToText(septets: readonly number[]): string {
  let s = '';
  for (let i = 0; i < septets.length; i++) {
    const v = septets[i]!;
    if (v === 0x1b && i + 1 < septets.length) {
      const next = septets[++i]!;
      // An unknown extension code shows as the basic character (TS 23.038: "display as space" is also allowed).
      s += EXTENSION[next] ?? GSM7_BASIC_TABLE[next]!;
    } else s += GSM7_BASIC_TABLE[v & 0x7f]!;
  }
  return s;
}

/** Packs septets LSB first; `fillBits` zero bits precede the first septet (after a UDH). */
export function packSeptets(septets: readonly number[], fillBits = 0): Uint8Array {
  const totalBits = fillBits + septets.length * 7;
  const out = new Uint8Array(Math.ceil(totalBits / 8));
  let bit = fillBits;
  for (const s of septets) {
    for (let k = 0; k < 7; k++, bit++) if ((s >> k) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

/** Unpacks `count` septets starting `fillBits` bits into `bytes`. */
export function unpackSeptets(bytes: Uint8Array, count: number, fillBits = 0): number[] {
  const out: number[] = [];
  let bit = fillBits;
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let k = 0; k < 7; k++, bit++) {
      const byte = bytes[bit >> 3];
      if (byte === undefined) return out;
      if ((byte >> (bit & 7)) & 1) v |= 1 << k;
    }
    out.push(v);
  }
  return out;
}
