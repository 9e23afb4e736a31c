/**
 * A DM 2.0 client session for the virtual handsets: package 1 (DevInfo, the MOs the tree holds,
 * optional events) -> package 2 from the server -> commands run on the tree -> package 3 (results)
 * -> ... until the server sends END. Over HTTP(S) with the handsets' Transport (node:http/https,
 * keep-alive, CA pinning), every package POSTed to the same URL.
 *
 * VirtualHandset hooks it in behind `protocol: '2.0'` (README.md in main/protocol/dm20); it does
 * not touch credentials: DM 2.0 authentication is not part of this binding yet.
 */
import { randomInt } from 'node:crypto';
import { decodeServerPackage, describeDm20Error, encodeDm20, type Dm20CodecLimits } from '../../protocol/dm20/codec.js';
import {
  DM20_ACCEPTED_MEDIA_TYPES, DM20_MEDIA_TYPE, DM20_VERSION, PKG, type Dm20ClientMessage, type Dm20Event, type Dm20Mo,
  type Dm20Package1, type Dm20ServerPackage,
} from '../../protocol/dm20/model.js';
import { mediaType } from '../../protocol/http-body.js';
import { valueText } from '../../tree/values.js';
import { DEVICE, type DmNode, type DmTree } from '../../tree/tree.js';
import type { ExecHandler, GenericAlert, ProcessEvent } from '../../tree/processor/index.js';
import type { DdfSchema } from '../../tree/ddf.js';
import { Transport, type HttpReply } from '../transport.js';
import { executeDm20Package } from './execute.js';

/** What the session needs from HTTP: Transport satisfies it; tests may pass their own. */
export interface Dm20Poster {
  post(url: string, body: Uint8Array, headers: Record<string, string>): Promise<HttpReply>;
}

export interface Dm20SessionOptions {
  tree: DmTree;
  /** The management authority (DMAcc ServerID): the principal of every ACL check. */
  serverId: string;
  /** The server's DM 2.0 endpoint, e.g. `http://host:port/dm/v2` (see dm20Url). */
  url: string;
  /** Default: ./DevInfo/DevId of the tree. */
  devId?: string;
  /** Default: a random 16-bit value in uppercase hex, as DM 1.2 SessionIDs. */
  sessionId?: string;
  /** 'server' after a notification (DM 1.2's Alert 1200). Default 'client'. */
  initiator?: 'client' | 'server';
  /** Events to report in package 1 (the DM 1.2 Generic Alert counterpart). */
  events?: Dm20Event[];
  exec?: ExecHandler;
  schemas?: readonly DdfSchema[];
  maxObjSize?: number;
  /** Default: a Transport of its own, closed at the end. */
  transport?: Dm20Poster;
  /** HTTP round trips before giving up. Default 100. */
  maxRoundTrips?: number;
  limits?: Partial<Dm20CodecLimits>;
  /** Every package on the wire, both ways (for the handset's events / inspector). */
  onMessage?: (direction: 'out' | 'in', bytes: Uint8Array) => void;
  now?: () => number;
}

export interface Dm20SessionOutcome {
  ok: boolean;
  protocol: '2.0';
  devId: string;
  serverId: string;
  sessionId: string;
  roundTrips: number;
  durationMs: number;
  error?: string;
  /** What the handset did with the server's commands. */
  log: ProcessEvent[];
  warnings: string[];
}

/** The DM 2.0 endpoint for a DMAcc AppAddr (`http://h:p/dm` -> `http://h:p/dm/v2`). */
export function dm20Url(addr: string): string {
  return `${addr.replace(/\/+$/, '')}/v2`;
}

/** ./DevInfo leaves, by name, read as the device itself (no ACL applies to the device). */
export function devInfoOf(tree: DmTree): Record<string, string> {
  const out: Record<string, string> = {};
  const devInfo = tree.lookup('./DevInfo');
  if (!devInfo) return out;
  for (const k of devInfo.children()) if (!k.isInterior) out[k.name] = valueText(k.value);
  return out;
}

/** Nodes whose Type is an MO identifier (`urn:oma:mo:...`): the MOs the device supports. */
export function supportedMos(tree: DmTree): Dm20Mo[] {
  const out: Dm20Mo[] = [];
  tree.walk(tree.root, (node: DmNode, path: string) => {
    if (node.isInterior && node.type.startsWith('urn:oma:mo:')) {
      out.push({ MOID: node.type, URI: path });
      return false; // an MO's own subtree is its business
    }
    return undefined;
  });
  return out;
}

