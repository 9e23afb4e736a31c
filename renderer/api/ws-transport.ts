/**
 * WebSocket transport for `npm run serve`: one socket to /api carrying the session token, calls
 * matched to replies by id, reconnecting with backoff (the views refetch on 'open').
 */
import type { CallReply, ChannelName, EventName } from '../../main/api/contract.js';
import type { ConnectionState, Transport } from './transport.js';

const CALL_TIMEOUT_MS = 60_000;

export function readToken(loc: Location = window.location, storage: Storage = window.sessionStorage): string | null {
  const params = new URLSearchParams(loc.search);
  const t = params.get('token');
  if (t) {
    storage.setItem('dmw-token', t);
    // Keep the token out of the address bar, history and screenshots.
    params.delete('token');
    const rest = params.toString();
    window.history.replaceState(null, '', `${loc.pathname}${rest ? `?${rest}` : ''}${loc.hash}`);
    return t;
  }
  return storage.getItem('dmw-token');
}

export function createWsTransport(url: string): Transport {
  let ws: WebSocket | undefined;
  let nextId = 1;
  let backoff = 250;
  const pending = new Map<number, { resolve: (r: CallReply) => void; timer: ReturnType<typeof setTimeout> }>();
  const waiting: string[] = [];
  const events = new Set<(name: EventName, payload: unknown) => void>();
  const states = new Set<(s: ConnectionState, detail?: string) => void>();
  let state: ConnectionState = 'connecting';
  const setState = (s: ConnectionState, detail?: string) => {
    state = s;
    for (const fn of states) fn(s, detail);
  };

  const open = () => {
    setState('connecting');
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      backoff = 250;
      setState('open');
      for (const m of waiting.splice(0)) sock.send(m);
    };
    sock.onmessage = (ev) => {
      let msg: { t?: string; id?: number; reply?: CallReply; name?: EventName; payload?: unknown };
      try {
        msg = JSON.parse(String(ev.data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.t === 'reply' && typeof msg.id === 'number') {
        const p = pending.get(msg.id);
        if (p && msg.reply) {
          clearTimeout(p.timer);
          pending.delete(msg.id);
          p.resolve(msg.reply);
        }
      } else if (msg.t === 'event' && msg.name) {
        for (const fn of events) fn(msg.name, msg.payload);
      }
    };
    sock.onclose = (ev) => {
      setState('closed', ev.code === 1006 ? 'connection lost (or the token was refused)' : `closed (${ev.code})`);
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.resolve({ ok: false, error: { code: 'transport', message: 'the connection to the backend closed' } });
        pending.delete(id);
      }
      setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  };
  open();

  return {
    kind: 'websocket',
    call(channel: ChannelName, input: unknown): Promise<CallReply> {
      const id = nextId++;
      const text = JSON.stringify({ t: 'call', id, channel, input });
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({ ok: false, error: { code: 'transport', message: `${channel}: no answer within ${CALL_TIMEOUT_MS / 1000} s` } });
        }, CALL_TIMEOUT_MS);
        pending.set(id, { resolve, timer });
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
        else waiting.push(text);
      });
    },
    onEvent(fn) {
      events.add(fn);
      return () => events.delete(fn);
    },
    onState(fn) {
      states.add(fn);
      fn(state);
      return () => states.delete(fn);
    },
  };
}
