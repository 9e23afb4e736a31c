/**
 * DM 2.0 JSON codec: bytes -> validated typed message, typed message -> bytes. Pure.
 *
 * A malformed package is a value (Dm20Error with a code and the JSON path of the offending value,
 * `$.CMD[2].URI`), never an exception. Rules beyond the shape of each field:
 *  - CmdIDs are unique within a server package;
 *  - END, when present, is the last command (nothing after it is ever executed);
 *  - every limit is named (Dm20CodecLimits) and checked before parsing.
 */
import type { z } from 'zod';
import { dm20Schemas, type Dm20ClientMessage, type Dm20Message, type Dm20ServerPackage } from './model.js';

export type Dm20ErrorCode =
  | 'too-large' // the body is over maxMessageBytes
  | 'bad-charset' // not UTF-8
  | 'json-syntax' // not JSON at all
  | 'invalid' // JSON, but not a DM 2.0 package of the expected kind
  | 'limit-exceeded'; // a count over its limit (commands, results)

export interface Dm20Error {
  code: Dm20ErrorCode;
  /** One line, without the path. */
  message: string;
  /** JSONPath of the value at fault (`$` for the whole document). */
  path: string;
}

export type Dm20Parsed<T> = { ok: true; value: T } | { ok: false; error: Dm20Error };

export interface Dm20CodecLimits {
  /** Largest package accepted, in bytes. */
  maxMessageBytes: number;
  /** Most commands in one server package. */
  maxCommands: number;
  /** Most results (and events) in one client package. */
  maxResults: number;
}

export const DEFAULT_DM20_CODEC_LIMITS: Readonly<Dm20CodecLimits> = Object.freeze({ maxMessageBytes: 1 << 20, maxCommands: 1000, maxResults: 10_000 });

export interface Dm20DecodeOptions {
  limits?: Partial<Dm20CodecLimits>;
  /** Reject keys this binding does not know (default). False ignores them (a peer with extensions). */
  strict?: boolean;
}

/** `$.CMD[0].URI` from zod's path. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

export function describeDm20Error(e: Dm20Error): string {
  return `${e.message} at ${e.path}`;
}

const SCHEMAS = { strict: dm20Schemas(true), lenient: dm20Schemas(false) };
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8e = new TextEncoder();

function err(code: Dm20ErrorCode, message: string, path = '$'): { ok: false; error: Dm20Error } {
  return { ok: false, error: { code, message, path } };
}

function fromZod(e: z.ZodError): { ok: false; error: Dm20Error } {
  const issue = e.issues[0]!;
  let path = [...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    path = [...path, key];
    message = `unknown field "${key}"`;
  }
  return err('invalid', message, jsonPath(path));
}

function readJson(input: Uint8Array | string, limits: Dm20CodecLimits): Dm20Parsed<unknown> {
  const size = typeof input === 'string' ? utf8e.encode(input).length : input.length;
  if (size > limits.maxMessageBytes) return err('too-large', `package of ${size} bytes is over the limit of ${limits.maxMessageBytes} bytes`);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      return err('bad-charset', 'package is not valid UTF-8');
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return err('json-syntax', `not JSON: ${(e as Error).message}`);
  }
}

function limitsOf(o: Dm20DecodeOptions): Dm20CodecLimits {
  return { ...DEFAULT_DM20_CODEC_LIMITS, ...o.limits };
}

/** Package 1 or 3, as the server reads it. */
export function decodeClientMessage(input: Uint8Array | string, opts: Dm20DecodeOptions = {}): Dm20Parsed<Dm20ClientMessage> {
  const limits = limitsOf(opts);
  const json = readJson(input, limits);
  if (!json.ok) return json;
  return checkClientMessage(json.value, opts);
}

export function checkClientMessage(value: unknown, opts: Dm20DecodeOptions = {}): Dm20Parsed<Dm20ClientMessage> {
  const limits = limitsOf(opts);
  const r = (opts.strict === false ? SCHEMAS.lenient : SCHEMAS.strict).clientMessage.safeParse(value);
  if (!r.success) return fromZod(r.error);
  const m = r.data;
  const results = m.Pkg === 3 ? m.Results : [];
  if (results.length > limits.maxResults) return err('limit-exceeded', `${results.length} results, the limit is ${limits.maxResults}`, '$.Results');
  const events = m.Events ?? [];
  if (events.length > limits.maxResults) return err('limit-exceeded', `${events.length} events, the limit is ${limits.maxResults}`, '$.Events');
  return { ok: true, value: m };
}

/** Package 2, as the client reads it. */
export function decodeServerPackage(input: Uint8Array | string, opts: Dm20DecodeOptions = {}): Dm20Parsed<Dm20ServerPackage> {
  const limits = limitsOf(opts);
  const json = readJson(input, limits);
  if (!json.ok) return json;
  return checkServerPackage(json.value, opts);
}

export function checkServerPackage(value: unknown, opts: Dm20DecodeOptions = {}): Dm20Parsed<Dm20ServerPackage> {
  const limits = limitsOf(opts);
  const r = (opts.strict === false ? SCHEMAS.lenient : SCHEMAS.strict).serverPackage.safeParse(value);
  if (!r.success) return fromZod(r.error);
  const p = r.data;
  if (p.CMD.length > limits.maxCommands) return err('limit-exceeded', `${p.CMD.length} commands, the limit is ${limits.maxCommands}`, '$.CMD');
  const seen = new Map<number, number>();
  for (const [i, c] of p.CMD.entries()) {
    const first = seen.get(c.CmdID);
    if (first !== undefined) return err('invalid', `CmdID ${c.CmdID} is used twice (first at $.CMD[${first}])`, `$.CMD[${i}].CmdID`);
    seen.set(c.CmdID, i);
    if (c.Cmd === 'END' && i !== p.CMD.length - 1) return err('invalid', 'END must be the last command of a package', `$.CMD[${i}]`);
  }
  return { ok: true, value: p };
}

/**
 * Serialises a message after checking it against the same rules a reader applies, so we never send
 * what we would refuse. Compact JSON, UTF-8.
 */
export function encodeDm20(message: Dm20Message, opts: Dm20DecodeOptions = {}): Dm20Parsed<Uint8Array> {
  const checked = message.Pkg === 2 ? checkServerPackage(message, opts) : checkClientMessage(message, opts);
  if (!checked.ok) return checked;
  const bytes = utf8e.encode(JSON.stringify(message));
  const limits = limitsOf(opts);
  if (bytes.length > limits.maxMessageBytes) return err('too-large', `package of ${bytes.length} bytes is over the limit of ${limits.maxMessageBytes} bytes`);
  return { ok: true, value: bytes };
}

/** Pretty JSON for the session log / inspector; the bytes as text when they are not JSON. */
export function prettyDm20(bytes: Uint8Array): string | null {
  try {
    return JSON.stringify(JSON.parse(utf8.decode(bytes)), null, 2);
  } catch {
    return null;
  }
}
