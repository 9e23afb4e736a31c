/**
 * The client side of a DM 2.0 package: each command run on the DM tree as the server (the principal
 * of every ACL check), through the same CommandProcessor DM 1.2 packages go through, so statuses,
 * ACL refusals (425), 404/405/418 and property rules are identical across protocols. Pure apart from
 * the tree and the injected Exec handler.
 *
 *   GET    -> Get (Results -> one result entry per item: MOData, Format, Type, URI)
 *   PUT    -> Replace when the node exists (or the URI names a property), else Add
 *   DELETE -> Delete;  EXEC -> Exec (its Results, if any, come back as MOData)
 *   CONT   -> 200 (nothing to do; the client answers and the exchange goes on)
 *   END    -> ends the session (no answer is sent)
 *   HGET, HPUT, HPOST, SHOW, SUB, UNSUB, DEFAULT -> 406 (not implemented by this client)
 */
import { toBase64 } from '../../protocol/binary.js';
import type { Command, Item, ItemData, Meta, Results, Status } from '../../protocol/model.js';
import type { Dm20Command, Dm20Result, Dm20ServerPackage } from '../../protocol/dm20/model.js';
import { CommandProcessor, type ExecHandler, type ProcessEvent, type ProcessorOptions } from '../../tree/processor/index.js';
import type { DmTree } from '../../tree/tree.js';

export interface Dm20ExecuteOptions {
  /** The server whose package this is. */
  serverId: string;
  exec?: ExecHandler;
  schemas?: ProcessorOptions['schemas'];
  maxObjSize?: number;
}

export interface Dm20PackageRun {
  results: Dm20Result[];
  events: ProcessEvent[];
  /** The package ended the session (END): send nothing back. */
  end: boolean;
}

const NOT_SUPPORTED = 406;

function text(t: string): ItemData {
  return { kind: 'text', text: t };
}

/** The DM 1.2 command a DM 2.0 command runs as, or undefined when it is not one of the tree's. */
export function treeCommand(tree: DmTree, c: Dm20Command): Command | undefined {
  const id = String(c.CmdID);
  switch (c.Cmd) {
    case 'GET':
      return { kind: 'Get', cmdID: id, items: [{ target: { locURI: c.URI } }] };
    case 'DELETE':
      return { kind: 'Delete', cmdID: id, items: [{ target: { locURI: c.URI } }] };
    case 'PUT': {
      const item: Item = { target: { locURI: c.URI } };
      const meta: Meta = {};
      if (c.Format) meta.format = c.Format;
      if (c.Type) meta.type = c.Type;
      if (Object.keys(meta).length > 0) item.meta = meta;
      if (c.MOData !== undefined) item.data = text(c.MOData);
      // HTTP PUT semantics: create or replace. A property (?prop=) can only be replaced.
      const exists = c.URI.includes('?') || tree.lookup(c.URI) !== undefined;
      return { kind: exists ? 'Replace' : 'Add', cmdID: id, items: [item] };
    }
    case 'EXEC': {
      const item: Item = { target: { locURI: c.URI } };
      if (c.MOData !== undefined) item.data = text(c.MOData);
      const meta: Meta = {};
      if (c.Format) meta.format = c.Format;
      if (c.Type) meta.type = c.Type;
      if (Object.keys(meta).length > 0) item.meta = meta;
      return { kind: 'Exec', cmdID: id, items: [item], ...(c.Correlator ? { correlator: c.Correlator } : {}) };
    }
    default:
      return undefined;
  }
}

function itemResult(cmdRef: number, status: number, item: Item, results: Results): Dm20Result {
  const r: Dm20Result = { CmdRef: cmdRef, Status: status };
  const uri = item.source?.locURI ?? item.target?.locURI;
  if (uri) r.URI = uri;
  const format = item.meta?.format ?? results.meta?.format;
  const type = item.meta?.type ?? results.meta?.type;
  const d = item.data;
  if (d?.kind === 'binary') {
    r.MOData = toBase64(d.bytes);
    r.Format = 'bin';
  } else {
    if (d?.kind === 'text') r.MOData = d.text;
    else if (d === undefined) r.MOData = '';
    if (format) r.Format = format;
  }
  if (type) r.Type = type;
  return r;
}

/** Runs a server package on the tree; returns the results to send back (package 3). */
export async function executeDm20Package(tree: DmTree, pkg: Dm20ServerPackage, opts: Dm20ExecuteOptions): Promise<Dm20PackageRun> {
  const processor = new CommandProcessor(tree, {
    serverId: opts.serverId,
    ...(opts.exec ? { exec: opts.exec } : {}),
    ...(opts.schemas ? { schemas: opts.schemas } : {}),
    ...(opts.maxObjSize ? { maxObjSize: opts.maxObjSize } : {}),
  });
  const results: Dm20Result[] = [];
  const events: ProcessEvent[] = [];
  let end = false;
  let seen = 0;
  for (const c of pkg.CMD) {
    if (c.Cmd === 'END') {
      end = true;
      events.push({ cmd: 'END', cmdId: String(c.CmdID), status: 200, message: 'the server ended the session' });
      break;
    }
    if (c.Cmd === 'CONT') {
      results.push({ CmdRef: c.CmdID, Status: 200 });
      events.push({ cmd: 'CONT', cmdId: String(c.CmdID), status: 200 });
      continue;
    }
    const cmd = treeCommand(tree, c);
    if (!cmd) {
      results.push({ CmdRef: c.CmdID, Status: NOT_SUPPORTED });
      events.push({ cmd: c.Cmd, cmdId: String(c.CmdID), status: NOT_SUPPORTED, ...('URI' in c && c.URI ? { target: c.URI } : {}), message: `${c.Cmd} is not implemented by this client` });
      continue;
    }
    const out = await processor.run([cmd], { msgRef: '1', final: true });
    // The processor's event log is cumulative; keep only this command's entries, named as in DM 2.0.
    for (const e of out.events.slice(seen)) events.push({ ...e, cmd: `${c.Cmd}(${e.cmd})` });
    seen = out.events.length;
    const commands = out.units.flatMap((u) => u.commands);
    const status = commands.find((x): x is Status => x.kind === 'Status');
    const code = status ? Number.parseInt(status.data, 10) : 500;
    const res = commands.filter((x): x is Results => x.kind === 'Results');
    const items = res.flatMap((r) => r.items.map((i) => ({ i, r })));
    if (items.length === 0) results.push({ CmdRef: c.CmdID, Status: code });
    else for (const { i, r } of items) results.push(itemResult(c.CmdID, code, i, r));
  }
  return { results, events, end };
}
