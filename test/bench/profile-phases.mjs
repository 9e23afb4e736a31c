/**
 * Where a CPU profile's busy time goes, by phase of a DM round trip: the tables in README.md
 * (server section) were made with this.
 *
 *   node test/bench/profile-phases.mjs PROFILE.cpuprofile [phases-PID.json [dm|bare]]
 *
 * Idle samples and module loading are left out; each other sample goes to the innermost frame
 * that matches one of the kinds below (so the store's group() around a whole request does not
 * swallow the engine's work inside it). With a phases file (DMW_BENCH_PROFILE writes one), only
 * samples inside the timed DM (or bare) runs count: that cuts a profile of the bench process to
 * the handsets' part.
 */
import { readFileSync } from 'node:fs';

const KINDS = [
  ['startup (module loading)', (f) => /internal\/modules\/|tsx\/dist/.test(f.url)],
  ['store: SQL statements, transactions (better-sqlite3)', (f) => /server-store\.ts|better-sqlite3/.test(f.url) && f.functionName !== 'startSync' && f.functionName !== 'syncNow'],
  ['store: fsync of the WAL', (f) => /server-store\.ts/.test(f.url)],
  ['store: message index and its facts (deferred batches since issue 17)', (f) => /store\/(message-index|message-facts|sqlite\/deferred-index)/.test(f.url)],
  ['store: SQLite adapter (sqlite-store.ts)', (f) => /sqlite\/sqlite-store\.ts/.test(f.url)],
  ['decode: WBXML -> tree -> typed message', (f) => f.functionName === 'decodeMessage' || /protocol\/wbxml\/decode|message\/(fast-)?read/.test(f.url)],
  ['encode: typed message -> tree -> WBXML', (f) => f.functionName === 'encodeMessage' || /protocol\/wbxml\/encode|message\/(fast-)?write/.test(f.url)],
  ['auth: MD5 digests, nonces', (f) => /protocol\/auth\.ts|server\/auth\.ts|random-pool/.test(f.url)],
  ['engine: turn, statuses, jobs, packing, clones', (f) => /server\/engine|server\/engine\.ts|step-control|jobs\.ts/.test(f.url)],
  ['server glue: routing, limits, effects, events, live sessions, HTTP send', (f) => /main\/server\//.test(f.url)],
  ['handset logic (main/client, main/tree)', (f) => /main\/client\/(handset|pool|credentials|events|devid|sim)|main\/tree\//.test(f.url)],
  ['transport (node:http client in main/client/transport.ts)', (f) => /main\/client\/transport/.test(f.url)],
  ['other code of ours', (f) => /\/main\/main\/|\/main\/(protocol|server|store|client|tree)\//.test(f.url)],
  ['bench driver', (f) => /test\/bench/.test(f.url)],
];

const [file, phasesFile, phase = 'dm'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node test/bench/profile-phases.mjs PROFILE.cpuprofile [phases-PID.json [dm|bare]]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8'));
const windows = phasesFile ? JSON.parse(readFileSync(phasesFile, 'utf8')).filter((w) => w.phase === phase) : undefined;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const counts = new Map();
let t = p.startTime;
p.samples.forEach((s, i) => {
  t += p.timeDeltas[i];
  if (windows && !windows.some((w) => t >= w.start && t <= w.end)) return;
  counts.set(s, (counts.get(s) ?? 0) + 1);
});
const shares = new Map();
let total = 0;
for (const [id, c] of counts) {
  const stack = [];
  for (let x = id; x !== undefined; x = parent.get(x)) stack.push(byId.get(x).callFrame);
  if (stack[0].functionName === '(idle)') continue;
  let kind;
  for (const f of stack) {
    kind = KINDS.find(([, test]) => test(f))?.[0];
    if (kind) break;
  }
  kind ??= stack[0].functionName === '(garbage collector)' ? 'GC' : 'node: HTTP, sockets, event loop (no frame of ours)';
  if (kind.startsWith('startup')) continue;
  total += c;
  shares.set(kind, (shares.get(kind) ?? 0) + c);
}
console.log(`busy samples (no idle, no module loading): ${total}`);
for (const [k, v] of [...shares].sort((a, b) => b[1] - a[1])) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
