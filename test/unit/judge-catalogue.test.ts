/**
 * The rule catalogue drives these tests: every rule fires on its bad example and stays silent on
 * its good one, so a rule without examples, or whose examples stop showing it, fails here.
 */
import { describe, expect, it } from 'vitest';
import { RULES } from '../../main/judge/catalogue.js';
import { checkSession } from '../../main/judge/checker.js';
import { exampleInput } from '../../main/judge/example-kit.js';
import { CHECKS } from '../../main/judge/rules/index.js';

describe('rule catalogue', () => {
  it('lists at least 40 rules, each with a unique id, a severity, an OMA clause, a line of text and both examples', () => {
    expect(RULES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) {
      expect(r.id).toMatch(/^[a-z0-9]+(\.[a-z0-9-]+)+$/);
      expect(['error', 'warning', 'note']).toContain(r.severity);
      expect(r.clause).toMatch(/^OMA-TS-DM_(Protocol|RepPro|TND|StdObj)-V1_2 §\d/);
      expect(r.text.length).toBeGreaterThan(10);
      expect(r.good.length, `${r.id} good example`).toBeGreaterThan(0);
      expect(r.bad.length, `${r.id} bad example`).toBeGreaterThan(0);
    }
  });

  it('has a check for every rule and a rule for every check', () => {
    expect(Object.keys(CHECKS).sort()).toEqual(RULES.map((r) => r.id).sort());
  });

  /** Good examples that must show another rule broken to show theirs kept (an object gone wrong). */
  const INHERENT: Readonly<Record<string, readonly string[]>> = {
    'lo.424': ['lo.size-sent'],
    'lo.1225': ['lo.not-contiguous'],
    'lo.1225-unexpected': ['lo.not-contiguous'],
  };

  it('good examples break no other rule either (so they show what a right exchange looks like)', () => {
    for (const r of RULES) {
      const other = checkSession(exampleInput(r.good)).filter((f) => !(INHERENT[r.id] ?? []).includes(f.rule));
      expect(other, r.id).toEqual([]);
    }
  });

  describe.each(RULES.map((r) => [r.id, r] as const))('%s', (id, r) => {
    it('fires on its bad example', () => {
      const found = checkSession(exampleInput(r.bad)).filter((f) => f.rule === id);
      expect(found.length, JSON.stringify(checkSession(exampleInput(r.bad)), null, 1)).toBeGreaterThan(0);
      for (const f of found) expect(f).toMatchObject({ severity: r.severity, clause: r.clause });
    });
    it('stays silent on its good example', () => {
      const found = checkSession(exampleInput(r.good)).filter((f) => f.rule === id);
      expect(found).toEqual([]);
    });
  });
});
