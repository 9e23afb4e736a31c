/**
 * The dm12-client plan as data: enough cases, unique ids, each with its clause and group, every
 * command and area the plan must cover present, and case selection that names what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLAN, PLAN_NAMES, planCases, planInfo } from '../../main/judge/conformance/plans.js';
import { selectCases, UnknownCaseError } from '../../main/judge/conformance/run.js';
import { RULE_BY_ID } from '../../main/judge/catalogue.js';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

describe('plan dm12-client', () => {
  const plan = planInfo('dm12-client')!;

  it('has at least 60 cases with unique ids, a clause citing an OMA DM 1.2 document, a title and a group', () => {
    expect(PLAN_NAMES).toContain(DEFAULT_PLAN);
    expect(plan.cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(plan.cases.map((c) => c.id)).size).toBe(plan.cases.length);
    for (const c of plan.cases) {
      expect(c.id).toMatch(/^dm12\.[a-z0-9-]+\.[a-z0-9-]+$/);
      expect(c.clause).toMatch(/OMA-TS-DM_(Protocol|RepPro|TND|StdObj)-V1_2 §\d/);
      expect(c.title.length).toBeGreaterThan(10);
      expect(c.group.length).toBeGreaterThan(0);
    }
  });

  it('covers every command, the UI alerts, containers, large objects, MaxMsgSize, ACLs, standard MOs, packages and every auth type', () => {
    const groups = new Set(plan.cases.map((c) => c.group));
    for (const g of ['Get', 'Replace', 'Add', 'Delete', 'Copy', 'Exec', 'UI alerts', 'Alert', 'Atomic', 'Sequence', 'Large objects', 'MaxMsgSize', 'ACL', 'Standard MOs', 'Packages', 'Authentication']) {
      expect(groups, g).toContain(g);
    }
    const ids = plan.cases.map((c) => c.id);
    for (const id of ['dm12.alert.1100-display', 'dm12.alert.1101-confirm', 'dm12.alert.1102-input', 'dm12.alert.1103-single-choice', 'dm12.atomic.rollback',
      'dm12.lo.size-mismatch-424', 'dm12.lo.cut-1225', 'dm12.lo.server-chunks', 'dm12.lo.client-chunks', 'dm12.pkg.server-package-in-two-messages',
      'dm12.auth.client-basic', 'dm12.auth.client-md5', 'dm12.auth.client-hmac', 'dm12.auth.wrong-server-cred', 'dm12.auth.md5-changed-nonce', 'dm12.mo.dmacc', 'dm12.mo.uri-maxseglen']) {
      expect(ids, id).toContain(id);
    }
  });

  it('names only judge rules of the catalogue in its checks', () => {
    const dir = path.join(__dirname, '../../main/judge/conformance/cases');
    const named = readdirSync(dir).flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/'((?:status|results|lo|auth|hdr|meta|cmd|pkg1?|alert|atomic|sequence|uri)\.[a-z0-9-]+)'/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(20);
    for (const r of named) expect(RULE_BY_ID.has(r), r).toBe(true);
  });

  it('selects cases in plan order; an unknown plan or case is named', () => {
    const all = planCases('dm12-client')!;
    expect(selectCases('dm12-client', undefined)).toHaveLength(all.length);
    expect(selectCases('dm12-client', ['dm12.get.missing', 'dm12.get.leaf']).map((c) => c.id)).toEqual(['dm12.get.leaf', 'dm12.get.missing']);
    expect(() => selectCases('dm12-client', ['dm12.get.nope'])).toThrow(UnknownCaseError);
    expect(() => selectCases('dm12-client', ['dm12.get.nope'])).toThrow(/plan "dm12-client" has no case "dm12.get.nope"/);
    expect(() => selectCases('nope', undefined)).toThrow(/unknown plan "nope"/);
    expect(planInfo('nope')).toBeUndefined();
  });
});
