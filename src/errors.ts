import { ERROR_CODES, type ErrorCode } from './contracts/error-codes.js';

export { ERROR_CODES, type ErrorCode, isErrorCode } from './contracts/error-codes.js';

export class EriError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EriError';
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The HTTP status a REST request that fails with `code` answers with. */
export function httpStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

export function isEriError(value: unknown): value is EriError {
  return value instanceof EriError;
}

/** A zod failure as one line a client can act on: the first issue's path and message. */
export function zodIssueText(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  return `${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
}
