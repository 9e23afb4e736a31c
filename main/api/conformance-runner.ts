/**
 * The product's conformance runner behind the Conformance view's seam (conformance-view.ts):
 * main/judge/conformance/run.ts and its plans, loaded on first use (the plans are big, and most
 * sessions of the app never run one).
 */
import type { ConformanceRunner } from './conformance-view.js';

export async function defaultConformanceRunner(): Promise<ConformanceRunner> {
  const [{ runConformance }, { PLAN_NAMES, planInfo }] = await Promise.all([import('../judge/conformance/run.js'), import('../judge/conformance/plans.js')]);
  return {
    plans: () => PLAN_NAMES.flatMap((n) => planInfo(n) ?? []),
    run: ({ server, device, plan, cases, trigger, onProgress }) => runConformance({ server, device, plan, ...(cases ? { cases } : {}), ...(trigger ? { trigger } : {}), onProgress }),
  };
}

