/**
 * Decoder limits. Every one is named and configurable (ARCHITECTURE: conventions) because a handset
 * or a fuzzer controls the input: these bound memory and time, not what a valid DM message needs.
 */
export interface WbxmlLimits {
  /** Deepest element nesting, the root counting as 1. A DM message with a deep TNDS tree needs ~40. */
  maxDepth: number;
  /** Largest input accepted at all. */
  maxBytes: number;
  /** Most elements in one document (each costs a JS object; bounds memory for hostile input). */
  maxElements: number;
  /**
   * Most characters of text one document may take from its string table, every STR_T reference and
   * LITERAL name counted (a table string referenced N times is N times the text for whoever reads
   * the document). Without it a 1 MB input whose STR_Ts each point one byte further into a 1 MB
   * table string made the decoder build gigabytes of strings and scan the table again for each.
   */
  maxTableTextChars: number;
}

export const DEFAULT_WBXML_LIMITS: Readonly<WbxmlLimits> = Object.freeze({
  maxDepth: 64,
  maxBytes: 16 * 1024 * 1024,
  maxElements: 500_000,
  // As much text as the largest input may hold, and no more.
  maxTableTextChars: 16 * 1024 * 1024,
});

export function resolveLimits(limits?: Partial<WbxmlLimits>): WbxmlLimits {
  if (!limits) return DEFAULT_WBXML_LIMITS;
  return {
    maxDepth: limits.maxDepth ?? DEFAULT_WBXML_LIMITS.maxDepth,
    maxBytes: limits.maxBytes ?? DEFAULT_WBXML_LIMITS.maxBytes,
    maxElements: limits.maxElements ?? DEFAULT_WBXML_LIMITS.maxElements,
    maxTableTextChars: limits.maxTableTextChars ?? DEFAULT_WBXML_LIMITS.maxTableTextChars,
  };
}
