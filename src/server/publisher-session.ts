import { EriError } from '../errors.js';
import type { HistoryReader } from '../history/history-store.js';
import type { SessionRegistry } from '../sessions/registry.js';
import type { Session, SessionEvent, SessionInput } from '../sessions/session.js';
import { admitPublisher, type Principal } from './auth.js';
import type { Admission } from './limits.js';
import { type StudyDeps, studyForViewer } from './study-routes.js';

/**
 * A connection's publisher session, whichever transport carries its media (WebRTC signalling or the
 * frame ingest): one sequence for both.
 *
 * claim -> study -> admission (scopes, the token's session count) -> the id is new -> the transport's
 * media -> tracker -> registry start -> events to the connection -> on the end, everything released.
 *
 * - Serialised per connection: a second start while one runs, or after one, is ERI_ERR_INVALID_STATE.
 * - A session id that has history (ended, or live on another node) is refused: two runs' estimates
 *   must never share one id's history, final and resume positions.
 * - Whatever a step took is given back if a later step fails, or if the connection closes meanwhile.
 */

export interface PublisherStart {
  roomId: string;
  sessionId?: string;
  studyId?: string;
}

/** What a transport opens for a session (its media, or edge feature steps), and how it frees it. */
export interface PublisherMedia {
  input: SessionInput;
  release(): void;
}

export interface PublisherDeps {
  principal: Principal;
  admission: Admission;
  registry: SessionRegistry;
  studies: StudyDeps;
  history: Pick<HistoryReader, 'session'>;
}

export class PublisherSession {
  readonly #deps: PublisherDeps;
  readonly #onEvent: (event: SessionEvent) => void;
  #phase: 'idle' | 'starting' | 'live' | 'closed' = 'idle';
  #session: Session | undefined;

  /** `onEvent` gets the session's events (estimates stamped for a study viewer) for the connection. */
  constructor(deps: PublisherDeps, onEvent: (event: SessionEvent) => void) {
    this.#deps = deps;
    this.#onEvent = onEvent;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  /** Read through a getter: `close()` may change the phase while `start` awaits. */
  get #closed(): boolean {
    return this.#phase === 'closed';
  }

  get starting(): boolean {
    return this.#phase === 'starting';
  }

  async start(
    spec: PublisherStart,
    openMedia: (sessionId: string) => Promise<PublisherMedia>,
  ): Promise<Session> {
    if (this.#phase !== 'idle')
      throw new EriError(
        'ERI_ERR_INVALID_STATE',
        this.#phase === 'starting'
          ? 'a session is already being started on this connection'
          : 'this connection already started a session; open another to publish again',
      );
    this.#phase = 'starting';
    const taken: (() => void)[] = [];
    const giveBack = () => {
      for (const release of taken.splice(0).reverse()) release();
    };
    try {
      const d = this.#deps;
      const study = spec.studyId ? await studyForViewer(d.studies, spec.studyId, spec.roomId) : undefined;
      const admitted = admitPublisher(d.principal, d.admission.sessions, spec.roomId, spec.sessionId);
      taken.push(admitted.release);
      const id = admitted.sessionId;
      if (!d.registry.get(id) && (await d.history.session(id)))
        throw new EriError(
          'ERI_ERR_INVALID_STATE',
          `session id ${id} was used before and its history is kept: choose a new id (or DELETE /v1/sessions/${id} first)`,
        );
      const media = await openMedia(id);
      taken.push(media.release);
      if (this.#closed)
        throw new EriError('ERI_ERR_CLOSED', 'the connection closed while its session was being started');
      if (study) {
        d.studies.tracker.attach(id, study);
        taken.push(() => d.studies.tracker.detach(id));
      }
      const session = d.registry.start({
        id,
        roomId: spec.roomId,
        input: media.input,
        ...(study
          ? {
              windowSeconds: study.windowSeconds,
              studyId: study.id,
              stamp: (e) => d.studies.tracker.stamp(e),
            }
          : {}),
      });
      this.#session = session;
      this.#phase = 'live';
      session.events$.subscribe((event) => {
        this.#onEvent(event);
        if (event.type === 'session.ended') giveBack();
      });
      return session;
    } catch (error) {
      giveBack();
      if (this.#phase === 'starting') this.#phase = 'idle';
      throw error;
    }
  }

  /** The connection is gone: a live session ends with `reason` (its final estimate still comes). */
  close(reason: 'client-gone'): void {
    const live = this.#phase === 'live';
    this.#phase = 'closed';
    if (live) this.#session?.end(reason);
  }
}
