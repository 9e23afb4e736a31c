/**
 * How a conformance case is written. A case is data (id, title, clause, group) and a script: a
 * generator that yields the server's packages and receives the device's answers, recording checks
 * as it reads them. The runner (run.ts) feeds it through the server's scripted sessions
 * (main/server/scripted.ts): one yield = one server package; `yield t.newSession()` ends the
 * session and resumes with the next session's package 1; returning ends the last session.
 *
 *   export const CASES: ConformanceCase[] = [{
 *     id: 'dm12.get.leaf', title: 'Get of a leaf', clause: `${REP} §6.6.7`, group: 'Get',
 *     *script(t) {
 *       const r = yield t.pkg(get('./DevInfo/Mod'));
 *       t.expectStatus(r, 0, 200, 'Get ./DevInfo/Mod');
 *       t.expectResult(r, 0, (v) => v.data !== null, 'a value');
 *     },
 *   }];
 *
 * Scripts are synchronous between yields (the server builds its answer while the device waits).
 * Sub-steps compose with `yield*` (t.read, t.scratch, t.cleanup return values that way).
 */
import type { Alert, Command, Container, Item, Meta, Status, SyncML } from '../../protocol/model.js';
import type { CommandOutcome, DeviceMessage, DevicePackage, ScriptConfig, ServerPackage } from '../../server/scripted.js';
import { specCommand, uiAlert } from '../../server/jobs.js';
import type { ClientAuthMode, Credential, ServerAuthMode } from '../../server/config.js';
import type { JobResult, SimpleJobSpec, UiAlertKind } from '../../server/types.js';
import type { CaseInfo, Check } from './types.js';

export type { DevicePackage, ServerPackage, CommandOutcome } from '../../server/scripted.js';

export const PROTO = 'OMA-TS-DM_Protocol-V1_2';
export const REP = 'OMA-TS-DM_RepPro-V1_2';
export const TND = 'OMA-TS-DM_TND-V1_2';
export const OBJ = 'OMA-TS-DM_StdObj-V1_2';

/** Where cases make their own nodes (added by us at the root, which grants Add to every server; deleted after). */
export const SCRATCH = './DMWConf';
/** The second management authority the ACL cases name (never an account: only in ACLs, removed after). */
export const SECOND_SERVER = 'dmw-conformance-2';

/** A step of a script: our next package, or the end of this session and the start of the next. */
export type Step = ServerPackage | { newSession: true };
export type CaseScript = Generator<Step, void, DevicePackage>;
/** A sub-step (`yield*`) that gives back a value. */
export type Sub<T> = Generator<Step, T, DevicePackage>;

/** What the run knows when a case starts. */
export interface CaseEnv {
  devId: string;
  /** Our ServerID (the device's DMAcc account for us). */
  serverId: string;
  clientAuth: ClientAuthMode;
  serverAuth: ServerAuthMode;
  /** What the device presents (the run's --client-cred, the device's registered one, or the lab default). */
  clientCred?: Credential;
  /** What we present (--server-cred). */
  serverCred?: Credential;
}

export interface ConformanceCase extends CaseInfo {
  /** Why the case cannot run in this run (no credentials ...), or undefined when it can. */
  needs?: (env: CaseEnv) => string | undefined;
  /** The device's sessions' engine settings in this case (limits, authentication). */
  config?: (env: CaseEnv) => ScriptConfig;
  /** Judge rules this case's scenario provokes on purpose (they do not fail it). */
  allowRules?: readonly string[];
  /** How long the case may take beyond the run's wait per session (a UI alert waiting for a person). */
  script: (t: CaseTools, first: DevicePackage) => CaseScript;
}

// --- commands (the job queue's builders where it can express them) ------------------------------

