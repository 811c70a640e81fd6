import { filter, map, Observable, Subject, share } from 'rxjs';
import WebSocketNode from 'ws';
import type { Estimate } from '../contracts/estimate.js';
import type { ServerMessage, StreamEvent, StreamTarget } from '../contracts/stream-protocol.js';
import { endpointUrl } from './endpoint-url.js';

/**
 * The TypeScript client SDK for `/v1/stream`: connect once, subscribe to sessions, rooms or everything,
 * and get typed estimates as RxJS Observables. It reconnects by itself (with backoff) and resumes every
 * subscription from the last sequence number it delivered per session, so a dropped connection costs
 * neither a gap nor a duplicate (as long as the server's history still holds what was missed; otherwise
 * the observable errors with ERI_ERR_HISTORY_GONE).
 *
 * ```ts
 * const client = new EriStreamClient('http://127.0.0.1:8080');
 * client.estimates({ roomId: 'trailer-test' }).subscribe((e) => console.log(e.sessionId, e.intensities));
 * ```
 */

export type { StreamEvent };

export interface StreamClientOptions {
  /** First reconnect delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A WebSocket constructor (the browser's or `ws`); defaults to the global one, else `ws`. */
  WebSocket?: typeof WebSocketNode;
  /** A JWT with subscribe scopes, when the server requires one. */
  token?: string;
}

export interface SubscribeOptions {
  /** For a session target: start from its first kept estimate instead of live. */
  fromStart?: boolean;
  /** Resume positions to start from (last seq seen per session), e.g. persisted by the application. */
  resume?: Record<string, number>;
}

export class StreamError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'StreamError';
    this.code = code;
  }
}

interface ActiveSub {
  requestId: number;
  target: StreamTarget;
  /** Last seq delivered per session. */
  seen: Map<string, number>;
  events: Subject<StreamEvent>;
  serverId?: string;
}

export class EriStreamClient {
  readonly #url: string;
  readonly #o: Required<Omit<StreamClientOptions, 'WebSocket' | 'token'>> & {
    WebSocket: typeof WebSocketNode;
  };
  readonly #subs = new Map<number, ActiveSub>();
  readonly #messages = new Subject<ServerMessage>();
  #ws: WebSocketNode | undefined;
  #nextId = 1;
  #delay: number;
  #closed = false;
  #reconnects = 0;

  constructor(url: string, options: StreamClientOptions = {}) {
    this.#url = endpointUrl(url, '/v1/stream', options.token);
    const globalWs = (globalThis as unknown as { WebSocket?: typeof WebSocketNode }).WebSocket;
    this.#o = {
      initialDelayMs: options.initialDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      WebSocket: options.WebSocket ?? globalWs ?? WebSocketNode,
    };
    this.#delay = this.#o.initialDelayMs;
    this.#connect();
  }

  /** Every server message (hello, heartbeats, errors too), for diagnostics. */
  get messages$(): Observable<ServerMessage> {
    return this.#messages.asObservable();
  }

  /** How many times the connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  #connect(): void {
    if (this.#closed) return;
    const ws = new this.#o.WebSocket(this.#url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#delay = this.#o.initialDelayMs;
      for (const sub of this.#subs.values()) this.#sendSubscribe(sub);
    };
    ws.onmessage = (event) => this.#onMessage(JSON.parse(String(event.data)) as ServerMessage);
    ws.onclose = () => {
      if (this.#closed) return;
      this.#reconnects++;
      setTimeout(() => this.#connect(), this.#delay);
      this.#delay = Math.min(this.#o.maxDelayMs, this.#delay * 2);
    };
    ws.onerror = () => {};
  }

  #sendSubscribe(sub: ActiveSub): void {
    const resume = Object.fromEntries(sub.seen);
    this.#ws?.send(
      JSON.stringify({
        type: 'subscribe',
        id: sub.requestId,
        target: sub.target,
        ...(Object.keys(resume).length ? { resume } : {}),
      }),
    );
  }

  #onMessage(message: ServerMessage): void {
    this.#messages.next(message);
    if (message.type === 'subscribed') {
      const sub = this.#subs.get(message.id);
      if (sub) sub.serverId = message.subscription;
      return;
    }
    if (message.type === 'error') {
      const sub = message.id !== undefined ? this.#subs.get(message.id) : undefined;
      if (sub) {
        this.#subs.delete(message.id as number);
        sub.events.error(new StreamError(message.code, message.message));
      }
      return;
    }
    if (
      message.type !== 'estimate' &&
      message.type !== 'session.started' &&
      message.type !== 'session.ended' &&
      message.type !== 'room.aggregate'
    )
      return;
    for (const sub of this.#subs.values()) {
      if (!this.#matches(sub.target, message)) continue;
      if (message.type === 'estimate') {
        const last = sub.seen.get(message.data.sessionId) ?? -1;
        if (message.data.seq <= last) continue; // already delivered
        sub.seen.set(message.data.sessionId, message.data.seq);
      } else if (message.type === 'session.started' && !sub.seen.has(message.data.sessionId)) {
        sub.seen.set(message.data.sessionId, -1);
      }
      sub.events.next(message as StreamEvent);
    }
  }

  #matches(
    target: StreamTarget,
    message: ServerMessage & { data: { sessionId?: string; roomId?: string } },
  ): boolean {
    if ('all' in target) return true;
    if ('roomId' in target) return message.data.roomId === target.roomId;
    return message.data.sessionId === target.sessionId;
  }

  /** Every event of a target (estimates, session start and end, room aggregates), resumed across reconnects. */
  events(target: StreamTarget, options: SubscribeOptions = {}): Observable<StreamEvent> {
    return new Observable<StreamEvent>((subscriber) => {
      const requestId = this.#nextId++;
      const seen = new Map<string, number>(Object.entries(options.resume ?? {}));
      if (options.fromStart && 'sessionId' in target && !seen.has(target.sessionId))
        seen.set(target.sessionId, -1);
      const sub: ActiveSub = { requestId, target, seen, events: new Subject() };
      const inner = sub.events.subscribe(subscriber);
      this.#subs.set(requestId, sub);
      if (this.#ws?.readyState === 1) this.#sendSubscribe(sub);
      return () => {
        inner.unsubscribe();
        this.#subs.delete(requestId);
        if (sub.serverId && this.#ws?.readyState === 1)
          this.#ws.send(JSON.stringify({ type: 'unsubscribe', id: requestId, subscription: sub.serverId }));
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

  /** Drops the connection now (it reconnects and resumes): for tests and for network changes. */
  reconnect(): void {
    this.#ws?.close();
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close();
    for (const sub of this.#subs.values()) sub.events.complete();
    this.#subs.clear();
    this.#messages.complete();
  }
}
