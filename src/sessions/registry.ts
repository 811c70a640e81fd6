import { type Observable, Subject } from 'rxjs';
import type { InferenceBatcher } from '../../streams/inference-batcher.js';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { FeaturePool } from '../features/pool.js';
import type { EndReason, SessionInput, SessionObserver } from './session.js';
import { Session, type SessionEvent } from './session.js';

/**
 * The sessions of one server: creation (with admission by count), the shared feature pool and model
 * batcher, one stream of every session's events, and removal when a session ends.
 */

export interface RegistryOptions {
  pool: FeaturePool;
  batcher: InferenceBatcher;
  model: string;
  rateHz: number;
  frameSize: { width: number; height: number };
  windowSeconds: number;
  strideSeconds: number;
  alignWaitMs: number;
  maxSessions: number;
  /** Told of every session's steps (the server's metrics). */
  observer?: SessionObserver;
}

export interface NewSession {
  id: string;
  roomId: string;
  input: SessionInput;
  /** W for this session (a study's viewers use a shorter one); default: the server's. */
  windowSeconds?: number;
  /** The study the publisher is a viewer in, kept with the session's history. */
  studyId?: string;
  /** Applied to every estimate before anyone gets it (see SessionOptions). */
  stamp?: (estimate: Estimate) => Estimate;
}

export class SessionRegistry {
  #admitting = true;
  readonly #o: RegistryOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #events = new Subject<SessionEvent>();

  constructor(options: RegistryOptions) {
    this.#o = options;
  }

  /** Every event of every session, as it happens. */
  get events$(): Observable<SessionEvent> {
    return this.#events.asObservable();
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  list(): Session[] {
    return [...this.#sessions.values()];
  }

  /** Creates and starts a session. Refused when the id is live or the server is full. */
  start(spec: NewSession): Session {
    if (!this.#admitting)
      throw new EriError('ERI_ERR_CLOSED', 'the server is shutting down: no new sessions');
    if (this.#sessions.has(spec.id))
      throw new EriError('ERI_ERR_INVALID_STATE', `session ${spec.id} is already live`);
    if (this.#sessions.size >= this.#o.maxSessions) {
      throw new EriError('ERI_ERR_LIMIT', `this server is at capacity (${this.#o.maxSessions} sessions)`);
    }
    const o = this.#o;
    const session = new Session({
      ...spec,
      input:
        spec.input.mode === 'server' ? { ...spec.input, frameSize: o.frameSize, pool: o.pool } : spec.input,
      batcher: o.batcher,
      model: o.model,
      rateHz: o.rateHz,
      windowSeconds: spec.windowSeconds ?? o.windowSeconds,
      strideSeconds: o.strideSeconds,
      maxWaitMs: o.alignWaitMs,
      ...(o.observer ? { observer: o.observer } : {}),
    });
    this.#sessions.set(spec.id, session);
    session.events$.subscribe({
      next: (e) => {
        if (e.type === 'session.ended') this.#sessions.delete(spec.id);
        this.#events.next(e.type === 'session.ended' ? { ...e, stats: session.stats } : e);
      },
    });
    session.start();
    return session;
  }

  /**
   * Ends every session (normal end: each emits its final estimate) and resolves once all have ended, or
   * after `deadlineMs`, whichever comes first.
   */
  /** From now on `start` refuses (shutdown). */
  stopAdmitting(): void {
    this.#admitting = false;
  }

  async endAll(deadlineMs = 5000, reason: EndReason = 'normal'): Promise<void> {
    const sessions = [...this.#sessions.values()];
    const ended = sessions.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.state === 'ended') return resolve();
          s.events$.subscribe({ complete: () => resolve() });
        }),
    );
    for (const s of sessions) s.end(reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ended), new Promise((r) => (timer = setTimeout(r, deadlineMs)))]);
    clearTimeout(timer);
  }
}
