/**
 * The PostgreSQL schema, as numbered migrations (issue 16: versioned schema migrations).
 *
 * `schema_version` holds one row per migration applied. Each migration runs in its own transaction
 * together with its row, so a crash or an error leaves the database at the previous version, never
 * half-way. Several instances start at once against one database: each takes a transaction-level
 * advisory lock first, so one migrates while the others wait and then find nothing to do. Starting
 * on an up-to-date database reads one table and changes nothing.
 *
 * Version 1 is the SQLite store's schema v2 (main/store/server-store.ts: devices, jobs with
 * 'unconfirmed', on_unconfirmed and verify, sessions, messages, the tree cache, alerts) in
 * PostgreSQL's types, plus what several instances need: session_state (a live session's state,
 * claimed per turn) and events (fanned out with LISTEN/NOTIFY). Version 2 is the message index (the
 * SQLite store's v3, display filters: postgres/message-index.ts).
 *
 * json, not jsonb, for what is read back whole (spec, results, members, auth, items, state): json
 * keeps the text as written, so a job reads back with its keys in the order it was queued with.
 * dev_info is jsonb: it is merged in place (`||`), as SQLite's json_patch does.
 */
import type pg from 'pg';
import { JOB_STATUSES, UNCONFIRMED_POLICIES } from '../types.js';
import { INDEX_MIGRATION_SQL } from './message-index.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');
const SESSION_STATES = ['active', 'done', 'aborted', 'timeout', 'interrupted', 'failed', 'rejected', 'imported'];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, jobs, sessions, messages, tree, alerts, session_state, events',
    sql: `
CREATE TABLE devices (
  dev_id text PRIMARY KEY,
  dev_info jsonb NOT NULL DEFAULT '{}',
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  client_cred_name text,
  client_cred_secret text,
  notify_url text,
  auth json NOT NULL DEFAULT '{"authFailures":[]}'
);
CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  device text NOT NULL,
  command text NOT NULL,
  target text NOT NULL,
  spec json NOT NULL,
  status text NOT NULL CHECK (status IN (${list(JOB_STATUSES)})),
  status_code integer,
  results json NOT NULL DEFAULT '[]',
  members json NOT NULL DEFAULT '[]',
  session_id bigint,
  attempts integer NOT NULL DEFAULT 0,
  error text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  on_unconfirmed text NOT NULL DEFAULT 'ask' CHECK (on_unconfirmed IN (${list(UNCONFIRMED_POLICIES)})),
  verify boolean NOT NULL DEFAULT false
);
CREATE INDEX jobs_by_device ON jobs (device, status, id);
CREATE INDEX jobs_sent_by_session ON jobs (session_id) WHERE status = 'sent';
CREATE TABLE sessions (
  id bigserial PRIMARY KEY,
  device text,
  dm_session_id text,
  state text NOT NULL CHECK (state IN (${list(SESSION_STATES)})),
  encoding text,
  auth_type text,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  reason text
);
CREATE INDEX sessions_by_device ON sessions (device, id);
CREATE INDEX sessions_active ON sessions (id) WHERE state = 'active';
CREATE TABLE messages (
  id bigserial PRIMARY KEY,
  session_id bigint NOT NULL REFERENCES sessions (id),
  seq integer NOT NULL,
  direction text NOT NULL CHECK (direction IN ('in', 'out')),
  at timestamptz NOT NULL,
  duration_ms double precision,
  msg_id text,
  content_type text,
  http_status integer,
  bytes bytea NOT NULL,
  decoded text,
  error text,
  note text
);
CREATE INDEX messages_by_session ON messages (session_id, seq);
CREATE TABLE tree (
  device text NOT NULL,
  uri text NOT NULL,
  format text,
  type text,
  data text,
  encoding text,
  fetched_at timestamptz NOT NULL,
  PRIMARY KEY (device, uri)
);
CREATE TABLE alerts (
  id bigserial PRIMARY KEY,
  session_id bigint,
  device text NOT NULL,
  code text NOT NULL,
  correlator text,
  items json NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX alerts_by_device ON alerts (device, id);
CREATE TABLE session_state (
  key text PRIMARY KEY,
  session_id bigint NOT NULL REFERENCES sessions (id),
  version bigint NOT NULL,
  owner text,
  lease_until timestamptz,
  state json NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  body json NOT NULL
);
`,
  },
  {
    // The message index for display filters (postgres/message-index.ts; SQLite's schema v3). Messages
    // logged before it are indexed by PostgresStore.open's catch-up, not here (that decodes in JS).
    version: 2,
    name: 'message index: msg_index, cmd_index (pg_trgm on item text when available), msg_findings, judged_sessions',
    sql: INDEX_MIGRATION_SQL,
  },
  {
    // DM-6 federation (main/store/federation/postgres.ts): the SQLite file's api_* tables. subtrees is
    // jsonb (a grant merges its subtrees in place; arrays keep their order). A job's owner row goes
    // with the job (clearJobs).
    version: 3,
    name: 'federation: api_grants, api_job_owners, api_delegations',
    sql: `
CREATE TABLE api_grants (
  peer text NOT NULL,
  device text NOT NULL,
  subtrees jsonb NOT NULL,
  origin text NOT NULL CHECK (origin IN ('grant', 'delegation')),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (peer, device)
);
CREATE TABLE api_job_owners (
  job_id bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  principal text NOT NULL
);
CREATE TABLE api_delegations (
  id bigserial PRIMARY KEY,
  direction text NOT NULL CHECK (direction IN ('out', 'in')),
  device text NOT NULL,
  peer text NOT NULL,
  subtrees jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'active', 'failed')),
  job_id bigint,
  remote_id bigint,
  error text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX api_delegations_by_job ON api_delegations (job_id);
`,
  },
  {
    // Several instances (main/server/shared-sessions.ts): a session not yet authenticated has its
    // state row before it has a sessions row (its session_id is negative, as its Live's id), and an
    // alias row per (DevId, SessionID) names the token of the newest session; so no foreign key.
    // The sweep looks for rows idle since a time.
    version: 4,
    name: 'shared sessions: session_state without the sessions foreign key, idle index',
    sql: `
ALTER TABLE session_state DROP CONSTRAINT IF EXISTS session_state_session_id_fkey;
CREATE INDEX session_state_idle ON session_state (updated_at);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Any 64-bit number of our own: the advisory lock every instance takes to migrate. */
const MIGRATION_LOCK = 0x646d_775f_7367; // "dmw_sg"

export interface MigrationReport {
  /** The version found before (0: an empty database). */
  from: number;
  to: number;
  applied: number[];
}

/**
 * Brings the database to SCHEMA_VERSION (or to `upTo`, for tests), one transaction per migration.
 * Throws when the database is newer than this dmw knows (its data is left alone).
 */
export async function migrate(pool: pg.Pool, opts: { upTo?: number; migrations?: readonly Migration[] } = {}): Promise<MigrationReport> {
  const migrations = opts.migrations ?? MIGRATIONS;
  const target = opts.upTo ?? migrations[migrations.length - 1]!.version;
  const known = migrations[migrations.length - 1]!.version;
  let from: number | undefined;
  const applied: number[] = [];
  const client = await pool.connect();
  try {
    for (;;) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_version (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
        const current = r.rows[0]?.v ?? 0;
        from ??= current;
        if (current > known) throw new Error(`the database has schema version ${current}; this dmw knows up to ${known} (upgrade dmw; the database is unchanged)`);
        const next = migrations.find((m) => m.version === current + 1);
        if (current >= target || !next) {
          await client.query('COMMIT');
          return { from, to: current, applied };
        }
        try {
          await client.query(next.sql);
        } catch (e) {
          throw new Error(`could not migrate the database from schema version ${current} to ${next.version} (${next.name}): ${(e as Error).message}; it stays at version ${current}`);
        }
        await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [next.version, next.name]);
        await client.query('COMMIT');
        applied.push(next.version);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
  } finally {
    client.release();
  }
}