const simple = (spec: SimpleJobSpec): Command => specCommand(spec);
export const get = (uri: string): Command => simple({ kind: 'get', uri });
export const del = (uri: string): Command => simple({ kind: 'delete', uri });
export const copy = (uri: string, source: string): Command => simple({ kind: 'copy', uri, source });
export const exec = (uri: string, data?: string, correlator?: string): Command => simple({ kind: 'exec', uri, ...(data !== undefined ? { data } : {}), ...(correlator ? { correlator } : {}) });
export const replace = (uri: string, value: string, format?: string, type?: string): Command => simple({ kind: 'replace', uri, value, ...(format ? { format } : {}), ...(type ? { type } : {}) });
export const add = (uri: string, value?: string, format?: string, type?: string): Command => simple({ kind: 'add', uri, ...(value !== undefined ? { value } : {}), ...(format ? { format } : {}), ...(type ? { type } : {}) });
export const addNode = (uri: string): Command => simple({ kind: 'add', uri });
export const binaryReplace = (uri: string, bytes: Uint8Array): Command => simple({ kind: 'replace', uri, value: Buffer.from(bytes).toString('base64'), binary: true });
export const ui = (kind: UiAlertKind, text: string, choices: string[] = [], options: Record<string, string | number> = {}): Alert => uiAlert(kind, text, choices, options);
export const atomic = (...commands: Command[]): Container => ({ kind: 'Atomic', cmdID: '', commands });
export const sequence = (...commands: Command[]): Container => ({ kind: 'Sequence', cmdID: '', commands });
/** An Alert with a code and plain items (what no job builds). */
export const alert = (code: string, items: Item[] = []): Alert => ({ kind: 'Alert', cmdID: '', data: code, items });
/** Any command with one item of our own making (chunks, odd Meta). */
export function itemCommand(kind: 'Add' | 'Replace' | 'Get' | 'Delete' | 'Copy', item: Item, meta?: Meta): Command {
  return { kind, cmdID: '', items: [item], ...(meta ? { meta } : {}) };
}
/** A command with NoResp. */
export function noResp<C extends Command>(c: C): C {
  return { ...c, noResp: true };
}

// --- the tools a script gets ----------------------------------------------------------------------

export class CaseTools {
  readonly checks: Check[] = [];
  /** Every message the device sent in the case's sessions so far, refused ones included. */
  readonly seen: DeviceMessage[] = [];
  /** What was changed and not yet put back (key -> one line). */
  private readonly open = new Map<string, string>();

  constructor(readonly env: CaseEnv) {}

  /** Our package: these commands in one (Final) package. */
  pkg(...commands: Command[]): ServerPackage {
    return { commands };
  }

  /** Our package with options (final: false, a rewrite of our message, a new authentication). */
  pkgWith(opts: Omit<ServerPackage, 'commands'>, ...commands: Command[]): ServerPackage {
    return { ...opts, commands };
  }

  newSession(): Step {
    return { newSession: true };
  }

  // --- reading the device's package ---

  outcome(p: DevicePackage, i: number): CommandOutcome | undefined {
    return p.outcomes.find((o) => o.index === i);
  }

  /** The device's status for command i of our last package (null: none came). */
  status(p: DevicePackage, i: number): number | null {
    return this.outcome(p, i)?.statusCode ?? null;
  }

  /** Member m of the Atomic/Sequence that was command i. */
  memberStatus(p: DevicePackage, i: number, m: number): number | null {
    return this.outcome(p, i)?.members[m]?.statusCode ?? null;
  }

  results(p: DevicePackage, i: number): JobResult[] {
    return this.outcome(p, i)?.results ?? [];
  }

  /** Every Status command in the device's package, in order. */
  statuses(p: DevicePackage): Status[] {
    return p.messages.flatMap((m) => m.message.body.commands.filter((c): c is Status => c.kind === 'Status'));
  }

  /** Every command of the device's package that is not a Status. */
  commands(p: DevicePackage): Command[] {
    return p.messages.flatMap((m) => m.message.body.commands.filter((c) => c.kind !== 'Status'));
  }

  /** The device's Status for our SyncHdr (the last one of the package), or null. */
  hdrStatus(p: DevicePackage): Status | null {
    const all = this.statuses(p).filter((s) => s.cmdRef.trim() === '0');
    return all[all.length - 1] ?? null;
  }

  last(p: DevicePackage): SyncML | undefined {
    return p.messages[p.messages.length - 1]?.message;
  }

  // --- checks ---

  check(what: string, expected: string, actual: string, ok: boolean, rule?: string): boolean {
    this.checks.push({ what, expected, actual, ok, ...(rule ? { rule } : {}) });
    return ok;
  }

