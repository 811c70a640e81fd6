import { type Observable, Subject } from 'rxjs';
import type { Estimate } from '../contracts/estimate.js';
import type { HistoryStore, SessionPage, SessionQuery, SessionSummary } from '../history/history-store.js';
import type { Marker } from '../studies/stimulus-clock.js';
import type { Bus } from './bus.js';
import type { BusEvent } from './events.js';

/**
 * The one-node bus: live events through an in-process Subject, history in a local store (SQLite by
 * default, or memory). Each event is stored before it is delivered, so what a subscriber was sent can
 * be read back. A store that fails to write (disk full) does not stop live delivery: the failure is
 * counted and logged, once a minute at most.
 */
export class LocalBus implements Bus {
  readonly store: HistoryStore;
  readonly stats = { writeErrors: 0 };
  readonly #events = new Subject<BusEvent>();
  readonly #onLog: (line: string) => void;
  #loggedAt = 0;

  constructor(store: HistoryStore, onLog: (line: string) => void = () => {}) {
    this.store = store;
    this.#onLog = onLog;
  }

  get events$(): Observable<BusEvent> {
    return this.#events.asObservable();
  }

  publish(event: BusEvent): void {
    this.#store(() => this.store.record(event));
    this.#events.next(event);
  }

  recordMarker(sessionId: string, marker: Marker): void {
    this.#store(() => this.store.recordMarker(sessionId, marker));
  }

  #store(write: () => void): void {
    try {
      write();
    } catch (error) {
      this.stats.writeErrors++;
      if (Date.now() - this.#loggedAt > 60_000) {
        this.#loggedAt = Date.now();
        this.#onLog(`history: write failed (${this.stats.writeErrors} so far): ${(error as Error).message}`);
      }
    }
  }

  sessions(query?: SessionQuery): Promise<SessionPage> {
    return this.store.sessions(query);
  }

  session(id: string): Promise<SessionSummary | undefined> {
    return this.store.session(id);
  }

  estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    return this.store.estimatesAfter(sessionId, afterSeq);
  }

  markers(sessionId: string): Promise<Marker[]> {
    return this.store.markers(sessionId);
  }

  deleteSession(id: string): Promise<boolean> {
    return this.store.deleteSession(id);
  }

  async flush(_deadlineMs: number): Promise<void> {
    // Stored synchronously in publish().
  }

  async close(): Promise<void> {
    this.#events.complete();
    await this.store.close();
  }
}
