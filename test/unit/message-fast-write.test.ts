/**
 * encodeMessage's WBXML fast path (main/protocol/message/fast-write.ts: typed message straight to
 * bytes, no document tree) against the tree path (writeMessage + TNDS retyping + encodeWbxml): on
 * every message either the fast path gives up (undefined) or it writes exactly the tree path's
 * bytes, and it never writes what the tree path refuses. Checked on every message of the corpus, on
 * a real bench session's messages (both sides), and on mutated typed messages.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeMessageByTree, encodeMessage, encodeMessageByTree } from '../../main/protocol/codec.js';
import { writeWbxmlMessageFast } from '../../main/protocol/message/fast-write.js';
import type { Command, ItemData, Meta, SyncML } from '../../main/protocol/model.js';
import { el } from '../../main/protocol/element.js';
import { rng } from '../helpers/fuzz.js';
import { benchSession, corpus, hex } from './message-fast-corpus.js';

/** '' when the fast path writes the tree path's bytes (or gives up); else what differs. */
function check(msg: SyncML): string {
  const fast = writeWbxmlMessageFast(msg);
  if (fast === undefined) return '';
  let tree;
  try {
    tree = encodeMessageByTree(msg, 'wbxml');
  } catch (e) {
    return `fast path wrote what the tree path throws on (${(e as Error).message})`;
  }
  if (!tree.ok) return `fast path wrote what the tree path refuses (${tree.error.message})`;
  return hex(fast) === hex(tree.value) ? '' : `bytes differ:\nfast ${hex(fast)}\ntree ${hex(tree.value)}`;
}

function messagesOf(bytes: Uint8Array[]): SyncML[] {
  const out: SyncML[] = [];
  for (const b of bytes) {
    const d = decodeMessageByTree(b);
    if (d.ok) out.push(d.value.message);
  }
  return out;
}

const LONG = 'QUJDRA=='.repeat(80);
const STRINGS = ['', ' ', '1', '  padded  ', 'caf\u00e9 \u6587\u5b57 \ud83d\ude00', 'a\u0000b', '\ud800', 'x\udc00', LONG, `${LONG}\u00e9`, `${LONG}\u0000`, '1.1', ' 1.1 ', 'SyncHdr', 'bin'];
const DATA: ItemData[] = [
  { kind: 'text', text: '' }, { kind: 'text', text: 'value' }, { kind: 'text', text: LONG }, { kind: 'binary', bytes: new Uint8Array(0) },
  { kind: 'binary', bytes: new Uint8Array([0, 1, 2, 0xff]) }, { kind: 'binary', bytes: new Uint8Array(300).fill(7) },
  { kind: 'xml', elements: [el('dmddf', 'MgmtTree', [el('dmddf', 'VerDTD', ['1.2'])])] },
];
const METAS: Meta[] = [
  {}, { format: 'chr' }, { fieldLevel: true }, { emi: [] }, { emi: ['a', 'b'] }, { anchor: { next: '2' } }, { anchor: { last: '1', next: '2' } },
  { mem: { freeMem: '1', freeID: '2' } }, { mem: { sharedMem: true, freeMem: '1', freeID: '2' } },
  { format: 'b64', type: 'syncml:auth-md5', mark: 'm', size: '3', version: 'v', nextNonce: 'n', maxMsgSize: '1', maxObjSize: '2', fieldLevel: true, emi: ['e'] },
];

/** Every object in the message, with the keys it may carry that the mutator sets. */
function objects(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  if (!Array.isArray(v)) out.push(v as Record<string, unknown>);
  for (const x of Object.values(v)) objects(x, out);
  return out;
}

const STRING_KEYS = ['verDTD', 'verProto', 'sessionID', 'msgID', 'respURI', 'locURI', 'locName', 'cmdID', 'msgRef', 'cmdRef', 'cmd', 'data', 'correlator', 'format', 'type', 'next', 'last', 'freeMem', 'text'];
const OPTIONAL_KEYS = ['respURI', 'noResp', 'cred', 'meta', 'locName', 'data', 'correlator', 'msgRef', 'chal', 'target', 'source', 'moreData', 'format', 'fieldLevel', 'emi', 'anchor', 'mem', 'sharedMem', 'last'];

