/**
 * Node formats (OMA DM 1.2 TND §8.3.7.2, MetInf Format) and value validation.
 *
 * Values are stored by format:
 *  - bin: bytes (Uint8Array); a string given for a bin node is taken as its UTF-8 bytes;
 *  - null: no value (null);
 *  - every other leaf format: the text exactly as received (a float keeps `-1.2345e+03`, as the
 *    Android DM engine does), after validation;
 *  - b64: the base64 text ("native value is B64-encoded binary"), validated as base64.
 * A value that does not fit its format is refused with 415, which is what the Android/Motorola DM
 * engine answers in its own tree tests (testoutput12, "DM 1.2 new data type negative smoke test").
 */

export const DM_FORMATS = ['b64', 'bin', 'bool', 'chr', 'int', 'node', 'null', 'xml', 'date', 'time', 'float'] as const;
export type DmFormat = (typeof DM_FORMATS)[number];

export function isDmFormat(s: string): s is DmFormat {
  return (DM_FORMATS as readonly string[]).includes(s);
}

export type NodeValue = string | Uint8Array | null;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

const INT = /^[+-]?[0-9]+$/;
// Android's accepted forms: +1.2345e+3, -1.2345e-03, 123.456, 123, 0. Refused: `123.`, `.`, `1+1`, `123.45e`.
const FLOAT = /^[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Validate and normalise `value` for `format`. Returns the stored value or a reason (-> 415). */
export function checkValue(format: DmFormat, value: string | Uint8Array | null | undefined): { value: NodeValue } | string {
  if (format === 'node') return 'interior nodes have no value';
  if (format === 'null') {
    if (value === null || value === undefined || value.length === 0) return { value: null };
    return 'a node of format null cannot hold a value';
  }
  if (format === 'bin') {
    if (value === null || value === undefined) return { value: new Uint8Array(0) };
    // a copy: the caller's buffer may be reused, and the undo journal must see stable bytes
    return { value: typeof value === 'string' ? utf8enc.encode(value) : value.slice() };
  }
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else {
    try {
      text = utf8.decode(value);
    } catch {
      return `value is not UTF-8 text (format ${format})`;
    }
  }
  const why = textProblem(format, text);
  return why === undefined ? { value: text } : why;
}

function textProblem(format: Exclude<DmFormat, 'node' | 'null' | 'bin'>, text: string): string | undefined {
  switch (format) {
    case 'chr':
    case 'xml':
      return undefined;
    case 'bool':
      return text === 'true' || text === 'false' ? undefined : `bool must be "true" or "false", got ${JSON.stringify(text)}`;
    case 'int': {
      if (!INT.test(text)) return `int must be a decimal integer, got ${JSON.stringify(text)}`;
      const n = Number(text);
      return n >= -2147483648 && n <= 2147483647 ? undefined : `int ${text} is outside the signed 32-bit range`;
    }
    case 'float':
      return FLOAT.test(text) ? undefined : `float must look like [+-]digits[.digits][e[+-]digits], got ${JSON.stringify(text)}`;
    case 'date':
      return isIsoDate(text) ? undefined : `not an ISO 8601 date: ${JSON.stringify(text)}`;
    case 'time':
      return isIsoTime(text) ? undefined : `not an ISO 8601 time: ${JSON.stringify(text)}`;
    case 'b64': {
      // Most values have no line breaks or spaces to take out (a nonce per message): tried as they are first.
      if (text.length % 4 === 0 && B64.test(text)) return undefined;
      const compact = text.replace(/[\r\n\t ]+/g, '');
      return compact.length % 4 === 0 && B64.test(compact) ? undefined : 'value is not base64';
    }
  }
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
}
function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
/** ISO weeks in year y: 53 when Jan 1 is a Thursday, or a Wednesday in a leap year. */
function weeksInYear(y: number): number {
  const jan1 = new Date(Date.UTC(y, 0, 1)).getUTCDay(); // 0 = Sunday
  return jan1 === 4 || (jan1 === 3 && isLeap(y)) ? 53 : 52;
}

const DATE_FORMS: Array<[RegExp, (m: RegExpMatchArray) => boolean]> = [
  [/^(\d{4})-(\d{2})-(\d{2})$/, (m) => ymd(m[1]!, m[2]!, m[3]!)], // 2005-10-15
  [/^(\d{4})(\d{2})(\d{2})$/, (m) => ymd(m[1]!, m[2]!, m[3]!)], // 20050125
  [/^(\d{4})-(\d{2})$/, (m) => month(m[2]!)], // 2005-10
  [/^(\d{4})(\d{2})$/, (m) => month(m[2]!)], // 200502 (Android accepts it)
  [/^(\d{4})-(\d{3})$/, (m) => ordinal(m[1]!, m[2]!)], // 2005-258
  [/^(\d{4})(\d{3})$/, (m) => ordinal(m[1]!, m[2]!)], // 2005016
  [/^(\d{4})-W(\d{2})(?:-([1-7]))?$/, (m) => week(m[1]!, m[2]!)], // 2005-W12-5, 2005-W02
  [/^(\d{4})W(\d{2})([1-7])?$/, (m) => week(m[1]!, m[2]!)], // 2005W205, 2005W15
  [/^\d{4}$/, () => true], // 2005
];
function ymd(y: string, m: string, d: string): boolean {
  const mm = Number(m);
  const dd = Number(d);
  return mm >= 1 && mm <= 12 && dd >= 1 && dd <= daysInMonth(Number(y), mm);
}
function month(m: string): boolean {
  const mm = Number(m);
  return mm >= 1 && mm <= 12;
}
function ordinal(y: string, d: string): boolean {
  const n = Number(d);
  return n >= 1 && n <= (isLeap(Number(y)) ? 366 : 365);
}
function week(y: string, w: string): boolean {
  const n = Number(w);
  return n >= 1 && n <= weeksInYear(Number(y));
}

export function isIsoDate(s: string): boolean {
  for (const [re, ok] of DATE_FORMS) {
    const m = s.match(re);
    if (m) return ok(m);
  }
  return false;
}

// hh:mm:ss, hh:mm, hhmmss, hhmm, hh; optional fraction on seconds; zone Z or ±hh:mm only
// (Android refuses `+01`, `+0152` and `+01:52:23`).
const TIME = /^(\d{2})(?:(:?)(\d{2})(?:\2(\d{2})(?:[.,]\d+)?)?)?(Z|[+-](\d{2}):(\d{2}))?$/;

export function isIsoTime(s: string): boolean {
  const m = s.match(TIME);
  if (!m) return false;
  if (Number(m[1]) > 23) return false;
  if (m[3] !== undefined && Number(m[3]) > 59) return false;
  if (m[4] !== undefined && Number(m[4]) > 59) return false;
  if (m[6] !== undefined && (Number(m[6]) > 23 || Number(m[7]) > 59)) return false;
  return true;
}

/** Size property: bytes of the value (UTF-8 for text). */
export function valueSize(v: NodeValue): number {
  if (v === null) return 0;
  if (typeof v === 'string') {
    // ASCII fast path
    let ascii = true;
    for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) { ascii = false; break; }
    return ascii ? v.length : Buffer.byteLength(v, 'utf8');
  }
  return v.byteLength;
}

/** Value as text for display and for chr-typed results (bin shown as base64). */
export function valueText(v: NodeValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/** Byte-wise equality for stored values. */
export function sameValue(a: NodeValue, b: NodeValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a === 'string' || typeof b === 'string') return false;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
