/**
 * The federation's tables in the shared PostgreSQL database (migration 3 of
 * main/store/postgres/migrations.ts), read and written by every instance. Same answers as the SQLite
 * tables (./sqlite.ts), ids and times included; what several instances could race on is decided by
 * one statement each: a grant merges its subtrees in the upsert that holds the row's lock, and a
 * delegation's Atomic settles it only while it is still pending.
 *
 * Statements go through the PostgresStore (so an outage is a StoreUnavailableError, as for the
 * store's own calls) or, inside tx(), through that transaction's connection.
 */
import type pg from 'pg';
import type { PgOps } from '../postgres/ops.js';
import type { PostgresStore } from '../postgres/postgres-store.js';
import type { DmStoreOps } from '../store.js';
import {
  mergeSubtrees, type Delegation, type DelegationStatus, type FederationOps, type FederationStore, type Grant, type NewDelegation,
} from './federation-store.js';
import { iso, isoOfDate } from '../../util/iso-time.js';

type Sql = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

interface GrantRow { peer: string; device: string; subtrees: string[]; origin: string; created_at: Date }
interface DelegationRow {
  id: number; direction: string; device: string; peer: string; subtrees: string[]; status: string; job_id: number | null;
  remote_id: number | null; error: string | null; created_at: Date; updated_at: Date;
}

function grantFromRow(r: GrantRow): Grant {
  return { peer: r.peer, device: r.device, subtrees: r.subtrees, origin: r.origin as Grant['origin'], createdAt: isoOfDate(r.created_at) };
}

function delegationFromRow(r: DelegationRow): Delegation {
  return {
    id: r.id, direction: r.direction as Delegation['direction'], device: r.device, peer: r.peer, subtrees: r.subtrees,
    status: r.status as DelegationStatus, jobId: r.job_id, remoteId: r.remote_id, error: r.error,
    createdAt: isoOfDate(r.created_at), updatedAt: isoOfDate(r.updated_at),
  };
}

/** text ordered by bytes, as SQLite's BINARY: the database's collation (say en_US) would order otherwise. */
const BYTES = 'COLLATE "C"';

class PgFederationOps implements FederationOps {
  constructor(protected readonly sql: Sql) {}

  private async rows<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    return (await this.sql<R>(text, values)).rows;
  }

  async grant(peer: string, device: string, subtrees: readonly string[], origin: Grant['origin'], now: number): Promise<Grant> {
    // The upsert holds the row's lock while it merges: two instances granting at once both count.
    const [r] = await this.rows<GrantRow>(`INSERT INTO api_grants AS g (peer, device, subtrees, origin, created_at) VALUES ($1, $2, $3::jsonb, $4, $5)
      ON CONFLICT (peer, device) DO UPDATE SET subtrees = (
        SELECT jsonb_agg(u.s ORDER BY u.first) FROM (
          SELECT t.s, min(t.o) AS first FROM jsonb_array_elements(g.subtrees || excluded.subtrees) WITH ORDINALITY AS t(s, o) GROUP BY t.s
        ) u)
      RETURNING *`, [peer, device, JSON.stringify(mergeSubtrees([], subtrees)), origin, iso(now)]);
    return grantFromRow(r!);
  }

  async revoke(peer: string, device: string): Promise<boolean> {
    return ((await this.sql('DELETE FROM api_grants WHERE peer = $1 AND device = $2', [peer, device])).rowCount ?? 0) > 0;
  }

  async grants(f: { peer?: string; device?: string } = {}): Promise<Grant[]> {
    const rows = await this.rows<GrantRow>(`SELECT * FROM api_grants WHERE ($1::text IS NULL OR peer = $1) AND ($2::text IS NULL OR device = $2)
      ORDER BY device ${BYTES}, peer ${BYTES}`, [f.peer ?? null, f.device ?? null]);
    return rows.map(grantFromRow);
  }

  async setJobOwner(jobId: number, principal: string): Promise<void> {
    await this.sql('INSERT INTO api_job_owners (job_id, principal) VALUES ($1, $2)', [jobId, principal]);
  }

  async jobOwner(jobId: number): Promise<string | undefined> {
    return (await this.rows<{ principal: string }>('SELECT principal FROM api_job_owners WHERE job_id = $1', [jobId]))[0]?.principal;
  }

  async delegation(id: number): Promise<Delegation | undefined> {
    const [r] = await this.rows<DelegationRow>('SELECT * FROM api_delegations WHERE id = $1', [id]);
    return r && delegationFromRow(r);
  }

  async delegations(f: { peer?: string; device?: string } = {}): Promise<Delegation[]> {
    const rows = await this.rows<DelegationRow>(`SELECT * FROM api_delegations WHERE ($1::text IS NULL OR peer = $1) AND ($2::text IS NULL OR device = $2)
      ORDER BY id`, [f.peer ?? null, f.device ?? null]);
    return rows.map(delegationFromRow);
  }

  async addDelegation(d: NewDelegation, now: number): Promise<Delegation> {
    const [r] = await this.rows<DelegationRow>(`INSERT INTO api_delegations (direction, device, peer, subtrees, status, job_id, remote_id, error, created_at, updated_at)
      VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $9) RETURNING *`,
    [d.direction, d.device, d.peer, JSON.stringify(d.subtrees), d.status, d.jobId, d.remoteId, d.error, iso(now)]);
    return delegationFromRow(r!);
  }

  async setDelegationStatus(id: number, status: DelegationStatus, error: string | null, now: number): Promise<Delegation | undefined> {
    const [r] = await this.rows<DelegationRow>('UPDATE api_delegations SET status = $2, error = $3, updated_at = $4 WHERE id = $1 RETURNING *', [id, status, error, iso(now)]);
    return r && delegationFromRow(r);
  }

  async setDelegationJob(id: number, jobId: number, remoteId: number | null, now: number): Promise<Delegation | undefined> {
    const [r] = await this.rows<DelegationRow>('UPDATE api_delegations SET job_id = $2, remote_id = $3, updated_at = $4 WHERE id = $1 RETURNING *', [id, jobId, remoteId, iso(now)]);
    return r && delegationFromRow(r);
  }

  async settleDelegationJob(jobId: number, status: 'active' | 'failed', error: string | null, now: number): Promise<Delegation | undefined> {
    // A second settler waits for the first's lock, then finds the row no longer pending: once only.
    const [r] = await this.rows<DelegationRow>(`UPDATE api_delegations SET status = $2, error = $3, updated_at = $4
      WHERE id = (SELECT id FROM api_delegations WHERE job_id = $1 AND direction = 'out' AND status = 'pending' ORDER BY id LIMIT 1)
        AND status = 'pending'
      RETURNING *`, [jobId, status, error, iso(now)]);
    return r && delegationFromRow(r);
  }
}

export class PgFederationStore extends PgFederationOps implements FederationStore {
  readonly kind = 'postgres' as const;

  constructor(private readonly store: PostgresStore) {
    super((text, values) => store.sql(text, values));
  }

  tx<T>(fn: (f: FederationOps, s: DmStoreOps) => Promise<T>): Promise<T> {
    // PostgresStore.tx hands fn its PgOps on the transaction's connection: ours run there too.
    return this.store.tx((s) => {
      const ops = s as PgOps;
      return fn(new PgFederationOps((text, values) => ops.sql(text, values)), s);
    });
  }
}
