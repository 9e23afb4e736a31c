/**
 * intel/libdmclient as a test peer: a real OMA DM 1.2 client that no one here wrote (like libwbxml
 * or tshark), built from its unmodified source at test time and driven against our server.
 *
 * It never enters the repository. The tarball lives next to the checkout
 * (`../shared/peers/libdmclient/`, its README.md says what is known about the client); we check its
 * sha256, extract it into a cache folder outside the repo, make its test DM account read from
 * environment variables (one small substitution, ACCOUNT_FROM_ENV_C below), and build it there:
 * `autoreconf -i && ./configure --prefix=... --enable-tests && make -j2 && make install`. The build is
 * per prefix (the test client dlopens its MO plugins from a directory compiled in from the prefix),
 * so the cache folder is keyed by the tarball's sha256 and the hash of our substitution and recipe,
 * and a lock keeps test files running in parallel from building it twice.
 *
 * Without the build tools the suites using it are skipped with the reason printed; with CI set, a
 * missing tool, a missing tarball or a failed build fails them (.ci/run installs the packages).
 *
 * How the test client (`tests/client/main.c`, `testdmclient`) reports: one client-initiated session
 * per run; every message it sends and every answer go to stderr (XML as text, WBXML as a hex dump),
 * each answer preceded by `Reply from "URI": HTTP-STATUS`; stdout only carries UI alerts. It stops at
 * the first non-200 HTTP answer. Exit 0 = it had nothing left to say but the SyncHdr Status (the
 * server ended the session), 2..4 = a libdmclient error (internal, memory, usage), any other code =
 * the last HTTP status modulo 256 (401 -> 145). Its exit code does not say whether authentication
 * worked (the README: the HACK struct in main.c is out of date), so tests judge the session from our
 * server's log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, haveTool } from './tools.js';

// --- the peer's source --------------------------------------------------------------------------

export const LIBDMCLIENT_COMMIT = '9d4e3e8f252ea6e70f9b0b5f8e1fc733852d8c17';
/** From ../shared/peers/libdmclient/README.md: the unmodified source at LIBDMCLIENT_COMMIT. */
export const LIBDMCLIENT_SHA256 = '0b00beeecb3d7b41798db6ff4f09deb10e370b54896c501f1a0afa282b527121';
const TARBALL_IN_SHARED = 'shared/peers/libdmclient/libdmclient-9d4e3e8.tar.gz';
/**
 * The tarball: DMW_LIBDMCLIENT_TARBALL, else the lab's shared folder beside this checkout, else
 * the workspace's (/work/shared, for a clone made elsewhere on the same machine). Same sha256 required.
 */
export const LIBDMCLIENT_TARBALL = process.env.DMW_LIBDMCLIENT_TARBALL
  ?? [path.resolve(REPO_ROOT, '..', TARBALL_IN_SHARED), path.join('/work', TARBALL_IN_SHARED)].find((p) => existsSync(p))
  ?? path.resolve(REPO_ROOT, '..', TARBALL_IN_SHARED);

/** Programs the build runs, and the pkg-config modules `configure --enable-tests` checks. */
const BUILD_TOOLS = ['tar', 'autoreconf', 'autoconf', 'automake', 'aclocal', 'libtoolize', 'pkg-config', 'gcc', 'make'];
const BUILD_PKG_MODULES = ['libcurl', 'sqlite3'];

// --- our one change to their source -------------------------------------------------------------

/**
 * The test DM account is hard-coded in tests/mgtobj/DmAcc/plugin_dmacc.c (ServerID "funambol",
 * http://127.0.0.1:8080/funambol/dm, fixed AppAuth). This C is inserted before its prv_initFN and
 * called from it: each DMW_LDMC_* variable that is set replaces one value of that static table
 * before the plugin hands the table to the library. Nothing else of their code changes.
 */
