import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { closeCodeOf, closeReason } from '../contracts/ws-close.js';
import { type ErrorCode, isEriError } from '../errors.js';
import { type Authenticator, access, type Principal } from './auth.js';
import type { AddressOf } from './client-address.js';
import type { Admission } from './limits.js';

/**
 * Admission of the WebSocket endpoints: which endpoint, whether the node is admitting, who the client
 * is (its token), whether its scopes cover the endpoint, and whether its address and token have a
 * connection left. A client refused for its token or a limit is accepted and then closed with 4401,
 * 4403 or 4429 and the reason (after an `{type: 'error', code, message}` on the endpoints that speak
 * that envelope): a refusal at the HTTP upgrade reaches a browser as a bare 1006, so it would retry for
 * ever without knowing why. An unknown path (404) or a node shutting down (503) is still an HTTP answer:
 * neither is the client's credentials, and a retry elsewhere is right for both.
 */

export const WS_ENDPOINTS = ['/v1/signal', '/v1/ingest', '/v1/stream'] as const;
export type WsEndpoint = (typeof WS_ENDPOINTS)[number];

/** The endpoints whose protocol has the `{type: 'error', code, message}` message (signalling answers requests). */
const SPEAKS_ERROR_MESSAGES: ReadonlySet<WsEndpoint> = new Set(['/v1/ingest', '/v1/stream']);

export interface WsGatewayDeps {
  auth: Authenticator;
  admission: Admission;
  clientIp: AddressOf;
  /** False while the node is shutting down. */
  admitting: () => boolean;
  maxPayload: number;
  /** Every refusal, by endpoint ('unknown' for an unknown path) and code (counted in /metrics). */
  onRefused: (endpoint: string, code: ErrorCode) => void;
  /** An admitted connection; its admission slot is given back when it closes. */
  onConnection: (endpoint: WsEndpoint, ws: WebSocket, principal: Principal) => void;
}

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 503: 'Service Unavailable' };

/** Refuses an upgrade with an HTTP status and the usual `{code, message}` body. */
function refuseUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const isEndpoint = (path: string): path is WsEndpoint => (WS_ENDPOINTS as readonly string[]).includes(path);

export class WsGateway {
  readonly #deps: WsGatewayDeps;
  readonly #wss: WebSocketServer;

  constructor(deps: WsGatewayDeps) {
    this.#deps = deps;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxPayload });
  }

  /** Every open WebSocket (for shutdown). */
  get clients(): Set<WebSocket> {
    return this.#wss.clients;
  }

  /** The HTTP server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!isEndpoint(path)) {
      this.#deps.onRefused('unknown', 'ERI_ERR_NOT_FOUND');
      refuseUpgrade(socket, 404, 'ERI_ERR_NOT_FOUND', `no WebSocket endpoint at ${path.slice(0, 64)}`);
      return;
    }
    if (!this.#deps.admitting()) {
      this.#deps.onRefused(path, 'ERI_ERR_CLOSED');
      refuseUpgrade(socket, 503, 'ERI_ERR_CLOSED', 'the server is shutting down');
      return;
    }
    socket.on('error', () => {}); // a client gone mid-handshake is not the server's problem
    this.#deps.auth.authenticate(req.headers, req.url).then(
      (principal) => this.#admit(req, socket, head, path, principal),
      (error: unknown) =>
        this.#refuse(
          req,
          socket,
          head,
          path,
          'ERI_ERR_UNAUTHENTICATED',
          isEriError(error) ? error.message : 'authentication failed',
        ),
    );
  }

  #admit(req: IncomingMessage, socket: Duplex, head: Buffer, path: WsEndpoint, principal: Principal): void {
    // The client may have gone while its token was verified: its 'close' has fired already, so a slot
    // taken now would never be given back.
    if (socket.destroyed) return;
    const allowed = path === '/v1/stream' ? access.anySubscribe(principal) : access.anyPublish(principal);
    if (!allowed) {
      const scope = path === '/v1/stream' ? 'subscribe' : 'publish';
      this.#refuse(req, socket, head, path, 'ERI_ERR_FORBIDDEN', `the token has no ${scope} scope`);
      return;
    }
    let release: () => void;
    try {
      release = this.#deps.admission.connect(this.#deps.clientIp(req), principal.tokenId);
    } catch (error) {
      this.#refuse(req, socket, head, path, 'ERI_ERR_LIMIT', (error as Error).message);
      return;
    }
    socket.once('close', release);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('close', release);
      this.#deps.onConnection(path, ws, principal);
    });
  }

  /** Accepts the upgrade only to say why it is refused, then closes: bounded work, no slot taken. */
  #refuse(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    path: WsEndpoint,
    code: ErrorCode,
    message: string,
  ): void {
    this.#deps.onRefused(path, code);
    if (socket.destroyed) return;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (SPEAKS_ERROR_MESSAGES.has(path)) ws.send(JSON.stringify({ type: 'error', code, message }));
      ws.close(closeCodeOf(code), closeReason(message));
      // A client that never answers the close handshake is not waited for.
      setTimeout(() => ws.terminate(), 2000).unref();
    });
  }
}
