/**
 * What a device id may be wherever one is given to us by hand or by a script (the management API's
 * bodies, queries and paths): printable text of bounded length. A NUL, a CR/LF, a right-to-left
 * override (U+202E) or a zero-width character in an id would make two ids look the same, break a
 * log line, or show the engineer a different id than the one stored.
 */

/**
 * Longest device id, in every place one is taken: the API (PUT /devices, POST /jobs, queries,
 * delegations), the UI contract, and the DM server's default for a SyncHdr Source (config.ts
 * maxDevIdLength), so that no job can be queued for an id no device may connect with.
 */
export const MAX_DEVICE_ID_LENGTH = 256;

/**
 * Characters no id or URI we show may hold: controls (Cc), format characters such as bidi overrides
 * and zero-width joiners (Cf), line and paragraph separators (Zl, Zp), and lone surrogates (Cs).
 */
export const INVISIBLE_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/** `character 5 is U+202E` for the first invisible character of `text`, or undefined. Positions count from 1. */
export function invisibleCharacter(text: string): { position: number; codePoint: string } | undefined {
  const m = INVISIBLE_CHARACTER.exec(text);
  if (!m) return undefined;
  return { position: m.index + 1, codePoint: `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` };
}

/** `text` quoted for an error message, invisible characters written as \u escapes (never echoed as they are). */
export function quoted(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max - 3)}...` : text;
  return JSON.stringify(cut).replace(new RegExp(INVISIBLE_CHARACTER.source, 'gu'), (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

/** Why `id` is not a usable device id, or undefined when it is. */
export function deviceIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_DEVICE_ID_LENGTH) return `is ${id.length} characters long, over the limit of ${MAX_DEVICE_ID_LENGTH}`;
  const bad = invisibleCharacter(id);
  if (bad) return `character ${bad.position} is ${bad.codePoint}, a control, format or invisible character (a device id is printable text)`;
  return undefined;
}
