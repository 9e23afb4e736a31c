/**
 * ISO/IEC 7816-4 APDUs: building and parsing short command APDUs, reading responses, naming status
 * words. Pure functions, shared by the host side (pcsclite) and the virtual UICC.
 *
 * Only short APDUs: Lc <= 255, Le <= 256 (encoded 00). SIM/UICC bootstrap files never need more, and
 * extended length is an optional card feature we would have to probe for.
 */

export const MAX_SHORT_LC = 255;
export const MAX_SHORT_LE = 256;

export const INS = {
  VERIFY: 0x20,
  CHANGE_REFERENCE_DATA: 0x24,
  DISABLE_VERIFICATION: 0x26,
  ENABLE_VERIFICATION: 0x28,
  RESET_RETRY_COUNTER: 0x2c,
  SELECT: 0xa4,
  READ_BINARY: 0xb0,
  READ_RECORD: 0xb2,
  GET_RESPONSE: 0xc0,
  RESIZE_FILE: 0xd4,
  UPDATE_BINARY: 0xd6,
  UPDATE_RECORD: 0xdc,
  CREATE_FILE: 0xe0,
  DELETE_FILE: 0xe4,
  STATUS: 0xf2,
} as const;

const INS_NAMES: Record<number, string> = {
  0x20: 'VERIFY',
  0x24: 'CHANGE REFERENCE DATA',
  0x26: 'DISABLE VERIFICATION',
  0x28: 'ENABLE VERIFICATION',
  0x2c: 'RESET RETRY COUNTER',
  0xa4: 'SELECT',
  0xb0: 'READ BINARY',
  0xb2: 'READ RECORD',
  0xc0: 'GET RESPONSE',
  0xd4: 'RESIZE FILE',
  0xd6: 'UPDATE BINARY',
  0xdc: 'UPDATE RECORD',
  0xe0: 'CREATE FILE',
  0xe4: 'DELETE FILE',
  0xf2: 'STATUS',
};

/** Commands whose data field carries a PIN/PUK/ADM: never shown in a trace or an error. */
export const SECRET_INS: ReadonlySet<number> = new Set([0x20, 0x24, 0x26, 0x28, 0x2c]);

export function insName(ins: number): string {
  return INS_NAMES[ins] ?? `INS ${hex([ins])}`;
}

export function hex(bytes: ArrayLike<number>, sep = ''): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && sep) s += sep;
    s += (bytes[i]! & 0xff).toString(16).toUpperCase().padStart(2, '0');
  }
  return s;
}

/** `"A0 00 00"` / `"a00000"` / `"A0:00"` -> bytes; undefined when not hex. */
export function fromHex(text: string): Uint8Array | undefined {
  const t = text.replace(/[\s:]/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return undefined;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function mustHex(text: string): Uint8Array {
  const b = fromHex(text);
  if (!b) throw new Error(`not hex: ${JSON.stringify(text)}`);
  return b;
}

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Lc = its length); empty for case 1 and 2. */
  data: Uint8Array;
  /** Expected response length 1..256; undefined when no response data is expected (case 1, 3). */
  le?: number;
}

/** ISO 7816-3 case of a short APDU: 1 (header), 2 (Le), 3 (Lc data), 4 (Lc data Le). */
export function apduCase(c: CommandApdu): 1 | 2 | 3 | 4 {
  if (c.data.length === 0) return c.le === undefined ? 1 : 2;
  return c.le === undefined ? 3 : 4;
}

