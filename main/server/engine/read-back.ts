/**
 * Verifying a job whose earlier sending was never confirmed (the server crashed, the connection
 * was cut, the session timed out before its Status came): rather than apply an Add, Replace or
 * Delete a second time, the server reads the node back first and decides by what it finds.
 *   Replace: the node holds the value -> done, not sent again; otherwise the Replace goes out.
 *   Add:     the node exists with the value (or, for an interior node, at all) -> done; it exists
 *            with another value -> failed (a second Add would only be refused with 418); it is
 *            missing (404) -> the Add goes out.
 *   Delete:  the node is missing (404) -> done; it is there -> the Delete goes out.
 * A read-back the device refuses (no Get rights, 401, ...) decides nothing: the job fails saying so
 * and is not sent again. Exec and the others cannot be verified by reading (the store refuses to
 * queue them so); a verify flag on them is ignored here and the job goes out as it is.
 */
import { getCommand, specCommand } from '../jobs.js';
import type { JobResult, SimpleJobSpec } from '../types.js';
import { finish } from './job-progress.js';
import type { Turn } from './turn.js';
import type { JobProgress, OutItem } from './types.js';

type Verifiable = Extract<SimpleJobSpec, { kind: 'add' | 'replace' | 'delete' }>;

function verifiable(spec: JobProgress['spec']): spec is Verifiable {
  return spec.kind === 'add' || spec.kind === 'replace' || spec.kind === 'delete';
}

/** The Get that reads the job's node back, or undefined when the job cannot be verified so. */
export function readBackCommand(t: Turn, job: JobProgress): OutItem | undefined {
  if (!verifiable(job.spec)) {
    t.fx.notes.push(`job ${job.id}: a ${job.spec.kind} cannot be verified by reading its node back; sent as it is`);
    return undefined;
  }
  job.readBack = { pending: true };
  return { jobId: job.id, command: getCommand(job.spec.uri), readBack: true };
}

/** Called once the read-back Get is answered (its Status, and its Results on 200). */
export function decideAfterReadBack(t: Turn, job: JobProgress): void {
  const spec = job.spec as Verifiable;
  const rb = job.readBack!;
  rb.pending = false;
  const rec = job.keys.map((k) => t.s.sent[k]!).find((r) => r.readBack && !r.superseded);
  const code = rec?.status ?? null;
  const found = code === 200 ? rb.value : undefined;
  const what = `job ${job.id} (${spec.kind} ${spec.uri}), verified by reading the node back`;
  const settled = (why: string) => {
    t.fx.notes.push(`${what}: ${why}; not sent again`);
    finish(t, job, 'done', 200, null);
  };
  const send = (why: string) => {
    t.fx.notes.push(`${what}: ${why}; sending the ${spec.kind} now`);
    t.s.outbox.push({ jobId: job.id, command: specCommand(spec) });
  };
  switch (spec.kind) {
    case 'delete':
      if (code === 404) return settled('the node is gone, so the Delete was applied');
      if (code === 200) return send('the node is still there');
      break;
    case 'replace':
      if (code === 200 && found && sameValue(spec, found)) return settled('the node holds the value, so the Replace was applied');
      if (code === 200 || code === 404) return send(code === 404 ? 'the node is missing' : 'the node holds another value');
      break;
    case 'add':
      if (code === 404) return send('the node is missing');
      if (code === 200 && (isInterior(spec) || (found && sameValue(spec, found)))) return settled('the node exists with the value, so the Add was applied');
      if (code === 200) {
        t.fx.notes.push(`${what}: the node exists with another value; not sent again`);
        finish(t, job, 'failed', 418, `the node exists with another value than the Add's (read back: ${preview(found)}); a second Add would be refused (418)`);
        return;
      }
      break;
  }
  t.fx.notes.push(`${what}: the read-back was answered ${code ?? 'nothing'}; not sent again`);
  finish(t, job, 'failed', code, `could not verify: the read-back Get of ${spec.uri} was answered ${code ?? 'nothing'}; queue the job again to re-send it`);
}

function isInterior(spec: Verifiable): boolean {
  return spec.kind === 'add' && spec.value === undefined && (spec.format === undefined || spec.format === 'node');
}

/** The node's value equals the job's, compared as bytes (text, or base64 of binary, either side). */
function sameValue(spec: Verifiable, found: JobResult): boolean {
  if (spec.kind === 'delete' || found.data === null) return false;
  const want = spec.binary ? Buffer.from(spec.value ?? '', 'base64') : Buffer.from(spec.value ?? '', 'utf8');
  const got = found.encoding === 'b64' ? Buffer.from(found.data, 'base64') : Buffer.from(found.data, 'utf8');
  return want.equals(got);
}

function preview(found: JobResult | undefined): string {
  if (!found || found.data === null) return 'no value';
  const d = found.data.length > 40 ? `${found.data.slice(0, 39)}…` : found.data;
  return JSON.stringify(d);
}