  expectStatus(p: DevicePackage, i: number, codes: number | readonly number[], what: string, rule?: string): boolean {
    const want = typeof codes === 'number' ? [codes] : codes;
    const got = this.status(p, i);
    return this.check(`Status of ${what}`, want.join(' or '), got === null ? 'no Status' : String(got), got !== null && want.includes(got), rule);
  }

  expectMember(p: DevicePackage, i: number, m: number, codes: number | readonly number[], what: string, rule?: string): boolean {
    const want = typeof codes === 'number' ? [codes] : codes;
    const got = this.memberStatus(p, i, m);
    return this.check(`Status of ${what}`, want.join(' or '), got === null ? 'no Status' : String(got), got !== null && want.includes(got), rule);
  }

  /** The first Results item of command i satisfies `ok` (described by `expected`). */
  expectResult(p: DevicePackage, i: number, ok: (r: JobResult) => boolean, expected: string, what = 'Results', rule?: string): boolean {
    const r = this.results(p, i)[0];
    return this.check(what, expected, r ? describeResult(r) : 'no Results', r !== undefined && ok(r), rule);
  }

  expectValue(p: DevicePackage, i: number, value: string, what: string): boolean {
    return this.expectResult(p, i, (r) => r.data === value, JSON.stringify(value), what);
  }

  // --- putting things back ---

  /** Records a change to put back; `restored(key)` when it is. What is left at the end is reported. */
  changed(key: string, what: string): void {
    this.open.set(key, what);
  }

  restored(key: string): void {
    this.open.delete(key);
  }

  /** The device lacks an optional feature the case needs: the case ends not applicable (unless a check failed). */
  notApplicable(why: string): void {
    this.skipped ??= why;
  }

  skipped: string | undefined;

  notRestored(): string[] {
    return [...this.open.values()];
  }

  // --- sub-steps ---

  /** Reads a node: its first Results item, or undefined (the status said why). */
  *read(uri: string): Sub<JobResult | undefined> {
    const r = yield this.pkg(get(uri));
    return this.status(r, 0) === 200 ? this.results(r, 0)[0] : undefined;
  }

  /**
   * Our scratch subtree (./DMWConf), added now with an ACL granting us everything (a server that
   * adds a node gets Add, Delete and Replace on it, not Get: TND §7.7.1.3), and deleted by
   * cleanup(). `more` go in the same package; in the package returned they are numbered from 0.
   */
  *scratch(...more: Command[]): Sub<DevicePackage> {
    const id = this.env.serverId;
    const r = yield this.pkg(addNode(SCRATCH), replace(`${SCRATCH}?prop=ACL`, `Add=${id}&Delete=${id}&Exec=${id}&Get=${id}&Replace=${id}`), ...more);
    const code = this.status(r, 0);
    if (code === 200 || code === 418) this.changed('scratch', `${SCRATCH} (added by the case) is still on the device`);
    this.check(`Add ${SCRATCH} (the case's scratch node)`, '200', code === null ? 'no Status' : String(code), code === 200 || code === 418);
    this.expectStatus(r, 1, 200, `Replace ${SCRATCH}?prop=ACL (the scratch node's ACL)`);
    return { ...r, outcomes: r.outcomes.map((o) => ({ ...o, index: o.index - 2 })) };
  }

  /** Deletes the scratch subtree (with `more` first in the same package). */
  *cleanup(...more: Command[]): Sub<DevicePackage> {
    const r = yield this.pkg(...more, del(SCRATCH));
    if (this.status(r, more.length) === 200) this.restored('scratch');
    return r;
  }

  /** Replaces a leaf's value and remembers to put the old one back (with putBack). */
  *putBack(uri: string, old: JobResult | undefined): Sub<void> {
    if (!old || old.data === null) return;
    const r = yield this.pkg(old.encoding === 'b64' ? binaryReplace(uri, Buffer.from(old.data, 'base64')) : replace(uri, old.data, old.format ?? undefined, old.type));
    if (this.status(r, 0) === 200) this.restored(uri);
  }
}

export function describeResult(r: JobResult): string {
  const d = r.data === null ? 'no data' : JSON.stringify(r.data.length > 60 ? `${r.data.slice(0, 57)}...` : r.data);
  return `${r.uri} ${d}${r.format ? ` (Format ${r.format})` : ''}`;
}

export const ALL_AUTH: readonly ClientAuthMode[] = ['basic', 'md5', 'hmac'];