const ACCOUNT_FROM_ENV_C = String.raw`
/* --- Inserted by DM Workbench's test harness (test/helpers/libdmclient.ts), not part of libdmclient:
 * the test account is read from DMW_LDMC_* environment variables, so tests can point the client
 * at their own server with the credentials they choose. Unset variables keep the original values. */
static void dmw_account_from_env(void)
{
    static const struct { const char * uri; const char * env; } map[] = {
        {PRV_BASE_URI"/test/ServerID", "DMW_LDMC_SERVER_ID"},
        {PRV_BASE_URI"/test/Name", "DMW_LDMC_SERVER_ID"},
        {PRV_BASE_URI"/test/AppAddr/url/Addr", "DMW_LDMC_SERVER_URL"},
        {PRV_BASE_URI"/test/AppAuth/toclient/AAuthType", "DMW_LDMC_SERVER_AUTH_TYPE"},
        {PRV_BASE_URI"/test/AppAuth/toclient/AAuthName", "DMW_LDMC_SERVER_AUTH_NAME"},
        {PRV_BASE_URI"/test/AppAuth/toclient/AAuthSecret", "DMW_LDMC_SERVER_AUTH_SECRET"},
        {PRV_BASE_URI"/test/AppAuth/toclient/AAuthData", "DMW_LDMC_SERVER_AUTH_NONCE"},
        {PRV_BASE_URI"/test/AppAuth/toserver/AAuthType", "DMW_LDMC_CLIENT_AUTH_TYPE"},
        {PRV_BASE_URI"/test/AppAuth/toserver/AAuthName", "DMW_LDMC_CLIENT_AUTH_NAME"},
        {PRV_BASE_URI"/test/AppAuth/toserver/AAuthSecret", "DMW_LDMC_CLIENT_AUTH_SECRET"},
        {PRV_BASE_URI"/test/AppAuth/toserver/AAuthData", "DMW_LDMC_CLIENT_AUTH_NONCE"},
    };
    static char acl[300];
    const char * serverId = getenv("DMW_LDMC_SERVER_ID");
    size_t m;
    int i;

    for (m = 0; m < sizeof(map) / sizeof(map[0]); m++)
    {
        const char * value = getenv(map[m].env);
        if (!value) continue;
        for (i = 0; gDmAccNodes[i].uri; i++)
            if (!strcmp(gDmAccNodes[i].uri, map[m].uri)) gDmAccNodes[i].value = (char *)value;
    }
    /* The account's node is readable by its own server only ("Get=funambol"): follow the ServerID. */
    if (serverId && strlen(serverId) < sizeof(acl) - 5)
    {
        snprintf(acl, sizeof(acl), "Get=%s", serverId);
        for (i = 0; gDmAccNodes[i].uri; i++)
            if (!strcmp(gDmAccNodes[i].uri, PRV_BASE_URI"/test")) gDmAccNodes[i].acl = acl;
    }
}
/* --- end of the inserted part */

`;
const DMACC_FILE = 'tests/mgtobj/DmAcc/plugin_dmacc.c';
const DMACC_ANCHOR = 'static int prv_initFN(void **oData)\n{\n    *oData = gDmAccNodes;';
const DMACC_REPLACEMENT = `${ACCOUNT_FROM_ENV_C}static int prv_initFN(void **oData)\n{\n    dmw_account_from_env(); /* DM Workbench test harness */\n    *oData = gDmAccNodes;`;

/** The DevId (./DevInfo/DevId, "DMCtest") from DMW_LDMC_DEVID, the same way, so several peers can share a server. */
const DEVINFO_FILE = 'tests/mgtobj/DevInfo/plugin_devinfo.c';
const DEVINFO_ANCHOR = 'static int prv_initFN(void **oData)\n{\n    *oData = gDevInfoNodes;';
const DEVINFO_REPLACEMENT = [
  'static int prv_initFN(void **oData)\n{',
  '    /* DM Workbench test harness (test/helpers/libdmclient.ts): DevId from DMW_LDMC_DEVID when set. */',
  '    if (getenv("DMW_LDMC_DEVID")) gDevInfoNodes[1].value = getenv("DMW_LDMC_DEVID");',
  '    *oData = gDevInfoNodes;',
].join('\n');

/** gcc 14 made these old-C warnings errors; the client predates that. -O2 is configure's own default. */
const CFLAGS = '-O2 -Wno-error=implicit-function-declaration -Wno-error=int-conversion -Wno-error=incompatible-pointer-types';

/** Replaces `anchor`, which must occur exactly once, or says which file changed under us. */
export function substituteOnce(source: string, anchor: string, replacement: string, file: string): string {
  const first = source.indexOf(anchor);
  if (first < 0 || source.indexOf(anchor, first + 1) >= 0) {
    throw new Error(`libdmclient: ${file}: expected exactly one ${JSON.stringify(anchor)} to substitute, found ${first < 0 ? 'none' : 'several'}`);
  }
  return source.slice(0, first) + replacement + source.slice(first + anchor.length);
}

/** What makes one build differ from another: the source, our substitution and the recipe. */
const RECIPE = JSON.stringify({ v: 1, DMACC_ANCHOR, DMACC_REPLACEMENT, DEVINFO_ANCHOR, DEVINFO_REPLACEMENT, CFLAGS, configure: ['--enable-tests'], drop: ['mostorage.so'] });
const RECIPE_HASH = createHash('sha256').update(RECIPE).digest('hex');
export const LIBDMCLIENT_BUILD_KEY = `${LIBDMCLIENT_SHA256.slice(0, 12)}-${RECIPE_HASH.slice(0, 12)}`;

