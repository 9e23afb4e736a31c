/**
 * The response: our SyncHdr (with our Cred), statuses and control commands, then as much of the
 * outbox as the device's MaxMsgSize allows; statuses that do not fit wait for our next message,
 * a command too big for any message fails its job, and a closed package of nothing but statuses
 * ends the session. OMA DM 1.2 protocol §8.5 (MaxMsgSize), §8.6 (multiple messages per package).
 */
import { encodeMessage } from '../../protocol/codec.js';
import type { Alert, Command, Container, Status, SyncHdr, SyncML } from '../../protocol/model.js';
import { serverCredential, serverHmacHeader } from '../auth.js';
import { commandUri } from '../jobs.js';
import { serverCredentialsRefused } from './authentication.js';
import { ALERT, countIds } from './helpers.js';
import { closeSession, finish, holds } from './job-progress.js';
import { chunk, loCandidate } from './large-objects.js';
import type { Turn } from './turn.js';
import type { EngineOutput, OutItem, SentRecord } from './types.js';

export function nextMessageAlert(t: Turn): Alert {
  return { kind: 'Alert', cmdID: '', data: ALERT.NEXT_MESSAGE, items: [{ target: { locURI: t.s.devId }, source: { locURI: t.config.serverUri } }] };
}

/** Our SyncHdr for the message being built; computed once per message (its Cred is a hash). */
export function header(t: Turn): SyncHdr {
  const s = t.s;
  if (t.hdrCache?.msgId === s.serverMsgId) return t.hdrCache.hdr;
  const h: SyncHdr = {
    verDTD: s.verDTD,
    verProto: s.verProto,
    sessionID: s.dmSessionId,
    msgID: String(s.serverMsgId),
    target: { locURI: s.devId },
    source: { locURI: t.config.serverUri },
    respURI: s.respUri,
    meta: { maxMsgSize: String(t.config.limits.maxMsgSize), maxObjSize: String(t.config.limits.maxObjSize) },
  };
  const cred = t.config.serverCred;
  if (cred && (s.serverAuth.type === 'basic' || s.serverAuth.type === 'md5')) {
    const c = serverCredential(cred, s.serverAuth.type, s.serverAuth.nonce);
    if (c) h.cred = c;
  }
  t.hdrCache = { msgId: s.serverMsgId, hdr: h };
  return h;
}

export function encode(t: Turn, commands: Command[], final: boolean): Uint8Array {
  const r = encodeMessage({ hdr: header(t), body: { commands, final } }, t.s.encoding);
  if (!r.ok) throw new Error(`cannot encode our own response: ${r.error.message}`);
  return r.value;
}

/**
 * Builds the response: statuses and control commands, then as much of the outbox as the client's
 * MaxMsgSize allows (`takeOutbox`), splitting a large object into chunks when it cannot fit whole.
 */
