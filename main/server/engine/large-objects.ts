/**
 * Large objects both ways (OMA DM 1.2 protocol §8.7 / representation §5.1.12): the device's own
 * chunks (MoreData, Size on the first, 213 per chunk, 424 on a wrong total, 413 over our
 * MaxObjSize, Alert 1225 when cut off) reassembled before anything is applied, and ours sized to
 * what is left of each message.
 */
import type { Alert, Command, Item, ItemCommand, Meta } from '../../protocol/model.js';
import { commandUri } from '../jobs.js';
import { ALERT, dataBytes, isClientObjectKey, num, utf8d } from './helpers.js';
import { fromBase64 } from '../../protocol/binary.js';
import { sizeMatches } from '../../protocol/b64-transport.js';
import { failJobOfKey } from './job-progress.js';
import { encode } from './packing.js';
import type { Turn } from './turn.js';
import type { IncomingLo, OutItem } from './types.js';

/**
 * One item of a large object the client sends in chunks (Results of our Get, or its own
 * Replace/Add): 'more' when buffered (answered 213), the reassembled item after the last chunk,
 * 'refused' when it was answered with an error (413 over our MaxObjSize, 424 size mismatch; the
 * object is dropped, never applied). `key` names the object; another one still open is cut (1225).
 */
export function takeChunk(t: Turn, key: string, uri: string, item: Item, meta: Meta | undefined, answer: (code: number) => void): { item: Item; meta: Meta | undefined } | 'more' | 'refused' {
  const limits = t.config.limits;
  const d = dataBytes(item.data);
  let cur = t.s.incomingLo;
  if (!cur || cur.key !== key) {
    if (cur) cutIncoming(t, cur, 'a new large object started before the previous one ended');
    const declared = num(item.meta?.size ?? meta?.size);
    cur = { key, uri, received: 0, chunks: [], text: d.text, first: { ...item, data: undefined }, ...(declared !== undefined ? { declared } : {}), ...(meta ? { meta } : {}) };
    if ((item.meta?.format ?? meta?.format)?.trim() === 'b64' && d.text) cur.b64 = { texts: [], encodedSize: 0, eachDecodes: true };
    if (declared !== undefined && declared > limits.maxObjSize) {
      answer(413);
      failJobOfKey(t, key, 413, `object of ${declared} bytes exceeds the server's MaxObjSize ${limits.maxObjSize}`);
      return 'refused';
    }
    t.s.incomingLo = cur;
  }
  let piece = d.bytes;
  if (cur.b64) {
    // Each of our handset's chunks is Base64 on its own; another peer's may cut one Base64 text.
    const text = utf8d.decode(d.bytes);
    cur.b64.texts.push(text);
    cur.b64.encodedSize += text.length;
    const bytes = fromBase64(text);
    if (bytes === undefined) cur.b64.eachDecodes = false;
    else piece = bytes;
  }
  cur.chunks.push(piece);
  cur.received += piece.length;
  cur.text &&= d.text;
  if (cur.received > limits.maxObjSize) {
    answer(413);
    failJobOfKey(t, key, 413, `object exceeds the server's MaxObjSize ${limits.maxObjSize}`);
    delete t.s.incomingLo;
    return 'refused';
  }
  if (item.moreData) {
    answer(213);
    return 'more';
  }
  // The last chunk: the object is whole, or wrong and dropped.
  delete t.s.incomingLo;
  if (cur.b64) return b64Object(t, cur, key, answer);
  const all = new Uint8Array(Buffer.concat(cur.chunks));
  if (cur.declared !== undefined && cur.declared !== all.length) {
    answer(424);
    failJobOfKey(t, key, 424, `large object size mismatch: announced ${cur.declared}, received ${all.length}`);
    if (isClientObjectKey(key)) t.fx.notes.push(`the device's large object for ${cur.uri} dropped: announced ${cur.declared} bytes, received ${all.length} (424)`);
    return 'refused';
  }
  return { item: { ...cur.first, data: cur.text ? { kind: 'text', text: utf8d.decode(all) } : { kind: 'binary', bytes: all } }, meta: cur.meta };
}

/**
 * A whole object that came as Format b64: its bytes, as Format bin (Base64 was only the transport,
 * TND §7.7.2); its Size may count the bytes or the Base64 characters. Not Base64 after all: text.
 */
