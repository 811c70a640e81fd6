import type { WebSocket } from 'ws';
import type { z } from 'zod';
import { EriError, type ErrorCode, isEriError, zodIssueText } from '../errors.js';
import { RateLimit } from './limits.js';
import { keepAlive } from './ws-heartbeat.js';

/**
 * The one WebSocket connection base under signalling, the frame ingest and the stream. It owns what
 * every endpoint must do the same way: a rate limit on messages (a burst of twice the rate), a size
 * limit, JSON parsing and zod validation, typed errors in the protocol's own envelope, a heartbeat that
 * ends half-open peers, and a close that runs once. The endpoint sees only valid messages and throws
 * EriError for everything else.
 */

export interface ChannelOptions<T> {
  /** Largest text message, in bytes. */
  maxMessageBytes: number;
  /** Messages per second (text, and whatever the endpoint counts with `countMessage`); absent: unlimited. */
  maxMessagesPerSecond?: number | undefined;
  /** Ping period: a peer that answers no ping for a whole period is terminated. */
  heartbeatMs: number;
  onBeat?: () => void;
  onDead?: () => void;
  /** What a text message must be. */
  schema: z.ZodType<T>;
  /** The error a schema failure is; default ERI_ERR_MALFORMED_MESSAGE with the first issue. */
  invalid?: (json: unknown, error: z.ZodError) => EriError;
  /** The code of a thrown error that is not an EriError (a library's complaint about a valid message). */
  faultCode?: (error: Error) => ErrorCode;
  /** The protocol's error message; `requestId` is the request's numeric `id` when it has one. */
  errorMessage: (error: EriError, requestId: number | undefined) => unknown;
  /** A valid text message; what it throws or rejects with goes back as a typed error. */
  onMessage: (message: T, requestId: number | undefined) => void | Promise<void>;
  /** Binary messages; absent: they are refused. Limits on them are the endpoint's. */
  onBinary?: (data: Buffer) => void;
  /** Every typed error sent (the server counts them by code). */
  onError?: ((error: EriError) => void) | undefined;
  /** Once, when the socket closes, errors or is terminated for silence. */
  onClose: () => void;
}

function requestIdOf(json: unknown): number | undefined {
  const id = (json as { id?: unknown } | null)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

export class WsChannel<T> {
  readonly ws: WebSocket;
  readonly #options: ChannelOptions<T>;
  readonly #rate: RateLimit | undefined;
  readonly #stopHeartbeat: () => void;
  #closed = false;

  constructor(ws: WebSocket, options: ChannelOptions<T>) {
    this.ws = ws;
    this.#options = options;
    const rate = options.maxMessagesPerSecond;
    this.#rate = rate ? new RateLimit(rate, 2 * rate) : undefined;
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('close', () => this.#close());
    ws.on('error', () => this.#close());
    this.#stopHeartbeat = keepAlive(ws, options.heartbeatMs, {
      ...(options.onDead ? { onDead: options.onDead } : {}),
      ...(options.onBeat ? { onBeat: options.onBeat } : {}),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get open(): boolean {
    return !this.#closed && this.ws.readyState === this.ws.OPEN;
  }

  /** Sends a message (an object, or text already serialised) while the socket is open. */
  send(message: object | string | Buffer): void {
    if (!this.open) return;
    this.ws.send(
      typeof message === 'object' && !Buffer.isBuffer(message) ? JSON.stringify(message) : message,
      {
        binary: false,
      },
    );
  }

  /** Sends `error` as a typed error in the protocol's envelope. */
  fail(error: unknown, requestId?: number): void {
    const typed = this.#typed(error);
    this.#options.onError?.(typed);
    this.send(this.#options.errorMessage(typed, requestId) as object);
  }

  /** Counts one message against the rate limit, or throws ERI_ERR_LIMIT (`what` was dropped). */
  countMessage(what = 'message'): void {
    if (this.#rate && !this.#rate.take())
      throw new EriError(
        'ERI_ERR_LIMIT',
        `more than ${this.#options.maxMessagesPerSecond} messages per second; ${what} dropped`,
      );
  }

  /** Runs `handle`; what it throws (or rejects with) goes back as a typed error for `requestId`. */
  guard(handle: () => void | Promise<void>, requestId?: number): void {
    try {
      const done = handle();
      if (done) done.catch((error: unknown) => this.fail(error, requestId));
    } catch (error) {
      this.fail(error, requestId);
    }
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
    this.#close();
  }

  #typed(error: unknown): EriError {
    if (isEriError(error)) return error;
    const e = error instanceof Error ? error : new Error(String(error));
    return new EriError(this.#options.faultCode?.(e) ?? 'ERI_ERR_INVALID_STATE', e.message);
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    if (isBinary && this.#options.onBinary) {
      const onBinary = this.#options.onBinary;
      this.guard(() => onBinary(data));
      return;
    }
    this.guard(() => {
      this.countMessage();
      if (data.length > this.#options.maxMessageBytes)
        throw new EriError(
          'ERI_ERR_LIMIT',
          `message of ${data.length} bytes exceeds the ${this.#options.maxMessageBytes}-byte limit`,
        );
      if (isBinary) throw new EriError('ERI_ERR_MALFORMED_MESSAGE', 'messages are JSON text, not binary');
      let json: unknown;
      try {
        json = JSON.parse(data.toString('utf8'));
      } catch {
        throw new EriError('ERI_ERR_MALFORMED_MESSAGE', 'message is not JSON');
      }
      const requestId = requestIdOf(json);
      const parsed = this.#options.schema.safeParse(json);
      if (!parsed.success) {
        const error =
          this.#options.invalid?.(json, parsed.error) ??
          new EriError('ERI_ERR_MALFORMED_MESSAGE', `invalid message: ${zodIssueText(parsed.error)}`);
        this.fail(error, requestId);
        return;
      }
      const onMessage = this.#options.onMessage;
      this.guard(() => onMessage(parsed.data, requestId), requestId);
    });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopHeartbeat();
    this.#options.onClose();
  }
}
