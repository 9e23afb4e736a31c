/**
 * API errors are values with an HTTP status, a stable code, a one-line message and the request field
 * they are about, so a script (or `dmw job --server`) can say exactly what to fix.
 */
import type { z } from 'zod';

export type ApiErrorCode =
  | 'unauthorized' | 'forbidden' | 'not-found' | 'method-not-allowed' | 'bad-json' | 'invalid'
  | 'unsupported-media-type' | 'too-large' | 'unknown-device' | 'unknown-job' | 'unknown-peer' | 'unknown-delegation'
  | 'conflict' | 'peer-failed' | 'internal' | 'unavailable';

export interface ApiErrorBody {
  error: { status: number; code: ApiErrorCode; message: string; field?: string; details?: { field: string; message: string }[] };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: { field: string; message: string }[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): ApiErrorBody {
    return {
      error: {
        status: this.status, code: this.code, message: this.message,
        ...(this.field !== undefined ? { field: this.field } : {}),
        ...(this.details && this.details.length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

/** `a.b.0.c` for a zod issue path; `fallback` for the whole body or query. */
export function fieldPath(path: readonly PropertyKey[], fallback: string): string {
  return path.length > 0 ? path.map(String).join('.') : fallback;
}

/** The first issue names the field; every issue is in `details`. An unknown key is its own field. */
export function invalid(err: z.ZodError, fallback: 'body' | 'query'): ApiError {
  const details = err.issues.map(specific).map((i) => {
    if (i.code === 'unrecognized_keys') {
      const at = i.path.length > 0 ? `${fieldPath(i.path, fallback)}.` : '';
      return { field: `${at}${i.keys[0] ?? ''}`, message: `unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` };
    }
    return { field: fieldPath(i.path, fallback), message: i.message };
  });
  const first = details[0] ?? { field: fallback, message: 'invalid' };
  return new ApiError(400, 'invalid', `${first.field}: ${first.message}`, first.field, details);
}

/**
 * A union (a job spec's kinds) that fails says only "invalid input" at its own path; the branch
 * that got furthest (the deepest first issue) says what is really wrong, and where.
 */
function specific(i: z.core.$ZodIssue): z.core.$ZodIssue {
  if (i.code !== 'invalid_union' || i.errors.length === 0) return i;
  let best: z.core.$ZodIssue | undefined;
  for (const branch of i.errors) {
    const first = branch[0];
    if (first && (!best || first.path.length > best.path.length)) best = first;
  }
  if (!best || best.path.length === 0) return i;
  const inner = specific(best);
  return { ...inner, path: [...i.path, ...inner.path] } as z.core.$ZodIssue;
}
