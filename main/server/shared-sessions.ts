/**
 * Live DM 1.2 sessions in the shared store, so several `dmw server` instances on one PostgreSQL
 * database can take any message of any session (issue 16 point 3). Used only when the store is
 * shared; the SQLite server keeps its sessions in memory as before (live-sessions.ts).
 *
 * Per message:
 *   1. find the session: by the RespURI's token (row `t:<token>`), or, for a client posting to the
 *      base URL, by (DevId, SessionID) through an alias row `d:<DevId>\n<SessionID>` naming the token;
 *   2. claim it (claimSessionState: a lease, so two instances never run the same turn; a claim
 *      another instance holds is answered 503 Retry-After: 1 and the device sends again);
 *   3. rebuild the Live from the row (live-state-codec.ts) unless this instance has that version;
 *   4. run the turn, and in the SAME transaction as the turn's writes commit the new state
 *      (commitSessionState with the claimed version: a lease lost meanwhile fails the commit, the
 *      transaction rolls back, nothing of the turn is written and the device gets a 503);
 *   5. keep the answer with the state: a device that sends the same bytes again (its instance died
 *      after committing, before answering) gets that answer again, and the log says so.
 *
 * Sessions not yet authenticated live here too (their rows carry a negative session id, as their
 * Live does): a 401 challenge and the retry with credentials may reach different instances.
 *
 * Between messages no instance holds a session: LiveSessions only has it during its turn. So the
 * admission slots (maxSessions, per instance) count turns in progress on that instance, the auth
 * throttles and the failure ring are per instance (each sees the refusals it handled), and
 * stepping/holds are refused (step-control keeps a held request in one process; see
 * STEPPING_NEEDS_ONE_INSTANCE).
 */
import { createHash, randomInt } from 'node:crypto';
import type pg from 'pg';
import { StoreUnavailableError, type DmStore, type DmStoreOps } from '../store/store.js';
import { decodeLiveState, encodeLiveState, LiveStateError, type LastAnswer, type SharedLiveState } from './live-state-codec.js';
import type { Live, LiveSessions } from './live-sessions.js';
import { isStoreUnavailable, retryLater, storeUnavailable } from './unavailable.js';

/** What the UI and the API say when stepping is asked for on a shared store. */
export const STEPPING_NEEDS_ONE_INSTANCE =
  'stepping and holds need the device\'s sessions on one instance, and this server shares its store with others (any instance may take the next message); ' +
  'run a single `dmw server` instance for stepping, or route this device to one instance (sticky on its DevId)';

/** How long an instance may hold a session's turn before another may take it (an instance killed mid-turn). */
export const DEFAULT_TURN_LEASE_MS = 5_000;

/** Live objects kept per instance to skip rebuilding a session it handled last (a plain bound, not tuned). */
const CACHE_SIZE = 1000;

/**
 * The id of a session not yet authenticated on a shared store. A per-process counter (-1, -2, ...)
 * gives two instances the same ids, and an instance that rebuilds another's pre-auth session would
 * then hold two sessions under one id (LiveSessions is keyed by it). Random in [-2^48, -1]: with
 * thousands open at once across the fleet a collision is about 1 in 10^7 (birthday bound), and
 * the id stays a safe integer (also in the RespURI, `u<-id>`).
 */
export function sharedPreAuthId(): number {
  return -randomInt(1, 2 ** 48);
}

export const tokenKey = (token: string): string => `t:${token}`;
export const aliasKey = (devId: string, dmSessionId: string): string => `d:${devId}\n${dmSessionId}`;

/** A turn this instance holds (it claimed the session's state). */
export interface SharedTurn {
  key: string;
  version: number;
  live: Live;
  lastAnswer?: LastAnswer;
  /** The row as claimed: given back unchanged when the turn ends without a commit. */
  raw: unknown;
  /** Set once the new state was written (in the turn's tx, or by finish()). */
  done: boolean;
  /** A new session (no row yet): created instead of committed. */
  fresh?: boolean;
  /** What commitIn wrote, kept by this instance once the transaction is known to have committed (finish). */
  written?: SharedLiveState;
  /** Its transaction rolled back (database gone, lease lost): given back as claimed, nothing written. */
  failed?: boolean;
}

export type Found =
  | { kind: 'none' }
  | { kind: 'held'; retryAfterSec: number; owner: string }
  | { kind: 'claimed'; turn: SharedTurn }
  /** The row cannot be read back (LiveStateError): the session is dropped, the message gets a 408 as for an unknown session. */
  | { kind: 'corrupt'; error: LiveStateError };

