/**
 * Builds the renderer (vite) when renderer/dist is missing or older than its sources, so `npm run
 * serve` and `npm start` always show the UI that matches the checkout.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RENDERER_DIST = path.join(REPO_ROOT, 'renderer', 'dist');

function newest(dir: string, skip: (p: string) => boolean): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (skip(p)) continue;
    t = Math.max(t, e.isDirectory() ? newest(p, skip) : statSync(p).mtimeMs);
  }
  return t;
}

export function rendererIsStale(): boolean {
  const index = path.join(RENDERER_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const skip = (p: string) => p.startsWith(RENDERER_DIST) || p.includes(`${path.sep}node_modules`);
  const sources = Math.max(
    newest(path.join(REPO_ROOT, 'renderer'), skip),
    statSync(path.join(REPO_ROOT, 'main', 'api', 'contract.ts')).mtimeMs,
    statSync(path.join(REPO_ROOT, 'vite.config.ts')).mtimeMs,
  );
  return sources > built;
}

/** Runs vite's production build of the renderer when needed; returns whether it built. */
export async function ensureRendererBuilt(log: (line: string) => void = () => undefined): Promise<boolean> {
  if (!rendererIsStale()) return false;
  log('building the UI (vite) ...');
  const vite = await import('vite');
  // Vite keeps a NODE_ENV it finds set: started from vitest (NODE_ENV=test, the e2e tests) it would
  // build React's development bundle, and that build would then be served to everyone after.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await vite.build({ configFile: path.join(REPO_ROOT, 'vite.config.ts'), logLevel: 'warn', mode: 'production' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return true;
}
