/**
 * A real, throwaway PostgreSQL for the tests (issue 16: "a real PostgreSQL, never a mock").
 *
 * Each call of startPostgres() makes its own cluster in a fresh temporary folder: initdb, pg_ctl start
 * on a free port listening on 127.0.0.1 only, its unix socket inside that folder (-k, so it never
 * touches /var/run/postgresql or a cluster the machine runs), one database; stop() shuts it down and
 * removes the folder. initdb refuses to run as root, so as root the folder is handed to the
 * `postgres` user (Debian's package creates it) and the server programs run as that user; as any
 * other user they run as that user.
 *
 * Binaries: DMW_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin (Debian's layout; .ci/run
 * installs `postgresql`). Without them the suites are skipped with the reason printed; with CI set
 * a missing PostgreSQL fails them.
 *
 * The cluster is tuned for tests (fsync off: it does not survive a crash of the machine, which no
 * test causes). synchronous_commit stays on: a kill -9 or an immediate shutdown of the server (down())
 * keeps every commit it acknowledged, as a production server would.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];

/** Where initdb and pg_ctl are, or why they are not usable here. */
export function findPostgresBin(): { bin: string } | { why: string } {
  const candidates: string[] = [];
  if (process.env.DMW_PG_BIN) candidates.push(process.env.DMW_PG_BIN);
  else if (existsSync('/usr/lib/postgresql')) {
    const majors = readdirSync('/usr/lib/postgresql').filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((m) => `/usr/lib/postgresql/${m}/bin`));
  }
  for (const bin of candidates) {
    if (PROGRAMS.every((p) => existsSync(path.join(bin, p)))) {
      if (process.getuid?.() === 0 && postgresUser() === undefined) return { why: `running as root and there is no 'postgres' user for initdb to run as` };
      return { bin };
    }
  }
  return { why: `no PostgreSQL server programs (${PROGRAMS.join(', ')}) in ${candidates.length ? candidates.join(', ') : '/usr/lib/postgresql/<major>/bin'} (set DMW_PG_BIN, or install Debian's postgresql as .ci/run does)` };
}

/**
 * true when the suites using PostgreSQL may run; in CI a missing PostgreSQL throws (the suite must
 * not be skipped), elsewhere the reason is printed and the suite skips.
 */
export function postgresAvailable(suite: string): boolean {
  const found = findPostgresBin();
  if ('bin' in found) return true;
  const why = `${suite}: ${found.why}`;
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return false;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** A port nobody listens on right now (the kernel's choice; pg_ctl may still lose a race, then we retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/DB (trust authentication on 127.0.0.1: a test cluster). */
  url: string;
  /** URL of another database in the same cluster (created by createDatabase). */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  port: number;
  /** The temporary folder: data/ (the cluster), the unix socket, server.log. */
  dir: string;
  /** Restarts the server on the same port (tests of recovery after a database restart). */
  restart(): void;
  /** Stops the server (immediate shutdown, as a crash) and keeps the cluster; up() starts it again on the same port. */
  down(): void;
  up(): void;
  /** Stops the server (immediate shutdown) and removes the folder. Safe to call twice. */
  stop(): void;
}

export interface StartOptions {
  /** The database created for the test (default dmw_test). */
  database?: string;
  /** More server settings (`-c NAME=VALUE`, after the test defaults, so they win): the bench runs with fsync=on. */
  settings?: Record<string, string>;
}

/** Starts a throwaway cluster. Throws with initdb's or pg_ctl's own output when it cannot. */
export async function startPostgres(opts: StartOptions = {}): Promise<TestPostgres> {
  const found = findPostgresBin();
  if (!('bin' in found)) throw new Error(found.why);
  const { bin } = found;
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresUser()! : undefined;
  const user = asRoot ? 'postgres' : os.userInfo().username;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmw-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  const runOpts: SpawnSyncOptions = {
    encoding: 'utf8',
    cwd: dir,
    // As root: the programs run as postgres, with an environment of their own (no root HOME).
    ...(owner ? { uid: owner.uid, gid: owner.gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' } } : {}),
  };
  const run = (program: string, args: string[]) => {
    const r = spawnSync(path.join(bin, program), args, runOpts);
    if (r.status !== 0) {
      const logText = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(`${program} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}${logText ? `\n--- ${log}:\n${logText}` : ''}`);
    }
  };
  let stopped = false;
  let running = false;
  let port = 0;
  const pgCtl = (action: 'start' | 'stop' | 'restart') => {
    const extra = Object.entries(opts.settings ?? {}).map(([k, v]) => ` -c ${k}=${v}`).join('');
    const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB${extra}`;
    if (action === 'stop') {
      if (running) run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']);
      running = false;
    } else {
      run('pg_ctl', [action, '-D', data, '-l', log, '-w', '-t', '60', '-o', serverOpts, ...(action === 'restart' ? ['-m', 'fast'] : [])]);
      running = true;
    }
  };
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    run('initdb', ['-D', data, '-U', user, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // A port can be taken between our probe and the server's bind: a few tries.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        pgCtl('start');
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  } catch (e) {
    remove();
    throw e;
  }
  const urlFor = (database: string) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      pgCtl('stop');
    } finally {
      remove();
    }
  };
  const createDatabase = async (name: string) => {
    const c = new pg.Client({ connectionString: urlFor('postgres') });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } finally {
      await c.end();
    }
    return urlFor(name);
  };
  try {
    const url = await createDatabase(opts.database ?? 'dmw_test');
    return { url, urlFor, createDatabase, port, dir, restart: () => pgCtl('restart'), down: () => pgCtl('stop'), up: () => pgCtl('start'), stop };
  } catch (e) {
    stop();
    throw e;
  }
}
