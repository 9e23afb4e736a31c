/**
 * The DM server's store on PostgreSQL (issue 16): one database shared by several `dmw server`
 * instances. node-postgres (`pg`) pools the connections; every operation is a statement on the pool
 * (autocommit) or part of a tx(); events go out with NOTIFY and come in on one LISTEN connection
 * per subscribing instance.
 *
 * When the database cannot be reached, operations reject with StoreUnavailableError (the server
 * answers 503 with Retry-After) and whatever transaction was open is rolled back by the database;
 * the pool opens fresh connections once it is back, and the listener reconnects by itself.
 */
import pg from 'pg';
import { StoreUnavailableError, type DeliveredEvent, type DmStore, type DmStoreOps } from '../store.js';
import { migrate, type MigrationReport } from './migrations.js';
import { PgOps, type Query } from './ops.js';
import { EVENT_CHANNEL, parseEventPayload } from './events.js';
import { PG_TYPES } from './rows.js';
import { PgQueries } from './queries.js';
import { PgMessageIndex } from './message-index.js';
import type { DmMessageIndex } from '../message-index-store.js';
import type { DmStoreQueries } from '../queries.js';

export interface PostgresStoreOptions {
  /** Connections this instance keeps at most (default 10). */
  maxConnections?: number;
  /** Apply pending migrations on open (default true; `dmw store migrate` may do it separately). */
  migrate?: boolean;
  /** Give up opening a connection to the database after this long (ms); the request then fails as unavailable (default 5000). */
  connectTimeoutMs?: number;
  /**
   * How long a transaction waits for one of the pool's connections while all are busy (ms, default
   * 60000). Waiting is load, not an outage: a burst of turns queues, it is not refused; only a wait
   * this long (the database stalled) fails as unavailable.
   */
  acquireTimeoutMs?: number;
  /** How long the event listener waits before reconnecting after losing the database (ms, default 500). */
  listenRetryMs?: number;
}

/** SQLSTATE classes and socket errors that mean "the database is not there", not "your statement is wrong". */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH)$/.test(code)) return true;
    // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections.
    // (08P01, protocol violation, is a bug of ours, not an outage.)
    if ((code.startsWith('08') && code !== '08P01') || /^57P0[123]$/.test(code) || code === '53300') return true;
  }
  const message = (e as Error)?.message ?? '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

function unavailable(e: unknown): unknown {
  if (e instanceof StoreUnavailableError || !isUnavailable(e)) return e;
  return new StoreUnavailableError(`the PostgreSQL store is unavailable: ${(e as Error).message}`, e);
}

/** How many delivered event ids are remembered to drop duplicates after a replay. */
const RECENT_EVENT_IDS = 10_000;

