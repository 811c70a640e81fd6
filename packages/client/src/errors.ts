import type { ErrorCode } from '../../../src/contracts/error-codes.js';

/**
 * Every failure the client surfaces: `code` is one of the server's error codes (docs/errors.md), so an
 * application branches on it, never on the message. `closeCode` is the WebSocket close code when the
 * failure was a close (4401: the token was refused, 4403: its scopes do not cover the endpoint).
 */
export class EriClientError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;
  /** With ERI_ERR_HISTORY_GONE: the oldest sequence number the server still keeps. */
  readonly firstAvailableSeq: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { closeCode?: number; firstAvailableSeq?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'EriClientError';
    this.code = code;
    this.closeCode = details.closeCode;
    this.firstAvailableSeq = details.firstAvailableSeq;
  }
}

export function isEriClientError(value: unknown): value is EriClientError {
  return value instanceof EriClientError;
}
