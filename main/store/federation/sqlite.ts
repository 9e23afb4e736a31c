/**
 * The federation's tables in the server's SQLite file (the embedded store). These are the tables and
 * the SQL federation.ts always had: a data folder written by an older dmw opens unchanged. They are
 * created on open (IF NOT EXISTS), beside the store's own tables, which they do not touch.
 *
 * Every call is one synchronous better-sqlite3 statement on the store's connection, wrapped in an
 * already-settled promise. Inside tx() the statements run on that same connection, inside the
 * store's transaction, so they commit or roll back with the store's writes.
 */
import type Database from 'better-sqlite3';
import type { DmStore, DmStoreOps } from '../store.js';
import {
  mergeSubtrees, type Delegation, type DelegationStatus, type FederationOps, type FederationStore, type Grant, type NewDelegation,
} from './federation-store.js';
import { iso } from '../../util/iso-time.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_grants (
  peer TEXT NOT NULL, device TEXT NOT NULL, subtrees TEXT NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (peer, device)
);
CREATE TABLE IF NOT EXISTS api_job_owners (job_id INTEGER PRIMARY KEY, principal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_delegations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, direction TEXT NOT NULL, device TEXT NOT NULL, peer TEXT NOT NULL,
  subtrees TEXT NOT NULL, status TEXT NOT NULL, job_id INTEGER, remote_id INTEGER, error TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_delegations_by_job ON api_delegations (job_id);
`;

interface GrantRow { peer: string; device: string; subtrees: string; origin: string; created_at: string }
interface DelegationRow {
  id: number; direction: string; device: string; peer: string; subtrees: string; status: string; job_id: number | null;
  remote_id: number | null; error: string | null; created_at: string; updated_at: string;
}

/** A synchronous call as a settled promise (a throw becomes a rejection). */
function settled<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

function grantFromRow(r: GrantRow): Grant {
  return { peer: r.peer, device: r.device, subtrees: JSON.parse(r.subtrees) as string[], origin: r.origin as Grant['origin'], createdAt: r.created_at };
}

function delegationFromRow(r: DelegationRow): Delegation {
  return {
    id: r.id, direction: r.direction as Delegation['direction'], device: r.device, peer: r.peer, subtrees: JSON.parse(r.subtrees) as string[],
    status: r.status as DelegationStatus, jobId: r.job_id, remoteId: r.remote_id, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

class SqliteFederationOps implements FederationOps {
  constructor(
    protected readonly db: Database.Database,
    /** How a write runs: directly (inside the store's tx already), or as a store tx of its own. */
    private readonly write: <T>(f: () => T) => Promise<T>,
  ) {}

  private grantNow(peer: string, device: string): Grant | undefined {
    const r = this.db.prepare('SELECT * FROM api_grants WHERE peer = ? AND device = ?').get(peer, device) as GrantRow | undefined;
    return r && grantFromRow(r);
  }

  grant(peer: string, device: string, subtrees: readonly string[], origin: Grant['origin'], now: number): Promise<Grant> {
    return this.write(() => {
      // One connection, synchronous: nothing runs between the read and the write.
      const merged = mergeSubtrees(this.grantNow(peer, device)?.subtrees ?? [], subtrees);
      this.db.prepare(`INSERT INTO api_grants (peer, device, subtrees, origin, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (peer, device) DO UPDATE SET subtrees = excluded.subtrees`).run(peer, device, JSON.stringify(merged), origin, iso(now));
      return this.grantNow(peer, device)!;
    });
  }

  revoke(peer: string, device: string): Promise<boolean> {
    return this.write(() => this.db.prepare('DELETE FROM api_grants WHERE peer = ? AND device = ?').run(peer, device).changes > 0);
  }

  grants(f: { peer?: string; device?: string } = {}): Promise<Grant[]> {
    return settled(() => (this.db.prepare(`SELECT * FROM api_grants WHERE (@peer IS NULL OR peer = @peer) AND (@device IS NULL OR device = @device)
      ORDER BY device, peer`).all({ peer: f.peer ?? null, device: f.device ?? null }) as GrantRow[]).map(grantFromRow));
  }

  setJobOwner(jobId: number, principal: string): Promise<void> {
    return this.write(() => void this.db.prepare('INSERT INTO api_job_owners (job_id, principal) VALUES (?, ?)').run(jobId, principal));
  }

  jobOwner(jobId: number): Promise<string | undefined> {
    return settled(() => (this.db.prepare('SELECT principal FROM api_job_owners WHERE job_id = ?').get(jobId) as { principal: string } | undefined)?.principal);
  }

  private delegationNow(id: number): Delegation | undefined {
    const r = this.db.prepare('SELECT * FROM api_delegations WHERE id = ?').get(id) as DelegationRow | undefined;
    return r && delegationFromRow(r);
  }

  delegation(id: number): Promise<Delegation | undefined> {
    return settled(() => this.delegationNow(id));
  }

  delegations(f: { peer?: string; device?: string } = {}): Promise<Delegation[]> {
    return settled(() => (this.db.prepare(`SELECT * FROM api_delegations WHERE (@peer IS NULL OR peer = @peer) AND (@device IS NULL OR device = @device)
      ORDER BY id`).all({ peer: f.peer ?? null, device: f.device ?? null }) as DelegationRow[]).map(delegationFromRow));
  }

  addDelegation(d: NewDelegation, now: number): Promise<Delegation> {
    return this.write(() => {
      const at = iso(now);
      const info = this.db.prepare(`INSERT INTO api_delegations (direction, device, peer, subtrees, status, job_id, remote_id, error, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(d.direction, d.device, d.peer, JSON.stringify(d.subtrees), d.status, d.jobId, d.remoteId, d.error, at, at);
      return this.delegationNow(Number(info.lastInsertRowid))!;
    });
  }

  setDelegationStatus(id: number, status: DelegationStatus, error: string | null, now: number): Promise<Delegation | undefined> {
    return this.write(() => {
      this.db.prepare('UPDATE api_delegations SET status = ?, error = ?, updated_at = ? WHERE id = ?').run(status, error, iso(now), id);
      return this.delegationNow(id);
    });
  }

  setDelegationJob(id: number, jobId: number, remoteId: number | null, now: number): Promise<Delegation | undefined> {
    return this.write(() => {
      this.db.prepare('UPDATE api_delegations SET job_id = ?, remote_id = ?, updated_at = ? WHERE id = ?').run(jobId, remoteId, iso(now), id);
      return this.delegationNow(id);
    });
  }

  settleDelegationJob(jobId: number, status: 'active' | 'failed', error: string | null, now: number): Promise<Delegation | undefined> {
    return this.write(() => {
      const r = this.db.prepare(`UPDATE api_delegations SET status = ?, error = ?, updated_at = ?
        WHERE id = (SELECT id FROM api_delegations WHERE job_id = ? AND direction = 'out' AND status = 'pending' ORDER BY id LIMIT 1)
        RETURNING *`).get(status, error, iso(now), jobId) as DelegationRow | undefined;
      return r && delegationFromRow(r);
    });
  }
}

export class SqliteFederationStore extends SqliteFederationOps implements FederationStore {
  readonly kind = 'sqlite' as const;

  constructor(
    db: Database.Database,
    /** The server's store on that same connection: tx() is its transaction. */
    private readonly store: Pick<DmStore, 'tx'>,
  ) {
    // A write outside tx() is a store tx of its own, as the store's own writes are (it must not
    // land inside another request's savepoint, and it is answered once on disk).
    super(db, (f) => store.tx(async () => f()));
    db.exec(SCHEMA);
  }

  tx<T>(fn: (f: FederationOps, s: DmStoreOps) => Promise<T>): Promise<T> {
    return this.store.tx((s) => fn(new SqliteFederationOps(this.db, settled), s));
  }
}
