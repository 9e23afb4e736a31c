/**
 * Fault injection for the virtual handset: a catalogue of the DM 1.2 client's common failure modes,
 * each one a small, explicit hook, so that a lab can prove its checks (the judge's rules, the
 * conformance plan) catch a misbehaving handset. `dmw sim|handset --fault NAME` and
 * HandsetOptions.faults turn them on; with none given nothing here runs.
 *
 * Where each fault acts:
 *  - outgoing: the message we are about to send is rewritten (applyOutgoingFaults, pure, a copy:
 *    the session keeps its own message for a re-send after a challenge);
 *  - incoming: what the handset takes from the server's message is changed (a limit it does not
 *    hear, a nonce it does not store), in handset.ts;
 *  - processor: the command processor behaves wrongly (main/tree/processor, ProcessorFaults).
 *
 * `rules` are the judge's rule ids (main/judge/catalogue.ts) that report the fault on a session
 * that exercises it; an empty list says no passive rule can see it (only an active test can).
 */
import type { Command, Results, Status, SyncML } from '../protocol/model.js';

export type FaultHook = 'outgoing' | 'incoming' | 'processor';

export interface FaultInfo {
  /** Stable name, as `--fault` takes it. */
  name: string;
  /** One line: what the faulty handset does. */
  description: string;
  /** The spec clause it breaks (document and section). */
  clause: string;
  /** Judge rule ids that report it. */
  rules: readonly string[];
  hook: FaultHook;
  /** What a session needs for the fault to show (a chunked object, an Atomic with a failing member ...). */
  needs: string;
}

const PROTO = 'OMA-TS-DM_Protocol-V1_2';
const REP = 'OMA-TS-DM_RepPro-V1_2';
const TND = 'OMA-TS-DM_TND-V1_2';

export const FAULTS = [
  { name: 'ignore-atomic-rollback', hook: 'processor', rules: ['atomic.status'], clause: `${REP} §6.6.3`,
    description: 'an Atomic with a failing member keeps the members that succeeded and is answered 200',
    needs: 'an Atomic with a failing member' },
  { name: 'skip-acl', hook: 'processor', rules: [], clause: `${TND} §7.7.1`,
    description: 'executes commands the ACL forbids (acts as the device itself, not as the server)',
    needs: 'a command on a node whose ACL does not name the server' },
  { name: 'wrong-msgref', hook: 'outgoing', rules: ['status.msgref-unknown'], clause: `${REP} §6.1.13`,
    description: 'Statuses (but the SyncHdr one) name a MsgRef the server never sent',
    needs: 'any server command' },
  { name: 'wrong-cmdref', hook: 'outgoing', rules: ['status.cmdref-unknown'], clause: `${REP} §6.1.5`,
    description: 'Statuses (but the SyncHdr one) name a CmdRef the server never used',
    needs: 'any server command' },
  { name: 'no-213', hook: 'outgoing', rules: ['lo.213'], clause: `${PROTO} §7`,
    description: 'chunks of a large object are answered 200 instead of 213',
    needs: 'a large object from the server' },
  { name: 'reuse-nonce', hook: 'incoming', rules: ['auth.nonce-not-used'], clause: `${PROTO} §9.1`,
    description: "never stores the server's NextNonce: the digest after a challenge is built with the used nonce",
    needs: 'MD5 client authentication and a challenge' },
  { name: 'drop-status', hook: 'outgoing', rules: ['status.missing'], clause: `${PROTO} §8.4, §8.5; ${REP} §6.5.1`,
    description: 'leaves out the last command Status of each message',
    needs: 'any server command' },
  { name: 'wrong-status-code', hook: 'outgoing', rules: ['status.code-for-command'], clause: `${REP} §6.6`,
    description: 'a missing node is answered 410 (Gone) instead of 404, a code no DM command is answered with',
    needs: 'a command on a missing node (Get, Delete)' },
  { name: 'ok-for-failure', hook: 'outgoing', rules: ['results.missing'], clause: `${PROTO} §8.5; ${REP} §6.5.1`,
    description: 'failed commands are answered 200 (a failed Get then has 200 and no Results)',
    needs: 'a Get of a missing node' },
  { name: 'exceed-maxmsgsize', hook: 'incoming', rules: ['hdr.maxmsgsize'], clause: `${PROTO} §6.1; ${REP} §6.4`,
    description: "ignores the server's MaxMsgSize: answers go out whole, however large",
    needs: 'a small server MaxMsgSize and a large Results' },
  { name: 'wrong-results-format', hook: 'outgoing', rules: ['meta.int'], clause: `${TND} §7.7.2`,
    description: 'Results say Meta Format int whatever the node holds',
    needs: 'a Get of a text leaf' },
  { name: 'duplicate-cmdid', hook: 'outgoing', rules: ['cmd.cmdid-unique'], clause: `${REP} §6.1.4`,
    description: 'the second command of each message repeats the first CmdID',
    needs: 'any session' },
  { name: 'missing-devinfo', hook: 'outgoing', rules: ['pkg1.devinfo'], clause: `${PROTO} §8.3`,
    description: 'package 1 carries the Alert without the DevInfo Replace',
    needs: 'any session' },
  { name: 'bad-sessionid', hook: 'outgoing', rules: ['hdr.sessionid'], clause: `${PROTO} §8.3`,
    description: 'messages after package 1 carry another SessionID',
    needs: 'a session of more than one round trip' },
  { name: 'msgid-not-incrementing', hook: 'outgoing', rules: ['hdr.msgid-unique'], clause: `${PROTO} §8.3; ${REP} §6.1.12`,
    description: 'every message is MsgID 1',
    needs: 'a session of more than one round trip' },
  { name: 'no-hdr-status', hook: 'outgoing', rules: ['status.hdr-missing'], clause: `${PROTO} §8.4, §8.5, §9.1`,
    description: "answers leave out the Status for the server's SyncHdr",
    needs: 'a session of more than one round trip' },
  { name: 'results-before-status', hook: 'outgoing', rules: ['results.order'], clause: `${REP} §6.6.12`,
    description: "a Results goes before its Get's Status",
    needs: 'a Get' },
  { name: 'swapped-status-refs', hook: 'outgoing', rules: ['status.refs'], clause: `${REP} §6.1.21, §6.1.23`,
    description: 'Statuses give TargetRef and SourceRef the other way round',
    needs: 'a session of more than one round trip' },
  { name: 'no-size-first-chunk', hook: 'outgoing', rules: ['lo.size-first'], clause: `${PROTO} §7`,
    description: 'the first chunk of a large Results carries no Meta Size',
    needs: 'a Results larger than the server\'s MaxMsgSize' },
  { name: 'final-with-1222', hook: 'outgoing', rules: ['alert.1222-final'], clause: `${PROTO} §6.2`,
    description: 'a request for the next message (Alert 1222) goes with Final',
    needs: 'a large object from the server' },
] as const satisfies readonly FaultInfo[];