/** Encode a short command APDU. Throws on out-of-range fields (a bug of the caller, not bad input). */
export function encodeCommand(c: CommandApdu): Uint8Array {
  for (const [k, v] of [['CLA', c.cla], ['INS', c.ins], ['P1', c.p1], ['P2', c.p2]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${k} ${v} is not a byte`);
  }
  if (c.data.length > MAX_SHORT_LC) throw new RangeError(`Lc ${c.data.length} > ${MAX_SHORT_LC} (short APDU)`);
  if (c.le !== undefined && (!Number.isInteger(c.le) || c.le < 1 || c.le > MAX_SHORT_LE)) throw new RangeError(`Le ${c.le} outside 1..256`);
  const n = 4 + (c.data.length > 0 ? 1 + c.data.length : 0) + (c.le !== undefined ? 1 : 0);
  const out = new Uint8Array(n);
  out[0] = c.cla;
  out[1] = c.ins;
  out[2] = c.p1;
  out[3] = c.p2;
  let i = 4;
  if (c.data.length > 0) {
    out[i++] = c.data.length;
    out.set(c.data, i);
    i += c.data.length;
  }
  if (c.le !== undefined) out[i] = c.le & 0xff; // 256 -> 00
  return out;
}

export function command(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Uint8Array {
  const c: CommandApdu = { cla, ins, p1, p2, data: data ?? new Uint8Array(0) };
  if (le !== undefined) c.le = le;
  return encodeCommand(c);
}

/** Parse a short command APDU; a description of the defect when it is not one. */
export function parseCommand(b: Uint8Array): CommandApdu | string {
  if (b.length < 4) return `command APDU of ${b.length} bytes (at least 4: CLA INS P1 P2)`;
  const head = { cla: b[0]!, ins: b[1]!, p1: b[2]!, p2: b[3]! };
  if (b.length === 4) return { ...head, data: new Uint8Array(0) };
  if (b.length === 5) return { ...head, data: new Uint8Array(0), le: b[4] === 0 ? 256 : b[4]! };
  const lc = b[4]!;
  if (lc === 0) return 'extended-length APDU (Lc = 00 followed by more bytes) is not supported';
  if (b.length === 5 + lc) return { ...head, data: b.slice(5, 5 + lc) };
  if (b.length === 6 + lc) return { ...head, data: b.slice(5, 5 + lc), le: b[5 + lc] === 0 ? 256 : b[5 + lc]! };
  return `Lc says ${lc} data bytes but the APDU has ${b.length - 5} bytes after Lc`;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

export function parseResponse(b: Uint8Array): ResponseApdu {
  if (b.length < 2) throw new ApduError(`no answer from the card (response of ${b.length} byte(s), no status word): removed or unresponsive`, 'short-response');
  return { data: b.slice(0, b.length - 2), sw: (b[b.length - 2]! << 8) | b[b.length - 1]! };
}

export function encodeResponse(r: ResponseApdu): Uint8Array {
  const out = new Uint8Array(r.data.length + 2);
  out.set(r.data, 0);
  out[r.data.length] = r.sw >> 8;
  out[r.data.length + 1] = r.sw & 0xff;
  return out;
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

export const SW = {
  OK: 0x9000,
  END_OF_FILE: 0x6282,
  VERIFY_FAILED_BASE: 0x63c0,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  FILE_INCOMPATIBLE: 0x6981,
  SECURITY_NOT_SATISFIED: 0x6982,
  AUTH_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  WRONG_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  NOT_ENOUGH_MEMORY: 0x6a84,
  LC_INCONSISTENT: 0x6a85,
  WRONG_P1P2: 0x6a86,
  REFERENCE_NOT_FOUND: 0x6a88,
  FILE_EXISTS: 0x6a89,
  DF_NAME_EXISTS: 0x6a8a,
  WRONG_P1P2_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

/** Human reading of a status word (ISO 7816-4 §5.1.3, ETSI TS 102 221 §10.2). */
export function describeSw(sw: number): string {
  const sw1 = sw >> 8;
  const sw2 = sw & 0xff;
  if (sw === 0x9000) return 'OK';
  if (sw1 === 0x61) return `${sw2 === 0 ? 256 : sw2} response bytes available (GET RESPONSE)`;
  if (sw1 === 0x6c) return `wrong Le: resend with Le=${sw2 === 0 ? 256 : sw2}`;
  if ((sw & 0xfff0) === 0x63c0) return `verification failed, ${sw2 & 0x0f} tries left`;
  const known: Record<number, string> = {
    0x6282: 'end of file reached before Le bytes',
    0x6283: 'selected file invalidated',
    0x6581: 'memory failure',
    0x6700: 'wrong length',
    0x6981: 'command incompatible with file structure',
    0x6982: 'security status not satisfied (PIN/ADM needed)',
    0x6983: 'authentication method blocked (no tries left)',
    0x6984: 'reference data not usable',
    0x6985: 'conditions of use not satisfied',
    0x6986: 'command not allowed (no current EF)',
    0x6a80: 'incorrect parameters in the data field',
    0x6a81: 'function not supported',
    0x6a82: 'file or application not found',
    0x6a83: 'record not found',
    0x6a84: 'not enough memory space in the file',
    0x6a85: 'Lc inconsistent with TLV structure',
    0x6a86: 'incorrect parameters P1-P2',
    0x6a87: 'Lc inconsistent with P1-P2',
    0x6a88: 'referenced data not found',
    0x6a89: 'file already exists',
    0x6a8a: 'DF name already exists',
    0x6b00: 'wrong parameters P1-P2 (offset outside the EF)',
    0x6d00: 'instruction not supported',
    0x6e00: 'class not supported',
    0x6f00: 'no precise diagnosis',
  };
  return known[sw] ?? 'unknown status';
}

export type ApduErrorKind = 'short-response' | 'status' | 'protocol';

/** A card answer that is not what the step needed; names the APDU and the status word. */
export class ApduError extends Error {
  constructor(
    message: string,
    readonly kind: ApduErrorKind,
    readonly sw?: number,
  ) {
    super(message);
    this.name = 'ApduError';
  }
}

/** "UPDATE BINARY 00D60200FF.. -> 6982 security status not satisfied" (data of secret commands hidden). */
export function describeExchange(cmd: Uint8Array, sw: number): string {
  return `${insName(cmd[1] ?? 0)} ${redactedHex(cmd, 8)} -> ${swHex(sw)} ${describeSw(sw)}`;
}

/** Hex of a command with the data of PIN commands masked; `maxBytes` shortens long ones with `..`. */
export function redactedHex(cmd: Uint8Array, maxBytes = Infinity): string {
  if (cmd.length > 5 && SECRET_INS.has(cmd[1]!)) {
    const lc = cmd[4]!;
    return hex(cmd.subarray(0, 5)) + '**'.repeat(Math.min(lc, cmd.length - 5)) + (cmd.length > 5 + lc ? hex(cmd.subarray(5 + lc)) : '');
  }
  if (cmd.length > maxBytes) return hex(cmd.subarray(0, maxBytes)) + '..';
  return hex(cmd);
}

/** The parts one after another, in a new array (TLV bodies, responses read in pieces). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
}
