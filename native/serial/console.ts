/**
 * A raw console on a port for device logs (bootloader / modem debug UARTs): bytes go to a sink as they
 * come; with timestamps, each line is prefixed with the time its first byte arrived.
 */
import type { ByteLink } from './link.js';

export interface ConsoleOptions {
  timestamps?: boolean;
  now?: () => Date;
}

export interface ConsoleSession {
  /** Resolves when the port closes; with the error when it vanished. */
  done: Promise<Error | undefined>;
  stop(): Promise<void>;
}

export function attachConsole(link: ByteLink, sink: (chunk: Uint8Array | string) => void, o: ConsoleOptions = {}): ConsoleSession {
  const now = o.now ?? (() => new Date());
  let atLineStart = true;
  const onData = (chunk: Uint8Array) => {
    if (!o.timestamps) return sink(chunk);
    let text = '';
    for (const ch of Buffer.from(chunk).toString('latin1')) {
      if (atLineStart && ch !== '\n' && ch !== '\r') {
        text += `[${now().toISOString()}] `;
        atLineStart = false;
      }
      text += ch;
      if (ch === '\n') atLineStart = true;
    }
    sink(Buffer.from(text, 'latin1'));
  };
  link.on('data', onData);
  const done = new Promise<Error | undefined>((resolve) => link.once('close', (e) => resolve(e)));
  return {
    done,
    async stop() {
      link.off('data', onData);
      await link.close();
    },
  };
}