export function respond(t: Turn, opts: { takeOutbox: boolean; final: boolean }): EngineOutput {
  const s = t.s;
  s.serverMsgId++;
  const msgId = String(s.serverMsgId);
  const ids = new CmdIds();
  const statuses = withPendingStatuses(t);
  let fixed = ids.numberAll(statuses, t.control);
  const limit = s.clientMaxMsgSize ?? t.config.limits.assumedClientMaxMsgSize;
  const chosen: Command[] = [];
  let final = opts.final;
  let chunkSent = false;
  let limited = false;
  // Usually everything queued fits: one encode sizes and builds the whole answer at once.
  let whole = opts.takeOutbox ? takeAllIfFits(t, fixed, msgId, limit, ids) : undefined;
  // Without the fast path, what always goes is encoded once: it sizes the rest and, when nothing
  // else joins it, it is the answer.
  let fixedBytes = whole ? undefined : encode(t, fixed, opts.final);
  // Statuses alone over the limit (a client message of many commands, a small MaxMsgSize): as
  // many as fit go now, the rest open our next message, and no job command goes before them.
  // Not while refusing or closing the session: there is no next message to carry them.
  let statusesHeld = false;
  const fitting = fixedBytes && fixedBytes.length > limit && (opts.takeOutbox || !opts.final) && statuses.length > 2 ? fitStatuses(t, statuses, limit) : undefined;
  if (fitting) {
    ids.next = 1;
    fixed = ids.numberAll(fitting, []);
    fixedBytes = undefined;
    statusesHeld = true;
  }
  // Remember our control commands so their statuses are recognised.
  for (const c of fixed) if (c.kind === 'Alert') s.sent[`${msgId}:${c.cmdID}`] = { jobId: -1, cmd: 'Alert', uri: '', expectResults: false };

  if (whole) {
    chosen.push(...whole.commands);
    final = true;
  } else if (statusesHeld) {
    final = false;
  } else if (opts.takeOutbox) {
    const baseSize = fixedBytes!.length;
    let used = baseSize;
    const cost = (c: Command) => encode(t, [...fixed, c], true).length - baseSize;
    while (s.outbox.length > 0 && !chunkSent) {
      if (t.maxCommands !== undefined && chosen.length >= t.maxCommands) {
        limited = true;
        break;
      }
      const out = s.outbox[0]!;
      const job = s.jobs[out.jobId];
      if (out.lo) {
        if (chosen.length > 0 && limit - used < 256) break;
        const c = chunk(t, out, msgId, () => ids.next++, limit - used, fixed, baseSize);
        if (!c) {
          s.outbox.shift();
          continue;
        }
        chosen.push(c);
        chunkSent = out.lo.offset < out.lo.total;
        if (!chunkSent) s.outbox.shift();
        continue;
      }
      const cmd = ids.number(out.command);
      const size = cost(cmd);
      if (used + size <= limit) {
        chosen.push(cmd);
        used += size;
        s.outbox.shift();
        record(t, out, cmd, msgId);
        continue;
      }
      if (chosen.length > 0) {
        ids.next -= countIds(cmd);
        break;
      }
      ids.next -= countIds(cmd);
      // Alone it does not fit: a large object goes in chunks, anything else cannot go at all.
      const lo = loCandidate(out.command);
      if (!lo) {
        s.outbox.shift();
        if (job) {
          job.failure = { code: null, error: `command of ${size} bytes does not fit the device's MaxMsgSize ${limit}` };
          job.sent = true;
        }
        continue;
      }
      const total = lo.bytes.length;
      const maxObj = s.clientMaxObjSize;
      if (maxObj === undefined || total > maxObj) {
        s.outbox.shift();
        if (job) {
          job.failure = { code: null, error: maxObj === undefined ? `object of ${total} bytes needs large-object support and the device announced no MaxObjSize` : `object of ${total} bytes exceeds the device's MaxObjSize ${maxObj}` };
          job.sent = true;
        }
        continue;
      }
      out.lo = { offset: 0, total, bytes: lo.bytes, text: lo.text };
    }
    // Stopped by maxCommands: the package still closes, so the device executes what it got now.
    final = (s.outbox.length === 0 || limited) && !chunkSent;
  }

  // Jobs that failed locally while building (too large) are settled now.
  for (const job of Object.values(s.jobs)) {
    if (!job.finished && job.failure && !holds(s.outbox, job.id) && !job.keys.some((k) => s.sent[k]!.status === undefined && !s.sent[k]!.superseded)) {
      finish(t, job, 'failed', job.failure.code, job.failure.error);
    }
  }

  const commands = [...fixed, ...chosen];
  const response: SyncML = { hdr: header(t), body: { commands, final } };
  const bytes = whole?.bytes ?? (chosen.length === 0 && fixedBytes && final === opts.final ? fixedBytes : encode(t, commands, final));
  whole = undefined;
  fixedBytes = undefined;
  if (bytes.length > limit) t.fx.notes.push(`response of ${bytes.length} bytes exceeds the device's MaxMsgSize ${limit} (statuses alone)`);
  // Only a message carrying our package leaves it open; asking for the client's next message does not.
  if (opts.takeOutbox) s.serverPackageOpen = !final;
  if (t.config.serverCred && s.serverAuth.type === 'hmac') t.headers['x-syncml-hmac'] = serverHmacHeader(t.config.serverCred, s.serverAuth.nonce, bytes);
  if (t.authChanged) t.fx.deviceAuth = t.auth;

  // A closed package holding no command that wants an answer ends the session.
  if (opts.takeOutbox && final && s.phase !== 'closed' && statusesOnly(commands)) {
    let open = false;
    for (const id in s.jobs) if (!s.jobs[id]!.finished) open = true;
    // Completed, unless the device's last word on our credentials was a refusal.
    const refused = serverCredentialsRefused(t);
    if (!open) closeSession(s, t.fx, refused ? 'failed' : 'done', refused ?? 'completed');
  }
  return { session: s, response, bytes, headers: t.headers, effects: t.fx };
}

function statusesOnly(commands: readonly Command[]): boolean {
  for (const c of commands) if (c.kind !== 'Status') return false;
  return true;
}

/** This message's statuses, the SyncHdr's first, then those an earlier message had no room for. */
export function withPendingStatuses(t: Turn): Status[] {
  const pending = t.s.pendingStatuses;
  if (!pending) return t.statuses;
  delete t.s.pendingStatuses;
  const [first, ...rest] = t.statuses;
  return first?.cmd === 'SyncHdr' ? [first, ...pending, ...rest] : [...pending, ...t.statuses];
}

/**
 * The longest run of `statuses` that fits `limit` with our control commands (the SyncHdr's
 * Status and one more always go); the rest wait in pendingStatuses. Returns what goes now,
 * unnumbered, or undefined when holding back would not help: when not even the fewest fit, or
 * when it would not make progress (every message of the device brings statuses of its own, its
 * SyncHdr's and its Alert 1222's, and a limit too small for more than those would carry the rest
 * forever). Then everything goes now, over the limit.
 */
