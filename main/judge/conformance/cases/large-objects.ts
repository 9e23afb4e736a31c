/**
 * Large objects both ways and MaxMsgSize (Protocol §7, §6.1; RepPro §6.4): the server's object in
 * chunks (213 each, the node set once whole), a total that does not match Meta Size (424), an
 * object cut off (Alert 1225), one over the device's MaxObjSize; the device's Results in chunks
 * under our MaxMsgSize with Meta Size on the first.
 */
import type { Item } from '../../../protocol/model.js';
import { PROTO, REP, SCRATCH, add, get, itemCommand, replace, type CaseTools, type ConformanceCase, type DevicePackage } from '../dsl.js';

const LO = 'Large objects';
const L = `${SCRATCH}/Big`;

function chunk(uri: string, text: string, opts: { size?: number; more: boolean }): Item {
  return { target: { locURI: uri }, meta: { format: 'chr', ...(opts.size !== undefined ? { size: String(opts.size) } : {}) }, data: { kind: 'text', text }, ...(opts.more ? { moreData: true } : {}) };
}

/** The MaxObjSize the device announced in its package 1, if any. */
function deviceMaxObj(first: DevicePackage): number | undefined {
  const v = Number(first.messages[0]?.message.hdr.meta?.maxObjSize);
  return Number.isInteger(v) && v > 0 ? v : undefined;
}

function statusCodes(t: CaseTools, p: DevicePackage, cmd: string): number[] {
  return t.statuses(p).filter((s) => s.cmd === cmd).map((s) => Number(s.data));
}

const text = (n: number): string => 'DM Workbench large object. '.repeat(Math.ceil(n / 27)).slice(0, n);