export class PostgresStore extends PgOps implements DmStore {
  readonly kind = 'postgres' as const;
  private readonly listeners = new Set<(e: DeliveredEvent) => void>();
  private listener?: { client: pg.Client; closing: boolean };
  private listenerStarting?: Promise<void>;
  private delivering: Promise<void> = Promise.resolve();
  /** The highest event id delivered, and the last ids delivered (replays and NOTIFYs overlap). */
  private lastDelivered?: number;
  private readonly recent = new Set<number>();
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
    private readonly listenRetryMs: number,
    /** What opening found and did to the schema. */
    readonly migration: MigrationReport | undefined,
  ) {
    const query: Query = async (text, values) => {
      try {
        return await pool.query(text, values);
      } catch (e) {
        throw unavailable(e);
      }
    };
    // `this` does not exist before super(): the atomic runner finds the store through a holder.
    const self: { store?: PostgresStore } = {};
    super(query, (fn) => self.store!.inTx(fn));
    self.store = this;
    this.queries = new PgQueries(query);
    this.index = new PgMessageIndex(query, (fn) => this.inTx((o) => fn((text, values) => o.sql(text, values))));
  }

  // --- the message index and display filters (message-index-store.ts, postgres/message-index.ts)
  private readonly index: PgMessageIndex;
  queryMessages: DmMessageIndex['queryMessages'] = (q, opts) => this.index.queryMessages(q, opts);
  sessionsMatching: DmMessageIndex['sessionsMatching'] = (filter, limit, opts) => this.index.sessionsMatching(filter, limit, opts);
  findCommands: DmMessageIndex['findCommands'] = (filter, opts) => this.index.findCommands(filter, opts);
  unindexedCount: DmMessageIndex['unindexedCount'] = () => this.index.unindexedCount();
  catchUpIndex: DmMessageIndex['catchUpIndex'] = () => this.index.catchUpIndex();
  unjudgedSessions: DmMessageIndex['unjudgedSessions'] = (since) => this.index.unjudgedSessions(since);
  recordFindings: DmMessageIndex['recordFindings'] = (sessionId, messages, findings) => this.index.recordFindings(sessionId, messages, findings);
  judgedSessions: DmMessageIndex['judgedSessions'] = (ids) => this.index.judgedSessions(ids);

  // --- the views' read queries (queries.ts): outside any transaction, on the pool
  private readonly queries: PgQueries;
  jobCounts: DmStoreQueries['jobCounts'] = () => this.queries.jobCounts();
  lastSessions: DmStoreQueries['lastSessions'] = () => this.queries.lastSessions();
  messagePage: DmStoreQueries['messagePage'] = (sessionId, offset, limit) => this.queries.messagePage(sessionId, offset, limit);
  messageEnvelopes: DmStoreQueries['messageEnvelopes'] = (sessionId) => this.queries.messageEnvelopes(sessionId);
  firstMessageAt: DmStoreQueries['firstMessageAt'] = (sessionId) => this.queries.firstMessageAt(sessionId);
  messageCount: DmStoreQueries['messageCount'] = (sessionId) => this.queries.messageCount(sessionId);
  treeValues: DmStoreQueries['treeValues'] = (device, uris) => this.queries.treeValues(device, uris);
  maxSessionId: DmStoreQueries['maxSessionId'] = () => this.queries.maxSessionId();
  activeSessionIds: DmStoreQueries['activeSessionIds'] = () => this.queries.activeSessionIds();

  /** Connects (postgres://USER@HOST:PORT/DB) and brings the schema up to date. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const connectMs = opts.connectTimeoutMs ?? 5000;
    const config: pg.ClientConfig = { connectionString: url, types: PG_TYPES, connectionTimeoutMillis: connectMs, application_name: 'dmw' };
    // pg-pool's connectionTimeoutMillis bounds both opening a connection and waiting in its queue for
    // a busy pool's next free one, and a queue wait under load then failed as "unavailable" (1,000
    // sessions at once on 10 connections: most refused). So the pool gets no such bound: its clients
    // bound their own connect (pg.Client's connectionTimeoutMillis), and acquire() the queue wait.
    const { connectionTimeoutMillis: _connectBound, ...poolConfig } = config;
    class BoundedConnectClient extends pg.Client {
      constructor(c: pg.ClientConfig) {
        super({ ...c, connectionTimeoutMillis: connectMs });
      }
    }
    const pool = new pg.Pool({ ...poolConfig, Client: BoundedConnectClient as unknown as new () => pg.ClientBase, max: opts.maxConnections ?? 10 });
    // An idle connection the database closed (restart, failover) must not take the process down:
    // the pool drops it and opens a new one for the next query.
    pool.on('error', () => undefined);
    let report: MigrationReport | undefined;
    try {
      if (opts.migrate ?? true) report = await migrate(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw unavailable(e);
    }
    const store = new PostgresStore(pool, config, opts.listenRetryMs ?? 500, report);
    store.acquireTimeoutMs = opts.acquireTimeoutMs ?? 60_000;
    // Messages logged before the message index existed (migration v2), or without it, are indexed now (as SQLite's open does).
    if (opts.migrate ?? true) {
      try {
        if ((await store.unindexedCount()) > 0) await store.catchUpIndex();
      } catch (e) {
        await store.close().catch(() => undefined);
        throw unavailable(e);
      }
    }
    return store;
  }

  tx<T>(fn: (s: DmStoreOps) => Promise<T>): Promise<T> {
    return this.inTx(fn);
  }

  /** Longest wait for a free pooled connection (open() sets it; see PostgresStoreOptions.acquireTimeoutMs). */
  private acquireTimeoutMs = 60_000;

  /**
   * A connection of the pool: a free one, a new one, or, all busy, the next one released. A wait
   * longer than acquireTimeoutMs fails as unavailable; the connection that comes later goes back.
   */
  private async acquire(): Promise<pg.PoolClient> {
    const pending = this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`no connection of the PostgreSQL pool came free within ${this.acquireTimeoutMs} ms`)), this.acquireTimeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([pending, timedOut]);
    } catch (e) {
      pending.then((c) => c.release(), () => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async inTx<T>(fn: (ops: PgOps) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.acquire();
    } catch (e) {
      throw unavailable(e);
    }
    let broken: Error | undefined;
    // A checked-out client has no 'error' listener (pg-pool removes its idle one): the database going
    // away while this transaction waits between statements would crash the process. Kept as broken.
    const onError = (e: Error) => {
      broken ??= e;
    };
    client.on('error', onError);
    const query: Query = async (text, values) => {
      try {
        return await client.query(text, values);
      } catch (e) {
        if (isUnavailable(e)) broken = e as Error;
        throw unavailable(e);
      }
    };
    // Inside the transaction, "atomic" is the transaction itself.
    const ops: PgOps = new PgOps(query, (f) => f(ops));
    try {
      await query('BEGIN');
      const value = await fn(ops);
      await query('COMMIT');
      return value;
    } catch (e) {
      if (!broken) await client.query('ROLLBACK').catch((r: unknown) => { broken = r as Error; });
      throw e;
    } finally {
      client.off('error', onError);
      // A connection that failed is not given back to others.
      client.release(broken);
    }
  }

  async subscribe(listener: (e: DeliveredEvent) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    if (!this.listener) await (this.listenerStarting ??= this.listen().finally(() => (this.listenerStarting = undefined)));
    return async () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) await this.stopListening();
    };
  }

  /**
   * One LISTEN connection per instance. Lost (the database restarted or went away), it reconnects
   * every listenRetryMs until it is back, then replays from the events table what was published
   * meanwhile, so the gap between the database's return and our LISTEN loses nothing.
   */
  private async listen(replay = false): Promise<void> {
    const client = new pg.Client(this.config);
    const l = { client, closing: false };
    this.listener = l;
    client.on('notification', (n) => {
      if (n.channel !== EVENT_CHANNEL || n.payload === undefined) return;
      const payload = n.payload;
      this.inOrder(() => this.deliver(payload));
    });
    const lost = () => {
      if (l.closing || this.closed || this.listener !== l) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      this.reconnectLater();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENT_CHANNEL}`);
    } catch (e) {
      l.closing = true;
      if (this.listener === l) this.listener = undefined;
      await client.end().catch(() => undefined);
      throw unavailable(e);
    }
    if (replay) this.inOrder(() => this.replayMissed());
  }

  private reconnectLater(): void {
    setTimeout(() => {
      if (this.closed || this.listeners.size === 0 || this.listener) return;
      this.listen(true).catch(() => this.reconnectLater());
    }, this.listenRetryMs).unref();
  }

  /** Deliveries run one after another: an event read back by id does not overtake the next one. */
  private inOrder(step: () => Promise<void>): void {
    this.delivering = this.delivering.then(step).catch(() => undefined);
  }

  private async deliver(payload: string): Promise<void> {
    const parsed = parseEventPayload(payload);
    if ('event' in parsed) return this.hand(parsed);
    const r = await this.pool.query<{ body: DeliveredEvent['event'] }>('SELECT body FROM events WHERE id = $1', [parsed.id]).catch(() => undefined);
    const body = r?.rows[0]?.body;
    if (body) this.hand({ id: parsed.id, event: body });
  }

  /** Events committed after the last one we delivered, while we were not listening. */
  private async replayMissed(): Promise<void> {
    if (this.lastDelivered === undefined) return;
    const r = await this.pool.query<{ id: number; body: DeliveredEvent['event'] }>('SELECT id, body FROM events WHERE id > $1 ORDER BY id', [this.lastDelivered]);
    for (const row of r.rows) this.hand({ id: row.id, event: row.body });
  }

  /** To every subscriber, once (a replayed event may also arrive by NOTIFY). */
  private hand(e: DeliveredEvent): void {
    if (this.recent.has(e.id)) return;
    this.recent.add(e.id);
    if (this.recent.size > RECENT_EVENT_IDS) this.recent.delete(this.recent.values().next().value!);
    if (this.lastDelivered === undefined || e.id > this.lastDelivered) this.lastDelivered = e.id;
    for (const fn of this.listeners) fn(e);
  }

  private async stopListening(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    if (!l) return;
    l.closing = true;
    await l.client.end().catch(() => undefined);
  }

  /** Events older than `beforeMs` are only history (SSE replay); a sweeper deletes them. */
  async pruneEvents(beforeMs: number): Promise<number> {
    return (await this.q('DELETE FROM events WHERE at < $1', [new Date(beforeMs).toISOString()])).rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.stopListening();
    await this.pool.end();
  }
}
