/**
 * The backend side of the contract, transport-free: a call (channel name + untrusted input) in, a
 * CallReply out. Both transports (WebSocket, Electron utility process) go through here, so the
 * validation rules are the same whichever way the UI is connected.
 */
import { z } from 'zod';
import { isChannelName, type ChannelName } from './channels.js';
import { contract, type ApiError, type CallReply, type Handlers } from './contract.js';
import { StoreUnavailableError } from '../store/store.js';

/** Seconds the UI waits before calling again while the store's database is away. */
export const UI_RETRY_AFTER_SEC = 2;

/** Input of a channel, parsed, or the reason it is refused (short: it goes back to the UI). */
export function parseInput(channel: unknown, input: unknown): { ok: true; channel: ChannelName; value: unknown } | { ok: false; error: ApiError } {
  if (!isChannelName(channel)) return { ok: false, error: { code: 'bad-channel', message: `unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}` } };
  const r = contract[channel].input.safeParse(input ?? {});
  if (!r.success) return { ok: false, error: { code: 'bad-input', message: `${channel}: ${describeZodError(r.error)}` } };
  return { ok: true, channel, value: r.data };
}

export async function dispatch(handlers: Handlers, channel: unknown, input: unknown): Promise<CallReply> {
  const p = parseInput(channel, input);
  if (!p.ok) return p;
  let value: unknown;
  try {
    value = await (handlers[p.channel] as (i: unknown) => unknown)(p.value);
  } catch (e) {
    // The database is away (its transaction rolled back, nothing written): the UI says so and calls again.
    if (e instanceof StoreUnavailableError) return { ok: false, error: { code: 'unavailable', message: `database unavailable, retrying: ${e.message}`, retryAfterSec: UI_RETRY_AFTER_SEC } };
    return { ok: false, error: { code: 'failed', message: e instanceof Error ? e.message : String(e) } };
  }
  const out = contract[p.channel].output.safeParse(value);
  if (!out.success) {
    process.emitWarning(`api: ${p.channel} returned data outside the contract: ${describeZodError(out.error)}`);
    return { ok: false, error: { code: 'bad-output', message: `${p.channel}: the backend answered outside the contract (${describeZodError(out.error)})` } };
  }
  return { ok: true, value: out.data };
}

export function describeZodError(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`)
    .join('; ');
}
