/**
 * What an exported trace says about who made it: the app version (package.json) and the server
 * settings saved in the data folder (workbench.json). Read the same way by `dmw session export`
 * and the UI's export, so both write the same bytes for the same session.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The UI's saved server settings in the data folder (workbench.json), or null when there are none. */
export function savedSettings(dataDir: string): unknown {
  const file = path.join(dataDir, 'workbench.json');
  if (!existsSync(file)) return null;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { settings?: unknown }).settings ?? null;
  } catch {
    return null;
  }
}
