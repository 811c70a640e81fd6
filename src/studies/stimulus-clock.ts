import type { MarkerEvent } from '../contracts/study.js';

/**
 * A viewer's stimulus clock: markers (event, stimulus position, the viewer's media time when it
 * happened) turned into "where in the stimulus was this viewer at media time t". Playing runs from a
 * `play` at (t0, p0) as p0 + (t - t0); pause, seek, buffering and ended stop it until the next play.
 * Before the first play nothing is attributed.
 */

export interface Marker {
  event: MarkerEvent;
  position: number;
  /** The viewer's session media time (seconds) at the marker. */
  mediaTime: number;
}

export class StimulusClock {
  readonly #markers: Marker[] = [];
  readonly #durationS: number | null;

  constructor(durationS: number | null) {
    this.#durationS = durationS;
  }

  add(marker: Marker): void {
    // Markers arrive in order almost always; keep them sorted by media time regardless.
    let i = this.#markers.length;
    while (i > 0 && (this.#markers[i - 1] as Marker).mediaTime > marker.mediaTime) i--;
    this.#markers.splice(i, 0, marker);
  }

  get markers(): readonly Marker[] {
    return this.#markers;
  }

  /** The stimulus position at media time `t`, or null when the stimulus was not playing then. */
  positionAt(t: number): number | null {
    let last: Marker | undefined;
    for (const m of this.#markers) {
      if (m.mediaTime > t) break;
      last = m;
    }
    if (last?.event !== 'play') return null;
    const p = last.position + (t - last.mediaTime);
    return this.#durationS !== null ? Math.min(p, this.#durationS) : p;
  }
}
