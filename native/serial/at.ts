/**
 * An AT command channel (3GPP TS 27.007 / 27.005, V.250) over a byte link: one command at a time,
 * echo tolerated (and turned off by init), final result codes OK / ERROR / +CME ERROR / +CMS ERROR,
 * unsolicited result codes kept apart from responses, per-command timeouts, the `> ` prompt of
 * AT+CMGS. The port vanishing fails the command in flight with PortGoneError, never a hang.
 */
import { EventEmitter } from 'node:events';
import { explainFinal, isFinalResult, isSuccess } from './at-errors.js';
import { PortGoneError, type ByteLink } from './link.js';

export interface AtResponse {
  command: string;
  /** Information lines, without echo, URCs or the final result. */
  lines: string[];
  final: string;
  ok: boolean;
  /** The final result in words (+CME / +CMS codes explained). */
  explanation: string;
}

export class AtCommandError extends Error {
  constructor(readonly response: AtResponse) {
    super(`${response.command}: ${response.explanation}`);
  }
}

export class AtTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly stage: string,
    readonly lines: string[],
    readonly timeoutMs: number,
  ) {
    super(`${command}: no answer ${stage} within ${timeoutMs} ms${lines.length ? ` (got: ${lines.join(' | ')})` : ''}`);
  }
}

export interface AtChannelOptions {
  /** Per command, unless the call says otherwise. */
  timeoutMs?: number;
  /** How long to wait for `> ` after AT+CMGS=<n>. */
  promptTimeoutMs?: number;
  /** After the PDU and Ctrl-Z: the network may take a while. */
  cmgsTimeoutMs?: number;
  /** Quiet time that ends the stale period after a timeout (late answers are dropped, not misread). */
  settleMs?: number;
  /** Lines that are unsolicited unless they carry the prefix of the command in flight. */
  urcPattern?: RegExp;
}

/** URCs of 27.007 / 27.005 and common vendor ones (Huawei ^, Quectel +QIND, SIMCom RDY). */
export const DEFAULT_URC =
  /^(RING|RDY|\+CRING:|\+CLIP:|\+CCWA:|\+CMTI:|\+CMT:|\+CDS:|\+CDSI:|\+CBM:|\+CBMI:|\+CREG:|\+CGREG:|\+CEREG:|\+C5GREG:|\+CUSD:|\+CIEV:|\+CGEV:|\+CSSI:|\+CSSU:|\+STIN:|\+CPIN:|\+QIND:|\+QUSIM:|\+PACSP\d|\^[A-Z0-9]+:)/;
/**
 * Longest run of bytes we wait for a line end after. AT lines are short (a +CMT PDU line or a +CSIM
 * answer is under 600 characters); a longer run is not AT text (a modem in data mode, a wrong baud rate).
 */
export const MAX_LINE = 16 * 1024;

const LINE_END = /[\r\n]/g;

/** URCs followed by one more line (the PDU) in PDU mode. */
const TWO_LINE_URC = /^(\+CMT:|\+CDS:|\+CBM:)/;

export interface AtChannelEvents {
  /** An unsolicited result code (two lines for +CMT / +CDS / +CBM). */
  urc: [lines: string[]];
  /** Every line in and out, for a transcript. */
  trace: [direction: 'tx' | 'rx' | 'drop', text: string];
  close: [error?: Error];
}

interface Pending {
  command: string;
  prefix?: string;
  lines: string[];
  resolve: (r: AtResponse) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  stage: string;
  /** AT+CMGS: called once on `> `. */
  onPrompt?: () => void;
  pduHex?: string;
}

export interface CmgsOutcome {
  /** The modem's answer, when one came. */
  response?: AtResponse;
  /** The PDU and Ctrl-Z reached the port: from then on the SMS may go out even without an answer. */
  pduWritten: boolean;
  error?: Error;
}

