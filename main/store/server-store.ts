/**
 * The SQLite store moved to main/store/sqlite/server-store.ts (issue 16: the store owns its types
 * and imports no server code). This path stays for the importers that name it.
 */
export * from './sqlite/server-store.js';
