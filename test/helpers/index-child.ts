/**
 * A second process on a data folder, for the deferred message index's tests
 * (test/unit/message-index-deferred.test.ts). Run with `node --import tsx`:
 *
 *   index-child.ts reader DIR FILTER   opens the store, prints "ready", waits for a line on stdin,
 *                                      then prints findCommands(FILTER) as JSON and closes
 *   index-child.ts log-and-die DIR DEV logs a session of four messages through the group commit
 *                                      (index rows deferred), prints "logged", and kills itself
 *                                      (SIGKILL: no close, no flush)
 */
import { createInterface } from 'node:readline';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import { logLiveSession } from './index-live-session.js';

const [mode, dir, arg] = process.argv.slice(2);

async function main(): Promise<void> {
  if (!dir) throw new Error('usage: index-child.ts reader|log-and-die DIR ARG');
  const store = SqliteStore.open(dir, { busyTimeoutMs: 20_000 });
  if (mode === 'reader') {
    process.stdout.write('ready\n');
    const lines = createInterface({ input: process.stdin });
    for await (const _ of lines) break;
    process.stdout.write(`${JSON.stringify(await store.findCommands(arg!))}\n`);
    await store.close();
    return;
  }
  if (mode === 'log-and-die') {
    await logLiveSession(store, { devId: arg! });
    process.stdout.write('logged\n', () => process.kill(process.pid, 'SIGKILL'));
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