/** The reads that are not DmStore operations: by key without claiming, and the sweep's list. */
export interface SharedStateReader {
  tokenOf(alias: string): Promise<string | undefined>;
  /**
   * Session rows nobody holds (no owner, or the lease ran out) not written since `idleBefore`, or,
   * for a session not yet authenticated (negative id), since `preAuthIdleBefore` (default `idleBefore`).
   */
  idle(idleBefore: number, now: number, limit: number, preAuthIdleBefore?: number): Promise<string[]>;
  /** Alias rows whose session row is gone. */
  pruneAliases(): Promise<number>;
  /** Sessions the API lists as active (authenticated, not closed). */
  active(): Promise<{ key: string; state: unknown; updatedAt: string }[]>;
}

/** The reader on PostgreSQL (the pool of PostgresStore). Its fixed queries fail only when the database does: StoreUnavailableError. */
export function pgStateReader(pool: pg.Pool): SharedStateReader {
  const q = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> => {
    try {
      return await pool.query<R>(text, values);
    } catch (e) {
      throw new StoreUnavailableError(`the PostgreSQL store is unavailable: ${(e as Error).message}`, e);
    }
  };
  return {
    async tokenOf(alias) {
      const r = await q<{ token: string | null }>(`SELECT state->>'token' AS token FROM session_state WHERE key = $1`, [alias]);
      return r.rows[0]?.token ?? undefined;
    },
    async idle(idleBefore, now, limit, preAuthIdleBefore = idleBefore) {
      // Idle since its last commit, or since its last claim's lease ran out (an instance died in its
      // turn); a session not yet authenticated (negative id in its Live) by the pre-auth timeout.
      // `updated_at < GREATEST(...)` is implied by the rest; it lets the idle index narrow the scan.
      const r = await q<{ key: string }>(`SELECT key FROM session_state WHERE key LIKE 't:%'
        AND updated_at < GREATEST($1::timestamptz, $4::timestamptz)
        AND GREATEST(updated_at, COALESCE(lease_until, updated_at)) < CASE WHEN (state->'live'->>'id')::bigint < 0 THEN $4::timestamptz ELSE $1::timestamptz END
        AND (owner IS NULL OR lease_until <= $2) ORDER BY updated_at LIMIT $3`,
        [new Date(idleBefore).toISOString(), new Date(now).toISOString(), limit, new Date(preAuthIdleBefore).toISOString()]);
      return r.rows.map((x) => x.key);
    },
    async pruneAliases() {
      const r = await q(`DELETE FROM session_state a WHERE a.key LIKE 'd:%'
        AND NOT EXISTS (SELECT 1 FROM session_state t WHERE t.key = 't:' || (a.state->>'token'))`);
      return r.rowCount ?? 0;
    },
    async active() {
      const r = await q<{ key: string; state: unknown; updated_at: Date }>(`SELECT key, state, updated_at FROM session_state WHERE key LIKE 't:%'
        AND (state->'live'->>'id')::bigint > 0 AND state->'live'->'state'->>'phase' <> 'closed' ORDER BY key`);
      return r.rows.map((x) => ({ key: x.key, state: x.state, updatedAt: new Date(x.updated_at).toISOString() }));
    },
  };
}

export class LeaseLostError extends Error {
  constructor(key: string) {
    super(`session state ${JSON.stringify(key)}: the turn's lease ran out and another instance may have taken the session; the turn was rolled back`);
    this.name = 'LeaseLostError';
  }
}

export interface SharedSessionsOptions {
  store: DmStore;
  reader: SharedStateReader;
  /** This instance's name in the claims (unique among the instances). */
  owner: string;
  now: () => number;
  leaseMs?: number;
  warn?: (message: string) => void;
}

export class SharedSessions {
  readonly owner: string;
  readonly leaseMs: number;
  /** Taken out while a turn runs and put back only once its commit succeeded: a failed turn leaves no stale copy. */
  private readonly cache = new Map<string, { version: number; shared: SharedLiveState }>();

  constructor(private readonly o: SharedSessionsOptions) {
    this.owner = o.owner;
    this.leaseMs = o.leaseMs ?? DEFAULT_TURN_LEASE_MS;
  }