// --- where it is built --------------------------------------------------------------------------

/** DMW_PEERS_CACHE, else $XDG_CACHE_HOME/dmw-peers, else <tmpdir>/dmw-peers; never inside the repo. */
export function peersCacheRoot(): string {
  const root = path.resolve(process.env.DMW_PEERS_CACHE ?? path.join(process.env.XDG_CACHE_HOME || os.tmpdir(), 'dmw-peers'));
  const rel = path.relative(REPO_ROOT, root);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) {
    throw new Error(`libdmclient: the peer cache ${root} is inside the repository; point DMW_PEERS_CACHE or XDG_CACHE_HOME elsewhere`);
  }
  return root;
}

export interface LibdmclientBuild {
  /** The install prefix (bin/testdmclient, bin/plugins/, lib/libdmclient.so). */
  prefix: string;
  testClient: string;
  /** Where the build's output went (autoreconf, configure, make). */
  log: string;
  /** This call found a finished build (true) or made it. */
  cached: boolean;
  /** How long this call took (waiting for another process's build included). */
  ms: number;
  /** How long the build itself took, when it was made. */
  buildMs: number;
  key: string;
}

/**
 * Whether the peer can be built here. In CI a missing piece throws (the suite must not be skipped);
 * elsewhere it prints the reason and returns false.
 */
export function libdmclientAvailable(suite: string): boolean {
  const missing = BUILD_TOOLS.filter((t) => !haveTool(t));
  if (haveTool('pkg-config')) {
    for (const m of BUILD_PKG_MODULES) if (!pkgConfigHas(m)) missing.push(`pkg-config module ${m}`);
  }
  if (!existsSync(LIBDMCLIENT_TARBALL)) missing.push(`the tarball ${LIBDMCLIENT_TARBALL}`);
  if (missing.length === 0) return true;
  const why = `${suite}: libdmclient cannot be built: missing ${missing.join(', ')} (.ci/run installs autoconf automake libtool pkg-config gcc make libcurl4-openssl-dev libsqlite3-dev)`;
  if (process.env.CI) throw new Error(`${why}; CI must not skip this suite`);
  console.warn(`SKIP ${why}`);
  return false;
}

function pkgConfigHas(module: string): boolean {
  return spawnSync('pkg-config', ['--exists', module], { stdio: 'ignore' }).status === 0;
}

let inProcess: Promise<LibdmclientBuild> | undefined;

/** The built peer: from the cache when a build with this key is finished, else built now (once). */
export function buildLibdmclient(): Promise<LibdmclientBuild> {
  inProcess ??= buildOrReuse().catch((e) => {
    inProcess = undefined;
    throw e;
  });
  return inProcess;
}

