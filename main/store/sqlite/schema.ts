/**
 * The SQLite store's tables (SCHEMA_VERSION) and the steps that bring an older data folder up to
 * them in place. test/fixtures/store/schema-v1.sql and schema-v2.sql freeze the older schemas the
 * migrations start from.
 */
import type Database from 'better-sqlite3';
import { UNCONFIRMED_POLICIES } from '../types.js';
import { READ_ONLY_KINDS } from '../job-settlement.js';
import { INDEX_SCHEMA, migrateToV3 } from '../message-index.js';

/**
 * 1: the first release. 2: jobs may be 'unconfirmed' and carry on_unconfirmed and verify
 * (migrateToV2). 3: the message index for display filters (message-index.ts; migrateToV3 backfills it).
 * A data folder opens with the schema it has and is brought up to this one in place.
 */
export const SCHEMA_VERSION = 3;

/** The jobs table as of SCHEMA_VERSION (a function: migrateToV2 builds it under another name first). */
function jobsTable(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT NOT NULL,
  command TEXT NOT NULL,
  target TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'done', 'failed', 'unconfirmed')),
  status_code INTEGER,
  results TEXT NOT NULL DEFAULT '[]',
  members TEXT NOT NULL DEFAULT '[]',
  session_id INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  on_unconfirmed TEXT NOT NULL DEFAULT 'ask' CHECK (on_unconfirmed IN (${UNCONFIRMED_POLICIES.map((p) => `'${p}'`).join(', ')})),
  verify INTEGER NOT NULL DEFAULT 0 CHECK (verify IN (0, 1))
);`;
}

/**
 * v1 -> v2. SQLite cannot change a CHECK constraint in place, so the jobs table is rebuilt (the
 * procedure of https://sqlite.org/lang_altertable.html#otheralter): new table, copy, drop, rename,
 * index. Runs in the caller's transaction: a crash leaves v1 untouched. Jobs keep their ids, and the
 * id sequence its high-water mark (ids of deleted jobs are never handed out again). Existing jobs get
 * the policy a new job of their kind gets. Nothing references jobs by foreign key.
 */
function migrateToV2(db: Database.Database): void {
  const readOnly = READ_ONLY_KINDS.map((k) => `'${k}'`).join(', ');
  const seq = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).get() as { seq: number } | undefined)?.seq ?? 0;
  db.exec(`${jobsTable('jobs_v2')}
    INSERT INTO jobs_v2 (id, device, command, target, spec, status, status_code, results, members, session_id, attempts, error, created_at, updated_at, on_unconfirmed, verify)
      SELECT id, device, command, target, spec, status, status_code, results, members, session_id, attempts, error, created_at, updated_at,
        CASE WHEN command IN (${readOnly}) THEN 'resend' ELSE 'ask' END, 0
      FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_v2 RENAME TO jobs;
    CREATE INDEX IF NOT EXISTS jobs_by_device ON jobs (device, status, id);`);
  const now = (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).get() as { seq: number } | undefined)?.seq ?? 0;
  db.prepare(`DELETE FROM sqlite_sequence WHERE name IN ('jobs', 'jobs_v2')`).run();
  if (Math.max(seq, now) > 0) db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)`).run(Math.max(seq, now));
}

/** Each step brings a data folder from version N to N + 1 (index N - 1). */
const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [migrateToV2, migrateToV3];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  dev_id TEXT PRIMARY KEY,
  dev_info TEXT NOT NULL DEFAULT '{}',
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  client_cred_name TEXT,
  client_cred_secret TEXT,
  notify_url TEXT,
  auth TEXT NOT NULL DEFAULT '{"authFailures":[]}'
);
${jobsTable('jobs')}
CREATE INDEX IF NOT EXISTS jobs_by_device ON jobs (device, status, id);
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device TEXT,
  dm_session_id TEXT,
  state TEXT NOT NULL,
  encoding TEXT,
  auth_type TEXT,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_device ON sessions (device, id);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER NOT NULL REFERENCES sessions (id),
  seq INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  at TEXT NOT NULL,
  duration_ms REAL,
  msg_id TEXT,
  content_type TEXT,
  http_status INTEGER,
  bytes BLOB NOT NULL,
  decoded TEXT,
  error TEXT,
  note TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages (session_id, seq);
CREATE TABLE IF NOT EXISTS tree (
  device TEXT NOT NULL,
  uri TEXT NOT NULL,
  format TEXT,
  type TEXT,
  data TEXT,
  encoding TEXT,
  fetched_at TEXT NOT NULL,
  PRIMARY KEY (device, uri)
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER,
  device TEXT NOT NULL,
  code TEXT NOT NULL,
  correlator TEXT,
  items TEXT NOT NULL,
  at TEXT NOT NULL
);
`;

/**
 * Creates the schema in a new data folder, or migrates an older one in place, in one write
 * transaction (another process opening the folder at the same time waits, then finds it done).
 */
export function upgrade(db: Database.Database, file: string): void {
  const tooNew = (v: number) => new Error(`${file} has schema version ${v}; this dmw knows up to ${SCHEMA_VERSION}`);
  const seen = db.pragma('user_version', { simple: true }) as number;
  if (seen > SCHEMA_VERSION) throw tooNew(seen);
  if (seen === SCHEMA_VERSION) return;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw tooNew(version);
    if (version === 0) db.exec(SCHEMA + INDEX_SCHEMA);
    else {
      try {
        for (let v = version; v < SCHEMA_VERSION; v++) MIGRATIONS[v - 1]!(db);
      } catch (e) {
        throw new Error(`${file}: could not migrate schema version ${version} to ${SCHEMA_VERSION}: ${(e as Error).message}; the data folder is unchanged`);
      }
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
