import { type Observable, Subject } from 'rxjs';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { BusEvent } from './events.js';

/**
 * The embedded bus: live events through an in-process Subject and a bounded in-memory history. Every
 * estimate of a session is kept up to `maxEstimatesPerSession` (the oldest go first, and a resume from
 * before them is refused with ERI_ERR_HISTORY_GONE rather than silently skipping), for up to
 * `maxSessions` sessions (the longest-ended go first).
 */

export interface SessionRecord {
  sessionId: string;
  roomId: string;
  startedAt: string;
  endedAt?: string;
  endReason?: string;
  /** Running and final estimates, in seq order. */
  estimates: Estimate[];
  /** seq of estimates[0] (estimates before it were dropped by the bound). */
  firstSeq: number;
  final?: Estimate;
}

export interface HistoryOptions {
  /** Ended sessions are forgotten this long after their end (privacy); default 7 days. */
  retentionSeconds?: number;
  maxEstimatesPerSession?: number;
  maxSessions?: number;
}

/**
 * Where estimates and session events go: delivered live to this node's subscribers (`events$`) and kept
 * as history for REST and resumes. History reads are asynchronous (Redis answers over the network).
 */
export interface SessionFilter {
  rooms?: readonly string[];
}

export interface Bus {
  publish(event: BusEvent): void;
  readonly events$: Observable<BusEvent>;
  /** Sessions in history; with `rooms`, only theirs (with Redis, others' estimates are then not read). */
  sessions(filter?: SessionFilter): Promise<SessionRecord[]>;
  session(id: string): Promise<SessionRecord | undefined>;
  /** Estimates of a session with seq > afterSeq; rejects with ERI_ERR_HISTORY_GONE if some were dropped. */
  estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]>;
  deleteSession(id: string): Promise<boolean>;
  /** Resolves once everything published so far is stored (or `deadlineMs` passed). */
  flush(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The kept estimates after `afterSeq`, or ERI_ERR_HISTORY_GONE when some after it were dropped. */
export function estimatesAfterSeq(
  sessionId: string,
  kept: readonly Estimate[],
  afterSeq: number,
): Estimate[] {
  const firstSeq = kept[0]?.seq ?? 0;
  if (afterSeq + 1 < firstSeq) {
    const error = new EriError(
      'ERI_ERR_HISTORY_GONE',
      `session ${sessionId}: estimates before seq ${firstSeq} are no longer kept; resume from ${firstSeq - 1} or later`,
    );
    (error as EriError & { firstAvailableSeq?: number }).firstAvailableSeq = firstSeq;
    throw error;
  }
  return kept.filter((e) => e.seq > afterSeq);
}

export class MemoryBus implements Bus {
  readonly #events = new Subject<BusEvent>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #maxEstimates: number;
  readonly #maxSessions: number;
  readonly #retentionMs: number;
  /** Ended sessions by end time (ms), oldest first: what retention forgets. */
  readonly #ended = new Map<string, number>();

  constructor(options: HistoryOptions = {}) {
    this.#retentionMs = (options.retentionSeconds ?? 7 * 24 * 3600) * 1000;
    this.#maxEstimates = options.maxEstimatesPerSession ?? 7200;
    this.#maxSessions = options.maxSessions ?? 1000;
  }

  get events$(): Observable<BusEvent> {
    return this.#events.asObservable();
  }

  publish(event: BusEvent): void {
    this.#expire();
    this.#record(event);
    this.#events.next(event);
  }

  #record(event: BusEvent): void {
    if (event.kind === 'room.aggregate') return;
    let record = this.#sessions.get(event.sessionId);
    if (!record) {
      record = {
        sessionId: event.sessionId,
        roomId: event.roomId,
        startedAt: event.kind === 'session.started' ? event.at : new Date().toISOString(),
        estimates: [],
        firstSeq: 0,
      };
      this.#sessions.set(event.sessionId, record);
      this.#evict();
    }
    if (event.kind === 'estimate') {
      record.estimates.push(event.estimate);
      if (event.estimate.final) record.final = event.estimate;
      if (record.estimates.length > this.#maxEstimates) {
        record.estimates.shift();
        record.firstSeq = record.estimates[0]?.seq ?? record.firstSeq;
      }
    }
    if (event.kind === 'session.ended') {
      record.endedAt = event.at;
      record.endReason = event.reason;
      this.#ended.set(event.sessionId, Date.now());
    }
  }

  #evict(): void {
    while (this.#sessions.size > this.#maxSessions) {
      const ended = [...this.#sessions.values()]
        .filter((s) => s.endedAt)
        .sort((a, b) => String(a.endedAt).localeCompare(String(b.endedAt)));
      const victim = ended[0] ?? this.#sessions.values().next().value;
      if (!victim) return;
      this.#sessions.delete(victim.sessionId);
    }
  }

  /** Forgets ended sessions older than the retention (checked on every access: no timer to leak). */
  #expire(): void {
    const cutoff = Date.now() - this.#retentionMs;
    for (const [id, endedAt] of this.#ended) {
      if (endedAt > cutoff) break;
      this.#ended.delete(id);
      this.#sessions.delete(id);
    }
  }

  async sessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    this.#expire();
    const all = [...this.#sessions.values()];
    return filter.rooms ? all.filter((r) => filter.rooms?.includes(r.roomId)) : all;
  }

  async session(id: string): Promise<SessionRecord | undefined> {
    this.#expire();
    return this.#sessions.get(id);
  }

  async estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    const record = this.#sessions.get(sessionId);
    if (!record) return [];
    if (afterSeq + 1 < record.firstSeq) {
      const error = new EriError(
        'ERI_ERR_HISTORY_GONE',
        `session ${sessionId}: estimates before seq ${record.firstSeq} are no longer kept; resume from ${record.firstSeq - 1} or later`,
      );
      (error as EriError & { firstAvailableSeq?: number }).firstAvailableSeq = record.firstSeq;
      throw error;
    }
    return record.estimates.filter((e) => e.seq > afterSeq);
  }

  async deleteSession(id: string): Promise<boolean> {
    this.#ended.delete(id);
    return this.#sessions.delete(id);
  }

  async flush(_deadlineMs: number): Promise<void> {
    // Stored synchronously in publish().
  }

  async close(): Promise<void> {
    this.#events.complete();
  }
}