async function buildOrReuse(): Promise<LibdmclientBuild> {
  const started = Date.now();
  const root = peersCacheRoot();
  mkdirSync(root, { recursive: true });
  const dir = path.join(root, `libdmclient-${LIBDMCLIENT_BUILD_KEY}`);
  const prefix = path.join(dir, 'prefix');
  const log = path.join(dir, 'build.log');
  const ready = path.join(dir, 'ready.json');
  const result = (cached: boolean, buildMs: number): LibdmclientBuild => ({
    prefix, testClient: path.join(prefix, 'bin/testdmclient'), log, cached, ms: Date.now() - started, buildMs, key: LIBDMCLIENT_BUILD_KEY,
  });
  const finished = () => existsSync(ready) && existsSync(path.join(prefix, 'bin/testdmclient'));
  if (finished()) return result(true, readBuildMs(ready));

  const release = await lock(`${dir}.lock`);
  try {
    if (finished()) return result(true, readBuildMs(ready));
    const t0 = Date.now();
    const tarball = readFileSync(LIBDMCLIENT_TARBALL);
    const sha = createHash('sha256').update(tarball).digest('hex');
    if (sha !== LIBDMCLIENT_SHA256) {
      throw new Error(`libdmclient: ${LIBDMCLIENT_TARBALL} has sha256 ${sha}, expected ${LIBDMCLIENT_SHA256} (../shared/peers/libdmclient/README.md)`);
    }
    rmSync(dir, { recursive: true, force: true });
    const src = path.join(dir, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(log, `libdmclient ${LIBDMCLIENT_COMMIT} build ${LIBDMCLIENT_BUILD_KEY}\n`);
    await step(log, 'extract', 'tar', ['-xzf', LIBDMCLIENT_TARBALL, '-C', src, '--strip-components=1'], src);
    for (const [file, anchor, replacement] of [[DMACC_FILE, DMACC_ANCHOR, DMACC_REPLACEMENT], [DEVINFO_FILE, DEVINFO_ANCHOR, DEVINFO_REPLACEMENT]] as const) {
      const p = path.join(src, file);
      writeFileSync(p, substituteOnce(readFileSync(p, 'utf8'), anchor, replacement, file));
    }
    const env = { CFLAGS };
    await step(log, 'autoreconf', 'autoreconf', ['-i'], src, env);
    await step(log, 'configure', './configure', [`--prefix=${prefix}`, '--enable-tests'], src, env);
    await step(log, 'make', 'make', ['-j2'], src, env);
    await step(log, 'make install', 'make', ['install'], src, env);
    // Their SQLite test plugin (./Vendor/test) keeps its data in a fixed /tmp/dmsettings.db that
    // every run on the machine would share; the tests use the in-memory ./Vendor/memory plugin.
    unlinkSync(path.join(prefix, 'bin/plugins/mostorage.so'));
    const buildMs = Date.now() - t0;
    writeFileSync(ready, JSON.stringify({ key: LIBDMCLIENT_BUILD_KEY, commit: LIBDMCLIENT_COMMIT, buildMs, at: new Date().toISOString() }));
    return result(false, buildMs);
  } finally {
    release();
  }
}

function readBuildMs(ready: string): number {
  try {
    return Number((JSON.parse(readFileSync(ready, 'utf8')) as { buildMs?: number }).buildMs ?? 0);
  } catch {
    return 0;
  }
}

/** Runs one build step, its output appended to the log; a failure says which step and ends with the log's tail. */
function step(log: string, name: string, cmd: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 10 * 60_000): Promise<void> {
  appendFileSync(log, `\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, LC_ALL: 'C', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => appendFileSync(log, b));
    child.stderr.on('data', (b: Buffer) => appendFileSync(log, b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`libdmclient build: ${name} could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
      reject(new Error(`libdmclient build: ${name} failed (${signal ?? `exit ${code}`}); log ${log}, last lines:\n${tail}`));
    });
  });
}

/**
 * A directory lock shared by processes (vitest runs test files in separate forks): mkdir is atomic.
 * A lock whose owner process is gone, or that is older than any build takes, is broken.
 */
