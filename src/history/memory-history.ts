import type { BusEvent } from '../bus/events.js';
import type { Estimate } from '../contracts/estimate.js';
import type { Marker } from '../studies/stimulus-clock.js';
import {
  afterCursor,
  DEFAULT_RETENTION_SECONDS,
  decodeCursor,
  encodeCursor,
  type HistoryOptions,
  type HistoryStore,
  historyGone,
  pageLimit,
  type SessionPage,
  type SessionQuery,
  type SessionSummary,
  startMs,
} from './history-store.js';

/**
 * History in this process's memory only (`ERI_HISTORY=memory`, tests, benches): lost on restart. Every
 * estimate of a session is kept up to `maxEstimatesPerSession` (the oldest go first, and a resume from
 * before them is refused with ERI_ERR_HISTORY_GONE), for up to `maxSessions` sessions (the
 * longest-ended go first).
 */

interface Kept {
  summary: SessionSummary;
  t: number;
  estimates: Estimate[];
  markers: Marker[];
  endedMs?: number;
}

export class MemoryHistory implements HistoryStore {
  readonly #sessions = new Map<string, Kept>();
  readonly #maxEstimates: number;
  readonly #maxSessions: number;
  readonly #retentionMs: number;

  constructor(options: HistoryOptions & { maxSessions?: number } = {}) {
    this.#retentionMs = (options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS) * 1000;
    this.#maxEstimates = options.maxEstimatesPerSession ?? 7200;
    this.#maxSessions = options.maxSessions ?? 1000;
  }

  record(event: BusEvent): void {
    if (event.kind === 'room.aggregate') return;
    this.#expire();
    let kept = this.#sessions.get(event.sessionId);
    if (!kept) {
      const startedAt = event.kind === 'session.started' ? event.at : new Date().toISOString();
      kept = {
        summary: { sessionId: event.sessionId, roomId: event.roomId, startedAt, estimates: 0, firstSeq: 0 },
        t: startMs(startedAt),
        estimates: [],
        markers: [],
      };
      this.#sessions.set(event.sessionId, kept);
      this.#evict();
    }
    const s = kept.summary;
    if (event.kind === 'session.started' && event.studyId) s.studyId = event.studyId;
    if (event.kind === 'estimate') {
      kept.estimates.push(event.estimate);
      if (event.estimate.final) s.final = event.estimate;
      if (kept.estimates.length > this.#maxEstimates) kept.estimates.shift();
      s.estimates = kept.estimates.length;
      s.firstSeq = kept.estimates[0]?.seq ?? 0;
    }
    if (event.kind === 'session.ended') {
      s.endedAt = event.at;
      s.endReason = event.reason;
      kept.endedMs = Date.now();
    }
  }

  recordMarker(sessionId: string, marker: Marker): void {
    this.#sessions.get(sessionId)?.markers.push(marker);
  }

  #evict(): void {
    while (this.#sessions.size > this.#maxSessions) {
      let victim: Kept | undefined;
      for (const k of this.#sessions.values())
        if (k.endedMs !== undefined && (!victim || k.endedMs < (victim.endedMs ?? 0))) victim = k;
      victim ??= this.#sessions.values().next().value;
      if (!victim) return;
      this.#sessions.delete(victim.summary.sessionId);
    }
  }

  /** Forgets ended sessions older than the retention (on every access: no timer to leak). */
  #expire(): void {
    const cutoff = Date.now() - this.#retentionMs;
    for (const [id, k] of this.#sessions)
      if (k.endedMs !== undefined && k.endedMs <= cutoff) this.#sessions.delete(id);
  }

  async sessions(query: SessionQuery = {}): Promise<SessionPage> {
    this.#expire();
    const limit = pageLimit(query);
    const cursor = decodeCursor(query.cursor);
    const matching = [...this.#sessions.values()]
      .filter(
        (k) =>
          (!query.rooms || query.rooms.includes(k.summary.roomId)) &&
          (!query.studyId || k.summary.studyId === query.studyId) &&
          afterCursor({ t: k.t, id: k.summary.sessionId }, cursor),
      )
      .sort((a, b) => b.t - a.t || (a.summary.sessionId < b.summary.sessionId ? 1 : -1));
    const page = matching.slice(0, limit);
    const last = page.at(-1);
    return {
      sessions: page.map((k) => ({ ...k.summary })),
      nextCursor:
        matching.length > limit && last ? encodeCursor({ t: last.t, id: last.summary.sessionId }) : null,
    };
  }

  async session(id: string): Promise<SessionSummary | undefined> {
    this.#expire();
    const kept = this.#sessions.get(id);
    return kept ? { ...kept.summary } : undefined;
  }

  async estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    const kept = this.#sessions.get(sessionId);
    if (!kept) return [];
    if (afterSeq + 1 < kept.summary.firstSeq) throw historyGone(sessionId, kept.summary.firstSeq);
    return kept.estimates.filter((e) => e.seq > afterSeq);
  }

  async markers(sessionId: string): Promise<Marker[]> {
    return [...(this.#sessions.get(sessionId)?.markers ?? [])];
  }

  async deleteSession(id: string): Promise<boolean> {
    return this.#sessions.delete(id);
  }

  async close(): Promise<void> {}
}
