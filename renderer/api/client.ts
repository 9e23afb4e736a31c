/**
 * The typed API over a transport: `api['sessions.get']({ id })` returns the contract's output type
 * or throws an ApiCallError. Events are validated against the contract before anyone sees them.
 */
import { CHANNELS, eventSchemas, type ApiError, type ChannelName, type DmwApi, type EventName, type EventPayload } from '../../main/api/contract.js';
import type { ConnectionState, Transport } from './transport.js';

export class ApiCallError extends Error {
  constructor(
    readonly channel: ChannelName,
    readonly error: ApiError,
  ) {
    super(error.message);
  }
}

/** What the connection line says while calls wait for the backend's database to come back. */
export const DATABASE_UNAVAILABLE = 'database unavailable, retrying';
/** How long a call keeps trying while the database is away before it fails with that error. */
export const UNAVAILABLE_RETRY_FOR_MS = 60_000;

export type EventHandler = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

export interface ApiClient {
  api: DmwApi;
  onEvent(fn: EventHandler): () => void;
  onState(fn: (s: ConnectionState, detail?: string) => void): () => void;
  kind: Transport['kind'];
}

export interface ClientOptions {
  /** How a retry waits (tests pass their own). */
  sleep?: (ms: number) => Promise<void>;
  /** How long a call keeps trying while the database is away (default UNAVAILABLE_RETRY_FOR_MS). */
  retryForMs?: number;
}

export function createClient(t: Transport, opts: ClientOptions = {}): ApiClient {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retryForMs = opts.retryForMs ?? UNAVAILABLE_RETRY_FOR_MS;
  const api = {} as Record<ChannelName, (input: unknown) => Promise<unknown>>;
  const states = new Set<(s: ConnectionState, detail?: string) => void>();
  // Calls waiting for the database (a shared lab server's PostgreSQL restarting): the connection
  // line says so, and says open again once a call gets through.
  let waitingForDatabase = false;
  const databaseAway = (away: boolean) => {
    if (away === waitingForDatabase) return;
    waitingForDatabase = away;
    for (const fn of [...states]) fn(away ? 'connecting' : 'open', away ? DATABASE_UNAVAILABLE : undefined);
  };
  for (const channel of CHANNELS) {
    api[channel] = async (input: unknown) => {
      const started = Date.now();
      for (;;) {
        const reply = await t.call(channel, input ?? {});
        if (reply.ok) {
          databaseAway(false);
          return reply.value;
        }
        // Nothing of the call was written: calling again is safe.
        if (reply.error.code === 'unavailable' && Date.now() - started < retryForMs) {
          databaseAway(true);
          await sleep((reply.error.retryAfterSec ?? 1) * 1000);
          continue;
        }
        throw new ApiCallError(channel, reply.error);
      }
    };
  }
  return {
    api: api as unknown as DmwApi,
    kind: t.kind,
    onState: (fn) => {
      states.add(fn);
      const off = t.onState(fn);
      return () => {
        states.delete(fn);
        off();
      };
    },
    onEvent(fn) {
      return t.onEvent((name, payload) => {
        const schema = eventSchemas[name];
        if (!schema) return;
        const r = schema.safeParse(payload);
        if (!r.success) {
          console.warn(`dmw: event ${name} outside the contract dropped`, r.error.issues.slice(0, 2));
          return;
        }
        (fn as (n: EventName, p: unknown) => void)(name, r.data);
      });
    },
  };
}