/** `AT+CGSN` -> `+CGSN`, `AT^ICCID?` -> `^ICCID`: the prefix its information lines may carry. */
export function responsePrefix(command: string): string | undefined {
  const m = /^AT([+^$%#*][A-Z0-9]+)/i.exec(command.trim());
  return m ? m[1]!.toUpperCase() : undefined;
}

export class AtChannel extends EventEmitter<AtChannelEvents> {
  private buf = '';
  /** How much of `buf` (from its start) is known to hold no line end. */
  private searched = 0;
  private pending?: Pending;
  private urcLines?: string[];
  /** A run longer than MAX_LINE was dropped: its tail, up to the next line end, goes too. */
  private overlong = false;
  private staleUntil = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private gone?: Error;
  readonly options: Required<AtChannelOptions>;

  constructor(
    readonly link: ByteLink,
    options: AtChannelOptions = {},
  ) {
    super();
    this.options = { timeoutMs: 5000, promptTimeoutMs: 5000, cmgsTimeoutMs: 60_000, settleMs: 300, urcPattern: DEFAULT_URC, ...options };
    link.on('data', (chunk) => this.onData(chunk));
    link.on('close', (err) => {
      this.gone = err ?? new PortGoneError(link.name, 'port closed');
      const p = this.pending;
      this.pending = undefined;
      if (p) {
        clearTimeout(p.timer);
        p.reject(err ?? new PortGoneError(link.name, `port closed during ${p.command}`));
      }
      this.emit('close', err);
    });
  }

  get isOpen(): boolean {
    return !this.gone;
  }

  /**
   * Echo off and numeric error codes; a modem without +CMEE still works (plain ERROR). First an ESC:
   * a modem left waiting for a PDU by an earlier, interrupted run would otherwise eat our commands;
   * its answer to the ESC (if any) falls in a short stale window and is dropped.
   */
  async init(): Promise<void> {
    if (this.gone) throw this.gone;
    await this.enqueue(async () => {
      await this.write('\x1b');
      this.staleUntil = Date.now() + Math.min(150, this.options.settleMs);
    });
    await this.exec('AT');
    await this.run('ATE0');
    await this.exec('AT+CMEE=1');
  }

  /** Resolves with any final result; rejects only on timeout or a vanished port. */
  exec(command: string, opts: { timeoutMs?: number } = {}): Promise<AtResponse> {
    return this.enqueue(() => this.execNow(command, opts.timeoutMs ?? this.options.timeoutMs));
  }

  /** Like exec, but a final result other than OK throws AtCommandError with the code explained. */
  async run(command: string, opts: { timeoutMs?: number } = {}): Promise<AtResponse> {
    const r = await this.exec(command, opts);
    if (!r.ok) throw new AtCommandError(r);
    return r;
  }

  /**
   * AT+CMGS=<tpduLength>, wait for `> `, type the PDU and Ctrl-Z, wait for +CMGS: <mr>. Never rejects:
   * the outcome says how far it got, so a caller never reports a half-sent part as sent.
   */
  sendPdu(tpduLength: number, pduHex: string): Promise<CmgsOutcome> {
    return this.enqueue(async () => {
      let pduWritten = false;
      try {
        const response = await this.cmgsNow(tpduLength, pduHex, () => {
          pduWritten = true;
        });
        return { response, pduWritten };
      } catch (e) {
        return { pduWritten, error: e as Error };
      }
    });
  }

  close(): Promise<void> {
    return this.link.close();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async settle(): Promise<void> {
    while (Date.now() < this.staleUntil) await new Promise((r) => setTimeout(r, Math.max(10, this.staleUntil - Date.now())));
  }

  private async execNow(command: string, timeoutMs: number): Promise<AtResponse> {
    if (this.gone) throw this.gone;
    await this.settle();
    return new Promise<AtResponse>((resolve, reject) => {
      const p: Pending = { command, lines: [], resolve, reject, stage: 'to the command', ...optional('prefix', responsePrefix(command)) };
      this.start(p, timeoutMs);
      this.write(`${command}\r`).catch((e: Error) => this.abort(p, e));
    });
  }

  private async cmgsNow(tpduLength: number, pduHex: string, written: () => void): Promise<AtResponse> {
    if (this.gone) throw this.gone;
    await this.settle();
    const command = `AT+CMGS=${tpduLength}`;
    return new Promise<AtResponse>((resolve, reject) => {
      const p: Pending = { command, prefix: '+CMGS', lines: [], resolve, reject, stage: 'waiting for the > prompt', pduHex };
      p.onPrompt = () => {
        p.onPrompt = undefined;
        p.stage = 'to the PDU (waiting for +CMGS)';
        clearTimeout(p.timer);
        this.arm(p, this.options.cmgsTimeoutMs);
        this.write(`${pduHex}\x1a`).then(
          () => {
            if (this.pending === p) written();
          },
          (e: Error) => {
            // Bytes that reached the OS before the port died may still reach the modem: not "not sent".
            if (e instanceof PortGoneError && e.afterWrite && this.pending === p) written();
            this.abort(p, e);
          },
        );
      };
      this.start(p, this.options.promptTimeoutMs);
      this.write(`${command}\r`).catch((e: Error) => this.abort(p, e));
    });
  }

  private start(p: Pending, timeoutMs: number): void {
    this.pending = p;
    this.arm(p, timeoutMs);
  }

  private arm(p: Pending, timeoutMs: number): void {
    p.timer = setTimeout(() => {
      if (this.pending !== p) return;
      this.pending = undefined;
      this.staleUntil = Date.now() + this.options.settleMs;
      // A modem still waiting for the PDU would swallow the next command: ESC cancels the entry.
      if (p.onPrompt) this.write('\x1b').catch(() => undefined);
      p.reject(new AtTimeoutError(p.command, p.stage, p.lines, timeoutMs));
    }, timeoutMs);
  }

  private abort(p: Pending, e: Error): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(e);
  }

  private write(text: string): Promise<void> {
    this.emit('trace', 'tx', text.replace(/\r$/, '').replace('\x1a', '<Ctrl-Z>').replace('\x1b', '<ESC>'));
    return this.link.write(text);
  }

  private onData(chunk: Uint8Array): void {
    this.buf += Buffer.from(chunk).toString('latin1');
    for (;;) {
      const p = this.pending;
      if (p?.onPrompt && this.takePrompt()) {
        p.onPrompt();
        continue;
      }
      // Searched from where the last search stopped: a run arriving a byte at a time was searched
      // whole for every byte, up to MAX_LINE looks per byte.
      // (test, not exec: where it stopped is lastIndex, and no match array is made per line)
      LINE_END.lastIndex = this.searched;
      const end = LINE_END.test(this.buf) ? LINE_END.lastIndex - 1 : -1;
      if (end < 0) {
        this.searched = this.buf.length;
        // A bare prompt nobody waits for (a cancelled CMGS) would otherwise prefix the next line.
        if (!p?.onPrompt && (this.buf === '>' || this.buf === '> ')) this.drop(this.buf.length);
        else if (this.buf.length > MAX_LINE) {
          // Kept, it grew without bound and was searched again for every chunk: 1 MB without a line
          // end took 13 s of CPU. Dropped (and said so in the trace), with its tail.
          this.emit('trace', 'drop', `${this.buf.length} bytes without a line end (not AT text)`);
          this.drop(this.buf.length);
          this.overlong = true;
        }
        return;
      }
      const line = this.buf.slice(0, end).trim();
      this.drop(end + 1);
      if (this.overlong) {
        this.overlong = false;
        if (line) this.emit('trace', 'drop', `${line.length} more bytes of the dropped run`);
        continue;
      }
      if (line) this.onLine(line);
    }
  }

  /**
   * `> ` after any line ends, for an AT+CMGS waiting for it. Line ends before something else are
   * taken at once (as empty lines they would end a dropped run, nothing more): left, they were
   * looked over again for each of them.
   */
  private takePrompt(): boolean {
    let k = 0;
    while (k < this.buf.length && (this.buf[k] === '\r' || this.buf[k] === '\n')) k++;
    if (this.buf[k] === '>') {
      this.drop(this.buf[k + 1] === ' ' ? k + 2 : k + 1);
      this.emit('trace', 'rx', '> ');
      return true;
    }
    if (k > 0) {
      this.drop(k);
      this.overlong = false;
    }
    return false;
  }

  /** The first `n` characters held are done with; what was searched of the rest stays searched. */
  private drop(n: number): void {
    this.buf = this.buf.slice(n);
    this.searched = Math.max(0, this.searched - n);
  }

  private onLine(raw: string): void {
    if (this.urcLines && isFinalResult(raw.replace(/^> ?/, '').replace(/\x1a/g, '').trim())) {
      // The line after +CMT / +CDS / +CBM is its PDU, which is hex; a final result is not. Taken as
      // the PDU, the OK / ERROR / +CMS ERROR of the command in flight was lost and the command timed
      // out (found by fuzzing): the URC goes out with the line it has, the final result ends the command.
      const lines = this.urcLines;
      this.urcLines = undefined;
      this.emit('urc', lines);
    }
    if (this.urcLines) {
      this.urcLines.push(raw);
      this.emit('trace', 'rx', raw);
      const lines = this.urcLines;
      this.urcLines = undefined;
      this.emit('urc', lines);
      return;
    }
    const p = this.pending;
    // With echo on, the modem repeats what we typed (the PDU, too, after `> `).
    let line = raw.replace(/^> ?/, '');
    if (p && (line.toUpperCase() === p.command.toUpperCase() || (p.pduHex && line.replace(/\x1a/g, '').toUpperCase() === p.pduHex.toUpperCase()))) {
      this.emit('trace', 'drop', `${raw} (echo)`);
      return;
    }
    line = line.replace(/\x1a/g, '').trim();
    // Nothing left once a stray prompt or Ctrl-Z is gone: not an information line (nor a URC).
    if (line === '') {
      this.emit('trace', 'drop', `${raw} (prompt or Ctrl-Z alone)`);
      return;
    }
    if (!p) {
      if (Date.now() < this.staleUntil) {
        this.staleUntil = Date.now() + this.options.settleMs;
        this.emit('trace', 'drop', `${line} (late answer to a timed-out command)`);
        return;
      }
      if (isFinalResult(line)) {
        this.emit('trace', 'drop', `${line} (no command in flight)`);
        return;
      }
      this.unsolicited(line);
      return;
    }
    this.emit('trace', 'rx', line);
    if (isFinalResult(line)) {
      this.pending = undefined;
      clearTimeout(p.timer);
      p.resolve({ command: p.command, lines: p.lines, final: line, ok: isSuccess(line), explanation: explainFinal(line) });
      return;
    }
    if (!(p.prefix && line.toUpperCase().startsWith(`${p.prefix}:`)) && this.options.urcPattern.test(line)) {
      this.unsolicited(line, true);
      return;
    }
    p.lines.push(line);
  }

  private unsolicited(line: string, traced = false): void {
    if (!traced) this.emit('trace', 'rx', line);
    if (TWO_LINE_URC.test(line)) {
      this.urcLines = [line];
      return;
    }
    this.emit('urc', [line]);
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