export function fitStatuses(t: Turn, statuses: Status[], limit: number): Command[] | undefined {
  const numbered = (cmds: Command[]) => cmds.map((c, i) => ({ ...c, cmdID: String(i + 1) }) as Command);
  const fits = (n: number) => encode(t, numbered([...statuses.slice(0, n), ...t.control]), false).length <= limit;
  // Not even the fewest fit: holding the rest back would cost a round trip and fit nothing.
  if (!fits(Math.min(2, statuses.length))) return undefined;
  // Binary search: statuses are small and many; sizing them one by one would encode n times.
  let lo = Math.min(2, statuses.length);
  let hi = statuses.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid + 1;
    else hi = mid - 1;
  }
  const n = Math.max(Math.min(2, statuses.length), hi);
  const carried = statuses.length - t.statuses.length;
  if (carried > 0 && n <= t.statuses.length) {
    t.fx.notes.push(`the device's MaxMsgSize ${limit} leaves no room to catch up on ${carried} held statuses: all ${statuses.length} go now`);
    return undefined;
  }
  t.s.pendingStatuses = statuses.slice(n);
  t.fx.notes.push(`${statuses.length - n} of ${statuses.length} statuses did not fit the device's MaxMsgSize ${limit}: they go in the next message`);
  return [...statuses.slice(0, n), ...t.control];
}

/**
 * The fast path of respond(): when no large object is in the outbox and no step limit applies,
 * numbers every queued command and encodes the whole answer once. If it fits the device's
 * MaxMsgSize the commands are taken (and the bytes are the answer); otherwise nothing changes
 * and respond() sizes command by command.
 */
export function takeAllIfFits(t: Turn, fixed: Command[], msgId: string, limit: number, ids: CmdIds): { commands: Command[]; bytes: Uint8Array } | undefined {
  const s = t.s;
  if (s.outbox.length === 0 || t.maxCommands !== undefined) return undefined;
  for (const o of s.outbox) if (o.lo !== undefined) return undefined;
  const firstId = ids.next;
  const commands = new Array<Command>(s.outbox.length);
  for (let i = 0; i < commands.length; i++) commands[i] = ids.number(s.outbox[i]!.command);
  const bytes = encode(t, fixed.concat(commands), true);
  if (bytes.length > limit) {
    ids.next = firstId;
    return undefined;
  }
  const taken = s.outbox.splice(0);
  for (let i = 0; i < taken.length; i++) record(t, taken[i]!, commands[i]!, msgId);
  return { commands, bytes };
}

/**
 * Gives the commands of the message being built their CmdIDs, in order. Each numbered command is a
 * copy (the outbox and the sent records keep the command unnumbered, to number it again in another
 * message); a shallow one: nothing changes a command once built, so its items are shared.
 */
export class CmdIds {
  next = 1;

  number(c: Command): Command {
    const n = { ...c, cmdID: String(this.next++) } as Command;
    if (n.kind === 'Atomic' || n.kind === 'Sequence') {
      const inner = n.commands;
      const numbered = new Array<Command>(inner.length);
      for (let i = 0; i < inner.length; i++) numbered[i] = this.number(inner[i]!);
      n.commands = numbered;
    }
    return n;
  }

  /** `first` then `then`, numbered (the statuses, then our control commands). */
  numberAll(first: readonly Command[], then: readonly Command[]): Command[] {
    const out = new Array<Command>(first.length + then.length);
    for (let i = 0; i < first.length; i++) out[i] = this.number(first[i]!);
    for (let i = 0; i < then.length; i++) out[first.length + i] = this.number(then[i]!);
    return out;
  }
}

export function record(t: Turn, out: OutItem, cmd: Command, msgId: string): void {
  const s = t.s;
  const job = s.jobs[out.jobId];
  const key = `${msgId}:${cmd.cmdID}`;
  const rec: SentRecord = { jobId: out.jobId, cmd: cmd.kind, uri: commandUri(cmd), expectResults: cmd.kind === 'Get', command: out.command };
  if (out.walk) rec.walk = true;
  if (out.structGet) rec.structGet = true;
  if (out.readBack) rec.readBack = true;
  if (job) {
    if (out.walk || out.readBack) {
      rec.member = job.members.length;
      job.members.push({ cmd: 'Get', uri: rec.uri, statusCode: null });
    }
    job.keys.push(key);
    if (!job.sent) {
      job.sent = true;
      t.fx.jobsSent.push(job.id);
    }
  }
  s.sent[key] = rec;
  if ((cmd.kind === 'Atomic' || cmd.kind === 'Sequence') && job) {
    for (const m of (cmd as Container).commands) {
      const mk = `${msgId}:${m.cmdID}`;
      s.sent[mk] = { jobId: out.jobId, cmd: m.kind, uri: commandUri(m), expectResults: m.kind === 'Get', member: job.members.length, parent: key };
      job.members.push({ cmd: m.kind, uri: commandUri(m), statusCode: null });
      job.keys.push(mk);
    }
  }
}
