/**
 * A pseudo-terminal pair joined by socat: a serial "cable" with a port at each end, so a simulated
 * handset/modem can sit at one end and the code under test at the other, as with a USB handset.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface PtyPair {
  a: string;
  b: string;
  socat: ChildProcess;
  /** Pulls the cable: both ports vanish. */
  kill(): void;
}

/** Waits until socat has made both links and started copying; `onCleanup` receives the kill. */
export async function ptyPair(dir: string, name: string, onCleanup: (kill: () => void) => void): Promise<PtyPair> {
  const a = path.join(dir, `${name}A`);
  const b = path.join(dir, `${name}B`);
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  socat.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const kill = () => {
    if (socat.exitCode === null && socat.signalCode === null) socat.kill('SIGTERM');
  };
  onCleanup(kill);
  const deadline = Date.now() + 5000;
  while (!(existsSync(a) && existsSync(b) && log.includes('starting data transfer loop'))) {
    if (Date.now() > deadline || socat.exitCode !== null) throw new Error(`socat did not make the pty pair: ${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { a, b, socat, kill };
}