export type FaultName = (typeof FAULTS)[number]['name'];

export const FAULT_NAMES: readonly FaultName[] = FAULTS.map((f) => f.name);

const BY_NAME: ReadonlyMap<string, FaultInfo> = new Map(FAULTS.map((f) => [f.name, f]));

export function faultInfo(name: FaultName): FaultInfo {
  return BY_NAME.get(name)!;
}

/** A name `--fault` does not know (the message lists the valid ones). */
export class UnknownFaultError extends Error {
  override name = 'UnknownFaultError';
  constructor(readonly fault: string) {
    super(`unknown fault "${fault.length > 64 ? `${fault.slice(0, 64)}...` : fault}"; valid faults: ${FAULT_NAMES.join(', ')}`);
  }
}

/** Names checked and deduplicated, in catalogue order. Throws UnknownFaultError on the first unknown one. */
export function parseFaults(names: readonly string[]): ReadonlySet<FaultName> {
  for (const n of names) if (!BY_NAME.has(n)) throw new UnknownFaultError(n);
  return new Set(FAULT_NAMES.filter((n) => names.includes(n)));
}

/** The catalogue as text, one fault a line (for `--fault list` and --help). */
export function describeFaults(): string {
  const w = Math.max(...FAULT_NAMES.map((n) => n.length));
  return FAULTS.map((f) => `${f.name.padEnd(w)}  ${f.description} [${f.clause}; judge: ${f.rules.length ? f.rules.join(', ') : 'no passive rule'}]`).join('\n');
}

/** What the command processor is told to do wrong (main/tree/processor ProcessorOptions.faults). */
export function processorFaults(faults: ReadonlySet<FaultName>): { ignoreAtomicRollback?: boolean; skipAcl?: boolean } | undefined {
  const out: { ignoreAtomicRollback?: boolean; skipAcl?: boolean } = {};
  if (faults.has('ignore-atomic-rollback')) out.ignoreAtomicRollback = true;
  if (faults.has('skip-acl')) out.skipAcl = true;
  return Object.keys(out).length > 0 ? out : undefined;
}

// ------------------------------------------------------------------------------- outgoing

const isHdrStatus = (c: Command): c is Status => c.kind === 'Status' && c.cmdRef.trim() === '0';
const isCmdStatus = (c: Command): c is Status => c.kind === 'Status' && c.cmdRef.trim() !== '0';
/** A MsgRef or CmdRef moved out of reach of anything a session of ours sends (ids are small numbers). */
const farOff = (id: string): string => String((Number.parseInt(id, 10) || 0) + 1000);
const NOT_FOUND = '404';
const GONE = '410';

