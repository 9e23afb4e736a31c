/**
 * The plans `dmw conformance` knows, by name. A plan is an ordered list of cases; the cases live in
 * one small module per group under cases/ (table-driven where the group allows).
 */
import type { ConformanceCase } from './dsl.js';
import type { PlanInfo } from './types.js';
import { DM12_CLIENT } from './cases/index.js';

export const DEFAULT_PLAN = 'dm12-client';

interface Plan {
  name: string;
  title: string;
  cases: readonly ConformanceCase[];
}

const PLANS: readonly Plan[] = [
  { name: 'dm12-client', title: 'OMA DM 1.2 client: commands, statuses, standard MOs, ACLs, large objects, packages, authentication', cases: DM12_CLIENT },
];

export const PLAN_NAMES: readonly string[] = PLANS.map((p) => p.name);

export function planCases(name: string): ConformanceCase[] | undefined {
  const p = PLANS.find((x) => x.name === name);
  return p ? [...p.cases] : undefined;
}

/** The plan as `dmw conformance list` shows it (no scripts). */
export function planInfo(name: string): PlanInfo | undefined {
  const p = PLANS.find((x) => x.name === name);
  return p && { name: p.name, title: p.title, cases: p.cases.map(({ id, title, clause, group }) => ({ id, title, clause, group })) };
}
