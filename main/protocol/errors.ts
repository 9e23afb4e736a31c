/**
 * Codec errors are values, not exceptions: every decoder returns a Result so that a
 * malformed packet from a handset becomes a status code or a log line, never a crash.
 */

export type CodecErrorCode =
  | 'truncated' // input ended inside a token, string or element
  | 'bad-header' // WBXML version / public id / charset we cannot read
  | 'bad-token' // a WBXML token that is not defined on the current code page
  | 'bad-mb-uint' // multi-byte integer longer than 32 bits
  | 'bad-string-table-ref' // STR_T / LITERAL offset outside the string table
  | 'bad-charset' // text that is not valid in the document's charset
  | 'xml-syntax' // not well-formed XML
  | 'xml-entity' // an entity reference we refuse to expand (DTD or external)
  | 'unknown-element' // an element with no meaning (or no WBXML token) in its namespace
  | 'unknown-namespace'
  | 'unexpected-content' // text where elements belong, or the other way round
  | 'missing-element' // a required child is absent
  | 'duplicate-element' // a child that may occur once occurs again
  | 'bad-value' // an element's text does not fit its type
  | 'limit-exceeded' // depth, size or count beyond the configured limit
  | 'trailing-data' // bytes after the end of the document
  | 'unsupported'; // valid, but not something this codec handles

export interface CodecError {
  code: CodecErrorCode;
  /** One line, human readable, without position (position is in the fields below). */
  message: string;
  /** Byte offset into the input (WBXML, and XML when known). */
  offset?: number;
  /** 1-based line and column for XML input. */
  line?: number;
  column?: number;
  /** Element path from the root, e.g. `SyncML/SyncBody/Add[2]/Item/Meta`. */
  path?: string;
}

export type Result<T, E = CodecError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = (error: CodecError): Result<never> => ({ ok: false, error });

/** `<reason> at byte N` / `at line L:C`, plus the element path when we have one. */
export function describeCodecError(e: CodecError): string {
  let where = '';
  if (e.line !== undefined) where = ` at line ${e.line}:${e.column ?? 0}`;
  else if (e.offset !== undefined) where = ` at byte ${e.offset}`;
  const path = e.path ? ` (in ${e.path})` : '';
  return `${e.message}${path}${where}`;
}

/** Thrown only inside a codec and caught at its entry point; never escapes the codec. */
export class CodecFailure extends Error {
  constructor(readonly error: CodecError) {
    super(describeCodecError(error));
  }
}
