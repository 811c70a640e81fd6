import { randomUUID } from 'node:crypto';
import { createClient, type RedisClientType } from 'redis';
import { merge, type Observable, Subject } from 'rxjs';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import {
  afterCursor,
  decodeCursor,
  encodeCursor,
  historyGone,
  type PagePosition,
  pageLimit,
  type SessionPage,
  type SessionQuery,
  type SessionSummary,
  startMs,
} from '../history/history-store.js';
import type { Marker } from '../studies/stimulus-clock.js';
import type { Bus } from './bus.js';
import type { BusEvent } from './events.js';

/**
 * The multi-node bus on Redis (the official node-redis client).
 *
 * - History: a Redis Stream per session (`eri:stream:<id>`, XADD with MAXLEN ~ `maxEstimatesPerSession`),
 *   a hash of its metadata (`eri:meta:<id>`), a list of a study viewer's markers (`eri:markers:<id>`) and
 *   indexes of sessions by start time: all of them (`eri:sessions`), per room and per study. Resumes and
 *   REST read from there, so a subscriber on node B resumes a session that runs on node A.
 * - Every key is bounded: a session's keys expire `retentionSeconds` after its end, and a day past that
 *   after its last write if no end ever comes; the indexes keep the newest MAX_INDEXED, expire with their
 *   last member, and drop members whose session expired when a read or the sweep meets them.
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

/** The longest a node waits between attempts to reach Redis again. */
export const MAX_RECONNECT_DELAY_MS = 5000;

const CHANNEL = 'eri:events';
const SESSIONS = 'eri:sessions';
const streamKey = (id: string) => `eri:stream:${id}`;
const metaKey = (id: string) => `eri:meta:${id}`;
const markersKey = (id: string) => `eri:markers:${id}`;
const roomIndex = (room: string) => `eri:room-sessions:${room}`;
const studyIndex = (study: string) => `eri:study-sessions:${study}`;
/** Sessions each index keeps (the newest). */
const MAX_INDEXED = 100_000;
/** How long a session that never ended (its node died unseen) outlives its last write. */
const UNENDED_GRACE_SECONDS = 24 * 3600;
/** How long a node run's last-write number outlives its last write: longer than any outage it rides out. */
const WRITTEN_KEY_TTL_SECONDS = 7 * 24 * 3600;
/** Markers kept per viewer, as the tracker accepts them. */
const MAX_MARKERS = 10_000;

interface QueuedWrite {
  event: BusEvent;
  /** Its place in this node run's write order. */
  n: number;
  /** Sent at least once: before a retry, Redis is asked whether it ran. */
  tried: boolean;
}

