/**
 * The DM 2.0 server session step: one client package (1 or 3) + the session + the device's queued
 * jobs -> package 2 (commands, or END) + the next session + the same EngineEffects the DM 1.2
 * engine reports, so the store is updated the same way whichever protocol the device speaks.
 * Pure: no I/O, no clock, no randomness.
 *
 * Job mapping (jobs are DM 1.2 JobSpecs; the queue is shared by both protocols):
 *   get -> GET; replace, add -> PUT (create or replace: DM 2.0 has no separate Add); delete -> DELETE;
 *   exec -> EXEC; read-acl -> GET uri?prop=ACL; discover -> GET uri?list=Struct;
 *   sequence -> its members as consecutive commands (a DM 2.0 client runs a package in order);
 *   atomic, copy, UI alerts -> failed at once: no DM 2.0 counterpart in this binding.
 * A package carries whole jobs, at most `maxCommandsPerPackage` commands (a single larger job
 * still goes alone). Jobs that do not fit stay queued for the next package.
 */
import type { EngineEffects, EngineJob, JobOutcome } from '../engine.js';
import type { AlertRecord, JobMemberStatus, JobResult, JobSpec, SessionState, SimpleJobSpec } from '../types.js';
import {
  DM20_VERSION, PKG, type Dm20ClientMessage, type Dm20Command, type Dm20CommandDraft, type Dm20Event, type Dm20Mo,
  type Dm20Result, type Dm20ServerPackage,
} from '../../protocol/dm20/model.js';

export interface Dm20StepLimits {
  /** Most commands the server puts in one package 2. */
  maxCommandsPerPackage: number;
}

export const DEFAULT_DM20_STEP_LIMITS: Readonly<Dm20StepLimits> = Object.freeze({ maxCommandsPerPackage: 32 });

interface Outstanding {
  jobId: number;
  cmd: Dm20Command['Cmd'];
  uri: string;
  /** Index in the job's members (sequence members). */
  member?: number;
}

interface Dm20JobProgress {
  id: number;
  spec: JobSpec;
  cmdIds: number[];
  /** Status per CmdID, once answered. */
  answered: Record<string, number>;
  results: JobResult[];
  members: JobMemberStatus[];
  finished: boolean;
  failure?: { code: number | null; error: string };
}

export interface Dm20ServerSession {
  id: number;
  devId: string;
  sid: string;
  phase: 'open' | 'closed';
  closedState?: SessionState;
  /** Server packages sent so far. */
  packages: number;
  nextCmdId: number;
  /** Commands of the last package 2 still waiting for their result, by CmdID. */
  outstanding: Record<string, Outstanding>;
  jobs: Record<string, Dm20JobProgress>;
  mos: Dm20Mo[];
}

export interface Dm20StepInput {
  message: Dm20ClientMessage;
  /** Jobs queued for this device right now (read from the store at each package). */
  queuedJobs: EngineJob[];
  limits?: Partial<Dm20StepLimits>;
}

