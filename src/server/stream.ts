import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { WebSocket } from 'ws';
import type { Bus } from '../bus/bus.js';
import { type BusEvent, encodedMessage } from '../bus/events.js';
import { EMOTIONS } from '../contracts/emotions.js';
import type { ModelInfo } from '../contracts/model-info.js';
import {
  type ClientMessage,
  clientMessageSchema,
  type ServerMessage,
  STREAM_PROTOCOL_VERSION,
  type StreamTarget,
} from '../contracts/stream-protocol.js';
import { EriError, type ErrorCode, zodIssueText } from '../errors.js';
import { WsChannel } from './ws-channel.js';

/** A room resume replays at most this many of the room's newest sessions it did not name. */
const ROOM_RESUME_SESSIONS = 100;

/**
 * One subscriber on `/v1/stream`. Events are serialised and UTF-8 encoded once per event (encodedMessage)
 * and the same bytes go to every subscriber. A subscription may resume: what the subscriber missed is replayed from
 * history, then live events follow, minus anything already replayed, so there is no gap and no duplicate.
 *
 * Slow consumers: while the socket's send buffer is over `highWaterBytes`, estimates are coalesced to the
 * latest per session (other events queue, bounded) and flushed when it drains; a subscriber that stays
 * over for `slowGraceMs` is told ERI_ERR_SLOW_CONSUMER and disconnected (close code 4008). Its memory is
 * bounded either way and nobody else waits for it.
 */

export interface StreamDeps {
  bus: Bus;
  model: ModelInfo;
  heartbeatMs: number;
  maxMessageBytes: number;
  highWaterBytes: number;
  slowGraceMs: number;
  /** Client messages per second (a burst of twice that); beyond it they are refused with ERI_ERR_LIMIT. */
  maxMessagesPerSecond?: number;
  /** Whether the connection's token covers a target; absent: everything is allowed. */
  authorize?: (target: StreamTarget) => Promise<boolean>;
  onSent?: (messages: number) => void;
  /** Every typed error sent to this subscriber (counted in /metrics). */
  onError?: (code: ErrorCode) => void;
  /** An estimate written to this subscriber's socket, with when it was made (ms since the epoch). */
  onDelivered?: (madeAtMs: number) => void;
}

interface Sub {
  id: string;
  target: StreamTarget;
  /** While replaying: live events wait here. */
  buffer?: BusEvent[];
  /** Highest seq replayed per session (to drop live duplicates). */
  replayed: Map<string, number>;
}

const MAX_QUEUED_EVENTS = 1000;

/** A message on its way to the socket; an estimate's carries when it was made (delivery latency). */
interface Outgoing {
  text: string | Buffer;
  madeAt?: number;
}

const OUTGOING = Symbol('outgoing');

/** Made once per event, like its encoded bytes, and shared by every subscriber it goes to. */
function outgoing(event: BusEvent): Outgoing {
  const holder = event as BusEvent & { [OUTGOING]?: Outgoing };
  let out = holder[OUTGOING];
  if (!out) {
    const text = encodedMessage(event);
    out = event.kind === 'estimate' ? { text, madeAt: Date.parse(event.estimate.wallTime) } : { text };
    Object.defineProperty(holder, OUTGOING, { value: out, enumerable: false });
  }
  return out;
}

/** The client message types the protocol knows (anything else is ERI_ERR_UNKNOWN_METHOD). */
const CLIENT_TYPES: readonly string[] = clientMessageSchema.options.map((o) => o.shape.type.value);

function matches(target: StreamTarget, event: BusEvent): boolean {
  if ('all' in target) return true;
  if ('roomId' in target) return event.roomId === target.roomId;
  return event.kind !== 'room.aggregate' && event.sessionId === target.sessionId;
}