  /** The session a message names, claimed for this instance: by RespURI token, or by (DevId, SessionID) at the base URL. */
  async find(by: SharedLookup): Promise<Found> {
    let token = by.token;
    if (token === undefined && by.devId !== undefined && by.dmSessionId !== undefined) token = await this.o.reader.tokenOf(aliasKey(by.devId, by.dmSessionId));
    if (token === undefined) return { kind: 'none' };
    const key = tokenKey(token);
    const claim = await this.o.store.claimSessionState(key, this.owner, this.o.now(), this.leaseMs);
    if (!claim.ok) {
      if (claim.reason === 'missing') return { kind: 'none' };
      return { kind: 'held', retryAfterSec: 1, owner: claim.owner };
    }
    const rec = claim.record;
    const cached = this.cache.get(key);
    this.cache.delete(key);
    let shared: SharedLiveState;
    if (cached && cached.version === rec.version) {
      // This instance wrote that version last: what it kept is what the row holds.
      shared = cached.shared;
    } else {
      try {
        shared = decodeLiveState(key, rec.state);
      } catch (e) {
        if (!(e instanceof LiveStateError)) throw e;
        this.o.warn?.(`${e.message}; the session is dropped`);
        await this.o.store.dropSessionState(key).catch(() => undefined);
        return { kind: 'corrupt', error: e };
      }
    }
    const live = shared.live as Live;
    return { kind: 'claimed', turn: { key, version: rec.version, live, raw: rec.state, done: false, ...(shared.lastAnswer ? { lastAnswer: shared.lastAnswer } : {}) } };
  }

  /** The answer given to exactly these bytes last time, if this message was already answered (a resend). */
  repeated(turn: SharedTurn, body: Uint8Array): LastAnswer | undefined {
    const a = turn.lastAnswer;
    return a && a.requestDigest === digest(body) ? a : undefined;
  }

  /** A session that starts in this request: its row is created by commitIn/finish. */
  fresh(live: Live): SharedTurn {
    return { key: tokenKey(live.token), version: 0, live, raw: undefined, done: false, fresh: true };
  }

  /**
   * Inside the turn's transaction: writes the session's new state (and the answer with it).
   * Throws LeaseLostError when this instance no longer holds the version it claimed.
   */
  async commitIn(s: DmStoreOps, turn: SharedTurn, live: Live, answer?: { request: Uint8Array; status: number; headers: Record<string, string>; body: Uint8Array; inSeq: number; outSeq: number }): Promise<void> {
    const lastAnswer: LastAnswer | undefined = answer && { requestDigest: digest(answer.request), status: answer.status, headers: answer.headers, body: answer.body, inSeq: answer.inSeq, outSeq: answer.outSeq };
    const state = encodeLiveState({ live, ...(lastAnswer ? { lastAnswer } : {}) });
    const now = this.o.now();
    if (turn.fresh) {
      const made = await s.createSessionState(turn.key, live.id, state, now);
      if (!made) throw new LeaseLostError(turn.key);
      // The newest session of this (DevId, SessionID) is the one a base-URL message continues.
      const alias = aliasKey(live.devId, live.dmSessionId);
      await s.dropSessionState(alias);
      await s.createSessionState(alias, live.id, { token: live.token }, now);
      turn.version = 1;
    } else {
      if (!(await s.commitSessionState(turn.key, this.owner, turn.version, state, now))) throw new LeaseLostError(turn.key);
      turn.version += 1;
    }
    turn.done = true;
    turn.written = { live, ...(lastAnswer ? { lastAnswer } : {}) };
  }

  /** The turn's transaction rolled back after commitIn: nothing of it was written. */
  rolledBack(turn: SharedTurn): void {
    turn.failed = true;
    if (!turn.done || !turn.written) return;
    turn.done = false;
    delete turn.written;
    if (turn.fresh) turn.version = 0;
    else turn.version -= 1;
  }

  /**
   * After the request: a turn that wrote nothing in a transaction of its own (refused before
   * authenticating, a rejection) commits what its Live is now, or gives the row back unchanged;
   * a session that went (failed, dropped) loses its row.
   */
  async finish(turn: SharedTurn, now: Live | undefined): Promise<void> {
    try {
      if (turn.failed) {
        await this.release(turn);
        return;
      }
      if (!turn.done) {
        if (!now) {
          turn.done = true;
          if (!turn.fresh) await this.o.store.dropSessionState(turn.key);
          return;
        }
        await this.o.store.tx((s) => this.commitIn(s, turn, now, undefined));
      }
      if (turn.written) this.remember(turn.key, turn.version, turn.written);
    } catch (e) {
      // The database went away, or the lease ran out: the row stays as the last commit left it and
      // the lease lets go by itself (leaseMs); the device's next message is answered from there.
      this.o.warn?.(`session state ${JSON.stringify(turn.key)} not written after the request: ${(e as Error).message}`);
    }
  }

