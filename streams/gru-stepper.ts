import type { FeatureStep } from '../src/contracts/feature-step.js';
import { EriError } from '../src/errors.js';
import type { Branch } from '../src/model/weights.js';
import type { InferenceBatcher } from './inference-batcher.js';
import { VectorRing } from './vector-ring.js';

/**
 * One session's GRUs. Each feature step advances the state of each branch by exactly one step (never
 * recomputed from the start); the outputs go downstream and into a bounded history for the final
 * estimate. Steps must come in order, one at a time (the pipeline uses concatMap).
 */

export interface GruOutput {
  index: number;
  /** Media time of the step's start, seconds. */
  t: number;
  video: Float32Array;
  audio: Float32Array;
  face: boolean;
  speech: boolean;
  /** performance.now() when the feature step reached the stepper. */
  readyAt: number;
}

export interface SessionCoverage {
  steps: number;
  face: number;
  speech: number;
}

export class GruStepper {
  readonly #batcher: InferenceBatcher;
  readonly #h: Record<Branch, Float32Array>;
  readonly #history: Record<Branch, VectorRing>;
  readonly coverage: SessionCoverage = { steps: 0, face: 0, speech: 0 };
  #next = 0;

  /** `historySteps`: GRU outputs kept for the final estimate (the most recent ones). */
  constructor(batcher: InferenceBatcher, historySteps: number) {
    this.#batcher = batcher;
    const a = batcher.architecture;
    this.#h = {
      video: new Float32Array(a.video.gruLayers * a.video.hidden),
      audio: new Float32Array(a.audio.gruLayers * a.audio.hidden),
    };
    this.#history = {
      video: new VectorRing(a.video.hidden, historySteps),
      audio: new VectorRing(a.audio.hidden, historySteps),
    };
  }

  get steps(): number {
    return this.#next;
  }

  async step(step: FeatureStep): Promise<GruOutput> {
    if (step.index !== this.#next) {
      throw new EriError('ERI_ERR_INVALID_ARGUMENT', `GRU step ${step.index} given, expected ${this.#next}`);
    }
    this.#next++;
    const readyAt = performance.now();
    const [video, audio] = await Promise.all(
      (['video', 'audio'] as const).map(async (branch) => {
        const out = await this.#batcher.gruStep(branch, step[branch], this.#h[branch]);
        this.#h[branch] = out.h;
        this.#history[branch].push(out.y);
        return out.y;
      }),
    );
    const face = step.face.present;
    const speech = step.speech > 0.5;
    this.coverage.steps++;
    this.coverage.face += face ? 1 : 0;
    this.coverage.speech += speech ? 1 : 0;
    return {
      index: step.index,
      t: step.t,
      video: video as Float32Array,
      audio: audio as Float32Array,
      face,
      speech,
      readyAt,
    };
  }

  /** Every kept GRU output of a branch, oldest first, [n, hidden]. */
  history(branch: Branch): { gru: Float32Array; time: number } {
    const ring = this.#history[branch];
    return { gru: ring.last(), time: ring.length };
  }
}
