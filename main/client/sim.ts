/**
 * N virtual handsets through one client-initiated session each against one server: what `dmw sim`
 * runs, as a function (the CLI only parses arguments and prints).
 */
import type { AuthType } from '../protocol/auth.js';
import type { Encoding } from '../protocol/codec.js';
import { addDmAccount, createDeviceTree, findAccount, readAccounts } from '../tree/mos.js';
import { deserializeTree, serializeTree } from '../tree/persist.js';
import { DEVICE, type DmTree } from '../tree/tree.js';
import { AAUTH_TYPE, appAuthNode } from './credentials.js';
import { randomImeiDevId } from './devid.js';
import { VirtualHandset, type HandsetOptions, type SessionOutcome } from './handset.js';
import type { HandsetTls } from './transport.js';

export interface SimCredential {
  name: string;
  secret: string;
}

export interface SimOptions {
  server: string;
  count: number;
  encoding?: Encoding;
  /** Client authentication; with clientCred. Default md5 when clientCred is given. */
  auth?: AuthType;
  clientCred?: SimCredential;
  /** Checked on every server message (type: `auth`, else md5; the server switches on our challenge). */
  serverCred?: SimCredential;
  /** DMAcc ServerID. Default: the tree's account for the URL, the tree's only account, the server credential's name, else `dmw`. */
  serverId?: string;
  /** Handset 1 uses (and saves back to) this tree file; the others start from a copy with their own DevId. */
  tree?: { tree: DmTree; file?: string };
  concurrency?: number;
  /** TLS for all handsets, or per DevId (a client certificate each). */
  tls?: HandsetTls | ((devId: string) => HandsetTls | Promise<HandsetTls>);
  handset?: Omit<HandsetOptions, 'tree' | 'treeFile' | 'device' | 'tls' | 'encoding'>;
  /** Called as each session ends. */
  onOutcome?: (o: SessionOutcome) => void;
}

/** The handsets could not be set up from the options (a bad tree, an unusable ServerID): bad input. */
export class SimSetupError extends Error {
  override name = 'SimSetupError';
}

export interface SimSummary {
  ok: number;
  failed: number;
  /** Session durations (ms), nearest rank, over the sessions that completed; null when none did. */
  p50_ms: number | null;
  p99_ms: number | null;
}

/** Nearest-rank percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function summarize(outcomes: readonly SessionOutcome[]): SimSummary {
  const ok = outcomes.filter((o) => o.ok);
  const ms = ok.map((o) => o.durationMs).sort((a, b) => a - b);
  return { ok: ok.length, failed: outcomes.length - ok.length, p50_ms: percentile(ms, 0.5), p99_ms: percentile(ms, 0.99) };
}

function setLeaf(tree: DmTree, uri: string, value: string): void {
  const r = tree.replace(DEVICE, uri, value);
  if (!r.ok) throw new Error(`${uri}: ${r.message}`);
}

/**
 * Makes sure the tree has an account for `serverId` pointing at `url`, with the given credentials
 * (kept as they are in the tree when not given). Returns the account's path.
 */
export function configureAccount(tree: DmTree, p: { serverId: string; url: string; clientType?: AuthType; clientCred?: SimCredential; serverType?: AuthType; serverCred?: SimCredential }): string {
  let acc = findAccount(tree, p.serverId);
  if (!acc) {
    addDmAccount(tree, {
      serverId: p.serverId,
      addr: p.url,
      clientCred: { type: AAUTH_TYPE[p.clientType ?? 'md5'], name: p.clientCred?.name ?? '', secret: p.clientCred?.secret ?? '' },
      serverCred: { type: AAUTH_TYPE[p.serverType ?? 'md5'], name: p.serverCred?.name ?? p.serverId, secret: p.serverCred?.secret ?? '' },
    });
    acc = findAccount(tree, p.serverId)!;
  }
  const addr = tree.lookup(acc.path)?.child('AppAddr')?.children().next().value?.child('Addr');
  if (!addr) throw new Error(`${acc.path} has no AppAddr/<X>/Addr`);
  setLeaf(tree, tree.pathOf(addr), p.url);
  const put = (level: 'CLCRED' | 'SRVCRED', type: AuthType | undefined, c: SimCredential | undefined) => {
    const x = appAuthNode(tree, acc.path, level);
    if (!x) throw new Error(`${acc.path} has no ${level} AppAuth`);
    const base = tree.pathOf(x);
    if (type) setLeaf(tree, `${base}/AAuthType`, AAUTH_TYPE[type]);
    if (c) {
      setLeaf(tree, `${base}/AAuthName`, c.name);
      setLeaf(tree, `${base}/AAuthSecret`, c.secret);
    }
  };
  put('CLCRED', p.clientCred || p.clientType ? p.clientType ?? 'md5' : undefined, p.clientCred);
  put('SRVCRED', p.serverCred ? p.serverType ?? 'md5' : undefined, p.serverCred);
  return acc.path;
}

