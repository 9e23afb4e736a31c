/**
 * Stored bootstrap profiles: one JSON file per profile in a folder (default `$DMW_HOME/profiles`,
 * `$DMW_HOME` defaulting to `~/.config/dmw`). Files are written atomically and readable by their
 * owner only: profiles hold credentials.
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ProfileError, parseProfile, type BootstrapProfile } from './profile.js';

export interface StoredProfile {
  id: string;
  profile: BootstrapProfile;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function defaultProfileDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DMW_HOME ?? join(homedir(), '.config', 'dmw'), 'profiles');
}

export class ProfileStore {
  constructor(readonly dir: string = defaultProfileDir()) {}

  private file(id: string): string {
    if (!ID.test(id)) throw new ProfileError([{ field: 'id', message: `${JSON.stringify(id)} is not a profile id (letters, digits, . _ -; at most 64)` }]);
    return join(this.dir, `${id}.json`);
  }

  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .filter((id) => ID.test(id))
      .sort();
  }

  get(id: string): BootstrapProfile | undefined {
    const f = this.file(id);
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
    return parseProfile(text, f);
  }

  /** Validate and store; returns the file written. */
  save(id: string, profile: BootstrapProfile): string {
    const f = this.file(id);
    // Re-validate what is stored, so a profile built in code cannot bypass the checks.
    parseProfile(JSON.stringify(profile), `profile ${id}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, f);
    return f;
  }

  delete(id: string): boolean {
    const f = this.file(id);
    try {
      rmSync(f);
      return true;
    } catch {
      return false;
    }
  }
}
