/**
 * tree: the DM tree's figures (main/tree/bench.ts, `benchTree()`) against the targets:
 *   build a 1,000,000-node tree < 2 s; leaf Get with ACL check < 2 µs; ?list=Struct over 10k
 *   children < 10 ms; < 300 bytes per node.
 *
 * benchTree() (sync or a Promise) returns TreeBenchResult: buildMs, getLeafUs, listStruct10kMs,
 * bytesPerNode (plus its own copy of the targets, which this suite does not use: the targets are
 * stated here). Other names are matched loosely (build / get|acl / list|struct / bytes, with a unit
 * suffix such as _ms, Us, _s, _ns), so a renamed field still shows; the raw result is printed too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../fixtures.js';
import { fmtNum, table, verdictWord } from '../format.js';
import type { BenchContext, BenchSuite, Verdict } from '../suite.js';

type Unit = 'ns' | 'us' | 'ms' | 's' | 'B';

interface Target {
  label: string;
  unit: Unit;
  limit: number;
  /** Field names of main/tree/bench.ts's TreeBenchResult (and earlier spellings), tried first. */
  preferred: readonly string[];
  match: RegExp;
}

export const TREE_TARGETS: readonly Target[] = [
  { label: 'build 1,000,000-node tree', unit: 'ms', limit: 2000, preferred: ['buildMs', 'build_1M_ms'], match: /build|construct|populate|insert|create/i },
  { label: 'leaf Get with ACL check', unit: 'us', limit: 2, preferred: ['getLeafUs', 'leaf_get_acl_us'], match: /get|acl|lookup|leaf/i },
  { label: '?list=Struct over 10k children', unit: 'ms', limit: 10, preferred: ['listStruct10kMs', 'list_struct_10k_ms'], match: /list|struct/i },
  { label: 'memory per node', unit: 'B', limit: 300, preferred: ['bytesPerNode', 'bytes_per_node'], match: /bytes|per_?node|pernode|memory/i },
];

/** The module's own copy of the targets and verdicts: not figures. */
const IGNORED = /^(targets|target|limits|pass|verdicts?)\./i;

const TIME_SCALE: Record<Exclude<Unit, 'B'>, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1 };

/** The unit a key's suffix names, e.g. build_ms, leafGetUs, list10kMillis, bytesPerNode. */
function unitOf(key: string): Unit | undefined {
  const k = key.toLowerCase();
  if (/(nanos|ns)$/.test(k)) return 'ns';
  if (/(micros|us|µs)$/.test(k)) return 'us';
  if (/(millis|ms)$/.test(k)) return 'ms';
  if (/(bytes|_b|pernode|per_node)$/.test(k) || /bytes/.test(k)) return 'B';
  if (/(seconds|secs|sec|_s)$/.test(k)) return 's';
  return undefined;
}

function convert(value: number, from: Unit | undefined, to: Unit): number | undefined {
  if (from === undefined || from === to) return value;
  if (from === 'B' || to === 'B') return undefined;
  return (value * TIME_SCALE[from]) / TIME_SCALE[to];
}

/** Numeric leaves of the result with dotted keys; `{value, unit}` objects become one leaf. */
function flatten(v: unknown, prefix = '', out = new Map<string, { value: number; unit?: Unit }>()): Map<string, { value: number; unit?: Unit }> {
  if (typeof v === 'number') {
    const u = unitOf(prefix);
    out.set(prefix, u ? { value: v, unit: u } : { value: v });
  } else if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const name = typeof item === 'object' && item && 'name' in item ? String((item as { name: unknown }).name) : String(i);
      flatten(item, prefix ? `${prefix}.${name}` : name, out);
    });
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (typeof o.value === 'number' && typeof o.unit === 'string') {
      const u = unitOf(`_${o.unit}`) ?? unitOf(prefix);
      out.set(prefix, u ? { value: o.value, unit: u } : { value: o.value });
      return out;
    }
    for (const [k, child] of Object.entries(o)) flatten(child, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

export function matchTargets(result: unknown): { target: Target; key?: string; value?: number }[] {
  const leaves = flatten(result);
  const used = new Set<string>();
  return TREE_TARGETS.map((target) => {
    let key: string | undefined = target.preferred.find((k) => leaves.has(k));
    key ??= [...leaves.keys()].find(
      (k) => !used.has(k) && !IGNORED.test(k) && target.match.test(k) && convert(1, leaves.get(k)?.unit, target.unit) !== undefined,
    );
    if (key === undefined) return { target };
    used.add(key);
    const leaf = leaves.get(key)!;
    const value = convert(leaf.value, leaf.unit, target.unit);
    return value === undefined ? { target, key } : { target, key, value };
  });
}

function fmtUnit(n: number, unit: Unit): string {
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : n >= 1 ? 2 : 3;
  return `${fmtNum(n, digits)} ${unit === 'us' ? 'µs' : unit}`;
}

export const suite: BenchSuite = {
  name: 'tree',
  description: 'DM tree: 1M-node build < 2 s, leaf Get+ACL < 2 µs, ?list=Struct 10k < 10 ms, < 300 B/node (main/tree/bench.ts)',
  default: true,
  async run(ctx: BenchContext): Promise<Verdict[]> {
    const { log } = ctx;
    log('tree: main/tree/bench.ts benchTree() against the targets');
    const modulePath = join(REPO_ROOT, 'main', 'tree', 'bench.ts');
    if (!existsSync(modulePath)) {
      log('  the tree suite is not available yet (main/tree/bench.ts does not exist)');
      log();
      return TREE_TARGETS.map((t) => ({ target: `tree ${t.label}`, pass: undefined, detail: 'not available yet' }));
    }
    let result: unknown;
    try {
      const mod = (await import(pathToFileURL(modulePath).href)) as { benchTree?: (...a: unknown[]) => unknown };
      if (typeof mod.benchTree !== 'function') throw new Error('main/tree/bench.ts does not export benchTree()');
      result = await mod.benchTree();
    } catch (e) {
      log(`  tree benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
      log();
      return TREE_TARGETS.map((t) => ({ target: `tree ${t.label}`, pass: false, detail: 'benchTree() failed' }));
    }

    const rows: string[][] = [['', 'measured', 'target', '', 'from']];
    const verdicts: Verdict[] = [];
    for (const m of matchTargets(result)) {
      const pass = m.value === undefined ? undefined : m.value < m.target.limit;
      rows.push([
        m.target.label,
        m.value === undefined ? 'not reported' : fmtUnit(m.value, m.target.unit),
        `< ${fmtUnit(m.target.limit, m.target.unit)}`,
        verdictWord(pass),
        m.key ?? '',
      ]);
      verdicts.push({ target: `tree ${m.target.label} < ${fmtUnit(m.target.limit, m.target.unit)}`, pass, detail: m.value === undefined ? 'not reported' : fmtUnit(m.value, m.target.unit) });
    }
    for (const line of table(rows, 'lrrll')) log(line);
    if (typeof result === 'object' && result !== null && (result as { gcExposed?: unknown }).gcExposed === false) {
      log('  note: benchTree() ran without --expose-gc, so its bytes per node is not meaningful');
    }
    log(`  benchTree() returned: ${JSON.stringify(result)}`);
    log();
    return verdicts;
  },
};