export class SubscriberConnection {
  readonly #deps: StreamDeps;
  readonly #channel: WsChannel<ClientMessage>;
  readonly #subs = new Map<string, Sub>();
  readonly #live: Subscription;
  /** Coalesced estimates (latest per session) and other events waiting for the socket to drain. */
  readonly #pendingEstimates = new Map<string, Outgoing>();
  readonly #pendingOther: Outgoing[] = [];
  #congestedSince = 0;
  #drainTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(ws: WebSocket, deps: StreamDeps) {
    this.#deps = deps;
    this.#channel = new WsChannel(ws, {
      maxMessageBytes: deps.maxMessageBytes,
      maxMessagesPerSecond: deps.maxMessagesPerSecond,
      heartbeatMs: deps.heartbeatMs,
      onBeat: () => this.#sendObject({ type: 'heartbeat', at: new Date().toISOString() }),
      schema: clientMessageSchema,
      invalid: (json, error) => {
        const type = (json as { type?: unknown } | null)?.type;
        const known = typeof type !== 'string' || CLIENT_TYPES.includes(type);
        return new EriError(
          known ? 'ERI_ERR_MALFORMED_MESSAGE' : 'ERI_ERR_UNKNOWN_METHOD',
          zodIssueText(error),
        );
      },
      errorMessage: (error, id): ServerMessage => {
        const first = (error as EriError & { firstAvailableSeq?: number }).firstAvailableSeq;
        return {
          type: 'error',
          ...(id !== undefined ? { id } : {}),
          ...error.toJSON(),
          ...(first !== undefined ? { firstAvailableSeq: first } : {}),
        };
      },
      onMessage: (message) => this.#onMessage(message),
      onError: (error) => deps.onError?.(error.code),
      onClose: () => this.#close(),
    });
    this.#sendObject({
      type: 'hello',
      protocol: STREAM_PROTOCOL_VERSION,
      model: deps.model,
      emotions: EMOTIONS,
      heartbeatMs: deps.heartbeatMs,
    });
    this.#live = deps.bus.events$.subscribe((event) => this.#onEvent(event));
  }

  get subscriptions(): number {
    return this.#subs.size;
  }

  #sendObject(message: ServerMessage): void {
    this.#send({ text: JSON.stringify(message) });
  }

  /**
   * `coalesceKey`: an estimate's session (a newer one replaces it while congested); `sessionId`: the
   * session a non-estimate event is about (its pending estimate, such as the final, goes out before it).
   */
  #send(out: Outgoing, coalesceKey?: string, sessionId?: string): void {
    if (this.#closed || !this.#channel.open) return;
    if (
      this.#channel.ws.bufferedAmount > this.#deps.highWaterBytes ||
      this.#pendingEstimates.size > 0 ||
      this.#pendingOther.length > 0
    ) {
      this.#congested(out, coalesceKey, sessionId);
      return;
    }
    this.#write(out);
  }

  #write(out: Outgoing): void {
    this.#channel.ws.send(out.text, { binary: false });
    this.#deps.onSent?.(1);
    if (out.madeAt !== undefined) this.#deps.onDelivered?.(out.madeAt);
  }

  #congested(out: Outgoing, coalesceKey?: string, sessionId?: string): void {
    if (!this.#congestedSince) this.#congestedSince = Date.now();
    if (coalesceKey) {
      this.#pendingEstimates.delete(coalesceKey);
      this.#pendingEstimates.set(coalesceKey, out);
      this.#startDraining();
      return;
    }
    if (this.#pendingOther.length >= MAX_QUEUED_EVENTS) {
      this.#disconnectSlow('its queue of session events is full');
      return;
    }
    // A session's last estimate (its final) before its session.ended, never after.
    const estimate = sessionId === undefined ? undefined : this.#pendingEstimates.get(sessionId);
    if (sessionId !== undefined && estimate !== undefined) {
      this.#pendingEstimates.delete(sessionId);
      this.#pendingOther.push(estimate);
    }
    this.#pendingOther.push(out);
    this.#startDraining();
  }

  #startDraining(): void {
    this.#drainTimer ??= setInterval(() => this.#drain(), 50);
  }

  #drain(): void {
    if (this.#closed) return;
    if (this.#channel.ws.bufferedAmount > this.#deps.highWaterBytes) {
      if (Date.now() - this.#congestedSince > this.#deps.slowGraceMs)
        this.#disconnectSlow(
          `its send buffer stayed over ${this.#deps.highWaterBytes} bytes for ${this.#deps.slowGraceMs} ms`,
        );
      return;
    }
    for (const out of this.#pendingOther.splice(0)) this.#write(out);
    for (const out of this.#pendingEstimates.values()) this.#write(out);
    this.#pendingEstimates.clear();
    this.#congestedSince = 0;
    if (this.#drainTimer) clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  #disconnectSlow(why: string): void {
    if (this.#closed) return;
    const e = new EriError(
      'ERI_ERR_SLOW_CONSUMER',
      `disconnected: this subscriber could not keep up (${why})`,
    );
    this.#channel.fail(e);
    this.#channel.close(4008, 'slow consumer');
  }

  #onEvent(event: BusEvent): void {
    let deliver = false;
    for (const sub of this.#subs.values()) {
      if (!matches(sub.target, event)) continue;
      if (sub.buffer) {
        sub.buffer.push(event);
        continue;
      }
      if (event.kind === 'estimate' && event.estimate.seq <= (sub.replayed.get(event.sessionId) ?? -1))
        continue;
      deliver = true;
    }
    // Once per connection, even when several subscriptions match.
    if (deliver) this.#deliver(event);
  }

  /** Synchronous except for a subscribe (which reads history), so replies keep the order of requests. */
  #onMessage(message: ClientMessage): Promise<void> | undefined {
    if (message.type === 'subscribe')
      return this.#subscribe(message.id, message.target, message.resume ?? {});
    if (message.type === 'ping')
      this.#sendObject({ type: 'pong', ...(message.id !== undefined ? { id: message.id } : {}) });
    else if (message.type === 'unsubscribe') {
      if (!this.#subs.delete(message.subscription))
        throw new EriError('ERI_ERR_NOT_FOUND', `no subscription ${message.subscription}`);
      this.#sendObject({ type: 'unsubscribed', id: message.id, subscription: message.subscription });
    }
    return undefined;
  }

  /**
   * Live events that arrive while history is read wait in the subscription's buffer; after the replay
   * they go out minus what the replay already sent, so nothing is lost or sent twice.
   */
  async #subscribe(id: number, target: StreamTarget, resume: Record<string, number>): Promise<void> {
    if (this.#subs.size >= 64) throw new EriError('ERI_ERR_LIMIT', 'at most 64 subscriptions per connection');
    // The same answer whether or not the target exists, so a refusal says nothing about other rooms.
    if (this.#deps.authorize && !(await this.#deps.authorize(target))) {
      throw new EriError('ERI_ERR_FORBIDDEN', 'the token does not cover this target');
    }
    const sub: Sub = { id: randomUUID(), target, buffer: [], replayed: new Map() };
    this.#subs.set(sub.id, sub);
    // Replay what the subscriber missed (sessions it names in `resume`, within the target), and for a
    // room, the sessions that started there while it was away.
    const replay: BusEvent[] = [];
    let estimates = 0;
    try {
      let awaySince = '';
      for (const [sessionId, lastSeq] of Object.entries(resume)) {
        const record = await this.#deps.bus.session(sessionId);
        if (!record) continue;
        if ('sessionId' in target && target.sessionId !== sessionId) continue;
        if ('roomId' in target && record.roomId !== target.roomId) continue;
        // From the last one it saw, whose time says since when it was away.
        const from = lastSeq >= record.firstSeq ? lastSeq - 1 : lastSeq;
        const [seen, ...missed] = await this.#deps.bus.estimatesAfter(sessionId, from);
        if (seen && seen.seq !== lastSeq) missed.unshift(seen);
        else if (seen && seen.wallTime > awaySince) awaySince = seen.wallTime;
        for (const estimate of missed)
          replay.push({ kind: 'estimate', sessionId, roomId: record.roomId, estimate });
        estimates += missed.length;
        sub.replayed.set(sessionId, missed.at(-1)?.seq ?? lastSeq);
      }
      if ('roomId' in target && Object.keys(resume).length > 0) {
        const { sessions } = await this.#deps.bus.sessions({
          rooms: [target.roomId],
          limit: ROOM_RESUME_SESSIONS,
        });
        for (const s of sessions.reverse()) {
          if (s.sessionId in resume || (s.endedAt && !(awaySince && s.startedAt >= awaySince))) continue;
          const missed = await this.#deps.bus.estimatesAfter(s.sessionId, s.firstSeq - 1);
          const base = { sessionId: s.sessionId, roomId: s.roomId };
          replay.push({
            kind: 'session.started',
            ...base,
            at: s.startedAt,
            ...(s.studyId ? { studyId: s.studyId } : {}),
          });
          for (const estimate of missed) replay.push({ kind: 'estimate', ...base, estimate });
          if (s.endedAt)
            replay.push({ kind: 'session.ended', ...base, at: s.endedAt, reason: s.endReason ?? 'normal' });
          estimates += missed.length;
          sub.replayed.set(s.sessionId, missed.at(-1)?.seq ?? -1);
        }
      }
    } catch (error) {
      this.#subs.delete(sub.id);
      throw error;
    }
    this.#sendObject({ type: 'subscribed', id, subscription: sub.id, target, replayed: estimates });
    // In order and in full, even when congested: a resume asked for every one of them.
    for (const event of replay)
      this.#send(outgoing(event), undefined, 'sessionId' in event ? event.sessionId : undefined);
    // Then what arrived meanwhile, minus duplicates, then live.
    const buffered = sub.buffer ?? [];
    delete sub.buffer;
    for (const event of buffered) this.#onEventFor(sub, event);
  }

  #onEventFor(sub: Sub, event: BusEvent): void {
    if (event.kind === 'estimate' && event.estimate.seq <= (sub.replayed.get(event.sessionId) ?? -1)) return;
    this.#deliver(event);
  }

  #deliver(event: BusEvent): void {
    if (event.kind === 'estimate') this.#send(outgoing(event), event.sessionId);
    else this.#send(outgoing(event), undefined, 'sessionId' in event ? event.sessionId : undefined);
  }

  /**
   * Shutdown: lets what is queued for this subscriber (final estimates, session ends) go out, up to
   * `deadlineMs`, then closes with `code` (1001, going away: the SDK reconnects elsewhere).
   */
  async closeGracefully(deadlineMs: number, code: number, reason: string): Promise<void> {
    const until = Date.now() + deadlineMs;
    const busy = () =>
      this.#pendingEstimates.size > 0 || this.#pendingOther.length > 0 || this.#channel.ws.bufferedAmount > 0;
    while (!this.#closed && busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.#channel.ws.close(code, reason);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#drainTimer) clearInterval(this.#drainTimer);
    this.#live.unsubscribe();
    this.#subs.clear();
    this.#pendingEstimates.clear();
    this.#pendingOther.length = 0;
  }
}