async function lock(lockDir: string, waitMs = 15 * 60_000): Promise<() => void> {
  const me = `${process.pid}@${os.hostname()} ${randomBytes(4).toString('hex')}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(path.join(lockDir, 'owner'), me);
      return () => {
        try {
          if (readFileSync(path.join(lockDir, 'owner'), 'utf8') === me) rmSync(lockDir, { recursive: true, force: true });
        } catch {
          // already broken by someone who thought we were gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (lockIsStale(lockDir)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`libdmclient: waited ${waitMs / 1000} s for the build lock ${lockDir}; remove it if no build is running`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function lockIsStale(lockDir: string): boolean {
  let owner: string;
  let age: number;
  try {
    age = Date.now() - statSync(lockDir).mtimeMs;
    owner = readFileSync(path.join(lockDir, 'owner'), 'utf8');
  } catch {
    // Just created, owner not written yet (give it a moment), or just removed.
    return false;
  }
  if (age > 30 * 60_000) return true;
  const m = /^(\d+)@(\S+) /.exec(owner);
  if (!m || m[2] !== os.hostname()) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// --- running a session --------------------------------------------------------------------------

/** AAuthType values libdmclient knows for SyncML-level credentials (DIGEST is syncml:auth-md5). */
export type LibdmclientAuthType = 'BASIC' | 'DIGEST';

export interface LibdmclientAuth {
  type: LibdmclientAuthType;
  name: string;
  secret: string;
  /** AAuthData at the start: the nonce bytes as text (no NUL); default empty, as in their account. */
  nonce?: string;
}

export interface LibdmclientAccount {
  /** Where it POSTs package 1 (AppAddr). */
  serverUrl: string;
  serverId: string;
  /** ./DevInfo/DevId; default their "DMCtest". */
  devId?: string;
  /** Its credentials towards the server (AppAuth CLCRED, "toserver"). */
  client: LibdmclientAuth;
  /** What it expects the server to present (AppAuth SRVCRED, "toclient"); it refuses commands without it. */
  server: LibdmclientAuth;
}

export interface LibdmclientSessionOptions {
  account: LibdmclientAccount;
  wbxml?: boolean;
  /** Killed (SIGKILL) after this long; default 20 s. */
  timeoutMs?: number;
  /** A build from buildLibdmclient(); built (or taken from the cache) when not given. */
  build?: LibdmclientBuild;
}

export interface LibdmclientSessionResult {
  /** null when it was killed (see timedOut). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Wall time from spawn to exit. */
  ms: number;
  stdout: string;
  /** Its trace of the session: every message out and every answer (bounded, see MAX_CAPTURE). */
  stderr: string;
  /** The HTTP status of each answer it got, in order (from its `Reply from` lines). */
  httpStatuses: number[];
}

/** Output kept per stream; a looping client would otherwise grow it without bound. */
const MAX_CAPTURE = 4 * 1024 * 1024;

/** The environment that gives the test client `account` (see ACCOUNT_FROM_ENV_C). */
export function accountEnv(a: LibdmclientAccount): Record<string, string> {
  const env: Record<string, string> = {
    DMW_LDMC_SERVER_URL: a.serverUrl,
    DMW_LDMC_SERVER_ID: a.serverId,
    DMW_LDMC_CLIENT_AUTH_TYPE: a.client.type,
    DMW_LDMC_CLIENT_AUTH_NAME: a.client.name,
    DMW_LDMC_CLIENT_AUTH_SECRET: a.client.secret,
    DMW_LDMC_CLIENT_AUTH_NONCE: a.client.nonce ?? '',
    DMW_LDMC_SERVER_AUTH_TYPE: a.server.type,
    DMW_LDMC_SERVER_AUTH_NAME: a.server.name,
    DMW_LDMC_SERVER_AUTH_SECRET: a.server.secret,
    DMW_LDMC_SERVER_AUTH_NONCE: a.server.nonce ?? '',
  };
  if (a.devId !== undefined) env.DMW_LDMC_DEVID = a.devId;
  for (const [k, v] of Object.entries(env)) if (v.includes('\0')) throw new Error(`libdmclient: ${k} must not contain NUL`);
  return env;
}

/**
 * One client-initiated session of the real client against `account.serverUrl`: `testdmclient
 * [-w] -s SERVERID`, its stdin empty (a UI alert that asks gets no answer), killed after the timeout.
 * Reusable as "a real handset's session" (e.g. its wall time while an attack runs). With DIGEST its
 * first message always fails (it digests an empty nonce: the NextNonce we gave cannot be stored in
 * its static account), which our server counts as an authentication failure of that DevId: give
 * each of many sessions its own devId, or the device is throttled (maxAuthFailures).
 */
export async function runLibdmclientSession(opts: LibdmclientSessionOptions): Promise<LibdmclientSessionResult> {
  const build = opts.build ?? (await buildLibdmclient());
  const args = [...(opts.wbxml ? ['-w'] : []), '-s', opts.account.serverId];
  const env: NodeJS.ProcessEnv = { ...process.env, ...accountEnv(opts.account) };
  if (opts.account.devId === undefined) delete env.DMW_LDMC_DEVID; // theirs ("DMCtest"), not one from our own environment
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(build.testClient, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const keep = (have: string, more: string) => (have.length >= MAX_CAPTURE ? have : have + more.slice(0, MAX_CAPTURE - have.length));
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (t: string) => (stdout = keep(stdout, t)));
    child.stderr.on('data', (t: string) => (stderr = keep(stderr, t)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`libdmclient: ${build.testClient} could not start: ${e.message}`));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const httpStatuses = [...stderr.matchAll(/^Reply from "[^"]*": (-?\d+)\r?$/gm)].map((m) => Number(m[1]));
      resolve({ exitCode, signal, timedOut, ms, stdout, stderr, httpStatuses });
    });
  });
}

/** A few lines for a failure message: how the run ended and the end of its trace. */
export function describeRun(r: LibdmclientSessionResult, tailLines = 60): string {
  const how = r.timedOut ? 'killed after the timeout' : r.signal ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  const tail = r.stderr.split('\n').slice(-tailLines).join('\n');
  return `testdmclient ${how} after ${Math.round(r.ms)} ms, ${r.httpStatuses.length} answer(s), HTTP ${runs(r.httpStatuses)}\nstdout: ${r.stdout}\nstderr (last ${tailLines} lines):\n${tail}`;
}

/** [200, 200, 200, 403] -> "200 x3, 403": a looping client's statuses in one line. */
function runs(statuses: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < statuses.length; ) {
    let j = i;
    while (j < statuses.length && statuses[j] === statuses[i]) j++;
    out.push(j - i > 1 ? `${statuses[i]} x${j - i}` : String(statuses[i]));
    i = j;
  }
  return out.join(', ') || '(none)';
}
