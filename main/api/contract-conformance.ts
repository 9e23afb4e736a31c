/**
 * The Conformance view's part of the contract (registered in contract.ts): list the plans, start one
 * run against a device through the app's DM server, follow it (polled: one small status per call),
 * read a case's evidence, and export the report.
 *
 *  - `conformance.plans`  -> the plans and their cases.
 *  - `conformance.run`    {device, plan, cases?} -> {runId}; one run at a time (a second is refused,
 *                         saying which run is going).
 *  - `conformance.status` -> the current or last run: state, progress, the verdicts so far, the
 *                         counts when done. Small on purpose (it is polled): no evidence.
 *  - `conformance.case`   {id} -> one case of the last run with its checks and evidence, each message
 *                         with what its diagram arrow says (MsgID, commands, Final).
 *  - `conformance.report` {format: html|junit|json} -> the finished run's report as a file.
 *
 * Browser-safe: zod and types only.
 */
import { z } from 'zod';
import type { CaseInfo, Check, PlanInfo, Verdict } from '../judge/conformance/types.js';

const devId = z.string().min(1).max(256);
const empty = z.object({}).strict();

export const VerdictSchema = z.enum(['pass', 'fail', 'inconclusive', 'not-applicable']);

export const CaseInfoSchema = z.object({ id: z.string(), title: z.string(), clause: z.string(), group: z.string() });
export const PlanInfoSchema = z.object({ name: z.string(), title: z.string(), cases: z.array(CaseInfoSchema) });

/** A finished case as the status lists it (no evidence). */
export const CaseVerdictSchema = CaseInfoSchema.extend({ verdict: VerdictSchema, detail: z.string(), durationMs: z.number() });
export type CaseVerdictView = z.infer<typeof CaseVerdictSchema>;

export const RunStateSchema = z.enum(['idle', 'running', 'done', 'failed']);
export type RunState = z.infer<typeof RunStateSchema>;

export const ConformanceStatusSchema = z.object({
  /** idle: no run since the backend started; failed: the run itself broke (error says why), not a case. */
  state: RunStateSchema,
  runId: z.number().int().nullable(),
  device: z.string().nullable(),
  plan: z.string().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  /** Cases to run. */
  total: z.number().int(),
  /** Cases finished (their verdicts are in `cases`). */
  done: z.number().int(),
  /** The case running now. */
  current: z.object({ id: z.string(), title: z.string() }).nullable(),
  /** Set while the runner waits for the device to open a session (notified: package #0 was sent). */
  waiting: z.object({ notified: z.boolean() }).nullable(),
  /** Sessions the device has opened during the run. */
  sessions: z.number().int(),
  cases: z.array(CaseVerdictSchema),
  /** The counts of the finished run. */
  summary: z.object({ passed: z.number().int(), failed: z.number().int(), inconclusive: z.number().int(), skipped: z.number().int() }).nullable(),
  error: z.string().nullable(),
});
export type ConformanceStatus = z.infer<typeof ConformanceStatusSchema>;

const CheckSchema = z.object({
  what: z.string(), expected: z.string(), actual: z.string(), ok: z.boolean(),
  msg: z.number().int().optional(), path: z.string().optional(),
  /** The judge rule the check stands for. */
  rule: z.string().optional(),
});

/** One evidence message with what its arrow in the sequence diagram says. */
export const EvidenceMessageViewSchema = z.object({
  seq: z.number().int(),
  direction: z.enum(['in', 'out']),
  at: z.number(),
  size: z.number().int(),
  xml: z.string(),
  /** Milliseconds since the session's first message. */
  offsetMs: z.number(),
  msgId: z.string().nullable(),
  /** The top-level commands in one line, e.g. `Status×2 (200, 212) · Get`. */
  commands: z.string(),
  final: z.boolean().nullable(),
});
export type EvidenceMessageView = z.infer<typeof EvidenceMessageViewSchema>;

export const CaseDetailSchema = CaseVerdictSchema.extend({
  checks: z.array(CheckSchema),
  rules: z.array(z.string()),
  notRestored: z.array(z.string()),
  sessions: z.array(z.object({ sessionId: z.number().int().nullable(), messages: z.array(EvidenceMessageViewSchema) })),
});
export type CaseDetailView = z.infer<typeof CaseDetailSchema>;

export const ReportFormatSchema = z.enum(['html', 'junit', 'json']);
export type ReportFormat = z.infer<typeof ReportFormatSchema>;

export const conformanceContract = {
  'conformance.plans': { input: empty, output: z.array(PlanInfoSchema) },
  /** Start a run through the app's DM server (which must be running); refused while another runs. */
  'conformance.run': {
    input: z.object({ device: devId, plan: z.string().min(1).max(128), cases: z.array(z.string().min(1).max(256)).min(1).max(1000).optional() }).strict(),
    output: z.object({ runId: z.number().int() }),
  },
  'conformance.status': { input: empty, output: ConformanceStatusSchema },
  /** A case of the last run, with its evidence (the run may still be going: a finished case). */
  'conformance.case': { input: z.object({ id: z.string().min(1).max(256) }).strict(), output: CaseDetailSchema },
  /** The finished run's report: `html` (self-contained), `junit` (XML for CI), `json` (the whole result, evidence included). */
  'conformance.report': { input: z.object({ format: ReportFormatSchema }).strict(), output: z.object({ fileName: z.string(), mime: z.string(), text: z.string() }) },
} as const;

// The schemas say what types.ts says (a field added there and not here fails the typecheck).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
export const CONFORMANCE_SCHEMAS_MATCH: [
  Same<z.infer<typeof CaseInfoSchema>, CaseInfo>,
  Same<z.infer<typeof PlanInfoSchema>, PlanInfo>,
  Same<z.infer<typeof VerdictSchema>, Verdict>,
  Same<z.infer<typeof CheckSchema>, Check>,
] = [true, true, true, true];
