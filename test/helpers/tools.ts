/**
 * External tools the tests use as independent oracles. In CI a missing tool is a failure (the CI
 * script installs it); on a developer machine the test is skipped with the reason printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VECTORS_DIR = path.join(REPO_ROOT, 'test/fixtures/android-dm12');
export const CORPUS_DIR = path.join(REPO_ROOT, 'test/fixtures/corpus');

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** true when the tests needing `tools` may run; throws in CI when one is missing. */
export function requireTools(suite: string, ...tools: string[]): boolean {
  const missing = tools.filter((t) => !haveTool(t));
  if (missing.length === 0) return true;
  const why = `${suite}: missing ${missing.join(', ')} (installed by .ci/run)`;
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return false;
}

export function run(cmd: string, args: string[], input?: Uint8Array): Buffer {
  return execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}