export interface Dm20StepOutput {
  session: Dm20ServerSession;
  response: Dm20ServerPackage;
  effects: EngineEffects;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function emptyEffects(): EngineEffects {
  return { jobsSent: [], jobsFinished: [], jobsReleased: [], tree: [], alerts: [], notes: [] };
}

export function openDm20Session(id: number, pkg1: Extract<Dm20ClientMessage, { Pkg: 1 }>): Dm20ServerSession {
  return { id, devId: pkg1.DevID, sid: pkg1.SID, phase: 'open', packages: 0, nextCmdId: 1, outstanding: {}, jobs: {}, mos: [] };
}

/** The commands a job becomes, or why it cannot be expressed in DM 2.0. */
export function jobCommands(spec: JobSpec): { commands: Dm20CommandDraft[] } | { unsupported: string } {
  switch (spec.kind) {
    case 'read-acl':
      return { commands: [{ Cmd: 'GET', URI: `${spec.uri}?prop=ACL` }] };
    case 'discover':
      return { commands: [{ Cmd: 'GET', URI: `${spec.uri}?list=Struct` }] };
    case 'sequence': {
      const out: Dm20CommandDraft[] = [];
      for (const m of spec.commands) {
        const r = simpleCommand(m);
        if ('unsupported' in r) return { unsupported: `sequence member ${m.kind}: ${r.unsupported}` };
        out.push(r.command);
      }
      return { commands: out };
    }
    case 'atomic':
      return { unsupported: 'Atomic has no DM 2.0 counterpart (the command set has no transaction)' };
    default: {
      const r = simpleCommand(spec);
      return 'unsupported' in r ? r : { commands: [r.command] };
    }
  }
}

function simpleCommand(spec: SimpleJobSpec): { command: Dm20CommandDraft } | { unsupported: string } {
  switch (spec.kind) {
    case 'get':
      return { command: { Cmd: 'GET', URI: spec.uri } };
    case 'delete':
      return { command: { Cmd: 'DELETE', URI: spec.uri } };
    case 'add':
    case 'replace': {
      const interior = spec.kind === 'add' && spec.value === undefined && (spec.format === undefined || spec.format === 'node');
      if (interior) return { command: { Cmd: 'PUT', URI: spec.uri, Format: 'node' } };
      const c: Dm20CommandDraft = { Cmd: 'PUT', URI: spec.uri, MOData: spec.value ?? '', Format: spec.format ?? (spec.binary ? 'bin' : 'chr') };
      if (spec.type) c.Type = spec.type;
      return { command: c };
    }
    case 'exec': {
      const c: Dm20CommandDraft = { Cmd: 'EXEC', URI: spec.uri };
      if (spec.data !== undefined) c.MOData = spec.data;
      if (spec.format) c.Format = spec.format;
      if (spec.type) c.Type = spec.type;
      if (spec.correlator) c.Correlator = spec.correlator;
      return { command: c };
    }
    case 'copy':
      return { unsupported: 'Copy has no DM 2.0 counterpart' };
    case 'alert':
      return { unsupported: 'UI alerts have no DM 2.0 counterpart in this binding (SHOW hands a web page to a browser)' };
  }
}

/** A client result as a job result, in the DM 1.2 engine's shape (binary data stays base64). */
export function resultToJobResult(r: Dm20Result, fallbackUri: string): JobResult | undefined {
  if (r.MOData === undefined) return undefined;
  const out: JobResult = { uri: r.URI ?? fallbackUri, format: r.Format ?? null, data: r.MOData };
  if (r.Type) out.type = r.Type;
  if (r.Format === 'bin') out.encoding = 'b64';
  return out;
}

/** Generic-alert-like events (DM 1.2 Alert 1226 counterpart) for the store's alert log. */
export function eventAlert(e: Dm20Event): AlertRecord {
  const item: AlertRecord['items'][number] = { type: e.Type };
  if (e.Source) item.source = e.Source;
  if (e.Format) item.format = e.Format;
  if (e.Data !== undefined) item.data = e.Data;
  return { code: '1226', ...(e.Correlator ? { correlator: e.Correlator } : {}), items: [item] };
}

/** Ends a session from outside (timeout, restart, shutdown): unfinished jobs are released. */
export function closeDm20Session(session: Dm20ServerSession, state: SessionState, reason: string): { session: Dm20ServerSession; effects: EngineEffects } {
  const s = clone(session);
  const fx = emptyEffects();
  closeInto(s, fx, state, reason);
  return { session: s, effects: fx };
}

function closeInto(s: Dm20ServerSession, fx: EngineEffects, state: SessionState, reason: string): void {
  if (s.phase === 'closed') return;
  s.phase = 'closed';
  s.closedState = state;
  for (const j of Object.values(s.jobs)) {
    if (!j.finished) {
      fx.jobsReleased.push({ id: j.id, wasSent: j.cmdIds.length > 0, onWire: j.cmdIds.length > 0 });
      j.finished = true;
    }
  }
  s.outstanding = {};
  fx.closed = { state, reason };
}

export function dm20Step(session: Dm20ServerSession, input: Dm20StepInput): Dm20StepOutput {
  const s = clone(session);
  const fx = emptyEffects();
  const limits = { ...DEFAULT_DM20_STEP_LIMITS, ...input.limits };
  const m = input.message;
  const pkg = (CMD: Dm20Command[]): Dm20ServerPackage => ({ Ver: DM20_VERSION, SID: s.sid, Pkg: PKG.SERVER_COMMANDS, CMD });

  if (s.phase === 'closed') {
    fx.notes.push(`package after the session ended (${s.closedState}); answered END, not processed`);
    return { session: s, response: pkg([{ CmdID: s.nextCmdId++, Cmd: 'END' }]), effects: fx };
  }
  if (m.SID !== s.sid || m.DevID !== s.devId) {
    // The handler routes by (DevID, SID); reaching here means a caller bug, not a device's.
    throw new Error(`package for ${m.DevID}/${m.SID} given to session ${s.devId}/${s.sid}`);
  }

  if (m.Pkg === PKG.CLIENT_INIT) {
    if (s.packages > 0) fx.notes.push('package 1 in the middle of a session: read as a fresh start of the exchange');
    if (m.DevInfo && Object.keys(m.DevInfo).length > 0) fx.devInfo = { ...m.DevInfo };
    for (const mo of m.MOS ?? []) {
      s.mos.push(mo);
      fx.tree.push({ uri: mo.URI, format: 'node', type: mo.MOID, data: null });
    }
  } else {
    readResults(s, fx, m.Results);
  }
  for (const e of m.Events ?? []) fx.alerts.push(eventAlert(e));

  evaluateJobs(s, fx);

  // The next package: whole jobs, in queue order, up to the command limit.
  const out: Dm20Command[] = [];
  for (const j of input.queuedJobs) {
    if (s.jobs[j.id]) continue;
    const mapped = jobCommands(j.spec);
    if ('unsupported' in mapped) {
      s.jobs[j.id] = { id: j.id, spec: j.spec, cmdIds: [], answered: {}, results: [], members: [], finished: true };
      fx.jobsFinished.push({ id: j.id, status: 'failed', statusCode: null, results: [], members: [], error: mapped.unsupported });
      continue;
    }
    if (out.length > 0 && out.length + mapped.commands.length > limits.maxCommandsPerPackage) break;
    const job: Dm20JobProgress = { id: j.id, spec: j.spec, cmdIds: [], answered: {}, results: [], members: [], finished: false };
    s.jobs[j.id] = job;
    for (const draft of mapped.commands) {
      const c = { ...draft, CmdID: s.nextCmdId++ } as Dm20Command;
      out.push(c);
      job.cmdIds.push(c.CmdID);
      const o: Outstanding = { jobId: j.id, cmd: c.Cmd, uri: 'URI' in c && c.URI ? c.URI : '' };
      if (j.spec.kind === 'sequence') {
        o.member = job.members.length;
        job.members.push({ cmd: c.Cmd, uri: o.uri, statusCode: null });
      }
      s.outstanding[c.CmdID] = o;
    }
    fx.jobsSent.push(j.id);
    if (out.length >= limits.maxCommandsPerPackage) break;
  }

  s.packages++;
  if (out.length > 0) return { session: s, response: pkg(out), effects: fx };

  const response = pkg([{ CmdID: s.nextCmdId++, Cmd: 'END' }]);
  closeInto(s, fx, 'done', 'completed');
  return { session: s, response, effects: fx };
}

function readResults(s: Dm20ServerSession, fx: EngineEffects, results: readonly Dm20Result[]): void {
  const seen = new Set<number>();
  for (const r of results) {
    const o = s.outstanding[r.CmdRef];
    if (!o) {
      fx.notes.push(`result for CmdID ${r.CmdRef}, which is not waiting for an answer: ignored`);
      continue;
    }
    const job = s.jobs[o.jobId];
    if (!job) continue;
    if (!seen.has(r.CmdRef)) {
      seen.add(r.CmdRef);
      job.answered[r.CmdRef] = r.Status;
      if (o.member !== undefined) job.members[o.member]!.statusCode = r.Status;
    } else if (job.answered[r.CmdRef] !== r.Status) {
      fx.notes.push(`CmdID ${r.CmdRef}: results disagree on the status (${job.answered[r.CmdRef]} then ${r.Status}); the first stands`);
    }
    const jr = resultToJobResult(r, o.uri);
    if (jr) {
      job.results.push(jr);
      fx.tree.push({ uri: jr.uri, format: jr.format, type: jr.type ?? null, data: jr.data, ...(jr.encoding ? { encoding: jr.encoding } : {}) });
    }
  }
  // A client answers every command of a package; what it left out will not come.
  for (const [id, o] of Object.entries(s.outstanding)) {
    if (!seen.has(Number(id))) {
      const job = s.jobs[o.jobId];
      if (job && !job.failure) job.failure = { code: null, error: `the device sent no result for ${o.cmd} ${o.uri} (CmdID ${id})` };
    }
  }
  s.outstanding = {};
}

function evaluateJobs(s: Dm20ServerSession, fx: EngineEffects): void {
  for (const job of Object.values(s.jobs)) {
    if (job.finished || job.cmdIds.some((id) => s.outstanding[id] !== undefined)) continue;
    if (job.cmdIds.length === 0) continue;
    job.finished = true;
    fx.jobsFinished.push(outcome(job));
  }
}

function outcome(job: Dm20JobProgress): JobOutcome {
  const base = { id: job.id, results: job.results, members: job.members };
  if (job.failure) {
    const code = job.cmdIds.map((id) => job.answered[id]).find((c) => c !== undefined && c >= 300) ?? job.failure.code;
    return { ...base, status: 'failed', statusCode: code ?? null, error: job.failure.error };
  }
  if (job.spec.kind === 'sequence') {
    // As DM 1.2's Sequence: the container succeeds, each member carries its own status.
    return { ...base, status: 'done', statusCode: 200, error: null };
  }
  const code = job.answered[job.cmdIds[0]!] ?? null;
  const ok = code !== null && code >= 200 && code < 300;
  return { ...base, status: ok ? 'done' : 'failed', statusCode: code, error: ok ? null : `device answered ${code}` };
}
