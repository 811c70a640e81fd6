import { z } from 'zod';
import type { BusEvent } from '../bus/events.js';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { Marker } from '../studies/stimulus-clock.js';

/**
 * Session history: what a store keeps of each session (its metadata, its estimates and final, a study
 * viewer's stimulus markers) and how it is read back. Reads scale with what they return: a session
 * list is a page of metadata, never anyone's estimates.
 */

export interface SessionSummary {
  sessionId: string;
  roomId: string;
  /** The study the session was a viewer in, if any. */
  studyId?: string;
  startedAt: string;
  endedAt?: string;
  endReason?: string;
  /** Estimates kept (running and final). */
  estimates: number;
  /** seq of the oldest kept estimate (older ones went to the per-session bound). */
  firstSeq: number;
  final?: Estimate;
}

export interface SessionQuery {
  /** Only these rooms' sessions. */
  rooms?: readonly string[];
  /** Only this study's viewers. */
  studyId?: string;
  /** Page size; default and bound in SESSION_PAGE. */
  limit?: number;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: string;
}

export interface SessionPage {
  /** Newest first (by start time, then session id). */
  sessions: SessionSummary[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

export const SESSION_PAGE = { default: 100, max: 1000 } as const;

/** The history side of a bus (embedded store or Redis). */
export interface HistoryReader {
  sessions(query?: SessionQuery): Promise<SessionPage>;
  session(id: string): Promise<SessionSummary | undefined>;
  /** Estimates of a session with seq > afterSeq, in seq order; ERI_ERR_HISTORY_GONE if some were dropped. */
  estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]>;
  /** A study viewer's stimulus markers, in arrival order. */
  markers(sessionId: string): Promise<Marker[]>;
  deleteSession(id: string): Promise<boolean>;
}

/** A store the embedded bus writes into synchronously, in publish order. */
export interface HistoryStore extends HistoryReader {
  record(event: BusEvent): void;
  recordMarker(sessionId: string, marker: Marker): void;
  close(): Promise<void>;
}

export interface HistoryOptions {
  /** Ended sessions are forgotten this long after their end (privacy); default 7 days. */
  retentionSeconds?: number;
  maxEstimatesPerSession?: number;
}

export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;

/** The page size a query asks for, checked against SESSION_PAGE. */
export function pageLimit(query: SessionQuery): number {
  const limit = query.limit ?? SESSION_PAGE.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > SESSION_PAGE.max)
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `limit must be an integer from 1 to ${SESSION_PAGE.max}`);
  return limit;
}

/** A position in the newest-first order: start time (ms) and session id. */
export interface PagePosition {
  t: number;
  id: string;
}

const positionSchema = z.tuple([z.number().int(), z.string().min(1).max(256)]);

export function encodeCursor(p: PagePosition): string {
  return Buffer.from(JSON.stringify([p.t, p.id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): PagePosition | undefined {
  if (cursor === undefined) return undefined;
  try {
    if (cursor.length > 512) throw new Error('too long');
    const [t, id] = positionSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { t, id };
  } catch {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'cursor is not one this server returned');
  }
}

/** Whether `p` comes after the cursor in the newest-first order. */
export function afterCursor(p: PagePosition, cursor: PagePosition | undefined): boolean {
  return !cursor || p.t < cursor.t || (p.t === cursor.t && p.id < cursor.id);
}

export function startMs(at: string): number {
  const t = Date.parse(at);
  return Number.isFinite(t) ? t : Date.now();
}

/** A resume from before the kept estimates: refused, with where the history now starts. */
export function historyGone(sessionId: string, firstSeq: number): EriError {
  const error = new EriError(
    'ERI_ERR_HISTORY_GONE',
    `session ${sessionId}: estimates before seq ${firstSeq} are no longer kept; resume from ${firstSeq - 1} or later`,
  );
  (error as EriError & { firstAvailableSeq?: number }).firstAvailableSeq = firstSeq;
  return error;
}
