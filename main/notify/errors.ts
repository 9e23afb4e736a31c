/**
 * Errors of the DM-1 / DM-4 encodings. Decoders return values (a captured PDU from a handset is data,
 * never a reason to crash); builders throw InvalidInput for arguments a person typed wrong.
 */

export type NotifyErrorCode =
  | 'truncated' // input ended inside a field
  | 'bad-hex' // PDU text that is not hexadecimal
  | 'bad-value' // a field whose value is not allowed
  | 'unsupported' // valid, but not something we decode
  | 'trailing-data'; // bytes after the end

export interface NotifyError {
  code: NotifyErrorCode;
  message: string;
  /** Byte offset into the decoded input. */
  offset?: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: NotifyError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: NotifyErrorCode, message: string, offset?: number): Result<never> => ({
  ok: false,
  error: offset === undefined ? { code, message } : { code, message, offset },
});

export function describeNotifyError(e: NotifyError): string {
  return e.offset === undefined ? e.message : `${e.message} at byte ${e.offset}`;
}

/** Thrown inside a decoder and caught at its entry point, never escaping it. */
export class DecodeFailure extends Error {
  constructor(readonly error: NotifyError) {
    super(describeNotifyError(error));
  }
}

/** An argument (IMSI, PIN, MSISDN, session id...) that cannot be used; `field` names it for the user. */
export class InvalidInput extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
