/**
 * Drives the pure session engine without HTTP: builds client messages, feeds them with a fixed
 * clock and predictable nonces, keeps the session and device auth state between messages.
 */
import { encodeMessage, type Encoding } from '../../main/protocol/codec.js';
import type { Command, Cred, Item, Results, Status, SyncML } from '../../main/protocol/model.js';
import { engineConfig, type EngineConfig, type ServerLimits } from '../../main/server/config.js';
import { SessionEngine, type EngineJob, type EngineOutput, type EngineSession, type TransportInfo } from '../../main/server/engine.js';
import type { Credential } from '../../main/server/config.js';
import type { DeviceAuthState } from '../../main/server/types.js';

export const SERVER = 'http://srv.test/dm';

export function nonceSource(prefix = 'n') {
  let i = 0;
  return { nonce: () => Buffer.from(`${prefix}-${++i}`).toString('base64') };
}

export interface HarnessOptions {
  config?: Partial<Omit<EngineConfig, 'limits'>> & { limits?: Partial<ServerLimits> };
  devId?: string;
  encoding?: Encoding;
  clientCred?: Credential;
  auth?: DeviceAuthState;
  maxMsgSize?: number;
  maxObjSize?: number;
}

export class Harness {
  readonly engine: SessionEngine;
  readonly config: EngineConfig;
  session: EngineSession | undefined;
  auth: DeviceAuthState;
  now = 1_700_000_000_000;
  msgId = 0;
  jobs: EngineJob[] = [];
  readonly outputs: EngineOutput[] = [];
  readonly devId: string;

  constructor(readonly opts: HarnessOptions = {}) {
    this.config = engineConfig({ serverUri: SERVER, ...opts.config });
    this.engine = new SessionEngine(this.config, nonceSource());
    this.devId = opts.devId ?? 'IMEI:001';
    this.auth = opts.auth ?? { authFailures: [] };
  }

  message(commands: Command[], o: { final?: boolean; cred?: Cred; msgId?: string; sessionId?: string } = {}): SyncML {
    const id = o.msgId ?? String(++this.msgId);
    const n = { i: 1 };
    const number = (c: Command): Command => {
      const x = { ...c, cmdID: c.cmdID || String(n.i++) } as Command;
      if (x.kind === 'Atomic' || x.kind === 'Sequence') x.commands = x.commands.map(number);
      return x;
    };
    return {
      hdr: {
        verDTD: '1.2', verProto: 'DM/1.2', sessionID: o.sessionId ?? '1', msgID: id,
        target: { locURI: SERVER }, source: { locURI: this.devId },
        ...(o.cred ? { cred: o.cred } : {}),
        meta: { ...(this.opts.maxMsgSize ? { maxMsgSize: String(this.opts.maxMsgSize) } : {}), ...(this.opts.maxObjSize ? { maxObjSize: String(this.opts.maxObjSize) } : {}) },
      },
      body: { commands: commands.map(number), final: o.final ?? true },
    };
  }

  /** Feeds one message; `jobs` are what the store would hold as queued right now. */
  send(msg: SyncML, transport: Partial<TransportInfo> = {}, bytes?: Uint8Array): EngineOutput {
    const enc = this.opts.encoding ?? 'xml';
    const raw = bytes ?? (encodeMessage(msg, enc) as { ok: true; value: Uint8Array }).value;
    const device = { devId: this.devId, auth: this.auth, ...(this.opts.clientCred ? { clientCred: this.opts.clientCred } : {}) };
    this.session ??= this.engine.open({ id: 1, message: msg, encoding: enc, respUri: `${SERVER}/s/1-ab`, device });
    const out = this.engine.handle(this.session, { message: msg, encoding: enc, bytes: raw, transport: { tls: false, ...transport }, device, queuedJobs: this.jobs, now: this.now });
    this.session = out.session;
    if (out.effects.deviceAuth) this.auth = out.effects.deviceAuth;
    // What the store would do: sent and finished jobs leave the queue.
    const gone = new Set([...out.effects.jobsSent, ...out.effects.jobsFinished.map((j) => j.id)]);
    this.jobs = this.jobs.filter((j) => !gone.has(j.id));
    this.outputs.push(out);
    return out;
  }

  /** Package 1: Alert 1201 and the DevInfo Replace. */
  pkg1(extra: Command[] = [], o: Parameters<Harness['message']>[1] = {}): SyncML {
    return this.message([
      { kind: 'Alert', cmdID: '', data: '1201', items: [] },
      { kind: 'Replace', cmdID: '', items: [['DevId', this.devId], ['Man', 'ACME'], ['Mod', 'Rocket 3']].map(([k, v]) => ({ source: { locURI: `./DevInfo/${k}` }, meta: { format: 'chr' }, data: { kind: 'text' as const, text: v! } })) },
      ...extra,
    ], o);
  }

  /**
   * The client's answer to a server message: SyncHdr status, a status for every management command
   * (`code` decides, default 200) and Results for Gets (`value` decides, default the URI reversed).
   */
  answer(out: EngineOutput, o: { code?: (c: Command) => number; value?: (uri: string) => Item | undefined; final?: boolean; extra?: Command[]; headerStatus?: Partial<Status> } = {}): SyncML {
    const reply = out.response;
    const cmds: Command[] = [];
    cmds.push({ kind: 'Status', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: '0', cmd: 'SyncHdr', targetRefs: [], sourceRefs: [], data: '212', items: [], ...o.headerStatus });
    const results: Results[] = [];
    const visit = (c: Command) => {
      if (c.kind === 'Status' || c.kind === 'Results') return;
      const code = o.code?.(c) ?? 200;
      cmds.push({ kind: 'Status', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: c.cmdID, cmd: c.kind, targetRefs: [], sourceRefs: [], data: String(code), items: [] });
      if (c.kind === 'Atomic' || c.kind === 'Sequence') c.commands.forEach(visit);
      if (c.kind === 'Get' && code === 200) {
        const uri = c.items[0]!.target!.locURI;
        const item = o.value ? o.value(uri) : { source: { locURI: uri }, meta: { format: 'chr' }, data: { kind: 'text' as const, text: [...uri].reverse().join('') } };
        if (item) results.push({ kind: 'Results', cmdID: '', msgRef: reply.hdr.msgID, cmdRef: c.cmdID, targetRefs: [], sourceRefs: [], items: [item] });
      }
    };
    reply.body.commands.forEach(visit);
    const final = o.final ?? reply.body.final;
    if (!reply.body.final) cmds.push({ kind: 'Alert', cmdID: '', data: '1222', items: [] });
    return this.message([...cmds, ...results, ...(o.extra ?? [])], { final });
  }
}

export function commandsOf(out: EngineOutput, kind?: string): Command[] {
  return out.response.body.commands.filter((c) => (kind ? c.kind === kind : c.kind !== 'Status'));
}

export function statusesOf(out: EngineOutput): Status[] {
  return out.response.body.commands.filter((c): c is Status => c.kind === 'Status');
}

export function hdrStatus(out: EngineOutput): Status {
  return statusesOf(out).find((s) => s.cmdRef === '0')!;
}
