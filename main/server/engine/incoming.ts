/**
 * What the device says, command by command: Statuses and Results for our commands (they settle
 * jobs), its Alerts (1222 next message, 1223 abort, 1224/1226 reports, 1225 our object cut), and
 * its own Replace/Add (DevInfo in package 1, cached in the device's tree). A device may not send
 * management commands to a server: those get 406.
 */
import type { Alert, Command, Item, ItemCommand, Meta, Results, Status } from '../../protocol/model.js';
import { itemValue } from '../../protocol/model.js';
import { getCommand, itemResult, reportedUri } from '../jobs.js';
import type { AlertRecord } from '../types.js';
import { ALERT, clientObjectKey, incomingKey, resultsKey, status } from './helpers.js';
import { failJob } from './job-progress.js';
import { cutIncoming, takeChunk } from './large-objects.js';
import type { Turn } from './turn.js';
import type { JobProgress, SentRecord } from './types.js';

export function onCommand(t: Turn, c: Command): void {
  // No new command may come between the chunks of a large object (Statuses and Alerts such as
  // 1222 may): one that does cuts it off.
  const lo = t.s.incomingLo;
  if (lo && c.kind !== 'Status' && c.kind !== 'Alert' && incomingKey(c, t.s.serverMsgId) !== lo.key) {
    cutIncoming(t, lo, `the device sent ${c.kind} before the last chunk of its large object`);
  }
  switch (c.kind) {
    case 'Status':
      if (!(c.cmd === 'SyncHdr' || c.cmdRef === '0')) onStatus(t, c);
      return;
    case 'Results':
      onResults(t, c);
      return;
    case 'Alert':
      answer(t, c, onAlert(t, c));
      return;
    case 'Replace':
    case 'Add':
      answer(t, c, onClientData(t, c));
      return;
    default:
      // Management commands flow server -> client in DM; a client sending them gets 406.
      t.fx.notes.push(`client sent ${c.kind}: not supported from a client (406)`);
      answer(t, c, 406);
  }
}

/** Our Status for the device's command, unless it asked for none (NoResp). */
function answer(t: Turn, c: Command, code: number): void {
  if (!c.noResp) t.statuses.push(status(t.hdr.msgID, c, code));
}

export function onAlert(t: Turn, a: Alert): number {
  switch (a.data) {
    case ALERT.CLIENT_INIT:
    case ALERT.SERVER_INIT:
      return 200;
    case ALERT.NEXT_MESSAGE:
      t.clientWantsNext = true;
      return 200;
    case ALERT.ABORT:
      t.clientAborted = true;
      return 200;
    case ALERT.CLIENT_EVENT:
    case ALERT.GENERIC: {
      const rec: AlertRecord = { code: a.data, items: a.items.map((i) => {
        const r: AlertRecord['items'][number] = {};
        if (i.source) r.source = i.source.locURI;
        if (i.target) r.target = i.target.locURI;
        if (i.meta?.type) r.type = i.meta.type;
        if (i.meta?.format) r.format = i.meta.format;
        const v = itemValue(i);
        if (v) r.data = v.kind === 'text' ? v.text : Buffer.from(v.bytes).toString('base64');
        return r;
      }) };
      if (a.correlator) rec.correlator = a.correlator;
      t.fx.alerts.push(rec);
      return 200;
    }
    case ALERT.NO_END_OF_DATA: {
      // Our large object was cut: whichever job was sending one fails.
      const lo = t.s.outbox.find((o) => o.lo);
      if (lo) failJob(t, lo.jobId, 1225, 'the device reported no end of data (Alert 1225)');
      t.s.outbox = t.s.outbox.filter((o) => !o.lo);
      return 200;
    }
    default:
      t.fx.notes.push(`client sent Alert ${a.data ?? '(no code)'}: not handled (406)`);
      return 406;
  }
}

/**
 * The client's own Replace/Add (DevInfo in package 1, or any node it reports): cached in the
 * device's tree. An item may be a large object in chunks (213 each, applied once whole).
 * Returns the command's status code.
 */
export function onClientData(t: Turn, c: ItemCommand): number {
  let code = 200;
  for (const item of c.items) {
    const uri = reportedUri(item);
    if (!uri) continue;
    const key = clientObjectKey(c.kind, uri);
    if (item.moreData || t.s.incomingLo?.key === key) {
      const got = takeChunk(t, key, uri, item, c.meta, (n) => (code = n));
      if (typeof got !== 'string') cacheClientItem(t, c, got.item);
      continue;
    }
    cacheClientItem(t, c, item);
  }
  return code;
}

