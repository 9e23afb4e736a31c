/**
 * NAME:SECRET credentials for `dmw server`, `dmw sim` and `dmw handset` (`--client-cred`,
 * `--server-cred`) in three forms, so that a secret need not sit on the command line, where every
 * local user can read it (`ps`, /proc/PID/cmdline):
 *
 *   --client-cred NAME:SECRET       on the command line (lab defaults, examples)
 *   --client-cred-file FILE         FILE holds one line NAME:SECRET; a warning when others may read it
 *   DMW_CLIENT_CRED=NAME:SECRET     the environment (only the same user can read /proc/PID/environ)
 *
 * and the same for --server-cred / DMW_SERVER_CRED. The flag and its file form together are an error;
 * the environment counts only when neither is given. Every error names where the bad value came from.
 */
import { readFileSync, statSync } from 'node:fs';
import { CliError } from './errors.js';

export type CredentialFlag = 'client-cred' | 'server-cred';

/** The environment variable of each credential. */
export const CREDENTIAL_ENV: Readonly<Record<CredentialFlag, string>> = { 'client-cred': 'DMW_CLIENT_CRED', 'server-cred': 'DMW_SERVER_CRED' };

/** The parseArgs options of the four flags, for a command's own option list. */
export const CREDENTIAL_FLAGS = {
  'client-cred': { type: 'string' },
  'client-cred-file': { type: 'string' },
  'server-cred': { type: 'string' },
  'server-cred-file': { type: 'string' },
} as const;

export type CredentialValues = { [K in keyof typeof CREDENTIAL_FLAGS]?: string | undefined };

/** Largest secret file read (a credential is one short line). */
const MAX_SECRET_FILE = 64 * 1024;

function warnToStderr(message: string): void {
  process.stderr.write(`dmw: warning: ${message}\n`);
}

/**
 * The text of a secret file (`--client-cred-file`, `--api-token-file`): one line, its line end
 * dropped. A file that users other than its owner may read is used, with a warning.
 */
export function readSecretFile(flag: string, file: string, warn: (message: string) => void = warnToStderr): string {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(`${flag} ${file}: not a file`);
    if (st.size > MAX_SECRET_FILE) throw new CliError(`${flag} ${file}: ${st.size} bytes, more than a secret (${MAX_SECRET_FILE} at most)`);
    // Mode bits mean nothing on Windows; elsewhere, group or other read access is worth a word.
    if (process.platform !== 'win32' && (st.mode & 0o044) !== 0) {
      warn(`${flag} ${file} can be read by other users (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 ${file}`);
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new CliError(`${flag} ${file}: ${why}`);
  }
  const line = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(line)) throw new CliError(`${flag} ${file}: must hold one line`);
  return line;
}

function parse(from: string, text: string): { name: string; secret: string } {
  const i = text.indexOf(':');
  if (i <= 0) throw new CliError(`${from} must be NAME:SECRET`);
  return { name: text.slice(0, i), secret: text.slice(i + 1) };
}

/**
 * One credential from its flag, its file form or the environment (in that order), or undefined
 * when none is given.
 */
export function readCredential(
  values: CredentialValues,
  flag: CredentialFlag,
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = warnToStderr,
): { name: string; secret: string } | undefined {
  const inline = values[flag];
  const file = values[`${flag}-file`];
  if (inline !== undefined && file !== undefined) throw new CliError(`give --${flag} or --${flag}-file, not both`);
  if (inline !== undefined) return parse(`--${flag}`, inline);
  if (file !== undefined) return parse(`--${flag}-file ${file}`, readSecretFile(`--${flag}-file`, file, warn));
  const name = CREDENTIAL_ENV[flag];
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== '') return parse(name, fromEnv);
  return undefined;
}
