import type { ErrorCode } from './error-codes.js';

/**
 * The close codes the server ends a WebSocket with (every endpoint: /v1/stream, /v1/ingest,
 * /v1/signal), shared by the server and the client package. A refusal is not answered at the HTTP
 * upgrade, where a browser would see only 1006: the upgrade is accepted, an `{type: 'error', code,
 * message}` message is sent, and the socket is closed with the code below and the message as reason.
 * 4401, 4403 and 4429 carry the HTTP status of the same refusal over REST; 4008 is a dropped slow subscriber.
 */
export const WS_CLOSE = {
  normal: 1000,
  /** The server is shutting down: reconnect (to another node, or this one when it is back). */
  goingAway: 1001,
  /** No token, or an invalid or expired one: retrying with the same token cannot succeed. */
  unauthenticated: 4401,
  /** The token's scopes do not cover this endpoint: retrying cannot succeed. */
  forbidden: 4403,
  /** A subscriber too slow to keep up was dropped: reconnecting (and resuming) may succeed. */
  slowConsumer: 4008,
  /** A connection limit (per address, per token, per node): retry later, with backoff. */
  limit: 4429,
} as const;

export type WsCloseCode = (typeof WS_CLOSE)[keyof typeof WS_CLOSE];

/** The close code a refusal with this error code ends the socket with. */
export function closeCodeOf(code: ErrorCode): WsCloseCode {
  switch (code) {
    case 'ERI_ERR_UNAUTHENTICATED':
      return WS_CLOSE.unauthenticated;
    case 'ERI_ERR_FORBIDDEN':
      return WS_CLOSE.forbidden;
    case 'ERI_ERR_LIMIT':
      return WS_CLOSE.limit;
    case 'ERI_ERR_SLOW_CONSUMER':
      return WS_CLOSE.slowConsumer;
    default:
      return WS_CLOSE.goingAway;
  }
}

/** Close codes after which reconnecting cannot help: a client stops and surfaces the error. */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([WS_CLOSE.unauthenticated, WS_CLOSE.forbidden]);

/** A WebSocket close reason is at most 123 bytes of UTF-8: the message, cut on a character boundary. */
export function closeReason(message: string): string {
  const bytes = new TextEncoder().encode(message);
  if (bytes.length <= 123) return message;
  let cut = 120;
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return `${new TextDecoder().decode(bytes.subarray(0, cut))}...`;
}

/** The refusal a close code and reason stand for (4401, 4403, 4429, 4008), or undefined for any other close. */
export function refusalOf(
  closeCode: number,
  reason: string,
): { code: ErrorCode; message: string } | undefined {
  const code: ErrorCode | undefined =
    closeCode === WS_CLOSE.unauthenticated
      ? 'ERI_ERR_UNAUTHENTICATED'
      : closeCode === WS_CLOSE.forbidden
        ? 'ERI_ERR_FORBIDDEN'
        : closeCode === WS_CLOSE.limit
          ? 'ERI_ERR_LIMIT'
          : closeCode === WS_CLOSE.slowConsumer
            ? 'ERI_ERR_SLOW_CONSUMER'
            : undefined;
  return code ? { code, message: reason || code } : undefined;
}
