/**
 * Job specifications -> SyncML commands, and SyncML Results -> job results. Pure.
 */
import { itemValue, type Alert, type Command, type Container, type Exec, type Item, type ItemCommand, type Meta } from '../protocol/model.js';
import { fromBase64, toBase64 } from '../protocol/binary.js';
import { UI_ALERT_CODES, type JobResult, type JobSpec, type SimpleJobSpec, type UiAlertKind } from './types.js';

/** Commands are built without CmdID; the engine numbers them when they go into a message. */
export function specCommand(spec: JobSpec): Command {
  switch (spec.kind) {
    case 'atomic':
      return { kind: 'Atomic', cmdID: '', commands: spec.commands.map(simpleCommand) } satisfies Container;
    case 'sequence':
      return { kind: 'Sequence', cmdID: '', commands: spec.commands.map(simpleCommand) } satisfies Container;
    case 'discover':
      return getCommand(`${spec.uri}?list=Struct`);
    case 'read-acl':
      return getCommand(`${spec.uri}?prop=ACL`);
    default:
      return simpleCommand(spec);
  }
}

export function getCommand(uri: string): ItemCommand {
  return { kind: 'Get', cmdID: '', items: [{ target: { locURI: uri } }] };
}

export function simpleCommand(spec: SimpleJobSpec): Command {
  switch (spec.kind) {
    case 'get':
      return getCommand(spec.uri);
    case 'delete':
      return { kind: 'Delete', cmdID: '', items: [{ target: { locURI: spec.uri } }] };
    case 'copy':
      return { kind: 'Copy', cmdID: '', items: [{ target: { locURI: spec.uri }, source: { locURI: spec.source } }] };
    case 'replace':
    case 'add': {
      const item: Item = { target: { locURI: spec.uri } };
      const meta: Meta = {};
      const interior = spec.kind === 'add' && spec.value === undefined && (spec.format === undefined || spec.format === 'node');
      if (interior) meta.format = 'node';
      else {
        meta.format = spec.format ?? (spec.binary ? 'bin' : 'chr');
        if (spec.type) meta.type = spec.type;
        const value = spec.value ?? '';
        item.data = spec.binary ? { kind: 'binary', bytes: new Uint8Array(Buffer.from(value, 'base64')) } : { kind: 'text', text: value };
      }
      item.meta = meta;
      return { kind: spec.kind === 'add' ? 'Add' : 'Replace', cmdID: '', items: [item] };
    }
    case 'exec': {
      const item: Item = { target: { locURI: spec.uri } };
      if (spec.data !== undefined) item.data = { kind: 'text', text: spec.data };
      if (spec.format || spec.type) item.meta = { ...(spec.format ? { format: spec.format } : {}), ...(spec.type ? { type: spec.type } : {}) };
      const exec: Exec = { kind: 'Exec', cmdID: '', items: [item] };
      if (spec.correlator) exec.correlator = spec.correlator;
      return exec;
    }
    case 'alert':
      return uiAlert(spec.alert, spec.text, spec.choices ?? [], spec.options ?? {});
  }
}

/** UI alerts 1100..1104: the first item holds the `&`-joined options, then the text, then choices. */
export function uiAlert(kind: UiAlertKind, text: string, choices: string[], options: Record<string, string | number>): Alert {
  const opts = Object.entries(options).map(([k, v]) => `${k}=${v}`).join('&');
  const items: Item[] = [{ data: { kind: 'text', text: opts } }, { data: { kind: 'text', text } }];
  for (const c of choices) items.push({ data: { kind: 'text', text: c } });
  return { kind: 'Alert', cmdID: '', data: UI_ALERT_CODES[kind], items };
}

/** The node a device's item is about: its Source (Results, the device's Replace/Add), else its Target. */
export function reportedUri(item: Item | undefined): string | undefined {
  return item?.source?.locURI ?? item?.target?.locURI;
}

/** One Results item as a job result: text as is (OPAQUE text included, see itemValue), binary data as base64. */
export function itemResult(item: Item, fallbackUri: string, resultsMeta?: Meta): JobResult {
  const uri = reportedUri(item) ?? fallbackUri;
  const format = item.meta?.format ?? resultsMeta?.format ?? null;
  const type = item.meta?.type ?? resultsMeta?.type;
  const r: JobResult = { uri, format, data: null };
  if (type) r.type = type;
  const v = itemValue(item, format);
  // Binary data over XML comes as Format b64: it is the node's bin value (TND §7.7.2), the same
  // result as the same Get over WBXML gives.
  const b64 = format?.trim() === 'b64' && v?.kind === 'text' ? fromBase64(v.text) : undefined;
  if (b64 !== undefined) {
    r.format = 'bin';
    r.data = toBase64(b64);
    r.encoding = 'b64';
    return r;
  }
  if (v?.kind === 'text') r.data = v.text;
  else if (v?.kind === 'binary') {
    r.data = toBase64(v.bytes);
    r.encoding = 'b64';
  } else if (item.data?.kind === 'xml') {
    r.data = '[xml]';
  }
  return r;
}

/** The URI a spec's single command targets (for walk steps and member listings). */
export function commandUri(c: Command): string {
  if ('items' in c) {
    const i = c.items[0];
    return i?.target?.locURI ?? i?.source?.locURI ?? '';
  }
  return '';
}

// --- validation at the boundary (API, CLI, store) ---------------------------------------------

// Checking a spec is the store's too (it refuses what no boundary should have let through).
export { MAX_JOB_URI_LENGTH, JobSpecError, jobUriProblem, parseJobSpec } from '../store/job-spec.js';
