import { readFileSync, writeFileSync } from 'node:fs';
import { CliError } from './errors.js';

/** Name used in messages for a FILE argument (`-` is standard input). */
export function displayName(file: string): string {
  return file === '-' ? 'stdin' : file;
}

export function readInput(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file === '-' ? 0 : file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new CliError(`${displayName(file)}: ${why}`);
  }
}

export function writeOutput(file: string | undefined, data: Uint8Array | string): void {
  if (file === undefined || file === '-') {
    process.stdout.write(data);
    return;
  }
  try {
    writeFileSync(file, data);
  } catch (e) {
    throw new CliError(`${file}: cannot write: ${(e as Error).message}`);
  }
}