export class RedisBus implements Bus {
  readonly #o: Required<Omit<RedisBusOptions, 'onLog'>> & { onLog: (line: string) => void };
  readonly #client: RedisClientType;
  readonly #subscriber: RedisClientType;
  readonly #local = new Subject<BusEvent>();
  readonly #remote = new Subject<BusEvent>();
  readonly #queue: QueuedWrite[] = [];
  /**
   * Writes are numbered in queue order, and each transaction also sets this node run's key to its
   * number. A write whose reply was lost (Redis went away between running the transaction and
   * answering) is retried only if the key says it did not run: no duplicate in a session's stream.
   */
  readonly #writtenKey = `eri:written:${randomUUID()}`;
  #nextWrite = 0;
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
    const reconnectStrategy = (retries: number) =>
      Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.min(retries, 6));
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
    this.#queue.push({ event, n: this.#nextWrite++, tried: false });
    this.stats.buffered = this.#queue.length;
    this.#pump();
  }

  /** Writes queued events in order, one at a time; stops at the first failure and waits for 'ready'. */
  #pump(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    (async () => {
      while (this.#queue.length > 0 && this.#client.isReady) {
        const write = this.#queue[0] as QueuedWrite;
        try {
          if (!write.tried || !(await this.#ran(write))) {
            write.tried = true;
            await this.#write(write);
          }
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

  /** Whether a write that was sent already ran (its transaction set the key to its number or later). */
  async #ran(write: QueuedWrite): Promise<boolean> {
    return Number((await this.#client.get(this.#writtenKey)) ?? -1) >= write.n;
  }

  async #write({ event, n }: QueuedWrite): Promise<void> {
    const multi = this.#client.multi();
    const payload = JSON.stringify({ origin: this.#o.nodeId, event });
    if (event.kind !== 'room.aggregate') {
      const id = event.sessionId;
      multi.xAdd(
        streamKey(id),
        '*',
        { e: JSON.stringify(event) },
        { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.#o.maxEstimatesPerSession } },
      );
      if (event.kind === 'session.started') {
        multi.hSet(metaKey(id), {
          roomId: event.roomId,
          startedAt: event.at,
          owner: this.#o.nodeId,
          ...(event.studyId ? { studyId: event.studyId } : {}),
        });
        const t = startMs(event.at);
        this.#index(multi, SESSIONS, t, id);
        this.#index(multi, roomIndex(event.roomId), t, id);
        if (event.studyId) this.#index(multi, studyIndex(event.studyId), t, id);
      } else if (event.kind === 'estimate') {
        multi.hSetNX(metaKey(id), 'roomId', event.roomId);
        multi.zAdd(SESSIONS, { score: Date.now(), value: id }, { NX: true });
        multi.zAdd(roomIndex(event.roomId), { score: Date.now(), value: id }, { NX: true });
        if (event.estimate.final) multi.hSet(metaKey(id), 'final', JSON.stringify(event.estimate));
      } else {
        multi.hSet(metaKey(id), { endedAt: event.at, endReason: event.reason });
      }
      const ttl =
        event.kind === 'session.ended'
          ? this.#o.retentionSeconds
          : this.#o.retentionSeconds + UNENDED_GRACE_SECONDS;
      for (const key of [streamKey(id), metaKey(id), markersKey(id)]) multi.expire(key, ttl);
    }
    multi.publish(CHANNEL, payload);
    multi.set(this.#writtenKey, String(n), { EX: WRITTEN_KEY_TTL_SECONDS });
    await multi.exec();
  }

  /** Adds to an index, keeps it to its newest MAX_INDEXED, and lets it expire with its newest member. */
  #index(multi: ReturnType<RedisClientType['multi']>, key: string, t: number, id: string): void {
    multi.zAdd(key, { score: t, value: id });
    multi.zRemRangeByRank(key, 0, -MAX_INDEXED - 1);
    multi.expire(key, this.#o.retentionSeconds + UNENDED_GRACE_SECONDS);
  }

  recordMarker(sessionId: string, marker: Marker): void {
    this.#client
      .multi()
      .rPush(markersKey(sessionId), JSON.stringify(marker))
      .lTrim(markersKey(sessionId), -MAX_MARKERS, -1)
      .expire(markersKey(sessionId), this.#o.retentionSeconds + UNENDED_GRACE_SECONDS)
      .exec()
      .catch((error: Error) => this.#o.onLog(`redis: a stimulus marker was not stored: ${error.message}`));
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

  #summary(
    id: string,
    meta: Record<string, string>,
    { estimates, firstSeq }: { estimates: number; firstSeq: number },
  ): SessionSummary {
    return {
      sessionId: id,
      roomId: meta.roomId ?? '',
      ...(meta.studyId ? { studyId: meta.studyId } : {}),
      startedAt: meta.startedAt ?? '',
      ...(meta.endedAt ? { endedAt: meta.endedAt } : {}),
      ...(meta.endReason ? { endReason: meta.endReason } : {}),
      estimates,
      firstSeq,
      ...(meta.final ? { final: JSON.parse(meta.final) as Estimate } : {}),
    };
  }

  /**
   * Up to `want` index entries after the cursor, newest first. Equal start times are ordered by id
   * (descending) by Redis itself, so the scan from the cursor's time skips only what it already gave.
   */
  async #indexPage(key: string, cursor: PagePosition | undefined, want: number): Promise<PagePosition[]> {
    const out: PagePosition[] = [];
    for (let offset = 0; out.length < want; ) {
      const batch = await this.#client.zRangeWithScores(key, cursor ? cursor.t : '+inf', '-inf', {
        BY: 'SCORE',
        REV: true,
        LIMIT: { offset, count: want },
      });
      for (const { value, score } of batch) {
        const p = { t: score, id: value };
        if (afterCursor(p, cursor) && out.length < want) out.push(p);
      }
      if (batch.length < want) break;
      offset += batch.length;
    }
    return out;
  }

  async sessions(query: SessionQuery = {}): Promise<SessionPage> {
    const limit = pageLimit(query);
    const cursor = decodeCursor(query.cursor);
    const keys = query.studyId
      ? [studyIndex(query.studyId)]
      : query.rooms
        ? [...new Set(query.rooms)].slice(0, 100).map(roomIndex)
        : [SESSIONS];
    const merged = (await Promise.all(keys.map((k) => this.#indexPage(k, cursor, limit + 1))))
      .flat()
      .sort((a, b) => b.t - a.t || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const page = merged.slice(0, limit);
    // One round trip's worth of waiting for the page, not one per session.
    const read = await Promise.all(
      page.map(async (p): Promise<SessionSummary | undefined> => {
        const meta = await this.#client.hGetAll(metaKey(p.id));
        if (!meta.roomId) {
          // Expired or deleted: the indexes forget it now.
          const multi = this.#client.multi().zRem(SESSIONS, p.id);
          for (const key of keys) multi.zRem(key, p.id);
          await multi.exec();
          return undefined;
        }
        if (query.rooms && !query.rooms.includes(meta.roomId)) return undefined;
        if (query.studyId && meta.studyId !== query.studyId) return undefined;
        return this.#summary(p.id, meta, await this.#kept(p.id, meta));
      }),
    );
    const sessions = read.filter((s): s is SessionSummary => s !== undefined);
    const last = page.at(-1);
    return { sessions, nextCursor: merged.length > limit && last ? encodeCursor(last) : null };
  }

  /**
   * How many estimates a session's stream keeps and the oldest one's seq, without reading them all: the
   * stream also holds its start (until trimmed) and its end.
   */
  async #kept(id: string, meta: Record<string, string>): Promise<{ estimates: number; firstSeq: number }> {
    const [length, head] = await Promise.all([
      this.#client.xLen(streamKey(id)),
      this.#client.xRange(streamKey(id), '-', '+', { COUNT: 2 }),
    ]);
    let others = meta.endedAt ? 1 : 0;
    for (const entry of head) {
      const event = JSON.parse(String(entry.message.e)) as BusEvent;
      if (event.kind === 'estimate')
        return { estimates: Math.max(0, length - others), firstSeq: event.estimate.seq };
      others++;
    }
    return { estimates: 0, firstSeq: 0 };
  }

  async session(id: string): Promise<SessionSummary | undefined> {
    const meta = await this.#client.hGetAll(metaKey(id));
    if (!meta.roomId) return undefined;
    return this.#summary(id, meta, await this.#kept(id, meta));
  }

  async estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    const kept = await this.#estimates(sessionId);
    const firstSeq = kept[0]?.seq ?? 0;
    if (afterSeq + 1 < firstSeq) throw historyGone(sessionId, firstSeq);
    return kept.filter((e) => e.seq > afterSeq);
  }

  async markers(sessionId: string): Promise<Marker[]> {
    return (await this.#client.lRange(markersKey(sessionId), 0, -1)).map((m) => JSON.parse(m) as Marker);
  }

  async deleteSession(id: string): Promise<boolean> {
    const meta = await this.#client.hGetAll(metaKey(id));
    const multi = this.#client
      .multi()
      .del([streamKey(id), metaKey(id), markersKey(id)])
      .zRem(SESSIONS, id);
    if (meta.roomId) multi.zRem(roomIndex(meta.roomId), id);
    if (meta.studyId) multi.zRem(studyIndex(meta.studyId), id);
    const [removed] = await multi.exec();
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