  /** Lets go of a claim without writing (the turn failed before doing anything; the row is as it was). */
  async release(turn: SharedTurn): Promise<void> {
    if (turn.done || turn.fresh) return;
    turn.done = true;
    await this.o.store.commitSessionState(turn.key, this.owner, turn.version, turn.raw, this.o.now()).catch(() => undefined);
    this.cache.delete(turn.key);
  }

  /**
   * Sessions whose lease ran out (or that nobody held) and that have been idle longer than
   * `timeoutMs` (a number: for every session; or the session timeout and, for sessions not yet
   * authenticated, the pre-auth timeout, as the single-instance sweep does): claimed one by one (so two instances sweeping at once never end one twice),
   * rebuilt, and handed to `end` (the server closes them as the single-instance sweep would, in a
   * transaction that also drops the row). Replaces recoverInterrupted() at start, which on a
   * shared store would interrupt the other instances' live sessions.
   */
  async sweep(timeoutMs: number | { sessionMs: number; preAuthMs: number }, end: (s: DmStoreOps, live: Live, idleMs: number) => Promise<void>, limit = 100): Promise<number> {
    const now = this.o.now();
    const { sessionMs, preAuthMs } = typeof timeoutMs === 'number' ? { sessionMs: timeoutMs, preAuthMs: timeoutMs } : timeoutMs;
    const keys = await this.o.reader.idle(now - sessionMs, now, limit, now - preAuthMs);
    let ended = 0;
    for (const key of keys) {
      const claim = await this.o.store.claimSessionState(key, this.owner, now, this.leaseMs);
      if (!claim.ok) continue;
      let live: Live | undefined;
      try {
        live = decodeLiveState(key, claim.record.state).live as Live;
      } catch (e) {
        this.o.warn?.(`${(e as Error).message}; the session is dropped`);
      }
      const idleMs = now - Date.parse(claim.record.updatedAt);
      await this.o.store.tx(async (s) => {
        if (live) await end(s, live, idleMs);
        await s.dropSessionState(key);
      });
      this.cache.delete(key);
      ended++;
    }
    if (keys.length > 0) await this.o.reader.pruneAliases();
    return ended;
  }

  /** Sessions open now on any instance (authenticated, not closed), for the API's list. */
  async active(): Promise<{ id: number; device: string; dmSessionId: string; phase: string; lastActivity: string }[]> {
    const out = [];
    for (const row of await this.o.reader.active()) {
      try {
        const l = decodeLiveState(row.key, row.state).live;
        out.push({ id: l.id, device: l.devId, dmSessionId: l.dmSessionId, phase: l.state.phase, lastActivity: new Date(l.lastActivity).toISOString() });
      } catch {
        // A corrupt row is reported and dropped when its session's next message claims it.
      }
    }
    return out;
  }

  private remember(key: string, version: number, shared: SharedLiveState): void {
    this.cache.delete(key);
    this.cache.set(key, { version, shared });
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
  }
}