/**
 * `msg` as a faulty handset sends it. Pure: `msg` is left as it is (the session may re-send it
 * after a challenge). `faults` with no outgoing fault gives `msg` itself.
 */
export function applyOutgoingFaults(msg: SyncML, faults: ReadonlySet<FaultName>): SyncML {
  let hdr = msg.hdr;
  let commands = msg.body.commands;
  let final = msg.body.final;
  const mapStatuses = (f: (s: Status) => Status): void => {
    commands = commands.map((c) => (isCmdStatus(c) ? f(c) : c));
  };
  const isPackage1 = commands.some((c) => c.kind === 'Alert' && (c.data?.trim() === '1200' || c.data?.trim() === '1201'));

  if (faults.has('wrong-msgref')) mapStatuses((s) => ({ ...s, msgRef: farOff(s.msgRef) }));
  if (faults.has('wrong-cmdref')) mapStatuses((s) => ({ ...s, cmdRef: farOff(s.cmdRef) }));
  if (faults.has('no-213')) mapStatuses((s) => (s.data.trim() === '213' ? { ...s, data: '200' } : s));
  if (faults.has('wrong-status-code')) mapStatuses((s) => (s.data.trim() === NOT_FOUND ? { ...s, data: GONE } : s));
  if (faults.has('ok-for-failure')) mapStatuses((s) => (Number(s.data) >= 300 && s.cmd !== 'Atomic' && s.cmd !== 'Sequence' ? { ...s, data: '200' } : s));
  if (faults.has('swapped-status-refs')) {
    commands = commands.map((c) => (c.kind === 'Status' && c.targetRefs.join() !== c.sourceRefs.join() ? { ...c, targetRefs: c.sourceRefs, sourceRefs: c.targetRefs } : c));
  }
  if (faults.has('drop-status')) {
    const last = commands.findLastIndex(isCmdStatus);
    if (last >= 0) commands = commands.filter((_, i) => i !== last);
  }
  if (faults.has('no-hdr-status')) commands = commands.filter((c) => !isHdrStatus(c));
  if (faults.has('results-before-status')) {
    const out = [...commands];
    for (let i = 1; i < out.length; i++) {
      const s = out[i - 1]!;
      const r = out[i]!;
      if (s.kind === 'Status' && r.kind === 'Results' && s.cmdRef === r.cmdRef) [out[i - 1], out[i]] = [r, s];
    }
    commands = out;
  }
  if (faults.has('wrong-results-format')) {
    commands = commands.map((c) => (c.kind === 'Results' ? { ...c, items: c.items.map((it) => ({ ...it, meta: { ...it.meta, format: 'int' } })) } : c));
  }
  if (faults.has('no-size-first-chunk')) {
    commands = commands.map((c) => (c.kind === 'Results' && c.items.some((it) => it.moreData && it.meta?.size !== undefined) ? withoutSize(c) : c));
  }
  if (faults.has('missing-devinfo') && isPackage1) commands = commands.filter((c) => c.kind !== 'Replace');
  if (faults.has('duplicate-cmdid') && commands.length >= 2) {
    commands = commands.map((c, i) => (i === 1 ? { ...c, cmdID: commands[0]!.cmdID } : c));
  }
  if (faults.has('final-with-1222') && commands.some((c) => c.kind === 'Alert' && c.data?.trim() === '1222')) final = true;
  if (faults.has('msgid-not-incrementing')) hdr = { ...hdr, msgID: '1' };
  if (faults.has('bad-sessionid') && !isPackage1) hdr = { ...hdr, sessionID: `${hdr.sessionID}0` };

  if (hdr === msg.hdr && commands === msg.body.commands && final === msg.body.final) return msg;
  return { hdr, body: { ...msg.body, commands, final } };
}

function withoutSize(r: Results): Results {
  return {
    ...r,
    items: r.items.map((it) => {
      if (!it.moreData || it.meta?.size === undefined) return it;
      const { size: _size, ...meta } = it.meta;
      return { ...it, meta };
    }),
  };
}

// ------------------------------------------------------------------------------- incoming

/** The server's message as a handset deaf to its MaxMsgSize reads it (exceed-maxmsgsize). */
export function withoutMaxMsgSize(server: SyncML): SyncML {
  const meta = server.hdr.meta;
  if (meta?.maxMsgSize === undefined) return server;
  const { maxMsgSize: _ignored, ...rest } = meta;
  return { ...server, hdr: { ...server.hdr, meta: rest } };
}
