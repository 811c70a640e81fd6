import { createClient, type RedisClientType } from 'redis';
import { merge, type Observable, Subject } from 'rxjs';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { BusEvent } from './events.js';
import { type Bus, estimatesAfterSeq, type SessionFilter, type SessionRecord } from './memory-bus.js';

/**
 * The multi-node bus on Redis (the official node-redis client).
 *
 * - History: a Redis Stream per session (`eri:stream:<id>`, XADD with MAXLEN ~ `maxEstimatesPerSession`),
 *   a hash of its metadata (`eri:meta:<id>`) and an index of sessions (`eri:sessions`, by start time).
 *   Ended sessions expire after `retentionSeconds`. Resumes and REST read from there, so a subscriber
 *   on node B resumes a session that runs on node A.
 * - Live fan-out: Redis pub/sub on one channel. A stream read per session would cost a blocking
 *   connection per session on every node; pub/sub delivers each event once to every node at the lowest
 *   latency, and the streams are there for anything missed (resume).
 * - Local first: an event reaches this node's subscribers at once, whatever Redis does. Writes to Redis
 *   go through a bounded in-order queue: while Redis is unreachable they wait (up to `maxBuffered`,
 *   counted as dropped beyond), and on reconnect they are flushed in order.
 */

export interface RedisBusOptions {
  url: string;
  nodeId: string;
  maxEstimatesPerSession?: number;
  retentionSeconds?: number;
  maxBuffered?: number;
  onLog?: (line: string) => void;
}

export interface RedisBusStats {
  connected: boolean;
  buffered: number;
  dropped: number;
  written: number;
}

const CHANNEL = 'eri:events';
const SESSIONS = 'eri:sessions';
const streamKey = (id: string) => `eri:stream:${id}`;
const metaKey = (id: string) => `eri:meta:${id}`;

export class RedisBus implements Bus {
  readonly #o: Required<Omit<RedisBusOptions, 'onLog'>> & { onLog: (line: string) => void };
  readonly #client: RedisClientType;
  readonly #subscriber: RedisClientType;
  readonly #local = new Subject<BusEvent>();
  readonly #remote = new Subject<BusEvent>();
  readonly #queue: BusEvent[] = [];
  readonly stats: RedisBusStats = { connected: false, buffered: 0, dropped: 0, written: 0 };
  #pumping = false;
  #closed = false;

