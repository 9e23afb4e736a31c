/**
 * Opens the store a server, the API or the CLI works on: the embedded SQLite store in the data
 * folder (the default), or a shared PostgreSQL database named by a URL (`--store`, DMW_STORE_URL).
 */
import type { StoreOptions } from './sqlite/server-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { DmStore } from './store.js';

export interface OpenStoreOptions {
  /** The data folder (SQLite's dmw.sqlite lives there when no storeUrl is given). */
  dataDir: string;
  /** postgres://USER@HOST:PORT/DB (or postgresql://…); unset: SQLite in dataDir. */
  storeUrl?: string;
  /** SQLite's options (durability, fsync, busy timeout). */
  sqlite?: StoreOptions;
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

export async function openStore(o: OpenStoreOptions): Promise<DmStore> {
  const url = o.storeUrl?.trim();
  if (url === undefined || url === '') return SqliteStore.open(o.dataDir, o.sqlite);
  if (!POSTGRES_URL.test(url)) {
    throw new Error(`store URL "${redact(url)}" is not one this dmw can open: give postgres://USER@HOST:PORT/DB (or postgresql://…), or no URL for SQLite in the data folder`);
  }
  try {
    new URL(url);
  } catch {
    throw new Error(`store URL "${redact(url)}" is not a valid URL: give postgres://USER@HOST:PORT/DB`);
  }
  // Loaded only when asked for: a bench on SQLite never loads the PostgreSQL driver.
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  try {
    return await PostgresStore.open(url);
  } catch (e) {
    throw new Error(`could not open the store at ${redact(url)}: ${(e as Error).message}`, { cause: e });
  }
}

/** The URL as it may be shown: a password in it is replaced by `***`. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
