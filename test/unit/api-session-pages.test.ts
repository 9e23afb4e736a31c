/**
 * Long sessions in the Sessions view (issue 18, performance: a 10,000-message session took 4.5 s to
 * open): sessions.get sends a session over LAZY_SESSION_MESSAGES as envelopes, with only the first
 * FIRST_SUMMARIZED messages decoded, and sessions.summaries gives any window in full, with the same
 * commands and answers as summarizing the whole session does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Backend } from '../../main/api/backend.js';
import type { MessageSummary, SessionDetail } from '../../main/api/contract.js';
import { dispatch } from '../../main/api/dispatch.js';
import { FIRST_SUMMARIZED, LAZY_SESSION_MESSAGES } from '../../main/api/session-pages.js';
import { DecodeCache, summarizeSession } from '../../main/api/session-view.js';
import { ServerStore } from '../../main/store/server-store.js';

const DEV = 'IMEI:493005100592800';
const CORPUS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'corpus');
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
/** One backend per session length: logging 1,200 messages (indexed as they are logged) takes seconds. */
const made = new Map<number, Promise<{ b: Backend; store: ServerStore; id: number }>>();
const session = (messages: number) => made.get(messages) ?? made.set(messages, withSession(messages)).get(messages)!;

async function withSession(messages: number): Promise<{ b: Backend; store: ServerStore; id: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dmw-pages-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = ServerStore.open(dir);
  const client = readFileSync(path.join(CORPUS, 'client-pkg1.xml'), 'utf8');
  const server = readFileSync(path.join(CORPUS, 'server-all-commands.xml'), 'utf8');
  // Message i has MsgID i + 1; the server's answers refer to the device's message just before.
  const bytes = (i: number) => new TextEncoder().encode((i % 2 === 1 ? server : client)
    .replace(/<MsgID>\d+<\/MsgID>/, `<MsgID>${i + 1}</MsgID>`).replace(/<MsgRef>\d+<\/MsgRef>/g, `<MsgRef>${i}</MsgRef>`));
  let id = 0;
  store.tx(() => {
    id = store.createSession({ device: DEV, dmSessionId: '1', encoding: 'xml' }, 1_700_000_000_000);
    for (let i = 0; i < messages; i++) {
      const out = i % 2 === 1;
      store.addMessage({ sessionId: id, direction: out ? 'out' : 'in', at: 1_700_000_000_000 + i * 10, msgId: String(i + 1), contentType: 'application/vnd.syncml.dm+xml', httpStatus: out ? 200 : null, bytes: bytes(i) });
    }
    store.endSession(id, 'done', 'test', 1_700_000_000_000 + messages * 10);
  });
  const b = await Backend.create({ dataDir: dir, settings: { port: 0 }, handsets: { ok: false, reason: 'not in this test' } });
  cleanup.push(() => b.close());
  cleanup.push(() => store.close());
  return { b, store, id };
}

async function call<T>(b: Backend, channel: string, input: unknown): Promise<T> {
  const r = await dispatch(b.handlers, channel, input);
  if (!r.ok) throw new Error(r.error.message);
  return r.value as T;
}

describe('long sessions in windows', () => {
  it('sessions.get sends a long session as envelopes with only its first messages decoded', async () => {
    const n = LAZY_SESSION_MESSAGES + 200;
    const { b, id } = await session(n);
    const d = await call<SessionDetail>(b, 'sessions.get', { id });
    expect(d.messages).toHaveLength(n);
    expect(d.summarized).toBe(FIRST_SUMMARIZED);
    expect(d.messages[FIRST_SUMMARIZED - 1]!.commands.length).toBeGreaterThan(0);
    // An envelope: what the log says without decoding (seq, direction, time, size), no commands.
    const e = d.messages[700]!;
    expect(e).toMatchObject({ seq: 701, direction: 'in', offsetMs: 7000, msgId: '701', commands: [], final: null });
    expect(e.size).toBeGreaterThan(1000);
  });

  it('sessions.summaries gives a window with the same commands and answers as the whole session summarized', async () => {
    const n = LAZY_SESSION_MESSAGES + 200;
    const { b, store, id } = await session(n);
    const whole = summarizeSession(store.messages(id), new DecodeCache());
    const w = await call<{ total: number; messages: MessageSummary[] }>(b, 'sessions.summaries', { id, offset: 600, limit: 100 });
    expect(w.total).toBe(n);
    expect(w.messages.map((m) => m.seq)).toEqual(whole.slice(600, 700).map((m) => m.seq));
    expect(w.messages).toEqual(whole.slice(600, 700));
    // The device's commands there were answered by the server's next message.
    expect(w.messages[0]!.commands.some((c) => c.status?.seq === 602)).toBe(true);
  });

  it('a short session still comes whole', async () => {
    const { b, id } = await session(50);
    const d = await call<SessionDetail>(b, 'sessions.get', { id });
    expect(d.summarized).toBeUndefined();
    expect(d.messages.every((m) => m.commands.length > 0)).toBe(true);
  });
});
