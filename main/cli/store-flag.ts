/**
 * Which store a `dmw job|session|capture` command works on: the SQLite store in `--data DIR` (the
 * default), or a shared lab server's PostgreSQL database given by `--store URL`, else by the
 * environment's DMW_STORE_URL (issue 16). `--data DIR` still names the folder for the files beside
 * the store (settings a session export records), but is not needed for the database then.
 *
 * A URL that is not a PostgreSQL one, or a database that cannot be reached, is bad input: exit 2
 * with the URL (its password hidden) and where it came from.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DmStore } from '../store/store.js';
import { CliError } from './errors.js';

/** The options every store-reading subcommand takes (with parseArgs). */
export const STORE_OPTIONS = {
  data: { type: 'string' },
  store: { type: 'string' },
} as const;

/** What the subcommands' help says about --store (one paragraph, same words everywhere). */
export const STORE_HELP = `--store URL: the shared lab server's database (postgres://USER@HOST:PORT/DB, or postgresql://...)
     instead of the SQLite store in --data DIR; default $DMW_STORE_URL (set, it is the store even with
     --data DIR, which then only names the folder of other files). Same commands, same output.`;

export const DMW_STORE_URL = 'DMW_STORE_URL';

export interface StoreValues {
  data?: string | undefined;
  store?: string | undefined;
}

/** The URL with its password replaced (errors and logs must not show it). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, '$1***@');
}

/** The store URL these flags ask for, and where it came from; undefined: the SQLite store in --data. */
export function storeUrlOf(values: StoreValues, env: NodeJS.ProcessEnv = process.env): { url: string; from: string } | undefined {
  if (values.store !== undefined) return { url: values.store, from: '--store' };
  const fromEnv = env[DMW_STORE_URL];
  if (fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, from: DMW_STORE_URL };
  return undefined;
}

/** Refuses a URL the store cannot be opened from, naming it: exit 2. */
export function checkStoreUrl(s: { url: string; from: string }): void {
  const shown = `${s.from} ${redactUrl(s.url)}`;
  if (!/^postgres(ql)?:\/\//i.test(s.url)) {
    throw new CliError(`${shown}: not a store URL; expected postgres://USER@HOST:PORT/DB or postgresql://USER@HOST:PORT/DB (or no URL: the SQLite store in --data DIR)`);
  }
  try {
    const u = new URL(s.url);
    if (!u.hostname && !u.searchParams.has('host')) throw new Error('no host');
  } catch (e) {
    throw new CliError(`${shown}: not a valid URL (${(e as Error).message}); expected postgres://USER@HOST:PORT/DB`);
  }
}

/**
 * Opens the store the flags name. SQLite: `create` for commands that may be the first to use the
 * folder (the others refuse a folder without a store). PostgreSQL: the database must exist (the
 * schema is brought up to date on open, as `dmw server` does).
 */
export async function openStore(values: StoreValues, usage: string, create: boolean): Promise<DmStore> {
  const url = storeUrlOf(values);
  // Loaded on use so that other dmw commands never load SQLite or pg.
  const { openStore: open } = await import('../store/open.js');
  if (url) {
    checkStoreUrl(url);
    try {
      return await open({ dataDir: path.resolve(values.data ?? '.'), storeUrl: url.url });
    } catch (e) {
      // openStore's message names the URL (password hidden) and what went wrong.
      throw new CliError(`${url.from}: ${redactUrl((e as Error).message)}`);
    }
  }
  const dir = values.data;
  if (!dir) throw new CliError(`--data DIR is required\nusage: ${usage}`);
  const { DB_FILE } = await import('../store/server-store.js');
  if (!create && !existsSync(path.join(dir, DB_FILE))) throw new CliError(`${dir}: no DM Workbench data here (no ${DB_FILE})`);
  try {
    return await open({ dataDir: dir });
  } catch (e) {
    throw new CliError(`${dir}: cannot open the data folder: ${(e as Error).message}`);
  }
}

/** Where a command's store is, for messages ("no session 7 in ..."). */
export function storePlace(values: StoreValues): string {
  const url = storeUrlOf(values);
  return url ? redactUrl(url.url) : (values.data ?? '.');
}