function digest(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

// --- the request gate: what DmServer calls around a DM message when its store is shared ----------

/**
 * How a message names its session: the RespURI's token, or else (DevId, SessionID) at the base URL.
 * DevId and SessionID are given whenever the message decodes: a session the message starts (a
 * package 1, also at a RespURI whose session is gone) is found by them afterwards.
 */
export interface SharedLookup {
  token?: string;
  devId?: string;
  dmSessionId?: string;
}

/** What the gate needs of the server: its in-memory sessions (only those in a turn here). */
export interface GateHost {
  live: LiveSessions;
  /**
   * Gives a session rebuilt from the database a slot of this instance's admission (its pool: pre-auth
   * or authenticated), or says why not (503 with that Retry-After): slots count turns in progress here.
   */
  adopt(l: Live): { ok: true } | { ok: false; retryAfterSec: number; reason: string };
  warn(message: string): void;
}

type GateAnswer = { status: number; headers: Record<string, string>; body: Uint8Array | string };

const HELD_RETRY_AFTER_SEC = 1;
const UNAVAILABLE_RETRY_AFTER_SEC = 2;

/**
 * Around one DM message on a shared store: before the server's own handling, the session it names
 * is claimed and put into LiveSessions (so the ordinary code finds it as if it had always been
 * here); the turn's transaction commits its state (commitTurn); afterwards whatever the handling
 * left is written or given back and the session leaves memory (its admission slot with it).
 */
export class SharedGate {
  /** The turns of a request: the session it named, and one it started (a device starting over at the base URL). */
  private readonly turns = new WeakMap<object, SharedTurn[]>();

  constructor(readonly sessions: SharedSessions, private readonly host: GateHost) {}

  /**
   * `lookup`: the RespURI's token, or the DevId and SessionID of a message to the base URL
   * (undefined when the message cannot name a session: the handler refuses it itself).
   */
  async handle(req: object & { bytes: Uint8Array }, lookup: SharedLookup | undefined, handler: () => GateAnswer | Promise<GateAnswer>): Promise<GateAnswer> {
    let turn: SharedTurn | undefined;
    try {
      if (lookup?.token !== undefined || lookup?.devId !== undefined) {
        const found = await this.sessions.find(lookup);
        if (found.kind === 'held') {
          return retryLater(HELD_RETRY_AFTER_SEC, `the session's previous message is still being handled (by ${found.owner || 'another instance'}); send again in ${HELD_RETRY_AFTER_SEC} s`);
        }
        if (found.kind === 'claimed') {
          turn = found.turn;
          const again = this.sessions.repeated(turn, req.bytes);
          if (again) {
            await this.sessions.release(turn);
            this.host.warn(`session ${turn.live.id} (${turn.live.devId}): message ${again.inSeq} came again with the same bytes; its answer (message ${again.outSeq}) was committed but may never have reached the device (an instance stopped before answering): sent again from the store`);
            return { status: again.status, headers: { ...again.headers }, body: again.body };
          }
          // Whatever this instance had of it is older: the claimed row is the session now.
          const stale = this.host.live.withToken(turn.live.token);
          if (stale && stale !== turn.live) this.host.live.delete(stale.id);
          const slot = this.host.adopt(turn.live);
          if (!slot.ok) {
            await this.sessions.release(turn);
            return retryLater(slot.retryAfterSec, slot.reason);
          }
          this.host.live.set(turn.live);
          this.turns.set(req, [turn]);
        }
      }
    } catch (e) {
      if (turn) await this.sessions.release(turn);
      return unavailableAnswer(e);
    }
    try {
      return await handler();
    } catch (e) {
      return unavailableAnswer(e);
    } finally {
      // Before the answer leaves: the state is written (or given back) first.
      await this.after(req, lookup);
    }
  }

  /** Inside the turn's transaction: the session's new state (created for a new session), with the answer. */
  async commitTurn(s: DmStoreOps, req: object, live: Live, answer?: Parameters<SharedSessions['commitIn']>[3]): Promise<void> {
    const list = this.turns.get(req) ?? [];
    let turn = list.find((t) => t.live.token === live.token);
    if (!turn) {
      turn = this.sessions.fresh(live);
      list.push(turn);
      this.turns.set(req, list);
    }
    await this.sessions.commitIn(s, turn, live, answer);
  }

  /** The turn's transaction did not commit: its sessions are given back as they were claimed. */
  rolledBack(req: object): void {
    for (const t of this.turns.get(req) ?? []) this.sessions.rolledBack(t);
  }

  private async after(req: object, lookup: SharedLookup | undefined): Promise<void> {
    const seen = new Set<string>();
    for (const turn of this.turns.get(req) ?? []) {
      seen.add(turn.live.token);
      const l = this.host.live.withToken(turn.live.token);
      await this.sessions.finish(turn, l);
      // Between messages the session lives in the database only.
      if (l) this.host.live.delete(l.id);
    }
    // A session this message started without a transaction (refused before authenticating).
    const l = lookup?.devId !== undefined && lookup.dmSessionId !== undefined ? this.host.live.latest(lookup.devId, lookup.dmSessionId) : undefined;
    if (l && !seen.has(l.token)) {
      await this.sessions.finish(this.sessions.fresh(l), l);
      this.host.live.delete(l.id);
    }
  }
}

/** The database away while the session was looked up or claimed, or the turn's lease lost: the device sends again. */
function unavailableAnswer(e: unknown): GateAnswer {
  if (isStoreUnavailable(e)) return storeUnavailable(UNAVAILABLE_RETRY_AFTER_SEC);
  if (e instanceof LeaseLostError) {
    return retryLater(UNAVAILABLE_RETRY_AFTER_SEC, `the session was taken over by another instance; nothing of this message was kept: send again in ${UNAVAILABLE_RETRY_AFTER_SEC} s`);
  }
  throw e;
}
