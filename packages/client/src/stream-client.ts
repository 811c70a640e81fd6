import {
  BehaviorSubject,
  distinctUntilChanged,
  filter,
  map,
  Observable,
  ReplaySubject,
  Subject,
  share,
} from 'rxjs';
import type { Estimate } from '../../../src/contracts/estimate.js';
import {
  type Hello,
  type ServerMessage,
  STREAM_PROTOCOL_VERSION,
  type StreamEvent,
  type StreamTarget,
  serverMessageSchema,
} from '../../../src/contracts/stream-protocol.js';
import { FINAL_CLOSE_CODES, refusalOf, WS_CLOSE } from '../../../src/contracts/ws-close.js';
import { EriClientError } from './errors.js';
import {
  endpointUrl,
  OPEN,
  resolveWebSocket,
  type TokenSource,
  textOf,
  tokenOf,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';

/**
 * The client for `/v1/stream`: subscribe to a session, a room or everything and get typed, validated
 * estimates and session events as RxJS Observables.
 *
 * - It connects on the first subscription and disconnects when the last one ends.
 * - It reconnects by itself (exponential backoff with jitter) and resumes every subscription from the
 *   last sequence number it delivered per session, so a dropped connection costs neither a gap nor a
 *   duplicate, as long as the server's history still holds what was missed (otherwise the observable
 *   errors with ERI_ERR_HISTORY_GONE).
 * - The token (or token provider) is asked for before every connect, so an expired token is replaced.
 * - A refused token (close 4401) or scope (4403) is final: no retry, every subscription errors with an
 *   {@link EriClientError} and `state$` says `failed`.
 * - Every message is validated against the protocol's zod schemas, the same the server uses.
 *
 * ```ts
 * const client = new EriStreamClient('https://eri.example.com', { token: () => fetchToken() });
 * client.estimates({ roomId: 'trailer-test' }).subscribe((e) => console.log(e.sessionId, e.intensities));
 * ```
 */

export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closed';

export interface ConnectionState {
  /**
   * idle: no subscription, no socket; connecting: the first attempt; open: greeted by the server;
   * reconnecting: lost or not reached, trying again after a delay; failed: refused for good (a token
   * or scope; `error` says which); closed: `close()` was called.
   */
  status: ConnectionStatus;
  /** Attempts since the last open connection (0 while open). */
  attempt: number;
  /** Why the last connection ended or failed. */
  error?: EriClientError;
}

export interface StreamClientOptions {
  /** A JWT with subscribe scopes, or a function returning a fresh one (called before every connect). */
  token?: TokenSource;
  /** A WebSocket constructor; defaults to the global one, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay in ms (250); doubles up to maxDelayMs (10,000), with ±20 % jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /**
   * A connection that hears nothing (not even a heartbeat) for this many heartbeat intervals is
   * presumed dead and replaced (3).
   */
  silentHeartbeats?: number;
}

export interface SubscribeOptions {
  /** For a session target: start from its first kept estimate instead of live. */
  fromStart?: boolean;
  /** Resume positions to start from (last seq seen per session), e.g. persisted by the application. */
  resume?: Record<string, number>;
}

interface ActiveSub {
  requestId: number;
  target: StreamTarget;
  /** Last seq delivered per session. */
  seen: Map<string, number>;
  events: Subject<StreamEvent>;
  serverId?: string;
}

function matches(target: StreamTarget, event: StreamEvent): boolean {
  if ('all' in target) return true;
  if ('roomId' in target) return event.data.roomId === target.roomId;
  return event.type !== 'room.aggregate' && event.data.sessionId === target.sessionId;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(
  serverMessageSchema.options.map((option) => option.shape.type.value),
);

export class EriStreamClient {
  readonly #url: string;
  readonly #options: Required<Omit<StreamClientOptions, 'WebSocket' | 'token'>> &
    Pick<StreamClientOptions, 'WebSocket' | 'token'>;
  readonly #subs = new Map<number, ActiveSub>();
  readonly #messages = new Subject<ServerMessage>();
  readonly #hello = new ReplaySubject<Hello>(1);
  readonly #state = new BehaviorSubject<ConnectionState>({ status: 'idle', attempt: 0 });
  #ws: WebSocketLike | undefined;
  /** Bumped for every socket: events of a replaced socket are ignored. */
  #generation = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #heartbeatMs = 0;
  /** The `{type: 'error'}` without an id that came before a refusal's close: its message is kept. */
  #lastError: EriClientError | undefined;
  #nextId = 1;
  #reconnects = 0;
  /** Whether a connection was ever open: the next one is a reconnect. */
  #opened = false;

  /** `url`: the server's http(s) or ws(s) base URL. Nothing connects until something subscribes. */
  constructor(url: string, options: StreamClientOptions = {}) {
    this.#url = url;
    this.#options = {
      initialDelayMs: options.initialDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      silentHeartbeats: options.silentHeartbeats ?? 3,
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    };
  }

  /** The connection's state, current value first. */
  get state$(): Observable<ConnectionState> {
    return this.#state.pipe(distinctUntilChanged());
  }

  get state(): ConnectionState {
    return this.#state.value;
  }

  /** The server's greeting on each connection: its model, the emotions in estimate order, the heartbeat. */
  get hello$(): Observable<Hello> {
    return this.#hello.asObservable();
  }

  /** Every validated server message (hello, heartbeats, errors too), for diagnostics. */
  get messages$(): Observable<ServerMessage> {
    return this.#messages.asObservable();
  }

  /** How many times the connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Every event of a target (estimates, session start and end, room aggregates), resumed across reconnects. */
  events(target: StreamTarget, options: SubscribeOptions = {}): Observable<StreamEvent> {
    return new Observable<StreamEvent>((subscriber) => {
      if (this.#state.value.status === 'closed') {
        subscriber.error(new EriClientError('ERI_ERR_CLOSED', 'the stream client is closed'));
        return undefined;
      }
      const requestId = this.#nextId++;
      const seen = new Map<string, number>(Object.entries(options.resume ?? {}));
      if (options.fromStart && 'sessionId' in target && !seen.has(target.sessionId))
        seen.set(target.sessionId, -1);
      const sub: ActiveSub = { requestId, target, seen, events: new Subject() };
      const inner = sub.events.subscribe(subscriber);
      this.#subs.set(requestId, sub);
      // After a refusal, a new subscription tries again (with what the token provider gives now).
      const status = this.#state.value.status;
      if (status === 'idle' || status === 'failed') this.#connect();
      else if (this.#ws?.readyState === OPEN && this.#state.value.status === 'open') this.#sendSubscribe(sub);
      return () => {
        inner.unsubscribe();
        if (!this.#subs.delete(requestId)) return;
        if (sub.serverId && this.#ws?.readyState === OPEN)
          this.#send({ type: 'unsubscribe', id: requestId, subscription: sub.serverId });
        if (this.#subs.size === 0) this.#disconnect('idle');
      };
    }).pipe(share());
  }

  /** Estimates only. */
  estimates(target: StreamTarget, options: SubscribeOptions = {}): Observable<Estimate> {
    return this.events(target, options).pipe(
      filter((e): e is Extract<StreamEvent, { type: 'estimate' }> => e.type === 'estimate'),
      map((e) => e.data),
    );
  }

  /** Drops the connection now; it reconnects and resumes (for network changes, and tests). */
  reconnect(): void {
    if (this.#ws) this.#lost(new EriClientError('ERI_ERR_CONNECTION', 'reconnect requested'));
  }

  /** Ends every subscription (they complete) and the client; it cannot be used after. */
  close(): void {
    if (this.#state.value.status === 'closed') return;
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    this.#disconnect('closed');
    for (const sub of subs) sub.events.complete();
    this.#messages.complete();
    this.#hello.complete();
    this.#state.complete();
  }

  #setState(state: ConnectionState): void {
    if (!this.#state.closed) this.#state.next(state);
  }

  #connect(): void {
    const generation = ++this.#generation;
    const previous = this.#state.value.status;
    const status: ConnectionStatus = previous === 'reconnecting' ? 'reconnecting' : 'connecting';
    const attempt = previous === 'reconnecting' ? this.#state.value.attempt + 1 : 1;
    this.#setState({ ...this.#state.value, status, attempt });
    Promise.all([resolveWebSocket(this.#options.WebSocket), tokenOf(this.#options.token)]).then(
      ([Socket, token]) => {
        if (generation !== this.#generation) return;
        const ws = new Socket(endpointUrl(this.#url, '/v1/stream', token));
        this.#ws = ws;
        this.#lastError = undefined;
        ws.onmessage = (event) => {
          if (generation === this.#generation) this.#onText(textOf(event.data));
        };
        ws.onclose = (event) => {
          if (generation === this.#generation) this.#onClose(event.code, event.reason);
        };
        ws.onerror = () => {}; // the close that follows says what happened
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        const failure =
          error instanceof EriClientError
            ? error
            : new EriClientError('ERI_ERR_UNAUTHENTICATED', `the token provider failed: ${String(error)}`, {
                cause: error,
              });
        // No WebSocket at all cannot get better; a token provider that failed may recover.
        if (failure.code === 'ERI_ERR_CONNECTION') this.#fail(failure);
        else this.#lost(failure);
      },
    );
  }

  #onText(text: string): void {
    this.#armWatchdog();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.#protocolError(`a message that is not JSON: ${text.slice(0, 80)}`);
      return;
    }
    const type = (json as { type?: unknown } | null)?.type;
    // A newer server may add message types: those are ignored, not fatal.
    if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) return;
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.#protocolError(`an invalid '${type}' message (${issue?.path.join('.')}: ${issue?.message})`);
      return;
    }
    this.#onMessage(parsed.data);
  }

  #onMessage(message: ServerMessage): void {
    this.#messages.next(message);
    switch (message.type) {
      case 'hello':
        if (message.protocol !== STREAM_PROTOCOL_VERSION) {
          this.#fail(
            new EriClientError(
              'ERI_ERR_MALFORMED_MESSAGE',
              `the server speaks stream protocol ${message.protocol}; this client speaks ${STREAM_PROTOCOL_VERSION}`,
            ),
          );
          return;
        }
        this.#heartbeatMs = message.heartbeatMs;
        this.#armWatchdog();
        this.#hello.next(message);
        if (this.#opened) this.#reconnects++;
        this.#opened = true;
        this.#setState({ status: 'open', attempt: 0 });
        for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
        return;
      case 'subscribed': {
        const sub = this.#subs.get(message.id);
        if (sub) sub.serverId = message.subscription;
        return;
      }
      case 'error': {
        const error = new EriClientError(message.code as EriClientError['code'], message.message, {
          ...(message.firstAvailableSeq !== undefined
            ? { firstAvailableSeq: message.firstAvailableSeq }
            : {}),
        });
        const sub = message.id !== undefined ? this.#subs.get(message.id) : undefined;
        if (sub) {
          this.#subs.delete(sub.requestId);
          sub.events.error(error);
          if (this.#subs.size === 0) this.#disconnect('idle');
        } else this.#lastError = error;
        return;
      }
      case 'estimate':
      case 'session.started':
      case 'session.ended':
      case 'room.aggregate':
        this.#deliver(message);
        return;
      default:
        return;
    }
  }

  #deliver(event: StreamEvent): void {
    for (const sub of this.#subs.values()) {
      if (!matches(sub.target, event)) continue;
      if (event.type === 'estimate') {
        const last = sub.seen.get(event.data.sessionId) ?? -1;
        if (event.data.seq <= last) continue; // delivered before a reconnect
        sub.seen.set(event.data.sessionId, event.data.seq);
      } else if (event.type === 'session.started' && !sub.seen.has(event.data.sessionId)) {
        // From now on a resume of this subscription asks for this session from its start.
        sub.seen.set(event.data.sessionId, -1);
      }
      sub.events.next(event);
    }
  }

  #sendSubscribe(sub: ActiveSub): void {
    const resume = Object.fromEntries(sub.seen);
    this.#send({
      type: 'subscribe',
      id: sub.requestId,
      target: sub.target,
      ...(Object.keys(resume).length ? { resume } : {}),
    });
  }

  #send(message: object): void {
    if (this.#ws?.readyState === OPEN) this.#ws.send(JSON.stringify(message));
  }

  #onClose(code: number, reason: string): void {
    const refusal = refusalOf(code, reason);
    const error = refusal
      ? new EriClientError(refusal.code, this.#lastError?.message ?? refusal.message, { closeCode: code })
      : new EriClientError(
          'ERI_ERR_CONNECTION',
          code === WS_CLOSE.goingAway
            ? `the server is going away${reason ? ` (${reason})` : ''}`
            : `connection closed (${code}${reason ? `: ${reason}` : ''})`,
          { closeCode: code },
        );
    if (FINAL_CLOSE_CODES.has(code)) this.#fail(error);
    else this.#lost(error);
  }

  #protocolError(what: string): void {
    this.#fail(
      new EriClientError(
        'ERI_ERR_MALFORMED_MESSAGE',
        `the server sent ${what}; it does not speak stream protocol ${STREAM_PROTOCOL_VERSION}`,
      ),
    );
  }

  /** Lost or not reached: try again after a backoff that grows with the attempts. */
  #lost(error: EriClientError): void {
    this.#dropSocket();
    if (this.#subs.size === 0) {
      this.#setState({ status: 'idle', attempt: 0 });
      return;
    }
    const attempt = this.#state.value.attempt;
    const base = Math.min(this.#options.maxDelayMs, this.#options.initialDelayMs * 2 ** attempt);
    const delay = base * (0.8 + 0.4 * Math.random());
    this.#setState({ status: 'reconnecting', attempt, error });
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, delay);
  }

  /** Refused for good: every subscription errors and nothing retries. */
  #fail(error: EriClientError): void {
    this.#dropSocket();
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    this.#setState({ status: 'failed', attempt: this.#state.value.attempt, error });
    for (const sub of subs) sub.events.error(error);
  }

  #disconnect(status: 'idle' | 'closed'): void {
    this.#dropSocket();
    this.#setState({ status, attempt: 0 });
  }

  #dropSocket(): void {
    this.#generation++;
    clearTimeout(this.#retry);
    clearTimeout(this.#watchdog);
    this.#retry = undefined;
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      try {
        ws.close(WS_CLOSE.normal);
      } catch {
        // still connecting in a browser: closing is best effort
      }
    }
  }

  /** A connection silent for `silentHeartbeats` heartbeats is dead (a NAT dropped it, a laptop slept). */
  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    if (!this.#heartbeatMs) return;
    const generation = this.#generation;
    this.#watchdog = setTimeout(() => {
      if (generation === this.#generation)
        this.#lost(new EriClientError('ERI_ERR_CONNECTION', 'the server went silent (no heartbeat)'));
    }, this.#heartbeatMs * this.#options.silentHeartbeats);
  }
}
