import WebSocket from 'ws';
import { endpointUrl } from '../../packages/client/src/socket.js';
import type { SignalMethod } from '../contracts/signalling.js';
import { refusalOf } from '../contracts/ws-close.js';
import { EriError, type ErrorCode, isErrorCode } from '../errors.js';
import { SignalRequests } from './signal-requests.js';

/**
 * A small Node client for the publisher signalling protocol (/v1/signal): request/response by id,
 * notifications to a callback. Used by `eri publish` and the tests.
 */

export class SignalClient {
  readonly #ws: WebSocket;
  readonly #requests: SignalRequests;
  readonly closed: Promise<void>;
  #closedWith: EriError | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.#requests = new SignalRequests(
      (text) => ws.send(text),
      (code, message) => new EriError(code as ErrorCode, message),
    );
    ws.on('message', (data) => this.#requests.receive(String(data)));
    this.closed = new Promise((resolve) => {
      ws.on('close', (closeCode, reason) => {
        // A refused token or limit closes the accepted socket with 44xx and says why in the reason.
        const refusal = refusalOf(closeCode, String(reason));
        this.#closedWith = refusal
          ? new EriError(refusal.code, refusal.message)
          : new EriError('ERI_ERR_CLOSED', 'signalling connection closed');
        this.#requests.failAll(this.#closedWith);
        resolve();
      });
    });
  }

  set onNotification(handler: (name: string, data: unknown) => void) {
    this.#requests.onNotification = handler;
  }

  /** `url`: the server's http(s) or ws(s) base URL; `token`: a JWT with a publish scope. */
  static connect(url: string, token?: string): Promise<SignalClient> {
    const base = url.replace(/^http/, 'ws').replace(/\/$/, '');
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(endpointUrl(url, '/v1/signal', token));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d;
        });
        res.on('end', () => {
          const parsed = (() => {
            try {
              return JSON.parse(body) as { code?: string; message?: string };
            } catch {
              return {};
            }
          })();
          // Only an unknown path or a node shutting down is answered in HTTP now (refusals close the
          // socket with 44xx, handled on close); a proxy's page has no code of ours.
          const code: ErrorCode = isErrorCode(parsed.code) ? parsed.code : 'ERI_ERR_INVALID_ARGUMENT';
          reject(
            new EriError(
              code,
              `${base}/v1/signal refused the connection (HTTP ${res.statusCode}): ${parsed.message ?? body.slice(0, 200)}`,
            ),
          );
        });
      });
      ws.once('open', () => resolve(new SignalClient(ws)));
      ws.once('error', (e) =>
        reject(new EriError('ERI_ERR_INVALID_ARGUMENT', `cannot connect to ${base}/v1/signal: ${e.message}`)),
      );
    });
  }

  request<T>(method: SignalMethod, params: object = {}): Promise<T> {
    // ws drops sends on a closed socket silently: fail at once instead of waiting forever.
    if (this.#ws.readyState !== WebSocket.OPEN)
      return Promise.reject(
        this.#closedWith ?? new EriError('ERI_ERR_CLOSED', 'signalling connection closed'),
      );
    return this.#requests.request<T>(method, params);
  }

  close(): void {
    this.#ws.close();
  }
}
