import type { Subscription } from 'rxjs';
import type { Bus } from '../bus/bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import type { Estimate } from '../contracts/estimate.js';

/**
 * The audience of each room: every `intervalMs`, the mean and spread (population standard deviation) of
 * each emotion across the room's live viewers' latest running estimates, and how many viewers that is.
 * Published on the bus as `room.aggregate`. A viewer counts until its session ends or its latest estimate
 * is older than `staleMs`.
 */

export interface AggregatorOptions {
  intervalMs: number;
  staleMs?: number;
  /** With several nodes: true for the one node that publishes this room's aggregate this interval. */
  claim?: (roomId: string, intervalMs: number) => Promise<boolean>;
}

export function aggregate(values: readonly (readonly number[])[]): { mean: number[]; std: number[] } {
  const n = values.length;
  const mean = EMOTIONS.map((_, i) => values.reduce((s, v) => s + (v[i] ?? 0), 0) / Math.max(1, n));
  const std = EMOTIONS.map((_, i) =>
    Math.sqrt(values.reduce((s, v) => s + ((v[i] ?? 0) - (mean[i] ?? 0)) ** 2, 0) / Math.max(1, n)),
  );
  return { mean, std };
}

export class RoomAggregator {
  readonly #bus: Bus;
  readonly #latest = new Map<string, Map<string, { estimate: Estimate; at: number }>>();
  readonly #subscription: Subscription;
  readonly #timer: NodeJS.Timeout;
  readonly #staleMs: number;
  readonly #o: AggregatorOptions;

  constructor(bus: Bus, options: AggregatorOptions) {
    this.#bus = bus;
    this.#o = options;
    this.#staleMs = options.staleMs ?? options.intervalMs * 5;
    this.#subscription = bus.events$.subscribe((event) => {
      if (event.kind === 'estimate' && !event.estimate.final) {
        let room = this.#latest.get(event.roomId);
        if (!room) {
          room = new Map();
          this.#latest.set(event.roomId, room);
        }
        room.set(event.sessionId, { estimate: event.estimate, at: Date.now() });
      }
      if (event.kind === 'session.ended') this.#latest.get(event.roomId)?.delete(event.sessionId);
    });
    this.#timer = setInterval(() => {
      this.#emit().catch(() => {});
    }, options.intervalMs);
  }

  async #emit(): Promise<void> {
    const now = Date.now();
    for (const [roomId, viewers] of this.#latest) {
      for (const [id, v] of viewers) if (now - v.at > this.#staleMs) viewers.delete(id);
      if (viewers.size === 0) {
        this.#latest.delete(roomId);
        continue;
      }
      if (this.#o.claim && !(await this.#o.claim(roomId, this.#o.intervalMs))) continue;
      const { mean, std } = aggregate([...viewers.values()].map((v) => v.estimate.values));
      this.#bus.publish({
        kind: 'room.aggregate',
        roomId,
        aggregate: {
          roomId,
          at: new Date(now).toISOString(),
          viewers: viewers.size,
          mean,
          std,
          emotions: EMOTIONS,
        },
      });
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#subscription.unsubscribe();
  }
}
