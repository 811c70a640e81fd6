import type { Estimate } from '../contracts/estimate.js';
import type { Study } from '../contracts/study.js';
import { EriError } from '../errors.js';
import { type Marker, StimulusClock } from './stimulus-clock.js';

/** Markers kept per viewer: a player emits a few per minute. */
const MAX_MARKERS = 10_000;

/**
 * Which live sessions are viewers in which study, with each viewer's stimulus clock; it stamps their
 * estimates with the stimulus position of the window's end. Sessions leave it when they end.
 */
export class StudyTracker {
  readonly #viewers = new Map<string, { studyId: string; clock: StimulusClock }>();
  readonly #keep: (sessionId: string, marker: Marker) => void;

  /** `keep` stores each accepted marker with the session's history. */
  constructor(keep: (sessionId: string, marker: Marker) => void = () => {}) {
    this.#keep = keep;
  }

  attach(sessionId: string, study: Study): void {
    this.#viewers.set(sessionId, { studyId: study.id, clock: new StimulusClock(study.durationS) });
  }

  detach(sessionId: string): void {
    this.#viewers.delete(sessionId);
  }

  studyOf(sessionId: string): string | undefined {
    return this.#viewers.get(sessionId)?.studyId;
  }

  /** Records a marker; a viewer past MAX_MARKERS gets ERI_ERR_LIMIT (a player emits a few per minute). */
  mark(sessionId: string, marker: Marker): void {
    const viewer = this.#viewers.get(sessionId);
    if (!viewer) return;
    if (viewer.clock.markers.length >= MAX_MARKERS)
      throw new EriError('ERI_ERR_LIMIT', `at most ${MAX_MARKERS} stimulus markers per viewer`);
    viewer.clock.add(marker);
    this.#keep(sessionId, marker);
  }

  /** The estimate with its stimulus position, when its session is a viewer in a study. */
  stamp(estimate: Estimate): Estimate {
    const viewer = this.#viewers.get(estimate.sessionId);
    if (!viewer) return estimate;
    // The final estimate spans the whole viewing: it has no single stimulus position.
    const position = estimate.final ? null : viewer.clock.positionAt(estimate.windowEnd);
    return {
      ...estimate,
      stimulus: { studyId: viewer.studyId, position: position === null ? null : Number(position.toFixed(3)) },
    };
  }
}