/** A DM 1.2 Generic Alert (what ConnectOptions.genericAlerts holds) as a DM 2.0 package-1 event. */
export function eventFromGenericAlert(g: GenericAlert): Dm20Event {
  const e: Dm20Event = { Type: g.type ?? `alert:${g.code ?? '1226'}` };
  const source = g.source ?? g.target;
  if (source) e.Source = source;
  if (g.format) e.Format = g.format;
  if (g.data !== undefined) e.Data = g.data;
  if (g.correlator) e.Correlator = g.correlator;
  return e;
}

export function buildPackage1(tree: DmTree, o: { devId: string; sessionId: string; initiator?: 'client' | 'server'; events?: Dm20Event[] }): Dm20Package1 {
  const p: Dm20Package1 = { Ver: DM20_VERSION, SID: o.sessionId, DevID: o.devId, Pkg: PKG.CLIENT_INIT, Init: o.initiator ?? 'client', MOS: supportedMos(tree), DevInfo: devInfoOf(tree) };
  if (o.events && o.events.length > 0) p.Events = o.events;
  return p;
}


export async function runDm20Session(o: Dm20SessionOptions): Promise<Dm20SessionOutcome> {
  const now = o.now ?? Date.now;
  const started = now();
  const devIdNode = o.tree.get(DEVICE, './DevInfo/DevId');
  const devId = o.devId ?? (devIdNode.ok && devIdNode.value.kind === 'leaf' ? valueText(devIdNode.value.value) : '');
  const sessionId = o.sessionId ?? randomInt(1, 0x10000).toString(16).toUpperCase();
  const outcome: Dm20SessionOutcome = { ok: false, protocol: '2.0', devId, serverId: o.serverId, sessionId, roundTrips: 0, durationMs: 0, log: [], warnings: [] };
  const own = o.transport ? undefined : new Transport();
  const transport: Dm20Poster = o.transport ?? own!;
  const maxRoundTrips = o.maxRoundTrips ?? 100;
  const done = (error?: string): Dm20SessionOutcome => {
    outcome.durationMs = now() - started;
    if (error === undefined) outcome.ok = true;
    else outcome.error = error;
    own?.close();
    return outcome;
  };
  if (!devId) return done('the tree has no ./DevInfo/DevId and no devId was given');

  let message: Dm20ClientMessage = buildPackage1(o.tree, { devId, sessionId, ...(o.initiator ? { initiator: o.initiator } : {}), ...(o.events ? { events: o.events } : {}) });
  for (;;) {
    if (outcome.roundTrips >= maxRoundTrips) return done(`no END after ${maxRoundTrips} round trips`);
    const body = encodeDm20(message, o.limits ? { limits: o.limits } : {});
    if (!body.ok) return done(`cannot encode our package ${message.Pkg}: ${describeDm20Error(body.error)}`);
    o.onMessage?.('out', body.value);
    let reply: HttpReply;
    try {
      reply = await transport.post(o.url, body.value, { 'content-type': DM20_MEDIA_TYPE, accept: DM20_MEDIA_TYPE });
    } catch (e) {
      return done(`HTTP exchange with ${o.url} failed: ${(e as Error).message}`);
    }
    outcome.roundTrips++;
    o.onMessage?.('in', reply.body);
    if (reply.status !== 200) {
      const why = new TextDecoder().decode(reply.body.subarray(0, 500)).trim();
      return done(`server answered HTTP ${reply.status}${why ? `: ${why}` : ''}`);
    }
    const ct = mediaType(reply.headers['content-type']);
    if (!DM20_ACCEPTED_MEDIA_TYPES.includes(ct)) return done(`server answered with media type "${ct || '(none)'}", not DM 2.0 JSON`);
    const pkg = decodeServerPackage(reply.body, o.limits ? { limits: o.limits } : {});
    if (!pkg.ok) return done(`malformed package from the server: ${describeDm20Error(pkg.error)}`);
    if (pkg.value.SID !== sessionId) return done(`server package is for session ${pkg.value.SID}, not ${sessionId}`);
    const run = await executeDm20Package(o.tree, pkg.value as Dm20ServerPackage, {
      serverId: o.serverId,
      ...(o.exec ? { exec: o.exec } : {}),
      ...(o.schemas ? { schemas: o.schemas } : {}),
      ...(o.maxObjSize ? { maxObjSize: o.maxObjSize } : {}),
    });
    outcome.log.push(...run.events);
    if (run.end) {
      if (pkg.value.CMD.length > 1) outcome.warnings.push(`END came after ${pkg.value.CMD.length - 1} command(s) whose results are never reported`);
      return done();
    }
    message = { Ver: DM20_VERSION, SID: sessionId, DevID: devId, Pkg: PKG.CLIENT_RESULTS, Results: run.results };
  }
}
