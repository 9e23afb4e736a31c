/**
 * Virtual handsets as the UI backend sees them. The real ones live in main/client (the virtual DM
 * client); this file is the seam: the backend loads a module that exports `createFleet(ctx)` and
 * drives it only through `HandsetFleet`. Until main/client exists the Devices view shows the
 * controls disabled with `reason`, and `--demo` says it has no handsets to run — nothing is faked.
 *
 * A fleet speaks real DM over HTTP(S) to `ctx.server().url`, and registers each handset's
 * notification endpoint with `server.setDevice(devId, { notifyUrl })` so jobs queued with
 * `notify` reach it. The tests plug in a fleet of their own the same way (`--handsets MODULE`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DmServer } from '../server/server.js';

export interface VirtualHandset {
  devId: string;
  model: string;
  /** Running handsets take part in sessions (answer notifications, call in on their own). */
  running: boolean;
  sessions: number;
  lastSessionAt: string | null;
  lastError: string | null;
}

export interface FleetContext {
  /** The running DM server, or undefined while it is stopped (handsets then wait). */
  server(): DmServer | undefined;
  /** The workbench data folder (a fleet may keep its handsets' trees under it). */
  dataDir: string;
}

export interface HandsetFleet {
  list(): VirtualHandset[];
  /** Creates `count` new handsets (realistic DevIds, e.g. IMEI:<15 digits>), started. */
  add(count: number, opts?: { model?: string }): Promise<VirtualHandset[]>;
  start(devId: string): Promise<void>;
  stop(devId: string): Promise<void>;
  /** A client-initiated session now (Alert 1201), e.g. so the demo keeps sessions coming. */
  connect(devId: string): Promise<void>;
  /** Called after any change of the list or of a handset's state. Returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

export interface HandsetModule {
  createFleet(ctx: FleetContext): HandsetFleet | Promise<HandsetFleet>;
}

export type HandsetLoad = { ok: true; module: HandsetModule; provider: string } | { ok: false; reason: string };

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where the product's virtual handsets will be: main/client/index.ts (index.js once built). */
export function defaultHandsetModule(): string | undefined {
  for (const f of ['index.ts', 'index.js']) {
    const p = path.join(here, '..', 'client', f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Loads the handset module: `spec` (a path, from `--handsets`) or main/client. Never throws: a
 * missing or unfit module is a reason shown to the user.
 */
export async function loadHandsetModule(spec?: string): Promise<HandsetLoad> {
  const file = spec ? path.resolve(spec) : defaultHandsetModule();
  if (!file) {
    return { ok: false, reason: 'Virtual handsets are not part of this build yet: the virtual DM client module (main/client) is missing.' };
  }
  let mod: unknown;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    return { ok: false, reason: `The virtual handset module ${path.relative(process.cwd(), file)} failed to load: ${e instanceof Error ? e.message : String(e)}` };
  }
  const createFleet = (mod as { createFleet?: unknown }).createFleet;
  if (typeof createFleet !== 'function') {
    return { ok: false, reason: `${path.relative(process.cwd(), file)} does not export createFleet(ctx) (see main/api/handsets.ts).` };
  }
  return { ok: true, module: mod as HandsetModule, provider: path.relative(process.cwd(), file) };
}