/** The ServerID `dmw sim` uses when none is given (see SimOptions.serverId). */
export function defaultServerId(tree: DmTree | undefined, url: string, serverCred: SimCredential | undefined): string {
  const accounts = tree ? readAccounts(tree) : [];
  return accounts.find((a) => a.addr === url)?.serverId ?? (accounts.length === 1 ? accounts[0]!.serverId : undefined) ?? serverCred?.name ?? 'dmw';
}

export async function runSim(o: SimOptions): Promise<{ outcomes: SessionOutcome[]; summary: SimSummary; devIds: string[] }> {
  const serverId = o.serverId ?? defaultServerId(o.tree?.tree, o.server, o.serverCred);
  const clientType = o.clientCred ? o.auth ?? 'md5' : undefined;
  const account = {
    serverId,
    url: o.server,
    ...(clientType ? { clientType } : {}),
    ...(o.clientCred ? { clientCred: o.clientCred } : {}),
    serverType: o.auth ?? 'md5',
    ...(o.serverCred ? { serverCred: o.serverCred } : {}),
  };
  const template = o.tree ? serializeTree(o.tree.tree) : undefined;
  const taken = new Set<string>();
  const devIds: string[] = [];

  // Handsets are made as the workers reach them and closed after their session: only
  // `concurrency` of them exist at a time, whatever the count.
  const make = async (i: number): Promise<VirtualHandset> => {
    let tree: DmTree;
    let treeFile: string | undefined;
    if (o.tree && i === 0) {
      tree = o.tree.tree;
      treeFile = o.tree.file;
    } else {
      const devId = randomImeiDevId(taken);
      taken.add(devId);
      if (template !== undefined) {
        tree = deserializeTree(template);
        setLeaf(tree, './DevInfo/DevId', devId);
      } else tree = createDeviceTree({ devId });
    }
    configureAccount(tree, account);
    const devId = tree.lookup('./DevInfo/DevId')?.value as string;
    taken.add(devId);
    devIds[i] = devId;
    const tls = typeof o.tls === 'function' ? await o.tls(devId) : o.tls;
    return VirtualHandset.open({ ...o.handset, tree, ...(treeFile ? { treeFile } : {}), encoding: o.encoding ?? 'xml', ...(tls ? { tls } : {}) });
  };

  const outcomes: SessionOutcome[] = new Array(o.count);
  // The tree's own handset first: its DevId is then never handed out to another.
  let first: VirtualHandset | undefined;
  try {
    first = o.count > 0 ? await make(0) : undefined;
  } catch (e) {
    throw new SimSetupError(`cannot set up the handsets: ${(e as Error).message}`);
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      const i = next++;
      const h = i === 0 ? first! : await make(i);
      try {
        outcomes[i] = await h.connect({ serverId });
      } finally {
        h.close();
      }
      o.onOutcome?.(outcomes[i]!);
    }
  };
  const n = Math.max(1, Math.min(o.concurrency ?? 64, o.count));
  await Promise.all(Array.from({ length: n }, worker));
  return { outcomes, summary: summarize(outcomes), devIds };
}
