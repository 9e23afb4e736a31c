/**
 * A rule's check: reads the whole session model and reports each place that breaks the rule.
 * The runner (checker.ts) adds the rule id, severity and clause from the catalogue, so a check
 * only says where and what.
 */
import type { MsgView, SessionModel } from '../session-model.js';
import type { JudgeOptions } from '../types.js';

export type Report = (msg: MsgView, path: string, text: string) => void;
export type Check = (s: SessionModel, report: Report, options: JudgeOptions) => void;
export type Checks = Readonly<Record<string, Check>>;

export const HDR = 'SyncML/SyncHdr';
export const BODY = 'SyncML/SyncBody';

/** Messages that decoded, with their typed form. */
export function* decoded(s: SessionModel): Generator<MsgView & { message: NonNullable<MsgView['message']> }> {
  for (const m of s.msgs) if (m.message) yield m as MsgView & { message: NonNullable<MsgView['message']> };
}

export function isDecimal(v: string | undefined): boolean {
  return v !== undefined && /^\d+$/.test(v.trim());
}

/** A positive decimal number, or undefined when the text is not one. */
export function positive(v: string | undefined): number | undefined {
  if (!isDecimal(v)) return undefined;
  const n = Number(v!.trim());
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}
