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
}

export const DEFAULT_WBXML_LIMITS: Readonly<WbxmlLimits> = Object.freeze({
  maxDepth: 64,
  maxBytes: 16 * 1024 * 1024,
  maxElements: 500_000,
});

export function resolveLimits(limits?: Partial<WbxmlLimits>): WbxmlLimits {
  if (!limits) return DEFAULT_WBXML_LIMITS;
  return {
    maxDepth: limits.maxDepth ?? DEFAULT_WBXML_LIMITS.maxDepth,
    maxBytes: limits.maxBytes ?? DEFAULT_WBXML_LIMITS.maxBytes,
    maxElements: limits.maxElements ?? DEFAULT_WBXML_LIMITS.maxElements,
  };
}
