/**
 * The copy of a session a turn works on. A turn must leave the session it was given as it was, so
 * that a turn that throws, or whose store transaction rolls back, changes nothing the server keeps
 * (the live session still holds the state from before the message). It used to deep-copy the
 * whole session (helpers.clone), commands and job specs included, on every message: that copy
 * grew with every command the session sent and was a tenth of the engine's time.
 *
 * Here every container a turn changes is copied (the session, its serverAuth, the outbox and its
 * items with their large-object cursor, the sent records, the jobs with their lists and members,
 * the incoming large object), and what no turn changes once made is shared:
 *   - commands (OutItem.command, SentRecord.command): packing numbers a copy, chunking builds new
 *     ones, a re-send queues the same command again;
 *   - job specs, JobResults, a job's failure (replaced, never changed), a chunk's `{ last }`;
 *   - an incoming large object's first item and meta, and the chunk bytes;
 *   - held statuses (pendingStatuses: replaced as a whole, numbered as copies).
 * test/unit/engine-session-copy.test.ts freezes what is shared and runs the engine's scenarios
 * over it, so a phase that starts changing one of these in place fails there.
 */
import type { EngineSession, IncomingLo, JobProgress, OutItem, SentRecord } from './types.js';

export function copySession(s: EngineSession): EngineSession {
  const c = shallow(s);
  c.serverAuth = shallow(s.serverAuth);
  c.outbox = copyOutbox(s.outbox);
  c.sent = copySent(s.sent);
  c.jobs = copyJobs(s.jobs);
  if (s.incomingLo !== undefined) c.incomingLo = copyIncoming(s.incomingLo);
  if (s.pendingStatuses !== undefined) c.pendingStatuses = s.pendingStatuses.slice();
  return c;
}

/**
 * A copy of one level, keys in the same order. Not `{ ...o }`: these objects come in many shapes
 * (optional fields added as a session goes), and Node 20's spread of an object of a shape it has
 * not seen at that site takes a slow path, which made the copy slower than the deep clone it replaces.
 */
function shallow<T extends object>(o: T): T {
  const c = {} as T;
  for (const k in o) c[k] = o[k];
  return c;
}

function copyOutbox(outbox: OutItem[]): OutItem[] {
  const out = new Array<OutItem>(outbox.length);
  for (let i = 0; i < outbox.length; i++) {
    const o = outbox[i]!;
    const c = shallow(o);
    if (o.lo !== undefined) c.lo = shallow(o.lo);
    out[i] = c;
  }
  return out;
}

function copySent(sent: Record<string, SentRecord>): Record<string, SentRecord> {
  const out: Record<string, SentRecord> = {};
  for (const k in sent) out[k] = shallow(sent[k]!);
  return out;
}

function copyJobs(jobs: Record<string, JobProgress>): Record<string, JobProgress> {
  const out: Record<string, JobProgress> = {};
  for (const k in jobs) {
    const j = jobs[k]!;
    const c = shallow(j);
    c.keys = j.keys.slice();
    c.results = j.results.slice();
    const members = new Array<JobProgress['members'][number]>(j.members.length);
    for (let i = 0; i < members.length; i++) members[i] = shallow(j.members[i]!);
    c.members = members;
    if (j.readBack !== undefined) c.readBack = shallow(j.readBack);
    out[k] = c;
  }
  return out;
}

function copyIncoming(lo: IncomingLo): IncomingLo {
  const c = shallow(lo);
  c.chunks = lo.chunks.slice();
  if (lo.b64 !== undefined) c.b64 = { ...lo.b64, texts: lo.b64.texts.slice() };
  return c;
}