/** One change somewhere in the message: a string, a flag, an optional part, Data, Meta, or a command. */
function mutate(msg: SyncML, r: (n: number) => number): void {
  const all = objects(msg);
  const o = all[r(all.length)]!;
  switch (r(8)) {
    case 0: o[STRING_KEYS[r(STRING_KEYS.length)]!] = STRINGS[r(STRINGS.length)]; break;
    case 1: delete o[OPTIONAL_KEYS[r(OPTIONAL_KEYS.length)]!]; break;
    case 2: o[['noResp', 'moreData', 'fieldLevel', 'final', 'sharedMem'][r(5)]!] = [true, false, undefined][r(3)]; break;
    case 3: if ('items' in o || 'target' in o || 'locURI' in o) o.data = structuredClone(DATA[r(DATA.length)]); break;
    case 4: o.meta = structuredClone(METAS[r(METAS.length)]); break;
    case 5: if (Array.isArray(o.items)) (o.items as unknown[]).push(r(2) ? {} : { target: { locURI: './x' }, data: structuredClone(DATA[r(DATA.length)]) }); break;
    case 6: if (Array.isArray(o.commands)) (o.commands as Command[]).splice(r(o.commands.length + 1), 0, structuredClone(all.find((x) => typeof x.kind === 'string' && x !== o) as unknown as Command) ?? { kind: 'Map', cmdID: '9' } as unknown as Command); break;
    default: o[STRING_KEYS[r(STRING_KEYS.length)]!] = [7, null, undefined, ['a']][r(4)];
  }
}

describe('encodeMessage: the WBXML fast path writes the tree path\'s bytes', () => {
  let session: { in: Uint8Array[]; out: Uint8Array[] };
  let seeds: SyncML[];
  beforeAll(async () => {
    session = await benchSession();
    seeds = [...messagesOf(corpus()), ...messagesOf(session.in), ...messagesOf(session.out)];
  }, 60_000);

  it('the bench session\'s messages, both sides, take the fast path: the same bytes', () => {
    const msgs = [...messagesOf(session.out), ...messagesOf(session.in)];
    expect(msgs.length).toBeGreaterThanOrEqual(12);
    for (const [i, msg] of msgs.entries()) {
      expect(check(msg), `bench message ${i}`).toBe('');
      expect(writeWbxmlMessageFast(msg), `bench message ${i} on the fast path`).toBeDefined();
      // What the handsets and the server wrote is what the fast path writes.
      expect(hex(encodeMessage(msg, 'wbxml').ok ? (encodeMessage(msg, 'wbxml') as { value: Uint8Array }).value : new Uint8Array())).toBe(hex((encodeMessageByTree(msg, 'wbxml') as { value: Uint8Array }).value));
    }
  });

  it('every message of the corpus, and the meta, data and string corner cases', () => {
    let fast = 0;
    for (const [i, msg] of seeds.entries()) {
      expect(check(msg), `seed ${i}`).toBe('');
      if (writeWbxmlMessageFast(msg) !== undefined) fast++;
    }
    expect(fast).toBeGreaterThan(seeds.length / 2);
    const base = seeds[0]!;
    for (const meta of METAS) {
      for (const data of DATA) {
        const msg = structuredClone(base);
        msg.hdr.meta = meta;
        msg.body.commands.push({ kind: 'Replace', cmdID: '77', meta, items: [{ target: { locURI: './a' }, meta, data }] });
        expect(check(msg), `meta ${JSON.stringify(meta)} data ${data.kind}`).toBe('');
      }
    }
    const items = structuredClone(base);
    items.body.commands.push({ kind: 'Get', cmdID: '78', items: [{}, { moreData: true }, { moreData: false }, { data: { kind: 'text', text: '' } }] });
    expect(writeWbxmlMessageFast(items)).toBeDefined();
    expect(check(items), 'empty items').toBe('');
    for (const str of STRINGS) {
      const msg = structuredClone(base);
      msg.hdr.msgID = str;
      msg.hdr.verDTD = str;
      msg.body.commands.push({ kind: 'Alert', cmdID: str, data: str, correlator: str, items: [{ source: { locURI: str, locName: str }, data: { kind: 'text', text: str } }] });
      expect(check(msg), `string ${JSON.stringify(str)}`).toBe('');
    }
  });

  it('on 10,000 mutated messages: the same bytes, or the fast path gives up', () => {
    const r = rng(20261210);
    let fast = 0;
    for (let i = 0; i < 10_000; i++) {
      const msg = structuredClone(seeds[r(seeds.length)]!);
      for (let k = 1 + r(3); k > 0; k--) mutate(msg, r);
      const problem = check(msg);
      if (problem) expect.fail(`iteration ${i}: ${problem}\nmessage: ${JSON.stringify(msg, (_k, x: unknown) => (x instanceof Uint8Array ? hex(x) : x))}`);
      if (writeWbxmlMessageFast(msg) !== undefined) fast++;
    }
    expect(fast).toBeGreaterThan(4_000);
  }, 180_000);
});
