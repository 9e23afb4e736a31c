/**
 * The judge's work grows with the session, not with its square. Long sessions were judged in
 * quadratic time (4,000 messages took 12 s): for every message or chunk the rules walked back through
 * the session for the peer's last MaxMsgSize / MaxObjSize (usually never announced, so to the start),
 * for the message a MsgRef names (to the start when it names none), and forward for the Final that
 * closes the peer's package (to the end when none does).
 *
 * Counted, not timed: every check of the catalogue runs over the session model with its message list
 * behind a proxy that counts reads of a message by position. Twice the messages must cost about twice
 * the reads (it was 3.4 to 3.6 times before the fix, and grows with the session).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../main/judge/rules/index.js';
import { SessionModel } from '../../main/judge/session-model.js';
import type { JudgeMessage } from '../../main/judge/types.js';

const CORPUS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'corpus');
const CLIENT = readFileSync(path.join(CORPUS, 'client-pkg1.xml'), 'utf8');
const SERVER = readFileSync(path.join(CORPUS, 'server-all-commands.xml'), 'utf8');

/** A session of `n` messages, device and server taking turns, message i with MsgID i + 1. */
function session(n: number, shape: { final?: boolean; msgRef?: 'previous' | 'unknown' } = {}): JudgeMessage[] {
  return Array.from({ length: n }, (_, i) => {
    let xml = (i % 2 === 1 ? SERVER : CLIENT).replace(/<MsgID>\d+<\/MsgID>/, `<MsgID>${i + 1}</MsgID>`)
      .replace(/<MsgRef>\d+<\/MsgRef>/g, `<MsgRef>${shape.msgRef === 'unknown' ? 99999 : i}</MsgRef>`);
    if (shape.final === false) xml = xml.replace(/<Final\s*\/>/, '');
    return { direction: i % 2 === 1 ? 'out' : 'in', bytes: new TextEncoder().encode(xml), seq: i + 1 };
  });
}

/** Reads of a message by position while every check runs over the session. */
function reads(messages: JudgeMessage[]): number {
  const model = new SessionModel(messages);
  let count = 0;
  const counted = new Proxy(model.msgs, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) count++;
      return Reflect.get(target, key, receiver);
    },
  });
  (model as { msgs: unknown }).msgs = counted;
  for (const check of Object.values(CHECKS)) check(model, () => undefined, {});
  return count;
}

describe('judging a long session is linear in its length', () => {
  const shapes = {
    'a session whose server never announces MaxMsgSize or MaxObjSize': {},
    'a server package never closed (no Final)': { final: false },
    'answers naming a MsgRef no message has': { msgRef: 'unknown' as const },
  };
  for (const [name, shape] of Object.entries(shapes)) {
    it(name, () => {
      const small = reads(session(200, shape));
      const large = reads(session(400, shape));
      expect(small).toBeGreaterThan(0);
      expect(large / small).toBeLessThan(2.3);
    });
  }

  it('the model answers "latest from the peer with this MsgID" and "announced before" as the walks did', () => {
    const model = new SessionModel(session(40));
    const last = model.msgs[39]!;
    expect(model.withMsgId('client', 39, '39')?.index).toBe(38);
    expect(model.withMsgId('client', 39, '039')?.index).toBe(38);
    expect(model.withMsgId('client', 39, '40')).toBeUndefined();
    expect(model.refTarget('client', 39, undefined)?.index).toBe(38);
    expect(model.prev('server', 39)?.index).toBe(37);
    expect(model.next('server', 0)?.index).toBe(1);
    expect(model.announced('client', last.index, 'maxMsgSize')).toEqual({ limit: 16384, at: model.msgs[38] });
    expect(model.announced('client', 0, 'maxMsgSize')).toBeUndefined();
    expect(model.announced('server', last.index, 'maxObjSize')).toBeUndefined();
    expect(model.replyWindow(model.msgs[0]!).map((m) => m.index)).toEqual([1]);
  });
});