export const LARGE_OBJECT_CASES: ConformanceCase[] = [
  {
    id: 'dm12.lo.server-chunks', title: 'A server object larger than the device\'s MaxMsgSize, in chunks: 213 for each but the last, the node set whole', clause: `${PROTO} §7; ${REP} §10 (213)`, group: LO,
    *script(t, first) {
      const max = deviceMaxObj(first);
      const maxMsg = Number(first.messages[0]?.message.hdr.meta?.maxMsgSize) || 16_384;
      const size = Math.min(max ?? 0, Math.max(3 * maxMsg, 20_000));
      if (max === undefined || size <= maxMsg) return t.notApplicable(max === undefined ? 'the device announced no MaxObjSize (no large-object support)' : `the device's MaxObjSize ${max} is not above its MaxMsgSize ${maxMsg}`);
      const value = text(size);
      yield* t.scratch(add(L, 'small'));
      const r = yield t.pkg(replace(L, value));
      const codes = statusCodes(t, r, 'Replace');
      t.check('Statuses of the chunks but the last', '213 each', codes.slice(0, -1).join(' ') || 'none', codes.length >= 2 && codes.slice(0, -1).every((c) => c === 213), 'lo.213');
      t.expectStatus(r, 0, 200, `the last chunk of Replace ${L} (${size} bytes)`);
      const back = yield t.pkg(get(L));
      t.expectResult(back, 0, (v) => v.data === value, `the ${size} bytes sent`, `Get ${L}`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.lo.size-mismatch-424', title: 'Chunks whose total differs from Meta Size: 424 on the last, the node unchanged', clause: `${PROTO} §7; ${REP} §10 (424)`, group: LO,
    *script(t, first) {
      if (deviceMaxObj(first) === undefined) return t.notApplicable('the device announced no MaxObjSize (no large-object support)');
      yield* t.scratch(add(L, 'kept'));
      const a = yield t.pkgWith({ final: false }, itemCommand('Replace', chunk(L, text(300), { size: 700, more: true })));
      t.expectStatus(a, 0, 213, 'the first chunk', 'lo.213');
      const b = yield t.pkg(itemCommand('Replace', chunk(L, text(300), { more: false })), get(L));
      t.expectStatus(b, 0, 424, 'the last chunk (600 bytes of 700 announced)', 'lo.424');
      t.expectValue(b, 1, 'kept', `Get ${L} (the object was not applied)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.lo.cut-1225', title: 'A new command before the last chunk: Alert 1225 from the device, the object dropped', clause: `${PROTO} §7 (1225); ${REP} §7`, group: LO,
    *script(t, first) {
      if (deviceMaxObj(first) === undefined) return t.notApplicable('the device announced no MaxObjSize (no large-object support)');
      yield* t.scratch(add(L, 'kept'));
      const a = yield t.pkgWith({ final: false }, itemCommand('Replace', chunk(L, text(300), { size: 900, more: true })));
      t.expectStatus(a, 0, 213, 'the first chunk', 'lo.213');
      const b = yield t.pkg(get(L));
      const alerts = t.commands(b).filter((c) => c.kind === 'Alert' && c.data?.trim() === '1225');
      t.check('Alert 1225 from the device', 'one, naming the object', `${alerts.length}`, alerts.length >= 1, 'lo.1225');
      t.expectValue(b, 0, 'kept', `Get ${L} (the cut object was dropped)`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.lo.over-maxobjsize', title: 'A chunked object announced above the device\'s MaxObjSize: refused (416 or 413)', clause: `${PROTO} §7; ${REP} §10 (413, 416)`, group: LO,
    *script(t, first) {
      const max = deviceMaxObj(first);
      if (max === undefined) return t.notApplicable('the device announced no MaxObjSize (no large-object support)');
      yield* t.scratch(add(L, 'kept'));
      const a = yield t.pkgWith({ final: false }, itemCommand('Replace', chunk(L, text(200), { size: max + 1, more: true })));
      t.expectStatus(a, 0, [416, 413], `the first chunk of an object of ${max + 1} bytes`);
      // The object is over; the next session reads the node back.
      yield t.newSession();
      const b = yield t.pkg(get(L));
      t.expectValue(b, 0, 'kept', `Get ${L} in the next session`);
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.lo.client-chunks', title: 'Results larger than our MaxMsgSize: chunks within it, Meta Size on the first, the object whole', clause: `${PROTO} §7, §6.1 (MaxMsgSize); ${REP} §6.4`, group: LO,
    config: () => ({ limits: { maxMsgSize: 3000 } }),
    *script(t) {
      const value = text(9000);
      yield* t.scratch(add(L, value));
      const from = t.seen.length;
      const r = yield t.pkg(get(L));
      t.expectStatus(r, 0, 200, `Get ${L} (9000 bytes)`);
      t.expectResult(r, 0, (v) => v.data === value, 'the 9000 bytes, reassembled', `Results of Get ${L}`);
      const sizes = t.seen.slice(from).map((m) => m.bytes.length);
      t.check('sizes of the device\'s messages', 'each at most 3000 bytes (our MaxMsgSize)', sizes.join(', '), sizes.every((n) => n <= 3000), 'hdr.maxmsgsize');
      const firstChunk = r.messages.flatMap((m) => m.message.body.commands).find((c) => c.kind === 'Results' && c.items.some((i) => i.moreData));
      const size = firstChunk?.kind === 'Results' ? (firstChunk.items[0]?.meta?.size ?? firstChunk.meta?.size) : undefined;
      t.check('Meta Size on the first chunk', '9000', size ?? (firstChunk ? 'none' : 'not chunked'), size === '9000', 'lo.size-first');
      yield* t.cleanup();
    },
  },
  {
    id: 'dm12.maxmsg.package-in-messages', title: 'A device package larger than our MaxMsgSize goes in several messages (we ask with 1222), each within it', clause: `${PROTO} §6.1, §6.2 (1222); ${REP} §6.4`, group: 'MaxMsgSize',
    config: () => ({ limits: { maxMsgSize: 1800 } }),
    *script(t) {
      const uris = ['./DevInfo/DevId', './DevInfo/Man', './DevInfo/Mod', './DevInfo/DmV', './DevInfo/Lang', './DevDetail/DevTyp', './DevDetail/OEM', './DevDetail/FwV', './DevDetail/SwV', './DevDetail/HwV', './DevDetail/LrgObj', './DevDetail/URI/MaxDepth', './DevDetail/URI/MaxTotLen', './DevDetail/URI/MaxSegLen', './DevInfo', './DevDetail', './DevDetail/URI'];
      const from = t.seen.length;
      const r = yield t.pkg(...uris.map(get));
      const answered = uris.filter((_, i) => t.status(r, i) === 200).length;
      t.check('Gets answered 200', String(uris.length), String(answered), answered === uris.length);
      const sizes = t.seen.slice(from).map((m) => m.bytes.length);
      t.check('sizes of the device\'s messages', 'each at most 1800 bytes (our MaxMsgSize)', sizes.join(', '), sizes.every((n) => n <= 1800), 'hdr.maxmsgsize');
      t.check('messages in the device\'s package', 'more than one', String(r.messages.length), r.messages.length > 1);
    },
  },
];
