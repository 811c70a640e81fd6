import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { BusEvent } from '../bus/events.js';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { Marker } from '../studies/stimulus-clock.js';
import {
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
 * The embedded default's history, on disk in SQLite (better-sqlite3), WAL mode.
 *
 * - Written synchronously in publish order, one transaction per event, before the event reaches any
 *   subscriber: an estimate a subscriber was sent is committed, so it survives the process being killed.
 *   `synchronous=NORMAL` does not fsync each commit: an OS crash or power loss can lose the last ones.
 * - Nothing per session is kept in memory; reads are indexed queries that return pages.
 * - One process per file (an exclusive lock): a second node on the same data dir is refused at start,
 *   rather than both marking each other's sessions lost. Several nodes share Redis instead.
 * - At open, sessions a previous process left running are ended as `node-lost`.
 * - Retention deletes ended sessions in small batches on a timer and before reads.
 */

const SCHEMA_VERSION = 1;
const SWEEP_BATCH = 64;
const SWEEP_EVERY_MS = 60_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  study_id TEXT,
  started_at TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_at TEXT,
  end_reason TEXT,
  ended_ms INTEGER,
  estimates INTEGER NOT NULL DEFAULT 0,
  first_seq INTEGER NOT NULL DEFAULT 0,
  final TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_room ON sessions (room_id, started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS sessions_by_study ON sessions (study_id, started_ms DESC, id DESC)
  WHERE study_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_by_end ON sessions (ended_ms) WHERE ended_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS estimates (
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  estimate TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS markers (
  session_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  marker TEXT NOT NULL,
  PRIMARY KEY (session_id, n)
) WITHOUT ROWID;
`;

interface SessionRow {
  id: string;
  room_id: string;
  study_id: string | null;
  started_at: string;
  started_ms: number;
  ended_at: string | null;
  end_reason: string | null;
  estimates: number;
  first_seq: number;
  final: string | null;
}

function summary(row: SessionRow): SessionSummary {
  return {
    sessionId: row.id,
    roomId: row.room_id,
    ...(row.study_id ? { studyId: row.study_id } : {}),
    startedAt: row.started_at,
    ...(row.ended_at ? { endedAt: row.ended_at } : {}),
    ...(row.end_reason ? { endReason: row.end_reason } : {}),
    estimates: row.estimates,
    firstSeq: row.first_seq,
    ...(row.final ? { final: JSON.parse(row.final) as Estimate } : {}),
  };
}

export class SqliteHistory implements HistoryStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #retentionMs: number;
  readonly #maxEstimates: number;
  readonly #timer: NodeJS.Timeout;
  readonly #write: (event: BusEvent) => void;
  readonly #writeMarker: (sessionId: string, marker: Marker) => void;
  readonly #statements;

  private constructor(path: string, db: Database.Database, options: HistoryOptions) {
    this.path = path;
    this.#db = db;
    this.#retentionMs = (options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS) * 1000;
    this.#maxEstimates = options.maxEstimatesPerSession ?? 100_000;
    const s = {
      ensure: db.prepare(
        'INSERT OR IGNORE INTO sessions (id, room_id, started_at, started_ms) VALUES (?, ?, ?, ?)',
      ),
      started: db.prepare(
        'UPDATE sessions SET started_at = ?, started_ms = ?, study_id = COALESCE(?, study_id) WHERE id = ?',
      ),
      insertEstimate: db.prepare(
        'INSERT OR IGNORE INTO estimates (session_id, seq, estimate) VALUES (?, ?, ?)',
      ),
      counted: db.prepare(
        'UPDATE sessions SET estimates = estimates + 1, final = COALESCE(?, final) WHERE id = ? RETURNING estimates',
      ),
      dropOldest: db.prepare(
        'DELETE FROM estimates WHERE session_id = ? AND seq = (SELECT MIN(seq) FROM estimates WHERE session_id = ?)',
      ),
      trimmed: db.prepare(
        'UPDATE sessions SET estimates = estimates - 1, first_seq = (SELECT MIN(seq) FROM estimates WHERE session_id = ?) WHERE id = ?',
      ),
      ended: db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ?, ended_ms = ? WHERE id = ?'),
      marker: db.prepare(
        'INSERT INTO markers (session_id, n, marker) SELECT ?, COALESCE(MAX(n), -1) + 1, ? FROM markers WHERE session_id = ?',
      ),
      session: db.prepare('SELECT * FROM sessions WHERE id = ?'),
      estimatesAfter: db.prepare(
        'SELECT estimate FROM estimates WHERE session_id = ? AND seq > ? ORDER BY seq',
      ),
      markers: db.prepare('SELECT marker FROM markers WHERE session_id = ? ORDER BY n'),
      expiredIds: db.prepare('SELECT id FROM sessions WHERE ended_ms <= ? ORDER BY ended_ms LIMIT ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteEstimates: db.prepare('DELETE FROM estimates WHERE session_id = ?'),
      deleteMarkers: db.prepare('DELETE FROM markers WHERE session_id = ?'),
    };
    this.#statements = s;
    this.#write = db.transaction((event: BusEvent) => {
      if (event.kind === 'room.aggregate') return;
      const at = event.kind === 'session.started' ? event.at : new Date().toISOString();
      s.ensure.run(event.sessionId, event.roomId, at, startMs(at));
      if (event.kind === 'session.started') {
        s.started.run(event.at, startMs(event.at), event.studyId ?? null, event.sessionId);
      } else if (event.kind === 'estimate') {
        const e = event.estimate;
        if (s.insertEstimate.run(e.sessionId, e.seq, JSON.stringify(e)).changes === 0) return;
        const { estimates } = s.counted.get(e.final ? JSON.stringify(e) : null, e.sessionId) as {
          estimates: number;
        };
        if (estimates > this.#maxEstimates) {
          s.dropOldest.run(e.sessionId, e.sessionId);
          s.trimmed.run(e.sessionId, e.sessionId);
        }
      } else {
        s.ended.run(event.at, event.reason, Date.now(), event.sessionId);
      }
    });
    this.#writeMarker = (sessionId, marker) => {
      s.marker.run(sessionId, JSON.stringify(marker), sessionId);
    };
    this.#timer = setInterval(() => this.#sweep(), SWEEP_EVERY_MS);
    this.#timer.unref();
  }

  /** Opens (or creates) the database at `path`; ERI_ERR_INVALID_STATE if another process holds it. */
  static open(path: string, options: HistoryOptions = {}): SqliteHistory {
    mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 2000 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new EriError(
          'ERI_ERR_INVALID_STATE',
          `history database ${path} has schema ${version}, newer than this server's ${SCHEMA_VERSION}`,
        );
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      // A previous process's live sessions ended when it did.
      const now = Date.now();
      db.prepare(
        "UPDATE sessions SET ended_at = ?, end_reason = 'node-lost', ended_ms = ? WHERE ended_at IS NULL",
      ).run(new Date(now).toISOString(), now);
    } catch (cause) {
      db?.close();
      if (cause instanceof EriError) throw cause;
      const busy = (cause as { code?: string }).code === 'SQLITE_BUSY';
      throw new EriError(
        'ERI_ERR_INVALID_STATE',
        busy
          ? `history database ${path} is in use by another process: one embedded node per ERI_DATA_DIR (several nodes share Redis, REDIS_URL)`
          : `cannot open the history database ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
    return new SqliteHistory(path, db, options);
  }

  record(event: BusEvent): void {
    this.#write(event);
  }

  recordMarker(sessionId: string, marker: Marker): void {
    this.#writeMarker(sessionId, marker);
  }

  /** Deletes up to `batch` sessions past the retention; returns how many. */
  #sweep(batch = SWEEP_BATCH): number {
    const ids = this.#statements.expiredIds.all(Date.now() - this.#retentionMs, batch) as { id: string }[];
    for (const { id } of ids) this.#delete(id);
    return ids.length;
  }

  #delete(id: string): boolean {
    return this.#db.transaction(() => {
      this.#statements.deleteEstimates.run(id);
      this.#statements.deleteMarkers.run(id);
      return this.#statements.deleteSession.run(id).changes > 0;
    })();
  }

  async sessions(query: SessionQuery = {}): Promise<SessionPage> {
    this.#sweep();
    const limit = pageLimit(query);
    const cursor = decodeCursor(query.cursor);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.rooms) {
      where.push('room_id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(query.rooms));
    }
    if (query.studyId !== undefined) {
      where.push('study_id = ?');
      params.push(query.studyId);
    }
    if (cursor) {
      where.push('(started_ms < ? OR (started_ms = ? AND id < ?))');
      params.push(cursor.t, cursor.t, cursor.id);
    }
    const rows = this.#db
      .prepare(
        `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_ms DESC, id DESC LIMIT ?`,
      )
      .all(...params, limit + 1) as SessionRow[];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      sessions: page.map(summary),
      nextCursor: rows.length > limit && last ? encodeCursor({ t: last.started_ms, id: last.id }) : null,
    };
  }

  async session(id: string): Promise<SessionSummary | undefined> {
    this.#sweep();
    const row = this.#statements.session.get(id) as SessionRow | undefined;
    return row ? summary(row) : undefined;
  }

  async estimatesAfter(sessionId: string, afterSeq: number): Promise<Estimate[]> {
    const row = this.#statements.session.get(sessionId) as SessionRow | undefined;
    if (!row) return [];
    if (afterSeq + 1 < row.first_seq) throw historyGone(sessionId, row.first_seq);
    return (this.#statements.estimatesAfter.all(sessionId, afterSeq) as { estimate: string }[]).map(
      (r) => JSON.parse(r.estimate) as Estimate,
    );
  }

  async markers(sessionId: string): Promise<Marker[]> {
    return (this.#statements.markers.all(sessionId) as { marker: string }[]).map(
      (r) => JSON.parse(r.marker) as Marker,
    );
  }

  async deleteSession(id: string): Promise<boolean> {
    return this.#delete(id);
  }

  /** Bytes of the database's pages (what a checkpoint leaves on disk; the WAL comes on top). */
  databaseBytes(): number {
    return (
      (this.#db.pragma('page_count', { simple: true }) as number) *
      (this.#db.pragma('page_size', { simple: true }) as number)
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.#db.open) return;
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#db.close();
  }
}
