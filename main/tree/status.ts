/**
 * DM status codes the tree answers with, and the result type every tree operation returns.
 *
 * A tree operation never throws for a protocol reason: a refused or impossible command is a value
 * carrying the status code the command processor puts in its <Status>, plus a one-line reason for
 * the session log. Exceptions out of this module are programming errors only.
 */

export const DmStatus = {
  OK: 200,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  COMMAND_NOT_ALLOWED: 405,
  OPTIONAL_FEATURE_NOT_SUPPORTED: 406,
  REQUEST_ENTITY_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ALREADY_EXISTS: 418,
  PERMISSION_DENIED: 425,
  COMMAND_FAILED: 500,
} as const;

export type DmStatusCode = (typeof DmStatus)[keyof typeof DmStatus];
export type DmErrorStatus = Exclude<DmStatusCode, 200>;

export interface TreeFailure {
  ok: false;
  status: DmErrorStatus;
  /** One line: what was refused and why, naming the URI (and segment / ACL / node that decided). */
  message: string;
  /** The URI the failure is about (the target, or the implicit parent that could not be created). */
  uri?: string;
}

export interface TreeSuccess<T> {
  ok: true;
  status: 200;
  value: T;
}

export type TreeResult<T> = TreeSuccess<T> | TreeFailure;

export function success<T>(value: T): TreeSuccess<T> {
  return { ok: true, status: 200, value };
}

export function failure(status: DmErrorStatus, message: string, uri?: string): TreeFailure {
  return uri === undefined ? { ok: false, status, message } : { ok: false, status, message, uri };
}
