/**
 * Tests that look into a running server's SQLite store synchronously (what it logged, a job's
 * state right now) read it through the ServerStore under the DmStore adapter. The server itself
 * only uses DmStore; a test of a PostgreSQL server reads through DmStore (awaited).
 */
import type { ServerStore } from '../../main/store/server-store.js';
import { SqliteStore } from '../../main/store/sqlite/sqlite-store.js';
import type { DmStore } from '../../main/store/store.js';

export function sync(store: DmStore): ServerStore {
  if (!(store instanceof SqliteStore)) throw new Error(`this test reads the SQLite store directly; the store is ${store.kind}`);
  return store.serverStore;
}