  private constructor(o: RedisBusOptions, client: RedisClientType, subscriber: RedisClientType) {
    this.#o = {
      maxEstimatesPerSession: 7200,
      retentionSeconds: 7 * 24 * 3600,
      maxBuffered: 100_000,
      onLog: () => {},
      ...o,
    };
    this.#client = client;
    this.#subscriber = subscriber;
  }

  static async create(o: RedisBusOptions): Promise<RedisBus> {
    const reconnectStrategy = (retries: number) => Math.min(5000, 100 * 2 ** Math.min(retries, 6));
    // No offline queue: a command fails at once while disconnected, and our own bounded queue keeps it.
    const client = createClient({
      url: o.url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy, connectTimeout: 3000 },
    }) as RedisClientType;
    const subscriber = client.duplicate() as RedisClientType;
    const bus = new RedisBus(o, client, subscriber);
    for (const c of [client, subscriber]) c.on('error', (e: Error) => bus.#o.onLog(`redis: ${e.message}`));
    client.on('ready', () => {
      bus.stats.connected = true;
      bus.#pump();
    });
    client.on('end', () => {
      bus.stats.connected = false;
    });
    client.on('reconnecting', () => {
      bus.stats.connected = false;
    });
    try {
      await client.connect();
      await subscriber.connect();
      await subscriber.subscribe(CHANNEL, (message) => bus.#onRemote(message));
    } catch (cause) {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        `cannot connect to Redis at ${o.url}: ${(cause as Error).message}`,
        { cause },
      );
    }
    return bus;
  }

  get nodeId(): string {
    return this.#o.nodeId;
  }

  /** The command client, for the node registry sharing this connection. */
  get client(): RedisClientType {
    return this.#client;
  }

  get events$(): Observable<BusEvent> {
    return merge(this.#local, this.#remote);
  }

  #onRemote(message: string): void {
    try {
      const { origin, event } = JSON.parse(message) as { origin: string; event: BusEvent };
      if (origin !== this.#o.nodeId) this.#remote.next(event);
    } catch {
      this.#o.onLog('redis: ignored a malformed event on the channel');
    }
  }

  publish(event: BusEvent): void {
    this.#local.next(event);
    if (this.#queue.length >= this.#o.maxBuffered) {
      this.stats.dropped++;
      return;
    }
    this.#queue.push(event);
    this.stats.buffered = this.#queue.length;
    this.#pump();
  }

  /** Writes queued events in order, one at a time; stops at the first failure and waits for 'ready'. */
  #pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    (async () => {
      while (this.#queue.length > 0 && this.#client.isReady) {
        const event = this.#queue[0] as BusEvent;
        try {
          await this.#write(event);
        } catch (error) {
          this.#o.onLog(
            `redis: write failed, keeping ${this.#queue.length} events queued: ${(error as Error).message}`,
          );
          break;
        }
        this.#queue.shift();
        this.stats.written++;
        this.stats.buffered = this.#queue.length;
      }
    })().finally(() => {
      this.#pumping = false;
      // A ready event may have come while the loop was finishing.
      if (this.#queue.length > 0 && this.#client.isReady && !this.#closed) setTimeout(() => this.#pump(), 50);
    });
  }

  async #write(event: BusEvent): Promise<void> {
    const multi = this.#client.multi();
    const payload = JSON.stringify({ origin: this.#o.nodeId, event });
    if (event.kind !== 'room.aggregate') {
      multi.xAdd(
        streamKey(event.sessionId),
        '*',
        { e: JSON.stringify(event) },
        { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.#o.maxEstimatesPerSession } },
      );
      if (event.kind === 'session.started') {
        multi.hSet(metaKey(event.sessionId), {
          roomId: event.roomId,
          startedAt: event.at,
          owner: this.#o.nodeId,
        });
        multi.zAdd(SESSIONS, { score: Date.parse(event.at) || Date.now(), value: event.sessionId });
      } else if (event.kind === 'estimate') {
        multi.hSetNX(metaKey(event.sessionId), 'roomId', event.roomId);
        multi.zAdd(SESSIONS, { score: Date.now(), value: event.sessionId }, { NX: true });
        if (event.estimate.final)
          multi.hSet(metaKey(event.sessionId), 'final', JSON.stringify(event.estimate));
      } else {
        multi.hSet(metaKey(event.sessionId), { endedAt: event.at, endReason: event.reason });
        multi.expire(streamKey(event.sessionId), this.#o.retentionSeconds);
        multi.expire(metaKey(event.sessionId), this.#o.retentionSeconds);
      }
    }
    multi.publish(CHANNEL, payload);
    await multi.exec();
  }

  async #estimates(id: string): Promise<Estimate[]> {
    const entries = await this.#client.xRange(streamKey(id), '-', '+');
    const out: Estimate[] = [];
    for (const entry of entries) {
      const event = JSON.parse(String(entry.message.e)) as BusEvent;
      if (event.kind === 'estimate') out.push(event.estimate);
    }
    return out;
  }

  async #record(
    id: string,
    withEstimates: boolean,
    rooms?: readonly string[],
  ): Promise<SessionRecord | undefined> {
    const meta = await this.#client.hGetAll(metaKey(id));
    if (!meta.roomId || (rooms && !rooms.includes(meta.roomId))) return undefined;
    const estimates = withEstimates ? await this.#estimates(id) : [];
    return {
      sessionId: id,
      roomId: meta.roomId,
      startedAt: meta.startedAt ?? '',
      ...(meta.endedAt ? { endedAt: meta.endedAt } : {}),
      ...(meta.endReason ? { endReason: meta.endReason } : {}),
      estimates,
      firstSeq: estimates[0]?.seq ?? 0,
      ...(meta.final ? { final: JSON.parse(meta.final) as Estimate } : {}),
    };
  }

  async sessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const ids = await this.#client.zRange(SESSIONS, 0, -1);
    // The room is in each session's small meta hash: other rooms' estimates are never read.
    const records = await Promise.all(ids.map((id) => this.#record(id, true, filter.rooms)));
    return records.filter((r): r is SessionRecord => r !== undefined);
  }

  session(id: string): Promise<SessionRecord | undefined> {
    return this.#record(id, true);
  }

  async estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    return estimatesAfterSeq(sessionId, await this.#estimates(sessionId), afterSeq);
  }

  async deleteSession(id: string): Promise<boolean> {
    const [, , removed] = await this.#client
      .multi()
      .del(streamKey(id))
      .del(metaKey(id))
      .zRem(SESSIONS, id)
      .exec();
    return Number(removed) > 0;
  }

  async flush(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.#queue.length > 0 && this.#client.isReady && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    await this.flush(2000); // give queued writes a moment to reach Redis
    this.#closed = true;
    this.#local.complete();
    this.#remote.complete();
    await Promise.allSettled([this.#subscriber.quit(), this.#client.quit()]);
  }
}
