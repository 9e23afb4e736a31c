/**
 * What a finished Add, Replace or Delete tells the server's copy of a device's tree: the device said 2xx to
 * "this node, with this value", so the node exists with it. Without this the Tree view showed a
 * successful Add only after the next "Discover subtree" (issue 18 point 6, "Also"). The copy is a
 * cache of what the server knows; a later Get or Discover replaces these entries with what was read.
 */
import type { JobRecord, SimpleJobSpec, TreeEntry } from '../server/types.js';

type Written = Omit<TreeEntry, 'fetchedAt'>;

function written(spec: SimpleJobSpec): Written | null {
  if (spec.kind !== 'add' && spec.kind !== 'replace') return null;
  // Properties (?prop=ACL, ...) and lists are not nodes of the copy.
  if (spec.uri.includes('?')) return null;
  const format = spec.format ?? (spec.kind === 'add' && spec.value === undefined ? 'node' : 'chr');
  const entry: Written = { uri: spec.uri, format, type: spec.type ?? null, data: format === 'node' ? null : spec.value ?? '' };
  if (spec.binary && format !== 'node') entry.encoding = 'b64';
  return entry;
}

/**
 * The tree entries a job that is done has written: its own node for an Add or Replace answered 2xx;
 * for an Atomic (all or nothing) every member once it succeeded; for a Sequence the members whose
 * own status was 2xx. Nothing for other kinds or a failure.
 */
export function writtenEntries(job: Pick<JobRecord, 'status' | 'statusCode' | 'members'> & { spec: unknown }): Written[] {
  if (job.status !== 'done') return [];
  const ok = (code: number | null | undefined) => code !== null && code !== undefined && code >= 200 && code < 300;
  const spec = job.spec as { kind: string; commands?: SimpleJobSpec[] };
  if (spec.kind === 'atomic' || spec.kind === 'sequence') {
    const out: Written[] = [];
    for (const c of spec.commands ?? []) {
      const member = 'uri' in c ? job.members.find((m) => m.uri === c.uri && m.cmd.toLowerCase() === c.kind) : undefined;
      if (spec.kind === 'sequence' ? !ok(member?.statusCode) : !ok(job.statusCode)) continue;
      const w = written(c);
      if (w) out.push(w);
    }
    return out;
  }
  if (!ok(job.statusCode)) return [];
  const w = written(spec as SimpleJobSpec);
  return w ? [w] : [];
}

/**
 * The nodes a job that is done has deleted (each with its subtree): a Delete answered 2xx, or the
 * Delete members of an Atomic that succeeded or of a Sequence whose own status was 2xx. Without
 * this the Tree view kept showing a deleted node until the next Discover.
 */
export function deletedUris(job: Pick<JobRecord, 'status' | 'statusCode' | 'members'> & { spec: unknown }): string[] {
  if (job.status !== 'done') return [];
  const ok = (code: number | null | undefined) => code !== null && code !== undefined && code >= 200 && code < 300;
  const spec = job.spec as { kind: string; uri?: string; commands?: SimpleJobSpec[] };
  const plain = (c: { kind: string; uri?: string }) => (c.kind === 'delete' && c.uri !== undefined && !c.uri.includes('?') ? c.uri : null);
  if (spec.kind === 'atomic' || spec.kind === 'sequence') {
    const out: string[] = [];
    for (const c of spec.commands ?? []) {
      const uri = plain(c);
      if (uri === null) continue;
      const member = job.members.find((m) => m.uri === uri && m.cmd.toLowerCase() === 'delete');
      if (spec.kind === 'sequence' ? ok(member?.statusCode) : ok(job.statusCode)) out.push(uri);
    }
    return out;
  }
  const uri = ok(job.statusCode) ? plain(spec) : null;
  return uri === null ? [] : [uri];
}