export function cacheClientItem(t: Turn, c: ItemCommand, item: Item): void {
  const v = itemResult(item, '', c.meta);
  const m = /^(?:\.\/)?DevInfo\/([^/]+)$/.exec(v.uri);
  if (m && v.data !== null) (t.fx.devInfo ??= {})[m[1]!] = v.data;
  t.fx.tree.push({ uri: v.uri, format: v.format, type: v.type ?? null, data: v.data, ...(v.encoding ? { encoding: v.encoding } : {}) });
}

export function onStatus(t: Turn, st: Status): void {
  const key = `${st.msgRef}:${st.cmdRef}`;
  const rec = t.s.sent[key];
  if (!rec) {
    t.fx.notes.push(`Status for unknown command (MsgRef ${st.msgRef}, CmdRef ${st.cmdRef}) ignored`);
    return;
  }
  const code = Number.parseInt(st.data, 10);
  rec.status = Number.isFinite(code) ? code : 500;
  if (rec.jobId < 0) return;
  const job = t.s.jobs[rec.jobId];
  if (!job || job.finished) return;

  if ((code === 401 || code === 407) && t.serverCredRefused && rec.command && t.config.serverCred
    && t.s.serverAuth.retries < t.config.limits.maxServerAuthRetries) {
    rec.superseded = true;
    if (rec.cmd === 'Atomic' || rec.cmd === 'Sequence') {
      for (const r of Object.values(t.s.sent)) if (r.parent === key) r.superseded = true;
      job.members = [];
    }
    t.resend.push({ jobId: rec.jobId, command: rec.command, ...(rec.walk ? { walk: true } : {}), ...(rec.structGet ? { structGet: true } : {}), ...(rec.readBack ? { readBack: true } : {}) });
    return;
  }
  if (rec.member !== undefined) {
    const m = job.members[rec.member];
    if (m) m.statusCode = rec.status;
  }
  if (rec.chunk && !rec.chunk.last && code !== 213) {
    failJob(t, job.id, code, `large object chunk refused (${code})`);
    t.s.outbox = t.s.outbox.filter((o) => o.jobId !== job.id);
  }
  if (rec.structGet && code >= 300) {
    // No ?list=Struct on this device: walk the tree with plain Gets instead.
    t.fx.notes.push(`job ${job.id}: ?list=Struct refused (${code}); walking the tree with Gets`);
    rec.superseded = true;
    enqueueWalk(t, job, (job.spec as { uri: string }).uri);
  }
}

export function onResults(t: Turn, r: Results): void {
  const key = resultsKey(r, t.s.serverMsgId);
  const rec = t.s.sent[key];
  if (!rec || rec.jobId < 0) {
    t.fx.notes.push(`Results for unknown command (MsgRef ${r.msgRef ?? '-'}, CmdRef ${r.cmdRef}) ignored`);
    return;
  }
  const job = t.s.jobs[rec.jobId];

  for (const item of r.items) {
    const lo = t.s.incomingLo;
    if (item.moreData || (lo && lo.key === key)) {
      const answer = (code: number) => t.statuses.push(status(t.hdr.msgID, r, code, { targetRefs: r.targetRefs, sourceRefs: r.sourceRefs }));
      const got = takeChunk(t, key, reportedUri(item) ?? rec.uri, item, r.meta, answer);
      if (got === 'more') continue;
      if (got !== 'refused' && job) addResult(t, job, rec, got.item, got.meta);
      rec.resultsDone = true;
      continue;
    }
    if (job) addResult(t, job, rec, item, r.meta);
    rec.resultsDone = true;
  }
  if (r.items.length === 0) rec.resultsDone = true;
}

export function addResult(t: Turn, job: JobProgress, rec: SentRecord, item: Item, meta: Meta | undefined): void {
  const res = itemResult(item, rec.uri, meta);
  // What a read-back found decides the job; it is not what the job was asked to fetch.
  if (rec.readBack && job.readBack) job.readBack.value = res;
  else job.results.push(res);
  t.fx.tree.push({ uri: res.uri, format: res.format, type: res.type ?? null, data: res.data, ...(res.encoding ? { encoding: res.encoding } : {}) });
  if (rec.walk && res.format === 'node' && res.data) {
    const base = res.uri.replace(/\/+$/, '');
    for (const child of res.data.split('/').filter((c) => c.length > 0)) enqueueWalk(t, job, `${base}/${child}`);
  }
}

export function enqueueWalk(t: Turn, job: JobProgress, uri: string): void {
  job.walked = (job.walked ?? 0) + 1;
  if (job.walked > t.config.limits.maxDiscoverNodes) {
    if (job.walked === t.config.limits.maxDiscoverNodes + 1) t.fx.notes.push(`job ${job.id}: tree walk stopped at ${t.config.limits.maxDiscoverNodes} nodes`);
    return;
  }
  t.s.outbox.push({ jobId: job.id, command: getCommand(uri), walk: true });
}
