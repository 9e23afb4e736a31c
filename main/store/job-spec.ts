/**
 * What a job specification may be: untrusted JSON (the API, the CLI, a peer) checked into a clean
 * JobSpec, naming the field and the position of what is wrong. The boundaries call it, and both
 * stores call it again in addJob, so nothing that skipped a boundary is ever queued. Pure.
 */
import { parseUri } from '../tree/uri.js';
import { invisibleCharacter, quoted } from '../protocol/device-id.js';
import { JOB_KINDS, UI_ALERT_CODES, type JobSpec, type SimpleJobSpec, type UiAlertKind } from './types.js';

const UI_KINDS = Object.keys(UI_ALERT_CODES);

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(o: Record<string, unknown>, k: string, required: boolean): string | undefined {
  const v = o[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new Error(`"${k}" must be a string`);
  return v;
}

/** Longest URI a job may name (the tree's own limits are the device's business: MaxTotLen). */
export const MAX_JOB_URI_LENGTH = 4096;

// A scheme (`http:`, `urn:`): RFC 3986 4.2 reads a first segment with a colon as one, so a relative
// DM URI cannot start so either; `./IMEI:1` is a node name.
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Why `u` is not a URI a job may send, naming the position (from 1), or undefined. The DM URI rules
 * (OMA DM 1.2 TND: `/`-separated node names under `.`, no empty, `.` or `..` segment after the
 * leading `.`, well-formed escapes, `?prop=` / `?list=` queries) are main/tree/uri.ts's parseUri;
 * on top: bounded length, no invisible characters at all, no scheme, and no query where the job
 * adds its own (discover, read-acl).
 */
export function jobUriProblem(u: string, queryAllowed = true): string | undefined {
  if (u.length === 0) return 'it is empty';
  if (u.length > MAX_JOB_URI_LENGTH) return `${u.length} characters long, over the limit of ${MAX_JOB_URI_LENGTH}`;
  const shown = quoted(u);
  const bad = invisibleCharacter(u);
  if (bad) return `${shown}: character ${bad.position} is ${bad.codePoint}, a control or invisible character`;
  const scheme = SCHEME.exec(u);
  if (scheme) return `${shown}: a DM URI is a node path such as ./DevInfo/Mod, not a URI with a scheme ("${scheme[0]}" at character 1)`;
  const r = parseUri(u);
  if (!r.ok) {
    const e = r.error;
    const why = e.message.slice(e.message.indexOf(': ') + 2);
    if (e.segmentIndex === undefined) return `${shown}: ${why}`;
    // Where the segment starts in the text as given.
    let at = u.startsWith('./') ? 2 : 0;
    const path = u.split('?')[0]!.slice(at).split('/');
    for (let i = 0; i < e.segmentIndex; i++) at += path[i]!.length + 1;
    return `${shown}: ${why} (segment ${e.segmentIndex + 1}, at character ${at + 1})`;
  }
  if (!queryAllowed && r.value.query) return `${shown}: takes no query (character ${u.indexOf('?') + 1}); the job adds its own`;
  return undefined;
}

/** A job spec that cannot be sent: `field` is where in the spec (`uri`, `commands.1.source`), `reason` what is wrong. */
export class JobSpecError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`"${field}" ${reason}`);
  }
}

function uri(o: Record<string, unknown>, field = 'uri', queryAllowed = true): string {
  const u = str(o, field, true)!;
  const why = jobUriProblem(u, queryAllowed);
  if (why) throw new JobSpecError(field, `is not a DM URI: ${why}`);
  return u;
}

/** Checks untrusted input (JSON from the API, the CLI) and returns a clean spec; throws with the reason. */
export function parseJobSpec(x: unknown, nested = false): JobSpec {
  if (!isObj(x)) throw new Error('job spec must be an object');
  const kind = x.kind;
  if (typeof kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown job kind ${JSON.stringify(kind)}`);
  switch (kind) {
    case 'get':
    case 'delete':
      return { kind, uri: uri(x) };
    case 'discover':
    case 'read-acl':
      if (nested) throw new Error(`${kind} cannot be inside Atomic or Sequence`);
      return { kind, uri: uri(x, 'uri', false) };
    case 'replace':
    case 'add': {
      const s: SimpleJobSpec = { kind, uri: uri(x) };
      const value = str(x, 'value', false);
      const format = str(x, 'format', false);
      const type = str(x, 'type', false);
      if (value !== undefined) s.value = value;
      if (format !== undefined) s.format = format;
      if (type !== undefined) s.type = type;
      if (x.binary === true) s.binary = true;
      return s;
    }
    case 'exec': {
      const s: SimpleJobSpec = { kind, uri: uri(x) };
      for (const k of ['data', 'correlator', 'format', 'type'] as const) {
        const v = str(x, k, false);
        if (v !== undefined) s[k] = v;
      }
      return s;
    }
    case 'copy':
      return { kind, uri: uri(x), source: uri(x, 'source') };
    case 'alert': {
      const alert = str(x, 'alert', true)!;
      if (!UI_KINDS.includes(alert)) throw new Error(`alert must be one of ${UI_KINDS.join(', ')}`);
      const s: SimpleJobSpec = { kind, alert: alert as UiAlertKind, text: str(x, 'text', true)! };
      if (x.choices !== undefined) {
        if (!Array.isArray(x.choices) || !x.choices.every((c) => typeof c === 'string')) throw new Error('"choices" must be strings');
        s.choices = x.choices as string[];
      }
      if (x.options !== undefined) {
        if (!isObj(x.options)) throw new Error('"options" must be an object');
        s.options = Object.fromEntries(Object.entries(x.options).map(([k, v]) => [k, typeof v === 'number' ? v : String(v)]));
      }
      return s;
    }
    case 'atomic':
    case 'sequence': {
      if (nested) throw new Error(`${kind} cannot be nested`);
      if (!Array.isArray(x.commands) || x.commands.length === 0) throw new Error('"commands" must be a non-empty list');
      const commands = x.commands.map((c, i) => {
        try {
          return parseJobSpec(c, true) as SimpleJobSpec;
        } catch (e) {
          if (e instanceof JobSpecError) throw new JobSpecError(`commands.${i}.${e.field}`, e.reason);
          throw e;
        }
      });
      if (kind === 'atomic' && commands.some((c) => c.kind === 'alert')) throw new Error('an Atomic cannot hold UI alerts');
      return { kind, commands };
    }
  }
  throw new Error(`unknown job kind ${kind}`);
}