function b64Object(t: Turn, cur: IncomingLo, key: string, answer: (code: number) => void): { item: Item; meta: Meta | undefined } | 'refused' {
  const b = cur.b64!;
  const bytes = b.eachDecodes ? new Uint8Array(Buffer.concat(cur.chunks)) : fromBase64(b.texts.join(''));
  const got = bytes?.length ?? b.encodedSize;
  if (cur.declared !== undefined && !sizeMatches(cur.declared, got, b.encodedSize)) {
    answer(424);
    failJobOfKey(t, key, 424, `large object size mismatch: announced ${cur.declared}, received ${got} bytes (${b.encodedSize} Base64 characters)`);
    if (isClientObjectKey(key)) t.fx.notes.push(`the device's large object for ${cur.uri} dropped: announced ${cur.declared} bytes, received ${got} (424)`);
    return 'refused';
  }
  if (bytes === undefined) return { item: { ...cur.first, data: { kind: 'text', text: b.texts.join('') } }, meta: cur.meta };
  const asBin = (m: Meta | undefined): Meta | undefined => (m?.format === undefined ? m : { ...m, format: 'bin' });
  const first: Item = { ...cur.first, data: { kind: 'binary', bytes } };
  const own = asBin(first.meta);
  if (own) first.meta = own;
  return { item: first, meta: asBin(cur.meta) };
}

/**
 * The large object the client was sending ends without its last chunk: Alert 1225 names it, the
 * job waiting for it fails, and nothing of it is applied.
 */
export function cutIncoming(t: Turn, lo: IncomingLo, why: string): void {
  t.control.push({ kind: 'Alert', cmdID: '', data: ALERT.NO_END_OF_DATA, items: [{ target: { locURI: lo.uri } }] } satisfies Alert);
  failJobOfKey(t, lo.key, 1225, why);
  if (isClientObjectKey(lo.key)) t.fx.notes.push(`the device's large object for ${lo.uri} dropped (Alert 1225): ${why}`);
  delete t.s.incomingLo;
}

/** The next chunk of a large object, sized to what is left of the message. */
export function chunk(t: Turn, out: OutItem, msgId: string, nextId: () => number, room: number, fixed: Command[], baseSize: number): Command | undefined {
  const lo = out.lo!;
  const src = out.command as ItemCommand;
  const first = lo.offset === 0;
  const make = (end: number): ItemCommand => {
    const piece = lo.bytes.subarray(lo.offset, end);
    const it: Item = { ...src.items[0]! };
    const meta: Meta = { ...(it.meta ?? {}) };
    if (first) meta.size = String(lo.total);
    it.meta = meta;
    it.data = lo.text ? { kind: 'text', text: utf8d.decode(piece) } : { kind: 'binary', bytes: piece };
    if (end < lo.total) it.moreData = true;
    else delete it.moreData;
    return { ...src, cmdID: '0', items: [it] };
  };
  const cost = (c: Command) => encode(t, [...fixed, c], true).length - baseSize;
  const overhead = cost(make(lo.offset));
  const xmlBinary = t.s.encoding === 'xml' && !lo.text;
  const budget = room - overhead - 32;
  let span = xmlBinary ? Math.floor(budget / 4) * 3 : budget;
  for (let attempt = 0; attempt < 8; attempt++) {
    if (span < 1) {
      const job = t.s.jobs[out.jobId];
      if (job) job.failure = { code: null, error: `MaxMsgSize ${room} leaves no room for a large-object chunk` };
      return undefined;
    }
    let end = Math.min(lo.total, lo.offset + span);
    if (lo.text) while (end < lo.total && end > lo.offset && (lo.bytes[end]! & 0xc0) === 0x80) end--;
    const c = make(end);
    const over = cost(c) - (room - 16);
    if (over > 0) {
      span -= over + 8;
      continue;
    }
    c.cmdID = String(nextId());
    lo.offset = end;
    const key = `${msgId}:${c.cmdID}`;
    t.s.sent[key] = { jobId: out.jobId, cmd: c.kind, uri: commandUri(c), expectResults: false, chunk: { last: end >= lo.total } };
    const job = t.s.jobs[out.jobId];
    if (job) {
      job.keys.push(key);
      if (!job.sent) {
        job.sent = true;
        t.fx.jobsSent.push(job.id);
      }
    }
    return c;
  }
  const job = t.s.jobs[out.jobId];
  if (job) job.failure = { code: null, error: 'could not size a large-object chunk' };
  return undefined;
}

/** A single-item Add/Replace with data can travel as a large object. */
export function loCandidate(c: Command): { bytes: Uint8Array; text: boolean } | undefined {
  if ((c.kind !== 'Replace' && c.kind !== 'Add') || c.items.length !== 1) return undefined;
  const d = c.items[0]!.data;
  if (!d || d.kind === 'xml') return undefined;
  return dataBytes(d);
}
