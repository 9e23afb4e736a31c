/**
 * What DM-6 federation (main/server/federation.ts) keeps, beside the store's own tables, and the
 * interface it goes through, so that it works on either store (issue 16): grants (which devices and
 * subtrees a peer may manage through this server), job owners (who submitted a job over the API) and
 * delegations (a device handed from one management authority to another).
 *
 * Two implementations with the same answers: SQLite (./sqlite.ts: the tables live in the server's
 * SQLite file, created on open, as they always were) and PostgreSQL (./postgres.ts: migration 3 of
 * main/store/postgres/migrations.ts; several instances share them). federationStoreFor() picks one
 * by the DmStore's kind.
 *
 * Every write that must land together with a store write (a peer's job and its owner row, a
 * delegation and its Atomic, the delegate's device credential and its delegation) goes through
 * tx(): one transaction on both sides.
 */
import type { DmStoreOps } from '../store.js';

export interface Grant {
  peer: string;
  device: string;
  subtrees: string[];
  origin: 'grant' | 'delegation';
  createdAt: string;
}

export type DelegationStatus = 'pending' | 'active' | 'failed';
export const DELEGATION_STATUSES: readonly DelegationStatus[] = ['pending', 'active', 'failed'];

export interface Delegation {
  id: number;
  /** out: this server handed the device to `peer`; in: `peer` handed it to this server. */
  direction: 'out' | 'in';
  device: string;
  peer: string;
  subtrees: string[];
  status: DelegationStatus;
  /** out: the Atomic that writes the peer's account. */
  jobId: number | null;
  /** The same delegation's id on the peer. */
  remoteId: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewDelegation = Omit<Delegation, 'id' | 'createdAt' | 'updatedAt'>;

export interface FederationOps {
  /**
   * Grants `peer` the subtrees of `device`, adding to what it had (each subtree once, earlier ones
   * first, given normalized). A grant that exists keeps its origin and creation time.
   */
  grant(peer: string, device: string, subtrees: readonly string[], origin: Grant['origin'], now: number): Promise<Grant>;
  /** false when there was no such grant. */
  revoke(peer: string, device: string): Promise<boolean>;
  /** Ordered by device, then peer (byte order, the same on both stores). */
  grants(filter?: { peer?: string; device?: string }): Promise<Grant[]>;

  /** Records who submitted a job over the API (a peer); jobs without an owner are the operator's. */
  setJobOwner(jobId: number, principal: string): Promise<void>;
  jobOwner(jobId: number): Promise<string | undefined>;

  delegation(id: number): Promise<Delegation | undefined>;
  /** Ordered by id. */
  delegations(filter?: { peer?: string; device?: string }): Promise<Delegation[]>;
  addDelegation(d: NewDelegation, now: number): Promise<Delegation>;
  setDelegationStatus(id: number, status: DelegationStatus, error: string | null, now: number): Promise<Delegation | undefined>;
  /** An outgoing delegation's Atomic was queued (and the peer said its own id for it). */
  setDelegationJob(id: number, jobId: number, remoteId: number | null, now: number): Promise<Delegation | undefined>;
  /**
   * The pending outgoing delegation whose Atomic is `jobId` becomes active or failed, in one step:
   * undefined when there is none, or it was settled already (by another instance, say).
   */
  settleDelegationJob(jobId: number, status: 'active' | 'failed', error: string | null, now: number): Promise<Delegation | undefined>;
}

export interface FederationStore extends FederationOps {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Runs fn in one transaction of the server's store: the federation's writes (f) and the store's
   * (s) all land, or none. As DmStore.tx: inside fn, await only f and s.
   */
  tx<T>(fn: (f: FederationOps, s: DmStoreOps) => Promise<T>): Promise<T>;
}

/** `[...a, ...b]` with each subtree once, first occurrence first (both stores merge grants this way). */
export function mergeSubtrees(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
