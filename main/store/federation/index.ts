/** The federation's tables on the server's store, whichever kind it is (see ./federation-store.ts). */
import { PostgresStore } from '../postgres/postgres-store.js';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import type { DmStore } from '../store.js';
import type { FederationStore } from './federation-store.js';
import { PgFederationStore } from './postgres.js';
import { SqliteFederationStore } from './sqlite.js';

export function federationStoreFor(store: DmStore): FederationStore {
  if (store instanceof PostgresStore) return new PgFederationStore(store);
  if (store instanceof SqliteStore) return new SqliteFederationStore(store.serverStore.db, store);
  throw new Error(`federation: no federation tables for a store of kind "${store.kind}" (${store.constructor.name})`);
}
