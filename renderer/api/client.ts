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

export type EventHandler = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

export interface ApiClient {
  api: DmwApi;
  onEvent(fn: EventHandler): () => void;
  onState(fn: (s: ConnectionState, detail?: string) => void): () => void;
  kind: Transport['kind'];
}

export function createClient(t: Transport): ApiClient {
  const api = {} as Record<ChannelName, (input: unknown) => Promise<unknown>>;
  for (const channel of CHANNELS) {
    api[channel] = async (input: unknown) => {
      const reply = await t.call(channel, input ?? {});
      if (!reply.ok) throw new ApiCallError(channel, reply.error);
      return reply.value;
    };
  }
  return {
    api: api as unknown as DmwApi,
    kind: t.kind,
    onState: (fn) => t.onState(fn),
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
