/**
 * A logical channel to a card over any APDU transport (pcsclite, the virtual UICC in-process, a fake in
 * tests), with the T=0 conventions that a PC/SC stack leaves to the application:
 *  - `61xx`: xx more response bytes wait; fetch them with GET RESPONSE (`CLA C0 00 00 xx`) until 9000;
 *  - `6Cxx`: wrong Le; send the same command again with Le = xx (once).
 * Every raw exchange is counted and can be traced; PIN data is masked in the trace.
 */
import { ApduError, INS, concat, describeExchange, describeSw, hex, insName, parseResponse, redactedHex, swHex, type ResponseApdu } from './apdu.js';

/** What carries bytes to a card and back: one command APDU in, one response APDU (data + SW) out. */
export interface ApduTransport {
  transmit(command: Uint8Array): Promise<Uint8Array>;
}

export interface ApduTraceEntry {
  /** 1-based number of the raw exchange on this channel. */
  seq: number;
  /** ISO name of the instruction, e.g. `UPDATE BINARY`. */
  name: string;
  /** Command hex, PIN data masked. */
  command: string;
  /** Response hex including SW; undefined when the transport failed. */
  response?: string;
  sw?: string;
  /** Reading of the SW. */
  meaning?: string;
  /** Transport failure (card removed, reader gone...). */
  error?: string;
  /** Round trip in milliseconds. */
  ms: number;
  /** Why this exchange was sent when the channel sent it on its own (GET RESPONSE, Le retry). */
  auto?: 'get-response' | 'le-retry';
}

export interface ChannelOptions {
  onTrace?: (e: ApduTraceEntry) => void;
  /** Upper bound of chained GET RESPONSEs for one command (default 64, i.e. 16 KB). */
  maxGetResponses?: number;
}

export class CardChannel {
  /** Raw exchanges so far (including GET RESPONSE and Le retries). */
  exchanges = 0;
  private readonly onTrace: ((e: ApduTraceEntry) => void) | undefined;
  private readonly maxGetResponses: number;

  constructor(
    readonly transport: ApduTransport,
    opts: ChannelOptions = {},
  ) {
    this.onTrace = opts.onTrace;
    this.maxGetResponses = opts.maxGetResponses ?? 64;
  }

  /** One raw exchange, traced. */
  async exchange(cmd: Uint8Array, auto?: ApduTraceEntry['auto']): Promise<ResponseApdu> {
    const seq = ++this.exchanges;
    const t0 = performance.now();
    const name = describeIns(cmd);
    let raw: Uint8Array;
    try {
      raw = await this.transport.transmit(cmd);
    } catch (e) {
      const entry: ApduTraceEntry = { seq, name, command: redactedHex(cmd), error: (e as Error).message, ms: performance.now() - t0 };
      if (auto) entry.auto = auto;
      this.onTrace?.(entry);
      throw e;
    }
    const ms = performance.now() - t0;
    let r: ResponseApdu;
    try {
      r = parseResponse(raw);
    } catch (e) {
      this.onTrace?.({ seq, name, command: redactedHex(cmd), response: hex(raw), error: (e as Error).message, ms });
      // parseResponse sees only the answer: say which command got none (PIN data masked).
      if (e instanceof ApduError) throw new ApduError(`${name} ${redactedHex(cmd, 8)}: ${e.message}`, e.kind, e.sw);
      throw e;
    }
    const entry: ApduTraceEntry = { seq, name, command: redactedHex(cmd), response: hex(raw), sw: swHex(r.sw), meaning: describeSw(r.sw), ms };
    if (auto) entry.auto = auto;
    this.onTrace?.(entry);
    return r;
  }

  /** Send a command; follow 61xx with GET RESPONSE and answer 6Cxx by resending with the right Le. */
  async transmit(cmd: Uint8Array): Promise<ResponseApdu> {
    let r = await this.exchange(cmd);
    if (r.sw >> 8 === 0x6c) {
      const le = r.sw & 0xff;
      r = await this.exchange(withLe(cmd, le === 0 ? 256 : le), 'le-retry');
      if (r.sw >> 8 === 0x6c) throw new ApduError(`card asked twice for another Le (${describeExchange(cmd, r.sw)})`, 'protocol', r.sw);
    }
    if (r.sw >> 8 !== 0x61) return r;
    const parts: Uint8Array[] = r.data.length > 0 ? [r.data] : [];
    let n = 0;
    while (r.sw >> 8 === 0x61) {
      if (++n > this.maxGetResponses) throw new ApduError(`more than ${this.maxGetResponses} GET RESPONSEs for ${describeIns(cmd)}`, 'protocol', r.sw);
      const avail = r.sw & 0xff;
      r = await this.exchange(getResponse(cmd[0]!, avail === 0 ? 256 : avail), 'get-response');
      if (r.sw >> 8 === 0x6c) {
        const le = r.sw & 0xff;
        r = await this.exchange(getResponse(cmd[0]!, le === 0 ? 256 : le), 'le-retry');
      }
      if (r.data.length > 0) parts.push(r.data);
    }
    return { data: concat(parts), sw: r.sw };
  }

  /** transmit(), and throw an ApduError naming the APDU unless the SW is one of `ok` (default 9000). */
  async expect(cmd: Uint8Array, what: string, ok: readonly number[] = [0x9000]): Promise<ResponseApdu> {
    const r = await this.transmit(cmd);
    if (!ok.includes(r.sw)) throw new ApduError(`${what}: ${describeExchange(cmd, r.sw)}`, 'status', r.sw);
    return r;
  }
}

function describeIns(cmd: Uint8Array): string {
  return insName(cmd[1] ?? 0);
}

/**
 * The GET RESPONSE class: the command's own for ISO (0x) and GSM (A0) classes; for proprietary
 * classes (8x, e.g. RESIZE FILE) the ISO class on the same logical channel.
 */
export function getResponseCla(cla: number): number {
  if (cla === 0xa0) return 0xa0;
  if (cla & 0x80) return cla & 0x03;
  return cla;
}

function getResponse(cla: number, le: number): Uint8Array {
  return Uint8Array.of(getResponseCla(cla), INS.GET_RESPONSE, 0, 0, le & 0xff);
}

/** The same command with its Le replaced (or added, for a case 1/3 command). */
export function withLe(cmd: Uint8Array, le: number): Uint8Array {
  const leByte = le & 0xff;
  if (cmd.length === 4) return Uint8Array.of(...cmd, leByte);
  if (cmd.length === 5) return Uint8Array.of(...cmd.subarray(0, 4), leByte);
  const lc = cmd[4]!;
  const body = cmd.subarray(0, 5 + lc);
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  out[body.length] = leByte;
  return out;
}

