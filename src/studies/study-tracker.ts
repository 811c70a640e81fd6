import type { Estimate } from '../contracts/estimate.js';
import type { Study } from '../contracts/study.js';
import { type Marker, StimulusClock } from './stimulus-clock.js';

/**
 * Which live sessions are viewers in which study, with each viewer's stimulus clock; it stamps their
 * estimates with the stimulus position of the window's end. Sessions leave it when they end.
 */
export class StudyTracker {
  readonly #viewers = new Map<string, { studyId: string; clock: StimulusClock }>();

  attach(sessionId: string, study: Study): void {
    this.#viewers.set(sessionId, { studyId: study.id, clock: new StimulusClock(study.durationS) });
  }

  detach(sessionId: string): void {
    this.#viewers.delete(sessionId);
  }

  studyOf(sessionId: string): string | undefined {
    return this.#viewers.get(sessionId)?.studyId;
  }

  mark(sessionId: string, marker: Marker): void {
    this.#viewers.get(sessionId)?.clock.add(marker);
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
