import type { Observable } from 'rxjs';
import type { HistoryReader } from '../history/history-store.js';
import type { Marker } from '../studies/stimulus-clock.js';
import type { BusEvent } from './events.js';

/**
 * Where estimates and session events go: delivered live to this node's subscribers (`events$`) and kept
 * as history for REST and resumes. History reads are asynchronous (Redis answers over the network).
 */
export interface Bus extends HistoryReader {
  publish(event: BusEvent): void;
  readonly events$: Observable<BusEvent>;
  /** Keeps a study viewer's stimulus marker with its session's history (not delivered live). */
  recordMarker(sessionId: string, marker: Marker): void;
  /** Resolves once everything published so far is stored (or `deadlineMs` passed). */
  flush(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}
